"""`sandwich import llm-debate FILE` on a fixture in the Khan et al. 2024 human_feedback.csv layout."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from sandwich.analysis import analyze_study
from sandwich.cli import app
from sandwich.errors import DataError
from sandwich.importers.llm_debate import load_llm_debate

CSV = Path(__file__).resolve().parent / "data" / "llm-debate-mini" / "human_feedback.csv"


def test_import_and_analyze(tmp_path: Path) -> None:
    db = tmp_path / "khan.duckdb"
    r = CliRunner().invoke(app, ["import", "llm-debate", str(CSV), "--db", str(db)])
    assert r.exit_code == 0, r.output
    acc = {g.group: (g.judgments, g.accuracy.est) for g in analyze_study(db, replicates=50).groups}
    assert acc == {
        "baseline": (1, 0.0),
        "consultancy-interactive": (1, 0.0),
        "debate": (1, 1.0),
        "debate-interactive": (1, 1.0),
    }
    con = duckdb.connect(str(db), read_only=True)
    try:
        items = con.execute("SELECT item_id, choices, body FROM items ORDER BY question").fetchall()
        gold = dict(con.execute("SELECT item_id, label FROM gold").fetchall())
        rows = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT overseer || ':' || condition, choice, confidence, CAST(client_meta AS VARCHAR) FROM judgments"
            ).fetchall()
        }
        tr = dict(con.execute("SELECT transcript_id, CAST(content AS VARCHAR) FROM imported_transcripts").fetchall())
    finally:
        con.close()
    assert len(items) == 2 and all(body == "" for _, _, body in items)  # the story is omitted in the file
    captain = next(i for i in items if "afraid" in " ".join(i[1]))
    assert captain[1] == ["He is afraid of the planet", "He promised to guard the cargo"]
    assert gold[captain[0]] == "B"
    choice, conf, meta = rows["judge-8:consultancy-interactive"]
    # swapped: shown [afraid (wrong), promised (right)]; the judge chose the wrong one at 60%
    assert (choice, conf) == ("A", 60) and json.loads(meta)["shown_order"] == [0, 1]
    assert json.loads(meta)["shown_choices"][1] == "He promised to guard the cargo"
    consult = json.loads(tr["llm-debate:d2"])
    assert consult["side"] == "A" and consult["assigned_answer"] == "A. He is afraid of the planet"
    debate = json.loads(tr["llm-debate:d1"])
    assert [q["verified"] for t in debate["turns"] for q in t["quotes"]] == [True, False]


def test_experiment_filter_and_contradictions(tmp_path: Path) -> None:
    study = load_llm_debate(CSV, experiments=["exp8"])
    assert study.summary.included == 3 and dict(study.summary.skipped) == {"experiment not selected": 1}
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV.read_text().replace(",True,80,80,", ",True,20,80,", 1))
    with pytest.raises(DataError, match=r"row 1 column 'confidence_correct': 20 contradicts"):
        load_llm_debate(bad)
