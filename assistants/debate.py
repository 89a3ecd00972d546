"""Debate (Irving et al. 2018; Khan et al. 2024): two debaters argue opposite answers over N rounds.

Both debaters speak in each round at once, seeing every earlier round (Khan et
al.'s simultaneous format), so a round's two turns share one batched call. Each turn
is cut to the word limit. Quotes in <quote>…</quote> are checked against the item's
passage (or code) and marked verified or not, so a judge can tell real evidence
from invented evidence. Content: ``{"answers": {"A", "B"}, "turns": [{"round",
"speaker", "text", "quotes": [{"text", "verified"}]}]}``.
"""

from __future__ import annotations

from typing import Any

from assistants.replies import quotes, tidy, truncate_words, usable
from assistants.strategy import Call, Result, Steps, unparsed
from assistants.templates import answer_text, messages, quote_rule, quote_source, show_item
from sandwich.views import ItemContent


def _transcript(turns: list[dict[str, Any]]) -> str:
    if not turns:
        return ""
    lines = [f"Round {t['round']}, debater {t['speaker']}: {t['text']}" for t in turns]
    return "The debate so far:\n" + "\n".join(lines) + "\n"


def debate(item: ItemContent, params: dict[str, Any], *, sides: tuple[str, str]) -> Steps:
    """Debater A defends sides[0], debater B sides[1], for `rounds` rounds of `word_limit` words."""
    rounds, words = int(params.get("rounds", 2)), int(params.get("word_limit", 60))
    answers = {"A": answer_text(item, sides[0]), "B": answer_text(item, sides[1])}
    shown, rule = show_item(item), quote_rule(item)
    max_tokens = min(int(params.get("max_tokens", 160)), int(words * 1.6) + 16)
    turns: list[dict[str, Any]] = []
    raws: list[str] = []
    for r in range(1, rounds + 1):
        so_far = _transcript(turns)
        calls = [
            Call(
                messages(
                    "debate",
                    item=shown,
                    name=me,
                    answer=answers[me],
                    other=answers[them],
                    transcript=so_far,
                    round=r,
                    words=words,
                    quote_rule=rule,
                ),
                max_tokens=max_tokens,
            )
            for me, them in (("A", "B"), ("B", "A"))
        ]
        replies = yield calls
        for speaker, g in zip(("A", "B"), replies, strict=True):
            raws.append(f"[round {r} {speaker}] {g.text}")
            if not usable(g.text):
                return unparsed("\n\n".join(raws))
            text, _ = truncate_words(tidy(g.text), words)
            turns.append({"round": r, "speaker": speaker, "text": text, "quotes": quotes(text, quote_source(item))})
    return Result("ok", {"answers": answers, "turns": turns}, "\n\n".join(raws))
