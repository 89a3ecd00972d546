"""The HTTP API of `sandwich serve` (FastAPI): overseer routes, lead routes, errors as one JSON shape.

Overseer routes live under /v1/overseers/{overseer}/… and take that overseer's
token; lead routes under /v1/lead/… take a lead token. Reads are served from
the in-memory index or the service in a threadpool; every write goes through
the single writer thread and is answered only after its COMMIT.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandwich.errors import (
    AlreadyJudged,
    AssistanceUnavailable,
    NotFound,
    NotSaved,
    SandwichError,
    SessionInUse,
    StudyLocked,
)
from sandwich.interactions import check_client_event
from sandwich.server import snapshot as snapshots
from sandwich.server.auth import Anyone, Lead, Overseer, state_of
from sandwich.server.limits import BodyLimit
from sandwich.server.live import follow_up_stream
from sandwich.server.schemas import (
    IDENT,
    NAME,
    ErrorBody,
    FollowUpIn,
    InteractionIn,
    PracticeAnswerIn,
    Principal,
    SessionIn,
    TokenIn,
    TokenInfo,
    TokenOut,
)
from sandwich.server.state import ServerState
from sandwich.server.tokens import Principal as TokenPrincipal
from sandwich.server.writer import ServerClosing
from sandwich.service import StudyService
from sandwich.store import DB_ERRORS
from sandwich.views import (
    AssistanceView,
    Briefing,
    ItemView,
    JudgmentIn,
    PracticeFeedback,
    ProgressView,
    Receipt,
    SessionStart,
)

log = logging.getLogger("sandwich.serve")

AssignmentId = Annotated[str, Path(pattern=IDENT, max_length=200)]
ConditionName = Annotated[str, Path(pattern=NAME)]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)
}
STATUS = [
    (NotSaved, 503),
    (ServerClosing, 503),
    (StudyLocked, 503),
    (AssistanceUnavailable, 503),
    (NotFound, 404),
    (AlreadyJudged, 409),
    (SessionInUse, 409),
    (SandwichError, 422),
]
SESSION_HEADER = "x-sandwich-session"  # the session id `POST …/session` returned: every write carries it


def _error(
    status: int,
    error: str,
    message: str,
    request: Request,
    *,
    hint: str | None = None,
    detail: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    saved = False if request.method == "POST" and request.url.path.endswith("/judgments") else None
    body = ErrorBody(error=error, message=message, hint=hint, saved=saved, detail=detail)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(SandwichError)
    async def sandwich_error(request: Request, e: SandwichError) -> JSONResponse:
        status = next(code for cls, code in STATUS if isinstance(e, cls))
        return _error(status, type(e).__name__, e.message, request, hint=e.hint)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(map(str, err.get("loc", ()))), "type": err.get("type"), "msg": err.get("msg")}
            for err in e.errors()
        ]
        if any(err["type"] == "json_invalid" for err in errors):
            return _error(400, "MalformedJSON", "The request body is not valid JSON.", request, detail=errors)
        return _error(
            422,
            "InvalidRequest",
            "; ".join(f"{'.'.join(err['loc'])}: {err['msg']}" for err in errors),
            request,
            detail=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        names = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "NotFound",
            405: "MethodNotAllowed",
            413: "TooLarge",
            429: "TooManyRequests",
            503: "Unavailable",
        }
        return _error(
            e.status_code,
            names.get(e.status_code, "HTTPError"),
            str(e.detail),
            request,
            headers=getattr(e, "headers", None),
        )

    async def db_error(request: Request, e: Exception) -> JSONResponse:
        log.error("database error on %s %s: %s", request.method, request.url.path, e)
        return _error(
            503,
            "StoreUnavailable",
            "The study database failed; nothing was changed by this request.",
            request,
            hint="Tell the study lead; the server log has the details.",
        )

    for cls in DB_ERRORS:
        app.add_exception_handler(cls, db_error)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    st: ServerState = app.state.sandwich
    st.follow_up_slots = asyncio.Semaphore(st.follow_up_limit)
    yield
    # uvicorn has stopped accepting and let in-flight requests finish; drain what they queued
    await asyncio.get_running_loop().run_in_executor(None, st.close)


def create_app(svc: StudyService, **options: Any) -> FastAPI:
    """The FastAPI app serving one open study (options: see `ServerState.open`)."""
    st = ServerState.open(svc, **options)
    app = FastAPI(
        title=f"sandwich serve — {svc.study.study}",
        version="1",
        description="Overseers label; the lead watches, exports and snapshots. Bearer tokens: "
        "`sandwich tokens issue STUDY --overseer NAME` / `--lead`.",
        lifespan=_lifespan,
        responses=ERRORS,
    )
    app.state.sandwich = st
    app.add_middleware(BodyLimit, max_bytes=st.max_body)
    _install_errors(app)
    _overseer_routes(app)
    _lead_routes(app)
    return app


def _overseer_routes(app: FastAPI) -> None:
    base = "/v1/overseers/{overseer}"

    @app.get("/v1/health", tags=["anyone"])
    async def health(request: Request) -> JSONResponse:  # memory only: answers even while worker threads wait
        """Liveness (no token): the study's name and the writer's counters. While the database refuses writes
        (the last write failed, none has succeeded since) `ok` is false, the status 503, and `last_error` says why."""
        st = state_of(request)
        stats = st.writer.stats()
        return JSONResponse(
            {"ok": not stats["failing"], "study": st.svc.study.study, "writer": stats},
            status_code=503 if stats["failing"] else 200,
        )

    @app.get("/v1/whoami", tags=["anyone"])
    def whoami(request: Request, who: Anyone) -> Principal:
        """Who the presented token speaks for, in which study."""
        return Principal(
            subject=who.subject, role=who.role, token_id=who.token_id, study=state_of(request).svc.study.study
        )

    @app.post(base + "/session", tags=["overseer"])
    async def start_session(request: Request, who: Overseer, body: SessionIn) -> SessionStart:
        """Open or resume the overseer's session (recorded; notes an item interrupted mid-way).

        409 SessionInUse while another live session of this overseer holds its lease (unless `take_over`).
        The answer's `session_id` goes with every later write, as the X-Sandwich-Session header.
        """
        st = state_of(request)
        session = await asyncio.to_thread(st.session, who.subject)
        return await asyncio.wrap_future(
            st.writer.run(
                lambda: session.start_session(
                    body.client, session_id=body.session_id, take_over=body.take_over, leases=st.leases
                )
            )
        )

    @app.get(base + "/next", tags=["overseer"], response_model=ItemView | None)
    async def next_item(request: Request, who: Overseer) -> Response:
        """The first assignment without a judgment; null when the session is finished."""
        st = state_of(request)
        body = (
            await asyncio.to_thread(st.index.next_json, who.subject) if st.shared else st.index.next_json(who.subject)
        )  # replicas read the store; alone, memory answers at once
        return Response(body, media_type="application/json")

    @app.get(base + "/items/{assignment_id}", tags=["overseer"], response_model=ItemView)
    async def item(request: Request, who: Overseer, assignment_id: AssignmentId) -> Response:
        """One of the overseer's own assignments."""
        return Response(state_of(request).index.item_json(who.subject, assignment_id), media_type="application/json")

    @app.get(base + "/items/{assignment_id}/assistance", tags=["overseer"])
    def assistance(request: Request, who: Overseer, assignment_id: AssignmentId) -> list[AssistanceView]:
        """The precomputed assistance the assignment's condition allows (and nothing else)."""
        st = state_of(request)
        return st.index.assistance(st.session(who.subject), assignment_id)

    @app.post(
        base + "/items/{assignment_id}/follow-up",
        tags=["overseer"],
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def follow_up(request: Request, who: Overseer, assignment_id: AssignmentId, body: FollowUpIn) -> Response:
        """Ask the model a question about the item; the answer streams as server-sent events."""
        st = state_of(request)
        session = await asyncio.to_thread(st.session, who.subject)
        return await follow_up_stream(st, session, assignment_id, body.question, body.node_id)

    @app.get(base + "/briefing/{condition}", tags=["overseer"])
    def briefing(request: Request, who: Overseer, condition: ConditionName) -> Briefing:
        """The briefing for one of the overseer's conditions."""
        return state_of(request).session(who.subject).briefing(condition)

    @app.get(base + "/progress", tags=["overseer"])
    async def progress(request: Request, who: Overseer) -> ProgressView:
        """Done and total, overall and per condition."""
        st = state_of(request)
        if st.shared:
            return await asyncio.to_thread(st.index.progress, who.subject)
        return st.index.progress(who.subject)

    @app.get(base + "/practice/{condition}", tags=["overseer"])
    def practice_items(request: Request, who: Overseer, condition: ConditionName) -> list[ItemView]:
        """Practice items (outside the study) for one of the overseer's conditions."""
        return state_of(request).session(who.subject).practice_items(condition)

    @app.post(base + "/practice/feedback", tags=["overseer"])
    async def practice_feedback(request: Request, who: Overseer, body: PracticeAnswerIn) -> PracticeFeedback:
        """Right or wrong on a practice item (study items are refused)."""
        st = state_of(request)
        session = await asyncio.to_thread(st.session, who.subject)
        return await asyncio.wrap_future(st.writer.run(lambda: session.practice_feedback(body.item_id, body.choice)))

    @app.post(base + "/interactions", tags=["overseer"], status_code=204)
    async def log_interaction(request: Request, who: Overseer, body: InteractionIn) -> Response:
        """Record an interaction event (a retried log with the same interaction_id is a no-op)."""
        st = state_of(request)
        a = st.index.assignments.get(body.assignment_id or "")
        check_client_event(body.event, body.payload, st.index.fmts[a.item_id] if a is not None else None)
        session = await asyncio.to_thread(st.session, who.subject)
        sid = request.headers.get(SESSION_HEADER)

        def write() -> None:
            st.leases.hold(who.subject, sid)
            session.log(body.event, body.assignment_id, body.payload, body.interaction_id)
            if body.event == "session_end":
                st.leases.release(who.subject, sid)

        await asyncio.wrap_future(st.writer.run(write))
        return Response(status_code=204)

    @app.post(base + "/judgments", tags=["overseer"])
    async def submit(request: Request, who: Overseer, body: JudgmentIn) -> Receipt:
        """Store a judgment; answered only after COMMIT. The same judgment_id again returns the original receipt.

        An overseer's token stores a person's judgment: `source` other than "human" is refused (422).
        """
        if body.source != "human":
            raise SandwichError(
                f"source {body.source!r}: a judgment sent with an overseer's token is a person's "
                "(source human); the server sets it.",
                hint="Simulated judgments are made on the lead's side (`sandwich simulate`).",
            )
        return await asyncio.wrap_future(
            state_of(request).writer.submit(who.subject, body, request.headers.get(SESSION_HEADER))
        )


def _lead_routes(app: FastAPI) -> None:
    @app.get("/v1/lead/status", tags=["lead"])
    def status(request: Request, who: Lead) -> dict[str, Any]:
        """Items, assignments done/left per overseer and condition, assistance counts."""
        return state_of(request).svc.status()

    @app.get("/v1/lead/export", tags=["lead"], responses={200: {"content": {"application/zip": {}}}})
    def export(request: Request, who: Lead) -> FileResponse:
        """Every table as Parquet in one zip (gold and hidden tests under gold/)."""
        from sandwich.export import export_study

        st = state_of(request)
        tmp = FsPath(tempfile.mkdtemp(prefix="sandwich-export-"))
        export_study(st.svc, tmp / "export", who=_lead_name(who))
        target = tmp / f"{st.svc.study.study}-export.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted((tmp / "export").rglob("*.parquet")):
                z.write(f, f.relative_to(tmp / "export").as_posix())
        return FileResponse(
            target,
            media_type="application/zip",
            filename=target.name,
            background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
        )

    @app.post("/v1/lead/snapshot", tags=["lead"], responses={200: {"content": {"application/octet-stream": {}}}})
    def snapshot(request: Request, who: Lead) -> FileResponse:
        """A consistent copy of the study database, for `sandwich analyze` while the study is served."""
        st = state_of(request)
        path = snapshots.take(st.svc, who=_lead_name(who))
        return FileResponse(
            path,
            media_type="application/octet-stream",
            filename=path.name,
            background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
        )

    @app.get("/v1/lead/tokens", tags=["lead"])
    def list_tokens(request: Request, who: Lead) -> list[TokenInfo]:
        """Every token's id, subject, role and whether it is revoked."""
        return [TokenInfo(**t) for t in state_of(request).tokens.list()]

    @app.post("/v1/lead/tokens", tags=["lead"])
    def issue_token(request: Request, who: Lead, body: TokenIn) -> TokenOut:
        """Issue a token for an overseer or the lead (shown once)."""
        st = state_of(request)
        with st.svc.lock:  # the writer holds this lock for whole batches; tokens wait their turn
            text, p = st.tokens.issue(overseer=body.overseer, lead=body.lead)
        return TokenOut(token=text, token_id=p.token_id, subject=p.subject, role=p.role)

    @app.delete("/v1/lead/tokens/{token_id}", tags=["lead"], status_code=204)
    def revoke_token(
        request: Request, who: Lead, token_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")]
    ) -> Response:
        """Revoke a token at once."""
        st = state_of(request)
        with st.svc.lock:
            st.tokens.revoke(token_id)
        return Response(status_code=204)

    @app.get("/v1/lead/audit", tags=["lead"])
    def audit(request: Request, who: Lead, limit: int = 200) -> list[dict[str, Any]]:
        """The most recent refusals (who, what route, why)."""
        return [
            {
                "ts": r.ts,
                "event": r.event,
                "subject": r.subject,
                "role": r.role,
                "method": r.method,
                "path": r.path,
                "status": r.status,
                "client": r.client,
                "detail": r.detail,
            }
            for r in state_of(request).svc.store.audit(max(1, min(limit, 5000)))
        ]


def _lead_name(who: TokenPrincipal) -> str:
    """How a look by a lead token is logged: the token's subject and public id."""
    return f"{who.subject} (token {who.token_id})"
