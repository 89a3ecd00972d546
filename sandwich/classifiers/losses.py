"""Training losses for P(bad) classifiers and pairwise reward models.

All logits are bad-logits: sigmoid(z) = P(buggy / wrong). A reward is -z.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy against (possibly soft) targets in [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits, targets)


def aux_confidence_loss(
    logits: torch.Tensor, targets: torch.Tensor, step_frac: float, *, weight: float = 0.5, warmup_frac: float = 0.2
) -> torch.Tensor:
    """Burns et al. (2023) auxiliary confidence loss, binary form.

    The target mixes the weak label with the model's own *hardened* prediction, so
    a strong student can disagree with a noisy supervisor instead of imitating its
    errors. Hardening thresholds at the quantile that keeps the weak labels' base
    rate (as in openai/weak-to-strong). The mixing weight ramps up over the first
    `warmup_frac` of training, when the student's own predictions are still noise.
    """
    alpha = weight * min(1.0, step_frac / warmup_frac) if warmup_frac > 0 else weight
    probs = torch.sigmoid(logits.detach())
    base_rate = float(targets.float().mean().clamp(0.0, 1.0))
    threshold = torch.quantile(probs, 1.0 - base_rate) if 0.0 < base_rate < 1.0 else torch.tensor(0.5)
    hardened = (probs >= threshold).float()
    mixed = targets * (1.0 - alpha) + hardened * alpha
    return F.binary_cross_entropy_with_logits(logits, mixed)


def bradley_terry(bad_chosen: torch.Tensor, bad_rejected: torch.Tensor) -> torch.Tensor:
    """Pairwise reward-model loss (TRL RewardTrainer style): -log σ(r_chosen − r_rejected), with r = −z."""
    return -F.logsigmoid(bad_rejected - bad_chosen).mean()


def classification_loss(logits: torch.Tensor, targets: torch.Tensor, step_frac: float, *, aux: bool) -> torch.Tensor:
    """The pointwise loss a backbone trains with: soft BCE, or the auxiliary confidence loss."""
    return aux_confidence_loss(logits, targets, step_frac) if aux else soft_bce(logits, targets)
