"""A small modal message: welcome back after an interruption, practice feedback, a failure to retry."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from sandwich.views import ItemView, PracticeFeedback, SessionStart
from tui import keys
from tui.widgets.help_scroll import HelpScroll
from tui.widgets.item_timer import clock_text
from tui.widgets.size_guard import SizeGuard


class NoticeScreen(ModalScreen[bool]):
    """Title, text and an OK button (Enter); dismisses with True."""

    KEY_SCREEN = "notice"
    BINDINGS = keys.bindings(KEY_SCREEN)

    def __init__(self, title: str, body: RenderableType, *, button: str = "Continue", tone: str = "info") -> None:
        super().__init__(classes=f"-{tone}")
        # a plain string (an error message, a name) is shown as it is, never parsed as markup
        self.title_text, self.body, self.button = title, Text(body) if isinstance(body, str) else body, button

    def compose(self) -> ComposeResult:
        with Vertical(id="notice"):
            with HelpScroll(id="notice-scroll"):  # a long message scrolls instead of being cut at 80×24
                yield Static(self.body, id="notice-body")
            with Horizontal(id="notice-buttons"):
                yield Button(f"{self.button}  ⏎", id="ok", variant="primary")
        yield SizeGuard()

    def on_mount(self) -> None:
        self.query_one("#notice").border_title = Content(self.title_text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(True)

    def action_ok(self) -> None:
        self.dismiss(True)


def welcome_back(start: SessionStart, view: ItemView) -> NoticeScreen:
    """What an overseer sees on reopening a session that ended with an item open (quit, crash or kill)."""
    done, total = start.progress.done, start.progress.total
    how = (
        "You quit while working on this item."
        if start.quit_cleanly
        else "Your previous session stopped unexpectedly while you were working on this item."
    )
    body = Text()
    body.append(f"Welcome back, {start.overseer}.\n\n", style="bold")
    body.append(f"You are at item {view.position + 1} of {view.total}, {done} of {total} saved.\n", style="bold")
    body.append(
        f"{how} Everything you submitted before it is saved. An answer or confidence you had "
        "picked on it but not submitted was discarded: pick again.\n\n"
    )
    spent, limit = start.time_spent_s, view.judgment.time_limit_s
    if limit:
        body.append(
            f"Time already spent on this item ({clock_text(spent)}) still counts: its time limit goes on "
            f"from {clock_text(max(0.0, limit - spent))} left."
        )
    else:
        body.append(f"Time already spent on this item ({clock_text(spent)}) still counts.")
    return NoticeScreen("Session resumed" if not start.quit_cleanly else "Welcome back", body)


def practice_feedback(fb: PracticeFeedback) -> NoticeScreen:
    """Right or wrong on a practice item (practice items are outside the study)."""
    head = ("Right!\n\n", "bold green") if fb.correct else ("Not quite.\n\n", "bold red")
    body = Text.assemble(
        head, f"You answered {fb.your_choice}; the right answer is {fb.right_choice}.\n", fb.explanation
    )
    return NoticeScreen("Practice feedback", body, tone="success" if fb.correct else "error")
