"""Which assistance a precompute needs: the whole study, or only what some overseers will meet."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistants.precompute import needed, plan
from sandwich.errors import SandwichError
from sandwich.service import StudyService


def test_overseer_subset_is_exactly_their_assisted_items(mc_study: Path) -> None:
    with StudyService(mc_study, read_only=True) as svc:
        everything = set(needed(svc))
        ana = set(needed(svc, ["ana"]))
        mine = {(r["item_id"], r["condition"]) for r in svc.query(
            "SELECT item_id, condition FROM assignments WHERE overseer = 'ana' AND condition <> 'unassisted'")}
        assert ana == mine and ana < everything
        assert set(needed(svc, ["ana", "ben", "chi"])) == everything
        jobs, skipped = plan(svc, overseers=["ana"])
        assert {(j.item.item_id, j.condition) for j in jobs} == ana and skipped == 0
        with pytest.raises(SandwichError, match="No overseer named 'zed'"):
            needed(svc, ["zed"])
