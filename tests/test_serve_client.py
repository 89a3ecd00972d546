"""The HTTP client as a drop-in `OverseerAPI`: the real overseer app and a second overseer, at once, via a server.

One overseer works through the real Textual app (Pilot) whose session is an
`OverseerClient`; at the same time another overseer labels through the client
API in a thread, the way the app calls it (`tui.app.fetch_step`, log, submit).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from db_sql import sql
from tui_support import add_assistance, create, until_item, write_study

from sandwich.client import OverseerClient
from sandwich.server.harness import ServerProcess
from sandwich.server.tokens import TokenStore
from sandwich.service import StudyService
from sandwich.views import JudgmentIn
from tui.app import OverseerApp, fetch_step
from tui.screens.briefing import BriefingScreen
from tui.screens.done import DoneScreen

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def served(tmp_path: Path):
    db = create(write_study(tmp_path))
    add_assistance(db)
    with StudyService(db) as svc:
        store = TokenStore(svc)
        tokens = {n: store.issue(overseer=n)[0] for n in ("ana", "ben", "chi")}
    with ServerProcess(db) as server:
        yield server, tokens, db


def label_like_the_app(client: OverseerClient, out: dict[str, Any]) -> None:
    """What OverseerApp does, minus the screen: session, briefings, help, logs, submits."""
    try:
        client.start_session("script")
        briefed: set[str] = set()
        first = True
        while True:
            step = fetch_step(client, briefed, first)
            first = False
            if step.view is None:
                break
            if step.briefing:
                briefed.add(step.view.condition)
            client.log("item_shown", step.view.assignment_id, {"position": step.view.position})
            if step.assistance:
                client.log("panel_opened", step.view.assignment_id, {"kind": step.assistance[0].kind})
            fmt = step.view.judgment
            client.submit(
                JudgmentIn(
                    judgment_id=uuid.uuid4().hex,
                    assignment_id=step.view.assignment_id,
                    choice=fmt.choices[0],
                    confidence=fmt.confidence[-1],
                    time_on_item_s=2.0,
                )
            )
        out["progress"] = client.progress()
    except BaseException as e:  # noqa: BLE001 — reported by the test
        out["error"] = e


async def drive_app(client: OverseerClient) -> int:
    """The real app over HTTP: Enter through briefings, open help, answer, submit, until done."""
    app = OverseerApp(client, study_title="tuitest")
    submitted = 0
    async with app.run_test(size=(120, 40)) as pilot:
        previous = None
        while True:
            await until_item(pilot, app, previous)
            if isinstance(app.screen, DoneScreen):
                return submitted
            if isinstance(app.screen, BriefingScreen):
                await pilot.press("enter")
                continue
            view = app.item_screen.view
            if view.assistance_kinds:
                await pilot.press("a")
                await pilot.pause()
            await pilot.press("2", "plus", "plus", "s")
            previous = view.assignment_id
            submitted += 1


def test_two_overseers_label_at_once_one_in_the_app_one_by_script(served) -> None:
    server, tokens, db = served
    ben_out: dict[str, Any] = {}
    ben = threading.Thread(target=label_like_the_app, args=(OverseerClient(server.url, tokens["ben"]), ben_out))
    ben.start()
    ana = OverseerClient(server.url, tokens["ana"])
    submitted = asyncio.run(drive_app(ana))
    ben.join(120)
    assert "error" not in ben_out, ben_out.get("error")
    assert submitted == 6 and ana.progress().done == 6
    assert ben_out["progress"].done == ben_out["progress"].total == 6
    server.stop()
    with StudyService(db, read_only=True) as svc:
        rows = sql(
            svc,
            "SELECT j.overseer, a.overseer AS owner, count(*) AS n FROM judgments j "
            "JOIN assignments a USING (assignment_id) GROUP BY ALL ORDER BY 1",
        )
        events = {r["event"] for r in sql(svc, "SELECT DISTINCT event FROM interactions WHERE overseer = 'ana'")}
    assert rows == [{"overseer": "ana", "owner": "ana", "n": 6}, {"overseer": "ben", "owner": "ben", "n": 6}]
    assert "session_start" in events and len(events) > 2  # the app's own interaction log arrived over HTTP


def test_server_views_equal_the_in_process_service(served) -> None:
    server, tokens, db = served
    chi = OverseerClient(server.url, tokens["chi"])
    for _ in range(2):
        v = chi.next_item()
        chi.submit(JudgmentIn(judgment_id=uuid.uuid4().hex, assignment_id=v.assignment_id, choice="A", confidence=50))
    over_http = {
        "next": chi.next_item(),
        "progress": chi.progress(),
        "items": [chi.item(f"chi:{n:04d}") for n in range(6)],
        "assistance": [chi.assistance(f"chi:{n:04d}") for n in range(6)],
    }
    conditions = sorted({v.condition for v in over_http["items"]})
    over_http["briefings"] = [chi.briefing(c) for c in conditions]
    server.stop()
    with StudyService(db) as svc:
        s = svc.for_overseer("chi")
        in_process = {
            "next": s.next_item(),
            "progress": s.progress(),
            "items": [s.item(f"chi:{n:04d}") for n in range(6)],
            "assistance": [s.assistance(f"chi:{n:04d}") for n in range(6)],
            "briefings": [s.briefing(c) for c in conditions],
        }
    assert over_http == in_process
