"""The assignment plan: which overseer judges which item under which condition, in what order.

Within-subjects: items are dealt into one block per condition; counterbalance
group g (overseer index mod C) judges block j under condition (j + g) mod C, so
across groups every item meets every condition, and no overseer sees an item
twice. Each overseer gets items_per_overseer / C items of every condition and
meets the conditions in the order of a row of a Williams Latin square (balanced
for first-order carry-over). Between-subjects: each overseer stays in one
condition. Everything is deterministic from the seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sandwich.errors import SandwichError


@dataclass(frozen=True)
class Assignment:
    """One overseer judging one item under one condition, at a place in their session."""

    assignment_id: str
    overseer: str
    item_id: str
    condition: str
    position: int   # 0-based order in the overseer's session
    block: int      # 0-based condition block in the session


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


def _deal(items: Sequence[str], n_blocks: int) -> list[list[str]]:
    return [list(items[j::n_blocks]) for j in range(n_blocks)]


def _window(seq: Sequence[str], start: int, size: int) -> list[str]:
    return [seq[(start + s) % len(seq)] for s in range(size)]


def plan(items: Sequence[str], conditions: Sequence[str], non_experts: Sequence[str], items_per_overseer: int, *,
         design: str = "within-subjects", experts: Sequence[str] = (), expert_condition: str | None = None,
         seed: int = 0) -> list[Assignment]:
    """Build the whole assignment plan; raise DesignError when the overseers cannot cover the items."""
    if not items:
        raise DesignError("The study has no items to assign.", hint="Check the task's source and limits.")
    rng = random.Random(seed)
    pool = sorted(items)
    rng.shuffle(pool)
    n_c, k = len(conditions), items_per_overseer
    out: list[Assignment] = []

    def emit(overseer: str, seq: list[tuple[str, str, int]]) -> None:
        for pos, (item, cond, block) in enumerate(seq):
            out.append(Assignment(f"{overseer}:{pos:04d}", overseer, item, cond, pos, block))

    if design == "within-subjects":
        per = k // n_c
        blocks = _deal(pool, n_c)
        smallest = min(len(b) for b in blocks)
        if per > smallest:
            raise DesignError(
                f"items_per_overseer {k} asks for {per} items per condition, but the {len(pool)} items split into "
                f"{n_c} condition blocks of only {smallest}.",
                hint=f"Lower overseers.items_per_overseer to at most {smallest * n_c}, or add items.")
        rows = williams_rows(n_c)
        groups: list[list[str]] = [list(non_experts[g::n_c]) for g in range(n_c)]
        for g, members in enumerate(groups):
            need = math.ceil(max(len(b) for b in blocks) / per)
            if len(members) < need:
                raise DesignError(
                    f"The overseers cannot fill the design: counterbalance group {g + 1} has {len(members)} "
                    f"overseer(s) × {per} items per condition, but each condition block has up to "
                    f"{max(len(b) for b in blocks)} items to cover.",
                    hint=f"Add overseers (at least {need * n_c} in all), raise items_per_overseer, or use fewer items.")
        for o, name in enumerate(non_experts):
            g, t = o % n_c, o // n_c
            order = rows[o % len(rows)]
            seq: list[tuple[str, str, int]] = []
            for b, c in enumerate(order):
                block_items = _window(blocks[(c - g) % n_c], t * per, per)
                random.Random(f"{seed}:{name}:{b}").shuffle(block_items)
                seq += [(i, conditions[c], b) for i in block_items]
            emit(name, seq)
    elif design == "between-subjects":
        if k > len(pool):
            raise DesignError(f"items_per_overseer {k} is more than the {len(pool)} items in the study.",
                              hint=f"Lower it to at most {len(pool)}.")
        order = list(non_experts)
        rng.shuffle(order)
        for c_idx, cond in enumerate(conditions):
            members = order[c_idx::n_c]
            if len(members) * k < len(pool):
                raise DesignError(
                    f"The overseers cannot fill the design: condition {cond!r} has {len(members)} overseer(s) × "
                    f"{k} items, fewer than its {len(pool)} items.",
                    hint="Add overseers, raise items_per_overseer, or use fewer items.")
            for t, name in enumerate(members):
                chosen = _window(pool, t * k, k)
                random.Random(f"{seed}:{name}").shuffle(chosen)
                emit(name, [(i, cond, 0) for i in chosen])
    else:
        raise DesignError(f"unknown design {design!r}")

    if experts:
        cond = expert_condition or conditions[0]
        for e, name in enumerate(experts):
            chosen = pool[e::len(experts)]  # experts share the pool: every item gets one expert judgment
            emit(name, [(i, cond, 0) for i in chosen])
    return out
