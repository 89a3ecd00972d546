"""A consistent copy of a served study's database, so the lead can analyse it while overseers work.

DuckDB copies the database into a new file itself (ATTACH + COPY FROM
DATABASE) under the service lock, so no write is half in it. The server never
opens the study file with plain file I/O: closing any descriptor of a file
drops every POSIX lock this process holds on it — DuckDB's writer lock included.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sandwich.service import StudyService


def take(svc: StudyService, folder: Path | None = None) -> Path:
    """Write a snapshot file (a complete study database) into `folder` (default: a new temp dir); return its path."""
    folder = folder or Path(tempfile.mkdtemp(prefix="sandwich-snapshot-"))
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{svc.db_path.stem}-snapshot-{stamp}.duckdb"
    con = svc.connection
    with svc.lock:
        source = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f"ATTACH '{_quote(target)}' AS sandwich_snapshot")
        try:
            con.execute(f'COPY FROM DATABASE "{source}" TO sandwich_snapshot')
        finally:
            con.execute("DETACH sandwich_snapshot")
    return target


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
