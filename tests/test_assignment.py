"""The assignment plan keeps its promises over many seeds and sizes."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from sandwich.assignment import DesignError, plan, williams_rows


@pytest.mark.parametrize("n", range(1, 8))
def test_williams_rows_are_latin_and_carryover_balanced(n: int) -> None:
    rows = williams_rows(n)
    for row in rows:
        assert sorted(row) == list(range(n))
    for col in range(n):
        assert Counter(r[col] for r in rows) == Counter({c: len(rows) // n for c in range(n)})
    if n > 1:
        pairs = Counter((r[i], r[i + 1]) for r in rows for i in range(n - 1))
        assert len(set(pairs.values())) == 1  # every ordered pair follows equally often


CASES = [  # (items, conditions, overseers, items_per_overseer)
    (12, 3, 3, 12), (24, 4, 4, 24), (30, 3, 6, 15), (40, 4, 8, 20), (24, 6, 6, 24), (50, 2, 6, 20), (17, 3, 9, 6),
]


@pytest.mark.parametrize(("n_items", "n_cond", "n_ov", "k"), CASES)
@pytest.mark.parametrize("seed", range(8))
def test_within_subjects_properties(n_items: int, n_cond: int, n_ov: int, k: int, seed: int) -> None:
    items = [f"i{j}" for j in range(n_items)]
    conds = [f"c{j}" for j in range(n_cond)]
    overseers = [f"o{j}" for j in range(n_ov)]
    a = plan(items, conds, overseers, k, seed=seed)
    by_ov: dict[str, list] = {}
    for x in a:
        by_ov.setdefault(x.overseer, []).append(x)
    for o, mine in by_ov.items():
        assert len(mine) == k
        assert len({x.item_id for x in mine}) == k, "an overseer saw an item twice"
        assert Counter(x.condition for x in mine) == Counter({c: k // n_cond for c in conds})
        mine.sort(key=lambda x: x.position)
        # conditions come in contiguous blocks
        blocks = [c for c, _ in itertools.groupby(x.condition for x in mine)]
        assert sorted(blocks) == sorted(conds)
    cells = {(x.item_id, x.condition) for x in a}
    assert cells == {(i, c) for i in items for c in conds}, "some item was never judged under some condition"
    # same seed, same plan
    assert plan(items, conds, overseers, k, seed=seed) == a


def test_block_orders_are_counterbalanced() -> None:
    conds = ["a", "b", "c", "d"]
    a = plan([f"i{j}" for j in range(40)], conds, [f"o{j}" for j in range(8)], 20, seed=3)
    first = Counter(x.condition for x in a if x.position == 0)
    assert first == Counter({c: 2 for c in conds})


def test_between_subjects_each_overseer_one_condition() -> None:
    items = [f"i{j}" for j in range(20)]
    a = plan(items, ["a", "b"], [f"o{j}" for j in range(4)], 10, design="between-subjects", seed=1)
    per = {}
    for x in a:
        per.setdefault(x.overseer, set()).add(x.condition)
    assert all(len(v) == 1 for v in per.values())
    assert {(x.item_id, x.condition) for x in a} == {(i, c) for i in items for c in "ab"}


def test_experts_cover_every_item_once() -> None:
    items = [f"i{j}" for j in range(12)]
    a = plan(items, ["a", "b"], ["o1", "o2"], 12, experts=["e1", "e2", "e3", "e4", "e5"], expert_condition="a")
    exp = [x for x in a if x.overseer.startswith("e")]
    assert sorted(x.item_id for x in exp) == sorted(items)
    assert {x.condition for x in exp} == {"a"}


def test_cannot_fill_design_is_a_clear_error() -> None:
    with pytest.raises(DesignError) as e:
        plan([f"i{j}" for j in range(60)], ["a", "b", "c"], ["o1", "o2", "o3"], 6)
    assert "cannot fill the design" in str(e.value) and "Add overseers" in str(e.value)
    with pytest.raises(DesignError) as e:
        plan([f"i{j}" for j in range(6)], ["a", "b", "c"], ["o1", "o2", "o3"], 9)
    assert "Lower overseers.items_per_overseer" in str(e.value)
