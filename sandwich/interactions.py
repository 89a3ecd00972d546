"""What an overseer's client may log as an interaction, and the bounds on what it sends.

The service writes some events itself (`session_start`, `interrupted`, the follow-up
record, practice answers, refused judgments); analysis trusts those. A client — the
terminal app, the browser, anyone holding an overseer token — may log only the events
in `CLIENT_EVENTS`, with a small JSON payload whose times are finite and bounded.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sandwich.errors import SandwichError
from sandwich.store.records import JudgmentRecord
from sandwich.views import MAX_TIME_S, TIME_SLACK_S, JudgmentFormat, JudgmentIn

# written by the service only: a client posting one is refused (422)
SERVER_EVENTS = frozenset(
    {
        "session_start",
        "interrupted",
        "followup_asked",
        "followup_answered",
        "followup_failed",
        "practice_answer",
        "judgment_conflict",
        "session_taken_over",
    }
)
# what the overseer apps (tui/, the browser through the same app) log
CLIENT_EVENTS = frozenset(
    {
        "item_shown",
        "practice_shown",
        "briefing_shown",
        "help_opened",
        "theme_changed",
        "session_end",
        "session_finished",
        "item_time",
        "focus_lost",
        "focus_regained",
        "pane_maximised",
        "pane_restored",
        "panel_opened",
        "panel_closed",
        "node_expanded",
        "node_viewed",
        "assistance_unavailable",
        "timer_warning",
        "followup_abandoned",
        "panes_stacked",
        "panes_side_by_side",
    }
)
MAX_PAYLOAD_BYTES = 8 * 1024
TIME_KEYS = ("time_on_item_s", "away_s", "seconds_left")


def time_cap(fmt: JudgmentFormat | None) -> float:
    """The largest believable time on one item, in seconds: its limit plus slack, else `MAX_TIME_S`."""
    if fmt is not None and fmt.time_limit_s:
        return float(fmt.time_limit_s + TIME_SLACK_S)
    return float(MAX_TIME_S)


def check_client_event(event: str, payload: dict[str, Any] | None, fmt: JudgmentFormat | None) -> None:
    """Refuse (SandwichError → HTTP 422) an event a client may not log, or a payload out of bounds.

    `fmt` is the answer format of the event's item (None for events outside an item): it bounds
    `time_on_item_s`. Payloads are plain JSON (no NaN/Infinity) of at most `MAX_PAYLOAD_BYTES`.
    """
    if event in SERVER_EVENTS:
        raise SandwichError(f"Event {event!r} is written by the server itself; a client may not log it.")
    if event not in CLIENT_EVENTS:
        raise SandwichError(
            f"Unknown interaction event {event!r}.", hint="Allowed: " + ", ".join(sorted(CLIENT_EVENTS)) + "."
        )
    body = payload or {}
    try:
        size = len(json.dumps(body, allow_nan=False))
    except ValueError:
        raise SandwichError(f"Event {event!r}: the payload holds NaN or Infinity, which is not JSON.") from None
    if size > MAX_PAYLOAD_BYTES:
        raise SandwichError(f"Event {event!r}: the payload has {size} bytes (at most {MAX_PAYLOAD_BYTES}).")
    for key in TIME_KEYS:
        if key not in body:
            continue
        value, cap = body[key], time_cap(fmt) if key == "time_on_item_s" else float(MAX_TIME_S)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not 0 <= value <= cap
        ):
            raise SandwichError(f"Event {event!r}: {key} = {value!r} is not a time in seconds between 0 and {cap:g}.")


def conflict(j: JudgmentIn, standing: JudgmentRecord | None) -> tuple[str, dict[str, Any]]:
    """What to tell the overseer, and what to log as `judgment_conflict`, when a judgment of `j`'s assignment
    from another session (`standing`) already holds it and `j` is therefore not recorded."""

    def answer(choice: str | None, confidence: int | None, skipped: bool = False) -> str:
        return "skipped" if skipped or choice is None else f"{choice}, {confidence}%"

    mine = answer(j.choice, j.confidence, j.skipped)
    if standing is None:
        theirs, when = "an earlier answer", ""
    else:
        theirs = answer(standing.choice, standing.confidence, standing.skipped)
        when = f" at {standing.created_at:%H:%M:%S} UTC" if standing.created_at else ""
    message = (
        f"This item was already answered from another session ({theirs}{when}); your answer ({mine}) was "
        "not recorded. The earlier answer stands."
    )
    payload = {
        "discarded_judgment_id": j.judgment_id,
        "choice": j.choice,
        "confidence": j.confidence,
        "skipped": j.skipped,
        "time_on_item_s": j.time_on_item_s,
        "standing_judgment_id": standing.judgment_id if standing else None,
        "standing_choice": standing.choice if standing else None,
    }
    return message, payload
