"""Fixtures for the TUI tests and benchmark: small real studies with precomputed assistance rows.

Assistance is inserted straight into the study's `assistance` table through the lead-side
service (content per the assistance contract) — test data standing in for a model run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from db_sql import sql
from study_files import mc_rows, write_mc_study  # noqa: F401 - re-exported for TUI tests

from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.studyfile import load_study

ALL_CONDITIONS = """
  - {name: unassisted}
  - {name: explain, assistance: [explanation]}
  - {name: decompose, assistance: [decomposition]}
  - {name: critique, assistance: [critique]}
  - {name: consult, assistance: [consultancy]}
  - {name: debate, assistance: [debate]}"""


def write_study(
    folder: Path,
    *,
    conditions: str = ALL_CONDITIONS,
    overseers: int = 6,
    items_per_overseer: int = 6,
    rows: int = 6,
    judgment: str = "{choices: item, confidence: [50, 75, 100]}",
    extra: str = "",
    name: str = "tuitest",
) -> Path:
    """A multiple-choice study YAML (and its data) in `folder`: six conditions, six overseers by default."""
    return write_mc_study(
        folder,
        name=name,
        rows=rows,
        conditions=conditions,
        overseers=overseers,
        items_per_overseer=items_per_overseer,
        judgment=judgment,
        extra=extra,
    )


def create(yaml_path: Path, db: Path | None = None) -> Path:
    """Create the study database beside the YAML (or at `db`)."""
    db = db or yaml_path.with_suffix(".duckdb")
    create_study(load_study(yaml_path), db)
    return db


def content_for(kind: str, item_id: str, choices: list[str]) -> dict[str, Any]:
    """Deterministic assistance content for one item, per the assistance contract."""
    a, b = (choices + ["correct", "buggy"])[:2] if choices else ("correct", "buggy")
    if kind == "explanation":
        return {"text": f"Item {item_id}: read the passage carefully; the number is stated in its first sentence."}
    if kind == "decomposition":
        return {
            "nodes": [
                {
                    "id": "1",
                    "question": "What does the passage say about the river?",
                    "answer": "It rose after a storm.",
                    "children": [
                        {
                            "id": "1.1",
                            "question": "By how much?",
                            "answer": "By the number in the passage.",
                            "children": [],
                        }
                    ],
                },
                {"id": "2", "question": "Which choice matches that number?", "answer": f"Choice {a}.", "children": []},
            ]
        }
    if kind == "critique":
        return {
            "flaws": [
                {
                    "where": "choice B",
                    "what": "off by one from the passage",
                    "why": "the passage states a different number",
                },
                {"where": "choice D", "what": "'none' ignores the stated number", "why": "it is stated"},
            ]
        }
    if kind == "consultancy":
        return {
            "assigned_answer": a,
            "turns": [{"speaker": "consultant", "text": f"The answer is {a}: the passage says so plainly."}],
        }
    if kind == "debate":
        return {
            "answers": {"A": a, "B": b},
            "turns": [
                {
                    "round": 1,
                    "speaker": "A",
                    "text": f"It is {a}.",
                    "quotes": [{"text": "the river rose", "verified": True}],
                },
                {
                    "round": 1,
                    "speaker": "B",
                    "text": f"It is {b}.",
                    "quotes": [{"text": "rose ten feet", "verified": False}],
                },
            ],
        }
    raise ValueError(kind)


def add_assistance(db: Path, *, status: str = "ok", skip: set[str] = frozenset()) -> int:
    """Insert assistance for every (item, condition, kind) the study's conditions give. Returns rows written."""
    n = 0
    with StudyService(db) as svc:
        items = sql(svc, "SELECT item_id, choices FROM items")
        for cond in svc.study.conditions:
            for kind in cond.kinds:
                if kind in skip:
                    continue
                for it in items:
                    content = content_for(kind, it["item_id"], list(it["choices"] or []))
                    ok = status == "ok"
                    sql(
                        svc,
                        "INSERT INTO assistance (assistance_id, item_id, condition, kind, status, content, raw, "
                        "backend, model) VALUES (?, ?, ?, ?, ?, ?, ?, 'test', 'fixture')",
                        [
                            f"{it['item_id']}:{cond.name}:{kind}",
                            it["item_id"],
                            cond.name,
                            kind,
                            status,
                            json.dumps(content) if ok else None,
                            None if ok else f"raw model text for {it['item_id']} <<not json>>",
                        ],
                    )
                    n += 1
    return n


async def wait_for(pilot: Any, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `predicate()` holds (workers finish in threads)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {getattr(predicate, '__name__', predicate)}")
        await pilot.pause(0.01)


async def until_item(pilot: Any, app: Any, previous: str | None) -> None:
    """Wait until a briefing, the done screen, or an item other than `previous` is up."""
    from tui.screens.briefing import BriefingScreen
    from tui.screens.done import DoneScreen
    from tui.screens.item import ItemScreen

    def ready() -> bool:
        if isinstance(app.screen, (BriefingScreen, DoneScreen)):
            return True
        return (
            isinstance(app.screen, ItemScreen)
            and app.item_screen.view is not None
            and app.item_screen.view.assignment_id != previous
            and not app.item_screen.submitting
        )

    await wait_for(pilot, ready)


def plain(widget: Any, width: int = 200) -> str:
    """The text a Static widget shows, without styles."""
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"), color_system=None)
    content = widget.content
    console.print(content if not isinstance(content, str) else content, markup=False)
    return console.export_text()


def screen_text(app: Any) -> str:
    """What the terminal shows now, as plain text (one line per row), as `export_screenshot` draws it."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        color_system=None,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def start_fake_model(script: Path) -> tuple[Any, int]:
    """Start an OpenAI-compatible stand-in for the study's model (a GPU cannot run here) on a free port."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(script), str(port)])
    end = time.monotonic() + 20
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the fake model server did not start")
