"""Critique: the possible flaws the model found, each with where, what and why."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.widgets.help_pane import HelpPane


def render_critique(content: dict[str, Any]) -> Text:
    """`{"flaws": [{"where", "what", "why"}]}` as a numbered list."""
    flaws = content.get("flaws") or []
    if not flaws:
        return Text("The model found no flaws. (It can miss them.)", style="italic")
    out = Text()
    for n, f in enumerate(flaws, 1):
        f = f if isinstance(f, dict) else {"what": str(f)}
        out.append(f"{n}. ", style="bold")
        if f.get("where"):
            out.append(f"{f['where']}: ", style="bold cyan")
        out.append(str(f.get("what", "")).strip())
        if f.get("why"):
            out.append("\n   why: ", style="dim")
            out.append(str(f["why"]).strip(), style="italic")
        out.append("\n\n" if n < len(flaws) else "")
    return out


class CritiquePane(HelpPane):
    """Shows the critique's flaws."""

    kind = "critique"

    def render_content(self, content: dict[str, Any]) -> Text:
        return render_critique(content)
