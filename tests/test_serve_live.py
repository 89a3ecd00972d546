"""Live follow-ups through `sandwich serve` with the real embedded model: more questions than slots queue, none fail.

Slow: the server loads SmolLM2 and generates every answer on the CPU.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import write_mc_study
from db_sql import sql

from sandwich.client import OverseerClient
from sandwich.server.harness import ServerProcess, create_with_tokens
from sandwich.service import StudyService

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_more_questions_than_model_slots_queue_and_all_stream(tmp_path: Path) -> None:
    db = tmp_path / "mc.duckdb"
    tokens, _ = create_with_tokens(write_mc_study(tmp_path), db, ["ana", "ben", "chi"])
    answers: dict[str, str] = {}
    errors: list[BaseException] = []

    def ask(name: str) -> None:
        try:
            client = OverseerClient(server.url, tokens[name])
            helped = next(
                client.item(f"{name}:{n:04d}") for n in range(12) if client.item(f"{name}:{n:04d}").live_followups
            )
            answers[name] = "".join(client.follow_up(helped.assignment_id, "Which answer is right, and why?"))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    # one model slot for three overseers asking at the same moment: two must wait their turn, not fail
    with ServerProcess(db, extra_args=["--follow-up-limit", "1"]) as server:
        threads = [threading.Thread(target=ask, args=(n,)) for n in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
    assert not errors, errors
    assert set(answers) == set(tokens) and all(a.strip() for a in answers.values())
    with StudyService(db, read_only=True) as svc:
        done = sql(svc, "SELECT overseer FROM interactions WHERE event = 'followup_answered' ORDER BY overseer")
    assert [r["overseer"] for r in done] == sorted(tokens)
