"""The study service: the one way anything reads or writes a study.

`StudyService` is the lead's side (status, export, gold for analysis).
`OverseerSession` is everything an overseer may reach — the TUI, simulated
overseers and the HTTP server's overseer routes get only this object. None of
its methods touches `gold` or `hidden_tests` (a test walks them), with one
guarded exception: `practice_feedback` reads gold for practice items only, which
are kept out of the study.
"""

from __future__ import annotations

import getpass
import math
import threading
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, Protocol

from sandwich import assistance, compose, rules
from sandwich.compose import FollowUpModel
from sandwich.config import Condition, Study
from sandwich.errors import AlreadyJudged, NotFound, SandwichError, StoreError
from sandwich.interactions import conflict
from sandwich.leases import Leases
from sandwich.store import (
    AssignmentRecord,
    DuplicateKey,
    InteractionRecord,
    ItemRecord,
    LookRecord,
    OverseerRecord,
    StudyStore,
    as_location,
    open_store,
)
from sandwich.studyfile import validate_text
from sandwich.tasks import kind as task_kinds
from sandwich.views import (
    CUT_OFF_NOTE,
    AssistanceView,
    Briefing,
    CutOff,
    ItemView,
    JudgmentFormat,
    JudgmentIn,
    PracticeFeedback,
    ProgressView,
    Receipt,
    SessionStart,
)


