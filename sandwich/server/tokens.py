"""Access tokens for `sandwich serve`: one per overseer, and lead tokens.

A token reads `sw_<id>.<secret>`. The `tokens` table keeps the public id, a
per-token salt and sha256(salt + secret) — never the secret — so a copied
database file does not hand out access. A token is printed once, when issued.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sandwich.errors import NotFound, SandwichError
from sandwich.service import StudyService
from sandwich.store import DB_ERRORS, TokenRecord

log = logging.getLogger("sandwich.serve")

Role = Literal["overseer", "lead"]
LEAD_SUBJECT = "lead"


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    token_id: str
    subject: str  # the overseer's name, or "lead"
    role: Role


def write_token_file(path: Path, token: str, *, replace_existing: bool = False) -> Path:
    """Write a token to a new file only its owner can read (mode 0600), never through a wider-open file.

    Raises SandwichError when `path` exists (unless `replace_existing`).
    """
    if replace_existing:
        path.unlink(missing_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SandwichError(
            f"{path} already exists; not overwriting a token file.", hint="Remove it first, or give another path."
        ) from None
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return path


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + secret).encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    if not token.startswith("sw_") or "." not in token or len(token) > 200:
        return None
    token_id, _, secret = token[3:].partition(".")
    if not token_id or not secret:
        return None
    return token_id, secret


class TokenStore:
    """Issue, list, revoke and check tokens; checks are served from memory (the server is the only writer)."""

    def __init__(self, svc: StudyService, *, refresh_s: float | None = None) -> None:
        """`refresh_s`: re-read the table at most this often (seconds) when other processes (replicas) issue and
        revoke tokens too; None when this server is the study's only writer."""
        self._svc = svc
        self._mutex = threading.Lock()
        self._by_id: dict[str, TokenRecord] = {}
        self._refresh_s = refresh_s
        self._stop = threading.Event()
        self.reload()
        if refresh_s is not None:  # off the request path: a store that is down must not stall token checks
            threading.Thread(target=self._refresh_loop, name="sandwich-tokens", daemon=True).start()

    def reload(self) -> None:
        """Re-read the tokens table (e.g. after a CLI issued a token while the server was down)."""
        rows = self._svc.store.tokens()
        with self._mutex:
            self._by_id = {r.token_id: r for r in rows}

    def _refresh_loop(self) -> None:
        """With replicas: re-read the table every `refresh_s`. While the store is unreachable the last table read
        stays in force (reads keep being served; writes fail on their own)."""
        assert self._refresh_s is not None
        while not self._stop.wait(self._refresh_s):
            try:
                self.reload()
            except DB_ERRORS as e:
                log.warning("could not re-read the tokens (keeping the last table read): %s", e)

    def close(self) -> None:
        """Stop re-reading the table."""
        self._stop.set()

    def issue(self, *, overseer: str | None = None, lead: bool = False) -> tuple[str, Principal]:
        """Create a token for an overseer (or the lead). Returns (token text, principal); the text is not stored."""
        if lead == (overseer is not None):
            raise SandwichError("Issue a token either for one overseer (--overseer NAME) or for the lead (--lead).")
        if overseer is not None:
            self._svc.for_overseer(overseer)  # NotFound with the list of names when unknown
        subject, role = (LEAD_SUBJECT, "lead") if lead or overseer is None else (overseer, "overseer")
        token_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
        now = datetime.now(UTC).replace(tzinfo=None)
        row = TokenRecord(
            token_id=token_id,
            salt=salt,
            token_hash=_digest(salt, secret),
            subject=subject,
            role=role,
            created_at=now,
            revoked=False,
        )
        self._svc.store.add_token(row)
        with self._mutex:
            self._by_id[token_id] = row
        # why the ignore below: role is str here; Principal wants the 'lead' | 'overseer' Literal
        return f"sw_{token_id}.{secret}", Principal(token_id, subject, role)  # type: ignore[arg-type]

    def revoke(self, token_id: str) -> None:
        """Revoke a token by its public id (as `tokens list` shows it)."""
        with self._mutex:
            if token_id not in self._by_id:
                raise NotFound(f"No token with id {token_id!r}.", hint="`sandwich tokens list STUDY` shows the ids.")
        self._svc.store.revoke_token(token_id)
        with self._mutex:
            self._by_id[token_id] = replace(self._by_id[token_id], revoked=True)

    def list(self) -> list[dict[str, Any]]:
        """Every token's id, subject, role, creation time and revocation (never a secret or hash)."""
        with self._mutex:
            rows = list(self._by_id.values())
        return sorted(
            ({k: getattr(r, k) for k in ("token_id", "subject", "role", "created_at", "revoked")} for r in rows),
            key=lambda r: (r["role"], r["subject"], str(r["created_at"])),
        )

    def has_lead(self) -> bool:
        """Whether any unrevoked lead token exists."""
        with self._mutex:
            return any(r.role == "lead" and not r.revoked for r in self._by_id.values())

    def verify(self, token: str) -> Principal | None:
        """The principal a token speaks for, or None when it is malformed, unknown, wrong or revoked."""
        parts = _split(token)
        if parts is None:
            return None
        with self._mutex:
            row = self._by_id.get(parts[0])
        if row is None or row.revoked:
            return None
        if not hmac.compare_digest(row.token_hash, _digest(row.salt, parts[1])):
            return None
        return Principal(row.token_id, row.subject, row.role)  # type: ignore[arg-type]  # role is checked at issue
