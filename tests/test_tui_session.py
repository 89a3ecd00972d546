"""Whole overseer sessions driven through the real app (Pilot) on a real study file.

One overseer meets all six condition types (unassisted, explanation, decomposition,
critique, consultancy, debate); the tests then read what the study database holds.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from db_sql import sql
from tui_support import add_assistance, create, plain, until_item, wait_for, write_study

from sandwich.service import StudyService
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen
from tui.screens.done import DoneScreen
from tui.screens.help import HelpScreen
from tui.screens.item import ItemScreen
from tui.screens.notice import NoticeScreen
from tui.widgets.assistance_panel import AssistancePanel

KIND_OF = {
    "unassisted": None,
    "explain": "explanation",
    "decompose": "decomposition",
    "critique": "critique",
    "consult": "consultancy",
    "debate": "debate",
}


def screen_name(app: OverseerApp) -> str:
    return type(app.screen).__name__


async def drive(db: Path, overseer: str, *, size: tuple[int, int] = (120, 40)) -> list[dict[str, Any]]:
    """Work through a whole session the way an overseer would; returns what each item showed."""
    seen: list[dict[str, Any]] = []
    svc = StudyService(db)
    app = OverseerApp(svc.for_overseer(overseer), study_title=svc.study.study)
    try:
        async with app.run_test(size=size) as pilot:
            previous = None
            while True:
                await until_item(pilot, app, previous)
                if isinstance(app.screen, DoneScreen):
                    seen.append({"done": True, "text": plain(app.screen.query_one("#done-text"))})
                    break
                if isinstance(app.screen, BriefingScreen):
                    seen.append({"briefing": app.screen.briefing.condition, "text": app.screen.briefing.text})
                    await pilot.press("enter")
                    await until_item(pilot, app, previous)
                    continue
                screen = app.item_screen
                view = screen.view
                assert view is not None
                panel = screen.query_one(AssistancePanel)
                record: dict[str, Any] = {
                    "condition": view.condition,
                    "assignment_id": view.assignment_id,
                    "panel_visible": panel.display,
                }
                if view.assistance_kinds:
                    assert not panel.opened  # help starts closed so first use is measured
                    await pilot.press("a")
                    await pilot.pause()
                    assert panel.opened
                    pane = panel.query_one(f"#pane-{view.assistance_kinds[0]}")
                    record["help_text"] = (
                        plain(pane.query_one(".help-text")) if view.assistance_kinds[0] != "decomposition" else ""
                    )
                    if view.condition == "decompose":
                        await pilot.press("down", "enter")  # expand the first sub-question
                        await pilot.pause()
                        record["detail"] = plain(panel.query_one("#node-detail"))
                await pilot.press("2", "plus", "plus", "w", *"looks right", "escape", "s")
                previous = view.assignment_id
                seen.append(record)
    finally:
        svc.close()
    return seen


@pytest.fixture(scope="module")
def full_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """One overseer's whole session across all six condition types, run once for the module."""
    folder = tmp_path_factory.mktemp("session")
    db = create(write_study(folder))
    add_assistance(db)
    return db, asyncio.run(drive(db, "ana"))


