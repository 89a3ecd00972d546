"""ECE that does not punish a perfectly calibrated overseer on a fine confidence scale, with an interval."""

from __future__ import annotations

import numpy as np

from sandwich.analysis.calibration import ece_interval, reliability


def _overseers(rng: np.random.Generator, n: int, truth: np.ndarray | float, conf: np.ndarray) -> tuple[np.ndarray,
                                                                                                        ...]:
    y = (rng.random(n) < truth).astype(float)
    return conf, y, rng.integers(0, 10, n)


def test_perfect_calibration_on_a_fine_scale_scores_near_zero_and_its_interval_says_so() -> None:
    rng = np.random.default_rng(0)
    conf = rng.integers(50, 101, 300) / 100           # 51 levels, about 6 judgments each
    c, y, o = _overseers(rng, 300, conf, conf)        # right exactly as often as stated
    old = reliability(c, y).ece                       # per-level binning: sampling noise read as miscalibration
    est, lo, hi = ece_interval(c, y, o, seed=1)
    assert old > 0.10
    assert est < 0.06 and lo <= 0.03 and lo <= est <= hi


def test_an_overconfident_overseer_is_still_caught() -> None:
    rng = np.random.default_rng(1)
    c, y, o = _overseers(rng, 300, 0.6, np.full(300, 0.9))   # says 90%, right 60% of the time
    est, lo, hi = ece_interval(c, y, o, seed=1)
    assert abs(est - 0.3) < 0.06 and lo > 0.2 and hi < 0.4
