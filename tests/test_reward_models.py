"""Bradley–Terry reward models on HumanEval preference pairs: what they learn from gold and from overseers.

The pairs are built from a real code-review study (gold by sandboxed execution; created once per session):
every (correct, buggy) pair of candidates of one problem, chosen = the correct one, shown as A or B at random.
164 problems give 192 pairs, 141 train / 51 held out by problem.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pairwise_support import code_review_db, humaneval_pairs

from sandwich.classifiers import pipelines
from sandwich.classifiers.bt_reward import p_first, train_reward
from sandwich.classifiers.pair_eval import Candidate, best_of_n, pair_metrics, preference_accuracy
from sandwich.classifiers.pairwise_compare import compare_pairwise
from sandwich.classifiers.pairwise_train import PairwiseData, candidates_from_pairs, train_pairwise
from sandwich.classifiers.preferences import (
    GoldPair,
    PairJudgment,
    Preference,
    held_out_pairs,
    preference_set,
    training_pairs,
)
from sandwich.classifiers.settings import TrainSettings
from sandwich.classifiers.training import load_runs
from sandwich.classifiers.trl_export import COLUMNS, write_trl

REPO = Path(__file__).resolve().parents[1]
SKILL = {"unassisted": 0.60, "explain": 0.85}


@pytest.fixture(scope="session")
def he_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HumanEval code-review study (~20 s of sandboxed runs)."""
    return code_review_db(tmp_path_factory.mktemp("he-pairs"))


@pytest.fixture(scope="session")
def he(he_db: Path) -> tuple[list[GoldPair], list[Candidate]]:
    return humaneval_pairs(he_db)


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embed-cache")


def planted(pairs: list[GoldPair], skill: dict[str, float], seed: int = 0) -> list[PairJudgment]:
    """Three simulated overseers per condition judge every train pair, right with probability skill[condition]."""
    rng = random.Random(seed)
    out = []
    for p in pairs:
        for cond, s in skill.items():
            for o in ("ana", "ben", "chi"):
                right = rng.random() < s
                choice = p.gold if right else ("B" if p.gold == "A" else "A")
                out.append(
                    PairJudgment(o, p.pair_id, cond, choice, rng.choice([70, 80, 90]) if right else 60, kind="llm")
                )
    return out


def _accuracy(rows: list[Preference], test: list[GoldPair], cache: Path, seeds=(0, 1, 2)) -> list[float]:
    y = np.array([int(p.gold == "A") for p in test])
    out = []
    for seed in seeds:
        model, _ = train_reward(rows, TrainSettings(), seed, cache)
        p = p_first(model, [x.prompt for x in test], [x.response_a for x in test], [x.response_b for x in test])
        out.append(pair_metrics(y, p)["accuracy"])
    return out


def test_pairs_are_balanced_and_held_out_by_problem(he) -> None:
    pairs, _ = he
    test, train = held_out_pairs(pairs), training_pairs(pairs)
    assert (len(pairs), len(train), len(test)) == (192, 141, 51)
    assert not {p.problem_id for p in train} & {p.problem_id for p in test}
    assert 0.4 < np.mean([p.gold == "A" for p in pairs]) < 0.6  # A/B drawn at random: no position tell


def test_bradley_terry_on_gold_beats_chance_on_held_out_pairs(he, cache: Path) -> None:
    pairs, _ = he
    acc = _accuracy(preference_set(pairs, [], "expert").rows, held_out_pairs(pairs), cache)
    # measured: 0.745, 0.725, 0.725 (mean 0.732) on 51 held-out pairs; chance is 0.5 (gold A/B drawn at random)
    assert np.mean(acc) > 0.68 and min(acc) > 0.62, acc


def test_forty_percent_flipped_preferences_score_lower(he, cache: Path) -> None:
    pairs, _ = he
    gold = preference_set(pairs, [], "expert").rows
    rng = random.Random(1)
    flipped = [
        Preference(r.pair_id, r.problem_id, r.prompt, r.rejected, r.chosen, r.strength, "flip", r.split)
        if rng.random() < 0.4
        else r
        for r in gold
    ]
    clean, noisy = _accuracy(gold, held_out_pairs(pairs), cache), _accuracy(flipped, held_out_pairs(pairs), cache)
    # measured: 0.732 vs 0.562
    assert np.mean(clean) - np.mean(noisy) > 0.08, (clean, noisy)


