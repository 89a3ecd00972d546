"""The one interface every model backend implements, and the factory that picks one.

A backend turns chat conversations into :class:`Generation` records. Each record
keeps everything needed to reproduce and audit the call (backend, model, the
messages, sampling parameters, token counts, latency, seed), because precomputed
assistance is an experimental condition and must be traceable.
Backend failures raise :class:`sandwich.errors.AssistanceUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from sandwich.config import AssistantSpec
from sandwich.errors import AssistanceUnavailable

Messages = list[dict[str, str]]


class BackendUnreachable(AssistanceUnavailable):
    """The backend cannot be reached at all (connection refused, timed out): nothing else will work either."""


@dataclass
class Generation:
    """One model output with the record of how it was made."""

    text: str
    backend: str
    model: str
    messages: Messages
    params: dict[str, Any] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    seed: int = 0

    def record(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole record."""
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    """A chat model: batched generation for precompute, streaming for live follow-ups."""

    name: str
    model: str

    def generate(self, batch: Sequence[Messages], *, max_tokens: int = 256, temperature: float = 0.0,
                 seed: int = 0, choices: list[str] | None = None,
                 json_schema: dict | None = None) -> list[Generation]:
        """Answer each conversation in `batch`; `choices` constrains the answer to one of them."""
        ...

    def stream(self, messages: Messages, *, max_tokens: int = 256, temperature: float = 0.0,
               seed: int = 0, timeout_s: float = 60) -> Iterator[str]:
        """Yield the answer to one conversation piece by piece as it is generated."""
        ...


def get_backend(spec: AssistantSpec) -> Backend:
    """The backend a study's `assistant:` section names (embedded | vllm | vllm-offline)."""
    if spec.backend == "embedded":
        from assistants.backends.embedded import EmbeddedBackend

        return EmbeddedBackend.for_spec(spec)
    if spec.backend == "vllm":
        from assistants.backends.pool import vllm_backend

        return vllm_backend(spec)  # one server, or a pool when assistant.url is a list
    if spec.backend == "scripted":
        from assistants.backends.scripted import ScriptedBackend

        return ScriptedBackend.for_spec(spec)
    if spec.backend == "vllm-offline":
        from assistants.backends.vllm_offline import VLLMOfflineBackend

        return VLLMOfflineBackend.for_spec(spec)
    raise AssistanceUnavailable(f"Unknown assistant backend {spec.backend!r}.",
                                hint="Use backend: embedded, vllm or vllm-offline in the study file.")
