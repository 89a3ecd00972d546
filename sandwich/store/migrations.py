"""The DuckDB study file: versioned schema, migrations, opening a file.

Gold labels and hidden tests live in their own tables (`gold`, `hidden_tests`);
only the lead-side study service reads them. Everything an overseer may see is
in `items`, `conditions`, `assistance` and their own `assignments`/`judgments`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import duckdb

from sandwich.errors import StoreError, StudyLocked

# Each migration moves the schema to its version; applied in version order. Append only; never edit one that shipped.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
    CREATE TABLE items (
        item_id VARCHAR PRIMARY KEY, task_kind VARCHAR NOT NULL, problem_id VARCHAR NOT NULL,
        split VARCHAR NOT NULL, role VARCHAR NOT NULL DEFAULT 'study', title VARCHAR,
        prompt VARCHAR, body VARCHAR, question VARCHAR, choices VARCHAR[], language VARCHAR,
        meta JSON);
    CREATE TABLE gold (item_id VARCHAR PRIMARY KEY, label VARCHAR NOT NULL, source VARCHAR NOT NULL, detail JSON);
    CREATE TABLE hidden_tests (problem_id VARCHAR PRIMARY KEY, test VARCHAR, entry_point VARCHAR);
    CREATE TABLE conditions (name VARCHAR PRIMARY KEY, position INTEGER NOT NULL, assistance JSON,
        briefing VARCHAR, live_followups BOOLEAN);
    CREATE TABLE overseers (name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, kind VARCHAR NOT NULL DEFAULT 'human',
        profile JSON);
    CREATE TABLE assignments (assignment_id VARCHAR PRIMARY KEY, overseer VARCHAR NOT NULL, item_id VARCHAR NOT NULL,
        condition VARCHAR NOT NULL, position INTEGER NOT NULL, block INTEGER NOT NULL, UNIQUE (overseer, item_id));
    CREATE TABLE assistance (assistance_id VARCHAR PRIMARY KEY, item_id VARCHAR NOT NULL, condition VARCHAR NOT NULL,
        kind VARCHAR NOT NULL, status VARCHAR NOT NULL, content JSON, raw VARCHAR, backend VARCHAR, model VARCHAR,
        prompt JSON, params JSON, tokens_in INTEGER, tokens_out INTEGER, latency_s DOUBLE, seed BIGINT,
        created_at TIMESTAMP DEFAULT current_timestamp, UNIQUE (item_id, condition, kind));
    CREATE TABLE interactions (interaction_id VARCHAR PRIMARY KEY, overseer VARCHAR NOT NULL, assignment_id VARCHAR,
        event VARCHAR NOT NULL, payload JSON, ts TIMESTAMP DEFAULT current_timestamp);
    CREATE TABLE judgments (judgment_id VARCHAR PRIMARY KEY, assignment_id VARCHAR NOT NULL UNIQUE,
        overseer VARCHAR NOT NULL, item_id VARCHAR NOT NULL, condition VARCHAR NOT NULL, choice VARCHAR,
        confidence INTEGER, rationale VARCHAR, time_on_item_s DOUBLE, time_to_first_assist_s DOUBLE,
        assistance_failed BOOLEAN DEFAULT false, timed_out BOOLEAN DEFAULT false, skipped BOOLEAN DEFAULT false,
        source VARCHAR NOT NULL DEFAULT 'human', simulated BOOLEAN NOT NULL DEFAULT false, client_meta JSON,
        created_at TIMESTAMP DEFAULT current_timestamp);
    CREATE TABLE preregistration (hash VARCHAR NOT NULL, hypotheses JSON, frozen_at TIMESTAMP);
    CREATE TABLE tokens (token_hash VARCHAR PRIMARY KEY, subject VARCHAR NOT NULL, role VARCHAR NOT NULL,
        created_at TIMESTAMP DEFAULT current_timestamp, revoked BOOLEAN DEFAULT false);
    """,
    ),
    # serve: tokens are found by a public id and checked as sha256(salt + secret); refusals are audited.
    (
        5,
        """
    ALTER TABLE tokens ADD COLUMN token_id VARCHAR;
    ALTER TABLE tokens ADD COLUMN salt VARCHAR;
    CREATE TABLE audit (ts TIMESTAMP DEFAULT current_timestamp, event VARCHAR NOT NULL, subject VARCHAR,
        role VARCHAR, method VARCHAR, path VARCHAR, status INTEGER, client VARCHAR, detail JSON);
    """,
    ),
    # analysis: the assistant answering each item on its own (the sandwich's "model alone" rung).
    (
        3,
        """
    CREATE TABLE IF NOT EXISTS model_answers (item_id VARCHAR NOT NULL, model VARCHAR NOT NULL, backend VARCHAR,
        choice VARCHAR, confidence INTEGER, raw VARCHAR, prompt JSON, params JSON, latency_s DOUBLE,
        created_at TIMESTAMP DEFAULT current_timestamp, PRIMARY KEY (item_id, model));
    """,
    ),
    # pre-registration freezes the whole analysis plan; every look at the results is logged.
    (
        6,
        """
    ALTER TABLE preregistration ADD COLUMN plan JSON;
    CREATE TABLE looks (ts TIMESTAMP NOT NULL, action VARCHAR NOT NULL, who VARCHAR NOT NULL,
        judgments INTEGER NOT NULL, planned INTEGER NOT NULL, plan_hash VARCHAR);
    """,
    ),
]
SCHEMA_VERSION = max(v for v, _ in MIGRATIONS)

