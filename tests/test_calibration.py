"""ECE that does not punish a perfectly calibrated overseer on a fine confidence scale, with an interval."""

from __future__ import annotations

import numpy as np
import pytest

from sandwich.analysis.bootstrap import Draws, bootstrap_sums, cell_sums
from sandwich.analysis.calibration import ece_interval, reliability
from sandwich.analysis.data import JudgmentTable
from sandwich.analysis.hypotheses import test_hypothesis as run_hypothesis
from sandwich.analysis.metrics import summarize
from sandwich.config import Hypothesis


def _overseers(rng: np.random.Generator, n: int, truth: np.ndarray | float, conf: np.ndarray) -> tuple[np.ndarray, ...]:
    y = (rng.random(n) < truth).astype(float)
    return conf, y, rng.integers(0, 10, n)


def test_perfect_calibration_on_a_fine_scale_scores_near_zero_and_its_interval_says_so() -> None:
    rng = np.random.default_rng(0)
    conf = rng.integers(50, 101, 300) / 100  # 51 levels, about 6 judgments each
    c, y, o = _overseers(rng, 300, conf, conf)  # right exactly as often as stated
    old = reliability(c, y).ece  # per-level binning: sampling noise read as miscalibration
    est, lo, hi = ece_interval(c, y, o, seed=1)
    assert old > 0.10
    assert est < 0.06 and lo <= 0.03 and lo <= est <= hi


def test_an_overconfident_overseer_is_still_caught() -> None:
    rng = np.random.default_rng(1)
    c, y, o = _overseers(rng, 300, 0.6, np.full(300, 0.9))  # says 90%, right 60% of the time
    est, lo, hi = ece_interval(c, y, o, seed=1)
    assert abs(est - 0.3) < 0.06 and lo > 0.2 and hi < 0.4


def _two_conditions(rng: np.random.Generator, fine: np.ndarray, coarse: np.ndarray) -> JudgmentTable:
    """10 overseers judge 30 items under a fine-scale condition and 30 under a coarse-scale one; both are right
    exactly as often as they say."""
    n_a, n_b = len(fine), len(coarse)
    conf = np.concatenate([fine, coarse])
    y = (rng.random(n_a + n_b) < conf).astype(float)
    o = np.concatenate([np.arange(n_a) % 10, np.arange(n_b) % 10])
    items = np.arange(n_a + n_b)
    group = np.concatenate([np.zeros(n_a, int), np.ones(n_b, int)])
    n = n_a + n_b
    return JudgmentTable(
        [f"o{k}" for k in range(10)],
        [f"i{k}" for k in items],
        ["fine", "coarse"],
        o,
        items,
        group,
        y,
        conf,
        np.full(n, 30.0),
        np.zeros(10, np.int64),
        np.full(n, "A", dtype=object),
    )


def test_ece_hypothesis_tests_the_reported_ece_not_per_level_bins() -> None:
    """Both conditions are perfectly calibrated; one uses a 1-point scale (51 levels, ~6 judgments each). Binned by
    level, the fine one looks ~0.1 worse and an "H: fine is worse" test rejected; with the reported estimator (the
    equal-mass sweep) the estimate is the per-condition table's difference and the test does not reject."""
    rng = np.random.default_rng(3)
    fine = rng.integers(50, 101, 300) / 100
    coarse = rng.choice([0.6, 0.75, 0.9], 300)
    t = _two_conditions(rng, fine, coarse)
    a, b = t.group == 0, t.group == 1
    assert reliability(t.confidence[a], t.correct[a]).ece - reliability(t.confidence[b], t.correct[b]).ece > 0.05
    h = Hypothesis(id="E", compare=["fine", "coarse"], metric="ece", alternative="greater")
    r = run_hypothesis(h, "confirmatory", t, {}, "coarse", 0, permutations=400, seed=1)
    reported = {g.group: g.ece for g in summarize(t, _accuracy_draws(t), seed=1)}
    assert r.estimate == pytest.approx(reported["fine"] - reported["coarse"], abs=1e-12)
    assert abs(r.estimate) < 0.04
    assert r.p > 0.05 and r.verdict == "not supported"
    assert r.lo <= r.estimate and r.hi == 1.0 and r.interval.startswith("one-sided")


def test_ece_hypothesis_still_catches_an_overconfident_condition() -> None:
    rng = np.random.default_rng(4)
    t = _two_conditions(rng, np.full(300, 0.9), rng.choice([0.6, 0.75, 0.9], 300))
    t.correct[:300] = (rng.random(300) < 0.6).astype(float)  # says 90%, right 60% of the time
    h = Hypothesis(id="E", compare=["fine", "coarse"], metric="ece", alternative="greater")
    r = run_hypothesis(h, "confirmatory", t, {}, "coarse", 0, permutations=400, seed=1)
    assert 0.2 < r.estimate < 0.4 and r.p < 0.01 and r.verdict == "supported" and r.lo > 0.15


def _accuracy_draws(t: JudgmentTable) -> dict[tuple[str, str], Draws]:
    draws, _, _ = bootstrap_sums(cell_sums(t, ("accuracy",)), 0, 0)
    return draws
