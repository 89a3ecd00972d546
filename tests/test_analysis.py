"""`sandwich simulate` + `sandwich analyze` on real study databases, including bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from db_sql import sql
from study_files import mc_rows, write_mc_study

from sandwich.analysis import analyze_study
from sandwich.create import create_study
from sandwich.errors import SandwichError
from sandwich.service import StudyService
from sandwich.sim.runner import simulate_study
from sandwich.studyfile import load_study

ROWS = mc_rows(24, answers="ABCD")
PREREG = """
    - {id: H1, compare: [debate, unassisted], metric: accuracy, alternative: greater, alpha: 0.05}
    - {id: H2, compare: [consult, unassisted], metric: brier, alternative: less, alpha: 0.05, test: bootstrap}"""


def write_study(folder: Path, *, prereg: str | None = None) -> Path:
    """A multiple-choice study: 6 non-experts + 1 expert, 3 conditions, 24 items, two hypotheses."""
    return write_mc_study(
        folder,
        name="rc",
        rows=ROWS,
        overseers=6,
        experts=["grace"],
        conditions="""
  - {name: unassisted}
  - {name: consult, assistance: [consultancy]}
  - {name: debate, assistance: [{debate: {rounds: 1}}]}""",
        judgment="{choices: item, confidence: [25, 50, 75, 100]}",
        extra=f"""preregistration:
  hypotheses:{prereg or PREREG}
simulation:
  non_expert: {{kind: parametric, skill: {{default: 0.45, consult: 0.55, debate: 0.7}}, noise: 0.05}}
  expert: {{kind: parametric, skill: {{default: 0.95}}}}
  seed: 3
