"""The LLM judge reads what a person reads (c16): its prompt holds every line the app shows for each kind of
help (quote marks, the consultant's caveat, missing-help notices), the part's briefing and the time limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from case_support import create_case
from rich.text import Text

from sandwich.service import StudyService
from sandwich.sim.llm_judge import judge_messages
from sandwich.views import AssistanceView
from tui.widgets.critique import render_critique
from tui.widgets.decomposition import detail_text
from tui.widgets.explanation import ExplanationPane
from tui.widgets.help_pane import status_notice
from tui.widgets.transcript import render_consultancy, render_debate

CONTENT: dict[str, dict[str, Any]] = {
    "consultancy": {
        "assigned_answer": "A flood damaged the deck",
        "turns": [
            {
                "speaker": "consultant",
                "text": "The report says <quote>a flood damaged the deck</quote>.",
                "quotes": [{"text": "a flood damaged the deck", "verified": False}],
            }
        ],
    },
    "debate": {
        "answers": {"A": "Cracks were found in its piers", "B": "A flood damaged the deck"},
        "turns": [
            {
                "round": 1,
                "speaker": "A",
                "text": "It says <quote>Engineers found cracks</quote>.",
                "quotes": [{"text": "Engineers found cracks", "verified": True}],
            },
            {
                "round": 1,
                "speaker": "B",
                "text": "It says <quote>the flood destroyed the deck</quote>.",
                "quotes": [{"text": "the flood destroyed the deck", "verified": False}],
            },
        ],
    },
    "explanation": {"text": "The passage names cracks in two piers as the reason."},
    "critique": {"flaws": [{"where": "answer B", "what": "no flood is mentioned", "why": "the passage says cracks"}]},
    "decomposition": {
        "nodes": [
            {
                "id": "1",
                "question": "What did engineers find?",
                "answer": "Cracks in two piers",
                "children": [{"id": "1.1", "question": "Where?", "answer": "In the piers"}],
            }
        ]
    },
}


def app_text(view: AssistanceView) -> str:
    """What the app's help pane shows for this help (plain text)."""
    notice = status_notice(view)
    if notice is not None:
        return Text.assemble(notice).plain if not isinstance(notice, Text) else notice.plain
    c = view.content or {}
    if view.kind == "consultancy":
        return render_consultancy(c).plain
    if view.kind == "debate":
        return render_debate(c).plain
    if view.kind == "critique":
        return render_critique(c).plain
    if view.kind == "explanation":
        return ExplanationPane.render_content(ExplanationPane.__new__(ExplanationPane), c).plain
    nodes, out = list(c["nodes"]), []  # the tree's detail view, node by node
    while nodes:
        n = nodes.pop(0)
        out.append(detail_text(n).plain)
        nodes += n.get("children") or []
    return "\n".join(out)


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    folder = tmp_path_factory.mktemp("c16")
    _, db = create_case("c16-llm-judge-sees-less", folder)
    with StudyService(db) as svc:
        s = svc.for_overseer("ana")
        view = s.next_item()
        assert view is not None
        return view, s.briefing(view.condition).text


@pytest.mark.parametrize("kind", sorted(CONTENT))
@pytest.mark.parametrize("status", ["ok", "missing", "failed", "unparsed"])
def test_the_judge_prompt_holds_every_line_the_app_shows(shown: tuple[Any, str], kind: str, status: str) -> None:
    view, briefing = shown
    help_ = AssistanceView(
        kind=kind,
        status=status,
        content=CONTENT[kind] if status == "ok" else None,
        raw="half an answer" if status in ("failed", "unparsed") else None,
    )
    prompt = "\n".join(
        m["content"] for m in judge_messages(view, [help_], persona="ana", expert=False, briefing=briefing)
    )
    for line in app_text(help_).splitlines():
        assert line.strip() in prompt, f"{kind}/{status}: the app shows {line.strip()!r}; the judge does not see it"
    for line in briefing.splitlines():
        assert line.strip() in prompt
    assert "2 min 0 s per item" in prompt
    if kind == "consultancy" and status == "ok":
        assert "it may be the wrong one" in prompt and "✗ “a flood damaged the deck” not found in the item" in prompt
    if kind == "debate" and status == "ok":
        assert "✓ “Engineers found cracks” verified in the item" in prompt


def test_without_a_briefing_the_time_limit_is_still_stated(shown: tuple[Any, str]) -> None:
    view, _ = shown
    prompt = judge_messages(view, [], persona="ana", expert=False)[1]["content"]
    assert "You have 2 min 0 s per item." in prompt


@pytest.mark.parametrize("kind", ["consultancy", "debate", "critique", "explanation"])
def test_the_running_app_shows_nothing_the_judge_does_not_read(tmp_path: Path, kind: str) -> None:
    """Drive the real app (Pilot) to a helped item, open the help, and find every line of its pane in the
    prompt the LLM judge gets for the same item in the same session."""
    import asyncio

    from tui_support import add_assistance, create, plain, wait_for, write_study

    from tui.app import OverseerApp
    from tui.screens.briefing import BriefingScreen

    db = create(
        write_study(
            tmp_path,
            conditions=f"\n  - {{name: helped, assistance: [{kind}]}}",
            overseers=1,
            items_per_overseer=6,
            judgment="{choices: item, confidence: [50, 100], time_limit_s: 90}",
        )
    )
    add_assistance(db)

    async def run() -> tuple[str, str]:
        with StudyService(db) as svc:
            session = svc.for_overseer("ana")
            app = OverseerApp(session)
            async with app.run_test(size=(200, 50)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.item_screen.view is not None and app.screen is app.item_screen)
                await pilot.press("a")
                await pilot.pause()
                pane = plain(app.item_screen.query_one(f"#pane-{kind} .help-text"), width=190)
                view = app.item_screen.view
                prompt = "\n".join(
                    m["content"]
                    for m in judge_messages(
                        view,
                        session.assistance(view.assignment_id),
                        persona="ana",
                        expert=False,
                        briefing=session.briefing(view.condition).text,
                    )
                )
        return pane, prompt

    pane, prompt = asyncio.run(run())
    lines = [line.strip() for line in pane.splitlines() if line.strip()]
    assert lines and "No help was prepared" not in pane
    for line in lines:
        assert line in prompt, f"the app shows {line!r}; the judge does not read it"
    assert "1 min 30 s per item" in prompt
