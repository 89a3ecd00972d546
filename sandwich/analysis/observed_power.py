"""Power for an observed design: simulated studies that keep the data's unbalanced incidence.

An observed study has no dealt plan to re-deal at other sizes. Instead each simulated overseer
copies one real overseer's mix of conditions (real overseers taken in a seeded shuffled cycle)
and judges `items_per_overseer` items, each under a condition drawn from that mix; items come
from a pool sized so an item is judged as often, on average, as in the data. Nothing assumes an
overseer met every condition: an overseer who only ever judged debates is simulated the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sandwich.analysis.power import Design
from sandwich.config import Study
from sandwich.errors import SandwichError


def build_observed_design(
    study: Study, incidence: Sequence[tuple[str, str, str]], n_overseers: int, items_per_overseer: int, seed: int = 0
) -> Design:
    """A Design of `n_overseers` × `items_per_overseer` judgments following the observed incidence.

    incidence: (overseer, item, condition) per observed non-expert judgment. Raises SandwichError when empty.
    """
    conds = [c.name for c in study.conditions]
    rows = [(o, i, c) for o, i, c in incidence if c in conds]
    if not rows:
        raise SandwichError(
            "The observed study has no judgments in its conditions: no incidence to simulate.",
            hint="Import the data first (`sandwich import …`) and pass the database with --db.",
        )
    rng = np.random.default_rng(seed)
    by_overseer: dict[str, list[int]] = {}
    for o, _, c in rows:
        by_overseer.setdefault(o, []).append(conds.index(c))
    templates = sorted(by_overseer)
    rng.shuffle(templates)
    per_item = len(rows) / len({i for _, i, _ in rows})
    total = n_overseers * items_per_overseer
    pool = max(items_per_overseer, round(total / per_item))
    overseer, item, group = [], [], []
    for s in range(n_overseers):
        mix = np.array(by_overseer[templates[s % len(templates)]])
        chosen = rng.choice(pool, size=items_per_overseer, replace=False)
        overseer += [s] * items_per_overseer
        item += chosen.tolist()
        group += rng.choice(mix, size=items_per_overseer, replace=True).tolist()
    names = [f"o{n:03d}" for n in range(n_overseers)]
    return Design(
        names,
        [f"i{n:04d}" for n in range(pool)],
        conds,
        np.array(overseer),
        np.array(item),
        np.array(group),
        np.zeros(total, dtype=bool),
        np.zeros(n_overseers, dtype=np.int64),
    )
