"""A real vLLM server (CPU build) on the prepared SmolLM2: health, streaming, structured choice, precompute."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

pytest.importorskip("vllm", reason="the vLLM CPU build is installed by `make setup`")

from db_sql import sql  # noqa: E402

from assistants.backends.server import ModelServer  # noqa: E402
from assistants.backends.vllm_http import VLLMHTTPBackend  # noqa: E402

QUESTION = [{"role": "user", "content": "Is the sky blue on a clear day? Answer yes or no."}]


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    """One server for the module; killed (whole process tree) afterwards."""
    with ModelServer("smollm2-135m-instruct", startup_timeout_s=900) as s:
        yield s
    assert s.process is None


def test_health_and_models(server: ModelServer) -> None:
    assert httpx.get(server.url.removesuffix("/v1") + "/health", timeout=10).status_code == 200
    names = [m["id"] for m in httpx.get(server.url + "/models", timeout=10).json()["data"]]
    assert names == ["smollm2-135m-instruct"]


def test_streamed_chat_arrives_in_pieces(server: ModelServer) -> None:
    backend = VLLMHTTPBackend(server.url, server.name)
    pieces = list(backend.stream(QUESTION, max_tokens=24))
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_structured_choice_is_one_of_the_choices(server: ModelServer) -> None:
    backend = VLLMHTTPBackend(server.url, server.name)
    gens = backend.generate([QUESTION] * 3, max_tokens=8, choices=["maybe", "certainly not"])
    assert all(g.text in ("maybe", "certainly not") for g in gens)
    assert gens[0].params["structured_outputs"] == {"choice": ["maybe", "certainly not"]}
    assert all(g.tokens_in > 0 and g.tokens_out > 0 and g.backend == "vllm" for g in gens)


def test_unknown_model_name_is_a_clear_error(server: ModelServer) -> None:
    from sandwich.errors import AssistanceUnavailable

    with pytest.raises(AssistanceUnavailable, match="404"):
        VLLMHTTPBackend(server.url, "no-such-model").generate([QUESTION], max_tokens=4)


def test_precompute_a_small_study_through_the_server(server: ModelServer, tmp_path: Path) -> None:
    from test_assistants import _make_study
    from typer.testing import CliRunner

    from sandwich.cli import app
    from sandwich.service import StudyService

    # a one-element list: the server pool's path (health check, least-loaded choice) against real vLLM
    db = _make_study(tmp_path, assistant=f"assistant: {{backend: vllm, url: ['{server.url}'], max_tokens: 16}}")
    result = CliRunner().invoke(app, ["assist", "precompute", str(db)])
    assert result.exit_code == 0, result.output
    with StudyService(db) as svc:
        rows = sql(svc, "SELECT kind, status, backend, content, params, tokens_out FROM assistance")
        a = sql(svc, "SELECT assignment_id, overseer FROM assignments WHERE condition = 'helped' LIMIT 1")[0]
        pieces = list(svc.for_overseer(a["overseer"]).follow_up(a["assignment_id"], "What is the passage about?"))
    assert len(rows) == 20 and {r["backend"] for r in rows} == {"vllm"}
    assert all(c["server"] == server.url for r in rows for c in json.loads(r["params"])["calls"])
    assert {r["kind"] for r in rows} == {"explanation", "decomposition", "critique", "consultancy", "debate"}
    assert all(r["status"] in ("ok", "unparsed") and r["tokens_out"] > 0 for r in rows)
    assert all(json.loads(r["content"]) for r in rows if r["status"] == "ok")
    assert "".join(pieces).strip()


def test_a_pool_with_a_dead_url_streams_from_the_live_server(server: ModelServer) -> None:
    from openai_standin import free_port

    from assistants.backends.pool import ServerPool

    dead = f"http://127.0.0.1:{free_port()}/v1"
    pool = ServerPool([dead, server.url], server.name)
    assert pool.check_health() == {dead: "cannot be reached (ConnectError)", server.url: ""}
    pieces = list(pool.stream(QUESTION, max_tokens=24))
    assert len(pieces) >= 2 and "".join(pieces).strip() and not pool.cut_offs
    assert {r["url"]: r["answered"] for r in pool.status()} == {dead: 0, server.url: 1}
