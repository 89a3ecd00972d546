"""`backend: vllm-offline`: `vllm.LLM` in this process (CPU build) on the prepared SmolLM2, through the Backend
interface.

Loads the model once for the module (a minute or more on a CPU); slow, like the real server test.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

pytest.importorskip("vllm", reason="the vLLM CPU build is installed by `make setup`")

from assistants.backends.base import get_backend  # noqa: E402
from assistants.backends.vllm_offline import VLLMOfflineBackend, _llm  # noqa: E402
from sandwich.config import AssistantSpec  # noqa: E402

QUESTION = [{"role": "user", "content": "Is the sky blue on a clear day? Answer yes or no."}]
STORY = [{"role": "user", "content": "Write two sentences about a river."}]


@pytest.fixture(scope="module")
def backend() -> Iterator[VLLMOfflineBackend]:
    b = get_backend(AssistantSpec(backend="vllm-offline", model="smollm2-135m-instruct", seed=3))
    assert isinstance(b, VLLMOfflineBackend)
    yield b
    _llm.cache_clear()  # free the engine (and its KV cache) before other modules start a vLLM server
    gc.collect()


def test_a_batch_comes_back_in_order_with_its_record(backend: VLLMOfflineBackend) -> None:
    gens = backend.generate([STORY, QUESTION, STORY], max_tokens=16, seed=3)
    assert [g.messages for g in gens] == [STORY, QUESTION, STORY]
    assert all(g.text.strip() and 0 < g.tokens_out <= 16 and g.tokens_in > 5 for g in gens)
    assert gens[0].text == gens[2].text  # greedy: the same conversation gives the same answer in one batch
    assert {(g.backend, g.model, g.seed) for g in gens} == {("vllm-offline", "smollm2-135m-instruct", 3)}
    assert gens[0].params == {"max_tokens": 16, "temperature": 0.0, "top_p": 1.0}


def test_structured_choice_is_one_of_the_choices(backend: VLLMOfflineBackend) -> None:
    gens = backend.generate([QUESTION] * 2, max_tokens=8, choices=["maybe", "certainly not"])
    assert all(g.text in ("maybe", "certainly not") for g in gens)
    assert gens[0].params["structured_outputs"] == {"choice": ["maybe", "certainly not"]}


def test_stream_yields_the_whole_answer_at_once(backend: VLLMOfflineBackend) -> None:
    pieces = list(backend.stream(STORY, max_tokens=16))
    assert len(pieces) == 1 and pieces[0] == backend.generate([STORY], max_tokens=16)[0].text
