"""`StudyStore`: the one door to a study's persistence.

Everything that reads or writes a study — the service, the server, create,
precompute, simulation, export, analysis, classifiers — goes through this
protocol. Typed records go in; typed records, plain dicts of counts, and polars
frames (for analysis, through Arrow) come out. No connection, cursor or SQL
crosses it, so a new implementation (PostgreSQL for a multi-site study) is one
new module beside `duckdb_store.py`, registered in `sandwich.store.open_store`.

Concurrency: implementations are safe to call from several threads; `lock`
serialises them, and `transaction()` holds it from BEGIN to COMMIT so a group
of writes from one thread is atomic and durable together.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import polars as pl

from sandwich.errors import StoreError
from sandwich.store.records import (
    AssignmentRecord,
    AssistanceRecord,
    AuditRecord,
    FreezeRecord,
    GoldRecord,
    InteractionRecord,
    ItemRecord,
    JudgmentRecord,
    LookRecord,
    ModelAnswerRecord,
    OverseerRecord,
    StudyContent,
    TokenRecord,
)


class DuplicateKey(StoreError):
    """A write would repeat a unique key (a judgment id, or a second judgment of one assignment)."""


@runtime_checkable
class StudyStore(Protocol):
    """A study's tables behind typed methods. Raises StoreError (or a subclass) on failure."""

    location: str  # a file path or a URL, for messages
    read_only: bool

    # ------------------------------------------------------------ lifecycle
    @property
    def lock(self) -> threading.RLock: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...
    def schema_version(self) -> int: ...

    # ------------------------------------------------------------ create
    def write_study(self, content: StudyContent) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def lock_key(self, key: str) -> None:
        """Hold `key` against other processes until the current transaction ends (a no-op where one process owns
        the store). Replicas serialise read-then-write of one meta key (a session lease) with it."""
        ...

    # ------------------------------------------------------------ study design (fixed at create)
    def items(self, *, role: str | None = None) -> list[ItemRecord]: ...
    def item(self, item_id: str) -> ItemRecord | None: ...
    def overseers(self) -> list[OverseerRecord]: ...
    def mark_simulated(self, name: str, profile: dict[str, Any]) -> None: ...
    def add_observed_assignment(self, overseer: str, item_id: str, condition: str) -> str:
        """Observed design: the assignment for a judgment made outside a dealt plan (created once; its id)."""
        ...

    def assignments(self, overseer: str | None = None) -> list[AssignmentRecord]: ...

    # ------------------------------------------------------------ gold (lead side only)
    def gold(self) -> list[GoldRecord]: ...

    # ------------------------------------------------------------ judgments
    def add_judgments(self, rows: Sequence[JudgmentRecord]) -> None:
        """Insert judgments in one statement; DuplicateKey when an id or an assignment is already judged."""
        ...

    def judgment(self, judgment_id: str) -> JudgmentRecord | None: ...
    def judgments(self, *, condition: str | None = None) -> list[JudgmentRecord]: ...
    def judged(self, overseer: str | None = None) -> set[str]:
        """Assignment ids that have a judgment (of one overseer, or of everyone)."""
        ...

    def count_judgments(self, *, simulated: bool | None = None) -> int: ...

    # ------------------------------------------------------------ interactions
    def add_interaction(self, rec: InteractionRecord) -> None:
        """Record an interaction; the same interaction_id twice is a no-op."""
        ...

    def interactions(
        self, *, overseer: str | None = None, event: str | None = None, assignment_id: str | None = None
    ) -> list[InteractionRecord]: ...

    # ------------------------------------------------------------ assistance and model answers
    def assistance(self, *, item_id: str | None = None, condition: str | None = None) -> list[AssistanceRecord]: ...
    def put_assistance(self, rows: Sequence[AssistanceRecord]) -> None:
        """Write assistance rows in one transaction, replacing any row of the same item, condition and kind."""
        ...

    def put_model_answers(self, rows: Sequence[ModelAnswerRecord]) -> None: ...

    # ------------------------------------------------------------ pre-registration and looks
    def frozen_plan(self) -> FreezeRecord | None: ...
    def freeze_plan(self, rec: FreezeRecord) -> None: ...
    def add_look(self, rec: LookRecord) -> None: ...
    def looks(self) -> list[LookRecord]: ...

    # ------------------------------------------------------------ serve: tokens and audit
    def tokens(self) -> list[TokenRecord]: ...
    def add_token(self, rec: TokenRecord) -> None: ...
    def revoke_token(self, token_id: str) -> None: ...
    def add_audit(self, rec: AuditRecord) -> None: ...
    def audit(self, limit: int) -> list[AuditRecord]: ...

    # ------------------------------------------------------------ lead views, analysis, copies
    def status_counts(self) -> dict[str, list[dict[str, Any]]]:
        """Items by split/role, assignments total/done per overseer and condition, assistance by status."""
        ...

    def analysis_frames(self) -> dict[str, pl.DataFrame]:
        """`judgments` (with role, overseer kind, gold, split), `overseers`, `model_answers` (with gold)."""
        ...

    def table_names(self) -> list[str]:
        """Every table of the study's schema, sorted (export and schema checks derive their lists from it)."""
        ...

    def export_parquet(self, out: Path, tables: Sequence[str], blinded: Sequence[str]) -> dict[str, int]: ...
    def snapshot(self, target: Path) -> None: ...

    # ------------------------------------------------------------ whole tables (`sandwich store copy`)
    def read_table(self, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """(column names, rows) of a whole table; JSON columns as their stored text, arrays as lists."""
        ...

    def dump_tables(self) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        """Every table as `read_table` gives it, all from one consistent state."""
        ...

    def write_table(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append rows (as `read_table` gives them); creates a table of `migrations.EXTRA_TABLES` first."""
        ...

    def clear_table(self, table: str) -> None: ...


def iter_columns(rows: Sequence[Any], names: Sequence[str]) -> Iterator[list[Any]]:
    """Column lists of a batch of records (for stores that insert a batch column-wise)."""
    for n in names:
        yield [getattr(r, n) for r in rows]
