"""`sandwich export --format trl`: each label source of a pairwise study as a preference dataset in TRL's format.

One Parquet file per source, ``<out>/<source>.parquet`` with the source made file-safe (`source_slug`:
'bradley-terry:explain@llm' → ``bradley-terry_explain.llm.parquet``), with TRL's explicit-prompt preference columns
``prompt``, ``chosen``, ``rejected`` (RewardTrainer and DPOTrainer read them unchanged; other columns are
dropped by the trainer) plus ``strength`` (0.5–1, the source's confidence in the preference; 0.5 is a tie),
``source``, ``pair_id``, ``problem_id`` and ``split``. Sources hold train-split pairs only (what `sandwich train`
learns from); the held-out gold pairs go to ``test-gold.parquet`` for evaluation. Loads with
``datasets.load_dataset("parquet", data_files=...)``. No ``margin`` column: TRL would subtract it from the
reward difference, which is not what a strength means. TRL reads every row as "chosen ≻ rejected": filter
``strength > 0.5`` first if ties (stored with chosen = A) should not count.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from sandwich.classifiers.preferences import EXPERT, Preference, PreferenceSet
from sandwich.classifiers.training import source_slug
from sandwich.errors import SandwichError

COLUMNS = ("prompt", "chosen", "rejected", "strength", "source", "pair_id", "problem_id", "split")
SCHEMA = {c: (pl.Float64 if c == "strength" else pl.String) for c in COLUMNS}


def preference_frame(rows: list[Preference]) -> pl.DataFrame:
    """Preferences as a TRL preference frame (the columns of `COLUMNS`, in that order)."""
    return pl.DataFrame([{c: getattr(r, c) for c in COLUMNS} for r in rows], schema=SCHEMA, orient="row")


def write_trl(sets: Mapping[str, PreferenceSet], out: Path, test: list[Preference] | None = None) -> dict[str, int]:
    """Write one Parquet file per source (and `test-gold.parquet`); rows written per file name.

    Each file is written to a temporary name and renamed, so an interrupted export leaves no half file.
    Raises SandwichError, before writing anything, when two sources would share a file name.
    """
    files = {f"{source_slug(s)}.parquet": ps.rows for s, ps in sets.items()}
    if len(files) < len(sets):
        raise SandwichError(
            "Two label sources map to one file name: " + ", ".join(sorted(sets)) + ".",
            hint="Rename a condition so that no source name differs from another only in ':'.",
        )
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    if test is not None:
        files["test-gold.parquet"] = test
    for name, rows in files.items():
        tmp = out / f".{name}.partial"
        preference_frame(rows).write_parquet(tmp)
        os.replace(tmp, out / name)
        counts[name] = len(rows)
    return counts


def export_trl_study(svc: Any, out: Path, *, who: str | None = None) -> dict[str, int]:
    """Export every label source of a pairwise study (expert, each condition's kinds of overseer apart, their
    Bradley–Terry aggregates); logged as a look, as every export (it reads gold)."""
    from sandwich.analysis.sources import planned_sources
    from sandwich.classifiers.pairwise_train import load_pairwise_data
    from sandwich.classifiers.preferences import default_sources, judgments_from_store

    with svc.lock:
        svc.record_look("export", who)
        data = load_pairwise_data(
            svc,
            default_sources(
                [c.name for c in svc.study.conditions], judgments_from_store(svc), planned_sources(None, svc.study)
            ),
        )
    held = [
        Preference(
            p.pair_id,
            p.problem_id,
            p.prompt,
            p.response_a if p.gold == "A" else p.response_b,
            p.response_b if p.gold == "A" else p.response_a,
            1.0,
            EXPERT,
            p.split,
        )
        for p in data.test
    ]
    return write_trl(data.sets, out, held)
