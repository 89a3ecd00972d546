"""Text from data, models and errors is shown as text, never parsed as Textual markup (case c20).

An item id with `[/b]` used to crash the app every time that item came up, and one with
`[one]` lost words. Here markup-like strings go through every place the app shows text.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from db_sql import sql
from textual.widgets._toast import Toast
from tui_support import create, screen_text, until_item, wait_for, write_mc_study

from sandwich.service import StudyService
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen
from tui.screens.done import DoneScreen
from tui.screens.notice import NoticeScreen

CASE = Path(__file__).parent / "data" / "c20-markup-in-item-id"

# what a data file, a model or an error message may contain: every kind of markup Textual would act on
MARKUP = ["[/b]", "[b]", "[one]", "[/x]", "[link=https://x.test]", "[", "[/", "[@click=app.quit]"]


def stored(db: Path, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return sql(db, query, params)


async def answer_all(pilot: Any, app: OverseerApp) -> list[str]:
    """Work through the session (answer 1, lowest confidence); returns each item's screen as shown."""
    screens, previous = [], None
    while True:
        await until_item(pilot, app, previous)
        if isinstance(app.screen, DoneScreen):
            return screens
        if isinstance(app.screen, BriefingScreen):
            await pilot.press("enter")
            await until_item(pilot, app, previous)
            continue
        view = app.item_screen.view
        if view.assistance_kinds:
            await pilot.press("a")
        await pilot.pause()
        screens.append(screen_text(app))
        await pilot.press("1", "z", "s")
        previous = view.assignment_id


def test_item_ids_with_markup_are_shown_literally_and_can_be_judged(tmp_path):
    for name in ("study.yaml", "items.csv"):
        shutil.copy(CASE / name, tmp_path / name)
    db = create(tmp_path / "study.yaml", tmp_path / "s.duckdb")

    async def run() -> list[str]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), study_title=svc.study.study)
            async with app.run_test(size=(100, 30)) as pilot:
                return await answer_all(pilot, app)

    screens = asyncio.run(run())
    titles = sorted(line for s in screens for line in s.splitlines() if "Question " in line)
    assert "╭─ Question draft[/b]-2 ─" in titles[0] and "╭─ Question part[one]-1 ─" in titles[1]
    rows = stored(db, "SELECT item_id, choice FROM judgments ORDER BY item_id")
    assert [(r["item_id"], r["choice"]) for r in rows] == [("mc-draft[/b]-2", "A"), ("mc-part[one]-1", "A")]


NASTY_ROWS = [
    {
        "id": f"n{n}[/b]",
        "passage": f"Passage [b]{n}[/b] says [/x] and [link=https://x.test]go[/link].",
        "question": f"Which one [one] is it {n}? [",
        "choices": [f"c[/]{n}", f"[@click=app.quit]quit{n}", "[b]bold[/b]", "[/"],
        "answer": "A",
    }
    for n in range(6)
]


def nasty_content(kind: str) -> dict[str, Any]:
    """One assistance record of each kind, every text field holding markup-like text."""
    t = "M[/b] [b]x[/b] [/x] [link=https://x.test]y[/link] ["
    return {
        "explanation": {"text": f"explain {t}"},
        "decomposition": {"nodes": [{"id": "1[/b]", "question": f"sub {t}", "answer": f"ans {t}", "children": []}]},
        "critique": {"flaws": [{"where": "[/where]", "what": f"what {t}", "why": f"why {t}"}]},
        "consultancy": {
            "assigned_answer": "[/b]A",
            "turns": [{"speaker": "consultant", "text": f"cons {t}", "quotes": [{"text": "q[/b]", "verified": True}]}],
        },
        "debate": {
            "answers": {"A": "[/b]A", "B": "B[b]"},
            "turns": [
                {"round": 1, "speaker": "A", "text": f"deb {t}", "quotes": [{"text": "[/q]", "verified": False}]}
            ],
        },
    }[kind]


def test_markup_in_data_help_and_errors_is_shown_literally(tmp_path):
    conditions = """
  - {name: unassisted}
  - {name: explain, assistance: [explanation]}
  - {name: decompose, assistance: [decomposition]}
  - {name: critique, assistance: [critique]}
  - {name: consult, assistance: [consultancy]}
  - {name: debate, assistance: [debate]}"""
    db = create(
        write_mc_study(
            tmp_path, name="nasty", rows=NASTY_ROWS, conditions=conditions, overseers=6, items_per_overseer=6
        )
    )
    with StudyService(db) as svc:
        for cond in svc.study.conditions:
            for kind in cond.kinds:
                for it in sql(svc, "SELECT item_id FROM items"):
                    sql(
                        svc,
                        "INSERT INTO assistance (assistance_id, item_id, condition, kind, status, content, "
                        "raw, backend, model) VALUES (?, ?, ?, ?, 'ok', ?, NULL, 'test', 'fixture')",
                        [
                            f"{it['item_id']}:{cond.name}:{kind}",
                            it["item_id"],
                            cond.name,
                            kind,
                            json.dumps(nasty_content(kind)),
                        ],
                    )

    async def run() -> tuple[list[str], str, str]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), study_title="[/b]study")
            async with app.run_test(size=(160, 50), notifications=True) as pilot:
                await until_item(pilot, app, None)
                await pilot.press("enter")  # the first part's briefing
                await until_item(pilot, app, None)
                # an error message holding markup (a failed save, a server's reason)
                app.item_screen.submit_failed(RuntimeError("server said [/b] [red]no"))
                await wait_for(pilot, lambda: bool(app.screen.query(Toast)))
                toast = "\n".join(str(t.render()) for t in app.screen.query(Toast))
                screens = await answer_all(pilot, app)
                app.push_screen(NoticeScreen("Could not [/b] load", "reason [/x] [b]x[/b] [link=https://x.test]"))
                await pilot.pause()
                notice = screen_text(app)
        return screens, notice, toast

    screens, notice, toast = asyncio.run(run())
    every = "\n".join(screens)
    for text in (
        "Passage [b]0[/b] says [/x] and [link=https://x.test]go[/link].",
        "Which one [one] is it",
        "A. c[/]",
        "[@click=app.quit]quit",
        "C. [b]bold[/b]",
        "D. [/",
        "explain M[/b] [b]x[/b] [/x]",
        "1[/b] sub M[/b]",
        "what M[/b]",
        "[/where]",
        "cons M[/b]",
        "“q[/b]”",
        "[/b]A",
        "deb M[/b]",
        "“[/q]”",
    ):
        assert text in every, f"{text!r} is not shown as written"
    assert "Could not [/b] load" in notice and "reason [/x] [b]x[/b] [link=https://x.test]" in notice
    assert "server said [/b] [red]no" in toast
    assert len(stored(db, "SELECT * FROM judgments")) == 6
