"""check-design: no strategy that needs no skill beats chance on the shipped studies, and real leaks are caught."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandwich.assignment import deal_study
from sandwich.config import Study
from sandwich.create import build_task, create_study
from sandwich.design_check import DesignReport, check_design, check_sessions
from sandwich.errors import StudyFileError
from sandwich.no_skill import SessionItem
from sandwich.studyfile import load_study, validate_text
from sandwich.tasks.base import TaskData

REPO = Path(__file__).resolve().parents[1]
CASE = Path(__file__).parent / "data" / "c08-session-leaks-answers"
# a replay study's items come from an imported study (`sandwich import replay`): its plan is checked on that database
SHIPPED = sorted(p for p in (REPO / "studies").glob("*.yaml") if 'source: "import:' not in p.read_text())
SEEDS = 20


def _reseeded(study: Study, k: int) -> Study:
    return study.model_copy(
        update={
            "seed": study.seed + k,
            "overseers": study.overseers.model_copy(update={"seed": study.overseers.seed + k}),
        }
    )


@pytest.fixture(scope="module", params=[p.name for p in SHIPPED])
def shipped(request: pytest.FixtureRequest) -> tuple[Study, TaskData]:
    sf = load_study(REPO / "studies" / request.param)
    if sf.study.gold.kind == "execution" and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (make system-deps)")
    return sf.study, build_task(sf)


def test_shipped_studies_leak_nothing_over_20_seeds(shipped: tuple[Study, TaskData]) -> None:
    study, data = shipped
    reports: list[DesignReport] = []
    for k in range(SEEDS):
        s = _reseeded(study, k)
        report = check_design(s, data.items, data.gold, deal_study(s, data).assignments)
        assert report.warnings == [], (k, report.warnings)
        for row in report.overseers:
            assert row.problems == row.items, "an overseer meets a problem twice"
            assert row.parts_with_siblings == 0
            # gold as even as the part allows: 2 of 4 correct; with four letters, one of each
            assert all(max(c.values()) == min(c.values()) for c in row.gold_per_part)
        reports.append(report)
    # pooled over the seeds (thousands of judgments; one standard error is about 1%), every variant
    # stays within noise of chance; the leaks this guards against scored 67-75% on 50% chance
    chance = reports[0].chance
    for variant in {(s.family, s.variant) for s in reports[0].variants}:
        hits = sum(s.hits for r in reports for s in r.variants if (s.family, s.variant) == variant)
        n = sum(s.n for r in reports for s in r.variants if (s.family, s.variant) == variant)
        assert hits / n <= chance + 0.04, (variant, hits / n)


def test_the_case_no_skill_strategies_score_chance_on_the_shipped_study(tmp_path: Path) -> None:
    # the case's own measure, run on a study created by today's code (c08-session-leaks-answers)
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (make system-deps)")
    db = tmp_path / "he.duckdb"
    create_study(load_study(REPO / "studies" / "humaneval-review.yaml"), db)
    out = subprocess.run(
        [sys.executable, str(CASE / "no_skill.py"), str(db)], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    rows = [line.split() for line in out.splitlines() if re.match(r"^(ana|ben|chi|dev|eli|fay) ", line)]
    assert len(rows) == 6
    for r in rows:
        assert r[1] == "24", "each overseer meets 24 different problems"
        assert r[2:5] == ["0", "of", "6"], "no part holds two versions of one problem"
        assert r[6] == "2/4–2/4", "gold 2 of 4 in every part"
    mean = next(line for line in out.splitlines() if line.startswith("mean")).split()
    always, siblings, position = (float(x.rstrip("%")) for x in mean[1:4])
    assert always <= 55.0 and siblings <= 55.0 and position <= 55.0, mean
    assert "parts that hold the same items for every overseer: 0 of 6" in out
    titles = out.split("sees for one problem:")[1]
    assert "HumanEval" not in titles and not re.search(r"he\d{3}-[a-k]", titles)


def _sessions(
    golds: dict[str, list[str]],
    per: int,
    problems: dict[str, list[str]] | None = None,
    items: dict[str, list[str]] | None = None,
) -> dict[str, list[SessionItem]]:
    out = {}
    for o, gs in golds.items():
        ids = (items or {}).get(o) or [f"{o}-{k}" for k in range(len(gs))]
        probs = (problems or {}).get(o) or ids
        out[o] = [
            SessionItem(
                o,
                k,
                k // per,
                f"c{k // per}",
                ids[k],
                probs[k],
                f"Review {ids[k]}",
                "x" * (10 + k),
                g,
                ("correct", "buggy"),
            )
            for k, g in enumerate(gs)
        ]
    return out


def test_the_old_leaks_are_flagged() -> None:
    # every overseer: the same 24 items in the same parts, first part all correct (as before the fix)
    gold = (["correct"] * 4 + ["buggy"] * 4 + ["correct", "buggy"] * 2) * 2
    shared = [f"i{k}" for k in range(24)]
    report = check_sessions(_sessions({o: gold for o in "abcdef"}, 4, items={o: shared for o in "abcdef"}))
    text = "\n".join(report.warnings)
    assert "part 1 holds the same items for every overseer" in text
    assert "a: part 1 is all gold-correct" in text
    assert "'key/part'" in text and "'halves'" not in text
    assert report.ceiling >= 0.8


def test_siblings_in_one_part_and_unbalanced_gold_are_flagged() -> None:
    gold = ["correct", "buggy", "correct", "correct"] * 6
    problems = [f"p{k // 2}" for k in range(24)]  # two versions of each problem, side by side
    report = check_sessions(_sessions({o: gold for o in "abcdef"}, 4, problems={o: problems for o in "abcdef"}))
    text = "\n".join(report.warnings)
    assert "a: 6 part(s) hold two versions of one problem" in text
    assert "a: meets 12 problem(s) more than 1 time(s)" in text
    assert "'one answer' (always correct) scores 75.0%" in text
    # the sibling-comparing strategy reads the longer version as buggy: 1 of 2 pairs right here
    assert {s.family for s in report.strategies} >= {"one answer", "versions", "key/part"}


def test_a_random_order_with_balanced_parts_is_not_flagged() -> None:
    rng = random.Random(3)
    golds = {}
    for o in "abcdef":
        gs: list[str] = []
        for _ in range(6):
            part = ["correct", "correct", "buggy", "buggy"]
            rng.shuffle(part)
            gs += part
        golds[o] = gs
    report = check_sessions(_sessions(golds, 4))
    assert report.warnings == []
    assert abs(next(s for s in report.strategies if s.family == "one answer").accuracy - 0.5) < 1e-9


STUDY = """study: few
question: q?
task:
  kind: code-review
  problems: 20
