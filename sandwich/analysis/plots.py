"""PNG plots for the report (matplotlib, Agg): sandwich bars, reliability diagram, overseers, hypotheses."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sandwich.analysis.palette import REFERENCE, colour

if TYPE_CHECKING:
    from sandwich.analysis.result import AnalysisResult

STAMP_IN = 0.32  # inches of the figure's top band the SYNTHETIC stamp takes


def _finish(fig: plt.Figure, res: AnalysisResult, path: Path) -> Path:
    """Stamp SYNTHETIC in the figure's own top band (above the title, clear of the data), lay out, save, close."""
    top = 1.0
    if res.synthetic:
        fig.text(
            0.01,
            0.995,
            "SYNTHETIC — simulated overseers",
            ha="left",
            va="top",
            color="#b00020",
            fontsize=9,
            fontweight="bold",
        )
        top = 1 - STAMP_IN / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path)
    plt.close(fig)
    return path


def _rung_colour(kind: str, label: str, res: AnalysisResult) -> str:
    if kind in ("model", "expert", "gold"):
        return colour(kind, res.conditions)
    return colour(res.conditions[0] if kind == "unassisted" and res.conditions else label, res.conditions)


def _rung_n(kind: str, label: str, res: AnalysisResult) -> int | None:
    """Judgments behind a rung (None for the model alone and for gold)."""
    name = {"expert": "expert", "unassisted": res.conditions[0] if res.conditions else label}.get(kind, label)
    return next((g.judgments for g in res.groups if g.group == name), None) if kind != "model" else None


def sandwich_plot(res: AnalysisResult, path: Path) -> Path | None:
    """Accuracy per rung with 95% CIs, n in each bar; gap closed written above each assisted bar."""
    if res.sandwich is None or not res.sandwich.rows:
        return None
    rows = [r for r in res.sandwich.rows if r.accuracy is not None]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) + 2), 4.6), dpi=110)
    x = np.arange(len(rows))
    accs = [r.accuracy for r in rows if r.accuracy is not None]  # all of them: rows were filtered above
    est = np.array([a.est for a in accs]) * 100
    lo = np.array([a.lo for a in accs]) * 100
    hi = np.array([a.hi for a in accs]) * 100
    err = np.vstack([np.nan_to_num(est - lo), np.nan_to_num(hi - est)])
    ax.bar(
        x,
        est,
        color=[_rung_colour(r.kind, r.label, res) for r in rows],
        yerr=err,
        capsize=4,
        edgecolor="black",
        linewidth=0.5,
        error_kw={"label": "95% CI"},
    )
    for k, r in enumerate(rows):
        label = f"{est[k]:.0f}%"
        if r.gap is not None and np.isfinite(r.gap.est):
            label += f"\ngap {r.gap.est * 100:+.0f} pt" + ("\n(unstable)" if res.sandwich.unstable else "")
        ax.text(k, min(hi[k] if np.isfinite(hi[k]) else est[k], 100) + 2, label, ha="center", va="bottom", fontsize=8)
        n = _rung_n(r.kind, r.label, res)
        if n is not None:
            ax.text(k, 2, f"n={n}", ha="center", va="bottom", fontsize=7, color="white", fontweight="bold")
    ax.set_xticks(x, [r.label for r in rows], rotation=20, ha="right", fontsize=9)
    ax.set_ylim(0, 132)  # room above 100% for three lines of labels, below the title
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("accuracy vs gold (%)")
    kinds = [r.kind for r in rows]
    if "unassisted" in kinds:
        u = rows[kinds.index("unassisted")]
        ax.axhline(
            est[kinds.index("unassisted")],
            color=_rung_colour("unassisted", u.label, res),
            ls=":",
            lw=1,
            label="unassisted level",
        )
    ax.legend(fontsize=7, loc="upper left", ncol=2, frameon=False)
    ax.set_title(
        f"{res.study}: the sandwich (95% two-way cluster-robust CIs, small-sample calibrated; n = judgments)",
        fontsize=11,
    )
    ax.spines[["top", "right"]].set_visible(False)
    return _finish(fig, res, path)


