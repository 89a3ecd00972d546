"""Running simulated overseers through the real study service (`sandwich simulate`).

Each simulated overseer works through `StudyService.for_overseer(name)` exactly
as the TUI does: next_item → assistance → submit. Parametric overseers need the
truth to be "right with probability skill", so this lead-side runner reads
gold for them (and only for them); LLM overseers never see it. Judgment ids are
deterministic, so re-running resumes where a previous run stopped. Overseers
that were simulated are marked `kind = 'simulated'`; judgments carry
`simulated = true` and their source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sandwich import compose
from sandwich.config import AssistantSpec, SimulatedOverseer, Study
from sandwich.errors import AssistanceUnavailable, SandwichError
from sandwich.rules import item_content, shown_value
from sandwich.service import OverseerSession, StudyService
from sandwich.sim import parametric
from sandwich.sim.llm_judge import answer_batch, judge_messages, render_item
from sandwich.store import ModelAnswerRecord
from sandwich.views import ItemView, JudgmentIn

Progress = Callable[[int, int], None]


@dataclass
class SimulationSummary:
    """What a simulation run wrote."""

    judged: dict[str, int] = field(default_factory=dict)  # overseer -> judgments written this run
    kinds: dict[str, str] = field(default_factory=dict)  # overseer -> parametric | llm
    model_alone: int = 0
    model: str | None = None
    warnings: list[str] = field(default_factory=list)


def profile_for(study: Study, role: str) -> SimulatedOverseer:
    """The study's simulation profile for a role."""
    return study.simulation.expert if role == "expert" else study.simulation.non_expert


def judge_spec(study: Study, profile: SimulatedOverseer) -> AssistantSpec:
    """The model an LLM overseer runs on: the profile's backend/model/url, else the study's assistant."""
    spec = study.assistant.model_copy()
    if profile.backend:
        spec = spec.model_copy(
            update={"backend": profile.backend, "url": profile.url if profile.backend == "vllm" else None}
        )
    if profile.model:
        spec = spec.model_copy(update={"model": profile.model})
    return spec


def _judgment_id(name: str, assignment_id: str) -> str:
    return f"sim.{name}.{assignment_id}".replace(" ", "_")[:100]


def run_parametric(
    svc: StudyService,
    session: OverseerSession,
    profile: SimulatedOverseer,
    gold: dict[str, str],
    seed: int,
    tick: Callable[[], None],
) -> int:
    """One parametric overseer's whole session; returns judgments written."""
    offset = parametric.overseer_offset(profile, session.overseer, seed)
    n = 0
    while (view := session.next_item()) is not None:
        session.assistance(view.assignment_id)  # fetched as the TUI would (and checked to be reachable)
        truth_label = gold.get(view.item.item_id)
        if truth_label is not None:  # gold in the terms of the item as this overseer is shown it (pairwise order)
            truth_label = shown_value(svc.item_row(view.item.item_id), session.overseer, truth_label)
        if truth_label not in view.judgment.choices:
            raise SandwichError(
                f"Item {view.item.item_id!r} has no gold label among its choices; parametric "
                "overseers need gold to simulate skill.",
                hint="Use `--kind llm` for studies whose gold comes from expert overseers.",
            )
        choices = view.judgment.choices
        p = parametric.skill_for(profile, view.condition) + offset + parametric.item_offset(view.item.item_id, seed)
        rng = np.random.default_rng(parametric.stable_seed(seed, session.overseer, view.assignment_id))
        c, conf, t = parametric.draw(
            rng,
            np.array([p]),
            np.array([choices.index(truth_label)]),
            np.array([len(choices)]),
            bias=profile.bias,
            scale=view.judgment.confidence,
            seconds=profile.seconds_per_item,
        )
        session.submit(
            JudgmentIn(
                judgment_id=_judgment_id(session.overseer, view.assignment_id),
                assignment_id=view.assignment_id,
                choice=choices[int(c[0])],
                confidence=int(conf[0]),
                time_on_item_s=round(float(t[0]), 2),
                source="parametric",
                client_meta={"simulator": "parametric", "synthetic": True},
            )
        )
        n += 1
        tick()
    return n


def run_llm(
    sessions: Sequence[OverseerSession], experts: set[str], backend: object, seed: int, tick: Callable[[], None]
) -> dict[str, int]:
    """LLM overseers in lock-step rounds, one batched model call per round."""
    done = {s.overseer: 0 for s in sessions}
    active = list(sessions)
    while active:
        views = [(s, s.next_item()) for s in active]
        active = [s for s, v in views if v is not None]
        work = [(s, v) for s, v in views if v is not None]
        if not work:
            break
        helps = [s.assistance(v.assignment_id) for s, v in work]
        convs = [
            judge_messages(
                v, h, persona=s.overseer, expert=s.overseer in experts, briefing=s.briefing(v.condition).text
            )
            for (s, v), h in zip(work, helps, strict=True)
        ]
        answers = answer_batch(
            backend, convs, [v.judgment.choices for _, v in work], work[0][1].judgment.confidence, seed=seed
        )
        for (s, v), h, a in zip(work, helps, answers, strict=True):
            # as the app does: a judgment made while the condition's help failed or was missing is flagged
            failed = any(x.status in ("failed", "missing") for x in h)
            s.submit(
                JudgmentIn(
                    judgment_id=_judgment_id(s.overseer, v.assignment_id),
                    assignment_id=v.assignment_id,
                    choice=a.choice,
                    confidence=a.confidence,
                    time_on_item_s=round(a.latency_s, 3),
                    assistance_failed=failed,
                    source="llm",
                    client_meta={"simulator": "llm", "synthetic": True, **a.params},
                )
            )
            done[s.overseer] += 1
            tick()
    return done


