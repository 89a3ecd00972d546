"""Reading a small model's ragged replies: lists, labelled fields, quotes, word limits.

Every function here accepts any string and never raises; strategies decide from
what comes back whether a reply is usable (`ok`) or not (`unparsed`, raw kept).
"""

from __future__ import annotations

import re

_ITEM = re.compile(r"^\s*(?:\d{1,2}\s*[.):]|[-*•]|(?:q|question|step)\s*\d{1,2}\s*[.):])\s*(.*\S)?\s*$", re.I)
_FIELD = re.compile(
    r"^\s*[*_]*\s*(?:\d{1,2}\s*[.)]\s*)?[-*•]?\s*[*_]*(where|what|why)[*_]*\s*[:\-–]\s*[*_]*\s*(.*)$", re.I
)
_QUOTE = re.compile(r"<quote>(.*?)(?:</quote>|$)", re.I | re.S)
_NONE = re.compile(
    r"^\W*(no|none|there are no|i (?:found|see) no|nothing)\b.*\b(flaws?|issues?|problems?|bugs?)\b", re.I | re.S
)


def usable(text: str | None) -> bool:
    """A reply worth showing: at least two words with letters in them once tags are set aside."""
    bare = re.sub(r"</?\w+>", " ", text or "")
    return len(re.findall(r"[^\W\d_]{2,}", bare)) >= 2


def numbered_items(text: str) -> list[str]:
    """Items of a numbered or bulleted list; a line without a marker continues the item before it."""
    items: list[str] = []
    for line in (text or "").splitlines():
        m = _ITEM.match(line)
        if m:
            items.append((m.group(1) or "").strip())
        elif items and line.strip():
            items[-1] = (items[-1] + " " + line.strip()).strip()
    return [i for i in items if usable(i)]


def questions(text: str, limit: int) -> list[str]:
    """Up to `limit` distinct sub-questions: list items, else lines/sentences that end in '?'."""
    found = numbered_items(text)
    if not found:
        found = [q.strip() for q in re.findall(r"[^\n?.!]*\?", text or "")]
    out: list[str] = []
    for q in found:
        q = re.sub(r"\s+", " ", q).strip(" \"'")
        q = re.sub(r"^(?:question|q)\s*\d*\s*[:.]\s*", "", q, flags=re.I)
        if "?" in q:  # a question followed by the model's own musings: keep the question
            q = q[: q.index("?") + 1]
        if usable(q) and q.lower() not in {o.lower() for o in out}:
            out.append(q)
    return out[:limit]


def flaws(text: str, limit: int) -> list[dict[str, str]] | None:
    """Flaws as {where, what, why}; [] when the reply says there are none; None when nothing is recognisable."""
    text = text or ""
    blocks: list[dict[str, str]] = []
    for line in text.splitlines():
        m = _FIELD.match(line)
        if not m:
            if blocks and line.strip() and not _ITEM.match(line):
                last = blocks[-1]
                key = next((k for k in ("why", "what", "where") if last.get(k)), None)
                if key:
                    last[key] = (last[key] + " " + line.strip()).strip()
            continue
        key, value = m.group(1).lower(), m.group(2).strip().strip("*").strip()
        # a field seen again (or 'where' after anything) starts the next flaw
        if not blocks or key in blocks[-1] or (key == "where" and blocks[-1]):
            blocks.append({})
        blocks[-1][key] = value
    out = [
        {"where": b.get("where", ""), "what": b.get("what", ""), "why": b.get("why", "")}
        for b in blocks
        if (usable(b.get("what", "")) or usable(b.get("why", ""))) and not _echo(b)
    ]
    if not blocks:
        # no labelled fields: a plain list still says what the flaws are
        out = [{"where": _code_span(i), "what": i, "why": _because(i)} for i in numbered_items(text)]
    if not out and _NONE.match(text.strip()):
        return []
    unique: dict[str, dict[str, str]] = {}
    for f in out:
        unique.setdefault(f["what"].strip().lower(), f)
    out = list(unique.values())
    return out[:limit] if out else None


def _echo(block: dict[str, str]) -> bool:
    """The model copied the format's placeholders instead of filling them in."""
    return (
        block.get("what", "").strip(" .").lower() in {"the flaw", "..."}
        or block.get("where", "").strip(" .").lower() == "the part it is in"
    )


def tidy(text: str) -> str:
    """Drop sentences a small model repeats verbatim (greedy decoding loops), keeping the first of each."""
    seen: set[str] = set()
    kept: list[str] = []
    for piece in re.split(r"(?<=[.!?])\s+|\n+", (text or "").strip()):
        key = re.sub(r"\W+", " ", piece).strip().lower()
        if key and key in seen and len(key) > 12:
            continue
        seen.add(key)
        kept.append(piece)
    return " ".join(p for p in kept if p.strip()) if len(kept) > 1 else (text or "").strip()


def _code_span(text: str) -> str:
    m = re.search(r"`([^`]+)`", text)
    return m.group(1) if m else ""


def _because(text: str) -> str:
    m = re.search(r"\bbecause\b(.*)", text, re.I)
    return m.group(1).strip(" .") if m else ""


def truncate_words(text: str, limit: int) -> tuple[str, bool]:
    """At most `limit` words (an open <quote> is closed); returns (text, was_truncated)."""
    words = (text or "").split()
    if len(words) <= limit:
        return " ".join(words), False
    cut = " ".join(words[:limit])
    if cut.lower().count("<quote>") > cut.lower().count("</quote>"):
        cut += "</quote>"
    return cut + " …", True


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("“", '"').replace("”", '"').replace("’", "'")).strip().lower()


def quotes(text: str, source: str) -> list[dict[str, object]]:
    """Quoted spans (<quote>…</quote>), each verified iff it occurs in `source` (whitespace and case aside)."""
    src = _norm(source or "")
    out = []
    for q in _QUOTE.findall(text or ""):
        q = q.strip().strip('"').strip()
        if q:
            out.append({"text": q, "verified": bool(src) and _norm(q) in src})
    return out
