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
Imbens & Kolesár (2016, REStat 98:701) propose, against a working model — here crossed
random effects, y_j = σ_o·a_overseer + σ_i·b_item + σ_e·e_j, with the three variance
components estimated by moments from the same residuals:
  * bias:  k = (true variance of est) / E[V]       (the CR2 idea: undo the downward bias)
  * df:    ν = 2 E[V]² / Var[V]                      (Satterthwaite)
and the interval is est ± t_ν · √(k · V). E[V] and Var[V] under the working model are
computed by simulating it (seeded, `CALIBRATION_DRAWS` draws; the true variance in closed
form), so the same code covers every design (within, between, unbalanced observational)
and every smooth statistic. `benchmarks/validity_grid.py` checks the coverage.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import stats

CALIBRATION_DRAWS = 400        # working-model simulations per interval (E[V] to ~±3%, ν to ~±10%)
CALIBRATION_CELLS = 20_000_000  # terms × draws per chunk of the simulation (memory bound)
LARGE_DESIGN = 200             # clusters in the smallest dimension above which calibration is skipped (k≈1, t≈z)

_base_ids = itertools.count()


@dataclass(frozen=True)
class Linear:
    """First-order expansion of a statistic: est ≈ const + Σ_terms w · y. One term per (judgment, ratio).

    Ids are shared by every statistic of one analysis, so a difference of two conditions keeps the
    covariance that shared overseers and items induce."""

    o: np.ndarray      # overseer id of each term
    i: np.ndarray      # item id
    c: np.ndarray      # cell (overseer × item) id
    j: np.ndarray      # judgment id (judgment-level noise)
    base: np.ndarray   # id of the ratio statistic the term belongs to (residuals are centred within it)
    w: np.ndarray      # ∂ est / ∂ y_j
    r: np.ndarray      # residual: y_j − the ratio's estimate
    sd: np.ndarray     # (terms, 3) working-model standard deviations: overseer, item, judgment noise
    seed: int = 0

    @staticmethod
    def empty() -> Linear:
        """A statistic known without sampling error."""
        z, zi = np.zeros(0), np.zeros(0, np.int64)
        return Linear(zi, zi, zi, zi, zi, z, z, np.zeros((0, 3)))

    @staticmethod
    def ratio(o: np.ndarray, i: np.ndarray, c: np.ndarray, j: np.ndarray, y: np.ndarray,
              seed: int = 0) -> Linear:
        """The mean of `y` over these judgments (a ratio Σy / n), with its working-model components."""
        n = len(y)
        est = float(y.mean()) if n else 0.0
        r = y - est
        return Linear(o, i, c, j, np.full(n, next(_base_ids)), np.full(n, 1.0 / max(n, 1)), r,
                      np.tile(np.sqrt(variance_components(o, i, c, r)), (n, 1)), seed)

    def scaled(self, g: float) -> Linear:
        """The expansion of g · statistic."""
        return Linear(self.o, self.i, self.c, self.j, self.base, self.w * g, self.r, self.sd, self.seed)

    @staticmethod
    def concat(parts: list[Linear]) -> Linear:
        """The expansion of a sum of statistics."""
        parts = [p for p in parts if len(p.w)]
        if not parts:
            return Linear.empty()
        cat = [np.concatenate([getattr(p, f) for p in parts]) for f in ("o", "i", "c", "j", "base", "w", "r")]
        return Linear(*cat, np.vstack([p.sd for p in parts]), parts[0].seed)