gold: {kind: execution}
conditions: [{name: unassisted}, {name: explain, assistance: [explanation]}]
overseers:
  non_experts: [ana, ben]
  items_per_overseer: 24
"""


def test_validate_says_when_there_are_fewer_problems_than_items(tmp_path: Path) -> None:
    with pytest.raises(StudyFileError) as e:
        validate_text(STUDY, "few.yaml")
    [msg] = e.value.problems
    assert msg.startswith(
        "few.yaml:10:23: overseers.items_per_overseer: each overseer judges 24 items, but only 20 problems"
    )
    assert "task.problems to at least 24" in msg and "items_per_overseer to at most 20" in msg
    assert "versions_per_problem: 2" in msg
    validate_text(STUDY.replace("problems: 20", "problems: 24"), "few.yaml")
    validate_text(STUDY.replace("items_per_overseer: 24", "items_per_overseer: 24\n  versions_per_problem: 2"))
    (tmp_path / "few.yaml").write_text(STUDY)
    run = subprocess.run(
        [sys.executable, "-m", "sandwich", "validate", str(tmp_path / "few.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and "few.yaml:10:23" in run.stderr


MC = """study: mc
question: q?
task: {kind: multiple-choice, source: data.jsonl, answer_format: letter,
       columns: {id: id, question: question, choices: choices, answer: answer, passage: passage}}
gold: {kind: dataset-label}
conditions: [{name: unassisted}, {name: helped, assistance: [explanation]}]
overseers: {non_experts: [ana, ben], items_per_overseer: 12}
"""


def test_check_design_command_and_create_report_a_one_sided_answer_key(tmp_path: Path) -> None:
    rows = (REPO / "studies" / "data" / "reading-mc.jsonl").read_text().splitlines()
    skewed = []
    for line in rows:  # move every right answer to B: "always B" then needs no skill
        r = json.loads(line)
        ch, a = r["choices"], "ABCD".index(r["answer"])
        ch[a], ch[1] = ch[1], ch[a]
        skewed.append(json.dumps({**r, "choices": ch, "answer": "B"}))
    (tmp_path / "data.jsonl").write_text("\n".join(skewed) + "\n")
    (tmp_path / "mc.yaml").write_text(MC)
    run = subprocess.run(
        [sys.executable, "-m", "sandwich", "check-design", str(tmp_path / "mc.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "'one answer' (always B) scores 100.0% over 24 judgments against 25.0% chance" in " ".join(
        run.stdout.split()
    )
    seen: list[DesignReport] = []
    create_study(load_study(tmp_path / "mc.yaml"), tmp_path / "mc.duckdb", on_design=seen.append)
    assert len(seen) == 1 and seen[0].ceiling == 1.0 and seen[0].warnings
    ok = subprocess.run(
        [sys.executable, "-m", "sandwich", "check-design", str(REPO / "studies" / "reading-mc.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and "no no-skill strategy beats chance" in " ".join(ok.stdout.split())
