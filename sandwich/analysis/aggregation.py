"""Aggregating overseers' answers per item: majority vote and Dawid–Skene (crowd-kit).

Per condition we aggregate each item's answers and score the aggregate against
gold. Both are functions of the judgments, never of their row order:

- Majority vote: an item whose top answers tie is scored as the expected score
  of an even split among the tied answers (½ for a two-way tie with the right
  answer among them), and the number of tied items is reported.
- Dawid–Skene (Dawid & Skene 1979, crowd-kit's EM) is a latent-class model; it
  is only identified when overseers use more than one answer, items are judged
  by several overseers and overseers are linked through shared items. Where
  these preconditions fail it is reported as "not identifiable" with the reason
  and the majority vote stands in. Where it runs, an item every overseer
  answered the same way keeps that answer (an aggregate never contradicts a
  unanimous item), and the overrides it attempted are counted.

Per overseer, Dawid–Skene fitted on all non-expert judgments (pooled over
conditions) estimates how often each overseer is right without looking at gold.
A verdict (signal / weak / noise) is printed only for an overseer the data can
speak about: more than one answer used, and at least `MIN_TRIPLED` items that
two or more other overseers also judged (with a single other judge a
disagreement cannot say who was wrong); otherwise the verdict is "unknown" and
the reason is given.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene
from scipy.sparse import csgraph, csr_matrix

from sandwich.analysis.data import EXPERT, JudgmentTable

# an overseer's Dawid–Skene estimate needs this many items that at least two others judged too
MIN_TRIPLED = 10


@dataclass
class GroupAggregate:
    """Aggregated accuracy for one condition (shares of scored items, 0..1)."""

    group: str
    items: int
    multi_judged: int  # items with two or more answers (where aggregation can help)
    majority: float  # ties scored as an even split among the tied answers
    dawid_skene: float  # NaN when not identifiable (then `note` says why)
    note: str = ""
    ties: int = 0  # items whose top answers tied under majority vote
    overridden: int = 0  # unanimous items Dawid–Skene would have relabelled (kept unanimous)


@dataclass
class OverseerReliability:
    """One overseer: Dawid–Skene's estimate of how often they are right, next to their accuracy on gold."""

    overseer: str
    judgments: int
    ds_accuracy: float  # NaN when withheld
    gold_accuracy: float
    verdict: str  # signal | weak | noise | unknown
    reason: str = ""  # why the verdict is unknown


def _frame(t: JudgmentTable, mask: np.ndarray) -> pd.DataFrame:
    """crowd-kit's long format (task, worker, label), sorted so nothing depends on row order."""
    df = pd.DataFrame(
        {
            "task": np.asarray(t.items, dtype=object)[t.item[mask]],
            "worker": np.asarray(t.overseers, dtype=object)[t.overseer[mask]],
            "label": t.choice[mask].astype(str),
        }
    )
    return df.sort_values(["task", "worker", "label"], kind="stable").reset_index(drop=True)


def _gold_by_item(t: JudgmentTable) -> pd.Series:
    """The right answer per item where known (from judgments marked correct)."""
    ok = t.correct == 1.0
    right = pd.Series(t.choice[ok].astype(str), index=np.asarray(t.items, dtype=object)[t.item[ok]])
    return right.groupby(level=0).min()


def _fit_ds(df: pd.DataFrame, n_iter: int) -> DawidSkene:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DawidSkene(n_iter=n_iter).fit(df)


