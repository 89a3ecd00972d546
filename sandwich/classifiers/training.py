"""`train_study`: one classifier per (label source, seed), saved as a run folder, resumable.

A run lives in ``<runs>/<source>/<backbone>-seed<k>/``: ``config.json`` (recipe,
source, seed, data hash), the learned weights (the head only for a frozen
encoder), ``scores.json`` (P(bad) on every test example) and ``metrics.json``,
written last — a run with a metrics file whose config and data hashes match is
finished and is skipped on the next call. Long runs checkpoint every epoch.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sandwich.classifiers.backbones import TrainContext, clear_checkpoint, train_backbone
from sandwich.classifiers.data import Example, SourceLabels, held_out, labels_for, load_examples, training_set
from sandwich.classifiers.evaluate import metrics
from sandwich.classifiers.settings import BACKBONES, TrainSettings
from sandwich.errors import SandwichError

# (what, done, total): what is "runs" for the overall count, or a run's name for its optimiser steps
TrainProgress = Callable[[str, int, int], None]


@dataclass
class RunRecord:
    """One trained (or skipped) classifier."""

    source: str
    backbone: str
    seed: int
    status: str  # trained | cached | no-labels
    path: str | None = None
    n_train: int = 0
    n_judgments: int = 0
    data_hash: str = ""
    config_hash: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    train_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    matched: int = 0  # > 0: trained on this many items, subsampled to match the smallest source


def source_slug(source: str) -> str:
    """A folder or file name for a label source: ':' → '_', '@' → '.' ('dawid-skene:explain@human' →
    'dawid-skene_explain.human'); portable file-name characters only, and no condition name contains '.'."""
    return source.replace(":", "_").replace("@", ".")


def default_runs_dir(db_path: str | Path, study: str) -> Path:
    """Runs live in a `runs/<study>/` folder beside the study database (in the working folder for PostgreSQL)."""
    if str(db_path).startswith(("postgresql://", "postgres://")):
        return Path.cwd() / "runs" / study
    return Path(db_path).resolve().parent / "runs" / study


def settings_from_study(study: Any, **overrides: Any) -> TrainSettings:
    """The study's `classifiers:` section as training settings, with explicit overrides."""
    c = study.classifiers
    base = TrainSettings(
        backbone=c.backbone,
        epochs=c.epochs,
        learning_rate=c.learning_rate,
        batch_size=c.batch_size,
        soft_labels=c.soft_labels,
        aux_confidence_loss=c.aux_confidence_loss,
    )
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".partial")
    tmp.write_text(json.dumps(data, indent=2, default=float))
    os.replace(tmp, path)


def run_one(
    examples: list[Example],
    labels: SourceLabels,
    settings: TrainSettings,
    seed: int,
    run_dir: Path | None,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
    subsample: int | None = None,
) -> RunRecord:
    """Train and evaluate one classifier on one source's labels; reuse a finished run with the same hashes.

    `subsample`: train on this many of the source's items only (seeded by `seed`), so sources are compared at
    matched training sizes.
    """
    train, targets = training_set(examples, labels, soft=settings.soft_labels)
    data_hash = labels.data_hash(settings.soft_labels)
    if subsample:
        train, targets = subsample_items(train, targets, subsample, seed)
        data_hash += f"-matched{subsample}"
    rec = RunRecord(
        labels.source,
        settings.backbone,
        seed,
        "trained",
        str(run_dir) if run_dir else None,
        n_train=len(train),
        n_judgments=labels.n_judgments,
        data_hash=data_hash,
        config_hash=settings.config_hash(),
        notes=list(labels.notes),
        matched=subsample or 0,
    )
    if not train:
        rec.status = "no-labels"
        return rec
    if run_dir is not None and not force and (run_dir / "metrics.json").exists():
        done = json.loads((run_dir / "metrics.json").read_text())
        if done.get("data_hash") == rec.data_hash and done.get("config_hash") == rec.config_hash:
            return RunRecord(**{**done, "status": "cached", "path": str(run_dir)})
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(
            run_dir / "config.json",
            {
                "source": labels.source,
                "backbone": settings.backbone,
                "seed": seed,
                "settings": settings.to_dict(),
                "config_hash": rec.config_hash,
                "data_hash": rec.data_hash,
                "n_train": len(train),
                "train_examples": [e.example_id for e in train],
            },
        )
    t0 = time.perf_counter()
    ctx = TrainContext(seed=seed, run_dir=run_dir, cache_dir=cache_dir, progress=progress, all_examples=examples)
    model = train_backbone(train, targets, settings, ctx)
    test = held_out(examples)
    p = model.scores(test) if test else np.zeros(0)
    rec.seconds = time.perf_counter() - t0
    rec.train_losses = [float(x) for x in model.losses]
    rec.metrics = metrics(np.array([e.bad for e in test]), p) if test else {}
    if run_dir is not None:
        model.save(run_dir)
        _write_json(run_dir / "scores.json", {e.example_id: float(s) for e, s in zip(test, p, strict=True)})
        _write_json(run_dir / "metrics.json", asdict(rec))
        clear_checkpoint(run_dir)
    return rec


