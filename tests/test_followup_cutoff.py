"""Model answers that were cut short are recorded and shown as such (c23), and abandoned follow-ups are logged.

The case's fake OpenAI-compatible server stands in for vLLM: a follow-up question gets eight words and
finish_reason "length"; a question containing "cut" gets three words and then the stream just ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from db_sql import sql
from fake_model import fake_model

from assistants.precompute import plan, precompute
from sandwich.client import OverseerClient
from sandwich.create import create_study
from sandwich.errors import AssistanceUnavailable
from sandwich.server.harness import ServerProcess, create_with_tokens
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.views import CUT_OFF_NOTE, CutOff

CASE = Path(__file__).parent / "data" / "c23-stream-cut-short"
CUT_TEXT = "The loop stops one step early because the"


@pytest.fixture
def study_yaml(tmp_path: Path) -> Iterator[Path]:
    with fake_model(CASE, tmp_path / "c23") as path:
        yield path


def followups(db: Path) -> list[tuple[str, dict]]:
    import json

    rows = sql(db, "SELECT event, payload FROM interactions WHERE event LIKE 'followup%' ORDER BY ts, interaction_id")
    return [(r["event"], json.loads(r["payload"])) for r in rows]


def test_over_http_a_length_cut_answer_is_marked_and_a_dropped_stream_is_a_failure(study_yaml: Path) -> None:
    db = study_yaml.parent / "s.duckdb"
    tokens, _ = create_with_tokens(study_yaml, db, ["ana"])
    with ServerProcess(db) as server:
        client = OverseerClient(server.url, tokens["ana"])
        view = client.next_item()
        assert view is not None
        pieces = list(client.follow_up(view.assignment_id, "Why does the loop miss a number?"))
        assert "".join(pieces) == CUT_TEXT + CUT_OFF_NOTE
        assert isinstance(pieces[-1], CutOff) and "(cut off" in pieces[-1]
        with pytest.raises(AssistanceUnavailable, match="stopped mid-answer"):
            list(client.follow_up(view.assignment_id, "Please cut to the point: which number is missed?"))
    events = followups(db)
    assert [e for e, _ in events] == ["followup_asked", "followup_answered", "followup_asked", "followup_failed"]
    answered, failed = events[1][1], events[3][1]
    assert answered["answer"] == CUT_TEXT and answered["finish_reason"] == "length" and answered["truncated"] is True
    assert answered["shown"].endswith("(cut off at the token limit)")
    assert failed["partial"] == "The loop stops"


def test_an_answer_abandoned_mid_stream_is_logged_with_its_partial_text(study_yaml: Path) -> None:
    db = study_yaml.parent / "s.duckdb"
    create_study(load_study(study_yaml), db)
    with StudyService(db) as svc:
        session = svc.for_overseer("ana")
        view = session.next_item()
        assert view is not None
        answer = session.follow_up(view.assignment_id, "Why does the loop miss a number?")
        assert [next(answer), next(answer)] == ["The", " loop"]
        answer.close()  # what the app does when the overseer submits while the answer streams
    events = followups(db)
    assert [e for e, _ in events] == ["followup_asked", "followup_abandoned"]
    assert events[1][1]["partial"] == "The loop" and events[1][1]["question"] == "Why does the loop miss a number?"


def test_precompute_records_finish_reasons_and_retry_failed_redoes_cut_rows(study_yaml: Path) -> None:
    db = study_yaml.parent / "s.duckdb"
    create_study(load_study(study_yaml), db)
    with StudyService(db) as svc:
        report = precompute(svc)
        assert report.generated == 2
        rows = {r.item_id: r for r in svc.store.assistance()}
        assert rows["mc-f1"].params["finish_reasons"] == ["length"] and rows["mc-f1"].params["truncated"] is True
        assert rows["mc-f2"].params["finish_reasons"] == ["stop"] and rows["mc-f2"].params["truncated"] is False
        assert {r.status for r in rows.values()} == {"ok"}, [(r.status, r.raw) for r in rows.values()]
        assert plan(svc)[0] == []  # a plain re-run keeps them
        assert [j.item.item_id for j in plan(svc, retry_failed=True)[0]] == ["mc-f1"]
        session = svc.for_overseer("ana")  # what the overseer reads: the cut explanation says so, the whole one not
        shown = {
            a.item_id: session.assistance(a.assignment_id)[0].content["text"] for a in svc.store.assignments("ana")
        }
        assert shown["mc-f1"].endswith(CUT_OFF_NOTE) and not shown["mc-f2"].endswith(CUT_OFF_NOTE)


def test_in_the_app_a_cut_answer_says_so_and_submitting_mid_stream_logs_it_abandoned(study_yaml: Path) -> None:
    import asyncio

    from tui_support import plain, wait_for

    from tui.app import OverseerApp
    from tui.screens.briefing import BriefingScreen
    from tui.widgets.followup import FollowUpBox

    db = study_yaml.parent / "s.duckdb"
    create_study(load_study(study_yaml), db)

    async def run() -> str:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.item_screen.view is not None and app.screen is app.item_screen)
                await pilot.press("a", "f", *"Why does the loop miss a number?", "enter")
                box = app.item_screen.query_one(FollowUpBox)
                await wait_for(pilot, lambda: not box.streaming, timeout=30)
                cut = plain(box.query_one("#followup-text"))
                await pilot.press("f", *"Say it slowly please", "enter")
                await wait_for(
                    pilot, lambda: "The loop" in plain(box.query_one("#followup-text")).split("slowly")[-1], timeout=30
                )
                await pilot.press("escape", "1", "plus", "s")  # submit while the answer still streams
                await wait_for(pilot, lambda: app.item_screen.view.position == 1, timeout=30)
                await pilot.pause(1.5)  # the worker sees it was cancelled at its next piece and closes the stream
        return cut

    shown = asyncio.run(run())
    assert f"{CUT_TEXT}{CUT_OFF_NOTE}" in shown
    events = followups(db)
    assert [e for e, _ in events] == ["followup_asked", "followup_answered", "followup_asked", "followup_abandoned"]
    partial = events[3][1]["partial"]
    assert partial.startswith("The loop") and partial != CUT_TEXT  # what was read before submitting, not more
    assert len(sql(db, "SELECT * FROM judgments")) == 1
