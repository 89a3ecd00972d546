"""Explanation: the item explained in plain language for a non-expert.

For code: what the program does, step by step; for a question: what its terms
mean and which facts in the passage matter. Content: ``{"text": str}``.
"""

from __future__ import annotations

from typing import Any

from assistants.replies import tidy, usable
from assistants.strategy import Call, Result, Steps, unparsed
from assistants.templates import is_code, messages, show_item
from sandwich.tasks import kind as task_kinds
from sandwich.views import ItemContent


def explanation(item: ItemContent, params: dict[str, Any]) -> Steps:
    """One call; any readable reply is the explanation."""
    focus = task_kinds.of(item).explain_focus or (
        "Explain what this program does, step by step, and what each part is for."
        if is_code(item)
        else "Explain what the question asks, what its harder words mean, and which facts matter."
    )
    max_tokens = int(params.get("max_tokens", 160))
    [g] = yield [
        Call(
            messages("explanation", item=show_item(item), focus=focus, words=int(max_tokens * 0.6)),
            max_tokens=max_tokens,
        )
    ]
    if not usable(g.text):
        return unparsed(g.text)
    return Result("ok", {"text": tidy(g.text)}, g.text)
