"""Small-sample-calibrated two-way cluster-robust intervals for crossed overseer × item designs.

A statistic (an accuracy, a difference between conditions, a gap closed) is expanded to
first order over the judgments behind it (delta method):  est ≈ const + Σ_j w_j y_j.
Its variance is the two-way cluster-robust estimate of Cameron, Gelbach & Miller (2011,
JBES 29:238, eq. 2.11)
    V = V_overseers + V_items − V_cells,    V_x = Σ_{clusters of x} (Σ_{j in cluster} w_j r_j)²
with r_j the residual of judgment j from its condition's estimate (if V ≤ 0, the larger
one-way variance, as CGM §2.3 suggest). With a handful of overseers V is biased low and
noisy, so a plain z (or a t on "min clusters − 1" degrees of freedom) either under- or
over-covers. It is calibrated as Bell & McCaffrey (2002, Survey Methodology 28:169) and
Imbens & Kolesár (2016, REStat 98:701) propose, against a working model — crossed random
effects, y_j = σ_o·a_overseer + σ_i·b_item + σ_e·e_j, with the variance shares estimated by
moments from the residuals of all conditions together (items recur across conditions only),
and each effect shared between the statistic's conditions to the degree (ρ) that matches the
observed overseer (item) part of its variance, so an overseer × condition interaction keeps
its few degrees of freedom:
  * bias:  k = (true variance of est) / E[V]       (the CR2 idea: undo the downward bias)
  * quantile: the 95% quantile of |est* − E| / √(k V*) over simulations of the working model (a
    parametric bootstrap-t: V is small exactly when the variance it subtracts is large, so the
    ratio has heavier tails than a Satterthwaite t), reported as the df ν whose t quantile matches;
and the interval is est ± t_ν · √(k · V). The simulations are seeded (up to `CALIBRATION_DRAWS`)
and the true variance is in closed form, so the same code covers every design (within,
between, unbalanced observational) and every smooth statistic. Above `LARGE_DESIGN` clusters
in both dimensions the calibration is skipped (k ≈ 1, t ≈ z there).
`benchmarks/validity_grid.py` checks the coverage and the tests' size.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import stats
from scipy.optimize import brentq

CALIBRATION_DRAWS = 2000  # working-model simulations per interval (at most; see CALIBRATION_CELLS)
CALIBRATION_CELLS = 20_000_000  # terms × draws per chunk of the simulation (memory bound)
CALIBRATION_WORK = 500_000  # terms × draws per interval: fewer draws for bigger statistics (at least 400)
LARGE_DESIGN = 200  # clusters in the smallest dimension above which calibration is skipped (k≈1, t≈z)

_base_ids = itertools.count()


@dataclass(frozen=True)
class Linear:
    """First-order expansion of a statistic: est ≈ const + Σ_terms w · y. One term per (judgment, ratio).

    Ids are shared by every statistic of one analysis, so a difference of two conditions keeps the
    covariance that shared overseers and items induce."""

    o: np.ndarray  # overseer id of each term
    i: np.ndarray  # item id
    c: np.ndarray  # cell (overseer × item) id
    j: np.ndarray  # judgment id (judgment-level noise)
    base: np.ndarray  # id of the ratio statistic the term belongs to (residuals are centred within it)
    w: np.ndarray  # ∂ est / ∂ y_j
    r: np.ndarray  # residual: y_j − the ratio's estimate
    sd: np.ndarray  # (terms, 3) working-model standard deviations: overseer, item, judgment noise
    seed: int = 0

    @staticmethod
    def empty() -> Linear:
        """A statistic known without sampling error."""
        z, zi = np.zeros(0), np.zeros(0, np.int64)
        return Linear(zi, zi, zi, zi, zi, z, z, np.zeros((0, 3)))

    @staticmethod
    def ratio(
        o: np.ndarray,
        i: np.ndarray,
        c: np.ndarray,
        j: np.ndarray,
        y: np.ndarray,
        seed: int = 0,
        shares: np.ndarray | None = None,
    ) -> Linear:
        """The mean of `y` over these judgments (a ratio Σy / n), with its working-model components: `shares`
        of the residual variance (overseer, item, noise; estimated from these judgments if not given — pass
        ones pooled over conditions when items recur across conditions only, as in counterbalanced designs)."""
        n = len(y)
        est = float(y.mean()) if n else 0.0
        r = y - est
        if shares is not None and n:
            comp = shares * float(np.mean(r**2))
        else:
            comp = variance_components(o, i, c, r)
        return Linear(
            o,
            i,
            c,
            j,
            np.full(n, next(_base_ids)),
            np.full(n, 1.0 / max(n, 1)),
            r,
            np.tile(np.sqrt(comp), (n, 1)),
            seed,
        )

    def scaled(self, g: float) -> Linear:
        """The expansion of g · statistic."""
        return Linear(self.o, self.i, self.c, self.j, self.base, self.w * g, self.r, self.sd, self.seed)

    @staticmethod
    def concat(parts: list[Linear]) -> Linear:
        """The expansion of a sum of statistics."""
        parts = [p for p in parts if len(p.w)]
        if not parts:
            return Linear.empty()
        o, i, c, j, base, w, r = (
            np.concatenate([getattr(p, f) for p in parts]) for f in ("o", "i", "c", "j", "base", "w", "r")
        )
        return Linear(o, i, c, j, base, w, r, np.vstack([p.sd for p in parts]), parts[0].seed)


def variance_components(o: np.ndarray, i: np.ndarray, c: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Moment estimates (σ²_overseer, σ²_item, σ²_noise) of crossed random effects from residuals `r`.

    With T_x = Σ_clusters (Σ r)², E[T_o − T_cells] = σ²_o (Σ n_o² − Σ n_cell²) and likewise for items
    (Henderson's method 3 in spirit); each is scaled by G/(G−1) for the centring, clipped at 0."""
    n = len(r)
    if n < 2:
        return np.array([0.0, 0.0, float(np.mean(r**2)) if n else 0.0])
    tot = float(np.mean(r**2))

    def t_and_n2(ids: np.ndarray) -> tuple[float, float, int]:
        counts = np.bincount(ids).astype(float)  # ids: small non-negative integers
        return float(np.sum(np.bincount(ids, weights=r) ** 2)), float(np.sum(counts**2)), int(np.count_nonzero(counts))

    t_c, n2_c, _ = t_and_n2(c)
    out = []
    for ids in (o, i):
        t_x, n2_x, g = t_and_n2(ids)
        s2 = (t_x - t_c) / (n2_x - n2_c) if n2_x > n2_c else 0.0
        out.append(max(s2, 0.0) * (g / (g - 1) if g > 1 else 1.0))
    s_o, s_i = out
    s_e = max(tot - s_o - s_i, 0.1 * tot)
    return np.array([s_o, s_i, s_e])


