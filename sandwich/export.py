"""`sandwich export`: the study as Parquet files, with the blinded tables kept apart."""

from __future__ import annotations

from pathlib import Path

from sandwich.service import StudyService

OPEN_TABLES = ["items", "conditions", "overseers", "assignments", "assistance", "interactions", "judgments",
               "preregistration", "meta"]
BLINDED_TABLES = ["gold", "hidden_tests"]


def export_study(svc: StudyService, out: Path) -> dict[str, int]:
    """Write every table to OUT/*.parquet except gold and hidden tests, which go to OUT/gold/. Returns row counts."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "gold").mkdir(exist_ok=True)
    counts: dict[str, int] = {}
    with svc.lock:
        con = svc.connection
        for table in OPEN_TABLES + BLINDED_TABLES:
            target = (out / "gold" if table in BLINDED_TABLES else out) / f"{table}.parquet"
            con.execute(f"COPY (SELECT * FROM {table}) TO '{target.as_posix()}' (FORMAT parquet)")
            counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return counts
