"""Which assistance a precompute needs: the whole study, or only what some overseers will meet."""

from __future__ import annotations

from pathlib import Path

import pytest
from db_sql import sql

from assistants.precompute import needed, plan
from sandwich.errors import SandwichError
from sandwich.service import StudyService


def test_overseer_subset_is_exactly_their_assisted_items(mc_study: Path) -> None:
    with StudyService(mc_study, read_only=True) as svc:
        everything = set(needed(svc))
        ana = set(needed(svc, ["ana"]))
        mine = {
            (r["item_id"], r["condition"])
            for r in sql(
                svc, "SELECT item_id, condition FROM assignments WHERE overseer = 'ana' AND condition <> 'unassisted'"
            )
        }
        assert ana == mine and ana < everything
        assert set(needed(svc, ["ana", "ben", "chi"])) == everything
        jobs, skipped = plan(svc, overseers=["ana"])
        assert {(j.item.item_id, j.condition) for j in jobs} == ana and skipped == 0
        with pytest.raises(SandwichError, match="No overseer named 'zed'"):
            needed(svc, ["zed"])


def test_sides_do_not_depend_on_which_rows_a_run_covers(mc_study: Path) -> None:
    """Consultancy/debate sides are the same in a full plan, a per-overseer plan and a retry of one row."""
    with StudyService(mc_study) as svc:
        full = {(j.item.item_id, j.condition, j.kind): j.sides for j in plan(svc)[0] if j.sides}
        consult = [k for k in full if k[2] == "consultancy"]
        assert len(consult) == 12
        right = sum(full[k][0] == svc.gold()[k[0]] for k in consult)
        assert right == 6, "half the consultants argue for the right answer"
        for who in ("ana", "ben"):
            for j in plan(svc, overseers=[who])[0]:
                if j.sides:
                    assert j.sides == full[(j.item.item_id, j.condition, j.kind)]
        item, cond, kind = consult[0]
        sql(
            svc,
            "INSERT INTO assistance (assistance_id, item_id, condition, kind, status) VALUES ('x', ?, ?, ?, 'failed')",
            [item, cond, kind],
        )
        others = [(i, c, k) for i, c, k in full if (i, c, k) != (item, cond, kind)]
        for i, c, k in others:  # everything else already stored: the retry plans one row alone
            sql(
                svc,
                "INSERT INTO assistance (assistance_id, item_id, condition, kind, status) VALUES (?, ?, ?, ?, 'ok')",
                [f"{i}:{c}:{k}", i, c, k],
            )
        [retry] = [j for j in plan(svc, retry_failed=True)[0] if j.sides]
        assert retry.sides == full[(item, cond, kind)]
