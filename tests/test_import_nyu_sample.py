"""`sandwich import nyu-debate` + `sandwich analyze` on the shared 80-session sample.

The sample lives beside the repository: ``<repo>/../shared/data/nyu-debate`` (CI clones the repo
next to ``shared/``). Set ``SANDWICH_NYU_SAMPLE=/path/to/nyu-debate`` to point elsewhere. Locally a
missing sample skips these tests; under CI (``CI=true``) it fails them.

Expected values are computed here, by plain Python over the raw JSON, independently of the importer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from sandwich.analysis import analyze_study
from sandwich.importers.nyu import load_nyu_debate
from sandwich.store.imported import write_imported_study

REPO = Path(__file__).resolve().parent.parent
SAMPLE = Path(os.environ.get("SANDWICH_NYU_SAMPLE") or REPO.parent / "shared" / "data" / "nyu-debate")


@pytest.fixture(scope="module")
def sample() -> Path:
    if not (SAMPLE / "debates-metadata.jsonl").exists():
        if os.environ.get("CI"):
            pytest.fail(f"the shared NYU sample is missing at {SAMPLE} (CI must have it)")
        pytest.skip(f"shared NYU sample not found at {SAMPLE} (set SANDWICH_NYU_SAMPLE)")
    return SAMPLE


@pytest.fixture(scope="module")
def imported(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("nyu-sample")
    db = out / "nyu.duckdb"
    write_imported_study(db, load_nyu_debate(sample))
    res = analyze_study(db, out_dir=out / "report", replicates=200)
    assert res.html is not None and res.html.exists()
    return db, json.loads((out / "report" / "results.json").read_text())


def _metadata(sample: Path) -> list[dict]:
    return [json.loads(line) for line in (sample / "debates-metadata.jsonl").read_text().splitlines() if line.strip()]


def _expected_accuracy(sample: Path) -> dict[str, tuple[int, int]]:
    """(correct, judged) per condition: P(correct answer) > 0.5 at the final judgement, paper sessions only."""
    out: dict[str, list[int]] = {}
    for m in _metadata(sample):
        result = m.get("status", {}).get("Complete", {}).get("result") or {}
        info = result.get("judgingInfo")
        if not m["includedInPaper"] or not info:
            continue
        cond = (
            ("human" if m["setting"]["isHuman"] else "ai")
            + "-"
            + ("debate" if m["setting"]["isDebate"] else "consultancy")
        )
        right = info["finalJudgement"][info["correctAnswerIndex"]] > 0.5
        c = out.setdefault(cond, [0, 0])
        c[0] += right
        c[1] += 1
        for off in (m["status"]["Complete"].get("offlineJudgingResults") or {}).values():
            steps = off["judgments"]
            if steps and steps[-1]["endDebate"]:
                c = out.setdefault("offline-" + cond, [0, 0])
                c[0] += steps[-1]["distribution"][info["correctAnswerIndex"]] > 0.5
                c[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def test_every_conditions_accuracy_matches_plain_python(sample: Path, imported: tuple[Path, dict]) -> None:
    _, results = imported
    expected = _expected_accuracy(sample)
    got = {c["group"]: (c["judgments"], c["accuracy"]["est"]) for c in results["conditions"]}
    assert set(got) == set(expected)
    for cond, (right, n) in expected.items():
        assert got[cond][0] == n, cond
        assert got[cond][1] == pytest.approx(right / n, abs=1e-12), cond
    assert not results["synthetic"]


def test_included_and_skipped_session_counts(sample: Path, imported: tuple[Path, dict]) -> None:
    db, _ = imported
    rows = _metadata(sample)
    judged = [m for m in rows if (m.get("status", {}).get("Complete", {}).get("result") or {}).get("judgingInfo")]
    in_paper = [m for m in rows if m["includedInPaper"]]
    con = duckdb.connect(str(db), read_only=True)
    try:
        summary = json.loads(con.execute("SELECT value FROM meta WHERE key = 'import_summary'").fetchone()[0])
        live = con.execute("SELECT count(*) FROM judgments WHERE condition NOT LIKE 'offline-%'").fetchone()[0]
    finally:
        con.close()
    assert summary["sessions"] == len(rows) == 80
    assert summary["included"] == live == len([m for m in in_paper if m in judged])
    assert summary["skipped"].get("not in the paper (includedInPaper false)", 0) == len(rows) - len(in_paper)
    assert summary["skipped"].get("never judged to the end", 0) == len([m for m in in_paper if m not in judged])
    assert summary["included"] + sum(summary["skipped"].values()) == len(rows)


def test_one_belief_trajectory_end_to_end(sample: Path, imported: tuple[Path, dict]) -> None:
    """ambition-8: the judge's probability on the right answer after every round, as stored and as analysed."""
    db, _ = imported
    raw = json.loads((sample / "debates" / "official" / "ambition-8.json").read_text())
    right = raw["setup"]["correctAnswerIndex"]
    expected = [r["JudgeFeedback"]["distribution"][right] for r in raw["rounds"] if "JudgeFeedback" in r]
    from sandwich.analysis.trajectories import trajectories

    traj = trajectories(db).filter(judgment_id="nyu:ambition-8:judge").sort("step")
    assert traj["p_correct"].to_list() == pytest.approx(expected)
    assert traj["final"].to_list() == [False] * (len(expected) - 1) + [True]
    assert traj["overseer"].unique().to_list() == [raw["setup"]["roles"]["Judge"]]
    con = duckdb.connect(str(db), read_only=True)
    try:
        n = con.execute("""SELECT count(*) FROM interactions i JOIN judgments j USING (assignment_id)
                           WHERE j.judgment_id = 'nyu:ambition-8:judge' AND event = 'belief'""").fetchone()[0]
    finally:
        con.close()
    assert n == len(expected) - 1


