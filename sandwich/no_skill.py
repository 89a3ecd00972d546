"""No-skill strategies: ways to answer a session without judging the items.

Each strategy is one function ``(session, others, values) -> {variant: guesses}``:
``session`` is one overseer's items in session order, ``others`` every other
overseer's session (what overseers could pool between them), ``values`` the
answer values; it returns one list of guesses (aligned with ``session``) per
variant it tries. `check-design` scores every variant against gold and warns
when one beats chance by more than noise. A new strategy is one function added
to :data:`STRATEGIES`.
"""

from __future__ import annotations

import difflib
import itertools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["STRATEGIES", "SessionItem", "Strategy"]


@dataclass(frozen=True)
class SessionItem:
    """What one overseer meets at one place of their session, with its gold (lead side only)."""

    overseer: str
    position: int
    part: int  # the session's condition block, 0-based
    condition: str
    item_id: str
    problem_id: str
    title: str
    body: str
    gold: str
    values: tuple[str, ...]  # the answer values the overseer chooses from
    shown: str = ""  # pairwise: the order the pair is shown in ('AB': response A on the left)


Session = Sequence[SessionItem]
Strategy = Callable[[Session, Mapping[str, Session], Sequence[str]], dict[str, list[str]]]


def _pairs(values: Sequence[str]) -> list[tuple[str, str]]:
    return list(itertools.permutations(values, 2))


def always_one_answer(session: Session, others: Mapping[str, Session], values: Sequence[str]) -> dict[str, list[str]]:
    """Give the same answer to every item (pays when gold is unbalanced)."""
    return {f"always {v}": [v] * len(session) for v in values}


def session_halves(session: Session, others: Mapping[str, Session], values: Sequence[str]) -> dict[str, list[str]]:
    """One answer in the first half of the session, another in the second (pays when parts are unbalanced)."""
    n = len(session)
    return {f"first half {a}, then {b}": [a if k < n / 2 else b for k in range(n)] for a, b in _pairs(values)}


def order_in_part(session: Session, others: Mapping[str, Session], values: Sequence[str]) -> dict[str, list[str]]:
    """Answer from the place inside each part: alternating, or first half of the part one way, the rest another."""
    out: dict[str, list[str]] = {}
    part_start = {it.part: min(x.position for x in session if x.part == it.part) for it in session}
    part_size = Counter(it.part for it in session)
    for a, b in _pairs(values):
        out[f"alternate {a}/{b}"] = [a if (it.position - part_start[it.part]) % 2 == 0 else b for it in session]
        out[f"each part: first half {a}, then {b}"] = [
            a if it.position - part_start[it.part] < part_size[it.part] / 2 else b for it in session
        ]
    return out


def _majority(values: Sequence[str], counts: Counter[str] | None) -> str:
    counts = counts or Counter()
    return max(values, key=lambda v: (counts[v], -values.index(v)))


def key_per_part(session: Session, others: Mapping[str, Session], values: Sequence[str]) -> dict[str, list[str]]:
    """In each part, copy the answer that was right most often in the same part of the other overseers' sessions."""
    by_part: dict[int, Counter[str]] = {}
    for items in others.values():
        for it in items:
            by_part.setdefault(it.part, Counter())[it.gold] += 1
    return {"key per part": [_majority(values, by_part.get(it.part)) for it in session]} if others else {}


def key_per_position(session: Session, others: Mapping[str, Session], values: Sequence[str]) -> dict[str, list[str]]:
    """At each position, copy the answer that was right most often there in the other overseers' sessions."""
    by_slot: dict[int, Counter[str]] = {}
    for items in others.values():
        for it in items:
            by_slot.setdefault(it.position, Counter())[it.gold] += 1
    return {"key per position": [_majority(values, by_slot.get(it.position)) for it in session]} if others else {}


# How check-design tells noise from a leak, per strategy (default: "chance", an exact binomial test
# against answering at random). "order": the strategy exploits the order inside parts, which the plan
# randomises, so its noise is that of reshuffling every part (a part holds, e.g., exactly 2 of 4
# correct, so its hits vary more than a binomial's). `uses_others_gold`: hits are correlated across
# overseers, so the chance null is simulated rather than binomial.
order_in_part.null = "order"  # type: ignore[attr-defined]  # a marker read by check-design
key_per_position.null = "order"  # type: ignore[attr-defined]  # a marker read by check-design
key_per_part.uses_others_gold = True  # type: ignore[attr-defined]  # a marker read by check-design


def _changed(a: str, b: str) -> int:
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def comparing_versions(session: Session, others: Mapping[str, Session], values: Sequence[str]) -> dict[str, list[str]]:
    """Among an overseer's items of one problem, call one version out (code review: correct vs buggy).

    Variants: the longest is buggy, the shortest is buggy, the one closest to its siblings (fewest
    changed characters) is correct and the rest buggy. An item with no sibling gets the first value.
    """
    if set(values) != {"correct", "buggy"}:
        return {}
    groups: dict[str, list[SessionItem]] = {}
    for it in session:
        groups.setdefault(it.problem_id, []).append(it)
    out: dict[str, list[str]] = {}
    rules: dict[str, Callable[[list[SessionItem]], SessionItem]] = {
        "longer version is buggy": lambda g: max(g, key=lambda c: len(c.body)),
        "shorter version is buggy": lambda g: min(g, key=lambda c: len(c.body)),
        "version closest to its siblings is correct": lambda g: min(
            g, key=lambda c: sum(_changed(c.body, o.body) for o in g if o is not c)
        ),
    }
    for name, pick in rules.items():
        guesses = []
        for it in session:
            group = groups[it.problem_id]
            if len(group) == 1:
                guesses.append(values[0])
                continue
            chosen = pick(group)
            odd = "correct" if name.endswith("is correct") else "buggy"
            other = "buggy" if odd == "correct" else "correct"
            guesses.append(odd if it is chosen else other)
        out[name] = guesses
    return out


def pair_surface(session: Session, others: Mapping[str, Session], values: Sequence[str]) -> dict[str, list[str]]:
    """Pairwise items: pick by position (always the response shown on the left, or on the right) or by
    length (the longer, or the shorter, response is better), never reading the responses' merits."""
    import json

    if not session or not all(it.shown for it in session):
        return {}

    def lengths(it: SessionItem) -> tuple[int, int]:
        try:
            d = json.loads(it.body)
            return len(str(d["response_a"])), len(str(d["response_b"]))
        except (ValueError, KeyError, TypeError):
            return 0, 0

    sizes = [lengths(it) for it in session]
    return {
        "always the left response": [it.shown[0] for it in session],
        "always the right response": [it.shown[1] for it in session],
        # equal lengths tell nothing: such an overseer falls back to the left response
        "the longer response is better": [
            ("A" if a > b else "B") if a != b else it.shown[0] for (a, b), it in zip(sizes, session, strict=True)
        ],
        "the shorter response is better": [
            ("A" if a < b else "B") if a != b else it.shown[0] for (a, b), it in zip(sizes, session, strict=True)
        ],
    }


# Families in report order.
STRATEGIES: dict[str, Strategy] = {
    "one answer": always_one_answer,
    "halves": session_halves,
    "order in part": order_in_part,
    "key/part": key_per_part,
    "key/position": key_per_position,
    "versions": comparing_versions,
    "pair surface": pair_surface,
}
