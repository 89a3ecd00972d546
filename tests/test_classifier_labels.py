"""Classifier label sources read one kind of overseer, and never a judgment made without its condition's help."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_files import write_mc_study

from sandwich.classifiers.data import Example, labels_for, load_examples
from sandwich.create import create_study
from sandwich.errors import SandwichError, StudyFileError
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.views import JudgmentIn

PEOPLE, SIMULATED = ("ana", "ben", "chi"), ("dev", "eli", "fay")


def _wrong(answer: str) -> str:
    return "B" if answer == "A" else "A"


@pytest.fixture
def disagreeing(tmp_path: Path) -> tuple[Path, set[tuple[str, str]]]:
    """Six overseers, every item judged under every condition by one person and one parametric simulation
    (the plan pairs ana+dev, ben+eli, chi+fay). People always answer gold; the simulations always answer wrong.
    Ana's `consult` judgments had no help (assistance_failed) and are wrong. Returns the study and the
    (item, condition) pairs whose only human judgment failed."""
    db = tmp_path / "labels.duckdb"
    create_study(load_study(write_mc_study(tmp_path, overseers=6)), db)
    failed: set[tuple[str, str]] = set()
    with StudyService(db) as svc:
        gold = svc.gold()
        for o in PEOPLE + SIMULATED:
            session = svc.for_overseer(o)
            for a in svc.store.assignments(o):
                no_help = o == "ana" and a.condition == "consult"
                right = o in PEOPLE and not no_help
                if no_help:
                    failed.add((a.item_id, a.condition))
                session.submit(
                    JudgmentIn(
                        judgment_id=f"j-{a.assignment_id.replace(':', '-')}",
                        assignment_id=a.assignment_id,
                        confidence=100,
                        choice=gold[a.item_id] if right else _wrong(gold[a.item_id]),
                        assistance_failed=no_help,
                        source="human" if o in PEOPLE else "parametric",
                    )
                )
    return db, failed


def _disagreements(examples: list[Example], hard: dict[str, int]) -> int:
    """Labelled train examples whose hard target contradicts gold."""
    by_id = {e.example_id: e for e in examples}
    return sum(hard[k] != by_id[k].bad for k in hard)


def test_people_and_simulations_give_different_label_sets(disagreeing: tuple[Path, set[tuple[str, str]]]) -> None:
    db, _ = disagreeing
    with StudyService(db, read_only=True) as svc:
        ex = load_examples(svc)
        people = labels_for(svc, "unassisted@human", ex)
        sims = labels_for(svc, "unassisted@parametric", ex)
        default = labels_for(svc, "unassisted", ex)
        majority_sims = labels_for(svc, "majority:debate@parametric", ex)
    train_items = {e.item_id for e in ex if e.split == "train"}
    assert len(train_items) == 6
    # every train item: 4 choices → 4 examples, labelled by each kind from one judgment apiece
    assert set(people.hard) == set(sims.hard) and len(people.hard) == 24
    assert people.n_judgments == sims.n_judgments == 6
    assert _disagreements(ex, people.hard) == 0  # people answered gold
    assert _disagreements(ex, sims.hard) == 12  # each wrong answer flips its own and gold's example
    assert people.hard != sims.hard
    # without a suffix: people, as `analyze` reports by default — never the two pooled
    assert default.hard == people.hard and any("left out: 12 judgment(s) of parametric" in n for n in default.notes)
    assert _disagreements(ex, majority_sims.hard) == 12


def test_a_judgment_made_without_help_never_becomes_a_label(disagreeing: tuple[Path, set[tuple[str, str]]]) -> None:
    db, failed = disagreeing
    with StudyService(db, read_only=True) as svc:
        ex = load_examples(svc)
        consult = labels_for(svc, "consult@human", ex)
        ds = labels_for(svc, "dawid-skene:consult@human", ex)
    train = {e.item_id for e in ex if e.split == "train"}
    no_help_train = {i for i, c in failed if c == "consult" and i in train}
    assert no_help_train, "the plan gave ana some consult items in the train split"
    labelled = {k.split("#")[0] for k in consult.hard}
    assert labelled == train - no_help_train and labelled.isdisjoint(no_help_train)
    assert _disagreements(ex, consult.hard) == 0 and _disagreements(ex, ds.hard) == 0
    assert any("assistance_failed" in n for n in consult.notes)


def test_an_unknown_kind_of_overseer_is_refused(disagreeing: tuple[Path, set[tuple[str, str]]], tmp_path: Path) -> None:
    db, _ = disagreeing
    with StudyService(db, read_only=True) as svc:
        ex = load_examples(svc)
        with pytest.raises(SandwichError, match="'robots' is not a kind of overseer"):
            labels_for(svc, "consult@robots", ex)
        with pytest.raises(SandwichError, match="expert labels are gold"):
            labels_for(svc, "expert@human", ex)
    ok = write_mc_study(
        tmp_path, name="ok", extra="classifiers: {train_on: [expert, consult@human, majority:debate@llm]}"
    )
    assert load_study(ok).study.classifiers.train_on[1] == "consult@human"
    bad = write_mc_study(tmp_path, name="bad", extra="classifiers:\n  train_on: [expert, consult@people]\n")
    with pytest.raises(StudyFileError, match=r"bad\.yaml:\d+:\d+.*unknown label source 'consult@people'"):
        load_study(bad)
