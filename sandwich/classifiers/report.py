"""How a classifier comparison looks: rich tables for the terminal, PNG plots for the report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from sandwich.analysis.palette import REFERENCE, colour

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
    ci = [
        f"[{_f(d[a], 2)}, {_f(d[b], 2)}]" if math.isfinite(d[a]) else "–"
        for a, b in (("seed_lo", "seed_hi"), ("boot_lo", "boot_hi"))
    ]
    return [_f(d["mean"], 2), *ci]


def render_tables(r: ComparisonResult) -> Group:
    """Main table (metrics + PGR + best-of-n), high-stakes table, and notes."""
    seeds = sorted({k for s in r.summaries for k in s.seeds})
    main = Table(
        title=f"Classifiers by label source — {r.backbone}, held-out test split: {r.n_test} examples in "
        f"{r.n_groups} groups, seeds {', '.join(map(str, seeds))}",
        show_edge=False,
        title_justify="left",
    )
    main_cols: tuple[tuple[str, JustifyMethod], ...] = (
        ("source", "left"),
        ("train n", "right"),
        ("accuracy", "right"),
        ("AUROC", "right"),
        ("ECE", "right"),
        ("best-of-n pass", "right"),
    )
    for col, just in main_cols:
        main.add_column(col, justify=just, no_wrap=True)
    for s in r.summaries:
        style = "bold" if s.role != "source" else None
        main.add_row(
            s.source + {"ceiling": " (ceiling)", "floor": " (floor)"}.get(s.role, ""),
            str(s.n_train),
            _metric(s, "accuracy"),
            _metric(s, "auroc"),
            _metric(s, "ece"),
            _pct(s.best_of_n.get("pass_rate")),
            style=style,
        )
    bon = r.summaries[0].best_of_n if r.summaries else {}
    legend = Text(
        f"± sd over seeds · best-of-n: the least-suspicious candidate of each of {bon.get('groups', 0)} "
        f"held-out groups (seed ensemble); random choice passes {_pct(bon.get('random'))}, "
        f"the best possible {_pct(bon.get('oracle'))}.",
        style="dim",
    )
    gap = Table(
        title=f"Performance gap recovered: (source − {r.floor}) / (expert − {r.floor})",
        show_edge=False,
        title_justify="left",
    )
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
                extra = (
                    ["–", "–"]
                    if d is None
                    else [
                        _f(d["mean"], 2),
                        f"[{_f(d['seed_lo'], 2)}, {_f(d['seed_hi'], 2)}]" if math.isfinite(d["seed_lo"]) else "–",
                    ]
                )
            gap.add_row(s.source if n == 0 else "", label, *_pgr_cells(s, m), *extra, end_section=n == 2)
    hs = Table(
        title=f"High stakes — flag as bad, most suspicious first ({r.n_test_bad} bad of {r.n_test} test "
        "examples; seed ensemble)",
        show_edge=False,
        title_justify="left",
    )
    for col in (
        "source",
        "coverage @99% precision",
        "coverage @99.9% precision",
        f"missed bad @{r.fixed_coverage:.0%} flagged",
        "95% lower bound, precision at the 99% point",
    ):
        hs.add_column(col, justify="left" if col == "source" else "right")
    for s in r.summaries:
        c99, c999 = s.high_stakes["coverage@0.99"], s.high_stakes["coverage@0.999"]
        hs.add_row(
            s.source,
            f"{_pct(c99['coverage'])} ({c99['flagged']})",
            f"{_pct(c999['coverage'])} ({c999['flagged']})",
            _pct(s.high_stakes["fnr@coverage"]),
            _pct(c99["precision_lower95"]),
        )
    parts: list = [main, legend, Text(""), gap, Text(""), hs]
    if r.notes:
        parts += [Text("")] + [Text(f"• {n}", style="yellow") for n in r.notes]
    if r.plots:
        parts.append(Text("plots: " + ", ".join(r.plots.values()), style="dim"))
    if r.simulated_judgments:
        parts.insert(
            0,
            Text(
                f"SYNTHETIC: {r.simulated_judgments} judgments behind these labels come from simulated "
                "overseers; the classifiers describe the simulation, not people.",
                style="bold red",
            ),
        )
    return Group(*parts)


STAMP_IN = 0.32  # inches of the figure's top band the SYNTHETIC stamp takes (above any title)


def _stamp(fig: Any, r: ComparisonResult) -> float:
    """Mark a figure SYNTHETIC when any label came from a simulated overseer; the top of the free area (0–1)."""
    if not r.simulated_judgments:
        return 1.0
    fig.text(
        0.01,
        0.995,
        "SYNTHETIC — labels from simulated overseers",
        ha="left",
        va="top",
        color="#b00020",
        fontsize=9,
        fontweight="bold",
    )
    return 1 - STAMP_IN / fig.get_figheight()


def _style(s: SourceSummary, conditions: list[str]) -> dict[str, Any]:
    """A source in its condition's colour; aggregated sources (majority:…, dawid-skene:…) hatched."""
    return {"color": colour(s.source, conditions), "hatch": "//" if ":" in s.source else None}


