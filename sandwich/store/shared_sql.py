"""Statements that read the same in DuckDB and PostgreSQL: the look log, serve's tokens and its audit log.

`DuckDBStore` and `PostgresStore` mix `SharedStatements` in. The SQL is written once with `?` placeholders;
each store names its dialect's differences as class attributes:

- `PARAM`: its driver's placeholder (`?` for DuckDB, `%s` for psycopg);
- `NOW`: the current time as a `TIMESTAMP` without time zone (`current_timestamp` in DuckDB, which casts
  to the column's type; `localtimestamp` in PostgreSQL, whose session time zone is UTC).

None of these statements holds a literal `?`, so the placeholder swap is exact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sandwich.store.records import AuditRecord, LookRecord, TokenRecord


def _load(text: Any) -> Any:
    """A JSON column's value: parsed from text (DuckDB), or as the driver already parsed it (psycopg)."""
    return json.loads(text) if isinstance(text, str) else text


def _dump(value: Any) -> str | None:
    """A value as JSON text for a JSON column (None stays NULL)."""
    return None if value is None else json.dumps(value)


def item_row(i: Any) -> list[Any]:
    """An item (`ItemRecord` or `tasks.base.Item`) as the `items` table's row, columns in `_ITEM_COLUMNS` order."""
    return [
        i.item_id, i.task_kind, i.problem_id, i.split, i.role, i.title, i.prompt, i.body, i.question, i.choices,
        i.language, _dump(i.meta),
    ]  # fmt: skip


class SharedStatements:
    """The look log, tokens and audit for a store that provides `_rows` and `_exec` (see `StudyStore`)."""

    PARAM: ClassVar[str]
    NOW: ClassVar[str]

    if TYPE_CHECKING:  # provided by the store

        def _rows(self, query: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]: ...
        def _exec(self, query: str, params: Sequence[Any] | None = None) -> None: ...

    def _sql(self, query: str) -> str:
        """`query` with this dialect's placeholder and current time."""
        return query.replace("?", self.PARAM).replace("{now}", self.NOW)

    # ------------------------------------------------------------ looks
    def add_look(self, rec: LookRecord) -> None:
        """Append a look to the study's log."""
        self._exec(
            self._sql("INSERT INTO looks (ts, action, who, judgments, planned, plan_hash) VALUES (?, ?, ?, ?, ?, ?)"),
            [rec.ts, rec.action, rec.who, rec.judgments, rec.planned, rec.plan_hash],
        )

    def looks(self) -> list[LookRecord]:
        """Every logged look, oldest first."""
        return [
            LookRecord(*r)
            for r in self._rows("SELECT ts, action, who, judgments, planned, plan_hash FROM looks ORDER BY ts")
        ]

    # ------------------------------------------------------------ serve: tokens and audit
    def tokens(self) -> list[TokenRecord]:
        """Every token with a public id (older id-less rows cannot be presented)."""
        return [
            TokenRecord(*r)
            for r in self._rows(
                "SELECT token_id, salt, token_hash, subject, role, created_at, revoked FROM tokens "
                "WHERE token_id IS NOT NULL ORDER BY created_at"
            )
        ]

    def add_token(self, rec: TokenRecord) -> None:
        """Store a new token (its hash and salt; never the secret)."""
        self._exec(
            self._sql(
                "INSERT INTO tokens (token_hash, subject, role, created_at, revoked, token_id, salt) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            [rec.token_hash, rec.subject, rec.role, rec.created_at, rec.revoked, rec.token_id, rec.salt],
        )

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token by its public id."""
        self._exec(self._sql("UPDATE tokens SET revoked = true WHERE token_id = ?"), [token_id])

    def add_audit(self, rec: AuditRecord) -> None:
        """Record a refused request (stamped now when `rec.ts` is None)."""
        self._exec(
            self._sql(
                "INSERT INTO audit (ts, event, subject, role, method, path, status, client, detail) "
                "VALUES (coalesce(?, {now}), ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            [rec.ts, rec.event, rec.subject, rec.role, rec.method, rec.path, rec.status, rec.client, _dump(rec.detail)],
        )

    def audit(self, limit: int) -> list[AuditRecord]:
        """The most recent audit rows, newest first."""
        return [
            AuditRecord(event=e, subject=s, role=r, method=m, path=p, status=st, client=c, detail=_load(d), ts=t)
            for t, e, s, r, m, p, st, c, d in self._rows(
                self._sql(
                    "SELECT ts, event, subject, role, method, path, status, client, detail FROM audit "
                    "ORDER BY ts DESC LIMIT ?"
                ),
                [limit],
            )
        ]
