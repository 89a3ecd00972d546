"""`sandwich store copy FROM TO`: move a whole study between a DuckDB file and PostgreSQL."""

from __future__ import annotations

import typer

from sandwich.cli.common import console

store_app = typer.Typer(
    help="Move a study between stores: a DuckDB file and a PostgreSQL schema.", no_args_is_help=True
)


@store_app.command("copy")
def copy(
    source: str = typer.Argument(
        ..., help="The study to copy: a .duckdb file or a postgresql://…?schema=NAME URL.", show_default=False
    ),
    target: str = typer.Argument(..., help="Where to write the copy (a new file or schema).", show_default=False),
    force: bool = typer.Option(False, "--force", help="Replace a study already at TO."),
) -> None:
    """Copy every table of a study, row for row: a pilot moves to the lab server, a finished study back to a file."""
    from sandwich.store import as_location, copy_study
    from sandwich.store.postgres_schema import redact

    counts = copy_study(as_location(source), as_location(target), force=force)
    console.print(
        f"[green]copied[/] {redact(source)} → {redact(target)}: "
        + ", ".join(f"{t} {n}" for t, n in sorted(counts.items()) if n),
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add the `store` command group."""
    app.add_typer(store_app, name="store")
