"""`sandwich serve | tokens issue|list|revoke | snapshot`: many overseers at once through one server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from sandwich.cli.common import DB_HELP, console, study_db, warn
from sandwich.cli.help_ready import ALLOW_FLAG, ALLOW_HELP, require_help
from sandwich.cli.secret import resolve_token, token_file_option, token_option, write_token_file
from sandwich.errors import SandwichError, StudyLocked

if TYPE_CHECKING:
    from sandwich.server.tokens import TokenStore

tokens_app = typer.Typer(
    help="Access tokens for `sandwich serve` (one per overseer, and lead tokens).", no_args_is_help=True
)
SERVER_HELP = (
    "URL of the running `sandwich serve` (needed while it owns the study database); replicas of one study: URL1,URL2."
)


def serve(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for a lab network)."),
    port: int = typer.Option(8765, "--port", help="TCP port."),
    follow_up_limit: int | None = typer.Option(
        None, "--follow-up-limit", help="Live follow-ups running at once (default: assistant.concurrency)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug | info | warning | error"),
    rate_limit: float = typer.Option(
        20.0,
        "--rate-limit",
        help="Requests per second each token may make, sustained (bursts of 20 s "
        "worth; bodies 256 KiB/s); over it: 429 with Retry-After. 0 = off.",
    ),
    allow_missing_help: bool = typer.Option(False, ALLOW_FLAG, help=ALLOW_HELP),
) -> None:
    """Serve a study to many overseers at once; overseers connect with tokens. This process owns a DuckDB file; on
    PostgreSQL (--db URL) several can serve one study, each on its own port (replicas)."""
    from sandwich.server.budget import Budget
    from sandwich.server.runner import serve as run

    path = study_db(study, db, write=True)
    with socket.socket() as s:  # a clear error instead of uvicorn's exit when the port is taken
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise SandwichError(
                f"Cannot listen on {host}:{port}: {e.strerror}.",
                hint="Another server is using it; pick another with --port.",
            ) from None
    require_help(path, study, None, allow=allow_missing_help, warn=warn)
    run(
        path,
        host=host,
        port=port,
        log_level=log_level,
        follow_up_limit=follow_up_limit,
        budget=Budget(requests_per_s=rate_limit, request_burst=20 * rate_limit),
        announce=lambda text: console.print(text, highlight=False, soft_wrap=True),
    )


SERVED_HINT = (
    "The study is probably being served: run this with --server http://HOST:PORT --lead-token-file "
    "STUDY.lead-token (the file `sandwich serve` wrote) or with SANDWICH_LEAD_TOKEN set."
)


@contextmanager
def _local_tokens(study: str, db: str | None) -> Iterator[TokenStore]:
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


def _lead_client(server: str, lead_token: str | None, lead_token_file: Path | None = None):  # noqa: ANN202
    from sandwich.client import LeadClient

    token = resolve_token(lead_token, lead_token_file, lead=True)
    if not token:
        raise SandwichError(
            "--server needs a lead token: set SANDWICH_LEAD_TOKEN or give --lead-token-file FILE.",
            hint="`sandwich serve` writes one to STUDY.lead-token beside the study when it first "
            "starts; `sandwich tokens issue STUDY --lead --out FILE` makes another.",
        )
    return LeadClient(server, token)


@tokens_app.command("issue")
def issue(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    overseer: str | None = typer.Option(None, "--overseer", help="The overseer this token is for."),
    lead: bool = typer.Option(False, "--lead", help="A lead token (status, export, snapshot, tokens)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    lead_token: str | None = token_option(lead=True),
    lead_token_file: Path | None = token_file_option(lead=True),
    out: Path | None = typer.Option(
        None, "--out", "-o", dir_okay=False, help="Write the token to this new file (mode 600) instead of printing it."
    ),
) -> None:
    """Issue a token: print it once, or write it to an owner-only file with --out (only its salted hash is stored)."""
    if server:
        client = _lead_client(server, lead_token, lead_token_file)
        issued = client.issue_token(overseer=overseer, lead=lead)
        client.close()
        token, subject = issued["token"], issued["subject"]
    else:
        with _local_tokens(study, db) as store:
            token, who = store.issue(overseer=overseer, lead=lead)
        subject = who.subject
    if out is not None:
        write_token_file(out, token)
        console.print(f"token for {subject} written to {out} (readable by you only)", markup=False, highlight=False)
        return
    console.print(f"[dim]token for {subject} (shown once):[/]", highlight=False)
    print(token)


@tokens_app.command("list")
def list_tokens(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    lead_token: str | None = token_option(lead=True),
    lead_token_file: Path | None = token_file_option(lead=True),
) -> None:
    """List tokens (ids, subjects, roles; never secrets)."""
    if server:
        client = _lead_client(server, lead_token, lead_token_file)
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
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    lead_token: str | None = token_option(lead=True),
    lead_token_file: Path | None = token_file_option(lead=True),
) -> None:
    """Revoke a token (takes effect at once on a running server when done through --server)."""
    if server:
        client = _lead_client(server, lead_token, lead_token_file)
        client.revoke_token(token_id)
        client.close()
    else:
        with _local_tokens(study, db) as store:
            store.revoke(token_id)
    console.print(f"[green]revoked[/] {token_id}")


def snapshot(
    server: str = typer.Option(..., "--server", help="URL of the running `sandwich serve`."),
    lead_token: str | None = token_option(lead=True),
    lead_token_file: Path | None = token_file_option(lead=True),
    out: Path = typer.Option(Path("snapshot.duckdb"), "--out", "-o", help="Where to write the snapshot."),
) -> None:
    """Download a consistent copy of a served study's database; then run `sandwich analyze OUT`."""
    client = _lead_client(server, lead_token, lead_token_file)
    try:
        path = client.snapshot(out)
    finally:
        client.close()
    console.print(
        f"[green]snapshot[/] {path} ({path.stat().st_size / 1e6:.1f} MB) — analyse it with `sandwich analyze {path}`"
    )


def register(app: typer.Typer) -> None:
    """Add serve, tokens and snapshot."""
    app.command()(serve)
    app.command()(snapshot)
    app.add_typer(tokens_app, name="tokens")
