"""A consistent copy of a served study's database, so the lead can analyse it while overseers work.

Under the service lock no write can start (the writer holds the same lock for
each whole batch), so CHECKPOINT folds the write-ahead log into the file and a
plain copy of the file is exactly the committed study at that moment.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sandwich.service import StudyService


def take(svc: StudyService, folder: Path | None = None) -> Path:
    """Write a snapshot file (a complete study database) into `folder` (default: a new temp dir); return its path."""
    folder = folder or Path(tempfile.mkdtemp(prefix="sandwich-snapshot-"))
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{svc.db_path.stem}-snapshot-{stamp}.duckdb"
    partial = target.with_suffix(".partial")
    with svc.lock:
        svc.connection.execute("CHECKPOINT")
        shutil.copyfile(svc.db_path, partial)
        wal = Path(str(svc.db_path) + ".wal")
        if wal.exists() and wal.stat().st_size:  # a checkpoint that could not fold everything: keep the log too
            shutil.copyfile(wal, str(target) + ".wal")
    partial.replace(target)
    return target
