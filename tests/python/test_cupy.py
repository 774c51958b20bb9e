"""flashcore with CuPy arrays (``__cuda_array_interface__``): results, out=, varlen, streams.
Skipped without CuPy, a GPU or a CUDA build of flashcore."""
import numpy as np
import pytest

cp = pytest.importorskip("cupy")

import flashcore  # noqa: E402
from conftest import Inputs, assert_close  # noqa: E402

try:
    _gpu = cp.cuda.runtime.getDeviceCount() > 0
except Exception:  # no driver / no device
    _gpu = False
pytestmark = pytest.mark.skipif(not (_gpu and flashcore.has_cuda() and flashcore.cuda_device_count() > 0),
                                reason="needs a GPU and a CUDA build of flashcore")


def test_cupy_attention_out_and_lse():
    inp = Inputs()
    q, k, v = inp.qkv(2, 77, 90, 8, 2, 64)
    dq, dk, dv = cp.asarray(q), cp.asarray(k), cp.asarray(v)
    out, lse = flashcore.attention(dq, dk, dv, causal=True, return_lse=True)
    assert isinstance(out, cp.ndarray) and out.dtype == cp.float16 and lse.shape == (2, 8, 77)
    assert_close(cp.asnumpy(out), q, k, v, inp.seed, lse=cp.asnumpy(lse), causal=True)
    buf = cp.full(q.shape, cp.nan, dtype=cp.float16)
    assert flashcore.attention(dq, dk, dv, causal=True, out=buf) is buf
    assert cp.array_equal(buf, out)


def test_cupy_varlen_on_a_stream():
    inp = Inputs()
    lens = [5, 60, 1]
    cu = np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)
    q = inp.array((cu[-1], 4, 128))
    k = inp.array((cu[-1], 4, 128))
    v = inp.array((cu[-1], 4, 128))
    with cp.cuda.Stream(non_blocking=True) as s:
        out = flashcore.attention(cp.asarray(q), cp.asarray(k), cp.asarray(v), cu_seqlens_q=cp.asarray(cu),
                                  cu_seqlens_k=cp.asarray(cu), window=(4, 4))
        s.synchronize()
    assert_close(cp.asnumpy(out), q, k, v, inp.seed, cu_seqlens_q=cu, cu_seqlens_k=cu, window=(4, 4))
