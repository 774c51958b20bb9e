#!/usr/bin/env python3
"""Time flashcore's CUDA forward against torch SDPA (FLASH_ATTENTION = FlashAttention-2, and
CUDNN_ATTENTION) on the same inputs, in one process, under CUDA-graph replay.

Usage: python3 scripts/bench_gpu.py <path to libflashcore.so> [fa|seed|splits|all] [--json FILE]

Inputs are stored [B, S, H, D] and handed to SDPA as [B, H, S, D] views (as the peer anchors in
shared/anchors were measured); flashcore gets the same storage. Each method is captured `reps`
times into one graph; the graph is replayed `replays` times after a warm-up and the median per-call
time is reported. FLOPs = 4*B*H*S*S*D, halved for causal. Accuracy is checked against SDPA's math
backend in fp32 on every row (max abs error printed).

The splits mode needs a library built with -DFC_CUDA_TUNING (FC_TUNE_SPLITS forces the split count).
"""
import ctypes
import json
import os
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

FC_F16, FC_BF16, FC_DEVICE_CUDA = 1, 2, 1


class FcTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * 4), ("stride", ctypes.c_int64 * 4), ("device", ctypes.c_int),
                ("device_ordinal", ctypes.c_int)]


class FcParams(ctypes.Structure):
    _fields_ = [("softmax_scale", ctypes.c_float), ("causal", ctypes.c_int), ("window_left", ctypes.c_int),
                ("window_right", ctypes.c_int), ("softcap", ctypes.c_float), ("cu_seqlens_q", ctypes.c_void_p),
                ("cu_seqlens_k", ctypes.c_void_p), ("num_seqs", ctypes.c_int), ("max_seqlen_q", ctypes.c_int),
                ("max_seqlen_k", ctypes.c_int)]


class Flashcore:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        P = ctypes.POINTER
        self.lib.fc_attention_forward.restype = ctypes.c_int
        self.lib.fc_attention_forward.argtypes = [P(FcTensor)] * 5 + [P(FcParams), ctypes.c_void_p, ctypes.c_size_t,
                                                                      ctypes.c_void_p]
        self.lib.fc_attention_workspace_size.restype = ctypes.c_int
        self.lib.fc_attention_workspace_size.argtypes = [P(FcTensor)] * 5 + [P(FcParams), P(ctypes.c_size_t)]
        self.lib.fc_last_error.restype = ctypes.c_char_p
        self.lib.fc_status_name.restype = ctypes.c_char_p

    @staticmethod
    def tensor(x):
        t = FcTensor()
        t.data = x.data_ptr()
        t.dtype = FC_F16 if x.dtype == torch.float16 else FC_BF16
        t.ndim = x.dim()
        for i in range(x.dim()):
            t.shape[i] = x.shape[i]
            t.stride[i] = x.stride(i)
        t.device = FC_DEVICE_CUDA
        t.device_ordinal = x.device.index or 0
        return t

    def prepare(self, q, k, v, o, causal):
        """Returns a zero-argument callable running flashcore on the current stream."""
        tq, tk, tv, to = (self.tensor(x) for x in (q, k, v, o))
        prm = FcParams()
        prm.causal = int(causal)
        prm.window_left = prm.window_right = -1
        size = ctypes.c_size_t(0)
        st = self.lib.fc_attention_workspace_size(tq, tk, tv, to, None, prm, ctypes.byref(size))
        self.check(st)
        ws = torch.empty(max(size.value, 1), dtype=torch.uint8, device=q.device)
        keep = (tq, tk, tv, to, prm, ws)

        def run():
            s = self.lib.fc_attention_forward(keep[0], keep[1], keep[2], keep[3], None, keep[4],
                                              ctypes.c_void_p(ws.data_ptr()), size.value,
                                              ctypes.c_void_p(torch.cuda.current_stream().cuda_stream))
            self.check(s)
        run.workspace = size.value
        return run

    def check(self, s):
        if s != 0:
            raise RuntimeError("flashcore: %s: %s" % (self.lib.fc_status_name(s).decode(),
                                                      self.lib.fc_last_error().decode()))


def time_graph(fn, reps, replays=15):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps):
            fn()
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        g.replay()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1) * 1000.0 / reps)
    return statistics.median(times), (max(times) - min(times)) / statistics.median(times)


def sdpa_fn(backend, q, k, v, causal):
    qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)

    def run():
        with sdpa_kernel(backend):
            F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
    return run


def bench_row(fc, B, H, S, D, causal, dtype, reps, peers=True):
    torch.manual_seed(B * 1000003 + H * 1009 + S * 31 + D + causal)
    q = torch.randn(B, S, H, D, dtype=dtype, device="cuda")
    k = torch.randn(B, S, H, D, dtype=dtype, device="cuda")
    v = torch.randn(B, S, H, D, dtype=dtype, device="cuda")
    o = torch.full_like(q, float("nan"))
    run_fc = fc.prepare(q, k, v, o, causal)
    run_fc()
    torch.cuda.synchronize()
    # accuracy vs fp32 math on the last (up to) 512 query rows of (up to) the first 2 sequences
    nb, R = min(B, 2), min(S, 512)
    qr = q[:nb, S - R:].float().transpose(1, 2)
    mask = None
    if causal:
        i = torch.arange(S - R, S, device="cuda")[:, None]
        mask = torch.arange(S, device="cuda")[None, :] <= i
    with sdpa_kernel(SDPBackend.MATH):
        ref = F.scaled_dot_product_attention(qr, k[:nb].float().transpose(1, 2), v[:nb].float().transpose(1, 2),
                                             attn_mask=mask).transpose(1, 2)
    err = (o[:nb, S - R:].float() - ref).abs().max().item()
    nan = torch.isnan(o).any().item()
    row = {"B": B, "H": H, "S": S, "D": D, "causal": int(causal), "dtype": str(dtype).replace("torch.", ""),
           "err": err, "nan": bool(nan), "workspace": run_fc.workspace}
    flops = 4.0 * B * H * S * S * D / (2 if causal else 1)
    methods = [("fc", run_fc)]
    if peers:
        methods += [("fa2", sdpa_fn(SDPBackend.FLASH_ATTENTION, q, k, v, causal)),
                    ("cudnn", sdpa_fn(SDPBackend.CUDNN_ATTENTION, q, k, v, causal))]
    for name, fn in methods:
        try:
            us, spread = time_graph(fn, reps)
            row[name + "_us"] = us
            row[name + "_spread"] = spread
            row[name + "_tflops"] = flops / us / 1e6
        except Exception as e:  # a backend that refuses the shape
            row[name + "_us"] = None
            row[name + "_error"] = str(e).splitlines()[0][:120]
    return row


