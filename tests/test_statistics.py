"""Statistical tests of the platform itself: do its intervals and tests mean what they say?

Studies are simulated in memory with a known truth and analysed with the same
estimators `sandwich analyze` uses. The truth is additive on the probability
scale with bounded (uniform) random effects, so no probability is ever clipped:
    P(right | overseer o, item i, condition c) = mu_c + a_o + b_i + g_oc
with a, b, g mean-zero. The estimand "true accuracy of condition c" is then
exactly mu_c — the mean over the overseer AND item populations — and the true
gap closed against gold (= 100%) is (mu_assisted - mu_unassisted) / (1 - mu_unassisted).
Design: within-subjects, counterbalanced — overseer o judges every item, item i
under condition (o + i) mod 2. The coverage/size tests use the crossed random-effects
logistic designs of benchmarks/validity_grid.py (sandwich/analysis/validity.py), with
tolerances of ±3 Monte-Carlo standard errors. Seeded.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from scipy.stats import t as stdt

from sandwich.analysis.aggregation import aggregate
from sandwich.analysis.bootstrap import Draws, bootstrap_sums, cell_sums, interval
from sandwich.analysis.data import JudgmentTable
from sandwich.analysis.hypotheses import bootstrap_p, permutation_test
from sandwich.analysis.validity import INTERVALS, TESTS, Truth, analyse, grid, simulate


def crossed_study(
    rng: np.random.Generator,
    *,
    overseers: int,
    items: int,
    mu: tuple[float, float],
    overseer_spread: float = 0.1,
    item_spread: float = 0.15,
    interaction: float = 0.05,
) -> JudgmentTable:
    """One simulated two-condition study with known population accuracies `mu`."""
    a = rng.uniform(-overseer_spread, overseer_spread, overseers)
    b = rng.uniform(-item_spread, item_spread, items)
    g_oc = rng.uniform(-interaction, interaction, (overseers, 2))
    o, i = (x.ravel() for x in np.meshgrid(np.arange(overseers), np.arange(items), indexing="ij"))
    cond = (o + i) % 2
    p = np.asarray(mu)[cond] + a[o] + b[i] + g_oc[o, cond]
    assert p.min() > 0 and p.max() < 1  # the estimand is exactly mu only without clipping
    right = (rng.random(len(p)) < p).astype(float)
    n = len(p)
    return JudgmentTable(
        [f"o{k}" for k in range(overseers)],
        [f"i{k}" for k in range(items)],
        ["unassisted", "assisted"],
        o,
        i,
        cond,
        right,
        np.full(n, np.nan),
        np.full(n, np.nan),
        np.zeros(overseers, dtype=np.int64),
        np.where(right == 1, "right", "wrong").astype(object),
    )


def _within_tolerance(hits: np.ndarray, target: float) -> tuple[float, float, float]:
    """Observed rate and the band target ± 3 Monte-Carlo standard errors (a false alarm 0.3% of the time)."""
    se = np.sqrt(target * (1 - target) / len(hits))
    return float(np.mean(hits)), target - 3 * se, target + 3 * se


@pytest.mark.parametrize(
    "design", [0, pytest.param(3, marks=pytest.mark.slow)], ids=["within 6x24", "between 4 per condition"]
)
def test_reported_intervals_cover_95_and_tests_keep_their_size_in_small_designs(design: int) -> None:
    # the smallest designs of benchmarks/validity_grid.py, where the old interval covered 97-99% and the
    # permutation test rejected a true null 0.6-2.8% of the time (item difficulty counted in every relabelling)
    d, truth = grid()[design], Truth()
    rng = np.random.default_rng(1000 + design)
    outs = [analyse(simulate(d, truth, rng), permutations=200, seed=s) for s in range(400)]
    values = truth.values()
    for k in INTERVALS:
        rate, lo, hi = _within_tolerance(np.array([o.ci[k][0] <= values[k] <= o.ci[k][1] for o in outs]), 0.95)
        print(f"{d.name}: coverage {k} {rate:.3f} (band {lo:.3f}-{hi:.3f})")
        assert lo <= rate <= hi, (k, rate)
    for name in TESTS:
        rate, lo, hi = _within_tolerance(np.array([o.p[name] < 0.05 for o in outs]), 0.05)
        print(f"{d.name}: type-I {name} {rate:.3f} (band {lo:.3f}-{hi:.3f})")
        assert lo <= rate <= hi, (name, rate)


def test_calibrated_interval_is_narrower_than_the_conservative_one_and_agrees_with_its_test() -> None:
    rng = np.random.default_rng(4)
    t = crossed_study(rng, overseers=12, items=48, mu=(0.6, 0.72))
    draws, _, _ = bootstrap_sums(cell_sums(t, ("accuracy",)), 400, seed=0)
    diff = Draws.combine(lambda x, y: x - y, draws[("assisted", "accuracy")], draws[("unassisted", "accuracy")])
    iv = interval(diff)
    assert iv.lo_conservative < iv.lo < iv.est < iv.hi < iv.hi_conservative
    assert 5 <= iv.df < 1000  # few overseers: a t quantile, not z
    p, _ = bootstrap_p(diff, "two-sided")
    # the bootstrap test is the interval's t test: p < 0.05 exactly when the 95% interval excludes 0
    assert (p < 0.05) == (iv.lo > 0 or iv.hi < 0)
    assert p == pytest.approx(2 * stdt.sf(abs(iv.est) / iv.se, iv.df))


def test_tests_have_power_when_the_effect_is_real() -> None:
    rng = np.random.default_rng(3)
    hits = sum(
        permutation_test(
            crossed_study(rng, overseers=16, items=48, mu=(0.5, 0.68)), 1, 0, "accuracy", "greater", 500, seed=s
        )[1]
        < 0.05
        for s in range(100)
    )
    assert hits >= 80


def test_dawid_skene_recovers_planted_overseer_reliabilities() -> None:
    rng = np.random.default_rng(5)
    n_o, n_i, per_item, k = 12, 400, 6, 3
    planted = np.linspace(0.3, 0.95, n_o)  # 0.33 is chance with three answers: the first ones are noise
    truth = rng.integers(0, k, n_i)
    o = np.concatenate([rng.choice(n_o, per_item, replace=False) for _ in range(n_i)])
    i = np.repeat(np.arange(n_i), per_item)
    right = rng.random(len(o)) < planted[o]
    answer = np.where(right, truth[i], (truth[i] + rng.integers(1, k, len(o))) % k)
    n = len(o)
    t = JudgmentTable(
        [f"o{x:02d}" for x in range(n_o)],
        [f"i{x}" for x in range(n_i)],
        ["unassisted"],
        o,
        i,
        np.zeros(n, dtype=np.int64),
        (answer == truth[i]).astype(float),
        np.full(n, np.nan),
        np.full(n, np.nan),
        np.zeros(n_o, dtype=np.int64),
        answer.astype(str).astype(object),
    )
    _, reliability = aggregate(t)
    est = np.array([r.ds_accuracy for r in sorted(reliability, key=lambda r: r.overseer)])
    rho = spearmanr(est, planted).statistic
    err = np.abs(est - planted)
    print(f"Dawid–Skene: spearman {rho:.3f}, mean |error| {err.mean():.3f}, max {err.max():.3f}")
    assert rho >= 0.9 and err.mean() <= 0.05 and err.max() <= 0.12
    verdict = {r.overseer: r.verdict for r in reliability}
    assert verdict["o00"] == "noise" and verdict["o11"] == "signal"


def test_studentized_permutation_statistic_uses_the_two_way_se_of_each_relabelling() -> None:
    from sandwich.analysis.hypotheses import permutation_labels
    from sandwich.analysis.robust import calibrate
    from sandwich.analysis.studentized import studentized_differences

    d = grid()[6]  # unbalanced, observational: overseers in one or both conditions, items recurring unevenly
    t = simulate(d, Truth(effect=0.4), np.random.default_rng(2))
    in_a = np.bincount(t.overseer[t.group == 1], minlength=len(t.overseers)) > 0
    in_b = np.bincount(t.overseer[t.group == 0], minlength=len(t.overseers)) > 0
    swap = permutation_labels(in_a, in_b, 3, np.random.default_rng(0))
    diff, stat = studentized_differences(t.correct, t.group == 1, t.overseer, t.item, swap)
    for p in range(len(swap)):
        relabelled = (t.group == 1) ^ swap[p][t.overseer]
        tp = JudgmentTable(
            t.overseers,
            t.items,
            t.groups,
            t.overseer,
            t.item,
            relabelled.astype(np.int64),
            t.correct,
            t.confidence,
            t.time,
            t.stratum,
            t.choice,
        )
        draws, _, _ = bootstrap_sums(cell_sums(tp, ("accuracy",)), 0, seed=0)
        dd = Draws.combine(lambda x, y: x - y, draws[("assisted", "accuracy")], draws[("unassisted", "accuracy")])
        assert diff[p] == pytest.approx(dd.est)
        assert dd.lin is not None
        assert stat[p] == pytest.approx(dd.est / np.sqrt(calibrate(dd.lin).v), rel=1e-6)


def test_a_small_between_design_enumerates_every_relabelling_exactly_once() -> None:
    """4 overseers per condition allow C(8, 4) = 70 relabellings: all of them, once each (observed first), so the
    p-value is exact — one-sided at least 1/70, two-sided 2/70 (a relabelling and its mirror image tie) — and
    the same whatever the permutation seed; before, 500 random draws estimated it with noise."""
    from sandwich.analysis.hypotheses import permutation_labels, permutation_test_floor

    d = grid()[3]
    assert d.name.startswith("between 4/cond")
    t = simulate(d, Truth(), np.random.default_rng(11))
    in_a = np.bincount(t.overseer[t.group == 1], minlength=len(t.overseers)) > 0
    swap = permutation_labels(in_a, ~in_a, 500, np.random.default_rng(0))
    assert swap.shape == (70, 8) and not swap[0].any() and len({r.tobytes() for r in swap}) == 70
    assert (swap[:, in_a].sum(1) == swap[:, ~in_a].sum(1)).all()  # 4 overseers in each condition every time
    for alt, floor in (("greater", 1 / 70), ("two-sided", 2 / 70)):
        runs = [permutation_test_floor(t, 1, 0, "accuracy", alt, 500, seed) for seed in (0, 1)]
        assert runs[0] == runs[1]
        _, p, min_p = runs[0]
        assert min_p == pytest.approx(floor) and round(p * 70) == pytest.approx(p * 70)
