"""Task kinds: one object per kind of item, and the registry that finds it by the study file's `task.kind`.

A :class:`TaskKind` covers everything that differs between kinds of item: its study-file section (`config`),
loading items and gold, which gold kinds and answer choices make sense, the overseer's view (code or text),
the model's view (`model_view`), the LLM judge's view (`judge_view`), answer values and how they read, the
practice feedback's wording, and a typed view of the item (`typed`) over the stored row. `code-review`
(`sandwich.tasks.code_review`) and `multiple-choice` (`sandwich.tasks.multiple_choice`) implement it; a new
kind subclasses it and calls :func:`register` (see docs/architecture.md). No `if kind == ...` is needed
elsewhere.
"""

from __future__ import annotations

import importlib
import string
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from sandwich.tasks.base import TaskData
from sandwich.views import ItemContent

LETTERS = string.ascii_uppercase
Progress = Callable[[int, int], None]


class PassageContent(BaseModel):
    """A question (maybe about a passage) with choices: the typed view of a text item."""

    model_config = ConfigDict(frozen=True)
    passage: str = ""
    question: str = ""
    choices: list[str] = []


class TaskKind:
    """One kind of item. The defaults describe a text item with a passage, a question and its choices."""

    name: ClassVar[str]
    config: ClassVar[type[BaseModel]]  # the study file's `task:` section
    content: ClassVar[type[BaseModel]] = PassageContent  # the typed view of an item
    gold_kinds: ClassVar[tuple[str, ...]] = ("dataset-label", "expert-overseers")
    gold_error: ClassVar[str] = ""  # said when the study's gold kind is not one of them
    default_choices: ClassVar[list[str] | str] = "item"  # judgment.choices: a fixed list, or 'item'
    shows_code: ClassVar[bool] = False  # the app shows the body as highlighted code
    question_in_item: ClassVar[bool] = True  # the app need not repeat the question by the answer
    noun: ClassVar[str] = "question"  # what is judged, in a word
    goal: ClassVar[str] = "which choice answers the question"
    source_word: ClassVar[str] = "passage"  # what a quote must come from
    n_answers: ClassVar[int] = 4  # answers per item, for power analysis
    # items come from a data file the study names: cheap to load, so `create` says how the file was read before
    # it writes, and `validate --data` dry-runs `create` (a kind whose loading runs hidden tests does neither)
    reads_data_file: ClassVar[bool] = False
    explain_focus: ClassVar[str | None] = None  # what an explanation covers (None: by code/text)
    critique_target: ClassVar[str | None] = None  # what a critique lists flaws in (None: the noun)

    # ------------------------------------------------------------ the study file
    def reads_data(self, task: Any) -> bool:
        """Whether this study's items come from a data file it names (see `reads_data_file`)."""
        return self.reads_data_file

    def load(
        self, task: Any, study: Any, base: Path, *, allow_unsandboxed: bool = False, progress: Progress | None = None
    ) -> TaskData:
        """Items, gold (and hidden tests) for the study's `task` section; `base` is the study file's folder."""
        raise NotImplementedError

    def check(self, study: Any) -> str | None:
        """Why the study's gold and judgment sections do not fit this kind (None when they do).

        Fills in judgment.choices when the study leaves it out.
        """
        if study.gold.kind not in self.gold_kinds:
            return self.gold_error or (
                f"gold: {self.name} items cannot use kind {study.gold.kind}; use kind: " + " or ".join(self.gold_kinds)
            )
        if study.judgment.choices is None:
            study.judgment.choices = self.default_choices
        want, got = self.default_choices, study.judgment.choices
        if want == "item" and got != "item":
            return f"judgment.choices: {self.name} judgments use the item's choices ('item')"
        if isinstance(want, list) and (not isinstance(got, list) or sorted(got) != sorted(want)):
            return f"judgment.choices: {self.name} judgments are [{', '.join(want)}]"
        return None

    def wanted_choices(self, task: Any) -> list[str] | str:
        """judgment.choices for a study with this `task` section (default: the kind's `default_choices`)."""
        return self.default_choices

    def study_problems(self, sections: Any) -> list[tuple[tuple[str | int, ...], str]]:
        """The kind's own rules on a study file's valid sections (a mapping: task, gold, judgment, …; a section
        that failed on its own is None): (where, what) for each problem, placed at its line by the reader."""
        return []

    def problem_count(self, task: Any) -> int | None:
        """How many problems the study's items come from, when one problem yields several versions (items)
        an overseer must not meet side by side; None when every item is its own problem."""
        return None

    def gold_summary(self, counts: dict[str, int]) -> str:
        """A short summary of the gold labels from `create_study`'s counts, for `sandwich create` ('' for none)."""
        return ""

    def verify_stored_gold(self, task: Any, base: Path, db: Any) -> None:
        """After `create`: check the gold stored in `db` against the study's source (raises DataError)."""
        return None

    # ------------------------------------------------------------ classifier examples
    # A reward model scores either each choice of an item (bad = not the right choice), or the item itself
    # (bad = the answer `bad_answer`, e.g. a buggy program).
    examples_per_choice: ClassVar[bool] = True
    bad_answer: ClassVar[str | None] = None

    def example_text(self, prompt: str, body: str) -> tuple[str, str]:
        """(text, context) a classifier reads for a whole-item example."""
        return body, prompt

    # ------------------------------------------------------------ views
    def typed(self, item: ItemContent) -> BaseModel:
        """The item's content as this kind's typed model (a view over the stored row)."""
        return PassageContent(passage=item.body, question=item.question, choices=item.choices)

    def model_view(self, item: ItemContent) -> str:
        """The item as the model reads it in an assistance prompt."""
        c = PassageContent(passage=item.body, question=item.question, choices=item.choices)
        parts = [f"Passage:\n{c.passage.strip()}\n"] if c.passage.strip() else []
        parts.append(f"Question: {c.question}")
        parts += [f"{LETTERS[i]}. {choice}" for i, choice in enumerate(c.choices)]
        return "\n".join(parts)

    def judge_view(self, item: ItemContent) -> list[str]:
        """The item's text blocks as the LLM judge reads them (title and choices are added by the judge)."""
        parts = [item.prompt.strip()] if item.prompt else []
        if item.body:
            parts.append(item.body.strip())
        if item.question:
            parts.append(f"Question: {item.question.strip()}")
        return parts

    def quote_source(self, item: ItemContent) -> str:
        """The text a quote in the model's help must come from to be marked verified."""
        return item.body

    def panes(self, item: ItemContent) -> list[tuple[str, str]] | None:
        """Parts of the item the app shows next to each other (wide) or one above the other (narrow), as
        (answer value, text); None for an item shown whole."""
        return None

    # ------------------------------------------------------------ answers
    def answer_values(self, item: ItemContent) -> list[str]:
        """The values an overseer can answer with."""
        return list(item.choices)

    def answer_text(self, item: ItemContent, value: str) -> str:
        """How an answer value reads in prompts and content."""
        return value

    def read_answer(self, item: ItemContent, text: str) -> str:
        """The answer value an imported answer `text` names (raises ValueError saying what it may be)."""
        values = self.answer_values(item)
        if text in values:
            return text
        raise ValueError(f"{text!r} is not a {self.name} answer ({' or '.join(map(repr, values))})")

    def practice_explanation(self, right: str) -> str:
        """What practice feedback says about the right answer."""
        return f"The answer is {right}."

    # ------------------------------------------------------------ presentation order
    # A kind whose items are shown in an order picked per overseer (pairwise: which response is on the left)
    # returns that order here; the service shows the item in it and stores answers back in the item's own
    # (canonical) order, recording the order shown with each judgment. Other kinds show items as stored.
    def plan_orders(self, data: TaskData, assignments: Sequence[Any], seed: int) -> None:
        """Decide, once the plan is dealt, the order each overseer is shown each assigned item in, and keep it
        in the items' lead-side meta (`create` stores it). No-op for kinds shown as stored."""

    def shown_order(self, meta: dict[str, Any] | None, overseer: str) -> str | None:
        """The order `overseer` sees this item in (None: as stored). `meta` is the stored item's lead-side meta."""
        return None

    def show(self, item: ItemContent, order: str) -> ItemContent:
        """The item's content as shown in `order`."""
        return item

    def to_canonical(self, value: str, order: str) -> str:
        """An answer given on the item as shown in `order`, in the item's own terms."""
        return value

    def to_shown(self, value: str, order: str) -> str:
        """An answer in the item's own terms, as it reads on the item shown in `order`."""
        return value

    def show_assistance(self, content: Any, order: str) -> Any:
        """Precomputed assistance content (written for the stored order), as it reads in `order`."""
        return content


