"""Live follow-ups: an overseer's own question about an item, answered token by token.

The model sees the item as the overseer sees it and the help already shown under
the overseer's condition (or one decomposition node, when the question is about
that node) — never gold. Backends are cached per process, so the embedded model
loads once and a vLLM client keeps its connections.
"""

from __future__ import annotations

import threading
from collections.abc import Generator

from assistants.backends.base import Backend, get_backend
from assistants.replies import truncate_words
from assistants.templates import messages, show_item
from sandwich import assistance as help_kinds
from sandwich.config import AssistantSpec
from sandwich.errors import SandwichError
from sandwich.views import AssistanceView, ItemContent

FOLLOW_UP_MAX_TOKENS = 200
CONTEXT_WORDS = 250  # help already given, cut so item + help + answer fit a 2048-token context

_backends: dict[str, Backend] = {}
_lock = threading.Lock()


def backend_for(spec: AssistantSpec) -> Backend:
    """One backend per distinct assistant spec in this process."""
    key = spec.model_dump_json()
    with _lock:
        if key not in _backends:
            _backends[key] = get_backend(spec)
        return _backends[key]


def _summary(view: AssistanceView) -> str:
    """One kind of help in the words its registry entry gives a follow-up."""
    kind = help_kinds.find(view.kind)
    return kind.summarize(view.content or {}) if kind else ""


def context_text(helps: list[AssistanceView], node_id: str | None) -> str:
    """The help the model is reminded of: one decomposition node, or a cut-down summary of everything shown."""
    if node_id is not None:
        for view in helps:
            kind = help_kinds.find(view.kind)
            if kind is None or kind.pane != "tree" or view.status != "ok" or not view.content:
                continue
            typed = kind.parse(view.content)
            node = typed.find(node_id) if typed is not None and hasattr(typed, "find") else None
            if node:
                return (
                    f"\nThe reader is looking at this sub-question: {node.question}\n"
                    f"The answer given was: {node.answer}\n"
                )
        raise SandwichError(
            f"No decomposition node {node_id!r} for this item.",
            hint="Ask about a node shown in the decomposition, or ask without a node.",
        )
    parts = [_summary(v) for v in helps if v.status == "ok" and v.content]
    if not parts:
        return ""
    text, _ = truncate_words("\n".join(p for p in parts if p), CONTEXT_WORDS)
    return f"\nHelp already shown to the reader:\n{text}\n"


def follow_up_messages(
    item: ItemContent, assistance: list[AssistanceView], question: str, node_id: str | None
) -> list[dict[str, str]]:
    """The conversation a follow-up question becomes."""
    return messages("followup", item=show_item(item), context=context_text(assistance, node_id), question=question)


def stream_follow_up(
    spec: AssistantSpec,
    *,
    item: ItemContent,
    assistance: list[AssistanceView],
    question: str,
    node_id: str | None = None,
) -> Generator[str, None, str | None]:
    """Stream the answer to an overseer's question; returns the backend's finish reason ("length": cut off).

    Raises AssistanceUnavailable if the backend is down, too slow, or its stream stopped mid-answer.
    """
    msgs = follow_up_messages(item, assistance, question, node_id)
    backend = backend_for(spec)
    return (
        yield from backend.stream(
            msgs,
            max_tokens=min(spec.max_tokens, FOLLOW_UP_MAX_TOKENS),
            temperature=spec.temperature,
            seed=spec.seed,
            timeout_s=spec.timeout_s,
        )
    )
