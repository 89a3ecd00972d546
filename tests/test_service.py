"""The study service: what overseers get, what they can never get, and judgments that stick."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from db_sql import sql

from sandwich import store
from sandwich.errors import AlreadyJudged, NotFound, SandwichError, StoreError, StudyLocked
from sandwich.service import OverseerSession, StudyService
from sandwich.store import migrations
from sandwich.views import JudgmentIn


def judge(session: OverseerSession, jid: str, choice: str = "A", conf: int = 75):
    view = session.next_item()
    assert view is not None
    return view, session.submit(
        JudgmentIn(
            judgment_id=jid, assignment_id=view.assignment_id, choice=choice, confidence=conf, time_on_item_s=3.5
        )
    )


def test_next_item_shows_only_what_the_condition_allows(mc_study: Path) -> None:
    with StudyService(mc_study) as svc:
        ana = svc.for_overseer("ana")
        view = ana.next_item()
        assert view.position == 0 and view.total == 12 and view.first_in_block
        assert view.item.question and len(view.item.choices) == 4
        assert view.judgment.choices == ["A", "B", "C", "D"]
        assert view.judgment.confidence == [50, 75, 100]
        kinds = {"unassisted": [], "consult": ["consultancy"], "debate": ["debate"]}[view.condition]
        assert view.assistance_kinds == kinds
        assert [a.kind for a in ana.assistance(view.assignment_id)] == kinds


def test_submit_is_durable_idempotent_and_advances(mc_study: Path) -> None:
    with StudyService(mc_study) as svc:
        ana = svc.for_overseer("ana")
        first, receipt = judge(ana, "judgment-0001")
        assert not receipt.duplicate
        again = ana.submit(
            JudgmentIn(judgment_id="judgment-0001", assignment_id=first.assignment_id, choice="A", confidence=75)
        )
        assert again.duplicate
        assert ana.next_item().position == 1
        with pytest.raises(AlreadyJudged):
            ana.submit(
                JudgmentIn(judgment_id="judgment-0002", assignment_id=first.assignment_id, choice="B", confidence=50)
            )
        assert ana.progress().done == 1
    # a fresh process sees the committed judgment
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sandwich.store import open_store; "
            f"print(open_store({str(mc_study)!r}, read_only=True).count_judgments())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "1"


def test_judgment_survives_kill_9(mc_study: Path) -> None:
    code = f"""
import os, signal
from sandwich.service import StudyService
from sandwich.views import JudgmentIn
svc = StudyService({str(mc_study)!r})
s = svc.for_overseer('ben')
v = s.next_item()
s.submit(JudgmentIn(judgment_id='killed-0001', assignment_id=v.assignment_id, choice='B', confidence=50))
print('acked', flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "acked" in proc.stdout and proc.returncode == -9
    with StudyService(mc_study, read_only=True) as svc:
        rows = sql(svc, "SELECT overseer, choice FROM judgments WHERE judgment_id = 'killed-0001'")
    assert rows == [{"overseer": "ben", "choice": "B"}]


def test_invalid_judgments_are_refused(mc_study: Path) -> None:
    with StudyService(mc_study) as svc:
        ana = svc.for_overseer("ana")
        view = ana.next_item()
        with pytest.raises(SandwichError, match="not allowed"):
            ana.submit(
                JudgmentIn(judgment_id="bad-choice-1", assignment_id=view.assignment_id, choice="Z", confidence=50)
            )
        with pytest.raises(SandwichError, match="scale"):
            ana.submit(
                JudgmentIn(judgment_id="bad-conf-01", assignment_id=view.assignment_id, choice="A", confidence=66)
            )
        ben_item = svc.for_overseer("ben").next_item()
        with pytest.raises(NotFound):
            ana.submit(
                JudgmentIn(judgment_id="not-mine-01", assignment_id=ben_item.assignment_id, choice="A", confidence=50)
            )
        with pytest.raises(NotFound):
            svc.for_overseer("zed")


def test_blinding_no_overseer_method_returns_gold(mc_study: Path) -> None:
    """Walk every public method an overseer can call and check gold never comes back."""
    with StudyService(mc_study) as svc:
        gold = svc.gold()
        gold_details = {json.dumps(r["detail"]) for r in sql(svc, "SELECT detail FROM gold")}
        session = svc.for_overseer("ana")
        seen: list[str] = []
        methods = {n for n, _ in inspect.getmembers(OverseerSession, inspect.isfunction) if not n.startswith("_")}
        assert methods >= {
            "next_item",
            "item",
            "assistance",
            "briefing",
            "progress",
            "submit",
            "log",
            "start_session",
            "practice_items",
            "practice_feedback",
            "follow_up",
        }
        view = session.next_item()
        seen.append(view.model_dump_json())
        seen.append(session.item(view.assignment_id).model_dump_json())
        seen += [a.model_dump_json() for a in session.assistance(view.assignment_id)]
        seen.append(session.briefing(view.condition).model_dump_json())
        seen.append(session.progress().model_dump_json())
        seen.append(session.start_session("test").model_dump_json())
        seen += [p.model_dump_json() for p in session.practice_items(view.condition)]
        with pytest.raises(NotFound):  # study items are refused, so their gold cannot leak this way
            session.practice_feedback(view.item.item_id, "A")
        blob = "\n".join(seen)
        for field in ("label", "gold", "answer_text", "hidden"):
            assert f'"{field}"' not in blob
        # the answer text of this item is only present as one of several choices, never singled out
        assert "right_choice" not in blob and all(d not in blob for d in gold_details if d != "{}")
        assert gold[view.item.item_id] in "ABCD"


@pytest.mark.parametrize("store_kind", ["duckdb"])  # a DuckDB file has one writer; PostgreSQL has many
def test_lock_held_by_another_process_is_a_clear_error(mc_study: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(mc_study)!r}); print('locked', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StudyLocked) as e:
            StudyService(mc_study)
        assert "in use by another process" in e.value.message and "sandwich serve" in e.value.hint
    finally:
        holder.kill()
        holder.wait()