# Tables some studies have outside the migrations, with their DDL, so `sandwich store copy` can carry them.
# Imported transcripts: what each judge read. Several sessions can share an item and condition, so they
# cannot live in `assistance` (one row per item, condition and kind); replay studies copy one per item there.
EXTRA_TABLES: dict[str, str] = {
    "imported_transcripts": """CREATE TABLE IF NOT EXISTS imported_transcripts (transcript_id VARCHAR PRIMARY KEY,
    item_id VARCHAR NOT NULL, condition VARCHAR NOT NULL, kind VARCHAR NOT NULL, content JSON, source JSON)""",
}


def _friendly(e: Exception, path: Path) -> StoreError:
    text = str(e)
    if "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        who = f" (process {pid.group(1)})" if pid else ""
        return StudyLocked(
            f"{path}: the study database is in use by another process{who}.",
            hint="DuckDB allows one writer per file. Finish or stop that process (a running `sandwich label` "
            "or `sandwich serve`), or let several overseers share it through `sandwich serve`.",
        )
    if "not a valid DuckDB database" in text or "Invalid Input Error" in text or "IO Error" in text:
        return StoreError(
            f"{path}: cannot open as a study database: {text.splitlines()[0]}",
            hint="Is this the file `sandwich create` wrote? Re-create it from the study YAML.",
        )
    return StoreError(f"{path}: {text}")


def connect(path: str | Path, *, read_only: bool = False, create: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a study database, migrating it to the current schema when writable."""
    p = Path(path)
    if not create and not p.exists():
        raise StoreError(
            f"{p}: no study database here.",
            hint="Create it first with `sandwich create STUDY.yaml` (it writes STUDY.duckdb beside the YAML).",
        )
    try:
        con = duckdb.connect(str(p), read_only=read_only)
    except duckdb.Error as e:
        raise _friendly(e, p) from None
    version = schema_version(con)
    if version > SCHEMA_VERSION:
        con.close()
        raise StoreError(
            f"{p}: written by a newer sandwich (schema v{version}; this one understands up to v{SCHEMA_VERSION}).",
            hint="Upgrade sandwich (git pull && make setup) to open it; nothing was changed.",
        )
    if read_only:
        if version == 0:
            con.close()
            raise StoreError(f"{p}: not a study database (no schema).", hint="Create it with `sandwich create`.")
    elif pending(con, version):
        migrate(con, version)
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the file (0 for an empty file)."""
    row = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchone()
    has_meta = row[0] if row else 0  # count(*) always yields one row
    if not has_meta:
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def applied(con: duckdb.DuckDBPyConnection, current: int) -> set[int]:
    """Migrations a file has had. Files from before this was recorded had every one up to `current`."""
    if current == 0:
        return set()
    row = con.execute("SELECT value FROM meta WHERE key = 'migrations_applied'").fetchone()
    return set(json.loads(row[0])) if row else {v for v, _ in MIGRATIONS if v <= current}


def pending(con: duckdb.DuckDBPyConnection, current: int) -> list[int]:
    """Known migrations this file has not had, in order (a lower number added late still counts)."""
    done = applied(con, current)
    return sorted(v for v, _ in MIGRATIONS if v not in done)


def migrate(con: duckdb.DuckDBPyConnection, current: int) -> None:
    """Apply every pending migration in version order, each in its own transaction."""
    done = applied(con, current)
    for version, sql in sorted(MIGRATIONS):
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            done.add(version)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(max(done))])
            con.execute("INSERT OR REPLACE INTO meta VALUES ('migrations_applied', ?)", [json.dumps(sorted(done))])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def default_db_path(study_path: str | Path) -> Path:
    """Where a study's database lives by default: beside its YAML, same stem."""
    p = Path(study_path)
    return p.with_suffix(".duckdb")


def remove_db(path: Path) -> None:
    """Delete a database file and its write-ahead log."""
    for f in (path, Path(str(path) + ".wal")):
        if f.exists():
            os.remove(f)


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """A metadata value as text (None when absent)."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None
