"""flashcore.attention on the CPU backend with numpy arrays: every argument, layouts, strides,
out=, errors. Each result is checked against the float64 reference with the 2x low-precision rule,
and outputs are poisoned (NaN) first so that an unwritten element fails."""
import os
import subprocess
import sys

import numpy as np
import pytest

import flashcore
from conftest import NUMPY_DTYPES, HAVE_BF16, REPO, assert_close, np_dtype, poisoned
from flashcore import reference as ref

# (batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim): odd lengths, Sq != Sk, GQA and MQA.
SHAPES = [
    (1, 1, 1, 1, 1, 8),
    (2, 7, 7, 4, 4, 64),
    (1, 65, 65, 2, 2, 128),
    (2, 17, 80, 4, 2, 32),     # Sq < Sk, GQA
    (1, 80, 17, 3, 1, 64),     # Sq > Sk, MQA
    (1, 300, 257, 2, 2, 256),
]


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_shapes_and_dtypes(inputs, shape, dtype):
    b, sq, sk, hq, hkv, d = shape
    q, k, v = inputs.qkv(b, sq, sk, hq, hkv, d, dtype)
    out = poisoned(q.shape, dtype)
    res = flashcore.attention(q, k, v, out=out)
    assert res is out and out.dtype == q.dtype and out.shape == q.shape
    assert_close(out, q, k, v, inputs.seed)


def test_allocates_output_of_q_dtype(inputs):
    q, k, v = inputs.qkv(2, 9, 11, 2, 2, 16)
    out = flashcore.attention(q, k, v)
    assert isinstance(out, np.ndarray) and out.shape == q.shape and out.dtype == np.float16
    assert_close(out, q, k, v, inputs.seed)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sq,sk", [(33, 33), (20, 45), (45, 20), (1, 64)])
def test_causal(inputs, causal, sq, sk):
    q, k, v = inputs.qkv(2, sq, sk, 2, 1, 64)
    out, lse = flashcore.attention(q, k, v, causal=causal, return_lse=True)
    assert_close(out, q, k, v, inputs.seed, lse=lse, causal=causal)


@pytest.mark.parametrize("window", [(-1, -1), (0, 0), (4, 0), (3, 5), (-1, 2), (7, -1), (0, -1)])
@pytest.mark.parametrize("sq,sk", [(40, 40), (25, 50), (50, 25)])
def test_window(inputs, window, sq, sk):
    q, k, v = inputs.qkv(1, sq, sk, 2, 2, 32)
    out, lse = flashcore.attention(q, k, v, window=window, return_lse=True)
    assert_close(out, q, k, v, inputs.seed, lse=lse, window=window)


def test_causal_with_left_window(inputs):
    q, k, v = inputs.qkv(1, 64, 64, 2, 2, 64)
    out = flashcore.attention(q, k, v, causal=True, window=(8, -1))
    assert_close(out, q, k, v, inputs.seed, causal=True, window=(8, -1))


def test_fully_masked_rows_give_zero_and_minus_inf(inputs):
    # Sq > Sk with causal: the first Sq - Sk query rows see no key.
    q, k, v = inputs.qkv(1, 12, 4, 2, 2, 16)
    out, lse = flashcore.attention(q, k, v, causal=True, return_lse=True)
    assert np.all(out[:, :8].astype(np.float32) == 0)
    assert np.all(np.isneginf(lse[:, :, :8]))
    assert np.all(np.isfinite(lse[:, :, 8:]))
    assert_close(out, q, k, v, inputs.seed, lse=lse, causal=True)


@pytest.mark.parametrize("scale", [None, 0.05, 0.5, 2.0, -0.3])
def test_scale(inputs, scale):
    q, k, v = inputs.qkv(1, 30, 30, 2, 2, 64)
    out = flashcore.attention(q, k, v, scale=scale)
    assert_close(out, q, k, v, inputs.seed, scale=scale)


