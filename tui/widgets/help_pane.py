"""Base for one kind of the model's help: shows the content, or says plainly why there is none."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from sandwich import assistance, help_text
from sandwich.views import AssistanceView

UNUSABLE = ("failed", "missing")


def status_notice(view: AssistanceView) -> RenderableType | None:
    """What to show instead of content when the help is not usable as-is (None when status is ok); the words
    are shared with the LLM judge."""
    notice = help_text.status_notice(view)
    return None if notice is None else Text.assemble(*notice)


class HelpPane(VerticalScroll, can_focus=True):
    """One kind of assistance; subclasses render `content` (the kind's JSON contract)."""

    kind = ""

    def compose(self):
        yield Static("", classes="help-text")

    def show(self, view: AssistanceView) -> None:
        """Display this item's help of this kind."""
        self.view = view
        notice = status_notice(view)
        self.query_one(".help-text", Static).update(
            notice if notice is not None else self.render_content(view.content or {})
        )
        self.scroll_home(animate=False)

    def render_content(self, content: dict[str, Any]) -> RenderableType:
        """Render well-formed content; override per kind."""
        return Text(str(content))


class KindPane(HelpPane):
    """A text pane for any registered kind: its words come from the kind's registry entry (as the LLM judge's)."""

    def __init__(self, kind: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.kind = kind

    def render_content(self, content: dict[str, Any]) -> RenderableType:
        return Text.assemble(*assistance.get(self.kind).segments(content))
