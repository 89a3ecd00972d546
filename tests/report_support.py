"""A small simulated study with experts, and classifier runs planted on disk as `sandwich train` writes them
(metrics.json + scores.json per source and seed), so the report's classifier section runs without a GPU."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from study_files import write_mc_study

from sandwich.classifiers.data import held_out, load_examples
from sandwich.classifiers.training import default_runs_dir, source_slug
from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.sim.runner import simulate_study
from sandwich.studyfile import load_study

SIMULATION = """simulation:
  non_expert: {kind: parametric, skill: {unassisted: 0.5, consult: 0.65, debate: 0.75}}
  expert: {kind: parametric, skill: {default: 0.9}}
preregistration:
  hypotheses:
    - {id: H1, compare: [debate, unassisted], metric: accuracy, alternative: greater}
"""
# how well each label source's classifier separates bad from good answers (logit scale)
QUALITY = {"expert": 2.5, "unassisted": 0.4, "consult": 1.0, "debate": 1.6, "majority:debate": 1.8}


def simulated_study(folder: Path) -> Path:
    """24 items, six non-experts and two experts over three conditions, judged by simulated overseers."""
    path = write_mc_study(folder, rows=24, overseers=6, experts=["gus", "hal"], items_per_overseer=12, extra=SIMULATION)
    db = folder / "mc.duckdb"
    create_study(load_study(path), db)
    simulate_study(db, with_model_alone=False)
    return db


def plant_runs(db: Path, seeds: tuple[int, ...] = (0, 1)) -> Path:
    """Scores for every held-out example from each source in QUALITY, two seeds each; returns the runs folder."""
    with StudyService(db, read_only=True) as svc:
        study = svc.study.study
        test = held_out(load_examples(svc))
    root = default_runs_dir(db, study)
    for source, q in QUALITY.items():
        for seed in seeds:
            rng = random.Random(f"{source}:{seed}")
            run = root / source_slug(source) / str(seed)
            run.mkdir(parents=True, exist_ok=True)
            scores = {e.example_id: 1 / (1 + math.exp(-(q * (2 * e.bad - 1) + rng.gauss(0, 1)))) for e in test}
            (run / "scores.json").write_text(json.dumps(scores))
            (run / "metrics.json").write_text(
                json.dumps(
                    {
                        "source": source,
                        "backbone": "minilm",
                        "seed": seed,
                        "status": "trained",
                        "n_train": 40,
                        "n_judgments": 40,
                        "metrics": {},
                        "notes": [],
                    }
                )
            )
    return root