def variance_components(o: np.ndarray, i: np.ndarray, c: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Moment estimates (σ²_overseer, σ²_item, σ²_noise) of crossed random effects from residuals `r`.

    With T_x = Σ_clusters (Σ r)², E[T_o − T_cells] = σ²_o (Σ n_o² − Σ n_cell²) and likewise for items
    (Henderson's method 3 in spirit); each is scaled by G/(G−1) for the centring, clipped at 0."""
    n = len(r)
    if n < 2:
        return np.array([0.0, 0.0, float(np.mean(r**2)) if n else 0.0])
    tot = float(np.mean(r**2))

    def t_and_n2(ids: np.ndarray) -> tuple[float, float, int]:
        _, inv, counts = np.unique(ids, return_inverse=True, return_counts=True)
        return float(np.sum(np.bincount(inv, weights=r) ** 2)), float(np.sum(counts.astype(float) ** 2)), len(counts)

    t_c, n2_c, _ = t_and_n2(c)
    out = []
    for ids in (o, i):
        t_x, n2_x, g = t_and_n2(ids)
        s2 = (t_x - t_c) / (n2_x - n2_c) if n2_x > n2_c else 0.0
        out.append(max(s2, 0.0) * (g / (g - 1) if g > 1 else 1.0))
    s_o, s_i = out
    s_e = max(tot - s_o - s_i, 0.1 * tot)
    return np.array([s_o, s_i, s_e])


@dataclass(frozen=True)
class Calibrated:
    """A calibrated standard error: se = √(k · V) on ν degrees of freedom."""

    se: float
    df: float
    k: float           # bias correction applied to the variance
    v: float           # the raw two-way cluster-robust variance (CGM 2011)

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


def _indicator(ids: np.ndarray) -> sp.csr_matrix:
    """(clusters × terms) 0/1 matrix: which term falls in which cluster."""
    _, inv = np.unique(ids, return_inverse=True)
    return sp.csr_matrix((np.ones(len(ids)), (inv, np.arange(len(ids)))), shape=(int(inv.max()) + 1, len(ids)))


def _two_way(ind: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix], x: np.ndarray) -> np.ndarray:
    """CGM two-way variance of Σ x (x: terms or terms × draws), falling back to the larger one-way one if ≤ 0."""
    v_o, v_i, v_c = (np.asarray((m @ x) ** 2).sum(axis=0) for m in ind)
    v = v_o + v_i - v_c
    return np.where(v > 0, v, np.maximum(v_o, v_i))


def calibrate(lin: Linear, draws: int = CALIBRATION_DRAWS) -> Calibrated:
    """Two-way cluster-robust variance of the statistic, with its working-model bias factor and df."""
    if not len(lin.w) or not np.any(lin.w):
        return Calibrated(0.0, np.inf, 1.0, 0.0)
    ind = (_indicator(lin.o), _indicator(lin.i), _indicator(lin.c))
    v = float(_two_way(ind, lin.w * lin.r))
    g_min = min(ind[0].shape[0], ind[1].shape[0])
    if g_min > LARGE_DESIGN or draws <= 0:
        return Calibrated(float(np.sqrt(v)), max(g_min - 1, 1), 1.0, v)
    # the true variance of est under the working model, in closed form
    ind_j = _indicator(lin.j)
    v_true = sum(float(np.sum((m @ (lin.w * lin.sd[:, k])) ** 2)) for k, m in enumerate((ind[0], ind[1], ind_j)))
    # E[V] and Var[V] under the working model, by simulation (residuals centred within each ratio, like the data)
    ind_b = _indicator(lin.base)
    n_b = np.asarray(ind_b.sum(axis=1)).ravel()
    rng = np.random.default_rng(lin.seed)
    chunk = max(1, min(draws, CALIBRATION_CELLS // len(lin.w)))
    sims = []
    for start in range(0, draws, chunk):
        b = min(chunk, draws - start)
        y = (lin.sd[:, 0:1] * (ind[0].T @ rng.standard_normal((ind[0].shape[0], b)))
             + lin.sd[:, 1:2] * (ind[1].T @ rng.standard_normal((ind[1].shape[0], b)))
             + lin.sd[:, 2:3] * (ind_j.T @ rng.standard_normal((ind_j.shape[0], b))))
        y -= ind_b.T @ ((ind_b @ y) / n_b[:, None])
        sims.append(_two_way(ind, lin.w[:, None] * y))
    sim = np.concatenate(sims)
    mean, var = float(sim.mean()), float(sim.var(ddof=1)) if len(sim) > 1 else 0.0
    k = v_true / mean if mean > 0 and v_true > 0 else 1.0
    df = 2 * mean**2 / var if var > 0 else float(max(g_min - 1, 1))
    return Calibrated(float(np.sqrt(k * v)), max(df, 1.0), k, v)
