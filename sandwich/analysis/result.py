"""`analyze_study`: the whole analysis of one study database, as one result object.

Reads the study, builds the judgment table, draws the two-way bootstrap once,
and derives every measure from those draws: per-condition accuracy/Brier/ECE/
time, the sandwich with gap closed, agreement, aggregation, and the
pre-registered (confirmatory) and exploratory hypothesis tests. Whatever can be
computed from what exists is computed; what cannot becomes a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sandwich.analysis.aggregation import GroupAggregate, OverseerReliability, aggregate
from sandwich.analysis.agreement import Agreement, agreement_by_group
from sandwich.analysis.bootstrap import bootstrap_sums, cell_sums
from sandwich.analysis.data import EXPERT, StudyData, judgment_table, load_study_data
from sandwich.analysis.hypotheses import HypothesisResult, correct_for_multiplicity, test_hypothesis
from sandwich.analysis.metrics import (
    GroupSummary,
    Sandwich,
    premise_check,
    sandwich,
    summarize,
)
from sandwich.analysis.sources import (
    NoHelp,
    disclosure,
    drop_without_help,
    judgments_without_help,
    planned_sources,
    present_sources,
    select_sources,
    source_words,
)
from sandwich.config import Hypothesis, Preregistration


@dataclass
class AnalysisResult:
    """Everything `sandwich analyze` reports."""

    study: str
    question: str
    db_path: Path
    judgments: int
    simulated: int
    replicates: int
    seed: int
    warnings: list[str] = field(default_factory=list)
    groups: list[GroupSummary] = field(default_factory=list)
    sandwich: Sandwich | None = None
    agreement: list[Agreement] = field(default_factory=list)
    aggregates: list[GroupAggregate] = field(default_factory=list)
    reliability: list[OverseerReliability] = field(default_factory=list)
    hypotheses: list[HypothesisResult] = field(default_factory=list)
    model: str | None = None
    trajectory: Any = None  # TrajectorySections for studies with belief trajectories (imported debates)
    html: Path | None = None
    pngs: list[Path] = field(default_factory=list)
    preregistration: dict[str, Any] | None = None  # frozen hash, frozen_at, tampered, problems
    looks: list[dict[str, Any]] = field(default_factory=list)  # looks made before the planned sample size
    planned: int = 0  # planned judgments (one per assignment)
    stored: int = 0  # judgments stored now (skipped ones included)
    permutations: int = 2000  # per permutation test
    multiplicity: str = "none"  # correction over the confirmatory hypotheses

    @property
    def interim(self) -> bool:
        """True while fewer judgments exist than the plan calls for."""
        return self.stored < self.planned

    @property
    def tampered(self) -> bool:
        """True when the frozen plan no longer matches what the study holds."""
        return bool(self.preregistration and self.preregistration["tampered"])

    sources: list[str] = field(default_factory=list)  # the sources these figures are made of
    left_out: dict[str, int] = field(default_factory=dict)  # source -> judgments not in these figures
    by_source: list[SourceSummary] = field(default_factory=list)
    no_help: list[NoHelp] = field(default_factory=list)
    premise: list[str] = field(default_factory=list)  # where the sandwich's premise is not shown
    disclosure: list[str] = field(default_factory=list)  # what is synthetic, in words
    conditions: list[str] = field(default_factory=list)  # baseline first, then study order: plot colours

    @property
    def synthetic(self) -> bool:
        """True when any judgment in these figures came from a simulated overseer."""
        return self.simulated > 0

    @property
    def mixed(self) -> bool:
        """True when these figures pool more than one source (e.g. people and a simulation)."""
        return len(self.sources) > 1

    @property
    def source_label(self) -> str:
        """The analysed sources in words."""
        return source_words(self.sources) if self.sources else "no judgments"

    def sandwich_table(self) -> Any:
        """The sandwich as a rich Table (model alone → non-experts → assisted → experts, with gap closed)."""
        from sandwich.analysis.report import sandwich_table

        return sandwich_table(self)

    def print(self, console: Any = None) -> None:
        """Print every table to a rich console."""
        from sandwich.analysis.report import print_report

        print_report(self, console)


@dataclass
class SourceSummary:
    """One source's per-condition figures, never pooled with another's."""

    source: str
    label: str
    judgments: int
    groups: list[GroupSummary]


def _by_source(data: StudyData, present: list[str], replicates: int, seed: int) -> list[SourceSummary]:
    """Per-condition accuracy (and the rest) for each source on its own."""
    out = []
    for s in present:
        sub = replace(data, judgments=data.judgments.filter(data.judgments["source"] == s))
        if not sub.judgments.height:
            continue
        t = judgment_table(sub)
        draws, _, _ = bootstrap_sums(cell_sums(t), replicates, seed)
        out.append(SourceSummary(s, source_words([s]), sub.judgments.height, summarize(t, draws)))
    return out


def _hypotheses(
    data: StudyData, study_file_prereg: Preregistration | None, explore: list[tuple[str, str]]
) -> tuple[list[tuple[Hypothesis, str]], list[str]]:
    """Which hypotheses are confirmatory (frozen before the first judgment) and which exploratory."""
    warnings: list[str] = []
    current = study_file_prereg or data.study.preregistration
    frozen = data.prereg
    if frozen is None:
        confirmatory = list(current.hypotheses)
        if data.judgments.height:
            warnings.append("No frozen pre-registration in this study: every hypothesis is reported as exploratory.")
            confirmatory = []
        exploratory = [] if confirmatory else list(current.hypotheses)
    else:
        frozen_p = Preregistration.model_validate(frozen["hypotheses"])
        confirmatory = list(frozen_p.hypotheses)
        if [h.model_dump(mode="json") for h in current.hypotheses] != [
            h.model_dump(mode="json") for h in frozen_p.hypotheses
        ]:
            when = f"{frozen['frozen_at']:%Y-%m-%d %H:%M}"
            warnings.append(
                f"The hypotheses in the study file differ from those frozen at {when} "
                f"(hash {frozen['hash'][:12]}). The frozen ones are tested as confirmatory; "
                "new or changed ones are labelled exploratory."
            )
        if data.first_judgment_at is not None and frozen["frozen_at"] > data.first_judgment_at:
            warnings.append(
                "The hypotheses were frozen AFTER the first judgment: they cannot be treated as "
                "pre-registered; every test is labelled exploratory."
            )
            confirmatory = []
        if data.plan_check is not None and data.plan_check.tampered:
            warnings.append(
                "TAMPERED: the study changed after its plan was frozen or its results were seen ("
                + "; ".join(data.plan_check.problems)
                + "). No test is confirmatory."
            )
            confirmatory = []
        frozen_set = {h.model_dump_json() for h in confirmatory}
        exploratory = [h for h in current.hypotheses if h.model_dump_json() not in frozen_set]
        if not confirmatory:
            exploratory = list(frozen_p.hypotheses) + [
                h
                for h in current.hypotheses
                if h.model_dump_json() not in {x.model_dump_json() for x in frozen_p.hypotheses}
            ]
    names = {c.name for c in data.study.conditions} | {"expert"}
    for n, (a, b) in enumerate(explore, 1):
        for c in (a, b):
            if c not in names:
                from sandwich.errors import SandwichError

                raise SandwichError(
                    f"--explore {a}:{b}: no condition named {c!r}.", hint=f"Conditions: {', '.join(sorted(names))}."
                )
        exploratory.append(Hypothesis(id=f"X{n}", compare=[a, b], metric="accuracy", alternative="two-sided"))
    used = {h.id for h in confirmatory}
    fixed = []
    for h in exploratory:  # an edited hypothesis keeps its id; mark it so the two are told apart
        fixed.append(h.model_copy(update={"id": f"{h.id}*"}) if h.id in used else h)
    return [(h, "confirmatory") for h in confirmatory] + [(h, "exploratory") for h in fixed], warnings


def analyze_study(
    db_path: str | Path,
    out_dir: str | Path | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    *,
    explore: list[tuple[str, str]] | None = None,
    study_file: str | Path | None = None,
    permutations: int | None = None,
    source: str | None = None,
    include_no_help: bool = False,
) -> AnalysisResult:
    """Analyse a study database; with `out_dir`, also write index.html, PNG plots and results.json.

    `source`: which judgments the figures are made of — `human`, `llm`, `parametric`, `simulated`, `all`, or a
    comma-separated list (default: the frozen plan's sources, else people when there are any, else the first
    simulated kind); every source present is also summarised on its own. `include_no_help`: keep judgments an
    assisted condition made without its help (left out by default). Raises SandwichError for an unknown source.
    """
    data = load_study_data(db_path)
    study = data.study
    seed = study.seed if seed is None else seed
    plan = _plan(data)
    replicates = int(plan["replicates"]) if replicates is None else replicates
    permutations = int(plan["permutations"]) if permutations is None else permutations
    present = present_sources(data.judgments)
    planned = planned_sources(data.prereg, study)
    chosen = select_sources(source, present, planned)
    everything = data.judgments
    data = replace(data, judgments=everything.filter(everything["source"].is_in(chosen)))
    left_out = {s: int((everything["source"] == s).sum()) for s in present if s not in chosen}
    no_help = judgments_without_help(data.judgments, study)
    if not include_no_help and no_help:
        data = replace(data, judgments=drop_without_help(data.judgments, study))
        no_help = [replace(n, excluded=True) for n in no_help]
    res = AnalysisResult(
        study.study,
        study.question,
        Path(db_path),
        data.judgments.height,
        data.simulated,
        replicates,
        seed,
        list(data.warnings),
        sources=chosen,
        left_out=left_out,
        no_help=no_help,
        conditions=[study.baseline_condition, *(c.name for c in study.conditions)],
    )
    res.permutations, res.multiplicity = permutations, str(plan["multiplicity"])
    if left_out:
        res.warnings.insert(
            0,
            f"These figures are {res.source_label} only: "
            + ", ".join(f"{n} {source_words([s])} judgment(s)" for s, n in left_out.items())
            + " are left out and summarised separately (choose with --source).",
        )
    if res.mixed:
        res.warnings.insert(
            0,
            f"MIXED SOURCES: every figure pools {res.source_label}; they describe neither "
            "people nor the simulation alone.",
        )
    for n in no_help:
        res.warnings.append(
            f"{n.condition}: {n.without_help} of {n.judgments} judgment(s) had no help (the help "
            "failed or none was prepared) — "
            + (
                "left out of this condition's estimates (--include-no-help keeps them)."
                if n.excluded
                else "kept in this condition's estimates (--include-no-help)."
            )
        )
    if len(present) > 1:
        res.by_source = _by_source(
            replace(data, judgments=everything if include_no_help else drop_without_help(everything, study)),
            present,
            min(replicates, 1000),
            seed,
        )
    prereg = None
    if study_file is not None and Path(study_file).suffix in (".yaml", ".yml"):
        from sandwich.studyfile import load_study

        prereg = load_study(study_file).study.preregistration
    tests, warns = _hypotheses(data, prereg, list(explore or []))
    res.warnings += warns
    _plan_and_looks(res, data)
    if res.mixed or (planned and set(chosen) != set(planned)):
        why = (
            f"the frozen plan counts {source_words(planned)} as confirmatory"
            if planned and set(chosen) != set(planned)
            else "pooled sources cannot be confirmatory"
        )
        if any(label == "confirmatory" for _, label in tests):
            res.warnings.append(
                f"Every hypothesis is labelled exploratory here: {why}, these figures are {res.source_label}."
            )
        tests = [(h, "exploratory") for h, _ in tests]
    if data.skipped:
        res.warnings.append(f"{data.skipped} skipped judgment(s) are left out of every measure.")
    if not data.judgments.height and everything.height:
        res.warnings.insert(
            0,
            f"No judgments from {res.source_label} to analyse; this study has "
            f"{', '.join(source_words([s]) for s in present)} judgments (choose with --source).",
        )
        _finish(res, out_dir)
        return res
    if not data.judgments.height:
        res.warnings.insert(
            0,
            "No judgments yet: nothing to analyse. Label items (`sandwich label`) or simulate "
            "overseers (`sandwich simulate`) first.",
        )
        _finish(res, out_dir)
        return res
    t = judgment_table(data)
    no_gold = int(np.isnan(t.correct).sum())
    if no_gold:
        res.warnings.append(f"{no_gold} judgment(s) have no gold label; they count for agreement and time only.")
    excluded = {n.condition for n in no_help if n.excluded}
    for c in study.conditions:
        if c.name not in t.groups and c.name in excluded:
            res.warnings.append(
                f"Condition {c.name!r}: every judgment was made without its help, so it has no "
                "assisted estimate and is left out of every measure and test."
            )
        elif c.name not in t.groups:
            res.warnings.append(
                f"Condition {c.name!r} has no non-expert judgments yet: it is left out of every measure and test."
            )
    model_vec = None
    if data.model_answers.height:
        # the study's own assistant if it answered; else whichever model did (say so)
        models = data.model_answers["model"].unique().to_list()
        res.model = study.assistant.model if study.assistant.model in models else str(models[0])
        if res.model != study.assistant.model:
            res.warnings.append(
                f"Model-alone answers come from {res.model!r}, not the study's assistant {study.assistant.model!r}."
            )
        m = data.model_answers.filter(data.model_answers["model"] == res.model)
        by_item = dict(zip(m["item_id"].to_list(), m["correct"].to_list(), strict=True))
        model_vec = np.array([np.nan if by_item.get(i) is None else by_item[i] for i in t.items], dtype=float)
    draws, vec, _ = bootstrap_sums(
        cell_sums(t), replicates, seed, item_vectors={"model": model_vec} if model_vec is not None else None
    )
    res.groups = summarize(t, draws, seed)
    for g in res.groups:
        if g.single_judgment_overseers:
            res.warnings.append(
                f"{g.group}: overseer(s) {', '.join(g.single_judgment_overseers)} have a single "
                "judgment here; they are kept, but say little on their own."
            )
        if g.overseers == 1 and g.group != EXPERT:
            res.warnings.append(f"{g.group}: only one overseer — its interval reflects item sampling only.")
    res.sandwich = sandwich(t, draws, study.baseline_condition, replicates, vec.get("model"), res.model or "model")
    if res.sandwich.note:
        res.warnings.append(res.sandwich.note)
    model_choices = None
    if res.model is not None:
        m = data.model_answers.filter(data.model_answers["model"] == res.model)
        model_choices = [str(c) for c in m["choice"].to_list() if c is not None]
    res.premise = premise_check(res.sandwich, model_choices, res.model or "model")
    model_row = next((r for r in res.sandwich.rows if r.kind == "model"), None)
    res.disclosure = disclosure(
        data.judgments, study, res.model, model_row.accuracy.est if model_row and model_row.accuracy else None
    )
    res.warnings += res.premise
    res.agreement = agreement_by_group(t)
    res.aggregates, res.reliability = aggregate(t)
    res.hypotheses = [
        test_hypothesis(h, label, t, draws, study.baseline_condition, replicates, permutations=permutations, seed=seed)
        for h, label in tests
    ]
    correct_for_multiplicity(res.hypotheses, res.multiplicity)
    if res.interim:  # a confirmatory verdict before the planned sample size is only interim
        for h in res.hypotheses:
            if h.label == "confirmatory":
                h.label = "confirmatory (interim)"
    from sandwich.analysis.trajectory_report import trajectory_sections

    res.trajectory = trajectory_sections(db_path)  # None unless the study has trajectories or replayed help
    _finish(res, out_dir)
    return res


def _plan(data: StudyData) -> dict[str, Any]:
    """The analysis plan that decides replicates, permutations and multiplicity: the frozen one, else the study
    file's (`rules.analysis_plan`; a plan frozen before whole plans were frozen is read with the file's settings)."""
    from sandwich import rules

    current = rules.analysis_plan(data.study, 0)
    frozen = (data.prereg or {}).get("plan")
    if not isinstance(frozen, dict):
        return current
    return {k: frozen.get(k, v) for k, v in current.items()}


def _plan_and_looks(res: AnalysisResult, data: StudyData) -> None:
    """The frozen plan's hash, time and check; completeness; and the looks made before the study was complete."""
    res.planned, res.stored = data.planned, data.stored_judgments
    pc = data.plan_check
    if pc is not None:
        res.preregistration = {
            "hash": pc.hash,
            "plan_hash": pc.recomputed,
            "frozen_at": pc.frozen_at,
            "tampered": pc.tampered,
            "problems": list(pc.problems),
        }
        plan = pc.plan
        for key, used in (("replicates", res.replicates), ("permutations", res.permutations), ("seed", res.seed)):
            if key in plan and plan[key] != used:
                res.warnings.append(f"This run uses {key} {used}; the frozen plan says {plan[key]}.")
    res.looks = [
        {"ts": look.ts, "action": look.action, "who": look.who, "judgments": look.judgments, "planned": look.planned}
        for look in data.looks
        if look.judgments < look.planned
    ]
    if res.interim:
        res.warnings.append(
            f"{res.planned - res.stored} of {res.planned} assignments are not judged yet "
            "(interim analysis): confirmatory verdicts are interim."
        )
    earlier = len(res.looks) - (1 if res.interim and res.looks else 0)
    if earlier > 0:
        res.warnings.append(
            f"{earlier} earlier look(s) at the results were made before the planned sample size "
            "was reached (listed under Looks)."
        )


def _finish(res: AnalysisResult, out_dir: str | Path | None) -> None:
    if out_dir is not None:
        from sandwich.analysis.report import write_html

        write_html(res, Path(out_dir))
