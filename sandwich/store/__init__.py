"""The study store: the one door to a study's persistence (see `protocol.StudyStore`).

`open_store` picks the implementation for a location: a file path is DuckDB (`duckdb_store.py`,
schema and migrations in `migrations.py`), the embedded default; a `postgresql://…?schema=NAME`
URL is PostgreSQL (`postgres_store.py`, `postgres_schema.py`), for a study several machines write.
`copying.py` writes new studies atomically and copies a study between the two. No SQL lives
outside this package (a test checks it).
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from sandwich.store.copying import (
    Location,
    as_location,
    copy_study,
    staged,
    study_exists,
)
from sandwich.store.duckdb_store import DB_ERRORS as DUCKDB_ERRORS
from sandwich.store.duckdb_store import DuckDBStore
from sandwich.store.migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    connect,
    default_db_path,
    get_meta,
    remove_db,
    schema_version,
)
from sandwich.store.postgres_schema import is_url
from sandwich.store.protocol import DuplicateKey, StudyStore
from sandwich.store.records import (
    AssignmentRecord,
    AssistanceRecord,
    AuditRecord,
    ConditionRecord,
    FreezeRecord,
    GoldRecord,
    HiddenTestRecord,
    InteractionRecord,
    ItemRecord,
    JudgmentRecord,
    LookRecord,
    ModelAnswerRecord,
    OverseerRecord,
    StudyContent,
    TokenRecord,
)

STORE_KINDS = ("duckdb", "postgres")
# Driver errors the server answers with 503 (the store is unreachable or failing) rather than crashing.
DB_ERRORS: tuple[type[Exception], ...] = (*DUCKDB_ERRORS, psycopg.Error)
# The database could not be reached (down, restarting, no connection within the pool's wait): every write of a
# batch fails alike, so the server's writer fails them together instead of retrying each alone.
UNREACHABLE_ERRORS: tuple[type[Exception], ...] = (psycopg.OperationalError,)


def store_kind(location: str | Path) -> str:
    """Which implementation serves a location: a `postgresql://` URL is PostgreSQL, anything else a DuckDB file."""
    return "postgres" if is_url(str(location)) else "duckdb"


def open_store(
    location: str | Path, *, read_only: bool = False, create: bool = False, kind: str | None = None
) -> StudyStore:
    """Open (or with `create`, start) a study store. Raises StoreError/StudyLocked with a hint on failure."""
    kind = kind or store_kind(location)
    if kind not in STORE_KINDS:
        raise ValueError(f"unknown store kind {kind!r} (known: {', '.join(STORE_KINDS)})")
    if kind == "postgres":
        from sandwich.store.postgres_store import PostgresStore

        return PostgresStore(str(location), read_only=read_only, create=create)
    return DuckDBStore(location, read_only=read_only, create=create)


__all__ = [
    "DB_ERRORS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "STORE_KINDS",
    "AssignmentRecord",
    "AssistanceRecord",
    "AuditRecord",
    "ConditionRecord",
    "DuckDBStore",
    "DuplicateKey",
    "FreezeRecord",
    "GoldRecord",
    "HiddenTestRecord",
    "InteractionRecord",
    "ItemRecord",
    "JudgmentRecord",
    "Location",
    "LookRecord",
    "ModelAnswerRecord",
    "OverseerRecord",
    "StudyContent",
    "StudyStore",
    "UNREACHABLE_ERRORS",
    "TokenRecord",
    "as_location",
    "connect",
    "copy_study",
    "default_db_path",
    "get_meta",
    "is_url",
    "open_store",
    "remove_db",
    "schema_version",
    "staged",
    "store_kind",
    "study_exists",
]
