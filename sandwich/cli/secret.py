"""Where the CLI takes access tokens from: the environment or an owner-only file, never by default the command line.

A token on the command line (`--token`, `--lead-token`) sits in the process table for
the whole session, where every local account can read it (`ps`, `/proc/<pid>/cmdline`),
and in shell history; it still works, with a warning. The documented ways are the
environment (`SANDWICH_TOKEN`, `SANDWICH_LEAD_TOKEN`) and a file readable only by its
owner (`--token-file`, `--lead-token-file`; `sandwich serve` writes the lead token to one).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import typer
from rich.markup import escape

from sandwich.cli.common import warn as stderr
from sandwich.errors import SandwichError
from sandwich.server.tokens import write_token_file

__all__ = ["read_token_file", "resolve_token", "write_token_file"]

TOKEN_ENV, LEAD_TOKEN_ENV = "SANDWICH_TOKEN", "SANDWICH_LEAD_TOKEN"
ARGV_WARNING = (
    "a token given with {flag} on the command line can be read by every local user (ps, /proc) and "
    "stays in your shell history; set {env} or use {flag}-file instead."
)


def warn(text: str) -> None:
    """A warning on standard error."""
    stderr.print(f"[yellow]warning:[/] {escape(text)}", highlight=False)


def read_token_file(path: Path) -> str:
    """The token in `path` (first line). Warns when others may read the file; SandwichError when unreadable/empty."""
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip().splitlines()
    except OSError as e:
        raise SandwichError(f"{path}: cannot read the token file ({e.strerror}).") from None
    if not text or not text[0].strip():
        raise SandwichError(f"{path}: the token file is empty.")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn(f"{path} can be read by other users; make it yours alone: chmod 600 {path}")
    return text[0].strip()


def resolve_token(argv_value: str | None, file: Path | None, *, lead: bool = False) -> str | None:
    """The token to use: the command line (with a warning), else the file, else the environment (None if none)."""
    flag, env = ("--lead-token", LEAD_TOKEN_ENV) if lead else ("--token", TOKEN_ENV)
    if argv_value:
        warn(ARGV_WARNING.format(flag=flag, env=env))
        return argv_value
    if file is not None:
        return read_token_file(file)
    return os.environ.get(env) or None


def token_option(lead: bool = False) -> str | None:
    """A `--token`/`--lead-token` option that does not fill itself from the environment (so argv use is seen)."""
    flag, env = ("--lead-token", LEAD_TOKEN_ENV) if lead else ("--token", TOKEN_ENV)
    return typer.Option(None, flag, help=f"Discouraged (visible in `ps`): set {env} or use {flag}-file.")


def token_file_option(lead: bool = False) -> Path | None:
    """A `--token-file`/`--lead-token-file` option."""
    flag = "--lead-token-file" if lead else "--token-file"
    what = "a lead token (`sandwich serve` writes one beside the study)" if lead else "your overseer token"
    return typer.Option(None, flag, help=f"A file (mode 600) holding {what}.", dir_okay=False)
