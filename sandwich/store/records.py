"""Typed records that go into and come out of a study store (one per table row kind).

Plain frozen dataclasses: cheap to build by the hundred thousand, and independent
of any database, so a new store implementation maps its rows onto the same types.
JSON columns travel parsed (dicts/lists), never as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item as stored: the overseer-visible fields plus split, role and meta."""

    item_id: str
    task_kind: str
    problem_id: str
    split: str
    role: str = "study"  # study | practice
    title: str | None = None
    prompt: str | None = None
    body: str | None = None
    question: str | None = None
    choices: list[str] | None = None
    language: str | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class GoldRecord:
    """A gold label (blinded: only lead-side code reads these)."""

    item_id: str
    label: str
    source: str
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class HiddenTestRecord:
    """A code-review problem's hidden test (blinded)."""

    problem_id: str
    test: str | None
    entry_point: str | None


@dataclass(frozen=True, slots=True)
class ConditionRecord:
    """A condition as created: its order, assistance specs, briefing and follow-up permission."""

    name: str
    position: int
    assistance: list[dict[str, Any]]
    briefing: str | None
    live_followups: bool


@dataclass(frozen=True, slots=True)
class OverseerRecord:
    """An overseer: role (non_expert | expert), kind (human | simulated) and a simulation profile."""

    name: str
    role: str
    kind: str = "human"
    profile: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    """One item dealt to one overseer under one condition, at a position of their session."""

    assignment_id: str
    overseer: str
    item_id: str
    condition: str
    position: int
    block: int


@dataclass(frozen=True, slots=True)
class AssistanceRecord:
    """Precomputed assistance for an item under a condition, with what produced it."""

    assistance_id: str
    item_id: str
    condition: str
    kind: str
    status: str  # ok | unparsed | failed
    content: dict[str, Any] | None = None
    raw: str | None = None
    backend: str | None = None
    model: str | None = None
    prompt: Any = None
    params: dict[str, Any] | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_s: float | None = None
    seed: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JudgmentRecord:
    """A stored judgment (the `judgments` row); built by `sandwich.rules.judgment_record`."""

    judgment_id: str
    assignment_id: str
    overseer: str
    item_id: str
    condition: str
    choice: str | None
    confidence: int | None
    rationale: str | None
    time_on_item_s: float | None
    time_to_first_assist_s: float | None
    assistance_failed: bool
    timed_out: bool
    skipped: bool
    source: str
    simulated: bool
    client_meta: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    """One logged interaction (panel opened, follow-up asked, session start …)."""

    interaction_id: str
    overseer: str
    assignment_id: str | None
    event: str
    payload: dict[str, Any] = field(default_factory=dict)
    ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class ModelAnswerRecord:
    """The assistant answering an item on its own (the sandwich's "model alone" rung)."""

    item_id: str
    model: str
    backend: str | None
    choice: str | None
    confidence: int | None
    raw: str | None
    prompt: Any
    params: dict[str, Any] | None
    latency_s: float | None


@dataclass(frozen=True, slots=True)
class FreezeRecord:
    """The frozen analysis plan: its canonical JSON, the sha256 of that JSON, and when it was frozen."""

    hash: str
    plan: dict[str, Any]
    frozen_at: datetime


@dataclass(frozen=True, slots=True)
class LookRecord:
    """One look at a study's results (analyze, export, snapshot): when, by whom, how much data existed."""

    ts: datetime
    action: str  # analyze | export | snapshot
    who: str  # OS user, or the lead token's subject and id
    judgments: int  # judgments stored at the time of the look
    planned: int  # the planned sample size (assignments)
    plan_hash: str | None  # the frozen plan's hash as stored at the time (tamper evidence)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A serve access token: public id, salt, sha256(salt + secret), subject and role."""

    token_id: str
    salt: str
    token_hash: str
    subject: str
    role: str
    created_at: datetime
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A refused request, for the lead's audit view."""

    event: str
    subject: str | None
    role: str | None
    method: str | None
    path: str | None
    status: int | None
    client: str | None
    detail: dict[str, Any] | None
    ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class StudyContent:
    """Everything `sandwich create` writes, in one go."""

    meta: dict[str, str]
    items: list[ItemRecord]
    gold: list[GoldRecord]
    hidden_tests: list[HiddenTestRecord]
    conditions: list[ConditionRecord]
    overseers: list[OverseerRecord]
    assignments: list[AssignmentRecord]
