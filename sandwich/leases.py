"""One live session per overseer: a lease kept in the study store, so it holds across processes.

Opening a session takes the overseer's lease. While another session holds a live lease,
opening a second one is refused with `SessionInUse`, saying where the first one is and
what to do (close it, wait for its hold to run out, or take it over). Every write of a
session renews its lease; a session whose lease was taken over is refused on its next
write, so it can never save unnoticed. A lease runs out `LEASE_TTL_S` seconds after its
last renewal, or at once when the process holding it has died (same host), so a crashed
session does not lock the overseer out. Leases live in the store's meta table
(`session_lease:<overseer>`), written through `StudyStore.set_meta`. Where other processes write the
same store (replicas of a PostgreSQL study, several `label` processes), each read-then-write of a lease
runs in a transaction holding `StudyStore.lock_key` for it, so two windows opening at once on two
replicas cannot both get the lease, and a renewal cannot undo a take-over made elsewhere.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sandwich.errors import SessionInUse
from sandwich.store import StudyStore

LEASE_TTL_S = 120.0  # the overseer app logs its time on an item every 3 s, which renews the lease
_RENEW_AFTER_S = 20.0  # renew (one write) at most this often


@dataclass(frozen=True)
class Lease:
    """Who holds an overseer's session: its id, the client kind, the holding process, and times (UTC, ISO)."""

    session_id: str
    client: str
    host: str
    pid: int
    remote: bool  # held through `sandwich serve` for a client elsewhere (many sessions in one process)
    acquired_at: str
    renewed_at: str


def _now() -> datetime:
    from sandwich.rules import utc_now

    return utc_now()


