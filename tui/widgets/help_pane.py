"""Base for one kind of the model's help: shows the content, or says plainly why there is none."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from sandwich.views import AssistanceView

UNUSABLE = ("failed", "missing")


def status_notice(view: AssistanceView) -> RenderableType | None:
    """What to show instead of content when the help is not usable as-is (None when status is ok)."""
    if view.status == "ok" and view.content is not None:
        return None
    if view.status == "unparsed":
        head = Text("The assistant's answer could not be parsed.", style="bold yellow")
        sub = Text("Its raw text is below. It may still help, but read it with care.", style="italic")
        return Group(head, sub, Text(""), Text(view.raw or "(empty)"))
    if view.status == "failed":
        head = Text("The assistant failed to produce this help.", style="bold red")
        sub = Text("You can still judge the item on your own.", style="italic")
        return Group(head, sub, Text(""), Text(view.raw or "", style="dim"))
    head = Text("No help was prepared for this item.", style="bold yellow")
    return Group(head, Text("You can still judge the item on your own.", style="italic"))


class HelpPane(VerticalScroll, can_focus=True):
    """One kind of assistance; subclasses render `content` (the kind's JSON contract)."""

    kind = ""

    def compose(self):  # type: ignore[override]
        yield Static("", classes="help-text")

    def show(self, view: AssistanceView) -> None:
        """Display this item's help of this kind."""
        self.view = view
        notice = status_notice(view)
        self.query_one(".help-text", Static).update(notice if notice is not None else self.render_content(view.content or {}))
        self.scroll_home(animate=False)

    def render_content(self, content: dict[str, Any]) -> RenderableType:
        """Render well-formed content; override per kind."""
        return Text(str(content))
