"""c26: what an overseer's HTTP client sends that only the server may decide, over a real `sandwich serve`.

Provenance (`source`) is the server's; times are finite and bounded; interaction events are
checked against the clients' allow-list (the server's own events are reserved); practice ids
are checked for ownership; each token has a request budget (429 + Retry-After).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from case_support import create_case
from db_sql import sql

from sandwich.client import LeadClient, OverseerClient
from sandwich.interactions import CLIENT_EVENTS, SERVER_EVENTS
from sandwich.server.budget import Budget, TokenBudgets
from sandwich.server.harness import ServerProcess
from sandwich.server.tokens import TokenStore
from sandwich.service import StudyService

pytestmark = pytest.mark.timeout(300)
CASE = "c26-http-client-claims"


def _tokens(db: Path) -> dict[str, str]:
    with StudyService(db) as svc:
        store = TokenStore(svc)
        return {
            "ana": store.issue(overseer="ana")[0],
            "ben": store.issue(overseer="ben")[0],
            "lead": store.issue(lead=True)[0],
        }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("claims")
    _, db = create_case(CASE, folder)
    tokens = _tokens(db)
    with ServerProcess(db, extra_args=["--rate-limit", "2"]) as server:  # bursts of 40 requests per token
        yield server, tokens, db


def _post(server: ServerProcess, token: str, route: str, body: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/overseers/ana/{route}",
        content=body,
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )


def test_server_owned_fields_and_bounds(served) -> None:
    server, tokens, db = served
    ana = tokens["ana"]
    first = "ana:0000"

    def judgment(extra: str, aid: str = first) -> httpx.Response:
        return _post(
            server,
            ana,
            "judgments",
            f'{{"judgment_id":"claim-{uuid.uuid4().hex}","assignment_id":"{aid}",'
            f'"choice":"A","confidence":100{extra}}}',
        )

    # 1. provenance: a person's token cannot store simulated data
    r = judgment(',"source":"llm"')
    assert r.status_code == 422 and "source" in r.json()["message"] and r.json()["saved"] is False
    # 2. times: not Infinity, NaN, 1e308, nor past the item's 120 s limit plus 60 s of slack
    for bad in ("Infinity", "NaN", "-Infinity", "1e308", "181", "-1"):
        r = judgment(f',"time_on_item_s":{bad}')
        assert r.status_code == 422, (bad, r.text)
    r = judgment(',"time_on_item_s":1e999')  # overflows to inf when parsed
    assert r.status_code == 422
    assert judgment(',"client_meta":{"away_s":NaN}').status_code == 422
    assert judgment(',"time_on_item_s":179.5,"source":"human"').status_code == 200

    # 3. events: the server's own are reserved, unknown ones refused, times in payloads bounded
    def event(e, payload="{}", aid=first):
        return _post(server, ana, "interactions", f'{{"event":"{e}","assignment_id":"{aid}","payload":{payload}}}')

    r = event("followup_answered", '{"question":"is it A?","answer":"made up by the client"}')
    assert r.status_code == 422 and "server" in r.json()["message"]
    assert event("session_start").status_code == 422
    assert event("note").status_code == 422
    for bad in (
        '{"time_on_item_s":1e9}',
        '{"time_on_item_s":NaN}',
        '{"time_on_item_s":-3}',
        '{"time_on_item_s":"12"}',
        '{"away_s":Infinity}',
    ):
        assert event("item_time", bad).status_code == 422, bad
    assert event("item_time", '{"time_on_item_s":42.5}').status_code == 204
    assert event("focus_lost", '{"time_on_item_s":3}').status_code == 204
    assert event("pane_maximised", '{"pane":"help"}').status_code == 204
    assert (
        event(
            "item_time",
            json.dumps({"pad": "x" * 9000}),
        ).status_code
        == 422
    )  # payload over 8 KiB
    # 4. another overseer's practice id is not ana's
    assert event("item_time", '{"time_on_item_s":1}', "practice:ben:0000").status_code == 404
    assert event("item_time", '{"time_on_item_s":1}', "practice:unassisted:r01").status_code == 404  # not practice

    snap = LeadClient(server.url, tokens["lead"]).snapshot(db.with_name("snap.duckdb"))  # the file is served
    rows = sql(snap, "SELECT assignment_id, source, simulated, time_on_item_s FROM judgments")
    assert rows == [{"assignment_id": first, "source": "human", "simulated": False, "time_on_item_s": 179.5}]
    events = sql(snap, "SELECT event, assignment_id FROM interactions WHERE overseer = 'ana' ORDER BY ts")
    assert [e["event"] for e in events] == ["item_time", "focus_lost", "pane_maximised"]


def test_every_event_the_overseer_app_logs_is_allowed_and_none_is_reserved() -> None:
    import re

    tui = Path(__file__).resolve().parent.parent / "tui"
    logged = set()
    for f in tui.rglob("*.py"):
        logged |= set(re.findall(r"(?:record|_record|_used_help)\(\s*\"([a-z_]+)\"", f.read_text()))
        logged |= set(re.findall(r"\"(practice_shown|item_shown)\"", f.read_text()))
    assert {"item_time", "focus_lost", "focus_regained", "pane_maximised", "pane_restored"} <= logged
    assert logged <= CLIENT_EVENTS, logged - CLIENT_EVENTS
    assert not CLIENT_EVENTS & SERVER_EVENTS


def test_a_token_over_its_budget_gets_429_with_retry_after_and_others_do_not(served) -> None:
    server, tokens, _ = served
    codes, retry = [], None
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens['ben']}"}) as c:
        for _ in range(60):
            r = c.get("/v1/overseers/ben/progress")
            codes.append(r.status_code)
            if r.status_code == 429:
                retry = r.headers["retry-after"]
                assert r.json()["error"] == "TooManyRequests"
    assert 35 <= codes.count(200) <= 45 and codes.count(429) >= 15  # a burst of 40, then 2 per second
    assert retry is not None and int(retry) >= 1
    other = httpx.get(server.url + "/v1/overseers/ana/progress", headers={"Authorization": f"Bearer {tokens['ana']}"})
    assert other.status_code == 200
    # the client waits as told and then succeeds, instead of failing the overseer
    client = OverseerClient(server.url, tokens["ben"], retry_for_s=10)
    assert client.progress().total == 4
    client.close()


def test_byte_budget_refuses_then_refills() -> None:
    now = [0.0]
    b = TokenBudgets(
        Budget(requests_per_s=100, request_burst=100, bytes_per_s=1000, byte_burst=5000), clock=lambda: now[0]
    )
    assert b.charge("t", 4000) == 0
    assert b.charge("t", 4000) == 3  # 1000 left; 3000 more at 1000/s
    assert b.charge("u", 4000) == 0  # another token has its own budget
    now[0] = 3.0
    assert b.charge("t", 4000) == 0
    assert TokenBudgets(Budget(requests_per_s=0)).charge("t", 10**9) == 0  # off
