"""The study store: the one door to a study's persistence (see `protocol.StudyStore`).

`open_store` picks the implementation for a location. DuckDB (`duckdb_store.py`,
schema and migrations in `migrations.py`) is the embedded default and, today,
the only one; a new store (PostgreSQL) is a module beside it that implements
`StudyStore`, plus one branch here. No SQL lives outside this package (a test
checks it).
"""

from __future__ import annotations

from pathlib import Path

from sandwich.store.duckdb_store import DB_ERRORS, DuckDBStore
from sandwich.store.migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    connect,
    default_db_path,
    get_meta,
    remove_db,
    schema_version,
)
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

STORE_KINDS = ("duckdb",)


def store_kind(location: str | Path) -> str:
    """Which implementation serves a location: a file path is DuckDB (a URL scheme will pick others)."""
    return "duckdb"


def open_store(location: str | Path, *, read_only: bool = False, create: bool = False,
               kind: str | None = None) -> StudyStore:
    """Open (or with `create`, start) a study store. Raises StoreError/StudyLocked with a hint on failure."""
    kind = kind or store_kind(location)
    if kind not in STORE_KINDS:
        raise ValueError(f"unknown store kind {kind!r} (known: {', '.join(STORE_KINDS)})")
    return DuckDBStore(location, read_only=read_only, create=create)


__all__ = ["DB_ERRORS", "MIGRATIONS", "SCHEMA_VERSION", "STORE_KINDS", "AssignmentRecord", "AssistanceRecord",
           "AuditRecord", "ConditionRecord", "DuckDBStore", "DuplicateKey", "FreezeRecord", "GoldRecord",
           "HiddenTestRecord", "InteractionRecord", "ItemRecord", "JudgmentRecord", "LookRecord", "ModelAnswerRecord",
           "OverseerRecord", "StudyContent", "StudyStore", "TokenRecord", "connect", "default_db_path", "get_meta",
           "open_store", "remove_db", "schema_version", "store_kind"]
