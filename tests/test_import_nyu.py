"""`sandwich import nyu-debate` on a hand-written fixture (tests/data/nyu-mini, see its README).

Needs no shared data: every expected value below is worked out from the fixture by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from db_sql import sql

from sandwich.analysis import analyze_study
from sandwich.importers.nyu import load_nyu_debate
from sandwich.service import StudyService
from sandwich.store.imported import write_imported_study

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "data" / "nyu-mini"
PASSAGE = (
    'THE LAST LAMP\n\n"Keep it lit," said Mara. She didn\'t trust the [old] generator; it had failed twice.'
    "\n\nTom's brother fixed it at dawn."
)


@pytest.fixture(scope="module")
def mini_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("nyu") / "mini.duckdb"
    write_imported_study(db, load_nyu_debate(MINI))
    return db


def _rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_item_is_article_plus_question_with_readable_passage_and_gold(mini_db: Path) -> None:
    items = _rows(mini_db, "SELECT item_id, title, body, question, choices FROM items")
    assert len(items) == 1  # two sessions ask the same question with the answers in different orders
    _, title, body, question, choices = items[0]
    assert (title, question) == ("The Last Lamp", "Who fixed the generator?")
    assert body == PASSAGE
    assert choices == ["Mara", "Tom's brother"]
    assert _rows(mini_db, "SELECT label FROM gold") == [("B",)]


def test_summary_counts_left_out_sessions(mini_db: Path) -> None:
    meta = json.loads(_rows(mini_db, "SELECT value FROM meta WHERE key = 'import_summary'")[0][0])
    assert meta["sessions"] == 4 and meta["included"] == 2 and meta["offline_included"] == 1
    assert meta["skipped"] == {"not in the paper (includedInPaper false)": 1, "never judged to the end": 1}
    with_all = load_nyu_debate(MINI, include_all=True)
    assert with_all.summary.included == 3 and dict(with_all.summary.skipped) == {"never judged to the end": 1}


def test_judgments_keep_choice_order_probability_time_and_rationale(mini_db: Path) -> None:
    rows = {
        r[0]: r[1:]
        for r in _rows(
            mini_db,
            """
        SELECT overseer, condition, choice, confidence, rationale, time_on_item_s, CAST(client_meta AS VARCHAR)
        FROM judgments""",
        )
    }
    assert set(rows) == {"Cy Cherry", "Di Date", "Ed Elder"}
    cond, choice, conf, why, secs, meta = rows["Cy Cherry"]
    # shown [Mara, Tom's brother] = stored order: 0.9 on the second answer -> B
    assert (cond, choice, conf, why) == ("human-debate", "B", 90, "B: the brother fixed it.")
    assert secs == pytest.approx(360.0)  # first event at +60 s, final feedback at +420 s
    assert json.loads(meta)["shown_order"] == [0, 1]
    cond, choice, conf, why, secs, meta = rows["Di Date"]
    # shown [Tom's brother, Mara]: 0.8 on the shown second answer = stored A (Mara), the wrong one
    assert (cond, choice, conf) == ("human-consultancy", "A", 80)
    assert json.loads(meta)["shown_order"] == [1, 0]
    assert json.loads(meta)["shown_choices"] == ["Tom's brother", "Mara"]
    assert json.loads(meta)["probabilities"] == pytest.approx([0.8, 0.2])
    cond, choice, conf, why, secs, _ = rows["Ed Elder"]
    assert (cond, choice, conf, why) == ("offline-human-consultancy", "B", 70, "The quote never says she fixed it.")
    assert secs == pytest.approx(60.0)


def test_belief_trajectory_is_every_earlier_round_in_stored_order(mini_db: Path) -> None:
    rows = _rows(
        mini_db,
        """SELECT CAST(payload AS VARCHAR), ts
                             FROM interactions i JOIN judgments j USING (assignment_id)
                             WHERE j.overseer = 'Cy Cherry' AND event = 'belief' ORDER BY ts""",
    )
    points = [json.loads(p) for p, _ in rows]
    assert [(p["round"], p["probabilities"]) for p in points] == [(0, [0.5, 0.5]), (1, [0.3, 0.7])]
    assert points[1]["message"] == "B quotes the ending."
    offline = _rows(
        mini_db,
        """SELECT CAST(payload AS VARCHAR)
                                FROM interactions i JOIN judgments j USING (assignment_id)
                                WHERE j.overseer = 'Ed Elder'""",
    )
    assert [json.loads(p)["probabilities"] for (p,) in offline] == [[0.5, 0.5]]


def test_transcripts_resolve_quotes_to_the_passage(mini_db: Path) -> None:
    rows = {
        r[0]: (r[1], json.loads(r[2]))
        for r in _rows(mini_db, "SELECT transcript_id, kind, CAST(content AS VARCHAR) FROM imported_transcripts")
    }
    assert set(rows) == {"lamp-0", "lamp-1"}
    kind, debate = rows["lamp-0"]
    assert kind == "debate" and debate["answers"] == {"A": "A. Mara", "B": "B. Tom's brother"}
    first = next(t for t in debate["turns"] if t["speaker"] == "B")
    q = first["quotes"][0]
    assert q["text"] == "Tom's brother fixed it at dawn." and q["verified"] is True
    assert PASSAGE[q["start"] : q["end"]] == q["text"]
    assert first["text"] == "No, <quote>Tom's brother fixed it at dawn.</quote>"
    kind, consult = rows["lamp-1"]
    # the consultant was Debater B, defending the shown second answer (Mara), stored A
    assert kind == "consultancy" and consult["side"] == "A" and consult["assigned_answer"] == "A. Mara"
    assert [t["quotes"][0]["text"] for t in consult["turns"] if t["speaker"] == "consultant"] == ['"Keep it lit,"']


def test_analyze_gives_each_conditions_accuracy(mini_db: Path, tmp_path: Path) -> None:
    res = analyze_study(mini_db, out_dir=tmp_path / "rep", replicates=100)
    acc = {g.group: (g.judgments, g.accuracy.est) for g in res.groups}
    assert acc == {"human-debate": (1, 1.0), "human-consultancy": (1, 0.0), "offline-human-consultancy": (1, 1.0)}
    assert not res.synthetic
    out = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert {c["group"]: c["accuracy"]["est"] for c in out["conditions"]} == {k: v for k, (_, v) in acc.items()}


def test_the_service_opens_an_observed_study(mini_db: Path) -> None:
    with StudyService(mini_db, read_only=True) as svc:
        assert svc.study.overseers.design == "observed"
        session = svc.for_overseer("Cy Cherry")  # names as written, spaces and capitals kept
        assert session.next_item() is None  # the imported judgment answers its observed assignment
        assert session.progress().done == 1


def test_a_tie_is_never_correct(tmp_path: Path) -> None:
    folder = tmp_path / "tie"
    shutil.copytree(MINI, folder)
    f = folder / "debates" / "official" / "lamp-0.json"
    s = json.loads(f.read_text())
    s["rounds"][-1]["JudgeFeedback"]["distribution"] = [0.5, 0.5]
    f.write_text(json.dumps(s))
    lines = (folder / "debates-metadata.jsonl").read_text().splitlines()
    m = json.loads(lines[0])
    m["status"]["Complete"]["result"]["judgingInfo"]["finalJudgement"] = [0.5, 0.5]
    (folder / "debates-metadata.jsonl").write_text("\n".join([json.dumps(m), *lines[1:]]) + "\n")
    study = load_nyu_debate(folder)
    tie = next(j for j in study.judgments if j.overseer == "Cy Cherry")
    assert (tie.choice, tie.confidence) == ("tie", 50)
    db = tmp_path / "tie.duckdb"
    write_imported_study(db, study)
    acc = {g.group: g.accuracy.est for g in analyze_study(db, replicates=50).groups}
    assert acc["human-debate"] == 0.0


def test_contradicting_gold_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(MINI, folder)
    f = folder / "debates" / "official" / "lamp-1.json"
    s = json.loads(f.read_text())
    s["setup"]["correctAnswerIndex"] = 1
    f.write_text(json.dumps(s))
    from sandwich.errors import DataError

    with pytest.raises(DataError, match="correct answer"):
        load_nyu_debate(folder)


def test_bad_json_line_exits_2_with_place_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(MINI, folder)
    meta = folder / "debates-metadata.jsonl"
    lines = meta.read_text().splitlines()
    lines[1] = lines[1][:40]
    meta.write_text("\n".join(lines) + "\n")
    db = tmp_path / "out.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-m", "sandwich", "import", "nyu-debate", str(folder), "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert r.returncode == 2
    assert f"{meta}:2:" in r.stderr.replace("\n", "") and "not valid JSON" in r.stderr
    assert not db.exists() and not list(tmp_path.glob(".out.duckdb*"))


def test_trajectory_measures_by_round_reward_and_offline(mini_db: Path) -> None:
    import math

    from sandwich.analysis.trajectories import (
        by_round,
        interactive_vs_offline,
        judge_rewards,
        trajectories,
    )

    traj = trajectories(mini_db)
    cy = traj.filter(overseer="Cy Cherry").sort("step")
    assert cy["p_correct"].to_list() == pytest.approx([0.5, 0.7, 0.9]) and cy["round"].to_list() == [0, 1, 2]
    rounds = {(r["condition"], r["round"]): r for r in by_round(traj).iter_rows(named=True)}
    hc0, hc1 = rounds[("human-consultancy", 0)], rounds[("human-consultancy", 1)]
    assert (hc0["accuracy"], hc0["brier"]) == (1.0, pytest.approx(0.16))  # 0.6 on the right answer first
    assert (hc1["accuracy"], hc1["brier"]) == (0.0, pytest.approx(0.64))  # talked out of it: 0.2
    assert rounds[("human-debate", 0)]["accuracy"] == 0.0  # 50/50 is not right
    rewards = {r["judgment_id"]: r for r in judge_rewards(mini_db).iter_rows(named=True)}
    assert set(rewards) == {"nyu:lamp-0:judge", "nyu:lamp-1:judge"}  # live judges only
    assert rewards["nyu:lamp-0:judge"]["reward"] == pytest.approx(math.log2(0.9) - 0.05 * 2)
    assert rewards["nyu:lamp-1:judge"]["reward"] == pytest.approx(math.log2(0.2) - 0.05 * 1)
    pairs = interactive_vs_offline(mini_db).to_dicts()
    assert pairs == [
        {"condition": "human-consultancy", "sessions": 1, "live_accuracy": 0.0, "offline_accuracy": 1.0, "agree": 0.0}
    ]


def test_report_shows_trajectory_sections(mini_db: Path, tmp_path: Path) -> None:
    res = analyze_study(mini_db, out_dir=tmp_path / "rep", replicates=50)
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "Accuracy and calibration by round" in page and "Judge reward" in page and "offline judges" in page
    assert "wall-clock span" in page  # the seconds per item of asynchronous sessions are not reading time
    data = json.loads((tmp_path / "rep" / "results.json").read_text())["trajectories"]
    assert {r["condition"] for r in data["interactive_vs_offline"]} == {"human-consultancy"}
    assert res.trajectory is not None and len(res.trajectory.tables) == 3


REPLAY = """study: lamp-replay
question: Do new judges read the NYU transcripts as well as the originals did?
task: {kind: multiple-choice, source: "import:nyu-debate"}
gold: {kind: dataset-label}
assistant: {backend: scripted, model: scripted-judge}
conditions:
  - {name: human-debate, assistance: [debate], live_followups: false}
  - {name: human-consultancy, assistance: [consultancy], live_followups: false}