_KINDS: dict[str, TaskKind] = {}
_BUILTIN = ("sandwich.tasks.code_review", "sandwich.tasks.multiple_choice", "sandwich.tasks.pairwise")
_loaded = False


def _builtin() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN:
            importlib.import_module(module)


def register(kind: TaskKind, *, replace: bool = False) -> TaskKind:
    """Add a task kind (a second of the same name is an error unless `replace`)."""
    if kind.name in _KINDS and not replace:
        raise ValueError(f"task kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a task kind (tests that declare a toy kind clean up with this)."""
    _KINDS.pop(name, None)


def get(name: str) -> TaskKind:
    """The task kind called `name`; KeyError names the registered kinds."""
    _builtin()
    if name not in _KINDS:
        raise KeyError(f"unknown task kind {name!r} (registered: {', '.join(_KINDS)})")
    return _KINDS[name]


def find(name: str | None) -> TaskKind | None:
    """The task kind called `name`, or None."""
    _builtin()
    return _KINDS.get(name or "")


def names() -> list[str]:
    """Every registered task kind's name."""
    _builtin()
    return list(_KINDS)


def of(item: ItemContent) -> TaskKind:
    """The kind of an item (an item of an unregistered kind is read as a plain text item)."""
    return find(item.task_kind) or _Plain()


class _Plain(TaskKind):
    name = "text"
