"""`sandwich assist precompute` and `sandwich serve-model`: model assistance for a study."""

from __future__ import annotations

import time

import typer

from sandwich.cli.common import DB_HELP, console, open_service, progress_bar
from sandwich.errors import SandwichError

assist_app = typer.Typer(help="Generate and inspect model assistance.", no_args_is_help=True)


@assist_app.command("precompute")
def precompute_cmd(
    study: str = typer.Argument(..., help="The study's .yaml (its .duckdb beside it) or a .duckdb file."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    backend: str | None = typer.Option(
        None,
        "--backend",
        help="Override the study's backend: embedded, vllm, vllm-offline, scripted (canned replies, no model).",
    ),
    url: list[str] | None = typer.Option(
        None, "--url", help="vLLM server base URL (…/v1); implies --backend vllm. Repeat it for a pool of servers."
    ),
    model: str | None = typer.Option(None, "--model", help="Override the study's assistant model."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Assistance rows generated and committed together."),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Generate failed, unparsed and cut-off rows again."
    ),
    overseer: list[str] | None = typer.Option(
        None, "--overseer", help="Only the items these overseers will meet (repeatable)."
    ),
) -> None:
    """Generate every item × condition × kind of assistance the study needs; resumable (done rows are kept)."""
    from assistants.precompute import precompute
    from sandwich.config import AssistantSpec

    with open_service(study, db) as svc:
        updates: dict[str, object] = {}
        if url:
            updates.update(backend="vllm", url=url[0] if len(url) == 1 else url)
        if backend:
            updates["backend"] = backend
            if backend != "vllm":
                updates["url"] = None  # a server URL means nothing to the other backends
        if model:
            updates["model"] = model
        try:
            spec = AssistantSpec(**{**svc.study.assistant.model_dump(), **updates})
        except ValueError as e:
            raise SandwichError(f"Invalid assistant override: {e}") from None
        urls = spec.url if isinstance(spec.url, list) else [spec.url]
        where = f" at {', '.join(str(u) for u in urls)}" if spec.backend == "vllm" else ""
        console.print(f"assistant: [bold]{spec.backend}[/]{where} · model {spec.model}")
        with progress_bar("assistance") as update:
            report = precompute(
                svc, spec=spec, batch_size=batch_size, retry_failed=retry_failed, progress=update, overseers=overseer
            )
    if report.generated == 0:
        console.print(f"[green]nothing to do[/]: all {report.needed} assistance rows are already stored.")
        return
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(report.by_status.items()))
    rate = report.tokens_out / report.wall_s if report.wall_s else 0.0
    console.print(
        f"[green]done[/]: {report.generated} generated ({statuses}), {report.skipped} already stored · "
        f"{report.tokens_out} tokens out in {report.wall_s:.0f} s ({rate:.1f} tok/s)"
    )
    if report.by_status.get("failed") or report.by_status.get("unparsed"):
        console.print("[yellow]Overseers see failed/unparsed rows as such.[/] Try them again with --retry-failed.")


def serve_model_cmd(
    model: str = typer.Option("smollm2-135m-instruct", "--model", help="A prepared model name or a model directory."),
    port: int | None = typer.Option(None, "--port", help="Port (default: a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    max_model_len: int = typer.Option(2048, "--max-model-len", help="Context length (tokens)."),
) -> None:
    """Start a vLLM server on a local model and keep it running until Ctrl-C (kills the whole server tree)."""
    from rich.status import Status

    from assistants.backends.server import ModelServer

    server = ModelServer(model, port=port, host=host, max_model_len=max_model_len)
    console.print(f"starting vLLM: [dim]{' '.join(server.command)}[/]\nlog: {server.log_path}")
    try:
        with Status("starting vLLM…", console=console) as spinner:
            server.start(status=lambda what, s: spinner.update(f"starting vLLM ({s:.0f} s): {what}"))
        console.print(
            f"[green]ready[/] {server.url}  (model name [bold]{server.name}[/])\n"
            f"In a study file:  assistant: {{backend: vllm, url: {server.url}, model: {server.name}}}\n"
            f"Or:  sandwich assist precompute STUDY --url {server.url}\nCtrl-C stops the server."
        )
        while server.alive():
            time.sleep(1.0)
        tail = server.log_tail()
        code = server.process.returncode if server.process else None
        raise SandwichError(f"The vLLM server exited (code {code}).\nLast log lines:\n{tail}")
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    """Add the `assist` group and `serve-model`."""
    app.add_typer(assist_app, name="assist")
    app.command("serve-model")(serve_model_cmd)
