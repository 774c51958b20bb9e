"""flashcore: exact fused scaled-dot-product attention, over the C library's ABI (ctypes).

    import flashcore
    out = flashcore.attention(q, k, v, causal=True)     # [batch, seqlen, heads, head_dim]

Arrays of any framework are taken as they are (torch, numpy on the CPU, CuPy, JAX, anything with
DLPack or ``__cuda_array_interface__``); CUDA calls run on the caller's current stream.
``flashcore.torch`` adds torch custom ops (torch.compile, CUDA graphs) and an SDPA drop-in.
``flashcore.reference`` is the float64 numpy reference used by the tests and the benchmark.

The library is found through FLASHCORE_LIBRARY, a copy bundled by ``pip install``, the source
checkout's build/ folder, then the system loader (see ``flashcore.library_path()``).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

from ._core import attention, default_scale
from ._errors import (BadParameterError, CudaError, FlashcoreError, InternalError, LibraryNotFoundError,
                      NotSupportedError, UnsupportedArgumentError)
from ._lib import FcDeviceInfo, check, lib, library_path

__version__ = "0.1.0"

__all__ = ["attention", "default_scale", "version", "build_info", "has_cuda", "cuda_device_count",
           "cuda_device_info", "DeviceInfo", "library_path", "FlashcoreError", "BadParameterError",
           "NotSupportedError", "CudaError", "InternalError", "UnsupportedArgumentError",
           "LibraryNotFoundError", "__version__"]


def version() -> str:
    """The loaded library's version string, e.g. "0.1.0"."""
    return lib().fc_version_string().decode()


def build_info() -> str:
    """The library's description of its build: backends, CUDA archs, kernel instances."""
    return lib().fc_build_info().decode()


def has_cuda() -> bool:
    """True when the library was built with the CUDA backend."""
    return bool(lib().fc_has_cuda())


def cuda_device_count() -> int:
    """Usable CUDA devices (0 without CUDA in the build or without a GPU)."""
    n = ctypes.c_int(0)
    check(lib().fc_cuda_device_count(ctypes.byref(n)), "fc_cuda_device_count")
    return n.value


@dataclass(frozen=True)
class DeviceInfo:
    """A CUDA device as the library sees it."""
    ordinal: int
    name: str
    sm: int
    multiprocessors: int
    global_memory_bytes: int
    max_shared_memory_per_block: int
    kernels: str


def cuda_device_info(ordinal: int = 0) -> DeviceInfo:
    """Describe CUDA device ``ordinal`` (raises NotSupportedError without CUDA, BadParameterError...)."""
    info = FcDeviceInfo()
    check(lib().fc_cuda_device_info(int(ordinal), ctypes.byref(info)), "fc_cuda_device_info")
    return DeviceInfo(int(ordinal), info.name.decode(errors="replace"), info.sm, info.multiprocessors,
                      info.global_memory_bytes, info.max_shared_memory_per_block,
                      info.kernels.decode(errors="replace"))
