"""The named benchmark sweeps (the same shapes as `flashcore bench --sweep NAME`, tools/cmd_bench.c).

    seed    B=1, H=8, S=256/512/1024, D=64, fp16, not causal          (latency; CUDA-graph replay)
    fa      16k tokens (B*S = 16384), model width H*D = 2048, D = 64/128/256, causal and not,
            S = 512 ... 16384, bf16                                     (the FlashAttention papers' sweep)
    fa-fp16 the fa rows in fp16 (the CLI: --sweep fa --dtype fp16)
    decode  one new token per sequence: B=32, Hq=32 over Hkv=8 (GQA), D=128, Sq=1,
            Sk = 1024/4096/8192/16384, bf16                             (memory bound)

`train` (forward + backward) comes with the backward pass.

Run `python bench/sweeps.py [NAME...]` to print the shapes.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, replace
from typing import Dict, List, Optional

FA_TOKENS = 16384       # B * S of every fa row
FA_MODEL_WIDTH = 2048   # H * D of every fa row


@dataclass(frozen=True)
class Shape:
    """One benchmark row's problem, in flashcore's [batch, seqlen, heads, head_dim] terms."""
    sweep: str
    batch: int
    heads_q: int
    heads_kv: int
    seqlen_q: int
    seqlen_k: int
    head_dim: int
    causal: bool
    dtype: str          # "fp16", "bf16", "fp32"
    mode: str = "fwd"

    def flops(self) -> float:
        """4*B*H*Sq*Sk*D for the forward pass, halved for causal when Sq == Sk."""
        f = 4.0 * self.batch * self.heads_q * self.seqlen_q * self.seqlen_k * self.head_dim
        return f / 2 if self.causal and self.seqlen_q == self.seqlen_k else f

    def label(self) -> str:
        kv = f"/{self.heads_kv}" if self.heads_kv != self.heads_q else ""
        sk = f"/{self.seqlen_k}" if self.seqlen_k != self.seqlen_q else ""
        return (f"B{self.batch} H{self.heads_q}{kv} S{self.seqlen_q}{sk} D{self.head_dim}"
                f"{' causal' if self.causal else ''} {self.dtype}")

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)


def _seed() -> List[Shape]:
    return [Shape("seed", 1, 8, 8, s, s, 64, False, "fp16") for s in (256, 512, 1024)]


def _fa(dtype: str = "bf16", name: str = "fa") -> List[Shape]:
    rows = []
    for d in (64, 128, 256):
        for causal in (False, True):
            for s in (512, 1024, 2048, 4096, 8192, 16384):
                h = FA_MODEL_WIDTH // d
                rows.append(Shape(name, FA_TOKENS // s, h, h, s, s, d, causal, dtype))
    return rows


def _decode() -> List[Shape]:
    return [Shape("decode", 32, 32, 8, 1, sk, 128, False, "bf16") for sk in (1024, 4096, 8192, 16384)]


def _fa_fp16() -> List[Shape]:
    """The fa rows in fp16 (the Hopper issue measures both dtypes)."""
    return _fa("fp16", "fa-fp16")


SWEEPS = {"seed": _seed, "fa": _fa, "fa-fp16": _fa_fp16, "decode": _decode}
PLANNED = {"train": "needs the backward pass (not implemented yet)"}


def sweep(name: str, max_seqlen: Optional[int] = None, quick: bool = False) -> List[Shape]:
    """The rows of a named sweep.

    max_seqlen drops rows whose longer sequence exceeds it. quick shrinks every row for a CPU run
    (batch 1, at most 2 query heads, the kv heads in the same ratio); rows record what was run.
    """
    if name not in SWEEPS:
        why = f" ({PLANNED[name]})" if name in PLANNED else ""
        raise ValueError(f"unknown sweep '{name}'{why}; known: {', '.join(SWEEPS)}")
    rows = SWEEPS[name]()
    if max_seqlen:
        rows = [r for r in rows if max(r.seqlen_q, r.seqlen_k) <= max_seqlen]
    if quick:
        shrunk = []
        for r in rows:
            group = r.heads_q // r.heads_kv
            hq = min(r.heads_q, max(2, group))
            shrunk.append(replace(r, batch=1, heads_q=hq, heads_kv=max(1, hq // group)))
        rows = shrunk
    return rows


if __name__ == "__main__":
    for n in sys.argv[1:] or list(SWEEPS):
        for r in sweep(n):
            print(f"{n:7s} {r.label()}")
