"""`sandwich models prepare`: a plain, loadable model directory from the GGUF on PyPI; idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sandwich.models import DEFAULT_MODEL, is_prepared, model_dir, prepare, resolve_model


def test_prepare_is_idempotent_and_plain() -> None:
    path = prepare()
    assert is_prepared() and path == model_dir(DEFAULT_MODEL)
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config
    assert (path / "model.safetensors").stat().st_size > 200_000_000
    stamp = (path / "model.safetensors").stat().st_mtime
    t0 = time.monotonic()
    assert prepare() == path
    assert time.monotonic() - t0 < 5 and (path / "model.safetensors").stat().st_mtime == stamp


def test_cli_prepare_and_unprepared_model_message(tmp_path: Path) -> None:
    env = {**os.environ, "SANDWICH_CACHE": str(tmp_path / "empty-cache")}
    res = subprocess.run([sys.executable, "-m", "sandwich", "models", "path"], capture_output=True, text=True, env=env)
    assert res.returncode == 2 and "sandwich models prepare" in res.stderr
    assert resolve_model(str(model_dir())) == model_dir()
