"""torch integration: custom ops (torch.library) and an SDPA drop-in.

Importing this module registers the ops

    flashcore::fwd(q, k, v, cu_seqlens_q?, cu_seqlens_k?, max_seqlen_q, max_seqlen_k, scale,
                   causal, window_left, window_right, softcap, return_lse) -> (out, lse)
    flashcore::fwd_out(...)   the same, writing into given out / lse tensors

with fake (meta) implementations, so calls trace under torch.compile (no graph break) and record
into CUDA graphs; they run on torch's current stream. Autograd is registered: the forward works
on tensors that require grad, and calling backward raises NotSupportedError until flashcore has a
backward pass (the error is raised when the backward runs, so compiled graphs still build).

Layouts: :func:`attention` takes flashcore's [batch, seqlen, heads, head_dim];
:func:`scaled_dot_product_attention` takes torch's [batch, heads, seqlen, head_dim].
"""
# No `from __future__ import annotations`: torch.library reads the annotations as types.
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch

from . import _core
from ._arrays import stream_handle
from ._errors import NotSupportedError, UnsupportedArgumentError

__all__ = ["attention", "scaled_dot_product_attention"]

Tensor = torch.Tensor


def _lse_shape(q: Tensor, varlen: bool) -> List[int]:
    return list(_core.lse_shape(tuple(q.shape), varlen))


def _run(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Optional[Tensor], cu_seqlens_q: Optional[Tensor],
         cu_seqlens_k: Optional[Tensor], max_seqlen_q: int, max_seqlen_k: int, scale: float, causal: bool,
         window_left: int, window_right: int, softcap: float) -> None:
    varlen = cu_seqlens_q is not None
    params = _core.make_params(
        causal=causal, scale=scale if scale != 0.0 else None, window=(window_left, window_right),
        softcap=softcap,
        cu_seqlens_q=cu_seqlens_q.data_ptr() if varlen else 0,
        cu_seqlens_k=cu_seqlens_k.data_ptr() if cu_seqlens_k is not None else 0,
        num_seqs=cu_seqlens_q.numel() - 1 if varlen else 0,
        max_seqlen_q=max_seqlen_q, max_seqlen_k=max_seqlen_k)
    _core.forward_into(q, k, v, out, lse, params)


@torch.library.custom_op("flashcore::fwd", mutates_args=())
def _fwd(q: Tensor, k: Tensor, v: Tensor, cu_seqlens_q: Optional[Tensor], cu_seqlens_k: Optional[Tensor],
         max_seqlen_q: int, max_seqlen_k: int, scale: float, causal: bool, window_left: int,
         window_right: int, softcap: float, return_lse: bool) -> Tuple[Tensor, Tensor]:
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse_shape = _lse_shape(q, cu_seqlens_q is not None) if return_lse else [0]
    lse = torch.empty(lse_shape, dtype=torch.float32, device=q.device)
    _run(q, k, v, out, lse if return_lse else None, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k,
         scale, causal, window_left, window_right, softcap)
    return out, lse


@_fwd.register_fake
def _fwd_fake(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, scale, causal, window_left,
              window_right, softcap, return_lse):
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse_shape = _lse_shape(q, cu_seqlens_q is not None) if return_lse else [0]
    return out, torch.empty(lse_shape, dtype=torch.float32, device=q.device)


@torch.library.custom_op("flashcore::fwd_out", mutates_args=("out", "lse"))
def _fwd_out(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, cu_seqlens_q: Optional[Tensor],
             cu_seqlens_k: Optional[Tensor], max_seqlen_q: int, max_seqlen_k: int, scale: float, causal: bool,
             window_left: int, window_right: int, softcap: float, return_lse: bool) -> None:
    _run(q, k, v, out, lse if return_lse else None, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k,
         scale, causal, window_left, window_right, softcap)


@_fwd_out.register_fake
def _fwd_out_fake(q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, scale, causal,
                  window_left, window_right, softcap, return_lse):
    return None


_BACKWARD_MESSAGE = ("the backward pass is not implemented yet (it arrives with flashcore's backward issue); "
                     "use flashcore for inference, or torch.nn.functional.scaled_dot_product_attention "
                     "where gradients are needed")


# grad_out is an input so that the op can only run in the backward pass: with inputs alone, the
# torch.compile partitioner may schedule it in the forward graph (seen on the H100, 2026-11-24).
@torch.library.custom_op("flashcore::bwd_unavailable", mutates_args=())
def _bwd_unavailable(grad_out: Tensor, q: Tensor, k: Tensor, v: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    raise NotSupportedError(2001, "FC_ERROR_NOT_SUPPORTED", _BACKWARD_MESSAGE, "flashcore.torch backward")


@_bwd_unavailable.register_fake
def _bwd_unavailable_fake(grad_out, q, k, v):
    return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)


