"""Simulated studies with a known truth, to check that intervals cover and tests keep their level.

Judgments are drawn from a crossed random-effects logistic model (the usual model for
overseer × item data, e.g. Baayen, Davidson & Bates 2008):
    logit P(right | overseer o, item i, condition c) = β0 + δ·[c = assisted] + a_o + b_i + g_oc
    a_o ~ N(0, σ_o²) overseer ability,  b_i ~ N(0, σ_i²) item difficulty,  g_oc ~ N(0, σ_oc²)
    (assistance helps some overseers more than others).
The estimand "accuracy of condition c" is the population mean E_{o,i}[P(right)] (what the
report's accuracy estimates), computed by Gauss–Hermite quadrature; the difference and the
gap closed against gold (= 100%) follow from it. Designs are dealt by the platform's own
`assignment.plan` (within- and between-subjects) or drawn like an observational data set
(NYU debate: overseers judge very different numbers of items, popular items recur).
Each study is analysed with exactly the functions `sandwich analyze` calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from sandwich.analysis.bootstrap import Draws, _rescaled, bootstrap_sums, cell_sums, interval
from sandwich.analysis.data import JudgmentTable
from sandwich.analysis.hypotheses import test_hypothesis
from sandwich.analysis.metrics import gap_draws
from sandwich.assignment import plan
from sandwich.config import Hypothesis

CONDITIONS = ["unassisted", "assisted"]
INTERVALS = ("acc_unassisted", "acc_assisted", "difference", "gap_closed")
TESTS = ("permutation>", "permutation≠", "bootstrap>", "bootstrap≠")


@dataclass(frozen=True)
class Truth:
    """Parameters of the generating model (logit scale)."""

    base: float = 0.6  # β0: logit(0.646) — unassisted overseers right about 65% of the time on an average item
    effect: float = 0.0  # δ
    sd_overseer: float = 0.5  # σ_o: a 1-sd better overseer is right ~10 points more often
    sd_item: float = 1.0  # σ_i: items range from easy to hard
    sd_slope: float = 0.3  # σ_oc: overseer × condition

    def accuracy(self, condition: int) -> float:
        """Population accuracy of a condition: E[expit(β0 + δc + N(0, σ²))] by 40-point Gauss–Hermite."""
        x, w = np.polynomial.hermite_e.hermegauss(40)
        s = np.sqrt(self.sd_overseer**2 + self.sd_item**2 + self.sd_slope**2)
        return float(np.sum(w * expit(self.base + self.effect * condition + s * x)) / np.sum(w))

    def values(self) -> dict[str, float]:
        """The true value of each interval's estimand."""
        u, a = self.accuracy(0), self.accuracy(1)
        return {"acc_unassisted": u, "acc_assisted": a, "difference": a - u, "gap_closed": (a - u) / (1 - u)}


@dataclass(frozen=True)
class Design:
    """Who judges which item under which condition (index arrays, one entry per judgment)."""

    name: str
    overseer: np.ndarray
    item: np.ndarray
    condition: np.ndarray
    n_overseers: int
    n_items: int
    stratum: np.ndarray  # per overseer, for the pigeonhole bootstrap


