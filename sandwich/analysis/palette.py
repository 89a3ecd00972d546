"""One colour per condition, the same in every plot of a report (sandwich, reliability, classifiers, risk–coverage).

Colours come from the Okabe–Ito palette (colour-blind safe; Okabe & Ito 2008). The rungs that are not
conditions have fixed colours: experts (and gold) green, the model alone grey. Conditions take the other
colours in the study's order, so the baseline (first, unassisted) condition is always vermillion and an
assisted condition never borrows it. A classifier's label source is drawn in its condition's colour
(`majority:explain` like `explain`).
"""

from __future__ import annotations

from collections.abc import Sequence

EXPERT_COLOUR = "#009E73"  # green
MODEL_COLOUR = "#7F7F7F"  # grey
FIXED = {"expert": EXPERT_COLOUR, "experts": EXPERT_COLOUR, "gold": EXPERT_COLOUR, "model": MODEL_COLOUR}
CONDITION_COLOURS = ["#D55E00", "#0072B2", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
"""Vermillion, blue, orange, reddish purple, sky blue, black, yellow — in the order conditions take them."""
REFERENCE = "#555555"  # reference lines (chance, perfect calibration, y = x)


def condition_of(name: str) -> str:
    """The condition a label source or group belongs to: 'majority:explain' → 'explain'."""
    return name.split(":", 1)[1] if ":" in name else name


def palette(conditions: Sequence[str]) -> dict[str, str]:
    """Colour of each condition (in study order) plus the fixed rungs. Cycles past seven conditions."""
    out = dict(FIXED)
    others = [c for c in dict.fromkeys(conditions) if c not in FIXED]
    for k, c in enumerate(others):
        out[c] = CONDITION_COLOURS[k % len(CONDITION_COLOURS)]
    return out


def colour(name: str, conditions: Sequence[str]) -> str:
    """The colour of a condition, rung or label source among a study's `conditions` (grey if unknown)."""
    return palette(conditions).get(condition_of(name), MODEL_COLOUR)
