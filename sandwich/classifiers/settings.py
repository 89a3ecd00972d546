"""How one classifier run is trained: everything that changes its result, hashed into its run folder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

BACKBONES = ("minilm", "minilm-finetune", "lm-reward")
Features = Literal["auto", "item", "contrast"]


@dataclass(frozen=True)
class TrainSettings:
    """One classifier's training recipe (the study's `classifiers:` section plus backbone details)."""

    backbone: str = "minilm"
    epochs: int = 20
    learning_rate: float = 1e-3
    batch_size: int = 16
    soft_labels: bool = False
    aux_confidence_loss: bool = False
    # "contrast": an example's features relative to its group's mean (its sibling candidates); "auto" picks
    # contrast when groups have several members (code-review problems, multiple-choice questions)
    features: Features = "auto"
    head: Literal["logistic", "mlp"] = "logistic"
    max_length: int = 512
    finetune_epochs: int = 3
    finetune_lr: float = 3e-5
    lm_model: str = "smollm2-135m-instruct"
    lm_max_length: int = 320
    lm_epochs: int = 1
    lm_lr: float = 2e-4
    lora_r: int = 8
    objective: Literal["auto", "pointwise", "pairwise"] = "auto"
    max_steps: int | None = None  # cap on optimiser steps (tests, benchmarks)

    def to_dict(self) -> dict:
        """Plain dict (JSON-safe)."""
        return asdict(self)

    def config_hash(self) -> str:
        """Hash of the recipe, for deciding whether a saved run is still valid."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