def test_scale_none_is_one_over_sqrt_d(inputs):
    q, k, v = inputs.qkv(1, 20, 20, 1, 1, 64, "float32")
    a = flashcore.attention(q, k, v)
    b = flashcore.attention(q, k, v, scale=flashcore.default_scale(64))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("softcap", [0.0, 1.0, 5.0, 30.0])
def test_softcap(inputs, softcap):
    q, k, v = inputs.qkv(1, 30, 40, 2, 2, 64)
    q *= 4  # large scores so that the cap bites
    out = flashcore.attention(q, k, v, softcap=softcap, causal=True)
    assert_close(out, q, k, v, inputs.seed, softcap=softcap, causal=True)


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_return_lse(inputs, dtype):
    q, k, v = inputs.qkv(2, 19, 23, 4, 2, 32, dtype)
    res = flashcore.attention(q, k, v, return_lse=True)
    assert isinstance(res, tuple) and len(res) == 2
    out, lse = res
    assert lse.shape == (2, 4, 19) and lse.dtype == np.float32
    assert_close(out, q, k, v, inputs.seed, lse=lse)


def test_strided_lse_through_the_c_api(inputs):
    """The C API takes an lse of any strides: a token-major [B, Sq, Hq] buffer viewed as [B, Hq, Sq]
    (last-dim stride Hq) gets the same values as the package's own contiguous lse."""
    from flashcore._core import forward_into, make_params
    q, k, v = inputs.qkv(2, 19, 23, 4, 2, 32, "float32")
    out, lse = flashcore.attention(q, k, v, causal=True, return_lse=True)
    out2 = poisoned(out.shape, np.float32)
    buf = poisoned((2, 19, 4), np.float32)
    lse_view = buf.transpose(0, 2, 1)
    forward_into(q, k, v, out2, lse_view, make_params(causal=True, scale=None, window=(-1, -1), softcap=0.0))
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(lse_view, lse)


# ---- variable length -----------------------------------------------------------------------------

def _varlen(inputs, lens_q, lens_k, hq=4, hkv=2, d=64, dtype="float16"):
    cq = np.concatenate([[0], np.cumsum(lens_q)]).astype(np.int32)
    ck = np.concatenate([[0], np.cumsum(lens_k)]).astype(np.int32)
    q = inputs.array((int(cq[-1]), hq, d), dtype)
    k = inputs.array((int(ck[-1]), hkv, d), dtype)
    v = inputs.array((int(ck[-1]), hkv, d), dtype)
    return q, k, v, cq, ck


@pytest.mark.parametrize("causal", [False, True])
def test_varlen(inputs, causal):
    q, k, v, cq, ck = _varlen(inputs, [5, 1, 33, 17], [5, 9, 40, 3])
    out, lse = flashcore.attention(q, k, v, cu_seqlens_q=cq, cu_seqlens_k=ck, causal=causal, return_lse=True)
    assert out.shape == q.shape and lse.shape == (4, q.shape[0])
    assert_close(out, q, k, v, inputs.seed, lse=lse, causal=causal, cu_seqlens_q=cq, cu_seqlens_k=ck)


def test_varlen_lists_and_explicit_max(inputs):
    q, k, v, cq, ck = _varlen(inputs, [7, 20], [30, 2])
    a = flashcore.attention(q, k, v, cu_seqlens_q=cq.tolist(), cu_seqlens_k=ck.tolist(), window=(3, 1))
    b = flashcore.attention(q, k, v, cu_seqlens_q=cq, cu_seqlens_k=ck, max_seqlen_q=20, max_seqlen_k=30,
                            window=(3, 1))
    np.testing.assert_array_equal(a.astype(np.float32), b.astype(np.float32))
    assert_close(a, q, k, v, inputs.seed, cu_seqlens_q=cq, cu_seqlens_k=ck, window=(3, 1))


def test_varlen_empty_sequence(inputs):
    q, k, v, cq, ck = _varlen(inputs, [4, 0, 6], [5, 3, 0])
    out, lse = flashcore.attention(q, k, v, cu_seqlens_q=cq, cu_seqlens_k=ck, return_lse=True)
    assert np.all(out[4:].astype(np.float32) == 0) and np.all(np.isneginf(lse[:, 4:]))
    assert_close(out, q, k, v, inputs.seed, lse=lse, cu_seqlens_q=cq, cu_seqlens_k=ck)


