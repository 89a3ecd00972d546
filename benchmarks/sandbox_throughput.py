"""How fast does the sandbox label HumanEval candidates, and what does isolation cost?

Runs the canonical solution and mutants of N HumanEval problems (default: all
164, 1 canonical + 2 mutants each) through the gold path, ``run_checks`` (the
forge-proof test runner; prints how many canonical solutions pass and the
mutant-fail rate), then as plain programs through ``run_many`` (in parallel,
then one at a time), then the same programs without bubblewrap, with plain
``subprocess`` -- sequentially, and with the same number of threads -- so the
sandbox's overhead is visible. Figures are printed, not asserted. Mutants that
loop forever each cost a full timeout, which dominates the sequential rows; the
median per-program time is the figure to compare there.

    python benchmarks/sandbox_throughput.py [--problems 164] [--mutants 2] [--workers N] [--no-baseline]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sandwich import sandbox
from sandwich.sandbox import SandboxLimits, check_sandbox, run_many
from sandwich.sandbox_check import run_checks
from sandwich.tasks.code_review import load_problems
from sandwich.tasks.execution import check_program
from sandwich.tasks.mutants import make_mutants, normalize


def build_candidates(n_problems: int, n_mutants: int) -> list[tuple[str, str, str, bool]]:
    """(candidate code, test, entry point, is canonical) for each candidate."""
    out = []
    for i, p in enumerate(load_problems()[:n_problems]):
        code = p["prompt"] + p["canonical_solution"]
        cands = [normalize(code)] + [m.code for m in make_mutants(code, n_mutants, seed=i)]
        out += [(c, p["test"], p["entry_point"], k == 0) for k, c in enumerate(cands)]
    return out


def run_plain(program: str, python: str, limits: SandboxLimits) -> tuple[str, float]:
    """The baseline: one unsandboxed interpreter per program, as a naive harness would do.

    The programs are HumanEval's reference code and mutants of it, not foreign
    code; an address-space limit is still set so a mutant that grows a list
    forever cannot exhaust the host.
    """

    def limit_memory() -> None:
        mb = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mb, mb))

    t0 = time.monotonic()
    try:
        r = subprocess.run(
            [python, "-S", "-B", "-c", program], capture_output=True, timeout=limits.timeout_s, preexec_fn=limit_memory
        )
        status = "passed" if r.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        status = "timeout"
    return status, time.monotonic() - t0


def report(label: str, wall: float, statuses: list[str], durations: list[float]) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(Counter(statuses).items()))
    print(
        f"  {label:<38} {wall:8.2f} {len(statuses) / wall:8.1f} {1000 * statistics.median(durations):9.1f}   {counts}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=164)
    ap.add_argument("--mutants", type=int, default=2)
    ap.add_argument("--workers", type=int, default=sandbox.default_workers())
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--no-baseline", action="store_true", help="skip the unsandboxed runs")
    args = ap.parse_args()

    version = check_sandbox()
    python = sandbox._sandbox()[2]  # the interpreter the sandbox runs; the baseline uses it too
    limits = SandboxLimits(timeout_s=args.timeout)
    cands = build_candidates(args.problems, args.mutants)
    programs = [check_program(c, t, e) for c, t, e, _ in cands]
    print(
        f"sandbox throughput: {args.problems} HumanEval problems, {len(programs)} programs "
        f"(canonical + up to {args.mutants} mutants), timeout {args.timeout:g}s, "
        f"{os.cpu_count()} CPUs, {version}, {python}"
    )
    print(f"  {'':<38} {'wall s':>8} {'exec/s':>8} {'median ms':>9}   statuses")

    t0 = time.monotonic()
    gold = run_checks([(c, t, e) for c, t, e, _ in cands], limits, workers=args.workers)
    gold_wall = time.monotonic() - t0
    report(
        f"gold path, run_checks ({args.workers} threads)",
        gold_wall,
        [r.status for r in gold],
        [r.duration_s for r in gold],
    )
    canon = [r for r, c in zip(gold, cands, strict=True) if c[3]]
    mutants = [r for r, c in zip(gold, cands, strict=True) if not c[3]]
    print(
        f"  canonical solutions passed: {sum(r.status == 'passed' for r in canon)}/{len(canon)}; "
        f"mutants not passing: {sum(r.status != 'passed' for r in mutants)}/{len(mutants)} "
        f"({sum(r.status != 'passed' for r in mutants) / max(1, len(mutants)):.1%})"
    )

    t0 = time.monotonic()
    boxed = run_many(programs, limits, workers=args.workers)
    boxed_wall = time.monotonic() - t0
    report(
        f"sandboxed, run_many ({args.workers} threads)",
        boxed_wall,
        [r.status for r in boxed],
        [r.duration_s for r in boxed],
    )
    same = sum((g.status == "passed") == (b.status == "passed") for g, b in zip(gold, boxed, strict=True))
    print(
        f"  gold path vs exit status: pass/fail agrees on {same}/{len(programs)} programs; "
        f"the forge-proof gold path runs at {boxed_wall / gold_wall:.2f}x the exit-status throughput"
    )
    if args.no_baseline:
        return

    t0 = time.monotonic()
    boxed_seq = run_many(programs, limits, workers=1)
    report(
        "sandboxed, run_many (1 thread)",
        time.monotonic() - t0,
        [r.status for r in boxed_seq],
        [r.duration_s for r in boxed_seq],
    )

    t0 = time.monotonic()
    seq = [run_plain(p, python, limits) for p in programs]
    seq_wall = time.monotonic() - t0
    report("unsandboxed, sequential subprocess", seq_wall, [s for s, _ in seq], [d for _, d in seq])

    t0 = time.monotonic()
    with ThreadPoolExecutor(args.workers) as pool:
        par = list(pool.map(lambda p: run_plain(p, python, limits), programs))
    par_wall = time.monotonic() - t0
    report(f"unsandboxed, subprocess ({args.workers} threads)", par_wall, [s for s, _ in par], [d for _, d in par])

    agree = sum((r.status == "passed") == (s == "passed") for r, (s, _) in zip(boxed, seq, strict=True))
    extra_ms = 1000 * (statistics.median(r.duration_s for r in boxed_seq) - statistics.median(d for _, d in seq))
    print(
        f"  sandboxed vs unsandboxed sequential: {seq_wall / boxed_wall:.2f}x the throughput; "
        f"vs unsandboxed with {args.workers} threads: {par_wall / boxed_wall:.2f}x; "
        f"isolation adds ~{extra_ms:.0f} ms per execution (median, one at a time); "
        f"pass/fail agrees on {agree}/{len(programs)} programs"
    )


if __name__ == "__main__":
    sys.exit(main())
