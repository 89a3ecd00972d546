"""The assignment plan: which overseer judges which item under which condition, in what order.

Within-subjects. Overseer o is member t = o // C of counterbalance group g = o mod C
(C conditions). The judged pool is dealt into S item *sets* of C *cells* of
k / C items each; member t of every group judges set t mod S, and group g judges
cell j of it under condition (j + g) mod C, so across the groups every item meets
every condition and no overseer sees an item twice. The order of conditions in a
session is a row of a Williams Latin square (balanced for first-order carry-over),
assigned to overseers independently of their group, so which items sit in which
part of a session differs between overseers; items are shuffled within each part,
per overseer. Between-subjects: each overseer stays in one condition and judges
one set of k items.

Cells are dealt so that nothing an overseer can observe besides the item itself
pays without skill (DESIGN.md, "No skill, no score"): gold labels are balanced
within every cell, hence within every part (overseer × condition), and an
overseer meets at most ``versions_per_problem`` versions of one problem, never two
in one part. `sandwich check-design` measures what is left. Everything is
deterministic from the seed.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandwich.errors import SandwichError

if TYPE_CHECKING:
    from sandwich.config import Study
    from sandwich.tasks.base import TaskData

# Seeded tries at dealing cells / pairing Williams rows with groups; the best one is kept.
_DEAL_TRIES = 40
_ROW_TRIES = 64


@dataclass(frozen=True)
class Assignment:
    """One overseer judging one item under one condition, at a place in their session."""

    assignment_id: str
    overseer: str
    item_id: str
    condition: str
    position: int  # 0-based order in the overseer's session
    block: int  # 0-based condition block (part) in the session


class DesignError(SandwichError):
    """The overseers and items cannot fill the design the study asks for."""


def williams_rows(n: int) -> list[list[int]]:
    """Rows of a Williams design: a Latin square balanced for first-order carry-over (2n rows if n is odd)."""
    if n == 1:
        return [[0]]
    first, lo, hi = [0], 1, n - 1
    while len(first) < n:
        first.append(lo)
        lo += 1
        if len(first) < n:
            first.append(hi)
            hi -= 1
    rows = [[(x + r) % n for x in first] for r in range(n)]
    if n % 2:
        rows += [list(reversed(row)) for row in rows]
    return rows


def judged_pool(
    pool: Sequence[str],
    labels: Mapping[str, str],
    problems: Mapping[str, str] | None,
    n: int,
    seed: int,
    versions_per_problem: int | None = None,
) -> list[str]:
    """A seeded sample of ``n`` items, dealt evenly over gold labels, from as many distinct problems as possible.

    Labels take turns; each turn takes an item whose problem is not chosen yet, preferring problems
    with the fewest items of other labels left (so a problem that is the only source of a rare label
    stays available for it). When every problem is taken, further versions come from the problems with
    the fewest versions chosen, never more than ``versions_per_problem`` of one problem (None: no cap), so
    the sample can still be dealt. Returns the pool unchanged when ``n >= len(pool)``.
    """
    if n >= len(pool):
        return list(pool)
    problem_of = (lambda i: problems.get(i, i)) if problems else (lambda i: i)
    rng = random.Random(f"pool:{seed}")
    by_label: dict[str, list[str]] = {}
    for item in sorted(pool):
        by_label.setdefault(labels.get(item, ""), []).append(item)
    for ids in by_label.values():
        rng.shuffle(ids)
    left: dict[str, Counter[str]] = {}  # problem -> label -> items not chosen yet
    for label, ids in by_label.items():
        for i in ids:
            left.setdefault(problem_of(i), Counter())[label] += 1
    chosen: list[str] = []
    used: Counter[str] = Counter()  # problem -> versions chosen
    cap = versions_per_problem if versions_per_problem is not None else len(pool)
    while len(chosen) < n:
        progressed = False
        for label in sorted(by_label):
            ids = by_label[label]
            if len(chosen) >= n:
                break
            open_ids = [i for i in ids if used[problem_of(i)] < cap]
            if not open_ids:
                continue
            fewest = min(used[problem_of(i)] for i in open_ids)
            fresh = [i for i in open_ids if used[problem_of(i)] == fewest]
            pick = min(fresh, key=lambda i: sum(v for lab, v in left[problem_of(i)].items() if lab != label))
            ids.remove(pick)
            chosen.append(pick)
            used[problem_of(pick)] += 1
            left[problem_of(pick)][label] -= 1
            progressed = True
        if not progressed:  # the cap leaves too few items: the dealer reports the shortfall with its fix
            break
    return chosen


Cells = list[list[list[str]]]  # cells[t][j]: the items of cell j of item set t


def _deal_once(
    pool: Sequence[str],
    label_of: Mapping[str, str],
    problem_of: Mapping[str, str],
    n_sets: int,
    n_cells: int,
    per: int,
    versions: int,
    rng: random.Random,
) -> Cells | None:
    share = Counter(label_of[i] for i in pool)
    total = len(pool)
    siblings = Counter(problem_of[i] for i in pool)
    by_label: dict[str, list[str]] = {}
    for i in pool:
        by_label.setdefault(label_of[i], []).append(i)
    rank: dict[str, float] = {}
    for ids in by_label.values():
        rng.shuffle(ids)
        rank.update({i: (r + rng.random()) / len(ids) for r, i in enumerate(ids)})
    # items of problems with several versions first (hard constraints), labels interleaved in proportion
    order = sorted(pool, key=lambda i: (-min(siblings[problem_of[i]], 2), rank[i]))
    cells: Cells = [[[] for _ in range(n_cells)] for _ in range(n_sets)]
    in_set: list[Counter[str]] = [Counter() for _ in range(n_sets)]
    labels_in: dict[tuple[int, int], Counter[str]] = {(t, j): Counter() for t in range(n_sets) for j in range(n_cells)}

    def excess(t: int, j: int, label: str) -> float:
        cell = cells[t][j]
        return labels_in[t, j][label] - len(cell) * share[label] / total

    def place(item: str, candidates: list[tuple[int, int]]) -> bool:
        label, prob = label_of[item], problem_of[item]
        ok = [
            (t, j)
            for t, j in candidates
            if len(cells[t][j]) < per
            and in_set[t][prob] < versions
            and all(problem_of[x] != prob for x in cells[t][j])
            and item not in cells[t][j]
        ]
        if not ok:
            return False
        t, j = min(
            ok,
            key=lambda c: (
                excess(c[0], c[1], label),
                sum(len(x) for x in cells[c[0]]),
                len(cells[c[0]][c[1]]),
                rng.random(),
            ),
        )
        cells[t][j].append(item)
        in_set[t][prob] += 1
        labels_in[t, j][label] += 1
        return True

    everywhere = [(t, j) for t in range(n_sets) for j in range(n_cells)]
    for item in order:
        if not place(item, everywhere):
            return None
    # a last, short set is filled with items from other sets (they are judged more than once)
    used = Counter(i for row in cells for cell in row for i in cell)
    for t in range(n_sets):
        while any(len(c) < per for c in cells[t]):
            mine = {i for c in cells[t] for i in c}
            spare = sorted((i for i in pool if i not in mine), key=lambda i: (used[i], rng.random()))
            short = [(t, j) for j in range(n_cells) if len(cells[t][j]) < per]
            for item in spare:
                if place(item, short):
                    used[item] += 1
                    break
            else:
                return None
    return cells


def _imbalance(cells: Cells, label_of: Mapping[str, str], labels: Sequence[str]) -> int:
    """Sum over cells of (most common label count - least common), over every label in the pool."""
    out = 0
    for row in cells:
        for cell in row:
            counts = Counter(label_of[i] for i in cell)
            out += max(counts[lab] for lab in labels) - min(counts[lab] for lab in labels)
    return out


def _deal(
    pool: Sequence[str],
    label_of: Mapping[str, str],
    problem_of: Mapping[str, str],
    n_sets: int,
    n_cells: int,
    per: int,
    versions: int,
    seed: int,
) -> Cells:
    labels = sorted({label_of[i] for i in pool})
    floor = 0 if per % len(labels) == 0 else 1  # the best spread a cell of `per` items can have
    best: tuple[int, Cells] | None = None
    for attempt in range(_DEAL_TRIES):
        cells = _deal_once(
            pool, label_of, problem_of, n_sets, n_cells, per, versions, random.Random(f"deal:{seed}:{attempt}")
        )
        if cells is None:
            continue
        score = _imbalance(cells, label_of, labels)
        if best is None or score < best[0]:
            best = (score, cells)
        if score <= floor * n_sets * n_cells:
            break
    if best is None:
        n_problems = len({problem_of[i] for i in pool})
        where = "part" if n_cells > 1 else "session"
        raise DesignError(
            f"The {len(pool)} judged items come from only {n_problems} problem(s): they cannot be dealt into sessions "
            f"of {per * n_cells} items with at most {versions} version(s) of a problem per overseer and never two in "
            f"one {where}.",
            hint="Add problems (task.problems), lower overseers.items_per_overseer, or allow more versions per "
            "overseer with overseers.versions_per_problem (they then sit in different parts).",
        )
    return best[1]


def _row_order(n_overseers: int, n_cond: int, n_sets: int, rows: list[list[int]], seed: int) -> list[int]:
    """A Williams row for each overseer: every row equally often, paired with groups so cell positions vary.

    The pairing minimises how often one cell of one item set lands in the same part of the session
    for different overseers (sum of squared counts), over seeded candidates.
    """
    rng = random.Random(f"rows:{seed}")
    best: tuple[int, list[int]] | None = None
    for _ in range(_ROW_TRIES):
        order: list[int] = []
        while len(order) < n_overseers:
            perm = list(range(len(rows)))
            rng.shuffle(perm)
            order += perm
        order = order[:n_overseers]
        seen: Counter[tuple[int, int, int]] = Counter()
        for o, r in enumerate(order):
            g, t = o % n_cond, (o // n_cond) % n_sets
            for p, c in enumerate(rows[r]):
                seen[t, (c - g) % n_cond, p] += 1
        score = sum(v * v for v in seen.values())
        if best is None or score < best[0]:
            best = (score, order)
    assert best is not None
    return best[1]


def plan(
    items: Sequence[str],
    conditions: Sequence[str],
    non_experts: Sequence[str],
    items_per_overseer: int,
    *,
    design: str = "within-subjects",
    experts: Sequence[str] = (),
    expert_condition: str | None = None,
    seed: int = 0,
    labels: Mapping[str, str] | None = None,
    problems: Mapping[str, str] | None = None,
    versions_per_problem: int = 1,
) -> list[Assignment]:
    """Build the whole assignment plan.

    ``labels`` (item -> gold label) are balanced within every part; ``problems`` (item -> problem id)
    bound how many versions of a problem one overseer meets (``versions_per_problem``, never two in one
    part); without them every item is its own problem and labels are not balanced.
    Raises DesignError when the overseers and items cannot fill the design.
    """
    if not items:
        raise DesignError("The study has no items to assign.", hint="Check the task's source and limits.")
    rng = random.Random(seed)
    pool = sorted(items)
    rng.shuffle(pool)
    label_of = {i: (labels or {}).get(i, "") for i in pool}
    problem_of = {i: (problems or {}).get(i, i) for i in pool}
    n_c, k = len(conditions), items_per_overseer
    out: list[Assignment] = []

    def emit(overseer: str, seq: list[tuple[str, str, int]]) -> None:
        for pos, (item, cond, block) in enumerate(seq):
            out.append(Assignment(f"{overseer}:{pos:04d}", overseer, item, cond, pos, block))

    if k > len(pool):
        most = len(pool) - len(pool) % n_c if design == "within-subjects" else len(pool)
        raise DesignError(
            f"items_per_overseer {k} is more than the {len(pool)} items in the study.",
            hint=f"Lower overseers.items_per_overseer to at most {most}, or add items.",
        )
    n_sets = math.ceil(len(pool) / k)
    if design == "within-subjects":
        per = k // n_c
        groups = [list(non_experts[g::n_c]) for g in range(n_c)]
        for g, members in enumerate(groups):
            if len(members) < n_sets:
                raise DesignError(
                    f"The overseers cannot fill the design: counterbalance group {g + 1} has {len(members)} "
                    f"overseer(s), but the {len(pool)} items need {n_sets} sessions of {k} items to be judged "
                    "under every condition.",
                    hint=f"Add overseers (at least {n_sets * n_c} in all), raise items_per_overseer, or use fewer "
                    "items.",
                )
        cells = _deal(pool, label_of, problem_of, n_sets, n_c, per, versions_per_problem, seed)
        rows = williams_rows(n_c)
        row_of = _row_order(len(non_experts), n_c, n_sets, rows, seed)
        for o, name in enumerate(non_experts):
            g, t = o % n_c, o // n_c
            mine = cells[t % n_sets]
            seq: list[tuple[str, str, int]] = []
            for b, c in enumerate(rows[row_of[o]]):
                part = list(mine[(c - g) % n_c])
                random.Random(f"{seed}:{name}:{b}").shuffle(part)
                seq += [(i, conditions[c], b) for i in part]
            emit(name, seq)
    elif design == "between-subjects":
        cells = _deal(pool, label_of, problem_of, n_sets, 1, k, 1, seed)
        order = list(non_experts)
        rng.shuffle(order)
        for c_idx, cond in enumerate(conditions):
            members = order[c_idx::n_c]
            if len(members) < n_sets:
                raise DesignError(
                    f"The overseers cannot fill the design: condition {cond!r} has {len(members)} overseer(s) × "
                    f"{k} items, fewer than its {len(pool)} items.",
                    hint="Add overseers, raise items_per_overseer, or use fewer items.",
                )
            for t, name in enumerate(members):
                chosen = list(cells[t % n_sets][0])
                random.Random(f"{seed}:{name}").shuffle(chosen)
                emit(name, [(i, cond, 0) for i in chosen])
    else:
        raise DesignError(f"unknown design {design!r}")

    if experts:
        cond = expert_condition or conditions[0]
        for e, name in enumerate(experts):
            chosen = pool[e :: len(experts)]  # experts share the pool: every item gets one expert judgment
            random.Random(f"{seed}:{name}").shuffle(chosen)
            emit(name, [(i, cond, 0) for i in chosen])
    return out


@dataclass(frozen=True)
class Dealt:
    """A study's practice items, judged pool and assignment plan."""

    practice: frozenset[str]
    pool: list[str]
    assignments: list[Assignment]


