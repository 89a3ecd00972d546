"""Consultancy and debate transcripts; debate quotes are marked verified ✓ or unverified ✗."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from sandwich import help_text
from tui.widgets.help_pane import HelpPane


def render_consultancy(content: dict[str, Any]) -> Text:
    """`{"assigned_answer", "turns": [{"speaker", "text"}]}` (words shared with the LLM judge)."""
    return Text.assemble(*help_text.consultancy(content))


def render_debate(content: dict[str, Any]) -> Text:
    """`{"answers": {"A", "B"}, "turns": [{"round", "speaker", "text", "quotes"}]}` (words shared with the LLM judge)."""
    return Text.assemble(*help_text.debate(content))


class ConsultancyPane(HelpPane):
    """A consultant's case for one answer."""

    kind = "consultancy"

    def render_content(self, content: dict[str, Any]) -> Text:
        return render_consultancy(content)


class DebatePane(HelpPane):
    """Two debaters, opposite answers, several rounds."""

    kind = "debate"

    def render_content(self, content: dict[str, Any]) -> Text:
        return render_debate(content)