def stored(db: Path, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with StudyService(db, read_only=True) as svc:
        return sql(svc, query, params)


def test_session_runs_briefing_items_done(full_session):
    db, seen = full_session
    briefings = [s["briefing"] for s in seen if "briefing" in s]
    items = [s for s in seen if "condition" in s]
    assert sorted(briefings) == sorted(KIND_OF)  # one briefing per part
    assert [s["condition"] for s in items] == [b for b in briefings]  # each part starts with its briefing
    assert seen[-1]["done"] and "thank you" in seen[-1]["text"]
    rows = stored(db, "SELECT * FROM judgments WHERE overseer = 'ana' ORDER BY created_at")
    assert len(rows) == 6
    assert {r["choice"] for r in rows} == {"B"} and {r["confidence"] for r in rows} == {75}
    assert {r["rationale"] for r in rows} == {"looks right"}
    assert all(r["source"] == "human" and not r["timed_out"] and not r["skipped"] for r in rows)
    assert all(r["time_on_item_s"] is not None and r["time_on_item_s"] >= 0 for r in rows)
    meta = json.loads(rows[0]["client_meta"])
    assert meta["client"] == "tui" and meta["size"] == "120x40"


@pytest.mark.parametrize("condition", list(KIND_OF))
def test_each_condition_shows_only_its_help_and_records_use(full_session, condition):
    db, seen = full_session
    item = next(s for s in seen if s.get("condition") == condition)
    kind = KIND_OF[condition]
    j = stored(db, "SELECT * FROM judgments WHERE assignment_id = ?", [item["assignment_id"]])[0]
    events = stored(
        db, "SELECT event, payload FROM interactions WHERE assignment_id = ? ORDER BY ts", [item["assignment_id"]]
    )
    names = [e["event"] for e in events]
    assert names[0] == "item_shown"
    if kind is None:
        assert not item["panel_visible"]
        assert j["time_to_first_assist_s"] is None
        assert "panel_opened" not in names
        return
    assert item["panel_visible"]
    assert j["time_to_first_assist_s"] is not None and 0 <= j["time_to_first_assist_s"] <= j["time_on_item_s"]
    assert not j["assistance_failed"]
    opened = [json.loads(e["payload"]) for e in events if e["event"] == "panel_opened"]
    assert opened and opened[0]["kind"] == kind
    if kind == "explanation":
        assert "first sentence" in item["help_text"]
    elif kind == "critique":
        assert "off by one" in item["help_text"] and "why:" in item["help_text"]
    elif kind == "consultancy":
        assert "argues for" in item["help_text"] and "may be the wrong one" in item["help_text"]
    elif kind == "debate":
        assert "Debater A" in item["help_text"] and "✓" in item["help_text"] and "✗" in item["help_text"]
    elif kind == "decomposition":
        expanded = [json.loads(e["payload"]) for e in events if e["event"] == "node_expanded"]
        assert expanded == [{"node_id": "1"}]
        assert "It rose after a storm" in item["detail"]


def test_session_level_interactions(full_session):
    db, _ = full_session
    events = [r["event"] for r in stored(db, "SELECT event FROM interactions WHERE overseer = 'ana' ORDER BY ts")]
    assert events[0] == "session_start"
    assert events.count("item_shown") == 6 and events.count("briefing_shown") == 6
    assert events[-1] == "session_finished"
    # nothing of another overseer was touched
    assert stored(db, "SELECT count(*) AS n FROM judgments WHERE overseer <> 'ana'")[0]["n"] == 0


def test_submit_needs_answer_and_confidence(tmp_path):
    db = create(write_study(tmp_path, conditions="\n  - {name: unassisted}", overseers=1, items_per_overseer=6))

    async def run() -> list[str]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                await until_item(pilot, app, None)
                await pilot.press("enter")
                await until_item(pilot, app, None)
                await pilot.press("s")  # nothing picked
                await pilot.press("1", "s")  # no confidence
                await pilot.pause()
                messages = [n.message for n in app._notifications]
                assert app.item_screen.view.position == 0
        return messages

    messages = asyncio.run(run())
    assert any("Pick an answer" in m for m in messages) and any("confident" in m for m in messages)
    assert stored(db, "SELECT count(*) AS n FROM judgments")[0]["n"] == 0


def test_help_theme_and_resume_briefing(tmp_path):
    """? opens help, t switches theme (logged); reopening mid-part shows that part's briefing again."""
    db = create(write_study(tmp_path, conditions="\n  - {name: unassisted}", overseers=1, items_per_overseer=6))

    async def run() -> None:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                await until_item(pilot, app, None)
                await pilot.press("enter")
                await until_item(pilot, app, None)
                await pilot.press("question_mark")
                assert isinstance(app.screen, HelpScreen)
                await pilot.press("escape")
                assert isinstance(app.screen, ItemScreen)
                await pilot.press("t")
                assert app.theme == "textual-light"
                form = app.item_screen.query_one("#judgment")
                await pilot.click("#answer Chip:last-of-type")  # the mouse works too
                await pilot.click("#confidence Chip")
                assert (form.answer.value, form.confidence.value) == ("D", 50)
                await pilot.click("#submit")
                await until_item(
                    pilot, app, sql(svc, "SELECT assignment_id FROM assignments WHERE position = 0")[0]["assignment_id"]
                )
                assert app.item_screen.view.position == 1
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, NoticeScreen) and app.screen.query("#notice-body"))
                assert "Welcome back" in plain(app.screen.query_one("#notice-body"))
                await pilot.press("enter")
                await until_item(pilot, app, None)
                assert isinstance(app.screen, BriefingScreen)  # a reminder of the part you are in
                await pilot.press("enter")
                await until_item(pilot, app, None)
                assert app.item_screen.view.position == 1

    asyncio.run(run())
    events = [r["event"] for r in stored(db, "SELECT event FROM interactions ORDER BY ts")]
    assert "help_opened" in events and "theme_changed" in events
    assert events.count("session_start") == 2
    assert "interrupted" in events  # item 2 had been shown, not judged, when the first run ended
    assert [(r["choice"], r["confidence"]) for r in stored(db, "SELECT choice, confidence FROM judgments")] == [
        ("D", 50)
    ]  # the clicked answer


def test_starts_in_the_light_theme_without_logging_a_change(tmp_path):
    db = create(write_study(tmp_path, conditions="\n  - {name: unassisted}", overseers=1, items_per_overseer=6))

    async def run() -> None:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), theme="textual-light")
            async with app.run_test(size=(80, 24)) as pilot:
                await until_item(pilot, app, None)
                await pilot.press("enter")  # past the briefing, onto the first item
                await until_item(pilot, app, None)
                await pilot.pause()
                assert app.theme == "textual-light" and not app.current_theme.dark

    asyncio.run(run())
    events = [r["event"] for r in stored(db, "SELECT event FROM interactions")]
    assert "theme_changed" not in events and "session_start" in events
