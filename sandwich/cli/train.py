"""`sandwich train` and `sandwich compare`: reward-model classifiers per label source, against the expert ceiling."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sandwich.cli.common import DB_HELP, console, study_db
from sandwich.errors import SandwichError


def _split(values: list[str]) -> list[str]:
    """Accept `--sources a --sources b` and `--sources a,b` alike."""
    return [v.strip() for x in values for v in x.split(",") if v.strip()]


def _seeds(values: list[str]) -> list[int] | None:
    if not values:
        return None
    try:
        return [int(v) for v in _split(values)]
    except ValueError:
        raise SandwichError(f"--seeds {','.join(values)!r}: expected whole numbers, e.g. --seeds 0,1,2.") from None


def train(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    backbone: str | None = typer.Option(
        None, "--backbone", help="minilm | minilm-finetune | lm-reward (default: the study's)."
    ),
    sources: list[str] = typer.Option(
        [],
        "--sources",
        help="Label sources (default: classifiers.train_on), "
        "e.g. expert,unassisted,dawid-skene:debate@human; on a pairwise study "
        "bradley-terry:debate in place of majority:/dawid-skene:.",
    ),
    seeds: list[str] = typer.Option([], "--seeds", help="Seeds (default: classifiers.seeds), e.g. 0,1,2."),
    runs: Path | None = typer.Option(None, "--runs", help="Runs folder (default: runs/<study>/ beside the database)."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Override the head's epochs."),
    soft_labels: bool | None = typer.Option(None, "--soft-labels/--hard-labels", help="Confidences as soft targets."),
    aux_loss: bool | None = typer.Option(
        None, "--aux-loss/--no-aux-loss", help="Weak-to-strong auxiliary confidence loss (Burns et al. 2023)."
    ),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Cap optimiser steps per run."),
    force: bool = typer.Option(False, "--force", help="Re-train even runs that are already finished."),
) -> None:
    """Train a classifier per label source and seed on the train split; evaluate on held-out gold. Resumable."""
    from sandwich.classifiers import train_study  # pointwise or pairwise, by the study's task kind

    path = study_db(study, db)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    )
    tasks: dict[str, TaskID] = {}

    def progress(what: str, done: int, total: int) -> None:
        key = "runs" if what == "runs" else "steps"
        if key not in tasks:
            tasks[key] = bar.add_task("classifiers" if key == "runs" else what, total=total)
        bar.update(tasks[key], completed=done, total=total, description=None if key == "runs" else what)

    try:
        with bar:
            records = train_study(
                path,
                backbone=backbone,
                sources=_split(sources) or None,
                seeds=_seeds(seeds),
                runs_dir=runs,
                force=force,
                progress=progress,
                epochs=epochs,
                soft_labels=soft_labels,
                aux_confidence_loss=aux_loss,
                max_steps=max_steps,
            )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/] — finished runs are saved; run the same command again to resume.")
        raise typer.Exit(130) from None
    table = Table(title="Classifier runs (test split, against gold)", show_edge=False, title_justify="left")
    for col in ("source", "backbone", "seed", "status", "n", "acc", "AUROC", "ECE", "s"):
        table.add_column(col, justify="left" if col in ("source", "backbone", "status") else "right", no_wrap=True)
    for r in records:
        m = r.metrics
        table.add_row(
            r.source,
            r.backbone,
            str(r.seed),
            r.status,
            str(r.n_train),
            *(f"{m[k]:.3f}" if k in m else "–" for k in ("accuracy", "auroc", "ece")),
            f"{r.seconds:.1f}",
        )
    console.print(table)
    empty = sorted({r.source for r in records if r.status == "no-labels"})
    if empty:
        console.print(f"[yellow]no train-split judgments yet for: {', '.join(empty)}[/] (nothing to learn from)")
    if records and records[0].path:
        console.print(
            f"[dim]runs in {Path(records[0].path).parent.parent}[/]  next: sandwich compare {study}"
            + (f" --db {db}" if db else "")
        )


def compare(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    out: Path | None = typer.Option(
        None, "--out", help="Write classifiers.png, risk_coverage.png and classifiers.json here."
    ),
    backbone: str | None = typer.Option(None, "--backbone", help="Which backbone's runs (default: the study's)."),
    runs: Path | None = typer.Option(None, "--runs", help="Runs folder (default: runs/<study>/ beside the database)."),
    replicates: int = typer.Option(1000, "--replicates", min=50, help="Bootstrap replicates over test groups."),
    coverage: float = typer.Option(
        0.5, "--coverage", min=0.01, max=1.0, help="Fixed share flagged for the missed-bad (FNR) column."
    ),
) -> None:
    """Per label source: accuracy (preference accuracy on a pairwise study), AUROC, ECE, PGR with CIs, the
    high-stakes view and best-of-n, against the expert (gold) ceiling."""
    from sandwich.classifiers import compare_study

    res = compare_study(
        study_db(study, db), out, backbone=backbone, runs_dir=runs, n_boot=replicates, fixed_coverage=coverage
    )
    from sandwich.analysis.narrow import fit

    for part in res.table.renderables:  # short headers or stacked rows in a narrow terminal
        console.print(fit(part, console.width) if isinstance(part, Table) else part)


def register(app: typer.Typer) -> None:
    """Add `train` and `compare` to the CLI."""
    app.command("train")(train)
    app.command("compare")(compare)
