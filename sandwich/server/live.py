"""Live follow-up questions, streamed as server-sent events, with a concurrency limit and a time limit.

The model backend is slow and finite, so at most `follow_up_limit` questions
run at once; the rest wait (up to `follow_up_queue_s`) for a slot instead of
failing. Each answer may take at most `follow_up_timeout_s`. Events:
`data: "<text piece>"` …, then `event: done` (data `{"truncated": true, "finish_reason": "length"}`
when the answer hit the token limit; its last piece is then the cut-off note), or `event: error` with
a JSON body (a stream that stopped mid-answer is an error, logged with its partial text).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator

from fastapi import HTTPException
from fastapi.responses import StreamingResponse

from sandwich import rules
from sandwich.server.state import ServerState
from sandwich.service import OverseerSession
from sandwich.views import CutOff

log = logging.getLogger("sandwich.serve.live")
_END = object()


def _close(pieces: Iterator[str]) -> None:
    close = getattr(pieces, "close", None)
    if close is not None:
        try:
            close()
        except ValueError:  # still running in another worker: it ends with its stream instead
            pass


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def follow_up_stream(
    st: ServerState, session: OverseerSession, assignment_id: str, question: str, node_id: str | None
) -> StreamingResponse:
    """Check the question is allowed, wait for a model slot, and stream the answer."""
    a = st.index.assignments.get(assignment_id)
    if a is None or a.overseer != session.overseer:
        raise HTTPException(404, f"Assignment {assignment_id!r} is not one of {session.overseer}'s.")
    cond = st.svc.condition(a.condition)
    if not rules.followups_allowed(cond):
        raise HTTPException(403, f"Condition {cond.name!r} does not allow follow-up questions.")
    assert st.follow_up_slots is not None and st.follow_up_pool is not None
    try:
        await asyncio.wait_for(st.follow_up_slots.acquire(), st.follow_up_queue_s)
    except TimeoutError:
        raise HTTPException(
            503,
            "The model is busy with other overseers' questions; ask again in a moment.",
            headers={"Retry-After": "5"},
        ) from None
    loop = asyncio.get_running_loop()
    pool, slots = st.follow_up_pool, st.follow_up_slots  # bound here: narrowed by the assert above
    pieces = session.follow_up(assignment_id, question, node_id)

    async def events() -> AsyncIterator[str]:
        deadline = loop.time() + st.follow_up_timeout_s
        truncated = finished = False
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError
                piece = await asyncio.wait_for(loop.run_in_executor(st.follow_up_pool, next, pieces, _END), remaining)
                if piece is _END:
                    break
                truncated = truncated or isinstance(piece, CutOff)
                yield f"data: {json.dumps(piece)}\n\n"
            finished = True
            yield _event("done", {"truncated": True, "finish_reason": "length"} if truncated else {})
        except TimeoutError:
            log.warning("follow-up for %s timed out after %.0f s", assignment_id, st.follow_up_timeout_s)
            yield _event(
                "error",
                {
                    "error": "AssistanceUnavailable",
                    "message": f"The model did not finish within {st.follow_up_timeout_s:.0f} s.",
                },
            )
        except Exception as e:  # noqa: BLE001 — backend down, refused, or a bad question: tell the overseer
            log.warning("follow-up for %s failed: %s", assignment_id, e)
            yield _event("error", {"error": type(e).__name__, "message": getattr(e, "message", str(e))})
        finally:
            slots.release()
            if not finished and pool is not None:  # the overseer left: close it so it is logged as abandoned
                pool.submit(_close, pieces)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
