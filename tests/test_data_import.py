"""Multiple-choice data files are imported exactly as written, or refused with file, row and column."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandwich.create import create_study
from sandwich.errors import DataError
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.tasks.multiple_choice import LETTERS

DATA = Path(__file__).resolve().parent / "data"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandwich", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "250"},
        timeout=300,
    )


def case(name: str, tmp_path: Path) -> Path:
    """A writable copy of a case's inputs."""
    folder = tmp_path / name
    shutil.copytree(DATA / name, folder)
    return folder


def stored_gold(db: Path) -> dict[str, tuple[str, str]]:
    """Item id -> (gold letter, the choice text that letter names among the stored choices)."""
    with StudyService(db, read_only=True) as svc:
        return {i: (g, list(svc.item_row(i).choices)[LETTERS.index(g)]) for i, g in svc.gold().items()}


MC_STUDY = """study: s
question: q?
task:
  kind: multiple-choice
  source: {source}
  columns: {columns}
{extra}gold: {{kind: dataset-label}}
conditions:
  - {{name: unassisted}}
overseers:
  non_experts: [ana]
  items_per_overseer: {k}
judgment: {{choices: item, confidence: [50, 100]}}
"""


def write_study(
    folder: Path,
    rows: list[dict] | str,
    *,
    source: str = "items.jsonl",
    columns: str = "{id: id, question: question, choices: choices, answer: answer}",
    answer_format: str | None = None,
    k: int | None = None,
) -> Path:
    if isinstance(rows, str):
        (folder / source).write_text(rows)
        n = rows.count("\n") - 1
    else:
        (folder / source).write_text("".join(json.dumps(r) + "\n" for r in rows))
        n = len(rows)
    extra = f"  answer_format: {answer_format}\n" if answer_format else ""
    path = folder / "s.yaml"
    path.write_text(MC_STUDY.format(source=source, columns=columns, extra=extra, k=k or n))
    return path


# ------------------------------------------------------------------ c01: one reading for the whole file
def test_numeric_text_answers_get_the_choice_the_file_names(tmp_path: Path) -> None:
    """c01: '2' among choices 1-4 used to be read as index 2 (= '3') for some rows and as text for others."""
    folder = case("c01-numeric-answer", tmp_path)
    res = cli("create", str(folder / "study.yaml"), "--db", str(tmp_path / "s.duckdb"))
    assert res.returncode == 0, res.stderr
    assert "answers read as text (the only reading that fits every row)" in res.stdout
    assert stored_gold(tmp_path / "s.duckdb") == {
        "mc-n1": ("B", "2"),
        "mc-n2": ("B", "4"),
        "mc-n3": ("B", "3"),
        "mc-n4": ("C", "7"),
    }


def test_explicit_text_format_gives_the_same_gold(tmp_path: Path) -> None:
    folder = case("c01-numeric-answer", tmp_path)
    study = folder / "study.yaml"
    study.write_text(study.read_text().replace("  split:", "  answer_format: text\n  split:"))
    create_study(load_study(study), tmp_path / "s.duckdb")
    assert {i: g for i, (g, _) in stored_gold(tmp_path / "s.duckdb").items()} == {
        "mc-n1": "B",
        "mc-n2": "B",
        "mc-n3": "B",
        "mc-n4": "C",
    }


def test_two_readings_that_disagree_are_refused_naming_the_rows(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "question": "?", "choices": ["1", "2", "0", "3"], "answer": "2"},  # index C, text B
        {"id": "b", "question": "?", "choices": ["0", "1", "2", "3"], "answer": "1"},
    ]  # both B
    study = write_study(tmp_path, rows)
    with pytest.raises(DataError) as e:
        create_study(load_study(study), tmp_path / "s.duckdb")
    msg = e.value.message
    assert "answers can be read as text or as index" in msg and "1 row(s)" in msg
    assert "row 1 (id 'a'): answer '2' is choice B as text but C as index" in msg and "id 'b'" not in msg
    assert not (tmp_path / "s.duckdb").exists()


def test_positions_that_may_count_from_one_are_not_guessed(tmp_path: Path) -> None:
    rows = [
        {"id": str(i), "question": "?", "choices": ["w", "x", "y", "z"], "answer": a}
        for i, a in enumerate([1, 3, 2, 1])
    ]
    study = write_study(tmp_path, rows)
    with pytest.raises(DataError, match="none is 0, so they may be counted from 1"):
        create_study(load_study(study), tmp_path / "s.duckdb")
    study.write_text(study.read_text().replace("  columns:", "  answer_format: index\n  columns:"))
    create_study(load_study(study), tmp_path / "s.duckdb")
    assert [g for _, g in sorted(stored_gold(tmp_path / "s.duckdb").items())] == [
        ("B", "x"),
        ("D", "z"),
        ("C", "y"),
        ("B", "x"),
    ]


