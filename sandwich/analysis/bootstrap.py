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
at the intersection), and at realistic sizes (6-40 overseers) even a rescaled
version covers 97-99%. So every statistic also carries its first-order
expansion over the judgments (`Linear`, see robust.py), derived statistics
(differences, gap closed) included, and the reported interval `lo, hi` is the
small-sample-calibrated two-way cluster-robust one: est ± t_ν·se (Cameron,
Gelbach & Miller 2011; calibrated as in Bell & McCaffrey 2002 / Imbens &
Kolesár 2016). The plain pigeonhole interval stays as `lo_conservative,
hi_conservative`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from scipy import stats

from sandwich.analysis.data import JudgmentTable
from sandwich.analysis.robust import Calibrated, Linear, calibrate, variance_shares

# above this share of filled cells (and on big blocks only: threaded BLAS on small matrices is slow on a
# busy machine) a block is multiplied as a dense matrix, below as sparse x dense
DENSE_ABOVE = 0.15


@dataclass
class Draws:
    """A statistic's point estimate and its replicates under three resampling schemes."""

    est: float
    both: np.ndarray  # overseers and items resampled (pigeonhole)
    overseers: np.ndarray  # overseers only
    items: np.ndarray  # items only
    n_overseers: int = 0  # overseers / items behind the statistic (for the n/(n-1) variance correction)
    n_items: int = 0
    lin: Linear | None = field(default=None, repr=False)  # first-order expansion (the calibrated interval)

    @staticmethod
    def combine(fn: Callable[..., np.ndarray], *parts: Draws) -> Draws:
        """A statistic derived from others, computed inside each replicate of each scheme; its expansion
        is the parts' expansions weighted by fn's gradient at the estimates (delta method)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ests = [np.float64(p.est) for p in parts]
            est = float(fn(*ests))
            lin = None
            if np.isfinite(est) and all(p.lin is not None and np.isfinite(p.est) for p in parts):
                grad = _gradient(fn, ests)
                if np.all(np.isfinite(grad)):
                    lin = Linear.concat(
                        [p.lin.scaled(g) for p, g in zip(parts, grad, strict=True) if p.lin is not None and g != 0]
                    )
            return Draws(
                est,
                fn(*[p.both for p in parts]),
                fn(*[p.overseers for p in parts]),
                fn(*[p.items for p in parts]),
                max(p.n_overseers for p in parts),
                max(p.n_items for p in parts),
                lin,
            )

    @staticmethod
    def constant(value: float, replicates: int) -> Draws:
        """A quantity known without sampling error (e.g. gold = 100%)."""
        c = np.full(replicates, value)
        return Draws(value, c, c, c, lin=Linear.empty())


def _gradient(fn: Callable[..., np.ndarray], x: list[np.float64]) -> np.ndarray:
    """Central-difference gradient of fn at x."""
    out = np.empty(len(x))
    for k in range(len(x)):
        h = 1e-6 * max(1.0, abs(float(x[k])))
        hi, lo = list(x), list(x)
        hi[k], lo[k] = np.float64(x[k] + h), np.float64(x[k] - h)
        out[k] = (float(fn(*hi)) - float(fn(*lo))) / (2 * h)
    return out


@dataclass
class Interval:
    """A point estimate with its calibrated (reported) and conservative (plain pigeonhole) 95% intervals."""

    est: float
    lo: float
    hi: float
    lo_conservative: float
    hi_conservative: float
    se: float
    draws: np.ndarray = field(repr=False)  # pigeonhole replicates rescaled to the calibrated se
    undefined: float = 0.0  # share of replicates where the statistic was undefined
    df: float = float("inf")  # degrees of freedom of the t quantile behind lo, hi

    def as_dict(self) -> dict[str, float]:
        """Plain numbers for tables and JSON."""
        return {
            "est": self.est,
            "lo": self.lo,
            "hi": self.hi,
            "lo_conservative": self.lo_conservative,
            "hi_conservative": self.hi_conservative,
            "se": self.se,
            "df": self.df,
        }

    def p_value(self, alternative: str, null: float = 0.0) -> float:
        """t test of est = null with this interval's se and df (alternative: greater | less | two-sided)."""
        return Calibrated(self.se, self.df, 1.0, self.se**2).p_value(self.est, alternative, null)


