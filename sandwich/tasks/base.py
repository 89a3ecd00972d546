"""What a task produces: items an overseer can see, and gold kept apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Item:
    """One thing to judge. Everything here may be shown to an overseer or an assistant."""

    item_id: str
    task_kind: str
    problem_id: str
    title: str
    prompt: str = ""  # code-review: the problem statement (signature + docstring)
    body: str = ""  # code-review: the candidate program; multiple-choice: the passage
    question: str = ""
    choices: list[str] = field(default_factory=list)
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    split: str = "train"
    role: str = "study"  # 'study' or 'practice'


@dataclass
class Gold:
    """The ground truth for one item. Never reaches an overseer or an assistant."""

    item_id: str
    label: str
    source: str  # 'execution' | 'dataset-label' | 'expert-overseers'
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskData:
    """Everything a task kind yields for a study."""

    items: list[Item]
    gold: list[Gold]
    hidden_tests: dict[str, tuple[str, str]] = field(default_factory=dict)  # problem_id -> (test, entry_point)
    notes: list[str] = field(default_factory=list)  # how the data was read (e.g. the answer reading), for the lead
