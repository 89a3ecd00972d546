"""Classifier metrics on hand-computed cases, and train/compare end to end on a small multiple-choice study."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from classifier_support import plant_judgments
from typer.testing import CliRunner

from sandwich.classifiers import compare_study
from sandwich.classifiers import evaluate as ev
from sandwich.classifiers.data import held_out, labels_for, load_examples
from sandwich.service import StudyService


def test_headline_metrics_on_a_hand_computed_case() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    assert ev.auroc(y, p) == pytest.approx(0.75)  # 3 of 4 (bad, good) pairs ordered right
    assert ev.accuracy(y, p) == pytest.approx(0.75)
    # confidences 0.9, 0.6, 0.65, 0.8 → bins [0.6,0.65): {0.6 right}, [0.65,0.7): {0.65 wrong}, [0.8,0.85): right,
    # [0.9,0.95): right → (|0.6−1| + |0.65−0| + |0.8−1| + |0.9−1|) / 4
    assert ev.ece(y, p) == pytest.approx((0.4 + 0.65 + 0.2 + 0.1) / 4)
    assert ev.pgr(0.7, 0.6, 0.8) == pytest.approx(0.5)
    assert ev.pgr(0.10, 0.30, 0.10) == pytest.approx(1.0)  # lower-is-better metrics work the same way
    assert math.isnan(ev.pgr(0.7, 0.6, 0.6))  # no gap, no ratio


def test_high_stakes_view_on_a_hand_computed_case() -> None:
    y = np.array([1, 1, 1, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    c = ev.coverage_at_precision(y, p, 0.99)
    assert (c["coverage"], c["flagged"], c["precision"]) == (0.5, 3, 1.0)
    assert c["precision_lower95"] == pytest.approx(0.05 ** (1 / 3))  # zero errors in 3: CP bound = α^(1/n)
    assert not c["certifiable"] and c["needed_flagged"] == 299
    assert ev.fnr_at_coverage(y, p, 0.5) == pytest.approx(0.25)  # 3 of 4 bad flagged
    assert ev.clopper_pearson_lower(299, 299) > 0.99 > ev.clopper_pearson_lower(298, 298)
    note = ev.resolution_note(59)
    assert note and "1/59" in note and "2,995" in note
    cov, risk = ev.risk_coverage(y, p)
    assert cov[-1] == 1.0 and risk[-1] == pytest.approx(1 / 6)  # only the 0.6 example is misjudged


@pytest.fixture
def judged_mc(mc_study: Path) -> Path:
    plant_judgments(mc_study, {"unassisted": 0.5, "consult": 0.8, "debate": 0.9})
    return mc_study


def _write_run(root: Path, source: str, seed: int, scores: dict[str, float], y: dict[str, int]) -> None:
    run = root / source / f"minilm-seed{seed}"
    run.mkdir(parents=True)
    (run / "scores.json").write_text(json.dumps(scores))
    acc = float(np.mean([(scores[k] >= 0.5) == y[k] for k in scores]))
    (run / "metrics.json").write_text(
        json.dumps(
            {
                "source": source,
                "backbone": "minilm",
                "seed": seed,
                "status": "trained",
                "n_train": 24,
                "metrics": {"accuracy": acc},
            }
        )
    )


def test_pgr_on_a_constructed_comparison(judged_mc: Path, tmp_path: Path) -> None:
    """Hand-set scores: expert 100% right, unassisted 50%, consult 75% (seed 0) and 62.5% (seed 1)."""
    with StudyService(judged_mc, read_only=True) as svc:
        test = held_out(load_examples(svc))
    assert len(test) == 24  # 6 held-out questions × 4 choices
    y = {e.example_id: e.bad for e in test}

    def scored(n_wrong: int) -> dict[str, float]:  # 0.9/0.1 on the right side, the first n flipped
        return {
            e.example_id: (0.9 if e.bad else 0.1) if k >= n_wrong else (0.1 if e.bad else 0.9)
            for k, e in enumerate(test)
        }

    root = tmp_path / "runs"
    for seed in (0, 1):
        _write_run(root, "expert", seed, scored(0), y)
        _write_run(root, "unassisted", seed, scored(12), y)
    _write_run(root, "consult", 0, scored(6), y)
    _write_run(root, "consult", 1, scored(9), y)
    res = compare_study(judged_mc, tmp_path / "out", runs_dir=root, n_boot=200)
    consult = next(s for s in res.summaries if s.source == "consult")
    assert consult.metrics["accuracy"]["mean"] == pytest.approx((0.75 + 0.625) / 2)
    pgr = consult.pgr["accuracy"]
    assert pgr["mean"] == pytest.approx(0.375)  # ((0.75 + 0.625)/2 − 0.5) / (1 − 0.5)
    # per-seed PGRs 0.5 and 0.25: mean ± t(0.975, 1) · sd/√2 = 0.375 ± 12.706 · 0.125
    assert pgr["seed_lo"] == pytest.approx(0.375 - 12.7062 * 0.125, abs=1e-3)
    assert pgr["seed_hi"] == pytest.approx(0.375 + 12.7062 * 0.125, abs=1e-3)
    assert pgr["boot_lo"] <= 0.375 <= pgr["boot_hi"]
    # ECE with every confidence at 0.9 is |0.9 − accuracy|: consult seed 0 → 0.15, floor 0.4, ceiling 0.1
    assert consult.metrics["ece"]["mean"] == pytest.approx((0.15 + 0.275) / 2)
    expert = next(s for s in res.summaries if s.source == "expert")
    assert expert.best_of_n["pass_rate"] == 1.0 and expert.best_of_n["random"] == pytest.approx(0.25)
    assert (tmp_path / "out" / "classifiers.png").exists() and (tmp_path / "out" / "risk_coverage.png").exists()


def test_multiple_choice_labels_become_one_example_per_choice(judged_mc: Path) -> None:
    with StudyService(judged_mc, read_only=True) as svc:
        ex = load_examples(svc)
        lab = labels_for(svc, "consult", ex)
        lab_ds = labels_for(svc, "dawid-skene:consult", ex)
    by_item: dict[str, list[int]] = {}
    for k, v in lab.hard.items():
        by_item.setdefault(k.split("#")[0], []).append(v)
    assert by_item and all(sorted(v) == [0, 1, 1, 1] for v in by_item.values())  # one answer judged right
    assert set(lab_ds.hard) <= {e.example_id for e in ex if e.split == "train"}


def test_cli_train_then_compare(judged_mc: Path, tmp_path: Path) -> None:
    from sandwich.cli import app

    runner = CliRunner()
    runs = tmp_path / "runs"
    res = runner.invoke(
        app,
        [
            "train",
            str(judged_mc),
            "--runs",
            str(runs),
            "--seeds",
            "0,1",
            "--sources",
            "expert,unassisted",
            "--sources",
            "majority:debate",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "majority:debate" in res.output and (runs / "majority_debate" / "minilm-seed1" / "head.pt").exists()
    again = runner.invoke(
        app,
        [
            "train",
            str(judged_mc),
            "--runs",
            str(runs),
            "--seeds",
            "0,1",
            "--sources",
            "expert,unassisted,majority:debate",
        ],
    )
    assert again.output.count("cached") == 6
    out = tmp_path / "report"
    res = runner.invoke(
        app,
        ["compare", str(judged_mc), "--runs", str(runs), "--out", str(out), "--replicates", "100"],
        terminal_width=200,
    )
    assert res.exit_code == 0, res.output
    assert "PGR" in res.output and "High stakes" in res.output and (out / "classifiers.json").exists()
    bad = runner.invoke(app, ["train", str(judged_mc), "--sources", "nobody"])
    assert isinstance(bad.exception, Exception) and "Unknown label source" in str(bad.exception)
