"""The study service: the one way anything reads or writes a study.

`StudyService` is the lead's side (status, export, gold for analysis).
`OverseerSession` is everything an overseer may reach — the TUI, simulated
overseers and the HTTP server's overseer routes get only this object. None of
its methods touches `gold` or `hidden_tests` (a test walks them), with one
guarded exception: `practice_feedback` reads gold for practice items only, which
are kept out of the study.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import duckdb

from sandwich import store
from sandwich.config import Study
from sandwich.errors import AlreadyJudged, NotFound, SandwichError, StoreError
from sandwich.studyfile import validate_text
from sandwich.views import (AssistanceView, Briefing, ConditionProgress, ItemContent, ItemView, JudgmentFormat,
                            JudgmentIn, PracticeFeedback, ProgressView, Receipt, SessionStart)

ASSISTANCE_BLURB = {
    "explanation": "an explanation of the item in plain language",
    "decomposition": "the question split into smaller sub-questions, each answered by the model; you can ask follow-ups",
    "critique": "a list of possible flaws the model found, each with where and why",
    "consultancy": "a consultant arguing for one answer — it may be arguing for the wrong one",
    "debate": "two model debaters arguing for opposite answers over several rounds",
}


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def check_judgment(j: JudgmentIn, fmt: JudgmentFormat) -> None:
    """Refuse a judgment whose choice, confidence or rationale does not fit the study's format."""
    if j.skipped:
        return
    if j.choice not in fmt.choices:
        raise SandwichError(f"Choice {j.choice!r} is not allowed here (expected one of: {', '.join(fmt.choices)}).")
    if j.confidence is None or j.confidence not in fmt.confidence:
        raise SandwichError(f"Confidence {j.confidence!r} is not on the study's scale "
                            f"({', '.join(map(str, fmt.confidence))}).")
    # when the time limit forced the judgment there was no time to write a reason
    if fmt.rationale == "required" and not (j.rationale or "").strip() and not j.timed_out:
        raise SandwichError("This study asks for a one-line rationale with every judgment.")


def judgment_row(j: JudgmentIn, overseer: str, item_id: str, condition: str, fmt: JudgmentFormat,
                 now: datetime) -> list[Any]:
    """The `judgments` table row for a checked judgment, in column order."""
    return [j.judgment_id, j.assignment_id, overseer, item_id, condition,
            None if j.skipped else j.choice, None if j.skipped else j.confidence,
            j.rationale if fmt.rationale != "off" else None, j.time_on_item_s, j.time_to_first_assist_s,
            j.assistance_failed, j.timed_out, j.skipped, j.source, j.source != "human",
            json.dumps(j.client_meta) if j.client_meta else None, now]


