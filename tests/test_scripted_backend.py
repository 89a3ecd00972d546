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
