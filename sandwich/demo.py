"""`make demo`: the main job end to end on the embedded model, printing each command as a user would type it.

prepare the model → validate and create the HumanEval study → precompute assistance →
simulate overseers → analyze → train and compare classifiers → what to do next.

It says what it is: the simulated overseers are parametric (answers drawn from the skills typed into the
study file; they read no item and no help), the assistant is a 135M-parameter stand-in, and no person has
judged anything until you label as `ana`. The analysis report states the same in words.
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

STUDY = "studies/humaneval-review.yaml"
OUT = Path(os.environ.get("SANDWICH_DEMO_DIR", "runs/demo"))
DB = OUT / "humaneval-review.duckdb"
console = Console()
PARAMETRIC = (
    "parametric — each answer is drawn at random, right with the probability typed into the study "
    "file's `simulation:` section for its condition; they read no item and no help."
)
WHAT_IT_IS = [
    "Synthetic: every judgment so far comes from simulated overseers; " + PARAMETRIC,
    (
        "So the differences between conditions in the report are the skill values in the study file, not an effect "
        "of the model's help. They exercise the pipeline and the statistics."
    ),
    (
        "Real: the HumanEval items, the gold from running the hidden tests in the sandbox, the help the assistant "
        "wrote for ana's 24 items, and every figure's arithmetic."
    ),
    (
        "The assistant is SmolLM2-135M, a stand-in small enough for a laptop CPU: the model-alone row shows how it "
        "does on its own (the report flags it when it answers every item the same way). It shows that help is "
        "generated, shown and recorded end to end; it cannot show how much a capable model's help closes the gap."
    ),
    (
        "For an answer about people: label as ana (below), then `sandwich analyze` reports people apart from the "
        "simulation (--source human|parametric|all). For LLM judges reading the real help: `sandwich assist "
        "precompute` for everyone, then `sandwich simulate --kind llm`."
    ),
]


def available() -> set[str]:
    """Top-level commands and groups this installation has."""
    from sandwich.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    names |= {g.name for g in app.registered_groups if g.name}
    return names


def _overseers() -> list[str]:
    """The study's overseers, from the study file."""
    from sandwich.studyfile import load_study

    ov = load_study(STUDY).study.overseers
    return [*ov.non_experts, *ov.experts]


def run(args: list[str], timings: list[tuple[str, float]]) -> None:
    """Run one `sandwich …` command, echoing it first; stop the demo if it fails."""
    console.print(Rule(style="dim"))
    console.print(f"[bold cyan]$ sandwich {shlex.join(args)}[/]")
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "sandwich", *args])
    took = time.monotonic() - t0
    timings.append((f"sandwich {args[0]}" + (f" {args[1]}" if args[0] in ("models", "assist") else ""), took))
    if res.returncode != 0:
        console.print(f"[red]demo stopped: `sandwich {shlex.join(args)}` exited with {res.returncode}[/]")
        sys.exit(res.returncode)


def main() -> None:
    """Run every step that this installation supports."""
    t_start = time.monotonic()
    have = available()
    OUT.mkdir(parents=True, exist_ok=True)
    db = ["--db", str(DB)]
    timings: list[tuple[str, float]] = []
    console.print(f"[bold]sandwich demo[/] — {STUDY}; everything is written under {OUT}/")
    run(["models", "prepare"], timings)
    run(["validate", STUDY], timings)
    run(["create", STUDY, *db, "--force"], timings)
    run(["status", STUDY, *db], timings)
    if "assist" in have:
        # the demo prepares the help `ana` will meet (all five kinds) so you can label as her afterwards;
        # the whole study's help is the same command without --overseer (minutes more on a laptop CPU)
        run(["assist", "precompute", STUDY, *db, "--overseer", "ana"], timings)
    if "simulate" in have:
        # everyone but ana: her session is left for you to label in the terminal app. They are parametric on
        # purpose (help exists for ana's items only, and LLM judges on a laptop CPU take far longer than 5 min)
        console.print(f"[bold]Simulated overseers:[/] {PARAMETRIC}")
        others = [o for o in _overseers() if o != "ana"]
        run(["simulate", STUDY, *db, "--overseers", ",".join(others), "--kind", "parametric"], timings)
    if "analyze" in have:
        run(["analyze", STUDY, *db, "--out", str(OUT / "report")], timings)
    if "train" in have:
        run(["train", STUDY, *db], timings)
    if "compare" in have:
        run(["compare", STUDY, *db, "--out", str(OUT / "report")], timings)
    console.print(Rule("done", style="green"))
    console.print("[bold]What this demo is[/]")
    for line in WHAT_IT_IS:
        console.print(f"  • {line}")
    total = time.monotonic() - t_start
    for name, took in timings:
        console.print(f"  {name:<28} {took:6.1f} s")
    console.print(f"  [bold]{'total':<28} {total:6.1f} s[/]")
    console.print("\n[bold]Next:[/]")
    if "label" in have:
        console.print(f"  label items yourself:   .venv/bin/sandwich label {STUDY} --db {DB} --overseer ana")
    if "assist" in have:
        console.print(f"  help for every overseer: .venv/bin/sandwich assist precompute {STUDY} --db {DB}")
    if (OUT / "report" / "index.html").exists():
        console.print(f"  open the report:        {OUT / 'report' / 'index.html'}")
    console.print(f"  see progress:           .venv/bin/sandwich status {STUDY} --db {DB}")
    console.print(f"  export for your tools:  .venv/bin/sandwich export {STUDY} --db {DB} --to {OUT / 'export'}")


if __name__ == "__main__":
    main()
