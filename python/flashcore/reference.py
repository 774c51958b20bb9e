"""The float64 reference (the truth) in numpy, and the project's pass rule.

Mirrors tests/reference/reference.c (the C reference): naive attention on the stored (rounded) input values,
either in float64 (``mode="f64"``) or as a plain low-precision implementation would compute it
(``mode="lowp"``: scores in fp32, P rounded to the input dtype before P.V, fp32 accumulation,
output rounded to the dtype). The low-precision error sets the tolerance:

    pass  iff  err is finite  and  err <= 2 * lowp_err + eps(dtype)

Inputs are numpy arrays of any float dtype (float16, ml_dtypes' bfloat16, float32, float64);
pass ``dtype=`` when the values are held in a wider type (e.g. bf16 values as float32).
Layouts as flashcore.attention: [B, S, H, D], or varlen [total, H, D] with cu_seqlens.
Fully masked rows give an output of 0 and an LSE of -inf.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ["attention_ref", "round_to", "max_abs_err", "eps", "passes", "EPS"]

# The per-dtype epsilon of the pass rule (the C tests' FC_T_EPS_*).
EPS = {"float16": 1e-3, "bfloat16": 8e-3, "float32": 1e-5}


def eps(dtype: str) -> float:
    """The epsilon of the pass rule for a dtype name."""
    return EPS[dtype]


def passes(err: float, lowp_err: float, dtype: str) -> bool:
    """The correctness standard: err finite and err <= 2 * lowp_err + eps(dtype). NaN never passes."""
    return bool(np.isfinite(err) and err <= 2.0 * lowp_err + eps(dtype))


def dtype_name(a: np.ndarray) -> str:
    """"float16", "bfloat16", "float32" or "float64" for a numpy array."""
    return "bfloat16" if a.dtype.name == "bfloat16" else a.dtype.name


def round_to(x: np.ndarray, dtype: str) -> np.ndarray:
    """x rounded (to nearest even) to ``dtype``, returned as float32 values."""
    x = np.asarray(x, dtype=np.float32)
    if dtype == "float16":
        return x.astype(np.float16).astype(np.float32)
    if dtype == "bfloat16":
        u = np.ascontiguousarray(x).view(np.uint32)
        rounded = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
        rounded = np.where(np.isnan(x), u | np.uint32(0x00400000), rounded)  # keep NaN a NaN
        return rounded.astype(np.uint32).view(np.float32)
    if dtype in ("float32", "float64"):
        return x
    raise ValueError(f"unknown dtype {dtype}")


def _mask(rows: np.ndarray, sq: int, sk: int, causal: bool, window: Tuple[int, int]) -> np.ndarray:
    """allowed[r, j]: query rows[r] may attend to key j (bottom-right aligned window)."""
    left, right = window
    if causal:
        right = 0
    i = rows[:, None].astype(np.int64) + (sk - sq)
    j = np.arange(sk, dtype=np.int64)[None, :]
    allowed = np.ones((len(rows), sk), dtype=bool)
    if left >= 0:
        allowed &= j >= i - left
    if right >= 0:
        allowed &= j <= i + right
    return allowed


def _one_head(q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray, scale: float, softcap: float,
              lowp: Optional[str]) -> Tuple[np.ndarray, np.ndarray]:
    """q [R, D], k/v [Sk, D] -> out [R, D], lse [R] for one head."""
    work = np.float32 if lowp else np.float64
    s = (q.astype(work) @ k.astype(work).T) * work(scale)
    if softcap > 0:
        s = work(softcap) * np.tanh(s / work(softcap))
    s = np.where(allowed, s, -np.inf)
    m = s.max(axis=1, initial=-np.inf)
    empty = ~np.isfinite(m)
    m_safe = np.where(empty, 0, m).astype(work)
    p = np.exp(s - m_safe[:, None])
    l = np.where(empty, 1, p.sum(axis=1, dtype=work)).astype(work)
    p = p / l[:, None]
    if lowp:
        p = round_to(p, lowp)  # the normalised P, as the input dtype holds it
    o = p @ v.astype(work)
    o[empty] = 0
    lse = np.where(empty, -np.inf, m_safe.astype(np.float64) + np.log(l.astype(np.float64)))
    if lowp:
        o = round_to(o, lowp)
    return o.astype(np.float64), lse


def _sequence(q: np.ndarray, k: np.ndarray, v: np.ndarray, rows: np.ndarray, heads: Sequence[int], causal: bool,
              scale: float, window: Tuple[int, int], softcap: float, lowp: Optional[str]):
    """One sequence: q [Sq, Hq, D], k/v [Sk, Hkv, D] -> out [R, len(heads), D], lse [len(heads), R]."""
    sq, hq, d = q.shape
    sk, hkv = k.shape[0], k.shape[1]
    group = hq // hkv
    allowed = _mask(rows, sq, sk, causal, window)
    out = np.zeros((len(rows), len(heads), d))
    lse = np.full((len(heads), len(rows)), -np.inf)
    for n, h in enumerate(heads):
        out[:, n, :], lse[n] = _one_head(q[rows, h, :], k[:, h // group, :], v[:, h // group, :], allowed, scale,
                                         softcap, lowp)
    return out, lse


def attention_ref(q: np.ndarray, k: np.ndarray, v: np.ndarray, *, causal: bool = False,
                  scale: Optional[float] = None, window: Tuple[int, int] = (-1, -1), softcap: float = 0.0,
                  cu_seqlens_q: Optional[Sequence[int]] = None, cu_seqlens_k: Optional[Sequence[int]] = None,
                  mode: str = "f64", dtype: Optional[str] = None, batches: Optional[Sequence[int]] = None,
                  heads: Optional[Sequence[int]] = None,
                  rows: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Reference attention with flashcore.attention's arguments.

    Args:
        mode: "f64" (the truth) or "lowp" (the plain low-precision implementation of the pass rule).
        dtype: the input dtype the values were rounded to ("float16", "bfloat16", "float32"); by
            default q's numpy dtype. Only the "lowp" mode uses it.
        batches, heads, rows: compute only these sequences / query heads / query rows (batched
            layout only), for checks of large shapes.

    Returns:
        (out, lse) in float64. Batched: out [B', R, H', D], lse [B', H', R] (B', R, H' are the
        selected sequences, rows and heads; all by default). Varlen: out [total_q, Hq, D], lse
        [Hq, total_q].
    """
    if mode not in ("f64", "lowp"):
        raise ValueError(f"mode must be 'f64' or 'lowp', got {mode!r}")
    dtype = dtype or dtype_name(np.asarray(q))
    lowp = (dtype if dtype != "float64" else "float32") if mode == "lowp" else None
    # Read the stored values exactly (bf16 and fp16 are exact in float32).
    q, k, v = (np.asarray(x).astype(np.float32 if x.dtype != np.float64 else np.float64) for x in (q, k, v))
    d = q.shape[-1]
    # The C API carries scale and softcap as float: both references use the float values.
    scale = float(np.float32(1.0 / np.sqrt(d) if scale is None else scale))
    softcap = float(np.float32(softcap))
    window = (int(window[0]), int(window[1]))
    if cu_seqlens_q is not None or cu_seqlens_k is not None:
        if batches is not None or heads is not None or rows is not None:
            raise ValueError("batches/heads/rows subsets are for the batched layout")
        cq = [int(x) for x in np.asarray(cu_seqlens_q).tolist()]
        ck = [int(x) for x in np.asarray(cu_seqlens_k).tolist()]
        total_q, hq, _ = q.shape
        out = np.zeros((total_q, hq, d))
        lse = np.full((hq, total_q), -np.inf)
        for b in range(len(cq) - 1):
            qs, ks, vs = q[cq[b]:cq[b + 1]], k[ck[b]:ck[b + 1]], v[ck[b]:ck[b + 1]]
            o, l = _sequence(qs, ks, vs, np.arange(qs.shape[0]), range(hq), causal, scale, window, softcap, lowp)
            out[cq[b]:cq[b + 1]] = o
            lse[:, cq[b]:cq[b + 1]] = l
        return out, lse
    bsz, sq, hq, _ = q.shape
    batches = list(range(bsz)) if batches is None else list(batches)
    heads = list(range(hq)) if heads is None else list(heads)
    rows_a = np.arange(sq) if rows is None else np.asarray(rows, dtype=np.int64)
    out = np.zeros((len(batches), len(rows_a), len(heads), d))
    lse = np.full((len(batches), len(heads), len(rows_a)), -np.inf)
    for n, b in enumerate(batches):
        out[n], lse[n] = _sequence(q[b], k[b], v[b], rows_a, heads, causal, scale, window, softcap, lowp)
    return out, lse


def max_abs_err(a: np.ndarray, ref: np.ndarray) -> float:
    """max |a - ref| over all elements; inf if ``a`` is NaN/inf anywhere ``ref`` is finite (an
    unwritten or broken element); matching -inf (e.g. the LSE of an empty row) counts as 0."""
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if a.shape != ref.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {ref.shape}")
    if a.size == 0:
        return 0.0
    same_inf = np.isinf(a) & np.isinf(ref) & (np.sign(a) == np.sign(ref))
    bad = ~np.isfinite(a) & ~same_inf
    if bad.any():
        return float("inf")
    diff = np.where(same_inf, 0.0, np.abs(np.where(same_inf, 0.0, a) - np.where(same_inf, 0.0, ref)))
    return float(diff.max())