def variance_shares(o: np.ndarray, i: np.ndarray, c: np.ndarray, r: np.ndarray) -> np.ndarray:
    """`variance_components` as shares of their sum (overseer, item, noise)."""
    comp = variance_components(o, i, c, r)
    return comp / comp.sum() if comp.sum() > 0 else np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Calibrated:
    """A calibrated standard error: se = √(k · V) on ν degrees of freedom."""

    se: float
    df: float
    k: float  # bias correction applied to the variance
    v: float  # the raw two-way cluster-robust variance (CGM 2011)

    def half_width(self, level: float = 0.95) -> float:
        """t_ν quantile × se."""
        return float(stats.t.ppf(0.5 + level / 2, self.df)) * self.se

    def p_value(self, est: float, alternative: str, null: float = 0.0) -> float:
        """t test of est = null on ν df (alternative: greater | less | two-sided)."""
        if not self.se > 0:
            return float("nan")
        z = (est - null) / self.se
        if alternative == "greater":
            return float(stats.t.sf(z, self.df))
        if alternative == "less":
            return float(stats.t.cdf(z, self.df))
        return float(2 * stats.t.sf(abs(z), self.df))


class _Clusters:
    """Sums of term values (terms or terms × draws) within clusters, as one sparse product."""

    def __init__(self, ids: np.ndarray) -> None:
        _, inv = np.unique(ids, return_inverse=True)
        self.inv = inv.ravel()
        counts = np.bincount(self.inv)
        self.n = len(counts)
        self.counts = counts.astype(float)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        self.m = sp.csr_matrix(
            (np.ones(len(self.inv)), np.argsort(self.inv, kind="stable"), indptr), shape=(self.n, len(self.inv))
        )

    def sums(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.m @ x)

    def spread(self, z: np.ndarray) -> np.ndarray:
        """Per term, the value of its cluster (z: clusters or clusters × draws)."""
        return z[self.inv]


