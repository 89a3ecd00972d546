"""Help for pairs through the assistance-kind registry (scripted backend): explanation of both responses,
critique of each, sub-questions that compare them, a consultant for one response, one debater per response;
the words name the responses so the app can show them in each overseer's order."""

from __future__ import annotations

from pathlib import Path

from pair_support import write_pair_study

from assistants.precompute import precompute
from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.studyfile import load_study

HELP = (
    "explanation, critique, {decomposition: {max_subquestions: 2}}, {consultancy: {rounds: 1}}, {debate: {rounds: 1}}"
)


def test_every_kind_of_help_is_made_for_pairs_and_shown_in_the_overseers_order(tmp_path: Path) -> None:
    db = tmp_path / "pairs.duckdb"
    create_study(load_study(write_pair_study(tmp_path, help=HELP)), db)
    with StudyService(db) as svc:
        report = precompute(svc)
        rows = svc.store.assistance()
        gold = svc.gold()
        items = {i.item_id: i for i in svc.store.items()}
    assert report.by_status == {"ok": len(rows)} and {r.kind for r in rows} == {
        "explanation",
        "critique",
        "decomposition",
        "consultancy",
        "debate",
    }
    for r in rows:
        prompt = str(r.prompt)
        pair = items[r.item_id]
        assert "Response A:" in prompt and "Response B:" in prompt and (pair.prompt or "") in prompt
        if r.kind == "explanation":
            assert "what Response A does and what Response B does" in prompt
        if r.kind == "critique":
            assert "flaws in the two responses (look at each one" in prompt
        if r.kind == "decomposition":
            assert "compare Response A with Response B" in prompt
        if r.kind == "debate":  # one debater per response
            assert sorted(r.content["answers"].values()) == ["Response A", "Response B"]
        if r.kind == "consultancy":  # argues for one response, the right one for half the items
            assert r.content["assigned_answer"] in ("Response A", "Response B")
    consult = [r for r in rows if r.kind == "consultancy"]
    right = sum(r.content["assigned_answer"] == f"Response {gold[r.item_id]}" for r in consult)
    assert abs(2 * right - len(consult)) <= 1
    # each overseer reads the debate in the order shown: the debater for the response on the left argues "A"
    with StudyService(db) as svc:
        for name in ("ana", "ben", "chi"):
            session = svc.for_overseer(name)
            for a in svc.session_assignments(name):
                if a.condition != "debate":
                    continue
                order = (items[a.item_id].meta or {})["shown"][name]
                stored = next(r for r in rows if r.item_id == a.item_id and r.kind == "debate").content
                shown = next(v for v in session.assistance(a.assignment_id) if v.kind == "debate").content
                assert shown is not None
                for speaker, answer in stored["answers"].items():
                    flipped = {"Response A": "Response B", "Response B": "Response A"}[answer]
                    assert shown["answers"][speaker] == (answer if order == "AB" else flipped)
