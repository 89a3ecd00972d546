"""Simulated overseers with planted accuracy, for classifier tests (judgments go through the real session)."""

from __future__ import annotations

import random
from pathlib import Path

from db_sql import sql

from sandwich.service import StudyService
from sandwich.views import JudgmentIn


def plant_judgments(db: Path, skill: dict[str, float], seed: int = 0) -> int:
    """Play every non-expert: right with probability skill[condition], more confident when right."""
    rng = random.Random(seed)
    n = 0
    with StudyService(db) as svc:
        gold = svc.gold()
        options = None
        for o in [r.name for r in svc.overseers() if r.role == "non_expert"]:
            session = svc.for_overseer(o)
            for a in sql(
                svc,
                "SELECT assignment_id, item_id, condition FROM assignments WHERE overseer = ? ORDER BY position",
                [o],
            ):
                g = gold[a["item_id"]]
                if svc.study.task.kind == "code-review":
                    options = ["correct", "buggy"]
                else:
                    k = len(sql(svc, "SELECT choices FROM items WHERE item_id = ?", [a["item_id"]])[0]["choices"])
                    options = [chr(65 + i) for i in range(k)]
                right = rng.random() < skill[a["condition"]]
                choice = g if right else rng.choice([x for x in options if x != g])
                conf = rng.choice([70, 80, 90]) if right else rng.choice([50, 60, 70])
                conf = min(svc.study.judgment.confidence, key=lambda c: abs(c - conf))
                session.submit(
                    JudgmentIn(
                        judgment_id=f"j-{a['assignment_id'].replace(':', '-')}",
                        assignment_id=a["assignment_id"],
                        choice=choice,
                        confidence=conf,
                        source="parametric",
                    )
                )
                n += 1
    return n
