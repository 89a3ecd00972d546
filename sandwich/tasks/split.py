"""Deterministic train/test splits."""

from __future__ import annotations

import random
from collections.abc import Sequence


def split_groups(groups: Sequence[str], train: float, seed: int) -> dict[str, str]:
    """Assign each group id to 'train' or 'test'; at least one of each when there are two or more."""
    ordered = sorted(set(groups))
    rng = random.Random(seed)
    rng.shuffle(ordered)
    n_train = round(len(ordered) * train)
    if len(ordered) >= 2:
        n_train = min(max(n_train, 1), len(ordered) - 1)
    return {g: ("train" if i < n_train else "test") for i, g in enumerate(ordered)}