def interval(d: Draws, level: float = 0.95, bounds: tuple[float, float] | None = None) -> Interval:
    """The reported interval est ± t_ν·se, two-way cluster-robust and small-sample calibrated (robust.py:
    Cameron, Gelbach & Miller 2011; Bell & McCaffrey 2002; Imbens & Kolesár 2016), clipped to `bounds`
    (the statistic's possible range, e.g. 0..1 for an accuracy). The plain pigeonhole percentile interval
    (Owen 2007) is kept as the conservative one. A Draws without an expansion (built by hand) falls back
    to the pigeonhole draws rescaled to the moment-corrected two-way variance."""
    ok = np.isfinite(d.both)
    undefined = float(1 - ok.mean()) if d.both.size else 0.0
    nan = float("nan")
    if not np.isfinite(d.est):
        return Interval(d.est, nan, nan, nan, nan, nan, np.full_like(d.both, np.nan), undefined)
    a = (1 - level) / 2
    qlo, qhi = (float(q) for q in np.quantile(d.both[ok], [a, 1 - a])) if ok.sum() >= 10 else (nan, nan)
    if d.lin is None:
        if ok.sum() < 10:
            return Interval(d.est, nan, nan, nan, nan, nan, np.full_like(d.both, np.nan), undefined)
        lo, hi, se, draws = _rescaled(d, level)
        df = float("inf")
    else:
        cal = calibrate(d.lin)
        half = cal.half_width(level)
        lo, hi, se, df = d.est - half, d.est + half, cal.se, cal.df
        spread = np.sqrt(_spread(d.both))
        draws = d.est + (se / spread) * (d.both - d.est) if spread > 0 else np.full_like(d.both, d.est)
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return Interval(d.est, float(lo), float(hi), qlo, qhi, float(se), draws, undefined, float(df))


def _rescaled(d: Draws, level: float) -> tuple[float, float, float, np.ndarray]:
    """Pigeonhole percentile interval rescaled to the variance 2(V_o + V_i) − V_oi (first-order CGM from the
    one-way and two-way bootstrap variances), t-expanded on the fewer resampled units (Hesterberg 2015)."""
    both = d.both[np.isfinite(d.both)]
    v_both, v_o, v_i = _spread(both), _spread(d.overseers), _spread(d.items)
    v = min(max(2 * (v_o + v_i) - v_both, v_o, v_i), v_both)
    f_o = d.n_overseers / (d.n_overseers - 1) if d.n_overseers > 1 else 1.0
    f_i = d.n_items / (d.n_items - 1) if d.n_items > 1 else 1.0
    v *= (f_o * v_o + f_i * v_i) / (v_o + v_i) if v_o + v_i > 0 else 1.0
    k = np.sqrt(v / v_both) if v_both > 0 else 0.0
    a = (1 - level) / 2
    units = [n for n in (d.n_overseers, d.n_items) if n > 1]
    if units:
        k *= float(stats.t.ppf(1 - a, min(units) - 1) / stats.norm.ppf(1 - a))
    qlo, qhi = np.quantile(both, [a, 1 - a])
    return (d.est + k * (qlo - d.est), d.est + k * (qhi - d.est), float(np.sqrt(v)), d.est + k * (d.both - d.est))


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
    stats: list[str]  # e.g. accuracy, brier, time
    num: dict[tuple[str, str], int]  # (group, stat) -> block holding the numerator
    den: dict[tuple[str, str], int]  # (group, stat) -> block holding the denominator (counts)
    blocks: list[sp.csr_matrix]  # each n_items x n_overseers, float32
    n_overseers: int
    n_items: int
    strata: np.ndarray  # stratum id per overseer
    terms: dict[tuple[str, str], Linear] = field(default_factory=dict)  # (group, stat) -> first-order expansion
    id_ends: tuple[int, int, int] = (0, 0, 0)  # overseer, cell and judgment ids in `terms` lie below these


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
        m.sum_duplicates()  # one overseer judging an item twice: the cell holds both
        return m

    cell = np.unique(t.overseer.astype(np.int64) * n_i + t.item, return_inverse=True)[1].ravel()
    judgment = np.arange(len(t.overseer))
    terms: dict[tuple[str, str], Linear] = {}
    # working-model variance shares pooled over groups: within one condition of a counterbalanced design each
    # item is judged once, so item difficulty is only identifiable across conditions
    shares: dict[str, np.ndarray] = {}
    for s in stats:
        v = values[s]
        ok = np.isfinite(v)
        if ok.any():
            means = np.bincount(t.group[ok], weights=v[ok], minlength=len(t.groups)) / np.maximum(
                np.bincount(t.group[ok], minlength=len(t.groups)), 1
            )
            shares[s] = variance_shares(t.overseer[ok], t.item[ok], cell[ok], v[ok] - means[t.group[ok]])
    for g in range(len(t.groups)):
        in_g = t.group == g
        count_blocks: dict[bytes, int] = {}
        for s in stats:
            v = values[s]
            ok = in_g & np.isfinite(v)
            terms[(t.groups[g], s)] = Linear.ratio(
                t.overseer[ok], t.item[ok], cell[ok], judgment[ok], v[ok], shares=shares.get(s)
            )
            key = np.packbits(ok).tobytes()
            if key not in count_blocks:
                count_blocks[key] = len(blocks)
                blocks.append(scatter(ok, None))
            num[(t.groups[g], s)] = len(blocks)
            den[(t.groups[g], s)] = count_blocks[key]
            blocks.append(scatter(ok, v))
    return CellSums(
        list(t.groups),
        list(stats),
        num,
        den,
        blocks,
        n_o,
        n_i,
        t.stratum,
        terms,
        (n_o, int(cell.max(initial=-1)) + 1, len(t.overseer)),
    )


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


