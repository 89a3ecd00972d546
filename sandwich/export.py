"""`sandwich export`: the study as Parquet files, with the blinded tables kept apart. Each export is logged as a look."""

from __future__ import annotations

from pathlib import Path

from sandwich.service import StudyService

OPEN_TABLES = ["items", "conditions", "overseers", "assignments", "assistance", "interactions", "judgments",
               "preregistration", "looks", "meta"]
BLINDED_TABLES = ["gold", "hidden_tests"]


def export_study(svc: StudyService, out: Path, *, who: str | None = None) -> dict[str, int]:
    """Write every table to OUT/*.parquet except gold and hidden tests, which go to OUT/gold/. Returns row counts.

    The export reads results (gold included), so it is logged in the study as a look by `who`
    (default: the OS user) before the tables are written — the export contains its own look.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "gold").mkdir(exist_ok=True)
    with svc.lock:
        svc.record_look("export", who)
        return svc.store.export_parquet(out, OPEN_TABLES, BLINDED_TABLES)