def fmt(x, f="%.1f"):
    return "-" if x is None else f % x


def print_rows(title, rows):
    print("\n### " + title + "\n")
    print("| B,H,S,D | causal | fc us | FA2 us | cuDNN us | fc TF/s | FA2 TF/s | cuDNN TF/s | fc/FA2 | fc/cuDNN | max err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio_fa = r["fa2_us"] / r["fc_us"] if r.get("fa2_us") and r.get("fc_us") else None
        ratio_cd = r["cudnn_us"] / r["fc_us"] if r.get("cudnn_us") and r.get("fc_us") else None
        print("| %d,%d,%d,%d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.2g%s |" % (
            r["B"], r["H"], r["S"], r["D"], r["causal"], fmt(r.get("fc_us"), "%.2f"), fmt(r.get("fa2_us"), "%.2f"),
            fmt(r.get("cudnn_us"), "%.2f"), fmt(r.get("fc_tflops"), "%.0f"), fmt(r.get("fa2_tflops"), "%.0f"),
            fmt(r.get("cudnn_tflops"), "%.0f"), fmt(ratio_fa, "%.2fx"), fmt(ratio_cd, "%.2fx"), r["err"],
            " NaN!" if r["nan"] else ""))
    sys.stdout.flush()


def main():
    fc = Flashcore(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "all"
    jpath = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    print("device: %s, torch %s, cuDNN %s" % (torch.cuda.get_device_name(), torch.__version__,
                                                torch.backends.cudnn.version()))
    results = {}
    if mode in ("seed", "all"):
        rows = [bench_row(fc, 1, 8, S, 64, False, torch.float16, 50) for S in (256, 512, 1024)]
        print_rows("seed: fp16 B=1 H=8 D=64, graph replay", rows)
        results["seed"] = rows
    if mode in ("splits", "all") and os.environ.get("FC_BENCH_SPLITS", "1") == "1":
        rows = []
        for S in (256, 512, 1024):
            for ns in ("1", "2", "4", "8"):
                os.environ["FC_TUNE_SPLITS"] = ns
                r = bench_row(fc, 1, 8, S, 64, False, torch.float16, 50, peers=False)
                r["splits"] = ns
                rows.append(r)
        os.environ.pop("FC_TUNE_SPLITS", None)
        print("\n### seed shape vs forced split count (FC_TUNE_SPLITS; graph replay)\n")
        print("| S | splits | fc us | err |")
        print("|---|---|---|---|")
        for r in rows:
            print("| %d | %s | %.2f | %.2g |" % (r["S"], r["splits"], r["fc_us"], r["err"]))
        results["splits"] = rows
    if mode in ("cfg", "all") and os.environ.get("FC_BENCH_CFGS"):
        # FC_BENCH_CFGS="64:0,14,9;256:4,18,17" (tuning builds): fc only, a few fa rows per head dim
        print("\n### tile configs (FC_TUNE_CFG; bf16, B*S = 16k, H*D = 2048, graph replay)\n")
        print("| D | cfg | S | causal | fc us | fc TF/s | err |")
        print("|---|---|---|---|---|---|---|")
        rows = []
        for part in os.environ["FC_BENCH_CFGS"].split(";"):
            D, ids = part.split(":")
            D = int(D)
            for cid in ids.split(","):
                os.environ["FC_TUNE_CFG"] = cid
                for S, causal in ((512, False), (2048, False), (2048, True), (16384, False)):
                    try:
                        r = bench_row(fc, 16384 // S, 2048 // D, S, D, causal, torch.bfloat16, 5, peers=False)
                    except Exception as e:
                        print("| %d | %s | %d | %d | error: %s | | |" % (D, cid, S, causal, str(e)[:80]))
                        continue
                    r["cfg"] = cid
                    rows.append(r)
                    print("| %d | %s | %d | %d | %.1f | %.0f | %.2g%s |" % (D, cid, S, causal, r["fc_us"], r["fc_tflops"],
                                                                       r["err"], " NaN!" if r["nan"] else ""))
                    sys.stdout.flush()
        os.environ.pop("FC_TUNE_CFG", None)
        results["cfg"] = rows
    if mode in ("fa", "all"):
        rows = []
        for D, H in ((64, 32), (128, 16), (256, 8)):
            for causal in (False, True):
                for S in (512, 2048, 8192, 16384):
                    rows.append(bench_row(fc, 16384 // S, H, S, D, causal, torch.bfloat16, 5))
        print_rows("fa: bf16, B*S = 16k, H*D = 2048, graph replay", rows)
        results["fa"] = rows
    if jpath:
        with open(jpath, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
