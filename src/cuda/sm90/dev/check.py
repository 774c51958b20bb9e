#!/usr/bin/env python3
"""Dev-only: correctness of the sm90 kernels against a float64 reference (torch on the GPU), and
timing against torch SDPA (FLASH = FA2, CUDNN) on the fa sweep and the seed shape.
Usage: python3 check.py LIB [--nopp LIB2] [--no-bench] [--quick-bench] [--ab] [--ab-only]
(FC_AB_LONG=few: run_ab with 4 long control rows per dtype instead of 10)
LIB2: the same sources built with -DFC_SM90_PINGPONG=0, for the same-process ping-pong A/B."""
import ctypes, math, os, sys, time, random
import torch
import torch.nn.functional as F


def load(path):
    l = ctypes.CDLL(path)
    l.fcdev_forward.restype = ctypes.c_int
    l.fcdev_last_error.restype = ctypes.c_char_p
    l.fcdev_set_splits.argtypes = [ctypes.c_int]
    l.fcdev_set_paired.argtypes = [ctypes.c_int]
    l.fcdev_set_pdl.argtypes = [ctypes.c_int]
    l.fcdev_set_wide.argtypes = [ctypes.c_int]
    l.fcdev_set_wgsplit.argtypes = [ctypes.c_int]
    return l


lib = load(sys.argv[1])
lib_nopp = load(sys.argv[sys.argv.index("--nopp") + 1]) if "--nopp" in sys.argv else None
P = ctypes.c_void_p
DT = {torch.float16: 1, torch.bfloat16: 2}


def fc(q, k, v, o, lse, causal=False, wl=-1, wr=-1, softcap=0.0, scale=0.0, cu_q=None, cu_k=None, maxq=0, maxk=0,
       L=None):
    """q,k,v,o: [B,S,H,D] (any strides, last contiguous) or varlen [T,H,D]. L: library (default lib)."""
    L = L or lib
    if cu_q is None:
        B, Sq, Hq, D = q.shape
        Sk, Hk = k.shape[1], k.shape[2]
        st = [q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
              v.stride(0), v.stride(1), v.stride(2), o.stride(0), o.stride(1), o.stride(2)]
        tq = tk = 0
        cq = ck = None
    else:
        B = cu_q.numel() - 1
        Sq, Sk = maxq, maxk
        Hq, D = q.shape[1], q.shape[2]
        Hk = k.shape[1]
        st = [0, q.stride(0), q.stride(1), 0, k.stride(0), k.stride(1), 0, v.stride(0), v.stride(1),
              0, o.stride(0), o.stride(1)]
        tq, tk = q.shape[0], k.shape[0]
        cq, ck = P(cu_q.data_ptr()), P(cu_k.data_ptr())
    arr = (ctypes.c_longlong * 12)(*st)
    handled = ctypes.c_int(0)
    s = L.fcdev_forward(P(q.data_ptr()), P(k.data_ptr()), P(v.data_ptr()), P(o.data_ptr()),
                          P(lse.data_ptr()) if lse is not None else None, arr, B, Sq, Sk, Hq, Hk, D, DT[q.dtype],
                          int(causal), wl, wr, ctypes.c_float(softcap), ctypes.c_float(scale), cq, ck, tq, tk,
                          P(torch.cuda.current_stream().cuda_stream), ctypes.byref(handled))
    if s != 0 or not handled.value:
        raise RuntimeError("fc failed: status %d handled %d %s" % (s, handled.value, L.fcdev_last_error()))