overseers: {design: between-subjects, non_experts: [llm-a, llm-b], items_per_overseer: 1}
judgment: {choices: item, confidence: [50, 60, 70, 80, 90, 100]}
simulation: {non_expert: {kind: llm, backend: scripted}}
"""


def test_replay_serves_imported_transcripts_to_an_llm_judge(mini_db: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sandwich.cli import app
    from sandwich.sim.runner import simulate_study

    study = tmp_path / "replay.yaml"
    study.write_text(REPLAY)
    db = tmp_path / "replay.duckdb"
    r = CliRunner().invoke(app, ["import", "replay", str(mini_db), "--study", str(study), "--db", str(db)])
    assert r.exit_code == 0, r.output
    with StudyService(db) as svc:
        rows = sql(
            svc,
            "SELECT condition, backend, model, CAST(params AS VARCHAR) AS p, "
            "CAST(content AS VARCHAR) AS c FROM assistance ORDER BY condition",
        )
        assert [(x["condition"], x["backend"], x["model"]) for x in rows] == [
            ("human-consultancy", "imported", "nyu-debate:lamp-1"),
            ("human-debate", "imported", "nyu-debate:lamp-0"),
        ]
        assert json.loads(rows[0]["p"])["source"]["repository"] == "julianmichael/debate"
        assert all(t["speaker"] != "judge" for x in rows for t in json.loads(x["c"])["turns"])
        a = sql(svc, "SELECT assignment_id, overseer FROM assignments WHERE condition = 'human-debate'")[0]
        help_ = svc.for_overseer(a["overseer"]).assistance(a["assignment_id"])
        assert help_[0].status == "ok" and help_[0].backend == "imported" and help_[0].content["imported"] is True
    with StudyService(db, read_only=True) as svc:
        (item,) = sql(svc, "SELECT item_id, choices FROM items")
        flipped = svc.gold()[item["item_id"]] == "A"  # balancing may reverse the stored order
        debate = json.loads(rows[1]["c"])
        me = "A" if flipped else "B"
        assert debate["answers"][me] == f"{me}. Tom's brother"
        assert {t["speaker"] for t in debate["turns"]} == {"A", "B"}
        assert item["choices"][0 if flipped else 1] == "Tom's brother"
    summary = simulate_study(db, with_model_alone=False)
    assert sum(summary.judged.values()) == 2 and set(summary.kinds.values()) == {"llm"}
    res = analyze_study(db, out_dir=tmp_path / "rep", replicates=50)
    assert res.synthetic
    replay = {
        r["condition"]: r for r in json.loads((tmp_path / "rep" / "results.json").read_text())["trajectories"]["replay"]
    }
    # beside them, the original (live) judges of the same transcripts: Cy right, Di wrong
    assert (replay["human-debate"]["original_judgments"], replay["human-debate"]["original_accuracy"]) == (1, 1.0)
    assert (replay["human-consultancy"]["original_judgments"], replay["human-consultancy"]["original_accuracy"]) == (
        1,
        0.0,
    )
    assert replay["human-debate"]["judges"] == "simulated" and replay["human-debate"]["judgments"] == 1
    page = (tmp_path / "rep" / "index.html").read_text()
    assert (
        "Replayed transcripts" in page
        and "imported (backend &#x27;imported&#x27;): 2 transcripts from julianmichael/debate" in page
    )
    assert replay["human-debate"]["transcripts"] == ["lamp-0"]


def test_replay_of_another_task_kind_or_help_kind_is_refused_naming_what_was_imported(
    mini_db: Path, tmp_path: Path
) -> None:
    """The replayed items keep the kind they were imported as, and their help the kinds the sessions gave: a study
    asking for another task kind or another kind of help is refused, saying what was imported; nothing written."""
    study = tmp_path / "replay.yaml"
    study.write_text(
        REPLAY.replace(
            'task: {kind: multiple-choice, source: "import:nyu-debate"}', "task: {kind: code-review, problems: 2}"
        )
        .replace("gold: {kind: dataset-label}", "gold: {kind: execution}")
        .replace("judgment: {choices: item, ", "judgment: {")
    )
    db = tmp_path / "replay.duckdb"
    r = subprocess.run(
        [sys.executable, "-m", "sandwich", "import", "replay", str(mini_db), "--study", str(study), "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "the imported items are multiple-choice items, not code-review; set task.kind: multiple-choice" in " ".join(
        r.stderr.split()
    )
    assert not db.exists()

    study.write_text(REPLAY.replace("assistance: [consultancy]", "assistance: [explanation]"))
    r = subprocess.run(
        [sys.executable, "-m", "sandwich", "import", "replay", str(mini_db), "--study", str(study), "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "asks for 'explanation'; the imported transcripts are consultancy and debate only" in " ".join(
        r.stderr.split()
    )
    assert not db.exists()


def test_replay_balances_gold_position_and_relabels_transcripts() -> None:
    from sandwich.importers.replay import balance_gold, flip_content
    from sandwich.tasks.base import Gold, Item

    items = [Item(f"i{n}", "multiple-choice", "p", "t", choices=["x", "y"]) for n in range(10)]
    gold = [Gold(f"i{n}", "B", "dataset-label") for n in range(10)]  # every right answer at B
    flipped = balance_gold(items, gold, seed=3)
    assert len(flipped) == 5 and sorted(g.label for g in gold) == ["A"] * 5 + ["B"] * 5
    for it, g in zip(items, gold, strict=True):
        assert it.choices[ord(g.label) - 65] == "y"  # gold still names the same answer
    content = {
        "answers": {"A": "A. x", "B": "B. y"},
        "side": "A",
        "assigned_answer": "A. x",
        "turns": [{"speaker": "A", "text": "x"}, {"speaker": "judge", "text": "?"}],
    }
    out = flip_content(content)
    assert out["answers"] == {"B": "B. x", "A": "A. y"} and (out["side"], out["assigned_answer"]) == ("B", "B. x")
    assert [t["speaker"] for t in out["turns"]] == ["B", "judge"]


def test_trajectory_sections_survive_a_locked_database(mini_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "locked.duckdb"
    shutil.copy2(mini_db, db)
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        res = analyze_study(db, replicates=50)
        assert res.trajectory is not None and len(res.trajectory.tables) == 3
    finally:
        holder.kill()
        holder.wait()


def test_the_service_accepts_a_new_judgment_in_an_observed_study(mini_db: Path, tmp_path: Path) -> None:
    from sandwich.errors import AlreadyJudged
    from sandwich.views import JudgmentIn

    db = tmp_path / "grow.duckdb"
    shutil.copy2(mini_db, db)
    with StudyService(db) as svc:
        (item,) = [r["item_id"] for r in sql(svc, "SELECT item_id FROM items")]
        aid = svc.observe("New Judge", item, "human-debate")
        assert svc.observe("New Judge", item, "human-debate") == aid  # the same judgment, the same assignment
        receipt = svc.for_overseer("New Judge").submit(
            JudgmentIn(judgment_id="new-judge-0001", assignment_id=aid, choice="A", confidence=60)
        )
        assert not receipt.duplicate
        with pytest.raises(AlreadyJudged):
            svc.observe("New Judge", item, "human-consultancy")
    acc = {g.group: (g.judgments, g.accuracy.est) for g in analyze_study(db, replicates=50).groups}
    assert acc["human-debate"] == (2, 0.5)  # Cy right, the new judge (A = Mara) wrong


def test_observe_is_refused_for_a_dealt_design(mc_study: Path) -> None:
    from sandwich.errors import SandwichError

    with StudyService(mc_study) as svc, pytest.raises(SandwichError, match="deals its own assignments"):
        svc.observe("ana", "mc-q000", "unassisted")


def test_check_design_reads_an_observed_studys_own_sessions(mini_db: Path) -> None:
    """check-design on an imported study scores no-skill strategies on the sessions the data holds."""
    r = subprocess.run(
        [sys.executable, "-m", "sandwich", "check-design", str(mini_db)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert r.returncode == (1 if "warning:" in r.stdout else 0), r.stderr  # exit 1 exactly when it warns
    out = " ".join(r.stdout.split())
    assert "No-skill strategies per overseer" in out and "always" in out
    assert "observed design: sessions, order and parts are the data's own" in out
    n = _rows(
        mini_db, "SELECT count(*) FROM judgments j JOIN overseers o ON o.name = j.overseer WHERE o.role = 'non_expert'"
    )[0][0]
    assert f"(A = the first option shown) are the order each judge saw for {n} of {n} judgments" in out
    judges = {row[0] for row in _rows(mini_db, "SELECT DISTINCT overseer FROM judgments")}
    assert judges and all(j in r.stdout for j in judges)


def test_check_design_scores_answer_positions_in_the_order_each_judge_saw(mini_db: Path) -> None:
    """An imported item's answers are stored sorted ("Tom's brother" is B everywhere), but judges saw them in
    the session's own order. "Always the first option" must be scored in the order shown: its right value is
    the share of judged sessions whose setup.correctAnswerIndex (an index into the shown answers) is 0."""
    from sandwich.cli.design import stored_sessions
    from sandwich.design_check import check_sessions
    from sandwich.service import StudyService

    with StudyService(mini_db, read_only=True) as svc:
        sessions, shown = stored_sessions(svc)
        report = check_sessions(sessions)
    # independently: each scored judgment's own session file says where the right answer was shown
    judged = [(o, it.item_id) for o, s in sessions.items() for it in s]
    session_of = {
        (o, i): json.loads(meta)["session"]
        for o, i, meta in _rows(mini_db, "SELECT overseer, item_id, CAST(client_meta AS VARCHAR) FROM judgments")
    }
    right_at = [
        json.loads((MINI / "debates" / "official" / f"{session_of[k]}.json").read_text())["setup"]["correctAnswerIndex"]
        for k in judged
    ]
    assert len(judged) == 3 and set(shown) >= set(judged)
    assert 0 < right_at.count(0) < len(right_at)  # the fixture shows the right answer first in some sessions only
    score = {s.variant: s for s in report.variants}
    assert (score["always A"].hits, score["always A"].n) == (right_at.count(0), len(right_at))
    assert (score["always B"].hits, score["always B"].n) == (right_at.count(1), len(right_at))
    # in the stored (sorted) order the right answer is always B: scored that way, "always B" would look perfect
    stored = check_sessions(stored_sessions_without_order(svc_db=mini_db))
    assert {s.variant: s.accuracy for s in stored.variants}["always B"] == 1.0


def stored_sessions_without_order(svc_db: Path) -> dict[str, list[Any]]:
    from sandwich.design_check import sessions_from
    from sandwich.service import StudyService

    with StudyService(svc_db, read_only=True) as svc:
        st = svc.store
        return sessions_from(
            st.assignments(), st.items(), st.gold(), [o.name for o in st.overseers() if o.role == "non_expert"]
        )
