"""The PostgreSQL study store: copies that round-trip exactly, the same analysis as DuckDB, retries under
concurrency, atomic create, and the CLI taking a `postgresql://` URL wherever it takes `--db PATH`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from db_sql import sql
from study_files import write_mc_study

from sandwich.analysis import analyze_study
from sandwich.create import create_study
from sandwich.errors import StoreError
from sandwich.service import StudyService
from sandwich.sim.runner import simulate_study
from sandwich.store import InteractionRecord, open_store
from sandwich.studyfile import load_study
from sandwich.views import JudgmentIn

DATA = Path(__file__).parent / "data"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandwich", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )


def all_rows(location: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, as the store reads them (JSON as stored text)."""
    st = open_store(location, read_only=True)
    try:
        return {t: sorted(rows, key=repr) for t, (_, rows) in st.dump_tables().items()}
    finally:
        st.close()


def busy_study(tmp_path: Path) -> Path:
    """A DuckDB study with judgments (odd text included), interactions, looks and a frozen plan."""
    db = tmp_path / "busy.duckdb"
    create_study(load_study(write_mc_study(tmp_path)), db)
    with StudyService(db) as svc:
        ana = svc.for_overseer("ana")
        for n, (choice, rationale) in enumerate(
            [("A", "naïve — 'quoted', \"double\", comma, \\ back"), ("B", ""), ("C", None)]
        ):
            view = ana.next_item()
            ana.submit(
                JudgmentIn(
                    judgment_id=f"judgment-{n:04d}",
                    assignment_id=view.assignment_id,
                    choice=choice,
                    confidence=75,
                    rationale=rationale,
                    time_on_item_s=1.0 / 3,
                    client_meta={"ua": "tést", "n": n},
                )
            )
        svc.store.add_interaction(
            InteractionRecord("i-1", "ana", None, "note", {"text": "a\nb\tc"}, datetime(2026, 1, 2, 3, 4, 5, 123456))
        )
        svc.record_look("analyze", "lead")
    return db


def test_copy_round_trip_is_exact_and_both_directions_work(tmp_path: Path, pg_url: str) -> None:
    db = busy_study(tmp_path)
    out = cli("store", "copy", str(db), pg_url)
    assert out.returncode == 0, out.stderr
    assert "judgments 3" in out.stdout
    back = tmp_path / "back.duckdb"
    out = cli("store", "copy", pg_url, str(back))
    assert out.returncode == 0, out.stderr
    original, on_pg, returned = all_rows(db), all_rows(pg_url), all_rows(back)
    assert set(original) >= {"judgments", "preregistration", "looks", "interactions", "meta", "items", "gold"}
    assert returned == original  # every table, every row, every value
    assert on_pg == original
    # the raw DuckDB files agree too (JSON text byte for byte, arrays, microseconds)
    for table in original:
        a = duckdb.connect(str(db), read_only=True).execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()
        b = duckdb.connect(str(back), read_only=True).execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()
        assert a == b, table


def test_copy_refuses_to_overwrite_and_unknown_tables_leave_nothing(tmp_path: Path, pg_url: str) -> None:
    db = busy_study(tmp_path)
    assert cli("store", "copy", str(db), pg_url).returncode == 0
    again = cli("store", "copy", str(db), pg_url)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    duckdb.connect(str(db)).execute("CREATE TABLE mystery (x INTEGER)").close()
    other = pg_url.replace("schema=", "schema=other_")
    out = cli("store", "copy", str(db), other)
    assert out.returncode == 2 and "mystery" in out.stderr
    with pytest.raises(StoreError, match="no study in schema"):
        open_store(other, read_only=True)


