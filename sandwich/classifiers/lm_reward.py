"""The `lm-reward` backbone: a causal LM (the prepared SmolLM2) with a scalar head on the last token.

As in RLHF reward modelling: `AutoModelForSequenceClassification(num_labels=1)`
puts a linear head on the last non-padding token. LoRA adapters (peft) keep it
CPU-sized; without peft the whole model trains. Objective:

- **pairwise** (Bradley–Terry, TRL's chosen/rejected): pairs of candidates of one
  group whose labels differ — the source prefers the one it calls correct;
- **pointwise**: binary cross-entropy on P(bad) (soft labels, aux loss allowed).

A pairwise model's scores are relative, so P(bad) is σ(z − mean of its group).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sandwich.classifiers.backbones import (
    TrainContext,
    group_index,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    with_siblings,
)
from sandwich.classifiers.data import Example
from sandwich.classifiers.losses import bradley_terry, classification_loss
from sandwich.classifiers.settings import TrainSettings


def load_reward_model(settings: TrainSettings):
    """(tokenizer, model) with a fresh scalar head, LoRA-wrapped when peft is installed."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from sandwich.models import resolve_model

    path = resolve_model(settings.lm_model)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    # context comes first and the candidate last: cut long inputs from the left so the candidate, and the
    # last token the head reads, always survive
    tok.truncation_side = "left"
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tok.pad_token_id
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError:
        return tok, model, False
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=settings.lora_r,
        lora_alpha=2 * settings.lora_r,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
    )
    return tok, get_peft_model(model, lora), True


def pairs_from(train: Sequence[Example], targets: Sequence[float]) -> list[tuple[Example, Example]]:
    """(chosen, rejected) pairs: same group, the source calls one good and the other bad."""
    label = {e.example_id: t for e, t in zip(train, targets, strict=True)}
    out = []
    for idx in group_index(train).values():
        for a, b in itertools.combinations([train[k] for k in idx], 2):
            ta, tb = label[a.example_id], label[b.example_id]
            if (ta >= 0.5) != (tb >= 0.5):
                out.append((a, b) if ta < tb else (b, a))
    return out


class RewardModel:
    """A trained reward model; `scores` gives P(bad)."""

    def __init__(self, tok, model, settings: TrainSettings, ctx: TrainContext, pairwise: bool) -> None:
        self.tok, self.model, self.settings, self.ctx, self.pairwise = tok, model, settings, ctx, pairwise
        self.losses: list[float] = []  # per optimiser step: the lm-reward runs are short
        self.objective = "pairwise" if pairwise else "pointwise"

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Bad-logits (−reward) for texts."""
        enc = self.tok(
            list(texts), padding=True, truncation=True, max_length=self.settings.lm_max_length, return_tensors="pt"
        )
        return self.model(**enc).logits.squeeze(-1)

    def scores(self, examples: Sequence[Example]) -> np.ndarray:
        """P(bad) per example (group-centred for a pairwise model)."""
        self.model.eval()
        pool = with_siblings(examples, self.ctx.all_examples) if self.pairwise else list(examples)
        z = np.zeros(len(pool))
        with torch.inference_mode():
            for s in range(0, len(pool), 8):
                z[s : s + 8] = self.logits([e.full_text for e in pool[s : s + 8]]).numpy()
        if self.pairwise:
            for idx in group_index(pool).values():
                z[idx] -= z[idx].mean()
        return (1.0 / (1.0 + np.exp(-z)))[: len(examples)]

    def save(self, folder: Path) -> None:
        """The trainable weights only (LoRA adapters and the head, or the whole model without peft)."""
        trainable = {k: v for k, v in self.model.named_parameters() if v.requires_grad}
        torch.save(trainable, folder / "reward_model.pt")


def train_reward_model(
    train: Sequence[Example], targets: Sequence[float], settings: TrainSettings, ctx: TrainContext
) -> RewardModel:
    """Fine-tune the reward model; checkpoints each epoch and resumes from the last one."""
    gen = seed_everything(ctx.seed)
    tok, model, _lora = load_reward_model(settings)
    pairs = pairs_from(train, targets) if settings.objective != "pointwise" else []
    pairwise = settings.objective == "pairwise" or (settings.objective == "auto" and len(pairs) > 0)
    rm = RewardModel(tok, model, settings, ctx, pairwise)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.lm_lr, weight_decay=0.0)
    start = 0
    if (ck := load_checkpoint(ctx.run_dir)) is not None:
        model.load_state_dict(ck["model"], strict=False)
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])  # dropout draws continue where they stopped
        start, rm.losses = ck["epoch"], ck["losses"]
    # pairs: one pair per step holds 2 sequences; pointwise: half a batch, to keep memory alike
    per_step = max(1, settings.batch_size // 4)
    units: list = pairs if pairwise else list(zip(train, targets, strict=True))
    n_steps = -(-len(units) // per_step)
    total = (
        settings.lm_epochs * n_steps
        if not settings.max_steps
        else min(settings.lm_epochs * n_steps, settings.max_steps)
    )
    step = ck["step"] if ck is not None else 0
    for epoch in range(start, settings.lm_epochs):
        model.train()
        order = torch.randperm(len(units), generator=gen).tolist()
        for s in range(n_steps):
            if step >= total:
                break
            chunk = [units[k] for k in order[s * per_step : (s + 1) * per_step]]
            if pairwise:
                z = rm.logits([c.full_text for c, _ in chunk] + [r.full_text for _, r in chunk])
                loss = bradley_terry(z[: len(chunk)], z[len(chunk) :])
            else:
                z = rm.logits([e.full_text for e, _ in chunk])
                y = torch.tensor([t for _, t in chunk], dtype=torch.float32)
                loss = classification_loss(z, y, step / max(total, 1), aux=settings.aux_confidence_loss)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rm.losses.append(loss.item())
            step += 1
            ctx.report(step, total)
        weights = (
            {k: v for k, v in model.state_dict().items() if "lora" in k or "score" in k}
            if _lora
            else model.state_dict()
        )
        save_checkpoint(
            ctx.run_dir,
            {
                "model": weights,
                "opt": opt.state_dict(),
                "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "epoch": epoch + 1,
                "losses": rm.losses,
            },
        )
    return rm
