"""`sandwich assist precompute`: every (item, condition, kind) of assistance a study needs, stored once.

Every overseer in a condition then sees the same stored assistance (experimental
control). Work goes in batches, each committed as it finishes, so an interrupted
run keeps what it did and a re-run skips it. Consultancy and debate sides are
assigned here: this is the one place outside analysis that reads gold, and only to
balance assignments (half the consultants argue for the right answer, half for a
wrong one; the right answer goes to debater A half the time). Gold never enters a
prompt; whether the assigned side was right is stored in the row's `params`, not in
its `content`, so analysis can split by it and overseers never see it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistants.backends.base import Backend, get_backend
from assistants.strategy import Outcome, run_strategies, steps_for
from assistants.templates import answer_values
from sandwich import assistance
from sandwich.config import AssistantSpec
from sandwich.errors import SandwichError
from sandwich.rules import item_content
from sandwich.service import StudyService
from sandwich.store import AssistanceRecord
from sandwich.views import ItemContent

Progress = Callable[[int, int], None]


@dataclass
class Job:
    """One row of assistance to produce."""

    item: ItemContent
    condition: str
    kind: str
    params: dict[str, Any]
    sides: tuple[str, ...] = ()
    side_info: dict[str, Any] = field(default_factory=dict)

    @property
    def assistance_id(self) -> str:
        return f"{self.item.item_id}:{self.condition}:{self.kind}"


@dataclass
class PrecomputeReport:
    """What a precompute run did."""

    needed: int = 0
    skipped: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    wall_s: float = 0.0
    backend: str = ""
    model: str = ""

    @property
    def generated(self) -> int:
        return sum(self.by_status.values())


def _items(svc: StudyService) -> dict[str, ItemContent]:
    return {i.item_id: item_content(i) for i in svc.store.items()}


def needed(svc: StudyService, overseers: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(item_id, condition) pairs that need their condition's assistance: assignments plus practice items.

    With `overseers`, only what those overseers will meet (e.g. today's session); rows are still
    shared per item and condition, so everyone in a condition sees the same help.
    """
    assisted = [c.name for c in svc.study.conditions if c.assistance]
    if overseers:
        known = {o.name for o in svc.overseers()}
        unknown = sorted(set(overseers) - known)
        if unknown:
            raise SandwichError(
                f"No overseer named {', '.join(map(repr, unknown))} in this study.",
                hint=f"Overseers: {', '.join(sorted(known))}.",
            )
    pairs = {
        (a.item_id, a.condition)
        for a in svc.store.assignments()
        if a.condition in assisted and (not overseers or a.overseer in overseers)
    }
    practice = [i.item_id for i in svc.store.items(role="practice")]
    pairs |= {(i, c) for i in practice for c in assisted}
    return sorted(pairs)


def _balanced_flags(ids: list[str], key: str) -> dict[str, bool]:
    """True for half of `ids` (seeded, independent of order), False for the rest."""
    order = sorted(ids)
    random.Random(key).shuffle(order)
    return {i: n % 2 == 0 for n, i in enumerate(order)}


def _wrong(values: list[str], right: str, key: str) -> str:
    return random.Random(key).choice([v for v in values if v != right])


def _sided(kind: str) -> int:
    """How many assigned answers a kind argues (the registry says: consultancy 1, debate 2, others 0)."""
    return assistance.get(kind).sides


def assign_sides(jobs: list[Job], gold: dict[str, str], seed: int, population: dict[str, list[str]]) -> None:
    """Fill in who argues what for sided jobs (one side: a consultant; two: debaters), reading gold only to
    balance right/wrong.

    The half/half split is drawn over `population` — every item the condition needs, by condition —
    not over the jobs of this run, so a resumed, retried or per-overseer run gives an item the
    same side as a full run would.
    """
    groups: dict[tuple[str, str], list[Job]] = {}
    for j in jobs:
        if _sided(j.kind):
            groups.setdefault((j.condition, j.kind), []).append(j)
    for (cond, kind), group in groups.items():
        flags = _balanced_flags(population[cond], f"{seed}:{cond}:{kind}")
        for j in group:
            values = answer_values(j.item)
            key = f"{seed}:{cond}:{kind}:{j.item.item_id}"
            right = gold.get(j.item.item_id)
            if right not in values:  # no gold (expert-judged study): a seeded coin, balance unknown
                first = random.Random(key).choice(values)
                j.sides = (first, _wrong(values, first, key)) if _sided(kind) == 2 else (first,)
                j.side_info = {"assigned_is_correct": None} if _sided(kind) == 1 else {"correct_debater": None}
                continue
            wrong = _wrong(values, right, key)
            if _sided(kind) == 1:
                j.sides = (right if flags[j.item.item_id] else wrong,)
                j.side_info = {"assigned_is_correct": flags[j.item.item_id]}
            else:
                j.sides = (right, wrong) if flags[j.item.item_id] else (wrong, right)
                j.side_info = {"correct_debater": "A" if flags[j.item.item_id] else "B"}


