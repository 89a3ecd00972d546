"""Code-review studies from HumanEval: candidates, sandboxed gold, and blinding of which one is the original."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from db_sql import sql

from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.views import JudgmentIn

STUDY = """study: cr
question: q?
task:
  kind: code-review
  problems: 13
  candidates: {canonical: 1, mutants: 2, seed: 3}
  balance: false
  split: {train: 0.75, seed: 1}
gold: {kind: execution, timeout_s: 5}
conditions: [{name: unassisted}, {name: explain, assistance: [explanation]}]
overseers: {non_experts: [ana, ben], experts: [eve], items_per_overseer: 12, practice_items: 1, judged_items: 12}
"""


@pytest.fixture(scope="module")
def cr_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cr")
    (folder / "cr.yaml").write_text(STUDY)
    db = folder / "cr.duckdb"
    create_study(load_study(folder / "cr.yaml"), db)
    return db


def test_gold_comes_from_sandboxed_execution(cr_db: Path) -> None:
    with StudyService(cr_db, read_only=True) as svc:
        gold = sql(svc, "SELECT g.label, g.detail->>'candidate' AS cand, g.detail->>'status' AS status FROM gold g")
    canon = [g for g in gold if g["cand"] == "canonical"]
    mutants = [g for g in gold if g["cand"] == "mutant"]
    assert len(canon) == 13 and len(mutants) >= 20
    assert all(g["label"] == "correct" and g["status"] == "passed" for g in canon)
    assert sum(g["label"] == "buggy" for g in mutants) >= len(mutants) // 2, "most mutants should fail their tests"
    assert all((g["label"] == "correct") == (g["status"] == "passed") for g in gold)


def test_split_by_problem_and_items_do_not_reveal_the_original(cr_db: Path) -> None:
    with StudyService(cr_db, read_only=True) as svc:
        items = sql(svc, "SELECT item_id, problem_id, split, body, title FROM items")
        tests = {r["problem_id"]: r["test"] for r in sql(svc, "SELECT problem_id, test FROM hidden_tests")}
    per_problem: dict[str, set[str]] = {}
    for it in items:
        per_problem.setdefault(it["problem_id"], set()).add(it["split"])
        assert re.fullmatch(r"cr-\d{3}", it["item_id"]), "an id must not name the benchmark task or the version"
        assert "canonical" not in it["body"] and "mutant" not in it["body"]
        assert re.fullmatch(r"Review \d{3}", it["title"]) and it["title"][-3:] == it["item_id"][-3:]
        assert tests[it["problem_id"]].strip() not in it["body"]
    assert all(len(s) == 1 for s in per_problem.values()), "a problem straddles the train/test split"
    assert {s for v in per_problem.values() for s in v} == {"train", "test"}
    # all candidates of a problem are rendered by the same printer: no formatting tells
    import ast

    for it in items:
        assert ast.unparse(ast.parse(it["body"])) == it["body"]


def test_overseer_sees_code_and_practice_feedback_only_for_practice(cr_db: Path) -> None:
    with StudyService(cr_db) as svc:
        s = svc.for_overseer("ana")
        view = s.next_item()
        assert view.item.language == "python" and "def " in view.item.body
        assert view.judgment.choices == ["correct", "buggy"]
        [practice] = s.practice_items(view.condition)
        fb = s.practice_feedback(practice.item.item_id, "correct")
        assert fb.right_choice in ("correct", "buggy") and fb.correct == (fb.right_choice == "correct")
        study_items = {r["item_id"] for r in sql(svc, "SELECT item_id FROM assignments")}
        assert practice.item.item_id not in study_items


def test_overseers_never_see_the_benchmark_id_nor_two_versions_of_a_problem(cr_db: Path) -> None:
    with StudyService(cr_db) as svc:
        problem_of = {r["item_id"]: r["problem_id"] for r in sql(svc, "SELECT item_id, problem_id FROM items")}
        practice = {r["item_id"] for r in sql(svc, "SELECT item_id FROM items WHERE role = 'practice'")}
        for name in ("ana", "ben"):
            s = svc.for_overseer(name)
            seen = []
            while (view := s.next_item()) is not None:
                shown = view.item.model_dump_json()
                assert "HumanEval" not in shown and problem_of[view.item.item_id] not in shown
                seen.append(view.item.item_id)
                s.submit(
                    JudgmentIn(
                        judgment_id=f"j-{view.assignment_id}".replace(":", "-"),
                        assignment_id=view.assignment_id,
                        choice="correct",
                        confidence=60,
                    )
                )
            assert len(seen) == 12
            problems = [problem_of[i] for i in seen]
            assert len(set(problems)) == 12, "an overseer met two versions of one problem"
            assert not {problem_of[i] for i in practice} & set(problems), "practice showed the gold of a judged problem"