def _setup_context(ctx, inputs, output):
    q, k, v = inputs[:3]
    ctx.save_for_backward(q, k, v)


def _backward(ctx, grad_out, grad_lse):
    q, k, v = ctx.saved_tensors
    g = grad_out if grad_out is not None else grad_lse
    dq, dk, dv = torch.ops.flashcore.bwd_unavailable(g, q, k, v)
    return (dq, dk, dv) + (None,) * 10


_fwd.register_autograd(_backward, setup_context=_setup_context)


def _check_cu(cu: Any, name: str, q: Tensor) -> Tensor:
    if isinstance(cu, (list, tuple)):
        return torch.tensor(list(cu), dtype=torch.int32, device=q.device)
    if not isinstance(cu, torch.Tensor):
        raise TypeError(f"flashcore: {name} must be a torch.Tensor (int32) or a list when q is a torch tensor")
    if cu.dtype != torch.int32:
        raise TypeError(f"flashcore: {name} must be int32, got {cu.dtype}")
    if cu.dim() != 1 or cu.numel() < 2:
        raise ValueError(f"flashcore: {name} must be 1-D with num_seqs+1 >= 2 entries, got shape {tuple(cu.shape)}")
    if cu.device != q.device:
        raise ValueError(f"flashcore: {name} is on {cu.device} but q on {q.device}")
    if not cu.is_contiguous():
        raise ValueError(f"flashcore: {name} must be contiguous")
    return cu


