#!/usr/bin/env python3
"""Same-process A/B of several flashcore builds on the named sweeps (CUDA + torch only).

    python3 bench/ab_builds.py OUT.json SWEEPS NAME=LIB [NAME=LIB ...]
    e.g. FLASHCORE_FORCE_PORTABLE=1 python3 bench/ab_builds.py ab.json seed,fa old=/tmp/old/libflashcore.so new=build/libflashcore.so

Each row is timed per build in the order given and then in reverse (the minimum of the two kept),
with bench_gpu.bench_row (CUDA-graph replay, same inputs); FA2 and cuDNN once per row. The first
build is the baseline of the speed columns. Prints a markdown table; OUT.json gets every run.
Environment such as FLASHCORE_FORCE_PORTABLE applies to every build alike; FC_AB_HEAD_DIMS=64,128
keeps only the rows of those head dims.
"""
import json, os, sys
from pathlib import Path
import torch
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts")); sys.path.insert(0, str(ROOT / "bench"))
from bench_gpu import Flashcore, bench_row
from sweeps import SWEEPS
libs = [(a.split("=", 1)[0], Flashcore(a.split("=", 1)[1])) for a in sys.argv[3:]]
DT = {"fp16": torch.float16, "bf16": torch.bfloat16}
print("device: %s, torch %s, cuDNN %s" % (torch.cuda.get_device_name(), torch.__version__, torch.backends.cudnn.version()))
names = [n for n, _ in libs]
print("| row | " + " | ".join("%s us" % n for n in names) + " | " + " | ".join("%s/%s speed" % (n, names[0]) for n in names[1:]) +
      " | FA2 us | cuDNN us | " + " | ".join("%s: FA2/fc" % n for n in names) + " | %s: cuDNN/fc | err |" % names[1])
print("|---" * (2 * len(names) + 3 + len(names)) + "|---|")
out = []
for n in sys.argv[2].split(","):
    for s in SWEEPS[n]():
        if os.environ.get("FC_AB_HEAD_DIMS") and str(s.head_dim) not in os.environ["FC_AB_HEAD_DIMS"].split(","):
            continue
        reps = 50 if n == "seed" else 10
        shape = (s.batch, s.heads_q, s.seqlen_q, s.head_dim, s.causal, DT[s.dtype], reps)
        rows = {}
        first = True
        for name, lib in libs + libs[::-1]:
            r = bench_row(lib, *shape, peers=first)
            if first:
                peers = (r.get("fa2_us"), r.get("cudnn_us"))
                first = False
            rows.setdefault(name, []).append(r)
        t = {nm: min(x["fc_us"] for x in rows[nm]) for nm in names}
        fa, cd = peers
        f = lambda x, y: "-" if not x else "%.3f" % (x / y)
        errs = "/".join("%.2g" % rows[nm][0]["err"] for nm in names)
        nan = any(x["nan"] for nm in names for x in rows[nm])
        print("| %s | %s | %s | %s | %s | %s | %s | %s%s |" % (
            s.label(), " | ".join("%.2f" % t[nm] for nm in names), " | ".join("%.3f" % (t[names[0]] / t[nm]) for nm in names[1:]),
            "%.2f" % fa if fa else "-", "%.2f" % cd if cd else "-", " | ".join(f(fa, t[nm]) for nm in names),
            f(cd, t[names[1]]), errs, " NaN!" if nan else ""), flush=True)
        out.append({"row": s.label(), "fa2_us": fa, "cudnn_us": cd, "runs": rows})
json.dump(out, open(sys.argv[1], "w"), indent=1)
