"""The scripted backend, registered by name: every built-in kind of help reads its replies, and a run is
reproducible to the byte (tests and demos use it where the model's own behaviour is not the point)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import ALL_CONDITIONS, create, write_study

from assistants.backends import backend_names, get_backend, register_backend
from assistants.backends.scripted import ScriptedBackend
from assistants.precompute import precompute
from sandwich import assistance
from sandwich.config import AssistantSpec
from sandwich.errors import AssistanceUnavailable
from sandwich.service import StudyService


def _run(tmp_path: Path) -> list[tuple[str, str, object]]:
    tmp_path.mkdir()
    db = create(write_study(tmp_path, conditions=ALL_CONDITIONS, extra="assistant: {backend: scripted}"))
    with StudyService(db) as svc:
        report = precompute(svc)
        assert report.backend == "scripted"
        return sorted((r.assistance_id, r.status, r.content) for r in svc.store.assistance())


def test_every_builtin_kind_reads_the_scripted_replies_and_a_rerun_is_identical(tmp_path: Path) -> None:
    first = _run(tmp_path / "one")
    second = _run(tmp_path / "two")
    assert first == second
    kinds = {aid.rsplit(":", 1)[1] for aid, _, _ in first}
    assert kinds == set(assistance.names())  # all five built-in kinds, none left out
    assert {status for _, status, _ in first} == {"ok"}
    assert len(first) == 6 * 5  # six items, five helped conditions


def test_backends_are_found_by_name_and_a_new_one_can_be_registered() -> None:
    assert {"embedded", "vllm", "vllm-offline", "scripted"} <= set(backend_names())
    assert isinstance(get_backend(AssistantSpec(backend="scripted")), ScriptedBackend)
    register_backend("scripted", lambda spec: ScriptedBackend(spec.model, replies=["fixed"]), replace=True)
    try:
        [g] = get_backend(AssistantSpec(backend="scripted")).generate([[{"role": "user", "content": "hi"}]])
        assert g.text == "fixed"
    finally:
        register_backend("scripted", "assistants.backends.scripted:ScriptedBackend", replace=True)
    with pytest.raises(ValueError, match="already registered"):
        register_backend("scripted", lambda spec: ScriptedBackend())


def test_scripted_choices_spread_over_the_choices_and_follow_the_seed() -> None:
    b = ScriptedBackend()
    convs = [[{"role": "user", "content": f"question {i}"}] for i in range(40)]
    picks = [g.text for g in b.generate(convs, choices=["A", "B", "C", "D"])]
    assert set(picks) == {"A", "B", "C", "D"}  # not always the first choice: a judge cannot score by position
    assert picks == [g.text for g in b.generate(convs, choices=["A", "B", "C", "D"])]


def test_an_unknown_backend_name_lists_the_registered_ones() -> None:
    spec = AssistantSpec.model_construct(backend="nope")
    with pytest.raises(AssistanceUnavailable) as err:
        get_backend(spec)
    assert "scripted" in (err.value.hint or "")


def test_a_follow_up_in_the_app_streams_the_scripted_answer_through_the_injected_model(tmp_path: Path) -> None:
    import asyncio

    from tui_support import add_assistance, plain, wait_for

    from assistants.backends.scripted import DEFAULT_REPLY
    from assistants.live import stream_follow_up
    from tui.app import OverseerApp
    from tui.screens.briefing import BriefingScreen
    from tui.widgets.followup import FollowUpBox

    db = create(
        write_study(
            tmp_path,
            conditions="\n  - {name: decompose, assistance: [decomposition]}",
            overseers=1,
            items_per_overseer=6,
            extra="assistant: {backend: scripted}",
        )
    )
    add_assistance(db)
    asked: list[str] = []

    def model(spec: AssistantSpec, **kw: object) -> object:
        asked.append(str(kw["question"]))
        return stream_follow_up(spec, **kw)  # type: ignore[arg-type]  # the keywords are stream_follow_up's

    async def run() -> str:
        with StudyService(db, follow_up_model=model) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.item_screen.view is not None and app.screen is app.item_screen)
                await pilot.press("a", "f", *"what is this", "enter")
                box = app.item_screen.query_one(FollowUpBox)
                await wait_for(
                    pilot, lambda: not box.streaming and "scripted" in plain(box.query_one("#followup-text"))
                )
                return plain(box.query_one("#followup-text"))

    text = asyncio.run(run())
    assert asked == ["what is this"]  # the service called the model the CLI (here: the test) injected
    assert DEFAULT_REPLY.splitlines()[0] in text
    with StudyService(db, read_only=True) as svc:
        from db_sql import sql

        events = [r["event"] for r in sql(svc, "SELECT event FROM interactions ORDER BY ts")]
    assert "followup_asked" in events and "followup_answered" in events