def train_items(examples: list[Example], labels: SourceLabels, soft: bool) -> int:
    """How many distinct items a source labels for training."""
    train, _ = training_set(examples, labels, soft=soft)
    return len({e.item_id for e in train})


def subsample_items(
    train: list[Example], targets: list[float], n_items: int, seed: int
) -> tuple[list[Example], list[float]]:
    """The examples of `n_items` items drawn without replacement (seeded; all candidates of an item kept)."""
    items = sorted({e.item_id for e in train})
    if len(items) <= n_items:
        return train, targets
    keep = set(np.random.default_rng([seed, 7919]).choice(items, n_items, replace=False).tolist())
    chosen = [(e, t) for e, t in zip(train, targets, strict=True) if e.item_id in keep]
    return [e for e, _ in chosen], [t for _, t in chosen]


def train_study(
    db_path: str | Path,
    *,
    backbone: str | None = None,
    sources: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    runs_dir: str | Path | None = None,
    force: bool = False,
    progress: TrainProgress | None = None,
    matched: bool = True,
    **overrides: Any,
) -> list[RunRecord]:
    """Train every (label source × seed) classifier the study asks for (or the given subset).

    With `matched` (default), every source with more training items than the smallest is also trained on a
    seeded subsample of that many items (run folder `…-seedK-matched`), so `compare` can report PGR at matched
    sizes beside the raw figure (label quality, not label quantity).

    Finished runs with the same recipe and data are reused, so an interrupted
    call picks up where it stopped. Returns one record per run.
    """
    from sandwich.service import StudyService

    with StudyService(db_path, read_only=True) as svc:
        study = svc.study
        settings = settings_from_study(study, backbone=backbone, **overrides)
        if settings.backbone not in BACKBONES:
            raise SandwichError(f"Unknown backbone {settings.backbone!r}.", hint=f"Use one of: {', '.join(BACKBONES)}.")
        wanted = list(sources or study.classifiers.train_on)
        examples = load_examples(svc)
        all_labels = [labels_for(svc, s, examples) for s in wanted]
    root = Path(runs_dir) if runs_dir else default_runs_dir(db_path, study.study)
    seed_list = list(seeds if seeds is not None else study.classifiers.seeds)
    jobs: list[tuple[SourceLabels, int, int | None]] = [(lab, s, None) for lab in all_labels for s in seed_list]
    if matched:
        # label quantity differs between sources (experts labelled more items than one condition's overseers):
        # also train every larger source on the smallest source's number of items, so PGR can compare quality
        sizes = {lab.source: train_items(examples, lab, settings.soft_labels) for lab in all_labels}
        positive = [n for n in sizes.values() if n > 0]
        n_match = min(positive) if positive else 0
        jobs += [(lab, s, n_match) for lab in all_labels for s in seed_list if sizes[lab.source] > n_match > 0]
    records: list[RunRecord] = []
    for n, (lab, seed, sub) in enumerate(jobs):
        name = f"{lab.source} · {settings.backbone} · seed {seed}" + (f" · {sub} items" if sub else "")
        if progress:
            progress("runs", n, len(jobs))
        step = (lambda d, t, _name=name: progress(_name, d, t)) if progress else None
        run_dir = root / source_slug(lab.source) / (f"{settings.backbone}-seed{seed}" + ("-matched" if sub else ""))
        records.append(
            run_one(
                examples,
                lab,
                settings,
                seed,
                run_dir,
                cache_dir=root / "cache",
                progress=step,
                force=force,
                subsample=sub,
            )
        )
    if progress:
        progress("runs", len(jobs), len(jobs))
    return records


def load_runs(runs_dir: str | Path, backbone: str | None = None) -> list[RunRecord]:
    """Every finished run under a study's runs folder (optionally one backbone's)."""
    out = []
    for f in sorted(Path(runs_dir).glob("*/*/metrics.json")):
        rec = RunRecord(**json.loads(f.read_text()))
        rec.path = str(f.parent)
        if backbone is None or rec.backbone == backbone:
            out.append(rec)
    return out


def load_scores(rec: RunRecord) -> dict[str, float]:
    """A run's P(bad) for each test example."""
    return json.loads((Path(rec.path or ".") / "scores.json").read_text())
