"""PNG plots for the report (matplotlib, Agg): sandwich bars, reliability diagram, overseers, hypotheses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from sandwich.analysis.result import AnalysisResult

COLOURS = {"model": "#8c8c8c", "unassisted": "#d62728", "assisted": "#1f77b4", "expert": "#2ca02c", "gold": "#2ca02c"}


def _finish(fig: plt.Figure, res: AnalysisResult, path: Path) -> Path:
    """Stamp SYNTHETIC in the figure's top band (clear of the data), lay out, save, close."""
    top = 1.0
    if res.synthetic:
        fig.text(0.01, 0.995, "SYNTHETIC — simulated overseers", ha="left", va="top", color="#b00020",
                 fontsize=9, fontweight="bold")
        top = 1 - 0.3 / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path)
    plt.close(fig)
    return path


def sandwich_plot(res: AnalysisResult, path: Path) -> Path | None:
    """Accuracy per rung with 95% CIs; gap closed written above each assisted bar."""
    if res.sandwich is None or not res.sandwich.rows:
        return None
    rows = [r for r in res.sandwich.rows if r.accuracy is not None]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) + 2), 4.2), dpi=110)
    x = np.arange(len(rows))
    est = np.array([r.accuracy.est for r in rows]) * 100
    lo = np.array([r.accuracy.lo for r in rows]) * 100
    hi = np.array([r.accuracy.hi for r in rows]) * 100
    err = np.vstack([np.nan_to_num(est - lo), np.nan_to_num(hi - est)])
    ax.bar(x, est, color=[COLOURS[r.kind] for r in rows], yerr=err, capsize=4, edgecolor="black", linewidth=0.5)
    for k, r in enumerate(rows):
        label = f"{est[k]:.0f}%"
        if r.gap is not None:
            if np.isfinite(r.gap.est):
                label += f"\ngap {r.gap.est * 100:+.0f}%" + ("\n(unstable)" if res.sandwich.unstable else "")
        ax.text(k, min(hi[k] if np.isfinite(hi[k]) else est[k], 100) + 2, label, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [r.label for r in rows], rotation=20, ha="right", fontsize=9)
    ax.set_ylim(0, 118)
    ax.set_ylabel("accuracy vs gold (%)")
    ax.axhline(est[[r.kind for r in rows].index("unassisted")] if "unassisted" in [r.kind for r in rows] else 0,
               color=COLOURS["unassisted"], ls=":", lw=1)
    ax.set_title(f"{res.study}: the sandwich (95% two-way bootstrap CIs)", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return _finish(fig, res, path)


def reliability_plot(res: AnalysisResult, path: Path) -> Path | None:
    """Reliability diagram: observed accuracy at each stated confidence level, per condition."""
    groups = [g for g in res.groups if g.reliability.counts.sum()]
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(5.6, 5.0), dpi=110)
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfect calibration")
    for g in groups:
        r = g.reliability
        ax.plot(r.levels, r.accuracy, marker="o", lw=1.4, label=f"{g.group} (ECE {g.ece:.2f})")
        for lv, acc, n in zip(r.levels, r.accuracy, r.counts, strict=True):
            ax.annotate(f"{int(n)}", (lv, acc), textcoords="offset points", xytext=(4, -9), fontsize=7, alpha=0.8)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
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
        ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("accuracy on gold (%)")
        reason = res.reliability[0].reason
        ax.set_title("Dawid–Skene verdicts withheld:\n" + (reason[:90] + "…" if len(reason) > 90 else reason),
                     fontsize=8)
        return _finish(fig, res, path)
    fig, ax = plt.subplots(figsize=(5.4, 4.6), dpi=110)
    colours = {"signal": "#2ca02c", "weak": "#ff7f0e", "noise": "#d62728"}
    for r in rel:
        ax.scatter(r.gold_accuracy, r.ds_accuracy, color=colours[r.verdict], s=20 + 2 * r.judgments, alpha=0.8)
        ax.annotate(r.overseer, (r.gold_accuracy, r.ds_accuracy), textcoords="offset points", xytext=(4, 2),
                    fontsize=7)
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
    for v, c in colours.items():
        ax.scatter([], [], color=c, label=v)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("accuracy on gold")
    ax.set_ylabel("Dawid–Skene estimate (without gold)")
    ax.set_title("Which overseers carry signal", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return _finish(fig, res, path)


def hypotheses_plot(res: AnalysisResult, path: Path) -> Path | None:
    """Forest plot: each test's estimate and 95% CI, confirmatory and exploratory alike."""
    hs = [h for h in res.hypotheses if np.isfinite(h.estimate)]
    if not hs:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * len(hs) + 1.4), dpi=110)
    y = np.arange(len(hs))[::-1]
    for k, h in zip(y, hs, strict=True):
        colour = "#1f77b4" if h.label.startswith("confirmatory") else "#8c8c8c"  # interim ones too
        lo, hi = h.lo, h.hi   # a one-sided bound: the open end drawn as an arrow
        span = 2 * abs(h.estimate - (lo if np.isfinite(lo) else hi)) + 0.05
        lo_d = lo if np.isfinite(lo) else h.estimate - span
        hi_d = hi if np.isfinite(hi) else h.estimate + span
        if np.isfinite(lo) or np.isfinite(hi):
            ax.plot([lo_d, hi_d], [k, k], color=colour, lw=2)
            for end, d in ((lo, -1), (hi, 1)):
                if not np.isfinite(end):
                    ax.annotate("", (lo_d if d < 0 else hi_d, k), (h.estimate, k),
                                arrowprops={"arrowstyle": "->", "color": colour})
        ax.plot(h.estimate, k, "o", color=colour, mfc="white" if h.verdict != "supported" else colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_ylim(-0.6, len(hs) - 0.4)
    ax.set_yticks(y, [f"{h.id} {h.compare[0]} − {h.compare[1]} ({h.metric}, p={h.p:.3f})" for h in hs], fontsize=8)
    ax.set_xlabel("A − B with the test's interval (two-sided 95%, or one-sided bound; filled: supported at its α)")
    ax.set_title("Hypotheses (blue: confirmatory, grey: exploratory)", fontsize=10)
    return _finish(fig, res, path)


def all_plots(res: AnalysisResult, out: Path) -> list[Path]:
    """Write every plot that has data; returns the paths written."""
    made = [sandwich_plot(res, out / "sandwich.png"), reliability_plot(res, out / "reliability.png"),
            overseer_plot(res, out / "overseers.png"), hypotheses_plot(res, out / "hypotheses.png")]
    return [p for p in made if p is not None]