def test_sources_keep_people_and_simulations_apart_and_drop_failed_help() -> None:
    pairs = [
        GoldPair("p1", "q1", "train", "Q", "a1", "b1", "A"),
        GoldPair("p2", "q2", "train", "Q", "a2", "b2", "B"),
        GoldPair("p3", "q3", "test", "Q", "a3", "b3", "A"),
    ]
    js = [
        PairJudgment("ana", "p1", "explain", "B", 80, kind="human"),
        PairJudgment("ben", "p1", "explain", "A", 100, kind="llm"),
        PairJudgment("ana", "p2", "explain", "B", 60, kind="human", assistance_failed=True),
        PairJudgment("ana", "p2", "explain", "tie", None, kind="human"),
        PairJudgment("ana", "p3", "explain", "A", 90, kind="human"),
    ]  # test split: never trained on
    people = preference_set(pairs, js, "explain@human")
    assert [(r.pair_id, r.chosen, r.rejected, r.strength) for r in people.rows] == [
        ("p1", "b1", "a1", 0.8),
        ("p2", "a2", "b2", 0.5),
    ]
    assert people.n_judgments == 2 and "1 judgment(s) whose assistance failed" in (people.notes or [""])[0]
    sims = preference_set(pairs, js, "explain@llm")
    assert [(r.pair_id, r.chosen, r.strength) for r in sims.rows] == [("p1", "a1", 1.0)]
    assert [r.pair_id for r in preference_set(pairs, js, "expert").rows] == ["p1", "p2"]


def test_an_unsuffixed_source_reads_the_kind_analyze_reports_and_kinds_are_never_pooled() -> None:
    pairs = [GoldPair("p1", "q1", "train", "Q", "a1", "b1", "A"), GoldPair("p2", "q2", "train", "Q", "a2", "b2", "B")]
    js = [
        PairJudgment("ana", "p1", "explain", "B", 80, kind="human"),
        PairJudgment("dev", "p1", "explain", "A", 90, kind="llm"),
        PairJudgment("dev", "p2", "explain", "B", 90, kind="llm"),
        PairJudgment("eve", "p2", "explain", "A", 70, kind="parametric"),
    ]

    def chosen(source: str, planned: list[str] | None = None) -> list[tuple[str, str]]:
        return [(r.pair_id, r.chosen) for r in preference_set(pairs, js, source, planned).rows]

    # people present: the unsuffixed name reads people only, as `analyze` and the pointwise labels do
    assert chosen("explain") == chosen("explain@human") == [("p1", "b1")]
    notes = preference_set(pairs, js, "explain").notes or []
    assert any("left out: 2 judgment(s)" in n and "'@llm'" in n for n in notes), notes
    # LLM and parametric simulations are two sources, not one "simulated" pool
    assert chosen("explain@llm") == [("p1", "a1"), ("p2", "b2")] and chosen("explain@parametric") == [("p2", "a2")]
    # the study's planned sources pick the default kind (select_sources), people present or not
    assert chosen("explain", ["llm"]) == chosen("explain@llm")
    no_people = [j for j in js if j.kind != "human"]
    assert [r.chosen for r in preference_set(pairs, no_people, "explain").rows] == ["a1", "b2"]  # first kind: llm
    # 'gold' is an alias of 'expert'; the set is named 'expert' either way
    assert preference_set(pairs, js, "gold").source == "expert" == preference_set(pairs, js, "expert").source


@pytest.mark.parametrize(
    "name",
    [
        "simulated:explain",
        "aggregate-explain",
        "majority:explain",
        "expert@human",
        "explain@robot",
        "bradley-terry:expert",
    ],
)
def test_a_source_name_outside_the_shared_vocabulary_is_a_clear_error(name: str) -> None:
    from sandwich.classifiers.preferences import check_source
    from sandwich.errors import SandwichError

    check_source("bradley-terry:explain@parametric", ["explain"])  # in the vocabulary: no error
    with pytest.raises(SandwichError, match="Unknown label source") as e:
        check_source(name, ["explain"])  # what `train --sources` and export check
    assert "bradley-terry:<condition>" in (e.value.hint or "")


def test_default_sources_name_the_default_kind_plainly_and_the_others_with_their_suffix() -> None:
    from sandwich.classifiers.preferences import default_sources

    js = [
        PairJudgment("ana", "p1", "unassisted", "A", 80, kind="human"),
        PairJudgment("dev", "p1", "unassisted", "A", 80, kind="llm"),
        PairJudgment("dev", "p1", "explain", "B", 80, kind="llm"),
        PairJudgment("eve", "p1", "debate", "B", 80, kind="llm", skipped=True),
    ]
    assert default_sources(["unassisted", "explain", "debate"], js) == [
        "expert",
        "unassisted",
        "bradley-terry:unassisted",
        "unassisted@llm",
        "bradley-terry:unassisted@llm",
        "explain",
        "bradley-terry:explain",
    ]


