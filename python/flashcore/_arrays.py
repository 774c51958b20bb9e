"""Describing arrays of any framework as the C library sees them, and allocating like them.

No framework is imported here: an array is recognised by what it exposes.

- torch.Tensor (recognised by type, torch already imported by the caller): data_ptr/stride/dtype;
  runs on torch's current stream of the tensor's device.
- numpy.ndarray (and numpy bfloat16 from ml_dtypes): CPU.
- ``__cuda_array_interface__`` (CuPy, Numba, ...): device memory; CuPy's current stream, else
  the interface's ``stream`` entry.
- ``__dlpack__`` / ``__dlpack_device__`` (JAX and others): the capsule is read through ctypes.
  Producers without a stream notion are asked for data ready on the legacy default stream, the
  call runs there and is waited for before returning.
- ``__array_interface__``: host memory.
"""
from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

from . import _cuda
from ._lib import (FC_DEVICE_CPU, FC_DEVICE_CUDA, FC_DTYPE_BF16, FC_DTYPE_F16, FC_DTYPE_F32, FC_MAX_DIMS,
                   FcTensor)

# cudaStreamLegacy: the handle both the runtime and the driver read as the legacy default stream.
STREAM_LEGACY = 1

FC_DTYPES = {"float16": FC_DTYPE_F16, "bfloat16": FC_DTYPE_BF16, "float32": FC_DTYPE_F32}


@dataclass
class Array:
    """One array as the C library sees it. Strides are in elements."""
    obj: Any
    kind: str                      # "torch", "numpy", "cupy", "cai", "dlpack", "host"
    ptr: int
    dtype: str                     # "float16", "bfloat16", "float32", "int32", ... (else a description)
    shape: Tuple[int, ...]
    strides: Tuple[int, ...]
    device: int                    # FC_DEVICE_CPU or FC_DEVICE_CUDA
    ordinal: int = 0
    readonly: bool = False
    stream: Optional[int] = None   # the stream the producer wants us on (None: not stated)
    keepalive: List[Any] = field(default_factory=list)

    def fc_tensor(self, name: str) -> FcTensor:
        """The fc_tensor description; a TypeError for dtypes or ranks the C API cannot express."""
        dt = FC_DTYPES.get(self.dtype)
        if dt is None:
            raise TypeError(f"flashcore: {name} has dtype {self.dtype}; flashcore takes float16, bfloat16 "
                            f"(and float32 on the CPU)")
        if len(self.shape) > FC_MAX_DIMS:
            raise ValueError(f"flashcore: {name} has {len(self.shape)} dimensions; at most {FC_MAX_DIMS} "
                             f"([batch, seqlen, heads, head_dim])")
        t = FcTensor()
        t.data = self.ptr or None
        t.dtype = dt
        t.ndim = len(self.shape)
        for i, (n, s) in enumerate(zip(self.shape, self.strides)):
            t.shape[i] = n
            t.stride[i] = s
        t.device = self.device
        t.device_ordinal = self.ordinal
        return t


def _module(x: Any) -> str:
    return type(x).__module__.split(".", 1)[0]


