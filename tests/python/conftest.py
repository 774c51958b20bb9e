"""Shared set-up of the Python tests.

The package is imported from the checkout's python/ folder (set FLASHCORE_TEST_INSTALLED=1 to
test an installed one instead); the library from FLASHCORE_LIBRARY (tests/test_python.sh sets it
to the build being tested) or the package's own search order.
Inputs are fresh random numbers on every run (never zeros or ones); the seed is in every message.
"""
import os
import secrets
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
if os.environ.get("FLASHCORE_TEST_INSTALLED") != "1":
    sys.path.insert(0, str(REPO / "python"))

import flashcore  # noqa: E402
from flashcore import reference as ref  # noqa: E402

try:
    import ml_dtypes  # noqa: F401  (numpy bfloat16)
    HAVE_BF16 = True
except ImportError:
    HAVE_BF16 = False

NUMPY_DTYPES = ["float16", "float32"] + (["bfloat16"] if HAVE_BF16 else [])


def np_dtype(name):
    if name == "bfloat16":
        import ml_dtypes
        return ml_dtypes.bfloat16
    return np.dtype(name)


class Inputs:
    """Fresh random inputs with their seed (reported on failure)."""

    def __init__(self):
        self.seed = secrets.randbits(63)
        self.rng = np.random.default_rng(self.seed)

    def array(self, shape, dtype="float16", scale=1.0):
        return (self.rng.standard_normal(shape) * scale).astype(np.float32).astype(np_dtype(dtype))

    def qkv(self, b, sq, sk, hq, hkv, d, dtype="float16"):
        return (self.array((b, sq, hq, d), dtype), self.array((b, sk, hkv, d), dtype),
                self.array((b, sk, hkv, d), dtype))


@pytest.fixture
def inputs():
    return Inputs()


def assert_close(out, q, k, v, seed, lse=None, dtype=None, **kw):
    """Check out (and lse) against the float64 reference with the project's pass rule. Arrays are
    numpy; ``dtype`` names the precision the values were rounded to when they are held as float32."""
    dtype = dtype or ref.dtype_name(np.asarray(q))
    truth, truth_lse = ref.attention_ref(q, k, v, dtype=dtype, **kw)
    lowp, _ = ref.attention_ref(q, k, v, mode="lowp", dtype=dtype, **kw)
    err = ref.max_abs_err(np.asarray(out).astype(np.float64), truth)
    lowp_err = ref.max_abs_err(lowp, truth)
    assert ref.passes(err, lowp_err, dtype), (f"max err {err:.3g} vs low-precision {lowp_err:.3g} "
                                              f"({dtype}, {kw}, seed {seed})")
    if lse is not None:
        lse_err = ref.max_abs_err(np.asarray(lse), truth_lse)
        assert lse_err <= 1e-3, f"lse err {lse_err:.3g} ({kw}, seed {seed})"
    return err


def poisoned(shape, dtype):
    out = np.empty(shape, dtype=np_dtype(dtype))
    out[...] = np.nan
    return out
