"""A study in PostgreSQL: its location (URL + schema), its schema and migrations, the connection pool.

A study lives in its own schema of a database, named by the URL's `schema` parameter:
`postgresql://user@host:5432/db?schema=my_study` (default schema `sandwich`). The migrations are
DuckDB's list (`migrations.MIGRATIONS`) with one explicit dialect change (`pg_dialect`); the
applied versions are recorded in the schema's `meta` table exactly as in a DuckDB file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from sandwich.errors import StoreError
from sandwich.store.migrations import MIGRATIONS, SCHEMA_VERSION

URL_SCHEMES = ("postgresql", "postgres")
DEFAULT_SCHEMA = "sandwich"
_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def is_url(location: object) -> bool:
    """Whether a study location is a PostgreSQL URL (rather than a DuckDB file path)."""
    return isinstance(location, str) and location.split("://", 1)[0].lower() in URL_SCHEMES and "://" in location


def split_url(url: str) -> tuple[str, str]:
    """(libpq conninfo URL without `schema`, schema name). Raises StoreError on a bad schema name."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), DEFAULT_SCHEMA)
    if not _IDENT.fullmatch(schema):
        raise StoreError(
            f"{redact(url)}: schema {schema!r} is not a plain lower-case SQL name.",
            hint="Use letters, digits and underscores, starting with a letter (e.g. ?schema=pilot_2026).",
        )
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(("postgresql", parts.netloc, parts.path, rest, parts.fragment)), schema


def redact(url: str) -> str:
    """The URL with any password replaced by ***, for messages."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def pg_dialect(ddl: str) -> str:
    """A DuckDB migration in PostgreSQL's dialect: the only difference in our DDL is DOUBLE."""
    return re.sub(r"\bDOUBLE\b", "DOUBLE PRECISION", ddl)


POOL_WAIT_S = 5.0  # how long a statement waits for a connection before the store counts as unavailable (503)


def open_pool(url: str, schema: str, *, max_size: int = 4) -> ConnectionPool:
    """A connection pool whose connections use the study's schema and UTC. Raises StoreError when unreachable."""
    conninfo, _ = split_url(url)

    def configure(conn: psycopg.Connection) -> None:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()

    pool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        configure=configure,
        open=False,
        check=ConnectionPool.check_connection,
        timeout=POOL_WAIT_S,
        name=f"sandwich-{schema}",
    )
    try:
        pool.open(wait=True, timeout=10)
    except Exception as e:  # noqa: BLE001 - the pool wraps any connection failure; reported with its text
        pool.close()
        raise StoreError(
            f"{redact(url)}: cannot connect to PostgreSQL ({str(e).splitlines()[0] if str(e) else e}).",
            hint="Is the server running and the URL right (postgresql://USER@HOST:PORT/DB?schema=NAME)?",
        ) from None
    return pool


def schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    """Whether the schema exists in the database."""
    row = conn.execute("SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", [schema]).fetchone()
    return bool(row and row[0])


def has_table(conn: psycopg.Connection, schema: str, table: str) -> bool:
    """Whether the study's schema has a table called `table`."""
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s", [schema, table]
    ).fetchone()
    return bool(row and row[0])


def schema_version(conn: psycopg.Connection, schema: str) -> int:
    """The schema version recorded in the study's `meta` (0 for an empty or missing schema)."""
    if not has_table(conn, schema, "meta"):
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _applied(conn: psycopg.Connection, current: int) -> set[int]:
    if current == 0:
        return set()
    row = conn.execute("SELECT value FROM meta WHERE key = 'migrations_applied'").fetchone()
    return set(json.loads(row[0])) if row else {v for v, _ in MIGRATIONS if v <= current}


def _set_meta(conn: psycopg.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def prepare(conn: psycopg.Connection, url: str, schema: str, *, create: bool, read_only: bool) -> None:
    """Create the schema (with `create`) and apply pending migrations, inside the caller's transaction.

    An advisory lock on the schema name makes replicas that start together migrate one at a time.
    Raises StoreError for a missing study, or one written by a newer sandwich.
    """
    where = redact(url)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"sandwich:{schema}"])
    if not schema_exists(conn, schema):
        if not create:
            raise StoreError(
                f"{where}: no study in schema {schema!r} of this database.",
                hint="Create it first: sandwich create STUDY.yaml --db 'postgresql://…?schema=NAME', "
                "or copy one in with `sandwich store copy`.",
            )
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    version = schema_version(conn, schema)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{where}: written by a newer sandwich (schema v{version}; this one understands up to v{SCHEMA_VERSION}).",
            hint="Upgrade sandwich (git pull && make setup); nothing was changed.",
        )
    if read_only:
        if version == 0:
            raise StoreError(f"{where}: schema {schema!r} holds no study.", hint="Create it with `sandwich create`.")
        return
    done = _applied(conn, version)
    for v, ddl in sorted(MIGRATIONS):
        if v in done:
            continue
        conn.execute(pg_dialect(ddl))
        done.add(v)
        _set_meta(conn, "schema_version", str(max(done)))
        _set_meta(conn, "migrations_applied", json.dumps(sorted(done)))


def drop_schema(conn: psycopg.Connection, schema: str) -> None:
    """Remove a study schema and everything in it (inside the caller's transaction)."""
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def with_connection(url: str, fn: Callable[[psycopg.Connection, str], object]) -> object:
    """Run fn(conn, schema) on one fresh connection in one transaction (committed on success)."""
    conninfo, schema = split_url(url)
    try:
        with psycopg.connect(conninfo) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            with conn.transaction():
                return fn(conn, schema)
    except psycopg.OperationalError as e:
        raise StoreError(
            f"{redact(url)}: cannot connect to PostgreSQL ({str(e).splitlines()[0]}).",
            hint="Is the server running and the URL right (postgresql://USER@HOST:PORT/DB?schema=NAME)?",
        ) from None
