"""`sandwich create` on the full HumanEval study: 164 problems × (1 canonical + 2 mutants), gold by sandboxed runs.

Prints wall time, sandboxed executions per second (target ≥ 20/s on 2 cores), and
side by side the same number of programs run one at a time in the sandbox (the
naive baseline) on a sample, scaled.

    python benchmarks/create_speed.py [--problems 164]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sandwich.create import create_study
from sandwich.sandbox import SandboxLimits, run_python
from sandwich.studyfile import load_study
from sandwich.tasks.code_review import load_problems
from sandwich.tasks.execution import check_program


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--problems", type=int, default=164)
    ap.add_argument("--baseline-sample", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "full.yaml"
        study.write_text(f"""study: full
question: speed
task: {{kind: code-review, problems: {args.problems},
       candidates: {{canonical: 1, mutants: 2, seed: 1}}, balance: false}}
gold: {{kind: execution, timeout_s: 5}}
conditions: [{{name: unassisted}}]
overseers: {{non_experts: [a], items_per_overseer: 1, judged_items: 1}}
""")
        t0 = time.perf_counter()
        counts = create_study(load_study(study), Path(tmp) / "full.duckdb")
        wall = time.perf_counter() - t0
    n = counts["items"]
    problems = load_problems()[: args.baseline_sample]
    t0 = time.perf_counter()
    for p in problems:
        run_python(
            check_program(p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"]),
            SandboxLimits(timeout_s=5),
        )
    seq = (time.perf_counter() - t0) / len(problems)
    print(
        f"sandwich create, {args.problems} problems: {n} candidates "
        f"({counts['correct']} gold-correct, {n - counts['correct']} gold-buggy)"
    )
    print(f"  wall time {wall:6.1f} s (includes mutant generation and writing the database)")
    print(f"  {n / wall:6.1f} sandboxed executions/s   target >= 20/s: {'met' if n / wall >= 20 else 'MISSED'}")
    print(
        f"  baseline, one at a time in the sandbox: {1 / seq:6.1f} executions/s "
        f"(from {len(problems)} runs) → parallel create is {seq * n / wall:.1f}x faster"
    )


if __name__ == "__main__":
    main()
