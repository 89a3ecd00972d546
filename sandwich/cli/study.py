"""`sandwich validate | create | status | export`: the study's life cycle."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.table import Table

from sandwich.cli.common import DB_HELP, check_writable_db, console, open_service, progress_bar
from sandwich.cli.secret import token_file_option, token_option
from sandwich.errors import SandwichError, StudyLocked
from sandwich.store import as_location, default_db_path
from sandwich.store.postgres_schema import redact
from sandwich.studyfile import StudyFile, load_study

UNSANDBOXED = "--i-understand-this-runs-untrusted-code-unsandboxed"


def validate(
    study: Path = typer.Argument(..., help="Study YAML file.", show_default=False),
    data: bool = typer.Option(
        True,
        "--data/--no-data",
        help="Also load the data file and build the study in a scratch database, as "
        "`create` would (multiple-choice studies).",
    ),
) -> None:
    """Check a study file and its data; errors name file:line:column (or file, row and column) and the fix."""
    sf = load_study(study)
    s = sf.study
    console.print(
        f"[green]ok[/] {study}: study [bold]{s.study}[/] — {s.task.kind}, {len(s.conditions)} conditions "
        f"({', '.join(c.name for c in s.conditions)}), {len(s.overseers.non_experts)} non-experts, "
        f"{len(s.overseers.experts)} experts, {len(s.preregistration.hypotheses)} pre-registered hypotheses"
    )
    if data:
        check_data(sf)


def check_data(sf: StudyFile) -> None:
    """Load a data-file task and dry-run `create` in a scratch folder: ids, answers, gold and design coverage.

    Raises DataError / DesignError (exit 2) with every problem found; prints how the answers were read.
    """
    from sandwich.tasks import kind as task_kinds

    if not task_kinds.get(sf.study.task.kind).reads_data(sf.study.task):
        return  # e.g. code-review items come from the built-in HumanEval set, checked by `create` in the sandbox
    from sandwich.create import build_task, create_study

    for note in build_task(sf).notes:
        console.print(f"[green]ok[/] data {note}", highlight=False)
    with tempfile.TemporaryDirectory(prefix="sandwich-validate-") as scratch:
        counts = create_study(sf, Path(scratch) / "dry-run.duckdb")
    console.print(
        f"[green]ok[/] design: {counts['items']} items, {counts['assignments']} assignments for "
        f"{counts['overseers']} overseers; stored gold matches the file"
    )


def create(
    study: Path = typer.Argument(..., help="Study YAML file.", show_default=False),
    db: str | None = typer.Option(
        None,
        "--db",
        help="Where to write the study: a .duckdb file (default: beside the YAML) or a postgresql://…?schema=NAME URL.",
    ),
    force: bool = typer.Option(False, "--force", help="Re-create even if the database already holds judgments."),
    unsandboxed: bool = typer.Option(False, UNSANDBOXED, help="Run candidate code WITHOUT the sandbox (dangerous)."),
) -> None:
    """Build the study database: items, gold, conditions, overseers and the assignment plan."""
    from sandwich.cli.design import show_design_report
    from sandwich.create import create_study

    sf = load_study(study)
    target = as_location(db) if db else default_db_path(study)
    if isinstance(target, Path):  # PostgreSQL says itself whether it may be written
        check_writable_db(target, creating=True)

    def notes(lines: list[str]) -> None:  # how the data was read, said before anything is written
        for note in lines:
            console.print(f"data {note}", highlight=False)

    with progress_bar("running hidden tests in the sandbox", transient=True) as update:
        counts = create_study(
            sf,
            target,
            force=force,
            allow_unsandboxed=unsandboxed,
            progress=update,
            on_design=show_design_report,
            on_notes=notes,
        )
    console.print(f"[green]created[/] {redact(str(target))}")
    from sandwich.tasks import kind as task_kinds

    gold = task_kinds.get(sf.study.task.kind).gold_summary(counts)
    console.print(
        f"  {counts['items']} items ({counts['train']} train / {counts['test']} test, "
        f"{counts['practice']} practice){gold}"
    )
    console.print(f"  {counts['overseers']} overseers, {counts['assignments']} assignments")


def status(
    study: str | None = typer.Argument(
        None, help="Study YAML or .duckdb file (not needed with --server).", show_default=False
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    server: list[str] | None = typer.Option(
        None,
        "--server",
        help="Ask a running `sandwich serve` (it owns the "
        "database while it serves); lead token in SANDWICH_LEAD_TOKEN or "
        "--lead-token-file. Replicas: URL1,URL2 or the option repeated.",
    ),
    lead_token: str | None = token_option(lead=True),
    lead_token_file: Path | None = token_file_option(lead=True),
) -> None:
    """Items, overseers, and assignments done/left per overseer and condition."""
    from sandwich.analysis.narrow import fit

    if server:
        from sandwich.cli.serve import _lead_client

        client = _lead_client(",".join(server), lead_token, lead_token_file)
        try:
            st = client.status()
        finally:
            client.close()
    elif study is None:
        raise SandwichError("Give the study (or --server URL for a study being served).")
    else:
        try:
            with open_service(study, db, read_only=True) as svc:
                st = svc.status()
        except StudyLocked as e:
            raise SandwichError(
                e.message,
                hint="It is probably being served: `sandwich status --server URL` "
                "with SANDWICH_LEAD_TOKEN set or --lead-token-file STUDY.lead-token.",
            ) from None
    console.print(f"[bold]{st['study']}[/] — {st['question']}")
    plan = f"plan frozen {st['plan_hash'][:12]}" if st.get("plan_hash") else "plan not frozen yet"
    console.print(
        f"[dim]{st['db']} · config {st['config_hash'][:12]} · {plan} · "
        f"{st.get('looks', 0)} logged look(s) at results[/]"
    )
    items = Table(title="Items", show_edge=False)
    for col in ("split", "role", "items"):
        items.add_column(col)
    for r in st["items"]:
        items.add_row(r["split"], r["role"], str(r["n"]))
    console.print(items)
    table = Table(
        title="Assignments done/total per condition", show_edge=False, caption="† expert", caption_justify="left"
    )
    table.add_column("overseer", no_wrap=True)
    for c in st["conditions"]:
        table.add_column(c, justify="right")
    table.add_column("done", justify="right")
    table.add_column("left", justify="right")
    by: dict[str, dict] = {}
    for r in st["assignments"]:
        row = by.setdefault(r["overseer"], {"role": r["role"], "cells": {}, "done": 0, "total": 0})
        row["cells"][r["condition"]] = f"{r['done']}/{r['total']}"
        row["done"] += r["done"]
        row["total"] += r["total"]
    for name, row in by.items():
        label = f"{name}†" if row["role"] == "expert" else name
        table.add_row(
            label,
            *[row["cells"].get(c, "–") for c in st["conditions"]],
            str(row["done"]),
            str(row["total"] - row["done"]),
        )
    console.print(fit(table, console.width))  # one column per condition: stacked when too narrow
    if st["assistance"]:
        at = Table(title="Precomputed assistance", show_edge=False)
        for col in ("condition", "kind", "status", "n"):
            at.add_column(col)
        for r in st["assistance"]:
            at.add_row(r["condition"], r["kind"], r["status"], str(r["n"]))
        console.print(at)
    else:
        console.print("[dim]No assistance precomputed yet (sandwich assist precompute STUDY).[/]")


def export(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    to: Path = typer.Option(..., "--to", help="Folder to write Parquet files into."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    fmt: str = typer.Option(
        "tables",
        "--format",
        help="tables: every table as Parquet; trl: a pairwise study's "
        "label sources as TRL preference datasets (prompt, chosen, rejected, strength, source).",
    ),
) -> None:
    """Parquet files of everything but the gold, plus the gold in a separate folder (gold/)."""
    from rich.markup import escape

    from sandwich.export import BLINDED_TABLES, WITHHELD, export_study

    if fmt not in ("tables", "trl"):
        raise SandwichError(f"--format {fmt!r}: expected tables or trl.")
    if fmt == "trl":
        _export_trl(study, db, to)
        return
    with open_service(study, db) as svc:  # writable: the export is logged in the study as a look
        counts = export_study(svc, to)
    console.print(
        f"[green]exported[/] to {escape(str(to))}: "
        + ", ".join(f"{t} {n}" for t, n in counts.items() if t not in BLINDED_TABLES)
    )
    console.print(
        f"  gold kept apart in {escape(str(to / 'gold'))}: "
        + ", ".join(f"{t} {counts[t]}" for t in BLINDED_TABLES if t in counts)
    )
    for table, why in WITHHELD.items():
        console.print(f"  {table}: not exported ({why})")


def _export_trl(study: str, db: str | None, to: Path) -> None:
    """`export --format trl`: the task kind's classifier pipeline writes the preference datasets."""
    from rich.markup import escape

    from sandwich.classifiers.pipelines import for_kind

    with open_service(study, db) as svc:  # writable: the export is logged in the study as a look
        pipeline = for_kind(str(svc.study.task.kind))
        if pipeline.export_trl is None:
            raise SandwichError(
                f"--format trl: a {svc.study.task.kind} study has no preference data.",
                hint="TRL preference datasets come from pairwise studies (task.kind: pairwise).",
            )
        counts = pipeline.function("export_trl")(svc, to)
    console.print(
        f"[green]exported[/] TRL preference datasets to {escape(str(to))}: "
        + ", ".join(f"{name} {n}" for name, n in counts.items())
    )


def register(app: typer.Typer) -> None:
    """Add validate/create/status/export."""
    app.command()(validate)
    app.command()(create)
    app.command()(status)
    app.command()(export)