def test_trl_export_refuses_two_sources_with_one_file_name(tmp_path: Path) -> None:
    from sandwich.classifiers.preferences import PreferenceSet
    from sandwich.errors import SandwichError

    with pytest.raises(SandwichError, match="one file name"):
        write_trl(
            {
                "bradley-terry_x": PreferenceSet("bradley-terry_x", []),
                "bradley-terry:x": PreferenceSet("bradley-terry:x", []),
            },
            tmp_path / "trl",
        )
    assert not (tmp_path / "trl").exists()


def test_bradley_terry_aggregate_gives_the_share_of_wins_on_one_pair() -> None:
    pairs = [GoldPair("p1", "q1", "train", "Q", "a", "b", "A"), GoldPair("p2", "q2", "train", "Q", "c", "d", "B")]
    js = [PairJudgment(o, "p1", "c", ch, 90, kind="human") for o, ch in (("x", "A"), ("y", "A"), ("z", "B"))]
    js += [PairJudgment(o, "p2", "c", "B", 90, kind="human") for o in ("x", "y")]
    agg = preference_set(pairs, js, "bradley-terry:c@human")
    got = {r.pair_id: (r.chosen, round(r.strength, 3)) for r in agg.rows}
    # one comparison graph per pair: the BT maximum likelihood is p_a / (p_a + p_b) = wins / judgments
    assert got == {"p1": ("a", 0.667), "p2": ("d", 1.0)}


def test_best_of_n_pass_rate_against_random_on_a_hand_made_example() -> None:
    c = [
        Candidate("1a", "p1", "test", "", "x", True),
        Candidate("1b", "p1", "test", "", "y", False),
        Candidate("1c", "p1", "test", "", "z", False),
        Candidate("2a", "p2", "test", "", "x", False),
        Candidate("2b", "p2", "test", "", "y", True),
        Candidate("3a", "p3", "test", "", "x", False),
        Candidate("3b", "p3", "test", "", "y", False),
        Candidate("4a", "p4", "test", "", "x", True),
    ]  # one candidate: not a choice, left out
    rewards = np.array([2.0, 1.0, 0.0, 5.0, 1.0, 0.0, 1.0, 9.0])  # right on p1, wrong on p2
    got = best_of_n(c, rewards)
    assert got["groups"] == 3
    assert got["pass_rate"] == pytest.approx(1 / 3)  # p1 passes, p2 and p3 do not
    assert got["random"] == pytest.approx((1 / 3 + 1 / 2 + 0) / 3)
    assert got["oracle"] == pytest.approx(2 / 3)


def test_preference_accuracy_counts_an_even_call_as_half() -> None:
    assert preference_accuracy(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.5, 0.6])) == pytest.approx(2.5 / 4)


def test_trl_export_loads_with_datasets_with_the_right_columns_and_counts(he, tmp_path: Path) -> None:
    from datasets import load_dataset

    pairs, _ = he
    js = planted(training_pairs(pairs), SKILL)
    js.append(PairJudgment("dev", training_pairs(pairs)[0].pair_id, "explain", "A", 90, "llm", assistance_failed=True))
    sets = {s: preference_set(pairs, js, s) for s in ("expert", "explain@llm", "bradley-terry:explain@llm")}
    counts = write_trl(sets, tmp_path / "trl")
    expected = {"expert.parquet": 141, "explain.llm.parquet": 3 * 141, "bradley-terry_explain.llm.parquet": 141}
    assert counts == expected
    for name, n in expected.items():
        ds = load_dataset("parquet", data_files=str(tmp_path / "trl" / name), split="train")
        assert ds.column_names == list(COLUMNS) and ds.num_rows == n
        assert all(0.5 <= s <= 1.0 for s in ds["strength"]) and set(ds["split"]) == {"train"}
    gold = load_dataset("parquet", data_files=str(tmp_path / "trl" / "expert.parquet"), split="train")
    by_id = {p.pair_id: p for p in pairs}
    assert all(
        row["chosen"]
        == (by_id[row["pair_id"]].response_a if by_id[row["pair_id"]].gold == "A" else by_id[row["pair_id"]].response_b)
        for row in gold
    )


