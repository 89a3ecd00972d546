"""Critique (Saunders et al. 2022): possible flaws, each with where it is, what it is and why it matters.

Content: ``{"flaws": [{"where", "what", "why"}]}``. A reply saying there are no
flaws is a valid, empty critique; a reply with no recognisable flaw is unparsed.
"""

from __future__ import annotations

from typing import Any

from assistants.replies import flaws
from assistants.strategy import Call, Result, Steps, unparsed
from assistants.templates import critique_target, messages, show_item
from sandwich.views import ItemContent


def critique(item: ItemContent, params: dict[str, Any]) -> Steps:
    """One call in a Where/What/Why format; plain numbered lists are accepted too."""
    n = int(params.get("max_flaws", 3))
    [g] = yield [
        Call(
            messages("critique", item=show_item(item), n=n, thing=critique_target(item)),
            max_tokens=int(params.get("max_tokens", 160)),
        )
    ]
    found = flaws(g.text, n)
    if found is None:
        return unparsed(g.text)
    return Result("ok", {"flaws": found}, g.text)
