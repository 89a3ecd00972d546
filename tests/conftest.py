"""Shared fixtures: small real study databases built through the real `create` path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent

from study_files import mc_rows, write_mc_study  # noqa: E402 - after the environment is set

from sandwich.store import STORE_KINDS  # noqa: E402 - after the environment is set

MC_ROWS = mc_rows(12)
__all__ = ["MC_ROWS", "write_mc_study"]


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each study-store implementation in turn: the service tests run against every one."""
    return request.param


@pytest.fixture
def mc_study(tmp_path: Path, store_kind: str) -> Path:
    """A created multiple-choice study (3 overseers × 3 conditions × 12 items) in each store implementation."""
    assert store_kind == "duckdb", f"no fixture location for store kind {store_kind!r} yet"
    from sandwich.create import create_study
    from sandwich.studyfile import load_study

    yaml_path = write_mc_study(tmp_path)
    db = tmp_path / "mc.duckdb"
    create_study(load_study(yaml_path), db)
    return db
