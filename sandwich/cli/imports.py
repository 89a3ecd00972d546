"""`sandwich import …`: load published or a lab's own judgments as an observed study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sandwich.cli.common import console
from sandwich.importers.records import ImportedStudy

DbOption = Annotated[Path, typer.Option("--db", help="Study database to write (a new file).")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace --db if it exists.")]

import_app = typer.Typer(
    help="Load published oversight data or your own judgments as an observed study.", no_args_is_help=True
)


def _report(study: ImportedStudy, db: Path) -> None:
    s = study.summary
    t = Table(title=f"Imported {study.name} → {db}", title_justify="left")
    t.add_column("condition")
    t.add_column("judgments", justify="right")
    for c in study.conditions:
        t.add_row(c.name, str(s.by_condition[c.name]))
    console.print(t)
    console.print(
        f"sessions read: {s.sessions} · included: {s.included} · items: {len(study.items)} · "
        f"overseers: {len(study.overseers)} · transcripts: {len(study.transcripts)}"
    )
    for why, n in sorted(s.skipped.items()):
        console.print(f"  left out: {n} session(s) — {why}")
    if s.offline_included or s.offline_skipped:
        console.print(f"offline judgments included: {s.offline_included}")
    for why, n in sorted(s.offline_skipped.items()):
        console.print(f"  left out: {n} offline judgment(s) — {why}")
    console.print(f"next: sandwich analyze {db} --out {db.with_suffix('')}-report")


@import_app.command("nyu-debate")
def nyu_debate(
    path: Annotated[
        Path,
        typer.Argument(
            help="Folder laid out like julianmichael/debate (debates-metadata.jsonl, debates/official/*.json).",
            show_default=False,
        ),
    ],
    db: DbOption,
    include_all: Annotated[bool, typer.Option("--all", help="Also import sessions not included in the paper.")] = False,
    force: ForceOption = False,
) -> None:
    """The NYU debate experiments (Michael et al. 2023) as an observed study."""
    from sandwich.importers.nyu import load_nyu_debate
    from sandwich.store.imported import write_imported_study

    study = load_nyu_debate(path, include_all=include_all)
    write_imported_study(db, study, force=force)
    _report(study, db)


@import_app.command("judgments")
def judgments(
    file: Annotated[
        Path, typer.Argument(help="Judgments: .csv, .parquet or .jsonl, one row per judgment.", show_default=False)
    ],
    study: Annotated[
        Path,
        typer.Option(
            "--study",
            help="Study YAML with overseers.design: observed and overseers.columns naming the file's columns.",
        ),
    ],
    db: DbOption,
    force: ForceOption = False,
) -> None:
    """A lab's own judgments as an observed study (items and gold from the study's task)."""
    from sandwich.importers.judgments import load_judgments
    from sandwich.store.imported import write_imported_study
    from sandwich.studyfile import load_study

    imported = load_judgments(file, load_study(study))
    write_imported_study(db, imported, force=force)
    _report(imported, db)


@import_app.command("llm-debate")
def llm_debate(
    file: Annotated[
        Path, typer.Argument(help="human_feedback.csv of ucl-dark/llm_debate (Khan et al. 2024).", show_default=False)
    ],
    db: Annotated[Path, typer.Option("--db", help="Study database to write (a new file).")] = Path("llm-debate.duckdb"),
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", help="Only this experiment_name (repeatable; default all).")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Khan et al. 2024 human judgments of LLM debates and consultancies as an observed study."""
    from sandwich.importers.llm_debate import load_llm_debate
    from sandwich.store.imported import write_imported_study

    imported = load_llm_debate(file, experiments=experiment or None)
    write_imported_study(db, imported, force=force)
    _report(imported, db)


@import_app.command("replay")
def replay(
    source: Annotated[
        Path, typer.Argument(help="An imported study database (e.g. from `import nyu-debate`).", show_default=False)
    ],
    study: Annotated[
        Path,
        typer.Option(
            "--study",
            help="The new study's YAML (a dealt design; conditions named "
            "like the source's, or with the same assistance kind).",
        ),
    ],
    db: DbOption,
    items: Annotated[int | None, typer.Option("--items", min=1, help="How many items (a seeded sample).")] = None,
    keep_judge: Annotated[
        bool, typer.Option("--keep-judge", help="Keep the original judge's messages in the transcripts.")
    ] = False,
    force: ForceOption = False,
) -> None:
    """A new study whose assistance is imported transcripts, for new people (`label`) or LLM judges (`simulate`)."""
    from sandwich.importers.replay import build_replay
    from sandwich.store.imported import write_replay_study
    from sandwich.studyfile import load_study

    sf = load_study(study)
    plan = build_replay(source, sf, items=items, keep_judge=keep_judge, seed=sf.study.seed)
    write_replay_study(db, plan, force=force)
    console.print(
        f"Replay study {sf.study.study} → {db}: {len(plan.items)} items, {len(plan.assignments)} "
        f"assignments, {plan.source['transcripts']} imported transcripts as assistance."
    )
    console.print(f"next: sandwich label {db} --overseer NAME, or sandwich simulate {db} --kind llm")


def register(app: typer.Typer) -> None:
    """Add the `import` command group to the CLI."""
    app.add_typer(import_app, name="import")
