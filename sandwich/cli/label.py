"""`sandwich label`: an overseer's session in the terminal app (or in a browser with --web)."""

from __future__ import annotations

import os
import shlex
import sys
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from sandwich.cli.common import DB_HELP, console, study_db, warn
from sandwich.cli.help_ready import ALLOW_FLAG, ALLOW_HELP, require_help
from sandwich.cli.secret import resolve_token, token_file_option, token_option
from sandwich.errors import SandwichError
from sandwich.service import StudyService
from sandwich.store import Location


def _check(db: Location, overseer: str) -> tuple[str, int]:
    """Open the study once to fail early with a clear message; returns (study name, items left)."""
    svc = StudyService(db)
    try:
        session = svc.for_overseer(overseer)
        left = session.progress()
        return svc.study.study, left.total - left.done
    finally:
        svc.close()


def serve_web(
    study: str, overseer: str, db: Location, host: str, port: int, theme: str = "dark", allow_missing_help: bool = False
) -> None:
    """Serve the same app in a browser: textual-serve starts one `sandwich label` process per page."""
    from textual_serve.server import Server

    command = shlex.join(
        [
            sys.executable,
            "-m",
            "sandwich",
            "label",
            study,
            "--overseer",
            overseer,
            "--db",
            str(db.resolve()) if isinstance(db, Path) else db,
            "--theme",
            theme,
            "--client",
            "web",
        ]
        + ([ALLOW_FLAG] if allow_missing_help else [])
    )
    console.print(
        f"[green]serving[/] {overseer}'s session at [bold]http://{host}:{port}[/] — "
        "open it in one browser tab (a second tab says so and stops). Ctrl+C stops."
    )
    Server(command, host=host, port=port, title=f"sandwich · {overseer}").serve()


