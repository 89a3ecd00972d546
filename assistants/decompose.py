"""Decomposition (factored, HCH-style): the judgment split into sub-questions, each answered by its own call.

First call: list sub-questions. Then each sub-question is answered by a separate
model call that sees the item and that one question only (not the other answers),
so no single call has to carry the whole judgment. Content:
``{"nodes": [{"id", "question", "answer", "children": []}]}``; an overseer may ask a
live follow-up on any node (its id is passed to :mod:`assistants.live`).
"""

from __future__ import annotations

from typing import Any

from assistants.replies import questions, tidy
from assistants.strategy import Call, Result, Steps, unparsed
from assistants.templates import goal, messages, show_item, thing
from sandwich.views import ItemContent


def decomposition(item: ItemContent, params: dict[str, Any]) -> Steps:
    """Sub-questions, then one answer call per sub-question (batched together)."""
    n = int(params.get("max_subquestions", 3))
    max_tokens = int(params.get("max_tokens", 160))
    shown = show_item(item)
    [g] = yield [
        Call(
            messages("decomposition_questions", item=shown, goal=goal(item), n=n),
            max_tokens=min(max_tokens, 24 * n + 16),
        )
    ]
    subs = questions(g.text, n)
    if not subs:
        return unparsed(g.text)
    answers = yield [
        Call(
            messages("decomposition_answer", item=shown, thing=thing(item), question=q),
            max_tokens=max(32, max_tokens // 2),
        )
        for q in subs
    ]
    nodes = [
        {"id": str(k + 1), "question": q, "answer": tidy(a.text) or "(no answer)", "children": []}
        for k, (q, a) in enumerate(zip(subs, answers, strict=True))
    ]
    raw = g.text + "\n\n" + "\n\n".join(f"[{k + 1}] {a.text}" for k, a in enumerate(answers))
    return Result("ok", {"nodes": nodes}, raw)
