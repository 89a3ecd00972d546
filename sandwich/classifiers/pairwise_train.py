"""`sandwich train` on a pairwise study: one Bradley–Terry reward model per (label source, seed), resumable.

A run lives in ``<runs>/<source>/<backbone>-seed<k>[-matched]/`` as for pointwise classifiers: ``config.json``,
the learned weights, ``scores.json`` (P(A ≻ B) on every held-out gold pair), ``rewards.json`` (the reward of
every held-out best-of-n candidate) and ``metrics.json`` (a :class:`RunRecord`), written last — a run whose
metrics file has the same config and data hashes is reused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sandwich.classifiers.bt_reward import PAIR_BACKBONES, p_first, train_reward
from sandwich.classifiers.pair_eval import Candidate, pair_metrics
from sandwich.classifiers.preferences import (
    EXPERT,
    GOLD_ALIAS,
    GoldPair,
    PreferenceSet,
    check_source,
    default_sources,
    gold_pairs_from_store,
    held_out_pairs,
    judgments_from_store,
    preference_set,
)
from sandwich.classifiers.settings import TrainSettings
from sandwich.classifiers.training import RunRecord, _write_json, default_runs_dir, settings_from_study, source_slug
from sandwich.errors import SandwichError

TrainProgress = Callable[[str, int, int], None]


@dataclass
class PairwiseData:
    """A pairwise study as the reward models see it: gold pairs, best-of-n candidates, preference sets."""

    study: str
    pairs: list[GoldPair]
    candidates: list[Candidate]
    sets: dict[str, PreferenceSet]
    floor: str  # the weak source: the baseline condition's judgments
    notes: list[str] = field(default_factory=list)

    @property
    def test(self) -> list[GoldPair]:
        """Held-out gold pairs."""
        return held_out_pairs(self.pairs)


def candidates_from_pairs(pairs: Sequence[GoldPair]) -> tuple[list[Candidate], str | None]:
    """The distinct responses of each held-out prompt, for best-of-n.

    When every held-out pair carries per-response hidden-test counts (humaneval-pairs: ``passed_a``/``passed_b``
    of ``tests``, run in the sandbox at create), a candidate passes when it passes every hidden test — the
    HumanEval pass rate of the top pick. Otherwise a response counts as passing when it never loses a gold pair
    (it is at least as good as every response it is paired with); the note says which rule was used."""
    test = held_out_pairs(pairs)
    counted = bool(test) and all(p.tests and p.passed_a is not None and p.passed_b is not None for p in test)
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for p in test:
        for side, text, n in (("A", p.response_a, p.passed_a), ("B", p.response_b, p.passed_b)):
            c = seen.setdefault((p.problem_id, text), {"prompt": p.prompt, "lost": False, "all": True})
            c["lost"] |= p.gold != side
            if counted:
                c["all"] &= n == p.tests
    cands = [
        Candidate(f"{pid}#{k}", pid, "test", c["prompt"], text, c["all"] if counted else not c["lost"])
        for k, ((pid, text), c) in enumerate(sorted(seen.items()))
    ]
    if not cands:
        return cands, None
    if counted:
        return cands, (
            "best-of-n: a candidate passes when it passes every hidden test in the sandbox (per-response "
            "counts kept with gold, lead side)."
        )
    return cands, (
        "best-of-n: a candidate passes when it loses no gold pair (the pairs carry no per-response test results)."
    )


def load_pairwise_data(svc: Any, sources: Sequence[str] | None = None) -> PairwiseData:
    """Read a pairwise study's pairs and judgments from its store, and build each label source's preferences.

    `sources` None: the study's `classifiers.train_on` when set, else expert plus every condition (each kind of
    overseer apart, per judgment and Bradley–Terry aggregated) that has judgments. The floor is the baseline
    condition, unsuffixed, as for pointwise classifiers. Raises SandwichError for an unknown source name.
    """
    from sandwich.analysis.sources import planned_sources

    pairs = gold_pairs_from_store(svc)
    judgments = judgments_from_store(svc)
    names = [c.name for c in svc.study.conditions]
    planned = planned_sources(None, svc.study)
    if sources is None:
        listed = list(svc.study.classifiers.train_on)
        sources = default_sources(names, judgments, planned) if listed == [EXPERT] else listed
    for s in sources:
        check_source(s, names)
    wanted = list(dict.fromkeys([EXPERT if s == GOLD_ALIAS else s for s in sources]))
    cands, note = candidates_from_pairs(pairs)
    return PairwiseData(
        svc.study.study,
        pairs,
        cands,
        {s: preference_set(pairs, judgments, s, planned) for s in wanted},
        svc.study.baseline_condition,
        [note] if note else [],
    )


def subsample_pairs(ps: PreferenceSet, n_pairs: int, seed: int) -> PreferenceSet:
    """The rows of `n_pairs` distinct pairs drawn without replacement (seeded); every judgment of a pair kept."""
    ids = sorted({r.pair_id for r in ps.rows})
    if len(ids) <= n_pairs:
        return ps
    keep = set(np.random.default_rng([seed, 7919]).choice(ids, n_pairs, replace=False).tolist())
    return PreferenceSet(ps.source, [r for r in ps.rows if r.pair_id in keep], ps.n_judgments, ps.notes)


def run_pairwise(
    data: PairwiseData,
    ps: PreferenceSet,
    settings: TrainSettings,
    seed: int,
    run_dir: Path | None,
    *,
    cache_dir: Path | None = None,
    force: bool = False,
    subsample: int | None = None,
) -> RunRecord:
    """Train and evaluate one reward model on one source's preferences; reuse a finished run."""
    if subsample:
        ps = subsample_pairs(ps, subsample, seed)
    rec = RunRecord(
        ps.source,
        settings.backbone,
        seed,
        "trained",
        str(run_dir) if run_dir else None,
        n_train=ps.n_pairs,
        n_judgments=ps.n_judgments,
        data_hash=ps.data_hash() + (f"-matched{subsample}" if subsample else ""),
        config_hash=settings.config_hash(),
        notes=list(ps.notes or []),
        matched=subsample or 0,
    )
    if not ps.rows:
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
                "source": ps.source,
                "backbone": settings.backbone,
                "seed": seed,
                "settings": settings.to_dict(),
                "config_hash": rec.config_hash,
                "data_hash": rec.data_hash,
                "n_train": rec.n_train,
                "train_pairs": sorted({r.pair_id for r in ps.rows}),
            },
        )
    t0 = time.perf_counter()
    model, _ = train_reward(ps.rows, settings, seed, cache_dir)
    test = data.test
    p = (
        p_first(model, [x.prompt for x in test], [x.response_a for x in test], [x.response_b for x in test])
        if test
        else np.zeros(0)
    )
    cands = data.candidates
    r = model.rewards([c.prompt for c in cands], [c.response for c in cands]) if cands else np.zeros(0)
    rec.seconds = time.perf_counter() - t0
    rec.train_losses = [float(x) for x in model.losses]
    rec.metrics = pair_metrics(np.array([int(x.gold == "A") for x in test]), p) if test else {}
    if run_dir is not None:
        model.save(run_dir)
        _write_json(run_dir / "scores.json", {x.pair_id: float(v) for x, v in zip(test, p, strict=True)})
        _write_json(run_dir / "rewards.json", {c.candidate_id: float(v) for c, v in zip(cands, r, strict=True)})
        _write_json(run_dir / "metrics.json", asdict(rec))
    return rec


