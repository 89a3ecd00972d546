"""Calibration of overseers' confidences: Brier score, ECE and reliability-diagram bins.

Confidence is the overseer's stated probability that their chosen answer is
right. Bins are the study's own confidence levels (the scale is discrete), so
no binning choice hides or invents miscalibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Reliability:
    """Per confidence level: how many judgments and how many of them were right."""

    levels: np.ndarray     # stated confidence (0..1)
    counts: np.ndarray
    accuracy: np.ndarray   # observed share correct at that level

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