def test_no_reading_fits_lists_the_rows_that_do_not(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "question": "?", "choices": ["x", "y"], "answer": "B"},
        {"id": "b", "question": "?", "choices": ["x", "y"], "answer": "Y"},
    ]
    with pytest.raises(DataError) as e:
        create_study(load_study(write_study(tmp_path, rows)), tmp_path / "s.duckdb")
    assert "the closest, letter, does not fit 1 row(s)" in e.value.message
    assert "row 2 (id 'b'): answer 'Y' is not among its 2 choices read as letter" in e.value.message


# ------------------------------------------------------------------ c02: letters bound to their columns
def test_empty_choice_cell_is_refused_naming_file_row_and_column(tmp_path: Path) -> None:
    """c02: the empty opt_b used to shift Mercury to B and store C = Copper as gold."""
    folder = case("c02-empty-choice-cell", tmp_path)
    res = cli("create", str(folder / "study.yaml"), "--db", str(tmp_path / "s.duckdb"))
    assert res.returncode == 2
    assert f"{folder / 'items.csv'} row 2 (id 'e2'), column 'opt_b': the choice is empty" in res.stderr
    assert "e1" not in res.stderr and "e3" not in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "s.duckdb").exists()


def test_trailing_empty_columns_are_dropped_and_letters_still_name_columns(tmp_path: Path) -> None:
    folder = case("c02-empty-choice-cell", tmp_path)
    csv = folder / "items.csv"
    csv.write_text("\n".join(line for line in csv.read_text().splitlines() if not line.startswith("e2")) + "\n")
    study = folder / "study.yaml"
    study.write_text(study.read_text().replace("items_per_overseer: 3", "items_per_overseer: 2"))
    create_study(load_study(study), tmp_path / "s.duckdb")
    assert stored_gold(tmp_path / "s.duckdb") == {"mc-e1": ("B", "Lemon"), "mc-e3": ("C", "Pacific")}


def test_a_letter_naming_an_empty_trailing_column_is_refused(tmp_path: Path) -> None:
    text = "id,question,a,b,c,answer\nr1,?,x,y,,C\nr2,?,x,y,z,A\n"
    study = write_study(
        tmp_path,
        text,
        source="items.csv",
        answer_format="letter",
        columns="{id: id, question: question, choices: [a, b, c], answer: answer}",
    )
    with pytest.raises(DataError, match=r"row 1 \(id 'r1'\): answer 'C' is not among its 2 choices read as letter"):
        create_study(load_study(study), tmp_path / "s.duckdb")


# ------------------------------------------------------------------ ids, missing values, duplicates
def test_ids_stay_exactly_as_written(tmp_path: Path) -> None:
    text = "id,question,a,b,answer\n007,?,x,y,A\n7,?,x,y,B\n 7,?,x,y,A\n"
    study = write_study(
        tmp_path, text, source="items.csv", columns="{id: id, question: question, choices: [a, b], answer: answer}"
    )
    create_study(load_study(study), tmp_path / "s.duckdb")
    assert sorted(stored_gold(tmp_path / "s.duckdb")) == ["mc- 7", "mc-007", "mc-7"]


def test_an_id_that_is_not_text_or_a_whole_number_is_refused(tmp_path: Path) -> None:
    rows = [
        {"id": 1.5, "question": "?", "choices": ["x", "y"], "answer": "A"},
        {"id": 2, "question": "?", "choices": ["x", "y"], "answer": "B"},
    ]
    with pytest.raises(DataError, match=r"row 1 \(id '1.5'\), column 'id': an id must be text or a whole number"):
        create_study(load_study(write_study(tmp_path, rows)), tmp_path / "s.duckdb")


def test_every_missing_value_is_named_with_file_row_and_column(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "question": "?", "choices": ["x", "y"], "answer": "A"},
        {"id": "b", "question": "", "choices": ["x", "y"], "answer": "A"},
        {"id": "c", "question": "?", "choices": ["x", None, "z"], "answer": "A"},
        {"id": "d", "question": "?", "choices": ["x", "y"]},
        {"question": "?", "choices": ["x", "y"], "answer": "A"},
        {"id": "a", "question": "?", "choices": ["x", "x"], "answer": "A"},
    ]
    with pytest.raises(DataError) as e:
        create_study(load_study(write_study(tmp_path, rows)), tmp_path / "s.duckdb")
    src = tmp_path / "items.jsonl"
    lines = e.value.message.splitlines()
    assert lines[0] == f"{src}: 6 problem(s) in the data file:"
    assert [ln.strip() for ln in lines[1:]] == [
        f"{src} row 2 (id 'b'), column 'question': the question is missing",
        f"{src} row 3 (id 'c'), column 'choices': choice 2 (B) is empty",
        f"{src} row 4 (id 'd'), column 'answer': the answer is missing",
        f"{src} row 5, column 'id': the id is missing",
        f"{src} row 6 (id 'a'): choice 'x' appears more than once; overseers could not tell them apart",
        f"{src} row 6 (id 'a'): duplicate id 'a' (also row 1); each question needs its own id",
    ]


