#!/usr/bin/env python3
"""Summarise an ncu source-level warp-stall profile of one kernel.

Input: the CSV that `ncu -i REPORT.ncu-rep --page source --csv --print-source sass` prints (plain or
.gz), from a report collected with `--section WarpStateStats --section SourceCounters`. Output: the
stall reasons over all sampled instructions, the samples grouped into a few categories by the sampled
SASS instruction, the opcodes with the most samples, and the top instructions with their two largest
stall reasons. Usage: python3 bench/ncu_source_summary.py [--title TEXT] CSV [CSV ...]
"""
import collections
import csv
import gzip
import sys

# Opcodes of the softmax / rescale / pack arithmetic (a sample on one of them that is not waiting on
# a long scoreboard is counted as math).
MATH_OPS = {"MUFU", "FMNMX", "FFMA", "FADD", "FMUL", "FSEL", "FSETP", "F2FP", "SHFL", "HADD2", "HMUL2"}


def read_rows(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        lines = f.read().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith('"Address"')]
    if not starts:
        raise SystemExit(f"{path}: no '\"Address\"' header line (not an ncu --page source --csv output)")
    rows = list(csv.reader(lines[starts[0]:]))
    return rows[0], rows[1:]


def opcode(source):
    words = source.split()
    if not words:
        return "?"
    return words[1] if words[0].startswith("@") and len(words) > 1 else words[0]


def category(op, samples, long_sb):
    base = op.split(".")[0]
    if base == "BRA" and long_sb > 0.5 * samples:
        return "mbarrier / try-wait loops (data or buffer not ready)"
    if base in ("WARPGROUP", "DEPBAR") or op.startswith("WARPSYNC"):
        return "waits for tensor-core results (WARPGROUP.DEPBAR / DEPBAR)"
    if base in ("HGMMA", "HMMA"):
        return "tensor-core issue (HGMMA / HMMA)"
    if base in ("BAR", "SYNCS"):
        return "barriers"
    if base in ("LDSM", "LDS", "STS", "LDGSTS", "STSM"):
        return "shared-memory loads / stores, cp.async"
    if base in MATH_OPS and long_sb <= 0.5 * samples:
        return "softmax / rescale / convert math"
    if long_sb > 0.5 * samples:
        return "other long-scoreboard waits (loads; registers pending stores still read)"
    return "integer / uniform / control (addresses, descriptors, loop)"


def summarise(path, out):
    head, rows = read_rows(path)
    col = {name: i for i, name in enumerate(head)}
    all_samples = col["Warp Stall Sampling (All Samples)"]
    src = col["Source"]
    stalls = [c for c in head if c.startswith("stall_") and "Not Issued" not in c]
    num = lambda r, i: float(r[i] or 0)
    total = sum(num(r, all_samples) for r in rows)
    if total <= 0:
        print(f"{path}: no samples", file=out)
        return
    reasons = collections.Counter()
    cats = collections.Counter()
    ops = collections.Counter()
    for r in rows:
        s = num(r, all_samples)
        for c in stalls:
            reasons[c] += num(r, col[c])
        op = opcode(r[src])
        ops[op.split(".")[0]] += s
        cats[category(op, s, num(r, col["stall_long_sb"]) if "stall_long_sb" in col else 0.0)] += s
    pct = lambda v: 100.0 * v / total
    print(f"== {path} | SASS instructions {len(rows)} | samples {int(total)}", file=out)
    print("stall reasons: " + ", ".join(f"{k[6:]} {pct(v):.1f}%" for k, v in reasons.most_common(10)), file=out)
    print("by category:", file=out)
    for k, v in cats.most_common():
        print(f"   {pct(v):5.1f}%  {k}", file=out)
    print("by opcode: " + ", ".join(f"{k} {pct(v):.1f}%" for k, v in ops.most_common(14)), file=out)
    # Executed instructions (warp level, all of them, not only sampled) per tensor-core instruction:
    # comparable between two kernels doing the same matmuls (bench/NOTES.md v7 found the register
    # copies this way).
    if "Instructions Executed" in col:
        execd = collections.Counter()
        for r in rows:
            execd[opcode(r[src]).split(".")[0]] += num(r, col["Instructions Executed"])
        mma = execd["HMMA"] + execd["HGMMA"]
        if mma > 0:
            print(f"executed per HMMA/HGMMA: total {sum(execd.values()) / mma:.2f}; " +
                  ", ".join(f"{k} {v / mma:.3f}" for k, v in execd.most_common(16)), file=out)
    print("top instructions (share of samples, SASS, two largest stall reasons):", file=out)
    for r in sorted(rows, key=lambda r: -num(r, all_samples))[:12]:
        s = num(r, all_samples)
        top2 = sorted(((num(r, col[c]), c) for c in stalls), reverse=True)[:2]
        text = " ".join(r[src].split())[:62]
        why = " ".join(f"{c[6:]} {100.0 * v / max(s, 1.0):.0f}%" for v, c in top2)
        print(f"   {pct(s):5.1f}%  {text:<62} {why}", file=out)
    print(file=out)


def main(argv):
    args = list(argv)
    if "--title" in args:
        i = args.index("--title")
        print(args[i + 1])
        del args[i:i + 2]
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for path in args:
        summarise(path, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
