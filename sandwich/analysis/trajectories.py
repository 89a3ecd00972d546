"""Belief trajectories: how a judge's probability on the right answer moves round by round.

Imported debate and consultancy sessions (`sandwich import nyu-debate`) record the judge's
probabilities after every round (interactions with event ``belief``) and the final judgment.
From them:

- `trajectories`: one row per judgment and step with ``p_correct``, the probability on the gold answer;
- `by_round`: per condition and round, accuracy (``p_correct > 0.5``, as Michael et al. 2023 score
  judges) and Brier score ``(1 − p_correct)²``, each judge's latest belief carried forward so every
  round counts the same judges (a judge who stopped early keeps their final answer);
- `judge_rewards`: the session's scoring rule where it defines one — ``LogScoreWithLinearPenalty``:
  ``baseCoefficient · log_logBase(p_correct) + constant − perTurnPenalty · continues``, continues being
  the rounds the judge asked for before deciding (julianmichael/debate, ``ScoringFunction.scala``);
- `interactive_vs_offline`: live judges against offline judges of the same transcripts.

SQL-free: the frames come from `sandwich.store.imported.read_trajectory_frames`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl

from sandwich.tasks.multiple_choice import LETTERS

TRAJECTORY_SCHEMA = {
    "judgment_id": pl.Utf8,
    "overseer": pl.Utf8,
    "condition": pl.Utf8,
    "item_id": pl.Utf8,
    "step": pl.Int64,
    "round": pl.Int64,
    "p_correct": pl.Float64,
    "final": pl.Boolean,
}


def _p_correct(probs: list[float] | None, gold: str | None) -> float | None:
    if probs is None or gold is None or gold not in LETTERS[: len(probs)]:
        return None
    return float(probs[LETTERS.index(gold)])


def _final_probs(choice: str | None, confidence: int | None, meta: dict[str, Any], n: int = 2) -> list[float] | None:
    """The final probabilities: exact ones when the import kept them, else from a two-way choice + confidence."""
    if isinstance(meta.get("probabilities"), list):
        return [float(p) for p in meta["probabilities"]]
    if choice is None or confidence is None or choice not in LETTERS[:n] or n != 2:
        return None
    c = confidence / 100.0
    return [c, 1 - c] if choice == "A" else [1 - c, c]


Frames = tuple[pl.DataFrame, pl.DataFrame]


def _frames(db: str | Path, frames: Frames | None) -> Frames:
    if frames is not None:
        return frames
    from sandwich.store.imported import read_trajectory_frames

    return read_trajectory_frames(db)


def trajectories(db: str | Path, frames: Frames | None = None) -> pl.DataFrame:
    """Per judgment with a trajectory: every step, the final one last (``final`` true). Lead side (uses gold).

    `frames`: (beliefs, finals) already read with `read_trajectory_frames`, to read the database once.
    """
    beliefs, finals = _frames(db, frames)
    rows: list[dict[str, Any]] = []
    last_step: dict[str, tuple[int, int]] = {}
    for r in beliefs.iter_rows(named=True):
        rows.append(
            {
                "judgment_id": r["judgment_id"],
                "overseer": r["overseer"],
                "condition": r["condition"],
                "item_id": r["item_id"],
                "step": r["step"],
                "round": r["round"],
                "p_correct": _p_correct(json.loads(r["probabilities"]), r["gold"]),
                "final": False,
            }
        )
        last_step[r["judgment_id"]] = (r["step"], r["round"])
    for r in finals.iter_rows(named=True):
        if r["judgment_id"] not in last_step:
            continue  # no trajectory recorded: nothing to trace over rounds
        meta = json.loads(r["client_meta"]) if r["client_meta"] else {}
        step, rnd = last_step[r["judgment_id"]]
        rows.append(
            {
                "judgment_id": r["judgment_id"],
                "overseer": r["overseer"],
                "condition": r["condition"],
                "item_id": r["item_id"],
                "step": step + 1,
                "round": int(meta.get("final_round", rnd + 1)),
                "p_correct": _p_correct(_final_probs(r["choice"], r["confidence"], meta), r["gold"]),
                "final": True,
            }
        )
    return pl.DataFrame(rows, schema=TRAJECTORY_SCHEMA)


def by_round(traj: pl.DataFrame) -> pl.DataFrame:
    """Per condition and round: judges, accuracy and Brier of the latest belief (carried forward)."""
    if traj.is_empty():
        return pl.DataFrame(
            schema={
                "condition": pl.Utf8,
                "round": pl.Int64,
                "judges": pl.UInt32,
                "still_judging": pl.UInt32,
                "accuracy": pl.Float64,
                "brier": pl.Float64,
            }
        )
    t = traj.filter(pl.col("p_correct").is_not_null())
    # the latest belief per judgment and round (several steps can share a round offline)
    latest = t.sort("step").group_by("judgment_id", "round").last()
    out = []
    for cond in t["condition"].unique(maintain_order=True).to_list():
        c = latest.filter(pl.col("condition") == cond)
        rounds = sorted(set(c["round"].to_list()))
        for rnd in rounds:
            upto = c.filter(pl.col("round") <= rnd).sort("round").group_by("judgment_id").last()
            still = c.filter(pl.col("round") >= rnd)["judgment_id"].n_unique()
            p = upto["p_correct"].to_numpy()
            out.append(
                {
                    "condition": cond,
                    "round": rnd,
                    "judges": upto.height,
                    "still_judging": still,
                    "accuracy": float((p > 0.5).mean()),
                    "brier": float(((1 - p) ** 2).mean()),
                }
            )
    return pl.DataFrame(out).sort("condition", "round")


def log_score_with_linear_penalty(p_correct: float, continues: int, rule: dict[str, Any]) -> float:
    """``baseCoefficient · log_logBase(p) + constant − perTurnPenalty · continues`` (−inf at p = 0)."""
    if p_correct <= 0:
        return -math.inf
    return (
        float(rule.get("baseCoefficient", 1.0)) * math.log(p_correct, float(rule.get("logBase", 2.0)))
        + float(rule.get("constant", 0.0))
        - float(rule.get("perTurnPenalty", 0.0)) * continues
    )


def judge_rewards(db: str | Path, frames: Frames | None = None) -> pl.DataFrame:
    """Per live judgment whose session defines LogScoreWithLinearPenalty: the reward, and the recorded one."""
    beliefs, finals = _frames(db, frames)
    continues = dict(beliefs.group_by("judgment_id").len().iter_rows())
    rows = []
    for r in finals.iter_rows(named=True):
        meta = json.loads(r["client_meta"]) if r["client_meta"] else {}
        rule = meta.get("scoring_rule")
        if meta.get("mode") != "live" or not rule or rule.get("kind") != "LogScoreWithLinearPenalty":
            continue
        p = _p_correct(_final_probs(r["choice"], r["confidence"], meta), r["gold"])
        if p is None:
            continue
        n = int(continues.get(r["judgment_id"], 0))
        rows.append(
            {
                "judgment_id": r["judgment_id"],
                "condition": r["condition"],
                "continues": n,
                "p_correct": p,
                "reward": log_score_with_linear_penalty(p, n, rule),
                "recorded": meta.get("judge_reward"),
            }
        )
    schema = {
        "judgment_id": pl.Utf8,
        "condition": pl.Utf8,
        "continues": pl.Int64,
        "p_correct": pl.Float64,
        "reward": pl.Float64,
        "recorded": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def interactive_vs_offline(db: str | Path, frames: Frames | None = None) -> pl.DataFrame:
    """Per condition: live judges vs offline judges who read the same transcripts (sessions with both).

    Columns: condition, sessions, live_accuracy, offline_accuracy, agree (share of sessions where the
    live judge and the (first) offline judge chose the same answer).
    """
    _, finals = _frames(db, frames)
    rows = []
    for r in finals.iter_rows(named=True):
        meta = json.loads(r["client_meta"]) if r["client_meta"] else {}
        if not meta.get("transcript_id") or not meta.get("mode"):
            continue
        rows.append(
            {
                "transcript_id": meta["transcript_id"],
                "offline": str(meta["mode"]).startswith("offline"),
                "condition": r["condition"].removeprefix("offline-"),
                "choice": r["choice"],
                "correct": r["gold"] is not None and r["choice"] == r["gold"],
            }
        )
    schema = {
        "condition": pl.Utf8,
        "sessions": pl.UInt32,
        "live_accuracy": pl.Float64,
        "offline_accuracy": pl.Float64,
        "agree": pl.Float64,
    }
    if not rows:
        return pl.DataFrame(schema=schema)
    f = pl.DataFrame(rows)
    live = f.filter(~pl.col("offline")).group_by("transcript_id").first()
    off = f.filter(pl.col("offline")).sort("transcript_id").group_by("transcript_id", maintain_order=True).first()
    pairs = live.join(
        off.select("transcript_id", pl.col("choice").alias("off_choice"), pl.col("correct").alias("off_correct")),
        on="transcript_id",
    )
    if pairs.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        pairs.group_by("condition")
        .agg(
            pl.len().cast(pl.UInt32).alias("sessions"),
            pl.col("correct").cast(pl.Float64).mean().alias("live_accuracy"),
            pl.col("off_correct").cast(pl.Float64).mean().alias("offline_accuracy"),
            (pl.col("choice") == pl.col("off_choice")).cast(pl.Float64).mean().alias("agree"),
        )
        .sort("condition")
        .select(list(schema))
    )
