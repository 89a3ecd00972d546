"""Pre-registered (confirmatory) and exploratory comparisons between conditions.

Estimate = metric(A) − metric(B), read literally: for Brier, ECE and time lower
is better, so "A helps" is `alternative: less` there. Tests:
- permutation: overseers are the unit that was randomised, so condition labels
  are exchanged per overseer — an overseer who judged under both conditions has
  their two sets of judgments swapped or not (sign flip); overseers who judged
  under only one are shuffled between the two. Permuting single judgments would
  ignore that one person's judgments are correlated and reject a true null too
  often. All 2^n flips are enumerated when that is at most the permutation count.
  The statistic is studentized (difference / its two-way cluster-robust se,
  see studentized.py): counterbalanced designs put every item under both
  conditions, so item difficulty cancels in the observed difference but not in
  a relabelled one, and the raw difference's permutation distribution is too
  wide (the test rejected a true null at a fraction of its alpha).
- bootstrap: the t test of the reported interval (estimate / calibrated
  two-way cluster-robust se on its Satterthwaite df, see robust.py), so the
  test and the interval always agree.
gap_closed shares its denominator between conditions, so its permutation test
is the accuracy-difference test (same null); its estimate and CI are the
gap-closed difference from the bootstrap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from sandwich.analysis.bootstrap import Draws, interval
from sandwich.analysis.calibration import ECE_REPLICATES, ece_sweep
from sandwich.analysis.data import EXPERT, JudgmentTable
from sandwich.analysis.metrics import gap_denominator, gap_draws
from sandwich.analysis.studentized import affordable, studentized_differences
from sandwich.config import Hypothesis, Preregistration

# relabellings for an ECE test at most: each one runs the equal-mass sweep twice (~1 ms), not a sparse product
ECE_PERMUTATIONS = 1000


@dataclass
class HypothesisResult:
    """One test, reported the same way whether or not it rejects."""

    id: str
    label: str  # confirmatory | exploratory
    compare: tuple[str, str]
    metric: str
    alternative: str
    alpha: float
    test: str
    estimate: float
    lo: float
    hi: float
    p: float
    verdict: str  # "supported", "not supported", "not testable", "not testable at α"
    note: str = ""
    interval: str = "two-sided 95%"  # what lo..hi is: one-sided (1 − α) bound for greater/less
    min_p: float = float("nan")  # smallest p the test could give on these data (permutation)
    p_adjusted: float = float("nan")  # p corrected for the confirmatory family (the plan's multiplicity method)


def prereg_hash(p: Preregistration) -> str:
    """The hash `freeze_preregistration` stores for these hypotheses."""
    return hashlib.sha256(json.dumps(p.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def _group_name(name: str, t: JudgmentTable) -> str:
    return EXPERT if name == "expert" else name


def _sums(t: JudgmentTable, g: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per overseer: numerator and denominator of a ratio metric in group g."""
    v = _values(t, metric)
    m = (t.group == g) & np.isfinite(v)
    n_o = len(t.overseers)
    return (
        np.bincount(t.overseer[m], weights=v[m], minlength=n_o),
        np.bincount(t.overseer[m], minlength=n_o).astype(float),
    )


def _values(t: JudgmentTable, metric: str) -> np.ndarray:
    return {"accuracy": t.correct, "gap_closed": t.correct, "brier": t.brier, "time": t.time}[metric]


