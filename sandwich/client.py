"""HTTP client for `sandwich serve`: a drop-in `OverseerAPI` for the TUI, plus the lead's calls.

Every request that is safe to repeat is retried with backoff while the server
is unreachable or restarting (for up to `retry_for_s`): reads, judgment submits
(the client's `judgment_id` makes a repeat return the original receipt) and
interaction logs (the client fills in an `interaction_id`). Calls that are not
idempotent are retried only when the request never left this machine.
A judgment that could not be confirmed as stored raises `NotSaved`.

Several servers (replicas of one PostgreSQL study: `--server URL1,URL2` or the option repeated)
are tried in turn: a request that cannot reach one, gets no answer from it, or is told 502/503/504
moves to the next at once, and stays there; the backoff starts only when every server has failed
once. A submit re-sent to another replica carries the same `judgment_id`, and the store's unique
key makes it one judgment.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from sandwich.errors import AlreadyJudged, AssistanceUnavailable, NotFound, NotSaved, SandwichError, SessionInUse
from sandwich.views import (
    CUT_OFF_NOTE,
    AssistanceView,
    Briefing,
    CutOff,
    ItemView,
    JudgmentIn,
    PracticeFeedback,
    ProgressView,
    Receipt,
    SessionStart,
)

RETRY_STATUS = {502, 503, 504}


class AccessDenied(SandwichError):
    """The server refused the token (401) or what it may reach (403)."""


class ServerUnreachable(NotSaved):
    """No answer from the server within the retry window; a write was not confirmed."""


_ERRORS: dict[str, type[SandwichError]] = {
    "NotFound": NotFound,
    "AlreadyJudged": AlreadyJudged,
    "NotSaved": NotSaved,
    "AssistanceUnavailable": AssistanceUnavailable,
    "SessionInUse": SessionInUse,
}


def _raise_for(r: httpx.Response) -> None:
    try:
        body = r.json()
    except ValueError:
        body = {"message": r.text[:300] or r.reason_phrase}
    message, hint = body.get("message") or str(body), body.get("hint")
    if r.status_code in (401, 403):
        raise AccessDenied(
            f"The server refused this request ({r.status_code}): {message}",
            hint=hint or "Check the token: `sandwich tokens issue STUDY --overseer NAME` gives one.",
        )
    if body.get("saved") is False and r.status_code >= 500:
        raise NotSaved(f"The judgment was NOT saved: {message}", hint=hint or "Keep it and submit again.")
    cls = _ERRORS.get(body.get("error", ""), NotSaved if r.status_code >= 500 else SandwichError)
    raise cls(message, hint=hint)


def _retry_after(r: httpx.Response) -> float:
    """The server's Retry-After in seconds (1 when absent or not a number)."""
    try:
        return max(0.0, float(r.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def server_urls(servers: str | Sequence[str]) -> list[str]:
    """Server URLs from `--server` values: each may be a comma-separated list; order kept, repeats dropped.

    Raises SandwichError when none is given or one is not http(s)://HOST:PORT.
    """
    given = [servers] if isinstance(servers, str) else list(servers)
    urls: list[str] = []
    for value in given:
        for url in (u.strip().rstrip("/") for u in value.split(",")):
            if not url:
                continue
            if not url.startswith(("http://", "https://")):
                raise SandwichError(
                    f"{url!r} is not a server URL.",
                    hint="Give it as http://HOST:PORT (several: http://HOST1:PORT,http://HOST2:PORT).",
                )
            if url not in urls:
                urls.append(url)
    if not urls:
        raise SandwichError("No server URL given.", hint="Give --server http://HOST:PORT.")
    return urls


class _Http:
    """httpx clients (one per server) with bearer auth, fail-over and retrying of idempotent requests."""

    def __init__(
        self, urls: str | Sequence[str], token: str, *, timeout: float = 10.0, retry_for_s: float = 30.0
    ) -> None:
        self.urls = server_urls(urls)
        self.current = 0  # the server in use; a failure moves on to the next, and we stay there
        self.retry_for_s = retry_for_s
        self.on_unreachable: Callable[[], None] | None = None  # told at once when a request starts retrying
        self.clients = [
            httpx.Client(
                base_url=u,
                timeout=timeout,
                headers={"Authorization": f"Bearer {token}", "User-Agent": "sandwich-client"},
            )
            for u in self.urls
        ]

    @property
    def url(self) -> str:
        """The server in use now."""
        return self.urls[self.current]

    @property
    def http(self) -> httpx.Client:
        """The client of the server in use now."""
        return self.clients[self.current]

    def set_header(self, name: str, value: str) -> None:
        """A header every later request carries, whichever server it goes to."""
        for c in self.clients:
            c.headers[name] = value

    def fail_over(self) -> None:
        """Move on to the next server (a no-op with one)."""
        self.current = (self.current + 1) % len(self.urls)

    def request(
        self, method: str, path: str, *, idempotent: bool = True, retry_for_s: float | None = None, **kw: Any
    ) -> httpx.Response:
        deadline, delay = time.monotonic() + (self.retry_for_s if retry_for_s is None else retry_for_s), 0.05
        failures = 0
        while True:
            url = self.url
            try:
                r = self.http.request(method, path, **kw)
                if r.status_code == 429:  # over this token's budget: refused before anything was done
                    wait = _retry_after(r)
                    if time.monotonic() + wait > deadline:
                        _raise_for(r)
                    time.sleep(wait)
                    continue
                if r.status_code not in RETRY_STATUS or not idempotent:
                    if r.status_code >= 400:
                        _raise_for(r)
                    return r
                last: Exception | httpx.Response = r
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:  # never reached the server: always safe
                last = e
            except httpx.TransportError as e:  # sent, but no answer (timeout, reset, server killed)
                if not idempotent:
                    self.fail_over()  # whatever became of this request, the next one goes elsewhere
                    raise ServerUnreachable(
                        f"No answer from {url} for {method} {path} ({type(e).__name__}); "
                        "it may or may not have been done.",
                        hint="Check, then retry.",
                    ) from e
                last = e
            if failures == 0 and self.on_unreachable is not None:  # the first failed attempt of this request
                self.on_unreachable()
            failures += 1
            self.fail_over()
            if failures % len(self.urls):  # another server has not been tried yet this round: at once
                continue
            if time.monotonic() + delay > deadline:
                if isinstance(last, httpx.Response):
                    _raise_for(last)
                where = url if len(self.urls) == 1 else f"any of {', '.join(self.urls)}"
                raise ServerUnreachable(
                    f"Cannot reach the study server at {where} ({type(last).__name__}: {last}); nothing was confirmed.",
                    hint="Is `sandwich serve` running? Your work so far is saved on the server.",
                )
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    def close(self) -> None:
        for c in self.clients:
            c.close()


class OverseerClient:
    """The `OverseerAPI` over HTTP: what the TUI uses with `sandwich label --server URL --token T`."""

    def __init__(
        self,
        url: str | Sequence[str],
        token: str,
        *,
        timeout: float = 10.0,
        retry_for_s: float = 30.0,
        follow_up_timeout_s: float = 180.0,
        take_over: bool = False,
    ) -> None:
        """`url`: one server, or several replicas of one study (a list, or comma-separated) to fail over between."""
        self._h = _Http(url, token, timeout=timeout, retry_for_s=retry_for_s)
        self.take_over = take_over
        self.session_id: str | None = None
        self._follow_up_timeout_s = follow_up_timeout_s
        who = self._h.request("GET", "/v1/whoami", retry_for_s=min(retry_for_s, 5.0)).json()  # fail fast at start
        if who["role"] != "overseer":
            raise AccessDenied(
                "This is a lead token; labelling needs an overseer's token.",
                hint="Issue one: `sandwich tokens issue STUDY --overseer NAME`.",
            )
        self.overseer: str = who["subject"]
        self.study: str = who["study"]
        self._base = f"/v1/overseers/{self.overseer}"

    @property
    def on_unreachable(self) -> Callable[[], None] | None:
        """Called (from the calling thread) as soon as a request finds the server unreachable and starts retrying."""
        return self._h.on_unreachable

    @on_unreachable.setter
    def on_unreachable(self, fn: Callable[[], None] | None) -> None:
        self._h.on_unreachable = fn

    def close(self) -> None:
        """Close the connection pool."""
        self._h.close()

    def __enter__(self) -> OverseerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str) -> Any:
        return self._h.request("GET", self._base + path).json()

    def start_session(self, client: str = "tui", take_over: bool = False) -> SessionStart:
        """Open or resume the session on the server; every later write carries its session id.

        Raises SessionInUse while another live session of this overseer is open (unless `take_over`).
        """
        r = self._h.request(
            "POST",
            self._base + "/session",
            idempotent=False,
            json={"client": client, "take_over": take_over or self.take_over, "session_id": self.session_id},
        )
        start = SessionStart.model_validate(r.json())
        self.session_id = start.session_id
        if start.session_id:
            self._h.set_header("X-Sandwich-Session", start.session_id)
        return start

    def next_item(self) -> ItemView | None:
        """The next unjudged assignment, or None when finished."""
        data = self._get("/next")
        return None if data is None else ItemView.model_validate(data)

    def item(self, assignment_id: str) -> ItemView:
        """One of this overseer's assignments."""
        return ItemView.model_validate(self._get(f"/items/{_seg(assignment_id)}"))

    def assistance(self, assignment_id: str) -> list[AssistanceView]:
        """The precomputed assistance for an assignment."""
        return [AssistanceView.model_validate(a) for a in self._get(f"/items/{_seg(assignment_id)}/assistance")]

    def briefing(self, condition: str) -> Briefing:
        """The briefing for one of this overseer's conditions."""
        return Briefing.model_validate(self._get(f"/briefing/{_seg(condition)}"))

    def progress(self) -> ProgressView:
        """Done/total overall and per condition."""
        return ProgressView.model_validate(self._get("/progress"))

    def practice_items(self, condition: str) -> list[ItemView]:
        """Practice items for a condition."""
        return [ItemView.model_validate(v) for v in self._get(f"/practice/{_seg(condition)}")]

    def practice_feedback(self, item_id: str, choice: str) -> PracticeFeedback:
        """Right or wrong on a practice item."""
        r = self._h.request(
            "POST", self._base + "/practice/feedback", json={"item_id": item_id, "choice": choice}, idempotent=False
        )
        return PracticeFeedback.model_validate(r.json())

    def follow_up(self, assignment_id: str, question: str, node_id: str | None = None) -> Iterator[str]:
        """Stream the model's answer to a follow-up question (raises AssistanceUnavailable when it fails)."""
        path = f"{self._base}/items/{_seg(assignment_id)}/follow-up"
        timeout = httpx.Timeout(self._h.http.timeout.connect, read=self._follow_up_timeout_s)
        try:
            with self._h.http.stream(
                "POST", path, json={"question": question, "node_id": node_id}, timeout=timeout
            ) as r:
                if r.status_code >= 400:
                    r.read()
                    if r.status_code == 503:
                        raise AssistanceUnavailable(r.json().get("message", "The model is busy."))
                    _raise_for(r)
                event = "message"
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data = json.loads(line[5:].strip())
                        if event == "message":
                            yield CutOff(data) if data == CUT_OFF_NOTE else data
                        elif event == "error":
                            raise AssistanceUnavailable(data.get("message", "The model's answer failed."))
                        elif event == "done":
                            return
                    elif not line:
                        event = "message"
        except httpx.TransportError as e:
            self._h.fail_over()  # asking again goes to another replica, if there is one
            raise AssistanceUnavailable(
                f"Lost the connection to the study server while the model answered: {e}",
                hint="Ask again; your judgment is unaffected.",
            ) from e
        raise AssistanceUnavailable("The model's answer ended early.")

    def log(
        self,
        event: str,
        assignment_id: str | None = None,
        payload: dict[str, Any] | None = None,
        interaction_id: str | None = None,
    ) -> None:
        """Record an interaction (an id is generated here, so a retry cannot record it twice)."""
        body = {
            "event": event,
            "assignment_id": assignment_id,
            "payload": payload,
            "interaction_id": interaction_id or f"c-{uuid.uuid4().hex}",
        }
        self._h.request("POST", self._base + "/interactions", json=body)

    def submit(self, j: JudgmentIn) -> Receipt:
        """Store a judgment; retried with the same id until the server confirms it (or raises NotSaved)."""
        r = self._h.request(
            "POST",
            self._base + "/judgments",
            content=j.model_dump_json(exclude_none=True),
            headers={"content-type": "application/json"},
        )
        return Receipt.model_validate(r.json())


class LeadClient:
    """The lead's calls to a running server: status, export, snapshot, tokens, audit."""

    def __init__(
        self, url: str | Sequence[str], token: str, *, timeout: float = 60.0, retry_for_s: float = 10.0
    ) -> None:
        self._h = _Http(url, token, timeout=timeout, retry_for_s=retry_for_s)

    def close(self) -> None:
        """Close the connection pool."""
        self._h.close()

    def status(self) -> dict[str, Any]:
        """The same dict `StudyService.status()` returns."""
        return self._h.request("GET", "/v1/lead/status").json()

    def _download(self, method: str, path: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        r = self._h.request(method, path)
        partial = dest.with_name(dest.name + ".partial")
        partial.write_bytes(r.content)
        partial.replace(dest)
        return dest

    def export(self, dest: Path) -> Path:
        """Download every table as Parquet in a zip."""
        return self._download("GET", "/v1/lead/export", dest)

    def snapshot(self, dest: Path) -> Path:
        """Download a consistent copy of the study database (analyse it with `sandwich analyze DEST`)."""
        return self._download("POST", "/v1/lead/snapshot", dest)

    def issue_token(self, *, overseer: str | None = None, lead: bool = False) -> dict[str, Any]:
        """Issue a token on the server (shown once)."""
        return self._h.request(
            "POST", "/v1/lead/tokens", json={"overseer": overseer, "lead": lead}, idempotent=False
        ).json()

    def tokens(self) -> list[dict[str, Any]]:
        """Every token's id, subject, role and revocation."""
        return self._h.request("GET", "/v1/lead/tokens").json()

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token by id."""
        self._h.request("DELETE", f"/v1/lead/tokens/{_seg(token_id)}")

    def audit(self, limit: int = 200) -> list[dict[str, Any]]:
        """Recent refusals."""
        return self._h.request("GET", "/v1/lead/audit", params={"limit": limit}).json()


def _seg(value: str) -> str:
    """A path segment, refused here rather than sent if it could change the path."""
    if not value or "/" in value or value in (".", "..") or "%" in value or "?" in value or "#" in value:
        raise NotFound(f"{value!r} is not a valid id.")
    return value
