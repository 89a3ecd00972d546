"""Parametric overseers: right with probability `skill`, plus spread between overseers and items.

A simulated overseer's chance of being right on an item under a condition is
    skill[condition] (or skill['default']) + noise * z_overseer + ITEM_SPREAD * z_item,
clipped to [0.02, 0.98]. Wrong answers pick another choice at random; `bias`
tilts answers towards the first choice (bias > 0: with probability bias the
first choice is given whatever the truth; bias < 0: a non-first choice).
Confidence is informative and roughly calibrated: the overseer's own chance of
being right, nudged up when right and down when wrong, plus noise, snapped to
the study's scale. The same `draw` serves the database runner and the in-memory
simulations behind `sandwich power`. This is a simulation of skill, not of
people: everything it writes is labelled synthetic.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from sandwich.config import SimulatedOverseer

ITEM_SPREAD = 0.08  # spread of item difficulty (probability scale)
CONF_SIGNAL = 0.12  # how much being right shows in the stated confidence
CONF_NOISE = 0.08


def stable_seed(*parts: object) -> list[int]:
    """A seed sequence from names (stable across runs and Python processes)."""
    return [zlib.crc32(str(p).encode()) for p in parts]


def skill_for(profile: SimulatedOverseer, condition: str) -> float:
    """The profile's chance of being right under a condition."""
    return float(profile.skill.get(condition, profile.skill.get("default", 0.6)))


def overseer_offset(profile: SimulatedOverseer, name: str, seed: int) -> float:
    """This overseer's fixed skill offset (spread `noise` between overseers)."""
    return float(profile.noise * np.random.default_rng(stable_seed(seed, "overseer", name)).standard_normal())


def item_offset(item_id: str, seed: int) -> float:
    """This item's fixed difficulty offset, shared by every overseer."""
    return float(ITEM_SPREAD * np.random.default_rng(stable_seed(seed, "item", item_id)).standard_normal())


def draw(
    rng: np.random.Generator,
    p_correct: np.ndarray,
    truth: np.ndarray,
    n_choices: np.ndarray,
    *,
    bias: float,
    scale: Sequence[int],
    seconds: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised judgments: (choice index, confidence on the scale, seconds on item)."""
    p = np.clip(p_correct, 0.02, 0.98)
    n = len(p)
    right = rng.random(n) < p
    other = (truth + rng.integers(1, np.maximum(n_choices, 2))) % n_choices
    choice = np.where(right, truth, other)
    tilt = rng.random(n) < abs(bias)
    if bias > 0:
        choice = np.where(tilt, 0, choice)
    elif bias < 0:
        choice = np.where(tilt, 1 + rng.integers(0, np.maximum(n_choices - 1, 1)), choice)
    right = choice == truth
    felt = p + np.where(right, CONF_SIGNAL, -CONF_SIGNAL) + CONF_NOISE * rng.standard_normal(n)
    levels = np.asarray(scale, dtype=float) / 100.0
    confidence = np.asarray(scale)[np.abs(felt[:, None] - levels[None, :]).argmin(axis=1)]
    time = seconds * rng.lognormal(0.0, 0.35, n)
    return choice, confidence, time
