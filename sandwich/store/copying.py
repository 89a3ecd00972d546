"""Writing a whole new study atomically, and copying a study between stores (`sandwich store copy`).

A new study is written to a staging place and moved into its location only when complete: a
temporary file beside a DuckDB target (renamed into place), or a staging schema beside a
PostgreSQL target (renamed in one transaction). A failure leaves the target as it was.

A copy carries every table row for row: JSON columns as their stored text, arrays as lists,
timestamps to the microsecond, so DuckDB → PostgreSQL → DuckDB gives back the same rows.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sandwich.errors import StoreError
from sandwich.store import migrations
from sandwich.store.postgres_schema import (
    drop_schema,
    is_url,
    redact,
    split_url,
    with_connection,
)

Location = str | Path


def as_location(value: str | Path) -> Location:
    """A study location as given on a command line: a `postgresql://` URL stays text, anything else is a path."""
    return str(value) if is_url(str(value)) else Path(value)


def with_schema(url: str, schema: str) -> str:
    """The same PostgreSQL URL naming another schema."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([*query, ("schema", schema)]), parts.fragment))


def study_exists(location: Location) -> bool:
    """Whether a study (any schema version) is stored at a location."""
    if not is_url(location):
        return Path(location).exists()

    def probe(conn: Any, schema: str) -> bool:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [schema]
        ).fetchone()
        return bool(row and row[0])

    return bool(with_connection(str(location), probe))


@contextmanager
def staged(location: Location) -> Iterator[Location]:
    """A staging location for a new study, moved into `location` when the block ends without error."""
    if is_url(location):
        url = str(location)
        _, schema = split_url(url)
        stage = f"new_{uuid.uuid4().hex[:8]}_{schema}"[:63]

        def place(conn: Any, target: str) -> None:
            drop_schema(conn, target)
            conn.execute(f'ALTER SCHEMA "{stage}" RENAME TO "{target}"')

        try:
            yield with_schema(url, stage)
            with_connection(url, place)
        except BaseException:
            with_connection(url, lambda conn, _s: drop_schema(conn, stage))
            raise
        return
    db = Path(location)
    db.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db.name}.", suffix=".tmp", dir=db.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # DuckDB wants to create the file itself
    try:
        yield tmp
        migrations.remove_db(db)
        os.replace(tmp, db)
    except BaseException:
        migrations.remove_db(tmp)
        raise


def _migration_tables() -> set[str]:
    return {
        m.group(1)
        for _, ddl in migrations.MIGRATIONS
        for m in re.finditer(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", ddl)
    }


def copy_study(source: Location, target: Location, *, force: bool = False) -> dict[str, int]:
    """Copy every table of the study at `source` into a new study at `target`. Returns rows per table.

    Raises StoreError when the target already holds a study (unless `force`), when the source's schema
    is not the current one (open it writable once, e.g. `sandwich status`, to migrate it), or when the
    source has a table this sandwich does not know; nothing is written then.
    """
    from sandwich.store import open_store

    if str(source) == str(target):
        raise StoreError(f"{redact(str(source))}: source and target are the same study.", hint="Name another TO.")
    if study_exists(target) and not force:
        raise StoreError(
            f"{redact(str(target))} already holds a study; refusing to overwrite it.",
            hint="Choose another target, or pass --force to replace it.",
        )
    src = open_store(source, read_only=True)
    try:
        if src.schema_version() != migrations.SCHEMA_VERSION:
            raise StoreError(
                f"{src.location}: schema v{src.schema_version()}, this sandwich writes v{migrations.SCHEMA_VERSION}.",
                hint="Open it writable once (e.g. `sandwich status`) to migrate it, then copy.",
            )
        tables = src.dump_tables()
    finally:
        src.close()
    unknown = sorted(set(tables) - _migration_tables() - set(migrations.EXTRA_TABLES))
    if unknown:
        raise StoreError(
            f"{src.location}: table(s) {', '.join(unknown)} unknown to this sandwich; nothing copied.",
            hint="Upgrade sandwich, or export the study with `sandwich export` instead.",
        )
    write_copy(tables, target)
    return {name: len(rows) for name, (_, rows) in tables.items()}


def write_copy(tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]], target: Location) -> None:
    """Write dumped tables (`dump_tables()`) as a new study at `target`, atomically."""
    from sandwich.store import open_store

    with staged(target) as stage:
        dst = open_store(stage, create=True)
        try:
            with dst.transaction():
                dst.clear_table("meta")  # the source's meta (schema version included) replaces the new one's
                for name, (columns, rows) in tables.items():
                    dst.write_table(name, columns, rows)
        finally:
            dst.close()
