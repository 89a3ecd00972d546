"""Reward-model training throughput: Bradley–Terry pairs/s per backbone, beside the pointwise classifier's examples/s.

Inputs are real HumanEval candidates (canonical solutions and AST mutants, docstrings stripped); a pair is a
canonical solution and one of its mutants (chosen = the canonical one), as in the HumanEval preference tests.
Measured in one run, same threads, same recipe (TrainSettings defaults):

- `minilm`: embeddings computed once and cached (not counted); then the pointwise head (sibling-contrast
  features, soft BCE) on N examples vs the Bradley–Terry head on N pairs (embedding differences) —
  examples/s and pairs/s over every epoch.
- `lm-reward`: SmolLM2-135M, LoRA r=8, scalar head, 320 tokens: pointwise examples/s (4 per step, the
  existing backbone) vs pairs/s (4 pairs = 8 sequences per step); timed from the end of the first step to
  the end of the last (model loading and warm-up excluded).

Figures are printed with ratios (pairwise ÷ pointwise), not asserted.

    python benchmarks/reward_throughput.py [--threads 2] [--texts 256] [--rows 10000] [--steps 3] [--skip-lm]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import candidate_texts, device_line  # noqa: E402  (sibling benchmark script)

from sandwich.classifiers.preferences import Preference  # noqa: E402


def make_pairs(texts: list[tuple[str, str, int]], n: int) -> list[Preference]:
    """(canonical, mutant) pairs of one problem, cycled to n rows."""
    by: dict[str, dict[int, list[str]]] = {}
    for g, t, b in texts:
        by.setdefault(g, {0: [], 1: []})[b].append(t)
    base = [
        Preference(f"{g}#{k}", g, "", good, bad, 1.0, "gold", "train")
        for g, d in by.items()
        for good in d[0][:1]
        for k, bad in enumerate(d[1])
    ]
    return [base[k % len(base)] for k in range(n)]


def bench_minilm(texts: list[tuple[str, str, int]], rows: int, cache: Path) -> tuple[float, float]:
    from sandwich.classifiers.backbones import TrainContext, contrast_features
    from sandwich.classifiers.bt_reward import response_text, train_minilm
    from sandwich.classifiers.data import Example
    from sandwich.classifiers.minilm import embed, fit_head
    from sandwich.classifiers.settings import TrainSettings

    settings = TrainSettings()
    t0 = time.perf_counter()
    emb = embed([t for _, t, _ in texts], max_length=settings.max_length, cache_dir=cache)
    embed([response_text(t) for _, t, _ in texts], max_length=settings.max_length, cache_dir=cache)
    print(f"minilm  embedding {len(texts)} texts once (cached, not counted below): {time.perf_counter() - t0:.1f} s")
    ex = [Example(f"x{k}", f"x{k}", g, "train", t, b) for k, (g, t, b) in enumerate(texts)]
    feats = contrast_features(emb, ex)
    feats = ((feats - feats.mean(0)) / (feats.std() + 1e-6)).astype(np.float32)
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(texts), rows)
    y = np.array([b for _, _, b in texts])[pick].astype(np.float32)
    t0 = time.perf_counter()
    fit_head(feats[pick], y, settings, TrainContext(seed=0))
    point = rows * settings.epochs / (time.perf_counter() - t0)
    pairs = make_pairs(texts, rows)
    t0 = time.perf_counter()
    _, out = train_minilm(pairs, settings, 0, cache)
    whole = time.perf_counter() - t0
    pair = out.pairs_seen / out.loop_seconds  # the optimisation loop, as fit_head's figure
    print(
        f"minilm  Bradley–Terry head, whole call (cache look-up of {2 * rows:,} embeddings, differences, "
        f"loop): {whole:.1f} s = {out.pairs_seen / whole:,.0f} pairs/s"
    )
    print(
        f"minilm  pointwise head: {point:,.0f} examples/s | Bradley–Terry head: {pair:,.0f} pairs/s "
        f"({rows:,} rows × {settings.epochs} epochs, batch {settings.batch_size}) | ratio {pair / point:.2f}"
    )
    return point, pair


def _rate(times: list[float], per_step: int) -> float:
    """Units per second over the steps after the first (model loading and warm-up excluded)."""
    return (len(times) - 1) * per_step / max(times[-1] - times[0], 1e-9)


def bench_lm(texts: list[tuple[str, str, int]], steps: int) -> tuple[float, float] | None:
    from sandwich.classifiers.backbones import TrainContext
    from sandwich.classifiers.bt_reward import train_lm
    from sandwich.classifiers.data import Example
    from sandwich.classifiers.lm_reward import train_reward_model
    from sandwich.classifiers.settings import TrainSettings
    from sandwich.errors import SandwichError

    ex = [Example(f"x{k}", f"x{k}", g, "train", t, b) for k, (g, t, b) in enumerate(texts[:64])]
    pairs = make_pairs(texts, 64)
    base = TrainSettings(backbone="lm-reward", batch_size=16, lm_epochs=1, objective="pointwise")
    per_step = base.batch_size // 4
    point_t: list[float] = []
    ctx = TrainContext(seed=0, all_examples=ex, progress=lambda d, t: point_t.append(time.perf_counter()))
    try:
        train_reward_model(ex, [float(e.bad or 0) for e in ex], replace(base, max_steps=steps + 1), ctx)
        _, out = train_lm(pairs, replace(base, max_steps=steps + 1), 0)
    except SandwichError as e:
        print(f"lm-reward: skipped ({e.message})")
        return None
    point, pair = _rate(point_t, per_step), _rate(out.step_times, per_step)
    print(
        f"lm-reward pointwise: {point:.2f} examples/s | Bradley–Terry: {pair:.2f} pairs/s "
        f"({2 * pair:.2f} sequences/s; {per_step} per step, ≤{base.lm_max_length} tokens, {steps} steps) | "
        f"ratio {pair / point:.2f}"
    )
    return point, pair


def replace(settings, **kw):  # dataclasses.replace, kept short in the lambdas above
    from dataclasses import replace as _replace

    return _replace(settings, **kw)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the target machine has 2 cores)")
    ap.add_argument("--texts", type=int, default=256, help="distinct candidate texts")
    ap.add_argument("--rows", type=int, default=10_000, help="examples / pairs for the minilm heads")
    ap.add_argument("--steps", type=int, default=3, help="timed optimiser steps for lm-reward")
    ap.add_argument("--skip-lm", action="store_true", help="skip lm-reward (slow on CPU)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    print(device_line(args.threads))
    texts = candidate_texts(args.texts)
    with tempfile.TemporaryDirectory() as cache:
        rows = [("minilm", *bench_minilm(texts, args.rows, Path(cache)))]
    if not args.skip_lm and (lm := bench_lm(texts, args.steps)) is not None:
        rows.append(("lm-reward", *lm))
    print("\nbackbone    pointwise examples/s   Bradley–Terry pairs/s   pairs/s ÷ examples/s")
    for name, point, pair in rows:
        print(f"{name:<11} {point:>20,.2f} {pair:>23,.2f} {pair / point:>22.2f}")


if __name__ == "__main__":
    main()
