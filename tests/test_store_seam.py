"""The study store is the one door to persistence: no SQL (and no database driver) outside `sandwich/store/`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

PACKAGES = ["sandwich", "assistants", "tui"]
STORE = REPO / "sandwich" / "store"
# statements, not prose: a keyword followed by what only SQL puts after it
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bUPDATE\s+\w+\s+SET\b|\bCOPY\s*\(|\bATTACH\s+'|\bCHECKPOINT\b|"
    r"(?i:\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bDELETE\s+FROM\b|\bCREATE\s+(TABLE|INDEX|VIEW)\b|"
    r"\bALTER\s+TABLE\b|\bDROP\s+TABLE\b|\bBEGIN\s+TRANSACTION\b)"
)
DRIVERS = {"duckdb", "psycopg", "psycopg2", "sqlite3", "sqlalchemy", "asyncpg"}
SQL_CALLS = {"execute", "executemany", "sql", "fetchone", "fetchall", "fetchdf", "cursor"}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def sql_outside_store(roots: list[Path]) -> list[str]:
    """Every SQL-looking string, SQL call and database-driver import outside the store package, as file:line."""
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if STORE in path.parents:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docs = _docstrings(tree)
            where = path.relative_to(REPO)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                    if SQL.search(node.value):
                        found.append(f"{where}:{node.lineno}: SQL text {node.value[:60]!r}")
                elif (
                    isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS
                ):
                    found.append(f"{where}:{node.lineno}: .{node.func.attr}(…) call")
                elif isinstance(node, ast.Import):
                    found += [
                        f"{where}:{node.lineno}: imports {a.name}"
                        for a in node.names
                        if a.name.split(".")[0] in DRIVERS
                    ]
                elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in DRIVERS:
                    found.append(f"{where}:{node.lineno}: imports from {node.module}")
    return found


def test_no_sql_outside_the_store_package() -> None:
    found = sql_outside_store([REPO / p for p in PACKAGES])
    assert found == [], "SQL belongs in sandwich/store/:\n" + "\n".join(found)


def test_the_scan_finds_sql_where_there_is_some(tmp_path: Path, monkeypatch) -> None:
    """The scan itself works: planted SQL of each kind is reported, prose and docstrings are not."""
    pkg = REPO / "sandwich" / "store"
    found = sql_outside_store([pkg])
    assert found == []  # the store is exempt
    planted = tmp_path / "planted.py"
    planted.write_text(
        '"""SELECT x FROM y in a docstring is prose."""\nimport duckdb\n'
        'q = "SELECT hash FROM preregistration"\nw = f"UPDATE meta SET value = {1}"\n'
        'con.execute(q)\nmsg = "select an answer from the list"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr("test_store_seam.REPO", tmp_path)
    hits = sql_outside_store([tmp_path])
    kinds = sorted(h.split(": ", 1)[1].split(" ")[0] for h in hits)
    assert len(hits) == 4 and kinds == [".execute(…)", "SQL", "SQL", "imports"], hits


def test_each_store_keeps_the_contract(mc_study: Path) -> None:
    """What the service and server rely on, checked on the store itself (runs for every store kind)."""
    from dataclasses import replace

    import pytest

    from sandwich.rules import utc_now
    from sandwich.store import (
        AssistanceRecord,
        DuplicateKey,
        InteractionRecord,
        JudgmentRecord,
        LookRecord,
        StudyStore,
        open_store,
    )

    st = open_store(mc_study)
    try:
        assert isinstance(st, StudyStore)
        a = st.assignments("ana")[0]
        rec = JudgmentRecord(
            judgment_id="contract-01",
            assignment_id=a.assignment_id,
            overseer="ana",
            item_id=a.item_id,
            condition=a.condition,
            choice="B",
            confidence=75,
            rationale=None,
            time_on_item_s=2.5,
            time_to_first_assist_s=None,
            assistance_failed=False,
            timed_out=False,
            skipped=False,
            source="human",
            simulated=False,
            client_meta={"client": "test"},
            created_at=utc_now(),
        )
        st.add_judgments([rec])
        assert st.judged("ana") == {a.assignment_id} and st.judgment("contract-01") == rec
        with pytest.raises(DuplicateKey):
            st.add_judgments([rec])  # the same id again
        with pytest.raises(DuplicateKey):
            st.add_judgments([replace(rec, judgment_id="contract-02")])  # a second judgment of one assignment
        assert st.count_judgments() == 1
        event = InteractionRecord("i-1", "ana", a.assignment_id, "panel_opened", {"kind": "debate"}, utc_now())
        st.add_interaction(event)
        st.add_interaction(event)
        assert [e.payload for e in st.interactions(overseer="ana")] == [{"kind": "debate"}]
        first = AssistanceRecord("x-1", a.item_id, "debate", "debate", "failed")
        st.put_assistance([first])
        st.put_assistance([replace(first, assistance_id="x-2", status="ok", content={"rounds": []})])
        [row] = st.assistance(item_id=a.item_id, condition="debate")
        assert (row.assistance_id, row.status, row.content) == ("x-2", "ok", {"rounds": []})
        look = LookRecord(utc_now(), "analyze", "tester", 1, 36, None)
        with pytest.raises(RuntimeError), st.transaction():
            st.add_look(look)
            raise RuntimeError("rolled back")
        assert st.looks() == []
        st.add_look(look)
        assert st.looks() == [look]
    finally:
        st.close()
