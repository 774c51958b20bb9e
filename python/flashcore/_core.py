"""The framework-agnostic forward call: arguments -> fc_tensor / fc_attention_params -> C."""
from __future__ import annotations

import ctypes
import math
from typing import Any, Optional, Sequence, Tuple, Union

from ._arrays import (STREAM_LEGACY, Array, as_int32_like, describe, empty_like, is_torch, stream_handle,
                      to_host_ints)
from ._lib import FC_DEVICE_CUDA, FcAttentionParams, check, lib


def make_params(*, causal: bool, scale: Optional[float], window: Sequence[int], softcap: float,
                cu_seqlens_q: int = 0, cu_seqlens_k: int = 0, num_seqs: int = 0, max_seqlen_q: int = 0,
                max_seqlen_k: int = 0) -> FcAttentionParams:
    """fc_attention_params from Python values (pointers as integers). Checks only what the C API
    cannot see: scale=0 (which C reads as 'default') and the window's form."""
    p = FcAttentionParams()
    lib().fc_attention_params_init(ctypes.byref(p))
    if scale is not None:
        scale = float(scale)
        if scale == 0.0:
            raise ValueError("flashcore: scale=0.0 is not supported (the C API reads 0 as the default); "
                             "pass scale=None for the default 1/sqrt(head_dim)")
        p.softmax_scale = scale
        # ctypes rounds to fp32 silently: a finite value that becomes 0 or inf would change meaning
        if math.isfinite(scale) and (p.softmax_scale == 0.0 or math.isinf(p.softmax_scale)):
            raise ValueError(f"flashcore: scale={scale!r} is not representable in fp32")
    try:
        left, right = (int(w) for w in window)
    except (TypeError, ValueError):
        raise TypeError(f"flashcore: window must be a pair of ints (left, right), got {window!r}") from None
    for name, val in (("window[0]", left), ("window[1]", right), ("max_seqlen_q", max_seqlen_q),
                      ("max_seqlen_k", max_seqlen_k)):
        if not -2**31 <= int(val) < 2**31:  # ctypes truncates C ints silently
            raise ValueError(f"flashcore: {name}={val} does not fit a C int")
    p.causal = 1 if causal else 0
    p.window_left = left
    p.window_right = right
    p.softcap = float(softcap)
    if math.isfinite(float(softcap)) and float(softcap) != 0.0 and (p.softcap == 0.0 or math.isinf(p.softcap)):
        raise ValueError(f"flashcore: softcap={softcap!r} is not representable in fp32")
    p.cu_seqlens_q = cu_seqlens_q or None
    p.cu_seqlens_k = cu_seqlens_k or None
    p.num_seqs = num_seqs
    p.max_seqlen_q = max_seqlen_q
    p.max_seqlen_k = max_seqlen_k
    return p


def _pick_stream(q: Array, stream: Any) -> Tuple[Optional[int], bool]:
    """(stream handle, wait after the call?) for a call on q's device."""
    if q.device != FC_DEVICE_CUDA:
        return None, False
    if stream is not None:
        return stream_handle(stream), False
    if q.stream is not None:
        return q.stream, False
    # A producer without a stream of its own (DLPack, an interface without 'stream'): run on the
    # legacy default stream and wait, so the result is ready when the array is handed back.
    return STREAM_LEGACY, True