class StudyService:
    """Open a study database and serve it to the lead and, through sessions, to overseers."""

    def __init__(self, db_path: str | Path, *, read_only: bool = False) -> None:
        self.db_path = Path(db_path)
        self.read_only = read_only
        self._con = store.connect(self.db_path, read_only=read_only)
        self._lock = threading.RLock()
        text = store.get_meta(self._con, "config_text")
        if text is None:
            self._con.close()
            raise StoreError(f"{self.db_path}: the study was never fully created.", hint="Run `sandwich create` again.")
        self.config_text: str = text
        self.config_hash: str = store.get_meta(self._con, "config_hash") or ""
        self.study: Study = validate_text(text, str(self.db_path) + "#config")
        self._conditions = {c.name: c for c in self.study.conditions}
        # items and assignments never change after `create`: cache them so a submit costs one read and one write
        self._assignments: dict[str, dict[str, Any]] = {}
        self._items: dict[str, dict[str, Any]] = {}
        self._prereg_frozen = False

    # ------------------------------------------------------------ plumbing
    def __enter__(self) -> StudyService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (checkpointing it so the file stands alone)."""
        with self._lock:
            try:
                if not self.read_only:
                    self._con.execute("CHECKPOINT")
            except duckdb.Error:
                pass
            self._con.close()

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query (lead side) and return dict rows."""
        with self._lock:
            return store.rows(self._con, sql, params)

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        """Run a write statement (lead side; commits on return)."""
        with self._lock:
            self._con.execute(sql, params or [])

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The raw connection, for lead-side bulk work (analysis, precompute). Hold `lock` while using it."""
        return self._con

    @property
    def lock(self) -> threading.RLock:
        """Serialises use of the connection across threads."""
        return self._lock

    # ------------------------------------------------------------ overseers
    def overseers(self) -> list[dict[str, Any]]:
        """Every overseer with role and kind."""
        return self.query("SELECT name, role, kind FROM overseers ORDER BY role DESC, name")

    def for_overseer(self, name: str) -> OverseerSession:
        """The session object an overseer (person or simulation) works through."""
        row = self.query("SELECT name, role FROM overseers WHERE name = ?", [name])
        if not row:
            known = ", ".join(o["name"] for o in self.overseers())
            raise NotFound(f"No overseer named {name!r} in study {self.study.study!r}.",
                           hint=f"Overseers in this study: {known}.")
        return OverseerSession(self, name, row[0]["role"])

    def judgment_format(self, item: dict[str, Any]) -> JudgmentFormat:
        """The answer format for an item under this study's judgment settings."""
        j = self.study.judgment
        if j.choices == "item":
            letters = [chr(65 + i) for i in range(len(item["choices"] or []))]
            labels = [f"{ltr}. {text}" for ltr, text in zip(letters, item["choices"] or [], strict=True)]
        else:
            letters, labels = list(j.choices or []), list(j.choices or [])
        return JudgmentFormat(choices=letters, choice_labels=labels, confidence=j.confidence,
                              time_limit_s=j.time_limit_s, warn_before_s=j.warn_before_s,
                              on_timeout=j.on_timeout, rationale=j.rationale)

    def freeze_preregistration(self) -> str:
        """Freeze (hash and timestamp) the pre-registered hypotheses; idempotent. Returns the hash."""
        with self._lock:
            if self._prereg_frozen is not False:
                return self._prereg_frozen
            row = self._con.execute("SELECT hash FROM preregistration LIMIT 1").fetchone()
            if row:
                self._prereg_frozen = row[0]
                return row[0]
            payload = json.dumps(self.study.preregistration.model_dump(mode="json"), sort_keys=True)
            digest = hashlib.sha256(payload.encode()).hexdigest()
            self._con.execute("INSERT INTO preregistration VALUES (?, ?, ?)", [digest, payload, _now()])
            self._prereg_frozen = digest
            return digest

    def forget_preregistration_cache(self) -> None:
        """Drop the cached freeze hash (a caller's transaction that froze it was rolled back)."""
        with self._lock:
            self._prereg_frozen = False

    def assignment_row(self, assignment_id: str) -> dict[str, Any] | None:
        """An assignment by id (cached; assignments are fixed at create)."""
        if not self._assignments:  # one bulk read: a study has at most a few hundred thousand assignments
            self._assignments = {r["assignment_id"]: r for r in self.query("SELECT * FROM assignments")}
        return self._assignments.get(assignment_id)

    def item_row(self, item_id: str) -> dict[str, Any]:
        """An item's overseer-visible fields (cached; items are fixed at create)."""
        row = self._items.get(item_id)
        if row is None:
            row = self._items[item_id] = self.query(
                "SELECT item_id, task_kind, title, prompt, body, question, choices, language, role FROM items "
                "WHERE item_id = ?", [item_id])[0]
        return row

    def observe(self, overseer: str, item_id: str, condition: str) -> str:
        """Observed design: the assignment id for a judgment made outside a dealt plan (created on first use).

        Submit the judgment against it through `for_overseer(overseer)`. Raises SandwichError for a dealt
        design, NotFound for an unknown item or condition, AlreadyJudged when that overseer judged the item
        under another condition.
        """
        if self.study.overseers.design != "observed":
            raise SandwichError(f"Study {self.study.study!r} deals its own assignments; only an observed design "
                                "takes judgments made outside its plan.")
        if condition not in self._conditions:
            raise NotFound(f"No condition {condition!r} in study {self.study.study!r}.")
        if not self.query("SELECT 1 FROM items WHERE item_id = ?", [item_id]):
            raise NotFound(f"No item {item_id!r} in study {self.study.study!r}.")
        from sandwich.importers.persist import add_observed_assignment

        with self._lock:
            aid = add_observed_assignment(self._con, overseer, item_id, condition)
            self._assignments.clear()  # re-read on next use: the plan grew
        row = self.assignment_row(aid)
        if row is None or row["condition"] != condition:
            raise AlreadyJudged(f"{overseer!r} already has item {item_id!r} under another condition.")
        return aid

    # ------------------------------------------------------------ lead side
    def status(self) -> dict[str, Any]:
        """Counts for `sandwich status`: items, overseers, assignments done/left per overseer and condition."""
        items = self.query("SELECT split, role, count(*) AS n FROM items GROUP BY ALL ORDER BY ALL")
        per = self.query("""
            SELECT a.overseer, o.role, a.condition, count(*) AS total, count(j.judgment_id) AS done
            FROM assignments a JOIN overseers o ON o.name = a.overseer
            LEFT JOIN judgments j ON j.assignment_id = a.assignment_id
            GROUP BY ALL ORDER BY o.role DESC, a.overseer, a.condition""")
        assist = self.query("SELECT condition, kind, status, count(*) AS n FROM assistance GROUP BY ALL ORDER BY ALL")
        return {"study": self.study.study, "question": self.study.question, "db": str(self.db_path),
                "config_hash": self.config_hash, "items": items, "assignments": per, "assistance": assist,
                "conditions": [c.name for c in self.study.conditions]}

    def gold(self) -> dict[str, str]:
        """Gold labels by item id. Lead side only: analysis and classifier training."""
        return {r["item_id"]: r["label"] for r in self.query("SELECT item_id, label FROM gold")}


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
    def log(self, event: str, assignment_id: str | None = None, payload: dict[str, Any] | None = None,
            interaction_id: str | None = None) -> None: ...
    def submit(self, j: JudgmentIn) -> Receipt: ...