def planned(kind: str, overseers: int, items_per_overseer: int) -> Design:
    """A design dealt by the platform's `plan` (2 conditions; the item pool it needs, no more)."""
    names = [f"o{k:03d}" for k in range(overseers)]
    pool = [f"i{k:04d}" for k in range(max(overseers // 2, 1) * items_per_overseer)]
    rows = plan(pool, CONDITIONS, names, items_per_overseer, design=kind, seed=1)
    o = np.array([names.index(r.overseer) for r in rows])
    cond = np.array([CONDITIONS.index(r.condition) for r in rows])
    strata = np.zeros(overseers, np.int64)
    if kind == "between-subjects":
        strata[o] = cond + 2
    label = (
        f"within {overseers}×{items_per_overseer}"
        if kind == "within-subjects"
        else f"between {overseers // 2}/cond ×{items_per_overseer}"
    )
    return Design(label, o, np.array([pool.index(r.item_id) for r in rows]), cond, overseers, len(pool), strata)


def observational(seed: int = 7, overseers: int = 20, items: int = 150) -> Design:
    """NYU-debate-like: judgments per overseer from 3 to ~70 (log-normal), items drawn by popularity
    (gamma weights, so some recur 5+ times and many once), each overseer's share of the assisted condition
    drawn from Beta(2, 2) — who saw which condition was not randomised per item."""
    rng = np.random.default_rng(seed)
    counts = np.clip(np.round(rng.lognormal(np.log(15), 0.8, overseers)), 3, 70).astype(int)
    pop = rng.gamma(0.7, size=items)
    share = rng.beta(2, 2, overseers)
    o, i, c = [], [], []
    for k, n in enumerate(counts):
        chosen = rng.choice(items, size=min(n, items), replace=False, p=pop / pop.sum())
        o += [k] * len(chosen)
        i += list(chosen)
        c += list((rng.random(len(chosen)) < share[k]).astype(int))
    return Design(
        f"observational {overseers} (NYU-like)",
        np.array(o),
        np.array(i),
        np.array(c),
        overseers,
        items,
        np.zeros(overseers, np.int64),
    )


def grid() -> list[Design]:
    """The designs of `benchmarks/validity_grid.py`."""
    return [
        planned("within-subjects", 6, 24),
        planned("within-subjects", 8, 24),
        planned("within-subjects", 12, 24),
        planned("between-subjects", 8, 24),
        planned("between-subjects", 20, 24),
        planned("between-subjects", 80, 24),
        observational(),
    ]


def simulate(d: Design, truth: Truth, rng: np.random.Generator) -> JudgmentTable:
    """One study on design `d` under `truth`."""
    a = truth.sd_overseer * rng.standard_normal(d.n_overseers)
    b = truth.sd_item * rng.standard_normal(d.n_items)
    g = truth.sd_slope * rng.standard_normal((d.n_overseers, 2))
    eta = truth.base + truth.effect * d.condition + a[d.overseer] + b[d.item] + g[d.overseer, d.condition]
    right = (rng.random(len(eta)) < expit(eta)).astype(float)
    n = len(right)
    return JudgmentTable(
        [f"o{k}" for k in range(d.n_overseers)],
        [f"i{k}" for k in range(d.n_items)],
        list(CONDITIONS),
        d.overseer,
        d.item,
        d.condition,
        right,
        np.full(n, np.nan),
        np.full(n, np.nan),
        d.stratum,
        np.where(right == 1, "right", "wrong").astype(object),
    )


@dataclass
class StudyOutcome:
    """One simulated study: per interval (lo, hi) as reported and as before (rescaled pigeonhole); p per test."""

    ci: dict[str, tuple[float, float]]
    before: dict[str, tuple[float, float]]
    p: dict[str, float]


def analyse(t: JudgmentTable, *, replicates: int = 0, permutations: int = 1000, seed: int = 0) -> StudyOutcome:
    """The report's intervals and tests for one study, computed by `sandwich analyze`'s own functions."""
    draws, _, _ = bootstrap_sums(cell_sums(t, ("accuracy",)), replicates, seed)
    u, a = draws[("unassisted", "accuracy")], draws[("assisted", "accuracy")]
    stats = {
        "acc_unassisted": u,
        "acc_assisted": a,
        "difference": Draws.combine(lambda x, y: x - y, a, u),
        "gap_closed": gap_draws(draws, "assisted", "unassisted", replicates),
    }
    ci, before = {}, {}
    for k, dr in stats.items():
        iv = interval(dr)
        ci[k] = (iv.lo, iv.hi)
        if replicates >= 10 and np.isfinite(dr.est):
            lo, hi, _, _ = _rescaled(dr, 0.95)
            before[k] = (lo, hi)
    p = {}
    for name in TESTS:
        test, alt = name[:-1], {">": "greater", "≠": "two-sided"}[name[-1]]
        h = Hypothesis(id="H", compare=["assisted", "unassisted"], alternative=alt, test=test)
        p[name] = test_hypothesis(
            h, "confirmatory", t, draws, "unassisted", replicates, permutations=permutations, seed=seed
        ).p
    return StudyOutcome(ci, before, p)
