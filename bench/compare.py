#!/usr/bin/env python3
"""flashcore side by side with torch's SDPA backends, in one process, on the same inputs.

For each shape of the chosen sweeps (bench/sweeps.py):
  1. fresh random inputs, stored [B, S, H, D]; torch gets [B, H, S, D] views of the same memory;
  2. flashcore's output is checked against the float64 reference (python/flashcore/reference.py,
     computed on the CPU from the same rounded inputs) with the project's rule: max error <= 2x a
     plain low-precision reference + eps. Large shapes are checked on a subset (batch 0 and the last,
     `--check-heads` heads, `--check-rows` query rows spread over the sequence, every key); the table
     says "subset" when it is one. Peers' errors are measured the same way (for information);
  3. timing: CUDA events around each call, warm-up first, median of `--repeats`; inputs rotated
     over several copies whose total exceeds twice the L2 cache; the seed and decode sweeps
     (microsecond shapes) are timed by CUDA-graph replay of `--graph-calls` calls. On the CPU: wall clock
     (time.perf_counter), median. The implementations take turns: repeat r times flashcore, then
     fa2, cudnn, ..., then repeat r+1 (interleaved), so a transient slowdown of the machine lands
     in a sample of each rather than in all samples of one.

Implementations: flashcore, and with torch on CUDA fa2 (SDPBackend.FLASH_ATTENTION), cudnn
(CUDNN_ATTENTION), memeff (EFFICIENT_ATTENTION); on the CPU torch-cpu (torch's CPU SDPA). With
numpy alone (no torch): flashcore on the CPU against the reference.

Writes under --out: NAME.json ({"device", "driver", "torch", "cudnn", "commit", "date", "command",
"notes", "rows"}; see bench/README or the issue for the row schema), NAME.png (TFLOP/s vs seqlen,
one panel per sweep / head dim / causal, a line per implementation; needs matplotlib) and NAME.md.

Exit status: 0, or 1 when flashcore failed a check or a call (other than "not supported").

Examples:
    python bench/compare.py --sweep seed,fa --out bench/results --name h100-$(date +%F)
    python bench/compare.py --device cpu --quick --sweep seed,fa --out /tmp/cmp
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "python"))  # this checkout's package, before any installed one

import numpy as np  # noqa: E402

import flashcore  # noqa: E402
from flashcore import reference as ref  # noqa: E402
from sweeps import SWEEPS, Shape, sweep  # noqa: E402

try:
    import torch
except ImportError:  # numpy only: flashcore on the CPU against the reference
    torch = None

DTYPE_NAMES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
PEERS_CUDA = {"fa2": "FLASH_ATTENTION", "cudnn": "CUDNN_ATTENTION", "memeff": "EFFICIENT_ATTENTION"}
IMPL_ORDER = ["flashcore", "fa2", "cudnn", "memeff", "torch-cpu"]
# Sweeps of microseconds per call, timed by CUDA-graph replay so that launch and Python overheads
# (which differ between the implementations) stay out of the kernel time.
GRAPH_SWEEPS = {"seed", "decode"}
# Rotate inputs over copies totalling at least this many times the L2 size (cold L2 per call).
L2_ROTATION_FACTOR = 2
MAX_ROTATION_SETS = 64


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- environment ---------------------------------------------------------------------------------

def _error_text(e: BaseException) -> str:
    """'Type: first line of the message' of an exception, for one-line notes."""
    text = str(e)
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


def _run(cmd: List[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=REPO).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment(device: str) -> Dict[str, Any]:
    # FC_COMMIT names the commit of a tree copied to a remote GPU machine; it wins over the copy's
    # git metadata, which may be absent or stale (seen: a copy reporting an older commit, dirty).
    commit = os.environ.get("FC_COMMIT") or None
    if not commit:
        commit = _run(["git", "rev-parse", "--short=12", "HEAD"]) or None
        if commit and _run(["git", "status", "--porcelain", "--untracked-files=no"]):
            commit += "-dirty"
    env: Dict[str, Any] = {"device": None, "driver": None, "torch": torch.__version__ if torch else None,
                           "cudnn": None, "commit": commit,
                           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if device == "cuda":
        env["device"] = torch.cuda.get_device_name()
        env["driver"] = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]).split("\n")[0] \
            or None
        env["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    else:
        name = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        env["device"] = f"CPU: {name} ({os.cpu_count()} threads)"
    return env


# ---- inputs --------------------------------------------------------------------------------------

class Problem:
    """The inputs of one shape (torch tensors on the device, or numpy arrays without torch); more
    copies for L2 rotation after rotate()."""

    def __init__(self, shape: Shape, device: str, rng: np.random.Generator):
        self.shape = shape
        self.device = device
        self.dtype = DTYPE_NAMES[shape.dtype]
        s = shape
        self.shapes = [(s.batch, s.seqlen_q, s.heads_q, s.head_dim), (s.batch, s.seqlen_k, s.heads_kv, s.head_dim),
                       (s.batch, s.seqlen_k, s.heads_kv, s.head_dim)]
        self.sets = [self._make(rng)]

    def _make(self, rng: np.random.Generator):
        if torch is not None:
            g = torch.Generator(device=self.device)
            g.manual_seed(int(rng.integers(2**62)))
            tdt = getattr(torch, self.dtype)
            return [torch.randn(sh, generator=g, device=self.device, dtype=torch.float32).to(tdt) for sh in self.shapes]
        dt = np.float16 if self.dtype == "float16" else np.float32
        if self.dtype == "bfloat16":
            import ml_dtypes
            dt = ml_dtypes.bfloat16
        return [rng.standard_normal(sh, dtype=np.float32).astype(dt) for sh in self.shapes]

    def bytes_per_set(self) -> int:
        s = self.shape
        elem = 4 if s.dtype == "fp32" else 2
        return elem * s.batch * s.head_dim * (2 * s.seqlen_q * s.heads_q + 2 * s.seqlen_k * s.heads_kv)

    def rotate(self, l2_bytes: int, rng: np.random.Generator) -> int:
        """Add input copies until they span L2_ROTATION_FACTOR x the L2 size; returns the set count."""
        want = min(MAX_ROTATION_SETS, max(1, math.ceil(L2_ROTATION_FACTOR * l2_bytes / self.bytes_per_set())))
        while len(self.sets) < want:
            self.sets.append(self._make(rng))
        return len(self.sets)

    def host(self, x: Any, batch: int) -> np.ndarray:
        """One sequence of an input/output [B, S, H, D] as a float32 numpy array [1, S, H, D]."""
        if torch is not None and isinstance(x, torch.Tensor):
            return x[batch:batch + 1].float().cpu().numpy()
        return np.asarray(x[batch:batch + 1]).astype(np.float32)


# ---- implementations ------------------------------------------------------------------------------

def impls_for(device: str, wanted: List[str]) -> List[str]:
    avail = ["flashcore"]
    if torch is not None:
        avail += list(PEERS_CUDA) if device == "cuda" else ["torch-cpu"]
    return [i for i in avail if i in wanted]


def make_fn(impl: str, s: Shape) -> Callable[[List[Any]], Any]:
    """A function of one input set returning the output in [B, S, H, D] (a view for torch's)."""
    if impl == "flashcore":
        return lambda t: flashcore.attention(t[0], t[1], t[2], causal=s.causal)
    import torch.nn.functional as F
    gqa = s.heads_q != s.heads_kv
    kw = {"is_causal": s.causal}
    if gqa:
        kw["enable_gqa"] = True

    def sdpa(t):
        return F.scaled_dot_product_attention(t[0].transpose(1, 2), t[1].transpose(1, 2), t[2].transpose(1, 2),
                                              **kw).transpose(1, 2)
    if impl == "torch-cpu":
        return sdpa
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backend = getattr(SDPBackend, PEERS_CUDA[impl])

    def forced(t):
        with sdpa_kernel(backend):
            return sdpa(t)
    return forced


# ---- checking -------------------------------------------------------------------------------------

def check_plan(s: Shape, heads: int, rows: int, rng: np.random.Generator):
    """(batches, heads, rows, is_subset) to compare against the reference: everything for small
    shapes; else the first and last sequence, the first and last head plus random ones up to
    `heads`, and `rows` query rows (first, last, evenly spread and random)."""
    def pick(n: int, k: int) -> List[int]:
        if n <= k:
            return list(range(n))
        chosen = {0, n - 1} | set(np.linspace(0, n - 1, k // 2).astype(int).tolist())
        for i in rng.permutation(n).tolist():
            if len(chosen) >= k:
                break
            chosen.add(i)
        return sorted(chosen)
    batches = sorted({0, s.batch - 1})
    hs, rs = pick(s.heads_q, heads), pick(s.seqlen_q, rows)
    subset = len(batches) < s.batch or len(hs) < s.heads_q or len(rs) < s.seqlen_q
    return batches, hs, rs, subset


def host_subset(x: Any, b: int, rows: List[int], heads: List[int]) -> np.ndarray:
    """x[b][rows][:, heads] of a [B, S, H, D] array as float32 numpy (sliced on the device first)."""
    if torch is not None and isinstance(x, torch.Tensor):
        r = torch.tensor(rows, device=x.device)
        h = torch.tensor(heads, device=x.device)
        return x[b].index_select(0, r).index_select(1, h).float().cpu().numpy()
    return np.asarray(x[b])[rows][:, heads].astype(np.float32)


class Reference:
    """float64 and low-precision reference outputs of the checked subset of one problem."""

    def __init__(self, p: Problem, plan):
        self.batches, self.heads, self.rows, self.subset = plan
        q, k, v = p.sets[0]
        self.truth, self.lowp_err = [], 0.0
        for b in self.batches:
            hq, hk, hv = p.host(q, b), p.host(k, b), p.host(v, b)
            kw = dict(causal=p.shape.causal, dtype=p.dtype, heads=self.heads, rows=self.rows)
            t, _ = ref.attention_ref(hq, hk, hv, **kw)
            lo, _ = ref.attention_ref(hq, hk, hv, mode="lowp", **kw)
            self.truth.append(t[0])
            self.lowp_err = max(self.lowp_err, ref.max_abs_err(lo[0], t[0]))

    def error(self, out: Any) -> float:
        return max(ref.max_abs_err(host_subset(out, b, self.rows, self.heads), t)
                   for b, t in zip(self.batches, self.truth))


# ---- timing ---------------------------------------------------------------------------------------

class Timer:
    """Times one implementation one sample at a time, so that the implementations of a shape can
    take turns (time_interleaved). Modes: "cpu" (wall clock per call), "eager" (CUDA events around
    each call), "graph" (CUDA events around one replay of a captured graph of `calls` calls; a
    sample is the time per call)."""

    def __init__(self, fn: Callable[[List[Any]], Any], p: Problem, mode: str, calls: int = 1):
        self.fn, self.p, self.mode = fn, p, mode
        self.calls = max(calls, len(p.sets)) if mode == "graph" else 1
        self.graph = None
        self.samples: List[Any] = []

    def prepare(self, warmup: int) -> None:
        """Warm-up calls (and, for "graph", the capture); may raise (capture failed, call failed)."""
        n = len(self.p.sets)
        if self.mode != "graph":
            for i in range(warmup):
                self.fn(self.p.sets[i % n])
            if self.mode == "eager":
                torch.cuda.synchronize()
            return
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # the warm-up that capture needs (lazy init, workspace)
            for i in range(3):
                self.fn(self.p.sets[i % n])
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for i in range(self.calls):
                self.fn(self.p.sets[i % n])
        self.graph = graph
        for _ in range(max(1, warmup // 4)):
            graph.replay()
        torch.cuda.synchronize()

    def sample(self, inputs: List[Any]) -> None:
        """One timed call on `inputs` (a graph replays its own captured inputs)."""
        if self.mode == "cpu":
            t0 = time.perf_counter()
            self.fn(inputs)
            self.samples.append((time.perf_counter() - t0) * 1e6)
            return
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        if self.graph is not None:
            self.graph.replay()
        else:
            self.fn(inputs)
        b.record()
        self.samples.append((a, b))

    def result_us(self) -> float:
        """Median microseconds per call (synchronises the device); releases the graph."""
        if self.mode == "cpu":
            return statistics.median(self.samples)
        torch.cuda.synchronize()
        us = statistics.median(a.elapsed_time(b) for a, b in self.samples) * 1e3 / self.calls
        self.graph = None
        return us


def time_interleaved(timers: Dict[str, Any], p: Problem, repeats: int) -> Dict[str, str]:
    """`repeats` rounds, each taking one sample of every timer in order (flashcore, fa2, cudnn, ...,
    flashcore, ...). Consecutive calls take consecutive input sets, so no call finds the previous
    call's inputs in L2 (the sets span more than twice its size). A timer whose sample raises leaves
    the rounds; returns {impl: error message} for those."""
    failed: Dict[str, str] = {}
    n, k = len(p.sets), 0
    for _ in range(repeats):
        for impl, t in timers.items():
            if impl in failed:
                continue
            try:
                t.sample(p.sets[k % n])
            except Exception as e:
                failed[impl] = f"{type(e).__name__}: {e}"
            k += 1
    return failed


# ---- the run --------------------------------------------------------------------------------------

def run_shape(s: Shape, args, device: str, impls: List[str], rng, notes: List[str]) -> Tuple[List[dict], bool]:
    """Rows for one shape (one per implementation) and whether flashcore passed. Every
    implementation is checked first; those that pass are then timed together, taking turns."""
    row_base = s.as_dict()
    rows, ok = [], True
    try:
        p = Problem(s, device, rng)
    except ImportError:
        notes.append(f"{s.label()}: skipped (numpy bfloat16 needs ml_dtypes or torch)")
        log(notes[-1])
        return [], True
    plan = check_plan(s, args.check_heads, args.check_rows, rng)
    reference = Reference(p, plan)
    graph = device == "cuda" and s.sweep in GRAPH_SWEEPS and not args.no_graph
    if device == "cuda":
        l2 = getattr(torch.cuda.get_device_properties(torch.cuda.current_device()), "L2_cache_size", 50 * 2**20)
        p.rotate(l2, rng)

    def fail(impl: str, msg: str, counts: bool = True) -> None:
        """Note a failure; a failure of flashcore's (unless `counts` is false) fails the shape."""
        nonlocal ok
        notes.append(msg)
        log(msg)
        if impl == "flashcore" and counts:
            ok = False

    # 1. check every implementation on the first input set
    fns: Dict[str, Callable[[List[Any]], Any]] = {}
    for impl in impls:
        row = dict(row_base, impl=impl, us=None, tflops=None, max_err=None)
        rows.append(row)
        fn = make_fn(impl, s)
        try:
            out = fn(p.sets[0])
            if device == "cuda":
                torch.cuda.synchronize()
        except Exception as e:  # a peer that does not take this shape, or flashcore's error
            fail(impl, f"{s.label()}: {impl} failed: {_error_text(e)}",
                 counts=not isinstance(e, flashcore.NotSupportedError))
            continue
        err = reference.error(out)
        row["max_err"] = err
        del out
        if impl == "flashcore" and not ref.passes(err, reference.lowp_err, p.dtype):
            fail(impl, f"{s.label()}: flashcore FAILED the check: max err {err:.3g} > 2 x {reference.lowp_err:.3g} + "
                       f"{ref.eps(p.dtype):g}{' (subset)' if reference.subset else ''}; not timed")
            continue
        fns[impl] = fn

    # 2. warm up (and capture) each, then time them taking turns
    timers: Dict[str, Timer] = {}
    for impl, fn in fns.items():
        mode = "cpu" if device == "cpu" else "graph" if graph else "eager"
        t = Timer(fn, p, mode, args.graph_calls)
        try:
            try:
                t.prepare(args.warmup)
            except Exception as e:
                if mode != "graph":
                    raise
                notes.append(f"{s.label()}: {impl}: CUDA-graph capture failed ({_error_text(e)}); timed eagerly")
                log(notes[-1])
                torch.cuda.synchronize()
                t = Timer(fn, p, "eager")
                t.prepare(args.warmup)
        except Exception as e:
            fail(impl, f"{s.label()}: {impl} timing failed: {type(e).__name__}: {e}")
            continue
        timers[impl] = t
    failed = time_interleaved(timers, p, args.repeats)
    for row in rows:
        impl = row["impl"]
        if impl not in timers:
            continue
        if impl in failed:
            fail(impl, f"{s.label()}: {impl} timing failed: {failed[impl]}")
            continue
        try:
            us = timers[impl].result_us()
        except Exception as e:
            fail(impl, f"{s.label()}: {impl} timing failed: {type(e).__name__}: {e}")
            continue
        row["us"] = round(us, 3)
        # four significant digits: a fixed number of decimals turned a slow CPU decode row into 0.0
        row["tflops"] = float(f"{s.flops() / (us * 1e-6) / 1e12:.4g}")
    timers.clear()
    subset = " (checked on a subset)" if reference.subset else ""
    fc = next((r for r in rows if r["impl"] == "flashcore"), None)
    if fc is not None and fc["max_err"] is not None:
        log(f"  {s.label()}: flashcore max err {fc['max_err']:.3g}, low-precision ref {reference.lowp_err:.3g}"
            f"{subset}")
    return rows, ok


# ---- output ---------------------------------------------------------------------------------------

def _fmt(x: Optional[float], spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _ratio(rows: List[dict], peer: str) -> Optional[float]:
    fc = next((r for r in rows if r["impl"] == "flashcore"), None)
    pe = next((r for r in rows if r["impl"] == peer), None)
    if fc and pe and fc["us"] and pe["us"]:
        return pe["us"] / fc["us"]
    return None


def group_rows(rows: List[dict]) -> List[List[dict]]:
    groups: Dict[tuple, List[dict]] = {}
    keys = ("sweep", "batch", "heads_q", "heads_kv", "seqlen_q", "seqlen_k", "head_dim", "causal", "dtype", "mode")
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    return list(groups.values())


def table(rows: List[dict], impls: List[str], markdown: bool) -> List[str]:
    head = ["sweep", "shape"] + [f"{i} us" for i in impls] + [f"{i} TF/s" for i in impls]
    ratio_peers = [p for p in ("fa2", "cudnn", "torch-cpu") if p in impls]
    head += [f"fc/{p}" for p in ratio_peers] + ["fc max_err"]
    body = []
    for g in group_rows(rows):
        by = {r["impl"]: r for r in g}
        s = g[0]
        shape = Shape(**{k: s[k] for k in ("sweep", "batch", "heads_q", "heads_kv", "seqlen_q", "seqlen_k",
                                           "head_dim", "causal", "dtype", "mode")})
        line = [s["sweep"], shape.label()]
        line += [_fmt(by.get(i, {}).get("us"), ".1f") for i in impls]
        line += [_fmt(by.get(i, {}).get("tflops"), ".3g") for i in impls]
        line += [_fmt(_ratio(g, p), ".2f") for p in ratio_peers]
        line += [_fmt(by.get("flashcore", {}).get("max_err"), ".2g")]
        body.append(line)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return out + ["| " + " | ".join(b) + " |" for b in body]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    fmt = lambda cells: "  ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    return [fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body]


def geomean_lines(rows: List[dict], impls: List[str]) -> List[str]:
    lines = []
    for peer in ("fa2", "cudnn", "torch-cpu"):
        if peer not in impls:
            continue
        for sw in dict.fromkeys(r["sweep"] for r in rows):
            rs = [_ratio(g, peer) for g in group_rows([r for r in rows if r["sweep"] == sw])]
            rs = [r for r in rs if r]
            if rs:
                gm = math.exp(sum(math.log(r) for r in rs) / len(rs))
                lines.append(f"{sw}: flashcore vs {peer}: geometric mean speed ratio {gm:.2f} over {len(rs)} shapes "
                             f"(>1: flashcore faster)")
    return lines


def matmul_ceiling(n: int = 8192, repeats: int = 20) -> float:
    """The bf16 matmul rate of this GPU in this run (random inputs, median of CUDA-event timings):
    the ceiling that attention's TFLOP/s are read against."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        a @ b
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1) * 1e-3)
    times.sort()
    return 2.0 * n ** 3 / times[len(times) // 2] / 1e12


def plot(rows: List[dict], path: Path, title: str) -> Optional[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot (pip install matplotlib)"
    panels: Dict[tuple, List[dict]] = {}
    for r in rows:
        if r["tflops"] is not None:
            panels.setdefault((r["sweep"], r["head_dim"], r["causal"], r["dtype"]), []).append(r)
    if not panels:
        return "nothing timed: no plot"
    cols = min(3, len(panels))
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.8 * nrows), squeeze=False)
    for ax, (key, rs) in zip(axes.flat, panels.items()):
        sw, d, causal, dt = key
        for impl in IMPL_ORDER:
            pts = sorted((r["seqlen_k"], r["tflops"]) for r in rs if r["impl"] == impl)
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=impl)
        ax.set_xscale("log", base=2)
        ax.set_ylim(bottom=0)
        ax.set_title(f"{sw}: D={d} {'causal' if causal else 'non-causal'} {dt}", fontsize=10)
        ax.set_xlabel("seqlen_k")
        ax.set_ylabel("TFLOP/s")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", default="seed,fa", help=f"comma-separated sweeps: {', '.join(SWEEPS)} (default seed,fa)")
    ap.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto",
                    help="auto: cuda when torch sees a GPU and the library has CUDA, else cpu")
    ap.add_argument("--impls", default=",".join(IMPL_ORDER), help="implementations to run (default: all available)")
    ap.add_argument("--out", default=str(HERE / "out"), help="folder for NAME.json / .png / .md (default bench/out)")
    ap.add_argument("--name", default="compare", help="file name stem (default compare)")
    ap.add_argument("--max-seqlen", type=int, default=None, help="skip rows with a longer sequence")
    ap.add_argument("--quick", action="store_true",
                    help="shrink every row (batch 1, <= 2 query heads) and cap seqlen at 1024 unless --max-seqlen: "
                         "for a CPU run in reasonable time")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up calls (default 10 on CUDA, 1 on the CPU)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default 50 on CUDA, 3 on the CPU)")
    ap.add_argument("--graph-calls", type=int, default=20, help="calls per captured CUDA graph (seed, decode)")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the bf16 matmul ceiling measurement (GPU)")
    ap.add_argument("--no-graph", action="store_true", help="time the seed and decode sweeps eagerly too")
    ap.add_argument("--check-heads", type=int, default=2, help="heads checked against the reference on big shapes")
    ap.add_argument("--check-rows", type=int, default=256, help="query rows checked on big shapes")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)

    if args.device == "auto":
        cuda_ok = torch is not None and torch.cuda.is_available() and flashcore.has_cuda()
        device = "cuda" if cuda_ok else "cpu"
    else:
        device = args.device
    if device == "cuda" and (torch is None or not torch.cuda.is_available()):
        log("compare.py: --device cuda needs torch with a GPU")
        return 2
    if args.warmup is None:
        args.warmup = 10 if device == "cuda" else 1
    if args.repeats is None:
        args.repeats = 50 if device == "cuda" else 3
    max_seqlen = args.max_seqlen or (1024 if args.quick else None)
    names = [n.strip() for n in args.sweep.split(",") if n.strip()]
    try:
        shapes = [s for n in names for s in sweep(n, max_seqlen=max_seqlen, quick=args.quick)]
    except ValueError as e:
        log(f"compare.py: {e}")
        return 2
    impls = impls_for(device, [i.strip() for i in args.impls.split(",")])
    env = environment(device)
    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]))] + (argv or sys.argv[1:]))
    log(f"compare.py: {len(shapes)} shapes on {env['device']} ({device}); implementations: {', '.join(impls)}; "
        f"flashcore library {flashcore.library_path()}")
    if device == "cpu" and not args.quick and not args.max_seqlen:
        log("compare.py: full sweeps on the CPU take long; --quick or --max-seqlen N shortens them")

    rng = np.random.default_rng()
    rows: List[dict] = []
    notes: List[str] = []
    all_ok = True
    t0 = time.time()
    for s in shapes:
        r, ok = run_shape(s, args, device, impls, rng, notes)
        rows += r
        all_ok &= ok
        if device == "cuda":
            torch.cuda.empty_cache()
    log(f"compare.py: {len(shapes)} shapes in {time.time() - t0:.0f} s")
    if device == "cuda" and not args.no_ceiling:
        env["bf16_matmul_tflops"] = matmul_ceiling()
        log(f"compare.py: bf16 matmul 8192^3 in this run: {env['bf16_matmul_tflops']:.0f} TFLOP/s")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = dict(env, command=command, notes=notes, rows=rows)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    title = f"flashcore vs peers: {env['device']}, {env['date'][:10]}, commit {env['commit']}"
    plot_msg = None if args.no_plot else plot(rows, out / f"{args.name}.png", title)
    if plot_msg:
        log(f"compare.py: {plot_msg}")
    ratio_note = ("fc/X = X's time / flashcore's time (>1: flashcore faster); us = median kernel time"
                  + (" (CUDA-graph replay for the seed and decode sweeps)" if device == "cuda" else " (wall clock)"))
    md = [f"# {args.name}", "", f"- device: {env['device']}", f"- driver: {env['driver']}, torch: {env['torch']}, "
          f"cudnn: {env['cudnn']}", f"- commit: {env['commit']}, date: {env['date']}", f"- command: `{command}`",
          f"- bf16 matmul 8192^3 in the same run: {env.get('bf16_matmul_tflops') or 0:.0f} TFLOP/s",
          f"- {ratio_note}", "- flashcore's output is checked against the float64 reference before timing "
          f"(large shapes on a subset: {args.check_heads} heads, {args.check_rows} rows, first and last batch)", ""]
    md += table(rows, impls, markdown=True) + [""] + geomean_lines(rows, impls)
    if notes:
        md += ["", "Notes:"] + [f"- {n}" for n in notes]
    if not plot_msg and not args.no_plot:
        md += ["", f"![TFLOP/s vs seqlen]({args.name}.png)"]
    (out / f"{args.name}.md").write_text("\n".join(md) + "\n")

    print()
    print("\n".join(table(rows, impls, markdown=False)))
    print(ratio_note)
    for line in geomean_lines(rows, impls):
        print(line)
    print(f"wrote {out / (args.name + '.json')}, {args.name}.md" + ("" if plot_msg or args.no_plot else f", {args.name}.png"))
    if not all_ok:
        print("FAILED: flashcore failed a correctness check or a call (see the notes above)")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
