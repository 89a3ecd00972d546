"""Shared fixtures: small real study databases built through the real `create` path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent

MC_ROWS = [
    {"id": f"q{i:02d}", "passage": f"Passage {i}: the river rose {i} feet after the storm.",
     "question": f"How many feet did the river rise in passage {i}?",
     "choices": [str(i), str(i + 1), str(i + 2), "none"], "answer": "ABCD"[i % 3]}
    for i in range(12)
]


def write_mc_study(folder: Path, *, name: str = "mc", overseers: int = 3, conditions: str | None = None,
                   items_per_overseer: int = 12, rows: list[dict] | None = None, extra: str = "") -> Path:
    """Write a small multiple-choice study (data + YAML) into `folder` and return the YAML path."""
    data = folder / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in (rows or MC_ROWS)) + "\n")
    names = ", ".join(["ana", "ben", "chi", "dev", "eli", "fay", "gus", "hal"][:overseers])
    conds = conditions or """
  - {name: unassisted}
  - {name: consult, assistance: [consultancy]}
  - {name: debate, assistance: [{debate: {rounds: 1}}]}"""
    study = folder / f"{name}.yaml"
    study.write_text(f"""study: {name}
question: Can readers answer with help?
task:
  kind: multiple-choice
  source: data.jsonl
  columns: {{id: id, question: question, choices: choices, answer: answer, passage: passage}}
  split: {{train: 0.5, seed: 1}}
gold: {{kind: dataset-label}}
conditions:{conds}
overseers:
  non_experts: [{names}]
  items_per_overseer: {items_per_overseer}
judgment: {{choices: item, confidence: [50, 75, 100]}}
{extra}""")
    return study


@pytest.fixture
def mc_study(tmp_path: Path) -> Path:
    """A created multiple-choice study database (3 overseers × 3 conditions × 12 items)."""
    from sandwich.create import create_study
    from sandwich.studyfile import load_study

    yaml_path = write_mc_study(tmp_path)
    db = tmp_path / "mc.duckdb"
    create_study(load_study(yaml_path), db)
    return db
