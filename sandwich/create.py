"""`sandwich create`: build a study database from a study file, atomically.

The database is written to a temporary file beside the target and renamed into
place only when complete, so a failure leaves no partial study.
"""

from __future__ import annotations

from collections.abc import Callable

from sandwich import store
from sandwich.assignment import deal_study
from sandwich.design_check import DesignReport, check_design
from sandwich.errors import StoreError
from sandwich.studyfile import StudyFile
from sandwich.tasks import kind as task_kinds
from sandwich.tasks.base import TaskData

Progress = Callable[[int, int], None]


def build_task(sf: StudyFile, *, allow_unsandboxed: bool = False, progress: Progress | None = None) -> TaskData:
    """Items, gold and hidden tests for the study's task."""
    task = sf.study.task
    return task_kinds.get(task.kind).load(
        task, sf.study, sf.path.parent, allow_unsandboxed=allow_unsandboxed, progress=progress
    )


def verify_import(sf: StudyFile, db: store.Location) -> None:
    """Imported gold must be exactly what the data file says: re-read the file and check the stored gold."""
    task = sf.study.task
    task_kinds.get(task.kind).verify_stored_gold(task, sf.path.parent, db)


def existing_judgments(db: store.Location) -> int:
    """How many judgments a study database already holds (0 if there is none)."""
    if not store.study_exists(db):
        return 0
    st = store.open_store(db, read_only=True)
    try:
        return st.count_judgments()
    finally:
        st.close()


def create_study(
    sf: StudyFile,
    db: store.Location,
    *,
    force: bool = False,
    allow_unsandboxed: bool = False,
    progress: Progress | None = None,
    on_design: Callable[[DesignReport], None] | None = None,
    on_notes: Callable[[list[str]], None] | None = None,
) -> dict[str, int]:
    """Create (or re-create) the study database at `db` (a DuckDB file or a PostgreSQL URL), atomically.

    Returns counts of what was written.

    ``on_design`` receives check-design's report on the assignment plan before anything is written, and
    ``on_notes`` the task's notes on how its data was read (e.g. pairs left out), also before.
    """
    if sf.study.overseers.design == "observed":
        raise StoreError(
            f"{sf.path}: an observed study takes its assignments from data, not from a dealt plan.",
            hint="Load it with `sandwich import judgments FILE --study STUDY.yaml --db OUT.duckdb` "
            "(or `sandwich import nyu-debate` / `llm-debate`).",
        )
    n_judged = existing_judgments(db)
    if n_judged and not force:
        raise StoreError(
            f"{db} already holds {n_judged} judgment(s); refusing to overwrite them.",
            hint="Export them first (`sandwich export`), then pass --force to re-create the study, "
            "or use --db to write a new file.",
        )
    data = build_task(sf, allow_unsandboxed=allow_unsandboxed, progress=progress)
    if on_notes is not None and data.notes:
        on_notes(data.notes)
    study = sf.study
    ov = study.overseers
    dealt = deal_study(study, data)
    practice, assignments = dealt.practice, dealt.assignments
    for i in data.items:
        if i.item_id in practice:
            i.role = "practice"
    if on_design is not None:  # `sandwich check-design` on the plan about to be written
        on_design(check_design(study, data.items, data.gold, assignments))

    with store.staged(db) as tmp:
        st = store.open_store(tmp, create=True)
        try:
            st.write_study(
                store.StudyContent(
                    meta={
                        "study": study.study,
                        "config_text": sf.text,
                        "config_hash": sf.config_hash,
                        "study_path": str(sf.path.resolve()),
                    },
                    items=[
                        store.ItemRecord(
                            i.item_id,
                            i.task_kind,
                            i.problem_id,
                            i.split,
                            i.role,
                            i.title,
                            i.prompt,
                            i.body,
                            i.question,
                            i.choices,
                            i.language,
                            i.meta,
                        )
                        for i in data.items
                    ],
                    gold=[store.GoldRecord(g.item_id, g.label, g.source, g.detail) for g in data.gold],
                    hidden_tests=[store.HiddenTestRecord(pid, t, ep) for pid, (t, ep) in data.hidden_tests.items()],
                    conditions=[
                        store.ConditionRecord(
                            c.name, n, [a.model_dump() for a in c.assistance], c.briefing, c.live_followups
                        )
                        for n, c in enumerate(study.conditions)
                    ],
                    overseers=[store.OverseerRecord(n, "non_expert") for n in ov.non_experts]
                    + [store.OverseerRecord(n, "expert") for n in ov.experts],
                    assignments=[
                        store.AssignmentRecord(a.assignment_id, a.overseer, a.item_id, a.condition, a.position, a.block)
                        for a in assignments
                    ],
                )
            )
        finally:
            st.close()
        verify_import(sf, tmp)
    return {
        "items": len(data.items),
        "practice": len(practice),
        "gold": len(data.gold),
        "assignments": len(assignments),
        "overseers": len(ov.non_experts) + len(ov.experts),
        "correct": sum(g.label == "correct" for g in data.gold),
        "train": sum(i.split == "train" for i in data.items),
        "test": sum(i.split == "test" for i in data.items),
    }
