"""At 80×24, the documented minimum, every piece of help can be read by keyboard alone (case c27),
the help screen scrolls to every key, a smaller terminal is told what size the app needs, and
answer and confidence have direct keys and show which one is picked by more than colour.

The study's model is `fake_openai.py` from the case: an OpenAI-compatible stand-in (no GPU here)
that answers every follow-up with `ANSWER-START … ANSWER-END`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from db_sql import sql
from test_tui_terminal import Terminal, needs_tmux
from tui_support import (
    add_assistance,
    create,
    screen_text,
    start_fake_model,
    wait_for,
    write_study,
)

from sandwich.service import StudyService
from tui.app import OverseerApp
from tui.keys import KEYS
from tui.screens.briefing import BriefingScreen
from tui.screens.help import HELP
from tui.widgets.followup import FollowUpBox
from tui.widgets.judgment_form import JudgmentForm

CASE = Path(__file__).parent / "data" / "c27-followup-unreadable-80x24"
REPO = Path(__file__).resolve().parent.parent
QUESTION = "Is anything else named as a reason?"


@pytest.fixture(scope="module")
def fake_model() -> Iterator[int]:
    proc, port = start_fake_model(CASE / "fake_openai.py")
    yield port
    proc.kill()
    proc.wait()


@pytest.fixture
def case_db(tmp_path: Path, fake_model: int) -> Path:
    """c27's study, its explanation precomputed by the (fake) model as the case does."""
    shutil.copy(CASE / "items.jsonl", tmp_path / "items.jsonl")
    (tmp_path / "study.yaml").write_text((CASE / "study.yaml").read_text().replace("18820", str(fake_model)))
    db = create(tmp_path / "study.yaml", tmp_path / "s.duckdb")
    out = subprocess.run(
        [sys.executable, "-m", "sandwich", "assist", "precompute", str(db)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return db


def decomposition_db(folder: Path, port: int) -> Path:
    db = create(
        write_study(
            folder,
            conditions="\n  - {name: decompose, assistance: [decomposition]}",
            overseers=1,
            extra=f"assistant: {{backend: vllm, url: 'http://127.0.0.1:{port}/v1', model: fake-model, timeout_s: 20}}",
        )
    )
    add_assistance(db)
    return db


async def first_item(pilot: Any, app: OverseerApp) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is app.item_screen and app.item_screen.view is not None)


async def ask(pilot: Any, app: OverseerApp, *keys: str) -> FollowUpBox:
    """Open the help, aim with `keys`, ask QUESTION and wait for the whole answer."""
    await pilot.press("a", *keys, "f", *QUESTION, "enter")
    box = app.item_screen.query_one(FollowUpBox)
    await wait_for(pilot, lambda: not box.streaming, timeout=30)
    await pilot.pause(0.2)
    return box


def test_followup_answer_is_readable_at_80x24(case_db):
    async def run() -> dict[str, str]:
        with StudyService(case_db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), clock=lambda: 0.0)
            async with app.run_test(size=(80, 24)) as pilot:
                await first_item(pilot, app)
                await ask(pilot, app)
                shown = {"asked": screen_text(app), "focused": str(app.focused.id if app.focused else None)}
                await pilot.press("home")  # the answers pane has focus: the keys scroll it
                await pilot.pause(0.1)
                shown["home"] = screen_text(app)
                await pilot.press("m")  # the whole screen for the help and its answers
                await pilot.pause(0.1)
                shown["maximised"] = screen_text(app)
                await pilot.press("m")
                await pilot.pause(0.1)
                shown["restored"] = screen_text(app)
        return shown

    shown = asyncio.run(run())
    # with no key pressed the newest lines, the answer, are in view; before, the log showed only `You: …`
    assert "Model: ANSWER-START No. The passage gives a single reason" in shown["asked"]
    assert shown["focused"] == "followup-log"
    assert f"You: {QUESTION}" in shown["home"]
    full = shown["maximised"]
    assert f"You: {QUESTION}" in full and "ANSWER-START" in full and "else. ANSWER-END" in full
    assert "The passage gives one reason, in its only sentence." in full  # the help itself stays in view
    assert "time 0:00" in full  # so does the timer
    assert "Confidence %" not in full and "Confidence %" in shown["restored"]


def test_decomposition_followup_and_subquestion_detail_readable_at_80x24(tmp_path, fake_model):
    db = decomposition_db(tmp_path, fake_model)

    async def run() -> tuple[str, str]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), clock=lambda: 0.0)
            async with app.run_test(size=(80, 24)) as pilot:
                await first_item(pilot, app)
                await ask(pilot, app, "down")  # on sub-question 1
                normal = screen_text(app)
                await pilot.press("m")
                await pilot.pause(0.1)
                return normal, screen_text(app)

    normal, full = asyncio.run(run())
    assert "ANSWER-START" in normal
    assert "Sub-question 1: What does the passage say about the river?" in full  # the detail pane had 0 rows
    assert "Model's answer: It rose after a storm." in full
    assert f"You (about sub-question 1): {QUESTION}" in full and "ANSWER-END" in full
    events = [
        r["event"]
        for r in sql(
            db, "SELECT event FROM interactions WHERE event LIKE 'followup%' OR event = 'pane_maximised' ORDER BY ts"
        )
    ]
    assert events == ["followup_asked", "followup_answered", "pane_maximised"]


