"""`sandwich export`: the study as Parquet files, with the blinded tables kept apart, plus every assistance row
in its kind's export form (`assistance_text.jsonl`). Each export is logged as a look.

The list of tables is derived from the store's catalogue, not kept by hand: every table is exported
except the documented exclusions in `WITHHELD`, so a table added by a later migration cannot be
forgotten (tests/test_export.py checks the export against the schema).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from sandwich import assistance
from sandwich.help_text import help_segments, plain
from sandwich.service import StudyService
from sandwich.views import AssistanceView

BLINDED_TABLES = ["gold", "hidden_tests"]
"""Written to OUT/gold/, apart from everything an overseer or analyst may see before unblinding."""
WITHHELD: dict[str, str] = {"tokens": "secrets"}
"""Tables never exported, with the reason the summary prints."""


def export_tables(table_names: list[str]) -> tuple[list[str], list[str]]:
    """(open, blinded) tables to export out of a schema's table names: all of them but `WITHHELD`."""
    open_ = [t for t in table_names if t not in WITHHELD and t not in BLINDED_TABLES]
    return open_, [t for t in BLINDED_TABLES if t in table_names]


def export_study(svc: StudyService, out: Path, *, who: str | None = None) -> dict[str, int]:
    """Write every table to OUT/*.parquet except gold and hidden tests (OUT/gold/) and `WITHHELD`. Row counts.

    The export reads results (gold included), so it is logged in the study as a look by `who`
    (default: the OS user) before the tables are written — the export contains its own look.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "gold").mkdir(exist_ok=True)
    with svc.lock:
        svc.record_look("export", who)
        open_, blinded = export_tables(svc.store.table_names())
        counts = svc.store.export_parquet(out, open_, blinded)
        counts["assistance_text"] = write_assistance_text(svc, out / "assistance_text.jsonl")
        return counts


def write_assistance_text(svc: StudyService, path: Path) -> int:
    """Every assistance row as its kind exports it: the typed content and the words an overseer read.

    One JSON object a line: assistance_id, item_id, condition, kind, status, content (normalised through the
    kind's content model, as stored when it does not fit) and text (the app's and the LLM judge's words).
    """
    rows = svc.store.assistance()
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            kind = assistance.find(r.kind)
            view = AssistanceView(kind=r.kind, status=r.status, content=r.content, raw=r.raw)
            f.write(
                json.dumps(
                    {
                        "assistance_id": r.assistance_id,
                        "item_id": r.item_id,
                        "condition": r.condition,
                        "kind": r.kind,
                        "status": r.status,
                        "content": kind.export(r.content) if kind else r.content,
                        "text": plain(help_segments(view)),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return len(rows)


def frames_from_export(folder: Path) -> dict[str, pl.DataFrame]:
    """The store's `analysis_frames()` rebuilt from an export folder alone (re-analysis without the database).

    Returns `judgments` (with overseer role/kind, gold and split), `overseers` and `model_answers` (with gold),
    with the same columns and row order as `StudyStore.analysis_frames`. Raises FileNotFoundError when the
    folder lacks a table (an export from before model answers were exported, or no gold folder).
    """

    def read(name: str) -> pl.DataFrame:
        return pl.read_parquet(folder / f"{name}.parquet")

    gold = pl.read_parquet(folder / "gold" / "gold.parquet").select("item_id", pl.col("label").alias("gold"))
    overseers = read("overseers")
    judgments = (
        read("judgments")
        .join(
            overseers.select("name", "role", pl.col("kind").alias("overseer_kind")),
            left_on="overseer",
            right_on="name",
            how="inner",
        )
        .join(gold, on="item_id", how="left")
        .join(read("items").select("item_id", "split"), on="item_id", how="left")
        .sort("created_at", "judgment_id")
        .select(
            "judgment_id",
            "overseer",
            "role",
            "overseer_kind",
            "item_id",
            "condition",
            "choice",
            "confidence",
            "time_on_item_s",
            "skipped",
            "timed_out",
            "assistance_failed",
            "source",
            "simulated",
            "created_at",
            "gold",
            "split",
        )
    )
    model = (
        read("model_answers").select("item_id", "model", "choice", "confidence").join(gold, on="item_id", how="left")
    )
    return {
        "judgments": judgments,
        "overseers": overseers.select("name", "role", "kind").sort(
            pl.col("role"), pl.col("name"), descending=[True, False]
        ),
        "model_answers": model,
    }
