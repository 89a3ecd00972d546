"""`sandwich compare` on a pairwise study: each label source's reward models against the gold-trained ceiling
and the unassisted floor, on held-out gold pairs (held out by prompt).

Per source: preference accuracy (mean over seeds; a t interval over seeds; a bootstrap interval over test
prompts), AUROC and ECE of P(A ≻ B) with the seed ensemble's reliability diagram; PGR in preference accuracy
(Burns et al. 2023: (source − floor) / (ceiling − floor)) raw and at matched training sizes; coverage at 99%
precision on "A is wrong"; best-of-n pass rate of the top pick against random choice and the gold-trained
model.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sandwich.classifiers import pair_eval as pe
from sandwich.classifiers.compare import _seed_ci
from sandwich.classifiers.evaluate import pgr, resolution_note
from sandwich.classifiers.pairwise_train import PairwiseData
from sandwich.classifiers.preferences import EXPERT as GOLD  # the ceiling: trained on gold
from sandwich.classifiers.training import RunRecord, default_runs_dir, load_runs
from sandwich.errors import SandwichError


@dataclass
class PairSummary:
    """What `compare` reports about one label source's reward models."""

    source: str
    role: str  # ceiling | floor | source
    seeds: list[int]
    n_train: int
    n_judgments: int
    accuracy: dict[str, float]  # mean, sd, seed_lo/hi, boot_lo/hi
    auroc: float
    ece: float
    reliability: list[dict[str, float]]
    pgr: dict[str, float] = field(default_factory=dict)  # mean, seed_lo/hi, boot_lo/hi
    pgr_matched: dict[str, float] = field(default_factory=dict)  # mean, seed_lo/hi
    n_train_matched: int = 0
    high_stakes: dict[str, Any] = field(default_factory=dict)
    best_of_n: dict[str, float] = field(default_factory=dict)


