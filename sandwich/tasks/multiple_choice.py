"""Multiple-choice items (MMLU/QuALITY/GPQA style) from a local file or a Hugging Face dataset.

Gold is the dataset's answer, stored as the letter of the right choice (A, B, …);
overseers answer with a letter too. The import never changes what the file says:

- answers are read one way for the whole file (0-based index, letter or the choice's text);
  with ``answer_format: auto`` the one reading that fits every row is chosen and reported,
  and the file is refused when none fits or two fit but name different choices;
- with one column per choice, a letter names its column: an empty cell before a filled one
  is an error (only trailing empty columns are dropped), so letters never shift;
- ids stay exactly as written; a missing id, question, passage, choice or answer is an error
  naming the file, row and column;
- after ``create``, :func:`verify_stored_gold` checks the stored gold text against the file.
"""

from __future__ import annotations

import itertools
import json
import math
import string
from dataclasses import dataclass
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
READINGS = ("text", "letter", "index")  # preference when several readings fit and agree
MAX_LISTED = 12  # row problems listed in one error


def _read_records(task: MultipleChoiceTask, base: Path) -> tuple[list[dict[str, Any]], str]:
    """The data file's rows as dicts, values as the file typed them (CSV: all text), and the file's name."""
    if task.source.startswith("hf:"):
        name = task.source[3:]
        try:
            import datasets  # optional: only where a hub is reachable
        except ImportError:
            raise DataError(
                f"task.source {task.source!r} needs the 'datasets' package.",
                hint="pip install 'sandwich[hub]', or download the data and point source: at the file.",
            ) from None
        try:
            ds = datasets.load_dataset(name, task.hf_config, split=task.hf_split)
        except Exception as e:  # noqa: BLE001 - the hub raises many kinds; all mean "could not load"
            raise DataError(
                f"task.source {task.source!r}: could not load from the Hugging Face hub: {e}",
                hint="Check the name/config/split, or use a local .jsonl/.csv/.parquet file.",
            ) from None
        return [dict(r) for r in ds], task.source
    path = Path(task.source)
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise DataError(
            f"task.source: data file {path} does not exist.",
            hint="Paths are relative to the study file's folder. Check the name, or write the file first.",
        )
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            records = []
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{n}:{e.colno}: cannot read the line: not valid JSON ({e.msg})") from None
                except RecursionError:
                    raise DataError(f"{path}:{n}: cannot read the line: a value nested too deeply") from None
                if not isinstance(rec, dict):
                    raise DataError(f"{path}:{n}: each line must be a JSON object, got {type(rec).__name__}")
                records.append(rec)
        elif suffix == ".json":
            records = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise DataError(f"{path}: a .json data file must be a list of objects (one per question).")
        elif suffix == ".csv":
            records = pl.read_csv(path, infer_schema_length=0).to_dicts()  # all text: '007' and '2' stay as written
        elif suffix == ".parquet":
            records = pl.read_parquet(path).to_dicts()
        else:
            raise DataError(
                f"task.source: {path} has an unknown extension {suffix!r}.", hint="Use .jsonl, .json, .csv or .parquet."
            )
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - json/polars parse errors of every kind
        raise DataError(
            f"task.source: cannot read {path}: {str(e).splitlines()[0]}",
            hint="Check that the file is valid for its extension.",
        ) from None
    return records, str(path)


def _missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)


@dataclass
class _Row:
    """One data row as read: what the file says, before any interpretation of its answer."""

    number: int  # 1-based data row (the header is not a row)
    qid: str
    record: dict[str, Any]
    choices: list[str]
    answer: Any

    def at(self, where: str) -> str:
        return f"{where} row {self.number} (id {self.qid!r})"


def _json_list(value: str) -> list[Any] | None:
    try:
        parsed = json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return None
    return parsed if isinstance(parsed, list) else None


