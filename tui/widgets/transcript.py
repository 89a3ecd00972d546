"""Consultancy and debate transcripts; debate quotes are marked verified ✓ or unverified ✗."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.widgets.help_pane import HelpPane

SPEAKER_STYLE = {"A": "bold magenta", "B": "bold cyan", "consultant": "bold green"}


def _quotes(out: Text, quotes: list[Any]) -> None:
    for q in quotes or []:
        q = q if isinstance(q, dict) else {"text": str(q), "verified": False}
        ok = bool(q.get("verified"))
        out.append("\n   ✓ " if ok else "\n   ✗ ", style="green" if ok else "red")
        out.append(f"“{q.get('text', '')}”", style="italic")
        out.append(" verified in the item" if ok else " not found in the item", style="dim")


def quote_spans(contents: list[dict[str, Any] | None]) -> list[tuple[int, int]]:
    """[start, end) passage ranges of verified quotes that carry them (imported transcripts do)."""
    spans = []
    for content in contents:
        for t in (content or {}).get("turns") or []:
            for q in t.get("quotes") or [] if isinstance(t, dict) else []:
                if isinstance(q, dict) and q.get("verified") and isinstance(q.get("start"), int) \
                        and isinstance(q.get("end"), int):
                    spans.append((q["start"], q["end"]))
    return sorted(set(spans))


def render_consultancy(content: dict[str, Any]) -> Text:
    """`{"assigned_answer", "turns": [{"speaker", "text"}]}`."""
    out = Text()
    out.append("The consultant argues for: ", style="bold")
    out.append(str(content.get("assigned_answer", "?")), style="bold green")
    out.append("\nIt was told which answer to defend — it may be the wrong one.\n", style="italic dim")
    for t in content.get("turns") or []:
        t = t if isinstance(t, dict) else {"speaker": "consultant", "text": str(t)}
        out.append(f"\n{str(t.get('speaker', 'consultant')).capitalize()}: ",
                   style=SPEAKER_STYLE.get(t.get("speaker"), "bold"))
        out.append(str(t.get("text", "")).strip())
        _quotes(out, t.get("quotes", []))
        out.append("\n")
    return out


def render_debate(content: dict[str, Any]) -> Text:
    """`{"answers": {"A", "B"}, "turns": [{"round", "speaker", "text", "quotes"}]}`."""
    out = Text()
    answers = content.get("answers") or {}
    for side in ("A", "B"):
        out.append(f"Debater {side} argues for: ", style=SPEAKER_STYLE[side])
        out.append(f"{answers.get(side, '?')}\n")
    out.append("Quotes: ✓ found in the item, ✗ not found.\n", style="italic dim")
    last_round = None
    for t in content.get("turns") or []:
        t = t if isinstance(t, dict) else {"text": str(t)}
        if t.get("round") != last_round:
            last_round = t.get("round")
            out.append(f"\n── Round {last_round} ──\n", style="dim")
        side = str(t.get("speaker", "?"))
        out.append(f"{side}: ", style=SPEAKER_STYLE.get(side, "bold"))
        out.append(str(t.get("text", "")).strip())
        _quotes(out, t.get("quotes", []))
        out.append("\n")
    return out


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
