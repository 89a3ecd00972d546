"""The server's one writer thread: group commit, acknowledged only after COMMIT.

Every write the server makes (judgments, interaction logs, session starts)
becomes an operation on one queue. The writer takes whatever has queued up,
runs it all in one transaction and commits once, then answers each caller —
so a burst of 100 submits costs one WAL flush instead of 100, and nothing is
acknowledged before it is durable. If the batch fails, it is rolled back and
each operation is retried alone, so one bad write cannot sink its neighbours.

With replicas (`shared`), a judgment this server's index does not know may already be stored
through another replica (a client retrying there after losing an answer): the store's unique
keys refuse it (`DuplicateKey`), and the writer answers from what the store holds — the original
receipt for the same judgment, or the standing judgment's conflict — so it is stored once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sandwich import rules
from sandwich.errors import AlreadyJudged, NotFound, NotSaved, SandwichError, StoreError
from sandwich.interactions import conflict
from sandwich.leases import Leases
from sandwich.server.index import StoredJudgment, StudyIndex
from sandwich.service import StudyService
from sandwich.store import UNREACHABLE_ERRORS, DuplicateKey, InteractionRecord, JudgmentRecord
from sandwich.views import JudgmentIn, Receipt

log = logging.getLogger("sandwich.serve")


class ServerClosing(StoreError):
    """The server is shutting down and takes no new writes."""


@dataclass
class _Op:
    apply: Callable[[_Batch], Any]
    judgment: bool = False  # judgments only add rows to the batch; other writes go to the store as they apply
    future: Future = field(default_factory=Future)
    resolve: Callable[[], Any] | None = None  # the answer when the store refuses this write as a duplicate


@dataclass
class _Batch:
    """What one transaction accumulates: judgment rows to insert, and what to record once committed."""

    rows: list[JudgmentRecord] = field(default_factory=list)
    stored: dict[str, StoredJudgment] = field(default_factory=dict)  # by judgment_id
    assignments: dict[str, StoredJudgment] = field(default_factory=dict)  # by assignment_id
    froze_preregistration: bool = False


class JudgmentWriter:
    """A single thread that owns every write to the study database."""

    def __init__(
        self, svc: StudyService, index: StudyIndex, leases: Leases, *, max_batch: int = 512, shared: bool = False
    ) -> None:
        self._svc = svc
        self._shared = shared
        self._leases = leases
        self._index = index
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._closed = False
        self._frozen = svc.store.frozen_plan() is not None
        self.batches = 0
        self.committed = 0
        self.commit_s = 0.0  # time spent inside transactions (for /v1/health)
        self.max_batch_seen = 0
        self.failed = 0  # writes refused by the database since start
        self.failing = False  # the last write the database saw failed (and none has succeeded since)
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self._thread = threading.Thread(target=self._loop, name="sandwich-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ callers
    def submit(self, overseer: str, j: JudgmentIn, session_id: str | None = None) -> Future:
        """Queue a judgment from a session; the future yields its Receipt once committed (or raises)."""
        return self._put(
            _Op(
                lambda batch: self._judgment(batch, overseer, j, session_id),
                judgment=True,
                resolve=lambda: self._stored_elsewhere(overseer, j),
            )
        )

    def run(self, fn: Callable[[], Any]) -> Future:
        """Queue any other write (it runs inside the writer's transaction); the future yields its result after
        COMMIT."""
        return self._put(_Op(lambda _batch: fn()))

    def _put(self, op: _Op) -> Future:
        if self._closed:
            raise ServerClosing("The server is shutting down; nothing was saved.", hint="Retry in a moment.")
        self._queue.put(op)
        return op.future

    def stats(self) -> dict[str, Any]:
        """Counters: transactions, judgments committed, mean time in a transaction, largest batch, and failed
        writes with the last database error (and its UTC time)."""
        return {
            "batches": self.batches,
            "committed": self.committed,
            "max_batch": self.max_batch_seen,
            "mean_transaction_ms": round(1000 * self.commit_s / max(self.batches, 1), 2),
            "failed_writes": self.failed,
            "failing": self.failing,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking writes, finish everything already queued, and stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)

    # ------------------------------------------------------------ the thread
    def _loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            ops = [first]
            while len(ops) < self._max_batch:  # whatever queued while the last COMMIT ran
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                ops.append(nxt)
            self._commit(ops)

    def _commit(self, ops: list[_Op]) -> None:
        batch = _Batch()
        results: list[tuple[_Op, Any, SandwichError | None]] = []
        store = self._svc.store
        started = time.perf_counter()
        # A batch of judgments alone (the hot path) is one INSERT statement, atomic and durable by itself;
        # other writes, and the first judgment (which freezes the pre-registration), need a transaction.
        # With replicas the batch's lease reads and its insert share one connection and one COMMIT.
        explicit = self._shared or not self._frozen or not all(op.judgment for op in ops)
        try:
            with store.lock, store.transaction() if explicit else nullcontext():
                for op in ops:
                    try:
                        results.append((op, op.apply(batch), None))
                    except SandwichError as e:  # refused before writing anything: the transaction is intact
                        results.append((op, None, e))
                if batch.rows:
                    store.add_judgments(batch.rows)
        except Exception as e:  # noqa: BLE001 — any database failure: nothing in this batch is saved (rolled back)
            if batch.froze_preregistration:  # the freeze rolled back with the batch: freeze again next time
                self._svc.forget_preregistration_cache()
            if len(ops) > 1 and not isinstance(e, UNREACHABLE_ERRORS):
                for op in ops:  # retry alone so that one failing write does not fail the others
                    self._commit([op])
                return
            if len(ops) == 1 and isinstance(e, DuplicateKey) and ops[0].resolve is not None and self._answer(ops[0]):
                return
            if isinstance(e, UNREACHABLE_ERRORS):  # what queued meanwhile would only wait as long to fail alike
                ops = ops + self._drain()
            log.error("write failed, nothing saved (%d operation(s)): %s", len(ops), e)
            self.failed += len(ops)
            self.failing = True
            self.last_error = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
            self.last_error_at = rules.utc_now().isoformat(timespec="seconds")
            for op in ops:  # one op, or a batch the database could not be reached for at all
                op.future.set_exception(
                    NotSaved(
                        f"The study database refused the write ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                        "it was NOT saved.",
                        hint="Keep the judgment and retry; tell the study lead if this persists.",
                    )
                )
            return
        self.batches += 1
        self.failing = False
        self.commit_s += time.perf_counter() - started
        self.max_batch_seen = max(self.max_batch_seen, len(ops))
        self._frozen = self._frozen or batch.froze_preregistration
        self.committed += len(batch.rows)
        for j in batch.stored.values():
            self._index.record(j)
        for op, value, error in results:
            if error is not None:
                op.future.set_exception(error)
            else:
                op.future.set_result(value)

    def _drain(self) -> list[_Op]:
        """Take every operation queued now (leaving the stop mark, if any, for the loop)."""
        taken: list[_Op] = []
        while True:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                return taken
            if op is None:
                self._queue.put(None)
                return taken
            taken.append(op)

    def _answer(self, op: _Op) -> bool:
        """Answer a write the store refused as a duplicate from what the store holds; False if that read failed."""
        assert op.resolve is not None
        try:
            value = op.resolve()
        except SandwichError as e:
            op.future.set_exception(e)
        except Exception as e:  # noqa: BLE001 — the store failed while we looked: report the write as unsaved
            log.error("could not read back a duplicate judgment: %s", e)
            return False
        else:
            op.future.set_result(value)
        self.failing = False
        return True

    # ------------------------------------------------------------ judgments
    def _stored_elsewhere(self, overseer: str, j: JudgmentIn) -> Receipt:
        """The answer to a judgment the store refused as a duplicate although this index did not know it (it was
        stored through another replica): the original receipt, or AlreadyJudged with what stands (logged)."""
        store = self._svc.store
        with store.lock:
            prev = store.judgment(j.judgment_id)
            if prev is not None:
                self._index.record(StoredJudgment(prev.judgment_id, prev.assignment_id, prev.overseer, prev.created_at))
                if prev.overseer != overseer or prev.assignment_id != j.assignment_id:
                    raise AlreadyJudged(
                        f"Judgment id {j.judgment_id!r} was already used for another assignment.",
                        hint="Clients must generate a fresh id for each judgment.",
                    )
                return Receipt(
                    judgment_id=j.judgment_id, assignment_id=j.assignment_id, duplicate=True, stored_at=prev.created_at
                )
            a = self._index.assignments[j.assignment_id]
            standing = next(
                (r for r in store.judgments(condition=a.condition) if r.assignment_id == j.assignment_id), None
            )
            if standing is None:  # refused as a duplicate, yet neither key is there: nothing is known to be saved
                raise NotSaved(
                    "The study database refused the judgment as a duplicate but holds no match; it was NOT saved.",
                    hint="Submit it again.",
                )
            self._index.record(
                StoredJudgment(standing.judgment_id, standing.assignment_id, standing.overseer, standing.created_at)
            )
            message, payload = conflict(j, standing)
            store.add_interaction(
                InteractionRecord(
                    interaction_id=uuid.uuid4().hex,
                    overseer=overseer,
                    assignment_id=j.assignment_id,
                    event="judgment_conflict",
                    payload=payload,
                    ts=rules.utc_now(),
                )
            )
            raise AlreadyJudged(message, hint="Each assignment is judged once; the earlier judgment stands.")

    def _judgment(self, batch: _Batch, overseer: str, j: JudgmentIn, session_id: str | None) -> Receipt:
        """Check a judgment like `OverseerSession.submit` does, and add its row to the batch."""
        prev = batch.stored.get(j.judgment_id) or self._index.by_judgment.get(j.judgment_id)
        if prev is not None:
            if prev.overseer != overseer or prev.assignment_id != j.assignment_id:
                raise AlreadyJudged(
                    f"Judgment id {j.judgment_id!r} was already used for another assignment.",
                    hint="Clients must generate a fresh id for each judgment.",
                )
            return Receipt(
                judgment_id=j.judgment_id, assignment_id=j.assignment_id, duplicate=True, stored_at=prev.stored_at
            )
        a = self._index.assignments.get(j.assignment_id)
        if a is None or a.overseer != overseer:
            raise NotFound(f"Assignment {j.assignment_id!r} is not one of {overseer}'s.")
        self._leases.hold(overseer, session_id)  # SessionInUse: another window is this overseer's active one
        held = batch.assignments.get(j.assignment_id) or self._index.by_assignment.get(j.assignment_id)
        if held is not None:  # another session's judgment won: say so, and keep the refused answer on record
            standing = next(
                (r for r in batch.rows if r.judgment_id == held.judgment_id), None
            ) or self._svc.store.judgment(held.judgment_id)
            message, payload = conflict(j, standing)
            self._svc.store.add_interaction(
                InteractionRecord(
                    interaction_id=uuid.uuid4().hex,
                    overseer=overseer,
                    assignment_id=j.assignment_id,
                    event="judgment_conflict",
                    payload=payload,
                    ts=rules.utc_now(),
                )
            )
            raise AlreadyJudged(message, hint="Each assignment is judged once; the earlier judgment stands.")
        fmt = self._index.fmts[a.item_id]
        rules.check_judgment(j, fmt)
        if not self._frozen:  # hypotheses are frozen before the first judgment, in the same transaction
            self._svc.freeze_preregistration()
            batch.froze_preregistration = True
        now = rules.utc_now()
        batch.rows.append(rules.judgment_record(j, a, fmt, now, self._index.item_record(a.item_id)))
        stored = StoredJudgment(j.judgment_id, j.assignment_id, overseer, now)
        batch.stored[j.judgment_id] = stored
        batch.assignments[j.assignment_id] = stored
        return Receipt(judgment_id=j.judgment_id, assignment_id=j.assignment_id, duplicate=False, stored_at=now)
