"""Proof of the task-kind seam: a kind declared here, in the test suite, goes create → label one item in the
app (Pilot) → analyze, touching no file outside this test.

The toy kind, "true-false", judges short statements; its items and gold come straight from the study file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, ConfigDict
from tui_support import wait_for

from sandwich.analysis import analyze_study
from sandwich.classifiers.data import load_examples
from sandwich.create import create_study
from sandwich.errors import SandwichError
from sandwich.service import StudyService
from sandwich.sim.llm_judge import render_item
from sandwich.studyfile import load_study
from sandwich.tasks import kind as task_kinds
from sandwich.tasks.base import Gold, Item, TaskData
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen


class TrueFalseTask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["true-false"]
    statements: list[tuple[str, bool]]


class TrueFalse(task_kinds.TaskKind):
    name = "true-false"
    config = TrueFalseTask
    default_choices: ClassVar[list[str] | str] = ["true", "false"]
    question_in_item = False
    noun, goal = "statement", "whether this statement is true"
    examples_per_choice, bad_answer = False, "false"
    n_answers = 2

    def load(self, task: Any, study: Any, base: Path, **_: Any) -> TaskData:
        items, gold = [], []
        for n, (text, truth) in enumerate(task.statements):
            items.append(
                Item(
                    item_id=f"tf{n}",
                    task_kind=self.name,
                    problem_id=f"tf{n}",
                    title=f"Statement {n}",
                    body=text,
                    question="Is this statement true?",
                    choices=["true", "false"],
                    split="train" if n % 2 else "test",
                )
            )
            gold.append(Gold(f"tf{n}", "true" if truth else "false", "dataset-label"))
        return TaskData(items, gold)

    def practice_explanation(self, right: str) -> str:
        return f"The statement is {right}."


@pytest.fixture
def toy_task() -> Iterator[task_kinds.TaskKind]:
    kind = task_kinds.register(TrueFalse())
    yield kind
    task_kinds.unregister("true-false")


STATEMENTS = [
    ("Water boils at 100 C at sea level.", True),
    ("The moon is made of cheese.", False),
    ("Paris is in France.", True),
    ("Two plus two is five.", False),
]
STUDY = """study: tf
question: Can readers tell true statements from false ones?
task:
  kind: true-false
  statements: {statements}
gold: {{kind: dataset-label}}
conditions:
  - {{name: unassisted}}
overseers:
  non_experts: [ana]
  items_per_overseer: 4
judgment: {{confidence: [50, 75, 100]}}
"""


def _write(folder: Path, statements: Any = STATEMENTS) -> Path:
    path = folder / "tf.yaml"
    path.write_text(
        STUDY.format(statements=[[t, v] for t, v in statements]).replace("True", "true").replace("False", "false")
    )
    return path


def test_a_task_kind_declared_in_a_test_is_created_labelled_and_analyzed(tmp_path: Path, toy_task: Any) -> None:
    sf = load_study(_write(tmp_path))
    assert sf.study.judgment.choices == ["true", "false"]  # the kind's default answers
    db = tmp_path / "tf.duckdb"
    counts = create_study(sf, db)
    assert counts["items"] == 4 and counts["gold"] == 4

    async def label() -> tuple[str, str]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.item_screen.view is not None and app.screen is app.item_screen)
                view = app.item_screen.view
                judge = render_item(view)
                await pilot.press("1", "plus", "s")
                await wait_for(pilot, lambda: app.item_screen.view.position == 1)
        return view.item.item_id, judge

    item_id, judge = asyncio.run(label())
    text = dict(STATEMENTS)
    statement = STATEMENTS[int(item_id.removeprefix("tf"))][0]
    assert statement in judge and "- true\n- false" in judge  # the LLM judge's view of the toy item
    with StudyService(db, read_only=True) as svc:
        [j] = svc.store.judgments()
    assert j.item_id == item_id and j.choice == "true"

    res = analyze_study(db, replicates=50)
    assert res.judgments == 1
    [group] = [g for g in res.groups if g.group == "unassisted"]
    assert group.judgments == 1 and group.accuracy.est == (1.0 if text[statement] else 0.0)

    with StudyService(db, read_only=True) as svc:
        examples = load_examples(svc)  # classifier examples: one per statement, bad = false
    assert sorted((e.item_id, e.bad) for e in examples) == [("tf0", 0), ("tf1", 1), ("tf2", 0), ("tf3", 1)]


def test_the_toy_kinds_own_rules_check_the_study_file(tmp_path: Path, toy_task: Any) -> None:
    path = _write(tmp_path)
    path.write_text(
        path.read_text().replace("judgment: {confidence", "judgment: {choices: [agree, disagree], confidence")
    )
    with pytest.raises(SandwichError, match=r"true-false judgments are \[true, false\]"):
        load_study(path)
    path = _write(tmp_path, [("Only text", "maybe")])
    with pytest.raises(SandwichError, match="task.statements"):
        load_study(path)


def test_an_unregistered_task_kind_is_refused_with_the_registered_names(tmp_path: Path) -> None:
    with pytest.raises(SandwichError, match="unknown task kind 'true-false'.*code-review, multiple-choice"):
        load_study(_write(tmp_path))


def test_a_toy_kinds_judgments_are_imported_in_its_own_answers(tmp_path: Path, toy_task: Any) -> None:
    """`import judgments` reads answers through the task kind: 'true'/'false' for the toy kind (not code-review's
    'correct'/'buggy'), and an answer it does not have is refused naming the ones it has."""
    from sandwich.importers.judgments import load_judgments

    path = _write(tmp_path)
    path.write_text(path.read_text().replace("  non_experts: [ana]\n  items_per_overseer: 4\n", "  design: observed\n"))
    data = tmp_path / "judgments.csv"
    data.write_text(
        "overseer,item,condition,choice,confidence\nana,tf0,unassisted,true,90\n"
        "ana,tf1,unassisted,true,60\nbo,tf1,unassisted,false,80\n"
    )
    imported = load_judgments(data, load_study(path))
    assert [(j.overseer, j.item_id, j.choice) for j in imported.judgments] == [
        ("ana", "tf0", "true"),
        ("ana", "tf1", "true"),
        ("bo", "tf1", "false"),
    ]
    data.write_text("overseer,item,condition,choice,confidence\nana,tf0,unassisted,correct,90\n")
    with pytest.raises(
        SandwichError,
        match=r"row 1 column 'choice': 'correct' is not a true-false answer "
        r"\('true' or 'false'\)",
    ):
        load_judgments(data, load_study(path))
