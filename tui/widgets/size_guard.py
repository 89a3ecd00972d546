"""Below the minimum terminal size, a notice saying what size the app needs covers the screen.

Every screen yields one (hidden); the app sets `-too-small` on itself when the terminal
shrinks below `MIN_SIZE`, which shows them. Nothing is cut off silently.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

MIN_SIZE = (80, 24)  # columns, rows: the documented minimum, where every screen is laid out and tested


def too_small(width: int, height: int) -> bool:
    """True when a terminal of this many columns and rows is below `MIN_SIZE`."""
    return width < MIN_SIZE[0] or height < MIN_SIZE[1]


def size_text(width: int, height: int) -> Text:
    """What the notice says at this size."""
    need_w, need_h = MIN_SIZE
    out = Text(justify="center")
    out.append("This window is too small\n\n", style="bold")
    out.append(f"It is {width}×{height}; the app needs at least {need_w}×{need_h} (columns × rows).\n")
    out.append("Make the window larger, or the font smaller.\n\n")
    out.append("Nothing is lost: your work and the item's timer carry on underneath.", style="italic")
    return out


class SizeGuard(Static):
    """Hidden unless the app is below its minimum size; then it fills the screen with `size_text`."""

    SCOPED_CSS = False  # the rule below starts at the App
    DEFAULT_CSS = """
    SizeGuard {
        display: none;
    }
    App.-too-small SizeGuard {
        display: block;
        overlay: screen;  /* above everything, out of the layout: nothing else moves or scrolls */
        position: absolute;
        offset: 0 0;
        width: 100vw;
        height: 100vh;
        content-align: center middle;
        background: $panel;
        color: $text;
        padding: 1 2;
    }
    """

    def render(self) -> Text:
        return size_text(self.app.size.width, self.app.size.height)