def permutation_labels(in_a: np.ndarray, in_b: np.ndarray, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """(P, overseers) booleans: True where the overseer's A and B roles are exchanged (row 0: observed).

    When the design allows at most `permutations` distinct relabellings (sign flips × which one-condition
    overseers go to A), all of them are enumerated, once each, so the p-value is the exact permutation p
    (a multiple of 1 / relabellings) rather than a noisy estimate of it — with 4 overseers per condition
    there are only C(8, 4) = 70."""
    both = np.flatnonzero(in_a & in_b)
    only = np.flatnonzero(in_a ^ in_b)
    n = len(in_a)
    if distinct_relabellings(in_a, in_b) <= permutations:
        codes = np.arange(2 ** len(both))
        flips = ((codes[:, None] >> np.arange(len(both))) & 1).astype(bool)
        was_a = in_a[only]
        groups = [np.array(c, np.int64) for c in combinations(range(len(only)), int(was_a.sum()))]
        moved = np.zeros((len(groups), len(only)), bool)
        for r, g in enumerate(groups):
            now_a = np.zeros(len(only), bool)
            now_a[g] = True
            moved[r] = now_a != was_a
        moved = moved[np.argsort(moved.any(axis=1), kind="stable")]  # the observed assignment first
        swap = np.zeros((len(codes) * len(moved), n), bool)
        swap[:, both] = np.repeat(flips, len(moved), axis=0)
        swap[:, only] = np.tile(moved, (len(codes), 1))
        return swap
    swap = np.zeros((permutations + 1, n), bool)
    swap[1:, both] = rng.random((permutations, len(both))) < 0.5
    if len(only):
        # an only-A overseer "swaps" when it is moved to B, and vice versa; keep group sizes
        was_a = in_a[only]
        shuffled = np.argsort(rng.random((permutations, len(only))), axis=1)  # one permutation per row
        swap[1:, only] = was_a[shuffled] != was_a
    return swap


def distinct_relabellings(in_a: np.ndarray, in_b: np.ndarray) -> int:
    """How many different ways the permutation test can relabel (sign flips x shuffles)."""
    from math import comb

    only = in_a ^ in_b
    return 2 ** int((in_a & in_b).sum()) * comb(int(only.sum()), int((in_a & only).sum()))


def permutation_test(
    t: JudgmentTable, a: int, b: int, metric: str, alternative: str, permutations: int, seed: int
) -> tuple[float, float]:
    """Observed difference and permutation p-value, exchanging condition labels per overseer."""
    obs, p, _ = permutation_test_floor(t, a, b, metric, alternative, permutations, seed)
    return obs, p


def smallest_p(null: np.ndarray, alternative: str) -> float:
    """The smallest p-value a permutation distribution allows: the p of its most extreme value, ties counted
    (a discrete test cannot go below it, whatever the data)."""
    null = null[np.isfinite(null)]
    if not len(null):
        return float("nan")
    extreme = {"greater": null.max(), "less": null.min()}.get(alternative, np.abs(null).max())
    return _p_value(float(extreme), null, alternative)


def permutation_test_floor(
    t: JudgmentTable, a: int, b: int, metric: str, alternative: str, permutations: int, seed: int
) -> tuple[float, float, float]:
    """Observed difference, permutation p-value and the smallest p these data allow (`smallest_p`)."""
    rng = np.random.default_rng(seed)
    if metric == "ece":
        # the reported ECE's own estimator (the equal-mass sweep) on every relabelling, so the test and the
        # per-condition table read the same number
        m = np.isin(t.group, (a, b)) & np.isfinite(t.correct) & np.isfinite(t.confidence)
        o, was_a, c, y = t.overseer[m], t.group[m] == a, t.confidence[m], t.correct[m]
        in_a = np.bincount(o[was_a], minlength=len(t.overseers)) > 0
        in_b = np.bincount(o[~was_a], minlength=len(t.overseers)) > 0
        swap = permutation_labels(in_a, in_b, min(permutations, ECE_PERMUTATIONS), rng)
        lab = was_a[None, :] != swap[:, o]  # relabellings × judgments: now under A
        stat = np.array([ece_sweep(c[r], y[r]) - ece_sweep(c[~r], y[~r]) for r in lab])
    else:
        v = _values(t, metric)
        m = np.isin(t.group, (a, b)) & np.isfinite(v)
        in_a = np.bincount(t.overseer[m & (t.group == a)], minlength=len(t.overseers)) > 0
        in_b = np.bincount(t.overseer[m & (t.group == b)], minlength=len(t.overseers)) > 0
        n_cells = len(np.unique(t.overseer[m].astype(np.int64) * len(t.items) + t.item[m]))
        swap = permutation_labels(in_a, in_b, affordable(n_cells, permutations), rng)
        diff, stat = studentized_differences(v[m], t.group[m] == a, t.overseer[m], t.item[m], swap)
        null = stat[np.isfinite(stat)]
        return float(diff[0]), _p_value(stat[0], null, alternative), smallest_p(null, alternative)
    obs, null = stat[0], stat[np.isfinite(stat)]
    return float(obs), _p_value(obs, null, alternative), smallest_p(null, alternative)


def ece_difference_interval(
    t: JudgmentTable, a: int, b: int, level: float = 0.95, seed: int = 0, replicates: int = ECE_REPLICATES
) -> tuple[float, float]:
    """Percentile interval of ECE_sweep(A) − ECE_sweep(B) from resampling overseers with replacement (the same
    cluster bootstrap as the per-condition ECE interval, `calibration.ece_interval`): an overseer drawn brings
    their judgments under both conditions. `level` is two-sided; NaNs with fewer than two overseers."""
    m = np.isin(t.group, (a, b)) & np.isfinite(t.correct) & np.isfinite(t.confidence)
    o, in_a, c, y = t.overseer[m], t.group[m] == a, t.confidence[m], t.correct[m]
    who = np.unique(o)
    if len(who) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    rows = [np.flatnonzero(o == w) for w in who]
    reps = []
    for _ in range(replicates):
        idx = np.concatenate([rows[k] for k in rng.integers(0, len(who), len(who))])
        ia = in_a[idx]
        reps.append(ece_sweep(c[idx][ia], y[idx][ia]) - ece_sweep(c[idx][~ia], y[idx][~ia]))
    reps_a = np.asarray(reps)
    reps_a = reps_a[np.isfinite(reps_a)]
    if not len(reps_a):
        return float("nan"), float("nan")
    lo, hi = np.quantile(reps_a, [0.5 - level / 2, 0.5 + level / 2])
    return float(lo), float(hi)


def _p_value(obs: float, null: np.ndarray, alternative: str) -> float:
    eps = 1e-12  # ties count as at least as extreme
    if alternative == "greater":
        hits = np.sum(null >= obs - eps)
    elif alternative == "less":
        hits = np.sum(null <= obs + eps)
    else:
        hits = np.sum(np.abs(null) >= abs(obs) - eps)
    return float(hits / len(null)) if len(null) else float("nan")


def bootstrap_p(diff: Draws, alternative: str) -> tuple[float, np.ndarray]:
    """p-value of "difference = 0": the t test of the reported (calibrated two-way cluster-robust) interval,
    and the interval's rescaled replicates."""
    iv = interval(diff)
    return iv.p_value(alternative), iv.draws


def test_hypothesis(
    h: Hypothesis,
    label: str,
    t: JudgmentTable,
    draws: dict[tuple[str, str], Draws],
    baseline: str,
    replicates: int,
    *,
    permutations: int = 2000,
    seed: int = 0,
) -> HypothesisResult:
    """Estimate, 95% CI, p-value and verdict for one hypothesis."""
    a_name, b_name = (_group_name(c, t) for c in h.compare)

    def untestable(why: str) -> HypothesisResult:
        nan = float("nan")
        return HypothesisResult(
            h.id,
            label,
            (h.compare[0], h.compare[1]),
            h.metric,
            h.alternative,
            h.alpha,
            h.test,
            nan,
            nan,
            nan,
            nan,
            "not testable",
            why,
        )

    gold_expert = EXPERT not in t.groups
    for n in (a_name, b_name):
        if n not in t.groups and not (n == EXPERT and gold_expert and h.metric in ("accuracy", "gap_closed")):
            return untestable(f"no judgments in {n!r}")
    if h.metric == "gap_closed" and baseline not in t.groups:
        return untestable(f"no judgments in the baseline {baseline!r}")
    if h.metric == "gap_closed":  # the sandwich table's stability rule, the same function
        den, unstable, _ = gap_denominator(draws, baseline, replicates)
        if unstable:
            return untestable(
                f"expert − unassisted is not clearly above zero ({den.est:+.3f}, 95% CI "
                f"{den.lo:+.3f} to {den.hi:+.3f}): gap closed is an unstable ratio here, so it has "
                "no interval and no p-value"
            )
    metric_key = "accuracy" if h.metric == "gap_closed" else h.metric

    def stat(name: str) -> Draws | None:
        if h.metric == "gap_closed":
            return gap_draws(draws, name, baseline, replicates)
        if name == EXPERT and gold_expert:
            return Draws.constant(1.0, replicates)
        return draws.get((name, metric_key))

    da, db = stat(a_name), stat(b_name)
    note, test, kind = "", h.test, "two-sided 95%"
    if da is not None and db is not None:
        diff = Draws.combine(lambda x, y: x - y, da, db)
        est, lo, hi, kind = _display_interval(diff, h.metric, h.alternative, h.alpha)
    else:  # ECE: no cell-sum draws; estimate from the permutation routine, interval from resampling overseers
        diff, est, lo, hi = None, float("nan"), float("nan"), float("nan")
        if h.metric == "ece" and a_name in t.groups and b_name in t.groups:
            ga, gb = t.groups.index(a_name), t.groups.index(b_name)
            if h.alternative == "two-sided":
                lo, hi = ece_difference_interval(t, ga, gb, 0.95, seed)
            else:
                lo, hi = ece_difference_interval(t, ga, gb, 1 - 2 * h.alpha, seed)
                lo, hi = (lo, 1.0) if h.alternative == "greater" else (-1.0, hi)
                kind = f"one-sided {100 * (1 - h.alpha):g}% {'lower' if h.alternative == 'greater' else 'upper'} bound"
        note = (
            "ECE is the equal-mass sweep, as in the per-condition table; its interval resamples overseers and "
            "the test relabels them; "
        )
    use_perm = test == "permutation" or diff is None
    if use_perm and (gold_expert and EXPERT in (a_name, b_name)):
        if diff is None:
            return untestable("no expert overseers to compare against")
        use_perm, note = False, note + "gold is fixed at 100%, so there is nothing to permute: bootstrap test used; "
        test = "bootstrap"
    if use_perm:
        g = {n: k for k, n in enumerate(t.groups)}
        obs, p, min_p = permutation_test_floor(t, g[a_name], g[b_name], metric_key, h.alternative, permutations, seed)
        per_o = np.bincount(t.overseer[t.group == g[a_name]], minlength=len(t.overseers)) > 0
        per_o_b = np.bincount(t.overseer[t.group == g[b_name]], minlength=len(t.overseers)) > 0
        n_distinct = distinct_relabellings(per_o, per_o_b)
        if np.isfinite(min_p) and min_p > h.alpha:
            exact = n_distinct <= permutations  # every relabelling enumerated once
            ties = round(min_p * n_distinct) if exact else 0
            how = (
                f"only {n_distinct} distinct relabellings of overseers"
                if n_distinct * h.alpha < 1
                else f"{ties} of {n_distinct} relabellings tie at the most extreme value"
                if ties > 1
                else "ties in the permutation distribution"
            )
            note += (
                f"the smallest p these data allow is {min_p:.4g} ({how}) > α = {h.alpha:g}: this design cannot "
                f"reach α = {h.alpha:g}, so this test could not have rejected — add overseers or use "
                "test: bootstrap; "
            )
        if diff is None:
            est = obs
        if h.metric == "gap_closed":
            note += "p-value from the accuracy difference (same null: the gap shares its denominator); "
        test = "permutation"
    else:
        assert diff is not None  # use_perm is set whenever diff is None
        p, _ = bootstrap_p(diff, h.alternative)
        test, min_p = "bootstrap", float("nan")
    verdict = "not testable" if not np.isfinite(p) else ("supported" if p < h.alpha else "not supported")
    if verdict == "not supported" and np.isfinite(min_p) and min_p > h.alpha:
        verdict = "not testable at α"
    return HypothesisResult(
        h.id,
        label,
        (h.compare[0], h.compare[1]),
        h.metric,
        h.alternative,
        h.alpha,
        test,
        est,
        lo,
        hi,
        p,
        verdict,
        note.strip().rstrip(";"),
        kind,
        min_p,
    )


def adjusted_p(p: np.ndarray, method: str) -> np.ndarray:
    """Family-wise adjusted p-values: Bonferroni (m · p) or Holm's step-down (Holm 1979, Scand. J. Stat. 6:65:
    the k-th smallest p times m − k + 1, made monotone), capped at 1; `none` returns p. Shape (m,) → (m,)."""
    p = np.asarray(p, float)
    m = len(p)
    if method == "none" or m < 2:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    if method == "holm":
        order = np.argsort(p, kind="stable")
        steps = np.maximum.accumulate(p[order] * (m - np.arange(m)))
        out = np.empty(m)
        out[order] = np.minimum(steps, 1.0)
        return out
    raise ValueError(f"unknown multiplicity method {method!r}")


def correct_for_multiplicity(results: list[HypothesisResult], method: str) -> None:
    """Adjust the confirmatory hypotheses' p-values as one family (in place): `p_adjusted`, and the verdict
    from it. Exploratory tests are not in the family (they confirm nothing)."""
    family = [h for h in results if h.label.startswith("confirmatory") and np.isfinite(h.p)]
    if method == "none" or len(family) < 2:
        return
    for h, q in zip(family, adjusted_p(np.array([h.p for h in family]), method), strict=True):
        h.p_adjusted = float(q)
        if h.verdict in ("supported", "not supported"):
            h.verdict = "supported" if q < h.alpha else "not supported"
        h.note = (h.note + "; " if h.note else "") + (
            f"{method}-adjusted over the {len(family)} confirmatory hypotheses: p = {q:.4g} (the verdict uses it)"
        )


# possible range of a difference A − B per metric (accuracy, Brier, ECE are shares in 0..1)
DIFF_BOUNDS = {"accuracy": (-1.0, 1.0), "brier": (-1.0, 1.0), "ece": (-1.0, 1.0)}


def _display_interval(diff: Draws, metric: str, alternative: str, alpha: float) -> tuple[float, float, float, str]:
    """Estimate and the interval that matches the test: two-sided 95% for a two-sided test, a one-sided
    (1 − α) bound for `greater` (lower bound) or `less` (upper bound); clipped to the difference's possible
    range (no accuracy difference beyond ±100 pt)."""
    lo_b, hi_b = DIFF_BOUNDS.get(metric, (-np.inf, np.inf))
    if alternative == "two-sided":
        iv = interval(diff, bounds=(lo_b, hi_b))
        return iv.est, iv.lo, iv.hi, "two-sided 95%"
    iv = interval(diff, level=1 - 2 * alpha, bounds=(lo_b, hi_b))
    conf = f"{100 * (1 - alpha):g}%"
    if alternative == "greater":
        return iv.est, iv.lo, hi_b, f"one-sided {conf} lower bound"
    return iv.est, lo_b, iv.hi, f"one-sided {conf} upper bound"
