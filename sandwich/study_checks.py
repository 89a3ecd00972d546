"""Checks that span several fields of a study file, each tied to the value it is about.

Every check returns problems as ``(location, message)`` where the location is the
path of the offending value in the file (``("conditions", 2, "name")``), so that a
duplicate condition is reported on the duplicate's line, not on the list's start.
The checks run on whichever sections are valid on their own: a study file with a
bad ``judgment:`` still gets its conditions and overseers checked in the same run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


def _at(loc: Loc, message: str) -> Problem:
    return (loc, message)


def _duplicates(names: list[str]) -> list[int]:
    """Indices of entries that repeat an earlier one."""
    seen: set[str] = set()
    out = []
    for i, n in enumerate(names):
        if n in seen:
            out.append(i)
        seen.add(n)
    return out


def _conditions(conditions: list[Any]) -> list[Problem]:
    names = [c.name for c in conditions]
    unused = [
        _at(
            ("conditions", i, "live_followups"),
            "follow-up questions to the model need assistance; this condition has none (remove live_followups)",
        )
        for i, c in enumerate(conditions)
        if not c.assistance and "live_followups" in c.model_fields_set and c.live_followups
    ]
    return unused + [
        _at(
            ("conditions", i, "name"),
            f"condition {names[i]!r} is defined twice (first as conditions"
            f"[{names.index(names[i])}]); give each condition its own name",
        )
        for i in _duplicates(names)
    ]


def _task_and_gold(task: Any, gold: Any, overseers: Any) -> list[Problem]:
    out: list[Problem] = []
    if task is not None and gold is not None:
        k = _kind(task)
        if k is not None and gold.kind not in k.gold_kinds:
            msg = k.gold_error.removeprefix("gold: ") or (
                f"{k.name} items cannot use kind {gold.kind}; use kind: " + " or ".join(k.gold_kinds)
            )
            out.append(_at(("gold", "kind"), msg))
    if gold is not None and overseers is not None and gold.kind == "expert-overseers" and not overseers.experts:
        out.append(_at(("gold", "kind"), "kind expert-overseers needs overseers.experts"))
    k = _kind(task) if task is not None else None
    n = k.problem_count(task) if k is not None else None
    split = getattr(task, "split", None)
    if n is not None and split is not None and split.by == "problem" and n - round(n * split.train) < 1:
        out.append(
            _at(
                ("task", "split", "train"),
                f"train {split.train} of {n} problems leaves no test items; lower train or add problems",
            )
        )
    return out


def _timing(judgment: Any) -> list[Problem]:
    """Timer settings written in the file that cannot take effect (defaults are never blamed)."""
    written = judgment.model_fields_set
    limit = judgment.time_limit_s
    out: list[Problem] = []
    if limit is None:
        out += [
            _at(("judgment", f), "has no effect without judgment.time_limit_s; remove it or set a time limit")
            for f in ("warn_before_s", "on_timeout")
            if f in written
        ]
    elif "warn_before_s" in written and judgment.warn_before_s >= limit:
        out.append(
            _at(
                ("judgment", "warn_before_s"),
                f"a warning {judgment.warn_before_s} s before the end of a "
                f"{limit} s limit would show from the start; use less than "
                f"{limit}",
            )
        )
    return out


def _judgment(task: Any, judgment: Any) -> list[Problem]:
    if judgment is None:
        return []
    out = _timing(judgment)
    if task is None or judgment.choices is None:
        return out
    k = _kind(task)
    want, got = (k.wanted_choices(task), judgment.choices) if k is not None else (None, None)
    if want == "item" and got != "item":
        out.append(_at(("judgment", "choices"), f"{k.name} judgments use the item's choices ('item')"))
    if isinstance(want, list) and (not isinstance(got, list) or sorted(got) != sorted(want)):
        out.append(_at(("judgment", "choices"), f"{k.name} judgments are [{', '.join(want)}]"))
    return out


def _kind(task: Any) -> Any:
    """The task kind object for a task section (None for a kind nobody registered: reported elsewhere)."""
    from sandwich.tasks import kind as task_kinds

    return task_kinds.find(task.kind)


def _overseers(ov: Any, conditions: list[Any] | None) -> list[Problem]:
    out: list[Problem] = []
    everyone = [("non_experts", i, n) for i, n in enumerate(ov.non_experts)] + [
        ("experts", i, n) for i, n in enumerate(ov.experts)
    ]
    for k in _duplicates([n for _, _, n in everyone]):
        field, i, name = everyone[k]
        out.append(_at(("overseers", field, i), f"overseer {name!r} is named more than once; each overseer once"))
    if conditions is None:
        return out
    names = [c.name for c in conditions]
    if ov.expert_condition is not None and not ov.experts:
        out.append(
            _at(("overseers", "expert_condition"), "has no effect without overseers.experts; remove it or add experts")
        )
    if ov.expert_condition is not None and ov.expert_condition not in names:
        out.append(
            _at(
                ("overseers", "expert_condition"),
                f"no condition named {ov.expert_condition!r} (conditions: {', '.join(names)})",
            )
        )
    n_cond, k = len(conditions), ov.items_per_overseer or 0
    if ov.design == "observed":
        pass  # who met which condition is whatever the data says: nothing to balance
    elif ov.design == "within-subjects":
        if k < n_cond or k % n_cond:
            out.append(
                _at(
                    ("overseers", "items_per_overseer"),
                    f"within-subjects needs a multiple of the {n_cond} conditions so each overseer meets each "
                    f"condition equally often (got {k})",
                )
            )
        if len(ov.non_experts) < n_cond:
            out.append(
                _at(
                    ("overseers", "non_experts"),
                    f"within-subjects with {n_cond} conditions needs at least {n_cond} overseers so every item "
                    f"is judged under every condition (got {len(ov.non_experts)})",
                )
            )
    elif len(ov.non_experts) < n_cond:
        out.append(
            _at(
                ("overseers", "non_experts"),
                f"between-subjects needs at least one overseer per condition "
                f"({n_cond} conditions, {len(ov.non_experts)} overseers)",
            )
        )
    return out


def _hypotheses(prereg: Any, conditions: list[Any] | None) -> list[Problem]:
    out: list[Problem] = []
    hyps = prereg.hypotheses
    from sandwich.config import RESERVED_HYPOTHESIS_ID

    for i, h in enumerate(hyps):
        if RESERVED_HYPOTHESIS_ID.search(h.id):
            out.append(
                _at(
                    ("preregistration", "hypotheses", i, "id"),
                    f"hypothesis id {h.id!r} is reserved: `analyze` names its exploratory tests X1, X2, … "
                    "and marks edited hypotheses with '*'; choose another id (e.g. H1)",
                )
            )
    for i in _duplicates([h.id for h in hyps]):
        out.append(_at(("preregistration", "hypotheses", i, "id"), f"hypothesis id {hyps[i].id!r} is used twice"))
    names = None if conditions is None else {c.name for c in conditions} | {"expert"}
    for i, h in enumerate(hyps):
        a, b = h.compare
        if a == b:
            out.append(
                _at(
                    ("preregistration", "hypotheses", i, "compare", 1),
                    f"hypothesis {h.id} compares {a!r} with itself; compare two different groups",
                )
            )
        for j, c in enumerate(h.compare):
            if names is not None and c not in names:
                out.append(
                    _at(
                        ("preregistration", "hypotheses", i, "compare", j),
                        f"hypothesis {h.id}: no condition named {c!r} (expected 'expert' or one of: "
                        f"{', '.join(sorted(names - {'expert'}))})",
                    )
                )
    return out


def _classifiers(classifiers: Any, conditions: list[Any], task: Any) -> list[Problem]:
    from sandwich.classifiers.pipelines import for_kind

    names = [c.name for c in conditions]
    pipeline = for_kind(str(getattr(task, "kind", "")))  # pairwise studies aggregate differently
    sources = pipeline.label_sources(names)
    out: list[Problem] = []
    for i, src in enumerate(classifiers.train_on):
        if src not in sources:
            out.append(
                _at(("classifiers", "train_on", i), f"unknown label source {src!r} (expected {pipeline.sources_hint})")
            )
    for i in _duplicates(classifiers.train_on):
        out.append(_at(("classifiers", "train_on", i), f"label source {classifiers.train_on[i]!r} is listed twice"))
    for i in _duplicates([str(s) for s in classifiers.seeds]):
        out.append(_at(("classifiers", "seeds", i), f"seed {classifiers.seeds[i]} is listed twice"))
    return out


def _simulation(sim: Any, conditions: list[Any]) -> list[Problem]:
    names = {c.name for c in conditions}
    out: list[Problem] = []
    for who in ("non_expert", "expert"):
        for key in getattr(sim, who).skill:
            if key != "default" and key not in names:
                out.append(
                    _at(
                        ("simulation", who, "skill", key),
                        f"no condition named {key!r} (expected 'default' or one of: {', '.join(sorted(names))})",
                    )
                )
    return out


def cross_field_problems(sections: Mapping[str, Any]) -> list[Problem]:
    """Every cross-field problem among the valid sections (a section that failed on its own is None)."""
    conditions = sections.get("conditions")
    task, gold, ov = sections.get("task"), sections.get("gold"), sections.get("overseers")
    out: list[Problem] = []
    if conditions is not None:
        out += _conditions(conditions)
    out += _task_and_gold(task, gold, ov)
    out += _judgment(task, sections.get("judgment"))
    if task is not None and (k := _kind(task)) is not None:
        out += [_at(loc, msg) for loc, msg in k.study_problems(sections)]
    if ov is not None:
        out += _overseers(ov, conditions)
    if sections.get("preregistration") is not None:
        out += _hypotheses(sections["preregistration"], conditions)
    if conditions is not None and sections.get("classifiers") is not None:
        out += _classifiers(sections["classifiers"], conditions, task)
    if conditions is not None and sections.get("simulation") is not None:
        out += _simulation(sections["simulation"], conditions)
    if conditions is not None and task is not None and ov is not None and ov.design != "observed":
        out += _problems_for_design(sections)
    return out


def _problems_for_design(sections: Mapping[str, Any]) -> list[Problem]:
    """Too few problems for one version per overseer (the rule lives with check-design)."""
    from types import SimpleNamespace

    from sandwich.design_check import problem_shortfall

    problem = problem_shortfall(SimpleNamespace(**sections))  # type: ignore[arg-type]  # the Study's sections
    if problem is None:
        return []
    prefix = "overseers.items_per_overseer: "
    return [_at(("overseers", "items_per_overseer"), problem.removeprefix(prefix))]