REPLAY = """study: nyu-replay
question: Does an LLM judge read real NYU debates as well as the people who judged them?
task: {kind: multiple-choice, source: "import:nyu-debate"}
gold: {kind: dataset-label}
assistant: {backend: scripted, model: scripted-judge}
conditions:
  - {name: debate, assistance: [debate], live_followups: false}
overseers: {design: within-subjects, non_experts: [llm-judge], items_per_overseer: 20}
judgment: {choices: item, confidence: [50, 60, 70, 80, 90, 100]}
simulation: {non_expert: {kind: llm, backend: scripted}}
"""


def test_llm_judge_replays_20_transcripts_beside_the_human_judges(
    sample: Path, imported: tuple[Path, dict], tmp_path: Path
) -> None:
    from sandwich.importers.replay import build_replay
    from sandwich.sim.runner import simulate_study
    from sandwich.store.imported import write_replay_study
    from sandwich.studyfile import load_study

    source, _ = imported
    (tmp_path / "replay.yaml").write_text(REPLAY)
    plan = build_replay(source, load_study(tmp_path / "replay.yaml"), items=20)
    # the sample's stored order puts the right answer at B for 42 of 60 items: replay balances it
    assert sorted(g.label for g in plan.gold) == ["A"] * 10 + ["B"] * 10
    db = write_replay_study(tmp_path / "replay.duckdb", plan)
    summary = simulate_study(db, with_model_alone=False)
    assert summary.judged == {"llm-judge": 20}
    res = analyze_study(db, out_dir=tmp_path / "rep", replicates=100)
    out = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert out["synthetic"] and [c["judgments"] for c in out["conditions"]] == [20]
    (row,) = out["trajectories"]["replay"]
    # the people who judged those 20 transcripts live, recomputed from the raw session files
    sessions = [a["model"].split(":", 1)[1] for a in plan.assistance]
    assert len(set(sessions)) == 20
    right = total = 0
    for name in sessions:
        meta = next(m for m in _metadata(sample) if m["name"] == name)
        info = meta["status"]["Complete"]["result"]["judgingInfo"]
        right += info["finalJudgement"][info["correctAnswerIndex"]] > 0.5
        total += 1
    assert (row["original_judgments"], row["original_accuracy"]) == (total, pytest.approx(right / total))
    assert row["judges"] == "simulated" and row["judgments"] == 20
    assert row["accuracy"] == pytest.approx(res.groups[0].accuracy.est)


FULL = os.environ.get("SANDWICH_NYU_FULL")  # the `pub/` folder of julianmichael/debate, branch 2023-nyu-experiments


@pytest.mark.skipif(not FULL, reason="set SANDWICH_NYU_FULL to the full 631-session data set to check the paper")
def test_full_data_set_gives_the_papers_figures(tmp_path: Path) -> None:
    assert FULL is not None
    db = write_imported_study(tmp_path / "nyu.duckdb", load_nyu_debate(FULL))
    res = analyze_study(db, replicates=100)
    got = {g.group: (round(g.accuracy.est * g.judgments), g.judgments) for g in res.groups}
    assert {k: got[k] for k in ("human-debate", "human-consultancy", "ai-debate", "ai-consultancy")} == {
        "human-debate": (130, 154),
        "human-consultancy": (71, 96),
        "ai-debate": (68, 87),
        "ai-consultancy": (61, 76),
    }
