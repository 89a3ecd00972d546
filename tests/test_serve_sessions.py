"""c22: one overseer, two sessions. A second session is refused (or takes over, visibly); an answer that
loses the race is shown to the overseer and kept on record; nothing is dropped silently.

In process (two `OverseerSession`s on one file, the overseer app driven by Pilot) and over a real
`sandwich serve` (two HTTP clients, and a client that never opened a session).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest
from case_support import create_case
from db_sql import sql
from tui_support import until_item, wait_for

from sandwich.client import LeadClient, OverseerClient
from sandwich.errors import AlreadyJudged, SessionInUse
from sandwich.leases import Lease, Leases
from sandwich.rules import utc_now
from sandwich.server.harness import ServerProcess
from sandwich.server.tokens import TokenStore
from sandwich.service import StudyService
from sandwich.views import JudgmentIn

pytestmark = pytest.mark.timeout(300)
CASE = "c22-same-overseer-two-sessions"


def _j(aid: str, choice: str, confidence: int = 100) -> JudgmentIn:
    return JudgmentIn(
        judgment_id=uuid.uuid4().hex, assignment_id=aid, choice=choice, confidence=confidence, time_on_item_s=3.0
    )


# ------------------------------------------------------------------ in process
def test_in_process_a_second_session_takes_over_and_the_first_cannot_save(tmp_path: Path) -> None:
    _, db = create_case(CASE, tmp_path)
    with StudyService(db) as svc:
        first, second = svc.for_overseer("ana"), svc.for_overseer("ana")
        first.start_session("tui")
        second.start_session("tui")  # the same process: it replaces the first (an app reopened after a crash)
        with pytest.raises(SessionInUse, match="no longer the active one"):
            first.submit(_j("ana:0000", "B"))
        with pytest.raises(SessionInUse):
            first.log("item_time", "ana:0000", {"time_on_item_s": 1.0})
        second.submit(_j("ana:0000", "A"))
        events = [r.event for r in svc.store.interactions(overseer="ana")]
        assert "session_taken_over" in events
        assert [(r.assignment_id, r.choice) for r in svc.store.judgments()] == [("ana:0000", "A")]


def test_in_process_a_session_held_elsewhere_is_refused_until_it_ends_or_expires(tmp_path: Path) -> None:
    _, db = create_case(CASE, tmp_path)
    with StudyService(db) as svc:
        elsewhere = Leases(svc.store, remote=True)  # a live session held through a server, say
        sid, _ = elsewhere.acquire("ana", "web")
        with pytest.raises(SessionInUse, match="already has a session open") as e:
            svc.for_overseer("ana").start_session("tui")
        assert "--take-over" in (e.value.hint or "")
        assert not svc.store.interactions(overseer="ana")  # nothing recorded for the refused session
        elsewhere.release("ana", sid)
        svc.for_overseer("ana").start_session("tui")  # the other one quit: free
        svc.leases.ttl_s = 0.3
        elsewhere.acquire("ana", "web", take_over=True)
        time.sleep(0.5)  # a crashed session's hold runs out
        svc.for_overseer("ana").start_session("tui")


def test_a_session_whose_app_was_killed_but_never_reaped_does_not_lock_the_overseer_out(tmp_path: Path) -> None:
    """In a container whose first process never reaps orphans, a `kill -9`ed app stays a zombie."""
    _, db = create_case(CASE, tmp_path)
    app = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with StudyService(db) as svc:
            held = Lease(
                "s-crashed", "tui", socket.gethostname(), app.pid, False, utc_now().isoformat(), utc_now().isoformat()
            )
            svc.store.set_meta("session_lease:ana", json.dumps(asdict(held)))
            with pytest.raises(SessionInUse, match="already has a session open"):
                svc.for_overseer("ana").start_session("tui")  # its app still runs: refused
            os.kill(app.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{app.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                assert time.monotonic() < deadline, "the killed app never became a zombie"
                time.sleep(0.05)
            svc.for_overseer("ana").start_session("tui")  # killed, not reaped: its hold is gone at once
    finally:
        app.kill()
        app.wait()


def test_in_process_an_answer_that_lost_the_race_is_said_and_recorded(tmp_path: Path) -> None:
    _, db = create_case(CASE, tmp_path)
    with StudyService(db) as svc:
        s = svc.for_overseer("ana")
        s.submit(_j("ana:0000", "A", 100))
        lost = _j("ana:0000", "B", 50)
        with pytest.raises(AlreadyJudged) as e:
            s.submit(lost)
        assert "already answered from another session (A, 100%" in e.value.message
        assert "your answer (B, 50%) was not recorded" in e.value.message
        again = s.submit(JudgmentIn(**{**lost.model_dump(), "judgment_id": s_first_id(svc)}))  # own retry: silent
        assert again.duplicate
        rec = [r for r in svc.store.interactions(overseer="ana") if r.event == "judgment_conflict"]
        assert len(rec) == 1 and rec[0].payload["choice"] == "B" and rec[0].payload["standing_choice"] == "A"
        assert rec[0].payload["discarded_judgment_id"] == lost.judgment_id


def s_first_id(svc: StudyService) -> str:
    return svc.store.judgments()[0].judgment_id


def test_the_app_tells_the_overseer_when_another_session_answered_first(tmp_path: Path) -> None:
    from tui.app import OverseerApp
    from tui.screens.notice import NoticeScreen

    _, db = create_case(CASE, tmp_path)

    async def run() -> str:
        with StudyService(db) as svc:
            session = svc.for_overseer("ana")
            app = OverseerApp(session, study_title="two-sessions")
            async with app.run_test(size=(100, 30)) as pilot:
                await until_item(pilot, app, None)
                await pilot.press("enter")  # the briefing
                await until_item(pilot, app, None)
                aid = app.item_screen.view.assignment_id
                # the other window's answer lands first (the same session object stands in for it)
                session.submit(_j(aid, "A", 100))
                await pilot.press("2", "z", "s")  # B at the first confidence level
                await wait_for(pilot, lambda: isinstance(app.screen, NoticeScreen))
                text = str(app.screen.body)
                await pilot.press("enter")
                await until_item(pilot, app, aid)
                assert app.item_screen.view.assignment_id != aid
                return text

    text = asyncio.run(run())
    assert "already answered from another session (A, 100%" in text and "(B, 50%) was not recorded" in text
    rows = sql(db, "SELECT payload FROM interactions WHERE event = 'judgment_conflict'")
    assert len(rows) == 1 and '"B"' in rows[0]["payload"]


# ------------------------------------------------------------------ over HTTP
@pytest.fixture
def served(tmp_path: Path):
    _, db = create_case(CASE, tmp_path)
    with StudyService(db) as svc:
        store = TokenStore(svc)
        token, lead = store.issue(overseer="ana")[0], store.issue(lead=True)[0]
    with ServerProcess(db) as server:
        yield server, token, lead, db


def test_over_http_a_second_session_is_refused_and_a_take_over_is_visible(served) -> None:
    server, token, lead, db = served
    first = OverseerClient(server.url, token)
    first.start_session("tui")
    second = OverseerClient(server.url, token)
    with pytest.raises(SessionInUse, match="already has a session open"):
        second.start_session("web")
    raw = httpx.post(
        f"{server.url}/v1/overseers/ana/judgments",
        headers={"Authorization": f"Bearer {token}"},
        json=_j("ana:0000", "A").model_dump(),
    )  # a client that never opened a session
    assert raw.status_code == 409 and raw.json()["error"] == "SessionInUse" and raw.json()["saved"] is False
    assert "a write from outside it is refused" in raw.json()["message"]
    # the second window takes over: the first one cannot save unnoticed
    OverseerClient(server.url, token, take_over=True).start_session("web")
    with pytest.raises(SessionInUse, match="no longer the active one"):
        first.submit(_j("ana:0000", "B"))
    with pytest.raises(SessionInUse):
        first.log("item_time", "ana:0000", {"time_on_item_s": 2.0})
    snap = LeadClient(server.url, lead).snapshot(db.with_name("snap.duckdb"))
    assert sql(snap, "SELECT count(*) AS n FROM judgments") == [{"n": 0}]
    assert [r["event"] for r in sql(snap, "SELECT event FROM interactions ORDER BY ts")] == [
        "session_start",
        "session_taken_over",
        "session_start",
    ]


def test_over_http_the_answer_that_lost_is_said_and_recorded_and_quitting_frees_the_session(served) -> None:
    server, token, lead, db = served
    app = OverseerClient(server.url, token)
    app.start_session("tui")
    app.submit(_j("ana:0000", "A", 100))
    lost = _j("ana:0000", "B", 50)
    with pytest.raises(AlreadyJudged, match=r"your answer \(B, 50%\) was not recorded"):
        app.submit(lost)
    app.log("session_end", None, {"reason": "quit"})
    other = OverseerClient(server.url, token)
    assert other.start_session("web").session_id  # the first one quit: no take-over needed
    snap = LeadClient(server.url, lead).snapshot(db.with_name("snap.duckdb"))
    rows = sql(snap, "SELECT payload FROM interactions WHERE event = 'judgment_conflict'")
    assert len(rows) == 1 and lost.judgment_id in rows[0]["payload"]
