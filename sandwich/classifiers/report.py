"""How a classifier comparison looks: rich tables for the terminal, PNG plots for the report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from sandwich.classifiers.compare import ComparisonResult, SourceSummary


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _metric(s: SourceSummary, m: str) -> str:
    d = s.metrics[m]
    return _f(d["mean"]) + ("" if not math.isfinite(d["sd"]) else f" ±{d['sd']:.3f}")


def _pgr_cells(s: SourceSummary, m: str) -> list[str]:
    """PGR point estimate, CI over seeds, bootstrap CI over test groups."""
    if s.role != "source" or m not in s.pgr:
        return [{"ceiling": "1", "floor": "0"}.get(s.role, "–"), "", ""]
    d = s.pgr[m]
    ci = [f"[{_f(d[a], 2)}, {_f(d[b], 2)}]" if math.isfinite(d[a]) else "–"
          for a, b in (("seed_lo", "seed_hi"), ("boot_lo", "boot_hi"))]
    return [_f(d["mean"], 2), *ci]


def render_tables(r: ComparisonResult) -> Group:
    """Main table (metrics + PGR + best-of-n), high-stakes table, and notes."""
    seeds = sorted({k for s in r.summaries for k in s.seeds})
    main = Table(title=f"Classifiers by label source — {r.backbone}, held-out test split: {r.n_test} examples in "
                       f"{r.n_groups} groups, seeds {', '.join(map(str, seeds))}", show_edge=False,
                 title_justify="left")
    for col, just in (("source", "left"), ("train n", "right"), ("accuracy", "right"), ("AUROC", "right"),
                      ("ECE", "right"), ("best-of-n pass", "right")):
        main.add_column(col, justify=just, no_wrap=True)
    for s in r.summaries:
        style = "bold" if s.role != "source" else None
        main.add_row(s.source + {"ceiling": " (ceiling)", "floor": " (floor)"}.get(s.role, ""), str(s.n_train),
                     _metric(s, "accuracy"), _metric(s, "auroc"), _metric(s, "ece"),
                     _pct(s.best_of_n.get("pass_rate")), style=style)
    bon = r.summaries[0].best_of_n if r.summaries else {}
    legend = Text(f"± sd over seeds · best-of-n: the least-suspicious candidate of each of {bon.get('groups', 0)} "
                  f"held-out groups (seed ensemble); random choice passes {_pct(bon.get('random'))}, "
                  f"the best possible {_pct(bon.get('oracle'))}.", style="dim")
    gap = Table(title=f"Performance gap recovered: (source − {r.floor}) / (expert − {r.floor})", show_edge=False,
                title_justify="left")
    # one row per source and metric keeps the table readable in an 80-column terminal
    n_match = max((s.n_train_matched for s in r.summaries), default=0)
    cols = ["source", "metric", "PGR", "95% CI seeds", "95% CI bootstrap"]
    if n_match:
        cols += [f"PGR at {n_match} items each", "95% CI seeds (matched)"]
    for col in cols:
        gap.add_column(col, justify="left" if col in ("source", "metric") else "right", no_wrap=True)
    for s in r.summaries:
        if s.role != "source":
            continue
        for n, (m, label) in enumerate((("accuracy", "accuracy"), ("auroc", "AUROC"), ("ece", "ECE"))):
            extra = []
            if n_match:
                d = s.pgr_matched.get(m)
                extra = ["–", "–"] if d is None else [_f(d["mean"], 2), f"[{_f(d['seed_lo'], 2)}, "
                                                                         f"{_f(d['seed_hi'], 2)}]"
                                                       if math.isfinite(d["seed_lo"]) else "–"]
            gap.add_row(s.source if n == 0 else "", label, *_pgr_cells(s, m), *extra, end_section=n == 2)
    hs = Table(title=f"High stakes — flag as bad, most suspicious first ({r.n_test_bad} bad of {r.n_test} test "
                     "examples; seed ensemble)", show_edge=False, title_justify="left")
    for col in ("source", "coverage @99% precision", "coverage @99.9% precision",
                f"missed bad @{r.fixed_coverage:.0%} flagged", "95% lower bound, precision at the 99% point"):
        hs.add_column(col, justify="left" if col == "source" else "right")
    for s in r.summaries:
        c99, c999 = s.high_stakes["coverage@0.99"], s.high_stakes["coverage@0.999"]
        hs.add_row(s.source, f"{_pct(c99['coverage'])} ({c99['flagged']})", f"{_pct(c999['coverage'])} "
                   f"({c999['flagged']})", _pct(s.high_stakes["fnr@coverage"]), _pct(c99["precision_lower95"]))
    parts: list = [main, legend, Text(""), gap, Text(""), hs]
    if r.notes:
        parts += [Text("")] + [Text(f"• {n}", style="yellow") for n in r.notes]
    if r.plots:
        parts.append(Text("plots: " + ", ".join(r.plots.values()), style="dim"))
    if r.simulated_judgments:
        parts.insert(0, Text(f"SYNTHETIC: {r.simulated_judgments} judgments behind these labels come from simulated "
                             "overseers; the classifiers describe the simulation, not people.", style="bold red"))
    return Group(*parts)


def _stamp(fig: Any, r: ComparisonResult) -> None:
    """Mark a figure SYNTHETIC when any label came from a simulated overseer."""
    if r.simulated_judgments:
        fig.text(0.01, 0.995, "SYNTHETIC — labels from simulated overseers", ha="left", va="top", color="#b00020",
                 fontsize=9, fontweight="bold")


def write_plots(r: ComparisonResult, out: Path) -> dict[str, str]:
    """classifiers.png (each source against floor and ceiling) and risk_coverage.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.source for s in r.summaries]
    fig, axes = plt.subplots(1, 3, figsize=(4.2 * 3, 0.45 * len(names) + 2.2), sharey=True)
    for ax, m, label in zip(axes, ("accuracy", "auroc", "ece"), ("accuracy ↑", "AUROC ↑", "ECE ↓"), strict=True):
        means = [s.metrics[m]["mean"] for s in r.summaries]
        sds = [s.metrics[m]["sd"] if math.isfinite(s.metrics[m]["sd"]) else 0.0 for s in r.summaries]
        colours = ["#2b8a3e" if s.role == "ceiling" else "#c92a2a" if s.role == "floor" else "#1c7ed6"
                   for s in r.summaries]
        ax.barh(range(len(names)), means, xerr=sds, color=colours, alpha=0.85)
        for s in r.summaries:
            if s.role in ("ceiling", "floor"):
                ax.axvline(s.metrics[m]["mean"], color="#2b8a3e" if s.role == "ceiling" else "#c92a2a",
                           linestyle="--", linewidth=1)
        if m in ("accuracy", "auroc"):
            ax.axvline(0.5, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(label)
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
    fig.suptitle(f"{r.study}: classifiers trained on each label source vs the expert-trained one ({r.backbone})")
    _stamp(fig, r)
    fig.tight_layout()
    main = out / "classifiers.png"
    fig.savefig(main, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for s in r.summaries:
        ax.plot(s.curve["coverage"], s.curve["risk"], label=s.source,
                linewidth=2.2 if s.role != "source" else 1.3,
                linestyle="--" if s.role == "floor" else "-")
    ax.set_xlabel("coverage (share of test examples answered, most confident first)")
    ax.set_ylabel("risk (error rate among answered)")
    ax.set_title(f"Risk–coverage on the held-out split (n={r.n_test})")
    ax.axhline(0.01, color="grey", linewidth=0.7, linestyle=":")
    ax.legend(fontsize=8)
    _stamp(fig, r)
    fig.tight_layout()
    rc = out / "risk_coverage.png"
    fig.savefig(rc, dpi=110)
    plt.close(fig)
    return {"classifiers": str(main), "risk_coverage": str(rc)}
