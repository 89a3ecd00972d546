"""A row of clickable chips where exactly one (or none) is selected: answers, confidence levels."""

from __future__ import annotations

from textual import events
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from tui import keys


def chip_text(label: str, selected: bool) -> str:
    """`[2 B]` when selected, ` 2 B ` when not: the choice is shown by more than colour, at the same width."""
    return f"[{label}]" if selected else f" {label} "


class Chip(Static):
    """One option in a ChoiceRow."""

    def __init__(self, label: str, index: int, **kw: object) -> None:
        # why the ignore below: **kw are Static's keyword options, passed through
        super().__init__(chip_text(label, False), markup=False, **kw)  # type: ignore[arg-type]
        self.label = label
        self.index = index

    def relabel(self, label: str, selected: bool) -> None:
        self.label = label
        self.update(chip_text(label, selected))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        row = self.parent
        if isinstance(row, ChoiceRow):
            row.select(self.index)


class ChoiceRow(Horizontal, can_focus=True):
    """Options in one line; left/right (or a click) changes the selection."""

    BINDINGS = keys.bindings("choices")

    selected: reactive[int | None] = reactive(None, init=False)

    class Changed(Message):
        """The selection changed (by key or mouse)."""

        def __init__(self, row: ChoiceRow, value: str | int | None) -> None:
            super().__init__()
            self.row = row
            self.value = value

        @property
        def control(self) -> ChoiceRow:
            return self.row

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]  # **kw are the widget's keyword options, passed through
        self.values: list[str | int] = []
        self.labels: list[str] = []

    def set_options(self, values: list[str | int], labels: list[str]) -> None:
        """Replace the options (only when they differ, so a new item of the same study costs nothing)."""
        self.set_reactive(ChoiceRow.selected, None)
        if values == self.values and labels == self.labels:
            self._paint()
            return
        self.values, self.labels = list(values), list(labels)
        # reuse the chips already there; a new study format only adds or trims a few
        chips = list(self.query(Chip))
        for n, label in enumerate(labels):
            if n < len(chips):
                chips[n].relabel(label, chips[n].has_class("-selected"))
            else:
                self.mount(Chip(label, n, classes="chip"))
        for chip in chips[len(labels) :]:
            chip.remove()
        self._paint()

    @property
    def value(self) -> str | int | None:
        """The selected option's value, or None."""
        return None if self.selected is None else self.values[self.selected]

    def select(self, index: int | None) -> None:
        """Select option `index` (None clears)."""
        if index is not None and not 0 <= index < len(self.values):
            return
        self.selected = index

    def action_move(self, step: int) -> None:
        if not self.values:
            return
        start = (-1 if step > 0 else len(self.values)) if self.selected is None else self.selected
        self.select(max(0, min(len(self.values) - 1, start + step)))

    def watch_selected(self, index: int | None) -> None:
        self._paint()
        self.post_message(self.Changed(self, self.value))

    def _paint(self) -> None:
        for chip in self.query(Chip):
            on = chip.index == self.selected
            if chip.has_class("-selected") != on:  # restyle only what changes
                chip.set_class(on, "-selected")
                chip.update(chip_text(chip.label, on), layout=False)  # same width: no layout pass
