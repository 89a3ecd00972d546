"""`multiple-choice-pairs`: the assistant's sampled answers to multiple-choice questions, paired right vs wrong
(scripted backend; gold = the right one)."""

from __future__ import annotations

import json
from pathlib import Path

from sandwich.config import AssistantSpec
from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.tasks.pair_mc import load_mc_pairs, stated_letter
from sandwich.tasks.pairwise import PairContent

REPO = Path(__file__).resolve().parents[1]
STUDY = """study: mc-pairs
question: Can readers tell the assistant's right answer from its wrong one?
task:
  kind: pairwise
  source: multiple-choice-pairs
  questions: reading-mc.jsonl
  question_columns: {id: id, question: question, choices: choices, answer: answer, passage: passage}
  answer_format: letter
  samples: 4
  temperature: 0.8
  split: {train: 0.5, seed: 3, by: item}
gold: {kind: dataset-label}
assistant: {backend: scripted, model: scripted, max_tokens: 64}
conditions:
  - {name: unassisted}
overseers:
  non_experts: [ana]
  items_per_overseer: 2
  judged_items: 2
judgment: {confidence: [50, 75, 100]}
"""


def _study(tmp_path: Path) -> Path:
    (tmp_path / "reading-mc.jsonl").write_text((REPO / "studies" / "data" / "reading-mc.jsonl").read_text())
    path = tmp_path / "mc-pairs.yaml"
    path.write_text(STUDY)
    return path


def test_the_answer_letter_is_read_from_the_reply() -> None:
    assert stated_letter("The passage says cracks.\nAnswer: A", 4) == "A"
    assert stated_letter("I think (B) first... the answer is (C).", 4) == "C"
    assert stated_letter("Answer: E", 4) is None and stated_letter("no letter here", 4) is None


def test_pairs_keep_one_right_and_one_wrong_sampled_answer(tmp_path: Path) -> None:
    from assistants.backends.scripted import ScriptedBackend

    sf = load_study(_study(tmp_path))
    rows = [json.loads(line) for line in (tmp_path / "reading-mc.jsonl").read_text().splitlines()]
    answers = {r["question"]: r["answer"] for r in rows}
    calls: dict[str, int] = {}

    def reply(messages: list[dict[str, str]]) -> str:
        # sample k answers right on even samples, wrong (the next letter) on odd ones; q r00 always right
        text = messages[-1]["content"]
        question, right = next((q, a) for q, a in answers.items() if f"Question: {q}" in text)
        calls[question] = calls.get(question, 0) + 1
        if "Why was the bridge closed?" in text or calls[question] % 2:
            return f"Reasoning about it.\nAnswer: {right}"
        return f"Reasoning otherwise.\nAnswer: {'ABCD'[('ABCD'.index(right) + 1) % 4]}"

    backend = ScriptedBackend(replies=reply)
    data = load_mc_pairs(sf.study.task, sf.study, tmp_path, backend_factory=lambda spec: backend)
    assert len(data.items) == len(rows) - 1 and "1 where every sample was right" in data.notes[0]
    for item, gold in zip(data.items, data.gold, strict=True):
        pair = PairContent.of(item.prompt, item.body)
        right = gold.detail["right_letter"]
        good = pair.response_a if gold.label == "A" else pair.response_b
        bad = pair.response_b if gold.label == "A" else pair.response_a
        assert good.rstrip().splitlines()[-1].startswith(f"Answer: {right}. ")
        assert not bad.rstrip().splitlines()[-1].startswith(f"Answer: {right}.")
        assert "Question:" in pair.prompt and "A. " in pair.prompt
    assert {g.label for g in data.gold} == {"A", "B"}


def test_a_multiple_choice_pairs_study_is_created_with_the_scripted_backend(tmp_path: Path) -> None:
    sf = load_study(_study(tmp_path))
    assert isinstance(sf.study.assistant, AssistantSpec)
    db = tmp_path / "mc-pairs.duckdb"
    counts = create_study(sf, db)
    assert counts["items"] >= 2 and counts["gold"] == counts["items"]
    with StudyService(db, read_only=True) as svc:
        for g in svc.store.gold():
            assert g.label in ("A", "B") and g.detail and g.detail["letter_a"] != g.detail["letter_b"]
            assert g.detail["right_letter"] == g.detail[f"letter_{g.label.lower()}"]