def plan(
    svc: StudyService, *, retry_failed: bool = False, overseers: Sequence[str] | None = None
) -> tuple[list[Job], int]:
    """Jobs still to do (kind-major order so a batch shares its prompts' shape), and how many were skipped.

    With `retry_failed`, failed and unparsed rows are done again, and so are rows whose output was cut off
    at the token limit (`params.truncated`).
    """
    items = _items(svc)
    have = {(r.item_id, r.condition, r.kind): r.status for r in svc.store.assistance()}
    cut = {(r.item_id, r.condition, r.kind) for r in svc.store.assistance() if (r.params or {}).get("truncated")}
    jobs: list[Job] = []
    skipped = 0
    for item_id, cond_name in needed(svc, overseers):
        for spec in svc.study.condition(cond_name).assistance:
            key = (item_id, cond_name, spec.kind)
            status = have.get(key)
            if (status == "ok" and key not in cut) or (status is not None and not retry_failed):
                skipped += 1
                continue
            jobs.append(Job(items[item_id], cond_name, spec.kind, dict(spec.params)))
    if any(_sided(j.kind) for j in jobs):
        population: dict[str, list[str]] = {}
        for item_id, cond_name in needed(svc):
            population.setdefault(cond_name, []).append(item_id)
        assign_sides(jobs, svc.gold(), svc.study.seed, population)
    kinds = assistance.names()
    jobs.sort(key=lambda j: (kinds.index(j.kind), j.condition, j.item.item_id))
    return jobs, skipped


def _checked(kind: str, out: Outcome) -> Outcome:
    """The outcome with its content held to the kind's contract: content that breaks it is kept as raw text."""
    if out.status != "ok":
        return out
    typed = assistance.get(kind).parse(out.content)
    if typed is None:
        return Outcome(
            "unparsed", None, f"{out.raw}\n\n[content does not fit the {kind} contract: {out.content}]", out.generations
        )
    return Outcome("ok", typed.model_dump(mode="json", exclude_unset=True), out.raw, out.generations)


def _row(job: Job, out: Outcome, spec: AssistantSpec, backend: Backend) -> AssistanceRecord:
    out = _checked(job.kind, out)
    gens = out.generations
    params = {
        "strategy": job.params,
        "sampling": {
            "temperature": spec.temperature,
            "top_p": spec.top_p,
            "max_tokens": job.params.get("max_tokens", spec.max_tokens),
        },
        "calls": [g.params for g in gens],
        **job.side_info,
        # per call; "length" means that output was cut off at max_tokens (--retry-failed redoes the row)
        "finish_reasons": [g.finish_reason for g in gens],
        "truncated": any(g.truncated for g in gens),
    }
    if job.sides:
        params["sides"] = list(job.sides)
    return AssistanceRecord(
        assistance_id=job.assistance_id,
        item_id=job.item.item_id,
        condition=job.condition,
        kind=job.kind,
        status=out.status,
        content=out.content,
        raw=out.raw,
        backend=gens[0].backend if gens else backend.name,
        model=gens[0].model if gens else backend.model,
        prompt=[g.messages for g in gens],
        params=params,
        tokens_in=sum(g.tokens_in for g in gens),
        tokens_out=sum(g.tokens_out for g in gens),
        latency_s=round(sum(g.latency_s for g in gens), 4),
        seed=spec.seed,
    )


def store_outcomes(svc: StudyService, rows: list[AssistanceRecord]) -> None:
    """Write one batch in one transaction (a re-generated row replaces the old one)."""
    svc.store.put_assistance(rows)


def precompute(
    svc: StudyService,
    *,
    spec: AssistantSpec | None = None,
    backend: Backend | None = None,
    batch_size: int = 16,
    retry_failed: bool = False,
    progress: Progress | None = None,
    overseers: Sequence[str] | None = None,
) -> PrecomputeReport:
    """Generate and store every missing assistance row of a study (or of some overseers' items)."""
    spec = spec or svc.study.assistant
    jobs, skipped = plan(svc, retry_failed=retry_failed, overseers=overseers)
    report = PrecomputeReport(needed=len(jobs) + skipped, skipped=skipped)
    if progress:
        progress(0, len(jobs))
    if not jobs:
        return report
    backend = backend or get_backend(spec)
    report.backend, report.model = backend.name, backend.model
    start = time.perf_counter()
    for k in range(0, len(jobs), batch_size):
        batch = jobs[k : k + batch_size]
        runs = [steps_for(j.kind, j.item, j.params, sides=j.sides, max_tokens=spec.max_tokens) for j in batch]
        outs = run_strategies(backend, runs, temperature=spec.temperature, seed=spec.seed)
        rows = [_row(j, o, spec, backend) for j, o in zip(batch, outs, strict=True)]
        store_outcomes(svc, rows)
        for o, r in zip(outs, rows, strict=True):
            report.by_status[r.status] = report.by_status.get(r.status, 0) + 1
            report.tokens_in += sum(g.tokens_in for g in o.generations)
            report.tokens_out += sum(g.tokens_out for g in o.generations)
        report.wall_s = time.perf_counter() - start
        if progress:
            progress(k + len(batch), len(jobs))
    return report
