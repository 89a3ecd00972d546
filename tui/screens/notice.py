"""A small modal message: welcome back after an interruption, practice feedback, a failure to retry."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from sandwich.views import PracticeFeedback


class NoticeScreen(ModalScreen[bool]):
    """Title, text and an OK button (Enter); dismisses with True."""

    BINDINGS = [Binding("enter", "ok", "continue", priority=True), Binding("escape", "ok", show=False)]

    def __init__(self, title: str, body: RenderableType, *, button: str = "Continue", tone: str = "info") -> None:
        super().__init__(classes=f"-{tone}")
        self.title_text, self.body, self.button = title, body, button

    def compose(self) -> ComposeResult:
        with Vertical(id="notice"):
            yield Static(self.body, id="notice-body")
            with Horizontal(id="notice-buttons"):
                yield Button(f"{self.button}  ⏎", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#notice").border_title = self.title_text

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(True)

    def action_ok(self) -> None:
        self.dismiss(True)


def welcome_back(overseer: str) -> NoticeScreen:
    """What an overseer sees after their previous session stopped in the middle of an item."""
    body = Text.assemble(
        (f"Welcome back, {overseer}.\n\n", "bold"),
        "Your previous session stopped while you were working on an item. Everything you submitted "
        "before that is saved.\n\nThat item comes up again now, and its timer starts afresh.")
    return NoticeScreen("Session resumed", body)


def practice_feedback(fb: PracticeFeedback) -> NoticeScreen:
    """Right or wrong on a practice item (practice items are outside the study)."""
    head = ("Right!\n\n", "bold green") if fb.correct else ("Not quite.\n\n", "bold red")
    body = Text.assemble(head, f"You answered {fb.your_choice}; the right answer is {fb.right_choice}.\n",
                         fb.explanation)
    return NoticeScreen("Practice feedback", body, tone="success" if fb.correct else "error")
