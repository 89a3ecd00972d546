"""Direct SQL on a study's DuckDB file, for tests that check (or tamper with) exactly what is stored.

The package itself reaches the file only through `sandwich.store`; tests may look underneath it.
A connection opened here while a `StudyService` holds the same file shares its database instance,
so it sees every committed write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb


def sql(where: Any, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Run one statement on the study file of `where` (a path, or a StudyService); rows as dicts."""
    path = Path(where) if isinstance(where, (str, Path)) else where.db_path
    read_only = bool(getattr(where, "read_only", False))
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        cur = con.execute(query, params or [])
        if cur.description is None:
            return []
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
