"""`make demo-pairs`: a pairwise study end to end, YAML to reward-model comparison, in a few minutes on 2 CPU
cores (MiniLM's embeddings are the only model, and are downloaded once).

validate and create studies/humaneval-pairs.yaml (pairs of HumanEval candidates, gold from running each hidden
test in the sandbox) → check the plan for no-skill strategies → precompute help with the scripted backend →
simulate parametric overseers → check-design on the judgments (position bias) → analyze → train a Bradley–Terry
reward model (minilm) per label source → compare them (preference accuracy, PGR, best-of-n) → export the
preferences in TRL's format.

What it is: the help is the scripted backend's deterministic stand-in text, and the overseers are parametric
(answers drawn from the skills typed into the study file; they read no item and no help), so every non-expert
label source — and each reward model trained on one — is synthetic. Real: the pairs, their gold and each
response's hidden tests passed from the sandbox, the order each overseer is shown each pair in (drawn, stored,
undone), the reward models' training on the stored preferences, and the arithmetic.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

STUDY = "studies/humaneval-pairs.yaml"
OUT = Path(os.environ.get("SANDWICH_DEMO_DIR", "runs/demo-pairs"))
DB = OUT / "humaneval-pairs.duckdb"
console = Console()


def run(args: list[str], timings: list[tuple[str, float]]) -> None:
    """Run one `sandwich …` command, echoing it first; stop the demo if it fails."""
    console.print(Rule(style="dim"))
    console.print(f"[bold cyan]$ sandwich {shlex.join(args)}[/]")
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "sandwich", *args])
    timings.append((f"sandwich {args[0]}" + (f" {args[1]}" if args[0] == "assist" else ""), time.monotonic() - t0))
    if res.returncode != 0:
        console.print(f"[red]demo stopped: `sandwich {shlex.join(args)}` exited with {res.returncode}[/]")
        sys.exit(res.returncode)


def main() -> None:
    """Run the pairwise study's steps in order and print what each took."""
    t_start = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    db = ["--db", str(DB)]
    timings: list[tuple[str, float]] = []
    console.print(f"[bold]sandwich pairwise demo[/] — {STUDY}; everything is written under {OUT}/")
    run(["validate", STUDY], timings)
    run(["create", STUDY, *db, "--force"], timings)
    run(["assist", "precompute", STUDY, *db, "--backend", "scripted"], timings)
    run(["simulate", STUDY, *db, "--kind", "parametric"], timings)
    run(["check-design", str(DB)], timings)  # no-skill strategies and position bias, on the stored judgments
    run(["analyze", STUDY, *db, "--out", str(OUT / "report")], timings)
    run(["train", STUDY, *db, "--backbone", "minilm", "--runs", str(OUT / "runs")], timings)
    run(["compare", STUDY, *db, "--runs", str(OUT / "runs"), "--out", str(OUT / "report")], timings)
    run(["export", STUDY, *db, "--format", "trl", "--to", str(OUT / "trl")], timings)
    console.print(Rule("done", style="green"))
    console.print(
        "  • Synthetic: every judgment comes from parametric simulated overseers (they read neither the "
        "pair nor the help), the help is the scripted backend's stand-in text, and so every reward model "
        "trained on a condition's preferences learns from simulated labels."
    )
    console.print(
        "  • Real: the pairs, their gold and each response's hidden tests passed from the sandbox (best-of-n "
        "scores the top pick on them), the order each overseer saw each pair in (client_meta.shown_order "
        "on every judgment), the MiniLM reward models trained on the stored preferences, and every "
        "figure's arithmetic."
    )
    for name, took in timings:
        console.print(f"  {name:<28} {took:6.1f} s")
    console.print(f"  [bold]{'total':<28} {time.monotonic() - t_start:6.1f} s[/]")
    console.print("\n[bold]Next:[/]")
    console.print(
        f"  judge pairs yourself:   .venv/bin/sandwich create {STUDY} --db {OUT}/mine.duckdb, then "
        f".venv/bin/sandwich label {STUDY} --db {OUT}/mine.duckdb --overseer ana"
    )


if __name__ == "__main__":
    main()
