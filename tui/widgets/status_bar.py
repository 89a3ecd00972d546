"""One line above the work area: where the overseer is (n of m, this part) and the item's timer."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Label

from sandwich.views import ItemView, ProgressView
from tui.widgets.item_timer import ItemTimer


def progress_text(view: ItemView, progress: ProgressView | None) -> tuple[str, str]:
    """("Item 3 of 24", "part explain · 1 of 4 done") for the status line."""
    if view.practice:
        return f"Practice {view.position + 1} of {view.total}", f"part {view.condition} · not counted"
    overall = f"Item {view.position + 1} of {view.total}"
    if progress is None:
        return overall, f"part {view.condition}"
    part = next((c for c in progress.by_condition if c.condition == view.condition), None)
    parts = len(progress.by_condition)
    n = next((i for i, c in enumerate(progress.by_condition, 1) if c.condition == view.condition), 0)
    within = f" · {part.done} of {part.total} done" if part else ""
    return overall, f"part {n}/{parts}: {view.condition}{within}"


class StatusBar(Horizontal):
    """Progress overall and in this part, plus the countdown."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]  # **kw are the widget's keyword options, passed through
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Label("", id="progress-overall")
        yield Label("", id="progress-part")
        yield ItemTimer(self.clock, id="timer")

    def show(self, view: ItemView, progress: ProgressView | None) -> None:
        overall, part = progress_text(view, progress)
        # fixed-size labels: repaint them without a layout pass
        self.query_one("#progress-overall", Label).update(Content(overall), layout=False)
        self.query_one("#progress-part", Label).update(Content(part), layout=False)  # condition names are data

    @property
    def timer(self) -> ItemTimer:
        return self.query_one(ItemTimer)
