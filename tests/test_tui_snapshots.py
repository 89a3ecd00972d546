"""Snapshots of the main screens at 80×24 and 120×40 (timer frozen so they are deterministic).

Update after an intended change with: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tui_support import add_assistance, wait_for

from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.views import JudgmentIn
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen
from tui.screens.done import DoneScreen
from db_sql import sql

SIZES = [(80, 24), (120, 40)]

CODE_STUDY = """study: code-snap
question: Can readers spot bugs with help?
task:
  kind: code-review
  problems: 2
  candidates: {canonical: 1, mutants: 2, seed: 7}
  split: {train: 0.5, seed: 7, by: problem}
gold: {kind: execution, timeout_s: 5}
conditions:
  - {name: unassisted}
  - {name: explain, assistance: [explanation]}
overseers:
  non_experts: [ana, ben]
  items_per_overseer: 4
  versions_per_problem: 2
judgment: {time_limit_s: 300, warn_before_s: 60}
seed: 3
"""

EXPLANATION = ("The function loops over the list and adds the square of each odd, non-negative integer. "
               "Check how it treats negative numbers and floats: the docstring says to ignore them.")


@pytest.fixture(scope="module")
def code_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-problem code-review study (needs the sandbox to compute gold)."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (make system-deps)")
    folder = tmp_path_factory.mktemp("code")
    (folder / "code.yaml").write_text(CODE_STUDY)
    db = folder / "code.duckdb"
    create_study(load_study(folder / "code.yaml"), db)
    add_assistance(db)
    with StudyService(db) as svc:  # one fluent explanation for every item, as a model would give
        sql(svc, "UPDATE assistance SET content = ? WHERE kind = 'explanation'", [f'{{"text": "{EXPLANATION}"}}'])
    return db


@pytest.fixture
def open_app(code_db: Path, tmp_path: Path) -> Iterator[Any]:
    """Build an app on a fresh copy of the study for an overseer (closed after the snapshot)."""
    opened: list[StudyService] = []

    def make(overseer: str, *, finish: bool = False) -> OverseerApp:
        db = tmp_path / "copy.duckdb"  # each snapshot starts from the untouched study
        shutil.copy(code_db, db)
        svc = StudyService(db)
        opened.append(svc)
        session = svc.for_overseer(overseer)
        if finish:
            while (v := session.next_item()) is not None:
                session.submit(JudgmentIn(judgment_id=f"snap-{v.assignment_id}".replace(":", "-"),
                                          assignment_id=v.assignment_id, choice="correct", confidence=70))
        return OverseerApp(session, study_title=svc.study.study, clock=lambda: 0.0)

    yield make
    for svc in opened:
        svc.close()


def first_helped(code_db: Path) -> str:
    """The overseer whose session starts with the explanation part."""
    with StudyService(code_db, read_only=True) as svc:
        return sql(svc, "SELECT overseer FROM assignments WHERE position = 0 AND condition = 'explain'")[0]["overseer"]


async def at_briefing(pilot: Any) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, BriefingScreen))


async def at_item_with_help(pilot: Any) -> None:
    await at_briefing(pilot)
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.item_screen.view is not None and pilot.app.screen is pilot.app.item_screen)
    await pilot.press("a")
    await pilot.pause()


async def at_judgment(pilot: Any) -> None:
    await at_item_with_help(pilot)
    await pilot.press("2", "plus", "plus", "plus", "w", *"negative numbers are not skipped", "escape")
    await pilot.pause()


async def at_done(pilot: Any) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DoneScreen))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_briefing(snap_compare, open_app, code_db, size):
    assert snap_compare(open_app(first_helped(code_db)), terminal_size=size, run_before=at_briefing)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_item_with_code_and_help(snap_compare, open_app, code_db, size):
    assert snap_compare(open_app(first_helped(code_db)), terminal_size=size, run_before=at_item_with_help)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_judgment_filled_in(snap_compare, open_app, code_db, size):
    assert snap_compare(open_app(first_helped(code_db)), terminal_size=size, run_before=at_judgment)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_done(snap_compare, open_app, size):
    assert snap_compare(open_app("ana", finish=True), terminal_size=size, run_before=at_done)