def deal_study(study: Study, data: TaskData) -> Dealt:
    """Choose practice items, the judged pool and the plan for a study, from its seeds.

    Practice items come from the train split; their problems are kept out of the judged pool (their
    gold is shown as feedback). The pool is sampled to ``judged_items`` balanced by gold and spread over
    problems; the plan balances gold per part and bounds versions of a problem per overseer.
    """
    ov = study.overseers
    rng = random.Random(study.seed)
    train_ids = sorted(i.item_id for i in data.items if i.split == "train")
    practice = frozenset(rng.sample(train_ids, min(ov.practice_items, max(len(train_ids) - 1, 0))))
    practised = {i.problem_id for i in data.items if i.item_id in practice}
    problems = {i.item_id: i.problem_id for i in data.items}
    labels = {g.item_id: g.label for g in data.gold}
    pool = [
        i.item_id
        for i in data.items
        if i.item_id not in practice
        and i.problem_id not in practised
        and (ov.judge_split == "all" or i.split == "train")
    ]
    if ov.judged_items is not None:
        pool = judged_pool(pool, labels, problems, ov.judged_items, study.seed, ov.versions_per_problem)
    assert ov.items_per_overseer is not None  # required by the study file unless the design is observed (never dealt)
    assignments = plan(
        pool,
        [c.name for c in study.conditions],
        ov.non_experts,
        ov.items_per_overseer,
        design=ov.design,
        experts=ov.experts,
        expert_condition=study.expert_condition,
        seed=ov.seed,
        labels=labels,
        problems=problems,
        versions_per_problem=ov.versions_per_problem,
    )
    from sandwich.tasks import kind as task_kinds

    # e.g. pairwise: which response each overseer sees on the left, balanced against gold in each part
    task_kinds.get(study.task.kind).plan_orders(data, assignments, study.seed)
    return Dealt(practice, pool, assignments)