def test_varlen_errors(inputs):
    q, k, v, cq, ck = _varlen(inputs, [4, 6], [5, 3])
    with pytest.raises(ValueError, match="both cu_seqlens_q and cu_seqlens_k"):
        flashcore.attention(q, k, v, cu_seqlens_q=cq)
    with pytest.raises(TypeError, match="cu_seqlens_k must be int32"):
        flashcore.attention(q, k, v, cu_seqlens_q=cq, cu_seqlens_k=ck.astype(np.int64))
    with pytest.raises(ValueError, match="entries"):
        flashcore.attention(q, k, v, cu_seqlens_q=cq, cu_seqlens_k=np.array([0, 8], np.int32))
    with pytest.raises(ValueError, match="max_seqlen"):
        flashcore.attention(q[None], k[None], v[None], max_seqlen_q=4)
    bad = cq.copy()
    bad[1] = 100  # not monotone / beyond total: the C library's check
    with pytest.raises(flashcore.BadParameterError) as e:
        flashcore.attention(q, k, v, cu_seqlens_q=bad, cu_seqlens_k=ck, max_seqlen_q=100, max_seqlen_k=5)
    assert e.value.status_name == "FC_ERROR_BAD_CU_SEQLENS"


# ---- layouts and strides -----------------------------------------------------------------------

def test_torch_layout_views(inputs):
    """[B, H, S, D] arrays passed as [B, S, H, D] views (what the SDPA drop-in does)."""
    qh = inputs.array((2, 4, 33, 64))
    kh = inputs.array((2, 2, 40, 64))
    vh = inputs.array((2, 2, 40, 64))
    q, k, v = (x.transpose(0, 2, 1, 3) for x in (qh, kh, vh))
    assert not q.flags.c_contiguous
    out = flashcore.attention(q, k, v, causal=True)
    assert_close(out, np.ascontiguousarray(q), np.ascontiguousarray(k), np.ascontiguousarray(v), inputs.seed,
                 causal=True)


def test_padded_strides_and_strided_out(inputs):
    big_q = inputs.array((3, 50, 6, 72))
    big_k = inputs.array((3, 60, 4, 80))
    q, k, v = big_q[::2, 3:40, 1:5, :64], big_k[:2, 5:50, :2, 8:72], big_k[1:, 2:47, 2:4, :64]
    store = poisoned((2, 37, 4, 96), "float16")
    out = store[:, :, :, 16:80]
    flashcore.attention(q, k, v, out=out)
    assert np.all(np.isnan(store[..., :16].astype(np.float32)))  # nothing written outside out
    assert np.all(np.isnan(store[..., 80:].astype(np.float32)))
    assert_close(out, q, k, v, inputs.seed)


def test_packed_qkv(inputs):
    """q, k and v as slices of one [B, S, 3, H, D] buffer (a fused projection's output)."""
    qkv = inputs.array((2, 31, 3, 4, 32))
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    out = flashcore.attention(q, k, v)
    assert_close(out, q, k, v, inputs.seed)


def test_broadcast_kv_strides(inputs):
    """A zero stride (k/v broadcast over the batch) is a valid strided view."""
    q = inputs.array((3, 16, 2, 32))
    k1, v1 = inputs.array((1, 24, 2, 32)), inputs.array((1, 24, 2, 32))
    k, v = np.broadcast_to(k1, (3, 24, 2, 32)), np.broadcast_to(v1, (3, 24, 2, 32))
    out = flashcore.attention(q, k, v)
    assert_close(out, q, np.ascontiguousarray(k), np.ascontiguousarray(v), inputs.seed)


def test_last_dim_not_contiguous(inputs):
    q = inputs.array((1, 8, 2, 128))[..., ::2]
    with pytest.raises(flashcore.BadParameterError) as e:
        flashcore.attention(q, q, q)
    assert e.value.status_name == "FC_ERROR_NONCONTIGUOUS"