def majority_votes(df: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Per item, its most frequent answers (sorted; more than one when they tie)."""
    counts = df.groupby(["task", "label"]).size()
    out: dict[str, tuple[str, ...]] = {}
    for task, c in counts.groupby(level=0):
        c = c.droplevel(0)
        out[str(task)] = tuple(sorted(str(k) for k in c.index[c == c.max()]))
    return out


def _score_sets(top: dict[str, tuple[str, ...]], right: pd.Series, wrong_items: set[str]) -> float:
    """Mean over scored items of the share of an item's top answers that are right (a tie splits evenly)."""
    scores = [
        (sum(lab == right[i] for lab in labs) / len(labs)) if i in right.index else 0.0
        for i, labs in top.items()
        if i in right.index or i in wrong_items
    ]
    return float(np.mean(scores)) if scores else float("nan")


def identifiability(df: pd.DataFrame) -> str:
    """Why Dawid–Skene cannot be identified on these judgments ('' when its preconditions hold)."""
    per_item = df.groupby("task")["worker"].nunique()
    if per_item.max() < 2:
        return "one answer per item: nothing to aggregate"
    labels_per_worker = df.groupby("worker")["label"].nunique()
    if (labels_per_worker < 2).all():
        return (
            "not identifiable: each overseer used a single answer throughout, so error rates cannot be told "
            "apart from the answers' base rates"
        )
    workers = sorted(df["worker"].unique())
    tasks = sorted(df["task"].unique())
    w_idx = {w: k for k, w in enumerate(workers)}
    t_idx = {t: k for k, t in enumerate(tasks)}
    n_w = len(workers)
    edges = csr_matrix(
        (np.ones(len(df)), (df["worker"].map(w_idx), df["task"].map(t_idx).to_numpy() + n_w)),
        shape=(n_w + len(tasks),) * 2,
    )
    _, comp = csgraph.connected_components(edges, directed=False)
    if len(set(comp[:n_w])) > 1:
        return (
            f"not identifiable: the overseers fall into {len(set(comp[:n_w]))} groups that share no items, so "
            "each group's labels could be swapped without changing the fit"
        )
    if (per_item >= 3).sum() < 3:
        return "not identifiable: fewer than 3 items were judged by three or more overseers"
    return ""


def dawid_skene_labels(df: pd.DataFrame, n_iter: int = 50) -> tuple[pd.Series | None, pd.DataFrame | None, int, str]:
    """Dawid–Skene labels and class probabilities per item, guarded.

    Returns (labels, probas, overridden, reason): labels/probas are None with a reason when the model is not
    identifiable; otherwise unanimous items keep their unanimous answer (probability 1) and `overridden`
    counts those the fit had relabelled.
    """
    reason = identifiability(df)
    if reason:
        return None, None, 0, reason
    model = _fit_ds(df, n_iter)
    assert model.labels_ is not None  # set by fit()
    labels = model.labels_.astype(str).copy()
    probas = model.probas_.copy() if model.probas_ is not None else None
    answers = df.groupby("task")["label"].agg(lambda s: sorted(set(s)))
    overridden = 0
    for task, labs in answers.items():
        if len(labs) == 1 and labels.get(task) != labs[0]:
            overridden += 1
            labels[task] = labs[0]
            if probas is not None and task in probas.index:
                probas.loc[task] = 0.0
                probas.loc[task, labs[0]] = 1.0
    return labels, probas, overridden, ""


def _score(labels: pd.Series, right: pd.Series, wrong_items: set[str]) -> float:
    return _score_sets({str(i): (str(v),) for i, v in labels.items()}, right, wrong_items)


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
        top = majority_votes(df)
        ties = sum(len(v) > 1 for v in top.values())
        mv = _score_sets(top, right, wrong_items)
        labels, _, overridden, reason = dawid_skene_labels(df, n_iter)
        notes = (
            [(f"majority vote: {ties} of {len(top)} item(s) tied, each scored as an even split (½ for a two-way tie)")]
            if ties
            else []
        )
        if labels is None:
            ds_score = float("nan")
            notes.append(f"Dawid–Skene {reason}" if not reason.startswith("one answer") else reason)
        else:
            ds_score = _score(labels, right, wrong_items)
            if overridden:
                notes.append(f"Dawid–Skene relabelled {overridden} unanimous item(s); their unanimous answer is kept")
        groups.append(
            GroupAggregate(
                name, len(per_item), int((per_item >= 2).sum()), mv, ds_score, "; ".join(notes), ties, overridden
            )
        )
    return groups, overseer_reliability(t, n_iter=n_iter)


def overseer_reliability(t: JudgmentTable, *, n_iter: int = 50) -> list[OverseerReliability]:
    """Per non-expert overseer: Dawid–Skene accuracy (pooled over conditions) and a verdict, where supported."""
    non_expert = np.isin(t.group, [g for g, n in enumerate(t.groups) if n != EXPERT])
    if not non_expert.any():
        return []
    df = _frame(t, non_expert)
    reason = identifiability(df)
    est: dict[str, float] = {}
    if not reason:
        est = ds_accuracy(_fit_ds(df, n_iter))
    n_judges = df.groupby("task")["worker"].nunique()
    chance = 1.0 / max(df["label"].nunique(), 2)
    out: list[OverseerReliability] = []
    for o, name in enumerate(t.overseers):
        m = non_expert & (t.overseer == o)
        if not m.any():
            continue
        acc = float(np.nanmean(t.correct[m])) if np.isfinite(t.correct[m]).any() else float("nan")
        mine = df[df["worker"] == name]
        tripled = int((n_judges.reindex(mine["task"].unique()) >= 3).sum())
        why = reason
        if not why and mine["label"].nunique() < 2:
            why = "used a single answer throughout"
        elif not why and tripled < MIN_TRIPLED:
            why = f"only {tripled} of their items were also judged by two or more others (needs {MIN_TRIPLED})"
        r = est.get(name, float("nan"))
        if not why and not np.isfinite(r):
            why = "Dawid–Skene gave no estimate"
        if why:
            out.append(OverseerReliability(name, int(m.sum()), float("nan"), acc, "unknown", why))
            continue
        verdict = "noise" if r <= chance + 0.05 else ("weak" if r < chance + 0.15 else "signal")
        out.append(OverseerReliability(name, int(m.sum()), r, acc, verdict))
    return out


def ds_accuracy(model: DawidSkene) -> dict[str, float]:
    """Per worker: sum over true classes of prior * P(answer = class | truth = class)."""
    err = model.errors_
    priors = model.priors_
    assert err is not None and priors is not None  # set by fit()
    out: dict[str, float] = {}
    for worker, block in err.groupby(level=0):
        block = block.droplevel(0)
        out[str(worker)] = float(
            sum(priors.get(k, 0.0) * block.loc[k, k] for k in priors.index if k in block.index and k in block.columns)
        )
    return out
