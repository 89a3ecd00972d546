"""Reading a study for analysis: the study store (read-only) into polars, then index arrays.

A study's judgments become a `JudgmentTable`: one row per judgment with integer
indices for overseer, item and group (each non-expert condition, plus `expert`
for expert overseers), correctness against gold, Brier and time. The same
table is what the in-memory simulations (tests, `sandwich power`) build, so
analysis and power share every estimator.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from sandwich import rules, store
from sandwich.config import Study
from sandwich.errors import StoreError, StudyLocked
from sandwich.store import LookRecord, StudyStore
from sandwich.studyfile import validate_text

EXPERT = "expert"


@dataclass
class JudgmentTable:
    """Judgments as parallel arrays; NaN marks a missing value (no gold, no confidence, no time)."""

    overseers: list[str]
    items: list[str]
    groups: list[str]
    overseer: np.ndarray  # int index into overseers
    item: np.ndarray  # int index into items
    group: np.ndarray  # int index into groups
    correct: np.ndarray  # 1.0 / 0.0 / NaN
    confidence: np.ndarray  # probability the chosen answer is right, 0..1, NaN if missing
    time: np.ndarray  # seconds on item, NaN if missing
    stratum: np.ndarray  # per overseer: resampled within its stratum (role, or role+condition)
    choice: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))  # the answer given

    @property
    def brier(self) -> np.ndarray:
        """Per judgment (confidence - correct)^2."""
        return (self.confidence - self.correct) ** 2

    def __len__(self) -> int:
        return len(self.overseer)

    def subset(self, mask: np.ndarray) -> JudgmentTable:
        """The same indices, fewer judgments."""
        return JudgmentTable(
            self.overseers,
            self.items,
            self.groups,
            self.overseer[mask],
            self.item[mask],
            self.group[mask],
            self.correct[mask],
            self.confidence[mask],
            self.time[mask],
            self.stratum,
            self.choice[mask] if len(self.choice) else self.choice,
        )


@dataclass
class StudyData:
    """Everything analysis reads from a study database."""

    db_path: Path | str  # a DuckDB file, or a PostgreSQL URL
    study: Study
    config_text: str
    judgments: pl.DataFrame  # one row per non-skipped judgment, with role, gold, correct
    skipped: int
    overseers: pl.DataFrame  # name, role, kind
    prereg: dict[str, Any] | None  # frozen row: hash, hypotheses (parsed), frozen_at
    first_judgment_at: datetime | None
    model_answers: pl.DataFrame  # item_id, model, choice, confidence, correct (may be empty)
    warnings: list[str]
    snapshot: bool = False
    plan_check: rules.PlanCheck | None = None  # the frozen plan re-checked (None before the first judgment)
    looks: list[LookRecord] = field(default_factory=list)
    planned: int = 0  # planned judgments (assignments)
    stored_judgments: int = 0  # judgments stored, skipped ones included

    @property
    def simulated(self) -> int:
        """How many judgments were made by simulated overseers."""
        return int(self.judgments["simulated"].sum()) if self.judgments.height else 0


def _open(db_path: Path | str, warnings: list[str]) -> tuple[StudyStore, bool, Path | None]:
    """Read-only store; if a labeler holds the write lock, analyse a snapshot copy instead."""
    try:
        return store.open_store(db_path, read_only=True), False, None
    except StudyLocked as e:
        if not isinstance(db_path, Path):  # only a DuckDB file is locked by its writer
            raise
        tmpdir = Path(tempfile.mkdtemp(prefix="sandwich-snapshot-"))
        copy = tmpdir / db_path.name
        try:
            shutil.copy2(db_path, copy)
            wal = Path(str(db_path) + ".wal")
            if wal.exists():
                shutil.copy2(wal, Path(str(copy) + ".wal"))
            st = store.open_store(copy, read_only=True)
        except (OSError, StoreError):
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise StudyLocked(
                e.message + " It could not be analysed from a snapshot copy either.", hint=e.hint
            ) from None
        warnings.append(
            f"The study database is in use by another process (a running `sandwich label` or "
            f"`sandwich serve`?). Analysed a snapshot copy taken at {datetime.now():%H:%M:%S}; "
            "judgments submitted after that are not included — re-run when labelling is done."
        )
        return st, True, tmpdir


def _log_look(db_path: Path | str, action: str, who: str | None, warnings: list[str]) -> None:
    """Log this look in the study itself (needs a moment of write access)."""
    from sandwich.service import StudyService

    try:
        with StudyService(db_path) as svc:
            svc.record_look(action, who)
    except StudyLocked:
        warnings.append(
            "This look could not be logged in the study (the file is in use by another process); "
            "for a served study, take a snapshot with `sandwich snapshot`, which is logged."
        )
    except StoreError as e:  # e.g. a read-only copy of a study: analyse it, but say the look left no trace
        warnings.append(f"This look could not be logged in the study ({e.message}).")


def load_study_data(db_path: str | Path, *, look: str | None = "analyze", who: str | None = None) -> StudyData:
    """Read judgments, gold, overseers, the frozen plan, looks and model answers from a study store.

    With `look` (default "analyze"), the read is first logged in the study as a look by `who`
    (default: the OS user), so every look at results leaves a trace.
    """
    db_path = store.as_location(db_path)
    warnings: list[str] = []
    if look:
        _log_look(db_path, look, who, warnings)
    st, snapshot, tmpdir = _open(db_path, warnings)
    try:
        text = st.get_meta("config_text")
        if text is None:
            raise StoreError(f"{db_path}: the study was never fully created.", hint="Run `sandwich create` again.")
        study = validate_text(text, f"{db_path}#config")
        frames = st.analysis_frames()
        judg, overseers, model = frames["judgments"], frames["overseers"], frames["model_answers"]
        frozen = st.frozen_plan()
        looks = st.looks()
        config_hash = st.get_meta("config_hash") or ""
        planned = len(st.assignments())
        stored = st.count_judgments()
        warnings += _position_bias(st)
    finally:
        st.close()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    prereg = None
    if frozen is not None:
        hyps = frozen.plan.get("preregistration") or {
            "hypotheses": frozen.plan.get("hypotheses", []),
            "notes": frozen.plan.get("notes"),
        }
        prereg = {"hash": frozen.hash, "hypotheses": hyps, "frozen_at": frozen.frozen_at, "plan": frozen.plan}

    first = cast("datetime | None", judg["created_at"].min()) if judg.height else None  # a Datetime column's min
    skipped = int(judg["skipped"].sum()) if judg.height else 0
    judg = judg.filter(~pl.col("skipped") & pl.col("choice").is_not_null())
    if study.gold.kind == "expert-overseers" or judg.filter(pl.col("gold").is_null()).height:
        judg = _expert_gold(judg, warnings)
    judg = judg.with_columns(
        pl.when(pl.col("gold").is_null())
        .then(None)
        .otherwise((pl.col("choice") == pl.col("gold")).cast(pl.Float64))
        .alias("correct")
    )
    model = model.with_columns(
        pl.when(pl.col("gold").is_null() | pl.col("choice").is_null())
        .then(None)
        .otherwise((pl.col("choice") == pl.col("gold")).cast(pl.Float64))
        .alias("correct")
    )
    plan_check = None if frozen is None else rules.check_plan(frozen, study, planned, text, config_hash, looks, stored)
    return StudyData(
        db_path,
        study,
        text,
        judg,
        skipped,
        overseers,
        prereg,
        first,
        model,
        warnings,
        snapshot,
        plan_check=plan_check,
        looks=looks,
        planned=planned,
        stored_judgments=stored,
    )


def _position_bias(st: StudyStore, alpha: float = 0.05) -> list[str]:
    """Pairwise studies: a warning per overseer whose choices favour the response shown on the left (the order
    is drawn per overseer, so 50% without bias; exact binomial, Bonferroni over overseers). Choices are stored
    in each pair's own order, so accuracy is unaffected by the order shown; this says who pressed by position."""
    from sandwich.tasks.pairwise import position_bias

    rows = [r for r in position_bias(st) if r.overseer != "all"]
    return [
        f"Position bias: {r.overseer} chose the response shown on the left in {r.left} of {r.n} pairs "
        f"({r.share:.0%}; exact binomial vs 50%, p = {r.p:.2g} < {alpha}/{len(rows)})"
        for r in rows
        if r.p < alpha / len(rows)
    ]


