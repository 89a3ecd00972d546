"""Shared CLI pieces: resolving a STUDY argument, opening the service, progress bars."""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sandwich.errors import SandwichError, StoreError
from sandwich.service import StudyService
from sandwich.store import Location, as_location, default_db_path, is_url

console = Console()
warn = Console(stderr=True)


DB_HELP = "Study database: a .duckdb file (default: beside the YAML) or a postgresql://…?schema=NAME URL."


def study_db(study: str, db: str | Path | None = None, *, write: bool = False) -> Location:
    """STUDY may be a study .yaml (its database sits beside it), a .duckdb file or a `postgresql://` URL.

    With a .yaml, the file must be the study the database holds (see `check_study_file`); with
    `write`, a database file must be writable before any work starts (see `check_writable_db`).
    A PostgreSQL URL comes back as text; PostgreSQL itself says whether it may be written.
    """
    location = _study_db(study, db)
    p = Path(study)
    if isinstance(location, str):
        if p.suffix in (".yaml", ".yml") and p.is_file():
            check_study_file(p, location)
        return location
    if p.suffix in (".yaml", ".yml") and p.is_file() and location.exists():
        check_study_file(p, location)
    if write:
        check_writable_db(location)
    return location


def _study_db(study: str, db: str | Path | None) -> Location:
    if db is not None:
        return as_location(db)
    if is_url(study):
        return study
    p = Path(study)
    if p.suffix in (".yaml", ".yml"):
        target = default_db_path(p)
        if not p.exists() and not target.exists():
            raise SandwichError(f"{p}: no such study file.", hint="Check the path; example studies live in studies/.")
        if not target.exists():
            raise SandwichError(
                f"{target}: no study database for {p} yet.", hint=f"Create it first: sandwich create {p}"
            )
        return target
    if p.suffix == ".duckdb" or p.exists():
        return p
    raise SandwichError(
        f"{study}: not a study file or study database.",
        hint="Give the study's .yaml (e.g. studies/humaneval-review.yaml) or its .duckdb file.",
    )


def check_writable_db(path: Path, *, creating: bool = False) -> None:
    """Refuse, before any work starts, a study database that could not be written.

    Its folder must exist and accept new files (DuckDB writes a write-ahead log beside the database;
    `create` writes a temporary file there and renames it), and an existing database file must be
    writable. Probed by creating a file, so a read-only filesystem is caught even for root.
    Raises StoreError (exit 2).
    """
    folder = path.parent
    if not folder.is_dir():
        raise StoreError(
            f"{path}: the folder {folder} does not exist.",
            hint=f"Create it first (mkdir -p {shlex.quote(str(folder))}) or choose another --db.",
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise StoreError(
            f"{path}: cannot write in {folder} ({e.strerror}); the study database and its "
            "write-ahead log must live in a writable folder.",
            hint="Choose a writable folder with --db, or fix the folder's permissions.",
        ) from None
    if not creating and path.exists() and not os.access(path, os.W_OK):
        raise StoreError(
            f"{path}: the study database is read-only.",
            hint="Make it writable (chmod u+w), or copy it to a writable folder and pass --db.",
        )


def _flat(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def check_study_file(study_file: Path, db: Location) -> None:
    """A study file given with its database must be the study the database holds.

    A different `study:` name is a SandwichError (exit 2) before anything else is done. The same
    study with other settings is a warning on stderr naming both hashes, the differing fields, and
    that the database's copy is the one used (it is what the assignments and gold were built from).
    """
    from sandwich.errors import StudyLocked
    from sandwich.studyfile import load_study

    sf = load_study(study_file)
    try:
        with StudyService(db, read_only=True) as svc:
            stored, stored_hash = svc.study, svc.config_hash
    except StudyLocked:
        return  # being served: the command itself says so
    if sf.study.study != stored.study:
        raise SandwichError(
            f"{study_file} is study {sf.study.study!r}, but {db} holds study {stored.study!r}.",
            hint=f"Give the study file of {stored.study!r} with this database, or the database of "
            f"{sf.study.study!r} (create one with: sandwich create {shlex.quote(str(study_file))} "
            "--db NEW.duckdb).",
        )
    if sf.config_hash == stored_hash:
        return
    mine, theirs = _flat(sf.study.model_dump(mode="json")), _flat(stored.model_dump(mode="json"))
    fields = [
        f"{k}: file {mine.get(k)!r}, database {theirs.get(k)!r}"
        for k in sorted(mine.keys() | theirs.keys())
        if mine.get(k) != theirs.get(k)
    ]
    detail = (
        "; ".join(fields[:8]) + (f"; … {len(fields) - 8} more" if len(fields) > 8 else "")
        if fields
        else "the text differs (comments or layout only)"
    )
    warn.print(
        f"[bold yellow]warning:[/] {study_file} (sha256 {sf.config_hash[:12]}) differs from the copy "
        f"stored in {db} (sha256 {stored_hash[:12]}): {detail}. The database's copy "
        f"({stored_hash[:12]}) is used. To run with the file's settings, create a new study database: "
        f"sandwich create {shlex.quote(str(study_file))} --db NEW.duckdb",
        highlight=False,
        soft_wrap=True,
    )


@contextmanager
def open_service(study: str, db: str | Path | None = None, *, read_only: bool = False) -> Iterator[StudyService]:
    """Open the study service for a STUDY argument and close it afterwards."""
    svc = StudyService(study_db(study, db, write=not read_only), read_only=read_only)
    try:
        yield svc
    finally:
        svc.close()


@contextmanager
def progress_bar(label: str, *, transient: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar with ETA; yields update(done, total)."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    )
    with bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
