"""Critique: the possible flaws the model found, each with where, what and why."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from sandwich import help_text
from tui.widgets.help_pane import HelpPane


def render_critique(content: dict[str, Any]) -> Text:
    """`{"flaws": [{"where", "what", "why"}]}` as a numbered list (words shared with the LLM judge)."""
    return Text.assemble(*help_text.critique(content))


class CritiquePane(HelpPane):
    """Shows the critique's flaws."""

    kind = "critique"

    def render_content(self, content: dict[str, Any]) -> Text:
        return render_critique(content)