@dataclass
class PairComparison:
    """The comparison of a pairwise study's reward models."""

    study: str
    backbone: str
    floor: str
    ceiling: str
    n_test: int
    n_prompts: int
    summaries: list[PairSummary]
    notes: list[str]
    out_dir: str | None = None
    plots: dict[str, str] = field(default_factory=dict)

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

    @property
    def table(self) -> Any:
        """The comparison as rich renderables."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        t = Table(
            title=f"Bradley–Terry reward models ({self.backbone}) on {self.n_test} held-out gold pairs "
            f"({self.n_prompts} prompts)",
            show_edge=False,
            title_justify="left",
        )
        for col in (
            "source",
            "role",
            "pairs",
            "pref. acc",
            "95% CI seeds",
            "95% CI prompts",
            "ECE",
            "PGR",
            "PGR matched",
            "cov@99%",
            "best-of-n",
            "random",
        ):
            t.add_column(col, justify="left" if col in ("source", "role") else "right", no_wrap=True)

        def f(x: float | None, d: int = 3) -> str:
            return "–" if x is None or not math.isfinite(x) else f"{x:.{d}f}"

        for s in self.summaries:
            a = s.accuracy
            t.add_row(
                s.source,
                s.role,
                str(s.n_train),
                f(a["mean"]),
                f"{f(a['seed_lo'])}–{f(a['seed_hi'])}",
                f"{f(a['boot_lo'])}–{f(a['boot_hi'])}",
                f(s.ece),
                f(s.pgr.get("mean"), 2),
                f(s.pgr_matched.get("mean"), 2),
                f(s.high_stakes.get("coverage"), 2),
                f(s.best_of_n.get("pass_rate")),
                f(s.best_of_n.get("random")),
            )
        return Group(t, *[Text(f"· {n}") for n in self.notes])


def _load(rs: list[RunRecord], name: str, keys: list[str]) -> dict[int, np.ndarray]:
    out = {}
    for r in rs:
        d = json.loads((Path(r.path or ".") / name).read_text())
        if missing := [k for k in keys if k not in d]:
            raise SandwichError(
                f"Run {r.path} has no score for {missing[0]}: it predates the study's current pairs.",
                hint="Re-train with `sandwich train STUDY --force`.",
            )
        out[r.seed] = np.array([d[k] for k in keys])
    return out


def compare_pairwise(
    data: PairwiseData,
    runs: list[RunRecord],
    *,
    backbone: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    out_dir: Path | None = None,
) -> PairComparison:
    """Compare trained reward models (`runs`, from `load_runs`) on the data's held-out gold pairs."""
    if not runs:
        raise SandwichError(
            f"No trained reward models for study {data.study!r}.", hint="Train them first: sandwich train STUDY."
        )
    bbs = sorted({r.backbone for r in runs})
    bb = backbone or ("minilm" if "minilm" in bbs else bbs[0])
    if bb not in bbs:
        raise SandwichError(
            f"No {bb} reward models are trained for study {data.study!r} (trained: {', '.join(bbs)}).",
            hint=f"Train them first: sandwich train STUDY --backbone {bb}; or compare --backbone {bbs[0]}.",
        )
    runs = [r for r in runs if r.backbone == bb]
    test = data.test
    if not test:
        raise SandwichError("The study has no held-out gold pairs to score reward models on.")
    ids, y = [p.pair_id for p in test], np.array([int(p.gold == "A") for p in test])
    cids = [c.candidate_id for c in data.candidates]
    order = list(dict.fromkeys([GOLD, data.floor, *data.sets, *(r.source for r in runs)]))
    full = {s: sorted([r for r in runs if r.source == s and not r.matched], key=lambda r: r.seed) for s in order}
    full = {s: rs for s, rs in full.items() if rs}
    scores = {s: _load(rs, "scores.json", ids) for s, rs in full.items()}
    boots = pe.problem_bootstrap([p.problem_id for p in test], n_boot, seed)
    # seed-mean accuracy of every source in every replicate, shared by the CIs and the PGR interval
    boot_acc = {
        s: np.array([np.mean([pe.preference_accuracy(y[b], p[b]) for p in sc.values()]) for b in boots])
        for s, sc in scores.items()
    }
    acc = {s: {k: pe.preference_accuracy(y, p) for k, p in sc.items()} for s, sc in scores.items()}
    notes = list(data.notes)
    summaries = []
    for s, rs in full.items():
        v = list(acc[s].values())
        lo, hi = _seed_ci(v)
        lo, hi = max(lo, 0.0), min(hi, 1.0)  # a t interval over few seeds can pass an accuracy's bounds
        ens = np.mean(list(scores[s].values()), axis=0)
        m = pe.pair_metrics(y, ens)
        summ = PairSummary(
            s,
            "ceiling" if s == GOLD else "floor" if s == data.floor else "source",
            [r.seed for r in rs],
            rs[0].n_train,
            rs[0].n_judgments,
            {
                "mean": float(np.mean(v)),
                "sd": float(np.std(v, ddof=1)) if len(v) > 1 else math.nan,
                "seed_lo": lo,
                "seed_hi": hi,
                "boot_lo": float(np.percentile(boot_acc[s], 2.5)),
                "boot_hi": float(np.percentile(boot_acc[s], 97.5)),
            },
            m["auroc"],
            m["ece"],
            pe.reliability(y, ens),
            high_stakes=pe.high_stakes(y, ens),
        )
        if GOLD in acc and data.floor in acc:
            per_seed = [
                pgr(acc[s][k], acc[data.floor][k], acc[GOLD][k])
                for k in acc[s]
                if k in acc[data.floor] and k in acc[GOLD]
            ]
            gap = np.array(
                [pgr(a, f, c) for a, f, c in zip(boot_acc[s], boot_acc[data.floor], boot_acc[GOLD], strict=True)]
            )
            gap = gap[np.isfinite(gap)]
            lo, hi = _seed_ci(per_seed)
            summ.pgr = {
                "mean": pgr(
                    summ.accuracy["mean"],
                    float(np.mean(list(acc[data.floor].values()))),
                    float(np.mean(list(acc[GOLD].values()))),
                ),
                "seed_lo": lo,
                "seed_hi": hi,
                "boot_lo": float(np.percentile(gap, 2.5)) if len(gap) else math.nan,
                "boot_hi": float(np.percentile(gap, 97.5)) if len(gap) else math.nan,
            }
        if data.candidates:
            rew = _load(rs, "rewards.json", cids)
            per_seed_bon = [pe.best_of_n(data.candidates, r, seed)["pass_rate"] for r in rew.values()]
            summ.best_of_n = {
                **pe.best_of_n(data.candidates, np.mean(list(rew.values()), axis=0), seed),
                "pass_rate_mean": float(np.mean(per_seed_bon)),
            }
        notes.extend(f"{s}: {n}" for n in rs[0].notes)
        summaries.append(summ)
    notes += _matched(summaries, runs, full, ids, y, data.floor)
    if GOLD in full and full[GOLD] and (gold_bon := next(x for x in summaries if x.source == GOLD).best_of_n):
        for summ in summaries:
            if summ.best_of_n:
                summ.best_of_n["gold_trained"] = gold_bon["pass_rate"]
    if GOLD not in full or data.floor not in full:
        notes.append(f"PGR needs a gold-trained model and one trained on the floor source {data.floor!r}.")
    elif (floor_gap := float(np.mean(list(acc[GOLD].values())) - np.mean(list(acc[data.floor].values())))) < 0.02:
        notes.append(
            f"PGR: the gold-trained model beats the {data.floor}-trained one by {floor_gap:+.3f} in "
            "preference accuracy only; a ratio over so small (or negative) a gap is unstable — read the raw "
            "accuracies."
        )
    if (note := resolution_note(int((1 - y).sum()), (0.99,))) is not None:
        notes.append(note.replace("bad item(s)", "pairs where A is wrong"))
    n_prompts = len({p.problem_id for p in test})
    if n_prompts < 30:
        notes.append(f"Only {len(test)} held-out pairs from {n_prompts} prompts: every interval here is wide.")
    res = PairComparison(data.study, bb, data.floor, GOLD, len(test), n_prompts, summaries, notes)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        res.out_dir = str(out_dir)
        res.plots = {"reliability": str(write_reliability(res, out_dir / "preference_reliability.png"))}
        (out_dir / "reward_models.json").write_text(json.dumps(res.to_dict(), indent=2))
    return res