def forward_into(q: Any, k: Any, v: Any, out: Any, lse: Any, params: FcAttentionParams,
                 stream: Any = None) -> None:
    """Run fc_attention_forward writing into the given ``out`` (and ``lse`` unless None).
    Arrays are described as they are (no copies); the C library checks every argument."""
    explicit = stream_handle(stream) if stream is not None else None
    aq = describe(q, "q", explicit)
    handle, wait = _pick_stream(aq, stream)
    ak, av = describe(k, "k", handle), describe(v, "v", handle)
    ao = describe(out, "out", handle)
    if ao.readonly:
        raise ValueError("flashcore: out is read-only")
    tq, tk, tv, to = aq.fc_tensor("q"), ak.fc_tensor("k"), av.fc_tensor("v"), ao.fc_tensor("out")
    tl = None
    if lse is not None:
        al = describe(lse, "lse", handle)
        tl = ctypes.byref(al.fc_tensor("lse"))
    L = lib()
    size = ctypes.c_size_t(0)
    refs = (ctypes.byref(tq), ctypes.byref(tk), ctypes.byref(tv), ctypes.byref(to), tl, ctypes.byref(params))
    check(L.fc_attention_workspace_size(*refs, ctypes.byref(size)), "flashcore.attention")
    # The workspace is optional (less than the queried size runs a plan that needs none). It is used
    # only on the framework's current stream, where its allocator orders the reuse of the memory
    # freed below after this call; on an explicit or default stream the call runs without one.
    ws, ws_ptr, ws_size = None, None, 0
    if size.value and stream is None and aq.stream is not None:
        try:
            ws = empty_like(aq, (size.value,), "uint8")
            ws_ptr, ws_size = describe(ws, "workspace", handle).ptr, size.value
        except TypeError:  # a producer without an allocator of its own (e.g. Numba): no workspace
            ws, ws_ptr, ws_size = None, None, 0
    check(L.fc_attention_forward(*refs, ws_ptr, ws_size, handle), "flashcore.attention")
    if wait:
        check(L.fc_cuda_synchronize(aq.ordinal), "fc_cuda_synchronize")
    del ws  # kept alive until the call has been queued (the framework's allocator orders its reuse)


def _cu_seqlens(a_q: Array, x: Any, name: str) -> Tuple[Any, int, int]:
    """(int32 array on q's device, pointer, num_seqs) for a cu_seqlens argument."""
    if isinstance(x, (list, tuple)):
        x = as_int32_like(a_q, x)
    a = describe(x, name)
    if a.dtype != "int32":
        raise TypeError(f"flashcore: {name} must be int32, got {a.dtype}")
    if len(a.shape) != 1 or a.shape[0] < 2:
        raise ValueError(f"flashcore: {name} must be 1-D with num_seqs+1 >= 2 entries, got shape {a.shape}")
    if a.strides[0] != 1:
        raise ValueError(f"flashcore: {name} must be contiguous (stride {a.strides[0]})")
    if a.device != a_q.device or (a.device == FC_DEVICE_CUDA and a.ordinal != a_q.ordinal):
        raise ValueError(f"flashcore: {name} must live on q's device")
    return x, a.ptr, a.shape[0] - 1


def _max_len(cu: Any) -> int:
    vals = to_host_ints(cu)
    return max((b - a for a, b in zip(vals, vals[1:])), default=0)


ArrayLike = Any


def attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, *, causal: bool = False, scale: Optional[float] = None,
              window: Tuple[int, int] = (-1, -1), softcap: float = 0.0,
              cu_seqlens_q: Optional[Union[ArrayLike, Sequence[int]]] = None,
              cu_seqlens_k: Optional[Union[ArrayLike, Sequence[int]]] = None,
              max_seqlen_q: Optional[int] = None, max_seqlen_k: Optional[int] = None,
              return_lse: bool = False, out: Optional[ArrayLike] = None,
              stream: Any = None) -> Union[ArrayLike, Tuple[ArrayLike, ArrayLike]]:
    """Exact fused attention: ``out = softmax(scale * q k^T + mask) v``.

    Layout [batch, seqlen, heads, head_dim] (4-D), or packed variable-length [total_tokens, heads,
    head_dim] (3-D) with ``cu_seqlens_q``/``cu_seqlens_k``. Any strides with the last dimension
    contiguous; no copies are made.

    Args:
        q: [B, Sq, Hq, D] (varlen [total_q, Hq, D]). torch, numpy, CuPy or JAX array, or anything
            speaking DLPack / ``__cuda_array_interface__``. fp16 or bf16; fp32 on the CPU.
        k, v: [B, Sk, Hkv, D] (varlen [total_k, Hkv, D]); Hq must be a multiple of Hkv (GQA/MQA).
        causal: causal mask, bottom-right aligned when Sq != Sk (the last query sees every key).
        scale: softmax scale; None for 1/sqrt(D). 0 is rejected.
        window: (left, right) sliding window in keys, -1 = unbounded. Query i sees key j iff
            i + Sk - Sq - left <= j <= i + Sk - Sq + right.
        softcap: > 0 turns the scores s into softcap * tanh(s / softcap); 0 = off.
        cu_seqlens_q, cu_seqlens_k: int32 cumulative sequence offsets (num_seqs + 1 entries, from
            0) on q's device, or Python lists (copied to q's device).
        max_seqlen_q, max_seqlen_k: upper bounds of the sequence lengths; computed from
            cu_seqlens when None (a device-to-host copy for device arrays).
        return_lse: also return the fp32 log-sum-exp per query row, [B, Hq, Sq] (varlen
            [Hq, total_q]); -inf for rows that see no key.
        out: write the output here (shape and dtype of q) instead of allocating it.
        stream: a CUDA stream (handle int, torch or CuPy stream) overriding the default, which is
            the caller's current stream for torch and CuPy arrays.

    Returns:
        ``out``, or ``(out, lse)`` when ``return_lse``. Arrays of q's framework on q's device.

    Raises:
        BadParameterError / NotSupportedError / CudaError: the C library's error with its message.
        TypeError / ValueError: arguments the C API cannot express (e.g. an int8 array, scale=0).

    torch tensors go through the ``flashcore::fwd`` custom op (see flashcore.torch): CUDA graphs
    capture the call; under ``torch.compile(fullgraph=True)`` call ``flashcore.torch.attention``
    (same arguments), as this framework-agnostic entry point may cause a graph break there.
    """
    if is_torch(q):
        from . import torch as fc_torch
        return fc_torch.attention(q, k, v, causal=causal, scale=scale, window=window, softcap=softcap,
                                  cu_seqlens_q=cu_seqlens_q, cu_seqlens_k=cu_seqlens_k,
                                  max_seqlen_q=max_seqlen_q, max_seqlen_k=max_seqlen_k,
                                  return_lse=return_lse, out=out, stream=stream)
    aq = describe(q, "q")
    varlen = cu_seqlens_q is not None or cu_seqlens_k is not None
    ptr_q = ptr_k = num_seqs = 0
    if varlen:
        if cu_seqlens_q is None or cu_seqlens_k is None:
            raise ValueError("flashcore: pass both cu_seqlens_q and cu_seqlens_k (or neither)")
        cu_seqlens_q, ptr_q, num_seqs = _cu_seqlens(aq, cu_seqlens_q, "cu_seqlens_q")
        cu_seqlens_k, ptr_k, num_k = _cu_seqlens(aq, cu_seqlens_k, "cu_seqlens_k")
        if num_k != num_seqs:
            raise ValueError(f"flashcore: cu_seqlens_q has {num_seqs + 1} entries but cu_seqlens_k {num_k + 1}")
        if max_seqlen_q is None:
            max_seqlen_q = _max_len(cu_seqlens_q)
        if max_seqlen_k is None:
            max_seqlen_k = _max_len(cu_seqlens_k)
    elif max_seqlen_q is not None or max_seqlen_k is not None:
        raise ValueError("flashcore: max_seqlen_q/max_seqlen_k are for variable-length calls (with cu_seqlens)")
    params = make_params(causal=causal, scale=scale, window=window, softcap=softcap, cu_seqlens_q=ptr_q,
                         cu_seqlens_k=ptr_k, num_seqs=num_seqs, max_seqlen_q=int(max_seqlen_q or 0),
                         max_seqlen_k=int(max_seqlen_k or 0))
    if out is None:
        out = empty_like(aq, aq.shape, "same")
    lse = None
    if return_lse:
        lse = empty_like(aq, lse_shape(aq.shape, varlen), "float32")
    forward_into(q, k, v, out, lse, params, stream)
    return (out, lse) if return_lse else out


def lse_shape(q_shape: Sequence[int], varlen: bool) -> Tuple[int, ...]:
    """[B, Hq, Sq] for a 4-D q, [Hq, total_q] for a varlen (3-D) q."""
    if varlen:
        if len(q_shape) != 3:
            raise ValueError(f"flashcore: a variable-length q is 3-D [total_q, heads, head_dim], got shape "
                             f"{tuple(q_shape)}")
        return (q_shape[1], q_shape[0])
    if len(q_shape) != 4:
        raise ValueError(f"flashcore: q is 4-D [batch, seqlen, heads, head_dim] (3-D with cu_seqlens), got "
                         f"shape {tuple(q_shape)}")
    return (q_shape[0], q_shape[2], q_shape[1])


def default_scale(head_dim: int) -> float:
    """The scale used when scale=None: 1/sqrt(head_dim)."""
    return 1.0 / math.sqrt(head_dim)
