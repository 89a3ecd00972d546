"""`PostgresStore`: a study in its own schema of a PostgreSQL database (psycopg 3 and its pool).

For a multi-site study: several `sandwich serve` replicas, or several labelling machines, write one
study. The statements follow `DuckDBStore`'s; the differences are explicit here: `%s` placeholders,
`COLLATE "C"` on text sort keys (so rows come out in DuckDB's byte order whatever the cluster's
locale), and analysis frames read with `COPY … TO STDOUT` into polars rather than row by row.

Uniqueness lives in the database: `judgments.judgment_id` (the client's id) and
`judgments.assignment_id` are unique keys, so a retried submit arriving at two replicas at once
stores one row and the other gets `DuplicateKey`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import psycopg

from sandwich.errors import StoreError
from sandwich.store import postgres_schema as pgs
from sandwich.store.duckdb_store import (
    _ASSIST_COLUMNS,
    _ITEM_COLUMNS,
    _JUDGMENT_COLUMNS,
    _dump,
    _load,
)
from sandwich.store.postgres_tables import TablesMixin, copy_frame
from sandwich.store.protocol import DuplicateKey, iter_columns
from sandwich.store.records import (
    AssignmentRecord,
    AssistanceRecord,
    FreezeRecord,
    GoldRecord,
    InteractionRecord,
    ItemRecord,
    JudgmentRecord,
    ModelAnswerRecord,
    OverseerRecord,
    StudyContent,
)
from sandwich.store.shared_sql import SharedStatements, item_row

_JUDGMENT_TYPES = [
    "varchar",
    "varchar",
    "varchar",
    "varchar",
    "varchar",
    "varchar",
    "integer",
    "varchar",
    "double precision",
    "double precision",
    "boolean",
    "boolean",
    "boolean",
    "varchar",
    "boolean",
    "json",
    "timestamp",
]
_INSERT_JUDGMENTS = (
    f"INSERT INTO judgments ({', '.join(_JUDGMENT_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{t}[]" for t in _JUDGMENT_TYPES)
    + ")"
)


def _item(r: Sequence[Any]) -> ItemRecord:
    values = list(r)
    values[11] = _load(values[11])
    return ItemRecord(*values)


class PostgresStore(SharedStatements, TablesMixin):
    """A study store in one schema of a PostgreSQL database (see `StudyStore` for each method's contract).

    The look log, tokens and audit are `SharedStatements`, written once for DuckDB and PostgreSQL.
    """

    PARAM = "%s"
    NOW = "localtimestamp"

    def __init__(self, url: str, *, read_only: bool = False, create: bool = False, pool_size: int = 4) -> None:
        self.url = url
        self.location = pgs.redact(url)
        self.read_only = read_only
        _, self.schema = pgs.split_url(url)
        self._pool = pgs.open_pool(url, self.schema, max_size=pool_size)
        self._lock = threading.RLock()
        self._tx: psycopg.Connection | None = None
        self._depth = 0
        try:
            with self._conn() as conn:
                pgs.prepare(conn, self.location, self.schema, create=create, read_only=read_only)
        except BaseException:
            self._pool.close()
            raise

    # ------------------------------------------------------------ plumbing
    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        """The transaction's connection, or a pooled one committed when the block ends."""
        with self._lock:
            if self._tx is not None:
                yield self._tx
                return
            with self._pool.connection() as conn:
                yield conn

    def _rows(self, query: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return conn.execute(query, list(params or [])).fetchall()

    def _exec(self, query: str, params: Sequence[Any] | None = None) -> None:
        self._check_writable()
        with self._conn() as conn:
            conn.execute(query, list(params or []))

    def _many(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._check_writable()
            with self._conn() as conn, conn.cursor() as cur:
                cur.executemany(query, [list(r) for r in rows])

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.location}: the study is open read-only.")

    def _frame(self, query: str) -> pl.DataFrame:
        """A query's result as a polars frame, through COPY (see `postgres_tables.copy_frame`)."""
        with self._conn() as conn:
            return copy_frame(conn, query)

    @property
    def lock(self) -> threading.RLock:
        """Serialises this process's use of the store (other processes are kept apart by PostgreSQL)."""
        return self._lock

    @contextmanager
    def transaction(self, *, snapshot: bool = False) -> Iterator[None]:
        """BEGIN … COMMIT on one pooled connection, holding the lock; nested calls join the outer one.

        With `snapshot`, a read-only REPEATABLE READ transaction: every read sees the same moment.
        """
        with self._lock:
            if self._tx is not None:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with self._pool.connection() as conn:
                self._tx = conn
                try:
                    with conn.transaction():
                        if snapshot:
                            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        yield
                finally:
                    self._tx = None

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

    def schema_version(self) -> int:
        """The schema version recorded in the study's schema."""
        with self._conn() as conn:
            return pgs.schema_version(conn, self.schema)

    # ------------------------------------------------------------ create
    def write_study(self, c: StudyContent) -> None:
        """Write a new study's design in one transaction."""
        with self.transaction():
            for k, v in c.meta.items():
                self.set_meta(k, v)
            self._many(
                f"INSERT INTO items ({_ITEM_COLUMNS}) VALUES ({', '.join(['%s'] * 12)})",
                [item_row(i) for i in c.items],
            )
            self._many(
                "INSERT INTO gold (item_id, label, source, detail) VALUES (%s, %s, %s, %s)",
                [[g.item_id, g.label, g.source, _dump(g.detail)] for g in c.gold],
            )
            self._many(
                "INSERT INTO hidden_tests (problem_id, test, entry_point) VALUES (%s, %s, %s)",
                [[h.problem_id, h.test, h.entry_point] for h in c.hidden_tests],
            )
            self._many(
                "INSERT INTO conditions (name, position, assistance, briefing, live_followups) "
                "VALUES (%s, %s, %s, %s, %s)",
                [[k.name, k.position, _dump(k.assistance), k.briefing, k.live_followups] for k in c.conditions],
            )
            self._many(
                "INSERT INTO overseers (name, role, kind, profile) VALUES (%s, %s, %s, %s)",
                [[o.name, o.role, o.kind, _dump(o.profile)] for o in c.overseers],
            )
            self._many(
                "INSERT INTO assignments (assignment_id, overseer, item_id, condition, position, block) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [[a.assignment_id, a.overseer, a.item_id, a.condition, a.position, a.block] for a in c.assignments],
            )

    def get_meta(self, key: str) -> str | None:
        """A metadata value as text (None when absent)."""
        rows = self._rows("SELECT value FROM meta WHERE key = %s", [key])
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        self._exec(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def lock_key(self, key: str) -> None:
        """Hold `key` (a transaction-level advisory lock, per schema) until the current transaction ends."""
        with self._conn() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':' || %s))", [key])

    # ------------------------------------------------------------ study design
    def items(self, *, role: str | None = None) -> list[ItemRecord]:
        """Items (all, or of one role), by id."""
        where, params = ("WHERE role = %s", [role]) if role else ("", [])
        return [
            _item(r)
            for r in self._rows(f'SELECT {_ITEM_COLUMNS} FROM items {where} ORDER BY item_id COLLATE "C"', params)
        ]

    def item(self, item_id: str) -> ItemRecord | None:
        """One item, or None."""
        rows = self._rows(f"SELECT {_ITEM_COLUMNS} FROM items WHERE item_id = %s", [item_id])
        return _item(rows[0]) if rows else None

    def overseers(self) -> list[OverseerRecord]:
        """Every overseer: non-experts first, then experts, each by name."""
        return [
            OverseerRecord(n, r, k, _load(p))
            for n, r, k, p in self._rows(
                'SELECT name, role, kind, profile FROM overseers ORDER BY role COLLATE "C" DESC, name COLLATE "C"'
            )
        ]

    def mark_simulated(self, name: str, profile: dict[str, Any]) -> None:
        """Mark an overseer as simulated, with the profile that plays them."""
        self._exec("UPDATE overseers SET kind = 'simulated', profile = %s WHERE name = %s", [json.dumps(profile), name])

    def assignments(self, overseer: str | None = None) -> list[AssignmentRecord]:
        """Assignments (all, or one overseer's), by overseer and session position."""
        where, params = ("WHERE overseer = %s", [overseer]) if overseer else ("", [])
        return [
            AssignmentRecord(*r)
            for r in self._rows(
                f"SELECT assignment_id, overseer, item_id, condition, position, block FROM assignments {where} "
                'ORDER BY overseer COLLATE "C", position',
                params,
            )
        ]

    def add_observed_assignment(self, overseer: str, item_id: str, condition: str) -> str:
        """Observed design: the assignment an outside judgment answers, created (with its overseer) on first use."""
        aid = f"obs:{overseer}:{item_id}"
        with self.transaction():
            self._exec(
                "INSERT INTO overseers (name, role, kind, profile) VALUES (%s, 'non_expert', 'human', NULL) "
                "ON CONFLICT DO NOTHING",
                [overseer],
            )
            (pos,) = self._rows("SELECT count(*) FROM assignments WHERE overseer = %s", [overseer])[0]
            self._exec(
                "INSERT INTO assignments (assignment_id, overseer, item_id, condition, position, block) "
                "VALUES (%s, %s, %s, %s, %s, 0) ON CONFLICT DO NOTHING",
                [aid, overseer, item_id, condition, pos],
            )
        return aid

    def gold(self) -> list[GoldRecord]:
        """Every gold label (lead side only)."""
        return [
            GoldRecord(i, lab, s, _load(d))
            for i, lab, s, d in self._rows(
                'SELECT item_id, label, source, detail FROM gold ORDER BY item_id COLLATE "C"'
            )
        ]

    # ------------------------------------------------------------ judgments
    def add_judgments(self, rows: Sequence[JudgmentRecord]) -> None:
        """Insert a batch in one statement; DuplicateKey (and nothing written) when an id or assignment repeats.

        Inside a caller's transaction the insert runs under a savepoint, so a duplicate leaves the
        rest of that transaction usable, as on DuckDB.
        """
        if not rows:
            return
        self._check_writable()
        cols = list(iter_columns(rows, _JUDGMENT_COLUMNS))
        cols[15] = [_dump(m) if m else None for m in cols[15]]
        try:
            with self._conn() as conn, conn.transaction():
                conn.execute(_INSERT_JUDGMENTS, cols)
        except psycopg.errors.UniqueViolation as e:
            raise DuplicateKey(f"judgment already stored: {str(e).splitlines()[0]}") from None

    def _judgment(self, r: Sequence[Any]) -> JudgmentRecord:
        values = list(r)
        values[15] = _load(values[15])
        return JudgmentRecord(*values)

    def judgment(self, judgment_id: str) -> JudgmentRecord | None:
        """A judgment by id, or None."""
        rows = self._rows(f"SELECT {', '.join(_JUDGMENT_COLUMNS)} FROM judgments WHERE judgment_id = %s", [judgment_id])
        return self._judgment(rows[0]) if rows else None

    def judgments(self, *, condition: str | None = None) -> list[JudgmentRecord]:
        """Judgments (all, or under one condition), by item then overseer."""
        where, params = ("WHERE condition = %s", [condition]) if condition else ("", [])
        return [
            self._judgment(r)
            for r in self._rows(
                f"SELECT {', '.join(_JUDGMENT_COLUMNS)} FROM judgments {where} "
                'ORDER BY item_id COLLATE "C", overseer COLLATE "C", created_at',
                params,
            )
        ]

    def judged(self, overseer: str | None = None) -> set[str]:
        """Assignment ids that have a judgment.

        One overseer's goes through `assignments` (its unique (overseer, item_id) key is an index) and the
        unique `judgments.assignment_id`: replicas ask this on every next item, so it must not scan judgments.
        """
        if overseer:
            return {
                r[0]
                for r in self._rows(
                    "SELECT j.assignment_id FROM assignments a JOIN judgments j "
                    "ON j.assignment_id = a.assignment_id WHERE a.overseer = %s",
                    [overseer],
                )
            }
        return {r[0] for r in self._rows("SELECT assignment_id FROM judgments")}

    def count_judgments(self, *, simulated: bool | None = None) -> int:
        """How many judgments are stored (all, or only simulated / only human)."""
        where, params = ("WHERE simulated = %s", [simulated]) if simulated is not None else ("", [])
        return int(self._rows(f"SELECT count(*) FROM judgments {where}", params)[0][0])

    # ------------------------------------------------------------ interactions
    def add_interaction(self, rec: InteractionRecord) -> None:
        """Record an interaction (idempotent on its id)."""
        self._exec(
            "INSERT INTO interactions (interaction_id, overseer, assignment_id, event, payload, ts) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [rec.interaction_id, rec.overseer, rec.assignment_id, rec.event, json.dumps(rec.payload), rec.ts],
        )

    def interactions(
        self, *, overseer: str | None = None, event: str | None = None, assignment_id: str | None = None
    ) -> list[InteractionRecord]:
        """Interactions matching every filter given, oldest first."""
        conds, params = [], []
        for col, val in (("overseer", overseer), ("event", event), ("assignment_id", assignment_id)):
            if val is not None:
                conds.append(f"{col} = %s")
                params.append(val)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        return [
            InteractionRecord(i, o, a, e, _load(p) or {}, t)
            for i, o, a, e, p, t in self._rows(
                f"SELECT interaction_id, overseer, assignment_id, event, payload, ts FROM interactions {where} "
                'ORDER BY ts, interaction_id COLLATE "C"',
                params,
            )
        ]

    # ------------------------------------------------------------ assistance and model answers
    def assistance(self, *, item_id: str | None = None, condition: str | None = None) -> list[AssistanceRecord]:
        """Precomputed assistance rows (all, or of one item and/or condition)."""
        conds, params = [], []
        for col, val in (("item_id", item_id), ("condition", condition)):
            if val is not None:
                conds.append(f"{col} = %s")
                params.append(val)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        out = []
        for r in self._rows(
            f"SELECT {_ASSIST_COLUMNS} FROM assistance {where} "
            'ORDER BY item_id COLLATE "C", condition COLLATE "C", kind COLLATE "C"',
            params,
        ):
            v = list(r)
            v[5], v[9], v[10] = _load(v[5]), _load(v[9]), _load(v[10])
            out.append(AssistanceRecord(*v))
        return out

    def put_assistance(self, rows: Sequence[AssistanceRecord]) -> None:
        """Write assistance rows in one transaction; a re-generated row replaces the old one."""
        with self.transaction():
            self._many(
                "DELETE FROM assistance WHERE item_id = %s AND condition = %s AND kind = %s",
                [[r.item_id, r.condition, r.kind] for r in rows],
            )
            self._many(
                f"INSERT INTO assistance ({_ASSIST_COLUMNS}) VALUES "
                f"({', '.join(['%s'] * 15)}, coalesce(%s, localtimestamp))",
                [
                    [
                        r.assistance_id,
                        r.item_id,
                        r.condition,
                        r.kind,
                        r.status,
                        _dump(r.content),
                        r.raw,
                        r.backend,
                        r.model,
                        _dump(r.prompt),
                        _dump(r.params),
                        r.tokens_in,
                        r.tokens_out,
                        r.latency_s,
                        r.seed,
                        r.created_at,
                    ]
                    for r in rows
                ],
            )

    def put_model_answers(self, rows: Sequence[ModelAnswerRecord]) -> None:
        """Store model-alone answers, replacing an earlier answer of the same model to the same item."""
        with self.transaction():
            self._many(
                "DELETE FROM model_answers WHERE item_id = %s AND model = %s", [[r.item_id, r.model] for r in rows]
            )
            self._many(
                "INSERT INTO model_answers (item_id, model, backend, choice, confidence, raw, prompt, params, "
                "latency_s, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, localtimestamp)",
                [
                    [
                        r.item_id,
                        r.model,
                        r.backend,
                        r.choice,
                        r.confidence,
                        r.raw,
                        _dump(r.prompt),
                        _dump(r.params),
                        r.latency_s,
                    ]
                    for r in rows
                ],
            )

    # ------------------------------------------------------------ pre-registration and looks
    def frozen_plan(self) -> FreezeRecord | None:
        """The frozen analysis plan, or None before the first judgment (see `DuckDBStore.frozen_plan`)."""
        rows = self._rows("SELECT hash, plan::text, hypotheses::text, frozen_at FROM preregistration LIMIT 1")
        if not rows:
            return None
        h, plan, hyps, at = rows[0]
        return FreezeRecord(h, _load(plan) if plan is not None else {"preregistration": _load(hyps)}, at)

    def freeze_plan(self, rec: FreezeRecord) -> None:
        """Store the frozen plan (once). `json` (not `jsonb`) keeps the canonical text byte for byte."""
        hyps = {"hypotheses": rec.plan.get("hypotheses", []), "notes": rec.plan.get("notes")}
        self._check_writable()
        with self._conn() as conn, conn.transaction():
            # replicas may freeze at the same first judgment: one at a time, and only the first one writes
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':preregistration'))")
            conn.execute(
                "INSERT INTO preregistration (hash, hypotheses, frozen_at, plan) SELECT %s, %s, %s, %s "
                "WHERE NOT EXISTS (SELECT 1 FROM preregistration)",
                [rec.hash, json.dumps(hyps, sort_keys=True), rec.frozen_at, json.dumps(rec.plan, sort_keys=True)],
            )

    # ------------------------------------------------------------ lead views, analysis, copies
    def _dicts(self, query: str) -> list[dict[str, Any]]:
        with self._conn() as conn, conn.cursor() as cur:
            cur.execute(query)
            cols = [d.name for d in cur.description or []]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def status_counts(self) -> dict[str, list[dict[str, Any]]]:
        """Counts for `sandwich status`."""
        return {
            "items": self._dicts(
                "SELECT split, role, count(*) AS n FROM items GROUP BY split, role "
                'ORDER BY split COLLATE "C", role COLLATE "C"'
            ),
            "assignments": self._dicts("""
                SELECT a.overseer, o.role, a.condition, count(*) AS total, count(j.judgment_id) AS done
                FROM assignments a JOIN overseers o ON o.name = a.overseer
                LEFT JOIN judgments j ON j.assignment_id = a.assignment_id
                GROUP BY a.overseer, o.role, a.condition
                ORDER BY o.role COLLATE "C" DESC, a.overseer COLLATE "C", a.condition COLLATE "C\""""),
            "assistance": self._dicts(
                "SELECT condition, kind, status, count(*) AS n FROM assistance "
                "GROUP BY condition, kind, status "
                'ORDER BY condition COLLATE "C", kind COLLATE "C", status COLLATE "C"'
            ),
        }

    def analysis_frames(self) -> dict[str, pl.DataFrame]:
        """Judgments joined with overseer role/kind, gold and split; overseers; model answers with gold."""
        return {
            "judgments": self._frame("""
                SELECT j.judgment_id, j.overseer, o.role, o.kind AS overseer_kind, j.item_id, j.condition, j.choice,
                       j.confidence, j.time_on_item_s, j.skipped, j.timed_out, j.assistance_failed, j.source,
                       j.simulated, j.created_at, g.label AS gold, i.split
                FROM judgments j JOIN overseers o ON o.name = j.overseer
                LEFT JOIN gold g ON g.item_id = j.item_id LEFT JOIN items i ON i.item_id = j.item_id
                ORDER BY j.created_at, j.judgment_id COLLATE "C\""""),
            "overseers": self._frame(
                'SELECT name, role, kind FROM overseers ORDER BY role COLLATE "C" DESC, name COLLATE "C"'
            ),
            "model_answers": self._frame("""SELECT m.item_id, m.model, m.choice, m.confidence, g.label AS gold
                                            FROM model_answers m LEFT JOIN gold g ON g.item_id = m.item_id
                                            ORDER BY m.item_id COLLATE "C", m.model COLLATE "C\""""),
        }