def test_analysis_frames_and_analyze_are_identical_on_postgres_and_duckdb(tmp_path: Path, pg_url: str) -> None:
    folder = tmp_path / "c10"
    shutil.copytree(DATA / "c10-prereg-tamper", folder)
    create_study(load_study(folder / "study.yaml"), pg_url)
    simulate_study(pg_url, with_model_alone=True)
    copy = tmp_path / "copy.duckdb"
    assert cli("store", "copy", pg_url, str(copy)).returncode == 0
    pg, dk = open_store(pg_url, read_only=True), open_store(copy, read_only=True)
    try:
        fp, fd = pg.analysis_frames(), dk.analysis_frames()
    finally:
        pg.close()
        dk.close()
    for name in fd:
        assert fp[name].schema == fd[name].schema, name
        assert fp[name].equals(fd[name]), name
    assert fp["judgments"].height == 36 and fp["judgments"]["gold"].null_count() == 0

    a = analyze_study(pg_url, out_dir=tmp_path / "pg", replicates=200, permutations=200)
    b = analyze_study(copy, out_dir=tmp_path / "dk", replicates=200, permutations=200)
    assert not a.tampered and not b.tampered
    ra = json.loads((tmp_path / "pg" / "results.json").read_text())
    rb = json.loads((tmp_path / "dk" / "results.json").read_text())
    for r in (ra, rb):  # where it was read from, and when: not results
        for key in ("db", "db_path", "generated_at", "looks"):
            r.pop(key, None)
    assert ra == rb


def test_a_retried_submit_racing_on_two_connections_is_stored_once(pg_url: str, tmp_path: Path) -> None:
    create_study(load_study(write_mc_study(tmp_path)), pg_url)
    services = [StudyService(pg_url) for _ in range(2)]  # two pools: as two replicas would be
    try:
        view = services[0].for_overseer("ben").next_item()
        start = threading.Barrier(2)
        receipts: list[Any] = []

        def submit(svc: StudyService) -> None:
            start.wait()
            receipts.append(
                svc.for_overseer("ben").submit(
                    JudgmentIn(judgment_id="retry-0001", assignment_id=view.assignment_id, choice="B", confidence=50)
                )
            )

        threads = [threading.Thread(target=submit, args=(s,)) for s in services]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(receipts) == 2 and sorted(r.duplicate for r in receipts) == [False, True]
    finally:
        for s in services:
            s.close()
    assert sql(pg_url, "SELECT judgment_id, choice FROM judgments") == [{"judgment_id": "retry-0001", "choice": "B"}]


def test_create_on_postgres_is_atomic_and_refuses_to_overwrite_judgments(tmp_path: Path, pg_url: str) -> None:
    yaml_path = write_mc_study(tmp_path)
    out = cli("create", str(yaml_path), "--db", pg_url)
    assert out.returncode == 0, out.stderr
    status = cli("status", str(yaml_path), "--db", pg_url)
    assert status.returncode == 0 and "ana" in status.stdout
    with StudyService(pg_url) as svc:
        s = svc.for_overseer("ana")
        view = s.next_item()
        s.submit(JudgmentIn(judgment_id="keep-0001", assignment_id=view.assignment_id, choice="A", confidence=50))
    again = cli("create", str(yaml_path), "--db", pg_url)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert sql(pg_url, "SELECT count(*) AS n FROM judgments") == [{"n": 1}]
    # no staging schema is left behind by either run
    left = sql(pg_url, "SELECT schema_name FROM information_schema.schemata WHERE left(schema_name, 4) = 'new_'")
    assert left == []


def test_bad_urls_are_clear_errors(tmp_path: Path, pg_url: str) -> None:
    yaml_path = write_mc_study(tmp_path)
    bad = cli("status", str(yaml_path), "--db", pg_url.split("?")[0] + "?schema=Bad-Name")
    assert bad.returncode == 2 and "not a plain lower-case SQL name" in bad.stderr
    missing = cli("status", str(yaml_path), "--db", pg_url)
    assert missing.returncode == 2 and "no study in schema" in missing.stderr and "sandwich create" in missing.stderr
    down = cli("status", str(yaml_path), "--db", "postgresql://sandwich:secret@127.0.0.1:1/postgres?schema=x")
    assert down.returncode == 2 and "cannot connect to PostgreSQL" in down.stderr
    assert "secret" not in down.stderr  # a password never reaches a message