def attention(q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False, scale: Optional[float] = None,
              window: Tuple[int, int] = (-1, -1), softcap: float = 0.0,
              cu_seqlens_q: Optional[Union[Tensor, Sequence[int]]] = None,
              cu_seqlens_k: Optional[Union[Tensor, Sequence[int]]] = None,
              max_seqlen_q: Optional[int] = None, max_seqlen_k: Optional[int] = None,
              return_lse: bool = False, out: Optional[Tensor] = None,
              stream: Any = None) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """flashcore.attention for torch tensors ([batch, seqlen, heads, head_dim]); see
    :func:`flashcore.attention` for the arguments. Runs on torch's current stream (``stream``, if
    given, is made current for the call). Works under torch.compile and CUDA graphs; pass
    max_seqlen_q/k with cu_seqlens there (computing them reads the device)."""
    if stream is not None:
        s = stream if isinstance(stream, torch.cuda.Stream) else torch.cuda.ExternalStream(stream_handle(stream))
        with torch.cuda.stream(s):
            return attention(q, k, v, causal=causal, scale=scale, window=window, softcap=softcap,
                             cu_seqlens_q=cu_seqlens_q, cu_seqlens_k=cu_seqlens_k, max_seqlen_q=max_seqlen_q,
                             max_seqlen_k=max_seqlen_k, return_lse=return_lse, out=out)
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"flashcore: {name} must be a torch.Tensor like q, got {type(t).__name__}")
    if scale is not None:
        scale = float(scale)
        if scale == 0.0:
            raise ValueError("flashcore: scale=0.0 is not supported (the C API reads 0 as the default); "
                             "pass scale=None for the default 1/sqrt(head_dim)")
    if not isinstance(window, (tuple, list)) or len(window) != 2:  # plain code: torch.compile traces it
        raise TypeError(f"flashcore: window must be a pair of ints (left, right), got {window!r}")
    window_left, window_right = int(window[0]), int(window[1])
    varlen = cu_seqlens_q is not None or cu_seqlens_k is not None
    if varlen:
        if cu_seqlens_q is None or cu_seqlens_k is None:
            raise ValueError("flashcore: pass both cu_seqlens_q and cu_seqlens_k (or neither)")
        cu_seqlens_q = _check_cu(cu_seqlens_q, "cu_seqlens_q", q)
        cu_seqlens_k = _check_cu(cu_seqlens_k, "cu_seqlens_k", q)
        if cu_seqlens_q.numel() != cu_seqlens_k.numel():
            raise ValueError(f"flashcore: cu_seqlens_q has {cu_seqlens_q.numel()} entries but cu_seqlens_k "
                             f"{cu_seqlens_k.numel()}")
        if max_seqlen_q is None:
            max_seqlen_q = int((cu_seqlens_q[1:] - cu_seqlens_q[:-1]).max().item())
        if max_seqlen_k is None:
            max_seqlen_k = int((cu_seqlens_k[1:] - cu_seqlens_k[:-1]).max().item())
    elif max_seqlen_q is not None or max_seqlen_k is not None:
        raise ValueError("flashcore: max_seqlen_q/max_seqlen_k are for variable-length calls (with cu_seqlens)")
    args = (cu_seqlens_q, cu_seqlens_k, int(max_seqlen_q or 0), int(max_seqlen_k or 0), scale or 0.0,
            bool(causal), window_left, window_right, float(softcap))
    if out is None:
        o, lse = torch.ops.flashcore.fwd(q, k, v, *args, bool(return_lse))
        return (o, lse) if return_lse else o
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"flashcore: out must be a torch.Tensor when q is one, got {type(out).__name__}")
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        raise RuntimeError("flashcore: out= does not support autograd (q, k or v requires grad); "
                           "call without out= or under torch.no_grad()")
    lse = torch.empty(_lse_shape(q, varlen) if return_lse else [0], dtype=torch.float32, device=q.device)
    torch.ops.flashcore.fwd_out(q, k, v, out, lse, *args, bool(return_lse))
    return (out, lse) if return_lse else out


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor] = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False) -> Tensor:
    """A drop-in for ``torch.nn.functional.scaled_dot_product_attention`` on the arguments flashcore
    supports: query [B, Hq, L, E], key/value [B, Hkv, S, E] (3-D inputs [H, L, E] are taken as
    batch 1), fp16/bf16 on CUDA, fp16/bf16/fp32 on the CPU.

    Same semantics as torch: ``is_causal`` is top-left aligned (query i sees keys j <= i), the
    default scale is 1/sqrt(E), ``enable_gqa`` lets Hq be a multiple of Hkv. Unsupported arguments
    (``attn_mask``, ``dropout_p`` > 0, ``is_causal`` with L < S, ``scale=0``, a value head dim
    different from E, ranks other than 3 and 4) raise UnsupportedArgumentError naming the
    argument; nothing ever falls back to another implementation.

    Returns [B, Hq, L, E] (a view of flashcore's [B, L, Hq, E] output, as torch's flash backend does).
    """
    fn = "flashcore.torch.scaled_dot_product_attention"
    if attn_mask is not None:
        raise UnsupportedArgumentError("attn_mask", "masks other than is_causal are not supported; pass "
                                       "attn_mask=None (flashcore.attention offers sliding windows)", fn)
    if dropout_p != 0.0:
        raise UnsupportedArgumentError("dropout_p", f"dropout_p={dropout_p} is not supported (flashcore has no "
                                       f"dropout); pass dropout_p=0.0", fn)
    if scale is not None and float(scale) == 0.0:
        raise UnsupportedArgumentError("scale", "scale=0 is not supported; pass scale=None for 1/sqrt(E)", fn)
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() not in (3, 4):
            raise UnsupportedArgumentError(name, f"{name} has {t.dim()} dimensions; flashcore takes 4-D "
                                           f"[batch, heads, seqlen, head_dim] (or 3-D [heads, seqlen, head_dim])",
                                           fn)
    if not query.dim() == key.dim() == value.dim():
        raise ValueError(f"{fn}: query, key and value have {query.dim()}, {key.dim()} and {value.dim()} dimensions")
    squeeze = query.dim() == 3
    if squeeze:
        query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
    hq, hkv = query.shape[1], key.shape[1]
    if hq != hkv and not enable_gqa:
        raise ValueError(f"{fn}: query has {hq} heads and key {hkv}; pass enable_gqa=True for grouped-query "
                         f"attention (as with torch)")
    if value.shape[-1] != query.shape[-1]:
        raise UnsupportedArgumentError("value", f"value head dim {value.shape[-1]} differs from query's "
                                       f"{query.shape[-1]}; flashcore needs them equal", fn)
    lq, lk = query.shape[2], key.shape[2]
    window_right = -1
    if is_causal:
        # torch aligns the causal mask top-left (query i sees keys j <= i); flashcore's window is
        # relative to the bottom-right diagonal (j <= i + (S - L) + right), so right = L - S.
        if lq < lk:
            raise UnsupportedArgumentError("is_causal", f"is_causal with seqlen_q={lq} < seqlen_k={lk} is torch's "
                                           f"top-left aligned mask, which flashcore cannot express (its causal "
                                           f"mask is bottom-right aligned: use flashcore.attention(causal=True))",
                                           fn)
        window_right = lq - lk
    out = attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2),
                    scale=scale, window=(-1, window_right))
    out = out.transpose(1, 2)
    return out.squeeze(0) if squeeze else out
