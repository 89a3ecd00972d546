"""The report checks the sandwich's premise: model alone between unassisted non-experts and experts."""

from __future__ import annotations

import numpy as np

from sandwich.analysis.bootstrap import Draws, interval
from sandwich.analysis.metrics import Sandwich, SandwichRow, premise_check


def _row(label: str, kind: str, acc: float) -> SandwichRow:
    rng = np.random.default_rng(0)
    d = Draws(
        acc, acc + rng.normal(0, 0.02, 200), acc + rng.normal(0, 0.01, 200), acc + rng.normal(0, 0.01, 200), 8, 24
    )
    return SandwichRow(label, kind, interval(d, bounds=(0.0, 1.0)))


def _sandwich(model: float, base: float, expert: float) -> Sandwich:
    return Sandwich(
        [
            _row("model alone", "model", model),
            _row("unassisted", "unassisted", base),
            _row("experts", "expert", expert),
        ],
        None,
        False,
    )


def test_a_model_between_non_experts_and_experts_passes_silently() -> None:
    assert premise_check(_sandwich(0.7, 0.55, 0.9), ["A", "B", "A", "C"]) == []


def test_a_constant_base_rate_model_below_non_experts_is_flagged() -> None:
    notes = premise_check(_sandwich(0.5, 0.6, 0.9), ["correct"] * 24, "smollm2")
    assert any("same answer, 'correct', to all 24 items" in n for n in notes)
    assert any("model alone (50.0%) is not above unassisted non-experts (60.0%)" in n for n in notes)


def test_a_model_above_experts_and_a_missing_model_are_flagged() -> None:
    assert any("not below the experts" in n for n in premise_check(_sandwich(0.95, 0.6, 0.9), ["A", "B"]))
    no_model = Sandwich([_row("unassisted", "unassisted", 0.6), _row("experts", "expert", 0.9)], None, False)
    assert any("Premise check not done" in n for n in premise_check(no_model, None))
