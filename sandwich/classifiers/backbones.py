"""The backbone interface: train on (example, target) pairs, then score any example with P(bad).

`minilm` (frozen encoder + head), `minilm-finetune` (encoder trained end to end)
and `lm-reward` (a causal LM with a scalar head) all return a
:class:`TrainedClassifier`. Shared pieces live here: seeding, group contrast,
and per-epoch checkpoints so long runs can be interrupted and resumed.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from sandwich.classifiers.data import Example
from sandwich.classifiers.settings import BACKBONES, TrainSettings
from sandwich.errors import SandwichError

Progress = Callable[[int, int], None]


class TrainedClassifier(Protocol):
    """A trained classifier: P(bad) for examples, and a way to save what was learned."""

    losses: list[float]

    def scores(self, examples: Sequence[Example]) -> np.ndarray: ...
    def save(self, folder: Path) -> None: ...


@dataclass
class TrainContext:
    """Where a run may keep files, and how it reports progress."""

    seed: int
    run_dir: Path | None = None  # checkpoints go here (resume after an interrupt)
    cache_dir: Path | None = None  # shared caches (frozen embeddings)
    progress: Progress | None = None
    all_examples: list[Example] = field(default_factory=list)  # every example (inputs only) for group contrast

    def report(self, done: int, total: int) -> None:
        """Forward progress if anyone listens."""
        if self.progress:
            self.progress(done, total)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (deterministic kernels on CPU); return a generator for data order."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def use_contrast(settings: TrainSettings, examples: Sequence[Example]) -> bool:
    """Whether to describe each example relative to its siblings (see TrainSettings.features)."""
    if settings.features != "auto":
        return settings.features == "contrast"
    sizes: dict[str, int] = defaultdict(int)
    for e in examples:
        sizes[e.group] += 1
    return bool(sizes) and float(np.mean(list(sizes.values()))) >= 1.5


def group_index(examples: Sequence[Example]) -> dict[str, list[int]]:
    """Positions of each group's examples."""
    out: dict[str, list[int]] = defaultdict(list)
    for k, e in enumerate(examples):
        out[e.group].append(k)
    return out


def contrast_features(emb: np.ndarray, examples: Sequence[Example]) -> np.ndarray:
    """[e − mean of its group, ‖e − mean‖]: what sets a candidate apart from its siblings.

    Frozen sentence embeddings of a program and of its one-token mutant are almost
    identical, and a problem's identity swamps the difference; relative to the
    group's mean, the edit is what is left. Uses inputs only (no labels), and every
    example of a group shares its split when the study splits by problem.
    """
    out = np.zeros((len(examples), emb.shape[1] + 1), dtype=np.float32)
    for idx in group_index(examples).values():
        centred = emb[idx] - emb[idx].mean(0, keepdims=True)
        out[idx, :-1] = centred
        out[idx, -1] = np.linalg.norm(centred, axis=1) if len(idx) > 1 else 0.0
    return out


def with_siblings(chosen: Sequence[Example], everything: Sequence[Example]) -> list[Example]:
    """`chosen` plus every other example of their groups (unlabelled siblings), chosen ones first."""
    groups = {e.group for e in chosen}
    have = {e.example_id for e in chosen}
    return list(chosen) + [e for e in everything if e.group in groups and e.example_id not in have]


# ------------------------------------------------------------ checkpoints
def save_checkpoint(run_dir: Path | None, state: dict[str, Any]) -> None:
    """Write the epoch checkpoint atomically (an interrupt mid-write leaves the previous one)."""
    if run_dir is None:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / "checkpoint.pt.partial"
    torch.save(state, tmp)
    os.replace(tmp, run_dir / "checkpoint.pt")


def load_checkpoint(run_dir: Path | None) -> dict[str, Any] | None:
    """The last epoch checkpoint of an interrupted run, if any."""
    if run_dir is None or not (run_dir / "checkpoint.pt").exists():
        return None
    return torch.load(run_dir / "checkpoint.pt", weights_only=False)


def clear_checkpoint(run_dir: Path | None) -> None:
    """Remove the checkpoint once the run's final weights are saved."""
    if run_dir is not None and (run_dir / "checkpoint.pt").exists():
        (run_dir / "checkpoint.pt").unlink()


# ------------------------------------------------------------ dispatch
def train_backbone(
    train: Sequence[Example], targets: Sequence[float], settings: TrainSettings, ctx: TrainContext
) -> TrainedClassifier:
    """Train the backbone the settings name."""
    if not train:
        raise SandwichError(
            "No labelled train-split examples for this label source.",
            hint="Collect judgments on train-split items (or check the source's name).",
        )
    if settings.backbone == "minilm":
        from sandwich.classifiers.minilm import train_frozen

        return train_frozen(train, targets, settings, ctx)
    if settings.backbone == "minilm-finetune":
        from sandwich.classifiers.minilm import train_finetune

        return train_finetune(train, targets, settings, ctx)
    if settings.backbone == "lm-reward":
        from sandwich.classifiers.lm_reward import train_reward_model

        return train_reward_model(train, targets, settings, ctx)
    raise SandwichError(f"Unknown backbone {settings.backbone!r}.", hint=f"Use one of: {', '.join(BACKBONES)}.")
