"""Several `sandwich serve` replicas on one PostgreSQL study: sessions that move between them, client fail-over,
a replica's `kill -9` and a database restart under load, and the same results as a DuckDB study.

Real server processes on 127.0.0.1, real PostgreSQL (a throwaway cluster, tests/pg_cluster.py). What is
stored is counted by judgment id afterwards: every acknowledged judgment exactly once, nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from db_sql import sql
from pg_cluster import Cluster, pg_bin_dir, start_cluster

from sandwich.analysis import analyze_study
from sandwich.client import OverseerClient, ServerUnreachable, server_urls
from sandwich.errors import NotSaved, SandwichError, SessionInUse
from sandwich.rules import utc_now
from sandwich.server.harness import ServerProcess, create_with_tokens, overseer_names, write_load_study
from sandwich.store.postgres_schema import POOL_WAIT_S
from sandwich.views import JudgmentIn, Receipt

pytestmark = pytest.mark.timeout(300)
DATA = Path(__file__).parent / "data"
NO_LIMIT = ["--rate-limit", "0"]  # these clients run flat out; the per-token budget is tested elsewhere


def start_replicas(db: str, folder: Path, n: int = 2) -> list[ServerProcess]:
    """`n` servers of one study, each on its own port, all answering."""
    replicas: list[ServerProcess] = []
    try:
        for k in range(n):
            replicas.append(ServerProcess(db, log=folder / f"replica{k}.log", extra_args=NO_LIMIT).start())
    except BaseException:
        for r in replicas:
            r.kill()
        raise
    return replicas


@pytest.fixture
def replicated(tmp_path: Path, pg_url: str) -> Iterator[tuple[str, list[ServerProcess], dict[str, str]]]:
    """A load study (6 overseers × 30 items) on PostgreSQL, served by two replicas."""
    study = write_load_study(tmp_path, questions=90, overseers=6, items_per_overseer=30)
    tokens, lead = create_with_tokens(study, pg_url, overseer_names(6))
    replicas = start_replicas(pg_url, tmp_path)
    try:
        yield pg_url, replicas, {**tokens, "lead": lead}
    finally:
        for r in replicas:
            r.kill()


def both(a: ServerProcess, b: ServerProcess, k: int) -> list[str]:
    """The two replicas' URLs, half of the overseers starting on each."""
    return [a.url, b.url] if k % 2 else [b.url, a.url]


def label_all(
    urls: list[str], token: str, acked: list[Receipt], errors: list[BaseException], retry_for_s: float = 90
) -> None:
    """An overseer working through every item like the app: open a session, next item, submit, until done."""
    try:
        client = OverseerClient(urls, token, retry_for_s=retry_for_s, timeout=5)
        client.start_session("script")
        while True:
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


def assert_exactly_once(db: str, acked: list[Receipt], assignments: int) -> None:
    """Every acknowledged judgment stored once, nothing else stored, each assignment judged once."""
    rows = sql(db, "SELECT judgment_id, count(*) AS n FROM judgments GROUP BY judgment_id")
    assert all(r["n"] == 1 for r in rows)
    assert {r.judgment_id for r in acked} == {r["judgment_id"] for r in rows}
    assert len({r.judgment_id for r in acked}) == len(rows) == assignments
    assert sql(db, "SELECT count(DISTINCT assignment_id) AS n FROM judgments") == [{"n": assignments}]


def test_server_urls_split_commas_and_repeats_and_refuse_what_is_not_a_url() -> None:
    assert server_urls(["http://a:1,http://b:2/", "http://a:1", "http://c:3"]) == [
        "http://a:1",
        "http://b:2",
        "http://c:3",
    ]
    with pytest.raises(SandwichError, match="not a server URL"):
        server_urls("http://a:1,b:2")
    with pytest.raises(SandwichError, match="No server URL"):
        server_urls(" , ")