class StudyService:
    """Open a study store and serve it to the lead and, through sessions, to overseers."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        read_only: bool = False,
        store_kind: str | None = None,
        follow_up_model: FollowUpModel | None = None,
    ) -> None:
        """`follow_up_model` answers overseers' own questions (injected by the CLI; default:
        `sandwich.compose.FOLLOW_UP_MODEL`, imported on first use)."""
        self.db_path: Path | str = as_location(db_path)  # a DuckDB file, or a PostgreSQL URL (kept as text)
        self._follow_up_model = follow_up_model
        self.read_only = read_only
        self._store = open_store(self.db_path, read_only=read_only, kind=store_kind)
        text = self._store.get_meta("config_text")
        if text is None:
            self._store.close()
            raise StoreError(
                f"{self._store.location}: the study was never fully created.", hint="Run `sandwich create` again."
            )
        self.config_text: str = text
        self.config_hash: str = self._store.get_meta("config_hash") or ""
        self.study: Study = validate_text(text, str(self.db_path) + "#config")
        self._conditions = {c.name: c for c in self.study.conditions}
        # items and assignments never change after `create`: cache them so a submit costs one read and one write
        self._assignments: dict[str, AssignmentRecord] = {}
        self._sessions: dict[str, list[AssignmentRecord]] = {}
        self._items: dict[str, ItemRecord] = {}
        self._prereg_frozen: str | None = None
        self.leases = Leases(self._store)  # one live session per overseer (sandwich.leases)

    # ------------------------------------------------------------ plumbing
    def __enter__(self) -> StudyService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store (a DuckDB file is checkpointed so it stands alone)."""
        self._store.close()

    @property
    def follow_up_model(self) -> FollowUpModel:
        """The model that answers live follow-up questions (the injected one, else the default)."""
        if self._follow_up_model is None:
            self._follow_up_model = compose.follow_up_model()
        return self._follow_up_model

    @property
    def store(self) -> StudyStore:
        """The study's store, for lead-side components (precompute, simulation, export, the server)."""
        return self._store

    @property
    def lock(self) -> threading.RLock:
        """Serialises use of the store across threads (held by a transaction from BEGIN to COMMIT)."""
        return self._store.lock

    # ------------------------------------------------------------ overseers
    def overseers(self) -> list[OverseerRecord]:
        """Every overseer with role and kind (non-experts first)."""
        return self._store.overseers()

    def for_overseer(self, name: str) -> OverseerSession:
        """The session object an overseer (person or simulation) works through."""
        row = next((o for o in self.overseers() if o.name == name), None)
        if row is None:
            known = ", ".join(o.name for o in self.overseers())
            raise NotFound(
                f"No overseer named {name!r} in study {self.study.study!r}.", hint=f"Overseers in this study: {known}."
            )
        return OverseerSession(self, name, row.role)

    def condition(self, name: str) -> Condition:
        """A condition of the study by name."""
        return self._conditions[name]

    def judgment_format(self, item: ItemRecord | dict[str, Any]) -> JudgmentFormat:
        """The answer format for an item under this study's judgment settings."""
        choices = item.choices if isinstance(item, ItemRecord) else item.get("choices")
        return rules.judgment_format(self.study.judgment, choices)

    # ------------------------------------------------------------ pre-registration and looks
    def planned_judgments(self) -> int:
        """The planned sample size: one judgment per assignment."""
        self._load_assignments()
        return len(self._assignments)

    def freeze_preregistration(self) -> str:
        """Freeze (hash and timestamp) the whole analysis plan; idempotent. Returns the hash."""
        with self.lock:
            if self._prereg_frozen is not None:
                return self._prereg_frozen
            frozen = self._store.frozen_plan()
            if frozen is None:
                frozen = rules.freeze_record(self.study, self.planned_judgments(), rules.utc_now())
                self._store.freeze_plan(frozen)
            self._prereg_frozen = frozen.hash
            return frozen.hash

    def forget_preregistration_cache(self) -> None:
        """Drop the cached freeze hash (a caller's transaction that froze it was rolled back)."""
        with self.lock:
            self._prereg_frozen = None

    def check_plan(self) -> rules.PlanCheck | None:
        """The frozen plan re-checked against the stored study text and the look log (None before the freeze)."""
        frozen = self._store.frozen_plan()
        if frozen is None:
            return None
        return rules.check_plan(
            frozen,
            self.study,
            self.planned_judgments(),
            self.config_text,
            self.config_hash,
            self._store.looks(),
            self._store.count_judgments(),
        )

    def record_look(self, action: str, who: str | None = None) -> LookRecord:
        """Log a look at the results (analyze, export, snapshot): when, by whom, how many judgments existed.

        Raises StoreError when the study is open read-only: a look must not go unlogged.
        """
        if self.read_only:
            raise StoreError(
                f"{self._store.location}: this look at the results cannot be logged: the study is open read-only.",
                hint="Open it writable (every look at results is logged in the study).",
            )
        frozen = self._store.frozen_plan()
        look = LookRecord(
            ts=rules.utc_now(),
            action=action,
            who=who or os_user(),
            judgments=self._store.count_judgments(),
            planned=self.planned_judgments(),
            plan_hash=frozen.hash if frozen else None,
        )
        self._store.add_look(look)
        return look

    # ------------------------------------------------------------ cached design
    def _load_assignments(self) -> None:
        if not self._assignments:  # one bulk read: a study has at most a few hundred thousand assignments
            rows = self._store.assignments()
            self._assignments = {a.assignment_id: a for a in rows}
            sessions: dict[str, list[AssignmentRecord]] = {}
            for a in rows:
                sessions.setdefault(a.overseer, []).append(a)
            self._sessions = sessions

    def assignment_row(self, assignment_id: str) -> AssignmentRecord | None:
        """An assignment by id (cached; assignments are fixed at create)."""
        self._load_assignments()
        return self._assignments.get(assignment_id)

    def session_assignments(self, overseer: str) -> list[AssignmentRecord]:
        """An overseer's assignments in position order (cached)."""
        self._load_assignments()
        return self._sessions.get(overseer, [])

    def item_row(self, item_id: str) -> ItemRecord:
        """An item (cached; items are fixed at create)."""
        row = self._items.get(item_id)
        if row is None:
            found = self._store.item(item_id)
            if found is None:
                raise NotFound(f"No item {item_id!r} in this study.")
            row = self._items[item_id] = found
        return row

    def observe(self, overseer: str, item_id: str, condition: str) -> str:
        """Observed design: the assignment id for a judgment made outside a dealt plan (created on first use).

        Submit the judgment against it through `for_overseer(overseer)`. Raises SandwichError for a dealt
        design, NotFound for an unknown item or condition, AlreadyJudged when that overseer judged the item
        under another condition.
        """
        if self.study.overseers.design != "observed":
            raise SandwichError(
                f"Study {self.study.study!r} deals its own assignments; only an observed design "
                "takes judgments made outside its plan."
            )
        if condition not in self._conditions:
            raise NotFound(f"No condition {condition!r} in study {self.study.study!r}.")
        if self.store.item(item_id) is None:
            raise NotFound(f"No item {item_id!r} in study {self.study.study!r}.")
        with self.store.lock:
            aid = self.store.add_observed_assignment(overseer, item_id, condition)
            self._assignments.clear()  # re-read on next use: the plan grew
        row = self.assignment_row(aid)
        if row is None or row.condition != condition:
            raise AlreadyJudged(f"{overseer!r} already has item {item_id!r} under another condition.")
        return aid

    # ------------------------------------------------------------ lead side
    def status(self) -> dict[str, Any]:
        """Counts for `sandwich status`: items, overseers, assignments done/left per overseer and condition."""
        counts = self._store.status_counts()
        frozen = self._store.frozen_plan()
        return {
            "study": self.study.study,
            "question": self.study.question,
            "db": str(self.db_path),
            "config_hash": self.config_hash,
            "items": counts["items"],
            "assignments": counts["assignments"],
            "assistance": counts["assistance"],
            "conditions": [c.name for c in self.study.conditions],
            "plan_hash": frozen.hash if frozen else None,
            "looks": len(self._store.looks()),
        }

    def gold(self) -> dict[str, str]:
        """Gold labels by item id. Lead side only: analysis and classifier training."""
        return {g.item_id: g.label for g in self._store.gold()}


