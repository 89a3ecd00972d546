"""Statistical tests of the platform itself: do its intervals and tests mean what they say?

Studies are simulated in memory with a known truth and analysed with the same
estimators `sandwich analyze` uses. The truth is additive on the probability
scale with bounded (uniform) random effects, so no probability is ever clipped:
    P(right | overseer o, item i, condition c) = mu_c + a_o + b_i + g_oc
with a, b, g mean-zero. The estimand "true accuracy of condition c" is then
exactly mu_c — the mean over the overseer AND item populations — and the true
gap closed against gold (= 100%) is (mu_assisted - mu_unassisted) / (1 - mu_unassisted).
Design: within-subjects, counterbalanced — overseer o judges every item, item i
under condition (o + i) mod 2. Seeded; each test takes seconds.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from sandwich.analysis.aggregation import aggregate
from sandwich.analysis.bootstrap import Draws, bootstrap_sums, cell_sums, interval
from sandwich.analysis.data import JudgmentTable
from sandwich.analysis.hypotheses import bootstrap_p, permutation_test
from sandwich.analysis.metrics import gap_draws


def crossed_study(rng: np.random.Generator, *, overseers: int, items: int, mu: tuple[float, float],
                  overseer_spread: float = 0.1, item_spread: float = 0.15, interaction: float = 0.05) -> JudgmentTable:
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
    return JudgmentTable([f"o{k}" for k in range(overseers)], [f"i{k}" for k in range(items)],
                         ["unassisted", "assisted"], o, i, cond, right, np.full(n, np.nan), np.full(n, np.nan),
                         np.zeros(overseers, dtype=np.int64), np.where(right == 1, "right", "wrong").astype(object))


def test_two_way_bootstrap_intervals_cover_accuracy_and_gap_closed() -> None:
    rng = np.random.default_rng(20261122)
    mu = (0.6, 0.7)
    truth = {"unassisted": mu[0], "assisted": mu[1], "gap": (mu[1] - mu[0]) / (1 - mu[0])}
    studies, replicates = 1000, 400   # 1000 (not 500): the coverage estimate then has SE 0.7 points
    hits = {k: 0 for k in truth}
    plain = {k: 0 for k in truth}
    for s in range(studies):
        t = crossed_study(rng, overseers=40, items=80, mu=mu)
        draws, _, _ = bootstrap_sums(cell_sums(t, ("accuracy",)), replicates, seed=s)
        ivs = {"unassisted": interval(draws[("unassisted", "accuracy")]),
               "assisted": interval(draws[("assisted", "accuracy")]),
               "gap": interval(gap_draws(draws, "assisted", "unassisted", replicates))}
        for k, iv in ivs.items():
            hits[k] += iv.lo <= truth[k] <= iv.hi
            plain[k] += iv.lo_conservative <= truth[k] <= iv.hi_conservative
    coverage = {k: v / studies for k, v in hits.items()}
    print("coverage (corrected):", coverage, "plain pigeonhole:", {k: v / studies for k, v in plain.items()})
    for k, c in coverage.items():
        assert 0.93 <= c <= 0.97, (k, c)
    # the plain pigeonhole interval is the conservative one (it counts judgment noise ~3 times)
    assert all(plain[k] >= hits[k] for k in truth)


def test_permutation_tests_keep_their_level_under_a_true_null() -> None:
    rng = np.random.default_rng(7)
    studies, alpha = 1000, 0.05
    rejected = {"greater": 0, "two-sided": 0}
    for s in range(studies):
        t = crossed_study(rng, overseers=16, items=48, mu=(0.65, 0.65), interaction=0.08)
        for alt in rejected:
            _, p = permutation_test(t, 1, 0, "accuracy", alt, 500, seed=s)
            rejected[alt] += p < alpha
    rates = {k: v / studies for k, v in rejected.items()}
    print("type-I rate (permutation):", rates)
    assert all(r <= alpha + 0.01 for r in rates.values()), rates


def test_bootstrap_test_keeps_its_level_under_a_true_null() -> None:
    rng = np.random.default_rng(11)
    studies, alpha, rejected = 1000, 0.05, 0
    for s in range(studies):
        t = crossed_study(rng, overseers=16, items=48, mu=(0.65, 0.65), interaction=0.08)
        draws, _, _ = bootstrap_sums(cell_sums(t, ("accuracy",)), 200, seed=s)
        diff = Draws.combine(lambda x, y: x - y, draws[("assisted", "accuracy")], draws[("unassisted", "accuracy")])
        p, _ = bootstrap_p(diff, "greater")
        rejected += p < alpha
    print("type-I rate (bootstrap):", rejected / studies)
    assert rejected / studies <= alpha + 0.01


def test_tests_have_power_when_the_effect_is_real() -> None:
    rng = np.random.default_rng(3)
    hits = sum(permutation_test(crossed_study(rng, overseers=16, items=48, mu=(0.5, 0.68)), 1, 0, "accuracy",
                                "greater", 500, seed=s)[1] < 0.05 for s in range(100))
    assert hits >= 80


def test_dawid_skene_recovers_planted_overseer_reliabilities() -> None:
    rng = np.random.default_rng(5)
    n_o, n_i, per_item, k = 12, 400, 6, 3
    planted = np.linspace(0.3, 0.95, n_o)          # 0.33 is chance with three answers: the first ones are noise
    truth = rng.integers(0, k, n_i)
    o = np.concatenate([rng.choice(n_o, per_item, replace=False) for _ in range(n_i)])
    i = np.repeat(np.arange(n_i), per_item)
    right = rng.random(len(o)) < planted[o]
    answer = np.where(right, truth[i], (truth[i] + rng.integers(1, k, len(o))) % k)
    n = len(o)
    t = JudgmentTable([f"o{x:02d}" for x in range(n_o)], [f"i{x}" for x in range(n_i)], ["unassisted"], o, i,
                      np.zeros(n, dtype=np.int64), (answer == truth[i]).astype(float), np.full(n, np.nan),
                      np.full(n, np.nan), np.zeros(n_o, dtype=np.int64), answer.astype(str).astype(object))
    _, reliability = aggregate(t)
    est = np.array([r.ds_accuracy for r in sorted(reliability, key=lambda r: r.overseer)])
    rho = spearmanr(est, planted).statistic
    err = np.abs(est - planted)
    print(f"Dawid–Skene: spearman {rho:.3f}, mean |error| {err.mean():.3f}, max {err.max():.3f}")
    assert rho >= 0.9 and err.mean() <= 0.05 and err.max() <= 0.12
    verdict = {r.overseer: r.verdict for r in reliability}
    assert verdict["o00"] == "noise" and verdict["o11"] == "signal"