def train_pairwise(
    data: PairwiseData,
    settings: TrainSettings,
    seeds: Sequence[int],
    root: Path,
    *,
    force: bool = False,
    matched: bool = True,
    progress: TrainProgress | None = None,
) -> list[RunRecord]:
    """Every (source × seed) reward model; with `matched`, every larger source also at the smallest source's
    number of pairs (seeded subsamples, run folder `…-matched`), for PGR at matched training sizes."""
    if settings.backbone not in PAIR_BACKBONES:
        raise SandwichError(
            f"Backbone {settings.backbone!r} has no pairwise reward model.",
            hint=f"Use one of: {', '.join(PAIR_BACKBONES)}.",
        )
    jobs: list[tuple[PreferenceSet, int, int | None]] = [(ps, s, None) for ps in data.sets.values() for s in seeds]
    if matched:
        positive = [ps.n_pairs for ps in data.sets.values() if ps.n_pairs > 0]
        n_match = min(positive) if positive else 0
        jobs += [(ps, s, n_match) for ps in data.sets.values() for s in seeds if ps.n_pairs > n_match > 0]
    out = []
    for n, (ps, seed, sub) in enumerate(jobs):
        if progress:
            progress("runs", n, len(jobs))
        run_dir = root / source_slug(ps.source) / (f"{settings.backbone}-seed{seed}" + ("-matched" if sub else ""))
        out.append(
            run_pairwise(data, ps, settings, seed, run_dir, cache_dir=root / "cache", force=force, subsample=sub)
        )
    if progress:
        progress("runs", len(jobs), len(jobs))
    return out


def train_pairwise_study(
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
    """`sandwich train` for a pairwise study (the arguments of `training.train_study`)."""
    from sandwich.service import StudyService

    with StudyService(db_path, read_only=True) as svc:
        study = svc.study
        data = load_pairwise_data(svc, sources)
    settings = settings_from_study(study, backbone=backbone, **overrides)
    if backbone is None and settings.backbone not in PAIR_BACKBONES:
        settings = replace(settings, backbone="minilm")
    root = Path(runs_dir) if runs_dir else default_runs_dir(db_path, study.study)
    return train_pairwise(
        data,
        settings,
        list(seeds if seeds is not None else study.classifiers.seeds),
        root,
        force=force,
        matched=matched,
        progress=progress,
    )