def test_negative_stride_is_rejected(inputs):
    q = inputs.array((1, 8, 2, 64))[:, ::-1]
    with pytest.raises(flashcore.BadParameterError) as e:
        flashcore.attention(q, q, q)
    assert e.value.status_name == "FC_ERROR_BAD_STRIDE"


# ---- other array protocols ------------------------------------------------------------------------

class OnlyDLPack:
    def __init__(self, a):
        self._a = a

    def __dlpack__(self, stream=None):
        return self._a.__dlpack__()

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


class OnlyArrayInterface:
    def __init__(self, a):
        self._a = a
        self.__array_interface__ = a.__array_interface__


@pytest.mark.parametrize("wrap", [OnlyDLPack, OnlyArrayInterface])
def test_other_protocols(inputs, wrap):
    q, k, v = inputs.qkv(2, 13, 21, 4, 2, 64)
    qs = q[:, :, ::-1][:, :, ::-1]  # a view with the original strides
    out = flashcore.attention(wrap(qs), wrap(k), wrap(v), causal=True)
    assert isinstance(out, np.ndarray) and out.dtype == np.float16
    assert_close(out, q, k, v, inputs.seed, causal=True)
    out2 = poisoned(q.shape, "float16")
    flashcore.attention(wrap(q), wrap(k), wrap(v), causal=True, out=wrap(out2))
    np.testing.assert_array_equal(out, out2)


def test_dlpack_strided_view(inputs):
    big = inputs.array((2, 40, 4, 64))
    q = big[:, 5:30, 1:3]
    out = flashcore.attention(OnlyDLPack(q), OnlyDLPack(q), OnlyDLPack(q))
    assert_close(out, q, q, q, inputs.seed)


# ---- errors ---------------------------------------------------------------------------------------

def test_error_carries_c_message(inputs):
    q, k, v = inputs.qkv(1, 8, 8, 2, 2, 60)
    with pytest.raises(flashcore.BadParameterError) as e:
        flashcore.attention(q, k, v)
    err = e.value
    assert isinstance(err, flashcore.FlashcoreError) and isinstance(err, ValueError)
    assert err.status == 1005 and err.status_name == "FC_ERROR_BAD_HEAD_DIM"
    assert "head_dim" in err.message and "60" in err.message
    assert err.message in str(err)


@pytest.mark.parametrize("case,status", [
    ("dtype_mismatch", "FC_ERROR_DTYPE_MISMATCH"),
    ("heads", "FC_ERROR_HEADS_NOT_DIVISIBLE"),
    ("shape", "FC_ERROR_SHAPE_MISMATCH"),
    ("rank", "FC_ERROR_BAD_RANK"),
    ("out_shape", "FC_ERROR_SHAPE_MISMATCH"),
    ("out_dtype", "FC_ERROR_DTYPE_MISMATCH"),
    ("alias", "FC_ERROR_ALIASING"),
    ("window", "FC_ERROR_BAD_VALUE"),
    ("softcap", "FC_ERROR_BAD_VALUE"),
    ("scale", "FC_ERROR_BAD_VALUE"),
])
def test_bad_arguments(inputs, case, status):
    q, k, v = inputs.qkv(1, 8, 8, 4, 2, 32)
    kw, out = {}, None
    if case == "dtype_mismatch":
        k = k.astype(np.float32)
    elif case == "heads":
        q = inputs.array((1, 8, 3, 32))
    elif case == "shape":
        v = inputs.array((1, 9, 2, 32))
    elif case == "rank":
        q, k, v = q[0, 0], k[0, 0], v[0, 0]
    elif case == "out_shape":
        out = np.empty((1, 8, 4, 16), np.float16)
    elif case == "out_dtype":
        out = np.empty(q.shape, np.float32)
    elif case == "alias":
        out = q
    elif case == "window":
        kw = {"window": (-2, 0)}
    elif case == "softcap":
        kw = {"softcap": -1.0}
    elif case == "scale":
        kw = {"scale": float("nan")}
    before = None if out is None else out.copy()
    with pytest.raises(flashcore.BadParameterError) as e:
        flashcore.attention(q, k, v, out=out, **kw)
    assert e.value.status_name == status, str(e.value)
    assert e.value.message
    if before is not None:  # nothing written on error
        np.testing.assert_array_equal(out.view(np.uint8), before.view(np.uint8))


