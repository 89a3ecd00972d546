"""Every SQL statement the importers need, in one place (the importers' part of the study store).

Functions take typed records (`sandwich.importers.records`) or return polars frames; nothing
else in `sandwich.importers` or the trajectory analysis writes SQL. An import writes a new
study database atomically: a temporary file beside the target, renamed into place only when
complete, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from sandwich import store
from sandwich.errors import StoreError
from sandwich.importers.records import ImportedStudy, Transcript
from sandwich.store.migrations import EXTRA_TABLES
from sandwich.store.shared_sql import item_row
from sandwich.studyfile import config_hash
from sandwich.tasks.base import Gold, Item

if TYPE_CHECKING:
    from sandwich.importers.replay import ReplayStudy

# Imported transcripts (see `migrations.EXTRA_TABLES`): what each judge read.
TRANSCRIPTS_DDL = EXTRA_TABLES["imported_transcripts"]
BELIEF = "belief"  # interactions.event of a point on a judge's belief trajectory


# Raw-connection helpers: an import writes a whole new file in one transaction, below the StudyStore API.
@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, rolling back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _set_meta(con: duckdb.DuckDBPyConnection, key: str, value: Any) -> None:
    """Store a metadata value (JSON-encoded unless it is a string)."""
    text = value if isinstance(value, str) else json.dumps(value)
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, text])


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts."""
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _study_rows(con: duckdb.DuckDBPyConnection, s: ImportedStudy) -> None:
    _set_meta(con, "study", s.name)
    _set_meta(con, "config_text", s.config_text)
    _set_meta(con, "config_hash", config_hash(s.config_text))
    _set_meta(con, "study_path", f"import:{s.source.get('dataset', 'judgments')}")
    _set_meta(con, "import_source", s.source)
    _set_meta(con, "import_summary", s.summary.as_dict())
    con.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [item_row(i) for i in s.items],
    )
    if s.gold:
        con.executemany(
            "INSERT INTO gold VALUES (?, ?, ?, ?)",
            [[g.item_id, g.label, g.source, json.dumps(g.detail)] for g in s.gold],
        )
    con.executemany(
        "INSERT INTO conditions VALUES (?, ?, ?, ?, ?)",
        [
            [c.name, n, json.dumps([{"kind": k, "params": {}} for k in c.assistance]), c.briefing, False]
            for n, c in enumerate(s.conditions)
        ],
    )
    experts = set(s.source.get("experts") or [])
    con.executemany(
        "INSERT INTO overseers VALUES (?, ?, ?, ?)",
        [
            [o, "expert" if o in experts else "non_expert", "human", json.dumps({"imported": s.source.get("dataset")})]
            for o in s.overseers
        ],
    )


def _judgment_rows(con: duckdb.DuckDBPyConnection, s: ImportedStudy) -> None:
    position: dict[str, int] = {}
    now = datetime.now(UTC).replace(tzinfo=None)  # when a row says nothing about its time
    assignments, judgments, interactions = [], [], []
    for j in sorted(s.judgments, key=lambda j: (j.overseer, j.created_at is None, j.created_at or 0, j.judgment_id)):
        pos = position.get(j.overseer, 0)
        position[j.overseer] = pos + 1
        assignments.append([j.assignment_id, j.overseer, j.item_id, j.condition, pos, 0])
        meta = {**j.meta, "transcript_id": j.transcript_id}
        judgments.append(
            [
                j.judgment_id,
                j.assignment_id,
                j.overseer,
                j.item_id,
                j.condition,
                j.choice,
                j.confidence,
                j.rationale,
                j.time_on_item_s,
                None,
                False,
                False,
                False,
                "human",
                False,
                json.dumps(meta),
                j.created_at or now,
            ]
        )
        for n, b in enumerate(j.trajectory):
            interactions.append(
                [
                    f"{j.judgment_id}:belief:{n}",
                    j.overseer,
                    j.assignment_id,
                    BELIEF,
                    json.dumps(
                        {
                            "round": b.round,
                            "step": n,
                            "probabilities": b.probabilities,
                            "message": b.message,
                            "imported": True,
                        }
                    ),
                    b.ts,
                ]
            )
    con.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?, ?, ?)", assignments)
    con.executemany("INSERT INTO judgments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", judgments)
    if interactions:
        con.executemany("INSERT INTO interactions VALUES (?, ?, ?, ?, ?, ?)", interactions)


def write_transcripts(con: duckdb.DuckDBPyConnection, transcripts: list[Transcript]) -> None:
    """Store imported transcripts (creating their table if needed)."""
    con.execute(TRANSCRIPTS_DDL)
    if transcripts:
        con.executemany(
            "INSERT INTO imported_transcripts VALUES (?, ?, ?, ?, ?, ?)",
            [
                [t.transcript_id, t.item_id, t.condition, t.kind, json.dumps(t.content), json.dumps(t.source)]
                for t in transcripts
            ],
        )


