"""What the server keeps in memory so that busy overseers do not queue on DuckDB for reads.

The server is the only writer of its study file, so it can know which
assignments are judged without asking the database: the index is loaded once
at start and updated by the judgment writer after each COMMIT. Views of one
assignment never change while a study runs, so each is built once — by the
same `sandwich.rules.item_view` that `OverseerSession.item` uses — and kept as JSON.

With replicas (`shared`: other servers write the same PostgreSQL study) the judged set is only a
positive cache — what this process saw committed is committed, but another replica may have
stored more — so the next item and progress are read from the store, and a judgment this index
does not know is left to the store's unique keys (the writer resolves a `DuplicateKey`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sandwich import rules
from sandwich.errors import NotFound
from sandwich.service import OverseerSession, StudyService
from sandwich.store import AssignmentRecord, ItemRecord
from sandwich.views import AssistanceView, ItemView, JudgmentFormat, ProgressView


@dataclass(frozen=True)
class StoredJudgment:
    """What the index remembers of a committed judgment (enough to answer a retried submit)."""

    judgment_id: str
    assignment_id: str
    overseer: str
    stored_at: datetime


class StudyIndex:
    """Assignments, judged set and cached views of a served study."""

    def __init__(self, svc: StudyService, *, shared: bool = False) -> None:
        self._svc = svc
        self.shared = shared
        self._mutex = threading.Lock()
        self._items = {i.item_id: i for i in svc.store.items()}
        self._conditions = {c.name: c for c in svc.study.conditions}
        self.fmts: dict[str, JudgmentFormat] = {}  # by item_id
        self.assignments: dict[str, AssignmentRecord] = {}
        self.sessions: dict[str, list[AssignmentRecord]] = {}
        for a in svc.store.assignments():
            if a.item_id not in self.fmts:
                self.fmts[a.item_id] = svc.judgment_format(self._items[a.item_id])
            self.assignments[a.assignment_id] = a
            self.sessions.setdefault(a.overseer, []).append(a)
        self.by_judgment: dict[str, StoredJudgment] = {}
        self.by_assignment: dict[str, StoredJudgment] = {}
        for r in svc.store.judgments():
            self.record(StoredJudgment(r.judgment_id, r.assignment_id, r.overseer, r.created_at))
        self._views: dict[str, tuple[ItemView, bytes]] = {}
        self._assist: dict[str, list[AssistanceView]] = {}

    def item_record(self, item_id: str) -> ItemRecord:
        """The stored item (lead side: the writer needs its meta to store a choice in the item's own order)."""
        return self._items[item_id]

    def record(self, j: StoredJudgment) -> None:
        """Note a committed judgment (called by the writer after COMMIT returns)."""
        with self._mutex:
            self.by_judgment[j.judgment_id] = j
            self.by_assignment[j.assignment_id] = j

    def _build(self, a: AssignmentRecord) -> tuple[ItemView, bytes]:
        view = rules.item_view(
            a, self.sessions[a.overseer], self._items[a.item_id], self._conditions[a.condition], self.fmts[a.item_id]
        )
        return view, view.model_dump_json().encode()

    def _entry(self, overseer: str, assignment_id: str) -> tuple[ItemView, bytes]:
        a = self.assignments.get(assignment_id)
        if a is None or a.overseer != overseer:
            raise NotFound(f"Assignment {assignment_id!r} is not one of {overseer}'s.")
        entry = self._views.get(assignment_id)
        if entry is None:
            entry = self._views[assignment_id] = self._build(a)
        return entry

    def item(self, overseer: str, assignment_id: str) -> ItemView:
        """The (immutable) view of one of the overseer's assignments."""
        return self._entry(overseer, assignment_id)[0]

    def item_json(self, overseer: str, assignment_id: str) -> bytes:
        """The same view, as the JSON the API sends."""
        return self._entry(overseer, assignment_id)[1]

    def assistance(self, session: OverseerSession, assignment_id: str) -> list[AssistanceView]:
        """The precomputed assistance of one of the session's assignments (cached once all of it exists)."""
        a = self.assignments.get(assignment_id)
        cached = self._assist.get(assignment_id)
        if cached is not None and a is not None and a.overseer == session.overseer:
            return cached
        views = session.assistance(assignment_id)
        if all(v.status != "missing" for v in views):  # precompute may still be filling the rest in
            self._assist[assignment_id] = views
        return views

    def _judged(self, overseer: str) -> set[str] | dict[str, StoredJudgment]:
        """The overseer's judged assignments: from the store when replicas share it, else this index."""
        if self.shared:
            return self._svc.store.judged(overseer)
        return self.by_assignment

    def next_assignment(self, overseer: str) -> str | None:
        """The first of the overseer's assignments without a judgment, in session order (None when done).

        With replicas this reads the store (blocking: call it from a worker thread)."""
        judged = self._judged(overseer)
        with self._mutex:
            a = rules.next_assignment(self.sessions.get(overseer, []), judged)
        return None if a is None else a.assignment_id

    def next_item(self, overseer: str) -> ItemView | None:
        """The view of `next_assignment`."""
        nxt = self.next_assignment(overseer)
        return None if nxt is None else self.item(overseer, nxt)

    def next_json(self, overseer: str) -> bytes:
        """`next_item` as the JSON the API sends (`null` when the session is finished)."""
        nxt = self.next_assignment(overseer)
        return b"null" if nxt is None else self.item_json(overseer, nxt)

    def progress(self, overseer: str) -> ProgressView:
        """Done/total overall and per condition (conditions in block order)."""
        judged = self._judged(overseer)
        with self._mutex:
            return rules.progress(overseer, self.sessions.get(overseer, []), judged)
