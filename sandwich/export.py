"""`sandwich export`: the study as Parquet files, with the blinded tables kept apart, plus every assistance row
in its kind's export form (`assistance_text.jsonl`). Each export is logged as a look."""

from __future__ import annotations

import json
from pathlib import Path

from sandwich import assistance
from sandwich.help_text import help_segments, plain
from sandwich.service import StudyService
from sandwich.views import AssistanceView

OPEN_TABLES = ["items", "conditions", "overseers", "assignments", "assistance", "interactions", "judgments",
               "preregistration", "looks", "meta"]
BLINDED_TABLES = ["gold", "hidden_tests"]


def export_study(svc: StudyService, out: Path, *, who: str | None = None) -> dict[str, int]:
    """Write every table to OUT/*.parquet except gold and hidden tests, which go to OUT/gold/. Returns row counts.

    The export reads results (gold included), so it is logged in the study as a look by `who`
    (default: the OS user) before the tables are written — the export contains its own look.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "gold").mkdir(exist_ok=True)
    with svc.lock:
        svc.record_look("export", who)
        counts = svc.store.export_parquet(out, OPEN_TABLES, BLINDED_TABLES)
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
            f.write(json.dumps({"assistance_id": r.assistance_id, "item_id": r.item_id, "condition": r.condition,
                                "kind": r.kind, "status": r.status,
                                "content": kind.export(r.content) if kind else r.content,
                                "text": plain(help_segments(view))}, ensure_ascii=False) + "\n")
    return len(rows)
