"""Who may do what: bearer tokens checked on every route, every refusal logged and audited.

Missing or unknown token → 401. A valid token on a route it does not reach
(another overseer's URL, a lead route with an overseer's token) → 403.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from sandwich.server.schemas import NAME
from sandwich.server.state import ServerState
from sandwich.server.tokens import Principal
from sandwich.store import AuditRecord

log = logging.getLogger("sandwich.serve.auth")
AUDIT_PER_SECOND = 50  # a flood of bad requests is logged, but cannot flood the study database
_audit_window = [0, 0]  # [second, rows written in it]


def state_of(request: Request) -> ServerState:
    """The running server's state."""
    return request.app.state.sandwich


def refuse(
    request: Request, status: int, reason: str, who: Principal | None = None, headers: dict[str, str] | None = None
) -> HTTPException:
    """Log and audit a refusal, and return the HTTPException to raise."""
    client = request.client.host if request.client else None
    log.warning(
        "refused %s %s → %d (%s; token subject=%s role=%s; client %s)",
        request.method,
        request.url.path,
        status,
        reason,
        who.subject if who else None,
        who.role if who else None,
        client,
    )
    st = state_of(request)
    second = int(time.monotonic())
    if _audit_window[0] != second:
        _audit_window[:] = [second, 0]
    _audit_window[1] += 1
    headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if status == 401 else {})} or None
    if _audit_window[1] > AUDIT_PER_SECOND:
        return HTTPException(status, detail=reason, headers=headers)
    try:
        st.writer.run(
            lambda: st.svc.store.add_audit(
                AuditRecord(
                    event="refused",
                    subject=who.subject if who else None,
                    role=who.role if who else None,
                    method=request.method,
                    path=request.url.path[:300],
                    status=status,
                    client=client,
                    detail={"reason": reason},
                )
            )
        )
    except Exception:  # noqa: BLE001 — shutting down: the log line above still records it
        pass
    return HTTPException(status, detail=reason, headers=headers)


async def principal(request: Request) -> Principal:
    """The principal of the request's bearer token, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise refuse(request, 401, "no token: send 'Authorization: Bearer <token>'")
    who = state_of(request).tokens.verify(token.strip()) if scheme.lower() == "bearer" else None
    if who is None:
        raise refuse(request, 401, "unknown, malformed or revoked token")
    try:
        size = int(request.headers.get("content-length") or 0)
    except ValueError:
        size = 0
    wait = state_of(request).budgets.charge(who.token_id, size)
    if wait:
        raise refuse(
            request,
            429,
            f"this token is over its request budget; retry in {wait} s",
            who,
            headers={"Retry-After": str(wait)},
        )
    return who


async def overseer_principal(
    request: Request, who: Annotated[Principal, Depends(principal)], overseer: Annotated[str, Path(pattern=NAME)]
) -> Principal:
    """An overseer's token whose subject is the overseer named in the URL, or 403."""
    if who.role != "overseer" or who.subject != overseer:
        raise refuse(request, 403, f"this token does not reach overseer {overseer!r}'s work", who)
    return who


async def lead_principal(request: Request, who: Annotated[Principal, Depends(principal)]) -> Principal:
    """A lead token, or 403."""
    if who.role != "lead":
        raise refuse(request, 403, "lead routes need a lead token", who)
    return who


Overseer = Annotated[Principal, Depends(overseer_principal)]
Lead = Annotated[Principal, Depends(lead_principal)]
Anyone = Annotated[Principal, Depends(principal)]
