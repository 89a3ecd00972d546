"""Small wording faults in what the overseer reads (issue 14): the debate key, and multiple-choice briefings."""

from __future__ import annotations

from pathlib import Path

from study_files import mc_rows, write_mc_study

from sandwich.create import create_study
from sandwich.help_text import DEBATE_KEY, debate, plain
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from tui.screens.briefing import briefing_text

TURNS = [{"round": 1, "speaker": "A", "text": "It is B."}, {"round": 1, "speaker": "B", "text": "It is C."}]


def test_the_debate_quote_key_shows_only_when_there_are_quotes() -> None:
    no_quotes = plain(debate({"answers": {"A": "B", "B": "C"}, "turns": TURNS}))
    assert "Debater A argues for: B" in no_quotes and "✓" not in no_quotes and DEBATE_KEY not in no_quotes
    quoted = [TURNS[0] | {"quotes": [{"text": "the loop", "verified": True}]}, TURNS[1]]
    with_quotes = plain(debate({"answers": {"A": "B", "B": "C"}, "turns": quoted}))
    assert DEBATE_KEY in with_quotes and "✓ “the loop” verified in the item" in with_quotes


def test_a_multiple_choice_briefing_says_options_come_with_each_question(tmp_path: Path) -> None:
    rows = mc_rows(12)
    db = tmp_path / "mc.duckdb"
    create_study(load_study(write_mc_study(tmp_path, rows=rows)), db)
    with StudyService(db) as svc:
        s = svc.for_overseer("ana")
        first = s.next_item()
        assert first is not None
        b = s.briefing(first.condition)
    text = briefing_text(b, 1, 3, "ana").plain
    assert "answers: the options that come with each question" in text
    assert not any(label in text for label in first.judgment.choice_labels)  # no one item's options
