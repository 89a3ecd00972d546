"""The `sandwich` command line (Typer).

Each command group lives in its own module with a `register(app)` function;
this file wires them together and turns user-facing errors into one clear
paragraph and exit code 2.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer
from rich.console import Console
from rich.text import Text

from sandwich.errors import SandwichError

app = typer.Typer(
    name="sandwich",
    help="Run sandwiching oversight studies: non-experts judge a model's work with the model's help; "
    "experts, gold and reward models are the yardstick.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
err = Console(stderr=True)

# Command modules, in the order they appear in --help. Each defines register(app).
COMMAND_MODULES = [
    "study",
    "design",
    "models",
    "assist",
    "label",
    "simulate",
    "analyze",
    "train",
    "serve",
    "imports",
    "store_cmd",
]

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"sandwich.cli.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"sandwich.cli.{_name}":
            raise
        continue
    _mod.register(app)


def _click_errors() -> tuple[type[Exception], ...]:
    """Click's usage-error classes: recent typer vendors click as `typer._click`, older ones use click itself."""
    import click

    classes: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as VendoredClickException
    except ImportError:
        pass
    else:
        classes.append(VendoredClickException)
    return tuple(classes)


def main() -> None:
    """Entry point: run the app, reporting SandwichError as a message (exit 2), not a traceback."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        # without standalone mode click returns a command's `typer.Exit(code)` instead of exiting with it
        rc = app(standalone_mode=False)
    except SandwichError as e:
        # messages carry data (ids, paths, model text): never read them as Rich markup
        err.print(Text.assemble(("error:", "bold red"), " ", e.message), highlight=False, soft_wrap=True)
        if e.hint:
            err.print(Text("→ " + e.hint, style="dim"), highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/] — everything already submitted is saved.")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except Exception as e:  # click's usage errors arrive here in non-standalone mode
        if isinstance(e, _click_errors()):
            e.show()  # type: ignore[attr-defined]  # both click flavours have show()
            sys.exit(e.exit_code)  # type: ignore[attr-defined]  # usage errors: 2
        raise
    if isinstance(rc, int) and rc:
        sys.exit(rc)


if __name__ == "__main__":
    main()
