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
    (12, 3, 3, 12),
    (24, 4, 4, 24),
    (30, 3, 6, 15),
    (40, 4, 8, 20),
    (24, 6, 6, 24),
    (50, 2, 6, 20),
    (17, 3, 9, 6),
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
    for mine in by_ov.values():
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


def _sessions(a: list) -> dict[str, list]:
    by_ov: dict[str, list] = {}
    for x in sorted(a, key=lambda x: (x.overseer, x.position)):
        by_ov.setdefault(x.overseer, []).append(x)
    return by_ov


@pytest.mark.parametrize("seed", range(10))
def test_parts_differ_between_overseers_and_items_move_between_positions(seed: int) -> None:
    # the shipped code-review shape: 24 items, 6 conditions, 6 overseers who each judge all 24
    items = [f"i{j:02d}" for j in range(24)]
    labels = {i: ("correct" if n % 2 else "buggy") for n, i in enumerate(items)}
    a = plan(items, [f"c{j}" for j in range(6)], [f"o{j}" for j in range(6)], 24, seed=seed, labels=labels)
    sessions = _sessions(a)
    for part in range(6):
        sets = {frozenset(x.item_id for x in s if x.block == part) for s in sessions.values()}
        assert len(sets) > 1, f"part {part} holds the same items for every overseer"
    # the condition order (Williams row) does not decide the items' places: an item's part varies
    spread = [len({x.block for x in a if x.item_id == i}) for i in items]
    assert min(spread) >= 4 and sum(spread) / len(spread) >= 5
    # six conditions admit no orthomorphism, so at best one pair of overseers shares a first part
    first = [frozenset(x.item_id for x in s[:4]) for s in sessions.values()]
    assert len(set(first)) >= 5


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize(
    ("labels", "n_items", "n_cond", "n_ov", "k"),
    [
        (["correct", "buggy"], 24, 6, 6, 24),
        (["correct", "buggy"], 48, 4, 8, 24),
        (list("ABCD"), 12, 3, 3, 12),
        (["correct", "buggy"], 40, 2, 4, 20),
    ],
)
def test_gold_is_balanced_within_every_part(
    labels: list[str], n_items: int, n_cond: int, n_ov: int, k: int, seed: int
) -> None:
    items = [f"i{j:02d}" for j in range(n_items)]
    gold = {i: labels[n % len(labels)] for n, i in enumerate(items)}
    a = plan(items, [f"c{j}" for j in range(n_cond)], [f"o{j}" for j in range(n_ov)], k, seed=seed, labels=gold)
    per = k // n_cond
    for s in _sessions(a).values():
        for part in range(n_cond):
            counts = Counter(gold[x.item_id] for x in s if x.block == part)
            assert all(counts[lab] == per // len(labels) for lab in labels), (part, counts)


@pytest.mark.parametrize("seed", range(10))
def test_one_version_of_a_problem_per_overseer_by_default(seed: int) -> None:
    # 24 problems with two versions each, 48 items: 12 overseers over 6 conditions judge 24 items each
    items = [f"p{p:02d}{v}" for p in range(24) for v in "ab"]
    problems = {i: i[:3] for i in items}
    gold = {i: ("correct" if i.endswith("a") else "buggy") for i in items}
    a = plan(
        items,
        [f"c{j}" for j in range(6)],
        [f"o{j:02d}" for j in range(12)],
        24,
        seed=seed,
        labels=gold,
        problems=problems,
    )
    for s in _sessions(a).values():
        assert len({problems[x.item_id] for x in s}) == 24
    assert {(x.item_id, x.condition) for x in a} == {(i, f"c{j}") for i in items for j in range(6)}


@pytest.mark.parametrize("seed", range(10))
def test_repeats_allowed_explicitly_land_in_different_parts(seed: int) -> None:
    items = [f"p{p:02d}{v}" for p in range(12) for v in "ab"]
    problems = {i: i[:3] for i in items}
    gold = {i: ("correct" if i.endswith("a") else "buggy") for i in items}
    a = plan(
        items,
        [f"c{j}" for j in range(6)],
        [f"o{j}" for j in range(6)],
        24,
        seed=seed,
        labels=gold,
        problems=problems,
        versions_per_problem=2,
    )
    for s in _sessions(a).values():
        for part in range(6):
            mine = [problems[x.item_id] for x in s if x.block == part]
            assert len(mine) == len(set(mine)), "two versions of one problem in one part"


def test_too_few_problems_is_a_clear_error() -> None:
    items = [f"p{p:02d}{v}" for p in range(10) for v in "abc"]
    with pytest.raises(DesignError) as e:
        plan(items, ["a", "b"], ["o1", "o2", "o3", "o4"], 24, problems={i: i[:3] for i in items}, seed=1)
    assert "only 10 problem(s)" in str(e.value) and "versions_per_problem" in str(e.value)


def test_between_subjects_sessions_hold_one_version_per_problem_and_balanced_gold() -> None:
    items = [f"p{p:02d}{v}" for p in range(20) for v in "ab"]
    problems = {i: i[:3] for i in items}
    gold = {i: ("correct" if (int(i[1:3]) + (i[-1] == "b")) % 2 else "buggy") for i in items}
    a = plan(
        items,
        ["a", "b"],
        [f"o{j}" for j in range(8)],
        10,
        design="between-subjects",
        seed=4,
        labels=gold,
        problems=problems,
    )
    for s in _sessions(a).values():
        assert len({problems[x.item_id] for x in s}) == 10
        assert Counter(gold[x.item_id] for x in s) == Counter({"correct": 5, "buggy": 5})
    assert {(x.item_id, x.condition) for x in a} == {(i, c) for i in items for c in "ab"}
