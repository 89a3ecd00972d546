"""Replay imported transcripts to new overseers: a new study whose precomputed help is real sessions.

`sandwich import replay SOURCE.duckdb --study NEW.yaml --db NEW.duckdb` builds a dealt study (the
study file's design, overseers and conditions) on items taken from an imported study:

- a condition of the new study gets the transcripts of the source condition with the same name, or,
  when there is none, of any source condition with the same assistance kind;
- items are those with such a transcript for every assisted condition, a seeded sample of `items`;
  one transcript per item and condition (the first by id) becomes that condition's assistance,
  stored with ``backend = 'imported'``, the source session as ``model`` and the whole source record
  in ``params`` — so every report can say the help was imported, and from where;
- the two choices of some items are reversed (transcripts relabelled to match) so the right answer is
  A for half of the items: imported items keep one fixed order, which need not be balanced;
- the original judge's own messages are dropped from the transcript (they reveal that judge's belief)
  unless `keep_judge` is set;
- the original judges' final answers on the same transcripts are kept as a reference
  (meta ``replay_reference``), which analysis reports beside the new judges' — never blended with them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandwich.assignment import Assignment, plan
from sandwich.errors import SandwichError
from sandwich.importers.records import Transcript
from sandwich.studyfile import StudyFile
from sandwich.tasks.base import Gold, Item


@dataclass
class ReplayStudy:
    """A dealt study whose assistance is imported transcripts."""

    study_file: StudyFile
    items: list[Item]
    gold: list[Gold]
    assignments: list[Assignment]
    assistance: list[dict[str, Any]]  # rows for the assistance table
    reference: list[dict[str, Any]] = field(default_factory=list)  # original judges on the same transcripts
    source: dict[str, Any] = field(default_factory=dict)


def _pick(transcripts: list[Transcript], condition: str, kind: str) -> dict[str, Transcript]:
    same = [t for t in transcripts if t.condition == condition and t.kind == kind]
    pool = same or [t for t in transcripts if t.kind == kind]
    out: dict[str, Transcript] = {}
    for t in sorted(pool, key=lambda t: t.transcript_id):
        out.setdefault(t.item_id, t)
    return out


def build_replay(
    source_db: str | Path, sf: StudyFile, *, items: int | None = None, keep_judge: bool = False, seed: int = 0
) -> ReplayStudy:
    """Plan a replay study from an imported database. Raises SandwichError when it cannot be built."""
    from sandwich.store.imported import (
        read_imported_items,
        read_original_judgments,
        read_transcripts,
    )

    study = sf.study
    if study.overseers.design == "observed":
        raise SandwichError(f"{sf.path}: a replay study deals its own plan; use a within- or between-subjects design.")
    transcripts = read_transcripts(source_db)
    if not transcripts:
        raise SandwichError(
            f"{source_db}: no imported transcripts to replay.",
            hint="Import a study first: sandwich import nyu-debate PATH --db SOURCE.duckdb",
        )
    chosen: dict[str, dict[str, Transcript]] = {}
    imported = sorted({t.kind for t in transcripts})  # the kinds of help the source study's sessions gave
    for c in study.conditions:
        for kind in c.kinds:
            if kind not in imported:
                raise SandwichError(
                    f"{sf.path}: condition {c.name!r} asks for {kind!r}; the imported transcripts "
                    f"are {' and '.join(imported)} only."
                )
            chosen[c.name] = _pick(transcripts, c.name, kind)
            if not chosen[c.name]:
                raise SandwichError(f"{source_db}: no imported {kind} transcript for condition {c.name!r}.")
    pool = set.intersection(*(set(v) for v in chosen.values())) if chosen else {t.item_id for t in transcripts}
    ordered = sorted(pool)
    random.Random(f"replay:{seed}").shuffle(ordered)
    pool_ids = sorted(ordered[:items] if items else ordered)
    if not pool_ids:
        raise SandwichError("No item has a transcript for every assisted condition of the study.")
    all_items, all_gold = read_imported_items(source_db, pool_ids)
    if kinds := sorted({i.task_kind for i in all_items} - {study.task.kind}):  # the items keep their own kind
        raise SandwichError(
            f"{sf.path}: the imported items are {', '.join(kinds)} items, not {study.task.kind}; "
            f"set task.kind: {kinds[0]}."
        )
    flipped = balance_gold(all_items, all_gold, seed)
    ov = study.overseers
    assert ov.items_per_overseer is not None  # required for dealt designs
    assignments = plan(
        pool_ids,
        [c.name for c in study.conditions],
        ov.non_experts,
        ov.items_per_overseer,
        design=ov.design,
        experts=ov.experts,
        expert_condition=study.expert_condition,
        seed=ov.seed,
    )
    rows, used = [], []
    for cond, by_item in chosen.items():
        for item_id in pool_ids:
            t = by_item[item_id]
            content = flip_content(t.content) if item_id in flipped else dict(t.content)
            if not keep_judge:
                content["turns"] = [x for x in content.get("turns", []) if x.get("speaker") != "judge"]
            rows.append(
                {
                    "assistance_id": f"replay:{cond}:{item_id}",
                    "item_id": item_id,
                    "condition": cond,
                    "kind": t.kind,
                    "content": content,
                    "model": f"{t.source.get('dataset', 'imported')}:{t.transcript_id}",
                    "params": {
                        "imported": True,
                        "source": t.source,
                        "source_db": str(source_db),
                        "judge_turns": keep_judge,
                    },
                }
            )
            used.append(t.transcript_id)
    reference = read_original_judgments(source_db, used)
    return ReplayStudy(
        sf,
        all_items,
        all_gold,
        assignments,
        rows,
        reference,
        {
            "source_db": str(Path(source_db).resolve()),
            "transcripts": len(set(used)),
            "choices_reversed": sorted(flipped),
        },
    )


def balance_gold(items: list[Item], gold: list[Gold], seed: int) -> set[str]:
    """Reverse the two choices of some items so the right answer is A for half of them (seeded).

    Imported items keep their answers in one fixed (sorted) order, which can put the right answer
    at B far more often than at A (42 of 60 in the shared NYU sample): a new judge who always says B
    would then look skilled. Returns the ids of the items whose choices were reversed (in place).
    """
    by_id = {g.item_id: g for g in gold}
    two = sorted(i.item_id for i in items if len(i.choices) == 2 and i.item_id in by_id)
    rng = random.Random(f"balance:{seed}")
    rng.shuffle(two)
    half = len(two) // 2 + (len(two) % 2 if rng.random() < 0.5 else 0)  # an odd one out goes either way
    want_a = set(two[:half])
    flipped = set()
    for item in items:
        g = by_id.get(item.item_id)
        if item.item_id not in two or g is None or (g.label == "A") == (item.item_id in want_a):
            continue
        item.choices = item.choices[::-1]
        item.meta = {**item.meta, "choices_reversed_from_source": True}
        g.label = "A" if g.label == "B" else "B"
        flipped.add(item.item_id)
    return flipped


def flip_content(content: dict[str, Any]) -> dict[str, Any]:
    """A transcript relabelled for an item whose two choices were reversed (A ↔ B)."""
    swap = {"A": "B", "B": "A"}
    out = dict(content)
    if "answers" in out:
        out["answers"] = {
            swap[k]: f"{swap[k]}{v[1:]}" if v[:2] in ("A.", "B.") else v for k, v in out["answers"].items()
        }
    if out.get("side") in swap:
        out["side"] = swap[out["side"]]
        out["assigned_answer"] = f"{out['side']}{str(out.get('assigned_answer', ''))[1:]}"
    out["turns"] = [{**t, "speaker": swap.get(t.get("speaker"), t.get("speaker"))} for t in out.get("turns", [])]
    return out
