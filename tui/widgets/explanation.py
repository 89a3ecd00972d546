"""Explanation: the model's plain-language account of the item."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from sandwich import help_text
from tui.widgets.help_pane import HelpPane


class ExplanationPane(HelpPane):
    """Shows `{"text": str}`."""

    kind = "explanation"

    def render_content(self, content: dict[str, Any]) -> Text:
        return Text.assemble(*help_text.explanation(content))
