"""The study file of an observed study: assignments come from the data, not a dealt plan.

An importer writes this YAML into the database like any study's config, so `analyze`,
`check-design` and `power` read imported data through the same `Study` schema.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from sandwich.config import Study
from sandwich.importers.records import ConditionRecord
from sandwich.studyfile import validate_text

# judges report any percentage; the chosen answer's probability is at least 50%
FULL_SCALE = list(range(50, 101))


def observed_config(
    name: str,
    question: str,
    description: str,
    conditions: Sequence[ConditionRecord],
    *,
    source: str,
    confidence: Sequence[int] = FULL_SCALE,
) -> tuple[str, Study]:
    """YAML text (and the validated Study) for an imported multiple-choice study with observed design.

    `source` names where items came from (``import:nyu-debate``); `sandwich create` refuses an
    observed study, so it is never read as a data file.
    """
    doc = {
        "study": name,
        "question": question,
        "description": description,
        "task": {"kind": "multiple-choice", "source": source},
        "gold": {"kind": "dataset-label"},
        "conditions": [
            {
                "name": c.name,
                "assistance": list(c.assistance),
                "live_followups": False,
                **({"briefing": c.briefing} if c.briefing else {}),
            }
            for c in conditions
        ],
        "overseers": {"design": "observed"},
        "judgment": {"choices": "item", "confidence": list(confidence), "time_limit_s": None, "rationale": "optional"},
    }
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
    return text, validate_text(text, f"<{name} observed study>")
