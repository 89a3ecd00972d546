"""Pairwise preferences: pair building with sandboxed gold, file pairs and their errors, ties, and the order each
overseer is shown a pair in — drawn, recorded and undone — with position bias caught by check-design."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from pair_support import pair_rows, write_pair_study

from sandwich.analysis import analyze_study
from sandwich.create import build_task, create_study
from sandwich.errors import DataError, SandwichError
from sandwich.service import StudyService
from sandwich.sim.runner import simulate_study
from sandwich.studyfile import load_study
from sandwich.tasks.pair_sources import count_passed, split_tests
from sandwich.tasks.pairwise import PairContent, position_bias
from sandwich.views import JudgmentIn

REPO = Path(__file__).resolve().parents[1]
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

SUITE = """
METADATA = {}


def check(candidate):
    assert candidate(1) == 2
    assert candidate(2) == 4
    x = 3
    for k in range(x):
        assert candidate(k) == 2 * k
    assert candidate(-5) == -10
"""


def _create(tmp_path: Path, **kw: object) -> Path:
    sf = load_study(write_pair_study(tmp_path, **kw))  # type: ignore[arg-type]
    db = tmp_path / "pairs.duckdb"
    create_study(sf, db)
    return db


# ------------------------------------------------------------------ pairs from HumanEval, gold by execution
def test_a_test_suite_splits_into_one_suite_per_asserting_statement() -> None:
    parts = split_tests(SUITE)
    assert len(parts) == 4
    for part in parts:
        check = next(n for n in ast.parse(part).body if isinstance(n, ast.FunctionDef))
        asserting = [s for s in check.body if any(isinstance(n, ast.Assert) for n in ast.walk(s))]
        assert len(asserting) == 1 and "x = 3" in part  # the other statements stay in every part


@needs_bwrap
def test_tests_passed_counts_each_hidden_test_in_the_sandbox() -> None:
    from sandwich.sandbox import SandboxLimits

    right = "def double(n):\n    return 2 * n\n"
    small_only = "def double(n):\n    return 2 * n if n < 2 else 0\n"  # wrong from n = 2 on
    hostile = "import os\ndef double(n):\n    os._exit(0)\n"  # exiting with status 0 passes nothing
    got = count_passed([(c, SUITE, "double") for c in (right, small_only, hostile)], SandboxLimits(timeout_s=5))
    # small_only: candidate(1) == 2 holds; candidate(2) == 4 fails; the loop fails at k = 2; -5 -> -10 holds
    assert got == [(4, 4), (2, 4), (0, 4)]


@needs_bwrap
def test_humaneval_pairs_gold_is_the_candidate_passing_more_hidden_tests(tmp_path: Path) -> None:
    text = (
        (REPO / "studies" / "humaneval-pairs.yaml")
        .read_text()
        .replace("problems: 80 ", "problems: 6 ")
        .replace("items_per_overseer: 12", "items_per_overseer: 3")
        .replace("judged_items: 12", "judged_items: 3")
    )
    path = tmp_path / "hp.yaml"
    path.write_text(text)
    sf = load_study(path)
    data = build_task(sf)
    assert data.items and len(data.gold) == len(data.items)
    assert "left out" in data.notes[0]
    from sandwich.sandbox import SandboxLimits

    hidden = data.hidden_tests
    for item, gold in zip(data.items, data.gold, strict=True):
        pair = PairContent.of(item.prompt, item.body)
        assert item.task_kind == "pairwise" and item.choices == ["A", "B"] and item.problem_id in hidden
        d = gold.detail
        assert d["passed_a"] != d["passed_b"]  # ties are left out
        assert gold.label == ("A" if d["passed_a"] > d["passed_b"] else "B")
        assert len(pair.response_a) == len(pair.response_b)  # match_length
        assert "HumanEval" not in item.item_id + item.title  # opaque ids
    # re-run one pair's programs in the sandbox: the stored counts are what the hidden tests say
    item, gold = data.items[0], data.gold[0]
    pair = PairContent.of(item.prompt, item.body)
    test, entry = hidden[item.problem_id]
    again = count_passed([(pair.response_a, test, entry), (pair.response_b, test, entry)], SandboxLimits(timeout_s=5))
    assert [again[0][0], again[1][0]] == [gold.detail["passed_a"], gold.detail["passed_b"]]
    assert {g.label for g in data.gold} == {"A", "B"}


# ------------------------------------------------------------------ a pair file
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_pair_file_is_read_with_mapped_columns(tmp_path: Path, fmt: str) -> None:
    rows = [
        {"q": r["prompt"], "first": r["response_a"], "second": r["response_b"], "better": r["gold"].lower()}
        for r in pair_rows(24)
    ]
    path = write_pair_study(
        tmp_path, task_extra="  columns: {prompt: q, response_a: first, response_b: second, gold: better}\n"
    )
    frame = pl.DataFrame(rows)
    data = tmp_path / f"pairs.{fmt}"
    if fmt == "jsonl":
        frame.write_ndjson(data)
    elif fmt == "csv":
        frame.write_csv(data)
    else:
        frame.write_parquet(data)
    path.write_text(path.read_text().replace("source: pairs.jsonl", f"source: pairs.{fmt}"))
    built = build_task(load_study(path))
    assert [g.label for g in built.gold] == [r["gold"] for r in pair_rows(24)]
    first = PairContent.of(built.items[0].prompt, built.items[0].body)
    assert first == PairContent(prompt="What is 0 + 0?", response_a="0 + 0 = 000", response_b="0 + 0 = 001")
    # one prompt, one problem: a split never separates pairs of the same prompt
    assert built.items[0].problem_id.startswith("p-")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r[3].pop("response_b"), r"row 4, column 'response_b': the text is missing"),
        (lambda r: r[5].update(gold="C"), r"row 6, column 'gold': gold 'C' is not A or B"),
        (
            lambda r: r[1].update(response_b=r[1]["response_a"]),
            r"row 2, columns 'response_a' and 'response_b': the two",
        ),
        (lambda r: r[0].update(gold=""), r"row 1, column 'gold': the gold is missing"),
    ],
)
def test_a_bad_pair_file_is_refused_at_its_row_and_column(tmp_path: Path, edit: object, message: str) -> None:
    rows = pair_rows(24)
    edit(rows)  # type: ignore[operator]
    with pytest.raises(DataError, match=message) as e:
        build_task(load_study(write_pair_study(tmp_path, rows)))
    assert str(tmp_path / "pairs.jsonl") in str(e.value)


def test_a_bad_pair_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    rows = pair_rows(24)
    rows[2]["gold"] = "maybe"
    path = write_pair_study(tmp_path, rows)
    r = subprocess.run(
        [sys.executable, "-m", "sandwich", "create", str(path)], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert r.returncode == 2, r.stderr
    assert "row 3, column 'gold'" in r.stdout + r.stderr
    assert not (tmp_path / "pairs.duckdb").exists()


def test_validate_reads_the_pair_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    """`validate` checks a study file and its data: a bad pair file is exit 2 there too, not "ok"."""
    rows = pair_rows(24)
    rows[4]["prompt"] = " "
    path = write_pair_study(tmp_path, rows)
    cmd = [sys.executable, "-m", "sandwich", "validate", str(path)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "row 5, column 'prompt'" in r.stdout + r.stderr
    write_pair_study(tmp_path, pair_rows(24))
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok data" in r.stdout and "ok design" in r.stdout
    assert not list(tmp_path.glob("*.duckdb"))  # the dry run writes nothing beside the study


def test_tie_rows_of_a_pair_file_are_left_out_and_counted(tmp_path: Path) -> None:
    rows = pair_rows(26)
    rows[24]["gold"] = rows[25]["gold"] = "tie"
    built = build_task(load_study(write_pair_study(tmp_path, rows)))
    assert len(built.items) == 24 and "2 row(s) with gold 'tie' left out" in built.notes[0]


# ------------------------------------------------------------------ ties
def test_ties_are_refused_unless_the_study_file_allows_them(tmp_path: Path) -> None:
    with pytest.raises(SandwichError, match="does not allow ties; set task.allow_ties: true"):
        load_study(write_pair_study(tmp_path, judgment="  choices: [A, B, tie]\n"))
    db = _create(tmp_path)
    with StudyService(db) as svc:
        session = svc.for_overseer("ana")
        view = session.next_item()
        assert view is not None and view.judgment.choices == ["A", "B"]
        with pytest.raises(SandwichError, match="Choice 'tie' is not allowed"):
            session.submit(
                JudgmentIn(judgment_id="tie-refused", assignment_id=view.assignment_id, choice="tie", confidence=50)
            )
        assert svc.store.judgments() == []


def test_ties_are_stored_as_tie_when_allowed(tmp_path: Path) -> None:
    db = _create(tmp_path, task_extra="  allow_ties: true\n")
    with StudyService(db) as svc:
        session = svc.for_overseer("ana")
        view = session.next_item()
        assert view is not None and view.judgment.choices == ["A", "B", "tie"]
        session.submit(
            JudgmentIn(judgment_id="tie-ok-1", assignment_id=view.assignment_id, choice="tie", confidence=50)
        )
        [j] = svc.store.judgments()
    assert j.choice == "tie" and j.client_meta and j.client_meta["shown_choice"] == "tie"


def test_a_strength_below_50_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SandwichError, match="probability that the chosen response is the better one, 50–100"):
        load_study(write_pair_study(tmp_path, judgment="  confidence: [0, 50, 100]\n"))


# ------------------------------------------------------------------ the order shown: drawn, recorded, undone
def test_the_order_shown_is_per_overseer_recorded_and_undone(tmp_path: Path) -> None:
    db = _create(tmp_path)
    with StudyService(db) as svc:
        items = {i.item_id: i for i in svc.store.items()}
        orders: dict[str, set[str]] = {}
        for name in ("ana", "ben", "chi"):
            session = svc.for_overseer(name)
            while (view := session.next_item()) is not None:
                stored = PairContent.of(items[view.item.item_id].prompt or "", items[view.item.item_id].body or "")
                shown = PairContent.of(view.item.prompt, view.item.body)
                order = "AB" if shown == stored else "BA"
                if order == "BA":
                    assert (shown.response_a, shown.response_b) == (stored.response_b, stored.response_a)
                orders.setdefault(view.item.item_id, set()).add(order)
                session.submit(
                    JudgmentIn(
                        judgment_id=f"j-{name}-{view.assignment_id}"[:100],
                        assignment_id=view.assignment_id,
                        choice="A",
                        confidence=70,
                    )
                )
        judgments = svc.store.judgments()
    assert any(len(o) == 2 for o in orders.values())  # the same pair is shown both ways to different overseers
    for j in judgments:
        assert j.client_meta is not None and j.client_meta["shown_choice"] == "A"
        # pressing A (the left response) stores the canonical response that was on the left
        assert j.choice == j.client_meta["shown_order"][0]
    assert {j.client_meta["shown_order"] for j in judgments if j.client_meta} == {"AB", "BA"}


def test_the_order_is_fixed_by_the_study_seed(tmp_path: Path) -> None:
    def orders(folder: Path, seed: int) -> dict[str, str]:
        folder.mkdir()
        sf = load_study(write_pair_study(folder, seed=seed))
        create_study(sf, folder / "pairs.duckdb")
        with StudyService(folder / "pairs.duckdb", read_only=True) as svc:
            return {
                f"{o}:{i.item_id}": s for i in svc.store.items() for o, s in (i.meta or {}).get("shown", {}).items()
            }

    first, again, other = orders(tmp_path / "a", 1), orders(tmp_path / "b", 1), orders(tmp_path / "c", 2)
    assert first == again and first != other


def test_a_left_pressing_overseer_scores_chance_and_check_design_reports_the_bias(tmp_path: Path) -> None:
    db = _create(tmp_path, non_expert="{kind: parametric, skill: {default: 0.98}, noise: 0, bias: 1.0}")
    simulate_study(db, with_model_alone=False)
    with StudyService(db, read_only=True) as svc:
        gold = svc.gold()
        judged = [j for j in svc.store.judgments() if j.overseer != "grace"]
        bias = {b.overseer: b for b in position_bias(svc.store)}
    assert all(j.client_meta and j.choice == j.client_meta["shown_order"][0] for j in judged)  # always the left
    accuracy = sum(j.choice == gold[j.item_id] for j in judged) / len(judged)
    assert accuracy == 0.5  # the left response is the better one in exactly half of each part
    assert bias["ana"].share == 1.0 and bias["ana"].p < 0.001
    assert 0.2 < bias["grace"].share < 0.8  # the skilled expert is not biased
    res = analyze_study(db, replicates=50)
    [group] = [g for g in res.groups if g.group == "unassisted"]
    assert group.accuracy.est == pytest.approx(0.5, abs=0.2)
    bias_warnings = [w for w in res.warnings if w.startswith("Position bias")]
    assert [w.split(" chose")[0] for w in bias_warnings] == [
        "Position bias: ana",
        "Position bias: ben",
        "Position bias: chi",
    ]
    r = subprocess.run(
        [sys.executable, "-m", "sandwich", "check-design", str(db)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "position bias" in out and "ana: 12/12 = 100.0%" in out


def test_a_skilled_overseer_keeps_its_accuracy_whatever_the_order(tmp_path: Path) -> None:
    db = _create(tmp_path, non_expert="{kind: parametric, skill: {default: 0.98}, noise: 0}")
    simulate_study(db, with_model_alone=False)
    with StudyService(db, read_only=True) as svc:
        gold = svc.gold()
        judged = svc.store.judgments()
    swapped = [j for j in judged if j.client_meta and j.client_meta["shown_order"] == "BA"]
    assert len(swapped) >= 10
    assert sum(j.choice == gold[j.item_id] for j in swapped) / len(swapped) >= 0.8  # undone: not ~50%
    assert not [w for w in analyze_study(db, replicates=50).warnings if w.startswith("Position bias")]


def test_check_design_reports_the_longer_response_tell(tmp_path: Path) -> None:
    from sandwich.assignment import deal_study
    from sandwich.design_check import check_design

    rows = pair_rows(24)
    for r in rows:  # the better response is always the one with an added explanation
        better = "response_a" if r["gold"] == "A" else "response_b"
        r[better] += " because doubling adds the number to itself"
    sf = load_study(write_pair_study(tmp_path, rows))
    data = build_task(sf)
    report = check_design(sf.study, data.items, data.gold, deal_study(sf.study, data).assignments)
    assert any("'pair surface' (the longer response is better)" in w for w in report.warnings)
    assert not any("left response" in w for w in report.warnings)  # position is balanced by the plan


def test_help_written_for_the_stored_order_reads_in_the_shown_order(tmp_path: Path) -> None:
    from sandwich.store import AssistanceRecord

    db = _create(tmp_path)
    with StudyService(db) as svc:
        items = {i.item_id: i for i in svc.store.items()}
        for name in ("ana", "ben", "chi"):
            session = svc.for_overseer(name)
            for a in svc.session_assignments(name):
                if a.condition != "debate":
                    continue
                order = (items[a.item_id].meta or {})["shown"][name]
                content = {
                    "answers": {"Debater 1": "Response A", "Debater 2": "Response B"},
                    "turns": [{"speaker": "Debater 1", "text": "Response A handles zero; response B does not."}],
                }
                svc.store.put_assistance(
                    [
                        AssistanceRecord(
                            assistance_id=f"{a.item_id}-debate",
                            item_id=a.item_id,
                            condition="debate",
                            kind="debate",
                            status="ok",
                            content=content,
                            raw=json.dumps(content),
                        )
                    ]
                ) if not svc.store.assistance(item_id=a.item_id, condition="debate") else None
                [view] = session.assistance(a.assignment_id)
                assert view.content is not None
                if order == "AB":
                    assert view.content["answers"] == {"Debater 1": "Response A", "Debater 2": "Response B"}
                else:
                    assert view.content["answers"] == {"Debater 1": "Response B", "Debater 2": "Response A"}
                    assert view.content["turns"][0]["text"] == "Response B handles zero; response A does not."
                    assert "Response B handles zero" in (view.raw or "")


@pytest.mark.slow
@needs_bwrap
def test_the_shipped_pairwise_study_runs_as_written(tmp_path: Path) -> None:
    db = tmp_path / "hp.duckdb"

    def sandwich(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sandwich", *args], capture_output=True, text=True, cwd=REPO, timeout=300
        )

    for args in (
        ("validate", "studies/humaneval-pairs.yaml"),
        ("create", "studies/humaneval-pairs.yaml", "--db", str(db)),
        ("assist", "precompute", "studies/humaneval-pairs.yaml", "--db", str(db)),
        ("simulate", "studies/humaneval-pairs.yaml", "--db", str(db)),
        ("analyze", "studies/humaneval-pairs.yaml", "--db", str(db), "--replicates", "200"),
    ):
        r = sandwich(*args)
        assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-2000:])
        if args[0] == "create":  # the pairs left out for tying on the hidden tests are counted and said
            assert "85 pairs from 80 problems" in r.stdout and "left out" in r.stdout
    with StudyService(db, read_only=True) as svc:
        judgments = svc.store.judgments()
        assert len(judgments) == 7 * 12 and all(
            j.client_meta and j.client_meta["shown_order"] in ("AB", "BA") for j in judgments
        )
        assert {r.status for r in svc.store.assistance()} == {"ok"}


def test_check_design_scores_what_the_overseer_sees_not_the_files_labels(tmp_path: Path) -> None:
    """Gold is 'A' in every row of the file and both responses have one length: no overseer can use either,
    because the app shows each pair in a drawn order. Before, 'always A' and both length strategies (a length
    tie fell to the file's A) scored 100% and check-design warned."""
    from sandwich.assignment import deal_study
    from sandwich.design_check import check_design

    rows = pair_rows(24)
    for r in rows:
        if r["gold"] == "B":
            r["response_a"], r["response_b"], r["gold"] = r["response_b"], r["response_a"], "A"
    sf = load_study(write_pair_study(tmp_path, rows))
    data = build_task(sf)
    report = check_design(sf.study, data.items, data.gold, deal_study(sf.study, data).assignments)
    assert report.warnings == []
    surface = {s.variant: s for s in report.variants if s.family == "pair surface"}
    for name in ("the longer response is better", "the shorter response is better", "always the left response"):
        assert surface[name].hits * 2 == surface[name].n  # the plan puts the better response on the left for half
    one = {s.variant: s for s in report.variants if s.family == "one answer"}
    assert all(s.hits * 2 == s.n for s in one.values())  # "always A" is "always the left response"