def reliability_plot(res: AnalysisResult, path: Path) -> Path | None:
    """Reliability diagram: observed accuracy at each stated confidence level, per condition."""
    groups = [g for g in res.groups if g.reliability.counts.sum()]
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(5.6, 5.0), dpi=110)
    ax.plot([0, 1], [0, 1], color=REFERENCE, ls="--", lw=1, label="perfect calibration")
    for k, g in enumerate(groups):
        r = g.reliability
        c = colour(g.group, res.conditions)
        ax.plot(
            r.levels, r.accuracy, marker="o", lw=1.4, color=c, label=f"{g.group} (ECE {g.ece:.2f}, n={g.judgments})"
        )
        for lv, acc, n in zip(r.levels, r.accuracy, r.counts, strict=True):
            # each group's counts on its own row beside the point, so coinciding points do not overprint
            ax.annotate(f"{int(n)}", (lv, acc), textcoords="offset points", xytext=(5, 4 - 8 * k), fontsize=7, color=c)
    ax.set_xlim(0, 1.08)
    ax.set_ylim(-0.04, 1.04)
    ax.set_xlabel("stated confidence")
    ax.set_ylabel("share of judgments right")
    ax.set_title("Reliability diagram (numbers: judgments per level)", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return _finish(fig, res, path)


def overseer_plot(res: AnalysisResult, path: Path) -> Path | None:
    """Dawid–Skene's reliability estimate (no gold) against each overseer's accuracy on gold."""
    rel = [r for r in res.reliability if np.isfinite(r.ds_accuracy)]
    if not res.reliability:
        return None
    if not rel:  # no verdict the data support: show accuracy on gold alone, and say why
        fig, ax = plt.subplots(figsize=(5.4, 4.6), dpi=110)
        names = [r.overseer for r in res.reliability]
        ax.bar(np.arange(len(names)), [100 * r.gold_accuracy for r in res.reliability], color="#8c8c8c")
        for k, r in enumerate(res.reliability):
            ax.text(k, 2, f"n={r.judgments}", ha="center", va="bottom", fontsize=7, color="white")
        ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("accuracy on gold (%)")
        reason = res.reliability[0].reason
        ax.set_title("Dawid–Skene verdicts withheld:\n" + "\n".join(textwrap.wrap(reason, 70)[:3]), fontsize=8)
        return _finish(fig, res, path)
    fig, ax = plt.subplots(figsize=(5.4, 4.6), dpi=110)
    colours = {"signal": "#2ca02c", "weak": "#ff7f0e", "noise": "#d62728"}
    for r in rel:
        ax.scatter(r.gold_accuracy, r.ds_accuracy, color=colours[r.verdict], s=20 + 2 * r.judgments, alpha=0.8)
        ax.annotate(r.overseer, (r.gold_accuracy, r.ds_accuracy), textcoords="offset points", xytext=(4, 2), fontsize=7)
    ax.plot([0, 1], [0, 1], color=REFERENCE, ls="--", lw=1, label="estimate = accuracy on gold")
    for v, c in colours.items():
        ax.scatter([], [], color=c, label=v)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("accuracy on gold")
    ax.set_ylabel("Dawid–Skene estimate (without gold)")
    ax.set_title("Which overseers carry signal (dot size: judgments)", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return _finish(fig, res, path)


def _points(metric: str) -> float:
    """The table's scale: accuracy and gap closed in percentage points, other metrics as they are."""
    return 100.0 if metric in ("accuracy", "gap_closed") else 1.0


def hypotheses_plot(res: AnalysisResult, path: Path) -> Path | None:
    """Forest plot: each test's estimate and interval, in the table's unit (points for accuracy and gap closed)."""
    hs = [h for h in res.hypotheses if np.isfinite(h.estimate)]
    if not hs:
        return None
    fig, ax = plt.subplots(figsize=(6.8, 0.55 * len(hs) + 2.6), dpi=110)
    y = np.arange(len(hs))[::-1]
    for k, h in zip(y, hs, strict=True):
        colour_ = "#0072B2" if h.label.startswith("confirmatory") else "#8c8c8c"  # interim ones too
        f = _points(h.metric)
        est, lo, hi = h.estimate * f, h.lo * f, h.hi * f  # a one-sided bound: the open end drawn as an arrow
        span = 2 * abs(est - (lo if np.isfinite(lo) else hi)) + 5 * f / 100
        lo_d = lo if np.isfinite(lo) else est - span
        hi_d = hi if np.isfinite(hi) else est + span
        if np.isfinite(lo) or np.isfinite(hi):
            ax.plot([lo_d, hi_d], [k, k], color=colour_, lw=2)
            for end, d in ((lo, -1), (hi, 1)):
                if not np.isfinite(end):
                    ax.annotate(
                        "", (lo_d if d < 0 else hi_d, k), (est, k), arrowprops={"arrowstyle": "->", "color": colour_}
                    )
        ax.plot(est, k, "o", color=colour_, mfc="white" if h.verdict != "supported" else colour_)
    ax.axvline(0, color="black", lw=0.8, label="no difference")
    ax.plot([], [], "o-", color="#0072B2", label="confirmatory")
    ax.plot([], [], "o-", color="#8c8c8c", label="exploratory")
    ax.plot([], [], "o", color="black", mfc="white", label="not supported")
    ax.plot([], [], "o", color="black", label="supported at its α")
    ax.set_ylim(-0.6, len(hs) - 0.4)
    ax.set_yticks(y, [f"{h.id} {h.compare[0]} − {h.compare[1]} ({h.metric}, p={h.p:.3f})" for h in hs], fontsize=8)
    unit = "percentage points" if all(_points(h.metric) == 100 for h in hs) else "points (accuracy, gap) or raw"
    ax.set_xlabel(f"A − B ({unit}, as in the table)", fontsize=8)
    ax.set_title(
        "Hypotheses: estimate with the test's interval\n(two-sided 95%, or a one-sided bound: arrow)", fontsize=9
    )
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=3, frameon=False)
    top = 1 - STAMP_IN / fig.get_figheight() if res.synthetic else 1.0
    if res.synthetic:
        fig.text(
            0.01,
            0.995,
            "SYNTHETIC — simulated overseers",
            ha="left",
            va="top",
            color="#b00020",
            fontsize=9,
            fontweight="bold",
        )
    fig.tight_layout(rect=(0, 0.45 / fig.get_figheight(), 1, top))  # the legend's two rows below the axis
    fig.savefig(path)
    plt.close(fig)
    return path


def all_plots(res: AnalysisResult, out: Path) -> list[Path]:
    """Write every plot that has data; returns the paths written."""
    made = [
        sandwich_plot(res, out / "sandwich.png"),
        reliability_plot(res, out / "reliability.png"),
        overseer_plot(res, out / "overseers.png"),
        hypotheses_plot(res, out / "hypotheses.png"),
    ]
    return [p for p in made if p is not None]
