"""Multiple-choice items (MMLU/QuALITY/GPQA style) from a local file or a Hugging Face dataset.

Gold is the dataset's answer, stored as the letter of the right choice (A, B, …);
overseers answer with a letter too.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import polars as pl

from sandwich.config import MultipleChoiceTask
from sandwich.errors import DataError
from sandwich.tasks.base import Gold, Item, TaskData
from sandwich.tasks.kind import Progress, TaskKind, register
from sandwich.tasks.split import split_groups
from sandwich.views import ItemContent

LETTERS = string.ascii_uppercase


def _read_frame(task: MultipleChoiceTask, base: Path) -> tuple[pl.DataFrame, str]:
    if task.source.startswith("hf:"):
        name = task.source[3:]
        try:
            import datasets  # optional: only where a hub is reachable
        except ImportError:
            raise DataError(f"task.source {task.source!r} needs the 'datasets' package.",
                            hint="pip install 'sandwich[hub]', or download the data and point source: at the file.") from None
        try:
            ds = datasets.load_dataset(name, task.hf_config, split=task.hf_split)
        except Exception as e:  # noqa: BLE001 - the hub raises many kinds; all mean "could not load"
            raise DataError(f"task.source {task.source!r}: could not load from the Hugging Face hub: {e}",
                            hint="Check the name/config/split, or use a local .jsonl/.csv/.parquet file.") from None
        return pl.from_pandas(ds.to_pandas()), task.source
    path = Path(task.source)
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise DataError(f"task.source: data file {path} does not exist.",
                        hint="Paths are relative to the study file's folder. Check the name, or write the file first.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            frame = pl.read_ndjson(path)
        elif suffix == ".json":
            frame = pl.read_json(path)
        elif suffix == ".csv":
            frame = pl.read_csv(path, infer_schema_length=0)  # all text: answers like '1' stay unambiguous
        elif suffix == ".parquet":
            frame = pl.read_parquet(path)
        else:
            raise DataError(f"task.source: {path} has an unknown extension {suffix!r}.",
                            hint="Use .jsonl, .json, .csv or .parquet.")
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - polars parse errors of every kind
        raise DataError(f"task.source: cannot read {path}: {str(e).splitlines()[0]}",
                        hint="Check that the file is valid for its extension.") from None
    return frame, str(path)


def _choices(row: dict[str, Any], spec: str | list[str], where: str) -> list[str]:
    if isinstance(spec, list):
        return [str(row[c]) for c in spec if row.get(c) not in (None, "")]
    value = row[spec]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = [v.strip() for v in value.split("|")]
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{where}: choices must be a list (or a JSON list / 'a | b | c' string), got {value!r}")
    return [str(v) for v in value]


def _answer_index(answer: Any, choices: list[str], fmt: str, where: str) -> int:
    text = str(answer).strip()
    candidates: list[tuple[str, int | None]] = []
    if fmt in ("auto", "index"):
        candidates.append(("index", int(text) if text.lstrip("-").isdigit() else None))
    if fmt in ("auto", "letter"):
        candidates.append(("letter", LETTERS.index(text.upper()) if len(text) == 1 and text.isalpha() else None))
    if fmt in ("auto", "text"):
        candidates.append(("text", choices.index(text) if text in choices else None))
    for _, idx in candidates:
        if idx is not None and 0 <= idx < len(choices):
            return idx
    raise DataError(f"{where}: answer {answer!r} is not among the {len(choices)} choices {choices!r}",
                    hint="Fix the row, or set task.answer_format (index, letter or text) to say how answers are written.")


def load_multiple_choice(task: MultipleChoiceTask, base: Path) -> TaskData:
    """Read, check and split a multiple-choice data set."""
    frame, where = _read_frame(task, base)
    cols = task.columns
    needed = [cols.question, cols.answer] + (cols.choices if isinstance(cols.choices, list) else [cols.choices])
    needed += [c for c in (cols.id, cols.passage) if c]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}; the file has: {', '.join(frame.columns)}",
                        hint="Map the file's columns with task.columns (question, choices, answer, id, passage).")
    records = frame.to_dicts()
    if task.limit:
        records = records[: task.limit]
    if not records:
        raise DataError(f"{where}: the data file has no rows.")
    ids = [str(r[cols.id]) if cols.id else f"q{i:05d}" for i, r in enumerate(records)]
    seen: set[str] = set()
    dupes = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if dupes:
        raise DataError(f"{where}: duplicate id(s) in column {cols.id!r}: {', '.join(dupes[:5])}",
                        hint="Each question needs its own id.")
    split = split_groups(ids, task.split.train, task.split.seed)
    items, gold = [], []
    for row_no, (qid, row) in enumerate(zip(ids, records, strict=True), start=1):
        here = f"{where} row {row_no} (id {qid})"
        choices = _choices(row, cols.choices, here)
        if len(choices) < 2:
            raise DataError(f"{here}: needs at least two choices, got {choices!r}")
        idx = _answer_index(row[cols.answer], choices, task.answer_format, here)
        item_id = f"mc-{qid}"
        items.append(Item(item_id=item_id, task_kind="multiple-choice", problem_id=qid, title=f"Question {qid}",
                          body=str(row[cols.passage]) if cols.passage and row.get(cols.passage) else "",
                          question=str(row[cols.question]), choices=choices, split=split[qid]))
        gold.append(Gold(item_id=item_id, label=LETTERS[idx], source="dataset-label",
                         detail={"answer_text": choices[idx]}))
    return TaskData(items=items, gold=gold)


# ------------------------------------------------------------------ the task kind
class MultipleChoice(TaskKind):
    """Pick the choice that answers a question (maybe about a passage). Gold from the data set or experts."""

    name = "multiple-choice"
    config = MultipleChoiceTask
    gold_error = "gold: multiple-choice items cannot be executed; use kind: dataset-label or expert-overseers"

    def load(self, task: Any, study: Any, base: Path, *, allow_unsandboxed: bool = False,
             progress: Progress | None = None) -> TaskData:
        return load_multiple_choice(task, base)

    def answer_values(self, item: ItemContent) -> list[str]:
        return [LETTERS[i] for i in range(len(item.choices))]

    def answer_text(self, item: ItemContent, value: str) -> str:
        if len(value) == 1 and value in LETTERS[: len(item.choices)]:
            return f"{value}. {item.choices[LETTERS.index(value)]}"
        return value


register(MultipleChoice())
