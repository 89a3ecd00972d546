"""`sandwich import judgments FILE --study STUDY.yaml --db OUT.duckdb`: a lab's own judgments, observed design."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from study_files import mc_rows
from typer.testing import CliRunner

from sandwich.analysis import analyze_study
from sandwich.cli import app
from sandwich.errors import DataError
from sandwich.importers.judgments import load_judgments
from sandwich.studyfile import load_study

STUDY = """study: lab-old
question: Did the old study's debate help?
task:
  kind: multiple-choice
  source: data.jsonl
  columns: {id: id, question: question, choices: choices, answer: answer, passage: passage}
gold: {kind: dataset-label}
conditions:
  - {name: unassisted}
  - {name: debate, assistance: [debate]}
overseers:
  design: observed
  experts: [Dr Expert]
  columns: {overseer: who, item: qid, condition: arm, choice: answer, probability: p, time: secs,
            rationale: why, gold: truth, choice_order: shown}
judgment: {choices: item}
"""
# answers cycle A, B, C: q000 -> A, q001 -> B, q002 -> C, q003 -> A
ROWS = [
    {
        "who": "Ann Lee",
        "qid": "q000",
        "arm": "unassisted",
        "answer": "A",
        "p": "0.9",
        "secs": "30",
        "why": "sure",
        "truth": "A",
        "shown": '["B", "A", "C", "D"]',
    },
    {
        "who": "Ann Lee",
        "qid": "q001",
        "arm": "debate",
        "answer": "2",
        "p": "0.6",
        "secs": "45",
        "why": "",
        "truth": "",
        "shown": "",
    },  # "2" is choice B's text for q001
    {
        "who": "Bo",
        "qid": "q002",
        "arm": "debate",
        "answer": "C",
        "p": "0.8",
        "secs": "",
        "why": "",
        "truth": "",
        "shown": "",
    },
    {
        "who": "Bo",
        "qid": "q003",
        "arm": "unassisted",
        "answer": "B",
        "p": "0.7",
        "secs": "10",
        "why": "",
        "truth": "",
        "shown": "",
    },
    {
        "who": "Dr Expert",
        "qid": "q003",
        "arm": "unassisted",
        "answer": "A",
        "p": "1",
        "secs": "5",
        "why": "",
        "truth": "",
        "shown": "",
    },
]


def _write(folder: Path, rows: list[dict[str, str]] = ROWS, kind: str = "csv") -> tuple[Path, Path]:
    (folder / "data.jsonl").write_text("\n".join(json.dumps(r) for r in mc_rows(6)) + "\n")
    study = folder / "study.yaml"
    study.write_text(STUDY)
    frame = pl.DataFrame(rows)
    data = folder / f"judgments.{kind}"
    {"csv": frame.write_csv, "parquet": frame.write_parquet, "jsonl": frame.write_ndjson}[kind](data)
    return study, data


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl"])
def test_import_and_analyze(tmp_path: Path, kind: str) -> None:
    study, data = _write(tmp_path, kind=kind)
    db = tmp_path / "old.duckdb"
    r = CliRunner().invoke(app, ["import", "judgments", str(data), "--study", str(study), "--db", str(db)])
    assert r.exit_code == 0, r.output
    res = analyze_study(db, replicates=50)
    acc = {g.group: (g.judgments, g.accuracy.est) for g in res.groups}
    # non-experts: unassisted Ann right, Bo wrong (q003 is A); debate Ann right ("2" = B), Bo right
    assert acc == {"unassisted": (2, 0.5), "debate": (2, 1.0), "expert": (1, 1.0)}
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    row = con.execute(
        "SELECT confidence, time_on_item_s, rationale, CAST(client_meta AS VARCHAR) FROM judgments "
        "WHERE overseer = 'Ann Lee' AND item_id = 'mc-q000'"
    ).fetchone()
    con.close()
    assert row[:3] == (90, 30.0, "sure") and json.loads(row[3])["choice_order"] == ["B", "A", "C", "D"]


def test_unknown_condition_names_row_and_column(tmp_path: Path) -> None:
    rows = [dict(ROWS[0]), {**ROWS[1], "arm": "debtae"}]
    study, data = _write(tmp_path, rows)
    with pytest.raises(DataError, match=r"row 2 column 'arm': no condition 'debtae'"):
        load_judgments(data, load_study(study))


def test_gold_disagreeing_with_the_task_is_refused(tmp_path: Path) -> None:
    study, data = _write(tmp_path, [{**ROWS[0], "truth": "B"}])
    with pytest.raises(DataError, match=r"row 1 column 'truth': gold 'B' disagrees"):
        load_judgments(data, load_study(study))


def test_probability_out_of_range_and_duplicates(tmp_path: Path) -> None:
    study, data = _write(tmp_path, [{**ROWS[0], "p": "1.5"}])
    with pytest.raises(DataError, match=r"row 1 column 'p': 1.5 is outside \[0, 1\]"):
        load_judgments(data, load_study(study))
    study, data = _write(tmp_path, [ROWS[0], ROWS[0]])
    with pytest.raises(DataError, match="already in row 1"):
        load_judgments(data, load_study(study))
