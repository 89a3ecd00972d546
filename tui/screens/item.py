"""The work screen: the item, this condition's help, the judgment form, progress and timer."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Container
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header, Input, TabbedContent, Tree

from sandwich.tasks import kind as task_kinds
from sandwich.views import AssistanceView, ItemView, JudgmentIn, ProgressView
from tui import keys
from tui.widgets.assistance_panel import AssistancePanel, is_tree, title
from tui.widgets.choice_row import ChoiceRow
from tui.widgets.decomposition import DecompositionTree
from tui.widgets.followup import FollowUpBox, FollowUpStream
from tui.widgets.help_pane import UNUSABLE
from tui.widgets.item_body import ItemBody
from tui.widgets.item_timer import ItemTimer
from tui.widgets.judgment_form import JudgmentForm
from tui.widgets.key_footer import KeyFooter
from tui.widgets.size_guard import SizeGuard
from tui.widgets.status_bar import StatusBar
from tui.widgets.transcript import quote_spans

NARROW = 100  # below this many columns the item and the help stack instead of sitting side by side

HEARTBEAT_S = 3.0  # how often the running time on an item is logged, so a crash or kill loses at most this much


class ItemScreen(Screen[None]):
    """One item at a time; `load` swaps the content in place so the next item renders fast."""

    ALLOW_IN_MAXIMIZED_VIEW = "Header, StatusBar, KeyFooter, SizeGuard"  # a full-screen pane keeps the timer in view
    ESCAPE_TO_MINIMIZE = False  # Esc first leaves a text box (action_leave_input), then restores
    _heartbeat: Timer  # logs the running time on the item (set on mount, restarted per item)

    KEY_SCREEN = "item"
    BINDINGS = keys.bindings(KEY_SCREEN)

    class JudgmentReady(Message):
        """The overseer submitted a judgment: the app stores it and moves on."""

        def __init__(self, judgment: JudgmentIn) -> None:
            super().__init__()
            self.judgment = judgment

    class PracticeAnswered(Message):
        """The overseer answered a practice item: the app shows feedback."""

        def __init__(self, view: ItemView, choice: str) -> None:
            super().__init__()
            self.view = view
            self.choice = choice

    class Interaction(Message):
        """Something the overseer did, to be logged (use of help, time on item, …)."""

        def __init__(self, event: str, assignment_id: str | None, payload: dict[str, Any] | None) -> None:
            super().__init__()
            self.event = event
            self.assignment_id = assignment_id
            self.payload = payload

    def __init__(self, clock: Callable[[], float] = time.monotonic, follow_up: FollowUpStream | None = None) -> None:
        """`follow_up(assignment_id, question, node_id)` streams the model's answer (the session's, injected)."""
        super().__init__()
        self.clock = clock
        self.follow_up = follow_up
        self.view: ItemView | None = None
        self.submitting = False
        self.submitted_at: float | None = None
        self.latencies: deque[float] = deque(maxlen=1000)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield StatusBar(self.clock, id="status")
        with Container(id="work"):
            yield ItemBody(id="item")
            yield AssistancePanel(id="assist")
        yield JudgmentForm(id="judgment")
        yield KeyFooter(compact=True)
        yield SizeGuard()

    # ------------------------------------------------------------ loading an item
    def load(
        self, view: ItemView, help_views: list[AssistanceView], progress: ProgressView | None, spent_s: float = 0.0
    ) -> None:
        """Show a new item (study or practice) with a fresh form, fresh timer and closed help.

        `spent_s`: seconds already spent on this item in earlier sessions; time on the item and
        its time limit go on from there.
        """
        if self.maximized is not None:
            self.minimize()
        self.view = view
        self.judgment_id = uuid.uuid4().hex  # kept across retries, so a retried submit is idempotent
        self.first_assist_at: float | None = None
        self.assistance_failed = any(v.status in UNUSABLE for v in help_views)
        self.quote_spans = quote_spans([v.content for v in help_views])  # any help whose turns quote the item
        self.submitting = False
        self.viewed_nodes: set[str] = set()
        self.changes: list[list[Any]] = []
        self.sub_title = f"{view.overseer} · {'practice · ' if view.practice else ''}{view.condition}"
        self.query_one(StatusBar).show(view, progress)
        self.query_one(ItemBody).show(view.item, dark=self.app.current_theme.dark)
        assist = self.query_one(AssistancePanel)
        assist.display = bool(view.assistance_kinds) and not view.practice
        if assist.display:
            assist.configure(view, help_views)
            assist.border_title = Content(
                "Model's help (a)" + (f": {title(view.assistance_kinds[0])}" if len(view.assistance_kinds) == 1 else "")
            )
        form = self.query_one(JudgmentForm)
        # a multiple-choice question is already in the item; a code-review question is not (the task kind says)
        form.reset(view.judgment, "" if task_kinds.of(view.item).question_in_item else view.item.question)
        form.border_title = "Your judgment" + (" — practice, not counted" if view.practice else "")
        self.set_focus(self.query_one(ItemBody))
        self.refresh_bindings()  # which keys apply (help, follow-ups) depends on the item's condition
        spent_s = 0.0 if view.practice else max(0.0, spent_s)
        self.shown_at = self.clock() - spent_s
        self.away_since: float | None = None
        self.away_s = 0.0
        limit = None if view.practice else view.judgment.time_limit_s
        self.query_one(ItemTimer).start(limit, view.judgment.warn_before_s, spent_s)
        # beats every HEARTBEAT_S from now (Timer.reset would wait out the current interval first)
        self._heartbeat.stop()
        self._heartbeat = self.set_interval(HEARTBEAT_S, self.log_time)
        if self.submitted_at is not None:  # measure submit → next item painted (benchmarks read it)
            self.call_after_refresh(self._painted, self.submitted_at)
            self.submitted_at = None
        self.post_message(
            self.Interaction(
                "practice_shown" if view.practice else "item_shown",
                None if view.practice else view.assignment_id,
                {"position": view.position, "condition": view.condition, "item_id": view.item.item_id}
                if view.practice
                else {"position": view.position, "condition": view.condition},
            )
        )

    def _painted(self, since: float) -> None:
        self.latencies.append(time.perf_counter() - since)

    def pause(self) -> None:
        """Stop the clock while something else covers the screen (briefing, feedback)."""
        self.query_one(ItemTimer).stop()

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def on_mount(self) -> None:
        self._fit(self.app.size.width)
        self.query_one(AssistancePanel).display = False
        self._heartbeat = self.set_interval(HEARTBEAT_S, self.log_time)
        self.query_one(FollowUpBox).follow_up = self.follow_up

    def time_on_item(self) -> float | None:
        """Seconds on the study item now shown, earlier visits included, time away not (None for practice)."""
        if self.view is None or self.view.practice or self.submitting:
            return None
        now = self.clock() if self.away_since is None else self.away_since
        return round(now - self.shown_at, 3)

    # ------------------------------------------------------------ the overseer away (tab hidden, window left)
    def went_away(self) -> None:
        """The app lost focus: record it, and stop the item's clock and time limit until it comes back."""
        if self.view is None or self.view.practice or self.submitting or self.away_since is not None:
            return
        self.away_since = self.clock()
        timer = self.query_one(ItemTimer)
        timer.tick()  # show the time left as it is now, then hold it
        timer.stop()
        self._record("focus_lost", {"time_on_item_s": self.time_on_item()})

    def came_back(self) -> None:
        """The app has focus again: the time away is recorded and counts neither as time on the item nor
        against its limit."""
        if self.away_since is None:
            return
        gone = max(0.0, self.clock() - self.away_since)
        self.away_since = None
        self.away_s += gone
        self.shown_at += gone
        self.query_one(ItemTimer).resume(gone)
        self._record("focus_regained", {"away_s": round(gone, 3)})

    def log_time(self) -> None:
        """Log the running time on the item (the service rebuilds it from these after a crash or quit)."""
        spent = self.time_on_item()
        if spent is not None and self.query_one(ItemTimer).running:
            self._record("item_time", {"time_on_item_s": spent})

    def _fit(self, width: int) -> None:
        narrow = width < NARROW
        if self.has_class("-narrow") != narrow:
            self.set_class(narrow, "-narrow")
        self.query_one(AssistancePanel).fit(narrow=narrow)

    # ------------------------------------------------------------ bindings
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide keys that do nothing here (no help in this part, no follow-ups)."""
        view = self.view
        if action in ("answer", "confidence", "confidence_level", "why", "submit", "maximise"):
            return view is not None  # not tied to `submitting`: flipping it would rebuild the footer twice per item
        if action == "stack_panes":
            return bool(view and task_kinds.of(view.item).panes(view.item) is not None)
        if action == "toggle_help":
            return bool(view and view.assistance_kinds and not view.practice)
        if action == "follow_up":
            return bool(view and view.live_followups and not view.practice)
        return True

    def action_answer(self, n: int) -> None:
        self.query_one(JudgmentForm).pick_answer(n)

    def action_confidence(self, step: int) -> None:
        self.query_one(JudgmentForm).nudge_confidence(step)

    def action_confidence_level(self, n: int) -> None:
        self.query_one(JudgmentForm).pick_confidence(n)

    def action_maximise(self) -> None:
        """Give the whole screen to the pane with focus (the item, or the model's help); m again restores."""
        if self.maximized is not None:
            self.minimize()
            self._record("pane_restored", {})
            return
        focused = self.focused
        assist = self.query_one(AssistancePanel)
        pane = assist if focused is not None and assist in focused.ancestors_with_self else self.query_one(ItemBody)
        if pane is assist and not assist.display:
            return
        if pane is assist and not assist.opened:
            self.action_toggle_help()
        self.maximize(pane, container=False)
        self._record("pane_maximised", {"pane": "help" if pane is assist else "item"})

    def action_stack_panes(self) -> None:
        """Pairs: the two responses side by side, or one above the other (the choice holds for later items)."""
        stacked = self.query_one(ItemBody).toggle_stacked(dark=self.app.current_theme.dark)
        self._record("panes_stacked" if stacked else "panes_side_by_side", {})

    def action_why(self) -> None:
        self.set_focus(self.query_one("#why", Input))  # at once: the next keys typed go to the box

    def action_leave_input(self) -> None:
        """Esc: out of a text box; in a full-screen pane, back to the normal layout."""
        if self.maximized is None:
            self.set_focus(self.query_one(ItemBody))
        elif not isinstance(self.focused, Input):
            self.minimize()
        else:  # leaving a text box inside the full-screen help: stay there, on the answers
            assist = self.query_one(AssistancePanel)
            log = assist.query_one("#followup-log")
            self.set_focus(log if log.display else assist.query_one(f"#pane-{assist.active_kind}"))

    def action_toggle_help(self) -> None:
        assist = self.query_one(AssistancePanel)
        assist.opened = not assist.opened
        if assist.opened:
            self._used_help("panel_opened", {"kind": assist.active_kind})
            if self.quote_spans:  # only once help is open: seeing marked quotes is using the help
                self.query_one(ItemBody).highlight(self.quote_spans, dark=self.app.current_theme.dark)
            pane = assist.query_one(f"#pane-{assist.active_kind}")
            self.set_focus(pane.query_one(DecompositionTree) if is_tree(assist.active_kind) else pane)
        else:
            if self.maximized is assist:  # closing the help also leaves its full screen
                self.minimize()
            self._record("panel_closed", {"kind": assist.active_kind})
            self.set_focus(self.query_one(ItemBody))

    def action_follow_up(self) -> None:
        assist = self.query_one(AssistancePanel)
        if not assist.opened:
            self.action_toggle_help()
        node = None
        if is_tree(assist.active_kind) and self.focused is assist.query_one(DecompositionTree):
            node = assist.decomposition.selected_node
        assist.query_one(FollowUpBox).target(node)

    # ------------------------------------------------------------ recording use of help
    def _record(self, event: str, payload: dict[str, Any] | None = None) -> None:
        if self.view is not None and not self.view.practice:
            self.post_message(self.Interaction(event, self.view.assignment_id, payload))

    def _used_help(self, event: str, payload: dict[str, Any]) -> None:
        if self.first_assist_at is None:
            self.first_assist_at = self.clock()
        self._record(event, payload)

    @on(TabbedContent.TabActivated)
    def _tab(self, event: TabbedContent.TabActivated) -> None:
        assist = self.query_one(AssistancePanel)
        if assist.opened and event.pane.id:
            self._used_help("panel_opened", {"kind": event.pane.id.removeprefix("tab-")})

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[dict[str, Any]]) -> None:
        if event.node.data and self.query_one(AssistancePanel).opened:
            self._used_help("node_expanded", {"node_id": event.node.data["id"]})

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[dict[str, Any]]) -> None:
        data = event.node.data
        if data and self.query_one(AssistancePanel).opened and data["id"] not in self.viewed_nodes:
            self.viewed_nodes.add(data["id"])
            self._used_help("node_viewed", {"node_id": data["id"]})

    @on(FollowUpBox.Used)
    def _asked(self, event: FollowUpBox.Used) -> None:
        if self.first_assist_at is None:
            self.first_assist_at = self.clock()  # the service logs the question itself

    @on(FollowUpBox.Failed)
    def _followup_failed(self, event: FollowUpBox.Failed) -> None:
        self.assistance_failed = True
        self._record("assistance_unavailable", {"error": event.error[:500]})
        self.notify(
            "The model is not available right now. You can still judge this item.",
            title="Model unavailable",
            severity="warning",
            markup=False,
        )

    @on(ChoiceRow.Changed)
    def _changed(self, event: ChoiceRow.Changed) -> None:
        # changes of mind travel with the judgment (client_meta), not as one database write per key
        if event.value is not None and self.view is not None:
            self.changes.append([event.row.id, event.value, round(self.clock() - self.shown_at, 3)])

    # ------------------------------------------------------------ timer
    @on(ItemTimer.Warning)
    def _warn(self) -> None:
        left = self.view.judgment.warn_before_s if self.view else 0
        self._record("timer_warning", {"seconds_left": left})
        self.notify(f"{left} seconds left on this item.", title="Time", severity="warning", markup=False)

    @on(ItemTimer.Expired)
    def _expired(self) -> None:
        self.action_submit(timed_out=True)

    # ------------------------------------------------------------ submitting
    @on(JudgmentForm.SubmitPressed)
    def _submit_pressed(self) -> None:
        self.action_submit()

    def action_submit(self, timed_out: bool = False) -> None:
        """Validate and hand the judgment to the app; the next item comes once it is stored."""
        view, form = self.view, self.query_one(JudgmentForm)
        if view is None or self.submitting:
            return
        if not timed_out and (problem := form.problem()):
            self.notify(problem, title="Not yet", severity="warning", markup=False)
            return
        self.came_back()  # a submit (or time-out) means the overseer is here
        now = self.clock()
        choice, confidence = form.answer.value, form.confidence.value
        meta: dict[str, Any] = {
            "client": getattr(self.app, "client", "tui"),
            "size": f"{self.app.size.width}x{self.app.size.height}",
            "theme": self.app.theme,
            "changes": self.changes[-50:],
            "away_s": round(self.away_s, 3),
        }
        skipped = timed_out and (view.judgment.on_timeout == "skip" or choice is None)
        if timed_out and not skipped and confidence is None:
            confidence = view.judgment.confidence[0]  # the scale's lowest level: a guess
            meta["confidence_defaulted"] = True
        self.submitting = True
        self.saving_since = now
        self.submitted_at = time.perf_counter()
        form.locked = True
        self.query_one(ItemTimer).stop()
        if view.practice:
            self.post_message(self.PracticeAnswered(view, str(choice)))
            return
        judgment = JudgmentIn(
            judgment_id=self.judgment_id,
            assignment_id=view.assignment_id,
            # why the ignore below: choice and confidence are set whenever the judgment is not skipped
            choice=None if skipped else str(choice),
            confidence=None if skipped else int(confidence),  # type: ignore[arg-type]
            rationale=form.rationale,
            time_on_item_s=round(now - self.shown_at, 3),
            time_to_first_assist_s=(
                None if self.first_assist_at is None else round(self.first_assist_at - self.shown_at, 3)
            ),
            assistance_failed=self.assistance_failed,
            timed_out=timed_out,
            skipped=skipped,
            client_meta=meta,
        )
        if timed_out:
            self.notify(
                "Time is up: " + ("the item was skipped." if skipped else "your answer was submitted."),
                title="Time",
                severity="warning",
                markup=False,
            )
        self.post_message(self.JudgmentReady(judgment))

    def submit_failed(self, error: Exception) -> None:
        """The service did not store the judgment: say why and let the overseer try again."""
        self.submitting = False
        self.query_one(JudgmentForm).locked = False
        if self.view is not None and not self.view.practice:  # the item's clock goes on; the failed save is not counted
            gone = max(0.0, self.clock() - getattr(self, "saving_since", self.clock()))
            self.shown_at += gone
            self.query_one(ItemTimer).resume(gone)
        reason = getattr(error, "message", None) or str(error) or type(error).__name__
        self.notify(
            f"{reason}\nNothing was lost: press s to try again.",
            title="Not saved",
            severity="error",
            timeout=10,
            markup=False,
        )

    def server_unreachable(self) -> None:
        """The study server did not answer; the client keeps retrying. Said at once, not after the retries."""
        text = "saving… (server unreachable, retrying)" if self.submitting else "server unreachable, retrying…"
        self.notify(text, title="Connection", severity="warning", timeout=8, markup=False)
