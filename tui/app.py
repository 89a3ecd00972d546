"""`OverseerApp`: the overseer's Textual app. It talks only to an `OverseerAPI` object.

The session may be the in-process `OverseerSession` or an HTTP client with the same
methods; every call to it runs off the UI thread (a worker), so a slow transport
never freezes the screen, and the next item is shown only after `submit` returned.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.screen import Screen
from textual.widgets import Static

from sandwich.errors import AlreadyJudged, SessionInUse
from sandwich.service import OverseerAPI
from sandwich.views import AssistanceView, Briefing, ItemView, JudgmentIn, ProgressView, SessionStart
from tui import keys
from tui.screens.briefing import BriefingScreen
from tui.screens.done import DoneScreen
from tui.screens.help import HelpScreen
from tui.screens.item import ItemScreen
from tui.screens.notice import NoticeScreen, practice_feedback, welcome_back
from tui.widgets.size_guard import SizeGuard, too_small

HERE = Path(__file__).parent
THEMES = ("textual-dark", "textual-light")


@dataclass
class Step:
    """Everything needed to show what comes next, fetched in one go off the UI thread."""

    view: ItemView | None
    progress: ProgressView
    assistance: list[AssistanceView] = field(default_factory=list)
    briefing: Briefing | None = None
    practice: list[ItemView] = field(default_factory=list)


def advance(progress: ProgressView, condition: str) -> ProgressView:
    """Progress after one more judgment in `condition` (saves a round trip per item)."""
    by = [c.model_copy(update={"done": c.done + 1}) if c.condition == condition else c for c in progress.by_condition]
    return progress.model_copy(update={"done": progress.done + 1, "by_condition": by})


def fetch_step(
    session: OverseerAPI, briefed: set[str], first_of_run: bool, progress: ProgressView | None = None
) -> Step:
    """The next unjudged item with its help, plus a briefing (and practice) when a part begins.

    A resumed session also gets the briefing of the part it resumes in, as a reminder.
    `progress`, when the caller already knows it, spares a call to the session.
    """
    view = session.next_item()
    if progress is None or view is None:
        progress = session.progress()
    if view is None:
        return Step(None, progress)
    help_views = session.assistance(view.assignment_id) if view.assistance_kinds else []
    briefing, practice = None, []
    if view.condition not in briefed and (view.first_in_block or first_of_run):
        briefing = session.briefing(view.condition)
        if view.first_in_block and briefing.practice_items:
            practice = session.practice_items(view.condition)
    return Step(view, progress, help_views, briefing, practice)


class OverseerApp(App[None]):
    """Briefing → (practice) → items → done, for one overseer, through any `OverseerAPI`."""

    TITLE = "sandwich"
    CSS_PATH = sorted(HERE.rglob("*.tcss"))
    BINDINGS = keys.bindings("app")

    def __init__(
        self,
        session: OverseerAPI,
        *,
        study_title: str = "",
        clock: Callable[[], float] = time.monotonic,
        client: str = "tui",
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.clock = clock
        self.client = client
        self.title = f"sandwich · {study_title}" if study_title else "sandwich"
        # interactions are written in order by one background thread, so logging never blocks a keypress
        self._interaction_log = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandwich-log")
        self.log_errors: list[str] = []
        self.theme = theme or THEMES[0]
        self.briefed: set[str] = set()
        self.first_of_run = True
        self.item_screen = ItemScreen(clock, follow_up=session.follow_up)
        self.session_start: SessionStart | None = None
        self.progress: ProgressView | None = None
        self.spent_before: dict[str, float] = {}  # assignment → seconds spent on it in earlier sessions
        if hasattr(session, "on_unreachable"):  # an HTTP session: say at once when the server does not answer
            session.on_unreachable = lambda: self.call_from_thread(self.item_screen.server_unreachable)

    def compose(self) -> ComposeResult:
        yield Static("Opening your session…", id="loading")

    def on_mount(self) -> None:
        self.push_screen(self.item_screen)
        self.begin()

    def on_unmount(self) -> None:
        self._interaction_log.shutdown(wait=True)

    # ------------------------------------------------------------ interactions
    def record(self, event: str, assignment_id: str | None = None, payload: dict[str, Any] | None = None) -> None:
        """Log an interaction through the session without waiting for it."""

        def write() -> None:
            try:
                self.session.log(event, assignment_id, payload)
            except Exception as e:  # logging must never stop the overseer; keep the reason for the end
                self.log_errors.append(f"{event}: {e}")

        try:
            self._interaction_log.submit(write)
        except RuntimeError:  # shutting down
            pass

    # ------------------------------------------------------------ what the item screen reports
    def on_item_screen_judgment_ready(self, message: ItemScreen.JudgmentReady) -> None:
        self.submit_judgment(message.judgment)

    def on_item_screen_practice_answered(self, message: ItemScreen.PracticeAnswered) -> None:
        self.answer_practice(message.view, message.choice)

    def on_item_screen_interaction(self, message: ItemScreen.Interaction) -> None:
        self.record(message.event, message.assignment_id, message.payload)

    # ------------------------------------------------------------ flow
    @work(thread=True, exclusive=True, group="flow")
    def begin(self) -> None:
        """Open (or resume) the session and fetch the first item."""
        try:
            start = self.session.start_session(self.client)
            step = fetch_step(self.session, self.briefed, True)
        except Exception as e:
            self.call_from_thread(self._fatal, e)
            return
        self.session_start = start
        self.call_from_thread(self._started, start, step)

    def _started(self, start: SessionStart, step: Step) -> None:
        # the widgets built so far live as long as the app: keep them out of later GC passes,
        # whose pauses otherwise land between a submit and the next item
        gc.freeze()
        if (
            start.interrupted_assignment
            and step.view is not None
            and start.interrupted_assignment == step.view.assignment_id
        ):
            self.spent_before[step.view.assignment_id] = start.time_spent_s
            self.push_screen(welcome_back(start, step.view), lambda _: self._present(step))
        else:
            self._present(step)

    @work(thread=True, exclusive=True, group="flow")
    def submit_judgment(self, judgment: JudgmentIn) -> None:
        """Store the judgment (durable on return), then fetch what comes next."""
        progress = None
        try:
            self.session.submit(judgment)
            view = self.item_screen.view
            if self.progress is not None and view is not None:
                progress = advance(self.progress, view.condition)
        except AlreadyJudged as e:  # another session's answer stands (a retry of our own returns its receipt)
            self.call_from_thread(self._conflict, e)
            return
        except SessionInUse as e:  # another window took this overseer's session over
            self.call_from_thread(self._fatal, e, "This window is no longer your active session")
            return
        except Exception as e:
            self.call_from_thread(self.item_screen.submit_failed, e)
            return
        self._next(progress)

    def _conflict(self, error: AlreadyJudged) -> None:
        def go_on(_: object) -> None:
            self.run_worker(self._next, thread=True, group="flow", exclusive=True)

        self.push_screen(
            NoticeScreen("Your answer was not recorded", error.message, button="Go on", tone="error"), go_on
        )

    def _next(self, progress: ProgressView | None = None) -> None:
        try:
            step = fetch_step(self.session, self.briefed, False, progress)
        except Exception as e:
            self.call_from_thread(self._retry, e)
            return
        self.call_from_thread(self._present, step)

    def _retry(self, error: Exception) -> None:
        reason = getattr(error, "message", None) or str(error)

        def again(_: bool | None) -> None:
            self.run_worker(self._next, thread=True, group="flow", exclusive=True)

        self.push_screen(
            NoticeScreen(
                "Could not load the next item",
                f"{reason}\n\nYour last judgment is saved.",
                button="Try again",
                tone="error",
            ),
            again,
        )

    def _fatal(self, error: Exception, title: str = "Cannot open your session") -> None:
        reason = getattr(error, "message", None) or str(error)
        if hint := getattr(error, "hint", None):
            reason += f"\n\n{hint}"
        self.push_screen(NoticeScreen(title, reason, button="Quit", tone="error"), lambda _: self.exit(return_code=2))

    def _present(self, step: Step) -> None:
        self.item_screen.pause()
        self.first_of_run = False
        self.progress = step.progress
        if step.view is None:
            self.record("session_finished", None, {"done": step.progress.done})
            self.push_screen(DoneScreen(step.progress))
            return
        if step.briefing is not None:
            self.item_screen.submitted_at = None  # the overseer's reading time is not latency
            cond = step.view.condition
            self.briefed.add(cond)
            parts = [c.condition for c in step.progress.by_condition]
            part = parts.index(cond) + 1 if cond in parts else 0
            left = sum(c.total - c.done for c in step.progress.by_condition if c.condition == cond)
            self.record("briefing_shown", None, {"condition": cond})
            self.push_screen(
                BriefingScreen(step.briefing, part, len(parts), self.session.overseer, left),
                lambda _: self._practice(step, 0),
            )
            return
        self._load(step)

    def _load(self, step: Step) -> None:
        assert step.view is not None
        self.item_screen.load(
            step.view, step.assistance, step.progress, spent_s=self.spent_before.pop(step.view.assignment_id, 0.0)
        )

    # ------------------------------------------------------------ practice
    def _practice(self, step: Step, n: int) -> None:
        self._practice_at = (step, n)
        if n < len(step.practice):
            self.item_screen.load(step.practice[n], [], None)
        elif step.view is not None:
            self._load(step)

    def answer_practice(self, view: ItemView, choice: str) -> None:
        """Feedback on a practice answer, then the next practice item or the study item."""
        self._practice_feedback(view.item.item_id, choice)

    @work(thread=True, exclusive=True, group="flow")
    def _practice_feedback(self, item_id: str, choice: str) -> None:
        try:
            fb = self.session.practice_feedback(item_id, choice)
        except Exception as e:
            self.call_from_thread(self.item_screen.submit_failed, e)
            return
        self.call_from_thread(self._show_feedback, fb)

    def _show_feedback(self, fb: Any) -> None:
        step, n = self._practice_at
        self.push_screen(practice_feedback(fb), lambda _: self._practice(step, n + 1))

    # ------------------------------------------------------------ app-wide actions
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.record("help_opened", None, {})
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def watch_theme(self, theme: str) -> None:
        if getattr(self, "item_screen", None) is not None and self.item_screen.is_mounted:
            # after the refresh, when the new theme's colours have reached the widgets
            body = self.item_screen.query_one("#item")
            # why the ignore below: query_one returns a Widget; #item is an ItemBody, which has restyle
            self.call_after_refresh(lambda: body.restyle(dark=self.current_theme.dark))  # type: ignore[attr-defined]
        if self.is_running:  # a theme given at start-up is not an overseer's action
            self.record("theme_changed", None, {"theme": theme})

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        # the key table's commands for this screen, those whose action applies now (as the footer shows them)
        for key, bind in keys.commands(getattr(screen, "KEY_SCREEN", "")):
            assert key.command is not None
            target: App[None] | Screen = self if bind.screen == "app" else screen
            if target.check_action(bind.action.split("(")[0], ()) is False:
                continue
            title, text = key.command
            yield SystemCommand(title, f"{text} ({key.key})", partial(target.run_action, bind.action))

    async def action_quit(self) -> None:
        screen = getattr(self, "item_screen", None)
        spent = screen.time_on_item() if screen is not None and screen.view is not None else None
        if spent is not None:  # so the time on this item goes on counting when the session is reopened
            # why the ignore below: screen.view is not None: checked above, not narrowed through the attribute
            self.record("item_time", screen.view.assignment_id, {"time_on_item_s": spent})  # type: ignore[union-attr]
        self.record("session_end", None, {"reason": "quit"})
        self.exit()

    # ------------------------------------------------------------ focus (a browser tab hidden, a window left)
    def on_app_blur(self, event: events.AppBlur) -> None:
        if self.item_screen.is_mounted:
            self.item_screen.went_away()

    def on_app_focus(self, event: events.AppFocus) -> None:
        if self.item_screen.is_mounted:
            self.item_screen.came_back()

    # ------------------------------------------------------------ terminal size
    def on_resize(self, event: events.Resize) -> None:
        """Below the minimum size every screen says what size it needs instead of cutting content off."""
        self.set_class(too_small(event.size.width, event.size.height), "-too-small")
        for screen in self.screen_stack:
            for guard in screen.query(SizeGuard):
                guard.refresh()
