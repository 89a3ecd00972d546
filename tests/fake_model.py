"""A case's tiny OpenAI-compatible server (its fake_openai.py) on a free loopback port, and a study pointed at it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fake_model(case_dir: Path, folder: Path) -> Iterator[Path]:
    """Copy the case to `folder`, start its fake_openai.py, point study.yaml's assistant at it; yields the YAML."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(case_dir / "fake_openai.py"), str(port)])
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        shutil.copytree(case_dir, folder)
        spec = yaml.safe_load((folder / "study.yaml").read_text())
        spec["assistant"]["url"] = f"http://127.0.0.1:{port}/v1"
        (folder / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        yield folder / "study.yaml"
    finally:
        server.terminate()
        server.wait(timeout=10)