def _pieces(cl: tuple[_Clusters, _Clusters, _Clusters], x: np.ndarray) -> tuple[np.ndarray, ...]:
    """One-way variances of Σ x clustered by overseers, items and cells (x: terms or terms × draws)."""
    return tuple((c.sums(x) ** 2).sum(axis=0) for c in cl)


def _two_way(cl: tuple[_Clusters, _Clusters, _Clusters], x: np.ndarray) -> np.ndarray:
    """CGM two-way variance of Σ x (x: terms or terms × draws), falling back to the larger one-way one if ≤ 0."""
    v_o, v_i, v_c = _pieces(cl, x)
    v = v_o + v_i - v_c
    return np.where(v > 0, v, np.maximum(v_o, v_i))


def _shared(whole: _Clusters, split: _Clusters, x: np.ndarray, observed: float) -> tuple[float, float]:
    """How far an overseer's (item's) effect is shared between the statistic's conditions in the working model.

    With the effect shared (ρ = 1) it cancels in a within-condition difference; independent per condition
    (ρ = 0) it does not. ρ is set so the model's overseer (item) part of the variance matches the one observed
    (V_overseers − V_cells, de-biased by G/(G−1)): an overseer × condition interaction then keeps its few df.
    Returns (ρ, the model's variance part)."""
    a1, a0 = float(np.sum(whole.sums(x) ** 2)), float(np.sum(split.sums(x) ** 2))
    if abs(a1 - a0) <= 1e-9 * max(a1, a0, 1e-300):
        return 1.0, a1
    rho = float(np.clip((observed - a0) / (a1 - a0), 0.0, 1.0))
    return rho, rho * a1 + (1 - rho) * a0


def _matching_df(q: float, level: float = 0.95) -> float:
    """The ν with t_ν's two-sided `level` quantile = q (∞ when q is at or below the normal quantile)."""
    if not q > stats.norm.ppf(0.5 + level / 2) * (1 + 1e-9):
        return 1e6
    if q >= stats.t.ppf(0.5 + level / 2, 1.0):
        return 1.0
    return float(brentq(lambda nu: stats.t.ppf(0.5 + level / 2, nu) - q, 1.0, 1e6))


_cache: dict[bytes, Calibrated] = {}


def _canonical_judgments(lin: Linear) -> np.ndarray:
    """Judgment ids renumbered by (overseer, item, cell, statistic), so the simulated judgment noise does not depend on
    the order of the data's rows (the same judgment in several terms keeps one id)."""
    uniq, first = np.unique(lin.j, return_index=True)
    order = np.lexsort((uniq, lin.base[first], lin.c[first], lin.i[first], lin.o[first]))
    label = np.empty(len(uniq), np.int64)
    label[order] = np.arange(len(uniq))
    return label[np.searchsorted(uniq, lin.j)]


