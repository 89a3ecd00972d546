"""Everything one running server holds: the service, its index, tokens, the writer and the follow-up limit."""

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
    sessions: dict[str, OverseerSession] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    follow_up_slots: asyncio.Semaphore | None = None
    follow_up_pool: ThreadPoolExecutor | None = None

    @classmethod
    def open(cls, svc: StudyService, *, max_body: int = 64 * 1024, follow_up_limit: int | None = None,
             follow_up_timeout_s: float | None = None, follow_up_queue_s: float = 120.0,
             budget: Budget | None = None) -> ServerState:
        """Index the study and start its writer thread."""
        index = StudyIndex(svc)
        spec = svc.study.assistant
        servers = len(spec.url) if isinstance(spec.url, list) else 1  # a pool serves `concurrency` per server
        limit = follow_up_limit or spec.concurrency * servers
        leases = Leases(svc.store, remote=True, cache=True)  # the server is its study's only writer
        return cls(svc=svc, index=index, tokens=TokenStore(svc), writer=JudgmentWriter(svc, index, leases),
                   leases=leases,
                   follow_up_limit=limit, follow_up_timeout_s=follow_up_timeout_s or spec.timeout_s,
                   follow_up_queue_s=follow_up_queue_s, max_body=max_body, budgets=TokenBudgets(budget or Budget()),
                   follow_up_pool=ThreadPoolExecutor(max_workers=limit, thread_name_prefix="sandwich-follow-up"))

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
        if self.follow_up_pool is not None:
            self.follow_up_pool.shutdown(wait=False, cancel_futures=True)