def test_a_session_moves_between_replicas_with_its_next_item_timer_and_lease(replicated) -> None:
    db, (a, b), tokens = replicated
    token = tokens["o000"]
    on_a = OverseerClient(a.url, token)
    start = on_a.start_session("tui")
    first = on_a.next_item()
    j = JudgmentIn(judgment_id="moves-00001", assignment_id=first.assignment_id, choice="B", confidence=75)
    receipt = on_a.submit(j)
    second = on_a.next_item()
    on_a.log("item_shown", second.assignment_id)
    on_a.log("item_time", second.assignment_id, {"time_on_item_s": 42.5})

    # the same session on the other replica: the store, not B's memory, says what is next and what is done
    on_b = OverseerClient(b.url, token)
    on_b.session_id = start.session_id
    on_b._h.set_header("X-Sandwich-Session", start.session_id)
    assert on_b.next_item().assignment_id == second.assignment_id
    assert on_b.progress().done == 1
    again = on_b.submit(j)  # a retry with the same id on the other replica: the original receipt, no new row
    assert again.duplicate and again.stored_at == receipt.stored_at
    assert sql(db, "SELECT count(*) AS n FROM judgments") == [{"n": 1}]

    # the lease lives in the store: a second window on B is refused while A's session is live …
    other = OverseerClient(b.url, token)
    with pytest.raises(SessionInUse):
        other.start_session("web")
    # … and once it takes over there, A's window may not write (through either replica)
    taken = other.start_session("web", take_over=True)
    assert taken.interrupted_assignment == second.assignment_id and taken.time_spent_s == 42.5  # the timer moved
    with pytest.raises(SessionInUse):
        on_a.submit(
            JudgmentIn(judgment_id="moves-00002", assignment_id=second.assignment_id, choice="A", confidence=50)
        )
    assert (
        other.submit(
            JudgmentIn(judgment_id="moves-00003", assignment_id=second.assignment_id, choice="C", confidence=50)
        ).duplicate
        is False
    )
    assert on_a.next_item().position == second.position + 1  # A sees B's judgment at once
    assert sql(db, "SELECT judgment_id FROM judgments ORDER BY judgment_id") == [
        {"judgment_id": "moves-00001"},
        {"judgment_id": "moves-00003"},
    ]