def _alive(pid: int) -> bool:
    """Whether process `pid` runs here. A zombie (killed, not yet reaped) is dead: in a container whose
    first process never reaps orphans, a `kill -9`ed app stays a zombie for good and would hold its lease."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]  # field 3, after the "(command)" which may hold spaces
    except (OSError, IndexError):
        return True  # no /proc (not Linux): signal 0 is all we know
    return state not in ("Z", "X")


class Leases:
    """The leases of one study's overseers. `remote=True` in the server (sessions are its HTTP clients)."""

    def __init__(
        self, store: StudyStore, *, remote: bool = False, cache: bool = False, ttl_s: float = LEASE_TTL_S
    ) -> None:
        self._store = store
        self._remote = remote
        self._cache: dict[str, Lease | None] | None = {} if cache else None
        self._mutex = threading.Lock()
        self.ttl_s = ttl_s

    # ------------------------------------------------------------ storage
    def get(self, overseer: str) -> Lease | None:
        """The overseer's lease as stored (live or not), or None."""
        if self._cache is not None and overseer in self._cache:
            return self._cache[overseer]
        raw = self._store.get_meta(f"session_lease:{overseer}")
        lease = Lease(**json.loads(raw)) if raw else None
        if self._cache is not None:
            self._cache[overseer] = lease
        return lease

    def _put(self, overseer: str, lease: Lease | None) -> None:
        self._store.set_meta(f"session_lease:{overseer}", json.dumps(asdict(lease)) if lease else "")
        if self._cache is not None:
            self._cache[overseer] = lease

    @contextmanager
    def _exclusive(self, overseer: str) -> Iterator[None]:
        """Keep other processes' lease writes for this overseer out until ours is committed. With `cache` this
        process is the store's only writer, and the mutex is enough."""
        if self._cache is not None:
            yield
            return
        with self._store.transaction():
            self._store.lock_key(f"session_lease:{overseer}")
            yield

    # ------------------------------------------------------------ rules
    def live(self, lease: Lease | None, now: datetime | None = None) -> bool:
        """Whether a lease still holds: renewed within the TTL, and its process alive when on this host."""
        if lease is None:
            return False
        now = now or _now()
        if now - datetime.fromisoformat(lease.renewed_at) > timedelta(seconds=self.ttl_s):
            return False
        return lease.host != socket.gethostname() or _alive(lease.pid)

    def _refusal(
        self, overseer: str, lease: Lease, now: datetime, *, opening: bool, sessionless: bool = False
    ) -> SessionInUse:
        since = datetime.fromisoformat(lease.acquired_at).strftime("%H:%M:%S UTC")
        idle = (now - datetime.fromisoformat(lease.renewed_at)).total_seconds()
        left = max(0, round(self.ttl_s - idle))
        where = f"a {lease.client} session opened at {since}, last active {idle:.0f} s ago"
        if opening:
            return SessionInUse(
                f"{overseer} already has a session open ({where}). One overseer works in one "
                "window at a time, so that no answer is lost.",
                hint=f"Close the other window (or browser tab) and open this again; if it crashed, "
                f"its hold runs out in {left} s. To move here anyway, open with --take-over.",
            )
        if sessionless:
            return SessionInUse(
                f"{overseer} has a session open ({where}); a write from outside it is refused. Nothing was saved.",
                hint="Open a session first (POST …/session), or close the other one.",
            )
        return SessionInUse(
            f"This window's session for {overseer} is no longer the active one ({where} took "
            "over). Nothing was saved from this window.",
            hint="Go on in the other window, or close it and reopen here.",
        )

    # ------------------------------------------------------------ operations
    def acquire(
        self, overseer: str, client: str, session_id: str | None = None, take_over: bool = False
    ) -> tuple[str, Lease | None]:
        """Take the overseer's lease for a new (or resumed) session. Returns (session id, the live lease taken over).

        Raises SessionInUse when another session holds a live lease and `take_over` is false.
        """
        with self._mutex, self._exclusive(overseer):
            now = _now()
            sid = session_id or uuid.uuid4().hex
            old = self.get(overseer)
            taken = old if old is not None and old.session_id != sid and self.live(old, now) else None
            # a session of this very process (in-process, e.g. an app reopened after a crash in a test or a
            # notebook) is replaced, not refused: it cannot be another person's window
            ours = (
                taken is not None
                and taken.host == socket.gethostname()
                and taken.pid == os.getpid()
                and not taken.remote
                and not self._remote
            )
            if taken is not None and not (take_over or ours):
                raise self._refusal(overseer, taken, now, opening=True)
            stamp = now.isoformat()
            acquired = old.acquired_at if old is not None and old.session_id == sid else stamp
            self._put(
                overseer, Lease(sid, client[:32], socket.gethostname(), os.getpid(), self._remote, acquired, stamp)
            )
            return sid, taken

    def hold(self, overseer: str, session_id: str | None) -> None:
        """Check that `session_id` may write for the overseer now (renewing its lease); SessionInUse if not.

        A write without a session id is allowed only while no session holds a live lease.
        """
        with self._mutex:
            now = _now()
            lease = self.get(overseer)
            if (
                lease is not None
                and session_id is not None
                and lease.session_id == session_id
                and not self._renew_due(lease, now)
            ):
                return  # the common case: ours, fresh; nothing to write, nothing to hold
            with self._exclusive(overseer):
                self._hold(overseer, session_id, now)

    def _renew_due(self, lease: Lease, now: datetime) -> bool:
        """A lease of ours is written again after `_RENEW_AFTER_S`, or when another process (replica) wrote it."""
        stale = (now - datetime.fromisoformat(lease.renewed_at)).total_seconds() > _RENEW_AFTER_S
        return stale or lease.pid != os.getpid()

    def _hold(self, overseer: str, session_id: str | None, now: datetime) -> None:
        """`hold`, under `_exclusive`: the lease read again, then renewed, refused or taken back."""
        lease = self.get(overseer)
        if lease is not None and session_id is not None and lease.session_id == session_id:
            if self._renew_due(lease, now):
                self._put(
                    overseer,
                    Lease(
                        lease.session_id,
                        lease.client,
                        socket.gethostname(),
                        os.getpid(),
                        self._remote,
                        lease.acquired_at,
                        now.isoformat(),
                    ),
                )
            return
        if lease is not None and self.live(lease, now):
            raise self._refusal(overseer, lease, now, opening=False, sessionless=session_id is None)
        if session_id is not None:  # ours ran out and nobody took it: take it again
            self._put(
                overseer,
                Lease(
                    session_id,
                    "resumed",
                    socket.gethostname(),
                    os.getpid(),
                    self._remote,
                    now.isoformat(),
                    now.isoformat(),
                ),
            )

    def release(self, overseer: str, session_id: str | None) -> None:
        """Give the lease up (the overseer quit), if `session_id` holds it."""
        with self._mutex, self._exclusive(overseer):
            lease = self.get(overseer)
            if lease is not None and session_id is not None and lease.session_id == session_id:
                self._put(overseer, None)
