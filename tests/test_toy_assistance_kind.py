"""Proof of the assistance-kind seam: a kind declared here, in the test suite, goes end to end.

validate → precompute (the scripted backend, by name) → the app's panel (Pilot) → the LLM judge's prompt →
export, touching no file outside this test. The toy kind, "best of three", samples the model three times in
one call (its own temperature and n) and shows the answers with the most common one.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from tui_support import create, plain, wait_for, write_study

from assistants.precompute import precompute
from assistants.strategy import Call, Result, Steps
from sandwich import assistance
from sandwich.errors import SandwichError
from sandwich.export import export_study
from sandwich.service import StudyService
from sandwich.sim.llm_judge import judge_messages
from sandwich.studyfile import load_study
from sandwich.views import ItemContent
from tui.app import OverseerApp
from tui.screens.briefing import BriefingScreen

BRIEFING = "three of the model's answers, and which it gave most often"


class BestOfParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    samples: Annotated[int, Field(ge=1, strict=True)] = 3


class BestOfContent(BaseModel):
    answers: list[str]
    most_common: str


def best_of(item: ItemContent, params: dict[str, Any]) -> Steps:
    """One call for `samples` samples at temperature 0.8: the answers and the most common one."""
    msgs = [{"role": "user", "content": f"{item.question}\nAnswer in a few words."}]
    gens = yield [Call(msgs, max_tokens=40, temperature=0.8, n=int(params.get("samples", 3)))]
    answers = [g.text.splitlines()[-1] for g in gens]
    return Result(
        "ok",
        {"answers": answers, "most_common": Counter(answers).most_common(1)[0][0]},
        "\n".join(g.text for g in gens),
    )


def words(c: BestOfContent) -> list[tuple[str, str]]:
    out = [("The model answered three times:", "bold")]
    out += [(f"\n  {n}. {a}", "") for n, a in enumerate(c.answers, 1)]
    return [*out, ("\nMost often: ", "bold"), (c.most_common, "green")]


@pytest.fixture
def toy_kind() -> Iterator[assistance.AssistanceKind]:
    kind = assistance.register(
        assistance.AssistanceKind(
            name="best-of",
            title="Best of three",
            briefing=BRIEFING,
            params=BestOfParams,
            content=BestOfContent,
            render=words,
            strategy=best_of,
        )
    )
    yield kind
    assistance.unregister("best-of")


CONDITION = "\n  - {name: vote, assistance: [{best-of: {samples: 3}}]}"
SCRIPTED = "assistant: {backend: scripted, temperature: 0.0, seed: 5}"


def test_a_kind_declared_in_a_test_goes_from_study_file_to_export(tmp_path: Path, toy_kind: Any) -> None:
    # validate: the registry's parameters check the study file
    (tmp_path / "bad").mkdir()
    bad = write_study(
        tmp_path / "bad",
        conditions="\n  - {name: vote, assistance: [{best-of: {samples: 0}}]}",
        overseers=1,
        items_per_overseer=4,
        rows=4,
        extra=SCRIPTED,
    )
    with pytest.raises(SandwichError, match="best-of.samples must be a positive integer"):
        load_study(bad)
    yaml = write_study(tmp_path, conditions=CONDITION, overseers=1, items_per_overseer=4, rows=4, extra=SCRIPTED)
    db = create(yaml)

    # precompute with the scripted backend the study names; the kind's own sampling settings reach the backend
    with StudyService(db) as svc:
        report = precompute(svc)
        rows = svc.store.assistance()
    assert report.backend == "scripted" and report.by_status == {"ok": len(rows)} and len(rows) >= 4
    row = rows[0]
    assert row.kind == "best-of" and len(row.content["answers"]) == 3
    assert [c["temperature"] for c in row.params["calls"]] == [0.8, 0.8, 0.8]
    assert sorted(c["seed"] for c in row.params["calls"]) == [5, 6, 7]
    assert len(set(row.content["answers"])) == 3  # three seeds at temperature 0.8: three different samples
    shown = row.content

    # the app: the panel has the kind's tab and shows its words; the briefing names it
    async def run() -> tuple[str, str, str]:
        with StudyService(db) as svc:
            session = svc.for_overseer("ana")
            app = OverseerApp(session)
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
                briefing = session.briefing("vote").text
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.item_screen.view is not None and app.screen is app.item_screen)
                await pilot.press("a")
                await pilot.pause()
                view = app.item_screen.view
                pane = plain(app.item_screen.query_one("#pane-best-of .help-text"))
                prompt = judge_messages(
                    view, session.assistance(view.assignment_id), persona="ana", expert=False, briefing=briefing
                )[1]["content"]
                item_id = view.item.item_id
        return briefing, pane, prompt + "\n@@" + item_id

    briefing, pane, prompt = asyncio.run(run())
    prompt, item_id = prompt.rsplit("\n@@", 1)
    assert BRIEFING in briefing
    with StudyService(db, read_only=True) as svc:
        mine = next(r for r in svc.store.assistance() if r.item_id == item_id).content
    assert "The model answered three times:" in pane and f"Most often: {mine['most_common']}" in pane
    for a in mine["answers"]:
        assert a in pane and a in prompt

    # the LLM judge reads the same words under the kind's title
    assert "## The model's help: Best of three" in prompt and "Most often:" in prompt

    # export: the kind's typed content and the words an overseer read
    out = tmp_path / "export"
    with StudyService(db) as svc:
        counts = export_study(svc, out)
    lines = [json.loads(x) for x in (out / "assistance_text.jsonl").read_text().splitlines()]
    assert counts["assistance_text"] == len(lines) == len(rows)
    first = next(x for x in lines if x["assistance_id"] == row.assistance_id)
    assert first["kind"] == "best-of" and first["content"] == shown and "Most often:" in first["text"]


def test_an_unregistered_kind_is_refused_with_the_registered_names(tmp_path: Path) -> None:
    yaml = write_study(tmp_path, conditions=CONDITION, overseers=1, items_per_overseer=4, rows=4, extra=SCRIPTED)
    with pytest.raises(SandwichError, match="unknown assistance 'best-of'.*explanation, decomposition"):
        load_study(yaml)
