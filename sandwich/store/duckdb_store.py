"""`DuckDBStore`: the embedded study store, one DuckDB file per study.

The only module of the package (with `migrations.py`) that holds SQL. The
connection is private; one re-entrant lock serialises its use across threads.
SQL stays close to the standard where that costs nothing (`ON CONFLICT`, plain
joins), so a PostgreSQL store can follow the same statements.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from sandwich.store import migrations
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
from sandwich.store.shared_sql import SharedStatements, _dump, _load, item_row

DB_ERRORS: tuple[type[Exception], ...] = (duckdb.Error,)

_JUDGMENT_COLUMNS = [
    "judgment_id",
    "assignment_id",
    "overseer",
    "item_id",
    "condition",
    "choice",
    "confidence",
    "rationale",
    "time_on_item_s",
    "time_to_first_assist_s",
    "assistance_failed",
    "timed_out",
    "skipped",
    "source",
    "simulated",
    "client_meta",
    "created_at",
]
# One INSERT per batch, each column passed as one list: DuckDB converts lists in C++, which costs far less
# than parsing 17 placeholders per row (50 rows: ~4 ms instead of ~12 ms).
_JUDGMENT_TYPES = [
    "VARCHAR",
    "VARCHAR",
    "VARCHAR",
    "VARCHAR",
    "VARCHAR",
    "VARCHAR",
    "INTEGER",
    "VARCHAR",
    "DOUBLE",
    "DOUBLE",
    "BOOLEAN",
    "BOOLEAN",
    "BOOLEAN",
    "VARCHAR",
    "BOOLEAN",
    "JSON",
    "TIMESTAMP",
]
_INSERT_JUDGMENTS = "INSERT INTO judgments SELECT " + ", ".join(
    f"UNNEST(${n}::{t}[])" for n, t in enumerate(_JUDGMENT_TYPES, start=1)
)
_ITEM_COLUMNS = "item_id, task_kind, problem_id, split, role, title, prompt, body, question, choices, language, meta"
_ASSIST_COLUMNS = (
    "assistance_id, item_id, condition, kind, status, content, raw, backend, model, prompt, params, "
    "tokens_in, tokens_out, latency_s, seed, created_at"
)


def _item(r: tuple[Any, ...]) -> ItemRecord:
    values = list(r)
    values[11] = _load(values[11])
    return ItemRecord(*values)


class DuckDBStore(SharedStatements):
    """A study store in one DuckDB file (see `StudyStore` for the contract of each method).

    The look log, tokens and audit are `SharedStatements`, written once for DuckDB and PostgreSQL.
    """

    PARAM = "?"
    NOW = "current_timestamp"

    def __init__(self, path: str | Path, *, read_only: bool = False, create: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.read_only = read_only
        self._con = migrations.connect(self.path, read_only=read_only, create=create)
        self._lock = threading.RLock()
        self._depth = 0

    # ------------------------------------------------------------ plumbing
    def _rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._con.execute(sql, list(params or [])).fetchall()

    def _exec(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self._lock:
            self._con.execute(sql, list(params or []))

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._lock:
                self._con.executemany(sql, [list(r) for r in rows])

    def _frame(self, sql: str) -> pl.DataFrame:
        with self._lock:
            cur = self._con.cursor()  # a fresh cursor: an earlier fetch may leave a result open on the connection
            try:
                return pl.from_arrow(cur.sql(sql).to_arrow_table())  # type: ignore[return-value]  # always a frame
            finally:
                cur.close()

    @property
    def lock(self) -> threading.RLock:
        """Serialises use of the connection across threads."""
        return self._lock

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN … COMMIT holding the lock, rolling back on any error; nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._con.execute("BEGIN TRANSACTION")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._con.execute("ROLLBACK")
                raise
            self._depth = 0
            self._con.execute("COMMIT")

    def close(self) -> None:
        """Checkpoint (so the file stands alone) and close."""
        with self._lock:
            try:
                if not self.read_only:
                    self._con.execute("CHECKPOINT")
            except duckdb.Error:
                pass
            self._con.close()

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        with self._lock:
            return migrations.schema_version(self._con)

    # ------------------------------------------------------------ create
    def write_study(self, c: StudyContent) -> None:
        """Write a new study's design in one transaction."""
        with self.transaction():
            for k, v in c.meta.items():
                self.set_meta(k, v)
            self._many(
                f"INSERT INTO items ({_ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [item_row(i) for i in c.items],
            )
            self._many(
                "INSERT INTO gold (item_id, label, source, detail) VALUES (?, ?, ?, ?)",
                [[g.item_id, g.label, g.source, _dump(g.detail)] for g in c.gold],
            )
            self._many(
                "INSERT INTO hidden_tests (problem_id, test, entry_point) VALUES (?, ?, ?)",
                [[h.problem_id, h.test, h.entry_point] for h in c.hidden_tests],
            )
            self._many(
                "INSERT INTO conditions (name, position, assistance, briefing, live_followups) VALUES (?, ?, ?, ?, ?)",
                [[k.name, k.position, _dump(k.assistance), k.briefing, k.live_followups] for k in c.conditions],
            )
            self._many(
                "INSERT INTO overseers (name, role, kind, profile) VALUES (?, ?, ?, ?)",
                [[o.name, o.role, o.kind, _dump(o.profile)] for o in c.overseers],
            )
            self._many(
                "INSERT INTO assignments (assignment_id, overseer, item_id, condition, position, block) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [[a.assignment_id, a.overseer, a.item_id, a.condition, a.position, a.block] for a in c.assignments],
            )

    def get_meta(self, key: str) -> str | None:
        """A metadata value as text (None when absent)."""
        rows = self._rows("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        self._exec(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def lock_key(self, key: str) -> None:
        """A no-op: one process owns a DuckDB file, and `lock` already serialises its threads."""

    # ------------------------------------------------------------ study design
    def items(self, *, role: str | None = None) -> list[ItemRecord]:
        """Items (all, or of one role), by id."""
        where, params = ("WHERE role = ?", [role]) if role else ("", [])
        return [_item(r) for r in self._rows(f"SELECT {_ITEM_COLUMNS} FROM items {where} ORDER BY item_id", params)]

    def item(self, item_id: str) -> ItemRecord | None:
        """One item, or None."""
        rows = self._rows(f"SELECT {_ITEM_COLUMNS} FROM items WHERE item_id = ?", [item_id])
        return _item(rows[0]) if rows else None

    def overseers(self) -> list[OverseerRecord]:
        """Every overseer: non-experts first, then experts, each by name."""
        return [
            OverseerRecord(n, r, k, _load(p))
            for n, r, k, p in self._rows("SELECT name, role, kind, profile FROM overseers ORDER BY role DESC, name")
        ]

    def mark_simulated(self, name: str, profile: dict[str, Any]) -> None:
        """Mark an overseer as simulated, with the profile that plays them."""
        self._exec("UPDATE overseers SET kind = 'simulated', profile = ? WHERE name = ?", [json.dumps(profile), name])

    def assignments(self, overseer: str | None = None) -> list[AssignmentRecord]:
        """Assignments (all, or one overseer's), by overseer and session position."""
        where, params = ("WHERE overseer = ?", [overseer]) if overseer else ("", [])
        return [
            AssignmentRecord(*r)
            for r in self._rows(
                f"SELECT assignment_id, overseer, item_id, condition, position, block FROM assignments {where} "
                "ORDER BY overseer, position",
                params,
            )
        ]

    def add_observed_assignment(self, overseer: str, item_id: str, condition: str) -> str:
        """Observed design: the assignment an outside judgment answers, created (with its overseer) on first use."""
        aid = f"obs:{overseer}:{item_id}"
        with self.transaction():
            self._exec(
                "INSERT INTO overseers (name, role, kind, profile) VALUES (?, 'non_expert', 'human', NULL) "
                "ON CONFLICT DO NOTHING",
                [overseer],
            )
            (pos,) = self._rows("SELECT count(*) FROM assignments WHERE overseer = ?", [overseer])[0]
            self._exec(
                "INSERT INTO assignments (assignment_id, overseer, item_id, condition, position, block) "
                "VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
                [aid, overseer, item_id, condition, pos],
            )
        return aid

    def gold(self) -> list[GoldRecord]:
        """Every gold label (lead side only)."""
        return [
            GoldRecord(i, lab, s, _load(d))
            for i, lab, s, d in self._rows("SELECT item_id, label, source, detail FROM gold ORDER BY item_id")
        ]

    # ------------------------------------------------------------ judgments
    def add_judgments(self, rows: Sequence[JudgmentRecord]) -> None:
        """Insert a batch of judgments in one statement (atomic on its own)."""
        if not rows:
            return
        cols = list(iter_columns(rows, _JUDGMENT_COLUMNS))
        cols[15] = [_dump(m) if m else None for m in cols[15]]
        try:
            self._exec(_INSERT_JUDGMENTS, cols)
        except duckdb.ConstraintException as e:
            raise DuplicateKey(f"judgment already stored: {str(e).splitlines()[0]}") from None

    def _judgment(self, r: tuple[Any, ...]) -> JudgmentRecord:
        values = list(r)
        values[15] = _load(values[15])
        return JudgmentRecord(*values)

    def judgment(self, judgment_id: str) -> JudgmentRecord | None:
        """A judgment by id, or None."""
        rows = self._rows(f"SELECT {', '.join(_JUDGMENT_COLUMNS)} FROM judgments WHERE judgment_id = ?", [judgment_id])
        return self._judgment(rows[0]) if rows else None

    def judgments(self, *, condition: str | None = None) -> list[JudgmentRecord]:
        """Judgments (all, or under one condition), by item then overseer."""
        where, params = ("WHERE condition = ?", [condition]) if condition else ("", [])
        return [
            self._judgment(r)
            for r in self._rows(
                f"SELECT {', '.join(_JUDGMENT_COLUMNS)} FROM judgments {where} ORDER BY item_id, overseer, created_at",
                params,
            )
        ]

    def judged(self, overseer: str | None = None) -> set[str]:
        """Assignment ids that have a judgment."""
        where, params = ("WHERE overseer = ?", [overseer]) if overseer else ("", [])
        return {r[0] for r in self._rows(f"SELECT assignment_id FROM judgments {where}", params)}

    def count_judgments(self, *, simulated: bool | None = None) -> int:
        """How many judgments are stored (all, or only simulated / only human)."""
        where, params = ("WHERE simulated = ?", [simulated]) if simulated is not None else ("", [])
        return int(self._rows(f"SELECT count(*) FROM judgments {where}", params)[0][0])

    # ------------------------------------------------------------ interactions
    def add_interaction(self, rec: InteractionRecord) -> None:
        """Record an interaction (idempotent on its id)."""
        self._exec(
            "INSERT INTO interactions (interaction_id, overseer, assignment_id, event, payload, ts) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [rec.interaction_id, rec.overseer, rec.assignment_id, rec.event, json.dumps(rec.payload), rec.ts],
        )

    def interactions(
        self, *, overseer: str | None = None, event: str | None = None, assignment_id: str | None = None
    ) -> list[InteractionRecord]:
        """Interactions matching every filter given, oldest first."""
        conds, params = [], []
        for col, val in (("overseer", overseer), ("event", event), ("assignment_id", assignment_id)):
            if val is not None:
                conds.append(f"{col} = ?")
                params.append(val)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        return [
            InteractionRecord(i, o, a, e, _load(p) or {}, t)
            for i, o, a, e, p, t in self._rows(
                f"SELECT interaction_id, overseer, assignment_id, event, payload, ts FROM interactions {where} "
                "ORDER BY ts, interaction_id",
                params,
            )
        ]

    # ------------------------------------------------------------ assistance and model answers
    def assistance(self, *, item_id: str | None = None, condition: str | None = None) -> list[AssistanceRecord]:
        """Precomputed assistance rows (all, or of one item and/or condition)."""
        conds, params = [], []
        for col, val in (("item_id", item_id), ("condition", condition)):
            if val is not None:
                conds.append(f"{col} = ?")
                params.append(val)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        out = []
        for r in self._rows(
            f"SELECT {_ASSIST_COLUMNS} FROM assistance {where} ORDER BY item_id, condition, kind", params
        ):
            v = list(r)
            v[5], v[9], v[10] = _load(v[5]), _load(v[9]), _load(v[10])
            out.append(AssistanceRecord(*v))
        return out

    def put_assistance(self, rows: Sequence[AssistanceRecord]) -> None:
        """Write assistance rows in one transaction; a re-generated row replaces the old one."""
        with self.transaction():
            self._many(
                "DELETE FROM assistance WHERE item_id = ? AND condition = ? AND kind = ?",
                [[r.item_id, r.condition, r.kind] for r in rows],
            )
            self._many(
                f"INSERT INTO assistance ({_ASSIST_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, current_timestamp))",
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
                "DELETE FROM model_answers WHERE item_id = ? AND model = ?", [[r.item_id, r.model] for r in rows]
            )
            self._many(
                "INSERT INTO model_answers (item_id, model, backend, choice, confidence, raw, prompt, params, "
                "latency_s, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
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
        """The frozen analysis plan, or None before the first judgment.

        Files frozen before whole plans were frozen hold only the hypotheses; their plan reads
        `{"preregistration": <hypotheses>}` so the stored hash can still be checked.
        """
        rows = self._rows("SELECT hash, plan, hypotheses, frozen_at FROM preregistration LIMIT 1")
        if not rows:
            return None
        h, plan, hyps, at = rows[0]
        return FreezeRecord(h, _load(plan) if plan is not None else {"preregistration": _load(hyps)}, at)

    def freeze_plan(self, rec: FreezeRecord) -> None:
        """Store the frozen plan (once)."""
        hyps = {"hypotheses": rec.plan.get("hypotheses", []), "notes": rec.plan.get("notes")}  # for readers
        self._exec(
            "INSERT INTO preregistration (hash, hypotheses, frozen_at, plan) VALUES (?, ?, ?, ?)",
            [rec.hash, json.dumps(hyps, sort_keys=True), rec.frozen_at, json.dumps(rec.plan, sort_keys=True)],
        )

    # ------------------------------------------------------------ lead views, analysis, copies
    def _dicts(self, sql: str) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._con.execute(sql)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def status_counts(self) -> dict[str, list[dict[str, Any]]]:
        """Counts for `sandwich status`."""
        return {
            "items": self._dicts(
                "SELECT split, role, count(*) AS n FROM items GROUP BY split, role ORDER BY split, role"
            ),
            "assignments": self._dicts("""
                SELECT a.overseer, o.role, a.condition, count(*) AS total, count(j.judgment_id) AS done
                FROM assignments a JOIN overseers o ON o.name = a.overseer
                LEFT JOIN judgments j ON j.assignment_id = a.assignment_id
                GROUP BY a.overseer, o.role, a.condition ORDER BY o.role DESC, a.overseer, a.condition"""),
            "assistance": self._dicts(
                "SELECT condition, kind, status, count(*) AS n FROM assistance "
                "GROUP BY condition, kind, status ORDER BY condition, kind, status"
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
                ORDER BY j.created_at, j.judgment_id"""),
            "overseers": self._frame("SELECT name, role, kind FROM overseers ORDER BY role DESC, name"),
            "model_answers": self._frame("""SELECT m.item_id, m.model, m.choice, m.confidence, g.label AS gold
                                            FROM model_answers m LEFT JOIN gold g ON g.item_id = m.item_id"""),
        }

    def table_names(self) -> list[str]:
        """Every table of the study file (the catalogue of the main schema), sorted."""
        return [
            r[0]
            for r in self._rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"
            )
        ]

    def export_parquet(self, out: Path, tables: Sequence[str], blinded: Sequence[str]) -> dict[str, int]:
        """Every table to OUT/<table>.parquet, the blinded ones to OUT/gold/. Returns row counts."""
        known = set(self.table_names())
        counts: dict[str, int] = {}
        with self._lock:
            for table in [*tables, *blinded]:
                if table not in known:
                    raise ValueError(f"no table {table!r}")
                target = (out / "gold" if table in blinded else out) / f"{table}.parquet"
                quoted = target.as_posix().replace("'", "''")
                self._con.execute(f"COPY (SELECT * FROM \"{table}\") TO '{quoted}' (FORMAT parquet)")
                counts[table] = self._con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
        return counts

    def snapshot(self, target: Path) -> None:
        """Copy the whole database into a new file at `target`, consistently (under the lock).

        DuckDB copies it itself (ATTACH + COPY FROM DATABASE): the server never opens the study file
        with plain file I/O, since closing any descriptor of a file drops every POSIX lock this process
        holds on it — DuckDB's writer lock included.
        """
        quoted = str(target).replace("'", "''")
        with self._lock:
            source = self._con.execute("SELECT current_database()").fetchall()[0][0]
            self._con.execute(f"ATTACH '{quoted}' AS sandwich_snapshot")
            try:
                self._con.execute(f'COPY FROM DATABASE "{source}" TO sandwich_snapshot')
            finally:
                self._con.execute("DETACH sandwich_snapshot")

    # ------------------------------------------------------------ whole tables (store copy)
    def read_table(self, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """(column names, rows) of a whole table; JSON columns as their stored text."""
        if table not in self.table_names():
            raise ValueError(f"no table {table!r}")
        with self._lock:
            cur = self._con.execute(f'SELECT * FROM "{table}"')
            return [d[0] for d in cur.description], cur.fetchall()

    def dump_tables(self) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        """Every table as `read_table` gives it, read under the lock (one consistent state)."""
        with self._lock:
            return {t: self.read_table(t) for t in self.table_names()}

    def write_table(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append rows to a table (values as `read_table` gives them); creates a known extra table first."""
        if table not in self.table_names():
            ddl = migrations.EXTRA_TABLES.get(table)
            if ddl is None:
                raise ValueError(f"no table {table!r} here, and none known by that name")
            self._exec(ddl)
        types = dict(
            self._rows(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?",
                [table],
            )
        )
        names = ", ".join(f'"{c}"' for c in columns)
        # one INSERT per 10,000 rows, each column passed as one list (as `add_judgments`): executemany
        # row by row is ~100x slower in DuckDB
        select = ", ".join(f"UNNEST(${n}::{types[c]}[])" for n, c in enumerate(columns, start=1))
        for i in range(0, len(rows), 10_000):
            chunk = rows[i : i + 10_000]
            self._exec(
                f'INSERT INTO "{table}" ({names}) SELECT {select}', [[r[k] for r in chunk] for k in range(len(columns))]
            )

    def clear_table(self, table: str) -> None:
        """Delete every row of a table (store copy empties a new study's `meta` before filling it)."""
        self._exec(f'DELETE FROM "{table}"')
