"""Simulated overseers: LLM judges on the embedded model, parametric skill, and `sandwich power`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from db_sql import sql
from study_files import mc_rows, write_mc_study

from sandwich.analysis.power import power_analysis
from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.sim.runner import simulate_study
from sandwich.studyfile import load_study, validate_text

ROWS = mc_rows(12, answers="A")


def small_study(folder: Path, *, judged: int = 3, skill: str = "{default: 0.5}") -> Path:
    """Three overseers, three conditions, `judged` items each: small enough for a model on a CPU."""
    return write_mc_study(
        folder,
        name="tiny",
        rows=ROWS,
        items_per_overseer=3,
        judged_items=judged,
        conditions="""
  - {name: unassisted}
  - {name: consult, assistance: [consultancy]}
  - {name: debate, assistance: [debate]}""",
        assistant="{backend: embedded, max_tokens: 16}",
        judgment="{choices: item, confidence: [25, 50, 75, 100]}",
        extra=f"simulation:\n  non_expert: {{kind: llm, skill: {skill}}}\n",
    )


@pytest.mark.slow  # runs the embedded SmolLM2 on the CPU: ~30 s idle, minutes on a loaded machine
def test_llm_overseers_judge_without_ever_reading_gold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "tiny.duckdb"
    create_study(load_study(small_study(tmp_path)), db)

    def no_gold(self: StudyService) -> dict[str, str]:
        raise AssertionError("an LLM overseer run read gold")

    monkeypatch.setattr(StudyService, "gold", no_gold)
    summary = simulate_study(db, overseers=["ana"], with_model_alone=True)  # one overseer: CPU time is scarce
    assert summary.kinds == {"ana": "llm"}
    assert summary.judged == {"ana": 3} and summary.model_alone == 3
    with StudyService(db, read_only=True) as svc:
        rows = sql(svc, "SELECT choice, confidence, source, simulated FROM judgments")
        model = sql(svc, "SELECT item_id, choice FROM model_answers")
    assert {r["source"] for r in rows} == {"llm"} and all(r["simulated"] for r in rows)
    assert all(r["choice"] in "ABCD" and r["confidence"] in (25, 50, 75, 100) for r in rows)
    assert len(model) == 3 and all(m["choice"] in "ABCD" for m in model)


def test_parametric_skill_shows_in_accuracy(tmp_path: Path) -> None:
    yaml_path = small_study(tmp_path, judged=12, skill="{default: 0.3, debate: 0.95}")
    yaml_path.write_text(
        yaml_path.read_text()
        .replace("items_per_overseer: 3", "items_per_overseer: 12")
        .replace("kind: llm", "kind: parametric")
    )
    db = tmp_path / "tiny.duckdb"
    create_study(load_study(yaml_path), db)
    summary = simulate_study(db, with_model_alone=False)
    # no help was precomputed: the run says which assisted conditions were judged without it
    assert [w for w in summary.warnings if w.startswith("no model help is stored for consult, debate:")], summary
    with StudyService(db, read_only=True) as svc:
        acc = {
            r["condition"]: r["acc"]
            for r in sql(
                svc,
                "SELECT condition, avg((j.choice = g.label)::INT) AS acc FROM judgments j JOIN gold g USING (item_id) "
                "GROUP BY condition",
            )
        }
    assert acc["debate"] > 0.75 and acc["unassisted"] < 0.55


def test_power_grows_with_overseers_and_stays_near_alpha_under_the_null() -> None:
    text = (Path(__file__).parent / "../studies/humaneval-review.yaml").resolve().read_text()
    tail = "metric: accuracy, alternative: greater, alpha: 0.05}"
    study = validate_text(
        text.replace(
            "    - {id: H2, compare: [debate, consult], " + tail,
            "    - {id: H2, compare: [explain, unassisted], " + tail,
        )
        .replace("debate: 0.72}", "debate: 0.85}")
        .replace("explain: 0.65", "explain: 0.6"),
        "power.yaml",
    )
    res = power_analysis(study, [6, 18], [24, 48], sims=40, seed=1)
    h1 = res.power["H1"]  # decompose 0.70 vs unassisted 0.60
    null = res.power["H2"]  # explain 0.60 vs unassisted 0.60: a true null
    assert h1[1, 1] > h1[0, 0]
    assert np.nanmax(null) <= 0.2
