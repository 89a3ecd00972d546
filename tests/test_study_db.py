"""A study file given with `--db` is held to the database; a database that cannot be written is refused early."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from db_sql import sql

from sandwich.service import StudyService
from sandwich.studyfile import load_study

DATA = Path(__file__).resolve().parent / "data"
CASE = DATA / "c09-study-file-mismatch"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandwich", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "300"},
        timeout=300,
    )


@pytest.fixture
def created(tmp_path: Path) -> Path:
    """c09's study `capitals-pilot` created from study.yaml."""
    db = tmp_path / "s.duckdb"
    res = cli("create", str(CASE / "study.yaml"), "--db", str(db))
    assert res.returncode == 0, res.stderr
    return db


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["analyze", "--replicates", "50"],
        ["export", "--to", "OUT"],
        ["simulate", "--no-model-alone"],
        ["label", "--overseer", "dev"],
    ],
)
def test_another_study_file_with_this_db_is_an_error(created: Path, command: list[str]) -> None:
    """c09: `status other-study.yaml --db` used to print the stored study and exit 0."""
    args = [a.replace("OUT", str(created.parent / "out")) for a in command]
    res = cli(args[0], str(CASE / "other-study.yaml"), "--db", str(created), *args[1:])
    assert res.returncode == 2, res.stdout + res.stderr
    assert (
        f"{CASE / 'other-study.yaml'} is study 'another-study', but {created} holds study 'capitals-pilot'"
        in res.stderr
    )
    assert "sandwich create" in res.stderr and "capitals-pilot —" not in res.stdout
    with StudyService(created, read_only=True) as svc:
        assert sql(svc, "SELECT count(*) AS n FROM judgments")[0]["n"] == 0


def test_an_edited_file_warns_with_both_hashes_and_the_fields_and_says_which_is_used(created: Path) -> None:
    stored = load_study(CASE / "study.yaml").config_hash
    edited = load_study(CASE / "edited.yaml").config_hash
    res = cli("status", str(CASE / "edited.yaml"), "--db", str(created))
    assert res.returncode == 0, res.stderr
    assert f"(sha256 {edited[:12]})" in res.stderr and f"(sha256 {stored[:12]})" in res.stderr
    assert "judgment.time_limit_s: file 120, database 300" in res.stderr
    assert "overseers.non_experts: file ['ana', 'ben', 'chi'], database ['ana', 'ben']" in res.stderr
    assert f"The database's copy ({stored[:12]}) is used" in res.stderr
    assert f"config {stored[:12]}" in res.stdout


def test_the_unchanged_file_says_nothing(created: Path) -> None:
    res = cli("status", str(CASE / "study.yaml"), "--db", str(created))
    assert res.returncode == 0 and "warning" not in res.stderr and res.stderr == ""


def test_the_file_beside_its_db_is_checked_too(tmp_path: Path) -> None:
    folder = tmp_path / "c09"
    shutil.copytree(CASE, folder)
    assert cli("create", str(folder / "study.yaml")).returncode == 0
    study = folder / "study.yaml"
    study.write_text(study.read_text().replace("time_limit_s: 300", "time_limit_s: 90"))
    res = cli("status", str(study))
    assert res.returncode == 0 and "judgment.time_limit_s: file 90, database 300" in res.stderr


# ------------------------------------------------------------------ unwritable --db refused before any work
def _read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores permission bits; sysfs refuses even root)."""
    if os.geteuid() == 0:
        return Path("/sys/kernel")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def test_create_refuses_a_db_in_a_read_only_folder_before_any_work(tmp_path: Path) -> None:
    target = _read_only_folder(tmp_path) / "s.duckdb"
    res = cli("create", str(CASE / "study.yaml"), "--db", str(target))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{target}: cannot write in {target.parent}" in res.stderr
    assert "data " not in res.stdout  # refused before the data was read


def test_create_refuses_a_db_in_a_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "s.duckdb"
    res = cli("create", str(CASE / "study.yaml"), "--db", str(target))
    assert res.returncode == 2 and f"the folder {target.parent} does not exist" in res.stderr
    assert not target.parent.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["simulate"],
        ["label", "--overseer", "ana"],
        ["serve", "--port", "0"],
        ["tokens", "issue", "--overseer", "ana"],
        ["assist", "precompute"],
    ],
)
def test_every_command_that_writes_refuses_a_db_it_cannot_write(tmp_path: Path, command: list[str]) -> None:
    target = _read_only_folder(tmp_path) / "s.duckdb"
    n = 2 if command[0] in ("tokens", "assist") else 1
    res = cli(*command[:n], str(target), "--db", str(target), *command[n:])
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"{target}: cannot write in {target.parent}" in res.stderr
