"""Snapshots of the main screens at 80×24 and 120×40 (timer frozen so they are deterministic).

Update after an intended change with: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from db_sql import sql
from tui_support import add_assistance, start_fake_model, wait_for, write_study
from tui_support import create as create_study_db

from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.views import JudgmentIn
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen
from tui.screens.done import DoneScreen
from tui.widgets.followup import FollowUpBox

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

EXPLANATION = (
    "The function loops over the list and adds the square of each odd, non-negative integer. "
    "Check how it treats negative numbers and floats: the docstring says to ignore them."
)


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
                session.submit(
                    JudgmentIn(
                        judgment_id=f"snap-{v.assignment_id}".replace(":", "-"),
                        assignment_id=v.assignment_id,
                        choice="correct",
                        confidence=70,
                    )
                )
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


# ---------------------------------------------------------------- 80×24: help that must stay readable
CASE27 = Path(__file__).parent / "data" / "c27-followup-unreadable-80x24"
EXPLANATION27 = "The passage gives one reason, in its only sentence. Compare each answer with that reason."


@pytest.fixture(scope="module")
def followup_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """c27's study with its (fake) model running: an explanation part with live follow-ups."""
    proc, port = start_fake_model(CASE27 / "fake_openai.py")
    folder = tmp_path_factory.mktemp("followup")
    shutil.copy(CASE27 / "items.jsonl", folder / "items.jsonl")
    (folder / "study.yaml").write_text((CASE27 / "study.yaml").read_text().replace("18820", str(port)))
    db = create_study_db(folder / "study.yaml")
    with StudyService(db) as svc:
        sql(
            svc,
            "INSERT INTO assistance (assistance_id, item_id, condition, kind, status, content, raw, backend, "
            "model) SELECT item_id || ':explain', item_id, 'explain', 'explanation', 'ok', ?, NULL, 'test', "
            "'fixture' FROM items",
            [json.dumps({"text": EXPLANATION27})],
        )
    yield db
    proc.kill()
    proc.wait()


@pytest.fixture(scope="module")
def debate_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("debate")
    db = create_study_db(write_study(folder, conditions="\n  - {name: debate, assistance: [debate]}", overseers=1))
    add_assistance(db)
    return db


@pytest.fixture
def mc_app(tmp_path: Path) -> Iterator[Any]:
    """An app for ana on a fresh copy of a study (closed after the snapshot)."""
    opened: list[StudyService] = []

    def make(db: Path) -> OverseerApp:
        copy = tmp_path / "copy.duckdb"
        shutil.copy(db, copy)
        opened.append(StudyService(copy))
        return OverseerApp(opened[-1].for_overseer("ana"), study_title="snap", clock=lambda: 0.0)

    yield make
    for svc in opened:
        svc.close()


async def at_first_item(pilot: Any) -> None:
    await at_briefing(pilot)
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.item_screen.view is not None and pilot.app.screen is pilot.app.item_screen)


async def at_followup_answer(pilot: Any) -> None:
    await at_first_item(pilot)
    await pilot.press("a", "f", *"Is anything else named as a reason?", "enter")
    box = pilot.app.item_screen.query_one(FollowUpBox)
    await wait_for(pilot, lambda: not box.streaming, timeout=30)
    await pilot.pause(0.2)


async def at_followup_full_screen(pilot: Any) -> None:
    await at_followup_answer(pilot)
    await pilot.press("m")
    await pilot.pause(0.2)


async def at_help(pilot: Any) -> None:
    await at_first_item(pilot)
    await pilot.press("question_mark")
    await pilot.pause(0.3)


async def at_debate(pilot: Any) -> None:
    await at_first_item(pilot)
    await pilot.press("a", "1", "c")
    await pilot.pause(0.2)


async def at_debate_full_screen(pilot: Any) -> None:
    await at_debate(pilot)
    await pilot.press("m")
    await pilot.pause(0.2)


def test_followup_answer_80x24(snap_compare, mc_app, followup_db):
    assert snap_compare(mc_app(followup_db), terminal_size=(80, 24), run_before=at_followup_answer)


def test_followup_full_screen_80x24(snap_compare, mc_app, followup_db):
    assert snap_compare(mc_app(followup_db), terminal_size=(80, 24), run_before=at_followup_full_screen)


def test_help_screen_80x24(snap_compare, mc_app, debate_db):
    assert snap_compare(mc_app(debate_db), terminal_size=(80, 24), run_before=at_help)


def test_debate_80x24(snap_compare, mc_app, debate_db):
    assert snap_compare(mc_app(debate_db), terminal_size=(80, 24), run_before=at_debate)


def test_debate_full_screen_80x24(snap_compare, mc_app, debate_db):
    assert snap_compare(mc_app(debate_db), terminal_size=(80, 24), run_before=at_debate_full_screen)


def test_too_small_79x23(snap_compare, mc_app, debate_db):
    assert snap_compare(mc_app(debate_db), terminal_size=(79, 23), run_before=at_first_item)