def _pieces(answer: Generator[str, None, str | None], parts: list[str]) -> Generator[str, None, str | None]:
    """Pass a streamed answer on piece by piece, keeping each in `parts`; returns the stream's finish reason."""
    while True:
        try:
            piece = next(answer)
        except StopIteration as stop:
            return stop.value
        parts.append(piece)
        yield piece


def os_user() -> str:
    """Who is at this machine (for the look log)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 — no passwd entry (containers): still record something
        return "unknown"


class OverseerAPI(Protocol):
    """What a client (the TUI, a simulated overseer) needs from a study, in process or over HTTP."""

    overseer: str

    def start_session(self, client: str = "tui") -> SessionStart: ...
    def next_item(self) -> ItemView | None: ...
    def item(self, assignment_id: str) -> ItemView: ...
    def assistance(self, assignment_id: str) -> list[AssistanceView]: ...
    def briefing(self, condition: str) -> Briefing: ...
    def progress(self) -> ProgressView: ...
    def practice_items(self, condition: str) -> list[ItemView]: ...
    def practice_feedback(self, item_id: str, choice: str) -> PracticeFeedback: ...
    def follow_up(self, assignment_id: str, question: str, node_id: str | None = None) -> Iterator[str]: ...
    def log(
        self,
        event: str,
        assignment_id: str | None = None,
        payload: dict[str, Any] | None = None,
        interaction_id: str | None = None,
    ) -> None: ...
    def submit(self, j: JudgmentIn) -> Receipt: ...


class OverseerSession:
    """Everything one overseer may do. Never returns gold, other overseers' work or other conditions' help."""

    def __init__(self, service: StudyService, overseer: str, role: str) -> None:
        self._svc = service
        self.overseer = overseer
        self.role = role
        self.session_id: str | None = None  # set by start_session: this object's writes then need its lease
        self.take_over = False  # start_session takes the lease even from another live session

    # ------------------------------------------------------------ reading
    def _assignment(self, assignment_id: str) -> AssignmentRecord:
        row = self._svc.assignment_row(assignment_id)
        if row is None or row.overseer != self.overseer:
            raise NotFound(f"Assignment {assignment_id!r} is not one of {self.overseer}'s.")
        return row

    def _view(self, a: AssignmentRecord) -> ItemView:
        item = self._svc.item_row(a.item_id)
        return rules.item_view(
            a,
            self._svc.session_assignments(self.overseer),
            item,
            self._svc.condition(a.condition),
            self._svc.judgment_format(item),
        )

    def next_item(self) -> ItemView | None:
        """The first assignment without a judgment, or None when the session is finished."""
        nxt = rules.next_assignment(self._svc.session_assignments(self.overseer), self._svc.store.judged(self.overseer))
        return None if nxt is None else self._view(nxt)

    def item(self, assignment_id: str) -> ItemView:
        """One of this overseer's assignments, as a view."""
        return self._view(self._assignment(assignment_id))

    def assistance(self, assignment_id: str) -> list[AssistanceView]:
        """The precomputed assistance of this assignment's condition for its item (missing kinds marked so)."""
        a = self._assignment(assignment_id)
        cond = self._svc.condition(a.condition)
        rows = {r.kind: r for r in self._svc.store.assistance(item_id=a.item_id, condition=a.condition)}
        item = self._svc.item_row(a.item_id)
        order = rules.shown_order(item, self.overseer)  # help written for the stored order, read in the shown one
        out = []
        for kind in cond.kinds:
            r = rows.get(kind)
            if r is None:
                out.append(AssistanceView(kind=kind, status="missing"))
            else:
                content = r.content
                if (r.params or {}).get("truncated") and isinstance(content, dict) and "text" in content:
                    # cut off at the token limit: the overseer reads that it stops mid-way (c23)
                    content = {**content, "text": str(content["text"]).rstrip() + CUT_OFF_NOTE}
                if order is not None:
                    shown = task_kinds.of(rules.item_content(item))
                    content, raw = shown.show_assistance(content, order), shown.show_assistance(r.raw, order)
                else:
                    raw = r.raw
                out.append(
                    AssistanceView(
                        kind=kind, status=r.status, content=content, raw=raw, model=r.model, backend=r.backend
                    )
                )
        return out

    def briefing(self, condition: str) -> Briefing:
        """The briefing for one of this overseer's conditions."""
        mine = {a.condition for a in self._svc.session_assignments(self.overseer)}
        if condition not in mine:
            raise NotFound(f"{self.overseer} has no items under condition {condition!r}.")
        cond = self._svc.condition(condition)
        j = self._svc.study.judgment
        if cond.assistance:
            helps = "\n".join(f"• {assistance.get(k).briefing}" for k in cond.kinds)
            text = f"In this part the model helps you with:\n{helps}"
            if cond.live_followups:
                text += "\nYou may also ask the model your own follow-up questions."
            text += "\nThe model can be wrong. Use its help, but the judgment is yours."
        else:
            text = "In this part you judge on your own, without help from the model."
        if j.time_limit_s:
            text += "\n\n" + rules.timeout_sentence(j)
        text += "\nPick an answer, say how confident you are that it is right, and submit."
        if cond.briefing:
            text += "\n\n" + cond.briefing.strip()
        sample = self._svc.item_row(self._svc.session_assignments(self.overseer)[0].item_id)
        return Briefing(
            condition=condition,
            assistance=cond.kinds,
            live_followups=rules.followups_allowed(cond),
            text=text,
            judgment=self._svc.judgment_format(sample),
            practice_items=self._svc.study.overseers.practice_items,
            choices_per_item=j.choices == "item",
        )

    def progress(self) -> ProgressView:
        """Done/total overall and per condition."""
        return rules.progress(
            self.overseer, self._svc.session_assignments(self.overseer), self._svc.store.judged(self.overseer)
        )

    # ------------------------------------------------------------ practice
    def practice_items(self, condition: str) -> list[ItemView]:
        """Practice items (outside the study) to try under a condition before its block."""
        self.briefing(condition)  # checks the condition is this overseer's
        cond = self._svc.condition(condition)
        rows = self._svc.store.items(role="practice")
        out = []
        for n, item in enumerate(rows):
            out.append(
                ItemView(
                    assignment_id=f"practice:{condition}:{item.item_id}",
                    overseer=self.overseer,
                    position=n,
                    total=len(rows),
                    block=-1,
                    condition=condition,
                    assistance_kinds=cond.kinds,
                    live_followups=False,
                    first_in_block=n == 0,
                    item=rules.item_content(item),
                    judgment=self._svc.judgment_format(item),
                    practice=True,
                )
            )
        return out

    def practice_feedback(self, item_id: str, choice: str) -> PracticeFeedback:
        """Right or wrong on a practice item. Refuses any item that is part of the study."""
        item = self._svc.store.item(item_id)
        gold = (
            {g.item_id: g.label for g in self._svc.store.gold()} if item is not None and item.role == "practice" else {}
        )
        if item_id not in gold:
            raise NotFound(f"{item_id!r} is not a practice item.")
        right = gold[item_id]
        self.log("practice_answer", None, {"item_id": item_id, "choice": choice, "correct": choice == right})
        why = task_kinds.get(self._svc.study.task.kind).practice_explanation(right)
        return PracticeFeedback(
            item_id=item_id, your_choice=choice, right_choice=right, correct=choice == right, explanation=why
        )

    # ------------------------------------------------------------ live help
    def follow_up(self, assignment_id: str, question: str, node_id: str | None = None) -> Iterator[str]:
        """Stream the model's answer to the overseer's own question about this item.

        Only where the assignment's condition allows live follow-ups. The model sees the
        item and this condition's assistance, never gold. Raises AssistanceUnavailable
        when the backend is down; the question and the answer (or failure) are logged.
        """
        a = self._assignment(assignment_id)
        cond = self._svc.condition(a.condition)
        if not rules.followups_allowed(cond):
            raise SandwichError(f"Condition {cond.name!r} does not allow follow-up questions.")
        question = question.strip()
        if not question or len(question) > 2000:
            raise SandwichError("A follow-up question needs 1–2000 characters.")
        stream_follow_up = self._svc.follow_up_model
        item = self.item(assignment_id).item
        context = self.assistance(assignment_id)
        self.log("followup_asked", assignment_id, {"question": question, "node_id": node_id})
        started, parts = time.monotonic(), list[str]()
        about = {"question": question, "node_id": node_id}
        answer = stream_follow_up(
            self._svc.study.assistant, item=item, assistance=context, question=question, node_id=node_id
        )
        try:
            finish = yield from _pieces(answer, parts)
            if finish == "length":  # the overseer reads that the answer is incomplete
                yield CutOff(CUT_OFF_NOTE)
        except GeneratorExit:  # the overseer moved on (submitted, next item, quit) while it streamed
            answer.close()
            self.log(
                "followup_abandoned",
                assignment_id,
                {**about, "partial": "".join(parts), "latency_s": round(time.monotonic() - started, 3)},
            )
            raise
        except Exception as e:
            self.log("followup_failed", assignment_id, {**about, "error": str(e), "partial": "".join(parts)})
            raise
        text = "".join(parts)
        self.log(
            "followup_answered",
            assignment_id,
            {
                **about,
                "answer": text,
                "finish_reason": finish,
                "truncated": finish == "length",
                **({"shown": text + CUT_OFF_NOTE} if finish == "length" else {}),
                "latency_s": round(time.monotonic() - started, 3),
            },
        )

    # ------------------------------------------------------------ writing
    def start_session(
        self,
        client: str = "tui",
        *,
        session_id: str | None = None,
        take_over: bool = False,
        leases: Leases | None = None,
    ) -> SessionStart:
        """Take the overseer's session lease, record that the session (re)opened, and note an item interrupted mid-way.

        Raises SessionInUse (nothing recorded) while another live session of this overseer holds the lease,
        unless `take_over`; a take-over is logged as `session_taken_over`. `leases`: the server's (its
        sessions are HTTP clients, identified by `session_id`); in process, this object holds the lease.
        """
        in_process = leases is None
        sid, taken = (leases or self._svc.leases).acquire(
            self.overseer, client, session_id, take_over or self.take_over
        )
        if in_process:
            self.session_id = sid
        if taken is not None:
            self.log(
                "session_taken_over",
                None,
                {
                    "client": client,
                    "from_client": taken.client,
                    "from_session": taken.session_id,
                    "from_since": taken.acquired_at,
                },
            )
        nxt = self.next_item()
        store = self._svc.store
        prior = len(store.interactions(overseer=self.overseer, event="session_start"))
        interrupted = None
        quit_cleanly, spent = self._resume_facts(nxt.assignment_id if nxt is not None else None)
        if nxt is not None:
            shown = len(store.interactions(overseer=self.overseer, event="item_shown", assignment_id=nxt.assignment_id))
            if shown:
                interrupted = nxt.assignment_id
                if not quit_cleanly:  # quitting with Ctrl+Q is not an interruption
                    self.log("interrupted", nxt.assignment_id, {"times_shown_before": shown, "time_spent_s": spent})
        self.log("session_start", None, {"client": client, "resumed": prior > 0})
        return SessionStart(
            overseer=self.overseer,
            resumed=prior > 0,
            interrupted_assignment=interrupted,
            progress=self.progress(),
            quit_cleanly=quit_cleanly,
            time_spent_s=spent,
            session_id=sid,
        )

    def _resume_facts(self, assignment_id: str | None) -> tuple[bool, float]:
        """(the last session ended by quitting, seconds already spent on `assignment_id`), from the interactions.

        The app logs `item_time` with the item's running total (earlier visits included) every few
        seconds and when the overseer quits, so the largest value is the time spent so far; a kill
        loses at most one interval. A session's last `session_start`/`session_end` says how it ended.
        """
        store = self._svc.store
        starts_ends = [
            r for r in store.interactions(overseer=self.overseer) if r.event in ("session_start", "session_end")
        ]
        ends = [r.event for r in starts_ends]
        spent = 0.0
        if assignment_id is not None:
            for r in store.interactions(overseer=self.overseer, event="item_time", assignment_id=assignment_id):
                value = (r.payload or {}).get("time_on_item_s")
                if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
                    spent = max(spent, float(value))
        return bool(ends) and ends[-1] == "session_end", round(spent, 3)

    def log(
        self,
        event: str,
        assignment_id: str | None = None,
        payload: dict[str, Any] | None = None,
        interaction_id: str | None = None,
    ) -> None:
        """Record an interaction (panel opened, node expanded, follow-up asked …) with a timestamp."""
        if assignment_id is not None and assignment_id.startswith("practice:"):
            self._practice_assignment(assignment_id)
        elif assignment_id is not None:
            self._assignment(assignment_id)
        if not event or len(event) > 64:
            raise SandwichError("An interaction event needs a short name (1–64 characters).")
        if self.session_id is not None:
            self._svc.leases.hold(self.overseer, self.session_id)
        self._svc.store.add_interaction(
            InteractionRecord(
                interaction_id=interaction_id or uuid.uuid4().hex,
                overseer=self.overseer,
                assignment_id=assignment_id,
                event=event,
                payload=payload or {},
                ts=rules.utc_now(),
            )
        )
        if event == "session_end" and self.session_id is not None:
            self._svc.leases.release(self.overseer, self.session_id)

    def _practice_assignment(self, assignment_id: str) -> None:
        """Refuse (NotFound) a practice id that is not `practice:<one of my conditions>:<a practice item>`."""
        _, condition, item_id = (assignment_id.split(":", 2) + ["", ""])[:3]
        mine = {a.condition for a in self._svc.session_assignments(self.overseer)}
        item = self._svc.store.item(item_id) if condition in mine else None
        if item is None or item.role != "practice":
            raise NotFound(f"{assignment_id!r} is not one of {self.overseer}'s practice items.")

    def submit(self, j: JudgmentIn) -> Receipt:
        """Store a judgment durably before returning. The same judgment_id twice is a no-op."""
        svc = self._svc
        store = svc.store
        with svc.lock:
            a = self._assignment(j.assignment_id)
            item = svc.item_row(a.item_id)
            fmt = svc.judgment_format(item)
            rules.check_judgment(j, fmt)
            if self.session_id is not None:
                svc.leases.hold(self.overseer, self.session_id)
            svc.freeze_preregistration()
            now = rules.utc_now()
            try:
                # one statement on the common path; conflicts are sorted out only when they happen
                store.add_judgments([rules.judgment_record(j, a, fmt, now, item)])
            except DuplicateKey:
                dup = store.judgment(j.judgment_id)
                if dup is not None and dup.overseer == self.overseer and dup.assignment_id == j.assignment_id:
                    return Receipt(
                        judgment_id=j.judgment_id,
                        assignment_id=j.assignment_id,
                        duplicate=True,
                        stored_at=dup.created_at,
                    )
                if dup is not None:
                    raise AlreadyJudged(
                        f"Judgment id {j.judgment_id!r} was already used for another assignment.",
                        hint="Clients must generate a fresh id for each judgment.",
                    ) from None
                standing = next(
                    (r for r in store.judgments(condition=a.condition) if r.assignment_id == j.assignment_id), None
                )
                message, payload = conflict(j, standing)
                self.log("judgment_conflict", j.assignment_id, payload)  # the refused answer is kept on record
                raise AlreadyJudged(
                    message, hint="Each assignment is judged once; the earlier judgment stands."
                ) from None
            return Receipt(judgment_id=j.judgment_id, assignment_id=j.assignment_id, duplicate=False, stored_at=now)
