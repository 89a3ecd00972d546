"""Bradley–Terry reward models trained on preferences: a scalar reward r(prompt, response) per backbone.

Loss (Bradley & Terry 1952; Ouyang et al. 2022, eq. 1; TRL's RewardTrainer): with d = r(chosen) − r(rejected)
and the preference's strength s ∈ [0.5, 1] as a soft label, −[s·log σ(d) + (1 − s)·log σ(−d)]; at s = 1 this is
TRL's −log σ(d). P(A ≻ B) = σ(r(A) − r(B)).

- ``minilm``: frozen all-MiniLM-L6-v2 embeddings (cached, as the pointwise backbone) and a learned linear
  scalar head. A linear head sees only the difference of the two embeddings — for a candidate and its
  one-token mutant that difference is the edit (the pointwise backbone's sibling contrast, for free).
- ``lm-reward``: SmolLM2 with a scalar head and LoRA (``sandwich.classifiers.lm_reward.load_reward_model``),
  trained by a plain loop on the same loss (TRL's RewardTrainer needs an accelerate/Trainer run per model; the
  exported Parquet trains with it unchanged, see ``sandwich export --format trl``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sandwich.classifiers.backbones import seed_everything
from sandwich.classifiers.data import code_review_text
from sandwich.classifiers.preferences import Preference
from sandwich.classifiers.settings import TrainSettings
from sandwich.errors import SandwichError

PAIR_BACKBONES = ("minilm", "lm-reward")


class RewardModel(Protocol):
    """A trained reward model: a scalar reward per (prompt, response)."""

    losses: list[float]

    def rewards(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray: ...
    def save(self, folder: Path) -> None: ...


def p_first(model: RewardModel, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]) -> np.ndarray:
    """P(first ≻ second) = σ(r(first) − r(second)) for each pair; shape (n,)."""
    ra, rb = model.rewards(prompts, first), model.rewards(prompts, second)
    return 1.0 / (1.0 + np.exp(-(ra - rb)))


def bt_loss(d: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
    """Soft Bradley–Terry loss on reward differences d = r(chosen) − r(rejected); shape () (the mean)."""
    return F.binary_cross_entropy_with_logits(d, strength)


@dataclass
class TrainOut:
    """What a training call hands back besides the model."""

    steps: int = 0
    pairs_seen: int = 0
    step_times: list[float] = field(default_factory=list)  # perf_counter() after each optimiser step (lm-reward)
    loop_seconds: float = 0.0  # time in the optimisation loop (features excluded)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------ minilm
def response_text(response: str) -> str:
    """Encoder input for a response: Python without docstrings (the prompt repeats there), else as is."""
    return code_review_text(response)


class FrozenReward:
    """Linear scalar head on frozen MiniLM embeddings of the response, one scale for all dimensions."""

    def __init__(self, head: nn.Linear, scale: float, settings: TrainSettings, cache_dir: Path | None) -> None:
        self.head, self.scale, self.settings, self.cache_dir = head, scale, settings, cache_dir
        self.losses: list[float] = []

    def rewards(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """r(response) for each response; the prompt is shared by both sides of a pair and cancels in a
        linear head's difference, so it is not embedded."""
        from sandwich.classifiers.minilm import embed

        x = (
            embed([response_text(r) for r in responses], max_length=self.settings.max_length, cache_dir=self.cache_dir)
            / self.scale
        )
        with torch.inference_mode():
            return self.head(torch.from_numpy(x.astype(np.float32))).squeeze(-1).numpy().astype(float)

    def save(self, folder: Path) -> None:
        """The head and its scale (the encoder is the shipped one)."""
        torch.save({"head": self.head.state_dict(), "scale": self.scale}, folder / "reward_head.pt")


