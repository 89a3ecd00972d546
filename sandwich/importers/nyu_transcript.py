"""One NYU debate session's rounds as sandwich records: transcript turns and belief trajectories.

A session file (`debates/official/<name>.json`, julianmichael/debate) lists rounds in order:
`JudgeFeedback` (the judge's probabilities over the answers as shown, a message, `endDebate`),
`SequentialSpeeches` / `SimultaneousSpeeches` (speeches keyed by debater index, each a list of
`Text` and `Quote` pieces; a quote is a [start, end) token span of the article),
`NegotiateEnd` and `OfflineJudgments`. Probabilities are re-ordered from the order the judge
saw into the item's stored choice order; the permutation is kept with every judgment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandwich.errors import DataError
from sandwich.importers.records import Belief
from sandwich.importers.text import Passage

ROLE = {"0": "Debater A", "1": "Debater B"}


def when(ms: Any) -> datetime | None:
    """A millisecond Unix timestamp as naive UTC (as the study store keeps times)."""
    if not isinstance(ms, (int, float)):
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None)


def message(feedback: dict[str, Any]) -> str:
    """The text of a judge's feedback message (quotes in it, if any, are dropped)."""
    return "".join(p["Text"]["text"] for p in feedback.get("content") or [] if "Text" in p).strip()


def to_stored(dist: list[float], order: list[int], where: str) -> list[float]:
    """Probabilities over the answers as shown → over the stored choices (`order[k]` = stored index of shown k)."""
    if len(dist) != len(order) or any(not isinstance(p, (int, float)) for p in dist):
        raise DataError(
            f"{where}: expected {len(order)} probabilities, got {dist!r}",
            hint="The session file is malformed; re-download it from the public repository.",
        )
    if abs(sum(dist) - 1.0) > 1e-6:
        raise DataError(f"{where}: probabilities {dist!r} do not sum to 1")
    out = [0.0] * len(order)
    for shown, stored in enumerate(order):
        out[stored] = float(dist[shown])
    return out


def speech(pieces: list[dict[str, Any]], passage: Passage, where: str) -> tuple[str, list[dict[str, Any]]]:
    """A speech's text with quotes inlined as <quote>…</quote>, and the quotes resolved to the passage.

    Each quote records its token span, its character range in the rebuilt passage and its text;
    `verified` is true because the text is taken from the article itself, never from the speaker. A span
    running past the article's end is clamped to it (marked `clamped`); one wholly outside is kept unverified.
    """
    text: list[str] = []
    quotes: list[dict[str, Any]] = []
    for piece in pieces:
        if "Text" in piece:
            text.append(piece["Text"]["text"])
        elif "Quote" in piece:
            start, end = (int(x) for x in piece["Quote"]["span"])
            # the original app clamps spans to the article; a few in the published data run past its end
            lo, hi = max(0, min(start, len(passage.offsets))), min(end, len(passage.offsets))
            if hi <= lo:
                quotes.append(
                    {"tokens": [start, end], "text": "", "verified": False, "note": "span outside the article"}
                )
                continue
            a, b = passage.span(lo, hi)
            body = passage.text[a:b]
            quotes.append(
                {
                    "tokens": [start, end],
                    "start": a,
                    "end": b,
                    "text": body,
                    "verified": True,
                    **({"clamped": True} if (lo, hi) != (start, end) else {}),
                }
            )
            text.append(f"<quote>{body}</quote>")
    return "".join(text), quotes


def walk_rounds(
    rounds: list[dict[str, Any]], passage: Passage, order: list[int], where: str
) -> tuple[list[dict[str, Any]], list[Belief], dict[str, Any]]:
    """Transcript turns, the live judge's beliefs (all JudgeFeedback, last one final) and offline results."""
    turns: list[dict[str, Any]] = []
    beliefs: list[Belief] = []
    offline: dict[str, Any] = {}
    speech_rounds = 0
    for k, r in enumerate(rounds):
        kind, body = next(iter(r.items()))
        here = f"{where}: rounds[{k}] ({kind})"
        if kind in ("SequentialSpeeches", "SimultaneousSpeeches"):
            speech_rounds += 1
            for key, sp in sorted(body.get("speeches", {}).items()):
                text, quotes = speech(sp.get("content") or [], passage, f"{here} speech {key}")
                turns.append(
                    {
                        "round": speech_rounds,
                        "speaker": ROLE.get(key, f"Debater {key}"),
                        "text": text,
                        "quotes": quotes,
                        "simultaneous": kind == "SimultaneousSpeeches",
                        "ts": sp.get("timestamp"),
                    }
                )
        elif kind == "JudgeFeedback":
            fb = body.get("feedback") or {}
            probs = to_stored(body.get("distribution") or [], order, here)
            beliefs.append(
                Belief(speech_rounds, probs, message(fb), when(fb.get("timestamp")), bool(body.get("endDebate")))
            )
            turns.append(
                {
                    "round": speech_rounds,
                    "speaker": "Judge",
                    "text": message(fb),
                    "quotes": [],
                    "ts": fb.get("timestamp"),
                }
            )
        elif kind == "OfflineJudgments":
            offline.update(body.get("judgments") or {})
        elif kind == "NegotiateEnd":
            turns.append(
                {
                    "round": speech_rounds,
                    "speaker": "Debaters",
                    "text": "vote to end: "
                    + ", ".join(
                        f"{ROLE.get(v, v)} {'yes' if ok else 'no'}"
                        for v, ok in sorted((body.get("votes") or {}).items())
                    ),
                    "quotes": [],
                }
            )
    return turns, beliefs, offline


def offline_beliefs(result: dict[str, Any], order: list[int], where: str) -> tuple[list[Belief], str]:
    """An offline judge's probabilities after each step (stepped) or once (timed), and the mode."""
    out = []
    for n, j in enumerate(result.get("judgments") or []):
        fb = j.get("feedback") or {}
        out.append(
            Belief(
                n,
                to_stored(j.get("distribution") or [], order, f"{where} step {n}"),
                message(fb),
                when(fb.get("timestamp")),
                bool(j.get("endDebate")),
            )
        )
    return out, str(result.get("mode", ""))


def scoring_rule(rules: dict[str, Any]) -> dict[str, Any] | None:
    """The judge's scoring rule parameters when the session defines LogScoreWithLinearPenalty."""
    fn = (rules or {}).get("scoringFunction") or {}
    spec = fn.get("LogScoreWithLinearPenalty")
    return {"kind": "LogScoreWithLinearPenalty", **spec} if isinstance(spec, dict) else None
