"""A vLLM server (or any OpenAI-compatible server) over HTTP: chat completions, batched, streamed, structured.

Batches go out as concurrent requests (at most `AssistantSpec.concurrency` at a
time) so the server's continuous batching sees them together. Structured output
uses vLLM's current `structured_outputs` request field ({"choice": [...]} or
{"json": schema}); the old guided_* fields are silently ignored since vLLM 0.12.
Connection failures and timeouts raise BackendUnreachable; HTTP errors raise
AssistanceUnavailable with the server's message.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from assistants.backends.base import BackendUnreachable, Generation, Messages
from sandwich.config import AssistantSpec
from sandwich.errors import AssistanceUnavailable

DEFAULT_URL = "http://127.0.0.1:8000/v1"


class VLLMHTTPBackend:
    """Chat completions against `url` (an OpenAI-compatible base URL ending in /v1)."""

    name = "vllm"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        model: str = "smollm2-135m-instruct",
        *,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout_s: float = 60.0,
        top_p: float = 1.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.top_p = top_p
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    @classmethod
    def for_spec(cls, spec: AssistantSpec) -> VLLMHTTPBackend:
        """The backend a study's assistant section describes."""
        key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
        url = spec.url[0] if isinstance(spec.url, list) else spec.url  # a list is served by the pool
        return cls(
            url or DEFAULT_URL,
            spec.model,
            api_key=key,
            concurrency=spec.concurrency,
            timeout_s=spec.timeout_s,
            top_p=spec.top_p,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    # ------------------------------------------------------------ requests
    def _body(
        self,
        messages: Messages,
        max_tokens: int,
        temperature: float,
        seed: int,
        choices: list[str] | None = None,
        json_schema: dict | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": self.top_p,
            "seed": seed,
        }
        if choices:
            body["structured_outputs"] = {"choice": list(choices)}
        elif json_schema is not None:
            body["structured_outputs"] = {"json": json_schema}
        return body

    def _unreachable(self, e: Exception) -> BackendUnreachable:
        what = "timed out" if isinstance(e, httpx.TimeoutException) else f"cannot be reached ({type(e).__name__})"
        return BackendUnreachable(
            f"The model server at {self.url} {what}.",
            hint="Start one with `sandwich serve-model` and put the URL it prints in the study's assistant.url, "
            "or switch the study to backend: embedded. Judging goes on without assistance meanwhile.",
        )

    def _http_error(self, r: httpx.Response) -> AssistanceUnavailable:
        try:
            detail = r.json().get("error", {}).get("message") or r.text
        except (json.JSONDecodeError, AttributeError):
            detail = r.text
        hint = "Check the server's log."
        if r.status_code == 404:
            hint = (
                f"Is {self.model!r} the server's --served-model-name? See {self.url}/models; "
                "and does the URL end in /v1?"
            )
        return AssistanceUnavailable(
            f"The model server at {self.url} answered HTTP {r.status_code}: {str(detail)[:300]}", hint=hint
        )

    def _one(self, messages: Messages, body: dict[str, Any], seed: int) -> Generation:
        start = time.perf_counter()
        try:
            r = self._client.post("/chat/completions", json=body)
        except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError) as e:
            raise self._unreachable(e) from None
        if r.status_code != 200:
            raise self._http_error(r)
        data = r.json()
        usage = data.get("usage") or {}
        choice = data["choices"][0]
        text = (choice["message"].get("content") or "").strip()
        params = {k: body[k] for k in ("max_tokens", "temperature", "top_p")}
        if "structured_outputs" in body:
            params["structured_outputs"] = body["structured_outputs"]
        return Generation(
            text=text,
            backend=self.name,
            model=self.model,
            messages=list(messages),
            params=params,
            tokens_in=int(usage.get("prompt_tokens", 0)),
            tokens_out=int(usage.get("completion_tokens", 0)),
            latency_s=time.perf_counter() - start,
            seed=seed,
            finish_reason=choice.get("finish_reason"),
        )

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
        """Send every conversation as its own request, `concurrency` at a time; results in input order."""
        if not batch:
            return []
        bodies = [self._body(m, max_tokens, temperature, seed, choices, json_schema) for m in batch]
        if len(batch) == 1:
            return [self._one(batch[0], bodies[0], seed)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batch)), thread_name_prefix="vllm") as pool:
            futures = [pool.submit(self._one, m, b, seed) for m, b in zip(batch, bodies, strict=True)]
            return [f.result() for f in futures]

    def stream(
        self,
        messages: Messages,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        timeout_s: float = 60,
    ) -> Generator[str, None, str | None]:
        """Server-sent events from a streamed chat completion, one text delta at a time; returns the finish reason.

        Raises AssistanceUnavailable when the stream ends with neither a finish reason nor `[DONE]`
        (a dropped connection or a crashed worker): that text is partial, not an answer.
        """
        body = {**self._body(messages, max_tokens, temperature, seed), "stream": True}
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        try:
            with self._client.stream("POST", "/chat/completions", json=body, timeout=timeout) as r:
                if r.status_code != 200:
                    r.read()
                    raise self._http_error(r)
                finish: str | None = None
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        return finish or "stop"
                    event = json.loads(payload)
                    if "error" in event:
                        raise AssistanceUnavailable(
                            f"The model server at {self.url} failed mid-answer: {event['error']}"
                        )
                    for choice in event.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            yield piece
                        finish = choice.get("finish_reason") or finish
                if finish is None:
                    raise AssistanceUnavailable(
                        f"The model server at {self.url} stopped mid-answer "
                        "(the stream ended without a finish reason).",
                        hint="Check the server's log; ask again.",
                    )
                return finish
        except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError) as e:
            raise self._unreachable(e) from None