def test_create_checks_the_stored_gold_against_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transformation that loses track of the answer (here: choices reversed after gold was set) is caught."""
    from sandwich import create

    folder = case("c01-numeric-answer", tmp_path)
    real = create.build_task

    def shuffled(sf, **kw):
        data = real(sf, **kw)
        data.items[0].choices = list(reversed(data.items[0].choices))
        return data

    monkeypatch.setattr(create, "build_task", shuffled)
    with pytest.raises(DataError) as e:
        create_study(load_study(folder / "study.yaml"), tmp_path / "s.duckdb")
    assert "the stored gold differs from the file for 1 item(s)" in e.value.message
    assert "mc-n1: the file's answer is '2', the stored gold B is '3'" in e.value.message
    assert [p for p in tmp_path.iterdir() if "duckdb" in p.name] == []


# ------------------------------------------------------------------ validate loads the data too
def test_validate_reports_the_reading_and_the_design(tmp_path: Path) -> None:
    folder = case("c01-numeric-answer", tmp_path)
    res = cli("validate", str(folder / "study.yaml"))
    assert res.returncode == 0, res.stderr
    assert "4 questions; answers read as text" in res.stdout
    assert "4 items, 4 assignments for 1 overseers; stored gold matches the file" in res.stdout
    assert [p.name for p in folder.iterdir()] == [p.name for p in (DATA / "c01-numeric-answer").iterdir()]


def test_validate_refuses_bad_data_not_only_create(tmp_path: Path) -> None:
    folder = case("c02-empty-choice-cell", tmp_path)
    res = cli("validate", str(folder / "study.yaml"))
    assert res.returncode == 2 and "row 2 (id 'e2'), column 'opt_b'" in res.stderr


def test_validate_says_when_the_design_cannot_be_covered(tmp_path: Path) -> None:
    folder = case("c01-numeric-answer", tmp_path)
    study = folder / "study.yaml"
    study.write_text(study.read_text().replace("items_per_overseer: 4", "items_per_overseer: 6"))
    res = cli("validate", str(study))
    assert res.returncode == 2 and "items_per_overseer 6" in res.stderr and "Traceback" not in res.stderr
    res = cli("validate", "--no-data", str(study))
    assert res.returncode == 0


def test_a_deeply_nested_data_line_is_a_located_error_not_a_traceback(tmp_path: Path) -> None:
    rows = [{"id": "a", "question": "?", "choices": ["x", "y"], "answer": "A"}]
    study = write_study(tmp_path, rows)
    with (tmp_path / "items.jsonl").open("a") as f:
        f.write('{"id": "b", "question": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    res = cli("validate", str(study))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{tmp_path / 'items.jsonl'}:2: cannot read the line: a value nested too deeply" in res.stderr


def test_a_choices_column_is_decoded_one_way_for_the_whole_file(tmp_path: Path) -> None:
    text = (
        "id,question,choices,answer\n"
        'a,?,"[""x | y"", ""z""]",A\n'  # a JSON list whose first choice contains a bar
        'b,?,"p | q",B\n'
    )  # a bar-separated string
    study = write_study(tmp_path, text, source="items.csv")
    with pytest.raises(DataError) as e:
        create_study(load_study(study), tmp_path / "s.duckdb")
    assert "column 'choices' writes its choices in more than one way" in e.value.message
    assert "JSON-list strings in row(s) 1" in e.value.message and "'a | b | c' strings in row(s) 2" in e.value.message


def test_a_json_list_column_keeps_a_bar_inside_a_choice(tmp_path: Path) -> None:
    text = 'id,question,choices,answer\na,?,"[""x | y"", ""z""]",x | y\nb,?,"[""p"", ""q""]",q\n'
    create_study(load_study(write_study(tmp_path, text, source="items.csv")), tmp_path / "s.duckdb")
    assert stored_gold(tmp_path / "s.duckdb") == {"mc-a": ("A", "x | y"), "mc-b": ("B", "q")}
