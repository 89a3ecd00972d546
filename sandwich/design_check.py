"""`sandwich check-design`: can an overseer score without skill on this study's sessions?

For each non-expert overseer it reports the accuracy of the no-skill strategies in
:mod:`sandwich.no_skill` (always one answer, by position, a key shared between
overseers, comparing versions of a problem), the number of distinct problems, and
the gold balance of every part (overseer × condition block). It warns when a
strategy beats chance by more than noise: an exact one-sided binomial test of the
strategy's hits pooled over overseers against the chance rate (mean of
1 / number of answer values), Bonferroni-corrected over every strategy variant
tried. It also flags what makes a leak possible: two versions of a problem in one
part, more versions per overseer than the study allows, a part that holds the same
items for everyone, a part whose gold is all one answer, titles that name the problem.
"""

from __future__ import annotations

import math
import random
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from scipy.stats import binomtest

from sandwich.no_skill import STRATEGIES, SessionItem
from sandwich.tasks import kind as task_kinds

if TYPE_CHECKING:
    from sandwich.assignment import Assignment
    from sandwich.config import SplitSpec, Study
    from sandwich.tasks.base import Gold, Item

ALPHA = 0.05
HUMANEVAL_PROBLEMS = 164


def problem_shortfall(study: Study) -> str | None:
    """Why a code-review study has too few problems for one version per overseer, or None when it has enough.

    An overseer judges ``items_per_overseer`` items and meets at most ``versions_per_problem`` versions of a
    problem (never two in one part), so the study needs ceil(items / versions) problems the overseer can be
    dealt: those of the judged split, less the ones practice items use. The message starts with the field
    it is about, as study-file errors do.
    """
    task, ov = study.task, study.overseers
    from sandwich.tasks import kind as task_kinds

    total = task_kinds.get(task.kind).problem_count(task)
    per = ov.items_per_overseer
    if total is None or per is None:  # every item is its own problem; or an observed design, which deals none
        return None
    split: SplitSpec = task.split  # type: ignore[union-attr]  # a registered kind's split is an untyped extra field
    train_only = ov.judge_split == "train" and split.by == "problem"
    n = (round(total * split.train) if train_only else total) - ov.practice_items
    parts = len(study.conditions) if ov.design == "within-subjects" else 1
    versions = min(ov.versions_per_problem, parts)
    need = math.ceil(per / versions)
    if n >= need:
        return None
    enough = need + ov.practice_items
    if train_only:
        enough = math.ceil(enough / split.train)
    fixes = [
        f"set task.problems to at least {enough}" if enough <= HUMANEVAL_PROBLEMS else "use fewer items",
        f"lower overseers.items_per_overseer to at most {max(n * versions - (n * versions) % parts, 0)}",
    ]
    if versions < parts:
        fixes.append(
            "allow repeats in different parts with overseers.versions_per_problem: "
            f"{min(math.ceil(per / max(n, 1)), parts)}"
        )
    return (
        f"overseers.items_per_overseer: each overseer judges {ov.items_per_overseer} items, but only {max(n, 0)} "
        f"problems are available to judge and an overseer meets at most {versions} version(s) of a problem "
        "(the correct and buggy versions of one problem side by side can be compared instead of judged). "
        "Fix: " + ", or ".join(fixes)
    )


@dataclass
class StrategyScore:
    """One no-skill strategy family's best variant, pooled over overseers."""

    family: str
    variant: str
    hits: int
    n: int
    p_value: float  # exact one-sided binomial test against chance
    per_overseer: dict[str, float]

    @property
    def accuracy(self) -> float:
        """Hits / judgments, 0..1."""
        return self.hits / self.n if self.n else math.nan


@dataclass
class OverseerDesign:
    """What one overseer's session looks like: size, problems, and gold per part."""

    overseer: str
    items: int
    problems: int
    parts_with_siblings: int
    parts: int
    gold_per_part: list[Counter[str]]


@dataclass
class DesignReport:
    """check-design's findings for one assignment plan."""

    chance: float
    overseers: list[OverseerDesign]
    strategies: list[StrategyScore]
    variants_tested: int
    alpha: float
    warnings: list[str] = field(default_factory=list)
    variants: list[StrategyScore] = field(default_factory=list)  # every variant tried, not only each family's best
    test: str = (
        "one-sided test per strategy variant, Bonferroni over variants: exact binomial against chance; "
        "Monte Carlo for strategies that use the order inside parts (every part reshuffled) or copy "
        "other overseers' gold (gold drawn at random)"
    )

    @property
    def ceiling(self) -> float:
        """The best no-skill accuracy pooled over overseers (nan without gold)."""
        return max((s.accuracy for s in self.strategies), default=math.nan)