def ref_one(q, k, v, causal, wl, wr, softcap, scale, lowp):
    """q [Sq,H,D], k/v [Sk,Hk,D] -> o [Sq,H,D] float64 (or lowp emulation), lse [H,Sq]."""
    Sq, Hq, D = q.shape
    Sk, Hk = k.shape[0], k.shape[1]
    g = Hq // Hk
    dt = torch.float32 if lowp else torch.float64
    qq = q.to(dt).transpose(0, 1)
    kk = k.to(dt).transpose(0, 1).repeat_interleave(g, 0)
    vv = v.to(dt).transpose(0, 1).repeat_interleave(g, 0)
    s = qq @ kk.transpose(1, 2)
    sc = scale if scale > 0 else 1.0 / math.sqrt(D)
    if softcap > 0:
        s = softcap * torch.tanh(s * (sc / softcap))
    else:
        s = s * sc
    i = torch.arange(Sq, device=q.device)[:, None]
    j = torch.arange(Sk, device=q.device)[None, :]
    off = Sk - Sq
    if causal:
        wr = 0
    ok = torch.ones(Sq, Sk, dtype=torch.bool, device=q.device)
    if wr >= 0:
        ok &= j <= i + off + wr
    if wl >= 0:
        ok &= j >= i + off - wl
    s = s.masked_fill(~ok, float("-inf"))
    m = s.amax(-1, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    p = torch.exp(s - m)
    l = p.sum(-1, keepdim=True)
    if lowp:
        p = p.to(q.dtype).to(dt)
    o = (p @ vv) / torch.where(l == 0, torch.ones_like(l), l)
    lse = torch.where(l[..., 0] == 0, torch.full_like(l[..., 0], float("-inf")), (m + torch.log(l))[..., 0])
    return o.transpose(0, 1), lse


def check(name, B, Sq, Sk, Hq, Hk, D, dtype, causal=False, wl=-1, wr=-1, softcap=0.0, varlen=False, noncontig=False,
          scale=0.0, L=None, o_heads=False):
    """o_heads: O in a heads-major buffer [B, Hq, Sq, D + 8] (its own strides, 8 padding columns per row
    that must stay NaN: the TMA-store epilogue's tensor map clips at the head dim)."""
    dev = "cuda"
    if varlen:
        lq = [max(1, Sq - random.randint(0, Sq // 2)) for _ in range(B)]
        lk = [max(1, Sk - random.randint(0, Sk // 2)) for _ in range(B)]
        lq[0], lk[0] = Sq, Sk
        cu_q = torch.tensor([0] + list(torch.tensor(lq).cumsum(0)), dtype=torch.int32, device=dev)
        cu_k = torch.tensor([0] + list(torch.tensor(lk).cumsum(0)), dtype=torch.int32, device=dev)
        q = torch.randn(sum(lq), Hq, D, device=dev).to(dtype)
        k = torch.randn(sum(lk), Hk, D, device=dev).to(dtype)
        v = torch.randn(sum(lk), Hk, D, device=dev).to(dtype)
        o = torch.full_like(q, float("nan"))
        lse = torch.full((Hq, sum(lq)), float("nan"), device=dev)
        fc(q, k, v, o, lse, causal, wl, wr, softcap, scale, cu_q, cu_k, max(lq), max(lk), L=L)
        seqs = [(q[cu_q[b]:cu_q[b + 1]], k[cu_k[b]:cu_k[b + 1]], v[cu_k[b]:cu_k[b + 1]], o[cu_q[b]:cu_q[b + 1]],
                 lse[:, cu_q[b]:cu_q[b + 1]]) for b in range(B)]
    else:
        if noncontig:  # heads-major storage, D padded: strides not from a contiguous [B,S,H,D]
            q = torch.randn(B, Hq, Sq, D + 8, device=dev).to(dtype)[..., :D].transpose(1, 2)
            k = torch.randn(B, Hk, Sk, D + 16, device=dev).to(dtype)[..., 8:D + 8].transpose(1, 2)
            v = torch.randn(B, Sk, Hk, D, device=dev).to(dtype)
        else:
            q = torch.randn(B, Sq, Hq, D, device=dev).to(dtype)
            k = torch.randn(B, Sk, Hk, D, device=dev).to(dtype)
            v = torch.randn(B, Sk, Hk, D, device=dev).to(dtype)
        if o_heads:
            obuf = torch.full((B, Hq, Sq, D + 8), float("nan"), device=dev).to(dtype)
            o = obuf[..., :D].transpose(1, 2)
        else:
            o = torch.full((B, Sq, Hq, D), float("nan"), device=dev).to(dtype)
        lse = torch.full((B, Hq, Sq), float("nan"), device=dev)
        fc(q, k, v, o, lse, causal, wl, wr, softcap, scale, L=L)
        seqs = [(q[b], k[b], v[b], o[b], lse[b]) for b in range(B)]
    torch.cuda.synchronize()
    err = err_lp = lse_err = 0.0
    bad = False
    if o_heads and not torch.isnan(obuf[..., D:]).all():
        bad = True  # a store past the head dim
    for (qb, kb, vb, ob, lb) in seqs:
        r, rl = ref_one(qb, kb, vb, causal, wl, wr, softcap, scale, False)
        lp, _ = ref_one(qb, kb, vb, causal, wl, wr, softcap, scale, True)
        if torch.isnan(ob).any() or torch.isnan(lb).any():
            bad = True
        err = max(err, (ob.double() - r).abs().max().item())
        err_lp = max(err_lp, (lp.to(dtype).double() - r).abs().max().item())
        fin = torch.isfinite(rl)
        if not torch.equal(fin, torch.isfinite(lb)):
            bad = True
        if fin.any():
            lse_err = max(lse_err, (lb.double()[fin] - rl[fin]).abs().max().item())
    tol = 2 * err_lp + 1e-3
    ok = (not bad) and err <= tol and lse_err <= 1e-2
    print("%-4s %-44s err %.2e (lowp %.2e, tol %.2e) lse %.1e%s" % ("ok" if ok else "FAIL", name, err, err_lp, tol, lse_err,
                                                                  " NaN/unwritten" if bad else ""))
    return ok


def run_checks(splits, L=None, dims=(64, 96, 128, 192, 256, 32), tag=""):
    """splits: 0 = the library's split-KV heuristic, 1 = never split, n = force n (capped at 4)."""
    L = L or lib
    L.fcdev_set_splits(splits)
    random.seed(splits)
    torch.manual_seed(splits)
    fails = 0
    print("-- checks with splits = %s %s" % (splits or "auto", tag))
    for dtype in (torch.bfloat16, torch.float16):
        dn = "bf16" if dtype == torch.bfloat16 else "f16"
        for D in dims:
            cases = [
                ("B2 S128 H2", dict(B=2, Sq=128, Sk=128, Hq=2, Hk=2)),
                ("B1 Sq1 Sk1", dict(B=1, Sq=1, Sk=1, Hq=1, Hk=1)),
                ("B2 Sq7 Sk65 gqa4:2", dict(B=2, Sq=7, Sk=65, Hq=4, Hk=2)),
                ("B1 Sq1000 Sk1000 causal mqa", dict(B=1, Sq=1000, Sk=1000, Hq=3, Hk=1, causal=True)),
                ("B2 Sq300 Sk77 causal", dict(B=2, Sq=300, Sk=77, Hq=2, Hk=2, causal=True)),
                ("B1 Sq200 Sk513 win(64,16) softcap30", dict(B=1, Sq=200, Sk=513, Hq=2, Hk=1, wl=64, wr=16, softcap=30.0)),
                ("B3 varlen causal", dict(B=3, Sq=300, Sk=400, Hq=4, Hk=2, causal=True, varlen=True)),
                ("B2 noncontig scale0.3", dict(B=2, Sq=129, Sk=257, Hq=2, Hk=2, noncontig=True, scale=0.3)),
                ("B2 Sq200 Sk300 o heads-major", dict(B=2, Sq=200, Sk=300, Hq=3, Hk=1, o_heads=True)),
            ]
            if D in (32, 192):
                cases = cases[:4]
            for nm, kw in cases:
                fails += not check("%s d%d %s" % (dn, D, nm), D=D, dtype=dtype, L=L, **kw)
    # the fa-sweep and seed shapes themselves (one dtype each, short to check in float64)
    if splits in (0, 1) and L is lib:
        for (B, H, S, D, c) in ((1, 8, 512, 64, 0), (1, 8, 1024, 64, 1), (2, 4, 1024, 128, 1), (1, 2, 2048, 256, 0),
                                (1, 2, 4224, 128, 0)):
            fails += not check("f16 seed/sweep B%d H%d S%d D%d c%d" % (B, H, S, D, c), B=B, Sq=S, Sk=S, Hq=H, Hk=H,
                               D=D, dtype=torch.float16, causal=bool(c))
        # causal with more tiles than SMs: persistent query-block pairs (odd count: an empty slot)
        for dtype in (torch.bfloat16, torch.float16):
            for (B, Sq, Sk, Hq, Hk, D) in ((2, 1100, 1100, 12, 4, 64), (2, 1100, 1300, 12, 4, 128),
                                           (1, 1500, 1400, 16, 16, 256)):
                fails += not check("%s causal pairs B%d Sq%d Sk%d H%d/%d D%d" % (dtype, B, Sq, Sk, Hq, Hk, D), B=B,
                                   Sq=Sq, Sk=Sk, Hq=Hq, Hk=Hk, D=D, dtype=dtype, causal=True)
            # persistent with 1-2 key blocks per tile (Q freed after the tile's first or second S), causal too
            for (B, Sq, Sk, Hq, Hk, D, c) in ((2, 1100, 100, 12, 4, 64, 0), (2, 1100, 200, 12, 4, 128, 0),
                                              (1, 1100, 1100, 20, 4, 256, 1)):
                fails += not check("%s short-k B%d Sq%d Sk%d H%d/%d D%d c%d" % (dtype, B, Sq, Sk, Hq, Hk, D, c), B=B,
                                   Sq=Sq, Sk=Sk, Hq=Hq, Hk=Hk, D=D, dtype=dtype, causal=bool(c))
            # wide key blocks (non-causal, Sk >= 4096), with and without the split (Sq 333: 6 tiles)
            for (B, Sq, Sk, Hq, Hk, D) in ((1, 333, 5000, 2, 1, 96), (2, 1100, 4500, 8, 2, 128)):
                fails += not check("%s wide B%d Sq%d Sk%d H%d/%d D%d" % (dtype, B, Sq, Sk, Hq, Hk, D), B=B, Sq=Sq,
                                   Sk=Sk, Hq=Hq, Hk=Hk, D=D, dtype=dtype)
    print("CHECKS(splits=%s%s): %d failures" % (splits or "auto", tag, fails))
    L.fcdev_set_splits(0)
    return fails


def seed_qkvo(S, dev):
    """Fresh inputs of the seed shape (f16, B=1, H=8, D=64, S=Sq=Sk) and an output buffer."""
    q = torch.randn(1, S, 8, 64, device=dev, dtype=torch.float16)
    return q, torch.randn_like(q), torch.randn_like(q), torch.empty_like(q)


def bench(fn, graph=False):
    import triton.testing as tt
    if graph:
        fn()
        torch.cuda.synchronize()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                fn()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(20):
                fn()
        torch.cuda.synchronize()
        ms = tt.do_bench(lambda: g.replay(), warmup=50, rep=200, return_mode="median")
        return ms / 20
    return tt.do_bench(fn, warmup=25, rep=150, return_mode="median")


def run_bench(quick=False):
    from torch.nn.attention import sdpa_kernel, SDPBackend
    dev = "cuda"
    a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    ms = bench(lambda: a @ b)
    mm = 2 * 8192 ** 3 / ms / 1e9
    print("matmul bf16 8192^3: %.0f TFLOP/s" % mm)
    del a, b
    rows = []
    shapes = []
    for D, H in ((64, 32), (128, 16), (256, 8)):
        for B, S in ((32, 512), (8, 2048), (2, 8192), (1, 16384)):
            for causal in (0, 1):
                shapes.append((B, H, S, D, causal))
    if quick:
        shapes = [s for s in shapes if s[2] in (2048, 8192)]
    print("| dtype | B,H,S,D | causal | flashcore TF | FA2 TF | cuDNN TF | fc/cuDNN | fc/FA2 |")
    print("|---|---|---|---|---|---|---|---|")
    for dtype in (torch.bfloat16, torch.float16):
        for (B, H, S, D, causal) in shapes:
            q = torch.randn(B, S, H, D, device=dev, dtype=dtype)
            k = torch.randn(B, S, H, D, device=dev, dtype=dtype)
            v = torch.randn(B, S, H, D, device=dev, dtype=dtype)
            o = torch.empty_like(q)
            flops = 4 * B * H * S * S * D / (2 if causal else 1)
            t_fc = bench(lambda: fc(q, k, v, o, None, causal=bool(causal)))
            qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            res = {}
            for nm, be in (("fa2", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                with sdpa_kernel([be]):
                    res[nm] = bench(lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=bool(causal)))
            tf = lambda t: flops / t / 1e9
            rows.append((dtype, B, H, S, D, causal, tf(t_fc), tf(res["fa2"]), tf(res["cudnn"])))
            print("| %s | %d,%d,%d,%d | %d | %.0f | %.0f | %.0f | %.2f | %.2f |" % (
                "bf16" if dtype == torch.bfloat16 else "f16", B, H, S, D, causal, tf(t_fc), tf(res["fa2"]),
                tf(res["cudnn"]), res["cudnn"] / t_fc, res["fa2"] / t_fc), flush=True)
            del q, k, v, o
    gm = math.exp(sum(math.log(r[6] / r[8]) for r in rows) / len(rows))
    print("geomean flashcore/cuDNN: %.3f ; min %.3f" % (gm, min(r[6] / r[8] for r in rows)))
    # seed shape (latency), fp16 B=1 H=8 D=64, graph replay
    print("| seed S | flashcore us | FA2 us | cuDNN us |")
    print("|---|---|---|---|")
    for S in (256, 512, 1024):
        q, k, v, o = seed_qkvo(S, dev)
        t_fc = bench(lambda: fc(q, k, v, o, None), graph=True)
        qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        res = {}
        for nm, be in (("fa2", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            with sdpa_kernel([be]):
                res[nm] = bench(lambda: F.scaled_dot_product_attention(qt, kt, vt), graph=True)
        print("| %d | %.2f | %.2f | %.2f |" % (S, t_fc * 1e3, res["fa2"] * 1e3, res["cudnn"] * 1e3), flush=True)


def run_ablation():
    """Same-process A/B of this session's changes: ping-pong on/off (the -DFC_SM90_PINGPONG=0 build),
    causal pairs on a persistent grid on/off, split-KV and programmatic dependent launch (seed)."""
    dev = "cuda"

    def rows(shapes, name, variants):
        print("| %s B,H,S,D,causal (bf16) | %s |" % (name, " | ".join(v[0] + " TF" for v in variants)))
        print("|---|" + "---|" * len(variants))
        for (B, H, S, D, causal) in shapes:
            q = torch.randn(B, S, H, D, device=dev, dtype=torch.bfloat16)
            k, v = torch.randn_like(q), torch.randn_like(q)
            o = torch.empty_like(q)
            flops = 4 * B * H * S * S * D / (2 if causal else 1)
            r = []
            for (_, L, setup) in variants:
                setup(L)
                r.append(flops / bench(lambda: fc(q, k, v, o, None, causal=bool(causal), L=L)) / 1e9)
                L.fcdev_set_paired(-1)
                L.fcdev_set_pdl(1)
                L.fcdev_set_wide(-1)
            print("| %d,%d,%d,%d,%d | %s |" % (B, H, S, D, causal, " | ".join("%.0f" % x for x in r)), flush=True)

    nothing = lambda L: None
    rows(((2, 16, 8192, 128, 0), (8, 32, 2048, 64, 0), (2, 32, 8192, 64, 1)), "pingpong",
         (("on", lib, nothing), ("off", lib_nopp, nothing)))
    if "--ablate-wide" in sys.argv:
      rows(tuple((B, 2048 // D, S, D, c) for D in (64, 128, 256) for (B, S, c) in
                 ((8, 2048, 0), (2, 8192, 0), (1, 16384, 0), (8, 2048, 1), (1, 16384, 1))), "wide key block",
           (("table block_n", lib, lambda L: L.fcdev_set_wide(0)), ("wide", lib, lambda L: L.fcdev_set_wide(1))))
    rows(((32, 32, 512, 64, 1), (8, 16, 2048, 128, 1), (2, 8, 8192, 256, 1)), "causal pairs",
         (("default", lib, nothing), ("1 CTA/tile", lib, lambda L: L.fcdev_set_paired(0))))
    print("| seed S (f16, graph, us) | default | no split | no PDL | no split, no PDL | no pingpong |")
    print("|---|---|---|---|---|---|")
    for S in (256, 512, 1024):
        q, k, v, o = seed_qkvo(S, dev)
        r = []
        for sp, pdl, L in ((0, 1, lib), (1, 1, lib), (0, 0, lib), (1, 0, lib), (0, 1, lib_nopp)):
            L.fcdev_set_splits(sp)
            L.fcdev_set_pdl(pdl)
            r.append(bench(lambda: fc(q, k, v, o, None, L=L), graph=True) * 1e3)
            L.fcdev_set_splits(0)
            L.fcdev_set_pdl(1)
        print("| %d | %s |" % (S, " | ".join("%.2f" % x for x in r)), flush=True)


def run_ab():
    """Same-process A/B: LIB (A) against the --nopp library (B, whatever B_FLAGS built it with), on the
    short rows of the fa sweep (S=512/1024, every head dim, causal and not, bf16 and f16), two long
    rows and the seed shape; cuDNN in the same process. Order A B cuDNN B A; A and B are the means of
    their two timings, 'A spread' = |A1 - A2| / A (the noise)."""
    from torch.nn.attention import sdpa_kernel, SDPBackend
    dev = "cuda"
    print("| dtype | B,H,S,D,causal | A TF | B TF | A/B | cuDNN TF | A/cuDNN | B/cuDNN | A spread |")
    print("|---|---|---|---|---|---|---|---|---|")
    shapes = [(B, 2048 // D, S, D, c) for D in (64, 128, 256) for (B, S) in ((32, 512), (16, 1024)) for c in (0, 1)]
    if os.environ.get("FC_AB_LONG") == "few":  # a few long rows as control (the device-time-short runs)
        shapes += [(8, 32, 2048, 64, 0), (8, 16, 2048, 128, 0), (2, 16, 8192, 128, 1), (8, 8, 2048, 256, 0)]
    else:
        shapes += [(8, 32, 2048, 64, 0), (8, 32, 2048, 64, 1), (8, 16, 2048, 128, 0), (2, 32, 8192, 64, 0),
                   (2, 16, 8192, 128, 0), (2, 16, 8192, 128, 1), (1, 16, 16384, 128, 0), (8, 8, 2048, 256, 0),
                   (8, 8, 2048, 256, 1), (2, 8, 8192, 256, 1)]
    ratios = []
    for dtype in (torch.bfloat16, torch.float16):
        for (B, H, S, D, causal) in shapes:
            q = torch.randn(B, S, H, D, device=dev, dtype=dtype)
            k, v = torch.randn_like(q), torch.randn_like(q)
            o = torch.empty_like(q)
            flops = 4 * B * H * S * S * D / (2 if causal else 1)
            fa = lambda: bench(lambda: fc(q, k, v, o, None, causal=bool(causal), L=lib))
            fb = lambda: bench(lambda: fc(q, k, v, o, None, causal=bool(causal), L=lib_nopp))
            qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            a1 = fa()
            b1 = fb()
            with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
                cu = bench(lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=bool(causal)))
            b2 = fb()
            a2 = fa()
            ta, tb = (a1 + a2) / 2, (b1 + b2) / 2
            ratios.append((S, tb / ta, cu / ta, cu / tb))
            tf = lambda t: flops / t / 1e9
            print("| %s | %d,%d,%d,%d,%d | %.0f | %.0f | %.3f | %.0f | %.3f | %.3f | %.1f%% |" % (
                "bf16" if dtype == torch.bfloat16 else "f16", B, H, S, D, causal, tf(ta), tf(tb), tb / ta, tf(cu),
                cu / ta, cu / tb, 100 * abs(a1 - a2) / ta), flush=True)
            del q, k, v, o
    gm = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs))
    for nm, sel in (("short", lambda S: S <= 1024), ("long", lambda S: S > 1024)):
        sh = [r for r in ratios if sel(r[0])]
        print("%s rows (%d): geomean A/B %.3f, A/cuDNN %.3f, B/cuDNN %.3f" % (
            nm, len(sh), gm([r[1] for r in sh]), gm([r[2] for r in sh]), gm([r[3] for r in sh])))
    print("| seed S (f16, graph, us) | A | B | cuDNN |")
    print("|---|---|---|---|")
    for S in (256, 512, 1024):
        q, k, v, o = seed_qkvo(S, dev)
        r = [bench(lambda: fc(q, k, v, o, None, L=L), graph=True) * 1e3 for L in (lib, lib_nopp)]
        qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
            r.append(bench(lambda: F.scaled_dot_product_attention(qt, kt, vt), graph=True) * 1e3)
        print("| %d | %s |" % (S, " | ".join("%.2f" % x for x in r)), flush=True)


def run_ws_ab():
    """Same-process A/B of the query-row split: A = the library's rule (query-row split where it
    applies), B = the same library with the split off (fcdev_set_wgsplit(0): the rule before it, incl.
    cluster split-KV). Seed shape under graph replay with FA2 and cuDNN, plus latency-bound shapes
    the rule takes (plain timing). Order A B A B per row; 'spread' = |A1 - A2| / A."""
    from torch.nn.attention import sdpa_kernel, SDPBackend
    dev = "cuda"

    def ab(run_fc, graph):
        t = []
        for w in (-1, 0, -1, 0):
            lib.fcdev_set_wgsplit(w)
            t.append(bench(run_fc, graph=graph))
        lib.fcdev_set_wgsplit(-1)
        return (t[0] + t[2]) / 2, (t[1] + t[3]) / 2, abs(t[0] - t[2]) / ((t[0] + t[2]) / 2)

    print("| seed S (f16, graph, us) | A split | B no split | A/B | FA2 | cuDNN | A/cuDNN | B/cuDNN | A spread |")
    print("|---|---|---|---|---|---|---|---|---|")
    for S in (256, 512, 1024):
        q, k, v, o = seed_qkvo(S, dev)
        ta, tb, sp = ab(lambda: fc(q, k, v, o, None), True)
        qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        res = {}
        for nm, be in (("fa2", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            with sdpa_kernel([be]):
                res[nm] = bench(lambda: F.scaled_dot_product_attention(qt, kt, vt), graph=True)
        print("| %d | %.2f | %.2f | %.3f | %.2f | %.2f | %.3f | %.3f | %.1f%% |" % (
            S, ta * 1e3, tb * 1e3, ta / tb, res["fa2"] * 1e3, res["cudnn"] * 1e3, ta / res["cudnn"],
            tb / res["cudnn"], 100 * sp), flush=True)
    print("| dtype B,H,S,D,causal (graph, us) | A split | B no split | A/B | cuDNN | A/cuDNN | B/cuDNN | A spread |")
    print("|---|---|---|---|---|---|---|---|")
    for (B, H, S, D, c, dt) in ((1, 8, 512, 64, 1, torch.float16), (1, 8, 512, 128, 0, torch.bfloat16),
                                (1, 8, 1024, 128, 1, torch.bfloat16), (1, 4, 2048, 64, 0, torch.bfloat16),
                                (1, 2, 4096, 128, 0, torch.bfloat16), (2, 8, 512, 64, 0, torch.bfloat16),
                                (1, 16, 256, 128, 0, torch.float16)):
        q = torch.randn(B, S, H, D, device=dev, dtype=dt)
        k, v = torch.randn_like(q), torch.randn_like(q)
        o = torch.empty_like(q)
        ta, tb, sp = ab(lambda: fc(q, k, v, o, None, causal=bool(c)), True)
        qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
            cu = bench(lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=bool(c)), graph=True)
        print("| %s %d,%d,%d,%d,%d | %.2f | %.2f | %.3f | %.2f | %.3f | %.3f | %.1f%% |" % (
            "bf16" if dt == torch.bfloat16 else "f16", B, H, S, D, c, ta * 1e3, tb * 1e3, ta / tb, cu * 1e3,
            ta / cu, tb / cu, 100 * sp), flush=True)


def run_ws_stress(replays=1500):
    """Rare-race hunt for the query-row split (run 12's A/B hit one 'unspecified launch failure'
    under graph replay): graphs of 20 back-to-back launches (PDL) writing 20 separate outputs, every
    output of every replay compared with the unsplit kernel's; shapes the rule sends to the split."""
    dev = "cuda"
    fails = 0
    for (B, H, S, D, c, dt) in ((2, 8, 512, 64, 0, torch.bfloat16), (1, 8, 512, 64, 0, torch.float16),
                                (1, 8, 1024, 64, 1, torch.float16), (1, 8, 512, 128, 0, torch.bfloat16),
                                (1, 4, 2048, 64, 0, torch.bfloat16), (1, 2, 1000, 128, 1, torch.float16)):
        q = torch.randn(B, S, H, D, device=dev, dtype=dt)
        k, v = torch.randn_like(q), torch.randn_like(q)
        outs = torch.empty((20,) + tuple(q.shape), device=dev, dtype=dt)
        ref = torch.empty_like(q)
        lib.fcdev_set_wgsplit(0)
        fc(q, k, v, ref, None, causal=bool(c))
        lib.fcdev_set_wgsplit(1)
        fc(q, k, v, outs[0], None, causal=bool(c))
        torch.cuda.synchronize()
        tol = 4 * (outs[0].float() - ref.float()).abs().max().item() + 1e-3
        st = torch.cuda.Stream()
        st.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(st):
            for i in range(2):
                fc(q, k, v, outs[i], None, causal=bool(c))
        torch.cuda.current_stream().wait_stream(st)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for i in range(20):
                fc(q, k, v, outs[i], None, causal=bool(c))
        worst = torch.zeros((), device=dev)
        for r in range(replays):
            outs.fill_(float("nan"))
            g.replay()
            e = (outs.float() - ref.float()).abs().amax()
            worst = torch.where(torch.isnan(e), torch.full_like(e, float("inf")), torch.maximum(worst, e))
        torch.cuda.synchronize()
        w = worst.item()
        ok = w <= tol
        fails += not ok
        print("%s stress %s B%d H%d S%d D%d c%d: %d launches, worst err %.2e (tol %.2e)" % (
            "ok  " if ok else "FAIL", "bf16" if dt == torch.bfloat16 else "f16", B, H, S, D, c, 20 * replays, w, tol),
            flush=True)
        lib.fcdev_set_wgsplit(-1)
    print("STRESS: %d failures" % fails)
    return fails


def run_prof():
    """A few launches of one fa-sweep shape (FC_PROF_SHAPE=B,H,S,D,causal; bf16), for ncu."""
    import os
    B, H, S, D, c = (int(x) for x in os.environ.get("FC_PROF_SHAPE", "8,16,2048,128,0").split(","))
    q = torch.randn(B, S, H, D, device="cuda", dtype=torch.bfloat16)
    k, v = torch.randn_like(q), torch.randn_like(q)
    o = torch.empty_like(q)
    for _ in range(4):
        fc(q, k, v, o, None, causal=bool(c))
    torch.cuda.synchronize()


if __name__ == "__main__":
    if "--prof" in sys.argv:
        run_prof()
        sys.exit(0)
    if "--ab-only" in sys.argv:  # the A/B alone (checks run in another process, e.g. dev/oneshot.sh)
        run_ab()
        sys.exit(0)
    f = sum(run_checks(sp) for sp in (0, 1, 3))
    lib.fcdev_set_wide(1)  # every call on the wide-key-block instances (hdim 64/128/256 tiles)
    f += run_checks(0, tag=" wide forced")
    lib.fcdev_set_wide(-1)
    lib.fcdev_set_wgsplit(1)  # every 64/128-tile call on the query-row split (persistent/pairs when many tiles)
    f += run_checks(0, tag=" query-row split forced")
    f += run_checks(1, tag=" query-row split forced")  # splits=1 also runs the seed/sweep/pairs shapes
    lib.fcdev_set_wgsplit(-1)
    lib.fcdev_set_splits(0)
    print("CHECKS: %d failures" % f)
    if "--ws-stress" in sys.argv:
        f += run_ws_stress()
    if "--ws-ab" in sys.argv and (f == 0 or "--bench-anyway" in sys.argv):
        run_ws_ab()
    if "--ab" in sys.argv and (f == 0 or "--bench-anyway" in sys.argv):
        run_ab()
    elif "--no-bench" not in sys.argv and (f == 0 or "--bench-anyway" in sys.argv):
        run_bench("--quick-bench" in sys.argv)
        if lib_nopp:
            run_ablation()
    sys.exit(1 if f else 0)
