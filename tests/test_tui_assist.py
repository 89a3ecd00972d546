"""The help panel when help is broken or the model is down, live follow-ups, timers and practice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from db_sql import sql
from tui_support import add_assistance, create, plain, wait_for, write_study

from sandwich.service import StudyService
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen
from tui.screens.notice import NoticeScreen
from tui.widgets.followup import FollowUpBox

ONE_HELPED = "\n  - {name: decompose, assistance: [decomposition]}"
DOWN = "assistant: {backend: vllm, url: 'http://127.0.0.1:9/v1', timeout_s: 3, max_tokens: 8}"


def stored(db: Path, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with StudyService(db, read_only=True) as svc:
        return sql(svc, query, params)


async def open_first_item(pilot: Any, app: OverseerApp) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.item_screen.view is not None and app.screen is app.item_screen)


class Clock:
    """A hand-moved clock for the item timer."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "status,expect",
    [("unparsed", "could not be parsed"), ("failed", "failed to produce"), ("missing", "No help was prepared")],
)
def test_broken_help_is_said_plainly_and_judging_still_works(tmp_path, status, expect):
    db = create(
        write_study(
            tmp_path, conditions="\n  - {name: explain, assistance: [explanation]}", overseers=1, items_per_overseer=6
        )
    )
    if status != "missing":
        add_assistance(db, status=status)

    async def run() -> str:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(120, 40)) as pilot:
                await open_first_item(pilot, app)
                await pilot.press("a")
                await pilot.pause()
                text = plain(app.item_screen.query_one("#pane-explanation .help-text"))
                await pilot.press("3", "plus", "s")
                await wait_for(pilot, lambda: app.item_screen.view.position == 1)
        return text

    text = asyncio.run(run())
    assert expect in text
    if status == "unparsed":
        assert "<<not json>>" in text  # the raw text is shown
    j = stored(db, "SELECT * FROM judgments")[0]
    assert j["choice"] == "C" and j["assistance_failed"] == (status in ("failed", "missing"))


def test_backend_down_followup_says_so_and_judgment_marked(tmp_path):
    db = create(write_study(tmp_path, conditions=ONE_HELPED, overseers=1, items_per_overseer=6, extra=DOWN))
    add_assistance(db)

    async def run() -> str:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(120, 40)) as pilot:
                await open_first_item(pilot, app)
                await pilot.press("a", "down", "f")  # open help, select sub-question 1, ask about it
                await pilot.press(*"is this right?", "enter")
                box = app.item_screen.query_one(FollowUpBox)
                await wait_for(pilot, lambda: not box.streaming, timeout=30)
                text = plain(box.query_one("#followup-text"))
                assert not box.query_one("#followup-q").disabled  # unlocked again
                await pilot.press("escape", "1", "plus", "s")
                await wait_for(pilot, lambda: app.item_screen.view.position == 1)
        return text

    text = asyncio.run(run())
    assert "not available" in text and "You can still judge" in text
    j = stored(db, "SELECT * FROM judgments")[0]
    assert j["assistance_failed"] and j["choice"] == "A" and j["time_to_first_assist_s"] is not None
    events = [r["event"] for r in stored(db, "SELECT event FROM interactions ORDER BY ts")]
    assert "assistance_unavailable" in events


@pytest.mark.slow  # loads the embedded model (tens of seconds on a busy 2-core machine)
def test_followup_streams_from_embedded_model(tmp_path):
    db = create(
        write_study(
            tmp_path,
            conditions=ONE_HELPED,
            overseers=1,
            items_per_overseer=6,
            extra="assistant: {backend: embedded, max_tokens: 200}",
        )
    )  # long enough to see the lock
    add_assistance(db)

    async def run() -> str:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(120, 40)) as pilot:
                await open_first_item(pilot, app)
                await pilot.press("a", "f", *"explain every step in detail", "enter")
                box = app.item_screen.query_one(FollowUpBox)
                assert box.query_one("#followup-q").disabled  # locked while the model answers
                await wait_for(pilot, lambda: not box.streaming, timeout=120)
                return plain(box.query_one("#followup-text"))

    text = asyncio.run(run())
    assert "Model:" in text and "not available" not in text
    events = [r["event"] for r in stored(db, "SELECT event FROM interactions ORDER BY ts")]
    assert "followup_asked" in events and "followup_answered" in events