class OverseerSession:
    """Everything one overseer may do. Never returns gold, other overseers' work or other conditions' help."""

    def __init__(self, service: StudyService, overseer: str, role: str) -> None:
        self._svc = service
        self.overseer = overseer
        self.role = role

    # ------------------------------------------------------------ reading
    def _assignment(self, assignment_id: str) -> dict[str, Any]:
        row = self._svc.assignment_row(assignment_id)
        if row is None or row["overseer"] != self.overseer:
            raise NotFound(f"Assignment {assignment_id!r} is not one of {self.overseer}'s.")
        return row

    def _item(self, item_id: str) -> dict[str, Any]:
        return self._svc.item_row(item_id)

    def _view(self, a: dict[str, Any], total: int) -> ItemView:
        item = self._item(a["item_id"])
        cond = self._svc._conditions[a["condition"]]
        first = a["position"] == 0 or self._svc.query(
            "SELECT condition FROM assignments WHERE overseer = ? AND position = ?",
            [self.overseer, a["position"] - 1])[0]["condition"] != a["condition"]
        content = ItemContent(**{k: item[k] for k in ItemContent.model_fields if k != "choices"},
                              choices=list(item["choices"] or []))
        return ItemView(assignment_id=a["assignment_id"], overseer=self.overseer, position=a["position"], total=total,
                        block=a["block"], condition=cond.name, assistance_kinds=cond.kinds,
                        live_followups=cond.live_followups and bool(cond.assistance), first_in_block=first,
                        item=content, judgment=self._svc.judgment_format(item))

    def next_item(self) -> ItemView | None:
        """The first assignment without a judgment, or None when the session is finished."""
        rows = self._svc.query("""
            SELECT a.*, (SELECT count(*) FROM assignments WHERE overseer = ?) AS total FROM assignments a
            LEFT JOIN judgments j ON j.assignment_id = a.assignment_id
            WHERE a.overseer = ? AND j.judgment_id IS NULL ORDER BY a.position LIMIT 1""",
                               [self.overseer, self.overseer])
        return self._view(rows[0], rows[0]["total"]) if rows else None

    def item(self, assignment_id: str) -> ItemView:
        """One of this overseer's assignments, as a view."""
        a = self._assignment(assignment_id)
        total = self._svc.query("SELECT count(*) AS n FROM assignments WHERE overseer = ?", [self.overseer])[0]["n"]
        return self._view(a, total)

    def assistance(self, assignment_id: str) -> list[AssistanceView]:
        """The precomputed assistance of this assignment's condition for its item (missing kinds marked so)."""
        a = self._assignment(assignment_id)
        cond = self._svc._conditions[a["condition"]]
        rows = {r["kind"]: r for r in self._svc.query(
            "SELECT kind, status, content, raw, model, backend FROM assistance WHERE item_id = ? AND condition = ?",
            [a["item_id"], a["condition"]])}
        out = []
        for kind in cond.kinds:
            r = rows.get(kind)
            if r is None:
                out.append(AssistanceView(kind=kind, status="missing"))
            else:
                out.append(AssistanceView(kind=kind, status=r["status"],
                                          content=json.loads(r["content"]) if r["content"] else None,
                                          raw=r["raw"], model=r["model"], backend=r["backend"]))
        return out

    def briefing(self, condition: str) -> Briefing:
        """The briefing for one of this overseer's conditions."""
        mine = {r["condition"] for r in self._svc.query(
            "SELECT DISTINCT condition FROM assignments WHERE overseer = ?", [self.overseer])}
        if condition not in mine:
            raise NotFound(f"{self.overseer} has no items under condition {condition!r}.")
        cond = self._svc._conditions[condition]
        j = self._svc.study.judgment
        if cond.assistance:
            helps = "\n".join(f"• {ASSISTANCE_BLURB[k]}" for k in cond.kinds)
            text = f"In this part the model helps you with:\n{helps}"
            if cond.live_followups:
                text += "\nYou may also ask the model your own follow-up questions."
            text += "\nThe model can be wrong. Use its help, but the judgment is yours."
        else:
            text = "In this part you judge on your own, without help from the model."
        if j.time_limit_s:
            text += (f"\n\nYou have {j.time_limit_s // 60} min {j.time_limit_s % 60} s per item; a warning shows "
                     f"{j.warn_before_s} s before the end, then the item is "
                     + ("submitted with what you chose." if j.on_timeout == "force" else "skipped."))
        text += "\nPick an answer, say how confident you are that it is right, and submit."
        if cond.briefing:
            text += "\n\n" + cond.briefing.strip()
        sample = self._svc.query("SELECT choices FROM items WHERE role = 'study' LIMIT 1")
        fmt = self._svc.judgment_format(sample[0] if sample else {"choices": []})
        return Briefing(condition=condition, assistance=cond.kinds,
                        live_followups=cond.live_followups and bool(cond.assistance), text=text,
                        judgment=fmt, practice_items=self._svc.study.overseers.practice_items)

    def progress(self) -> ProgressView:
        """Done/total overall and per condition."""
        rows = self._svc.query("""
            SELECT a.condition, count(*) AS total, count(j.judgment_id) AS done, min(a.block) AS block
            FROM assignments a LEFT JOIN judgments j ON j.assignment_id = a.assignment_id
            WHERE a.overseer = ? GROUP BY a.condition ORDER BY block""", [self.overseer])
        by = [ConditionProgress(condition=r["condition"], done=r["done"], total=r["total"]) for r in rows]
        return ProgressView(overseer=self.overseer, done=sum(c.done for c in by), total=sum(c.total for c in by),
                            by_condition=by)

    # ------------------------------------------------------------ practice
    def practice_items(self, condition: str) -> list[ItemView]:
        """Practice items (outside the study) to try under a condition before its block."""
        self.briefing(condition)  # checks the condition is this overseer's
        cond = self._svc._conditions[condition]
        rows = self._svc.query("SELECT item_id FROM items WHERE role = 'practice' ORDER BY item_id")
        out = []
        for n, r in enumerate(rows):
            item = self._item(r["item_id"])
            content = ItemContent(**{k: item[k] for k in ItemContent.model_fields if k != "choices"},
                                  choices=list(item["choices"] or []))
            out.append(ItemView(assignment_id=f"practice:{condition}:{r['item_id']}", overseer=self.overseer,
                                position=n, total=len(rows), block=-1, condition=condition,
                                assistance_kinds=cond.kinds, live_followups=False, first_in_block=n == 0,
                                item=content, judgment=self._svc.judgment_format(item), practice=True))
        return out

    def practice_feedback(self, item_id: str, choice: str) -> PracticeFeedback:
        """Right or wrong on a practice item. Refuses any item that is part of the study."""
        rows = self._svc.query(
            "SELECT i.role, g.label, g.detail FROM items i JOIN gold g USING (item_id) WHERE i.item_id = ?", [item_id])
        if not rows or rows[0]["role"] != "practice":
            raise NotFound(f"{item_id!r} is not a practice item.")
        right = rows[0]["label"]
        self.log("practice_answer", None, {"item_id": item_id, "choice": choice, "correct": choice == right})
        why = "The hidden tests pass." if right == "correct" else "It fails the problem's hidden tests."
        if self._svc.study.task.kind != "code-review":
            why = f"The answer is {right}."
        return PracticeFeedback(item_id=item_id, your_choice=choice, right_choice=right, correct=choice == right,
                                explanation=why)

    # ------------------------------------------------------------ live help
    def follow_up(self, assignment_id: str, question: str, node_id: str | None = None) -> Iterator[str]:
        """Stream the model's answer to the overseer's own question about this item.

        Only where the assignment's condition allows live follow-ups. The model sees the
        item and this condition's assistance, never gold. Raises AssistanceUnavailable
        when the backend is down; the question and the answer (or failure) are logged.
        """
        a = self._assignment(assignment_id)
        cond = self._svc._conditions[a["condition"]]
        if not (cond.live_followups and cond.assistance):
            raise SandwichError(f"Condition {cond.name!r} does not allow follow-up questions.")
        question = question.strip()
        if not question or len(question) > 2000:
            raise SandwichError("A follow-up question needs 1–2000 characters.")
        from assistants.live import stream_follow_up

        item = self.item(assignment_id).item
        context = self.assistance(assignment_id)
        self.log("followup_asked", assignment_id, {"question": question, "node_id": node_id})
        started, parts = time.monotonic(), []
        try:
            for piece in stream_follow_up(self._svc.study.assistant, item=item, assistance=context,
                                          question=question, node_id=node_id):
                parts.append(piece)
                yield piece
        except Exception as e:
            self.log("followup_failed", assignment_id, {"question": question, "node_id": node_id, "error": str(e)})
            raise
        self.log("followup_answered", assignment_id, {"question": question, "node_id": node_id,
                                                      "answer": "".join(parts),
                                                      "latency_s": round(time.monotonic() - started, 3)})

    # ------------------------------------------------------------ writing
    def start_session(self, client: str = "tui") -> SessionStart:
        """Record that the overseer (re)opened their session; note an item interrupted mid-way."""
        nxt = self.next_item()
        prior = self._svc.query("SELECT count(*) AS n FROM interactions WHERE overseer = ? AND event = 'session_start'",
                                [self.overseer])[0]["n"]
        interrupted = None
        if nxt is not None:
            shown = self._svc.query("SELECT count(*) AS n FROM interactions WHERE overseer = ? AND assignment_id = ? "
                                    "AND event = 'item_shown'", [self.overseer, nxt.assignment_id])[0]["n"]
            if shown:
                interrupted = nxt.assignment_id
                self.log("interrupted", nxt.assignment_id, {"times_shown_before": shown})
        self.log("session_start", None, {"client": client, "resumed": prior > 0})
        return SessionStart(overseer=self.overseer, resumed=prior > 0, interrupted_assignment=interrupted,
                            progress=self.progress())

    def log(self, event: str, assignment_id: str | None = None, payload: dict[str, Any] | None = None,
            interaction_id: str | None = None) -> None:
        """Record an interaction (panel opened, node expanded, follow-up asked …) with a timestamp."""
        if assignment_id is not None and not assignment_id.startswith("practice:"):
            self._assignment(assignment_id)
        if not event or len(event) > 64:
            raise SandwichError("An interaction event needs a short name (1–64 characters).")
        iid = interaction_id or uuid.uuid4().hex
        self._svc.execute("INSERT INTO interactions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                          [iid, self.overseer, assignment_id, event, json.dumps(payload or {}), _now()])

    def submit(self, j: JudgmentIn) -> Receipt:
        """Store a judgment durably before returning. The same judgment_id twice is a no-op."""
        svc = self._svc
        with svc.lock:
            a = self._assignment(j.assignment_id)
            item = self._item(a["item_id"])
            fmt = svc.judgment_format(item)
            check_judgment(j, fmt)
            svc.freeze_preregistration()
            now = _now()
            try:
                # one statement on the common path; conflicts are sorted out only when they happen
                svc.connection.execute(
                    "INSERT INTO judgments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    judgment_row(j, self.overseer, a["item_id"], a["condition"], fmt, now))
            except duckdb.ConstraintException:
                dup = store.rows(svc.connection, "SELECT assignment_id, overseer, created_at FROM judgments "
                                                 "WHERE judgment_id = ?", [j.judgment_id])
                if dup and dup[0]["overseer"] == self.overseer and dup[0]["assignment_id"] == j.assignment_id:
                    return Receipt(judgment_id=j.judgment_id, assignment_id=j.assignment_id, duplicate=True,
                                   stored_at=dup[0]["created_at"])
                if dup:
                    raise AlreadyJudged(f"Judgment id {j.judgment_id!r} was already used for another assignment.",
                                        hint="Clients must generate a fresh id for each judgment.") from None
                raise AlreadyJudged(f"Assignment {j.assignment_id!r} already has a judgment.",
                                    hint="Each assignment is judged once; the earlier judgment stands.") from None
            return Receipt(judgment_id=j.judgment_id, assignment_id=j.assignment_id, duplicate=False, stored_at=now)
