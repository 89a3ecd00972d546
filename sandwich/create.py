"""`sandwich create`: build a study database from a study file, atomically.

The database is written to a temporary file beside the target and renamed into
place only when complete, so a failure leaves no partial study.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

from sandwich import store
from sandwich.assignment import plan
from sandwich.errors import StoreError
from sandwich.studyfile import StudyFile
from sandwich.tasks.base import TaskData

Progress = Callable[[int, int], None]


def build_task(sf: StudyFile, *, allow_unsandboxed: bool = False, progress: Progress | None = None) -> TaskData:
    """Items, gold and hidden tests for the study's task."""
    task = sf.study.task
    if task.kind == "code-review":
        from sandwich.tasks.code_review import load_code_review
        return load_code_review(task, sf.study.gold, sf.study.seed, allow_unsandboxed=allow_unsandboxed,
                                progress=progress)
    from sandwich.tasks.multiple_choice import load_multiple_choice
    return load_multiple_choice(task, sf.path.parent)


def verify_import(sf: StudyFile, db: Path) -> None:
    """Imported gold must be exactly what the data file says: re-read the file and check the stored gold."""
    task = sf.study.task
    if task.kind == "multiple-choice":
        from sandwich.tasks.multiple_choice import verify_stored_gold
        verify_stored_gold(task, sf.path.parent, db)


def sample_pool(pool: list[str], labels: dict[str, str], n: int, seed: int) -> list[str]:
    """A seeded sample of n items, spread evenly over gold labels so the judged set stays balanced."""
    if n >= len(pool):
        return pool
    rng = random.Random(f"pool:{seed}")
    by_label: dict[str, list[str]] = {}
    for item in sorted(pool):
        by_label.setdefault(labels.get(item, ""), []).append(item)
    for ids in by_label.values():
        rng.shuffle(ids)
    chosen: list[str] = []
    while len(chosen) < n:  # deal one from each label in turn
        for ids in by_label.values():
            if ids and len(chosen) < n:
                chosen.append(ids.pop())
    return chosen


def existing_judgments(db: Path) -> int:
    """How many judgments a study database already holds (0 if there is none)."""
    if not db.exists():
        return 0
    con = store.connect(db, read_only=True)
    try:
        return con.execute("SELECT count(*) FROM judgments").fetchone()[0]
    finally:
        con.close()


def create_study(sf: StudyFile, db: Path, *, force: bool = False, allow_unsandboxed: bool = False,
                 progress: Progress | None = None) -> dict[str, int]:
    """Create (or re-create) the study database at `db`. Returns counts of what was written."""
    n_judged = existing_judgments(db)
    if n_judged and not force:
        raise StoreError(f"{db} already holds {n_judged} judgment(s); refusing to overwrite them.",
                         hint="Export them first (`sandwich export`), then pass --force to re-create the study, "
                              "or use --db to write a new file.")
    data = build_task(sf, allow_unsandboxed=allow_unsandboxed, progress=progress)
    study = sf.study
    ov = study.overseers
    # practice items come from the train split and are kept out of the study pool
    rng = random.Random(study.seed)
    train_ids = sorted(i.item_id for i in data.items if i.split == "train")
    practice = set(rng.sample(train_ids, min(ov.practice_items, max(len(train_ids) - 1, 0))))
    for i in data.items:
        if i.item_id in practice:
            i.role = "practice"
    pool = [i.item_id for i in data.items if i.role == "study" and (ov.judge_split == "all" or i.split == "train")]
    if ov.judged_items is not None:
        pool = sample_pool(pool, {g.item_id: g.label for g in data.gold}, ov.judged_items, study.seed)
    names = [c.name for c in study.conditions]
    assignments = plan(pool, names, ov.non_experts, ov.items_per_overseer, design=ov.design, experts=ov.experts,
                       expert_condition=study.expert_condition, seed=ov.seed)

    db.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db.name}.", suffix=".tmp", dir=db.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # DuckDB wants to create the file itself
    try:
        con = store.connect(tmp, create=True)
        with store.transaction(con):
            store.set_meta(con, "study", study.study)
            store.set_meta(con, "config_text", sf.text)
            store.set_meta(con, "config_hash", sf.config_hash)
            store.set_meta(con, "study_path", str(sf.path.resolve()))
            con.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                [i.item_id, i.task_kind, i.problem_id, i.split, i.role, i.title, i.prompt, i.body, i.question,
                 i.choices, i.language, json.dumps(i.meta)] for i in data.items])
            if data.gold:
                con.executemany("INSERT INTO gold VALUES (?, ?, ?, ?)",
                                [[g.item_id, g.label, g.source, json.dumps(g.detail)] for g in data.gold])
            if data.hidden_tests:
                con.executemany("INSERT INTO hidden_tests VALUES (?, ?, ?)",
                                [[pid, t, ep] for pid, (t, ep) in data.hidden_tests.items()])
            con.executemany("INSERT INTO conditions VALUES (?, ?, ?, ?, ?)", [
                [c.name, n, json.dumps([a.model_dump() for a in c.assistance]), c.briefing, c.live_followups]
                for n, c in enumerate(study.conditions)])
            con.executemany("INSERT INTO overseers VALUES (?, ?, ?, ?)",
                            [[n, "non_expert", "human", None] for n in ov.non_experts]
                            + [[n, "expert", "human", None] for n in ov.experts])
            con.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?, ?, ?)", [
                [a.assignment_id, a.overseer, a.item_id, a.condition, a.position, a.block] for a in assignments])
        con.execute("CHECKPOINT")
        con.close()
        verify_import(sf, tmp)
        store.remove_db(db)
        os.replace(tmp, db)
    except BaseException:
        store.remove_db(tmp)
        raise
    return {"items": len(data.items), "practice": len(practice), "gold": len(data.gold),
            "assignments": len(assignments), "overseers": len(ov.non_experts) + len(ov.experts),
            "correct": sum(g.label == "correct" for g in data.gold),
            "train": sum(i.split == "train" for i in data.items), "test": sum(i.split == "test" for i in data.items)}