def test_python_side_errors(inputs):
    q, k, v = inputs.qkv(1, 8, 8, 2, 2, 32)
    with pytest.raises(ValueError, match="scale=0"):
        flashcore.attention(q, k, v, scale=0.0)
    with pytest.raises(TypeError, match="window"):
        flashcore.attention(q, k, v, window=3)
    with pytest.raises(TypeError, match="dtype int32"):
        flashcore.attention(q.astype(np.int32), k, v)
    with pytest.raises(TypeError, match="float64"):
        flashcore.attention(q.astype(np.float64), k, v)
    with pytest.raises(TypeError, match="pass a torch, numpy"):
        flashcore.attention([[1.0]], k, v)
    ro = np.empty_like(q)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        flashcore.attention(q, k, v, out=ro)
    with pytest.raises(ValueError, match="dimensions"):
        flashcore.attention(q[None], k[None], v[None])
    with pytest.raises(ValueError, match="4-D"):
        flashcore.attention(q[0], k[0], v[0], return_lse=True)


def test_cuda_arguments_without_cuda():
    if flashcore.has_cuda() and flashcore.cuda_device_count() > 0:
        pytest.skip("a GPU is present")
    with pytest.raises(flashcore.NotSupportedError) as e:
        flashcore.cuda_device_info(0)
    assert e.value.status // 1000 == 2


# ---- library information ------------------------------------------------------------------------

def test_info():
    assert flashcore.version() == flashcore.__version__
    assert isinstance(flashcore.build_info(), str) and "cpu" in flashcore.build_info()
    assert isinstance(flashcore.has_cuda(), bool)
    assert flashcore.cuda_device_count() >= 0
    assert flashcore.library_path()
    if os.environ.get("FLASHCORE_LIBRARY"):  # the build under test is the one loaded
        assert flashcore.library_path() == os.environ["FLASHCORE_LIBRARY"]


def test_bf16_needs_ml_dtypes_message():
    if HAVE_BF16:
        q = np.zeros((1, 2, 1, 8), np_dtype("bfloat16")) + np_dtype("bfloat16")(0.5)
        assert flashcore.attention(q, q, q).dtype.name == "bfloat16"
    else:
        pytest.skip("ml_dtypes not installed (numpy bfloat16)")


def test_reference_bf16_rounding():
    if not HAVE_BF16:
        pytest.skip("ml_dtypes not installed")
    x = np.random.default_rng().standard_normal(10000).astype(np.float32) * 100
    x[:4] = [np.inf, -np.inf, 65504.0, 3.4e38]
    expect = x.astype(np_dtype("bfloat16")).astype(np.float32)
    np.testing.assert_array_equal(ref.round_to(x, "bfloat16"), expect)


def test_missing_library_is_a_clear_error(tmp_path):
    env = dict(os.environ, FLASHCORE_LIBRARY=str(tmp_path / "libnothere.so"), PYTHONPATH=str(REPO / "python"))
    code = ("import flashcore\n"
            "try:\n    flashcore.version()\n"
            "except flashcore.LibraryNotFoundError as e:\n    print('ERR', e)\n")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "ERR flashcore: cannot load libflashcore" in res.stdout, res.stdout + res.stderr
    assert "libnothere.so" in res.stdout


@pytest.mark.parametrize("kw", [{"window": (2**32, -1)}, {"window": (0, -2**31 - 1)}, {"scale": 1e-50},
                                {"scale": 1e40}, {"softcap": 1e-50}])
def test_values_ctypes_would_truncate(inputs, kw):
    """Values that a C int / fp32 cannot hold are refused, not silently changed by ctypes."""
    q, k, v = inputs.qkv(1, 8, 8, 2, 2, 32)
    with pytest.raises(ValueError, match="C int|fp32"):
        flashcore.attention(q, k, v, **kw)
