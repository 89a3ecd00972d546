"""Small pairwise studies for the tests: a JSONL pair file and its study file, created through `create`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STUDY = """study: pairs
question: Can readers tell the better of two answers?
task:
  kind: pairwise
  source: pairs.jsonl
{task_extra}gold: {{kind: dataset-label}}
conditions:
  - {{name: unassisted}}
  - {{name: debate, assistance: [{help}]}}
overseers:
  design: within-subjects
  non_experts: [ana, ben, chi]
  experts: [grace]
  items_per_overseer: {per}
  judged_items: {per}
  seed: 3
judgment:
{judgment}simulation:
  non_expert: {non_expert}
  expert: {{kind: parametric, skill: {{default: 0.98}}, noise: 0}}
  seed: 5
assistant: {{backend: scripted, model: scripted}}
seed: {seed}
"""


def pair_rows(n: int) -> list[dict[str, Any]]:
    """`n` pairs; the better answer is A in even rows and B in odd rows; both answers have one length."""
    rows = []
    for k in range(n):
        right, wrong = f"{k} + {k} = {2 * k:03d}", f"{k} + {k} = {2 * k + 1:03d}"
        a, b = (right, wrong) if k % 2 == 0 else (wrong, right)
        rows.append({"prompt": f"What is {k} + {k}?", "response_a": a, "response_b": b, "gold": "AB"[k % 2]})
    return rows


def write_pair_study(
    folder: Path,
    rows: list[dict[str, Any]] | None = None,
    *,
    task_extra: str = "",
    judgment: str = "  confidence: [50, 60, 70, 80, 90, 100]\n",
    per: int = 12,
    seed: int = 1,
    non_expert: str = "{kind: parametric, skill: {default: 0.98}, noise: 0}",
    help: str = "{debate: {rounds: 1}}",
) -> Path:
    """Write pairs.jsonl and pairs.yaml in `folder`; returns the study file's path."""
    rows = pair_rows(24) if rows is None else rows
    (folder / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = folder / "pairs.yaml"
    path.write_text(
        STUDY.format(task_extra=task_extra, judgment=judgment, per=per, seed=seed, non_expert=non_expert, help=help)
    )
    return path
