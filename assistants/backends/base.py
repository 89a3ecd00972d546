"""The one interface every model backend implements, and the factory that picks one.

A backend turns chat conversations into :class:`Generation` records. Each record
keeps everything needed to reproduce and audit the call (backend, model, the
messages, sampling parameters, token counts, latency, seed), because precomputed
assistance is an experimental condition and must be traceable.
Backend failures raise :class:`sandwich.errors.AssistanceUnavailable`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Generator, Sequence
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
    finish_reason: str | None = None  # "stop", "length" (cut off at max_tokens), … ; None: not reported

    @property
    def truncated(self) -> bool:
        """The output was cut off at the token limit (OpenAI finish_reason "length")."""
        return self.finish_reason == "length"

    def record(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole record."""
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    """A chat model: batched generation for precompute, streaming for live follow-ups."""

    name: str
    model: str

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
        """Answer each conversation in `batch`; `choices` constrains the answer to one of them."""
        ...

    def stream(
        self,
        messages: Messages,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        timeout_s: float = 60,
    ) -> Generator[str, None, str | None]:
        """Yield the answer to one conversation piece by piece as it is generated.

        The generator's return value is the finish reason ("stop", "length", …; None when the backend
        cannot tell). A stream that ends without one (no finish reason and no end marker: a dropped
        connection) raises AssistanceUnavailable instead of passing the partial text off as whole.
        """
        ...


BackendFactory = Callable[[AssistantSpec], Backend]


def vllm_pool_or_server(spec: AssistantSpec) -> Backend:
    """`backend: vllm`: one server, or a pool when assistant.url is a list (imported on first use)."""
    from assistants.backends.pool import vllm_backend

    return vllm_backend(spec)


_BACKENDS: dict[str, str | BackendFactory] = {
    # name -> factory, or "module:Class" whose `for_spec` is the factory (imported on first use: torch, vllm)
    "embedded": "assistants.backends.embedded:EmbeddedBackend",
    "vllm": vllm_pool_or_server,
    "vllm-offline": "assistants.backends.vllm_offline:VLLMOfflineBackend",
    "scripted": "assistants.backends.scripted:ScriptedBackend",
}


def register_backend(name: str, factory: str | BackendFactory, *, replace: bool = False) -> None:
    """Make `backend: NAME` in a study's `assistant:` section build a backend with `factory(spec)`."""
    if name in _BACKENDS and not replace:
        raise ValueError(f"backend {name!r} is already registered")
    _BACKENDS[name] = factory


def backend_names() -> list[str]:
    """Every registered backend name."""
    return list(_BACKENDS)


def get_backend(spec: AssistantSpec) -> Backend:
    """The backend a study's `assistant:` section names (embedded | vllm | vllm-offline | scripted | registered)."""
    factory = _BACKENDS.get(spec.backend)
    if factory is None:
        raise AssistanceUnavailable(
            f"Unknown assistant backend {spec.backend!r}.",
            hint=f"Use backend: {', '.join(_BACKENDS)} in the study file.",
        )
    if isinstance(factory, str):
        module, _, cls = factory.partition(":")
        return getattr(importlib.import_module(module), cls).for_spec(spec)
    return factory(spec)
