"""Per-condition measures and the sandwich: accuracy, calibration, time, gap closed.

Every interval comes from one set of two-way bootstrap draws (see bootstrap.py),
so differences and ratios between conditions — gap closed above all — are
computed inside each replicate and keep their correlation through shared
overseers and items.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sandwich.analysis.bootstrap import Draws, Interval, interval
from sandwich.analysis.calibration import Reliability, brier, ece_interval, reliability
from sandwich.analysis.data import EXPERT, JudgmentTable

# Below this expert − unassisted difference (or when its interval reaches it) gap closed is a ratio of noise.
GAP_MIN = 0.05
UNIT = (0.0, 1.0)


@dataclass
class GroupSummary:
    """What one condition (or the experts) achieved."""

    group: str
    judgments: int
    overseers: int
    items: int
    accuracy: Interval
    brier: Interval
    ece: float  # ECE_sweep (see calibration.py), 0..1
    time: Interval
    reliability: Reliability
    single_judgment_overseers: list[str] = field(default_factory=list)
    ece_ci: tuple[float, float] = (float("nan"), float("nan"))  # 95%, overseers resampled


@dataclass
class SandwichRow:
    """One rung of the sandwich: model alone, unassisted, an assisted condition, experts."""

    label: str
    kind: str  # model | unassisted | assisted | expert | gold
    accuracy: Interval | None
    gap: Interval | None = None
    note: str = ""


@dataclass
class Sandwich:
    """The sandwich table and whether its gap-closed ratios can be trusted."""

    rows: list[SandwichRow]
    denominator: Interval | None  # expert − unassisted
    unstable: bool
    note: str = ""


def summarize(t: JudgmentTable, draws: dict[tuple[str, str], Draws], seed: int = 0) -> list[GroupSummary]:
    """Accuracy, Brier, ECE, time per group, with 95% intervals (corrected two-way bootstrap; ECE: overseers)."""
    out = []
    for g, name in enumerate(t.groups):
        m = t.group == g
        per = np.bincount(t.overseer[m], minlength=len(t.overseers))
        singles = [t.overseers[o] for o in np.flatnonzero(per == 1)]
        rel = reliability(t.confidence[m], t.correct[m])
        ece, ece_lo, ece_hi = ece_interval(t.confidence[m], t.correct[m], t.overseer[m], seed)
        acc = interval(draws[(name, "accuracy")], bounds=UNIT)
        b = interval(draws[(name, "brier")], bounds=UNIT) if (name, "brier") in draws else None
        tm = interval(draws[(name, "time")], bounds=(0.0, np.inf)) if (name, "time") in draws else None
        out.append(
            GroupSummary(
                name,
                int(m.sum()),
                int((per > 0).sum()),
                len(np.unique(t.item[m])),
                acc,
                b if b is not None else _point(brier(t.confidence[m], t.correct[m])),
                ece,
                tm if tm is not None else _point(float(np.nanmean(t.time[m])) if m.any() else np.nan),
                rel,
                singles,
                (ece_lo, ece_hi),
            )
        )
    return out


def _point(v: float) -> Interval:
    nan = float("nan")
    return Interval(v, nan, nan, nan, nan, nan, np.array([]))


def sandwich(
    t: JudgmentTable,
    draws: dict[tuple[str, str], Draws],
    baseline: str,
    replicates: int,
    model: Draws | None = None,
    model_name: str = "model",
) -> Sandwich:
    """Model alone, unassisted, each assisted condition and experts (or gold = 100%), with gap closed."""
    rows: list[SandwichRow] = []
    if model is not None:
        rows.append(
            SandwichRow(f"model alone ({model_name})", "model", interval(model, bounds=UNIT), note="items only")
        )
    acc = {name: draws[(name, "accuracy")] for name in t.groups}
    if EXPERT in acc:
        n_exp = len(np.unique(t.overseer[t.group == t.groups.index(EXPERT)]))
        top, top_row = (
            acc[EXPERT],
            SandwichRow(
                "experts",
                "expert",
                interval(acc[EXPERT], bounds=UNIT),
                note="1 expert: CI from items only" if n_exp == 1 else "",
            ),
        )
    else:
        top = Draws.constant(1.0, replicates)
        top_row = SandwichRow("gold (no expert overseers)", "gold", interval(top), note="experts taken as always right")
    if baseline not in acc:
        rows += [SandwichRow(n, "assisted", interval(acc[n], bounds=UNIT)) for n in t.groups if n != EXPERT]
        rows.append(top_row)
        return Sandwich(
            rows, None, True, f"no judgments in the baseline condition {baseline!r}: gap closed cannot be computed"
        )
    base = acc[baseline]
    den, unstable, note = gap_denominator(draws, baseline, replicates)
    rows.append(SandwichRow(f"{baseline} (non-experts)", "unassisted", interval(base, bounds=UNIT)))
    for name in t.groups:
        if name in (baseline, EXPERT):
            continue
        gap_draws = Draws.combine(lambda a, u, e: (a - u) / (e - u), acc[name], base, top)
        gap = interval(gap_draws)
        if unstable:
            gap = Interval(gap.est, np.nan, np.nan, np.nan, np.nan, np.nan, gap.draws, gap.undefined)
        rows.append(SandwichRow(name, "assisted", interval(acc[name], bounds=UNIT), gap))
    rows.append(top_row)
    return Sandwich(rows, den, unstable, note)


def gap_denominator(draws: dict[tuple[str, str], Draws], baseline: str, replicates: int) -> tuple[Interval, bool, str]:
    """expert − unassisted accuracy (CI within −1…+1), whether gap closed is unstable, and the reason.

    The one stability rule for every gap-closed figure (sandwich table, hypotheses, plots, results.json):
    the ratio is only readable when its denominator is clearly away from zero — its estimate above GAP_MIN
    and its interval's lower end above both GAP_MIN and half the estimate (else the gap's interval runs off
    to hundreds of percent).
    """
    top = draws.get((EXPERT, "accuracy")) or Draws.constant(1.0, replicates)
    den = interval(Draws.combine(lambda e, u: e - u, top, draws[(baseline, "accuracy")]), bounds=(-1.0, 1.0))
    unstable = not np.isfinite(den.est) or den.est <= GAP_MIN or not (den.lo > max(GAP_MIN, den.est / 2))
    note = ""
    if unstable:
        note = (
            f"expert − unassisted = {den.est:+.3f} (95% CI {den.lo:+.3f} to {den.hi:+.3f}) is not clearly away "
            "from zero: gap closed is an unstable ratio here, so no interval is given. Collect more judgments "
            "or check that the task separates experts from non-experts."
        )
    return den, unstable, note


def gap_draws(draws: dict[tuple[str, str], Draws], group: str, baseline: str, replicates: int) -> Draws:
    """Gap closed by `group` as a Draws (0 for the baseline, 1 for experts/gold)."""
    top = draws.get((EXPERT, "accuracy")) or Draws.constant(1.0, replicates)
    base = draws[(baseline, "accuracy")]
    if group == baseline:
        return Draws.constant(0.0, replicates)
    a = top if group == EXPERT else draws[(group, "accuracy")]
    return Draws.combine(lambda x, u, e: (x - u) / (e - u), a, base, top)


def premise_check(sw: Sandwich, model_choices: list[str] | None, model_name: str = "model") -> list[str]:
    """What the sandwich's premise needs and these data do not show (empty when it holds).

    Sandwiching (Cotra 2021; Bowman et al. 2022) assumes the model alone beats unassisted non-experts and falls
    short of experts; otherwise "assistance closes the gap" has nothing to measure. Also flags a model that gave
    the same answer to every item: its accuracy is then that answer's base rate, not skill.
    """
    out: list[str] = []
    by_kind = {r.kind: r for r in sw.rows}
    model, base = by_kind.get("model"), by_kind.get("unassisted")
    top = by_kind.get("expert") or by_kind.get("gold")
    if model_choices is not None and len(model_choices) > 1 and len(set(model_choices)) == 1:
        out.append(
            f"Premise check: the model alone ({model_name}) gave the same answer, {model_choices[0]!r}, to "
            f"all {len(model_choices)} items; its accuracy is that answer's base rate, not skill, and help "
            "built on it says little about what a capable model could show."
        )
    if model is None or model.accuracy is None or not np.isfinite(model.accuracy.est):
        out.append(
            "Premise check not done: no model-alone answers (run `sandwich simulate` with its model-alone "
            "step) — nothing shows that the model sits between non-experts and experts."
        )
        return out
    m = model.accuracy.est
    if base is not None and base.accuracy is not None and np.isfinite(base.accuracy.est) and m <= base.accuracy.est:
        out.append(
            f"Premise check: the model alone ({100 * m:.1f}%) is not above unassisted non-experts "
            f"({100 * base.accuracy.est:.1f}%); the sandwich assumes it is, so help from it cannot be "
            "expected to close the gap."
        )
    if top is not None and top.accuracy is not None and np.isfinite(top.accuracy.est) and m >= top.accuracy.est:
        out.append(
            f"Premise check: the model alone ({100 * m:.1f}%) is not below the {top.label} "
            f"({100 * top.accuracy.est:.1f}%); the sandwich assumes experts know better than the model."
        )
    return out
