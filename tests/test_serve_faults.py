"""Faults under load: kill -9 and restart, clients that vanish mid-request, a disk that refuses writes, SIGTERM.

Each test runs a real server subprocess on 127.0.0.1 and real clients; the
database is read afterwards to check that every acknowledged judgment is
there exactly once and that nothing unacknowledged slipped in.
"""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from db_sql import sql

from sandwich.client import OverseerClient
from sandwich.errors import NotSaved
from sandwich.server.harness import ServerProcess, create_with_tokens, overseer_names, write_load_study
from sandwich.service import StudyService
from sandwich.views import JudgmentIn, Receipt

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def load_study(tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    names = overseer_names(6)
    study = write_load_study(tmp_path, questions=90, overseers=6, items_per_overseer=30)
    tokens, lead = create_with_tokens(study, tmp_path / "load.duckdb", names)
    return tmp_path / "load.duckdb", tokens, lead


def label_all(
    url: str,
    token: str,
    acked: list[Receipt],
    errors: list[BaseException],
    stop: threading.Event,
    retry_for_s: float = 90,
) -> None:
    """An overseer working through every item like the TUI: next item, submit, until done."""
    try:
        client = OverseerClient(url, token, retry_for_s=retry_for_s, timeout=5)
        while not stop.is_set():
            view = client.next_item()
            if view is None:
                return
            acked.append(
                client.submit(
                    JudgmentIn(
                        judgment_id=uuid.uuid4().hex,
                        assignment_id=view.assignment_id,
                        choice="A",
                        confidence=50,
                        time_on_item_s=1.0,
                    )
                )
            )
    except BaseException as e:  # noqa: BLE001 — reported by the test
        errors.append(e)


def stored(db: Path) -> list[dict]:
    with StudyService(db, read_only=True) as svc:
        return sql(svc, "SELECT judgment_id, assignment_id, overseer FROM judgments")


def assert_exactly_once(db: Path, acked: list[Receipt]) -> list[dict]:
    rows = stored(db)
    ids = [r["judgment_id"] for r in rows]
    assert len(ids) == len(set(ids)) and len({r["assignment_id"] for r in rows}) == len(rows)
    assert {r.judgment_id for r in acked} == set(ids)  # nothing acknowledged lost, nothing else stored
    return rows


def test_kill_9_mid_load_then_restart_loses_and_duplicates_nothing(load_study) -> None:
    db, tokens, _ = load_study
    server = ServerProcess(db).start()
    acked: list[Receipt] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    threads = [threading.Thread(target=label_all, args=(server.url, t, acked, errors, stop)) for t in tokens.values()]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(acked) >= 40, errors
    server.kill()  # SIGKILL mid-load: clients are mid-request
    at_kill = len(acked)
    time.sleep(0.5)
    server = ServerProcess(db, port=server.port).start()  # same address: clients retry into the new process
    for t in threads:
        t.join(120)
    server.stop()
    assert not errors, errors
    assert len(acked) == 6 * 30 > at_kill
    rows = assert_exactly_once(db, acked)
    assert len(rows) == 180


def test_sigterm_finishes_in_flight_submits_and_checkpoints(load_study) -> None:
    db, tokens, _ = load_study
    server = ServerProcess(db).start()
    acked: list[Receipt] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=label_all, args=(server.url, t, acked, errors, stop, 2.0)) for t in tokens.values()
    ]
    for t in threads:
        t.start()
    while len(acked) < 30:
        time.sleep(0.02)
    code = server.stop()  # graceful: stop accepting, finish what is in flight, drain the writer, checkpoint
    stop.set()
    for t in threads:
        t.join(120)
    assert code in (0, 143), server.log.read_text()[-2000:]
    assert "stopped; every acknowledged judgment" in server.log.read_text()
    assert not Path(str(db) + ".wal").exists() or Path(str(db) + ".wal").stat().st_size == 0
    assert_exactly_once(db, acked)
    # a client cut off by the shutdown (if any was, which depends on timing) is told NotSaved, never a receipt
    assert all(isinstance(e, NotSaved) for e in errors), errors


def _raw(port: int, data: bytes, *, read: bool) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if not read:
            return b""
        s.shutdown(socket.SHUT_WR)
        return s.recv(65536)


def test_client_disconnecting_mid_submit(load_study) -> None:
    db, tokens, _ = load_study
    name, token = next(iter(tokens.items()))
    with ServerProcess(db) as server:
        client = OverseerClient(server.url, token)
        first, second = client.item(f"{name}:0000"), client.item(f"{name}:0001")
        head = (
            f"POST /v1/overseers/{name}/judgments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        )
        half = json.dumps(
            {"judgment_id": "half-sent-1", "assignment_id": first.assignment_id, "choice": "A", "confidence": 50}
        ).encode()
        # 1. the body stops half way and the connection closes: nothing may be stored
        _raw(
            server.port,
            head.encode() + f"Content-Length: {len(half)}\r\n\r\n".encode() + half[: len(half) // 2],
            read=False,
        )
        # 2. the whole request arrives but the client leaves before the answer; it retries with the same id
        whole = json.dumps(
            {"judgment_id": "left-early-1", "assignment_id": second.assignment_id, "choice": "B", "confidence": 75}
        ).encode()
        _raw(server.port, head.encode() + f"Content-Length: {len(whole)}\r\n\r\n".encode() + whole, read=False)
        time.sleep(0.5)
        receipt = client.submit(
            JudgmentIn(judgment_id="left-early-1", assignment_id=second.assignment_id, choice="B", confidence=75)
        )
        assert client.next_item().assignment_id == first.assignment_id  # the half-sent one was not stored
        assert httpx.get(server.url + "/v1/health").json()["ok"]
    rows = assert_exactly_once(db, [receipt])
    assert [r["assignment_id"] for r in rows] == [second.assignment_id]


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs Linux prlimit")
def test_a_disk_that_refuses_writes_tells_the_client_not_saved(load_study) -> None:
    db, tokens, _ = load_study
    name, token = next(iter(tokens.items()))
    with ServerProcess(db) as server:
        client = OverseerClient(server.url, token, retry_for_s=1.0)
        ok = client.submit(
            JudgmentIn(judgment_id=uuid.uuid4().hex, assignment_id=f"{name}:0000", choice="A", confidence=50)
        )
        pid = server.proc.pid
        # the server may now grow no file at all: its write-ahead log cannot take the next commit (EFBIG)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
        lost = JudgmentIn(judgment_id="refused-by-disk", assignment_id=f"{name}:0001", choice="A", confidence=50)
        try:
            r = httpx.post(
                f"{server.url}/v1/overseers/{name}/judgments",
                content=lost.model_dump_json(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            assert r.status_code == 503 and r.json()["saved"] is False and "NOT saved" in r.json()["message"]
            with pytest.raises(NotSaved, match="NOT saved"):
                client.submit(lost)
            health = httpx.get(server.url + "/v1/health")  # not "ok" while every write fails, and says why
            assert health.status_code == 503 and health.json()["ok"] is False
            writer = health.json()["writer"]
            assert writer["failing"] and writer["failed_writes"] >= 2 and writer["last_error"]
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        assert client.next_item().assignment_id == f"{name}:0001"  # still unjudged
        retried = client.submit(lost)  # the disk is back: the same judgment goes in once
        assert not retried.duplicate
        health = httpx.get(server.url + "/v1/health").json()
        assert health["ok"] and health["writer"]["failed_writes"] >= 2  # ok again; the failures stay counted
    assert_exactly_once(db, [ok, retried])
