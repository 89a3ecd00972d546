"""Pre-registration that cannot be quietly rewritten (c10), and looks at results that leave a trace (c11)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import study_location
from db_sql import sql

from sandwich.analysis import analyze_study
from sandwich.create import create_study
from sandwich.errors import StoreError
from sandwich.export import export_study
from sandwich.rules import analysis_plan, plan_hash
from sandwich.server import snapshot
from sandwich.service import StudyService
from sandwich.sim.runner import simulate_study
from sandwich.studyfile import load_study, validate_text

DATA = Path(__file__).parent / "data"


def make(case: str, tmp_path: Path, where: Path | str | None = None) -> Path:
    """The case's study created in a fresh folder (or at `where`, e.g. a PostgreSQL URL); returns its location."""
    folder = tmp_path / case
    shutil.copytree(DATA / case, folder)
    db = where or folder / "s.duckdb"
    create_study(load_study(folder / "study.yaml"), db)
    return db  # type: ignore[return-value]  # a URL stands in for the path on PostgreSQL


def tamper(db: Path, *, rewrite_plan: bool = False) -> None:
    """What c10's tamper.py does (swap H1 to the comparison that came out best), straight in the DuckDB file.

    With `rewrite_plan`, also rewrite the frozen plan itself consistently (plan, hash, study text, config hash).
    """
    text = sql(db, "SELECT value FROM meta WHERE key = 'config_text'")[0]["value"]
    cfg = yaml.safe_load(text)
    cfg["preregistration"]["hypotheses"][0]["compare"] = ["critique", "unassisted"]
    new_text = yaml.safe_dump(cfg, sort_keys=False)
    study = validate_text(new_text, "study.yaml")
    payload = json.dumps(study.preregistration.model_dump(mode="json"), sort_keys=True)
    sql(
        db,
        "UPDATE preregistration SET hash = ?, hypotheses = ?",
        [hashlib.sha256(payload.encode()).hexdigest(), payload],
    )
    if rewrite_plan:
        planned = sql(db, "SELECT count(*) AS n FROM assignments")[0]["n"]
        plan = analysis_plan(study, planned)
        sql(db, "UPDATE preregistration SET hash = ?, plan = ?", [plan_hash(plan), json.dumps(plan)])
    sql(db, "UPDATE meta SET value = ? WHERE key = 'config_text'", [new_text])
    sql(db, "UPDATE meta SET value = ? WHERE key = 'config_hash'", [hashlib.sha256(new_text.encode()).hexdigest()])


# ------------------------------------------------------------------ c10: tamper-evident pre-registration
def test_the_service_offers_no_raw_sql() -> None:
    for name in ("query", "execute", "connection"):
        assert not hasattr(StudyService, name), name


def test_whole_plan_is_frozen_at_the_first_judgment(
    tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    db = make("c10-prereg-tamper", tmp_path, study_location(tmp_path, store_kind, request))
    simulate_study(db, overseers=["ana"], with_model_alone=False)
    with StudyService(db) as svc:
        frozen = svc.store.frozen_plan()
        first = min(j.created_at for j in svc.store.judgments())
    assert frozen is not None and frozen.frozen_at <= first
    plan = frozen.plan
    assert plan["hypotheses"] == [
        {
            "id": "H1",
            "compare": ["explain", "unassisted"],
            "metric": "accuracy",
            "alternative": "greater",
            "alpha": 0.05,
            "test": "permutation",
        }
    ]
    assert plan["seed"] == 0 and plan["replicates"] == 2000 and plan["planned_judgments"] == 36
    assert {"sources", "multiplicity", "permutations"} <= set(plan)
    assert frozen.hash == hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()


def test_a_rewritten_preregistration_is_reported_tampered(
    tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    db = make("c10-prereg-tamper", tmp_path, study_location(tmp_path, store_kind, request))
    simulate_study(db, with_model_alone=False)
    before = analyze_study(db, replicates=100, permutations=200)
    assert not before.tampered
    [h1] = [h for h in before.hypotheses if h.id == "H1"]
    assert h1.label == "confirmatory" and h1.compare == ("explain", "unassisted")
    frozen_hash = before.preregistration["hash"]

    tamper(db)
    after = analyze_study(db, replicates=100, permutations=200, out_dir=tmp_path / "report")
    assert after.tampered and after.preregistration["plan_hash"] == frozen_hash  # the plan frozen at first
    assert after.preregistration["hash"] != frozen_hash  # the hash the tamperer wrote, shown beside it
    problems = " ".join(after.preregistration["problems"])
    assert "H1: frozen as explain vs unassisted" in problems and "now critique vs unassisted" in problems
    assert "the stored plan hashes to" in problems
    assert all(h.label == "exploratory" for h in after.hypotheses)  # never confirmatory once tampered
    assert {h.compare for h in after.hypotheses} == {("explain", "unassisted"), ("critique", "unassisted")}
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "TAMPERED" in page and frozen_hash in page
    results = json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))
    assert results["tampered"] is True and results["preregistration"]["plan_hash"] == frozen_hash


