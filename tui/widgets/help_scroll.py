"""A focusable scrolling pane whose border says when there is more to read below or above."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content


class HelpScroll(VerticalScroll, can_focus=True):
    """Scrolls by keyboard (↑ ↓ PgUp PgDn Home End); the bottom border shows `more ↓` / `end`."""

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._mark()

    def on_resize(self) -> None:
        self.call_after_refresh(self._mark)

    def _mark(self) -> None:
        if self.max_scroll_y <= 0:
            self.border_subtitle = None
        elif self.scroll_y >= self.max_scroll_y:
            self.border_subtitle = Content("end ↑")
        else:
            self.border_subtitle = Content("more ↓")
