"""`analyze_study`: the whole analysis of one study database, as one result object.

Reads the study, builds the judgment table, draws the two-way bootstrap once,
and derives every measure from those draws: per-condition accuracy/Brier/ECE/
time, the sandwich with gap closed, agreement, aggregation, and the
pre-registered (confirmatory) and exploratory hypothesis tests. Whatever can be
computed from what exists is computed; what cannot becomes a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sandwich.analysis.aggregation import GroupAggregate, OverseerReliability, aggregate
from sandwich.analysis.agreement import Agreement, agreement_by_group
from sandwich.analysis.bootstrap import bootstrap_sums, cell_sums
from sandwich.analysis.data import EXPERT, StudyData, judgment_table, load_study_data
from sandwich.analysis.hypotheses import HypothesisResult, prereg_hash, test_hypothesis
from sandwich.analysis.metrics import GroupSummary, Sandwich, sandwich, summarize
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
    trajectory: Any = None          # TrajectorySections for studies with belief trajectories (imported debates)
    html: Path | None = None
    pngs: list[Path] = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        """True when any judgment came from a simulated overseer."""
        return self.simulated > 0

    def sandwich_table(self) -> Any:
        """The sandwich as a rich Table (model alone → non-experts → assisted → experts, with gap closed)."""
        from sandwich.analysis.report import sandwich_table

        return sandwich_table(self)

    def print(self, console: Any = None) -> None:
        """Print every table to a rich console."""
        from sandwich.analysis.report import print_report

        print_report(self, console)


def _hypotheses(data: StudyData, study_file_prereg: Preregistration | None,
                explore: list[tuple[str, str]]) -> tuple[list[tuple[Hypothesis, str]], list[str]]:
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
        if prereg_hash(current) != frozen["hash"]:
            when = f"{frozen['frozen_at']:%Y-%m-%d %H:%M}"
            warnings.append(f"The hypotheses in the study file differ from those frozen at {when} "
                            f"(hash {frozen['hash'][:12]}). The frozen ones are tested as confirmatory; "
                            "new or changed ones are labelled exploratory.")
        if data.first_judgment_at is not None and frozen["frozen_at"] > data.first_judgment_at:
            warnings.append("The hypotheses were frozen AFTER the first judgment: they cannot be treated as "
                            "pre-registered; every test is labelled exploratory.")
            confirmatory = []
        frozen_set = {h.model_dump_json() for h in confirmatory}
        exploratory = [h for h in current.hypotheses if h.model_dump_json() not in frozen_set]
        if not confirmatory:
            exploratory = list(frozen_p.hypotheses) + [h for h in current.hypotheses
                                                        if h.model_dump_json() not in
                                                        {x.model_dump_json() for x in frozen_p.hypotheses}]
    names = {c.name for c in data.study.conditions} | {"expert"}
    for n, (a, b) in enumerate(explore, 1):
        for c in (a, b):
            if c not in names:
                from sandwich.errors import SandwichError
                raise SandwichError(f"--explore {a}:{b}: no condition named {c!r}.",
                                    hint=f"Conditions: {', '.join(sorted(names))}.")
        exploratory.append(Hypothesis(id=f"X{n}", compare=[a, b], metric="accuracy", alternative="two-sided"))
    used = {h.id for h in confirmatory}
    fixed = []
    for h in exploratory:  # an edited hypothesis keeps its id; mark it so the two are told apart
        fixed.append(h.model_copy(update={"id": f"{h.id}*"}) if h.id in used else h)
    return [(h, "confirmatory") for h in confirmatory] + [(h, "exploratory") for h in fixed], warnings


def analyze_study(db_path: str | Path, out_dir: str | Path | None = None, replicates: int = 2000,
                  seed: int | None = None, *, explore: list[tuple[str, str]] | None = None,
                  study_file: str | Path | None = None, permutations: int = 2000) -> AnalysisResult:
    """Analyse a study database; with `out_dir`, also write index.html, PNG plots and results.json."""
    data = load_study_data(db_path)
    study = data.study
    seed = study.seed if seed is None else seed
    res = AnalysisResult(study.study, study.question, Path(db_path), data.judgments.height, data.simulated,
                         replicates, seed, list(data.warnings))
    prereg = None
    if study_file is not None and Path(study_file).suffix in (".yaml", ".yml"):
        from sandwich.studyfile import load_study
        prereg = load_study(study_file).study.preregistration
    tests, warns = _hypotheses(data, prereg, list(explore or []))
    res.warnings += warns
    if data.skipped:
        res.warnings.append(f"{data.skipped} skipped judgment(s) are left out of every measure.")
    if not data.judgments.height:
        res.warnings.insert(0, "No judgments yet: nothing to analyse. Label items (`sandwich label`) or simulate "
                               "overseers (`sandwich simulate`) first.")
        _finish(res, out_dir)
        return res
    t = judgment_table(data)
    no_gold = int(np.isnan(t.correct).sum())
    if no_gold:
        res.warnings.append(f"{no_gold} judgment(s) have no gold label; they count for agreement and time only.")
    for c in study.conditions:
        if c.name not in t.groups:
            res.warnings.append(f"Condition {c.name!r} has no non-expert judgments yet: it is left out of every "
                                "measure and test.")
    model_vec = None
    if data.model_answers.height:
        # the study's own assistant if it answered; else whichever model did (say so)
        models = data.model_answers["model"].unique().to_list()
        res.model = study.assistant.model if study.assistant.model in models else str(models[0])
        if res.model != study.assistant.model:
            res.warnings.append(f"Model-alone answers come from {res.model!r}, not the study's assistant "
                                f"{study.assistant.model!r}.")
        m = data.model_answers.filter(data.model_answers["model"] == res.model)
        by_item = dict(zip(m["item_id"].to_list(), m["correct"].to_list(), strict=True))
        model_vec = np.array([np.nan if by_item.get(i) is None else by_item[i] for i in t.items], dtype=float)
    draws, vec, _ = bootstrap_sums(cell_sums(t), replicates, seed,
                                   item_vectors={"model": model_vec} if model_vec is not None else None)
    res.groups = summarize(t, draws)
    for g in res.groups:
        if g.single_judgment_overseers:
            res.warnings.append(f"{g.group}: overseer(s) {', '.join(g.single_judgment_overseers)} have a single "
                                "judgment here; they are kept, but say little on their own.")
        if g.overseers == 1 and g.group != EXPERT:
            res.warnings.append(f"{g.group}: only one overseer — its interval reflects item sampling only.")
    res.sandwich = sandwich(t, draws, study.baseline_condition, replicates, vec.get("model"), res.model or "model")
    if res.sandwich.note:
        res.warnings.append(res.sandwich.note)
    res.agreement = agreement_by_group(t)
    res.aggregates, res.reliability = aggregate(t)
    res.hypotheses = [test_hypothesis(h, label, t, draws, study.baseline_condition, replicates,
                                      permutations=permutations, seed=seed) for h, label in tests]
    from sandwich.analysis.trajectory_report import trajectory_sections
    res.trajectory = trajectory_sections(db_path)  # None unless the study has trajectories or replayed help
    _finish(res, out_dir)
    return res


def _finish(res: AnalysisResult, out_dir: str | Path | None) -> None:
    if out_dir is not None:
        from sandwich.analysis.report import write_html

        write_html(res, Path(out_dir))