def model_alone(svc: StudyService, backend: object) -> int:
    """The assistant answering every study item directly (no overseer, no assistance); stored in model_answers."""
    assigned = {a.item_id for a in svc.store.assignments()}
    items = [i for i in svc.store.items(role="study") if i.item_id in assigned]
    if not items:
        return 0
    views = []
    for it in items:
        content = item_content(it)
        views.append(
            ItemView(
                assignment_id=f"model-alone:{it.item_id}",
                overseer="model",
                position=0,
                total=len(items),
                block=0,
                condition="model-alone",
                assistance_kinds=[],
                live_followups=False,
                first_in_block=False,
                item=content,
                judgment=svc.judgment_format(it),
            )
        )
    system = "You are a capable assistant. Answer the question about the item with exactly one of the allowed answers."
    convs = [[{"role": "system", "content": system}, {"role": "user", "content": render_item(v)}] for v in views]
    answers = answer_batch(
        backend, convs, [v.judgment.choices for v in views], views[0].judgment.confidence, ask_confidence=False
    )  # only its accuracy enters the sandwich
    model = getattr(backend, "model", "model")
    svc.store.put_model_answers(
        [
            ModelAnswerRecord(
                item_id=v.item.item_id,
                model=model,
                backend=getattr(backend, "name", None),
                choice=a.choice,
                confidence=a.confidence,
                raw=a.raw,
                prompt=conv,
                params=a.params,
                latency_s=a.latency_s,
            )
            for v, conv, a in zip(views, convs, answers, strict=True)
        ]
    )
    return len(views)


def simulate_study(
    db_path: str | Path,
    *,
    kind: str | None = None,
    overseers: Sequence[str] | None = None,
    with_model_alone: bool = True,
    progress: Progress | None = None,
    backend_factory: Callable[[AssistantSpec], Any] | None = None,
) -> SimulationSummary:
    """Simulate the study's overseers (all, or those named) and the model-alone answers.

    `backend_factory` builds the LLM judge's and the model-alone backend from a spec (injected by the CLI;
    default `sandwich.compose.BACKEND_FACTORY`)."""
    out = SimulationSummary()
    with StudyService(db_path) as svc:
        study = svc.study
        roster = svc.overseers()
        names = [o.name for o in roster]
        if overseers:
            unknown = [n for n in overseers if n not in names]
            if unknown:
                raise SandwichError(
                    f"No overseer named {', '.join(map(repr, unknown))} in study {study.study!r}.",
                    hint=f"Overseers in this study: {', '.join(names)}.",
                )
            roster = [o for o in roster if o.name in overseers]
        judged = svc.store.judged()
        chosen = {o.name for o in roster}
        total = sum(1 for a in svc.store.assignments() if a.overseer in chosen and a.assignment_id not in judged)
        count = [0]

        def tick() -> None:
            count[0] += 1
            if progress:
                progress(count[0], total)

        # help is precomputed: judged before it, an assisted condition's judgments were made without any
        bare = [c.name for c in study.conditions if c.assistance and not svc.store.assistance(condition=c.name)]
        if bare:
            out.warnings.append(
                f"no model help is stored for {', '.join(bare)}: LLM judges there see none, and parametric "
                "overseers never read it (their skill is the study file's). Run `sandwich assist precompute` "
                "before `simulate` for judgments made with the help."
            )
        seed = study.simulation.seed
        gold: dict[str, str] | None = None
        llm: list[OverseerSession] = []
        backends: dict[str, object] = {}
        for o in roster:
            profile = profile_for(study, o.role)
            k = kind or profile.kind
            out.kinds[o.name] = k
            svc.store.mark_simulated(o.name, {"kind": k, **profile.model_dump(mode="json")})
            session = svc.for_overseer(o.name)
            session.start_session(client=f"simulate:{k}")
            if k == "parametric":
                gold = gold if gold is not None else svc.gold()
                out.judged[o.name] = run_parametric(svc, session, profile, gold, seed, tick)
            else:
                llm.append(session)
        if llm:
            get_backend = backend_factory or compose.backend_factory()
            experts = {o.name for o in roster if o.role == "expert"}
            for role_experts in (False, True):
                group = [s for s in llm if (s.overseer in experts) == role_experts]
                if not group:
                    continue
                spec = judge_spec(study, profile_for(study, "expert" if role_experts else "non_expert"))
                key = spec.model_dump_json()
                backends[key] = backends.get(key) or get_backend(spec)
                out.judged.update(run_llm(group, experts, backends[key], seed, tick))
        if with_model_alone:
            try:
                backend = (backend_factory or compose.backend_factory())(study.assistant)
                out.model_alone = model_alone(svc, backend)
                out.model = study.assistant.model
            except (AssistanceUnavailable, ImportError) as e:
                out.warnings.append(f"model-alone answers not computed: {str(e).splitlines()[0]}")
    return out