def test_newer_schema_is_refused_without_changes(mc_study: Path) -> None:
    sql(mc_study, "UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer sandwich"):
        StudyService(mc_study)
    assert sql(mc_study, "SELECT value FROM meta WHERE key='schema_version'") == [{"value": "999"}]


def test_garbage_file_and_missing_db(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        StudyService(junk)
    with pytest.raises(StoreError, match="sandwich create"):
        StudyService(tmp_path / "absent.duckdb")


def test_migrations_bring_an_old_file_up_to_date(tmp_path: Path) -> None:
    con = store.connect(tmp_path / "old.duckdb", create=True)
    assert store.schema_version(con) == store.SCHEMA_VERSION
    con.close()


def test_preregistration_frozen_at_first_judgment(mc_study: Path) -> None:
    with StudyService(mc_study) as svc:
        assert sql(svc, "SELECT * FROM preregistration") == []
        judge(svc.for_overseer("chi"), "prereg-0001")
        [row] = sql(svc, "SELECT hash, frozen_at FROM preregistration")
        assert len(row["hash"]) == 64 and row["frozen_at"] is not None


def test_resume_records_interruption(mc_study: Path) -> None:
    with StudyService(mc_study) as svc:
        s = svc.for_overseer("ana")
        start = s.start_session("test")
        assert not start.resumed and start.interrupted_assignment is None
        view = s.next_item()
        s.log("item_shown", view.assignment_id)
    with StudyService(mc_study) as svc:
        again = svc.for_overseer("ana").start_session("test")
        assert again.resumed and again.interrupted_assignment == view.assignment_id
        events = [r["event"] for r in sql(svc, "SELECT event FROM interactions WHERE overseer='ana' ORDER BY ts")]
        assert "interrupted" in events


def test_a_late_low_numbered_migration_is_still_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that had migrations 1..N but not one added later with a lower number gets it on open."""
    db = tmp_path / "s.duckdb"
    store.connect(db, create=True).close()
    con = duckdb.connect(str(db))
    done = sorted(v for v, _ in store.MIGRATIONS)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('migrations_applied', ?)", [json.dumps(done)])
    con.close()
    late = (min(done) + 0.5, "CREATE TABLE late_feature (x INTEGER)")
    monkeypatch.setattr(migrations, "MIGRATIONS", sorted([*store.MIGRATIONS, late]))
    con = store.connect(db)
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'late_feature'").fetchone()[0]
    assert json.loads(store.get_meta(con, "migrations_applied")) == sorted([*done, late[0]])
    con.close()


def test_required_rationale_is_waived_only_when_time_ran_out(tmp_path: Path) -> None:
    from study_files import write_mc_study

    from sandwich.create import create_study
    from sandwich.studyfile import load_study

    yaml_path = write_mc_study(tmp_path, judgment="{choices: item, confidence: [50, 100], rationale: required}")
    create_study(load_study(yaml_path), tmp_path / "r.duckdb")
    with StudyService(tmp_path / "r.duckdb") as svc:
        ana = svc.for_overseer("ana")
        view = ana.next_item()
        with pytest.raises(SandwichError, match="rationale"):
            ana.submit(
                JudgmentIn(judgment_id="no-reason-01", assignment_id=view.assignment_id, choice="A", confidence=50)
            )
        forced = ana.submit(
            JudgmentIn(
                judgment_id="timed-out-01", assignment_id=view.assignment_id, choice="A", confidence=50, timed_out=True
            )
        )
        assert not forced.duplicate
        assert sql(svc, "SELECT timed_out, rationale FROM judgments") == [{"timed_out": True, "rationale": None}]
