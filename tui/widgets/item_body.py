"""The item itself: code with syntax highlighting and line numbers, or passage, question and choices."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from sandwich.tasks import kind as task_kinds
from sandwich.views import ItemContent

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def render_item(item: ItemContent, *, dark: bool = True, background: str | None = None,
                highlights: Sequence[tuple[int, int]] = ()) -> RenderableType:
    """A rich renderable of an item as an overseer sees it (no gold exists on ItemContent).

    `highlights`: [start, end) character ranges of the passage to mark (quotes the help cites).
    """
    if task_kinds.of(item).shows_code or item.language:
        return Syntax(item.body or item.prompt, item.language or "python", line_numbers=True, word_wrap=True,
                      theme="monokai" if dark else "friendly", background_color=background, indent_guides=True)
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


class ItemBody(VerticalScroll, can_focus=True):
    """Scrollable view of the item (arrow keys / page keys scroll when it has focus; m: full screen)."""

    ALLOW_MAXIMIZE = True

    def compose(self):
        yield Static("", id="item-content")

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
                render_item(self.item, dark=dark, background=background, highlights=getattr(self, "highlights", [])))

    def highlight(self, spans: list[tuple[int, int]], *, dark: bool) -> None:
        """Mark passage ranges (the quotes of the help just opened)."""
        self.highlights = list(spans)
        self.restyle(dark=dark)
