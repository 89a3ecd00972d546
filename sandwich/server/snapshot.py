"""A consistent copy of a served study's database, so the lead can analyse it while overseers work.

The store copies the database into a new file itself, under its lock, so no
write is half in it. Each snapshot is logged in the study as a look (by the
lead token that asked for it) before the copy is taken.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sandwich.service import StudyService


def take(svc: StudyService, folder: Path | None = None, *, who: str | None = None) -> Path:
    """Write a snapshot file (a complete study database) into `folder` (default: a new temp dir); return its path."""
    folder = folder or Path(tempfile.mkdtemp(prefix="sandwich-snapshot-"))
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    stem = svc.db_path.stem if isinstance(svc.db_path, Path) else svc.study.study  # a PostgreSQL URL: the study
    target = folder / f"{stem}-snapshot-{stamp}.duckdb"
    with svc.lock:
        svc.record_look("snapshot", who)
        svc.store.snapshot(target)
    return target