def calibrate(lin: Linear, draws: int = CALIBRATION_DRAWS) -> Calibrated:
    """Two-way cluster-robust variance of the statistic, with its working-model bias factor and df."""
    if not len(lin.w) or not np.any(lin.w):
        return Calibrated(0.0, np.inf, 1.0, 0.0)
    key = b"".join(
        np.ascontiguousarray(a).tobytes() for a in (lin.o, lin.i, lin.c, lin.j, lin.base, lin.w, lin.r, lin.sd)
    ) + bytes([draws % 256, lin.seed % 256])
    if key in _cache:
        return _cache[key]
    # ids are small non-negative integers: one bincount per family (no sort) for the data's own variance
    x = lin.w * lin.r
    sums = [np.bincount(ids, weights=x) for ids in (lin.o, lin.i, lin.c)]
    v_o, v_i, v_c = (float(np.sum(z**2)) for z in sums)
    v = v_o + v_i - v_c if v_o + v_i - v_c > 0 else max(v_o, v_i)
    g_min = min(int(np.count_nonzero(np.bincount(lin.o))), int(np.count_nonzero(np.bincount(lin.i))))
    if g_min > LARGE_DESIGN or draws <= 0:
        return Calibrated(float(np.sqrt(v)), max(g_min - 1, 1), 1.0, v)
    cl = (_Clusters(lin.o), _Clusters(lin.i), _Clusters(lin.c))
    # the working model: overseer and item effects partly shared between conditions (ρ), judgment noise
    n_b = int(lin.base.max()) + 1
    split = (_Clusters(lin.o.astype(np.int64) * n_b + lin.base), _Clusters(lin.i.astype(np.int64) * n_b + lin.base))
    cl_j, cl_b = _Clusters(_canonical_judgments(lin)), _Clusters(lin.base)
    rho, v_true = [], 0.0
    for k, (whole, observed) in enumerate(((cl[0], v_o - v_c), (cl[1], v_i - v_c))):
        g = whole.n
        r, part = _shared(whole, split[k], lin.w * lin.sd[:, k], max(observed, 0.0) * g / max(g - 1, 1))
        rho.append(r)
        v_true += part
    v_true += float(np.sum(cl_j.sums(lin.w * lin.sd[:, 2]) ** 2))
    # E[V] and Var[V] under the working model, by simulation (residuals centred within each ratio, like the data)
    rng = np.random.default_rng(lin.seed)
    draws = min(draws, max(400, CALIBRATION_WORK // len(lin.w)))
    chunk = max(1, min(draws, CALIBRATION_CELLS // len(lin.w)))
    sims, devs = [], []
    for start in range(0, draws, chunk):
        b = min(chunk, draws - start)
        y = lin.sd[:, 2:3] * cl_j.spread(rng.standard_normal((cl_j.n, b), np.float32))
        for k in (0, 1):
            effect = np.sqrt(rho[k]) * cl[k].spread(rng.standard_normal((cl[k].n, b), np.float32))
            if rho[k] < 1:
                effect += np.sqrt(1 - rho[k]) * split[k].spread(rng.standard_normal((split[k].n, b), np.float32))
            y += lin.sd[:, k : k + 1] * effect
        devs.append(lin.w @ y)  # est − E[est] in this draw
        y -= cl_b.spread(cl_b.sums(y) / cl_b.counts[:, None])
        sims.append(_two_way(cl, lin.w[:, None] * y))
    sim, dev = np.concatenate(sims), np.concatenate(devs)
    mean = float(sim.mean())
    bias = v_true / mean if mean > 0 and v_true > 0 else 1.0
    # the t quantile the working model calls for (a parametric bootstrap-t): V can be small exactly when the
    # variance it subtracts (e.g. item difficulty that cancels in a within-overseer difference) is large, so
    # est / se has heavier tails than a Satterthwaite t; ν is the df whose t quantile matches.
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = np.abs(dev) / np.sqrt(bias * np.maximum(sim, 1e-300))
    df = _matching_df(float(np.quantile(t_star, 0.95)))
    out = Calibrated(float(np.sqrt(bias * v)), max(df, 1.0), bias, v)
    if len(_cache) > 256:
        _cache.clear()
    _cache[key] = out
    return out