def test_every_command_takes_a_postgres_url(tmp_path: Path, pg_url: str) -> None:
    """create, status, simulate, export, analyze, label, assist precompute and serve on one PostgreSQL study."""
    import httpx

    from sandwich.client import LeadClient, OverseerClient
    from sandwich.server.harness import ServerProcess, create_with_tokens

    yaml_path = write_mc_study(tmp_path)
    tokens, lead = create_with_tokens(yaml_path, pg_url, ["ana", "ben"])  # type: ignore[arg-type]
    sim = cli("simulate", str(yaml_path), "--db", pg_url, "--overseers", "chi", "--no-model-alone")
    assert sim.returncode == 0, sim.stderr
    assert sql(pg_url, "SELECT count(*) AS n FROM judgments WHERE overseer = 'chi'") == [{"n": 12}]
    out = cli("export", str(yaml_path), "--db", pg_url, "--to", str(tmp_path / "export"))
    assert out.returncode == 0, out.stderr
    import polars as pl

    assert pl.read_parquet(tmp_path / "export" / "judgments.parquet").height == 12
    assert (tmp_path / "export" / "gold" / "gold.parquet").exists()
    report = cli("analyze", pg_url, "--replicates", "100")
    assert report.returncode == 0, report.stderr
    for command in (
        ["label", str(yaml_path), "--overseer", "zed"],
        ["assist", "precompute", str(yaml_path), "--overseer", "zed"],
    ):
        res = cli(*command, "--db", pg_url)  # reaches the study: the overseer is what is wrong
        assert res.returncode == 2 and "zed" in res.stderr and "not a study" not in res.stderr, res.stderr
    with ServerProcess(pg_url, log=tmp_path / "serve.log") as server:  # type: ignore[arg-type]
        ana = OverseerClient(server.url, tokens["ana"])
        view = ana.next_item()
        j = JudgmentIn(judgment_id="served-00001", assignment_id=view.assignment_id, choice="B", confidence=75)
        assert not ana.submit(j).duplicate and ana.submit(j).duplicate
        assert httpx.get(server.url + "/v1/health", timeout=5).status_code == 200
        snap = LeadClient(server.url, lead).snapshot(tmp_path / "snap.duckdb")
    rows = (
        duckdb.connect(str(snap), read_only=True)
        .execute("SELECT choice FROM judgments WHERE judgment_id = 'served-00001'")
        .fetchall()
    )
    assert rows == [("B",)]


def test_a_failed_create_leaves_the_old_study_and_no_staging_schema(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandwich.store.postgres_store import PostgresStore

    yaml_path = write_mc_study(tmp_path)
    create_study(load_study(yaml_path), pg_url)
    before = all_rows(pg_url)

    def broken(self: PostgresStore, content: Any) -> None:
        self.set_meta("study", "half-written")
        raise RuntimeError("disk full")

    monkeypatch.setattr(PostgresStore, "write_study", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        create_study(load_study(yaml_path), pg_url, force=True)
    assert all_rows(pg_url) == before
    assert sql(pg_url, "SELECT schema_name FROM information_schema.schemata WHERE left(schema_name, 4) = 'new_'") == []


def test_writes_fail_while_postgres_is_down_and_resume_after(tmp_path: Path, pg_url: str, pg_cluster: Any) -> None:
    """A database restart: the pool replaces its dead connections; a write while down raises a driver error
    (the server answers 503 for those), never a silent success."""
    from sandwich.store import DB_ERRORS

    create_study(load_study(write_mc_study(tmp_path)), pg_url)
    with StudyService(pg_url) as svc:
        ana = svc.for_overseer("ana")
        first = ana.next_item()
        pg_cluster.pg_ctl("-m", "fast", "stop")
        try:
            with pytest.raises(DB_ERRORS):
                ana.submit(
                    JudgmentIn(judgment_id="while-down-1", assignment_id=first.assignment_id, choice="A", confidence=50)
                )
        finally:
            pg_cluster.start()
        receipt = ana.submit(
            JudgmentIn(judgment_id="after-up-01", assignment_id=first.assignment_id, choice="A", confidence=50)
        )
        assert not receipt.duplicate
    assert sql(pg_url, "SELECT judgment_id FROM judgments") == [{"judgment_id": "after-up-01"}]


def test_frames_of_a_study_without_judgments_have_duckdbs_types(tmp_path: Path, pg_url: str) -> None:
    sf = load_study(write_mc_study(tmp_path))
    create_study(sf, pg_url)
    create_study(sf, tmp_path / "empty.duckdb")
    pg, dk = open_store(pg_url, read_only=True), open_store(tmp_path / "empty.duckdb", read_only=True)
    try:
        fp, fd = pg.analysis_frames(), dk.analysis_frames()
    finally:
        pg.close()
        dk.close()
    assert fp["judgments"].height == 0 and fp["overseers"].height == 3
    for name in fd:
        assert fp[name].schema == fd[name].schema and fp[name].equals(fd[name]), name
