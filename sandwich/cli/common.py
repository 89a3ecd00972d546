"""Shared CLI pieces: resolving a STUDY argument, opening the service, progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sandwich.errors import SandwichError
from sandwich.service import StudyService
from sandwich.store import default_db_path

console = Console()


def study_db(study: str, db: Path | None = None) -> Path:
    """STUDY may be a study .yaml (its database sits beside it) or a .duckdb file."""
    if db is not None:
        return db
    p = Path(study)
    if p.suffix in (".yaml", ".yml"):
        target = default_db_path(p)
        if not p.exists() and not target.exists():
            raise SandwichError(f"{p}: no such study file.", hint="Check the path; example studies live in studies/.")
        if not target.exists():
            raise SandwichError(f"{target}: no study database for {p} yet.", hint=f"Create it first: sandwich create {p}")
        return target
    if p.suffix == ".duckdb" or p.exists():
        return p
    raise SandwichError(f"{study}: not a study file or study database.",
                        hint="Give the study's .yaml (e.g. studies/humaneval-review.yaml) or its .duckdb file.")


@contextmanager
def open_service(study: str, db: Path | None = None, *, read_only: bool = False) -> Iterator[StudyService]:
    """Open the study service for a STUDY argument and close it afterwards."""
    svc = StudyService(study_db(study, db), read_only=read_only)
    try:
        yield svc
    finally:
        svc.close()


@contextmanager
def progress_bar(label: str, *, transient: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar with ETA; yields update(done, total)."""
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console,
                   transient=transient)
    with bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
