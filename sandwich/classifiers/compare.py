"""`compare_study`: every label source's classifiers against the expert-trained ceiling and the unassisted floor.

Per source: accuracy, AUROC and ECE (mean and spread over seeds); PGR in each
metric with a CI over seeds and a bootstrap CI over test problems; the
high-stakes view (coverage at 99% / 99.9% precision on the bad class, missed
bad items at a fixed coverage, with what the test set can resolve); and
best-of-n reranking of each held-out problem's candidates.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from sandwich.classifiers import evaluate as ev
from sandwich.classifiers.data import Example, held_out, load_examples
from sandwich.classifiers.training import RunRecord, default_runs_dir, load_runs, load_scores
from sandwich.errors import SandwichError

PRECISIONS = (0.99, 0.999)


@dataclass
class SourceSummary:
    """Everything `compare` reports about one label source's classifiers."""

    source: str
    role: str  # ceiling | floor | source
    seeds: list[int]
    n_train: int
    n_judgments: int
    metrics: dict[str, dict[str, float]]  # metric -> {mean, sd}
    pgr: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> mean, seed_lo/hi, boot_lo/hi
    high_stakes: dict[str, Any] = field(default_factory=dict)
    best_of_n: dict[str, float] = field(default_factory=dict)
    curve: dict[str, list[float]] = field(default_factory=dict)  # risk–coverage of the seed ensemble
    # PGR with every source trained on the same number of items (mean, seed_lo, seed_hi per metric)
    pgr_matched: dict[str, dict[str, float]] = field(default_factory=dict)
    n_train_matched: int = 0


