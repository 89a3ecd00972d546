"""A person opens a replayed NYU debate in the labelling app (Pilot) and judges it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from db_sql import sql
from tui_support import plain, until_item

from sandwich.importers.nyu import load_nyu_debate
from sandwich.importers.replay import build_replay
from sandwich.service import StudyService
from sandwich.store.imported import write_imported_study, write_replay_study
from sandwich.studyfile import load_study
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen
from tui.widgets.assistance_panel import AssistancePanel

MINI = Path(__file__).resolve().parent / "data" / "nyu-mini"
STUDY = """study: lamp-replay-people
question: Do new readers judge the NYU debate as its judge did?
task: {kind: multiple-choice, source: "import:nyu-debate"}
gold: {kind: dataset-label}
conditions:
  - {name: human-debate, assistance: [debate], live_followups: false}
overseers: {design: within-subjects, non_experts: [ana], items_per_overseer: 1}
judgment: {choices: item, confidence: [50, 75, 100]}
"""


def _marked(passage: object, body: str) -> list[str]:
    """The passage text under styled spans (the highlighted quotes)."""
    return [body[sp.start : sp.end] for sp in getattr(passage, "spans", [])]


def test_a_person_judges_a_replayed_debate(tmp_path: Path) -> None:
    source = write_imported_study(tmp_path / "nyu.duckdb", load_nyu_debate(MINI))
    (tmp_path / "replay.yaml").write_text(STUDY)
    db = write_replay_study(tmp_path / "replay.duckdb", build_replay(source, load_study(tmp_path / "replay.yaml")))

    with StudyService(db, read_only=True) as svc:
        right = svc.gold()[sql(svc, "SELECT item_id FROM items")[0]["item_id"]]  # A or B after balancing

    async def run() -> tuple[str, str, list[str], list[str]]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"), study_title=svc.study.study)
            async with app.run_test(size=(120, 40)) as pilot:
                await until_item(pilot, app, None)
                assert isinstance(app.screen, BriefingScreen)
                await pilot.press("enter")
                await until_item(pilot, app, None)
                view = app.item_screen.view
                assert view is not None and "Tom's brother fixed it at dawn." in view.item.body
                body = app.item_screen.query_one("#item-content")
                marked_before = _marked(body.content.renderables[0], view.item.body)
                await pilot.press("a")
                await pilot.pause()
                marked = _marked(app.item_screen.query_one("#item-content").content.renderables[0], view.item.body)
                panel = app.item_screen.query_one(AssistancePanel)
                text = plain(panel.query_one("#pane-debate").query_one(".help-text"))
                await pilot.press("1" if right == "A" else "2", "plus", "plus", "s")  # the right answer, at 75
                await until_item(pilot, app, view.assignment_id)
                return text, view.assignment_id, marked_before, marked
        raise AssertionError("unreachable")

    text, assignment, marked_before, marked = asyncio.run(run())
    # opening the help marks its verified quotes in the passage (not before: that would be using it)
    assert marked_before == []
    assert "Tom's brother fixed it at dawn." in marked and '"Keep it lit,"' not in marked
    # the real speeches, relabelled by the answer each debater defends; quotes checked against the story
    assert f"Debater {right} argues for: {right}. Tom's brother" in text
    assert "✓ “Tom's brother fixed it at dawn.” verified in the item" in text
    assert "B quotes the ending" not in text  # the original judge's messages are not replayed
    with StudyService(db, read_only=True) as svc:
        rows = sql(svc, "SELECT choice, confidence, source FROM judgments WHERE assignment_id = ?", [assignment])
    assert rows == [{"choice": right, "confidence": 75, "source": "human"}]
