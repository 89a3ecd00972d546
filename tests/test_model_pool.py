"""A pool of model servers (`assistant.url` as a list): spreading, health checks, retry elsewhere, cut-offs.

The servers are small OpenAI-compatible stand-ins (tests/openai_standin.py) on free
loopback ports: real HTTP, real SSE over chunked transfer, real dead ports, and one
real `kill -9` of a server process mid-answer. The one real vLLM server test is
tests/test_vllm_server.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai_standin import StandIn, free_port
from test_assistants import STUDY, _make_study
from test_create import cli
from typer.testing import CliRunner

from assistants.backends.base import BackendUnreachable, get_backend
from assistants.backends.pool import CUT_OFF, ServerPool
from assistants.backends.vllm_http import VLLMHTTPBackend
from sandwich.cli import app
from sandwich.config import AssistantSpec
from sandwich.errors import AssistanceUnavailable, StudyFileError
from sandwich.service import StudyService
from sandwich.studyfile import validate_text

MODEL = "standin"


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def servers() -> Iterator[list[StandIn]]:
    """Three healthy stand-in servers named a, b, c."""
    started = [StandIn(n).start() for n in "abc"]
    yield started
    for s in started:
        s.stop()


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


# ------------------------------------------------------------------ spreading
def test_sequential_requests_go_round_robin(servers: list[StandIn]) -> None:
    pool = ServerPool([s.url for s in servers], MODEL)
    gens = [pool.generate([ask(f"q{i}")])[0] for i in range(6)]
    assert [s.chat_requests for s in servers] == [2, 2, 2]
    assert [g.text for g in gens] == ["a: q0", "b: q1", "c: q2", "a: q3", "b: q4", "c: q5"]
    assert [g.params["server"] for g in gens] == [s.url for s in servers] * 2
    assert all(g.backend == "vllm" and "retried" not in g.params for g in gens)


def test_a_batch_is_spread_over_every_server_and_kept_in_input_order(servers: list[StandIn]) -> None:
    for s in servers:
        s.delay_s = 0.2  # requests overlap, so the least-loaded choice matters
    pool = ServerPool([s.url for s in servers], MODEL, concurrency=1)
    gens = pool.generate([ask(f"q{i}") for i in range(9)])
    assert [g.text.split(": ")[1] for g in gens] == [f"q{i}" for i in range(9)]
    assert sum(s.chat_requests for s in servers) == 9 and all(s.chat_requests >= 1 for s in servers)
    assert all(g.text.startswith(next(s.name for s in servers if s.url == g.params["server"]) + ":") for g in gens)


# ------------------------------------------------------------------ failures
def test_a_server_down_at_start_is_skipped_and_rejoins_when_it_comes_up(servers: list[StandIn]) -> None:
    port = free_port()
    late = f"http://127.0.0.1:{port}/v1"
    pool = ServerPool([servers[0].url, late, servers[1].url], MODEL, retry_after_s=0.3)
    gens = pool.generate([ask(f"q{i}") for i in range(4)])
    assert all(g.text.startswith(("a:", "b:")) and "retried" not in g.params for g in gens)
    assert servers[0].chat_requests + servers[1].chat_requests == 4
    down = {row["url"]: row for row in pool.status()}[late]
    assert down["up"] is False and "cannot be reached" in down["problem"]

    with StandIn("late", port=port) as back:
        time.sleep(0.35)  # past retry_after_s: its health is checked again
        after = [pool.generate([ask("again")])[0] for _ in range(3)]
        assert back.chat_requests >= 1 and any(g.text == "late: again" for g in after)


def test_a_request_dropped_by_a_dying_server_is_answered_by_another(servers: list[StandIn]) -> None:
    dying = servers[0]
    dying.die_after = 0  # takes the request, then stops without answering
    pool = ServerPool([dying.url, servers[1].url], MODEL)
    g = pool.generate([ask("hello")])[0]
    assert g.text == "b: hello" and dying.chat_requests == 1
    assert g.params["retried"] == [{"server": dying.url, "error": "cannot be reached (RemoteProtocolError)"}]
    assert pool.generate([ask("next")])[0].text == "b: next"  # the dead one is left alone
    assert dying.chat_requests == 1


def test_a_server_killed_mid_stream_gives_a_cut_off_record_then_a_whole_answer(
    servers: list[StandIn], tmp_path: Path
) -> None:
    port = free_port()
    # a piece a second: the kill lands between pieces 2 and 3 even on a loaded machine
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "openai_standin.py"),
            "--name",
            "k",
            "--port",
            str(port),
            "--delay",
            "1.0",
        ]
    )
    try:
        killed = f"http://127.0.0.1:{port}/v1"
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        pool = ServerPool([killed, servers[1].url], MODEL)
        pieces = pool.stream(ask("what does the passage say about rivers"))
        first = [next(pieces), next(pieces)]
        os.kill(proc.pid, signal.SIGKILL)
        rest = list(pieces)
    finally:
        proc.kill()
        proc.wait()
    assert first == ["k: ", "what "]
    marker = rest[0]
    assert f"[{CUT_OFF}: the model server {killed} stopped mid-answer" in marker
    assert f"finish reason: {CUT_OFF}; answered again by {servers[1].url}]" in marker
    assert "".join(rest[1:]).strip() == "b: what does the passage say about rivers"
    [cut] = pool.cut_offs
    assert (cut.url, cut.text, cut.finish_reason, cut.retried_on) == (killed, "k: what ", CUT_OFF, servers[1].url)


def test_every_server_down_is_a_clear_error_naming_each_url() -> None:
    urls = [dead_url(), dead_url()]
    pool = ServerPool(urls, MODEL)
    with pytest.raises(BackendUnreachable) as e:
        pool.generate([ask("hello")])
    text = str(e.value)
    assert "None of the 2 model servers answered" in text
    assert all(f"{u}: cannot be reached (ConnectError)" in text for u in urls)
    with pytest.raises(BackendUnreachable, match="None of the 2 model servers"):
        list(pool.stream(ask("hello")))


def test_a_cut_off_with_no_server_left_keeps_the_text_in_the_error() -> None:
    with StandIn("a", die_after=2) as a:
        pool = ServerPool([a.url, dead_url()], MODEL)
        pieces = pool.stream(ask("tell me more"))
        got = [next(pieces), next(pieces)]
        with pytest.raises(BackendUnreachable) as e:
            next(pieces)
    assert got == ["a: ", "tell "]
    assert "Text received before the cut-off: 'a: tell '" in str(e.value)


def test_http_5xx_is_retried_elsewhere_but_a_bad_model_name_is_not(servers: list[StandIn]) -> None:
    servers[0].status = 503
    pool = ServerPool([s.url for s in servers[:2]], MODEL)
    g = pool.generate([ask("hi")])[0]
    assert g.text == "b: hi" and "HTTP 503" in g.params["retried"][0]["error"]

    wrong = ServerPool([s.url for s in servers[1:]], "no-such-model")
    with pytest.raises(AssistanceUnavailable, match="HTTP 404") as e:
        wrong.generate([ask("hi")])
    assert not isinstance(e.value, BackendUnreachable)
    assert servers[1].chat_requests + servers[2].chat_requests == 2  # one for "hi" above, one refused: no retry


# ------------------------------------------------------------------ the study file and the platform
def test_assistant_url_takes_one_url_or_a_list() -> None:
    one = get_backend(AssistantSpec(backend="vllm", url="http://127.0.0.1:8000/v1"))
    assert type(one) is VLLMHTTPBackend
    pool = get_backend(AssistantSpec(backend="vllm", url=["http://h0:8000/v1", "http://h1:8000/v1/"]))
    assert isinstance(pool, ServerPool) and [s.url for s in pool.servers] == ["http://h0:8000/v1", "http://h1:8000/v1"]
    for bad, why in (("[]", "an empty list"), ("[http://h0:8000/v1, 'h1:8000/v1']", "got 'h1:8000/v1'")):
        with pytest.raises(StudyFileError) as e:
            validate_text(
                STUDY.replace(
                    "assistant: {backend: embedded, max_tokens: 16}", f"assistant: {{backend: vllm, url: {bad}}}"
                )
            )
        assert "<study>:9:33: assistant.url: " in str(e.value) and why in str(e.value)


def test_precompute_and_a_follow_up_run_through_a_pool_with_one_server_dying(tmp_path: Path) -> None:
    with StandIn("a") as a, StandIn("b") as b:
        down = dead_url()
        db = _make_study(
            tmp_path,
            assistant=f"assistant: {{backend: vllm, model: {MODEL}, max_tokens: 16, "
            f"url: ['{a.url}', '{down}', '{b.url}']}}",
        )
        result = CliRunner().invoke(app, ["assist", "precompute", str(db)])
        assert result.exit_code == 0, result.output
        assert "20 generated" in result.output
        assert a.chat_requests > 0 and b.chat_requests > 0
        with StudyService(db) as svc:
            rows = svc.store.assistance()
            servers = {c["server"] for r in rows for c in r.params["calls"]}
            assert len(rows) == 20 and servers == {a.url, b.url}
            assert {r.status for r in rows} <= {"ok", "unparsed"}  # the stand-in's echo is not always parseable
            helped = next(r for r in svc.store.assignments() if r.condition == "helped")
            session = svc.for_overseer(helped.overseer)
            a.die_after = 3  # live follow-ups get a pool of their own, whose first pick is the first server up
            answer = "".join(session.follow_up(helped.assignment_id, "Which line matters most?"))
            [logged] = svc.store.interactions(event="followup_answered")
    cut = answer.index(f"\n\n[{CUT_OFF}: the model server {a.url} stopped mid-answer")
    assert len(answer[:cut].split()) == 3 and answer[:cut].startswith("a: ")
    marker_end = answer.index(f"answered again by {b.url}]") + len(f"answered again by {b.url}]")
    assert answer[marker_end:].strip().startswith("b: ") and "Which line matters most?" in answer[marker_end:]
    assert logged.payload["answer"] == answer


def test_precompute_with_every_server_down_exits_2_naming_each_url(tmp_path: Path) -> None:
    urls = [dead_url(), dead_url()]
    db = _make_study(
        tmp_path,
        assistant=f"assistant: {{backend: vllm, model: {MODEL}, max_tokens: 16, url: ['{urls[0]}', '{urls[1]}']}}",
    )
    res = cli("assist", "precompute", str(db))
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stdout + res.stderr
    assert "None of the 2 model servers answered" in res.stderr
    assert all(f"{u}: cannot be reached (ConnectError)" in res.stderr for u in urls)
    with StudyService(db, read_only=True) as svc:
        assert svc.store.assistance() == []  # nothing half-written


def test_llm_judge_simulation_spreads_over_the_pool(tmp_path: Path) -> None:
    from test_sim import small_study

    from sandwich.create import create_study
    from sandwich.sim.runner import simulate_study
    from sandwich.studyfile import load_study

    with StandIn("a") as a, StandIn("b") as b:
        path = small_study(tmp_path)
        path.write_text(
            path.read_text().replace(
                "{backend: embedded, max_tokens: 16}", f"{{backend: vllm, model: {MODEL}, url: ['{a.url}', '{b.url}']}}"
            )
        )
        db = tmp_path / "tiny.duckdb"
        create_study(load_study(path), db)
        summary = simulate_study(db, overseers=["ana"], with_model_alone=True)
    assert summary.judged == {"ana": 3} and summary.model_alone == 3
    assert a.chat_requests > 0 and b.chat_requests > 0


def test_serve_allows_concurrency_follow_ups_per_server_of_the_pool(tmp_path: Path) -> None:
    from sandwich.server.state import ServerState

    db = _make_study(
        tmp_path,
        assistant=f"assistant: {{backend: vllm, model: {MODEL}, concurrency: 3, "
        f"url: ['{dead_url()}', '{dead_url()}']}}",
    )
    with StudyService(db) as svc:
        st = ServerState.open(svc)
        try:
            assert st.follow_up_limit == 6
        finally:
            st.close()
