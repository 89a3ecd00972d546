"""Every figure is a function of the judgments, not of the order their rows arrive in (c13's kind)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sandwich.analysis.aggregation import aggregate
from sandwich.analysis.agreement import agreement_by_group
from sandwich.analysis.bootstrap import bootstrap_sums, cell_sums
from sandwich.analysis.data import JudgmentTable
from sandwich.analysis.hypotheses import test_hypothesis as run_hypothesis
from sandwich.analysis.metrics import summarize
from sandwich.config import Hypothesis


def _study(rng: np.random.Generator) -> JudgmentTable:
    """6 overseers judge 12 items (3 answers) under both conditions: ties, disagreements, identifiable DS."""
    o = np.tile(np.repeat(np.arange(6), 12), 2)
    i = np.tile(np.arange(12), 12)
    g = np.repeat([0, 1], 72)
    truth = rng.integers(0, 3, 12)
    answer = np.where(rng.random(len(o)) < 0.55 + 0.2 * g, truth[i], rng.integers(0, 3, len(o)))
    conf = rng.choice([0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], len(o))
    return JudgmentTable(
        [f"o{k}" for k in range(6)],
        [f"i{k:02d}" for k in range(12)],
        ["unassisted", "explain"],
        o,
        i,
        g,
        (answer == truth[i]).astype(float),
        conf,
        rng.uniform(10, 60, len(o)),
        np.zeros(6, dtype=np.int64),
        np.array(list("ABC"), dtype=object)[answer],
    )


def _nan_free(x: object) -> object:
    """NaN compares unequal to itself: make it None so figures can be compared."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, tuple):
        return tuple(_nan_free(v) for v in x)
    return x


def _figures(t: JudgmentTable) -> list[object]:
    draws, _, _ = bootstrap_sums(cell_sums(t), 200, 3)
    groups = summarize(t, draws, seed=3)
    aggs, rel = aggregate(t)
    h = Hypothesis(id="H1", compare=["explain", "unassisted"], metric="accuracy", alternative="greater", alpha=0.05)
    hyp = run_hypothesis(h, "confirmatory", t, draws, "unassisted", 200, permutations=200, seed=3)
    return [
        _nan_free(x)
        for x in [
            (
                g.group,
                round(g.accuracy.est, 9),
                round(g.accuracy.lo, 9),
                round(g.brier.est, 9),
                round(g.ece, 9),
                tuple(round(x, 9) for x in g.ece_ci),
            )
            for g in groups
        ]
        + [(a.group, a.majority, a.dawid_skene, a.ties, a.note) for a in aggs]
        + [(r.overseer, r.verdict, r.reason, round(r.ds_accuracy, 6)) for r in rel]
        + [(a.group, a.alpha) for a in agreement_by_group(t)]
        + [(round(hyp.estimate, 9), round(hyp.lo, 9), hyp.p, hyp.verdict)]
    ]  # 9 places, like the rest


@pytest.mark.parametrize("seed", [0, 1])
def test_shuffled_rows_give_identical_figures(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = _study(rng)
    base = _figures(t)
    for _ in range(3):
        assert _figures(t.subset(rng.permutation(len(t)))) == base