def is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_numpy(x: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(x, np.ndarray)


def _byte_strides(strides_bytes: Sequence[int], itemsize: int, name: str) -> Tuple[int, ...]:
    out = []
    for s in strides_bytes:
        if s % itemsize:
            raise ValueError(f"flashcore: {name} has a stride of {s} bytes, not a multiple of its element "
                             f"size {itemsize}")
        out.append(s // itemsize)
    return tuple(out)


def _contiguous_strides(shape: Sequence[int]) -> Tuple[int, ...]:
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(int(n), 1)
    return tuple(reversed(strides))


# typestr (array interface) -> dtype name; bfloat16 has no typestr.
_TYPESTR = {"f2": "float16", "f4": "float32", "f8": "float64", "i4": "int32", "i8": "int64", "u1": "uint8"}


def _from_interface(x: Any, iface: dict, name: str, kind: str, device: int) -> Array:
    if iface.get("mask") is not None:
        raise TypeError(f"flashcore: {name} is a masked array; masks are not supported")
    typestr = iface["typestr"]
    if typestr[0] == ">":
        raise TypeError(f"flashcore: {name} is big-endian")
    itemsize = int(typestr[2:])
    dtype = _TYPESTR.get(typestr[1:], typestr)
    shape = tuple(int(n) for n in iface["shape"])
    strides = iface.get("strides")
    strides = _byte_strides(strides, itemsize, name) if strides is not None else _contiguous_strides(shape)
    ptr, readonly = iface["data"]
    return Array(x, kind, int(ptr or 0), dtype, shape, strides, device, 0, bool(readonly))


# ---- torch -------------------------------------------------------------------------------------

def _torch_dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def _describe_torch(x: Any, name: str) -> Array:
    import torch
    dev = x.device
    if dev.type == "cuda":
        device, ordinal = FC_DEVICE_CUDA, dev.index if dev.index is not None else torch.cuda.current_device()
        stream = torch.cuda.current_stream(ordinal).cuda_stream
    elif dev.type == "cpu":
        device, ordinal, stream = FC_DEVICE_CPU, 0, None
    else:
        raise TypeError(f"flashcore: {name} lives on torch device '{dev}'; flashcore takes cpu and cuda tensors")
    return Array(x, "torch", x.data_ptr(), _torch_dtype_name(x.dtype), tuple(x.shape), tuple(x.stride()),
                 device, ordinal, False, stream)


# ---- numpy -------------------------------------------------------------------------------------

def _describe_numpy(x: Any, name: str) -> Array:
    itemsize = x.dtype.itemsize
    dtype = x.dtype.name if x.dtype.name in ("bfloat16",) else _TYPESTR.get(x.dtype.str[1:], x.dtype.name)
    if x.dtype.byteorder == ">":
        raise TypeError(f"flashcore: {name} is big-endian")
    return Array(x, "numpy", int(x.ctypes.data), dtype, tuple(x.shape), _byte_strides(x.strides, itemsize, name),
                 FC_DEVICE_CPU, 0, not x.flags.writeable)


# ---- DLPack ------------------------------------------------------------------------------------

class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


_KDL_CPU, _KDL_CUDA, _KDL_CUDA_HOST, _KDL_CUDA_MANAGED = 1, 2, 3, 13
_DL_CODES = {(2, 16): "float16", (2, 32): "float32", (2, 64): "float64", (4, 16): "bfloat16",
             (0, 32): "int32", (0, 64): "int64", (1, 8): "uint8"}

_capsule_get = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get.restype = ctypes.c_void_p
_capsule_get.argtypes = [ctypes.py_object, ctypes.c_char_p]


def _describe_dlpack(x: Any, name: str, stream: Optional[int]) -> Array:
    dev_type, dev_id = x.__dlpack_device__()
    dev_type = int(dev_type)
    if dev_type in (_KDL_CUDA, _KDL_CUDA_MANAGED):
        device = FC_DEVICE_CUDA
        consumer_stream = STREAM_LEGACY if stream is None else stream
        try:
            capsule = x.__dlpack__(stream=consumer_stream)
        except TypeError:  # a producer of the protocol's first version
            capsule = x.__dlpack__()
    elif dev_type in (_KDL_CPU, _KDL_CUDA_HOST):
        device, consumer_stream = FC_DEVICE_CPU, None
        capsule = x.__dlpack__()
    else:
        raise TypeError(f"flashcore: {name} lives on DLPack device type {dev_type}; flashcore takes CPU and CUDA")
    # The capsule stays named "dltensor" (we only borrow it): its destructor frees the export when
    # the Array that keeps it alive goes away.
    addr = _capsule_get(capsule, b"dltensor")
    t = _DLManagedTensor.from_address(addr).dl_tensor
    ndim = int(t.ndim)
    shape = tuple(int(t.shape[i]) for i in range(ndim))
    strides = (tuple(int(t.strides[i]) for i in range(ndim)) if t.strides else _contiguous_strides(shape))
    if t.dtype.lanes != 1:
        raise TypeError(f"flashcore: {name} has vector lanes ({t.dtype.lanes})")
    dtype = _DL_CODES.get((int(t.dtype.code), int(t.dtype.bits)), f"DLPack(code={t.dtype.code}, bits={t.dtype.bits})")
    ptr = (t.data or 0) + int(t.byte_offset)
    # stream stays None: the data is ready on the stream we asked for, which the caller picks again.
    return Array(x, "dlpack", ptr, dtype, shape, strides, device, int(dev_id) if device == FC_DEVICE_CUDA else 0,
                 False, None, [capsule])


# ---- dispatch ----------------------------------------------------------------------------------

def describe(x: Any, name: str, stream: Optional[int] = None) -> Array:
    """Describe array ``x`` (argument ``name``, for messages). ``stream`` is the consumer stream to
    request from DLPack producers (None: the legacy default stream)."""
    if is_torch(x):
        return _describe_torch(x, name)
    if is_numpy(x):
        return _describe_numpy(x, name)
    cai = getattr(x, "__cuda_array_interface__", None)
    if cai is not None and (cai["typestr"][1:] in _TYPESTR or not hasattr(x, "__dlpack__")):
        # (bfloat16 has no typestr: such arrays take the DLPack path below)
        a = _from_interface(x, cai, name, "cai", FC_DEVICE_CUDA)
        if _module(x) == "cupy":
            import cupy
            a.kind = "cupy"
            a.ordinal = int(x.device.id)
            with x.device:
                a.stream = int(cupy.cuda.get_current_stream().ptr)
        else:
            a.ordinal = _cuda.pointer_device(a.ptr) if a.ptr else 0
            s = cai.get("stream")
            a.stream = int(s) if s is not None else None
        return a
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        return _describe_dlpack(x, name, stream)
    iface = getattr(x, "__array_interface__", None)
    if iface is not None:
        return _from_interface(x, iface, name, "host", FC_DEVICE_CPU)
    raise TypeError(f"flashcore: {name} is a {type(x).__module__}.{type(x).__qualname__}; pass a torch, numpy, "
                    f"CuPy or JAX array (anything with __dlpack__, __cuda_array_interface__ or "
                    f"__array_interface__)")


def stream_handle(stream: Any) -> int:
    """A cudaStream_t handle from an int, a torch stream (.cuda_stream) or a CuPy stream (.ptr)."""
    for attr in ("cuda_stream", "ptr"):
        if hasattr(stream, attr):
            return int(getattr(stream, attr))
    return int(stream)


# ---- allocation like an array ------------------------------------------------------------------

def empty_like(a: Array, shape: Sequence[int], dtype: str) -> Any:
    """A new uninitialised array of ``a``'s framework and device. ``dtype``: "same" (a's dtype),
    "float32", "int32" or "uint8"."""
    shape = tuple(int(n) for n in shape)
    x = a.obj
    if a.kind == "torch":
        import torch
        dt = x.dtype if dtype == "same" else getattr(torch, dtype)
        return torch.empty(shape, dtype=dt, device=x.device)
    if a.kind == "numpy" or (a.device == FC_DEVICE_CPU and not hasattr(x, "__array_namespace__")):
        import numpy as np
        if dtype != "same":
            dt = dtype
        elif a.kind == "numpy":
            dt = x.dtype
        else:  # a dtype name numpy knows ("bfloat16" once ml_dtypes is imported)
            dt = a.dtype
        return np.empty(shape, dtype=dt)
    if a.kind == "cupy":
        import cupy
        with x.device:
            return cupy.empty(shape, dtype=x.dtype if dtype == "same" else dtype)
    ns = getattr(x, "__array_namespace__", None)
    if ns is not None:
        xp = ns()
        dt = x.dtype if dtype == "same" else getattr(xp, dtype)
        try:
            return xp.empty(shape, dtype=dt, device=x.device)
        except TypeError:
            return xp.empty(shape, dtype=dt)
    raise TypeError(f"flashcore: cannot allocate an output like a {type(x).__module__}.{type(x).__qualname__}; "
                    f"pass out=")


def as_int32_like(a: Array, values: Sequence[int]) -> Any:
    """Python integers as an int32 array of ``a``'s framework and device (for cu_seqlens lists)."""
    x = a.obj
    if a.kind == "torch":
        import torch
        return torch.tensor(list(values), dtype=torch.int32, device=x.device)
    import numpy as np
    host = np.asarray(values, dtype=np.int32)
    if a.device == FC_DEVICE_CPU:
        return host
    if a.kind == "cupy":
        import cupy
        with x.device:
            return cupy.asarray(host)
    ns = getattr(x, "__array_namespace__", None)
    if ns is not None:
        xp = ns()
        try:
            return xp.asarray(host, dtype=xp.int32, device=x.device)
        except TypeError:
            return xp.asarray(host, dtype=xp.int32)
    raise TypeError("flashcore: pass cu_seqlens as int32 arrays on q's device")


def to_host_ints(x: Any) -> List[int]:
    """The values of a small integer array (a device-to-host copy for device arrays)."""
    if isinstance(x, (list, tuple)):
        return [int(v) for v in x]
    if is_torch(x):
        return [int(v) for v in x.tolist()]
    if _module(x) == "cupy":
        return [int(v) for v in x.get().tolist()]
    import numpy as np
    return [int(v) for v in np.asarray(x).tolist()]