def label(
    study: str | None = typer.Argument(
        None, help="Study YAML (its .duckdb sits beside it) or the .duckdb file.", show_default=False
    ),
    overseer: str | None = typer.Option(None, "--overseer", "-o", help="Your overseer name, as listed in the study."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    web: bool = typer.Option(False, "--web", help="Serve the app in a browser instead of this terminal."),
    host: str = typer.Option("127.0.0.1", "--host", help="With --web: address to listen on."),
    port: int = typer.Option(8000, "--port", help="With --web: port to listen on."),
    theme: str = typer.Option("dark", "--theme", help="dark or light (t switches inside the app)."),
    server: list[str] | None = typer.Option(
        None,
        "--server",
        help="Label through a running `sandwich serve` at "
        "this URL (your token in SANDWICH_TOKEN or --token-file). Replicas of "
        "one study: URL1,URL2 or the option repeated; the app fails over.",
    ),
    token: str | None = token_option(),
    token_file: Path | None = token_file_option(),
    take_over: bool = typer.Option(
        False, "--take-over", help="Open even if your session is open elsewhere (that window then stops saving)."
    ),
    client: str = typer.Option("tui", "--client", hidden=True),  # "web": a page of `label --web`
    allow_missing_help: bool = typer.Option(False, ALLOW_FLAG, help=ALLOW_HELP),
) -> None:
    """Judge your items in the overseer app: briefing, item, the model's help, your judgment."""
    if theme not in ("dark", "light"):
        raise SandwichError(f"--theme {theme!r}: expected dark or light.")
    try:
        _label(
            study,
            overseer,
            db,
            web,
            host,
            port,
            theme,
            ",".join(server) if server else None,
            resolve_token(token, token_file),
            take_over,
            client,
            allow_missing_help,
        )
    except SandwichError as e:
        if client != "web":
            raise
        show_in_browser(e)  # a browser page has no terminal: the error is shown in the page itself


def error_app(error: SandwichError) -> Any:  # a textual App (textual is imported only when needed)
    """A one-screen app that shows why a session cannot open (what a browser page shows instead of loading)."""
    from textual.app import App

    from tui.screens.notice import NoticeScreen

    body = error.message + (f"\n\n{error.hint}" if error.hint else "")

    class SessionError(App[None]):
        def on_mount(self) -> None:
            self.push_screen(
                NoticeScreen("Cannot open your session", body, button="Close", tone="error"),
                lambda _: self.exit(return_code=2),
            )

    return SessionError()


def show_in_browser(error: SandwichError) -> None:
    """Show an error that stops a browser page's session in that page (not only in the server's log); exit 2."""
    error_app(error).run()
    sys.exit(2)


def _label(
    study: str | None,
    overseer: str | None,
    db: str | None,
    web: bool,
    host: str,
    port: int,
    theme: str,
    server: str | None,
    token: str | None,
    take_over: bool,
    client: str,
    allow_missing_help: bool,
) -> None:
    if server:
        label_remote(
            server, token, overseer, web=web, host=host, port=port, theme=theme, take_over=take_over, client=client
        )
        return
    if study is None or overseer is None:
        raise SandwichError(
            "Give the study and --overseer NAME.",
            hint="Or label through a server: SANDWICH_TOKEN=… sandwich label --server URL.",
        )
    path = study_db(study, db, write=True)
    name, left = _check(path, overseer)
    if left == 0:
        console.print(f"[green]All done[/] — {overseer} has judged every item in {name}. Thank you!")
        return
    require_help(path, study, [overseer], allow=allow_missing_help, warn=warn)
    if web:
        serve_web(study, overseer, path, host, port, theme, allow_missing_help)
        return
    from assistants.live import stream_follow_up
    from tui.app import OverseerApp

    svc = StudyService(path, follow_up_model=stream_follow_up)  # the composition root injects the model
    try:
        session = svc.for_overseer(overseer)
        session.take_over = take_over
        app = OverseerApp(session, study_title=name, theme=f"textual-{theme}", client=client)
        app.run()
    finally:
        svc.close()
    progress = None
    try:
        with StudyService(path, read_only=True) as ro:
            progress = ro.for_overseer(overseer).progress()
    except SandwichError:
        pass
    code = app.return_code or 0
    if progress is not None:
        console.print(
            f"{overseer}: {progress.done} of {progress.total} judged — "
            + ("every judgment submitted before the error is saved." if code else "everything submitted is saved."),
            markup=False,
            highlight=False,
        )
    _exit_if_failed(code)
    _leave_abandoned_answers(code)


def _exit_if_failed(code: int) -> None:
    """A session that ended in an error is never reported as a normal exit.

    `sys.exit`, not `typer.Exit`: the CLI runs click outside standalone mode, where
    `Exit` becomes a return value and the process would exit 0.
    """
    if not code:
        return
    err = Console(stderr=True)
    err.print(
        "[bold red]error:[/] the overseer app stopped with an error (shown above), not by quitting.", highlight=False
    )
    err.print(
        "[dim]→ Reopen the session to go on; please send the message above to the study lead.[/]", highlight=False
    )
    sys.stdout.flush()
    sys.stderr.flush()
    if any(t is not threading.main_thread() and t.daemon and t.is_alive() for t in threading.enumerate()):
        os._exit(code)  # a follow-up still generating must not hold the exit up (see _leave_abandoned_answers)
    sys.exit(code)


def _leave_abandoned_answers(code: int) -> None:
    """Exit at once if a live follow-up is still generating in a background thread.

    Everything is stored and the database closed by now; an in-process model left
    generating an answer nobody will read would otherwise hold up (or, torch threads
    torn down mid-run, abort) the interpreter's shutdown.
    """
    busy = [t for t in threading.enumerate() if t is not threading.main_thread() and t.daemon and t.is_alive()]
    if busy:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def label_remote(
    server: str,
    token: str | None,
    overseer: str | None,
    *,
    web: bool,
    host: str,
    port: int,
    theme: str,
    take_over: bool = False,
    client: str = "tui",
) -> None:
    """The same app against `sandwich serve`: the session is an HTTP client (sandwich.client.OverseerClient)."""
    import os

    from sandwich.client import OverseerClient

    if not token:
        raise SandwichError(
            "--server needs your overseer token.",
            hint="Ask the study lead for one (`sandwich tokens issue STUDY --overseer NAME`); "
            "set SANDWICH_TOKEN or use --token-file FILE.",
        )
    api = OverseerClient(server, token, take_over=take_over)
    try:
        if overseer is not None and overseer != api.overseer:
            raise SandwichError(f"This token is {api.overseer}'s, not {overseer}'s.", hint="Use your own token.")
        left = api.progress()
        if left.done == left.total:
            console.print(f"[green]All done[/] — {api.overseer} has judged every item in {api.study}. Thank you!")
            return
        if web:  # one app process per browser page; the token travels in the environment, not the command line
            from textual_serve.server import Server

            os.environ["SANDWICH_TOKEN"] = token
            command = shlex.join(
                [sys.executable, "-m", "sandwich", "label", "--server", server, "--theme", theme, "--client", "web"]
            )
            console.print(
                f"[green]serving[/] {api.overseer}'s session at [bold]http://{host}:{port}[/] "
                f"(through {server}). Ctrl+C stops."
            )
            Server(command, host=host, port=port, title=f"sandwich · {api.overseer}").serve()
            return
        from tui.app import OverseerApp

        app = OverseerApp(api, study_title=api.study, theme=f"textual-{theme}", client=client)
        app.run()
        progress = api.progress()
        console.print(
            f"{api.overseer}: {progress.done} of {progress.total} judged — everything submitted is "
            "saved on the server.",
            markup=False,
            highlight=False,
        )
        _exit_if_failed(app.return_code or 0)
    finally:
        api.close()


def register(app: typer.Typer) -> None:
    """Add `label`."""
    app.command()(label)
