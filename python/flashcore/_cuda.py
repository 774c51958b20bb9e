"""The few CUDA driver calls the framework-agnostic path needs, through libcuda (ctypes).

Only used for arrays that do not tell their device: ``__cuda_array_interface__`` carries no
device ordinal (torch, CuPy and DLPack arrays never come here).
"""
from __future__ import annotations

import ctypes
from typing import Optional

_CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9
_driver: Optional[ctypes.CDLL] = None


def _lib() -> ctypes.CDLL:
    global _driver
    if _driver is None:
        try:
            d = ctypes.CDLL("libcuda.so.1")
        except OSError as e:
            raise RuntimeError(f"flashcore: CUDA arrays given but the CUDA driver (libcuda.so.1) "
                               f"cannot be loaded: {e}") from None
        d.cuInit.argtypes = [ctypes.c_uint]
        d.cuPointerGetAttribute.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64]
        _check(d.cuInit(0), "cuInit")
        _driver = d
    return _driver


def _check(result: int, what: str) -> None:
    if result != 0:
        raise RuntimeError(f"flashcore: CUDA driver call {what} failed with CUresult {result}")


def pointer_device(ptr: int) -> int:
    """The ordinal of the device that owns device pointer ``ptr``."""
    d = _lib()
    ordinal = ctypes.c_int(-1)
    _check(d.cuPointerGetAttribute(ctypes.byref(ordinal), _CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                                   ctypes.c_uint64(ptr)), "cuPointerGetAttribute(DEVICE_ORDINAL)")
    return ordinal.value

