"""The study's rules for judgments, written once: used in process (`OverseerSession`) and by `sandwich serve`.

- checking a judgment against the study's answer format (and the timeout policy);
- the stored row of a checked judgment;
- the overseer's view of an item, and progress;
- whether an assignment may ask follow-up questions;
- the frozen analysis plan: what is frozen, its hash, and how a stored plan is checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandwich.config import Condition, JudgmentSpec, Study
from sandwich.errors import SandwichError
from sandwich.store.records import AssignmentRecord, FreezeRecord, ItemRecord, JudgmentRecord, LookRecord
from sandwich.tasks import kind as task_kinds
from sandwich.views import (
    TIME_SLACK_S,
    ConditionProgress,
    ItemContent,
    ItemView,
    JudgmentFormat,
    JudgmentIn,
    ProgressView,
)


def utc_now() -> datetime:
    """Now, in UTC, without tzinfo (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


# ------------------------------------------------------------------ judgments
def judgment_format(spec: JudgmentSpec, choices: Sequence[str] | None) -> JudgmentFormat:
    """The answer format for an item (its `choices`, for `choices: item` studies) under the study's settings."""
    if spec.choices == "item":
        letters = [chr(65 + i) for i in range(len(choices or []))]
        labels = [f"{ltr}. {text}" for ltr, text in zip(letters, choices or [], strict=True)]
    else:
        letters, labels = list(spec.choices or []), list(spec.choices or [])
    return JudgmentFormat(
        choices=letters,
        choice_labels=labels,
        confidence=spec.confidence,
        time_limit_s=spec.time_limit_s,
        warn_before_s=spec.warn_before_s,
        on_timeout=spec.on_timeout,
        rationale=spec.rationale,
    )


def timeout_sentence(spec: JudgmentSpec) -> str:
    """The timeout policy in the briefing's words ('' when items have no time limit)."""
    if not spec.time_limit_s:
        return ""
    then = "submitted with what you chose." if spec.on_timeout == "force" else "skipped."
    return (
        f"You have {spec.time_limit_s // 60} min {spec.time_limit_s % 60} s per item; a warning shows "
        f"{spec.warn_before_s} s before the end, then the item is {then}"
    )


def check_judgment(j: JudgmentIn, fmt: JudgmentFormat) -> None:
    """Refuse a judgment whose choice, confidence or rationale does not fit the study's format.

    Raises SandwichError with what was expected. A skipped judgment carries no answer; a judgment
    forced by the time limit needs no rationale (there was no time to write one).
    """
    if (
        j.source == "human"
        and fmt.time_limit_s
        and j.time_on_item_s is not None
        and j.time_on_item_s > fmt.time_limit_s + TIME_SLACK_S
    ):
        raise SandwichError(
            f"time_on_item_s = {j.time_on_item_s:g} s is beyond this item's time limit "
            f"({fmt.time_limit_s} s, plus {TIME_SLACK_S} s of slack)."
        )
    if j.skipped:
        return
    if j.choice not in fmt.choices:
        raise SandwichError(f"Choice {j.choice!r} is not allowed here (expected one of: {', '.join(fmt.choices)}).")
    if j.confidence is None or j.confidence not in fmt.confidence:
        raise SandwichError(
            f"Confidence {j.confidence!r} is not on the study's scale ({', '.join(map(str, fmt.confidence))})."
        )
    if fmt.rationale == "required" and not (j.rationale or "").strip() and not j.timed_out:
        raise SandwichError("This study asks for a one-line rationale with every judgment.")


def judgment_record(
    j: JudgmentIn, a: AssignmentRecord, fmt: JudgmentFormat, now: datetime, item: ItemRecord | None = None
) -> JudgmentRecord:
    """The stored judgment for a checked one (skipped: no answer; rationale dropped when the study turns it off).

    For an item shown in an order picked per overseer (`item` given; pairwise), the choice made on the item as
    shown is stored in the item's own (canonical) terms, and `client_meta` records the order shown
    (`shown_order`) and the choice as pressed (`shown_choice`); the service's values replace any the client sent.
    """
    choice = None if j.skipped else j.choice
    meta = j.client_meta or None
    order = shown_order(item, a.overseer) if item is not None else None
    if order is not None:
        kind = task_kinds.of(item_content(item))  # type: ignore[arg-type]  # order is None without an item
        meta = {**(meta or {}), "shown_order": order, "shown_choice": choice}
        choice = kind.to_canonical(choice, order) if choice is not None else None
    return JudgmentRecord(
        judgment_id=j.judgment_id,
        assignment_id=j.assignment_id,
        overseer=a.overseer,
        item_id=a.item_id,
        condition=a.condition,
        choice=choice,
        confidence=None if j.skipped else j.confidence,
        rationale=j.rationale if fmt.rationale != "off" else None,
        time_on_item_s=j.time_on_item_s,
        time_to_first_assist_s=j.time_to_first_assist_s,
        assistance_failed=j.assistance_failed,
        timed_out=j.timed_out,
        skipped=j.skipped,
        source=j.source,
        simulated=j.source != "human",
        client_meta=meta,
        created_at=now,
    )


def shown_order(item: ItemRecord, overseer: str) -> str | None:
    """The order `overseer` is shown `item` in (pairwise: 'AB' or 'BA'), None for items shown as stored."""
    return task_kinds.of(item_content(item)).shown_order(item.meta, overseer)


def shown_value(item: ItemRecord, overseer: str, value: str) -> str:
    """A canonical answer (e.g. gold) as it reads on the item as `overseer` is shown it."""
    order = shown_order(item, overseer)
    return value if order is None else task_kinds.of(item_content(item)).to_shown(value, order)


# ------------------------------------------------------------------ what an overseer sees
def item_content(item: ItemRecord) -> ItemContent:
    """The overseer-visible fields of an item (no split, role or meta)."""
    return ItemContent(
        item_id=item.item_id,
        task_kind=item.task_kind,
        title=item.title or "",
        prompt=item.prompt or "",
        body=item.body or "",
        question=item.question or "",
        choices=list(item.choices or []),
        language=item.language,
    )


def followups_allowed(cond: Condition) -> bool:
    """Whether overseers under a condition may ask their own follow-up questions (only with assistance)."""
    return bool(cond.live_followups and cond.assistance)


def item_view(
    a: AssignmentRecord, session: Sequence[AssignmentRecord], item: ItemRecord, cond: Condition, fmt: JudgmentFormat
) -> ItemView:
    """The view of assignment `a`, one of `session` (the overseer's assignments in position order)."""
    first = a.position == 0 or session[a.position - 1].condition != a.condition
    content = item_content(item)
    if (order := shown_order(item, a.overseer)) is not None:
        content = task_kinds.of(content).show(content, order)
    return ItemView(
        assignment_id=a.assignment_id,
        overseer=a.overseer,
        position=a.position,
        total=len(session),
        block=a.block,
        condition=cond.name,
        assistance_kinds=cond.kinds,
        live_followups=followups_allowed(cond),
        first_in_block=first,
        item=content,
        judgment=fmt,
    )


def next_assignment(session: Sequence[AssignmentRecord], judged: set[str] | dict[str, Any]) -> AssignmentRecord | None:
    """The first of an overseer's assignments (in position order) without a judgment."""
    return next((a for a in session if a.assignment_id not in judged), None)


def progress(overseer: str, session: Sequence[AssignmentRecord], judged: set[str] | dict[str, Any]) -> ProgressView:
    """Done/total overall and per condition (conditions in the order their blocks come)."""
    per: dict[str, list[int]] = {}
    for a in session:
        c = per.setdefault(a.condition, [0, 0, a.block])
        c[0] += a.assignment_id in judged
        c[1] += 1
        c[2] = min(c[2], a.block)
    by = [
        ConditionProgress(condition=k, done=v[0], total=v[1]) for k, v in sorted(per.items(), key=lambda kv: kv[1][2])
    ]
    return ProgressView(
        overseer=overseer, done=sum(c.done for c in by), total=sum(c.total for c in by), by_condition=by
    )


# ------------------------------------------------------------------ the frozen analysis plan
def analysis_plan(study: Study, planned: int) -> dict[str, Any]:
    """Everything the confirmatory analysis depends on, as canonical JSON-able data.

    The hypotheses, the analysis seed, bootstrap replicates and permutations, which judgment sources
    count (null: not restricted by the plan — `analyze`'s default, people when there are any), the
    multiplicity correction, and the planned sample size (`planned` judgments: every assignment). Every
    setting is a typed field of the study file's `preregistration:` section (`config.Preregistration`).
    """
    p = study.preregistration
    return {
        "hypotheses": [h.model_dump(mode="json") for h in p.hypotheses],
        "notes": p.notes,
        "seed": study.seed,
        "replicates": p.replicates,
        "permutations": p.permutations,
        "sources": list(p.sources) if p.sources is not None else None,
        "multiplicity": p.multiplicity,
        "planned_judgments": planned,
        "design": study.overseers.design,
    }


# Plans frozen before `sources` was a typed field recorded "all" for a study that named no sources (it never
# selected anything: analyze used its default). Compared as what it meant; the stored plan and its hash are
# never rewritten, so they still verify byte for byte.
_LEGACY_VALUES = {"sources": {"all": None}}


def _as_meant(plan: dict[str, Any]) -> dict[str, Any]:
    """A stored plan with legacy encodings read as what they meant (for comparison only)."""
    out = dict(plan)
    for key, table in _LEGACY_VALUES.items():
        if isinstance(out.get(key), str) and out[key] in table:
            out[key] = table[out[key]]
    return out


def planned_sources(plan: dict[str, Any] | None) -> list[str] | None:
    """The judgment sources a frozen plan counts as confirmatory (None: the plan does not restrict them)."""
    if not plan:
        return None
    sources = _as_meant(plan).get("sources")
    return [str(s) for s in sources] if isinstance(sources, list) and sources else None


def plan_hash(plan: dict[str, Any]) -> str:
    """sha256 of the plan's canonical JSON (sorted keys). Files frozen before whole plans hash the hypotheses."""
    body = plan["preregistration"] if set(plan) == {"preregistration"} else plan
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def freeze_record(study: Study, planned: int, now: datetime) -> FreezeRecord:
    """The record that freezes a study's plan (written before its first judgment)."""
    plan = analysis_plan(study, planned)
    return FreezeRecord(hash=plan_hash(plan), plan=plan, frozen_at=now)


@dataclass
class PlanCheck:
    """The frozen plan, re-checked: its hash and time, and every way the stored study disagrees with it."""

    hash: str  # as stored
    frozen_at: datetime
    plan: dict[str, Any]
    recomputed: str = ""  # the stored plan's own hash, recomputed now
    problems: list[str] = field(default_factory=list)

    @property
    def tampered(self) -> bool:
        """True when the stored plan, its hash, the stored study text or the look log disagree."""
        return bool(self.problems)


def _hyp_text(h: dict[str, Any]) -> str:
    return f"{' vs '.join(h.get('compare', []))} ({h.get('metric')}, {h.get('alternative')}, α={h.get('alpha')})"


def plan_differences(frozen: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between two plans, in words ('H1: explain vs unassisted … → critique vs unassisted …')."""
    out = []
    fh = {h["id"]: h for h in frozen.get("hypotheses", [])}
    nh = {h["id"]: h for h in now.get("hypotheses", [])}
    for hid in sorted(set(fh) | set(nh)):
        if hid not in nh:
            out.append(f"{hid}: frozen as {_hyp_text(fh[hid])}, now missing")
        elif hid not in fh:
            out.append(f"{hid}: not in the frozen plan, now {_hyp_text(nh[hid])}")
        elif fh[hid] != nh[hid]:
            out.append(f"{hid}: frozen as {_hyp_text(fh[hid])}, now {_hyp_text(nh[hid])}")
    for key in sorted((set(frozen) | set(now)) - {"hypotheses"}):
        if frozen.get(key) != now.get(key):
            out.append(f"{key}: frozen as {frozen.get(key)!r}, now {now.get(key)!r}")
    return out


def check_plan(
    frozen: FreezeRecord,
    study: Study,
    planned: int,
    config_text: str,
    config_hash: str,
    looks: Sequence[LookRecord],
    judgments: int | None = None,
) -> PlanCheck:
    """Re-check a frozen plan against everything that could have been rewritten after the freeze.

    - the stored plan must still hash to the stored hash;
    - the plan recomputed from the stored study text must equal the stored plan;
    - the stored study text must still hash to its stored config hash;
    - every look logged since the freeze must have seen the same plan hash, and no more judgments
      than are stored now (`judgments`; judgments are never deleted).
    Someone who rewrites all four consistently is not caught here: the report prints the frozen hash
    and time so they can be checked against an external registration.
    """
    recomputed = plan_hash(frozen.plan)
    check = PlanCheck(frozen.hash, frozen.frozen_at, frozen.plan, recomputed)
    if recomputed != frozen.hash:
        check.problems.append(
            f"the stored plan hashes to {recomputed[:12]}, but the stored hash reads {frozen.hash[:12]}"
        )
    legacy = set(frozen.plan) == {"preregistration"}
    if legacy:
        # such files froze {hypotheses, notes}; a setting added to the section since counts only when the study
        # sets it away from its default (which the earlier code could not have frozen)
        old = frozen.plan["preregistration"]
        dump = study.preregistration.model_dump(mode="json")
        defaults = type(study.preregistration)().model_dump(mode="json")
        current = {k: v for k, v in dump.items() if k in old or v != defaults.get(k)}
        if current != old:
            check.problems += plan_differences(old, current)
    else:
        check.problems += [
            f"{d} (in the stored study text)"
            for d in plan_differences(_as_meant(frozen.plan), analysis_plan(study, planned))
        ]
    if hashlib.sha256(config_text.encode()).hexdigest() != config_hash:
        check.problems.append("the stored study text no longer matches its stored hash")
    for look in looks:
        if look.plan_hash is not None and look.plan_hash != frozen.hash:
            check.problems.append(
                f"the {look.action} at {look.ts:%Y-%m-%d %H:%M:%S} saw plan hash "
                f"{look.plan_hash[:12]}, now {frozen.hash[:12]}"
            )
        if judgments is not None and look.judgments > judgments:
            check.problems.append(
                f"the {look.action} at {look.ts:%Y-%m-%d %H:%M:%S} saw {look.judgments} "
                f"judgments, now {judgments}: judgments were removed after it"
            )
    return check
