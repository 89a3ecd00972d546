"""Hypotheses on degenerate designs say why they cannot answer: a permutation floor above α (c12), an
unstable gap-closed ratio (c15); intervals stay in range and match a one-sided test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from case_support import create_case, csv_gold, judge_all, other
from db_sql import sql

from sandwich.analysis import analyze_study
from sandwich.sim.runner import simulate_study


def test_permutation_floor_above_alpha_is_named_and_not_a_plain_null(tmp_path: Path) -> None:
    _, db = create_case("c12-permutation-floor", tmp_path)
    gold = csv_gold(tmp_path)
    # as the case's script: judgments submitted without the help flag (help is not what c12 is about)
    for name in ("ana", "ben", "chi", "dev"):  # explain all right, unassisted all wrong
        judge_all(
            db,
            name,
            lambda v, k: gold[v.item.item_id] if v.condition == "explain" else other(gold[v.item.item_id]),
            flag_missing_help=False,
        )
    judge_all(
        db, "eli", lambda v, k: gold[v.item.item_id] if k < 2 else other(gold[v.item.item_id]), flag_missing_help=False
    )
    res = analyze_study(db, replicates=200, out_dir=tmp_path / "report")
    (h1,) = res.hypotheses
    assert h1.p == pytest.approx(0.0625) and h1.min_p == pytest.approx(0.0625)
    assert h1.verdict == "not testable at α"
    assert "smallest p these data allow is 0.0625 (2 of 32 relabellings tie" in h1.note
    assert "cannot reach α = 0.05" in h1.note
    # one-sided test, one-sided interval, within the possible range of an accuracy difference
    assert h1.interval.startswith("one-sided 95%") and h1.hi == 1.0 and -1.0 <= h1.lo <= 0.8
    page = (tmp_path / "report" / "index.html").read_text()
    assert "cannot reach α = 0.05" in page and "not testable at α" in page


def test_gap_closed_hypothesis_obeys_the_sandwich_stability_rule(tmp_path: Path) -> None:
    _, db = create_case("c15-gap-hypothesis-unstable", tmp_path)
    simulate_study(db, with_model_alone=False)
    res = analyze_study(db, replicates=500, out_dir=tmp_path / "report")
    assert res.sandwich is not None and res.sandwich.unstable
    den = res.sandwich.denominator
    assert den is not None and -1.0 <= den.lo <= den.hi <= 1.0
    (h1,) = res.hypotheses
    assert h1.verdict == "not testable" and np.isnan(h1.p) and np.isnan(h1.lo) and np.isnan(h1.hi)
    gold = {r["item_id"]: r["label"] for r in sql(db, "SELECT item_id, label FROM gold")}
    rows = sql(
        db, "SELECT j.condition, o.role, j.item_id, j.choice FROM judgments j JOIN overseers o ON o.name = j.overseer"
    )

    def acc(keep) -> float:  # noqa: ANN001
        mine = [r for r in rows if keep(r)]
        return sum(r["choice"] == gold[r["item_id"]] for r in mine) / len(mine)

    gap = acc(lambda r: r["role"] == "expert") - acc(lambda r: r["role"] != "expert" and r["condition"] == "unassisted")
    assert f"expert − unassisted is not clearly above zero ({gap:+.3f}" in h1.note
    out = json.loads((tmp_path / "report" / "results.json").read_text())
    assert out["hypotheses"][0]["p"] is None and out["hypotheses"][0]["verdict"] == "not testable"


def test_power_says_when_the_design_often_cannot_reach_alpha(tmp_path: Path) -> None:
    from sandwich.analysis.power import power_analysis
    from sandwich.studyfile import load_study

    for f in ("study.yaml", "items.csv"):
        (tmp_path / f).write_text((Path(__file__).parent / "data" / "c12-permutation-floor" / f).read_text())
    study = load_study(tmp_path / "study.yaml").study
    res = power_analysis(study, [5], [8], sims=20, seed=1)
    assert any(
        "5 overseers × 8 items" in n and "H1's smallest attainable p was above α = 0.05" in n for n in res.notes
    ), res.notes
