"""Do the report's 95% intervals cover 95%, and do its tests reject a true null 5% of the time?

Simulates studies on a grid of designs — within-subjects 6×24, 8×24, 12×24 (overseers × items
per overseer, dealt by the platform's own plan), between-subjects with 4, 10 and 40 overseers
per condition (24 items each), and an unbalanced NYU-like observational design — from a crossed
random-effects logistic model (sandwich/analysis/validity.py: β0 = 0.6, σ_overseer = 0.5,
σ_item = 1.0, σ_overseer×condition = 0.3 on the logit scale), and analyses each with the
functions `sandwich analyze` calls. Prints per design:
  * coverage of each interval the report offers (accuracy per condition, assisted − unassisted,
    gap closed against gold) — the reported calibrated interval, and "before": the previously
    reported rescaled pigeonhole interval — with the Monte-Carlo standard error;
  * type-I error (effect 0) and power (effect δ = --effect on the logit scale) at α = 0.05 of the
    permutation and bootstrap tests, one-sided (>) and two-sided (≠), with MC standard errors;
  * mean widths of the intervals.
Coverage pools the null and effect studies. Target: coverage 93–97%, type-I 4–6%.
Run: python benchmarks/validity_grid.py [--studies 500] [--quick] [--workers 2] [--markdown]
     one cell with many studies: --designs 'between 4/' --null-only --studies 2000 --replicates 0
     (2000 null studies of one between-subjects design: 5-10 minutes of one busy core)
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import multiprocessing as mp

import numpy as np

from sandwich.analysis.validity import INTERVALS, TESTS, Truth, analyse, grid, simulate

ALPHA = 0.05


def run_chunk(args: tuple[int, float, int, int, int, int, int]) -> list:
    """Studies [start, stop) of one design under one effect size (a worker's unit of work)."""
    d_idx, effect, start, stop, replicates, permutations, seed = args
    design = grid()[d_idx]
    truth = Truth(effect=effect)
    out = []
    for s in range(start, stop):
        rng = np.random.default_rng([seed, d_idx, int(effect * 1000), s])
        out.append(analyse(simulate(design, truth, rng), replicates=replicates, permutations=permutations, seed=s))
    return out


def rate(hits: np.ndarray) -> tuple[float, float]:
    """A proportion and its Monte-Carlo standard error."""
    n = len(hits)
    p = float(np.mean(hits)) if n else float("nan")
    return p, float(np.sqrt(p * (1 - p) / n)) if n else float("nan")


def fmt(p: float, se: float) -> str:
    return f"{100 * p:5.1f}±{100 * se:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=500, help="simulated studies per design and effect size")
    ap.add_argument(
        "--replicates",
        type=int,
        default=100,
        help="pigeonhole bootstrap replicates per study (the 'before' column; 0 skips it)",
    )
    ap.add_argument("--permutations", type=int, default=500, help="permutations per permutation test")
    ap.add_argument("--effect", type=float, default=0.6, help="condition effect for power, logit scale")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--quick", action="store_true", help="200 studies, 300 permutations, no 'before' column")
    ap.add_argument("--markdown", action="store_true", help="also print the tables as Markdown (for the README)")
    ap.add_argument(
        "--designs",
        default="",
        help="comma-separated substrings of design names to run (e.g. 'between', 'between 4/'); default all",
    )
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--null-only", action="store_true", help="only the null studies (type-I error, coverage at δ=0)")
    only.add_argument("--effect-only", action="store_true", help="only the studies under δ (power, coverage there)")
    args = ap.parse_args()
    if args.quick:
        args.studies, args.permutations, args.replicates = 200, 300, 0
    designs = grid()
    wanted = [
        k
        for k, d in enumerate(designs)
        if not args.designs or any(x.strip() and x.strip() in d.name for x in args.designs.split(","))
    ]
    effects = (0.0,) if args.null_only else (args.effect,) if args.effect_only else (0.0, args.effect)
    jobs, chunk = [], 50
    for d in wanted:
        for e in effects:
            for start in range(0, args.studies, chunk):
                jobs.append(
                    (d, e, start, min(start + chunk, args.studies), args.replicates, args.permutations, args.seed)
                )
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(run_chunk, jobs, chunksize=1)
    elapsed = time.perf_counter() - t0
    by: dict[tuple[int, float], list] = {}
    for job, res in zip(jobs, results, strict=True):
        by.setdefault((job[0], job[1]), []).extend(res)

    null_truth, alt_truth = Truth().values(), Truth(effect=args.effect).values()
    print(
        f"{args.studies} studies per design × {{null, δ={args.effect:g}}}; {args.permutations} permutations; "
        f"truth: accuracy {null_truth['acc_unassisted']:.3f} unassisted, {alt_truth['acc_assisted']:.3f} assisted "
        f"under δ (difference {alt_truth['difference']:+.3f}); {elapsed:.0f} s on {args.workers} worker(s)\n"
    )
    cov_rows, test_rows = [], []
    for d in wanted:
        design = designs[d]
        n_j = len(design.overseer)
        outs = [(o, null_truth) for o in by.get((d, 0.0), [])] + [(o, alt_truth) for o in by.get((d, args.effect), [])]
        cov, width = [], []
        for k in INTERVALS:
            hit = np.array([o.ci[k][0] <= tr[k] <= o.ci[k][1] for o, tr in outs if np.isfinite(o.ci[k][0])])
            c = rate(hit)
            b = rate(np.array([o.before[k][0] <= tr[k] <= o.before[k][1] for o, tr in outs if k in o.before]))
            cov.append(fmt(*c) + (f" ({100 * b[0]:.0f})" if np.isfinite(b[0]) else ""))
            width.append(np.mean([o.ci[k][1] - o.ci[k][0] for o, _ in outs if np.isfinite(o.ci[k][0])]))
        cov_rows.append([design.name, str(n_j), *cov, *(f"{100 * w:.1f}" for w in width)])
        row = [design.name]
        for name in TESTS:
            t1 = rate(np.array([o.p[name] < ALPHA for o in by.get((d, 0.0), [])]))
            pw = rate(np.array([o.p[name] < ALPHA for o in by.get((d, args.effect), [])]))
            row += [fmt(*t1), fmt(*pw)]
        test_rows.append(row)

    cov_head = ["design", "judgments", *(f"cover {k}" for k in INTERVALS), *(f"width {k}" for k in INTERVALS)]
    test_head = ["design", *(f"{x} {t}" for t in TESTS for x in ("type-I", "power"))]
    print(
        "Coverage of the reported 95% intervals, % ± MC se (in brackets: the previous rescaled pigeonhole interval);"
        " mean widths in percentage points"
    )
    _print(cov_head, cov_rows)
    print(f"\nType-I error (δ = 0) and power (δ = {args.effect:g}) at α = {ALPHA}, % ± MC se")
    _print(test_head, test_rows)
    if args.markdown:
        for head, rows in ((cov_head, cov_rows), (test_head, test_rows)):
            print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
            for r in rows:
                print("| " + " | ".join(x.strip() for x in r) + " |")


def _print(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        print("  ".join(x.rjust(w) for x, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
