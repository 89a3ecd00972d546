"""The pairwise contract the reward models, `train`/`compare` on pairwise studies and `export --format trl` read,
checked on created studies (see docs/architecture.md, "Pairwise preferences")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pair_support import pair_rows, write_pair_study

from sandwich.create import create_study
from sandwich.rules import item_content
from sandwich.service import StudyService
from sandwich.sim.runner import simulate_study
from sandwich.studyfile import load_study
from sandwich.tasks import kind as task_kinds
from sandwich.tasks.pair_sources import prompt_hash
from sandwich.tasks.pairwise import PairContent, pair_frame
from sandwich.views import JudgmentIn

REPO = Path(__file__).resolve().parents[1]
COLUMNS = [
    "item_id",
    "problem_id",
    "split",
    "prompt",
    "response_a",
    "response_b",
    "gold",
    "passed_a",
    "passed_b",
    "tests",
]


def test_pair_content_is_the_kinds_typed_content_in_canonical_order(tmp_path: Path) -> None:
    kind = task_kinds.get("pairwise")
    assert kind.content is PairContent
    assert {n: f.annotation for n, f in PairContent.model_fields.items()} == {
        "prompt": str,
        "response_a": str,
        "response_b": str,
    }
    db = tmp_path / "pairs.duckdb"
    create_study(load_study(write_pair_study(tmp_path)), db)
    rows = {r["prompt"]: r for r in pair_rows(24)}
    with StudyService(db, read_only=True) as svc:
        gold = svc.gold()
        items = svc.store.items(role="study")
        assert len(items) == 24
        for it in items:
            c = kind.typed(item_content(it))
            assert isinstance(c, PairContent)
            row = rows[c.prompt]
            assert c == PairContent(prompt=row["prompt"], response_a=row["response_a"], response_b=row["response_b"])
            assert it.problem_id == prompt_hash(row["prompt"])  # file pairs: the prompt's hash
            assert it.choices == ["A", "B"]
            assert gold[it.item_id] == row["gold"]
        frame = pair_frame(svc.store)
    assert frame.columns == COLUMNS and frame.height == 24
    for r in frame.iter_rows(named=True):
        row = rows[r["prompt"]]
        assert (r["response_a"], r["response_b"], r["gold"]) == (row["response_a"], row["response_b"], row["gold"])
        assert r["split"] in ("train", "test") and r["problem_id"] == prompt_hash(r["prompt"])
        assert (r["passed_a"], r["passed_b"], r["tests"]) == (None, None, None)  # a file's gold runs no tests


def test_choices_hold_tie_only_when_allowed(tmp_path: Path) -> None:
    db = tmp_path / "pairs.duckdb"
    create_study(load_study(write_pair_study(tmp_path, task_extra="  allow_ties: true\n")), db)
    with StudyService(db, read_only=True) as svc:
        assert {tuple(i.choices or []) for i in svc.store.items()} == {("A", "B", "tie")}
        assert set(svc.gold().values()) == {"A", "B"}


def test_stored_judgments_are_canonical_with_the_order_shown(tmp_path: Path) -> None:
    db = tmp_path / "pairs.duckdb"
    create_study(load_study(write_pair_study(tmp_path)), db)
    with StudyService(db) as svc:
        session = svc.for_overseer("ana")  # a person: presses B (the right-hand response) on every pair
        while (view := session.next_item()) is not None:
            session.submit(
                JudgmentIn(
                    judgment_id=f"ana-{view.assignment_id}".replace(":", "-"),
                    assignment_id=view.assignment_id,
                    choice="B",
                    confidence=80,
                )
            )
    simulate_study(db, with_model_alone=False)  # the other overseers, simulated
    with StudyService(db, read_only=True) as svc:
        judgments = svc.store.judgments()
    assert {j.source for j in judgments} == {"human", "parametric"}
    for j in judgments:
        assert j.client_meta is not None and j.client_meta["shown_order"] in ("AB", "BA")
        assert j.choice in ("A", "B") and j.confidence is not None and 50 <= j.confidence <= 100
        if j.overseer == "ana":  # B as shown is the canonical response that was on the right
            assert j.choice == j.client_meta["shown_order"][1]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_humaneval_pairs_are_held_out_by_humaneval_task(tmp_path: Path) -> None:
    text = (
        (REPO / "studies" / "humaneval-pairs.yaml")
        .read_text()
        .replace("problems: 80 ", "problems: 6 ")
        .replace("items_per_overseer: 12", "items_per_overseer: 3")
        .replace("judged_items: 12", "judged_items: 3")
    )
    (tmp_path / "hp.yaml").write_text(text)
    db = tmp_path / "hp.duckdb"
    create_study(load_study(tmp_path / "hp.yaml"), db)
    with StudyService(db, read_only=True) as svc:
        frame = pair_frame(svc.store)
        details = {g.item_id: g.detail or {} for g in svc.store.gold()}
        seen = [svc.for_overseer(o).next_item() for o in ("ana", "ben")]
    assert frame.columns == COLUMNS and frame.height > 0
    assert all(p.startswith("HumanEval/") for p in frame["problem_id"])
    assert set(frame["gold"]) <= {"A", "B"}
    for r in frame.iter_rows(named=True):  # each response's hidden tests passed, as the sandbox counted them
        d = details[r["item_id"]]
        assert (r["passed_a"], r["passed_b"], r["tests"]) == (d["passed_a"], d["passed_b"], d["tests"])
        assert r["gold"] == ("A" if r["passed_a"] > r["passed_b"] else "B") and r["tests"] >= 1
    # the counts stay lead side: no overseer's view of an item carries them
    for view in seen:
        assert view is not None and "passed_a" not in view.model_dump_json() and 'tests"' not in view.model_dump_json()
    for _, part in frame.group_by("problem_id"):
        assert part["split"].n_unique() == 1  # a prompt's pairs are all train or all test


def test_a_pairwise_study_file_dumps_as_its_own_kind_without_a_serializer_warning() -> None:
    """The task section of a registered kind is validated into the kind's own model; dumping it (plan freeze,
    `validate`, `compare`) must give that model's fields, with no pydantic warning printed to the lead."""
    import warnings

    from sandwich.studyfile import load_study

    sf = load_study(Path(__file__).resolve().parent.parent / "studies" / "humaneval-pairs.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task = sf.study.model_dump(mode="json")["task"]
    assert task["kind"] == "pairwise" and task["match_length"] is True and task["allow_ties"] is False