def test_overseers_label_through_both_replicas_and_each_judgment_is_stored_once(replicated) -> None:
    db, (a, b), tokens = replicated
    acked: list[Receipt] = []
    errors: list[BaseException] = []
    threads = [
        threading.Thread(daemon=True, target=label_all, args=(both(a, b, k), tokens[name], acked, errors))
        for k, name in enumerate(overseer_names(6))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert not errors, errors
    assert_exactly_once(db, acked, 6 * 30)
    for r in (a, b):  # both did real work
        assert httpx.get(r.url + "/v1/health", timeout=5).json()["writer"]["committed"] > 0
    # the lead's `status` takes the list too: the first server is gone, the answer comes from the second
    a.kill()
    out = subprocess.run(
        [sys.executable, "-m", "sandwich", "status", "--server", a.url, "--server", b.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SANDWICH_LEAD_TOKEN": tokens["lead"], "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert "o005" in out.stdout and "30" in out.stdout


@pytest.mark.slow
def test_kill_9_of_one_replica_mid_load_moves_clients_and_keeps_every_judgment_once(replicated) -> None:
    db, (a, b), tokens = replicated
    acked: list[Receipt] = []
    errors: list[BaseException] = []
    threads = [
        threading.Thread(daemon=True, target=label_all, args=(both(a, b, k), tokens[name], acked, errors))
        for k, name in enumerate(overseer_names(6))
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(acked) >= 40
    a.kill()  # SIGKILL mid-load: requests in flight on A get no answer
    killed_at = len(acked)
    for t in threads:
        t.join(240)
    assert not errors, errors
    assert len(acked) > killed_at and b.proc is not None and b.proc.poll() is None
    assert_exactly_once(db, acked, 6 * 30)
    assert httpx.get(b.url + "/v1/health", timeout=5).json()["writer"]["committed"] >= 6 * 30 - killed_at


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster of this test's own: it is stopped and started mid-test."""
    if pg_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (make system-deps installs Debian's postgresql)")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.slow
def test_a_postgres_restart_mid_load_acknowledges_nothing_while_down_and_resumes(
    tmp_path: Path, own_cluster: Cluster
) -> None:
    db = own_cluster.url("restart")
    study = write_load_study(tmp_path, questions=60, overseers=5, items_per_overseer=30)
    tokens, _ = create_with_tokens(study, db, overseer_names(5))
    a, b = start_replicas(db, tmp_path)
    probe = OverseerClient([a.url], tokens["o004"], retry_for_s=0.5, timeout=20)  # o004 writes only while down
    probe_view = probe.next_item()
    assert probe_view is not None
    probe_j = JudgmentIn(
        judgment_id="while-down-0001", assignment_id=probe_view.assignment_id, choice="C", confidence=100
    )
    acked: list[tuple[float, Receipt]] = []
    refused: list[tuple[float, str]] = []
    errors: list[BaseException] = []

    def overseer(urls: list[str], token: str) -> None:
        """Like the app: a judgment that was not saved is kept and submitted again (same id) a moment later."""
        try:
            # a replica answers 503 once its pool gives up waiting for a connection (POOL_WAIT_S, 5 s); both
            # replicas share the database, so these clients stay on theirs (fail-over is tested above)
            client = OverseerClient(urls[:1], token, retry_for_s=1.0, timeout=20)
            client.start_session("script")
            give_up = time.monotonic() + 200
            while time.monotonic() < give_up:
                try:
                    view = client.next_item()
                except NotSaved:
                    time.sleep(0.2)
                    continue
                if view is None:
                    return
                j = JudgmentIn(
                    judgment_id=uuid.uuid4().hex, assignment_id=view.assignment_id, choice="B", confidence=50
                )
                while time.monotonic() < give_up:
                    try:
                        acked.append((time.monotonic(), client.submit(j)))
                        break
                    except NotSaved as e:
                        assert not isinstance(e, ServerUnreachable), e  # the replicas answer: 503, not saved
                        refused.append((time.monotonic(), j.judgment_id))
                        time.sleep(0.2)
        except BaseException as e:  # noqa: BLE001 — reported by the test
            errors.append(e)

    try:
        threads = [
            threading.Thread(daemon=True, target=overseer, args=(both(a, b, k), tokens[name]))
            for k, name in enumerate(overseer_names(4))
        ]  # o000-o003 label all their items
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        own_cluster.pg_ctl("-m", "fast", "stop")
        down_from_utc = utc_now()
        started = time.monotonic()
        with pytest.raises(NotSaved) as refusal:  # a write while down: refused within the pool's wait, not saved
            probe.submit(probe_j)
        assert not isinstance(refusal.value, ServerUnreachable) and "NOT saved" in refusal.value.message
        assert time.monotonic() - started < 2 * POOL_WAIT_S + 5  # at worst behind one batch already waiting
        health = httpx.get(a.url + "/v1/health", timeout=5)
        time.sleep(1)
        down_until_utc = utc_now()
        own_cluster.start()
        for t in threads:
            t.join(240)
        assert not errors, errors
        assert sql(db, "SELECT count(*) AS n FROM judgments WHERE judgment_id = 'while-down-0001'") == [{"n": 0}]
        # while the database was down nothing was acknowledged: a receipt's stored_at is taken just before its
        # INSERT, so none can fall in that window
        assert not [r for _, r in acked if down_from_utc < r.stored_at.replace(tzinfo=None) < down_until_utc]
        assert health.status_code == 503 and health.json()["writer"]["failing"]  # a proxy takes it out of rotation
        assert health.json()["writer"]["last_error"]
        after = probe.submit(probe_j)  # the kept judgment, submitted again once the database is back
        assert not after.duplicate
        assert_exactly_once(db, [r for _, r in acked] + [after], 4 * 30 + 1)  # everything resumed
        for r in (a, b):
            assert r.proc is not None and r.proc.poll() is None
            assert httpx.get(r.url + "/v1/health", timeout=5).status_code == 200
    finally:
        a.kill()
        b.kill()


def _scripted_session(urls: list[str], tokens: dict[str, str]) -> None:
    """The same judgments in the same order: each overseer in turn, each item by a fixed rule, a submit retried
    once with its id, alternating between the given servers."""
    for k, (name, token) in enumerate(sorted(tokens.items())):
        client = OverseerClient(urls[k % len(urls) :] + urls[: k % len(urls)], token, retry_for_s=20)
        client.start_session("script")
        n = 0
        while (view := client.next_item()) is not None:
            h = int(hashlib.sha256(view.assignment_id.encode()).hexdigest(), 16)
            j = JudgmentIn(
                judgment_id=f"script-{name}-{n:03d}",
                assignment_id=view.assignment_id,
                choice="ABCD"[h % 4],
                confidence=[50, 100][h % 2],
                time_on_item_s=10.0 + h % 50,
            )
            assert not client.submit(j).duplicate
            if n % 4 == 0:
                assert client.submit(j).duplicate
            client._h.fail_over()  # the next request goes to the other replica
            n += 1
        client.close()


def test_the_same_scripted_session_gives_identical_results_on_duckdb_and_two_postgres_replicas(
    tmp_path: Path, pg_url: str
) -> None:
    folder = tmp_path / "c10"
    shutil.copytree(DATA / "c10-prereg-tamper", folder)
    names = ["ana", "ben", "chi", "dev", "eli", "fay"]
    duck = tmp_path / "study.duckdb"
    results: dict[str, dict[str, Any]] = {}
    stored: dict[str, list[dict[str, Any]]] = {}
    for kind, db in (("duckdb", duck), ("postgres", pg_url)):
        tokens, _ = create_with_tokens(folder / "study.yaml", db, names)
        (tmp_path / kind).mkdir()
        replicas = start_replicas(str(db), tmp_path / kind, 1 if kind == "duckdb" else 2)
        try:
            _scripted_session([r.url for r in replicas], tokens)
        finally:
            for r in replicas:
                r.stop()
        stored[kind] = sql(
            db,
            "SELECT judgment_id, assignment_id, overseer, item_id, condition, choice, confidence, "
            "time_on_item_s, source FROM judgments ORDER BY judgment_id",
        )
        analyze_study(db, out_dir=tmp_path / f"out-{kind}", replicates=200, permutations=200, seed=7)
        r = json.loads((tmp_path / f"out-{kind}" / "results.json").read_text())
        for key in ("db", "db_path", "generated_at", "looks"):  # where it was read from, and when: not results
            r.pop(key, None)
        r["preregistration"].pop("frozen_at")  # when each study's first judgment came; the plan hashes must match
        results[kind] = r
    assert len(stored["duckdb"]) == 36
    assert stored["duckdb"] == stored["postgres"]
    assert results["duckdb"] == results["postgres"]


def test_two_windows_opening_at_once_on_two_replicas_get_one_session(replicated) -> None:
    """The lease's read-then-write is held in the store: of two simultaneous opens, one wins, one is refused."""
    _, (a, b), tokens = replicated
    for name in overseer_names(6):
        clients = [OverseerClient(r.url, tokens[name]) for r in (a, b)]
        barrier = threading.Barrier(2)
        outcome: list[str] = []

        def open_one(c: OverseerClient, barrier: threading.Barrier = barrier, outcome: list[str] = outcome) -> None:
            barrier.wait()
            try:
                c.start_session("tui")
                outcome.append("open")
            except SessionInUse:
                outcome.append("refused")

        threads = [threading.Thread(target=open_one, args=(c,), daemon=True) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcome) == ["open", "refused"], (name, outcome)
