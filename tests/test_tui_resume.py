"""Reopening a session: time on an item adds up over visits (case c21), quitting is not a crash,
and a crash is never reported as a normal exit (case c20's second half)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from db_sql import sql
from test_tui_terminal import Terminal, needs_tmux
from tui_support import create, screen_text, wait_for

from sandwich.service import StudyService
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen
from tui.screens.item import HEARTBEAT_S
from tui.screens.notice import NoticeScreen

CASE = Path(__file__).parent / "data" / "c21-time-after-resume"
MARKUP_CASE = Path(__file__).parent / "data" / "c20-markup-in-item-id"


def stored(db: Path, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return sql(db, query, params)


@pytest.fixture
def case_db(tmp_path: Path) -> Path:
    """c21: two items, one overseer, a 60 s limit with a warning 10 s before."""
    for name in ("study.yaml", "items.jsonl"):
        shutil.copy(CASE / name, tmp_path / name)
    return create(tmp_path / "study.yaml", tmp_path / "s.duckdb")


class Clock:
    """A clock the test moves by hand (the app's timers read it)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def unwrap(screen: str) -> str:
    """A dialog's text without its borders and line breaks, so sentences can be matched whole."""
    return " ".join(w for w in screen.split() if w not in ("│", "┃", "▏", "▕", "█", "▌", "▐"))


async def open_item(pilot: Any, app: OverseerApp) -> str:
    """Through any notice and briefing to the first item; returns the notice's text ('' when none)."""
    notice = ""
    while True:
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, (NoticeScreen, BriefingScreen))
                or (app.screen is app.item_screen and app.item_screen.view is not None)
            ),
        )
        screen = app.screen
        if screen is app.item_screen:
            return notice
        if isinstance(screen, NoticeScreen):
            await wait_for(pilot, lambda: bool(unwrap(screen_text(app)).strip()))  # painted, not only pushed
            notice = unwrap(screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda shown=screen: app.screen is not shown)


async def until_notice_or_briefing(pilot: Any, app: OverseerApp) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, (NoticeScreen, BriefingScreen)))


def test_time_on_item_adds_up_over_visits_and_the_limit_goes_on(case_db):
    clock = Clock(1000.0)

    async def first_visit() -> None:  # 20 s on item 1, then the app stops without quitting (a crash, a kill)
        with StudyService(case_db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), clock=clock)
            async with app.run_test(size=(80, 24)) as pilot:
                await until_notice_or_briefing(pilot, app)
                await open_item(pilot, app)
                clock.now += 20
                await pilot.pause(HEARTBEAT_S + 0.5)  # the running time is logged every few seconds

    async def second_visit() -> tuple[str, str]:
        clock.now = 5000.0  # a new process: its clock has nothing to do with the first one's
        with StudyService(case_db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), clock=clock)
            async with app.run_test(size=(80, 24)) as pilot:
                await until_notice_or_briefing(pilot, app)
                notice = await open_item(pilot, app)
                await pilot.pause()
                status = screen_text(app).splitlines()[1]
                clock.now += 4
                await pilot.press("2", "x", "s")
                await wait_for(pilot, lambda: app.item_screen.view.position == 1)
        return notice, status

    asyncio.run(first_visit())
    notice, status = asyncio.run(second_visit())
    assert "You are at item 1 of 2, 0 of 2 saved." in notice
    assert "stopped unexpectedly" in notice and "not submitted was discarded" in notice
    assert "Time already spent on this item (0:20) still counts: its time limit goes on from 0:40 left." in notice
    assert status.rstrip().endswith("time left 0:40")  # not 1:00: the limit does not start again
    j = stored(case_db, "SELECT time_on_item_s, choice, confidence FROM judgments")[0]
    assert j["time_on_item_s"] == pytest.approx(24.0) and (j["choice"], j["confidence"]) == ("B", 100)
    events = [r["event"] for r in stored(case_db, "SELECT event FROM interactions ORDER BY ts")]
    assert "interrupted" in events


def test_quitting_is_not_reported_as_an_interruption(case_db):
    clock = Clock(0.0)

    async def quit_on_item() -> None:
        with StudyService(case_db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), clock=clock)
            async with app.run_test(size=(80, 24)) as pilot:
                await until_notice_or_briefing(pilot, app)
                await open_item(pilot, app)
                await pilot.press("1")  # a half-made choice
                clock.now += 7
                await pilot.press("ctrl+q")
                await pilot.pause()

    async def reopen() -> tuple[str, Any]:
        with StudyService(case_db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), clock=clock)
            async with app.run_test(size=(80, 24)) as pilot:
                await until_notice_or_briefing(pilot, app)
                notice = await open_item(pilot, app)
                return notice, app.item_screen.query_one("#answer").value

    asyncio.run(quit_on_item())
    notice, answer = asyncio.run(reopen())
    assert "Welcome back" in notice and "You quit while working on this item." in notice
    assert "unexpectedly" not in notice and "You are at item 1 of 2, 0 of 2 saved." in notice
    assert "An answer or confidence you had picked on it but not submitted was discarded" in notice
    assert answer is None  # the half-made choice is gone, as the notice says
    assert "(0:07) still counts: its time limit goes on from 0:53 left" in notice  # quit keeps the time too
    events = [r["event"] for r in stored(case_db, "SELECT event FROM interactions ORDER BY ts")]
    assert "interrupted" not in events and events.count("session_end") == 1


