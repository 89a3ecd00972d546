"""The help screen (?): how to work through a session, and every key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# How this works

You judge a series of items. For each: read it, use the model's help if this
part gives you any, then pick an **answer**, say how **confident** you are that
it is right, optionally type a one-line **reason**, and **submit**. Your
judgment is saved before the next item appears; you can close the app at any
time and pick up where you left off.

The model's help can be wrong. The judgment is yours.

| Key | Does |
|---|---|
| `1`–`9` | pick answer 1–9 (mouse: click it) |
| `+` / `-` | more / less confident |
| `w` | type a one-line reason (Enter submits) |
| `s` | submit the judgment |
| `a` | open / close the model's help |
| `f` | ask the model a question (on a selected sub-question: about that one) |
| `Tab` / `Shift+Tab` | move between parts of the screen |
| `↑` `↓` `PgUp` `PgDn` | scroll the item, move in the sub-question tree |
| `Enter` | expand a sub-question; begin a part; continue |
| `Esc` | leave a text box |
| `t` | light / dark theme |
| `Ctrl+P` | command palette |
| `?` | this help |
| `Ctrl+Q` | quit (everything submitted is saved) |

A timer shows how long you have left on the item. Shortly before the end it
turns yellow; at the end the item is submitted with the answer you picked (or
skipped if you picked none, or if the study says so).
"""


class HelpScreen(ModalScreen[None]):
    """Keys and instructions; any of Esc, ?, q closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Markdown(HELP)

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Help — Esc to close"

    def action_close(self) -> None:
        self.dismiss(None)