def bootstrap_sums(
    cs: CellSums, replicates: int, seed: int, item_vectors: dict[str, np.ndarray] | None = None
) -> tuple[dict[tuple[str, str], Draws], dict[str, Draws], np.ndarray]:
    """Ratio statistics per (group, stat) under the three schemes, plus item-only statistics of
    per-item vectors (e.g. model-alone correctness, NaN where unknown), all from the same draws."""
    rng = np.random.default_rng(seed)
    n_o, n_i, n_blocks = cs.n_overseers, cs.n_items, len(cs.blocks)
    w_o = weights(rng, n_o, replicates, cs.strata)
    w_i = weights(rng, n_i, replicates)
    w_o_t = np.ascontiguousarray(w_o.T)  # overseers x replicates
    w_i_t = np.ascontiguousarray(w_i.T)  # items x replicates
    totals = np.empty((replicates, n_blocks), np.float64)
    for b, m in enumerate(cs.blocks):
        # sparse x dense costs replicates x nonzeros; a dense GEMM wins only when the block is fairly full
        dense = m.nnz > DENSE_ABOVE * n_o * n_i and n_o * n_i >= 1_000_000
        x = (m.toarray() @ w_o_t) if dense else (m @ w_o_t)  # items x replicates
        x *= w_i_t
        totals[:, b] = x.sum(axis=0)  # float32 pairwise summation: relative error ~1e-7
    row = np.array([np.asarray(m.sum(axis=0), dtype=np.float64).ravel() for m in cs.blocks]).reshape(n_blocks, n_o).T
    col = np.array([np.asarray(m.sum(axis=1), dtype=np.float64).ravel() for m in cs.blocks]).reshape(n_blocks, n_i)
    only_o = w_o.astype(np.float64) @ row  # replicates x blocks
    only_i = w_i.astype(np.float64) @ col.T
    full = row.sum(axis=0)
    out: dict[tuple[str, str], Draws] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for key, b in cs.num.items():
            d = cs.den[key]
            lin = cs.terms.get(key)
            out[key] = Draws(
                float(full[b] / full[d]) if full[d] else float("nan"),
                totals[:, b] / totals[:, d],
                only_o[:, b] / only_o[:, d],
                only_i[:, b] / only_i[:, d],
                int((row[:, d] > 0).sum()),
                int((col[d] > 0).sum()),
                replace(lin, seed=seed) if lin is not None else None,
            )
        vec_out: dict[str, Draws] = {}
        for name, v in (item_vectors or {}).items():
            ok = np.isfinite(v)
            if not ok.any():
                continue
            vv = np.where(ok, v, 0.0)
            num = w_i.astype(np.float64) @ vv
            den = w_i.astype(np.float64) @ ok.astype(np.float64)
            est = float(vv.sum() / ok.sum())
            # one answer per item: items are the only clusters (each its own overseer and cell)
            it = np.flatnonzero(ok)
            o_end, c_end, j_end = cs.id_ends
            lin = Linear.ratio(o_end + it, it, c_end + it, j_end + it, v[ok], seed)
            lin = replace(lin, sd=np.tile([0.0, np.sqrt(np.mean(lin.r**2)), 0.0], (len(it), 1)))
            vec_out[name] = Draws(est, num / den, np.full(replicates, est), num / den, 0, int(ok.sum()), lin)
    return out, vec_out, w_i
