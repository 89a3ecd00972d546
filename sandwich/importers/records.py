"""Typed records an importer produces and `persist` writes: no SQL, no file format.

An `ImportedStudy` is a whole observed study: items and gold (from `sandwich.tasks.base`),
conditions, overseers, one judgment per (overseer, item) with its belief trajectory,
the transcripts judges saw, and a summary of what was left out and why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandwich.tasks.base import Gold, Item

TIE = "tie"  # a final judgement of exactly 50/50 names no answer: it never counts as correct


@dataclass
class Belief:
    """The judge's probabilities after one round (a point on the belief trajectory).

    `probabilities` are in the item's stored choice order (A, B, ...), each in [0, 1].
    `round` counts the speech rounds the judge had seen (0 = before any speech).
    """

    round: int
    probabilities: list[float]
    message: str = ""
    ts: datetime | None = None
    final: bool = False


@dataclass
class ImportedJudgment:
    """One overseer's final judgment of one item under one condition, with how they got there."""

    judgment_id: str
    overseer: str
    item_id: str
    condition: str
    choice: str | None  # a choice letter of the item, or TIE
    confidence: int | None  # 0..100: probability the chosen answer is right
    rationale: str | None
    time_on_item_s: float | None
    created_at: datetime | None
    trajectory: list[Belief] = field(default_factory=list)  # earlier rounds, in order (not the final one)
    transcript_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # shown choice order, exact probabilities, source

    @property
    def assignment_id(self) -> str:
        """The observed assignment this judgment answers (one per judgment)."""
        return f"obs:{self.judgment_id}"


@dataclass
class Transcript:
    """What an assisted judge read: a debate or consultancy, in the study's assistance content format."""

    transcript_id: str
    item_id: str
    condition: str
    kind: str  # debate | consultancy
    content: dict[str, Any]
    source: dict[str, Any]  # where it came from (data set, file, session)


@dataclass
class ConditionRecord:
    """A condition of an observed study and the assistance kinds its judges had."""

    name: str
    assistance: list[str]
    briefing: str | None = None


@dataclass
class ImportSummary:
    """What an import read, kept and left out (with reasons), for the terminal and the database."""

    source: str
    sessions: int = 0
    included: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> sessions left out
    offline_included: int = 0
    offline_skipped: Counter[str] = field(default_factory=Counter)  # reason -> offline judgments left out
    by_condition: Counter[str] = field(default_factory=Counter)  # condition -> judgments kept

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "source": self.source,
            "sessions": self.sessions,
            "included": self.included,
            "skipped": dict(self.skipped),
            "offline_included": self.offline_included,
            "offline_skipped": dict(self.offline_skipped),
            "by_condition": dict(self.by_condition),
        }


@dataclass
class ImportedStudy:
    """Everything one import writes into a new study database."""

    name: str
    config_text: str  # the observed study's YAML, stored like any study's
    items: list[Item]
    gold: list[Gold]
    conditions: list[ConditionRecord]
    overseers: list[str]
    judgments: list[ImportedJudgment]
    transcripts: list[Transcript]
    summary: ImportSummary
    source: dict[str, Any]
