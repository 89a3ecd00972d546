"""Prompt templates (assistants/prompts/*.txt, `$name` placeholders) and how an item is shown to the model.

Everything a prompt can contain comes from an :class:`ItemContent` (what an overseer
sees) plus strategy parameters, so no template can carry a gold label or a hidden test.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

from sandwich.tasks import kind as task_kinds
from sandwich.views import ItemContent

PROMPTS = Path(__file__).parent / "prompts"
LETTERS = string.ascii_uppercase


@cache
def template(name: str) -> string.Template:
    """The template `prompts/NAME.txt`."""
    return string.Template((PROMPTS / f"{name}.txt").read_text(encoding="utf-8"))


def render(template_name: str, /, **values: object) -> str:
    """Fill a template; a missing value is a programming error (KeyError), never silently blank."""
    return template(template_name).substitute({k: str(v) for k, v in values.items()}).strip()


def messages(template_name: str, /, **values: object) -> list[dict[str, str]]:
    """A system + user conversation whose user turn is the rendered template."""
    return [
        {"role": "system", "content": render("system")},
        {"role": "user", "content": render(template_name, **values)},
    ]


def is_code(item: ItemContent) -> bool:
    """True for items whose body is a program (the task kind says)."""
    return task_kinds.of(item).shows_code


def show_item(item: ItemContent) -> str:
    """The item as the model reads it (the task kind's model view: the program, or the passage, question and
    lettered choices)."""
    return task_kinds.of(item).model_view(item)


def answer_text(item: ItemContent, value: str) -> str:
    """How an answer reads in prompts and content: 'B. the choice' for a lettered choice, else the value."""
    return task_kinds.of(item).answer_text(item, value)


def answer_values(item: ItemContent) -> list[str]:
    """The values an overseer can answer with: letters for multiple choice, else the item's choices."""
    return task_kinds.of(item).answer_values(item)


def thing(item: ItemContent) -> str:
    """What is being judged, in a word."""
    return task_kinds.of(item).noun


def goal(item: ItemContent) -> str:
    """The overseer's decision, in words."""
    return task_kinds.of(item).goal


def quote_source(item: ItemContent) -> str:
    """The text quotes must come from (the passage or code; for a pair, its prompt and both responses)."""
    return task_kinds.of(item).quote_source(item)


def critique_target(item: ItemContent) -> str:
    """What a critique lists flaws in (the task kind's words, else its noun)."""
    kind = task_kinds.of(item)
    return kind.critique_target or kind.noun


def quote_rule(item: ItemContent) -> str:
    """How to quote the source so quotes can be checked."""
    if not item.body.strip():
        return ""
    return f"Quote the exact {task_kinds.of(item).source_word} you rely on inside <quote></quote> tags."
