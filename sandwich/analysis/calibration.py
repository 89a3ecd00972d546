"""Calibration of overseers' confidences: Brier score, ECE and reliability-diagram bins.

Confidence is the overseer's stated probability that their chosen answer is
right. The reliability diagram shows the study's own confidence levels. The
reported ECE does not bin by level: on a fine scale (say 50–100 in steps of 1)
each level holds a handful of judgments and their sampling noise alone makes a
perfectly calibrated overseer look miscalibrated. It uses the monotonic
equal-mass sweep (ECE_sweep; Roelofs, Cain, Shlens & Mozer 2022, "Mitigating
bias in calibration error estimation", AISTATS): the most equal-mass bins for
which accuracy still rises with confidence. Its 95% interval comes from
resampling overseers (the unit whose judgments are correlated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# replicates for the ECE interval (a cluster bootstrap over overseers; ECE is not a ratio of cell sums)
ECE_REPLICATES = 400
# the sweep stops here at the latest: more bins than this only add noise and cost
MAX_BINS = 50


@dataclass
class Reliability:
    """Per confidence level: how many judgments and how many of them were right."""

    levels: np.ndarray  # stated confidence (0..1)
    counts: np.ndarray
    accuracy: np.ndarray  # observed share correct at that level

    @property
    def ece(self) -> float:
        """Expected calibration error: count-weighted |confidence - accuracy| over levels."""
        n = self.counts.sum()
        return float(np.sum(self.counts * np.abs(self.levels - self.accuracy)) / n) if n else float("nan")


def reliability(confidence: np.ndarray, correct: np.ndarray) -> Reliability:
    """Group judgments by stated confidence level (NaNs dropped)."""
    ok = np.isfinite(confidence) & np.isfinite(correct)
    c, y = np.round(confidence[ok], 4), correct[ok]
    levels, inv = np.unique(c, return_inverse=True)
    counts = np.bincount(inv, minlength=len(levels)).astype(float)
    hits = np.bincount(inv, weights=y, minlength=len(levels))
    with np.errstate(invalid="ignore", divide="ignore"):
        return Reliability(levels, counts, hits / counts)


def brier(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Mean squared gap between stated confidence and being right (lower is better)."""
    ok = np.isfinite(confidence) & np.isfinite(correct)
    return float(np.mean((confidence[ok] - correct[ok]) ** 2)) if ok.any() else float("nan")


def ece_from_sums(level_counts: np.ndarray, level_hits: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """ECE from per-level counts and hits; works on stacked arrays (..., levels) for permutations."""
    n = level_counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(level_counts > 0, level_hits / level_counts, 0.0)
        return np.sum(level_counts * np.abs(levels - acc), axis=-1) / n


def _edges(c: np.ndarray, bins: int) -> np.ndarray:
    """Equal-mass bin edges over sorted confidences, each moved to the nearest boundary between distinct values:
    judgments with the same stated confidence always share a bin (so no bin depends on the rows' order)."""
    n = len(c)
    out = []
    for e in np.linspace(0, n, bins + 1).astype(int)[1:-1]:
        lo, hi = np.searchsorted(c, c[e], "left"), np.searchsorted(c, c[e], "right")
        out.append(lo if e - lo <= hi - e else hi)
    return np.unique([0, *out, n])


def ece_sweep(confidence: np.ndarray, correct: np.ndarray) -> float:
    """ECE with equal-mass bins, as many as keep bin accuracy monotone in confidence (Roelofs et al. 2022).

    Bins never split one stated confidence level. Shapes: two (n,) arrays, confidence in 0..1, correct 1/0
    (NaNs dropped). Returns a share in 0..1, NaN when there is nothing to score.
    """
    ok = np.isfinite(confidence) & np.isfinite(correct)
    c, y = confidence[ok], correct[ok]
    n = len(c)
    if not n:
        return float("nan")
    order = np.argsort(c, kind="stable")
    c, y = c[order], y[order]
    best = np.array([0, n])
    for b in range(2, min(n, MAX_BINS) + 1):
        edges = _edges(c, b)
        edges = edges[edges < n]
        acc = np.add.reduceat(y, edges) / np.diff(np.append(edges, n))
        if np.any(np.diff(acc) < 0):
            break
        best = np.append(edges, n)
    sizes = np.diff(best)
    gap = np.abs(np.add.reduceat(c, best[:-1]) - np.add.reduceat(y, best[:-1])) / sizes
    return float(np.sum(sizes * gap) / n)


def ece_interval(
    confidence: np.ndarray, correct: np.ndarray, overseer: np.ndarray, seed: int = 0, replicates: int = ECE_REPLICATES
) -> tuple[float, float, float]:
    """ECE_sweep with a 95% percentile interval from resampling overseers with replacement.

    Returns (estimate, lo, hi); lo/hi are NaN with fewer than two overseers (one overseer's judgments are not
    independent, so resampling them would understate the uncertainty).
    """
    ok = np.isfinite(confidence) & np.isfinite(correct)
    c, y, o = confidence[ok], correct[ok], overseer[ok]
    est = ece_sweep(c, y)
    who = np.unique(o)
    if len(who) < 2 or not np.isfinite(est):
        return est, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    rows = [np.flatnonzero(o == w) for w in who]
    reps = []
    for _ in range(replicates):
        idx = np.concatenate([rows[k] for k in rng.integers(0, len(who), len(who))])
        reps.append(ece_sweep(c[idx], y[idx]))
    lo, hi = np.quantile(reps, [0.025, 0.975])
    return est, float(lo), float(hi)
