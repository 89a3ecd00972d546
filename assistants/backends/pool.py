"""Several OpenAI-compatible model servers (vLLM replicas) behind the one Backend interface.

`assistant.url` may be a list of base URLs (…/v1). Precompute, live follow-ups and
LLM-judge simulation then send each request to the least-loaded server that is up
(ties go round-robin), so N replicas serve N times the requests. A server's health
is checked (`/health`, else `/v1/models`) before its first request and again after
it failed, at most every `retry_after_s`. A request that fails on one server
(connection refused, timeout, dropped connection, HTTP 5xx) is sent again to the
next server; only when every server has failed does the caller get an error, and it
names each URL with its reason. HTTP 4xx (a bad request, an unknown model name) is
not retried: every server would refuse it alike.

A streamed answer cut off by a dying server is not lost: the overseer has already
seen its first part, so the stream goes on with a marker line naming the server,
the finish reason ("cut off") and the server that answers again, then the whole
answer from that server. The cut-off text is also kept in :attr:`ServerPool.cut_offs`
and, through the answer text, in the follow-up's log record.

    pool = ServerPool(["http://gpu0:8000/v1", "http://gpu1:8000/v1"], "smollm2-135m-instruct")
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from assistants.backends.base import Backend, BackendUnreachable, Generation, Messages
from assistants.backends.vllm_http import DEFAULT_URL, VLLMHTTPBackend
from sandwich.config import AssistantSpec
from sandwich.errors import AssistanceUnavailable

T = TypeVar("T")
CUT_OFF = "cut off"  # the finish reason of an answer whose server stopped mid-stream


class _ServerBackend(VLLMHTTPBackend):
    """One pool member: the HTTP backend, with the HTTP status kept on its errors (5xx is retried, 4xx is not)."""

    def _http_error(self, r: httpx.Response) -> AssistanceUnavailable:
        err = super()._http_error(r)
        err.status_code = r.status_code  # type: ignore[attr-defined]
        return err


@dataclass
class Server:
    """One server of the pool and what the pool knows about it."""

    url: str
    backend: _ServerBackend
    up: bool | None = None  # None: not checked yet
    problem: str = ""  # why it is down (or last failed)
    retry_at: float = 0.0  # monotonic time before which a down server is not checked again
    in_flight: int = 0
    answered: int = 0  # requests it answered
    failed: int = 0  # requests that failed on it


@dataclass
class CutOff:
    """A streamed answer a server stopped mid-way: the text already shown, and where it was asked again."""

    url: str
    text: str
    problem: str
    retried_on: str | None
    finish_reason: str = CUT_OFF


def _retryable(e: AssistanceUnavailable) -> bool:
    """Unreachable, 5xx, or an error event mid-answer: the server's fault, another may answer."""
    status = getattr(e, "status_code", None)
    return isinstance(e, BackendUnreachable) or status is None or status >= 500


def _reason(e: Exception) -> str:
    """The error's first line without the "The model server at URL" the pool's own message already gives."""
    first = str(getattr(e, "message", e)).splitlines()[0]
    return re.sub(r"^The model server at \S+ ", "", first).rstrip(".")


