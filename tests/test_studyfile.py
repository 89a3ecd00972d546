"""Study files: valid ones load; every kind of mistake names file:line:col, the field and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandwich.cli import app
from sandwich.errors import StudyFileError
from sandwich.studyfile import load_study, validate_text

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

BASE = """study: s
question: q?
task:
  kind: code-review
  problems: 10
gold: {kind: execution}
conditions:
  - {name: unassisted}
  - {name: explain, assistance: [explanation]}
  - {name: debate, assistance: [{debate: {rounds: 2}}]}
overseers:
  non_experts: [ana, ben, chi]
  items_per_overseer: 6
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(StudyFileError) as e:
        validate_text(text, "x.yaml")
    return e.value.problems


@pytest.mark.parametrize("path", sorted((REPO / "studies").glob("*.yaml")))
def test_shipped_studies_validate(path: Path) -> None:
    sf = load_study(path)
    assert sf.study.conditions and len(sf.config_hash) == 64


def test_unknown_assistance_points_at_line_and_lists_choices() -> None:
    text = BASE.replace("[{debate: {rounds: 2}}]", "[debte]")
    [msg] = problems_of(text)
    assert msg.startswith("x.yaml:10:")
    assert "conditions[2].assistance: unknown assistance 'debte'" in msg
    assert "expected one of: explanation, decomposition, critique, consultancy, debate" in msg


def test_unknown_key_is_an_error_with_its_position() -> None:
    [msg] = problems_of(BASE.replace("  problems: 10\n", "  problems: 10\n  problmes: 3\n"))
    assert msg.startswith("x.yaml:6:3: task.problmes: unknown key")


def test_broken_yaml_syntax_names_line() -> None:
    [msg] = problems_of(BASE.replace("gold: {kind: execution}", "gold: {kind: execution"))
    assert msg.startswith("x.yaml:") and "not valid YAML" in msg


def test_wrong_type_and_missing_field() -> None:
    msgs = problems_of(BASE.replace("items_per_overseer: 6", "items_per_overseer: many"))
    assert any("overseers.items_per_overseer" in m and "'many'" in m for m in msgs)
    msgs = problems_of(BASE.replace("question: q?\n", ""))
    assert any(m.startswith("x.yaml:1:1: question: required field is missing") for m in msgs)


def test_unknown_task_kind() -> None:
    [msg] = problems_of(BASE.replace("kind: code-review", "kind: essay"))
    assert "unknown task kind 'essay'" in msg and "code-review, multiple-choice" in msg


def test_duplicate_condition_names() -> None:
    msgs = problems_of(BASE.replace("name: explain", "name: unassisted"))
    assert any("duplicate condition name(s): unassisted" in m for m in msgs)


def test_overseers_cannot_fill_within_design() -> None:
    msgs = problems_of(BASE.replace("[ana, ben, chi]", "[ana, ben]"))
    assert any("overseers.non_experts" in m and "at least 3" in m for m in msgs)
    msgs = problems_of(BASE.replace("items_per_overseer: 6", "items_per_overseer: 7"))
    assert any("multiple of the 3 conditions" in m for m in msgs)


def test_split_leaving_no_test_items() -> None:
    msgs = problems_of(BASE.replace("problems: 10", "problems: 2\n  split: {train: 0.9}"))
    assert any("task.split" in m and "leaves no test items" in m for m in msgs)


def test_duplicate_yaml_key() -> None:
    msgs = problems_of(BASE + "study: again\n")
    assert any("key 'study' appears twice" in m for m in msgs)


def test_hypothesis_must_name_conditions_and_gold_must_fit_task() -> None:
    msgs = problems_of(BASE + "preregistration:\n  hypotheses:\n    - {id: H1, compare: [decompose, unassisted]}\n")
    assert any("no condition named 'decompose'" in m for m in msgs)
    msgs = problems_of(BASE.replace("{kind: execution}", "{kind: dataset-label}"))
    assert any(m.split(": ", 1)[1].startswith("gold:") or " gold: " in m for m in msgs)


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("[{debate: {rounds: 2}}]", "[debte]"))
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code != 0
    ok = tmp_path / "ok.yaml"
    ok.write_text(BASE)
    res = runner.invoke(app, ["validate", str(ok)])
    assert res.exit_code == 0 and "ok" in res.output


def test_missing_study_file() -> None:
    with pytest.raises(StudyFileError) as e:
        load_study("nope/absent.yaml")
    assert "no such study file" in str(e.value)
