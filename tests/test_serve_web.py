"""The browser: a second tab says in the tab what is wrong (not a loading screen forever), and judgments
made in the browser are stored as `client: "web"`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from case_support import create_case
from db_sql import sql
from tui_support import until_item, wait_for

from sandwich.cli import label as label_cli
from sandwich.errors import SandwichError
from sandwich.service import StudyService

pytestmark = pytest.mark.timeout(300)
CASE = "c22-same-overseer-two-sessions"


def _label_web(db: Path) -> None:
    """`sandwich label DB --overseer ana --client web`, as textual-serve starts it for a page (all options given)."""
    label_cli.label(
        study=str(db),
        overseer="ana",
        db=None,
        web=False,
        host="127.0.0.1",
        port=8000,
        theme="dark",
        server=None,
        token=None,
        token_file=None,
        take_over=False,
        client="web",
        allow_missing_help=True,
    )


def test_a_second_tab_shows_why_it_cannot_open_in_the_tab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, db = create_case(CASE, tmp_path)
    # the first tab's process holds the study file
    hold = (
        "import time; from sandwich.service import StudyService; "
        f"s = StudyService({str(db)!r}); print('open', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        shown: list[SandwichError] = []
        monkeypatch.setattr(label_cli, "show_in_browser", shown.append)
        _label_web(db)
    finally:
        holder.kill()
        holder.wait()
    assert len(shown) == 1 and "in use by another process" in shown[0].message

    async def page() -> str:
        app = label_cli.error_app(shown[0])
        async with app.run_test(size=(80, 24)) as pilot:
            from tui.screens.notice import NoticeScreen

            await wait_for(pilot, lambda: isinstance(app.screen, NoticeScreen))
            text = f"{app.screen.title_text}\n{app.screen.body}"
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.return_code == 2)
            return text

    text = asyncio.run(page())
    assert text.startswith("Cannot open your session") and "in use by another process" in text


def test_judgments_from_the_browser_are_stored_as_web(tmp_path: Path) -> None:
    from tui.app import OverseerApp

    _, db = create_case(CASE, tmp_path)

    async def run() -> None:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), client="web")
            async with app.run_test(size=(100, 30)) as pilot:
                await until_item(pilot, app, None)
                await pilot.press("enter")
                await until_item(pilot, app, None)
                aid = app.item_screen.view.assignment_id
                await pilot.press("1", "z", "s")
                await until_item(pilot, app, aid)
                await wait_for(pilot, lambda: bool(svc.store.judgments()))

    asyncio.run(run())
    rows = sql(db, "SELECT json_extract_string(client_meta, '$.client') AS client FROM judgments")
    assert rows == [{"client": "web"}]
    starts = sql(
        db, "SELECT json_extract_string(payload, '$.client') AS client FROM interactions WHERE event = 'session_start'"
    )
    assert starts == [{"client": "web"}]
