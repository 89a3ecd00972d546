"""Agreement between overseers: Krippendorff's alpha (nominal) on the answers they gave.

Computed from per-item answer counts (`value_counts`), so sparse designs — each
overseer sees a few items — cost nothing extra. Alpha needs at least one item
judged by two overseers; otherwise it is reported as not available, with why.
"""

from __future__ import annotations

from dataclasses import dataclass

import krippendorff
import numpy as np

from sandwich.analysis.data import JudgmentTable


@dataclass
class Agreement:
    """Krippendorff's alpha for one group of judgments."""

    group: str
    alpha: float | None
    items_shared: int  # items with two or more judgments (the only ones alpha can use)
    note: str = ""


def krippendorff_alpha(t: JudgmentTable, mask: np.ndarray, group: str) -> Agreement:
    """Nominal alpha over the judgments in `mask`."""
    items, labels = t.item[mask], t.choice[mask]
    if not len(items):
        return Agreement(group, None, 0, "no judgments")
    values, lab = np.unique(labels.astype(str), return_inverse=True)
    counts = np.zeros((len(t.items), len(values)))
    np.add.at(counts, (items, lab), 1)
    shared = counts.sum(axis=1) >= 2
    if shared.sum() < 1:
        return Agreement(group, None, 0, "no item was judged by two overseers here")
    counts = counts[shared]
    if len(values) < 2:
        return Agreement(group, None, int(shared.sum()), "everyone gave the same answer (alpha undefined)")
    try:
        alpha = float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError) as e:
        return Agreement(group, None, int(shared.sum()), f"not computable ({e})")
    return Agreement(group, alpha, int(shared.sum()))


def agreement_by_group(t: JudgmentTable) -> list[Agreement]:
    """Alpha per group, plus all non-expert judgments pooled across conditions."""
    out = [krippendorff_alpha(t, t.group == g, name) for g, name in enumerate(t.groups)]
    non_expert = np.isin(t.group, [g for g, n in enumerate(t.groups) if n != "expert"])
    out.append(krippendorff_alpha(t, non_expert, "all non-experts (pooled conditions)"))
    return out
