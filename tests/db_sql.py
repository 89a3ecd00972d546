"""Direct SQL on a study's DuckDB file or PostgreSQL schema, for tests that check (or tamper with) what is stored.

The package itself reaches the file only through `sandwich.store`; tests may look underneath it.
A connection opened here while a `StudyService` holds the same file shares its database instance,
so it sees every committed write. On PostgreSQL, `?` placeholders become `%s` and the statement runs
(and commits) on its own connection in the study's schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb


def sql(where: Any, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Run one statement on the study of `where` (a path or URL, or a StudyService); rows as dicts."""
    location = where if isinstance(where, (str, Path)) else where.db_path
    if str(location).startswith("postgresql://"):
        return _pg(str(location), query, params)
    path = Path(location)
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


def _pg(url: str, query: str, params: list[Any] | None) -> list[dict[str, Any]]:
    import psycopg
    from psycopg import sql as pgsql

    from sandwich.store.postgres_schema import split_url

    conninfo, schema = split_url(url)
    with psycopg.connect(conninfo) as con:
        con.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(schema)))
        con.execute("SET TIME ZONE 'UTC'")
        cur = con.execute(query.replace("?", "%s"), params or [])  # type: ignore[arg-type]
        if cur.description is None:
            return []
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
