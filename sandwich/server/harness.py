"""A served study for load and fault tests: a generated study, its tokens, and a real server subprocess.

Used by `benchmarks/serve_load.py` and the serve tests. The server always
listens on 127.0.0.1 on a free port; it is started as its own process group so
that `kill()` (SIGKILL) and `stop()` (SIGTERM) reach it and nothing else.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sandwich.errors import SandwichError


def write_load_study(
    folder: Path,
    *,
    questions: int = 2000,
    overseers: int = 100,
    items_per_overseer: int = 200,
    design: str = "between-subjects",
    seed: int = 0,
) -> Path:
    """Write a multiple-choice study (generated questions, no passages, no sandbox) and return its YAML path."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with open(folder / "questions.jsonl", "w") as f:
        for i in range(questions):
            f.write(
                json.dumps(
                    {
                        "id": f"q{i:05d}",
                        "question": f"Which option is right for question {i}?",
                        "choices": ["alpha", "beta", "gamma", "delta"],
                        "answer": rng.choice("ABCD"),
                    }
                )
                + "\n"
            )
    names = ", ".join(overseer_names(overseers))
    path = folder / "load.yaml"
    path.write_text(f"""study: load
question: Does the server keep every judgment under load?
task: {{kind: multiple-choice, source: questions.jsonl, columns: {{id: id}}, answer_format: letter}}
gold: {{kind: dataset-label}}
conditions:
  - {{name: unassisted}}
  - {{name: consult, assistance: [consultancy]}}
overseers:
  design: {design}
  non_experts: [{names}]
  items_per_overseer: {items_per_overseer}
judgment: {{choices: item, confidence: [25, 50, 75, 100], time_limit_s: 600}}
""")
    return path


def overseer_names(n: int) -> list[str]:
    """The overseer names a generated load study uses."""
    return [f"o{i:03d}" for i in range(n)]


def create_with_tokens(study_yaml: Path, db: Path | str, overseers: list[str]) -> tuple[dict[str, str], str]:
    """Create the study database and issue a token per overseer plus a lead token. Returns (tokens, lead token)."""
    from sandwich.create import create_study
    from sandwich.server.tokens import TokenStore
    from sandwich.service import StudyService
    from sandwich.studyfile import load_study

    create_study(load_study(study_yaml), db)
    with StudyService(db) as svc:
        store = TokenStore(svc)
        tokens = {name: store.issue(overseer=name)[0] for name in overseers}
        lead = store.issue(lead=True)[0]
    return tokens, lead


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`sandwich serve DB` as a subprocess on 127.0.0.1; restartable on the same port."""

    def __init__(
        self,
        db: Path | str,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.db = db  # a DuckDB file, or a PostgreSQL URL (then give `log`, or it goes to the temp folder)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.log = log or (
            db.with_suffix(".serve.log")
            if isinstance(db, Path)
            else Path(tempfile.gettempdir()) / f"sandwich-serve-{self.port}.log"
        )
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> ServerProcess:
        """Start the server and wait until /v1/health answers; on failure, say why with its log."""
        cmd = [
            sys.executable,
            "-m",
            "sandwich",
            "serve",
            str(self.db),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--allow-missing-help",  # load and fault tests serve studies whose help was never generated
            *self.extra_args,
        ]
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SandwichError(
                    f"The server exited with code {self.proc.returncode}: {' '.join(cmd)}",
                    hint=self.log.read_text()[-2000:],
                )
            try:
                if httpx.get(self.url + "/v1/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise SandwichError(f"The server did not answer within {timeout:.0f} s.", hint=self.log.read_text()[-2000:])

    def kill(self) -> None:
        """SIGKILL the server (a crash: nothing gets to clean up)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (graceful shutdown) and wait; SIGKILL if it does not stop in time. Returns the exit code."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