def test_train_and_compare_report_pgr_matched_sizes_and_best_of_n(he, tmp_path: Path, cache: Path) -> None:
    pairs, _ = he
    js = planted(training_pairs(pairs), SKILL)
    # the weak source labels fewer pairs: matched-size runs must exist for the others
    few = {p.pair_id for p in training_pairs(pairs)[:100]}
    js = [j for j in js if j.condition != "unassisted" or j.item_id in few]
    cands, note = candidates_from_pairs(pairs)
    sources = ["expert", "unassisted@llm", "explain@llm", "bradley-terry:explain@llm"]
    data = PairwiseData(
        "he", pairs, cands, {s: preference_set(pairs, js, s) for s in sources}, "unassisted@llm", [note] if note else []
    )
    root = tmp_path / "runs"
    recs = train_pairwise(data, TrainSettings(), [0, 1], root)
    assert {(r.source, r.matched) for r in recs if r.matched} == {(s, 100) for s in sources if "unassisted" not in s}
    again = train_pairwise(data, TrainSettings(), [0, 1], root)
    assert {r.status for r in again} == {"cached"}
    from sandwich.errors import SandwichError

    with pytest.raises(SandwichError, match="No lm-reward reward models are trained") as e:  # not an empty table
        compare_pairwise(data, load_runs(root), backbone="lm-reward", n_boot=10)
    assert "--backbone lm-reward" in (e.value.hint or "")
    res = compare_pairwise(data, load_runs(root), n_boot=200, out_dir=tmp_path / "out")
    by = {s.source: s for s in res.summaries}
    assert by["expert"].pgr["mean"] == pytest.approx(1.0) and by["unassisted@llm"].pgr["mean"] == pytest.approx(0)
    assert by["expert"].pgr_matched["mean"] == pytest.approx(1.0)
    for s in res.summaries:
        a = s.accuracy
        assert a["boot_lo"] <= a["mean"] <= a["boot_hi"] and a["seed_lo"] <= a["mean"] <= a["seed_hi"]
        assert s.best_of_n["gold_trained"] == by["expert"].best_of_n["pass_rate"]
        assert sum(b["n"] for b in s.reliability) == res.n_test == 51
    # every held-out prompt has one correct candidate among two or three: random is well under 1
    assert by["expert"].best_of_n["random"] < by["expert"].best_of_n["oracle"] == 1.0
    # the gold-trained model's top pick passes more often than a random pick (measured 0.66 vs 0.45, seeds 0-2)
    assert by["expert"].best_of_n["pass_rate"] > by["expert"].best_of_n["random"] + 0.1
    assert (tmp_path / "out" / "reward_models.json").exists() and Path(res.plots["reliability"]).stat().st_size > 0
    # the HTML report's classifier section renders a pairwise comparison as it renders a pointwise one
    from sandwich.analysis.classifier_section import classifier_html

    page = classifier_html(res, lambda t: f"<table>{t.title}</table>", lambda p: f"<img src='{p.name}'>")
    assert "Bradley–Terry reward models (minilm) on 51 held-out gold pairs" in page
    assert "<img src='preference_reliability.png'>" in page and "best-of-n: a candidate passes" in page
    # 51 held-out pairs, A wrong in about half: 99% precision cannot be certified (needs ≥ 299 flagged)
    assert any("pairs where A is wrong" in n and "≥299" in n for n in res.notes), res.notes


def test_a_pairwise_study_uses_the_pairwise_pipeline_and_its_source_names() -> None:
    assert pipelines.for_kind("pairwise") is pipelines.PAIRWISE
    assert pipelines.for_kind("code-review") is pipelines.POINTWISE
    pair = pipelines.for_kind("pairwise").label_sources(["unassisted", "debate"])
    assert {"expert", "gold", "debate", "debate@llm", "bradley-terry:debate", "bradley-terry:debate@llm"} <= pair
    assert "majority:debate" not in pair and "bradley-terry:debate" not in pipelines.POINTWISE.label_sources(["debate"])
    # one vocabulary: every pairwise name but the Bradley–Terry aggregate (and the 'gold' alias) is a pointwise name
    assert {s for s in pair if not s.startswith(("bradley-terry:", "gold"))} <= pipelines.POINTWISE.label_sources(
        ["unassisted", "debate"]
    )