def _expert_gold(judg: pl.DataFrame, warnings: list[str]) -> pl.DataFrame:
    """Where the gold table has no label, use the expert overseers' majority answer (ties: no gold)."""
    counts = judg.filter(pl.col("role") == "expert").group_by("item_id", "choice").len()
    top = counts.group_by("item_id").agg(pl.col("len").max().alias("top"))
    votes = (
        counts.join(top, on="item_id")
        .filter(pl.col("len") == pl.col("top"))
        .group_by("item_id")
        .agg(pl.col("choice").first().alias("expert_gold"), pl.len().alias("tied"))
        .filter(pl.col("tied") == 1)
    )
    missing = judg.filter(pl.col("gold").is_null())["item_id"].n_unique()
    if missing:
        warnings.append(
            f"{missing} item(s) have no gold label; the expert overseers' majority answer is used "
            "as gold where there is one."
        )
    if not votes.height:
        return judg
    return (
        judg.join(votes.select("item_id", "expert_gold"), on="item_id", how="left")
        .with_columns(pl.coalesce("gold", "expert_gold").alias("gold"))
        .drop("expert_gold")
    )


def judgment_table(data: StudyData) -> JudgmentTable:
    """Index arrays for the estimators: groups are the non-expert conditions in study order, then `expert`."""
    j = data.judgments
    study = data.study
    cond_order = [c.name for c in study.conditions]
    groups = [c for c in cond_order if j.filter((pl.col("role") != "expert") & (pl.col("condition") == c)).height]
    if j.filter(pl.col("role") == "expert").height:
        groups.append(EXPERT)
    j = j.with_columns(
        pl.when(pl.col("role") == "expert").then(pl.lit(EXPERT)).otherwise(pl.col("condition")).alias("group")
    ).filter(pl.col("group").is_in(groups))
    overseers = sorted(j["overseer"].unique().to_list())
    items = sorted(j["item_id"].unique().to_list())
    o_idx = {n: k for k, n in enumerate(overseers)}
    i_idx = {n: k for k, n in enumerate(items)}
    g_idx = {n: k for k, n in enumerate(groups)}
    roles = dict(zip(j["overseer"].to_list(), j["role"].to_list(), strict=True))
    between = study.overseers.design == "between-subjects"
    first_cond = dict(zip(j["overseer"].to_list(), j["condition"].to_list(), strict=True))
    strata_keys = [roles[n] + (":" + first_cond[n] if between and roles[n] != "expert" else "") for n in overseers]
    s_idx = {k: n for n, k in enumerate(sorted(set(strata_keys)))}
    conf = j["confidence"].cast(pl.Float64).to_numpy() / 100.0
    return JudgmentTable(
        overseers=overseers,
        items=items,
        groups=groups,
        overseer=np.array([o_idx[n] for n in j["overseer"].to_list()], dtype=np.int64),
        item=np.array([i_idx[n] for n in j["item_id"].to_list()], dtype=np.int64),
        group=np.array([g_idx[n] for n in j["group"].to_list()], dtype=np.int64),
        correct=j["correct"].cast(pl.Float64).fill_null(np.nan).to_numpy(),
        confidence=np.nan_to_num(conf, nan=np.nan),
        time=j["time_on_item_s"].cast(pl.Float64).fill_null(np.nan).to_numpy(),
        stratum=np.array([s_idx[k] for k in strata_keys], dtype=np.int64),
        choice=np.array(j["choice"].to_list(), dtype=object),
    )
