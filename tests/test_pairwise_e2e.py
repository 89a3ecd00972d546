"""The shipped pairwise study from YAML to `compare` and `export --format trl`, as a user runs it, with the figures
a user would read recomputed here from the database, the run folders and the exported files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sandwich.service import StudyService

REPO = Path(__file__).resolve().parents[1]
STUDY = "studies/humaneval-pairs.yaml"


def sandwich(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandwich", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_the_shipped_pairwise_study_goes_from_yaml_to_compare_and_trl(tmp_path: Path) -> None:
    db, runs, out, trl = tmp_path / "p.duckdb", tmp_path / "runs", tmp_path / "report", tmp_path / "trl"
    for args in (
        ("create", STUDY, "--db", str(db)),
        ("simulate", STUDY, "--db", str(db)),
        ("train", STUDY, "--db", str(db), "--runs", str(runs)),
        ("compare", STUDY, "--db", str(db), "--runs", str(runs), "--out", str(out)),
        ("export", STUDY, "--db", str(db), "--format", "trl", "--to", str(trl)),
    ):
        r = sandwich(*args)
        assert r.returncode == 0, (args, r.stdout[-3000:], r.stderr[-3000:])

    # what the study holds, read here from the store: pairs, gold with each response's tests passed, judgments
    with StudyService(db, read_only=True) as svc:
        items = {i.item_id: i for i in svc.store.items(role="study")}
        gold = {g.item_id: g for g in svc.store.gold()}
        non_experts = {o.name for o in svc.overseers() if o.role == "non_expert"}
        judgments = [j for j in svc.store.judgments() if j.overseer in non_experts]
        conditions = [c.name for c in svc.study.conditions]
    test_problems = {i.problem_id for i in items.values() if i.split == "test"}
    train = {k for k, i in items.items() if i.split == "train" and i.problem_id not in test_problems}
    test = sorted(k for k, i in items.items() if i.split == "test" and gold[k].label in ("A", "B"))
    assert len(test) >= 20 and train

    # the TRL export: one row per usable judgment of each condition on a train pair, one per train pair for
    # expert and for each Bradley–Terry aggregate, and every held-out gold pair
    files = {p.name: pl.read_parquet(p) for p in trl.glob("*.parquet")}
    usable = [
        j
        for j in judgments
        if j.item_id in train and not j.skipped and j.choice in ("A", "B", "tie") and not j.assistance_failed
    ]
    assert files["expert.parquet"].height == len(train)
    assert files["test-gold.parquet"].height == len(test)
    for c in conditions:
        mine = [j for j in usable if j.condition == c]
        assert mine and files[f"{c}.parquet"].height == len(mine)
        assert files[f"bradley-terry_{c}.parquet"].height == len({j.item_id for j in mine})
    for f in files.values():
        assert {"prompt", "chosen", "rejected", "strength", "source"} <= set(f.columns)
        assert (f["chosen"] != f["rejected"]).all()
    from datasets import load_dataset  # the TRL files load as `datasets` preference sets

    ds = load_dataset("parquet", data_files=str(trl / "expert.parquet"), split="train")
    assert ds.num_rows == len(train) and {"prompt", "chosen", "rejected"} <= set(ds.column_names)

    report = json.loads((out / "reward_models.json").read_text())
    by = {s["source"]: s for s in report["summaries"]}
    assert set(by) == {"expert", *conditions, *(f"bradley-terry:{c}" for c in conditions)}  # the study's train_on
    assert report["n_test"] == len(test)
    assert by["expert"]["role"] == "ceiling" and by[conditions[0]]["role"] == "floor"
    for s in by.values():  # every accuracy interval stays inside [0, 1] and holds its point estimate
        a = s["accuracy"]
        assert 0 <= a["seed_lo"] <= a["mean"] <= a["seed_hi"] <= 1, (s["source"], a)
        assert 0 <= a["boot_lo"] <= a["boot_hi"] <= 1, (s["source"], a)

    # preference accuracy of the expert-trained models on the held-out pairs, from their saved P(A ≻ B)
    y = np.array([gold[k].label == "A" for k in test])
    accs = []
    for seed_dir in sorted((runs / "expert").glob("minilm-seed?")):
        scores = json.loads((seed_dir / "scores.json").read_text())
        p = np.array([scores[k] for k in test])
        accs.append(float(np.mean(np.where(p == 0.5, 0.5, (p > 0.5) == y))))
    print(
        f"expert-trained minilm: held-out preference accuracy {np.mean(accs):.3f} per seed {accs} on {len(test)} pairs"
    )
    assert len(accs) == 3 and by["expert"]["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert np.mean(accs) > 0.5

    # best-of-n: each held-out prompt's distinct responses; a response passes when it passes every hidden test
    passes: dict[str, dict[str, bool]] = defaultdict(dict)
    for k in test:
        body, d = json.loads(items[k].body or "{}"), gold[k].detail or {}
        passes[items[k].problem_id][body["response_a"]] = d["passed_a"] == d["tests"]
        passes[items[k].problem_id][body["response_b"]] = d["passed_b"] == d["tests"]
    chosen = {pid: c for pid, c in passes.items() if len(c) >= 2}
    random_rate = float(np.mean([np.mean(list(c.values())) for c in chosen.values()]))
    bon = by["expert"]["best_of_n"]
    print(
        f"best-of-n over {len(chosen)} prompts: random {random_rate:.3f}, expert-trained top pick "
        f"{bon['pass_rate']:.3f}, oracle {bon['oracle']:.3f}"
    )
    assert bon["groups"] == len(chosen)
    assert bon["random"] == pytest.approx(random_rate)
    assert bon["oracle"] == pytest.approx(np.mean([any(c.values()) for c in chosen.values()]))
    # every source is compared with the same random pick and with the expert-trained model's pick
    assert all(s["best_of_n"]["random"] == pytest.approx(random_rate) for s in by.values())
    assert all(s["best_of_n"]["gold_trained"] == bon["pass_rate"] for s in by.values())
    # the expert-trained models' top pick (seed-mean reward), scored on the sandbox's counts
    ids = {
        f"{pid}#{n}": (pid, text)
        for n, (pid, text) in enumerate(sorted((pid, t) for pid, c in passes.items() for t in c))
    }
    rewards = [json.loads((d / "rewards.json").read_text()) for d in sorted((runs / "expert").glob("minilm-seed?"))]
    mean_reward = {cid: float(np.mean([r[cid] for r in rewards])) for cid in ids}
    top = [max((cid for cid in ids if ids[cid][0] == pid), key=mean_reward.__getitem__) for pid in chosen]
    assert bon["pass_rate"] == pytest.approx(np.mean([passes[ids[t][0]][ids[t][1]] for t in top]))
