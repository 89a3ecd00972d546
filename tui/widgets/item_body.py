"""The item itself: code with syntax highlighting and line numbers, or passage, question and choices."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from sandwich.tasks import kind as task_kinds
from sandwich.views import ItemContent

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
STACK_BELOW = 100  # columns: a narrower screen stacks an item's panes (as the item screen stacks item and help)


def render_item(
    item: ItemContent,
    *,
    dark: bool = True,
    background: str | None = None,
    highlights: Sequence[tuple[int, int]] = (),
    stacked: bool = False,
) -> RenderableType:
    """A rich renderable of an item as an overseer sees it (no gold exists on ItemContent).

    `highlights`: [start, end) character ranges of the passage to mark (quotes the help cites).
    `stacked`: an item in panes (pairwise: two responses) shows them one above the other, else side by side.
    """
    kind = task_kinds.of(item)
    if (panes := kind.panes(item)) is not None:
        return _render_panes(item, panes, dark=dark, background=background, stacked=stacked)
    if kind.shows_code or item.language:
        return Syntax(
            item.body or item.prompt,
            item.language or "python",
            line_numbers=True,
            word_wrap=True,
            theme="monokai" if dark else "friendly",
            background_color=background,
            indent_guides=True,
        )
    parts: list[RenderableType] = []
    if item.body:
        body = Text(item.body)
        for start, end in highlights:
            body.stylize("reverse" if dark else "bold on yellow", start, end)
        parts += [body, Text("")]
    if item.prompt:
        parts += [Text(item.prompt), Text("")]
    if item.question:
        parts += [Text(item.question, style="bold"), Text("")]
    for n, choice in enumerate(item.choices):
        parts.append(Text.assemble((f"{LETTERS[n]}. ", "bold"), choice))
    return Group(*parts)


def _render_panes(
    item: ItemContent, panes: list[tuple[str, str]], *, dark: bool, background: str | None, stacked: bool
) -> RenderableType:
    """The prompt, then each pane (e.g. responses A and B) in a titled box: side by side, or stacked."""

    def body(text: str) -> RenderableType:
        if item.language:
            return Syntax(
                text,
                item.language,
                line_numbers=False,
                word_wrap=True,
                theme="monokai" if dark else "friendly",
                background_color=background,
            )
        return Text(text)

    where = ("top", "bottom") if stacked else ("left", "right")
    boxes = [
        Panel(
            body(text),
            title=Text(f"{n + 1}  Response {value}" + (f" ({where[n]})" if n < 2 else ""), style="bold"),
            title_align="left",
            border_style="cyan",
        )
        for n, (value, text) in enumerate(panes)
    ]
    head: list[RenderableType] = []
    if item.prompt:
        head += [Text("Prompt", style="bold"), body(item.prompt.strip()) if item.language else Text(item.prompt)]
    if item.question:
        head += [Text(item.question, style="bold")]
    if stacked:
        return Group(*head, *boxes)
    grid = Table.grid(expand=True, padding=(0, 1))
    for _ in boxes:
        grid.add_column(ratio=1)
    grid.add_row(*boxes)
    return Group(*head, grid)


class ItemBody(VerticalScroll, can_focus=True):
    """Scrollable view of the item (arrow keys / page keys scroll when it has focus; m: full screen)."""

    ALLOW_MAXIMIZE = True

    def compose(self):
        yield Static("", id="item-content")

    stacked: bool | None = None  # panes one above the other (None: when the screen is narrow)

    def show(self, item: ItemContent, *, dark: bool = True) -> None:
        """Display `item` and scroll back to its top."""
        self.item = item
        self.highlights: list[tuple[int, int]] = []
        self.border_title = Content(item.title)  # data, never markup (an id may hold `[/b]`)
        self.restyle(dark=dark)
        self.scroll_home(animate=False)

    def restyle(self, *, dark: bool) -> None:
        """Render for a light or dark theme (the code colours differ; its background is the panel's)."""
        if getattr(self, "item", None) is not None:
            background = self.background_colors[1].hex
            self.query_one("#item-content", Static).update(
                render_item(
                    self.item,
                    dark=dark,
                    background=background,
                    highlights=getattr(self, "highlights", []),
                    stacked=self.is_stacked,
                )
            )

    @property
    def is_stacked(self) -> bool:
        """Whether panes are shown one above the other now (the overseer's toggle, else the screen's width)."""
        return self.stacked if self.stacked is not None else self.app.size.width < STACK_BELOW

    def toggle_stacked(self, *, dark: bool) -> bool:
        """Switch panes between side by side and stacked; returns whether they are stacked now."""
        self.stacked = not self.is_stacked
        self.restyle(dark=dark)
        return self.stacked

    def highlight(self, spans: list[tuple[int, int]], *, dark: bool) -> None:
        """Mark passage ranges (the quotes of the help just opened)."""
        self.highlights = list(spans)
        self.restyle(dark=dark)
