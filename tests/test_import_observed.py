"""The observed design: a study whose assignments come from data, through config, create, analyze and power."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sandwich.analysis.observed_power import build_observed_design
from sandwich.analysis.power import power_analysis
from sandwich.errors import StoreError
from sandwich.studyfile import validate_text

OBSERVED = """
study: obs
question: Does debate beat consultancy?
task: {kind: multiple-choice, source: "import:test"}
gold: {kind: dataset-label}
conditions:
  - {name: debate, assistance: [debate]}
  - {name: consultancy, assistance: [consultancy]}
overseers: {design: observed}
judgment: {confidence: [50, 60, 70, 80, 90, 100]}
preregistration:
  hypotheses:
    - {id: H1, compare: [debate, consultancy], metric: accuracy, alternative: greater, test: bootstrap}
simulation:
  non_expert: {skill: {debate: SKILL_D, consultancy: SKILL_C}, noise: 0.02}
"""


def _study(d: float = 0.9, c: float = 0.5):  # type: ignore[no-untyped-def]
    return validate_text(OBSERVED.replace("SKILL_D", str(d)).replace("SKILL_C", str(c)))


def test_observed_study_needs_no_names_or_plan_and_has_no_baseline() -> None:
    study = _study()
    assert study.overseers.design == "observed" and study.overseers.non_experts == []
    assert study.baseline_condition == "unassisted"  # no condition is unassisted: gap closed is not computed


def test_dealt_designs_still_need_overseers() -> None:
    from sandwich.errors import StudyFileError

    with pytest.raises(StudyFileError, match="non_experts"):
        validate_text(
            OBSERVED.replace("{design: observed}", "{design: between-subjects, items_per_overseer: 4}")
            .replace("SKILL_D", "0.9")
            .replace("SKILL_C", "0.5")
        )


def test_create_refuses_an_observed_study(tmp_path: Path) -> None:
    from sandwich.create import create_study
    from sandwich.studyfile import load_study

    f = tmp_path / "obs.yaml"
    f.write_text(OBSERVED.replace("SKILL_D", "0.9").replace("SKILL_C", "0.5"))
    with pytest.raises(StoreError, match="observed study takes its assignments from data"):
        create_study(load_study(f), tmp_path / "obs.duckdb")
    assert not (tmp_path / "obs.duckdb").exists()


# ana only ever judged debates, ben only consultancies, cy both: nothing balanced
INCIDENCE = (
    [("ana", f"i{n}", "debate") for n in range(6)]
    + [("ben", f"i{n}", "consultancy") for n in range(6)]
    + [("cy", "i1", "debate"), ("cy", "i7", "consultancy")]
)


def test_simulated_overseers_keep_each_real_overseers_mix() -> None:
    d = build_observed_design(_study(), INCIDENCE, 30, 8, seed=1)
    assert len(d.overseer) == 240 and d.groups == ["debate", "consultancy"]
    mixes = {tuple(sorted(set(d.group[d.overseer == o].tolist()))) for o in range(30)}
    assert (0,) in mixes and (1,) in mixes  # debate-only and consultancy-only overseers survive
    for o in range(30):  # no overseer judges an item twice
        items = d.item[d.overseer == o]
        assert len(set(items.tolist())) == len(items)
    # an item is judged about as often as in the data (14 judgments of 7 items)
    assert abs(len(d.overseer) / len(d.items) - 14 / 7) < 0.1


def test_power_on_unbalanced_incidence_tracks_the_effect() -> None:
    strong = power_analysis(_study(0.95, 0.5), [12], [16], sims=30, seed=3, incidence=INCIDENCE)
    null = power_analysis(_study(0.7, 0.7), [12], [16], sims=30, seed=3, incidence=INCIDENCE)
    assert strong.power["H1"][0, 0] >= 0.8
    assert null.power["H1"][0, 0] <= 0.2
    assert np.isfinite(strong.power["H1"]).all()
