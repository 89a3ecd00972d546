"""`sandwich serve` over real HTTP: who may reach what, malformed requests, idempotent submits, lead routes.

One real server (a subprocess on a free 127.0.0.1 port) serves a small study
for the whole module; every route in its published OpenAPI schema is tried with
no token, a wrong token, another overseer's token and the wrong role.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from conftest import write_mc_study

from sandwich.client import AccessDenied, LeadClient, OverseerClient
from sandwich.errors import AlreadyJudged, AssistanceUnavailable, NotFound, SandwichError, StudyLocked
from sandwich.server.harness import ServerProcess, create_with_tokens
from sandwich.service import StudyService
from sandwich.store import AssistanceRecord
from sandwich.views import JudgmentIn

pytestmark = pytest.mark.timeout(300)


class Served:
    def __init__(self, server: ServerProcess, tokens: dict[str, str], lead: str, db: Path) -> None:
        self.server, self.tokens, self.lead, self.db, self.url = server, tokens, lead, db, server.url

    def get(self, path: str, token: str | None = None, **kw) -> httpx.Response:
        return self.req("GET", path, token, **kw)

    def req(self, method: str, path: str, token: str | None = None, **kw) -> httpx.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("served")
    db = folder / "mc.duckdb"
    # the model backend is down (nothing listens on port 9): follow-ups must say so, not hang or crash
    down = "assistant: {backend: vllm, url: 'http://127.0.0.1:9/v1', model: m, timeout_s: 5}\n"
    tokens, lead = create_with_tokens(write_mc_study(folder, extra=down), db, ["ana", "ben"])
    with StudyService(db) as svc:  # assistance marked with its condition, to see that none leaks across
        svc.store.put_assistance(
            [
                AssistanceRecord(
                    f"{item.item_id}-{cond}", item.item_id, cond, kind, "ok", content={"marker": f"only-for-{cond}"}
                )
                for item in svc.store.items()
                for cond, kind in (("consult", "consultancy"), ("debate", "debate"))
            ]
        )
    with ServerProcess(db) as server:
        yield Served(server, tokens, lead, db)


def _routes(served: Served) -> list[tuple[str, str, bool]]:
    """(method, concrete path, is_lead) for every route in the published schema except health."""
    schema = served.get("/openapi.json").json()
    fill = {"{overseer}": "ana", "{assignment_id}": "ana:0000", "{condition}": "unassisted", "{token_id}": "abc123"}
    out = []
    for path, ops in schema["paths"].items():
        if path in ("/v1/health",):
            continue
        for key, value in fill.items():
            path = path.replace(key, value)
        out += [(m.upper(), path, path.startswith("/v1/lead")) for m in ops]
    return out


def test_openapi_schema_and_docs_are_published(served: Served) -> None:
    schema = served.get("/openapi.json").json()
    assert "/v1/overseers/{overseer}/judgments" in schema["paths"]
    assert "/v1/lead/snapshot" in schema["paths"]
    assert served.get("/docs").status_code == 200
    assert len(_routes(served)) >= 15


def test_every_route_refuses_missing_wrong_and_foreign_tokens(served: Served) -> None:
    body = {"json": {}}
    for method, path, is_lead in _routes(served):
        for token in (None, "sw_000000000000.not-a-real-secret", "garbage"):
            r = served.req(method, path, token, **body)
            assert r.status_code == 401, (method, path, token, r.text)
            assert r.json()["error"] == "Unauthorized" and r.headers["www-authenticate"] == "Bearer"
        if path == "/v1/whoami":
            continue
        wrong = [served.tokens["ana"], served.tokens["ben"]] if is_lead else [served.tokens["ben"], served.lead]
        for token in wrong:
            r = served.req(method, path, token, **body)
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["error"] == "Forbidden"


def test_refusals_are_audited(served: Served) -> None:
    served.get("/v1/overseers/ana/next", served.tokens["ben"])
    served.get("/v1/lead/status")
    rows = LeadClient(served.url, served.lead).audit()
    statuses = {(r["path"], r["status"], r["subject"]) for r in rows}
    assert ("/v1/overseers/ana/next", 403, "ben") in statuses
    assert ("/v1/lead/status", 401, None) in statuses


def test_overseer_reaches_only_own_work_and_never_gold(served: Served) -> None:
    ana = OverseerClient(served.url, served.tokens["ana"])
    with pytest.raises(NotFound):
        ana.item("ben:0000")
    with pytest.raises(NotFound):
        ana.assistance("ben:0000")
    with pytest.raises(NotFound):  # a judgment for someone else's assignment is not stored
        ana.submit(JudgmentIn(judgment_id=uuid.uuid4().hex, assignment_id="ben:0000", choice="A", confidence=50))
    seen = []
    for n in range(12):
        view = ana.item(f"ana:{n:04d}")
        help_ = ana.assistance(view.assignment_id)
        assert [a.kind for a in help_] == view.assistance_kinds
        for a in help_:  # only the assignment's own condition's assistance
            assert a.content == {"marker": f"only-for-{view.condition}"}
        seen.append(view.model_dump_json() + json.dumps([a.model_dump(mode="json") for a in help_]))
    text = "".join(seen) + ana.progress().model_dump_json()
    assert '"label"' not in text and "gold" not in text.lower() and '"answer"' not in text


def test_malformed_oversized_unknown_fields_and_path_tricks_are_rejected_cleanly(served: Served) -> None:
    ana = served.tokens["ana"]
    submit = "/v1/overseers/ana/judgments"
    r = served.req("POST", submit, ana, content=b'{"judgment_id": "abc', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "MalformedJSON" and r.json()["saved"] is False
    r = served.req(
        "POST",
        submit,
        ana,
        json={"judgment_id": "abcdefgh99", "assignment_id": "ana:0000", "choice": "A", "confidence": 50, "gold": "A"},
    )
    assert r.status_code == 422 and "gold" in r.json()["message"]
    r = served.req("POST", submit, ana, json=[1, 2, 3])
    assert r.status_code == 422
    big = {"judgment_id": "abcdefgh98", "assignment_id": "ana:0000", "rationale": "x" * 70_000}
    r = served.req("POST", submit, ana, json=big)
    assert r.status_code == 413 and r.json()["error"] == "TooLarge"

    def chunks():
        for _ in range(20):
            yield b" " * 8192

    r = served.req("POST", submit, ana, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    # raw request lines, so that no client library normalises the tricks away
    for path in [
        "/v1/overseers/ana/items/..%2F..%2Flead%2Fstatus",
        "/v1/overseers/ana/items/%2e%2e",
        "/v1/overseers/../lead/status",
        "/v1/overseers/ana/../ben/next",
        "/v1/overseers/%2e%2e/next",
        "/v1/overseers/ana/items/ana%3A0000%00",
        "/v1/overseers/ana/briefing/..%5C..%5Cetc",
        "/v1/overseers/ana%2Fnext",
        "//v1/overseers/ana/next/../../lead/status",
    ]:
        con = http.client.HTTPConnection("127.0.0.1", served.server.port, timeout=10)
        con.putrequest("GET", path, skip_accept_encoding=True)
        con.putheader("Authorization", f"Bearer {ana}")
        con.endheaders()
        resp = con.getresponse()
        body = resp.read()
        assert resp.status in (400, 403, 404, 422), (path, resp.status, body)
        assert b"Traceback" not in body and b"label" not in body


def test_submit_is_idempotent_and_conflicts_are_refused(served: Served) -> None:
    ana = OverseerClient(served.url, served.tokens["ana"])
    view = ana.next_item()
    j = JudgmentIn(judgment_id=uuid.uuid4().hex, assignment_id=view.assignment_id, choice="B", confidence=75)
    first, again = ana.submit(j), ana.submit(j)
    assert not first.duplicate and again.duplicate and again.stored_at == first.stored_at
    with pytest.raises(AlreadyJudged):  # a different judgment for an already-judged assignment
        ana.submit(
            JudgmentIn(judgment_id=uuid.uuid4().hex, assignment_id=view.assignment_id, choice="A", confidence=50)
        )
    with pytest.raises(SandwichError, match="not allowed"):
        ana.submit(
            JudgmentIn(
                judgment_id=uuid.uuid4().hex, assignment_id=ana.next_item().assignment_id, choice="Z", confidence=50
            )
        )
    assert ana.next_item().assignment_id != view.assignment_id


def test_follow_up_refused_where_not_allowed_and_backend_down_is_said(served: Served) -> None:
    ana = OverseerClient(served.url, served.tokens["ana"])
    views = [ana.item(f"ana:{n:04d}") for n in range(12)]
    plain = next(v for v in views if v.condition == "unassisted")
    with pytest.raises(SandwichError, match="does not allow"):
        list(ana.follow_up(plain.assignment_id, "Is option A right?"))
    helped = next(v for v in views if v.live_followups)
    with pytest.raises(AssistanceUnavailable):
        list(ana.follow_up(helped.assignment_id, "Is option A right?"))
    with pytest.raises(SandwichError):  # an empty question never reaches the model
        list(ana.follow_up(helped.assignment_id, ""))


def test_lead_routes_status_export_snapshot_and_tokens(served: Served, tmp_path: Path) -> None:
    lead = LeadClient(served.url, served.lead)
    assert lead.status()["study"] == "mc"
    z = lead.export(tmp_path / "export.zip")
    names = zipfile.ZipFile(z).namelist()
    assert "judgments.parquet" in names and "gold/gold.parquet" in names
    snap = lead.snapshot(tmp_path / "snap.duckdb")
    with StudyService(snap, read_only=True) as svc:  # a complete study database, as `sandwich analyze` needs
        assert svc.study.study == "mc" and svc.gold() and svc.status()["assignments"]
        looks = svc.store.looks()  # both looks were logged, by the lead token, before the copy was taken
        assert [look.action for look in looks][-2:] == ["export", "snapshot"]
        assert looks[-1].who == f"lead (token {served.lead[3:].split('.')[0]})"
        assert looks[-1].planned == svc.planned_judgments() == 36
    with pytest.raises(StudyLocked):  # taking it did not loosen the server's hold on the study file
        StudyService(served.db)

    issued = lead.issue_token(overseer="chi")
    chi = OverseerClient(served.url, issued["token"])
    assert chi.overseer == "chi" and chi.progress().total == 12
    assert any(t["token_id"] == issued["token_id"] for t in lead.tokens())
    lead.revoke_token(issued["token_id"])
    with pytest.raises(AccessDenied):
        chi.progress()
    with pytest.raises(AccessDenied):
        OverseerClient(served.url, served.lead)  # a lead token cannot label


def test_tokens_cli_while_served_points_to_the_server(served: Served) -> None:
    cmd = [sys.executable, "-m", "sandwich", "tokens", "issue", str(served.db), "--overseer", "ana"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--server" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = subprocess.run(
        cmd + ["--server", served.url, "--lead-token", served.lead], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert OverseerClient(served.url, token).overseer == "ana"


def test_port_in_use_is_a_clear_error(served: Served) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = subprocess.run(
            [sys.executable, "-m", "sandwich", "serve", str(served.db), "--port", str(s.getsockname()[1])],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 2 and "--port" in r.stderr
