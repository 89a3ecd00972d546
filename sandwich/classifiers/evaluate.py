"""How a classifier is scored on held-out gold: accuracy, AUROC, ECE, PGR, high-stakes and best-of-n views.

`y` is gold (1 = bad: buggy / wrong choice); `p` is the classifier's P(bad).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from scipy import stats

from sandwich.classifiers.data import Example

METRICS = ("accuracy", "auroc", "ece")
LOWER_IS_BETTER = {"ece"}


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Share of examples whose thresholded prediction (P(bad) ≥ 0.5) matches gold."""
    return float(np.mean((p >= 0.5).astype(int) == y)) if len(y) else float("nan")


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney with average ranks for ties); nan with one class."""
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the predicted label's confidence, equal-width bins."""
    if not len(y):
        return float("nan")
    conf = np.maximum(p, 1 - p)
    right = ((p >= 0.5).astype(int) == y).astype(float)
    which = np.clip(((conf - 0.5) / 0.5 * bins).astype(int), 0, bins - 1)  # equal-width bins over [0.5, 1]
    n = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, conf, bins) - np.bincount(which, right, bins))
    return float(gap[n > 0].sum() / len(y))


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """All headline metrics for one set of predictions."""
    return {"accuracy": accuracy(y, p), "auroc": auroc(y, p), "ece": ece(y, p)}


def pgr(source: float, floor: float, ceiling: float, *, min_gap: float = 1e-9) -> float:
    """Performance gap recovered (Burns et al. 2023): (source − floor) / (ceiling − floor); nan when no gap."""
    gap = ceiling - floor
    if not all(map(math.isfinite, (source, floor, ceiling))) or abs(gap) <= min_gap:
        return float("nan")
    return (source - floor) / gap


# ------------------------------------------------------------ high stakes
def risk_coverage(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Selective classification: answer the most confident share first; (coverage, error rate among answered)."""
    order = np.argsort(-np.maximum(p, 1 - p), kind="stable")
    wrong = ((p[order] >= 0.5).astype(int) != y[order]).astype(float)
    k = np.arange(1, len(y) + 1)
    return k / len(y), np.cumsum(wrong) / k


def flag_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flag the most suspicious first; at each cut where P(bad) changes: (coverage, precision, flagged count)."""
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    cuts = np.r_[np.nonzero(np.diff(ps))[0] + 1, len(ps)]  # never split tied scores
    tp = np.cumsum(ys)[cuts - 1]
    return cuts / len(ys), tp / cuts, cuts


def clopper_pearson_lower(successes: int, n: int, alpha: float = 0.05) -> float:
    """One-sided (1 − alpha) lower confidence bound on a proportion."""
    if n == 0 or successes == 0:
        return 0.0
    return float(stats.beta.ppf(alpha, successes, n - successes + 1))


def coverage_at_precision(y: np.ndarray, p: np.ndarray, target: float) -> dict[str, float]:
    """Largest share of test items flagged as bad (most suspicious first) with precision ≥ target.

    Also reports the one-sided 95% Clopper–Pearson lower bound on that precision,
    and whether the data could certify the target at all: with zero errors
    among k flagged, the bound reaches `target` only when k ≥ ln(0.05)/ln(target)
    (299 for 99%, 2,995 for 99.9%).
    """
    cov, prec, k = flag_curve(y, p)
    ok = np.nonzero(prec >= target)[0]
    needed = math.ceil(math.log(0.05) / math.log(target))
    if not len(ok):
        return {
            "coverage": 0.0,
            "flagged": 0,
            "precision": float("nan"),
            "precision_lower95": 0.0,
            "certifiable": False,
            "needed_flagged": needed,
        }
    j = ok[-1]
    tp = int(round(prec[j] * k[j]))
    lower = clopper_pearson_lower(tp, int(k[j]))
    return {
        "coverage": float(cov[j]),
        "flagged": int(k[j]),
        "precision": float(prec[j]),
        "precision_lower95": lower,
        "certifiable": lower >= target,
        "needed_flagged": needed,
    }


def fnr_at_coverage(y: np.ndarray, p: np.ndarray, coverage: float) -> float:
    """Missed bad items (false-negative rate) when the most suspicious `coverage` share is flagged."""
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    k = int(math.ceil(coverage * len(y)))
    flagged = np.argsort(-p, kind="stable")[:k]
    return float(1.0 - y[flagged].sum() / n_pos)


def resolution_note(n_bad: int, targets: Sequence[float] = (0.99, 0.999)) -> str | None:
    """An honest sentence when the test set is too small to resolve the requested precision."""
    if n_bad == 0:
        return "The test split has no bad items: the high-stakes view is empty."
    floor = 1.0 / n_bad
    too_fine = [t for t in targets if 1 - t < floor or n_bad < math.ceil(math.log(0.05) / math.log(t))]
    if not too_fine:
        return None
    need = ", ".join(
        f"{t:.1%} needs ≥{math.ceil(math.log(0.05) / math.log(t)):,} flagged with no error" for t in too_fine
    )
    return (
        f"The test split has only {n_bad} bad item(s): the smallest error rate it can resolve is ≈1/{n_bad} "
        f"= {floor:.1%}. Certifying precision at 95% confidence ({need}) is beyond this data; "
        "the coverage figures are point estimates; the table gives one-sided Clopper–Pearson lower bounds."
    )


# ------------------------------------------------------------ downstream
def _bad(e: Example) -> int:
    """An example's gold (1 = bad); held-out examples always have one."""
    if e.bad is None:
        raise ValueError("a held-out example has no gold label")
    return e.bad


def best_of_n(examples: Sequence[Example], p: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Pick the least-suspicious candidate of each held-out group: pass rate vs random choice and the oracle."""
    groups: dict[str, list[int]] = defaultdict(list)
    for k, e in enumerate(examples):
        groups[e.group].append(k)
    rng = np.random.default_rng(seed)
    picked, random_rate, oracle, n = [], [], [], 0
    for idx in groups.values():
        if len(idx) < 2:
            continue
        n += 1
        scores = p[idx] + rng.uniform(0, 1e-9, len(idx))  # ties broken at random, reproducibly
        best = idx[int(np.argmin(scores))]
        picked.append(1 - _bad(examples[best]))
        random_rate.append(np.mean([1 - _bad(examples[k]) for k in idx]))
        oracle.append(float(any(examples[k].bad == 0 for k in idx)))
    nan = float("nan")
    return {
        "groups": n,
        "pass_rate": float(np.mean(picked)) if n else nan,
        "random": float(np.mean(random_rate)) if n else nan,
        "oracle": float(np.mean(oracle)) if n else nan,
    }


def group_bootstrap(examples: Sequence[Example], n_boot: int, seed: int) -> list[np.ndarray]:
    """Index arrays resampling whole groups with replacement (candidates of one problem are not independent)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for k, e in enumerate(examples):
        groups[e.group].append(k)
    keys = sorted(groups)
    rng = np.random.default_rng(seed)
    return [
        np.concatenate([groups[keys[g]] for g in rng.integers(0, len(keys), len(keys))]).astype(int)
        for _ in range(n_boot)
    ]
