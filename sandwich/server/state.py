"""Everything one running server holds: the service, its index, tokens, the writer and the follow-up limit.

On a DuckDB file the server is the study's only writer, so what it keeps in memory (the judged set,
leases, tokens) is the truth. On PostgreSQL several replicas may serve one study (`shared`): then
only what never changes (items, assignments, views) is cached as truth; the judged set is a
positive cache checked against the store, leases are read from the store on every write, and the
token table is re-read every `TOKEN_REFRESH_S` (see docs/architecture.md, "Replicas").
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sandwich.leases import Leases
from sandwich.server.budget import Budget, TokenBudgets
from sandwich.server.index import StudyIndex
from sandwich.server.tokens import TokenStore
from sandwich.server.writer import JudgmentWriter
from sandwich.service import OverseerSession, StudyService
from sandwich.store import store_kind

TOKEN_REFRESH_S = 2.0  # with replicas: a token issued or revoked on another replica counts here within this


@dataclass
class ServerState:
    """The served study. Built once at start; closed (writer drained) at shutdown."""

    svc: StudyService
    index: StudyIndex
    tokens: TokenStore
    writer: JudgmentWriter
    follow_up_limit: int
    follow_up_timeout_s: float
    follow_up_queue_s: float
    max_body: int
    budgets: TokenBudgets
    leases: Leases
    shared: bool = False  # other processes (replicas) write the same study: the store is the truth
    sessions: dict[str, OverseerSession] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    follow_up_slots: asyncio.Semaphore | None = None
    follow_up_pool: ThreadPoolExecutor | None = None

    @classmethod
    def open(
        cls,
        svc: StudyService,
        *,
        max_body: int = 64 * 1024,
        follow_up_limit: int | None = None,
        follow_up_timeout_s: float | None = None,
        follow_up_queue_s: float = 120.0,
        budget: Budget | None = None,
    ) -> ServerState:
        """Index the study and start its writer thread."""
        shared = store_kind(svc.db_path) == "postgres"
        index = StudyIndex(svc, shared=shared)
        spec = svc.study.assistant
        servers = len(spec.url) if isinstance(spec.url, list) else 1  # a pool serves `concurrency` per server
        limit = follow_up_limit or spec.concurrency * servers
        # a DuckDB file has one writer, this server, so its leases can live in memory; replicas read the store
        leases = Leases(svc.store, remote=True, cache=not shared)
        tokens = TokenStore(svc, refresh_s=TOKEN_REFRESH_S if shared else None)
        return cls(
            svc=svc,
            index=index,
            tokens=tokens,
            writer=JudgmentWriter(svc, index, leases, shared=shared),
            leases=leases,
            shared=shared,
            follow_up_limit=limit,
            follow_up_timeout_s=follow_up_timeout_s or spec.timeout_s,
            follow_up_queue_s=follow_up_queue_s,
            max_body=max_body,
            budgets=TokenBudgets(budget or Budget()),
            follow_up_pool=ThreadPoolExecutor(max_workers=limit, thread_name_prefix="sandwich-follow-up"),
        )

    def session(self, overseer: str) -> OverseerSession:
        """The (cached) service session of one overseer."""
        with self._mutex:
            s = self.sessions.get(overseer)
        if s is None:
            s = self.svc.for_overseer(overseer)
            with self._mutex:
                self.sessions[overseer] = s
        return s

    def close(self) -> None:
        """Finish queued writes and stop the writer (the caller closes the service, which checkpoints)."""
        self.writer.close()
        self.tokens.close()
        if self.follow_up_pool is not None:
            self.follow_up_pool.shutdown(wait=False, cancel_futures=True)
