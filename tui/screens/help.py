"""The help screen (?): how to work through a session, and every key; scrolls by keyboard at 80×24."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Markdown

from tui.widgets.help_scroll import HelpScroll
from tui.widgets.size_guard import SizeGuard

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
| `1`–`9` | pick answer 1–9 (mouse: click it); the picked one shows as `[2 B]` |
| `z`–`n` | pick a confidence with z x c v b n, lowest to highest (the keys are on the chips) |
| `1` / `2` (pairs) | pick response A (left/top) or B (right/bottom); confidence: how likely it is the better one |
| `o` (pairs) | the two responses side by side, or one above the other |
| `+` / `-` | one step more / less confident |
| `w` | type a one-line reason (Enter submits) |
| `s` | submit the judgment |
| `a` | open / close the model's help |
| `f` | ask the model a question (on a selected sub-question: about that one) |
| `m` | full screen for the pane you are in (item or help); `m` or `Esc` restores |
| `Tab` / `Shift+Tab` | move between parts of the screen (item, help, answers, form) |
| `↑` `↓` `PgUp` `PgDn` `Home` `End` | scroll the part you are in; move in the sub-question tree |
| `Enter` | expand a sub-question; begin a part; continue |
| `Esc` | leave a text box; leave full screen |
| `t` | light / dark theme |
| `Ctrl+P` | command palette |
| `?` | this help |
| `Ctrl+Q` | quit (everything submitted is saved) |

A timer shows how long you have left on the item. Shortly before the end it
turns yellow; at the end the item is submitted with the answer you picked (or
skipped if you picked none, or if the study says so). If you quit or the app
stops, the time already spent on the item still counts when you come back.

The app needs a terminal of at least 80 × 24; below that it says so.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and instructions, scrolled with ↑ ↓ PgUp PgDn Home End; any of Esc, ?, q closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "close")]

    def compose(self) -> ComposeResult:
        with HelpScroll(id="help"):
            yield Markdown(HELP)
        yield SizeGuard()

    def on_mount(self) -> None:
        scroll = self.query_one("#help", HelpScroll)
        scroll.border_title = "Help — ↑ ↓ PgUp PgDn to scroll, Esc to close"
        scroll.focus()

    def action_close(self) -> None:
        self.dismiss(None)