def write_reliability(res: PairComparison, path: Path) -> Path:
    """Reliability diagram of P(A ≻ B), one line per source (the seed ensemble), the diagonal for reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="calibrated")
    for s in res.summaries:
        pts = s.reliability
        ax.plot(
            [b["predicted"] for b in pts],
            [b["observed"] for b in pts],
            marker="o",
            ms=3,
            label=f"{s.source} (ECE {s.ece:.3f})",
        )
    ax.set(
        xlabel="predicted P(A ≻ B)",
        ylabel="share of held-out pairs where gold is A",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"Calibration of the reward models ({res.n_test} held-out pairs)",
    )
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _matched(
    summaries: list[PairSummary],
    runs: list[RunRecord],
    full: dict[str, list[RunRecord]],
    ids: list[str],
    y: np.ndarray,
    floor: str,
) -> list[str]:
    """PGR in preference accuracy with every source at the smallest source's number of training pairs."""
    matched = [r for r in runs if r.matched]
    if not matched and len({rs[0].n_train for rs in full.values()}) == 1:
        return [
            f"Every source trained on the same {next(iter(full.values()))[0].n_train} pairs: PGR is already at "
            "matched sizes."
        ]
    if not matched or floor not in full or GOLD not in full:
        return []
    n = min(r.matched for r in matched)
    at: dict[str, list[RunRecord]] = {}
    for s, rs in full.items():
        sub = [r for r in matched if r.source == s and r.matched == n]
        at[s] = sub if sub else ([] if any(r.source == s for r in matched) else rs)
    acc = {
        s: {k: pe.preference_accuracy(y, p) for k, p in _load(rs, "scores.json", ids).items()}
        for s, rs in at.items()
        if rs
    }
    if floor not in acc or GOLD not in acc:
        return ["PGR at matched sizes: the floor or the ceiling has no run at the matched size; re-run train."]
    for summ in summaries:
        if summ.source not in acc:
            continue
        summ.n_train_matched = n
        a, f, c = acc[summ.source], acc[floor], acc[GOLD]
        lo, hi = _seed_ci([pgr(a[k], f[k], c[k]) for k in a if k in f and k in c])
        summ.pgr_matched = {
            "mean": pgr(
                float(np.mean(list(a.values()))), float(np.mean(list(f.values()))), float(np.mean(list(c.values())))
            ),
            "seed_lo": lo,
            "seed_hi": hi,
        }
    return [
        f"PGR matched: every source trained on {n} pairs (seeded subsamples), so it compares label quality, "
        "not quantity."
    ]


def compare_pairwise_study(
    db_path: str | Path,
    out_dir: str | Path | None = None,
    *,
    backbone: str | None = None,
    runs_dir: str | Path | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    **_: Any,
) -> PairComparison:
    """`sandwich compare` for a pairwise study (the arguments of `compare.compare_study`)."""
    from sandwich.classifiers.pairwise_train import load_pairwise_data
    from sandwich.service import StudyService

    with StudyService(db_path, read_only=True) as svc:
        study = svc.study
        data = load_pairwise_data(svc)
    root = Path(runs_dir) if runs_dir else default_runs_dir(db_path, study.study)
    return compare_pairwise(
        data, load_runs(root), backbone=backbone, n_boot=n_boot, seed=seed, out_dir=Path(out_dir) if out_dir else None
    )