def write_plots(r: ComparisonResult, out: Path) -> dict[str, str]:
    """classifiers.png (each source against floor and ceiling) and risk_coverage.png, in the report's colours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    names = [f"{s.source} (n={s.n_train})" for s in r.summaries]
    floor = next((s for s in r.summaries if s.role == "floor"), None)
    ceiling = next((s for s in r.summaries if s.role == "ceiling"), None)
    fig, axes = plt.subplots(1, 3, figsize=(4.2 * 3, 0.45 * len(names) + 2.9), sharey=True)
    for ax, m, label in zip(axes, ("accuracy", "auroc", "ece"), ("accuracy ↑", "AUROC ↑", "ECE ↓"), strict=True):
        for k, s in enumerate(r.summaries):
            sd = s.metrics[m]["sd"] if math.isfinite(s.metrics[m]["sd"]) else 0.0
            ax.barh(
                k,
                s.metrics[m]["mean"],
                xerr=sd,
                alpha=0.85,
                edgecolor="black",
                linewidth=0.4,
                **_style(s, r.conditions),
            )
        for ref, ls in ((ceiling, "--"), (floor, "-.")):
            if ref is not None:
                ax.axvline(ref.metrics[m]["mean"], color=colour(ref.source, r.conditions), linestyle=ls, linewidth=1)
        if m in ("accuracy", "auroc"):
            ax.axvline(0.5, color=REFERENCE, linewidth=0.8, linestyle=":")
        ax.set_title(label, fontsize=10)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
    handles = [Line2D([], [], color=REFERENCE, linestyle=":", label="chance (0.5)")]
    if ceiling is not None:
        handles.insert(
            0,
            Line2D(
                [],
                [],
                color=colour(ceiling.source, r.conditions),
                linestyle="--",
                label=f"ceiling: {ceiling.source}-trained",
            ),
        )
    if floor is not None:
        handles.insert(
            1,
            Line2D(
                [], [], color=colour(floor.source, r.conditions), linestyle="-.", label=f"floor: {floor.source}-trained"
            ),
        )
    handles.append(Line2D([], [], color="black", linewidth=1, label="± sd over seeds; n = training items"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    top = _stamp(fig, r)
    fig.suptitle(
        f"{r.study}: classifiers trained on each label source vs the expert-trained one ({r.backbone})",
        y=top - 0.01,
        va="top",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, top - 0.35 / fig.get_figheight()))
    main = out / "classifiers.png"
    fig.savefig(main, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    for s in r.summaries:
        ax.plot(
            s.curve["coverage"],
            s.curve["risk"],
            label=f"{s.source}" + {"ceiling": " (ceiling)", "floor": " (floor)"}.get(s.role, ""),
            color=colour(s.source, r.conditions),
            linewidth=2.2 if s.role != "source" else 1.3,
            linestyle="--" if ":" in s.source else "-",
        )
    ax.set_xlabel("coverage (share of test examples answered, most confident first)")
    ax.set_ylabel("risk (error rate among answered)")
    ax.set_title(f"Risk–coverage on the held-out split (n={r.n_test})", fontsize=10)
    ax.axhline(0.01, color=REFERENCE, linewidth=0.7, linestyle=":", label="1% risk")
    ax.legend(fontsize=8)
    top = _stamp(fig, r)
    fig.tight_layout(rect=(0, 0, 1, top))
    rc = out / "risk_coverage.png"
    fig.savefig(rc, dpi=110)
    plt.close(fig)
    return {"classifiers": str(main), "risk_coverage": str(rc)}
