"""Run the server: open the study (the one writer), serve it with uvicorn, shut down cleanly.

SIGTERM / SIGINT: uvicorn stops accepting connections and lets in-flight
requests finish; the lifespan hook drains the writer's queue; then the study is
checkpointed and closed. SIGKILL loses nothing acknowledged, because nothing is
acknowledged before its COMMIT.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn

from sandwich.server.tokens import write_token_file
from sandwich.service import StudyService


def lead_token_path(db_path: Path | str, study: str = "study") -> Path:
    """Where `serve` writes the lead token it issues on a study's first start: beside the study database
    (for a PostgreSQL study, `STUDY.lead-token` in the current folder)."""
    if isinstance(db_path, Path):
        return db_path.with_name(db_path.stem + ".lead-token")
    return Path.cwd() / f"{study}.lead-token"


def serve(
    db_path: Path | str,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    log_level: str = "info",
    announce: Callable[[str], None] = print,
    **options: object,
) -> None:
    """Serve one study until SIGTERM/SIGINT. Issues (and announces) a lead token when the study has none."""
    from sandwich.server.app import create_app

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The writer thread hands the GIL back to the event loop whenever DuckDB runs; at the default 5 ms
    # switch interval it then waits up to 5 ms to get it back, per statement. 0.5 ms keeps commits short.
    sys.setswitchinterval(0.0005)
    svc = StudyService(db_path)
    try:
        app = create_app(svc, **options)
        st = app.state.sandwich
        if not st.tokens.has_lead():  # to an owner-only file, not to standard output (where logs collect it)
            token, _ = st.tokens.issue(lead=True)
            where = write_token_file(lead_token_path(db_path, svc.study.study), token, replace_existing=True)
            announce(f"lead token written to {where} (readable by you only); use it with --lead-token-file {where}")
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            timeout_graceful_shutdown=30,
            limit_concurrency=int(os.environ.get("SANDWICH_SERVE_MAX_CONNECTIONS", "1000")),
            backlog=2048,
        )
        server = uvicorn.Server(config)
        # uvicorn re-raises SIGTERM after its graceful shutdown; make that an exception so `finally` checkpoints
        signal.signal(signal.SIGTERM, _raise_exit)
        announce(
            f"serving study {svc.study.study!r} from {db_path} on http://{host}:{port} "
            f"(API docs: http://{host}:{port}/docs)"
        )
        server.run()
    finally:
        if "app" in locals():
            app.state.sandwich.close()  # idempotent: normally the lifespan hook already drained the writer
        svc.close()  # checkpoints: the file stands alone afterwards
        announce("stopped; every acknowledged judgment is in the study database")


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
