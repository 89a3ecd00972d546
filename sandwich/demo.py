"""`make demo`: the main job end to end on the embedded model, printing each command as a user would type it.

prepare the model → validate and create the HumanEval study → precompute assistance →
simulate overseers → analyze → train and compare classifiers → what to do next.
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
        # everyone but ana: her session is left for you to label in the terminal app
        others = [o for o in _overseers() if o != "ana"]
        run(["simulate", STUDY, *db, "--overseers", ",".join(others)], timings)
    if "analyze" in have:
        run(["analyze", STUDY, *db, "--out", str(OUT / "report")], timings)
    if "train" in have:
        run(["train", STUDY, *db], timings)
    if "compare" in have:
        run(["compare", STUDY, *db, "--out", str(OUT / "report")], timings)
    console.print(Rule("done", style="green"))
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
