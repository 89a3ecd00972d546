"""The trajectory measures as report sections: rich tables (terminal and HTML) and JSON.

Only studies with belief trajectories (imported debate/consultancy sessions) get these
sections; for every other study `trajectory_sections` returns None and the report is unchanged.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from rich.table import Table

from sandwich.analysis.trajectories import (
    by_round,
    interactive_vs_offline,
    judge_rewards,
    trajectories,
)
from sandwich.errors import StudyLocked
from sandwich.store import is_url, open_store

MAX_ROUNDS_SHOWN = 8


@dataclass
class TrajectorySections:
    """Tables for the report and numbers for results.json."""

    tables: list[Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _pct(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _round_table(rounds: pl.DataFrame) -> Table:
    t = Table(
        title="Accuracy and calibration by round (each judge's latest belief on the right answer, carried "
        "forward; correct = P(right) > 0.5)",
        title_justify="left",
    )
    for c in ("condition", "round", "judges", "still judging", "accuracy", "Brier"):
        t.add_column(c, justify="left" if c == "condition" else "right")
    for r in rounds.filter(pl.col("round") <= MAX_ROUNDS_SHOWN).iter_rows(named=True):
        t.add_row(
            r["condition"],
            str(r["round"]),
            str(r["judges"]),
            str(r["still_judging"]),
            _pct(r["accuracy"]),
            f"{r['brier']:.3f}",
        )
    return t


def _reward_table(rewards: pl.DataFrame) -> Table:
    t = Table(
        title="Judge reward (LogScoreWithLinearPenalty: log score of P(right) − penalty per extra round)",
        title_justify="left",
    )
    for c in ("condition", "judgments", "mean reward", "mean rounds asked", "matches recorded"):
        t.add_column(c, justify="left" if c == "condition" else "right")
    agg = rewards.group_by("condition", maintain_order=True).agg(
        pl.len().alias("n"),
        pl.col("reward").mean().alias("reward"),
        pl.col("continues").mean().alias("cont"),
        ((pl.col("reward") - pl.col("recorded")).abs() < 1e-9).sum().alias("match"),
        pl.col("recorded").is_not_null().sum().alias("has"),
    )
    for r in agg.sort("condition").iter_rows(named=True):
        t.add_row(r["condition"], str(r["n"]), f"{r['reward']:.3f}", f"{r['cont']:.2f}", f"{r['match']}/{r['has']}")
    return t


def _offline_table(pairs: pl.DataFrame) -> Table:
    t = Table(title="Interactive judges vs offline judges of the same transcripts", title_justify="left")
    for c in ("condition", "sessions", "interactive accuracy", "offline accuracy", "same answer"):
        t.add_column(c, justify="left" if c == "condition" else "right")
    for r in pairs.iter_rows(named=True):
        t.add_row(
            r["condition"], str(r["sessions"]), _pct(r["live_accuracy"]), _pct(r["offline_accuracy"]), _pct(r["agree"])
        )
    return t


def _replay_table(reference: list[dict[str, Any]], mine: pl.DataFrame) -> tuple[Table, list[dict[str, Any]]]:
    t = Table(
        title="Replayed transcripts: this study's judges beside the original judges of the same transcripts "
        "(imported help; never pooled)",
        title_justify="left",
    )
    for c in ("condition", "this study", "judgments", "accuracy", "original judges", "judgments ", "accuracy "):
        t.add_column(c, justify="left" if c in ("condition", "this study", "original judges") else "right")
    ref = (
        pl.DataFrame(reference)
        if reference
        else pl.DataFrame(schema={"transcript_id": pl.Utf8, "mode": pl.Utf8, "correct": pl.Boolean})
    )
    live = ref.filter(pl.col("mode") == "live") if ref.height else ref
    rows = []
    for cond in mine["condition"].unique(maintain_order=True).to_list():
        m = mine.filter(pl.col("condition") == cond)
        sessions = {s.split(":", 1)[1] for s in m["transcript"].to_list() if s and ":" in s}
        r = live.filter(pl.col("transcript_id").is_in(list(sessions))) if live.height else live
        kind = "simulated" if m["simulated"].all() else ("people" if not m["simulated"].any() else "mixed")
        # why the ignore below: mean() of a Float64 column is a float or None; height>0 here
        acc_new = float(m["correct"].cast(pl.Float64).mean()) if m.height else float("nan")  # type: ignore[arg-type]
        # why the ignore below: mean() of a Float64 column is a float or None; height>0 here
        acc_old = float(r["correct"].cast(pl.Float64).mean()) if r.height else float("nan")  # type: ignore[arg-type]
        t.add_row(
            cond,
            kind + (" (SYNTHETIC)" if kind != "people" else ""),
            str(m.height),
            _pct(acc_new),
            "people (imported)",
            str(r.height),
            _pct(acc_old),
        )
        rows.append(
            {
                "condition": cond,
                "judges": kind,
                "judgments": m.height,
                "accuracy": acc_new,
                "original_judgments": r.height,
                "original_accuracy": acc_old,
                "imported_from": sorted({x for x in m["repository"].to_list() if x}),
                "transcripts": sorted(sessions),
            }
        )
    return t, rows


def trajectory_sections(db: str | Path) -> TrajectorySections | None:
    """Report sections for a study with belief trajectories or replayed transcripts, else None.

    When a labeller holds the database's write lock, reads a snapshot copy (as analysis does). A PostgreSQL
    study that has either is read from a DuckDB snapshot (these readers are DuckDB SQL, `store/imported.py`).
    """
    if is_url(str(db)):
        return _postgres_sections(str(db))
    try:
        return _sections(db)
    except StudyLocked:
        tmpdir = Path(tempfile.mkdtemp(prefix="sandwich-snapshot-"))
        try:
            copy = tmpdir / Path(db).name
            shutil.copy2(db, copy)
            wal = Path(f"{db}.wal")
            if wal.exists():
                shutil.copy2(wal, Path(f"{copy}.wal"))
            return _sections(copy)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _postgres_sections(url: str) -> TrajectorySections | None:
    st = open_store(url, read_only=True)
    tmpdir = Path(tempfile.mkdtemp(prefix="sandwich-snapshot-"))
    try:
        if st.get_meta("replay_reference") is None and not st.interactions(event="belief"):
            return None
        st.snapshot(tmpdir / "study.duckdb")
        return _sections(tmpdir / "study.duckdb")
    finally:
        st.close()
        shutil.rmtree(tmpdir, ignore_errors=True)


def _sections(db: str | Path) -> TrajectorySections | None:
    from sandwich.store.imported import read_trajectory_frames, replay_reference

    reference, mine = replay_reference(db)
    frames = read_trajectory_frames(db)
    traj = trajectories(db, frames)
    if traj.is_empty() and not mine.height:
        return None
    out = TrajectorySections()
    if mine.height:
        table, rows = _replay_table(reference, mine)
        out.tables.append(table)
        out.data["replay"] = rows
        repos = sorted({x for r in rows for x in r["imported_from"]}) or ["an imported study"]
        out.notes.append(
            f"The help in this study is imported (backend 'imported'): "
            f"{sum(len(r['transcripts']) for r in rows)} transcripts from {', '.join(repos)}; "
            "the session behind each item is in results.json."
        )
    finals = frames[1]
    if finals.height and finals["client_meta"].str.contains('"imported": "nyu-debate"', literal=True).any():
        out.notes.append(
            "Time per item for imported NYU sessions is the wall-clock span of the session's "
            "timestamps (live sessions ran asynchronously over days): not reading time."
        )
    if traj.is_empty():
        return out
    rounds = by_round(traj)
    out.tables.append(_round_table(rounds))
    out.data["by_round"] = rounds.to_dicts()
    rewards = judge_rewards(db, frames)
    if rewards.height:
        out.tables.append(_reward_table(rewards))
        out.data["judge_reward"] = (
            rewards.group_by("condition")
            .agg(pl.len().alias("judgments"), pl.col("reward").mean().alias("mean_reward"))
            .sort("condition")
            .to_dicts()
        )
    pairs = interactive_vs_offline(db, frames)
    if pairs.height:
        out.tables.append(_offline_table(pairs))
        out.data["interactive_vs_offline"] = pairs.to_dicts()
    # why the ignore below: max() of an integer column is an int; polars stubs are wider
    if rounds["round"].max() > MAX_ROUNDS_SHOWN:  # type: ignore[operator]
        out.notes.append(f"Rounds after {MAX_ROUNDS_SHOWN} are in results.json (few judges go that long).")
    return out