@pytest.mark.parametrize("pick,on_timeout", [(True, "force"), (False, "force"), (True, "skip")])
def test_timer_warns_then_forces_or_skips(tmp_path, pick, on_timeout):
    judgment = (
        f"{{choices: item, confidence: [50, 75, 100], time_limit_s: 60, warn_before_s: 20, on_timeout: {on_timeout}}}"
    )
    db = create(
        write_study(
            tmp_path, conditions="\n  - {name: unassisted}", overseers=1, items_per_overseer=6, judgment=judgment
        )
    )
    clock = Clock()

    async def run() -> list[str]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), clock=clock)
            async with app.run_test(size=(80, 24)) as pilot:
                await open_first_item(pilot, app)
                timer = app.item_screen.query_one("#timer")
                assert "1:00" in plain(timer)
                if pick:
                    await pilot.press("2")
                clock.now += 45
                timer.tick()
                await pilot.pause()
                assert timer.has_class("-warning") and "0:15" in plain(timer)
                clock.now += 20
                timer.tick()
                await wait_for(pilot, lambda: app.item_screen.view.position == 1)
                assert "1:00" in plain(timer)  # the next item has a fresh timer
                return [n.message for n in app._notifications]

    messages = asyncio.run(run())
    assert any("20 seconds left" in m for m in messages)
    j = stored(db, "SELECT * FROM judgments")[0]
    assert j["timed_out"]
    if pick and on_timeout == "force":
        assert j["choice"] == "B" and j["confidence"] == 50 and not j["skipped"]
        assert json.loads(j["client_meta"])["confidence_defaulted"]
    else:
        assert j["skipped"] and j["choice"] is None
    assert "timer_warning" in [r["event"] for r in stored(db, "SELECT event FROM interactions")]


def test_practice_items_give_feedback_and_are_not_judgments(tmp_path):
    yaml = write_study(tmp_path, conditions="\n  - {name: unassisted}", overseers=1, items_per_overseer=6, rows=7)
    yaml.write_text(yaml.read_text().replace("  items_per_overseer: 6", "  items_per_overseer: 6\n  practice_items: 1"))
    db = create(yaml)

    async def run() -> tuple[str, str]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
                brief = app.screen.briefing.practice_items
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.item_screen.view is not None)
                assert app.item_screen.view.practice
                status = plain(app.item_screen.query_one("#progress-overall"))
                await pilot.press("1", "plus", "s")
                await wait_for(pilot, lambda: isinstance(app.screen, NoticeScreen) and app.screen.query("#notice-body"))
                feedback = plain(app.screen.query_one("#notice-body"))
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.screen is app.item_screen and not app.item_screen.view.practice)
                assert brief == 1
                return status, feedback

    status, feedback = asyncio.run(run())
    assert status.startswith("Practice 1 of 1")
    assert "right answer is" in feedback
    assert stored(db, "SELECT count(*) AS n FROM judgments")[0]["n"] == 0
    events = [r["event"] for r in stored(db, "SELECT event FROM interactions ORDER BY ts")]
    assert "practice_answer" in events and "practice_shown" in events


def test_app_code_reaches_the_study_only_through_the_session():
    """The app never opens DuckDB, the lead-side service, or the gold table itself."""
    root = Path(__file__).resolve().parent.parent / "tui"
    for path in root.rglob("*.py"):
        text = path.read_text()
        for banned in ("import duckdb", "StudyService", "FROM gold", "hidden_tests", ".gold("):
            assert banned not in text, f"{path.name} mentions {banned!r}"