def write_imported_study(db: str | Path, study: ImportedStudy, *, force: bool = False) -> Path:
    """Write `study` as a new study database at `db`, atomically. Refuses to replace a file unless `force`."""
    db = Path(db)
    if db.exists() and not force:
        raise StoreError(
            f"{db} already exists; refusing to overwrite it.",
            hint="Pass --force to replace it, or choose another --db.",
        )
    db.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db.name}.", suffix=".tmp", dir=db.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # DuckDB wants to create the file itself
    try:
        con = store.connect(tmp, create=True)
        with _transaction(con):
            _study_rows(con, study)
            _judgment_rows(con, study)
            write_transcripts(con, study.transcripts)
        con.execute("CHECKPOINT")
        con.close()
        store.remove_db(db)
        os.replace(tmp, db)
    except BaseException:
        store.remove_db(tmp)
        raise
    return db


# ------------------------------------------------------------------ reading
def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    cur = con.cursor()
    try:
        # why the ignore below: from_arrow of a table is a DataFrame; stubs say DataFrame | Series
        return pl.from_arrow(cur.sql(sql).to_arrow_table())  # type: ignore[return-value]
    finally:
        cur.close()


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the database has a table called `name`."""
    row = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()
    return bool(row and row[0])


def read_trajectory_frames(db: str | Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(beliefs, finals) for trajectory analysis, lead side (reads gold).

    beliefs: judgment_id, overseer, condition, item_id, gold, choices, step, round, probabilities (JSON text)
    from `belief` interactions; finals: judgment_id, overseer, condition, item_id, gold, choice, confidence,
    client_meta (JSON text), simulated — one row per non-skipped judgment.
    """
    con = store.connect(db, read_only=True)
    try:
        finals = _frame(
            con,
            """
            SELECT j.judgment_id, j.assignment_id, j.overseer, j.condition, j.item_id, g.label AS gold, j.choice,
                   j.confidence, CAST(j.client_meta AS VARCHAR) AS client_meta, j.simulated
            FROM judgments j LEFT JOIN gold g USING (item_id) WHERE NOT j.skipped ORDER BY j.judgment_id""",
        )
        beliefs = _frame(
            con,
            f"""
            SELECT j.judgment_id, i.overseer, j.condition, j.item_id, g.label AS gold,
                   CAST(json_extract(i.payload, '$.step') AS INTEGER) AS step,
                   CAST(json_extract(i.payload, '$.round') AS INTEGER) AS round,
                   CAST(json_extract(i.payload, '$.probabilities') AS VARCHAR) AS probabilities
            FROM interactions i JOIN judgments j USING (assignment_id) LEFT JOIN gold g ON g.item_id = j.item_id
            WHERE i.event = '{BELIEF}' AND NOT j.skipped ORDER BY j.judgment_id, step""",
        )
    finally:
        con.close()
    return beliefs, finals


def read_transcripts(db: str | Path) -> list[Transcript]:
    """Every imported transcript in a study database (empty when it has none)."""
    con = store.connect(db, read_only=True)
    try:
        if not has_table(con, "imported_transcripts"):
            return []
        rows = _rows(con, "SELECT * FROM imported_transcripts ORDER BY transcript_id")
    finally:
        con.close()
    return [
        Transcript(
            r["transcript_id"],
            r["item_id"],
            r["condition"],
            r["kind"],
            json.loads(r["content"]),
            json.loads(r["source"]),
        )
        for r in rows
    ]


def import_summary(db: str | Path) -> dict[str, Any] | None:
    """The summary an import stored, or None for a study that was not imported."""
    con = store.connect(db, read_only=True)
    try:
        text = store.get_meta(con, "import_summary")
    finally:
        con.close()
    return json.loads(text) if text else None


def read_incidence(db: str | Path) -> list[tuple[str, str, str]]:
    """(overseer, item, condition) per non-skipped non-expert judgment: an observed study's design."""
    con = store.connect(db, read_only=True)
    try:
        return [
            (o, i, c)
            for o, i, c in con.execute(
                """SELECT j.overseer, j.item_id, j.condition FROM judgments j JOIN overseers o ON o.name = j.overseer
               WHERE NOT j.skipped AND o.role <> 'expert' ORDER BY j.judgment_id"""
            ).fetchall()
        ]
    finally:
        con.close()


def read_config_text(db: str | Path) -> str:
    """The study file text a database was created or imported with."""
    con = store.connect(db, read_only=True)
    try:
        text = store.get_meta(con, "config_text")
    finally:
        con.close()
    if text is None:
        raise StoreError(f"{db}: the study was never fully created.", hint="Create or import it again.")
    return text


