"""Small multiple-choice study files for tests: one writer, many shapes (no sandbox or model needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAMES = ["ana", "ben", "chi", "dev", "eli", "fay", "gus", "hal"]
THREE_CONDITIONS = """
  - {name: unassisted}
  - {name: consult, assistance: [consultancy]}
  - {name: debate, assistance: [{debate: {rounds: 1}}]}"""


def mc_rows(n: int, answers: str = "ABC") -> list[dict[str, Any]]:
    """`n` passage questions whose answers cycle through `answers`."""
    return [
        {
            "id": f"q{i:03d}",
            "passage": f"Passage {i}: the river rose {i} feet after the storm of year {1900 + i}.",
            "question": f"How many feet did the river rise in passage {i}?",
            "choices": [str(i), str(i + 1), str(i + 2), "none"],
            "answer": answers[i % len(answers)],
        }
        for i in range(n)
    ]


def write_mc_study(
    folder: Path,
    *,
    name: str = "mc",
    rows: int | list[dict[str, Any]] = 12,
    conditions: str = THREE_CONDITIONS,
    overseers: int | list[str] = 3,
    experts: list[str] = (),
    items_per_overseer: int = 12,
    judged_items: int | None = None,
    judgment: str = "{choices: item, confidence: [50, 75, 100]}",
    assistant: str | None = None,
    extra: str = "",
) -> Path:
    """Write `folder/data.jsonl` and `folder/NAME.yaml`; return the YAML's path."""
    data = rows if isinstance(rows, list) else mc_rows(rows)
    (folder / "data.jsonl").write_text("\n".join(json.dumps(r) for r in data) + "\n")
    names = overseers if isinstance(overseers, list) else NAMES[:overseers]
    lines = [f"  non_experts: [{', '.join(names)}]", f"  items_per_overseer: {items_per_overseer}"]
    if experts:
        lines.append(f"  experts: [{', '.join(experts)}]")
    if judged_items is not None:
        lines.append(f"  judged_items: {judged_items}")
    overseer_block = "\n".join(lines)
    path = folder / f"{name}.yaml"
    path.write_text(f"""study: {name}
question: Can readers answer with help?
task:
  kind: multiple-choice
  source: data.jsonl
  columns: {{id: id, question: question, choices: choices, answer: answer, passage: passage}}
  split: {{train: 0.5, seed: 1}}
gold: {{kind: dataset-label}}
{f"assistant: {assistant}" if assistant else ""}
conditions:{conditions}
overseers:
{overseer_block}
judgment: {judgment}
{extra}""")
    return path