def train_minilm(
    rows: Sequence[Preference], settings: TrainSettings, seed: int, cache_dir: Path | None = None
) -> tuple[FrozenReward, TrainOut]:
    """Fit the linear head on embedding differences with the soft Bradley–Terry loss (AdamW, mini-batches)."""
    from sandwich.classifiers.minilm import embed

    if not rows:
        raise SandwichError(
            "No preferences to train on for this label source.",
            hint="Collect judgments on train-split pairs (or check the source's name).",
        )
    emb = embed(
        [response_text(r.chosen) for r in rows] + [response_text(r.rejected) for r in rows],
        max_length=settings.max_length,
        cache_dir=cache_dir,
    )
    diff = emb[: len(rows)] - emb[len(rows) :]
    # one scale for every dimension (see minilm.features_for); differences of near-twins are tiny otherwise
    scale = float(np.sqrt((diff**2).sum(1).mean()) / math.sqrt(diff.shape[1])) + 1e-6
    d = torch.from_numpy((diff / scale).astype(np.float32))
    s = torch.tensor([r.strength for r in rows], dtype=torch.float32)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a head's ops are tiny: a thread pool only adds hand-offs
    try:
        gen = seed_everything(seed)
        head = nn.Linear(d.shape[1], 1, bias=False)  # a bias cancels in r(chosen) − r(rejected)
        opt = torch.optim.AdamW(head.parameters(), lr=settings.learning_rate, weight_decay=1e-2)
        per_epoch = math.ceil(len(rows) / settings.batch_size)
        total = (
            settings.epochs * per_epoch
            if not settings.max_steps
            else min(settings.epochs * per_epoch, settings.max_steps)
        )
        model, out, step = FrozenReward(head, scale, settings, cache_dir), TrainOut(), 0
        t0 = time.perf_counter()
        while step < total:
            order = torch.randperm(len(rows), generator=gen)
            running = []
            for b in range(per_epoch):
                if step >= total:
                    break
                idx = order[b * settings.batch_size : (b + 1) * settings.batch_size]
                loss = bt_loss(head(d[idx]).squeeze(-1), s[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                running.append(loss.item())
                step += 1
                out.pairs_seen += len(idx)
            model.losses.append(float(np.mean(running)))
        head.eval()
        out.steps, out.loop_seconds = step, time.perf_counter() - t0
        return model, out
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------ lm-reward
class LMReward:
    """SmolLM2 with a scalar head (LoRA-wrapped): r = the head on the last token of prompt + response."""

    def __init__(self, tok: Any, model: Any, settings: TrainSettings) -> None:
        self.tok, self.model, self.settings = tok, model, settings
        self.losses: list[float] = []

    def logits(self, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        """Rewards with gradients; shape (n,)."""
        texts = [f"{p}\n\n{r}" if p else r for p, r in zip(prompts, responses, strict=True)]
        enc = self.tok(
            texts, padding=True, truncation=True, max_length=self.settings.lm_max_length, return_tensors="pt"
        )
        return self.model(**enc).logits.squeeze(-1)

    def rewards(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Rewards, 8 texts at a time."""
        self.model.eval()
        out = []
        with torch.inference_mode():
            for s in range(0, len(responses), 8):
                out.append(self.logits(prompts[s : s + 8], responses[s : s + 8]).float().numpy())
        return np.concatenate(out).astype(float) if out else np.zeros(0)

    def save(self, folder: Path) -> None:
        """The trainable weights only (LoRA adapters and the head)."""
        torch.save({k: v for k, v in self.model.named_parameters() if v.requires_grad}, folder / "reward_model.pt")


def train_lm(
    rows: Sequence[Preference], settings: TrainSettings, seed: int, cache_dir: Path | None = None
) -> tuple[LMReward, TrainOut]:
    """LoRA + scalar head on SmolLM2 with the soft Bradley–Terry loss, `batch_size // 4` pairs a step."""
    from sandwich.classifiers.lm_reward import load_reward_model

    if not rows:
        raise SandwichError("No preferences to train on for this label source.")
    gen = seed_everything(seed)
    tok, net, _ = load_reward_model(settings)
    model, out = LMReward(tok, net, settings), TrainOut()
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=settings.lm_lr, weight_decay=0.0)
    per_step = max(1, settings.batch_size // 4)
    n_steps = -(-len(rows) // per_step)
    total = (
        settings.lm_epochs * n_steps
        if not settings.max_steps
        else min(settings.lm_epochs * n_steps, settings.max_steps)
    )
    net.train()
    while out.steps < total:
        order = torch.randperm(len(rows), generator=gen).tolist()
        for k in range(n_steps):
            if out.steps >= total:
                break
            chunk = [rows[i] for i in order[k * per_step : (k + 1) * per_step]]
            prompts = [r.prompt for r in chunk]
            z = model.logits(prompts * 2, [r.chosen for r in chunk] + [r.rejected for r in chunk])
            loss = bt_loss(z[: len(chunk)] - z[len(chunk) :], torch.tensor([r.strength for r in chunk]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.losses.append(loss.item())
            out.steps += 1
            out.pairs_seen += len(chunk)
            out.step_times.append(time.perf_counter())
    return model, out


def train_reward(
    rows: Sequence[Preference], settings: TrainSettings, seed: int, cache_dir: Path | None = None
) -> tuple[RewardModel, TrainOut]:
    """Train the backbone the settings name on preferences."""
    trainers: dict[str, Callable[..., tuple[RewardModel, TrainOut]]] = {"minilm": train_minilm, "lm-reward": train_lm}
    if settings.backbone not in trainers:
        raise SandwichError(
            f"Backbone {settings.backbone!r} has no pairwise reward model.",
            hint=f"Use one of: {', '.join(PAIR_BACKBONES)}.",
        )
    return trainers[settings.backbone](rows, settings, seed, cache_dir)