def choice_encoding(records: list[dict[str, Any]], column: str, where: str) -> str:
    """How a single choices column is written, decided once for the whole file: list, json or pipe.

    Raises DataError naming rows when rows disagree (some JSON lists, some 'a | b' strings), so one
    row is never split differently from the next.
    """
    kinds: dict[str, list[int]] = {}
    for n, rec in enumerate(records, start=1):
        v = rec.get(column)
        if _missing(v):
            continue
        kind = (
            "list"
            if isinstance(v, (list, tuple))
            else (
                "json"
                if isinstance(v, str) and _json_list(v) is not None
                else "pipe"
                if isinstance(v, str)
                else "other"
            )
        )
        kinds.setdefault(kind, []).append(n)
    if len(kinds) > 1 or "other" in kinds:
        names = {"list": "lists", "json": "JSON-list strings", "pipe": "'a | b | c' strings", "other": "not lists"}
        parts = [
            f"{names[k]} in row(s) {', '.join(map(str, rows[:8]))}{' …' if len(rows) > 8 else ''}"
            for k, rows in kinds.items()
        ]
        raise DataError(
            f"{where}: column {column!r} writes its choices in more than one way: {'; '.join(parts)}",
            hint="Write every row's choices the same way (a list, a JSON list, or 'a | b | c').",
        )
    return next(iter(kinds), "list")


def _choices(
    row: dict[str, Any], spec: str | list[str], here: str, problems: list[str], encoding: str = "list"
) -> list[str]:
    if isinstance(spec, list):
        cells = [row.get(c) for c in spec]
        filled = [i for i, v in enumerate(cells) if not _missing(v)]
        last = filled[-1] if filled else -1
        for i in range(last):  # only trailing empty columns may be dropped: a letter names its column
            if _missing(cells[i]):
                problems.append(
                    f"{here}, column {spec[i]!r}: the choice is empty but a later column "
                    f"({spec[last]!r}) has one; answer letters are bound to columns, so fill the cell "
                    "or move the later choices up"
                )
        return [_text(v) for v in cells[: last + 1]]
    value = row.get(spec)
    if isinstance(value, str):
        value = _json_list(value) if encoding == "json" else [v.strip() for v in value.split("|")]
    if not isinstance(value, (list, tuple)):
        problems.append(
            f"{here}, column {spec!r}: choices must be a list (or a JSON list / 'a | b | c' string), got {value!r}"
        )
        return []
    for i, v in enumerate(value):
        if _missing(v):
            problems.append(f"{here}, column {spec!r}: choice {i + 1} ({LETTERS[i] if i < 26 else i}) is empty")
    return [_text(v) for v in value]


def _reading(answer: Any, choices: list[str], reading: str) -> int | None:
    """The 0-based choice `answer` names under one reading, or None where it does not fit."""
    if isinstance(answer, bool):
        return None
    text = _text(answer)
    if reading == "index":
        idx = answer if isinstance(answer, int) else (int(text) if text.isdigit() else None)
    elif reading == "letter":
        idx = LETTERS.index(text.upper()) if len(text) == 1 and text.upper() in LETTERS else None
    else:
        idx = choices.index(text) if text in choices else None
    return idx if idx is not None and 0 <= idx < len(choices) else None


def decide_reading(rows: list[_Row], fmt: str, where: str) -> tuple[str, str]:
    """The one reading of the answer column for the whole file, and a sentence saying why.

    Raises DataError listing the rows that do not fit (explicit format), or naming the rows that make
    `auto` ambiguous: no reading fits every row, or two fit but name different choices.
    """
    hint = "Set task.answer_format (index = 0-based position, letter = A, B, …, text = the choice itself)."

    def misfits(k: str) -> list[str]:
        return [
            f"{r.at(where)}: answer {r.answer!r} is not among its {len(r.choices)} choices read as {k} "
            f"({_what(k, len(r.choices))}; choices {r.choices!r})"
            for r in rows
            if _reading(r.answer, r.choices, k) is None
        ]

    if fmt != "auto":
        bad = misfits(fmt)
        if bad:
            raise DataError(
                _listing(f"{where}: {len(bad)} answer(s) do not fit answer_format {fmt}", bad),
                hint="Fix those rows, or set task.answer_format to how the answers are written.",
            )
        return fmt, f"answers read as {fmt} (task.answer_format)"
    fits = [k for k in READINGS if not misfits(k)]
    if not fits:
        closest = min(READINGS, key=lambda k: len(misfits(k)))
        bad = misfits(closest)
        raise DataError(
            _listing(
                f"{where}: no single reading of the answers fits every row; the closest, "
                f"{closest}, does not fit {len(bad)} row(s)",
                bad,
            ),
            hint=hint,
        )
    for a, b in itertools.pairwise(fits):
        differ = [r for r in rows if _reading(r.answer, r.choices, a) != _reading(r.answer, r.choices, b)]
        if differ:
            raise DataError(
                _listing(
                    f"{where}: answers can be read as {a} or as {b}, and the two name different choices in "
                    f"{len(differ)} row(s)",
                    [
                        f"{r.at(where)}: answer {r.answer!r} is choice "
                        f"{LETTERS[_reading(r.answer, r.choices, a) or 0]} as {a} but "
                        f"{LETTERS[_reading(r.answer, r.choices, b) or 0]} as {b}"
                        for r in differ
                    ],
                ),
                hint=hint,
            )
    chosen = fits[0]
    if chosen == "index" and not any(_reading(r.answer, r.choices, "index") == 0 for r in rows):
        raise DataError(
            f"{where}: answers look like positions but none is 0, so they may be counted from 1; "
            "sandwich will not guess.",
            hint="Set task.answer_format: index if they are 0-based "
            "(0 = first choice); otherwise convert them to letters.",
        )
    also = [k for k in fits if k != chosen]
    why = (
        "the only reading that fits every row"
        if not also
        else f"{' and '.join(also)} also fit{'s' if len(also) == 1 else ''} every row and name the same choices"
    )
    return chosen, f"answers read as {chosen} ({why})"