def test_a_consistent_rewrite_is_caught_by_the_look_log(
    tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    """Rewriting plan, hash, study text and config hash together still disagrees with an earlier look."""
    db = make("c10-prereg-tamper", tmp_path, study_location(tmp_path, store_kind, request))
    simulate_study(db, with_model_alone=False)
    assert not analyze_study(db, replicates=100, permutations=200).tampered
    tamper(db, rewrite_plan=True)
    after = analyze_study(db, replicates=100, permutations=200)
    assert after.tampered
    assert any(p.startswith("the analyze at ") and "saw plan hash" in p for p in after.preregistration["problems"])
    assert not any(h.label.startswith("confirmatory") for h in after.hypotheses)


def test_analyze_cli_prints_the_frozen_hash_and_tampered(tmp_path: Path) -> None:
    db = make("c10-prereg-tamper", tmp_path)
    simulate_study(db, with_model_alone=False)
    with StudyService(db) as svc:
        frozen = svc.store.frozen_plan()
    tamper(db)
    out = subprocess.run(
        [sys.executable, "-m", "sandwich", "analyze", str(db), "--replicates", "100"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert f"stored plan hashes to {frozen.hash}" in out.stdout
    assert f"{frozen.frozen_at:%Y-%m-%d %H:%M:%S} UTC" in out.stdout
    assert "TAMPERED" in out.stdout and "confirmatory" not in out.stdout.split("Hypotheses")[-1]


# ------------------------------------------------------------------ c11: looks leave a trace
def test_every_look_is_logged_and_an_unfinished_study_is_interim(tmp_path: Path) -> None:
    db = make("c11-peek-leaves-no-trace", tmp_path)
    simulate_study(db, overseers=["ana", "ben"], with_model_alone=False)  # 12 of 36 judged
    res = analyze_study(db, replicates=100, permutations=200, out_dir=tmp_path / "report")
    assert res.interim and (res.stored, res.planned) == (12, 36)
    assert "24 of 36 assignments are not judged yet (interim analysis)" in " ".join(res.warnings)
    [h1] = [h for h in res.hypotheses if h.id == "H1"]
    assert h1.label == "confirmatory (interim)"
    assert "interim" in (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    with StudyService(db) as svc:
        export_study(svc, tmp_path / "export")
        snapshot.take(svc, tmp_path / "snap", who="lead (token 0a1b2c)")
    looks = sql(db, "SELECT action, who, judgments, planned, plan_hash FROM looks ORDER BY ts")
    assert [(r["action"], r["judgments"], r["planned"]) for r in looks] == [
        ("analyze", 12, 36),
        ("export", 12, 36),
        ("snapshot", 12, 36),
    ]
    assert looks[2]["who"] == "lead (token 0a1b2c)" and looks[0]["who"] == looks[1]["who"] != ""
    assert len({r["plan_hash"] for r in looks}) == 1 and looks[0]["plan_hash"]
    with StudyService(db) as svc:  # status shows the frozen plan and the number of looks (and is not one)
        st = svc.status()
        assert st["looks"] == 3 and st["plan_hash"] == looks[0]["plan_hash"]

    simulate_study(db, with_model_alone=False)  # the study completes
    final = analyze_study(db, replicates=100, permutations=200)
    assert not final.interim and (final.stored, final.planned) == (36, 36)
    assert [h.label for h in final.hypotheses if h.id == "H1"] == ["confirmatory"]
    assert [(look["action"], look["judgments"]) for look in final.looks] == [
        ("analyze", 12),
        ("export", 12),
        ("snapshot", 12),
    ]
    assert "3 earlier look(s) at the results were made before the planned sample size" in " ".join(final.warnings)


def test_an_export_that_cannot_be_logged_is_refused(tmp_path: Path) -> None:
    db = make("c11-peek-leaves-no-trace", tmp_path)
    with StudyService(db, read_only=True) as svc, pytest.raises(StoreError, match="cannot be logged"):
        export_study(svc, tmp_path / "export")
    assert not (tmp_path / "export" / "judgments.parquet").exists()


def test_a_study_frozen_before_whole_plans_still_checks_out(tmp_path: Path) -> None:
    """Files frozen by an older sandwich hold only the hypotheses and their hash: not tampered, still confirmatory."""
    db = make("c10-prereg-tamper", tmp_path)
    simulate_study(db, with_model_alone=False)
    [row] = sql(db, "SELECT hypotheses FROM preregistration")
    legacy = json.dumps(json.loads(row["hypotheses"]), sort_keys=True)
    sql(
        db,
        "UPDATE preregistration SET plan = NULL, hypotheses = ?, hash = ?",
        [legacy, hashlib.sha256(legacy.encode()).hexdigest()],
    )
    res = analyze_study(db, replicates=100, permutations=200)
    assert not res.tampered and [h.label for h in res.hypotheses] == ["confirmatory"]
    tamper(db)
    assert analyze_study(db, replicates=100, permutations=200).tampered


def test_judgments_removed_after_a_look_are_reported_tampered(
    tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    """Dropping the judgments that spoiled a result, after having looked at it, leaves the study TAMPERED."""
    db = make("c10-prereg-tamper", tmp_path, study_location(tmp_path, store_kind, request))
    simulate_study(db, with_model_alone=False)
    assert not analyze_study(db, replicates=100, permutations=200).tampered
    sql(db, "DELETE FROM judgments WHERE condition = 'unassisted' AND choice IS NOT NULL AND overseer = 'ana'")
    after = analyze_study(db, replicates=100, permutations=200)
    assert after.tampered and after.stored == 34
    assert any("saw 36 judgments, now 34: judgments were removed" in p for p in after.preregistration["problems"])
    assert not any(h.label.startswith("confirmatory") for h in after.hypotheses)
