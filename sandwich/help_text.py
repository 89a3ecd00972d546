"""The model's help as words, independent of any interface: the one source for the overseer app's help panes
and the LLM judge's prompt, so a simulated overseer reads what a person reads (quote marks, the consultant's
caveat, the notice when help is missing), in the same words.

Each kind's words are here; which renderer a kind uses is declared in its registry entry
(`sandwich.assistance`). Each renderer returns `Segments`: a list of (text, style) pairs. The style is a hint
(a rich style string) the app uses for colour; joined without styles the segments are the plain text the LLM
judge reads.
"""

from __future__ import annotations

from typing import Any

from sandwich.assistance import registry
from sandwich.views import AssistanceView

Segments = list[tuple[str, str]]
Content = dict[str, Any]

CONSULTANT_CAVEAT = "It was told which answer to defend — it may be the wrong one."
DEBATE_KEY = "Quotes: ✓ found in the item, ✗ not found."
SPEAKER_STYLE = {"A": "bold magenta", "B": "bold cyan", "consultant": "bold green"}


def plain(segments: Segments) -> str:
    """The segments' text without styles."""
    return "".join(text for text, _ in segments)


def _quotes(quotes: list[Any]) -> Segments:
    out: Segments = []
    for q in quotes or []:
        q = q if isinstance(q, dict) else {"text": str(q), "verified": False}
        ok = bool(q.get("verified"))
        out += [
            ("\n   ✓ " if ok else "\n   ✗ ", "green" if ok else "red"),
            (f"“{q.get('text', '')}”", "italic"),
            (" verified in the item" if ok else " not found in the item", "dim"),
        ]
    return out


def explanation(content: Content) -> Segments:
    """`{"text": str}`."""
    return [(str(content.get("text", "")).strip() or "(the explanation is empty)", "")]


def critique(content: Content) -> Segments:
    """`{"flaws": [{"where", "what", "why"}]}` as a numbered list."""
    flaws = content.get("flaws") or []
    if not flaws:
        return [("The model found no flaws. (It can miss them.)", "italic")]
    out: Segments = []
    for n, f in enumerate(flaws, 1):
        f = f if isinstance(f, dict) else {"what": str(f)}
        out.append((f"{n}. ", "bold"))
        if f.get("where"):
            out.append((f"{f['where']}: ", "bold cyan"))
        out.append((str(f.get("what", "")).strip(), ""))
        if f.get("why"):
            out += [("\n   why: ", "dim"), (str(f["why"]).strip(), "italic")]
        out.append(("\n\n" if n < len(flaws) else "", ""))
    return out


def consultancy(content: Content) -> Segments:
    """`{"assigned_answer", "turns": [{"speaker", "text", "quotes"}]}`."""
    out: Segments = [
        ("The consultant argues for: ", "bold"),
        (str(content.get("assigned_answer", "?")), "bold green"),
        (f"\n{CONSULTANT_CAVEAT}\n", "italic dim"),
    ]
    for t in content.get("turns") or []:
        t = t if isinstance(t, dict) else {"speaker": "consultant", "text": str(t)}
        out.append(
            (
                f"\n{str(t.get('speaker', 'consultant')).capitalize()}: ",
                SPEAKER_STYLE.get(str(t.get("speaker")), "bold"),
            )
        )
        out.append((str(t.get("text", "")).strip(), ""))
        out += _quotes(t.get("quotes", []))
        out.append(("\n", ""))
    return out


def debate(content: Content) -> Segments:
    """`{"answers": {"A", "B"}, "turns": [{"round", "speaker", "text", "quotes"}]}`."""
    answers = content.get("answers") or {}
    out: Segments = []
    for side in ("A", "B"):
        out += [(f"Debater {side} argues for: ", SPEAKER_STYLE[side]), (f"{answers.get(side, '?')}\n", "")]
    if any((t.get("quotes") if isinstance(t, dict) else None) for t in content.get("turns") or []):
        out.append((f"{DEBATE_KEY}\n", "italic dim"))  # a key to marks that are not there only puzzles
    last_round = None
    for t in content.get("turns") or []:
        t = t if isinstance(t, dict) else {"text": str(t)}
        if t.get("round") != last_round:
            last_round = t.get("round")
            out.append((f"\n── Round {last_round} ──\n", "dim"))
        side = str(t.get("speaker", "?"))
        out += [(f"{side}: ", SPEAKER_STYLE.get(side, "bold")), (str(t.get("text", "")).strip(), "")]
        out += _quotes(t.get("quotes", []))
        out.append(("\n", ""))
    return out


def decomposition(content: Content) -> Segments:
    """`{"nodes": [{"id", "question", "answer", "children"}]}`: every sub-question with the model's answer, as
    the app's detail view words it (the app shows them as a tree, one at a time)."""
    out: Segments = []

    def walk(nodes: list[Any], depth: int) -> None:
        for n, node in enumerate(nodes or [], 1):
            node = node if isinstance(node, dict) else {"question": str(node)}
            pad = "  " * depth
            out.extend(
                [
                    (f"{pad}Sub-question {node.get('id', n)}: ", "bold"),
                    (str(node.get("question", "")).strip(), ""),
                    (f"\n{pad}Model's answer: ", "bold green"),
                    (str(node.get("answer", "") or "(none)").strip() + "\n", ""),
                ]
            )
            walk(node.get("children") or [], depth + 1)

    walk(content.get("nodes") or [], 0)
    return out or [("(no sub-questions)", "italic")]


def title(kind: str) -> str:
    """The kind's tab title (its name when no kind of that name is registered)."""
    found = registry.find(kind)
    return found.title if found else kind


def status_notice(view: AssistanceView) -> Segments | None:
    """What is shown instead of content when the help is not usable as-is (None when it is)."""
    if view.status == "ok" and view.content is not None:
        return None
    if view.status == "unparsed":
        return [
            ("The assistant's answer could not be parsed.", "bold yellow"),
            ("\nIts raw text is below. It may still help, but read it with care.", "italic"),
            (f"\n\n{view.raw or '(empty)'}", ""),
        ]
    if view.status == "failed":
        return [
            ("The assistant failed to produce this help.", "bold red"),
            ("\nYou can still judge the item on your own.", "italic"),
            (f"\n\n{view.raw or ''}", "dim"),
        ]
    return [
        ("No help was prepared for this item.", "bold yellow"),
        ("\nYou can still judge the item on your own.", "italic"),
    ]


def help_segments(view: AssistanceView) -> Segments:
    """One kind of help as the overseer sees it: its content, or the notice saying why there is none."""
    notice = status_notice(view)
    if notice is not None:
        return notice
    kind = registry.find(view.kind)
    return kind.segments(view.content or {}) if kind else [(str(view.content), "")]
