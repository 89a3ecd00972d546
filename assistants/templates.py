"""Prompt templates (assistants/prompts/*.txt, `$name` placeholders) and how an item is shown to the model.

Everything a prompt can contain comes from an :class:`ItemContent` (what an overseer
sees) plus strategy parameters, so no template can carry a gold label or a hidden test.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

from sandwich.views import ItemContent

PROMPTS = Path(__file__).parent / "prompts"
LETTERS = string.ascii_uppercase


@lru_cache(maxsize=None)
def template(name: str) -> string.Template:
    """The template `prompts/NAME.txt`."""
    return string.Template((PROMPTS / f"{name}.txt").read_text(encoding="utf-8"))


def render(template_name: str, /, **values: object) -> str:
    """Fill a template; a missing value is a programming error (KeyError), never silently blank."""
    return template(template_name).substitute({k: str(v) for k, v in values.items()}).strip()


def messages(template_name: str, /, **values: object) -> list[dict[str, str]]:
    """A system + user conversation whose user turn is the rendered template."""
    return [{"role": "system", "content": render("system")}, {"role": "user", "content": render(template_name, **values)}]


def is_code(item: ItemContent) -> bool:
    """True for code-review items (the body is a program)."""
    return item.task_kind == "code-review"


def show_item(item: ItemContent) -> str:
    """The item as the model reads it: the program, or the passage, question and lettered choices."""
    if is_code(item):
        fence = f"```{item.language or ''}"
        return f"A programming problem and a candidate solution:\n{fence}\n{item.body.strip()}\n```\n\n" \
               f"Question: {item.question}"
    parts = [f"Passage:\n{item.body.strip()}\n"] if item.body.strip() else []
    parts.append(f"Question: {item.question}")
    parts += [f"{LETTERS[i]}. {c}" for i, c in enumerate(item.choices)]
    return "\n".join(parts)


def answer_text(item: ItemContent, value: str) -> str:
    """How an answer reads in prompts and content: 'B. the choice' for a lettered choice, else the value."""
    if not is_code(item) and len(value) == 1 and value in LETTERS[: len(item.choices)]:
        return f"{value}. {item.choices[LETTERS.index(value)]}"
    return value


def answer_values(item: ItemContent) -> list[str]:
    """The values an overseer can answer with: letters for multiple choice, else the item's choices."""
    return [LETTERS[i] for i in range(len(item.choices))] if not is_code(item) else list(item.choices)


def thing(item: ItemContent) -> str:
    """What is being judged, in a word."""
    return "program" if is_code(item) else "question"


def goal(item: ItemContent) -> str:
    """The overseer's decision, in words."""
    return "whether this program is correct" if is_code(item) else "which choice answers the question"


def quote_rule(item: ItemContent) -> str:
    """How to quote the source so quotes can be checked."""
    if not item.body.strip():
        return ""
    where = "code" if is_code(item) else "passage"
    return f"Quote the exact {where} you rely on inside <quote></quote> tags."