class _Dealt(Protocol):
    """An assignment: a planned `Assignment` or a stored `AssignmentRecord`."""

    @property
    def overseer(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def block(self) -> int: ...
    @property
    def condition(self) -> str: ...
    @property
    def item_id(self) -> str: ...


class _Shown(Protocol):
    """An item: a task's `Item` or a stored `ItemRecord`."""

    @property
    def item_id(self) -> str: ...
    @property
    def problem_id(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def body(self) -> str | None: ...
    @property
    def choices(self) -> Sequence[str] | None: ...
    @property
    def task_kind(self) -> str: ...
    @property
    def meta(self) -> Mapping[str, Any] | None: ...


class _Labelled(Protocol):
    """A gold label: a task's `Gold` or a stored `GoldRecord`."""

    @property
    def item_id(self) -> str: ...
    @property
    def label(self) -> str: ...


def sessions_from(
    assignments: Sequence[_Dealt], items: Sequence[_Shown], gold: Sequence[_Labelled], non_experts: Sequence[str]
) -> dict[str, list[SessionItem]]:
    """Each non-expert's session in order, joined with item content and gold (items without gold are left out)."""
    by_id = {i.item_id: i for i in items}
    labels = {g.item_id: g.label for g in gold}
    wanted = set(non_experts)
    out: dict[str, list[SessionItem]] = {n: [] for n in non_experts}
    for a in sorted(assignments, key=lambda a: (a.overseer, a.position)):
        if a.overseer not in wanted or a.item_id not in labels:
            continue
        it = by_id[a.item_id]
        # code review answers with the choice itself, multiple choice with the choice's letter
        choices = it.choices or []
        values = tuple(choices) if labels[a.item_id] in choices else tuple(string.ascii_uppercase[: len(choices)])
        kind = task_kinds.find(it.task_kind)
        shown = (kind.shown_order(dict(it.meta or {}), a.overseer) if kind is not None else None) or ""
        out[a.overseer].append(
            SessionItem(
                a.overseer,
                a.position,
                a.block,
                a.condition,
                it.item_id,
                it.problem_id,
                it.title or "",
                it.body or "",
                labels[a.item_id],
                values,
                shown,
            )
        )
    return {k: v for k, v in out.items() if v}


def _structure(
    sessions: Mapping[str, list[SessionItem]], versions_per_problem: int
) -> tuple[list[OverseerDesign], list[str]]:
    rows: list[OverseerDesign] = []
    warnings: list[str] = []
    labels = sorted({it.gold for s in sessions.values() for it in s})
    for name, s in sessions.items():
        parts: dict[int, list[SessionItem]] = {}
        for it in s:
            parts.setdefault(it.part, []).append(it)
        per_problem = Counter(it.problem_id for it in s)
        sib = sum(len({it.problem_id for it in p}) < len(p) for p in parts.values())
        rows.append(
            OverseerDesign(
                name,
                len(s),
                len(per_problem),
                sib,
                len(parts),
                [Counter(it.gold for it in parts[k]) for k in sorted(parts)],
            )
        )
        if sib:
            warnings.append(f"{name}: {sib} part(s) hold two versions of one problem (they can be compared)")
        over = [p for p, c in per_problem.items() if c > versions_per_problem]
        if over:
            warnings.append(f"{name}: meets {len(over)} problem(s) more than {versions_per_problem} time(s)")
        for k in sorted(parts):
            if len(labels) > 1 and len(parts[k]) > 1 and len({it.gold for it in parts[k]}) == 1:
                warnings.append(f"{name}: part {k + 1} is all gold-{parts[k][0].gold}")
    if len(sessions) > 2:  # two overseers over two conditions cannot avoid it (no orthogonal pairing exists)
        n_parts = max(len({it.part for it in s}) for s in sessions.values())
        for k in range(n_parts):
            sets = {frozenset(it.item_id for it in s if it.part == k) for s in sessions.values()}
            if len(sets) == 1:
                warnings.append(f"part {k + 1} holds the same items for every overseer")
    distinct = {it.item_id: it for s in sessions.values() for it in s}
    family: Counter[str] = Counter(it.problem_id for it in distinct.values())
    named = sorted(
        {it.title for s in sessions.values() for it in s if family[it.problem_id] > 1 and it.problem_id in it.title}
    )
    if named:
        warnings.append(
            f"{len(named)} title(s) name their problem, which marks versions of one problem (e.g. {named[0]!r})"
        )
    return rows, warnings


def _null_draw(
    sessions: Mapping[str, list[SessionItem]], null: str, rng: random.Random
) -> dict[str, list[SessionItem]]:
    if null == "order":  # the plan's own randomisation: every part reshuffled, for every overseer
        out: dict[str, list[SessionItem]] = {}
        for o, s in sessions.items():
            golds = [it.gold for it in s]
            for part in {it.part for it in s}:
                idx = [k for k, it in enumerate(s) if it.part == part]
                mixed = [golds[k] for k in idx]
                rng.shuffle(mixed)
                for k, g in zip(idx, mixed, strict=True):
                    golds[k] = g
            out[o] = [replace(it, gold=g) for it, g in zip(s, golds, strict=True)]
        return out
    return {o: [replace(it, gold=rng.choice(it.values)) for it in s] for o, s in sessions.items()}


def _monte_carlo_p(
    sessions: Mapping[str, list[SessionItem]],
    family: str,
    variant: str,
    observed: int,
    threshold: float,
    null: str,
    draws: int = 4000,
) -> float:
    """P(hits >= observed) under the strategy's null, by simulation (the strategy re-run on every draw).

    ``null`` "chance": every overseer's gold at every position drawn uniformly from the answer values;
    "order": every part of every session reshuffled. Draws stop early once the estimate is clearly above
    ``threshold`` (10 exceedances and twice it) or below it (half of it); the estimate is
    (1 + exceedances) / (1 + draws), so it is never zero.
    """
    rng = random.Random(f"null:{family}:{variant}:{observed}")
    strategy = STRATEGIES[family]
    exceed = 0
    for r in range(1, draws + 1):
        fake = _null_draw(sessions, null, rng)
        hits = 0
        for name, s in fake.items():
            values = list(dict.fromkeys(v for it in s for v in it.values))
            guesses = strategy(s, {o: x for o, x in fake.items() if o != name}, values)[variant]
            hits += sum(g == it.gold for g, it in zip(guesses, s, strict=True))
        exceed += hits >= observed
        estimate = (1 + exceed) / (1 + r)
        if (exceed >= 10 and estimate > 2 * threshold) or estimate < threshold / 2:
            return estimate  # clearly above, or clearly below, the threshold
    return (1 + exceed) / (1 + draws)


def as_shown(sessions: Mapping[str, list[SessionItem]]) -> dict[str, list[SessionItem]]:
    """Pairwise sessions in the terms the overseer sees: A = the response shown on the left, B = the right one.

    Gold and the two responses are stored in the source's (canonical) order, which the overseer never sees, so a
    strategy scored on canonical labels ("always A", "alternate A/B") would flag structure no overseer can use.
    Items without a shown order are returned as they are.
    """
    import dataclasses
    import json

    def shown(it: SessionItem) -> SessionItem:
        if it.shown != "BA":
            return it
        try:
            d = json.loads(it.body)
            body = json.dumps({**d, "response_a": d["response_b"], "response_b": d["response_a"]})
        except (ValueError, KeyError, TypeError):
            body = it.body
        gold = {"A": "B", "B": "A"}.get(it.gold, it.gold)
        return dataclasses.replace(it, gold=gold, body=body, shown="AB")

    return {o: [shown(it) for it in s] for o, s in sessions.items()}


def check_sessions(
    sessions: Mapping[str, list[SessionItem]], *, versions_per_problem: int = 1, alpha: float = ALPHA
) -> DesignReport:
    """Score every no-skill strategy on these sessions and describe their structure.

    Returns a DesignReport; its warnings are empty when nothing leaks. ``alpha`` is the family-wise
    level of the binomial tests (Bonferroni over the variants tried).
    """
    sessions = as_shown(sessions)
    rows, warnings = _structure(sessions, versions_per_problem)
    all_items = [it for s in sessions.values() for it in s]
    chance = sum(1 / len(it.values) for it in all_items) / len(all_items) if all_items else math.nan
    scored: list[tuple[str, str, dict[str, tuple[int, int]]]] = []
    for fam, strategy in STRATEGIES.items():
        per_variant: dict[str, dict[str, tuple[int, int]]] = {}
        for name, s in sessions.items():
            others = {o: x for o, x in sessions.items() if o != name}
            values = list(dict.fromkeys(v for it in s for v in it.values))
            for variant, guesses in strategy(s, others, values).items():
                hits = sum(g == it.gold for g, it in zip(guesses, s, strict=True))
                per_variant.setdefault(variant, {})[name] = (hits, len(s))
        scored += [(fam, v, counts) for v, counts in per_variant.items()]
    m = max(len(scored), 1)
    best: dict[str, StrategyScore] = {}
    every: list[StrategyScore] = []
    for fam, variant, counts in scored:
        hits, n = sum(h for h, _ in counts.values()), sum(k for _, k in counts.values())
        if not n:
            continue
        p = binomtest(hits, n, chance, alternative="greater").pvalue
        null = getattr(STRATEGIES[fam], "null", "chance")
        if p < alpha / m and (null != "chance" or getattr(STRATEGIES[fam], "uses_others_gold", False)):
            p = _monte_carlo_p(sessions, fam, variant, hits, alpha / m, null)
        score = StrategyScore(fam, variant, hits, n, p, {o: h / k for o, (h, k) in counts.items()})
        every.append(score)
        if fam not in best or score.accuracy > best[fam].accuracy:
            best[fam] = score
        if p < alpha / m:
            warnings.append(
                f"no-skill strategy {fam!r} ({variant}) scores {hits / n:.1%} over {n} judgments "
                f"against {chance:.1%} chance (one-sided exact binomial p = {p:.2g} < {alpha}/{m}, "
                "Bonferroni)"
            )
    return DesignReport(chance, rows, list(best.values()), len(scored), alpha, warnings, variants=every)


def check_design(
    study: Study, items: Sequence[Item], gold: Sequence[Gold], assignments: Sequence[Assignment]
) -> DesignReport:
    """check_sessions on a study's plan: its non-experts, its versions_per_problem."""
    ov = study.overseers
    return check_sessions(
        sessions_from(assignments, items, gold, ov.non_experts), versions_per_problem=ov.versions_per_problem
    )


def shown_values(
    meta: Mapping[str, Any] | None, choices: Sequence[str], values: Sequence[str]
) -> tuple[str, ...] | None:
    """The answer values in the order one judge saw them, from an imported judgment's `client_meta`.

    Importers keep the shown order per judgment: ``shown_order`` (stored choice indices, shown first to last:
    nyu-debate, llm-debate) or ``choice_order`` (`import judgments`: indices, letters or choice texts). None
    when there is none, or it is not a permutation of the item's answers (then the stored order stands).
    """
    order = (meta or {}).get("shown_order", (meta or {}).get("choice_order"))
    if not isinstance(order, list) or len(order) != len(values):
        return None
    if all(isinstance(k, int) and not isinstance(k, bool) for k in order):
        shown = [values[k] if 0 <= k < len(values) else "" for k in order]
    elif all(isinstance(k, str) for k in order):
        shown = [k if k in values else (values[choices.index(k)] if k in choices else "") for k in order]
    else:
        return None
    return tuple(shown) if sorted(shown) == sorted(values) else None


def in_shown_order(
    sessions: Mapping[str, list[SessionItem]], shown: Mapping[tuple[str, str], Sequence[str]]
) -> dict[str, list[SessionItem]]:
    """Sessions scored by answer position as each overseer saw the answers (an observed study's).

    `shown` maps (overseer, item id) to the answer values in the order shown (`shown_values`). Where there is
    one, gold becomes the right answer's shown place, named by the value at that place in the stored order: the
    first value stands for "the first option shown", so "always A" is "always the first option the judge saw"
    whatever order the item is stored in. Items without a shown order keep the stored order.
    """
    out: dict[str, list[SessionItem]] = {}
    for o, s in sessions.items():
        out[o] = []
        for it in s:
            seen = list(shown.get((o, it.item_id)) or [])
            moved = it.gold in seen and len(seen) == len(it.values)
            out[o].append(replace(it, gold=it.values[seen.index(it.gold)]) if moved else it)
    return out
