"""How fast do the classifier backbones train, and does a frozen-MiniLM head fit 10,000 judgments in a minute?

Inputs are real HumanEval candidates (canonical solutions and AST mutants,
docstrings stripped as the classifiers see them). Measured, per backbone:

- `minilm` (frozen): embedding throughput (paid once per distinct text, then
  cached on disk) **counted separately** from head training. The head is then
  trained with the default recipe (20 epochs, batch 16, AdamW) on 10,000
  judgments (rows drawn from the embedded candidates, labels 80% right) — the
  ≤ 60 s target — beside scikit-learn's LogisticRegression on the same matrix
  as a baseline.
- `minilm-finetune`: training examples/s, encoder + head, 256 tokens, batch 8.
- `lm-reward`: SmolLM2-135M with a scalar head, LoRA r=8, Bradley–Terry pairs
  (two sequences per pair), 320 tokens; sequences/s for a few steps.

Figures are printed, not asserted.

    python benchmarks/train_throughput.py [--threads 2] [--texts 256] [--rows 10000] [--skip-lm]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time

import numpy as np
import torch


def device_line(threads: int) -> str:
    """What the figures were measured on."""
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (not used)"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"device: CPU — {cpu}; torch {torch.__version__}, {threads} thread(s); {os.cpu_count()} cores visible, "
        f"load average {load:.1f} at start; GPU: {gpu}"
    )


def candidate_texts(n: int) -> list[tuple[str, str, int]]:
    """(group, text, bad) for HumanEval canonical solutions and mutants, as the classifiers see them."""
    from sandwich.classifiers.data import code_review_text
    from sandwich.tasks.code_review import load_problems
    from sandwich.tasks.mutants import make_mutants, normalize

    out: list[tuple[str, str, int]] = []
    for p in load_problems():
        code = p["prompt"] + p["canonical_solution"]
        out.append((p["task_id"], code_review_text(normalize(code)), 0))
        for m in make_mutants(code, 2, seed=7):
            out.append((p["task_id"], code_review_text(m.code), 1))  # most mutants fail their tests
        if len(out) >= n:
            break
    return out[:n]


def bench_minilm(texts: list[tuple[str, str, int]], rows: int, cache: str) -> None:
    from sandwich.classifiers.backbones import TrainContext, contrast_features
    from sandwich.classifiers.data import Example
    from sandwich.classifiers.minilm import embed, fit_head, load_encoder
    from sandwich.classifiers.settings import TrainSettings

    load_encoder()
    t0 = time.perf_counter()
    emb = embed([t for _, t, _ in texts], max_length=512, cache_dir=None)
    t_embed = time.perf_counter() - t0
    rate = len(texts) / t_embed
    print(
        f"minilm  embedding (frozen encoder, ≤512 tokens): {len(texts)} texts in {t_embed:.1f} s = "
        f"{rate:.1f} texts/s  [paid once per distinct text; cached]"
    )
    examples = [Example(f"x{k}", f"x{k}", g, "train", t, b) for k, (g, t, b) in enumerate(texts)]
    feats = contrast_features(emb, examples)
    feats = (feats - feats.mean(0)) / (feats.std() + 1e-6)
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(texts), rows)
    x = feats[pick].astype(np.float32)
    truth = np.array([b for _, _, b in texts])[pick]
    y = np.where(rng.random(rows) < 0.8, truth, 1 - truth).astype(np.float32)  # judgments 80% right
    settings = TrainSettings()
    t0 = time.perf_counter()
    head, losses = fit_head(x, y, settings, TrainContext(seed=0))
    t_head = time.perf_counter() - t0
    steps = settings.epochs * -(-rows // settings.batch_size)
    print(
        f"minilm  head training on {rows:,} judgments: {t_head:.1f} s ({settings.epochs} epochs, {steps:,} steps, "
        f"{rows * settings.epochs / t_head:,.0f} examples/s)  target ≤ 60 s: "
        f"{'met' if t_head <= 60 else 'MISSED'}; "
        f"loss {losses[0]:.3f} → {losses[-1]:.3f}"
    )
    try:
        from sklearn.linear_model import LogisticRegression

        t0 = time.perf_counter()
        LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
        took = time.perf_counter() - t0
        print(f"  baseline: scikit-learn LogisticRegression (lbfgs) on the same matrix: {took:.1f} s")
    except ImportError:
        print("  baseline: scikit-learn not installed; skipped")
    print(
        f"  end to end for 10,000 judgments on N distinct items ≈ N / {rate:.1f} s of embedding (once) + "
        f"{t_head:.0f} s per head; a study with 500 items: ≈ {500 / rate + t_head:.0f} s for the first run, "
        f"{t_head:.0f} s for every further source/seed"
    )


def bench_finetune(texts: list[tuple[str, str, int]], steps: int) -> None:
    from sandwich.classifiers.backbones import TrainContext
    from sandwich.classifiers.data import Example
    from sandwich.classifiers.minilm import train_finetune
    from sandwich.classifiers.settings import TrainSettings

    ex = [Example(f"x{k}", f"x{k}", g, "train", t, b) for k, (g, t, b) in enumerate(texts[: 8 * steps + 8])]
    settings = TrainSettings(backbone="minilm-finetune", finetune_epochs=1, batch_size=8, max_steps=steps)
    seen: list[int] = []
    t0 = time.perf_counter()
    train_finetune(
        ex,
        [float(e.bad) for e in ex],
        settings,
        TrainContext(seed=0, all_examples=ex, progress=lambda d, t: seen.append(d)),
    )
    took = time.perf_counter() - t0
    n = sum(1 for _ in ex[: 8 * len(seen)])
    print(
        f"minilm-finetune: {len(seen)} steps × ~8 examples (≤256 tokens) in {took:.1f} s = {n / took:.1f} "
        "examples/s (forward + backward, whole encoder; includes loading it)"
    )


def bench_lm_reward(texts: list[tuple[str, str, int]], steps: int) -> None:
    from sandwich.classifiers.backbones import TrainContext
    from sandwich.classifiers.data import Example
    from sandwich.classifiers.lm_reward import train_reward_model
    from sandwich.classifiers.settings import TrainSettings
    from sandwich.errors import SandwichError

    ex = [Example(f"x{k}", f"x{k}", g, "train", t, b) for k, (g, t, b) in enumerate(texts[: 3 * (steps + 2)])]
    settings = TrainSettings(backbone="lm-reward", lm_epochs=1, batch_size=4, max_steps=steps)
    try:
        t0 = time.perf_counter()
        rm = train_reward_model(ex, [float(e.bad) for e in ex], settings, TrainContext(seed=0, all_examples=ex))
    except SandwichError as e:
        print(f"lm-reward: skipped ({e.message})")
        return
    took = time.perf_counter() - t0
    seqs = 2 * len(rm.losses)
    print(
        f"lm-reward (SmolLM2-135M, LoRA r=8, Bradley–Terry): {len(rm.losses)} pair-steps ({seqs} sequences, "
        f"≤{settings.lm_max_length} tokens) in {took:.1f} s incl. model load = {seqs / took:.2f} sequences/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the target machine has 2 cores)")
    ap.add_argument("--texts", type=int, default=256, help="distinct candidate texts to embed")
    ap.add_argument("--rows", type=int, default=10_000, help="judgments for the head-training figure")
    ap.add_argument("--steps", type=int, default=3, help="optimiser steps for the fine-tuned backbones")
    ap.add_argument("--skip-lm", action="store_true", help="skip the fine-tuning backbones (slow on CPU)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    random.seed(0)
    print(device_line(args.threads))
    texts = candidate_texts(args.texts)
    bench_minilm(texts, args.rows, cache="")
    if not args.skip_lm:
        bench_finetune(texts, args.steps)
        bench_lm_reward(texts, args.steps)


if __name__ == "__main__":
    main()
