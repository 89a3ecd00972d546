"""What the server keeps in memory so that busy overseers do not queue on DuckDB for reads.

The server is the only writer of its study file, so it can know which
assignments are judged without asking the database: the index is loaded once
at start and updated by the judgment writer after each COMMIT. Views of one
assignment never change while a study runs, so each is built once — from the
items and assignments loaded at start, exactly as `OverseerSession.item` builds
it (a test compares the two for every assignment) — and kept as JSON.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandwich.errors import NotFound
from sandwich.service import OverseerSession, StudyService
from sandwich.views import AssistanceView, ConditionProgress, ItemContent, ItemView, JudgmentFormat, ProgressView


@dataclass(frozen=True)
class AssignmentRow:
    """One assignment and the answer format of its item."""

    assignment_id: str
    overseer: str
    item_id: str
    condition: str
    position: int
    block: int
    fmt: JudgmentFormat


@dataclass(frozen=True)
class StoredJudgment:
    """What the index remembers of a committed judgment (enough to answer a retried submit)."""

    judgment_id: str
    assignment_id: str
    overseer: str
    stored_at: datetime


class StudyIndex:
    """Assignments, judged set and cached views of a served study."""

    def __init__(self, svc: StudyService) -> None:
        self._svc = svc
        self._mutex = threading.Lock()
        items = {r["item_id"]: r for r in svc.query(
            "SELECT item_id, task_kind, title, prompt, body, question, choices, language FROM items")}
        self._items = items
        self._conditions = {c.name: c for c in svc.study.conditions}
        fmts: dict[str, JudgmentFormat] = {}
        self.assignments: dict[str, AssignmentRow] = {}
        self.by_overseer: dict[str, list[str]] = {}
        for r in svc.query("SELECT assignment_id, overseer, item_id, condition, position, block FROM assignments "
                           "ORDER BY overseer, position"):
            if r["item_id"] not in fmts:
                fmts[r["item_id"]] = svc.judgment_format(items[r["item_id"]])
            self.assignments[r["assignment_id"]] = AssignmentRow(**r, fmt=fmts[r["item_id"]])
            self.by_overseer.setdefault(r["overseer"], []).append(r["assignment_id"])
        self.by_judgment: dict[str, StoredJudgment] = {}
        self.by_assignment: dict[str, StoredJudgment] = {}
        for r in svc.query("SELECT judgment_id, assignment_id, overseer, created_at FROM judgments"):
            self.record(StoredJudgment(r["judgment_id"], r["assignment_id"], r["overseer"], r["created_at"]))
        self._views: dict[str, tuple[ItemView, bytes]] = {}
        self._assist: dict[str, list[AssistanceView]] = {}

    def record(self, j: StoredJudgment) -> None:
        """Note a committed judgment (called by the writer after COMMIT returns)."""
        with self._mutex:
            self.by_judgment[j.judgment_id] = j
            self.by_assignment[j.assignment_id] = j

    def _build(self, a: AssignmentRow) -> tuple[ItemView, bytes]:
        item, cond = self._items[a.item_id], self._conditions[a.condition]
        mine = self.by_overseer[a.overseer]
        first = a.position == 0 or self.assignments[mine[a.position - 1]].condition != a.condition
        content = ItemContent(**{k: item[k] for k in ItemContent.model_fields if k != "choices"},
                              choices=list(item["choices"] or []))
        view = ItemView(assignment_id=a.assignment_id, overseer=a.overseer, position=a.position, total=len(mine),
                        block=a.block, condition=cond.name, assistance_kinds=cond.kinds,
                        live_followups=cond.live_followups and bool(cond.assistance), first_in_block=first,
                        item=content, judgment=a.fmt)
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

    def next_assignment(self, overseer: str) -> str | None:
        """The first of the overseer's assignments without a judgment, in session order (None when done)."""
        with self._mutex:
            return next((aid for aid in self.by_overseer.get(overseer, []) if aid not in self.by_assignment), None)

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
        per: dict[str, dict[str, Any]] = {}
        with self._mutex:
            for aid in self.by_overseer.get(overseer, []):
                a = self.assignments[aid]
                c = per.setdefault(a.condition, {"done": 0, "total": 0, "block": a.block})
                c["total"] += 1
                c["done"] += aid in self.by_assignment
                c["block"] = min(c["block"], a.block)
        by = [ConditionProgress(condition=k, done=v["done"], total=v["total"])
              for k, v in sorted(per.items(), key=lambda kv: kv[1]["block"])]
        return ProgressView(overseer=overseer, done=sum(c.done for c in by), total=sum(c.total for c in by),
                            by_condition=by)