def test_export_trl_of_a_code_review_study_is_a_clear_error(he_db: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "sandwich", "export", str(he_db), "--to", str(tmp_path / "x"), "--format", "trl"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 2 and "pairwise" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_lm_reward_trains_on_preferences(he, cache: Path) -> None:
    pairs, _ = he
    rows = preference_set(pairs, [], "expert").rows[:8]
    # 8 pairs, 4 a step (batch_size 16 // 4), one epoch: 2 steps, however high max_steps is
    model, out = train_reward(rows, TrainSettings(backbone="lm-reward", max_steps=4, lm_max_length=256), 0, cache)
    assert out.steps == 2 and out.pairs_seen == 8 and all(np.isfinite(model.losses))
    r = model.rewards([x.prompt for x in rows], [x.chosen for x in rows])
    assert r.shape == (8,) and np.isfinite(r).all()


@pytest.mark.slow
def test_trl_reward_trainer_trains_on_the_export_unchanged(he, tmp_path: Path) -> None:
    from datasets import load_dataset
    from trl import RewardConfig, RewardTrainer

    from sandwich.classifiers.lm_reward import load_reward_model

    pairs, _ = he
    write_trl({"expert": preference_set(pairs, [], "expert")}, tmp_path / "trl")
    ds = load_dataset("parquet", data_files=str(tmp_path / "trl" / "expert.parquet"), split="train").select(range(8))
    tok, model, _ = load_reward_model(TrainSettings(backbone="lm-reward"))
    args = RewardConfig(
        output_dir=str(tmp_path / "out"),
        max_steps=2,
        per_device_train_batch_size=2,
        max_length=256,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    out = trainer.train()
    assert out.global_step == 2 and np.isfinite(out.training_loss)


def test_train_and_compare_dispatch_on_the_task_kind_and_read_the_store(
    he_db: Path, he, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sandwich.classifiers.train_study/compare_study` on a study whose kind uses the pairwise pipeline: the
    store is read through `load_pairwise_data` (its pair reader stands in for the pairwise task kind's)."""
    from sandwich.classifiers import compare_study, pairwise_train, train_study

    monkeypatch.setitem(pipelines._BY_KIND, "code-review", pipelines.PAIRWISE)
    monkeypatch.setattr(pairwise_train, "gold_pairs_from_store", lambda svc: he[0])
    recs = train_study(he_db, sources=["expert"], seeds=[0], runs_dir=tmp_path / "runs")
    assert [(r.source, r.n_train, r.status) for r in recs] == [("expert", 141, "trained")]
    assert (tmp_path / "runs" / "expert" / "minilm-seed0" / "scores.json").exists()
    res = compare_study(he_db, tmp_path / "cmp", runs_dir=tmp_path / "runs", n_boot=50)
    assert res.floor == "unassisted" and [s.source for s in res.summaries] == ["expert"]
    assert res.summaries[0].accuracy["mean"] == pytest.approx(recs[0].metrics["accuracy"])


def test_export_trl_of_a_study_writes_each_source_and_logs_a_look(
    he_db: Path, he, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datasets import load_dataset

    from sandwich.classifiers import pairwise_train
    from sandwich.classifiers.trl_export import export_trl_study
    from sandwich.service import StudyService

    monkeypatch.setattr(pairwise_train, "gold_pairs_from_store", lambda svc: he[0])
    with StudyService(he_db) as svc:
        before = len(svc.store.looks())
        counts = export_trl_study(svc, tmp_path / "trl")
        assert len(svc.store.looks()) == before + 1 and svc.store.looks()[-1].action == "export"
    assert counts == {"expert.parquet": 141, "test-gold.parquet": 51}  # no judgments yet: gold only
    test = load_dataset("parquet", data_files=str(tmp_path / "trl" / "test-gold.parquet"), split="train")
    assert set(test["split"]) == {"test"} and set(test["strength"]) == {1.0}
    assert not list((tmp_path / "trl").glob(".*partial"))


def test_best_of_n_counts_a_candidate_passing_only_when_it_passes_every_hidden_test() -> None:
    # p1: "b" beats "a" and "c" on the tests, but passes 5 of 7 only: no candidate of p1 passes
    # p2: "e" passes all 7 tests and wins; "d" passes 2
    pairs = [
        GoldPair("x1", "p1", "test", "Q1", "a", "b", "B", 1, 5, 7),
        GoldPair("x2", "p1", "test", "Q1", "b", "c", "A", 5, 0, 7),
        GoldPair("x3", "p2", "test", "Q2", "d", "e", "B", 2, 7, 7),
        GoldPair("x4", "p3", "train", "Q3", "f", "g", "A", 7, 0, 7),
    ]  # train: not a candidate
    cands, note = candidates_from_pairs(pairs)
    assert {(c.problem_id, c.response): c.passed for c in cands} == {
        ("p1", "a"): False,
        ("p1", "b"): False,
        ("p1", "c"): False,
        ("p2", "d"): False,
        ("p2", "e"): True,
    }
    assert note is not None and "every hidden test" in note
    # without counts the old rule applies (b never loses a pair) and the note says so
    bare = [GoldPair(p.pair_id, p.problem_id, p.split, p.prompt, p.response_a, p.response_b, p.gold) for p in pairs]
    cands, note = candidates_from_pairs(bare)
    assert {c.response for c in cands if c.passed} == {"b", "e"} and note is not None and "loses no gold pair" in note
