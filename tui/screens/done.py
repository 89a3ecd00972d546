"""The end of a session: all done, thank you."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Header, Static

from sandwich.views import ProgressView
from tui import keys
from tui.widgets.key_footer import KeyFooter
from tui.widgets.size_guard import SizeGuard


def done_text(progress: ProgressView) -> Text:
    """The thank-you note with counts per part."""
    out = Text()
    out.append(f"All done — thank you, {progress.overseer}!\n\n", style="bold")
    out.append(f"You judged {progress.done} of {progress.total} items. Every judgment is saved.\n\n")
    for c in progress.by_condition:
        out.append(f"  {c.condition:<16} {c.done} of {c.total}\n")
    out.append("\nYou can close the app now (q).", style="italic")
    return out


class DoneScreen(Screen[None]):
    """Shown when no unjudged item is left."""

    KEY_SCREEN = "done"
    BINDINGS = keys.bindings(KEY_SCREEN)

    def __init__(self, progress: ProgressView) -> None:
        super().__init__()
        self.progress = progress

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Vertical(id="done"):
            yield Static(done_text(self.progress), id="done-text")
            with Center():
                yield Button("Close", id="close", variant="success")
        yield KeyFooter(compact=True)
        yield SizeGuard()

    def on_mount(self) -> None:
        self.sub_title = f"{self.progress.overseer} · finished"
        self.query_one("#done").border_title = "Session complete"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.app.exit()
