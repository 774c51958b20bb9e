"""The benchmark harness: the sweeps agree with the CLI's (tools/cmd_bench.c), and compare.py runs
end to end on the CPU and writes the recorded schema."""
import json
import re
import sys

import pytest

from conftest import HAVE_BF16, REPO

sys.path.insert(0, str(REPO / "bench"))
import compare  # noqa: E402
import sweeps  # noqa: E402

ROW_KEYS = {"sweep", "batch", "heads_q", "heads_kv", "seqlen_q", "seqlen_k", "head_dim", "causal", "dtype", "mode",
            "impl", "us", "tflops", "max_err"}
TOP_KEYS = {"device", "driver", "torch", "cudnn", "commit", "date", "rows"}


def _c_array(text, name):
    return [int(x) for x in re.search(r"%s\[\]\s*=\s*\{([^}]*)\}" % name, text).group(1).split(",")]


def test_sweeps_match_the_cli():
    src = REPO / "tools" / "cmd_bench.c"
    if not src.is_file():
        pytest.skip("no CLI source")
    text = src.read_text()
    assert int(re.search(r"#define FA_TOKENS (\d+)", text).group(1)) == sweeps.FA_TOKENS
    assert int(re.search(r"#define FA_MODEL_WIDTH (\d+)", text).group(1)) == sweeps.FA_MODEL_WIDTH
    seed = sweeps.sweep("seed")
    assert [r.seqlen_q for r in seed] == _c_array(text, "seed_seqlens")
    assert {(r.batch, r.heads_q, r.head_dim, r.dtype, r.causal) for r in seed} == {(1, 8, 64, "fp16", False)}
    fa = sweeps.sweep("fa")
    assert sorted({r.seqlen_q for r in fa}) == _c_array(text, "fa_seqlens")
    assert sorted({r.head_dim for r in fa}) == _c_array(text, "fa_head_dims")
    assert len(fa) == 6 * 3 * 2
    for r in fa:
        assert r.batch * r.seqlen_q == 16384 and r.heads_q * r.head_dim == 2048 and r.dtype == "bf16"


def test_sweep_options():
    assert max(r.seqlen_k for r in sweeps.sweep("fa", max_seqlen=2048)) == 2048
    for r in sweeps.sweep("decode", quick=True):
        assert r.batch == 1 and r.heads_q % r.heads_kv == 0 and r.heads_q // r.heads_kv == 4
    with pytest.raises(ValueError, match="backward"):
        sweeps.sweep("train")
    assert sweeps.Shape("x", 1, 8, 8, 256, 256, 64, True, "fp16").flops() == 2 * 8 * 256 * 256 * 64


def test_compare_end_to_end_on_cpu(tmp_path):
    rc = compare.main(["--device", "cpu", "--quick", "--sweep", "seed,decode", "--max-seqlen", "1024",
                       "--repeats", "1", "--warmup", "0", "--out", str(tmp_path), "--name", "t"])
    assert rc == 0
    result = json.loads((tmp_path / "t.json").read_text())
    assert TOP_KEYS <= set(result)
    assert result["rows"]
    impls = {r["impl"] for r in result["rows"]}
    assert "flashcore" in impls and impls <= {"flashcore", "fa2", "cudnn", "memeff", "torch-cpu"}
    for r in result["rows"]:
        assert set(r) == ROW_KEYS
        if r["impl"] == "flashcore":
            assert r["us"] > 0 and r["tflops"] > 0 and r["max_err"] < 0.01
    # the decode rows are bf16: numpy needs ml_dtypes for them (without torch)
    have_bf16 = HAVE_BF16 or compare.torch is not None
    assert {r["sweep"] for r in result["rows"]} == ({"seed", "decode"} if have_bf16 else {"seed"})
    md = (tmp_path / "t.md").read_text()
    assert "flashcore us" in md and "command" in md


def test_implementations_take_turns():
    """time_interleaved: one sample of each implementation per round, in order; consecutive calls on
    different input sets; an implementation whose sample raises leaves the rounds, the others go on."""
    calls = []

    class FakeTimer:
        def __init__(self, name, fail_at=None):
            self.name, self.fail_at, self.n = name, fail_at, 0

        def sample(self, inputs):
            self.n += 1
            if self.n == self.fail_at:
                raise RuntimeError("boom")
            calls.append((self.name, inputs[0]))

    class FakeProblem:
        sets = [[i] for i in range(4)]

    timers = {"flashcore": FakeTimer("flashcore"), "fa2": FakeTimer("fa2", fail_at=2), "cudnn": FakeTimer("cudnn")}
    failed = compare.time_interleaved(timers, FakeProblem, 3)
    assert [c[0] for c in calls] == ["flashcore", "fa2", "cudnn", "flashcore", "cudnn", "flashcore", "cudnn"]
    assert all(a[1] != b[1] for a, b in zip(calls, calls[1:]))
    assert set(failed) == {"fa2"} and "boom" in failed["fa2"]


def test_compare_interleaves_on_cpu(tmp_path, monkeypatch):
    """End to end with a second (stand-in) implementation: after the checks and warm-ups, the timed
    calls alternate between the implementations, and each gets its own row of the same schema."""
    order = []
    real_make_fn = compare.make_fn

    def make_fn(impl, s):
        fc = real_make_fn("flashcore", s)

        def fn(t):
            order.append(impl)
            return fc(t)
        return fn
    monkeypatch.setattr(compare, "make_fn", make_fn)
    monkeypatch.setattr(compare, "impls_for", lambda device, wanted: ["flashcore", "torch-cpu"])
    rc = compare.main(["--device", "cpu", "--quick", "--sweep", "seed", "--max-seqlen", "256", "--repeats", "4",
                       "--warmup", "1", "--out", str(tmp_path), "--name", "t", "--no-plot"])
    assert rc == 0
    # per shape: one checking call and one warm-up call each, then 4 rounds of (flashcore, torch-cpu)
    assert order == ["flashcore", "torch-cpu"] * 2 + ["flashcore", "torch-cpu"] * 4
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert [r["impl"] for r in rows] == ["flashcore", "torch-cpu"]
    for r in rows:
        assert set(r) == ROW_KEYS and r["us"] > 0 and r["max_err"] < 0.01
