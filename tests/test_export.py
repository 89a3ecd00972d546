"""`sandwich export` holds everything a re-analysis needs (c25): every table of the schema but the secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from db_sql import sql
from fake_model import fake_model
from polars.testing import assert_frame_equal

from sandwich.create import create_study
from sandwich.export import BLINDED_TABLES, WITHHELD, frames_from_export
from sandwich.service import StudyService
from sandwich.sim.runner import simulate_study
from sandwich.store import AuditRecord
from sandwich.studyfile import load_study

CASE = Path(__file__).parent / "data" / "c25-export-misses-model-answers"


@pytest.fixture
def study_db(tmp_path: Path) -> Iterator[Path]:
    """c25's study with simulated overseers, the model's own answers (from the case's fake server) and two refusals."""
    with fake_model(CASE, tmp_path / "c25") as study_yaml:
        db = study_yaml.parent / "s.duckdb"
        create_study(load_study(study_yaml), db)
        summary = simulate_study(db)
        assert summary.model_alone, summary.warnings
        with StudyService(db) as svc:
            for path in ("/v1/overseers/ana/next", "/v1/lead/status"):
                svc.store.add_audit(
                    AuditRecord(
                        event="unauthorized",
                        subject=None,
                        role=None,
                        method="GET",
                        path=path,
                        status=401,
                        client="127.0.0.1",
                        detail=None,
                    )
                )
        yield db


def test_export_writes_every_table_of_the_schema_but_the_secrets(study_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    res = subprocess.run(
        [sys.executable, "-m", "sandwich", "export", str(study_db), "--to", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert res.returncode == 0, res.stderr
    assert "tokens: not exported (secrets)" in res.stdout
    tables = [r["table_name"] for r in sql(study_db, "SELECT table_name FROM information_schema.tables")]
    assert {"model_answers", "audit", "looks", "preregistration", "interactions"} <= set(tables)
    written = {p.relative_to(out).with_suffix("").as_posix() for p in out.rglob("*.parquet")}
    expected = {f"gold/{t}" if t in BLINDED_TABLES else t for t in tables if t not in WITHHELD}
    assert written == expected
    for t in tables:
        if t in WITHHELD:
            continue
        n = sql(study_db, f'SELECT count(*) AS n FROM "{t}"')[0]["n"]
        path = out / ("gold" if t in BLINDED_TABLES else "") / f"{t}.parquet"
        assert pl.read_parquet(path).height == n, t
    assert pl.read_parquet(out / "model_answers.parquet").height == 8
    assert pl.read_parquet(out / "audit.parquet").height == 2
    assert "label" not in pl.read_parquet(out / "model_answers.parquet").columns  # no gold in the open folder


def test_analysis_frames_rebuilt_from_the_export_alone_equal_the_stores(study_db: Path, tmp_path: Path) -> None:
    from sandwich.export import export_study

    with StudyService(study_db) as svc:
        export_study(svc, tmp_path / "export")
        stored = svc.store.analysis_frames()
    rebuilt = frames_from_export(tmp_path / "export")
    assert set(rebuilt) == set(stored)
    for name, frame in stored.items():
        assert frame.height > 0, name
        assert_frame_equal(rebuilt[name].sort(frame.columns), frame.sort(frame.columns), check_dtypes=False)
    # the model-alone rung can be scored from the export: the fake model picks A, gold is never A in c25
    ma = rebuilt["model_answers"]
    assert ma.height == 8 and (ma["choice"] == ma["gold"]).sum() == 0
