"""Aggregates that depend on nothing but the judgments (c13) and never contradict unanimous items (c14)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from case_support import create_case, csv_gold, judge_all, other
from db_sql import sql

from sandwich.analysis import analyze_study
from sandwich.analysis.aggregation import aggregate
from sandwich.analysis.data import judgment_table, load_study_data


@pytest.mark.parametrize("order", [("ana", "ben"), ("ben", "ana")])
def test_majority_vote_splits_ties_whatever_the_row_order(tmp_path: Path, order: tuple[str, str]) -> None:
    _, db = create_case("c13-majority-vote-tie-order", tmp_path)
    gold = csv_gold(tmp_path)
    for name in order:  # ana right everywhere; ben right on t4 only, so t1-t3 tie one vote each
        judge_all(
            db,
            name,
            lambda v, k, n=name: (
                gold[v.item.item_id] if n == "ana" or v.item.item_id == "mc-t4" else other(gold[v.item.item_id])
            ),
        )
    t = judgment_table(load_study_data(db))
    n = len(t.overseer)
    ben_first = np.argsort(np.asarray(t.overseers)[t.overseer] != "ben", kind="stable")
    for rows in (np.arange(n), np.arange(n)[::-1], ben_first):
        (g,), _ = aggregate(t.subset(rows))
        assert g.majority == pytest.approx(0.625)  # t1-t3: ½ each, t4: 1
        assert g.ties == 3
    res = analyze_study(db, replicates=60)
    (agg,) = res.aggregates
    assert agg.majority == pytest.approx(0.625)
    assert "3 of 4 item(s) tied" in agg.note


def test_dawid_skene_never_overrides_unanimous_items_nor_judges_one_letter_overseers(tmp_path: Path) -> None:
    _, db = create_case("c14-dawid-skene-overrides-unanimous", tmp_path)
    for name in ("ana", "chi", "dev", "fay"):
        judge_all(db, name, lambda v, k: "A", flag_missing_help=False)
    for name in ("ben", "eli"):
        judge_all(db, name, lambda v, k: "B", flag_missing_help=False)
    res = analyze_study(db, replicates=60)
    by = {a.group: a for a in res.aggregates}
    # majority vote per condition, worked out here from what is stored (ties score ½)
    votes: dict[tuple[str, str], list[str]] = {}
    for r in sql(db, "SELECT condition, item_id, choice FROM judgments"):
        votes.setdefault((r["condition"], r["item_id"]), []).append(r["choice"])
    gold = {r["item_id"]: r["label"] for r in sql(db, "SELECT item_id, label FROM gold")}
    expected: dict[str, list[float]] = {}
    for (cond, item), cs in votes.items():
        top = max(cs.count(c) for c in set(cs))
        winners = {c for c in set(cs) if cs.count(c) == top}
        expected.setdefault(cond, []).append((gold[item] in winners) / len(winners))
    assert {g: round(a.majority, 3) for g, a in by.items()} == {
        c: round(sum(v) / len(v), 3) for c, v in expected.items()
    }
    for a in by.values():  # no identifiable model: no Dawid-Skene figure, and the reason is given
        assert np.isnan(a.dawid_skene) and "not identifiable" in a.note and "single answer" in a.note
    assert len(res.reliability) == 6
    for r in res.reliability:
        assert r.verdict == "unknown" and np.isnan(r.ds_accuracy) and r.reason
        assert r.gold_accuracy == pytest.approx(0.5)


def test_training_labels_get_the_same_dawid_skene_guard(tmp_path: Path) -> None:
    from sandwich.classifiers.data import labels_for, load_examples
    from sandwich.service import StudyService

    _, db = create_case("c14-dawid-skene-overrides-unanimous", tmp_path)
    for name in ("ana", "chi", "dev", "fay"):
        judge_all(db, name, lambda v, k: "A", flag_missing_help=False)
    for name in ("ben", "eli"):
        judge_all(db, name, lambda v, k: "B", flag_missing_help=False)
    with StudyService(db, read_only=True) as svc:
        ex = load_examples(svc)
        for cond in ("unassisted", "explain", "critique"):
            lab = labels_for(svc, f"dawid-skene:{cond}", ex)
            assert any("not identifiable" in n for n in lab.notes)
            chosen = {e.item_id: e.choice for e in ex if e.example_id in lab.hard and lab.hard[e.example_id] == 0}
            assert chosen and set(chosen.values()) <= {"A", "B"}
            majority = labels_for(svc, f"majority:{cond}", ex)
            assert lab.hard == majority.hard  # the unanimous answer, not its opposite


def test_sparse_designs_get_no_per_overseer_verdict() -> None:
    """Every overseer 70% right, but each item judged by two overseers only: a disagreement cannot say who
    erred, so Dawid–Skene's per-overseer figures are withheld rather than calling some of them noise."""
    from sandwich.analysis.data import JudgmentTable

    rng = np.random.default_rng(2)
    n_o, n_i = 8, 40
    o = np.concatenate([[k % n_o, (k + 1 + k // n_o) % n_o] for k in range(n_i)])  # pairs, overlapping chains
    i = np.repeat(np.arange(n_i), 2)
    truth = rng.integers(0, 2, n_i)
    right = rng.random(len(o)) < 0.7
    answer = np.where(right, truth[i], 1 - truth[i])
    n = len(o)
    t = JudgmentTable(
        [f"o{x}" for x in range(n_o)],
        [f"i{x:02d}" for x in range(n_i)],
        ["unassisted"],
        o,
        i,
        np.zeros(n, dtype=np.int64),
        (answer == truth[i]).astype(float),
        np.full(n, np.nan),
        np.full(n, np.nan),
        np.zeros(n_o, dtype=np.int64),
        answer.astype(str).astype(object),
    )
    _, reliability = aggregate(t)
    assert len(reliability) == n_o
    for r in reliability:
        assert r.verdict == "unknown" and np.isnan(r.ds_accuracy)
        assert "judged by two or more others" in r.reason or "not identifiable" in r.reason