class ServerPool:
    """Chat completions spread over several OpenAI-compatible servers, with health checks and retry elsewhere.

    `urls`: base URLs ending in /v1, one per server. `concurrency`: requests in flight per server.
    `retry_after_s`: how long a failed server is left alone before its health is checked again.
    Raises :class:`BackendUnreachable` naming every URL when no server can answer.
    """

    name = "vllm"

    def __init__(
        self,
        urls: Sequence[str],
        model: str = "smollm2-135m-instruct",
        *,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout_s: float = 60.0,
        top_p: float = 1.0,
        retry_after_s: float = 10.0,
        health_timeout_s: float = 3.0,
    ) -> None:
        if not urls:
            raise AssistanceUnavailable(
                "A server pool needs at least one URL.",
                hint="Give assistant.url one base URL (…/v1) or a list of them.",
            )
        self.model = model
        self.concurrency = concurrency
        self.retry_after_s = retry_after_s
        self.servers = [
            Server(
                u.rstrip("/"),
                _ServerBackend(u, model, api_key=api_key, concurrency=concurrency, timeout_s=timeout_s, top_p=top_p),
            )
            for u in urls
        ]
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._health = httpx.Client(headers=headers, timeout=health_timeout_s)
        self._lock = threading.Lock()
        self._checked = threading.Event()
        self._check_lock = threading.Lock()
        self._next = 0
        self.cut_offs: deque[CutOff] = deque(maxlen=1000)

    @classmethod
    def for_spec(cls, spec: AssistantSpec) -> ServerPool:
        """The pool a study's assistant section describes (`url` a list)."""
        key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
        urls = spec.url if isinstance(spec.url, list) else [spec.url or DEFAULT_URL]
        return cls(
            urls, spec.model, api_key=key, concurrency=spec.concurrency, timeout_s=spec.timeout_s, top_p=spec.top_p
        )

    def close(self) -> None:
        """Close every connection pool."""
        self._health.close()
        for s in self.servers:
            s.backend.close()

    # ------------------------------------------------------------ health
    def _probe(self, s: Server) -> None:
        """GET /health (vLLM), else /v1/models (any OpenAI-compatible server); marks the server up or down."""
        try:
            r = self._health.get(s.url.removesuffix("/v1") + "/health")
            if r.status_code == 404:
                r = self._health.get(s.url + "/models")
            problem = "" if r.status_code == 200 else f"health check answered HTTP {r.status_code}"
        except httpx.TimeoutException:
            problem = "health check timed out"
        except httpx.HTTPError as e:
            problem = f"cannot be reached ({type(e).__name__})"
        with self._lock:
            s.up, s.problem = not problem, problem
            s.retry_at = time.monotonic() + self.retry_after_s if problem else 0.0

    def check_health(self) -> dict[str, str]:
        """Check every server now (concurrently); URL → "" when up, else why it is down."""
        with ThreadPoolExecutor(max_workers=len(self.servers), thread_name_prefix="vllm-health") as ex:
            list(ex.map(self._probe, self.servers))
        self._checked.set()
        return {s.url: s.problem for s in self.servers}

    def status(self) -> list[dict[str, Any]]:
        """Each server's URL, state, last problem and request counts (for logs and `status` views)."""
        with self._lock:
            return [
                {
                    "url": s.url,
                    "up": s.up,
                    "problem": s.problem,
                    "in_flight": s.in_flight,
                    "answered": s.answered,
                    "failed": s.failed,
                }
                for s in self.servers
            ]

    # ------------------------------------------------------------ choosing a server
    def _pick(self, tried: dict[str, str]) -> Server | None:
        """The least-loaded server that is up and not yet tried for this request (ties round-robin), or None."""
        if not self._checked.is_set():
            with self._check_lock:  # the first request checks every server; the others wait for that
                if not self._checked.is_set():
                    self.check_health()
        now = time.monotonic()
        with self._lock:
            due = [s for s in self.servers if s.url not in tried and not s.up and s.retry_at <= now]
            for s in due:  # one thread re-checks a server; the others skip it meanwhile
                s.retry_at = now + self.retry_after_s
        for s in due:
            self._probe(s)
        with self._lock:
            live = [(i, s) for i, s in enumerate(self.servers) if s.up and s.url not in tried]
            if not live:
                return None
            n = len(self.servers)
            i, s = min(live, key=lambda p: (p[1].in_flight, (p[0] - self._next) % n))
            self._next = (i + 1) % n
            s.in_flight += 1
            return s

    def _done(self, s: Server, error: Exception | None) -> None:
        with self._lock:
            s.in_flight -= 1
            if error is None:
                s.answered += 1
                return
            s.failed += 1
            s.up, s.problem = False, _reason(error)
            s.retry_at = time.monotonic() + self.retry_after_s

    def _all_failed(self, tried: dict[str, str], cut: str = "") -> BackendUnreachable:
        with self._lock:
            lines = [f"  {s.url}: {tried.get(s.url) or s.problem or 'not tried'}" for s in self.servers]
        before = f"\nText received before the cut-off: {cut[:500]!r}" if cut else ""
        return BackendUnreachable(
            f"None of the {len(self.servers)} model servers answered:\n" + "\n".join(lines) + before,
            hint="Start them (`sandwich serve-model`, one per GPU) or fix assistant.url in the study file. "
            "Judging goes on without assistance meanwhile.",
        )

    def _with_retry(self, attempt: Callable[[Server], T]) -> tuple[T, Server, dict[str, str]]:
        """`attempt` on one server after another until one answers; non-retryable errors go straight up."""
        tried: dict[str, str] = {}
        while (s := self._pick(tried)) is not None:
            error: AssistanceUnavailable | None = None
            try:
                return attempt(s), s, tried
            except AssistanceUnavailable as e:
                if not _retryable(e):
                    raise  # the server answered; the request was at fault
                error = e
                tried[s.url] = _reason(e)
            finally:
                self._done(s, error)
        raise self._all_failed(tried)

    # ------------------------------------------------------------ the Backend interface
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
        """Every conversation as its own request on the least-loaded server; results in input order.

        Each Generation's params name the server that answered (`server`) and, when it was asked
        again, the servers that failed first (`retried`: [{server, error}]).
        """

        def one(messages: Messages) -> Generation:
            g, s, tried = self._with_retry(
                lambda s: s.backend.generate(
                    [messages],
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=seed,
                    choices=choices,
                    json_schema=json_schema,
                )[0]
            )
            g.params["server"] = s.url
            if tried:
                g.params["retried"] = [{"server": u, "error": why} for u, why in tried.items()]
            return g

        if not batch:
            return []
        if len(batch) == 1:
            return [one(batch[0])]
        workers = min(self.concurrency * len(self.servers), len(batch))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vllm-pool") as ex:
            return list(ex.map(one, batch))

    def stream(
        self,
        messages: Messages,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        timeout_s: float = 60,
    ) -> Generator[str, None, str | None]:
        """The answer piece by piece from one server; if that server dies mid-answer, a cut-off marker and the
        whole answer again from the next one. Raises BackendUnreachable (with any text received) when none can."""
        tried: dict[str, str] = {}
        cut: CutOff | None = None
        while (s := self._pick(tried)) is not None:
            if cut is not None:
                cut.retried_on = s.url
                yield (
                    f"\n\n[{CUT_OFF}: the model server {cut.url} stopped mid-answer ({cut.problem}); "
                    f"finish reason: {CUT_OFF}; answered again by {s.url}]\n\n"
                )
            got: list[str] = []
            error: AssistanceUnavailable | None = None
            try:
                for piece in s.backend.stream(
                    messages, max_tokens=max_tokens, temperature=temperature, seed=seed, timeout_s=timeout_s
                ):
                    got.append(piece)
                    yield piece
            except AssistanceUnavailable as e:
                if not _retryable(e):
                    raise
                error = e
            finally:
                self._done(s, error)
            if error is None:
                return None  # ended by itself
            tried[s.url] = _reason(error)
            if got:
                cut = CutOff(s.url, "".join(got), _reason(error), None)
                self.cut_offs.append(cut)
        raise self._all_failed(tried, cut.text if cut is not None else "")


def vllm_backend(spec: AssistantSpec) -> Backend:
    """`backend: vllm`: one server (a URL) or a pool of them (a list of URLs)."""
    if isinstance(spec.url, list):
        return ServerPool.for_spec(spec)
    return VLLMHTTPBackend.for_spec(spec)