def key_rows() -> list[tuple[str, str]]:
    """(key, what it does) for every row of the help's key table, as Markdown shows them (no backticks)."""
    return [
        tuple(c.replace("`", "").strip() for c in line.split("|")[1:3])
        for line in HELP.splitlines()
        if line.startswith("| `")
    ]


def test_help_screen_scrolls_to_every_key_at_80x24(case_db):
    async def run() -> list[str]:
        with StudyService(case_db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                await first_item(pilot, app)
                await pilot.press("question_mark")
                await pilot.pause(0.3)
                pages = [screen_text(app)]
                for _ in range(10):
                    if "end ↑" in pages[-1]:
                        break
                    await pilot.press("pagedown")
                    await pilot.pause(0.1)
                    pages.append(screen_text(app))
                return pages

    pages = asyncio.run(run())
    rows = key_rows()
    assert len(rows) == len(KEYS)
    assert ("m", "full screen for the pane you are in (item or help); m or Esc restores") in rows
    seen = "\n".join(pages)
    for key, does in rows:  # a row is shown when its key and the start of its text are (cells wrap)
        assert re.search(r"│ " + re.escape(key.split()[0]) + r" .*│ " + re.escape(does[:24]), seen), (
            f"key row {key!r} never shown"
        )
    assert "more ↓" in pages[0] and "end ↑" in pages[-1]


@pytest.mark.parametrize("size", [(79, 24), (80, 23), (60, 20)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_below_80x24_the_app_says_what_size_it_needs(case_db, size):
    async def run() -> tuple[str, str, str, str]:
        with StudyService(case_db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
                await pilot.resize_terminal(*size)
                await pilot.pause(0.2)
                briefing = screen_text(app)
                await pilot.resize_terminal(80, 24)
                await first_item(pilot, app)
                ok = screen_text(app)
                await pilot.resize_terminal(*size)
                await pilot.pause(0.2)
                small = screen_text(app)
                await pilot.resize_terminal(80, 24)
                await pilot.pause(0.2)
                return briefing, ok, small, screen_text(app)

    briefing, ok, small, again = asyncio.run(run())
    need = f"It is {size[0]}×{size[1]}; the app needs at least 80×24"
    assert need in briefing and need in small
    assert "needs at least" not in ok and "needs at least" not in again
    assert "Confidence %   z 50   x 100" in ok and "x 100" in again  # every option fits at 80×24


def test_direct_confidence_keys_and_choices_marked_by_more_than_colour(tmp_path):
    db = create(
        write_study(
            tmp_path,
            conditions="\n  - {name: unassisted}",
            overseers=1,
            judgment="{choices: item, confidence: [50, 60, 70, 80, 90, 100]}",
        )
    )

    async def run() -> tuple[list[str], list[Any]]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                await first_item(pilot, app)
                form = app.item_screen.query_one(JudgmentForm)
                lines, values = [], []
                for keys in (("2", "n"), ("z",), ("v",), ("minus",)):
                    await pilot.press(*keys)
                    await pilot.pause()
                    text = screen_text(app)
                    lines.append(
                        next(x for x in text.splitlines() if "Answer" in x)
                        + "\n"
                        + next(x for x in text.splitlines() if "Confidence %" in x)
                    )
                    values.append((form.answer.value, form.confidence.value))
                await pilot.press("s")
                await wait_for(pilot, lambda: app.item_screen.view.position == 1)
        return lines, values

    lines, values = asyncio.run(run())
    assert values == [("B", 100), ("B", 50), ("B", 80), ("B", 70)]
    assert "│ Answer         1 A  [2 B]  3 C   4 D " in lines[0]
    assert "Confidence %   z 50   x 60   c 70   v 80   b 90  [n 100]" in lines[0]
    assert "[z 50]" in lines[1] and "[v 80]" in lines[2] and "[c 70]" in lines[3] and lines[3].count("[") == 2
    j = sql(db, "SELECT choice, confidence FROM judgments")[0]
    assert (j["choice"], j["confidence"]) == ("B", 70)


@needs_tmux
def test_followup_answer_in_a_real_80x24_terminal(case_db):
    """c27 as an overseer meets it: tmux at 80×24, ask, read the answer; `m` shows the whole exchange."""
    term = Terminal([str(case_db.parent / "study.yaml"), "--db", str(case_db), "--overseer", "ana"], size=(80, 24))
    try:
        term.wait_for("Before you start this part")
        term.keys("Enter")
        term.wait_for("Item 1 of 2")
        term.keys("a")
        term.wait_for("Ask the model about this item")
        term.keys("f")
        time.sleep(1.0)  # the question box has focus before the question is typed (a busy machine is slow)
        term.tmux("send-keys", "-t", "main", "-l", QUESTION)
        term.wait_for(QUESTION)
        term.keys("Enter")
        shown = term.wait_for("ANSWER-END", timeout=60)  # no key pressed: the newest lines are in view
        term.keys("m")
        full = term.wait_for(f"You: {QUESTION}", timeout=60)
        term.keys("m", "C-q")
        term.wait_closed()
    finally:
        term.close()
    assert "Model: ANSWER-START No. The passage gives a single reason" in shown
    assert "ANSWER-START" in full and "ANSWER-END" in full and "time 0:" in full
