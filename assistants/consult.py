"""Consultancy (Michael et al. 2023; Khan et al. 2024): one model argues for an assigned answer.

The platform assigns the side — right half the time, wrong the other half, balanced
by the precompute orchestrator — so consultancy is the control debate is measured
against. The consultant is only told which answer to defend, never whether it is
right. Content: ``{"assigned_answer", "turns": [{"speaker": "consultant", "text"}]}``;
each turn is cut to the word limit.
"""

from __future__ import annotations

from typing import Any

from assistants.replies import quotes, tidy, truncate_words, usable
from assistants.strategy import Call, Result, Steps, unparsed
from assistants.templates import answer_text, messages, quote_rule, quote_source, show_item
from sandwich.views import ItemContent


def consultancy(item: ItemContent, params: dict[str, Any], *, sides: tuple[str, ...]) -> Steps:
    """`rounds` turns by the consultant for `sides[0]` (a choice value: a letter, or correct/buggy)."""
    side = sides[0]
    rounds, words = int(params.get("rounds", 1)), int(params.get("word_limit", 80))
    answer = answer_text(item, side)
    shown, rule = show_item(item), quote_rule(item)
    max_tokens = min(int(params.get("max_tokens", 160)), int(words * 1.6) + 16)
    turns: list[dict[str, Any]] = []
    raws: list[str] = []
    for r in range(rounds):
        if r == 0:
            msgs = messages("consultancy", item=shown, answer=answer, words=words, quote_rule=rule)
        else:
            so_far = "\n\n".join(t["text"] for t in turns)
            msgs = messages(
                "consultancy_continue", item=shown, answer=answer, transcript=so_far, words=words, quote_rule=rule
            )
        [g] = yield [Call(msgs, max_tokens=max_tokens)]
        raws.append(g.text)
        if not usable(g.text):
            return unparsed("\n\n".join(raws))
        text, _ = truncate_words(tidy(g.text), words)
        turn: dict[str, Any] = {"speaker": "consultant", "text": text}
        if rule:
            turn["quotes"] = quotes(text, quote_source(item))
        turns.append(turn)
    return Result("ok", {"assigned_answer": answer, "turns": turns}, "\n\n".join(raws))
