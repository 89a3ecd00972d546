"""Aggregating overseers' answers per item: majority vote and Dawid–Skene (crowd-kit).

Per condition we aggregate each item's answers and score the aggregate against
gold. Per overseer, Dawid–Skene fitted on all non-expert judgments (pooled over
conditions, so every overseer meets many items judged by others) estimates how
often each overseer is right without looking at gold: that separates overseers
whose judgments carry signal from those who add noise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene, MajorityVote

from sandwich.analysis.data import EXPERT, JudgmentTable


@dataclass
class GroupAggregate:
    """Aggregated accuracy for one condition."""

    group: str
    items: int
    multi_judged: int            # items with two or more answers (where aggregation can help)
    majority: float
    dawid_skene: float
    note: str = ""


@dataclass
class OverseerReliability:
    """One overseer: Dawid–Skene's estimate of how often they are right, next to their accuracy on gold."""

    overseer: str
    judgments: int
    ds_accuracy: float
    gold_accuracy: float
    verdict: str                 # signal | weak | noise


def _frame(t: JudgmentTable, mask: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"task": np.asarray(t.items, dtype=object)[t.item[mask]],
                         "worker": np.asarray(t.overseers, dtype=object)[t.overseer[mask]],
                         "label": t.choice[mask].astype(str)})


def _gold_by_item(t: JudgmentTable) -> pd.Series:
    """The right answer per item where known (from judgments marked correct)."""
    ok = t.correct == 1.0
    return pd.Series(t.choice[ok].astype(str), index=np.asarray(t.items, dtype=object)[t.item[ok]]).groupby(level=0).first()


def _fit_ds(df: pd.DataFrame, n_iter: int) -> DawidSkene:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DawidSkene(n_iter=n_iter).fit(df)


def _score(labels: pd.Series, right: pd.Series, wrong_items: set[str]) -> float:
    """Share of aggregated items whose label matches gold (items known to have no right answer given count wrong)."""
    known = [i for i in labels.index if i in right.index or i in wrong_items]
    if not known:
        return float("nan")
    return float(np.mean([i in right.index and labels[i] == right[i] for i in known]))


def aggregate(t: JudgmentTable, *, n_iter: int = 50) -> tuple[list[GroupAggregate], list[OverseerReliability]]:
    """Majority vote and Dawid–Skene per group, and per-overseer reliability."""
    right = _gold_by_item(t)
    graded = np.isfinite(t.correct)
    wrong_items = set(np.asarray(t.items, dtype=object)[t.item[graded]]) - set(right.index)
    groups: list[GroupAggregate] = []
    for g, name in enumerate(t.groups):
        mask = t.group == g
        if not mask.any():
            continue
        df = _frame(t, mask)
        per_item = df.groupby("task").size()
        mv = MajorityVote().fit_predict(df)
        multi = int((per_item >= 2).sum())
        if multi:
            ds_score, note = _score(_fit_ds(df, n_iter).labels_, right, wrong_items), ""
        else:  # Dawid–Skene has nothing to weigh when each item has a single answer
            ds_score, note = float("nan"), "one answer per item: nothing to aggregate"
        groups.append(GroupAggregate(name, len(per_item), multi, _score(mv, right, wrong_items), ds_score, note))
    reliab: list[OverseerReliability] = []
    non_expert = np.isin(t.group, [g for g, n in enumerate(t.groups) if n != EXPERT])
    if non_expert.any():
        df = _frame(t, non_expert)
        model = _fit_ds(df, n_iter)
        est = ds_accuracy(model)
        n_choices = max(df["label"].nunique(), 2)
        chance = 1.0 / n_choices
        for o, name in enumerate(t.overseers):
            m = non_expert & (t.overseer == o)
            if not m.any():
                continue
            acc = float(np.nanmean(t.correct[m])) if np.isfinite(t.correct[m]).any() else float("nan")
            r = est.get(name, float("nan"))
            if not np.isfinite(r):  # Dawid–Skene gave no estimate for this overseer
                verdict = "unknown"
            else:
                verdict = "noise" if r <= chance + 0.05 else ("weak" if r < chance + 0.15 else "signal")
            reliab.append(OverseerReliability(name, int(m.sum()), r, acc, verdict))
    return groups, reliab


def ds_accuracy(model: DawidSkene) -> dict[str, float]:
    """Per worker: sum over true classes of prior * P(answer = class | truth = class)."""
    err = model.errors_
    priors = model.priors_
    out: dict[str, float] = {}
    for worker, block in err.groupby(level=0):
        block = block.droplevel(0)
        out[str(worker)] = float(sum(priors.get(k, 0.0) * block.loc[k, k]
                                     for k in priors.index if k in block.index and k in block.columns))
    return out
