"""Study files: valid ones load; every kind of mistake names file:line:col, the field and what was expected."""

from __future__ import annotations

import os
import subprocess
import sys
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
    assert any(m.startswith("x.yaml:9:12: conditions[1].name: condition 'unassisted' is defined twice") for m in msgs)


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
    assert any(m.startswith("x.yaml:6:14: gold.kind: code-review items have no dataset label") for m in msgs)


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


DATA = Path(__file__).resolve().parent / "data"


def sandwich(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    """Run the real CLI (its error handling and exit codes included); returns (exit code, stdout + stderr)."""
    res = subprocess.run(
        [sys.executable, "-m", "sandwich", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    return res.returncode, res.stdout + res.stderr


def test_reserved_condition_name_is_an_error_at_its_line() -> None:
    """c03: a condition called `expert` would be pooled with the expert overseers by the analysis."""
    path = DATA / "c03-reserved-condition-name" / "study.yaml"
    with pytest.raises(StudyFileError) as e:
        load_study(path)
    [msg] = e.value.problems
    assert msg.startswith(f"{path}:12:12: conditions[1].name: 'expert' is reserved")
    code, out = sandwich("validate", str(path))
    assert code == 2 and "is reserved" in out


@pytest.mark.parametrize("name", ["expert", "experts", "gold", "model", "default"])
def test_every_name_the_analysis_uses_is_reserved(name: str) -> None:
    [msg] = problems_of(BASE.replace("name: explain", f"name: {name}"))
    assert msg.startswith("x.yaml:9:12: conditions[1].name:") and "is reserved" in msg


@pytest.mark.parametrize("hid", ["X1", "H1*"])
def test_hypothesis_ids_analyze_gives_itself_are_reserved(hid: str) -> None:
    text = BASE + f"preregistration:\n  hypotheses:\n    - {{id: '{hid}', compare: [explain, unassisted]}}\n"
    [msg] = problems_of(text)
    assert msg.startswith("x.yaml:16:") and "preregistration.hypotheses[0].id" in msg and "reserved" in msg


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(
    ("name", "line_col", "what"),
    [
        ("bomb.yaml", "3:5", "anchors and aliases"),
        ("deep.yaml", "3:", "value nested too deeply (more than 32 levels)"),
    ],
)
def test_alias_bomb_and_deep_nesting_are_refused_with_a_position(
    name: str, line_col: str, what: str, libyaml: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c04: the bomb used to take seconds and 300 MB (a MemoryError one line later), deep nesting a RecursionError."""
    import yaml

    if libyaml and not yaml.__with_libyaml__:
        pytest.fail("PyYAML was built without libyaml; the fast pre-check cannot run")
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    path = DATA / "c04-yaml-alias-bomb" / name
    with pytest.raises(StudyFileError) as e:
        load_study(path)
    [msg] = e.value.problems
    assert msg.startswith(f"{path}:{line_col}") and f": {what}" in msg


def test_a_much_bigger_bomb_is_refused_without_expanding(tmp_path: Path) -> None:
    lines = ["study: s", "question: q?", 'x0: &a0 ["ab","ab","ab","ab","ab","ab","ab","ab","ab","ab"]']
    lines += [f"x{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]  # 10^12 scalars
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    code, out = sandwich("validate", str(bomb))
    assert code == 2 and "anchors and aliases" in out and "Traceback" not in out


def test_nesting_far_past_the_recursion_limit_is_a_located_error() -> None:
    [msg] = problems_of("study: s\nquestion: q?\ndescription: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert msg.startswith("x.yaml:3:") and "nested too deeply" in msg


def test_a_control_character_is_a_located_error() -> None:
    [msg] = problems_of("study: s\nquestion: q\x07?\n")
    assert msg.startswith("x.yaml:2:12: not valid YAML")


def test_validate_reports_every_problem_at_its_value_in_one_run() -> None:
    """c05: five independent problems used to take five edit-and-rerun rounds, two of them placed wrongly."""
    path = DATA / "c05-all-problems-at-once" / "many-problems.yaml"
    with pytest.raises(StudyFileError) as e:
        load_study(path)
    places = [m.removeprefix(f"{path}:").split(": ", 2)[:2] for m in e.value.problems]
    assert places == [
        ["12:12", "conditions[2].name"],
        ["15:16", "overseers.non_experts"],
        ["16:23", "overseers.items_per_overseer"],
        ["17:41", "judgment.time_limit_s"],
        ["20:26", "preregistration.hypotheses[0].compare[0]"],
    ]
    code, out = sandwich("validate", str(path))
    assert code == 2 and "5 problem(s)" in out


def test_duplicate_overseer_is_reported_on_the_duplicate() -> None:
    [msg] = problems_of(BASE.replace("[ana, ben, chi]", "[ana, ben, chi, ben]"))
    assert msg.startswith("x.yaml:12:32: overseers.non_experts[3]: overseer 'ben' is named more than once")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("gold: {kind: execution}", "gold: {kind: execution, timeout_s: .inf}", "gold.timeout_s"),
        ("gold: {kind: execution}", "gold: {kind: execution, timeout_s: .nan}", "gold.timeout_s"),
        ("gold: {kind: execution}", "gold: {kind: execution}\nassistant: {timeout_s: .inf}", "assistant.timeout_s"),
        ("gold: {kind: execution}", "gold: {kind: execution}\nassistant: {temperature: .nan}", "assistant.temperature"),
        ("  problems: 10", "  problems: 10\n  split: {seed: -1}", "task.split.seed"),
        ("items_per_overseer: 6", "items_per_overseer: 6\n  seed: -3", "overseers.seed"),
        (
            "items_per_overseer: 6",
            "items_per_overseer: 6\njudgment: {time_limit_s: 1000000000}",
            "judgment.time_limit_s",
        ),
        (
            "items_per_overseer: 6",
            "items_per_overseer: 6\nclassifiers: {learning_rate: .inf}",
            "classifiers.learning_rate",
        ),
        ("items_per_overseer: 6", "items_per_overseer: 6\nclassifiers: {seeds: []}", "classifiers.seeds"),
        (
            "items_per_overseer: 6",
            "items_per_overseer: 6\nsimulation: {non_expert: {skill: {explain: 1.5}}}",
            "simulation.non_expert.skill.explain",
        ),
        (
            "items_per_overseer: 6",
            "items_per_overseer: 6\nsimulation: {non_expert: {seconds_per_item: .inf}}",
            "simulation.non_expert.seconds_per_item",
        ),
    ],
)
def test_meaningless_settings_are_errors(old: str, new: str, field: str) -> None:
    msgs = problems_of(BASE.replace(old, new))
    assert any(f": {field}:" in m for m in msgs), msgs


@pytest.mark.parametrize(
    ("extra", "place", "what"),
    [
        (
            "preregistration:\n  hypotheses:\n    - {id: H1, compare: [explain, explain]}\n",
            "16:35: preregistration.hypotheses[0].compare[1]",
            "compares 'explain' with itself",
        ),
        (
            "preregistration:\n  hypotheses:\n    - {id: H1, compare: [explain, unassisted]}\n"
            + "    - {id: H1, compare: [debate, unassisted]}\n",
            "17:12: preregistration.hypotheses[1].id",
            "used twice",
        ),
        (
            "simulation: {non_expert: {skill: {explian: 0.7}}}\n",
            "14:44: simulation.non_expert.skill.explian",
            "no condition named 'explian'",
        ),
        ("classifiers: {train_on: [expert, explain, explain]}\n", "14:43: classifiers.train_on[2]", "listed twice"),
    ],
)
def test_cross_field_nonsense_is_an_error_at_its_value(extra: str, place: str, what: str) -> None:
    [msg] = problems_of(BASE + extra)
    assert msg.startswith(f"x.yaml:{place}:") and what in msg


def test_field_and_cross_field_problems_come_together() -> None:
    text = BASE.replace("name: explain", "name: unassisted").replace(
        "{kind: execution}", "{kind: execution, timeout_s: 0}"
    )
    msgs = problems_of(text)
    assert [m.split(": ", 2)[1] for m in msgs] == ["gold.timeout_s", "conditions[1].name"]


def test_programmatic_study_still_refuses_inconsistent_settings() -> None:
    from pydantic import ValidationError

    from sandwich.config import Study
    from sandwich.studyfile import parse_yaml

    data = parse_yaml(BASE.replace("name: explain", "name: unassisted"), "x")[0]
    with pytest.raises(ValidationError, match=r"conditions\[1\]\.name: condition 'unassisted' is defined twice"):
        Study.model_validate(data)


@pytest.mark.parametrize(
    ("extra", "place", "what"),
    [
        ("judgment: {time_limit_s: null, warn_before_s: 30}\n", "14:47: judgment.warn_before_s", "no effect without"),
        ("judgment: {time_limit_s: null, on_timeout: skip}\n", "14:44: judgment.on_timeout", "no effect without"),
        ("judgment: {time_limit_s: 30, warn_before_s: 30}\n", "14:45: judgment.warn_before_s", "from the start"),
    ],
)
def test_timer_settings_that_cannot_take_effect_are_errors(extra: str, place: str, what: str) -> None:
    [msg] = problems_of(BASE + extra)
    assert msg.startswith(f"x.yaml:{place}:") and what in msg


def test_settings_that_cannot_take_effect_elsewhere_are_errors() -> None:
    [msg] = problems_of(BASE.replace("  - {name: unassisted}", "  - {name: unassisted, live_followups: true}"))
    assert msg.startswith("x.yaml:8:40: conditions[0].live_followups:") and "need assistance" in msg
    [msg] = problems_of(BASE.replace("items_per_overseer: 6", "items_per_overseer: 6\n  expert_condition: explain"))
    assert msg.startswith("x.yaml:14:21: overseers.expert_condition: has no effect without overseers.experts")


def test_defaults_are_never_blamed() -> None:
    validate_text(BASE + "judgment: {time_limit_s: 30}\n", "x.yaml")  # default warn_before_s (60) is not an error
    validate_text(BASE + "judgment: {time_limit_s: null}\n", "x.yaml")
