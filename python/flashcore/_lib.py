"""Loading libflashcore and declaring its C ABI (include/flashcore.h) with ctypes.

Where the library is looked for, first hit wins:

1. the environment variable ``FLASHCORE_LIBRARY`` (a path to libflashcore.so);
2. a copy bundled in the installed package (``flashcore/lib/libflashcore.so``, put there by
   ``pip install``, see python/README.md);
3. the repository's ``build/`` folder, when the package is imported from a source checkout
   (``PYTHONPATH=python``);
4. the system loader (``libflashcore.so.0`` / ``libflashcore.so`` on the library path).

The structures below mirror the public header field by field; tests/python/test_abi.py checks
them against include/flashcore.h so that the two cannot drift apart silently.
"""
from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import List, Optional

from ._errors import LibraryNotFoundError, error_class

# The header version these bindings mirror (FLASHCORE_VERSION_MAJOR/MINOR). The structures are
# only guaranteed to match a library of the same major.minor.
ABI_VERSION = (0, 1)

# fc_status
FC_SUCCESS = 0
# fc_dtype
FC_DTYPE_F16 = 1
FC_DTYPE_BF16 = 2
FC_DTYPE_F32 = 3
# fc_device_type
FC_DEVICE_CPU = 0
FC_DEVICE_CUDA = 1
FC_MAX_DIMS = 4

DTYPE_NAMES = {FC_DTYPE_F16: "float16", FC_DTYPE_BF16: "bfloat16", FC_DTYPE_F32: "float32"}
DTYPE_SIZES = {FC_DTYPE_F16: 2, FC_DTYPE_BF16: 2, FC_DTYPE_F32: 4}


class FcTensor(ctypes.Structure):
    """struct fc_tensor."""
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("shape", ctypes.c_int64 * FC_MAX_DIMS),
        ("stride", ctypes.c_int64 * FC_MAX_DIMS),
        ("device", ctypes.c_int),
        ("device_ordinal", ctypes.c_int),
    ]


class FcAttentionParams(ctypes.Structure):
    """struct fc_attention_params."""
    _fields_ = [
        ("softmax_scale", ctypes.c_float),
        ("causal", ctypes.c_int),
        ("window_left", ctypes.c_int),
        ("window_right", ctypes.c_int),
        ("softcap", ctypes.c_float),
        ("cu_seqlens_q", ctypes.c_void_p),
        ("cu_seqlens_k", ctypes.c_void_p),
        ("num_seqs", ctypes.c_int),
        ("max_seqlen_q", ctypes.c_int),
        ("max_seqlen_k", ctypes.c_int),
    ]


class FcDeviceInfo(ctypes.Structure):
    """struct fc_device_info."""
    _fields_ = [
        ("name", ctypes.c_char * 256),
        ("sm", ctypes.c_int),
        ("multiprocessors", ctypes.c_int),
        ("global_memory_bytes", ctypes.c_int64),
        ("max_shared_memory_per_block", ctypes.c_int),
        ("kernels", ctypes.c_char * 512),
    ]


_P = ctypes.POINTER
_SIGNATURES = {
    # name: (restype, argtypes)
    "fc_version": (ctypes.c_int, []),
    "fc_version_string": (ctypes.c_char_p, []),
    "fc_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "fc_status_string": (ctypes.c_char_p, [ctypes.c_int]),
    "fc_last_error": (ctypes.c_char_p, []),
    "fc_has_cuda": (ctypes.c_int, []),
    "fc_cuda_device_count": (ctypes.c_int, [_P(ctypes.c_int)]),
    "fc_cuda_device_info": (ctypes.c_int, [ctypes.c_int, _P(FcDeviceInfo)]),
    "fc_build_info": (ctypes.c_char_p, []),
    "fc_attention_params_init": (None, [_P(FcAttentionParams)]),
    "fc_attention_workspace_size": (ctypes.c_int, [_P(FcTensor), _P(FcTensor), _P(FcTensor), _P(FcTensor),
                                                   _P(FcTensor), _P(FcAttentionParams),
                                                   _P(ctypes.c_size_t)]),
    "fc_attention_forward": (ctypes.c_int, [_P(FcTensor), _P(FcTensor), _P(FcTensor), _P(FcTensor),
                                            _P(FcTensor), _P(FcAttentionParams), ctypes.c_void_p,
                                            ctypes.c_size_t, ctypes.c_void_p]),
    "fc_dtype_size": (ctypes.c_size_t, [ctypes.c_int]),
    "fc_cuda_synchronize": (ctypes.c_int, [ctypes.c_int]),
}

_LIB_NAMES = ("libflashcore.so", "libflashcore.dylib")


def _candidates() -> List[Path]:
    here = Path(__file__).resolve().parent
    found: List[Path] = []
    env = os.environ.get("FLASHCORE_LIBRARY")
    if env:
        return [Path(env)]  # an explicit choice is never second-guessed
    found += [here / "lib" / n for n in _LIB_NAMES]
    repo = here.parent.parent
    if (repo / "include" / "flashcore.h").is_file():  # imported from a source checkout
        found += [repo / "build" / n for n in _LIB_NAMES]
    return found


def _load() -> "tuple[ctypes.CDLL, str]":
    tried: List[str] = []
    env = os.environ.get("FLASHCORE_LIBRARY")
    for path in _candidates():
        if env or path.is_file():
            try:
                return ctypes.CDLL(str(path)), str(path)
            except OSError as e:
                tried.append(f"{path} ({e})")
                if env:
                    break
        else:
            tried.append(f"{path} (not found)")
    if not env:
        for name in ("libflashcore.so.0", "libflashcore.so", "libflashcore.dylib"):
            try:
                return ctypes.CDLL(name), name
            except OSError:
                tried.append(f"{name} (system loader: not found)")
    raise LibraryNotFoundError(
        "flashcore: cannot load libflashcore. Tried:\n  " + "\n  ".join(tried) +
        "\nBuild it (cmake -S . -B build && cmake --build build) and set FLASHCORE_LIBRARY="
        "<path>/libflashcore.so, or install the package with pip (see python/README.md).")


def _declare(lib: ctypes.CDLL, path: str) -> None:
    missing = [n for n in _SIGNATURES if not hasattr(lib, n)]
    if missing:
        raise LibraryNotFoundError(f"flashcore: {path} lacks the symbols {', '.join(missing)}")
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    version = lib.fc_version()
    major, minor = version // 10000, (version // 100) % 100
    if (major, minor) != ABI_VERSION:
        raise LibraryNotFoundError(
            f"flashcore: {path} is version {major}.{minor} but these bindings mirror the "
            f"{ABI_VERSION[0]}.{ABI_VERSION[1]} header; rebuild the library or update the package")


_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_lib_path: str = ""


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use)."""
    global _lib, _lib_path
    if _lib is None:
        with _lock:
            if _lib is None:
                handle, path = _load()
                _declare(handle, path)
                _lib_path = path
                _lib = handle
    return _lib


def library_path() -> str:
    """The path (or loader name) of the libflashcore that was loaded."""
    lib()
    return _lib_path


def check(status: int, function: str) -> None:
    """Raise the FlashcoreError subclass for a non-zero status, with fc_last_error()'s message.
    Must be called right after the failing call, on the same thread (the message is thread-local)."""
    if status == FC_SUCCESS:
        return
    L = lib()
    message = (L.fc_last_error() or b"").decode("utf-8", "replace")
    name = (L.fc_status_name(status) or b"FC_UNKNOWN_STATUS").decode()
    if not message:
        message = (L.fc_status_string(status) or b"").decode("utf-8", "replace")
    raise error_class(status)(status, name, message, function)
