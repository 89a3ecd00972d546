"""`sandwich create`, `status` and `export` on real files, and the errors a user meets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from db_sql import sql

from sandwich.create import create_study
from sandwich.errors import DataError, StoreError
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.views import JudgmentIn
from tests.conftest import MC_ROWS, write_mc_study

REPO = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "sandwich", *args], capture_output=True, text=True, cwd=cwd or REPO, env=env, timeout=300
    )


def test_create_status_export_round_trip(tmp_path: Path) -> None:
    study = write_mc_study(tmp_path)
    res = cli("create", str(study))
    assert res.returncode == 0, res.stderr
    assert "12 items" in res.stdout and "36 assignments" in res.stdout
    res = cli("status", str(study))
    assert res.returncode == 0, res.stderr
    for name in ("ana", "ben", "chi", "unassisted", "consult", "debate", "0/4"):
        assert name in res.stdout
    out = tmp_path / "export"
    res = cli("export", str(study), "--to", str(out))
    assert res.returncode == 0, res.stderr
    items = pl.read_parquet(out / "items.parquet")
    assert items.height == 12 and "label" not in items.columns
    gold = pl.read_parquet(out / "gold" / "gold.parquet")
    assert gold.height == 12 and set(gold["label"]) <= set("ABCD")
    assert not (out / "gold.parquet").exists()
    assert pl.read_parquet(out / "assignments.parquet").height == 36


def test_create_refuses_to_overwrite_judgments(tmp_path: Path) -> None:
    study = write_mc_study(tmp_path)
    db = tmp_path / "mc.duckdb"
    create_study(load_study(study), db)
    with StudyService(db) as svc:
        s = svc.for_overseer("ana")
        v = s.next_item()
        s.submit(JudgmentIn(judgment_id="keep-me-0001", assignment_id=v.assignment_id, choice="A", confidence=50))
    with pytest.raises(StoreError, match="refusing to overwrite"):
        create_study(load_study(study), db)
    res = cli("create", str(study))
    assert res.returncode == 2 and "refusing to overwrite" in res.stderr and "--force" in res.stderr
    create_study(load_study(study), db, force=True)
    with StudyService(db, read_only=True) as svc:
        assert sql(svc, "SELECT count(*) AS n FROM judgments")[0]["n"] == 0


def test_failed_create_leaves_nothing_behind(tmp_path: Path) -> None:
    rows = [dict(r) for r in MC_ROWS]
    rows[5]["answer"] = "Q"  # not among the choices
    study = write_mc_study(tmp_path, rows=rows)
    with pytest.raises(DataError, match="row 6 .*answer 'Q' is not among"):
        create_study(load_study(study), tmp_path / "mc.duckdb")
    assert [p.name for p in tmp_path.iterdir() if "duckdb" in p.name] == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda rows, p: p.unlink(), "does not exist"),
        (
            lambda rows, p: p.write_text(
                "\n".join(json.dumps({k: v for k, v in r.items() if k != "question"}) for r in rows)
            ),
            "missing column(s) question",
        ),
        (lambda rows, p: p.write_text("\n".join(json.dumps({**r, "id": "same"}) for r in rows)), "duplicate id"),
        (lambda rows, p: p.write_text("{not json"), "cannot read"),
    ],
)
def test_bad_data_files(tmp_path: Path, mutate, message: str) -> None:
    study = write_mc_study(tmp_path)
    mutate(MC_ROWS, tmp_path / "data.jsonl")
    res = cli("create", str(study))
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr


def test_csv_with_choice_columns_and_text_answers(tmp_path: Path) -> None:
    csv = tmp_path / "q.csv"
    csv.write_text(
        "qid,q,a,b,c,ans\n1,Two plus two?,3,4,5,4\n2,Capital of France?,Paris,Rome,Oslo,Paris\n"
        "3,Largest planet?,Mars,Earth,Jupiter,Jupiter\n4,H2O is?,salt,water,air,water\n"
    )
    y = tmp_path / "csv.yaml"
    y.write_text("""study: csv
question: q?
task: {kind: multiple-choice, source: q.csv, answer_format: text,
       columns: {id: qid, question: q, choices: [a, b, c], answer: ans}}
gold: {kind: dataset-label}
conditions: [{name: unassisted}]
overseers: {non_experts: [ana], items_per_overseer: 4}
judgment: {choices: item}
""")
    create_study(load_study(y), tmp_path / "csv.duckdb")
    with StudyService(tmp_path / "csv.duckdb", read_only=True) as svc:
        assert svc.gold() == {"mc-1": "B", "mc-2": "A", "mc-3": "C", "mc-4": "B"}


def test_cli_errors_are_one_paragraph_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: x\nquestion: [unclosed\n")
    res = cli("validate", str(bad))
    assert res.returncode == 2 and f"{bad}:" in res.stderr and "Traceback" not in res.stderr
    res = cli("status", str(tmp_path / "none.yaml"))
    assert res.returncode == 2 and "no such study file" in res.stderr
    (tmp_path / "fresh.yaml").write_text("study: x\n")
    res = cli("status", str(tmp_path / "fresh.yaml"))
    assert res.returncode == 2 and "sandwich create" in res.stderr


def test_help_on_every_command() -> None:
    res = cli("--help")
    assert res.returncode == 0
    for cmd in ("validate", "create", "status", "export", "models"):
        sub = cli(*cmd.split(), "--help")
        assert sub.returncode == 0 and "Usage" in sub.stdout