# ------------------------------------------------------------------ replay
def read_imported_items(db: str | Path, item_ids: list[str]) -> tuple[list[Item], list[Gold]]:
    """Items and gold of an imported study, for the ids given (lead side)."""
    con = store.connect(db, read_only=True)
    try:
        items = _rows(con, "SELECT * FROM items WHERE item_id IN (SELECT unnest(?)) ORDER BY item_id", [item_ids])
        gold = _rows(con, "SELECT * FROM gold WHERE item_id IN (SELECT unnest(?)) ORDER BY item_id", [item_ids])
    finally:
        con.close()
    return (
        [
            Item(
                r["item_id"],
                r["task_kind"],
                r["problem_id"],
                r["title"] or "",
                r["prompt"] or "",
                r["body"] or "",
                r["question"] or "",
                list(r["choices"] or []),
                r["language"],
                json.loads(r["meta"] or "{}"),
                r["split"],
                "study",
            )
            for r in items
        ],
        [Gold(r["item_id"], r["label"], r["source"], json.loads(r["detail"] or "{}")) for r in gold],
    )


def read_original_judgments(db: str | Path, transcript_ids: list[str]) -> list[dict[str, Any]]:
    """The imported judgments made on these transcripts: who, under which condition, right or not."""
    con = store.connect(db, read_only=True)
    try:
        return _rows(
            con,
            """
            SELECT json_extract_string(j.client_meta, '$.transcript_id') AS transcript_id, j.overseer, j.condition,
                   j.item_id, j.choice, j.confidence, j.choice = g.label AS correct,
                   json_extract_string(j.client_meta, '$.mode') AS mode
            FROM judgments j LEFT JOIN gold g USING (item_id)
            WHERE json_extract_string(j.client_meta, '$.transcript_id') IN (SELECT unnest(?))
            ORDER BY transcript_id, j.judgment_id""",
            [transcript_ids],
        )
    finally:
        con.close()


def write_replay_study(db: str | Path, replay: ReplayStudy, *, force: bool = False) -> Path:
    """A new dealt study whose assistance is imported transcripts (backend 'imported'), atomically."""
    db = Path(db)
    if db.exists() and not force:
        raise StoreError(
            f"{db} already exists; refusing to overwrite it.",
            hint="Pass --force to replace it, or choose another --db.",
        )
    sf, study = replay.study_file, replay.study_file.study
    db.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db.name}.", suffix=".tmp", dir=db.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        con = store.connect(tmp, create=True)
        with _transaction(con):
            _set_meta(con, "study", study.study)
            _set_meta(con, "config_text", sf.text)
            _set_meta(con, "config_hash", sf.config_hash)
            _set_meta(con, "study_path", str(sf.path.resolve()))
            _set_meta(con, "replay_source", replay.source)
            _set_meta(con, "replay_reference", replay.reference)
            con.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [item_row(i) for i in replay.items],
            )
            con.executemany(
                "INSERT INTO gold VALUES (?, ?, ?, ?)",
                [[g.item_id, g.label, g.source, json.dumps(g.detail)] for g in replay.gold],
            )
            con.executemany(
                "INSERT INTO conditions VALUES (?, ?, ?, ?, ?)",
                [
                    [c.name, n, json.dumps([a.model_dump() for a in c.assistance]), c.briefing, c.live_followups]
                    for n, c in enumerate(study.conditions)
                ],
            )
            ov = study.overseers
            con.executemany(
                "INSERT INTO overseers VALUES (?, ?, ?, ?)",
                [[n, "non_expert", "human", None] for n in ov.non_experts]
                + [[n, "expert", "human", None] for n in ov.experts],
            )
            con.executemany(
                "INSERT INTO assignments VALUES (?, ?, ?, ?, ?, ?)",
                [
                    [a.assignment_id, a.overseer, a.item_id, a.condition, a.position, a.block]
                    for a in replay.assignments
                ],
            )
            con.executemany(
                """INSERT INTO assistance (assistance_id, item_id, condition, kind, status, content, raw,
                                   backend, model, prompt, params) VALUES (?, ?, ?, ?, 'ok', ?, NULL, 'imported', ?,
                                   NULL, ?)""",
                [
                    [
                        r["assistance_id"],
                        r["item_id"],
                        r["condition"],
                        r["kind"],
                        json.dumps(r["content"]),
                        r["model"],
                        json.dumps(r["params"]),
                    ]
                    for r in replay.assistance
                ],
            )
        con.execute("CHECKPOINT")
        con.close()
        store.remove_db(db)
        os.replace(tmp, db)
    except BaseException:
        store.remove_db(tmp)
        raise
    return db


def replay_reference(db: str | Path) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """(original judgments on the replayed transcripts, this study's judgments with the transcript each saw)."""
    con = store.connect(db, read_only=True)
    try:
        text = store.get_meta(con, "replay_reference")
        if not text:
            return [], pl.DataFrame()
        mine = _frame(
            con,
            """
            SELECT j.condition, j.overseer, j.simulated, j.choice = g.label AS correct,
                   json_extract_string(a.params, '$.source.session') AS session, a.model AS transcript,
                   json_extract_string(a.params, '$.source.repository') AS repository
            FROM judgments j LEFT JOIN gold g USING (item_id)
            JOIN assistance a ON a.item_id = j.item_id AND a.condition = j.condition
            WHERE NOT j.skipped AND j.choice IS NOT NULL""",
        )
    finally:
        con.close()
    return json.loads(text), mine