def _what(fmt: str, n: int) -> str:
    return {
        "index": f"a 0-based position 0–{n - 1}",
        "letter": f"a letter A–{LETTERS[min(n, 26) - 1]}",
        "text": "exactly the text of a choice",
    }[fmt]


def _listing(head: str, lines: list[str]) -> str:
    shown = lines[:MAX_LISTED]
    more = f"\n  … and {len(lines) - MAX_LISTED} more" if len(lines) > MAX_LISTED else ""
    return head + ":\n  " + "\n  ".join(shown) + more


def read_rows(task: MultipleChoiceTask, base: Path) -> tuple[list[_Row], str]:
    """Every row with its id, question fields present and its choices as written; every problem at once."""
    records, where = _read_records(task, base)
    cols = task.columns
    needed = [cols.question, cols.answer] + (cols.choices if isinstance(cols.choices, list) else [cols.choices])
    needed += [c for c in (cols.id, cols.passage) if c]
    present = set().union(*(r.keys() for r in records)) if records else set()
    missing = [c for c in needed if c not in present]
    if missing and records:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; the file has: {', '.join(sorted(present))}",
            hint="Map the file's columns with task.columns (question, choices, answer, id, passage).",
        )
    if task.limit:
        records = records[: task.limit]
    if not records:
        raise DataError(f"{where}: the data file has no rows.")
    encoding = "list" if isinstance(cols.choices, list) else choice_encoding(records, cols.choices, where)
    problems: list[str] = []
    rows: list[_Row] = []
    for n, rec in enumerate(records, start=1):
        raw_id = rec.get(cols.id) if cols.id else f"q{n - 1:05d}"
        qid = _text(raw_id) if not _missing(raw_id) else ""
        here = f"{where} row {n}" + (f" (id {qid!r})" if qid else "")
        if cols.id and _missing(raw_id):
            problems.append(f"{here}, column {cols.id!r}: the id is missing")
        elif cols.id and (not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool)):
            problems.append(f"{here}, column {cols.id!r}: an id must be text or a whole number, got {raw_id!r}")
        for col, what in ((cols.question, "question"), (cols.answer, "answer"), (cols.passage, "passage")):
            if col and _missing(rec.get(col)):
                problems.append(f"{here}, column {col!r}: the {what} is missing")
        choices = _choices(rec, cols.choices, here, problems, encoding)
        if len(choices) < 2:
            problems.append(f"{here}: needs at least two choices, got {choices!r}")
        elif len(choices) > len(LETTERS):
            problems.append(f"{here}: {len(choices)} choices; at most {len(LETTERS)} can be lettered")
        dupes = sorted({c for c in choices if choices.count(c) > 1})
        if dupes:
            problems.append(f"{here}: choice {dupes[0]!r} appears more than once; overseers could not tell them apart")
        rows.append(_Row(n, qid, rec, choices, rec.get(cols.answer)))
    first: dict[str, int] = {}
    for r in rows:
        if r.qid and r.qid in first:
            problems.append(
                f"{r.at(where)}: duplicate id {r.qid!r} (also row {first[r.qid]}); each question needs its own id"
            )
        first.setdefault(r.qid, r.number)
    if problems:
        raise DataError(
            _listing(f"{where}: {len(problems)} problem(s) in the data file", problems),
            hint="Fix the file (or task.columns); nothing was written.",
        )
    return rows, where


