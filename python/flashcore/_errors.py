"""Exceptions raised for failing flashcore calls.

Every error of the C library becomes one of these, carrying the status code, its name and the
detailed message of ``fc_last_error()`` (which names the offending argument and its values).
The class follows the status group of the C API (include/flashcore.h):

    1000s  bad parameter     -> BadParameterError (also a ValueError)
    2000s  not supported     -> NotSupportedError (also a NotImplementedError)
    3000s  execution failed  -> CudaError (also a RuntimeError)
    4000s  internal error    -> InternalError (also a RuntimeError)
"""
from __future__ import annotations

__all__ = ["FlashcoreError", "BadParameterError", "NotSupportedError", "CudaError", "InternalError",
           "UnsupportedArgumentError",
           "LibraryNotFoundError"]


class FlashcoreError(Exception):
    """A flashcore call failed. ``status`` is the C fc_status value, ``status_name`` its name
    (e.g. ``"FC_ERROR_BAD_HEAD_DIM"``) and ``message`` the C library's detailed message."""

    def __init__(self, status: int, status_name: str, message: str, function: str = "") -> None:
        self.status = int(status)
        self.status_name = status_name
        self.message = message
        self.function = function
        where = f"{function}: " if function else ""
        super().__init__(f"{where}{status_name} ({self.status}): {message}")


class BadParameterError(FlashcoreError, ValueError):
    """The call was wrong (status 1000-1999): fix the arguments."""


class NotSupportedError(FlashcoreError, NotImplementedError):
    """Valid, but this build, backend or device cannot do it (status 2000-2999)."""


class CudaError(FlashcoreError, RuntimeError):
    """The device reported an error (status 3000-3999)."""


class InternalError(FlashcoreError, RuntimeError):
    """A flashcore bug (status 4000-4999): please report it."""


class LibraryNotFoundError(ImportError):
    """libflashcore could not be found or loaded (the message lists every place that was tried)."""


def error_class(status: int) -> type:
    """The exception class for a non-zero fc_status."""
    group = int(status) // 1000
    return {1: BadParameterError, 2: NotSupportedError, 3: CudaError}.get(group, InternalError)


class UnsupportedArgumentError(NotSupportedError):
    """An argument of a drop-in API (e.g. torch's SDPA) that flashcore does not support; ``argument``
    names it. Raised instead of falling back to another implementation."""

    def __init__(self, argument: str, message: str, function: str = "") -> None:
        self.argument = argument
        super().__init__(2001, "FC_ERROR_NOT_SUPPORTED", f"unsupported argument '{argument}': {message}", function)
