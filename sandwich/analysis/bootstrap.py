"""Two-way (pigeonhole) bootstrap over overseers AND items, vectorised.

Each replicate draws multinomial weights for overseers (within their stratum)
and for items, independently, and keeps every judgment at their intersection
with weight w_o * w_i (Owen 2007). A ratio statistic such as accuracy is then
    (w_o^T C w_i) / (w_o^T N w_i)
with C the per-cell sum (e.g. correct judgments) and N the per-cell count, one
overseers x items matrix per group and statistic (sparse: a study fills few cells)
— one sparse-times-dense product per block for all replicates at once.

The plain pigeonhole interval is conservative: judgment-level noise is counted
about three times (once by overseer resampling, once by item resampling, once
at the intersection). From the SAME draws we also get the overseer-only and
item-only statistics (cheap: row/column sums), and rescale the two-way
deviations to the moment-corrected variance 2(V_o + V_i) - V_oi, which removes
the double counting to first order (dense and sparse crossed designs alike).
Both intervals are kept: `lo, hi` (corrected, the one reported) and
`lo_conservative, hi_conservative` (plain pigeonhole).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import stats

from sandwich.analysis.data import JudgmentTable

# above this share of filled cells (and on big blocks only: threaded BLAS on small matrices is slow on a
# busy machine) a block is multiplied as a dense matrix, below as sparse x dense
DENSE_ABOVE = 0.15


@dataclass
class Draws:
    """A statistic's point estimate and its replicates under three resampling schemes."""

    est: float
    both: np.ndarray       # overseers and items resampled (pigeonhole)
    overseers: np.ndarray  # overseers only
    items: np.ndarray      # items only
    n_overseers: int = 0   # overseers / items behind the statistic (for the n/(n-1) variance correction)
    n_items: int = 0

    @staticmethod
    def combine(fn: Callable[..., np.ndarray], *parts: Draws) -> Draws:
        """A statistic derived from others, computed inside each replicate of each scheme."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return Draws(float(fn(*[np.float64(p.est) for p in parts])), fn(*[p.both for p in parts]),
                         fn(*[p.overseers for p in parts]), fn(*[p.items for p in parts]),
                         max(p.n_overseers for p in parts), max(p.n_items for p in parts))

    @staticmethod
    def constant(value: float, replicates: int) -> Draws:
        """A quantity known without sampling error (e.g. gold = 100%)."""
        c = np.full(replicates, value)
        return Draws(value, c, c, c)


@dataclass
class Interval:
    """A point estimate with its corrected and conservative 95% intervals."""

    est: float
    lo: float
    hi: float
    lo_conservative: float
    hi_conservative: float
    se: float
    draws: np.ndarray = field(repr=False)   # corrected replicates (est + k * (both - est))
    undefined: float = 0.0                  # share of replicates where the statistic was undefined

    def as_dict(self) -> dict[str, float]:
        """Plain numbers for tables and JSON."""
        return {"est": self.est, "lo": self.lo, "hi": self.hi, "lo_conservative": self.lo_conservative,
                "hi_conservative": self.hi_conservative, "se": self.se}


def interval(d: Draws, level: float = 0.95, bounds: tuple[float, float] | None = None) -> Interval:
    """Percentile interval of the pigeonhole draws, rescaled to the corrected variance (clipped to `bounds`,
    the statistic's possible range, e.g. 0..1 for an accuracy)."""
    ok = np.isfinite(d.both)
    undefined = float(1 - ok.mean()) if d.both.size else 1.0
    if not np.isfinite(d.est) or ok.sum() < 10:
        nan = float("nan")
        return Interval(d.est, nan, nan, nan, nan, nan, np.full_like(d.both, np.nan), undefined)
    both = d.both[ok]
    v_both, v_o, v_i = _spread(both), _spread(d.overseers), _spread(d.items)
    # 2(V_o + V_i) - V_oi removes the triple-counted judgment noise; it cannot be below either
    # one-way variance (each misses a whole source) nor above the conservative two-way one.
    v = min(max(2 * (v_o + v_i) - v_both, v_o, v_i), v_both)
    # resampling n units estimates a variance (n-1)/n too small; undo it, weighted by each side's share
    f_o = d.n_overseers / (d.n_overseers - 1) if d.n_overseers > 1 else 1.0
    f_i = d.n_items / (d.n_items - 1) if d.n_items > 1 else 1.0
    v *= (f_o * v_o + f_i * v_i) / (v_o + v_i) if v_o + v_i > 0 else 1.0
    k = np.sqrt(v / v_both) if v_both > 0 else 0.0
    a = (1 - level) / 2
    # expanded percentile interval (Hesterberg 2015): with few clusters the spread itself is uncertain,
    # so widen by t/z on the smaller number of resampled units
    units = [n for n in (d.n_overseers, d.n_items) if n > 1]
    if units:
        k *= float(stats.t.ppf(1 - a, min(units) - 1) / stats.norm.ppf(1 - a))
    qlo, qhi = np.quantile(both, [a, 1 - a])
    corrected = d.est + k * (d.both - d.est)
    lo, hi = d.est + k * (qlo - d.est), d.est + k * (qhi - d.est)
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return Interval(d.est, float(lo), float(hi), float(qlo), float(qhi), float(np.sqrt(v)), corrected, undefined)


def _spread(x: np.ndarray) -> float:
    """Variance of the finite replicates, winsorised at the 1st/99th percentiles (ratios can have wild tails)."""
    x = x[np.isfinite(x)]
    if len(x) < 10:
        return 0.0
    lo, hi = np.quantile(x, [0.01, 0.99])
    return float(np.var(np.clip(x, lo, hi)))


@dataclass
class CellSums:
    """Per (group, statistic): a sparse items x overseers matrix of per-cell sums, and one of counts."""

    groups: list[str]
    stats: list[str]                       # e.g. accuracy, brier, time
    num: dict[tuple[str, str], int]        # (group, stat) -> block holding the numerator
    den: dict[tuple[str, str], int]        # (group, stat) -> block holding the denominator (counts)
    blocks: list[sp.csr_matrix]            # each n_items x n_overseers, float32
    n_overseers: int
    n_items: int
    strata: np.ndarray                     # stratum id per overseer


def cell_sums(t: JudgmentTable, stats: tuple[str, ...] = ("accuracy", "brier", "time")) -> CellSums:
    """Sum judgments into per-cell matrices; statistics with the same missingness share one count block."""
    n_o, n_i = len(t.overseers), len(t.items)
    values = {"accuracy": t.correct, "brier": t.brier, "time": t.time}
    blocks: list[sp.csr_matrix] = []
    num: dict[tuple[str, str], int] = {}
    den: dict[tuple[str, str], int] = {}

    def scatter(mask: np.ndarray, v: np.ndarray | None) -> sp.csr_matrix:
        data = np.ones(int(mask.sum()), np.float32) if v is None else v[mask].astype(np.float32)
        m = sp.csr_matrix((data, (t.item[mask], t.overseer[mask])), shape=(n_i, n_o), dtype=np.float32)
        m.sum_duplicates()   # one overseer judging an item twice: the cell holds both
        return m

    for g in range(len(t.groups)):
        in_g = t.group == g
        count_blocks: dict[bytes, int] = {}
        for s in stats:
            v = values[s]
            ok = in_g & np.isfinite(v)
            key = np.packbits(ok).tobytes()
            if key not in count_blocks:
                count_blocks[key] = len(blocks)
                blocks.append(scatter(ok, None))
            num[(t.groups[g], s)] = len(blocks)
            den[(t.groups[g], s)] = count_blocks[key]
            blocks.append(scatter(ok, v))
    return CellSums(list(t.groups), list(stats), num, den, blocks, n_o, n_i, t.stratum)


def weights(rng: np.random.Generator, n: int, replicates: int, strata: np.ndarray | None = None) -> np.ndarray:
    """Multinomial resampling counts (replicates x n), drawn separately within each stratum."""
    w = np.zeros((replicates, n), np.float32)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for idx in groups:
        k = len(idx)
        if k:
            # k draws with replacement per replicate, counted with one bincount (much faster than multinomial)
            draws = rng.integers(0, k, (replicates, k)) + (np.arange(replicates) * k)[:, None]
            w[:, idx] = np.bincount(draws.ravel(), minlength=replicates * k).reshape(replicates, k)
    return w


def bootstrap_sums(cs: CellSums, replicates: int, seed: int,
                   item_vectors: dict[str, np.ndarray] | None = None) -> tuple[dict[tuple[str, str], Draws],
                                                                            dict[str, Draws], np.ndarray]:
    """Ratio statistics per (group, stat) under the three schemes, plus item-only statistics of
    per-item vectors (e.g. model-alone correctness, NaN where unknown), all from the same draws."""
    rng = np.random.default_rng(seed)
    n_o, n_i, n_blocks = cs.n_overseers, cs.n_items, len(cs.blocks)
    w_o = weights(rng, n_o, replicates, cs.strata)
    w_i = weights(rng, n_i, replicates)
    w_o_t = np.ascontiguousarray(w_o.T)         # overseers x replicates
    w_i_t = np.ascontiguousarray(w_i.T)         # items x replicates
    totals = np.empty((replicates, n_blocks), np.float64)
    for b, m in enumerate(cs.blocks):
        # sparse x dense costs replicates x nonzeros; a dense GEMM wins only when the block is fairly full
        dense = m.nnz > DENSE_ABOVE * n_o * n_i and n_o * n_i >= 1_000_000
        x = (m.toarray() @ w_o_t) if dense else (m @ w_o_t)   # items x replicates
        x *= w_i_t
        totals[:, b] = x.sum(axis=0)   # float32 pairwise summation: relative error ~1e-7
    row = np.array([np.asarray(m.sum(axis=0), dtype=np.float64).ravel() for m in cs.blocks]).reshape(n_blocks, n_o).T
    col = np.array([np.asarray(m.sum(axis=1), dtype=np.float64).ravel() for m in cs.blocks]).reshape(n_blocks, n_i)
    only_o = w_o.astype(np.float64) @ row               # replicates x blocks
    only_i = w_i.astype(np.float64) @ col.T
    full = row.sum(axis=0)
    out: dict[tuple[str, str], Draws] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for key, b in cs.num.items():
            d = cs.den[key]
            out[key] = Draws(float(full[b] / full[d]) if full[d] else float("nan"), totals[:, b] / totals[:, d],
                             only_o[:, b] / only_o[:, d], only_i[:, b] / only_i[:, d],
                             int((row[:, d] > 0).sum()), int((col[d] > 0).sum()))
        vec_out: dict[str, Draws] = {}
        for name, v in (item_vectors or {}).items():
            ok = np.isfinite(v)
            if not ok.any():
                continue
            vv = np.where(ok, v, 0.0)
            num = w_i.astype(np.float64) @ vv
            den = w_i.astype(np.float64) @ ok.astype(np.float64)
            est = float(vv.sum() / ok.sum())
            vec_out[name] = Draws(est, num / den, np.full(replicates, est), num / den, 0, int(ok.sum()))
    return out, vec_out, w_i
