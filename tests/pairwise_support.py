"""HumanEval preference pairs built from a real code-review study: a correct and a buggy candidate of one problem.

Gold comes from the sandbox (the code-review study's execution gold); which of the two is shown as A is drawn
per pair (seeded), so gold is "A" about half the time.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from sandwich.classifiers.pair_eval import Candidate
from sandwich.classifiers.preferences import GoldPair
from sandwich.service import StudyService

CODE_REVIEW_YAML = """study: he-pairs-source
question: Which candidate is correct?
task:
  kind: code-review
  source: humaneval
  candidates: {canonical: 1, mutants: 2, seed: 7}
  split: {train: 0.7, seed: 7, by: problem}
gold: {kind: execution, timeout_s: 10}
conditions:
  - {name: unassisted}
overseers:
  non_experts: [ana]
  items_per_overseer: 10
  judged_items: 10
judgment: {choices: [correct, buggy], confidence: [50, 60, 70, 80, 90, 100]}
seed: 7
"""


def code_review_db(folder: Path) -> Path:
    """Create the HumanEval code-review study (gold by sandboxed execution) in `folder`."""
    from sandwich.create import create_study
    from sandwich.studyfile import load_study

    (folder / "cr.yaml").write_text(CODE_REVIEW_YAML)
    db = folder / "cr.duckdb"
    create_study(load_study(folder / "cr.yaml"), db)
    return db


def humaneval_pairs(db: Path, seed: int = 0) -> tuple[list[GoldPair], list[Candidate]]:
    """Every (correct, buggy) pair of candidates of one problem, and every candidate with its pass/fail."""
    rng = random.Random(seed)
    with StudyService(db, read_only=True) as svc:
        gold = svc.gold()
        items = [i for i in svc.store.items() if i.item_id in gold]
    by_problem: dict[str, list] = defaultdict(list)
    for it in items:
        by_problem[it.problem_id].append(it)
    pairs: list[GoldPair] = []
    cands: list[Candidate] = []
    for pid in sorted(by_problem):
        its = sorted(by_problem[pid], key=lambda i: i.item_id)
        cands += [
            Candidate(i.item_id, pid, its[0].split, i.prompt or "", i.body or "", gold[i.item_id] == "correct")
            for i in its
        ]
        good = [i for i in its if gold[i.item_id] == "correct"]
        bad = [i for i in its if gold[i.item_id] == "buggy"]
        for g in good:
            for b in bad:
                a_good = rng.random() < 0.5
                a, bb = (g, b) if a_good else (b, g)
                pairs.append(
                    GoldPair(
                        f"{g.item_id}|{b.item_id}",
                        pid,
                        g.split,
                        g.prompt or "",
                        a.body or "",
                        bb.body or "",
                        "A" if a_good else "B",
                    )
                )
    return pairs, cands