def load_multiple_choice(task: MultipleChoiceTask, base: Path) -> TaskData:
    """Read, check and split a multiple-choice data set; `notes` says how the answers were read."""
    rows, where = read_rows(task, base)
    reading, why = decide_reading(rows, task.answer_format, where)
    cols = task.columns
    split = split_groups([r.qid for r in rows], task.split.train, task.split.seed)
    items, gold = [], []
    for r in rows:
        idx = _reading(r.answer, r.choices, reading)
        assert idx is not None  # decide_reading checked every row
        item_id = f"mc-{r.qid}"
        items.append(
            Item(
                item_id=item_id,
                task_kind="multiple-choice",
                problem_id=r.qid,
                title=f"Question {r.qid}",
                body=_text(r.record[cols.passage]) if cols.passage else "",
                question=_text(r.record[cols.question]),
                choices=r.choices,
                split=split[r.qid],
            )
        )
        gold.append(
            Gold(
                item_id=item_id,
                label=LETTERS[idx],
                source="dataset-label",
                detail={"answer_text": r.choices[idx], "answer_as_written": _text(r.answer), "answer_reading": reading},
            )
        )
    return TaskData(items=items, gold=gold, notes=[f"{where}: {len(rows)} questions; {why}"])


def expected_gold_texts(task: MultipleChoiceTask, base: Path) -> dict[str, str]:
    """Item id → the text the file's answer names, resolved against the raw columns (no cleaning, no dropping)."""
    rows, where = read_rows(task, base)
    reading, _ = decide_reading(rows, task.answer_format, where)
    spec = task.columns.choices
    out = {}
    for r in rows:
        idx = _reading(r.answer, r.choices, reading)
        raw = r.record[spec[idx]] if isinstance(spec, list) and idx is not None else None
        out[f"mc-{r.qid}"] = (
            _text(raw) if raw is not None else (_text(r.answer) if reading == "text" else r.choices[idx or 0])
        )
    return out


def verify_stored_gold(task: MultipleChoiceTask, base: Path, db: Path | str) -> None:
    """Check that each stored gold letter names, among the stored choices, the text the file's answer names.

    Raises DataError listing every item whose stored gold differs from the file (the caller discards the db).
    """
    from sandwich.service import StudyService

    expected = expected_gold_texts(task, base)
    with StudyService(db, read_only=True) as svc:
        stored = svc.gold()
        wrong = []
        for item_id, text in expected.items():
            label = stored.get(item_id)
            choices = list(svc.item_row(item_id).choices or []) if label is not None else []
            got = choices[LETTERS.index(label)] if label and label in LETTERS[: len(choices)] else None
            if got != text:
                wrong.append(f"{item_id}: the file's answer is {text!r}, the stored gold {label} is {got!r}")
    if wrong:
        raise DataError(
            _listing(f"{task.source}: the stored gold differs from the file for {len(wrong)} item(s)", wrong),
            hint="This is a bug in the import; nothing was written. Please report it.",
        )


# ------------------------------------------------------------------ the task kind
class MultipleChoice(TaskKind):
    """Pick the choice that answers a question (maybe about a passage). Gold from the data set or experts."""

    name = "multiple-choice"
    config = MultipleChoiceTask
    gold_error = "gold: multiple-choice items cannot be executed; use kind: dataset-label or expert-overseers"
    reads_data_file = True

    def load(
        self, task: Any, study: Any, base: Path, *, allow_unsandboxed: bool = False, progress: Progress | None = None
    ) -> TaskData:
        return load_multiple_choice(task, base)

    def answer_values(self, item: ItemContent) -> list[str]:
        return [LETTERS[i] for i in range(len(item.choices))]

    def verify_stored_gold(self, task: Any, base: Path, db: Any) -> None:
        verify_stored_gold(task, base, db)

    def read_answer(self, item: ItemContent, text: str) -> str:
        """A choice's letter (either case) or its text, as the letter."""
        if len(text) == 1 and text.upper() in LETTERS[: len(item.choices)]:
            return text.upper()
        if text in item.choices:
            return LETTERS[item.choices.index(text)]
        raise ValueError(f"{text!r} is neither a choice letter nor one of the item's choices {item.choices!r}")

    def answer_text(self, item: ItemContent, value: str) -> str:
        if len(value) == 1 and value in LETTERS[: len(item.choices)]:
            return f"{value}. {item.choices[LETTERS.index(value)]}"
        return value


register(MultipleChoice())
