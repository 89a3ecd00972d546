"""`label` and `serve` refuse to start while an assisted condition lacks its precomputed help (c17)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from rich.console import Console

from assistants.backends.base import Generation
from assistants.precompute import precompute
from sandwich.cli.help_ready import help_readiness, require_help
from sandwich.create import create_study
from sandwich.errors import AssistanceUnavailable, SandwichError
from sandwich.service import StudyService
from sandwich.studyfile import load_study

CASE = Path(__file__).resolve().parent / "data" / "c17-assisted-without-help"


class ScriptedBackend:
    """Answers every call with the same text (or raises, to make the help fail)."""

    name, model = "scripted", "none"

    def __init__(self, reply: str | None) -> None:
        self.reply = reply

    def generate(self, batch: Sequence[list[dict[str, str]]], **kw: object) -> list[Generation]:
        if self.reply is None:
            raise AssistanceUnavailable("the model refused")
        return [Generation(self.reply, self.name, self.model, list(m)) for m in batch]

    def stream(self, messages: list[dict[str, str]], **kw: object) -> Iterator[str]:
        yield self.reply or ""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandwich", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "300"},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, Path]:
    """c17 created as the README's recipe leaves it: no `assist precompute`."""
    folder = tmp_path / "c17"
    shutil.copytree(CASE, folder)
    db = folder / "study.duckdb"
    create_study(load_study(folder / "study.yaml"), db)
    return folder / "study.yaml", db


def test_label_refuses_to_start_without_help_and_gives_the_command(study: tuple[Path, Path]) -> None:
    """c17: `label` used to open the app and show 'No help was prepared' on every consult item."""
    yaml, db = study
    res = cli("label", str(yaml), "--overseer", "ana")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "lack their precomputed help for ana: consult: 0 of 2 items have help (2 never generated)" in res.stderr
    assert f"sandwich assist precompute {yaml} --overseer ana first" in res.stderr
    assert "--allow-missing-help" in res.stderr
    with StudyService(db, read_only=True) as svc:
        assert svc.for_overseer("ana").progress().done == 0


def test_serve_refuses_to_start_without_help(study: tuple[Path, Path]) -> None:
    yaml, db = study
    elsewhere = db.parent.parent / "served.duckdb"
    db.rename(elsewhere)
    res = cli("serve", str(yaml), "--db", str(elsewhere), "--port", "0")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "consult: 0 of 4 items have help (4 never generated)" in res.stderr
    assert f"sandwich assist precompute {yaml} --db {elsewhere} first" in res.stderr


def test_help_for_one_overseer_lets_that_overseer_start_but_not_the_server(study: tuple[Path, Path]) -> None:
    yaml, db = study
    with StudyService(db) as svc:
        report = precompute(svc, backend=ScriptedBackend("The answer is A. " * 5), overseers=["ana"])
        assert report.by_status == {"ok": 2}
        ready = {c.condition: (c.ready, c.items) for c in help_readiness(svc)}
    assert ready == {"consult": (2, 4)}
    require_help(db, str(yaml), ["ana"], allow=False, warn=Console(file=io.StringIO()))
    with pytest.raises(SandwichError, match=r"consult: 2 of 4 items have help \(2 never generated\)"):
        require_help(db, str(yaml), None, allow=False, warn=Console(file=io.StringIO()))


def test_failed_help_counts_as_missing_and_the_fix_retries_it(study: tuple[Path, Path]) -> None:
    yaml, db = study
    with StudyService(db) as svc:
        report = precompute(svc, backend=ScriptedBackend(None), overseers=["ben"])
        assert set(report.by_status) == {"failed"}
    with pytest.raises(SandwichError) as e:
        require_help(db, str(yaml), ["ben"], allow=False, warn=Console(file=io.StringIO()))
    assert "consult: 0 of 2 items have help (2 failed or unreadable)" in e.value.message
    assert e.value.hint is not None and "--overseer ben --retry-failed" in e.value.hint


def test_the_override_warns_loudly_with_the_command(study: tuple[Path, Path]) -> None:
    yaml, db = study
    out = io.StringIO()
    require_help(db, str(yaml), ["ana"], allow=True, warn=Console(file=out, width=300))
    text = out.getvalue()
    assert text.startswith("WARNING: assisted conditions lack their precomputed help for ana: consult: 0 of 2")
    assert f"sandwich assist precompute {yaml} --overseer ana" in text


def test_a_study_without_assisted_conditions_needs_no_help(tmp_path: Path) -> None:
    folder = tmp_path / "c17"
    shutil.copytree(CASE, folder)
    yaml = folder / "study.yaml"
    yaml.write_text(
        yaml.read_text().replace("  - {name: consult, assistance: [consultancy]}\n", "").replace("[ana, ben]", "[ana]")
    )
    create_study(load_study(yaml), folder / "study.duckdb")
    require_help(folder / "study.duckdb", str(yaml), None, allow=False, warn=Console(file=io.StringIO()))
