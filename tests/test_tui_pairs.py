"""The overseer app on pairs (Pilot): stacked at 80×24 with a toggle, side by side at 120×40; keys 1/2 pick the
response on the left/top or right/bottom, and what is stored is the canonical response that was there."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pair_support import write_pair_study
from tui_support import screen_text, wait_for

from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.tasks.pairwise import PairContent
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen
from tui.widgets.item_body import ItemBody


def _study(tmp_path: Path) -> Path:
    db = tmp_path / "pairs.duckdb"
    create_study(load_study(write_pair_study(tmp_path)), db)
    return db


def test_an_overseer_judges_pairs_at_80x24(tmp_path: Path) -> None:
    db = _study(tmp_path)

    async def judge() -> list[tuple[str, str, str, bool, bool]]:
        seen = []
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                for n in range(4):

                    def at_item(n: int = n) -> bool:
                        return (
                            app.item_screen.view is not None
                            and app.screen is app.item_screen
                            and app.item_screen.view.position == n
                        )

                    await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen) or at_item())
                    if isinstance(app.screen, BriefingScreen):
                        await pilot.press("enter")
                        await wait_for(pilot, at_item)
                    view = app.item_screen.view
                    assert view is not None
                    body = app.item_screen.query_one(ItemBody)
                    stacked = body.is_stacked
                    shown = PairContent.of(view.item.prompt, view.item.body)
                    shot = screen_text(app)
                    on_screen = "Response A (top)" in shot and shown.prompt in shot
                    if n == 0:
                        await pilot.press("o")  # side by side, even at 80 columns
                        await wait_for(pilot, lambda: not app.item_screen.query_one(ItemBody).is_stacked)
                        assert "Response A (left)" in screen_text(app)
                        await pilot.press("o")
                        await wait_for(pilot, lambda: app.item_screen.query_one(ItemBody).is_stacked)
                    key = "1" if n % 2 == 0 else "2"
                    await pilot.press(key, "n", "s")  # the response, the strongest preference, submit
                    seen.append((view.assignment_id, "A" if key == "1" else "B", shown.response_a, stacked, on_screen))
                await wait_for(pilot, lambda: app.item_screen.view is not None and app.item_screen.view.position == 4)
        return seen

    seen = asyncio.run(judge())
    with StudyService(db, read_only=True) as svc:
        judgments = {j.assignment_id: j for j in svc.store.judgments()}
        items = {i.item_id: i for i in svc.store.items()}
        events = {r.event for r in svc.store.interactions(overseer="ana")}
    assert len(judgments) == 4 and {"panes_stacked", "panes_side_by_side"} <= events
    for assignment_id, pressed, left_text, stacked, on_screen in seen:
        j = judgments[assignment_id]
        assert stacked and on_screen  # 80×24: one above the other, prompt and response A in view
        assert j.confidence == 100 and j.client_meta and j.client_meta["shown_choice"] == pressed
        stored = PairContent.of(items[j.item_id].prompt or "", items[j.item_id].body or "")
        order = j.client_meta["shown_order"]
        assert left_text == (stored.response_a if order == "AB" else stored.response_b)
        # the response pressed, in the item's own (canonical) terms
        assert j.choice == (pressed if order == "AB" else {"A": "B", "B": "A"}[pressed])


def test_pairs_sit_side_by_side_at_120x40(tmp_path: Path) -> None:
    db = _study(tmp_path)

    async def look() -> tuple[bool, str]:
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ben"))
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.item_screen.view is not None and app.screen is app.item_screen)
                return app.item_screen.query_one(ItemBody).is_stacked, screen_text(app)

    stacked, shot = asyncio.run(look())
    assert not stacked and "Response A (left)" in shot and "Response B (right)" in shot
