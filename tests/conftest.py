"""Shared fixtures: small real study databases built through the real `create` path."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent

from pg_cluster import Cluster, pg_bin_dir, start_cluster  # noqa: E402 - after the environment is set
from study_files import mc_rows, write_mc_study  # noqa: E402 - after the environment is set

from sandwich.store import STORE_KINDS  # noqa: E402 - after the environment is set

MC_ROWS = mc_rows(12)
__all__ = ["MC_ROWS", "write_mc_study"]


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each study-store implementation in turn: the service tests run against every one."""
    return request.param


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the whole session, stopped afterwards.

    Without PostgreSQL's binaries the tests that need it skip, except under CI (CI=true), where they fail.
    """
    if pg_bin_dir() is None:
        message = "PostgreSQL is not installed (make system-deps installs Debian's postgresql)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """A store URL naming a fresh schema (one per test) in the session's cluster."""
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return cluster.url(f"t_{uuid.uuid4().hex[:12]}")


def study_location(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest, stem: str = "mc") -> Path | str:
    """Where a test's study lives in a store kind: a DuckDB file in tmp_path, or a fresh PostgreSQL schema."""
    if store_kind == "postgres":
        return request.getfixturevalue("pg_url")  # type: ignore[no-any-return]
    assert store_kind == "duckdb", f"no fixture location for store kind {store_kind!r} yet"
    return tmp_path / f"{stem}.duckdb"


@pytest.fixture
def mc_study(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Path | str:
    """A created multiple-choice study (3 overseers × 3 conditions × 12 items) in each store implementation."""
    from sandwich.create import create_study
    from sandwich.studyfile import load_study

    yaml_path = write_mc_study(tmp_path)
    db = study_location(tmp_path, store_kind, request)
    create_study(load_study(yaml_path), db)
    return db
