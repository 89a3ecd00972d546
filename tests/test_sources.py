"""People and simulations are never pooled (c18); judgments made without their help are not counted as
assisted (c17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from case_support import create_case, csv_gold, jsonl_gold, judge_all
from db_sql import sql

from sandwich.analysis import analyze_study
from sandwich.errors import SandwichError
from sandwich.sim.runner import simulate_study


@pytest.fixture
def blended(tmp_path: Path) -> Path:
    """c18: ben, chi, dev simulated (skill 0.3); ana, a person, answers all 8 of her items right."""
    _, db = create_case("c18-real-and-simulated-blended", tmp_path)
    simulate_study(db, overseers=["ben", "chi", "dev"], with_model_alone=False)
    gold = csv_gold(tmp_path)
    judge_all(db, "ana", lambda v, k: gold[v.item.item_id], client="tui", flag_missing_help=False)
    return db


def _stored_accuracy(db: Path, simulated: bool) -> dict[str, tuple[float, int, int]]:
    """Per condition, worked out here from what is stored: (accuracy, judgments, overseers)."""
    gold = {r["item_id"]: r["label"] for r in sql(db, "SELECT item_id, label FROM gold")}
    rows = sql(db, "SELECT condition, overseer, item_id, choice FROM judgments WHERE simulated = ?", [simulated])
    out: dict[str, tuple[float, int, int]] = {}
    for cond in {r["condition"] for r in rows}:
        mine = [r for r in rows if r["condition"] == cond]
        right = sum(r["choice"] == gold[r["item_id"]] for r in mine)
        out[cond] = (round(right / len(mine), 3), len(mine), len({r["overseer"] for r in mine}))
    return out


def _acc(res: object, group: str) -> tuple[float, int, int]:
    g = next(g for g in res.groups if g.group == group)  # type: ignore[attr-defined]
    return round(g.accuracy.est, 3), g.judgments, g.overseers


def test_people_and_simulation_are_reported_apart_by_default(blended: Path, tmp_path: Path) -> None:
    res = analyze_study(blended, replicates=100, out_dir=tmp_path / "report")
    assert res.sources == ["human"] and not res.synthetic and not res.mixed
    assert _acc(res, "unassisted") == (1.0, 4, 1) and _acc(res, "explain") == (1.0, 4, 1)
    assert res.left_out == {"parametric": 24}
    assert any("people only" in w and "24 parametric simulation judgment(s) are left out" in w for w in res.warnings)
    sim = next(s for s in res.by_source if s.source == "parametric")
    want = _stored_accuracy(blended, simulated=True)
    assert {g.group: round(g.accuracy.est, 3) for g in sim.groups} == {c: a for c, (a, _, _) in want.items()}
    out = json.loads((tmp_path / "report" / "results.json").read_text())
    assert out["sources"] == ["human"] and out["left_out"] == {"parametric": 24}
    assert {s["source"] for s in out["by_source"]} == {"human", "parametric"}


def test_source_option_selects_and_all_is_labelled_mixed(blended: Path) -> None:
    sim = analyze_study(blended, replicates=100, source="simulated")
    assert sim.sources == ["parametric"] and sim.synthetic
    assert any("read no item and no help" in d and "typed-in skills" in d for d in sim.disclosure)
    want = _stored_accuracy(blended, simulated=True)
    assert _acc(sim, "unassisted") == want["unassisted"] and _acc(sim, "explain") == want["explain"]
    assert want["unassisted"][1:] == (12, 3) and want["explain"][1:] == (12, 3)
    mixed = analyze_study(blended, replicates=100, source="all")
    assert mixed.mixed and mixed.source_label.endswith("(MIXED)")
    people = _stored_accuracy(blended, simulated=False)["unassisted"]
    pooled = (want["unassisted"][0] * 12 + people[0] * 4) / 16
    assert _acc(mixed, "unassisted") == (round(pooled, 3), 16, 4)
    assert mixed.warnings[0].startswith("MIXED SOURCES")
    with pytest.raises(SandwichError, match="unknown source 'robots'"):
        analyze_study(blended, replicates=100, source="robots")


def test_analyze_help_and_cli_offer_the_source(blended: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    helptext = subprocess.run(
        [sys.executable, "-m", "sandwich", "analyze", "--help"], capture_output=True, text=True, env=env, check=False
    ).stdout
    assert "--source" in helptext
    run = subprocess.run(
        [sys.executable, "-m", "sandwich", "analyze", str(blended), "--replicates", "60", "--source", "parametric"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "figures: parametric simulation" in run.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "sandwich", "analyze", str(blended), "--source", "robots"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "unknown source" in bad.stdout + bad.stderr


def test_judgments_without_help_are_counted_and_left_out(tmp_path: Path) -> None:
    _, db = create_case("c17-assisted-without-help", tmp_path)  # no `assist precompute`: no help anywhere
    gold = jsonl_gold(tmp_path)
    judge_all(db, "ana", lambda v, k: gold[v.item.item_id])
    judge_all(db, "ben", lambda v, k: gold[v.item.item_id] if k == 0 else "B")
    res = analyze_study(db, replicates=60)
    (nh,) = res.no_help
    assert (nh.condition, nh.without_help, nh.judgments, nh.excluded) == ("consult", 4, 4, True)
    assert [g.group for g in res.groups] == ["unassisted"]
    assert any("consult: 4 of 4 judgment(s) had no help" in w and "left out" in w for w in res.warnings)
    kept = analyze_study(db, replicates=60, include_no_help=True)
    assert [g.group for g in kept.groups] == ["unassisted", "consult"]
    assert any("kept in this condition's estimates" in w for w in kept.warnings)
