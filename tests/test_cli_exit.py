"""What the command line does with bad options, markup in messages and a command's own exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from sandwich import cli

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandwich", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_an_option_out_of_range_is_a_usage_error_not_a_traceback() -> None:
    r = run("analyze", "studies/humaneval-review.yaml", "--replicates", "20")
    assert r.returncode == 2
    assert "Invalid value for '--replicates'" in r.stderr and "Traceback" not in r.stderr


def test_error_messages_are_printed_as_text_not_markup(tmp_path: Path) -> None:
    missing = tmp_path / "a[/b]b[bold]c.yaml"  # Rich would crash on [/b] and swallow [bold]
    r = run("validate", str(missing))
    assert r.returncode == 2
    assert "a[/b]b[bold]c.yaml" in r.stderr.replace("\n", "") and "Traceback" not in r.stderr


def test_a_commands_exit_code_reaches_the_shell(monkeypatch) -> None:
    probe = typer.Typer()

    @probe.command()
    def stop() -> None:
        raise typer.Exit(3)

    monkeypatch.setattr(cli, "app", probe)
    monkeypatch.setattr(sys, "argv", ["sandwich"])
    try:
        cli.main()
    except SystemExit as e:
        assert e.code == 3
    else:
        raise AssertionError("main() returned normally after typer.Exit(3)")