""",
    )


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, Path]:
    yaml_path = write_study(tmp_path)
    db = tmp_path / "rc.duckdb"
    create_study(load_study(yaml_path), db)
    return yaml_path, db


def sandwich_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "sandwich", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_simulate_then_analyze_writes_a_synthetic_report(study: tuple[Path, Path], tmp_path: Path) -> None:
    yaml_path, db = study
    sim = sandwich_cli("simulate", str(yaml_path), "--db", str(db), "--no-model-alone", cwd=tmp_path)
    assert sim.returncode == 0, sim.stderr
    assert "synthetic" in sim.stdout.lower()
    out = tmp_path / "report"
    res = sandwich_cli(
        "analyze", str(yaml_path), "--db", str(db), "--out", str(out), "--replicates", "300", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    for title in ("The sandwich", "Per condition", "Hypotheses", "Krippendorff", "Dawid–Skene"):
        assert title in res.stdout
    assert "SYNTHETIC" in res.stdout
    assert "confirmatory" in res.stdout and "H1" in res.stdout and "H2" in res.stdout
    page = (out / "index.html").read_text()
    assert "SYNTHETIC" in page and "data:image/png;base64," in page
    for png in ("sandwich.png", "reliability.png", "overseers.png", "hypotheses.png"):
        assert (out / png).stat().st_size > 5000
    numbers = json.loads((out / "results.json").read_text())
    assert numbers["synthetic"] is True
    rows = {r["kind"]: r for r in numbers["sandwich"]["rows"]}
    assert rows["expert"]["accuracy"]["est"] > rows["unassisted"]["accuracy"]["est"]


def test_simulated_judgments_are_marked_and_rerunning_adds_nothing(study: tuple[Path, Path]) -> None:
    _, db = study
    first = simulate_study(db, with_model_alone=False)
    again = simulate_study(db, with_model_alone=False)
    assert sum(first.judged.values()) == 6 * 12 + 24 and sum(again.judged.values()) == 0
    with StudyService(db, read_only=True) as svc:
        j = sql(svc, "SELECT count(*) AS n, bool_and(simulated) AS sim, min(source) AS src FROM judgments")[0]
        kinds = {r["kind"] for r in sql(svc, "SELECT kind FROM overseers")}
    assert j["n"] == 96 and j["sim"] and j["src"] == "parametric"
    assert kinds == {"simulated"}


def test_analysis_without_judgments_says_so(study: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = study
    res = analyze_study(db, out_dir=tmp_path / "empty", replicates=100)
    assert res.judgments == 0 and "No judgments yet" in res.warnings[0]
    assert "No judgments yet" in (tmp_path / "empty" / "index.html").read_text()


def test_empty_condition_and_single_judgment_overseer_still_analysed(study: tuple[Path, Path]) -> None:
    _, db = study
    simulate_study(db, with_model_alone=False)
    with StudyService(db) as svc:
        sql(
            svc,
            "DELETE FROM judgments WHERE condition = 'consult' AND overseer IN "
            "(SELECT name FROM overseers WHERE role = 'non_expert')",
        )
        keep = sql(
            svc,
            "SELECT judgment_id FROM judgments WHERE overseer = 'ana' AND condition = 'debate' "
            "ORDER BY judgment_id LIMIT 1",
        )[0]["judgment_id"]
        sql(svc, "DELETE FROM judgments WHERE overseer = 'ana' AND condition = 'debate' AND judgment_id <> ?", [keep])
    res = analyze_study(db, replicates=200)
    text = " ".join(res.warnings)
    assert "'consult' has no non-expert judgments" in text
    assert "ana" in text and "single judgment" in text
    assert [g.group for g in res.groups] == ["unassisted", "debate", "expert"]
    h2 = next(h for h in res.hypotheses if h.id == "H2")
    assert h2.verdict == "not testable" and "consult" in h2.note
    h1 = next(h for h in res.hypotheses if h.id == "H1")
    assert h1.verdict in ("supported", "not supported", "not testable at α") and 0 <= h1.p <= 1


def test_changed_hypotheses_are_flagged_and_exploratory(study: tuple[Path, Path], tmp_path: Path) -> None:
    yaml_path, db = study
    simulate_study(db, with_model_alone=False)
    edited = tmp_path / "edited"
    edited.mkdir()
    changed = write_study(
        edited,
        prereg="""
    - {id: H1, compare: [debate, unassisted], metric: accuracy, alternative: two-sided, alpha: 0.05}""",
    )
    res = analyze_study(db, replicates=200, study_file=changed, explore=[("debate", "consult")])
    assert "differ from those frozen" in res.warnings[0]
    labels = {h.id: h.label for h in res.hypotheses}
    assert labels["H1"] == "confirmatory" and labels["H2"] == "confirmatory"
    assert labels["H1*"] == "exploratory" and labels["X1"] == "exploratory"


def test_locked_database_is_analysed_from_a_snapshot(study: tuple[Path, Path]) -> None:
    _, db = study
    simulate_study(db, with_model_alone=False)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        res = analyze_study(db, replicates=100)
        assert any("in use by another process" in w and "snapshot" in w for w in res.warnings)
        assert res.judgments == 96
    finally:
        holder.kill()
        holder.wait()


def test_bad_explore_and_missing_database(study: tuple[Path, Path], tmp_path: Path) -> None:
    yaml_path, db = study
    simulate_study(db, with_model_alone=False)
    with pytest.raises(SandwichError, match="no condition named 'nope'"):
        analyze_study(db, replicates=100, explore=[("nope", "debate")])
    res = sandwich_cli("analyze", str(tmp_path / "missing.duckdb"), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "no study database" in res.stderr


def test_every_metric_and_the_expert_comparison_can_be_preregistered(tmp_path: Path) -> None:
    yaml_path = write_study(
        tmp_path,
        prereg="""
    - {id: G, compare: [debate, unassisted], metric: gap_closed, alternative: greater}
    - {id: E, compare: [debate, unassisted], metric: ece, alternative: less}
    - {id: T, compare: [debate, unassisted], metric: time, alternative: two-sided, test: bootstrap}
    - {id: X, compare: [debate, expert], metric: accuracy, alternative: less}""",
    )
    db = tmp_path / "rc.duckdb"
    create_study(load_study(yaml_path), db)
    simulate_study(db, with_model_alone=False)
    res = analyze_study(db, replicates=300, permutations=500)
    by_id = {h.id: h for h in res.hypotheses}
    assert set(by_id) == {"G", "E", "T", "X"}
    for h in by_id.values():
        assert h.label == "confirmatory" and h.verdict in ("supported", "not supported", "not testable at α"), h
        assert 0 < h.p <= 1
    assert by_id["X"].estimate < 0 and by_id["X"].hi < 0  # experts (0.95) beat debate (0.7) ...
    # ... but one expert among seven overseers gives the permutation test 7 relabellings: it says so
    assert by_id["X"].verdict == "not testable at α" and "only 7 distinct relabellings" in by_id["X"].note
    assert "accuracy difference" in by_id["G"].note