@needs_tmux
def test_kill_9_in_a_real_terminal_keeps_the_time_spent(case_db):
    yaml = case_db.parent / "study.yaml"
    args = [str(yaml), "--db", str(case_db), "--overseer", "ana"]
    term = Terminal(args, size=(80, 24))
    try:
        term.wait_for("Before you start this part")
        term.keys("Enter")
        term.wait_for("time left")
        time.sleep(2 * HEARTBEAT_S + 1)  # about 7 s on the item
        os.kill(term.pid(), signal.SIGKILL)
        term.wait_closed()
    finally:
        term.close()
    term = Terminal(args, size=(80, 24))
    try:
        notice = unwrap(term.wait_for("Session resumed"))
        term.keys("Enter")
        term.wait_for("Before you start this part")
        term.keys("Enter")
        status = term.wait_for("time left").splitlines()[1]
        term.keys("2", "x", "s")
        term.wait_for("Item 2 of 2")
        term.keys("C-q")
        term.wait_closed()
    finally:
        term.close()
    assert "You are at item 1 of 2, 0 of 2 saved." in notice and "still counts" in notice
    m, sec = status.rsplit("time left ", 1)[1].strip().split(":")
    # about 7 s were spent before the kill; at most one heartbeat's worth is lost, and the limit does not restart
    assert 60 * int(m) + int(sec) <= 60 - (7 - HEARTBEAT_S) + 1, status
    j = stored(case_db, "SELECT time_on_item_s FROM judgments")[0]
    assert j["time_on_item_s"] >= 7 - HEARTBEAT_S  # both visits count, not only the last one (about 1 s)


CRASH = """import sys
import tui.app
def boom(self, step):
    raise RuntimeError("boom [/b] while showing an item")
tui.app.OverseerApp._present = boom
from sandwich.cli import main
sys.argv = ["sandwich", "label", *sys.argv[1:]]
main()
"""


@needs_tmux
def test_a_crash_exits_non_zero_and_says_so(tmp_path):
    for name in ("study.yaml", "items.csv"):
        shutil.copy(MARKUP_CASE / name, tmp_path / name)
    db = create(tmp_path / "study.yaml", tmp_path / "s.duckdb")
    script = tmp_path / "crash.py"
    script.write_text(CRASH)
    out = tmp_path / "out.txt"
    term = Terminal.__new__(Terminal)
    term.socket = f"sandwich-test-crash-{os.getpid()}"
    command = (
        f"{sys.executable} {script} {tmp_path / 'study.yaml'} --db {db} --overseer ana "
        f"> {out} 2>&1; echo EXIT=$? >> {out}"
    )
    term.tmux("new-session", "-d", "-s", "main", "-x", "100", "-y", "30", command)
    try:
        end = time.monotonic() + 60
        while "EXIT=" not in (out.read_text() if out.exists() else "") and time.monotonic() < end:
            time.sleep(0.2)
    finally:
        term.close()
    text = out.read_text()
    assert "EXIT=1" in text, text[-2000:]
    assert "the overseer app stopped with an error" in text and "everything submitted is saved" not in text


def test_time_away_from_the_app_is_recorded_and_not_counted(case_db):
    """Focus lost (a browser tab hidden, the terminal window left) stops the item's clock and limit."""
    from textual import events

    clock = Clock(0.0)

    async def run() -> tuple[str, str]:
        with StudyService(case_db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), clock=clock)
            async with app.run_test(size=(80, 24)) as pilot:
                await until_notice_or_briefing(pilot, app)
                await open_item(pilot, app)
                clock.now = 10.0
                app.post_message(events.AppBlur())
                await pilot.pause(0.2)
                clock.now = 40.0  # 30 s away
                await pilot.pause(0.7)
                away = screen_text(app).splitlines()[1]
                app.post_message(events.AppFocus())
                await pilot.pause(0.2)
                clock.now = 45.0
                await wait_for(pilot, lambda: "time left 0:45" in screen_text(app).splitlines()[1], timeout=3)
                back = screen_text(app).splitlines()[1]
                await pilot.press("1", "z", "s")
                await wait_for(pilot, lambda: app.item_screen.view.position == 1)
        return away, back

    away, back = asyncio.run(run())
    assert away.rstrip().endswith("time left 0:50")  # frozen while away
    assert back.rstrip().endswith("time left 0:45")  # 15 s on the item, not 45
    j = stored(case_db, "SELECT time_on_item_s, client_meta FROM judgments")[0]
    assert j["time_on_item_s"] == pytest.approx(15.0) and '"away_s": 30.0' in j["client_meta"]
    rows = stored(case_db, "SELECT event, payload FROM interactions WHERE event LIKE 'focus%' ORDER BY ts")
    assert [(r["event"], r["payload"]) for r in rows] == [
        ("focus_lost", '{"time_on_item_s": 10.0}'),
        ("focus_regained", '{"away_s": 30.0}'),
    ]
