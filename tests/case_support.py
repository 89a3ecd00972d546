"""Case studies from tests/data/<case-id>/: create them through the real `create` path and submit judgments
through `OverseerSession` (the labelling app's path)."""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.views import ItemView, JudgmentIn

DATA = Path(__file__).resolve().parent / "data"


def create_case(case: str, folder: Path) -> tuple[Path, Path]:
    """Copy a case's inputs into `folder` and create its study; returns (study.yaml, database)."""
    for f in (DATA / case).iterdir():
        shutil.copy(f, folder / f.name)
    yaml_path, db = folder / "study.yaml", folder / "s.duckdb"
    create_study(load_study(yaml_path), db)
    return yaml_path, db


def csv_gold(folder: Path) -> dict[str, str]:
    """Gold letters of a case's items.csv, by item id as stored (`mc-<id>`)."""
    with open(folder / "items.csv", newline="") as f:
        return {f"mc-{r['id']}": r["answer"] for r in csv.DictReader(f)}


def jsonl_gold(folder: Path) -> dict[str, str]:
    """Gold letters of a case's items.jsonl, by item id as stored (`mc-<id>`)."""
    rows = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines() if line.strip()]
    return {f"mc-{r['id']}": r["answer"] for r in rows}


def judge_all(
    db: Path,
    overseer: str,
    choose: Callable[[ItemView, int], str],
    *,
    client: str = "script",
    confidence: int = 100,
    flag_missing_help: bool = True,
) -> int:
    """Answer every item of `overseer`; `choose(view, k)` gets the k-th item seen in its condition (from 0)."""
    seen: dict[str, int] = {}
    with StudyService(db) as svc:
        s = svc.for_overseer(overseer)
        s.start_session(client)
        while (v := s.next_item()) is not None:
            k = seen.get(v.condition, 0)
            seen[v.condition] = k + 1
            # as the app does: a judgment whose help failed or was never prepared is flagged
            failed = flag_missing_help and any(h.status in ("failed", "missing") for h in s.assistance(v.assignment_id))
            s.submit(
                JudgmentIn(
                    judgment_id=uuid.uuid4().hex,
                    assignment_id=v.assignment_id,
                    choice=choose(v, k),
                    confidence=confidence,
                    time_on_item_s=20.0,
                    assistance_failed=failed,
                )
            )
    return sum(seen.values())


def other(letter: str) -> str:
    """A wrong letter for a two-or-more-choice item."""
    return "A" if letter != "A" else "B"