@dataclass
class ComparisonResult:
    """The comparison: summaries per source, notes, plot files, and a rich table to print."""

    study: str
    backbone: str
    floor: str
    ceiling: str
    n_test: int
    n_test_bad: int
    n_groups: int
    fixed_coverage: float
    summaries: list[SourceSummary]
    notes: list[str]
    plots: dict[str, str] = field(default_factory=dict)
    out_dir: str | None = None
    simulated_judgments: int = 0  # > 0: labels came (partly) from simulated overseers — SYNTHETIC
    conditions: list[str] = field(default_factory=list)  # baseline first, then study order: plot colours

    @property
    def table(self) -> Any:
        """The comparison as rich renderables (print with a rich Console)."""
        from sandwich.classifiers.report import render_tables

        return render_tables(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN becomes null)."""

        def clean(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list):
                return [clean(v) for v in x]
            return x

        return clean(asdict(self))


def _seed_ci(values: list[float]) -> tuple[float, float]:
    v = [x for x in values if math.isfinite(x)]
    if len(v) < 2:
        return float("nan"), float("nan")
    m, se = float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(len(v)))
    h = float(stats.t.ppf(0.975, len(v) - 1)) * se
    return m - h, m + h


def _scores_for(runs: list[RunRecord], test: list[Example]) -> dict[int, np.ndarray]:
    out = {}
    for r in runs:
        s = load_scores(r)
        missing = [e.example_id for e in test if e.example_id not in s]
        if missing:
            raise SandwichError(
                f"Run {r.path} has no score for test example {missing[0]}: it predates the study's current items.",
                hint="Re-train with `sandwich train STUDY --force`.",
            )
        out[r.seed] = np.array([s[e.example_id] for e in test])
    return out


def compare_study(
    db_path: str | Path,
    out_dir: str | Path | None = None,
    *,
    backbone: str | None = None,
    runs_dir: str | Path | None = None,
    n_boot: int = 1000,
    fixed_coverage: float = 0.5,
    seed: int = 0,
) -> ComparisonResult:
    """Compare the trained classifiers of a study; write JSON and PNG plots into `out_dir` when given."""
    from sandwich.service import StudyService

    with StudyService(db_path, read_only=True) as svc:
        study = svc.study
        examples = load_examples(svc)
        simulated = svc.store.count_judgments(simulated=True)
    root = Path(runs_dir) if runs_dir else default_runs_dir(db_path, study.study)
    runs = load_runs(root)
    if not runs:
        raise SandwichError(
            f"No trained classifiers for study {study.study!r} in {root}.",
            hint="Train them first: sandwich train STUDY (see `sandwich train --help`).",
        )
    backbones = sorted({r.backbone for r in runs})
    bb = backbone or (study.classifiers.backbone if study.classifiers.backbone in backbones else backbones[0])
    runs = [r for r in runs if r.backbone == bb]
    matched_runs = [r for r in runs if r.matched]
    runs = [r for r in runs if not r.matched]
    if not runs:
        raise SandwichError(
            f"No {bb} classifiers trained for this study (found: {', '.join(backbones)}).",
            hint=f"Run `sandwich train STUDY --backbone {bb}`, or pick one with --backbone.",
        )
    test = held_out(examples)
    y = np.array([e.bad for e in test])
    floor, ceiling = study.baseline_condition, "expert"
    order = [s for s in dict.fromkeys(["expert", floor, *study.classifiers.train_on, *(r.source for r in runs)])]
    by_source = {s: sorted([r for r in runs if r.source == s], key=lambda r: r.seed) for s in order}
    by_source = {s: rs for s, rs in by_source.items() if rs}
    scores = {s: _scores_for(rs, test) for s, rs in by_source.items()}
    notes: list[str] = []
    boots = ev.group_bootstrap(test, n_boot, seed)
    # metric of every (source, seed) in every bootstrap replicate, computed once and shared by all PGRs
    boot_metric: dict[str, dict[str, np.ndarray]] = {}
    for s, sc in scores.items():
        arr = np.array([[[ev.metrics(y[b], p[b])[m] for m in ev.METRICS] for b in boots] for p in sc.values()])
        with np.errstate(all="ignore"):
            mean = np.nanmean(arr, axis=0)  # over seeds: replicates × metrics
        boot_metric[s] = {m: mean[:, k] for k, m in enumerate(ev.METRICS)}
    point = {s: {m: [ev.metrics(y, p)[m] for p in sc.values()] for m in ev.METRICS} for s, sc in scores.items()}
    summaries = []
    for s, rs in by_source.items():
        role = "ceiling" if s == ceiling else "floor" if s == floor else "source"
        summ = SourceSummary(
            s,
            role,
            [r.seed for r in rs],
            rs[0].n_train,
            rs[0].n_judgments,
            {
                m: {"mean": float(np.nanmean(v)), "sd": float(np.nanstd(v, ddof=1)) if len(v) > 1 else float("nan")}
                for m, v in point[s].items()
            },
        )
        if floor in scores and ceiling in scores:
            for m in ev.METRICS:
                per_seed = [
                    ev.pgr(
                        ev.metrics(y, scores[s][k])[m],
                        ev.metrics(y, scores[floor][k])[m],
                        ev.metrics(y, scores[ceiling][k])[m],
                    )
                    for k in scores[s]
                    if k in scores[floor] and k in scores[ceiling]
                ]
                gap = np.array(
                    [
                        ev.pgr(a, f, c)
                        for a, f, c in zip(
                            boot_metric[s][m], boot_metric[floor][m], boot_metric[ceiling][m], strict=True
                        )
                    ]
                )
                gap = gap[np.isfinite(gap)]
                lo, hi = _seed_ci(per_seed)
                summ.pgr[m] = {
                    "mean": ev.pgr(summ_mean(point, s, m), summ_mean(point, floor, m), summ_mean(point, ceiling, m)),
                    "seed_lo": lo,
                    "seed_hi": hi,
                    "boot_lo": float(np.percentile(gap, 2.5)) if len(gap) else float("nan"),
                    "boot_hi": float(np.percentile(gap, 97.5)) if len(gap) else float("nan"),
                }
        ens = np.mean(list(scores[s].values()), axis=0)
        summ.high_stakes = {f"coverage@{t}": ev.coverage_at_precision(y, ens, t) for t in PRECISIONS}
        summ.high_stakes["fnr@coverage"] = ev.fnr_at_coverage(y, ens, fixed_coverage)
        cov, risk = ev.risk_coverage(y, ens)
        summ.curve = {"coverage": cov.tolist(), "risk": risk.tolist()}
        per_seed_bon = [ev.best_of_n(test, p, seed)["pass_rate"] for p in scores[s].values()]
        summ.best_of_n = {
            **ev.best_of_n(test, ens, seed),
            "pass_rate_mean": float(np.mean(per_seed_bon)),
            "pass_rate_sd": float(np.std(per_seed_bon, ddof=1)) if len(per_seed_bon) > 1 else float("nan"),
        }
        for r in rs[:1]:
            notes.extend(f"{s}: {n}" for n in r.notes)
        summaries.append(summ)
    notes += _matched_pgr(summaries, by_source, matched_runs, test, y, floor, ceiling)
    notes += _gap_notes(point, floor, ceiling, scores)
    n_groups = len({e.group for e in test})
    if n_groups < 30:
        notes.append(
            f"Only {len(test)} held-out examples in {n_groups} groups: every interval here is wide, and a PGR "
            "above 1 or below 0 is noise until the study has more test problems."
        )
    if (note := ev.resolution_note(int(y.sum()), PRECISIONS)) is not None:
        notes.append(note)
    result = ComparisonResult(
        study.study,
        bb,
        floor,
        ceiling,
        len(test),
        int(y.sum()),
        len({e.group for e in test}),
        fixed_coverage,
        summaries,
        notes,
        simulated_judgments=simulated,
        conditions=[study.baseline_condition, *(c.name for c in study.conditions)],
    )
    if out_dir is not None:
        from sandwich.classifiers.report import write_plots

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result.out_dir = str(out)
        result.plots = write_plots(result, out)
        (out / "classifiers.json").write_text(json.dumps(result.to_dict(), indent=2))
    return result


def _matched_pgr(
    summaries: list[SourceSummary],
    by_source: dict[str, list[RunRecord]],
    matched_runs: list[RunRecord],
    test: list[Example],
    y: np.ndarray,
    floor: str,
    ceiling: str,
) -> list[str]:
    """PGR with every source at the smallest source's training size (Burns et al. 2023's PGR, compared at
    matched label quantity): a source already at that size uses its own runs, larger ones their subsampled
    runs. Fills `pgr_matched` and returns notes."""
    if not matched_runs or floor not in by_source or ceiling not in by_source:
        return []
    n_match = min(r.matched for r in matched_runs)
    at_size: dict[str, list[RunRecord]] = {}
    for s, rs in by_source.items():
        sub = sorted([r for r in matched_runs if r.source == s and r.matched == n_match], key=lambda r: r.seed)
        # no subsampled runs: the source is the smallest one, so its own runs are at the matched size
        at_size[s] = sub if sub else ([] if any(r.source == s for r in matched_runs) else rs)
    point = {
        s: {m: [ev.metrics(y, p)[m] for p in _scores_for(rs, test).values()] for m in ev.METRICS}
        for s, rs in at_size.items()
        if rs
    }
    if floor not in point or ceiling not in point:
        return [
            ("PGR at matched sizes: the floor or the ceiling has no run at the matched size; re-run `sandwich train`.")
        ]
    for summ in summaries:
        if summ.source not in point:
            continue
        summ.n_train_matched = n_match
        for m in ev.METRICS:
            per_seed = [
                ev.pgr(a, f, c)
                for a, f, c in zip(point[summ.source][m], point[floor][m], point[ceiling][m], strict=False)
            ]
            lo, hi = _seed_ci(per_seed)
            summ.pgr_matched[m] = {
                "mean": ev.pgr(
                    summ_mean(point, summ.source, m), summ_mean(point, floor, m), summ_mean(point, ceiling, m)
                ),
                "seed_lo": lo,
                "seed_hi": hi,
            }
    sizes = ", ".join(f"{s.source} {s.n_train}" for s in summaries)
    return [
        (
            f"Training sizes differ ({sizes} examples): PGR is also given with every source trained on "
            f"{n_match} items (seeded subsamples), so it compares label quality rather than quantity."
        )
    ]


def summ_mean(point: dict[str, dict[str, list[float]]], source: str, metric: str) -> float:
    """Mean over seeds of one source's metric."""
    v = [x for x in point[source][metric] if math.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def _gap_notes(point: dict, floor: str, ceiling: str, scores: dict) -> list[str]:
    """Say plainly when PGR cannot be computed or means little."""
    if ceiling not in scores:
        return ["No expert-trained classifier: PGR needs the ceiling (add 'expert' to classifiers.train_on)."]
    if floor not in scores:
        return [
            f"No classifier trained on the floor condition {floor!r}: PGR needs it "
            f"(add {floor!r} to classifiers.train_on)."
        ]
    out = []
    for m in ev.METRICS:
        gap = summ_mean(point, ceiling, m) - summ_mean(point, floor, m)
        if m in ev.LOWER_IS_BETTER:
            gap = -gap
        if gap < 0.02:
            out.append(
                f"PGR in {m}: the expert-trained classifier is better than the {floor}-trained one by "
                f"{gap:+.3f} only; a ratio over so small (or negative) a gap is unstable — read the raw "
                f"{m} instead."
            )
    return out
