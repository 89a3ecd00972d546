"""The server goes down while the overseer submits: the app says so at once, and when the save finally
fails the item's clock goes on (the form is usable again and nothing is lost).

The real app (Pilot) on an HTTP session against a real `sandwich serve`, stopped mid-item.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from case_support import create_case
from tui_support import until_item, wait_for

from sandwich.client import OverseerClient
from sandwich.server.harness import ServerProcess
from sandwich.server.tokens import TokenStore
from sandwich.service import StudyService

pytestmark = pytest.mark.timeout(300)


def test_a_submit_while_the_server_is_down_says_so_at_once_and_the_clock_resumes(tmp_path: Path) -> None:
    from tui.app import OverseerApp
    from tui.widgets.item_timer import ItemTimer

    _, db = create_case("c22-same-overseer-two-sessions", tmp_path)
    with StudyService(db) as svc:
        token = TokenStore(svc).issue(overseer="ana")[0]
    server = ServerProcess(db).start()
    client = OverseerClient(server.url, token, retry_for_s=4.0, timeout=2.0)

    async def run() -> dict:
        app = OverseerApp(client, study_title="two-sessions")
        out: dict = {}
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await until_item(pilot, app, None)
            await pilot.press("enter")
            await until_item(pilot, app, None)
            server.stop()
            loop = asyncio.get_running_loop()
            pressed = loop.time()
            await pilot.press("1", "z", "s")

            def messages():
                return [n.message for n in app._notifications]

            await wait_for(pilot, lambda: any("server unreachable, retrying" in m for m in messages()))
            out["said_after_s"] = loop.time() - pressed
            out["saving"] = [m for m in messages() if "unreachable" in m]
            out["timer_while_saving"] = app.item_screen.query_one(ItemTimer).running
            await wait_for(pilot, lambda: any("Nothing was lost" in m for m in messages()), timeout=30)
            out["failed_after_s"] = loop.time() - pressed
            out["messages"] = messages()
            out["timer_after"] = app.item_screen.query_one(ItemTimer).running
            out["form_locked"] = app.item_screen.query_one("JudgmentForm").locked
            out["time_on_item"] = app.item_screen.time_on_item()
            out["aid"] = app.item_screen.view.assignment_id
        return out

    try:
        out = asyncio.run(run())
    finally:
        client.close()
        server.stop()
    assert out["said_after_s"] < 2.0 < out["failed_after_s"]  # said at once, long before the retries end
    assert out["saving"][0] == "saving… (server unreachable, retrying)"
    assert not out["timer_while_saving"]
    assert any("Nothing was lost: press s to try again" in m for m in out["messages"]), out
    assert out["timer_after"] and not out["form_locked"]
    # the failed save's time is not counted
    assert out["time_on_item"] is not None and out["time_on_item"] < out["failed_after_s"]
    with StudyService(db, read_only=True) as svc:
        assert not svc.store.judgments()  # nothing half-stored
