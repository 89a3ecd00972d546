"""Consultancy and debate transcripts; debate quotes are marked verified ✓ or unverified ✗."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from sandwich import help_text
from tui.widgets.help_pane import HelpPane


def quote_spans(contents: list[dict[str, Any] | None]) -> list[tuple[int, int]]:
    """[start, end) passage ranges of verified quotes that carry them (imported transcripts do)."""
    spans = []
    for content in contents:
        for t in (content or {}).get("turns") or []:
            for q in t.get("quotes") or [] if isinstance(t, dict) else []:
                if (
                    isinstance(q, dict)
                    and q.get("verified")
                    and isinstance(q.get("start"), int)
                    and isinstance(q.get("end"), int)
                ):
                    spans.append((q["start"], q["end"]))
    return sorted(set(spans))


def render_consultancy(content: dict[str, Any]) -> Text:
    """`{"assigned_answer", "turns": [{"speaker", "text"}]}` (words shared with the LLM judge)."""
    return Text.assemble(*help_text.consultancy(content))


def render_debate(content: dict[str, Any]) -> Text:
    """`{"answers": {"A", "B"}, "turns": [{"round", "speaker", "text", "quotes"}]}`

    (words shared with the LLM judge)."""
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
