"""Reading and writing whole results of a PostgreSQL study: COPY into polars, whole tables for `store copy`.

Split from `postgres_store.py` (one module, one idea): `copy_frame` is how analysis frames are read
(COPY … TO STDOUT as CSV, parsed by polars: no Python object per value); `TablesMixin` gives
`PostgresStore` the protocol's whole-table methods, export and snapshot.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import psycopg
from psycopg import sql

from sandwich.errors import StoreError
from sandwich.store import postgres_schema as pgs
from sandwich.store.migrations import EXTRA_TABLES

# PostgreSQL type oids → how a COPY (CSV) text column becomes a polars column.
_BOOL, _INT2, _INT4, _INT8, _FLOAT4, _FLOAT8, _TS = 16, 21, 23, 20, 700, 701, 1114


def copy_frame(conn: psycopg.Connection, query: str) -> pl.DataFrame:
    """A query's result as a polars frame, streamed with COPY (CSV) and parsed by polars, not row by row.

    Columns are typed from the result's type oids (bool, int2/4/8, float4/8, timestamp; text stays text),
    matching the dtypes DuckDB's Arrow export gives for the same query.
    """
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM ({query}) q LIMIT 0")
        cols = [(d.name, d.type_code) for d in cur.description or []]
        buf = io.BytesIO()
        with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv, FORCE_QUOTE *)") as cp:
            for chunk in cp:
                buf.write(chunk)
    names = [n for n, _ in cols]
    if not buf.getbuffer().nbytes:
        raw = pl.DataFrame({n: pl.Series(n, [], dtype=pl.String) for n in names})
    else:
        buf.seek(0)
        # FORCE_QUOTE quotes every non-NULL value, so an unquoted empty field is NULL and "" an empty string
        raw = pl.read_csv(buf, has_header=False, new_columns=names, infer_schema=False)
    exprs = []
    for n, oid in cols:
        c = pl.col(n)
        exprs.append(
            {
                _BOOL: c == "t",
                _INT2: c.cast(pl.Int16),
                _INT4: c.cast(pl.Int32),
                _INT8: c.cast(pl.Int64),
                _FLOAT4: c.cast(pl.Float32),
                _FLOAT8: c.cast(pl.Float64),
                _TS: c.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=True),
            }.get(oid, c).alias(n)
        )
    return raw.select(exprs)


class TablesMixin:
    """Whole-table reads and writes, export and snapshot, for `PostgresStore` (which provides the plumbing)."""

    schema: str
    location: str

    if TYPE_CHECKING:  # provided by PostgresStore

        def _conn(self) -> AbstractContextManager[psycopg.Connection]: ...
        def _rows(self, query: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]: ...
        def _exec(self, query: Any, params: Sequence[Any] | None = None) -> None: ...
        def _check_writable(self) -> None: ...
        def transaction(self, *, snapshot: bool = False) -> AbstractContextManager[None]: ...

    def export_parquet(self, out: Path, tables: Sequence[str], blinded: Sequence[str]) -> dict[str, int]:
        """Every table to OUT/<table>.parquet, the blinded ones to OUT/gold/. Returns row counts."""
        known = set(self.table_names())
        counts: dict[str, int] = {}
        for table in [*tables, *blinded]:
            if table not in known:
                raise ValueError(f"no table {table!r}")
            target = (out / "gold" if table in blinded else out) / f"{table}.parquet"
            frame = self.table_frame(table)
            frame.write_parquet(target)
            counts[table] = frame.height
        return counts

    def snapshot(self, target: Path) -> None:
        """Copy the whole study, in one consistent read, into a new DuckDB file at `target`."""
        from sandwich.store.copying import write_copy

        write_copy(self.dump_tables(), target)

    # ------------------------------------------------------------ whole tables (store copy, export)
    def table_names(self) -> list[str]:
        """The study's tables, by name."""
        return [
            r[0]
            for r in self._rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                'ORDER BY table_name COLLATE "C"',
                [self.schema],
            )
        ]

    def _columns(self, table: str) -> list[tuple[str, str]]:
        return [
            (n, t)
            for n, t in self._rows(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND "
                "table_name = %s ORDER BY ordinal_position",
                [self.schema, table],
            )
        ]

    def read_table(self, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """(column names, rows) of a whole table; JSON columns as their stored text."""
        cols = self._columns(table)
        if not cols:
            raise ValueError(f"no table {table!r}")
        exprs = [sql.SQL("{}::text").format(sql.Identifier(n)) if t == "json" else sql.Identifier(n) for n, t in cols]
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(exprs), sql.Identifier(table))
        with self._conn() as conn:
            return [n for n, _ in cols], conn.execute(query).fetchall()

    def dump_tables(self) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        """Every table as `read_table` gives it, all read in one snapshot transaction."""
        with self.transaction(snapshot=True):
            return {t: self.read_table(t) for t in self.table_names()}

    def table_frame(self, table: str) -> pl.DataFrame:
        """A whole table as a polars frame (JSON columns as text, arrays as lists)."""
        names, rows = self.read_table(table)
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)

    def write_table(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append rows to a table with COPY FROM STDIN (values as `read_table` gives them)."""
        self._check_writable()
        if table not in self.table_names():
            ddl = EXTRA_TABLES.get(table)
            if ddl is None:
                raise StoreError(f"{self.location}: no table {table!r} here, and none known by that name.")
            self._exec(pgs.pg_dialect(ddl))
        query = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        with self._conn() as conn, conn.cursor() as cur, cur.copy(query) as cp:
            for r in rows:
                cp.write_row(r)

    def clear_table(self, table: str) -> None:
        """Delete every row of a table (store copy empties a new study's `meta` before filling it)."""
        self._exec(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
