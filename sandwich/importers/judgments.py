"""`sandwich import judgments`: any lab's own judgments (CSV, Parquet, JSONL) as an observed study.

The study file has ``overseers: {design: observed, columns: {...}}`` naming the file's columns;
items and gold come from the study's task as for any study (`sandwich create`'s loaders). Each
row is one judgment. Every problem is reported as ``FILE row N column C: what`` and nothing is
written until the whole file is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from sandwich.config import ObservedColumns
from sandwich.errors import DataError, StudyFileError
from sandwich.importers.records import (
    ConditionRecord,
    ImportedJudgment,
    ImportedStudy,
    ImportSummary,
)
from sandwich.studyfile import StudyFile
from sandwich.tasks import kind as task_kinds
from sandwich.tasks.base import Gold, Item
from sandwich.views import ItemContent


def read_table(path: Path) -> pl.DataFrame:
    """A CSV (all columns as text), Parquet or JSONL file as a frame."""
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema_length=0)
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pl.read_ndjson(path)
    except Exception as e:  # noqa: BLE001 - polars raises many kinds for a bad file
        raise DataError(
            f"{path}: cannot read: {str(e).splitlines()[0]}", hint="Check that the file is valid for its extension."
        ) from None
    raise DataError(f"{path}: unknown extension {suffix!r}.", hint="Use .csv, .parquet or .jsonl.")


def _number(value: Any, where: str, lo: float, hi: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: expected a number, got {value!r}") from None
    if not lo <= x <= hi:
        raise DataError(f"{where}: {x:g} is outside [{lo:g}, {hi:g}]")
    return x


def _choice(value: Any, item: Item, where: str) -> str:
    """The answer value `value` names, read by the item's task kind (a letter or choice text, correct/buggy…)."""
    content = ItemContent(item_id=item.item_id, task_kind=item.task_kind, title=item.title, choices=item.choices)
    try:
        return task_kinds.of(content).read_answer(content, str(value).strip())
    except ValueError as e:
        raise DataError(f"{where}: {e}") from None


def load_judgments(file: str | Path, sf: StudyFile) -> ImportedStudy:
    """Judgments from `file`, items and gold from the study's task. Raises DataError/StudyFileError."""
    from sandwich.create import build_task

    study = sf.study
    if study.overseers.design != "observed":
        raise StudyFileError(
            str(sf.path),
            [
                (
                    f"{sf.path}: overseers.design must be 'observed' to import judgments "
                    f"(it is {study.overseers.design!r})"
                )
            ],
        )
    cols = study.overseers.columns or ObservedColumns.model_validate({})
    path = Path(file)
    frame = read_table(path)
    wanted = {k: v for k, v in cols.model_dump().items() if v}
    missing = sorted({v for v in wanted.values() if v not in frame.columns})
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; the file has: {', '.join(frame.columns)}",
            hint=f"Map the file's columns in {sf.path} under overseers.columns.",
        )
    data = build_task(sf)
    items = {i.item_id: i for i in data.items}
    by_problem = {i.problem_id: i for i in data.items}
    gold = {g.item_id: g for g in data.gold}
    conditions = [c.name for c in study.conditions]
    experts = set(study.overseers.experts)
    judgments: list[ImportedJudgment] = []
    seen: dict[tuple[str, str], int] = {}
    for n, row in enumerate(frame.iter_rows(named=True), start=1):

        def at(field: str, row_no: int = n) -> str:
            return f"{path} row {row_no} column {getattr(cols, field)!r}"

        overseer = str(row[cols.overseer] or "").strip()
        if not overseer:
            raise DataError(f"{at('overseer')}: empty overseer")
        key = str(row[cols.item]).strip()
        item = items.get(key) or by_problem.get(key)
        if item is None:
            raise DataError(
                f"{at('item')}: no item {key!r} in the study's task",
                hint="The item column holds item ids (or the data file's ids for multiple choice).",
            )
        cond = str(row[cols.condition]).strip()
        if cond not in conditions:
            raise DataError(f"{at('condition')}: no condition {cond!r} in the study (it has: {', '.join(conditions)})")
        if (overseer, item.item_id) in seen:
            raise DataError(
                f"{path} row {n}: {overseer!r} judged {item.item_id!r} already in row {seen[(overseer, item.item_id)]}",
                hint="A study holds one judgment per overseer and item; remove one of the rows.",
            )
        seen[(overseer, item.item_id)] = n
        choice = _choice(row[cols.choice], item, at("choice"))
        conf = None
        if cols.confidence and row[cols.confidence] not in (None, ""):
            conf = round(_number(row[cols.confidence], at("confidence"), 0, 100))
        elif cols.probability and row[cols.probability] not in (None, ""):
            conf = round(100 * _number(row[cols.probability], at("probability"), 0, 1))
        secs = (
            _number(row[cols.time], at("time"), 0, float("inf"))
            if cols.time and row[cols.time] not in (None, "")
            else None
        )
        if cols.gold and row[cols.gold] not in (None, ""):
            label = _choice(row[cols.gold], item, at("gold"))
            known = gold.get(item.item_id)
            if known is not None and known.label != label:
                raise DataError(
                    f"{at('gold')}: gold {label!r} disagrees with the task's gold {known.label!r} for {item.item_id!r}",
                    hint="Imported gold must be exactly what the data says.",
                )
            if known is None:
                gold[item.item_id] = Gold(item.item_id, label, "dataset-label", {"from": f"{path} row {n}"})
        meta: dict[str, Any] = {
            "imported": "judgments",
            "file": path.name,
            "row": n,
            "mode": "file",
            "role": "expert" if overseer in experts else "non_expert",
        }
        if cols.choice_order and row[cols.choice_order] not in (None, ""):
            order = row[cols.choice_order]
            meta["choice_order"] = (
                order if isinstance(order, list) else (json.loads(order) if str(order).startswith("[") else str(order))
            )
        judgments.append(
            ImportedJudgment(
                f"file:{path.stem}:{n}",
                overseer,
                item.item_id,
                cond,
                choice,
                conf,
                (str(row[cols.rationale]) if cols.rationale and row[cols.rationale] else None),
                secs,
                None,
                meta=meta,
            )
        )
    if not judgments:
        raise DataError(f"{path}: no rows to import.")
    summary = ImportSummary(source=str(path), sessions=len(judgments), included=len(judgments))
    for j in judgments:
        summary.by_condition[j.condition] += 1
    conds = [ConditionRecord(c.name, c.kinds, c.briefing) for c in study.conditions]
    return ImportedStudy(
        study.study,
        sf.text,
        data.items,
        list(gold.values()),
        conds,
        sorted({j.overseer for j in judgments}),
        judgments,
        [],
        summary,
        {"dataset": "judgments", "file": str(path), "study_file": str(sf.path), "experts": sorted(experts)},
    )
