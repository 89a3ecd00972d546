"""`sandwich simulate`: run a study's overseers as parametric profiles or LLM judges (labelled synthetic)."""

from __future__ import annotations

import typer
from rich.table import Table

from sandwich.cli.common import DB_HELP, console, progress_bar, study_db
from sandwich.errors import SandwichError


def simulate(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    kind: str | None = typer.Option(None, "--kind", help="parametric | llm (default: the study's simulation section)."),
    overseers: str | None = typer.Option(
        None, "--overseers", help="Comma-separated overseers to simulate (default: all)."
    ),
    model_alone: bool = typer.Option(
        True, "--model-alone/--no-model-alone", help="Also record the assistant answering each item alone."
    ),
) -> None:
    """Simulate overseers through the real study service; every judgment is marked simulated."""
    from assistants.backends import get_backend
    from sandwich.sim.runner import simulate_study

    if kind not in (None, "parametric", "llm"):
        raise SandwichError(f"--kind {kind!r}: expected parametric or llm.")
    names = [n.strip() for n in overseers.split(",") if n.strip()] if overseers else None
    path = study_db(study, db, write=True)
    with progress_bar("simulating overseers") as update:
        summary = simulate_study(
            path, kind=kind, overseers=names, with_model_alone=model_alone, progress=update, backend_factory=get_backend
        )
    t = Table(title="Simulated overseers (SYNTHETIC)", title_justify="left")
    for c in ("overseer", "kind", "judgments written"):
        t.add_column(c)
    for name, n in summary.judged.items():
        t.add_row(name, summary.kinds.get(name, ""), str(n))
    console.print(t)
    if summary.model_alone:
        console.print(f"model alone: {summary.model} answered {summary.model_alone} items")
    for w in summary.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    console.print("[bold red]These judgments are synthetic[/] — marked simulated in the database and in every report.")


def register(app: typer.Typer) -> None:
    """Add `simulate` to the CLI."""
    app.command("simulate")(simulate)
