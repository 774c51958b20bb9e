"""flashcore with torch tensors: the generic call, the custom ops (torch.compile, CUDA graphs,
autograd's clear error) and the SDPA drop-in. CPU tensors always (when torch is installed), CUDA
tensors when torch sees a GPU and the library has CUDA. Skipped without torch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import flashcore  # noqa: E402
import flashcore.torch as fct  # noqa: E402
from conftest import assert_close  # noqa: E402

HAVE_GPU = torch.cuda.is_available() and flashcore.has_cuda() and flashcore.cuda_device_count() > 0
DEVICES = ["cpu"] + (["cuda"] if HAVE_GPU else [])
gpu = pytest.mark.skipif(not HAVE_GPU, reason="needs a GPU, torch with CUDA and a CUDA build of flashcore")
TDTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


@pytest.fixture
def gen():
    g = torch.Generator()
    g.seed()
    return g


def rand(gen, shape, dtype, device):
    return torch.randn(shape, generator=gen, dtype=torch.float32).to(dtype=TDTYPES[dtype], device=device)


def host(x):
    return x.detach().float().cpu().numpy()


def dtypes_for(device):
    return ["float16", "bfloat16"] + (["float32"] if device == "cpu" else [])


# ---- flashcore.attention with torch tensors ------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1, 64), (2, 65, 65, 4, 4, 64), (2, 17, 130, 8, 2, 128),
                                   (1, 130, 17, 4, 1, 32), (1, 200, 300, 2, 2, 256)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("causal", [False, True])
def test_attention(gen, device, shape, causal):
    b, sq, sk, hq, hkv, d = shape
    for dtype in dtypes_for(device):
        q, k, v = rand(gen, (b, sq, hq, d), dtype, device), rand(gen, (b, sk, hkv, d), dtype, device), \
            rand(gen, (b, sk, hkv, d), dtype, device)
        out, lse = flashcore.attention(q, k, v, causal=causal, return_lse=True)
        assert isinstance(out, torch.Tensor) and out.device == q.device and out.dtype == q.dtype
        assert lse.shape == (b, hq, sq) and lse.dtype == torch.float32
        assert_close(host(out), host(q), host(k), host(v), gen.initial_seed(), lse=host(lse), dtype=dtype,
                     causal=causal)


@pytest.mark.parametrize("device", DEVICES)
def test_every_option(gen, device):
    q, k, v = (rand(gen, (2, 70, 4, 64), "bfloat16", device) for _ in range(3))
    k, v = k[:, :, :2], v[:, :, :2]  # strided GQA views
    for kw in [dict(scale=0.3), dict(window=(5, 3)), dict(softcap=2.0, causal=True), dict(window=(16, -1))]:
        out = flashcore.attention(q, k, v, **kw)
        assert_close(host(out), host(q), host(k), host(v), gen.initial_seed(), dtype="bfloat16", **kw)


@pytest.mark.parametrize("device", DEVICES)
def test_out_and_varlen(gen, device):
    lens_q, lens_k = [3, 40, 1], [9, 33, 60]
    cq = torch.tensor(np.concatenate([[0], np.cumsum(lens_q)]), dtype=torch.int32, device=device)
    ck = torch.tensor(np.concatenate([[0], np.cumsum(lens_k)]), dtype=torch.int32, device=device)
    q = rand(gen, (sum(lens_q), 4, 64), "float16", device)
    k = rand(gen, (sum(lens_k), 2, 64), "float16", device)
    v = rand(gen, (sum(lens_k), 2, 64), "float16", device)
    out = torch.full_like(q, float("nan"))
    res, lse = flashcore.attention(q, k, v, cu_seqlens_q=cq, cu_seqlens_k=ck, max_seqlen_q=40, max_seqlen_k=60,
                                   causal=True, out=out, return_lse=True)
    assert res is out and lse.shape == (4, q.shape[0])
    assert_close(host(out), host(q), host(k), host(v), gen.initial_seed(), lse=host(lse), dtype="float16",
                 causal=True, cu_seqlens_q=cq.cpu().numpy(), cu_seqlens_k=ck.cpu().numpy())
    again = flashcore.attention(q, k, v, cu_seqlens_q=cq.tolist(), cu_seqlens_k=ck.tolist(), causal=True)
    assert torch.equal(again, out)
    with pytest.raises(TypeError, match="int32"):
        flashcore.attention(q, k, v, cu_seqlens_q=cq.long(), cu_seqlens_k=ck)


@pytest.mark.parametrize("device", DEVICES)
def test_c_errors_are_exceptions(gen, device):
    q = rand(gen, (1, 8, 2, 60), "float16", device)
    with pytest.raises(flashcore.BadParameterError, match="head_dim"):
        flashcore.attention(q, q, q)
    if device == "cuda":
        q = rand(gen, (1, 8, 2, 64), "float32", device)
        with pytest.raises(flashcore.NotSupportedError):
            flashcore.attention(q, q, q)


# ---- the SDPA drop-in ----------------------------------------------------------------------------

def torch_sdpa_f64(q, k, v, **kw):
    import torch.nn.functional as F
    return F.scaled_dot_product_attention(q.double().cpu(), k.double().cpu(), v.double().cpu(), **kw)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("lq,lk,hq,hkv,causal", [(64, 64, 4, 4, False), (64, 64, 4, 4, True), (33, 70, 8, 2, False),
                                                 (70, 33, 8, 2, True), (1, 100, 4, 1, False)])
def test_sdpa_matches_torch(gen, device, lq, lk, hq, hkv, causal):
    q = rand(gen, (2, hq, lq, 64), "float16", device)
    k = rand(gen, (2, hkv, lk, 64), "float16", device)
    v = rand(gen, (2, hkv, lk, 64), "float16", device)
    gqa = hq != hkv
    out = fct.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)
    assert out.shape == q.shape and out.dtype == q.dtype and out.device == q.device
    expect = torch_sdpa_f64(q, k, v, is_causal=causal, enable_gqa=gqa)
    err = (out.double().cpu() - expect).abs().max().item()
    assert err < 4e-3, f"max err {err} vs torch's SDPA in float64 (seed {gen.initial_seed()})"


@pytest.mark.parametrize("device", DEVICES)
def test_sdpa_scale_and_3d(gen, device):
    q, k, v = (rand(gen, (4, 50, 32), "bfloat16", device) for _ in range(3))
    out = fct.scaled_dot_product_attention(q, k, v, scale=0.7)
    expect = torch_sdpa_f64(q, k, v, scale=0.7)
    assert out.shape == q.shape
    assert (out.double().cpu() - expect).abs().max().item() < 2e-2


@pytest.mark.parametrize("device", DEVICES)
def test_sdpa_unsupported_arguments(gen, device):
    q = rand(gen, (1, 2, 16, 64), "float16", device)
    cases = [(dict(attn_mask=torch.ones(16, 16, dtype=torch.bool, device=device)), "attn_mask"),
             (dict(dropout_p=0.1), "dropout_p"), (dict(scale=0.0), "scale")]
    for kw, arg in cases:
        with pytest.raises(flashcore.UnsupportedArgumentError) as e:
            fct.scaled_dot_product_attention(q, q, q, **kw)
        assert e.value.argument == arg and arg in str(e.value)
    k = rand(gen, (1, 2, 32, 64), "float16", device)
    with pytest.raises(flashcore.UnsupportedArgumentError) as e:
        fct.scaled_dot_product_attention(q, k, k, is_causal=True)  # top-left causal with L < S
    assert e.value.argument == "is_causal"
    with pytest.raises(flashcore.UnsupportedArgumentError) as e:
        fct.scaled_dot_product_attention(q, q, rand(gen, (1, 2, 16, 32), "float16", device))
    assert e.value.argument == "value"
    with pytest.raises(ValueError, match="enable_gqa"):
        fct.scaled_dot_product_attention(rand(gen, (1, 4, 16, 64), "float16", device), q, q)


@pytest.mark.parametrize("device", DEVICES)
def test_backward_raises_clearly(gen, device):
    q, k, v = (rand(gen, (1, 16, 2, 64), "float16", device).requires_grad_() for _ in range(3))
    out = flashcore.attention(q, k, v)  # the forward works on tensors that require grad
    assert out.requires_grad
    with pytest.raises(flashcore.NotSupportedError, match="backward"):
        out.float().sum().backward()
    with pytest.raises(RuntimeError, match="out= does not support autograd"):
        flashcore.attention(q, k, v, out=torch.empty_like(q))


def test_opcheck(gen):
    device = "cuda" if HAVE_GPU else "cpu"
    q, k, v = (rand(gen, (1, 24, 2, 64), "float16", device) for _ in range(3))
    args = (q, k, v, None, None, 0, 0, 0.0, True, -1, -1, 0.0, True)
    torch.library.opcheck(torch.ops.flashcore.fwd.default, args,
                          test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))


# ---- torch.compile, CUDA graphs, streams (GPU) ----------------------------------------------------

@gpu
def test_torch_compile_fullgraph(gen):
    q, k, v = (rand(gen, (2, 128, 4, 64), "float16", "cuda") for _ in range(3))

    def f(q, k, v):
        a = fct.attention(q, k, v, causal=True)
        b = fct.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return a * 2 + b.transpose(1, 2)

    compiled = torch.compile(f, fullgraph=True)
    torch.testing.assert_close(compiled(q, k, v), f(q, k, v), rtol=0, atol=0)
    qg = q.clone().requires_grad_()
    assert compiled(qg, k, v).requires_grad  # compiles with autograd (the backward would raise)
    # The framework-agnostic entry point compiles too (graph breaks allowed).
    g = torch.compile(lambda q, k, v: flashcore.attention(q, k, v) + 1)
    torch.testing.assert_close(g(q, k, v), flashcore.attention(q, k, v) + 1, rtol=0, atol=0)


@gpu
def test_cuda_graph_capture_and_replay(gen):
    q, k, v = (rand(gen, (1, 256, 8, 64), "float16", "cuda") for _ in range(3))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        flashcore.attention(q, k, v)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):  # fails if flashcore launched on a stream other than the current one
        static_out = flashcore.attention(q, k, v, causal=True)
    for _ in range(2):
        for t in (q, k, v):
            t.copy_(torch.randn(t.shape, generator=gen).to(t))
        graph.replay()
        torch.cuda.synchronize()
        torch.testing.assert_close(static_out, flashcore.attention(q, k, v, causal=True), rtol=0, atol=0)


@gpu
def test_runs_on_the_current_stream(gen):
    q, k, v = (rand(gen, (2, 512, 8, 64), "bfloat16", "cuda") for _ in range(3))
    expect = flashcore.attention(q, k, v)
    q2 = torch.zeros_like(q)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        torch.cuda._sleep(20_000_000)  # q2 gets q's values only after this, on s
        q2.copy_(q)
        out = flashcore.attention(q2, k, v)  # on any other stream it would read zeros
    s.synchronize()
    torch.testing.assert_close(out, expect, rtol=0, atol=0)
    q2.zero_()
    torch.cuda.synchronize()
    with torch.cuda.stream(s):
        torch.cuda._sleep(20_000_000)
        q2.copy_(q)
    out2 = flashcore.attention(q2, k, v, stream=s)  # an explicit stream
    s.synchronize()
    torch.testing.assert_close(out2, expect, rtol=0, atol=0)
