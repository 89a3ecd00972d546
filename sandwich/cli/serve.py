"""`sandwich serve | tokens issue|list|revoke | snapshot`: many overseers at once through one server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from sandwich.cli.common import console, study_db, warn
from sandwich.cli.help_ready import ALLOW_FLAG, ALLOW_HELP, require_help
from sandwich.errors import SandwichError, StudyLocked

if TYPE_CHECKING:
    from sandwich.server.tokens import TokenStore

tokens_app = typer.Typer(help="Access tokens for `sandwich serve` (one per overseer, and lead tokens).",
                         no_args_is_help=True)
SERVER_HELP = "URL of the running `sandwich serve` (needed while it owns the study database)."
LEAD_TOKEN_HELP = "A lead token for --server."


def serve(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    db: Path | None = typer.Option(None, "--db", help="Study database (default: beside the YAML)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for a lab network)."),
    port: int = typer.Option(8765, "--port", help="TCP port."),
    follow_up_limit: int | None = typer.Option(None, "--follow-up-limit",
                                               help="Live follow-ups running at once "
                                                    "(default: assistant.concurrency)."),
    log_level: str = typer.Option("info", "--log-level", help="debug | info | warning | error"),
    allow_missing_help: bool = typer.Option(False, ALLOW_FLAG, help=ALLOW_HELP),
) -> None:
    """Serve a study to many overseers at once: this process owns the database; overseers connect with tokens."""
    from sandwich.server.runner import serve as run

    path = study_db(study, db, write=True)
    with socket.socket() as s:  # a clear error instead of uvicorn's exit when the port is taken
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise SandwichError(f"Cannot listen on {host}:{port}: {e.strerror}.",
                                hint="Another server is using it; pick another with --port.") from None
    require_help(path, study, None, allow=allow_missing_help, warn=warn)
    run(path, host=host, port=port, log_level=log_level, follow_up_limit=follow_up_limit,
        announce=lambda text: console.print(text, highlight=False, soft_wrap=True))


SERVED_HINT = ("The study is probably being served: run this with --server http://HOST:PORT --lead-token TOKEN "
               "(the token `sandwich serve` printed).")


@contextmanager
def _local_tokens(study: str, db: Path | None) -> Iterator[TokenStore]:
    """The token store of a study that is not being served (a clear error when it is)."""
    from sandwich.server.tokens import TokenStore
    from sandwich.service import StudyService
    from sandwich.store import DB_ERRORS

    path = study_db(study, db, write=True)
    try:
        svc = StudyService(path)
    except StudyLocked as e:
        raise SandwichError(e.message, hint=SERVED_HINT) from None
    try:
        yield TokenStore(svc)
    except DB_ERRORS as e:  # DuckDB may open a served file and refuse only at COMMIT (the WAL's lock)
        if "lock" not in str(e).lower():
            raise
        raise SandwichError(f"{path}: the study database is in use by another process.", hint=SERVED_HINT) from None
    finally:
        svc.close()


def _lead_client(server: str, lead_token: str | None):  # noqa: ANN202
    from sandwich.client import LeadClient

    if not lead_token:
        raise SandwichError("--server needs --lead-token.", hint="`sandwich serve` prints a lead token when it starts.")
    return LeadClient(server, lead_token)


@tokens_app.command("issue")
def issue(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    overseer: str | None = typer.Option(None, "--overseer", help="The overseer this token is for."),
    lead: bool = typer.Option(False, "--lead", help="A lead token (status, export, snapshot, tokens)."),
    db: Path | None = typer.Option(None, "--db", help="Study database (default: beside the YAML)."),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    lead_token: str | None = typer.Option(None, "--lead-token", help=LEAD_TOKEN_HELP, envvar="SANDWICH_LEAD_TOKEN"),
) -> None:
    """Issue a token and print it once (only its salted hash is stored)."""
    if server:
        client = _lead_client(server, lead_token)
        out = client.issue_token(overseer=overseer, lead=lead)
        client.close()
        token, subject = out["token"], out["subject"]
    else:
        with _local_tokens(study, db) as store:
            token, who = store.issue(overseer=overseer, lead=lead)
        subject = who.subject
    console.print(f"[dim]token for {subject} (shown once):[/]", highlight=False)
    print(token)


@tokens_app.command("list")
def list_tokens(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    db: Path | None = typer.Option(None, "--db", help="Study database (default: beside the YAML)."),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    lead_token: str | None = typer.Option(None, "--lead-token", help=LEAD_TOKEN_HELP, envvar="SANDWICH_LEAD_TOKEN"),
) -> None:
    """List tokens (ids, subjects, roles; never secrets)."""
    if server:
        client = _lead_client(server, lead_token)
        rows = client.tokens()
        client.close()
    else:
        with _local_tokens(study, db) as store:
            rows = store.list()
    table = Table(show_edge=False)
    for col in ("id", "subject", "role", "created", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["token_id"], r["subject"], r["role"], str(r["created_at"])[:19], "yes" if r["revoked"] else "")
    console.print(table)


@tokens_app.command("revoke")
def revoke(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    token_id: str = typer.Argument(..., help="The token's id (from `tokens list`).", show_default=False),
    db: Path | None = typer.Option(None, "--db", help="Study database (default: beside the YAML)."),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    lead_token: str | None = typer.Option(None, "--lead-token", help=LEAD_TOKEN_HELP, envvar="SANDWICH_LEAD_TOKEN"),
) -> None:
    """Revoke a token (takes effect at once on a running server when done through --server)."""
    if server:
        client = _lead_client(server, lead_token)
        client.revoke_token(token_id)
        client.close()
    else:
        with _local_tokens(study, db) as store:
            store.revoke(token_id)
    console.print(f"[green]revoked[/] {token_id}")


def snapshot(
    server: str = typer.Option(..., "--server", help="URL of the running `sandwich serve`."),
    lead_token: str = typer.Option(..., "--lead-token", help=LEAD_TOKEN_HELP, envvar="SANDWICH_LEAD_TOKEN"),
    out: Path = typer.Option(Path("snapshot.duckdb"), "--out", "-o", help="Where to write the snapshot."),
) -> None:
    """Download a consistent copy of a served study's database; then run `sandwich analyze OUT`."""
    client = _lead_client(server, lead_token)
    try:
        path = client.snapshot(out)
    finally:
        client.close()
    console.print(f"[green]snapshot[/] {path} ({path.stat().st_size / 1e6:.1f} MB) — analyse it with "
                  f"`sandwich analyze {path}`")


def register(app: typer.Typer) -> None:
    """Add serve, tokens and snapshot."""
    app.command()(serve)
    app.command()(snapshot)
    app.add_typer(tokens_app, name="tokens")
