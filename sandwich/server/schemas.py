"""Request and response bodies of the HTTP API that are not service views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from sandwich.views import View

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # overseer and condition names (slugs)
IDENT = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"  # assignment and item ids: no '/', no leading '.'


class SessionIn(View):
    """Opening (or re-opening) a session."""

    client: str = Field("http", max_length=64)
    session_id: str | None = Field(None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")  # resume this one
    take_over: bool = False  # open even while another live session holds the overseer's lease


class InteractionIn(View):
    """One interaction event; `interaction_id` makes a retried log a no-op."""

    event: str = Field(..., min_length=1, max_length=64)
    assignment_id: str | None = Field(None, max_length=200)
    payload: dict[str, Any] | None = None
    interaction_id: str | None = Field(None, min_length=8, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")


class PracticeAnswerIn(View):
    """An answer to a practice item."""

    item_id: str = Field(..., max_length=200, pattern=IDENT)
    choice: str = Field(..., max_length=100)


class FollowUpIn(View):
    """An overseer's own question to the model about one item."""

    question: str = Field(..., min_length=1, max_length=2000)
    node_id: str | None = Field(None, max_length=64)


class TokenIn(View):
    """Ask for a token: for one overseer, or for the lead."""

    overseer: str | None = Field(None, pattern=NAME)
    lead: bool = False


class TokenOut(View):
    """A freshly issued token; the text is shown once and never stored."""

    token: str
    token_id: str
    subject: str
    role: str


class TokenInfo(View):
    """A token as listed (no secret, no hash)."""

    token_id: str
    subject: str
    role: str
    created_at: datetime | None
    revoked: bool


class Principal(View):
    """Who the presented token speaks for."""

    subject: str
    role: str
    token_id: str
    study: str


class ErrorBody(View):
    """Every refusal and failure has this body."""

    error: str
    message: str
    hint: str | None = None
    saved: bool | None = None  # on judgment submits: False means the judgment was NOT stored
    detail: list[dict[str, Any]] | None = None
