"""Import the NYU debate experiments (Michael et al. 2023, arXiv 2311.08702) as an observed study.

Reads a folder laid out like the public repository julianmichael/debate:
``debates-metadata.jsonl`` (one session per line) and ``debates/official/<name>.json``.

- item = QuALITY article + question; the passage is rebuilt from the article tokens; the two
  answers are stored in one fixed order (sorted), gold is ``setup.correctAnswerIndex``;
- condition = human-/ai- (``setting.isHuman``) × debate/consultancy (``setting.isDebate``),
  and ``offline-…`` for judges who read a finished transcript afterwards;
- judgment = the judge's final ``JudgeFeedback``: choice = the answer given more than 50%
  (exactly 50/50 is recorded as ``tie`` and never counts as correct, as in the paper's
  accuracy "probability on the correct answer above 0.5"), confidence = that probability;
- every earlier ``JudgeFeedback`` is a point of the judge's belief trajectory.

By default, sessions not ``includedInPaper`` and sessions never judged to the end are left
out and counted in the summary; ``include_all`` keeps the former.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandwich.errors import DataError
from sandwich.importers.nyu_transcript import (
    offline_beliefs,
    scoring_rule,
    walk_rounds,
    when,
)
from sandwich.importers.observed import observed_config
from sandwich.importers.records import (
    TIE,
    Belief,
    ConditionRecord,
    ImportedJudgment,
    ImportedStudy,
    ImportSummary,
    Transcript,
)
from sandwich.importers.text import Passage, detokenize
from sandwich.tasks.base import Gold, Item
from sandwich.tasks.split import split_groups

LETTERS = "AB"
REPOSITORY = "julianmichael/debate"
CONDITIONS = ["human-debate", "human-consultancy", "ai-debate", "ai-consultancy"]
BRIEFING = {
    "debate": "Two debaters argue for opposite answers; only one is right. Quotes are checked against the story.",
    "consultancy": "One consultant argues for one answer, which may be the wrong one. Quotes are "
    "checked against the story.",
}


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-empty line; a bad line raises DataError with file:line:col."""
    if not path.exists():
        raise DataError(
            f"{path}: no such file.",
            hint="PATH must be a folder laid out like julianmichael/debate "
            "(debates-metadata.jsonl and debates/official/*.json).",
        )
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{path}:{n}:{e.colno}: not valid JSON: {e.msg}",
                    hint="Fix or remove that line; nothing was written.",
                ) from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{n}:1: expected a JSON object per line")
            yield n, obj


def read_session(path: Path) -> dict[str, Any]:
    """A session file, with file:line:col on bad JSON."""
    if not path.exists():
        raise DataError(
            f"{path}: the metadata names this session but its file is missing.",
            hint="Copy the whole debates/official folder, or remove the session from the metadata.",
        )
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    for key in ("setup", "rounds"):
        if key not in obj:
            raise DataError(f"{path}: missing field {key!r}; is this a julianmichael/debate session file?")
    return obj


def condition_of(setting: dict[str, Any]) -> str:
    """human-/ai- × debate/consultancy from a session's `setting`."""
    return ("human-" if setting.get("isHuman") else "ai-") + ("debate" if setting.get("isDebate") else "consultancy")


def judging_info(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The metadata's final judgement, or None when the session was never judged to the end."""
    result = ((meta.get("status") or {}).get("Complete") or {}).get("result") or {}
    return result.get("judgingInfo")


class _Builder:
    """Accumulates items, gold, judgments and transcripts over sessions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.passages: dict[str, Passage] = {}
        self.items: dict[str, Item] = {}
        self.gold: dict[str, Gold] = {}
        self.judgments: list[ImportedJudgment] = []
        self.transcripts: list[Transcript] = []

    def item(self, setup: dict[str, Any], where: str) -> tuple[str, list[int]]:
        """The item id for a session's article + question, and shown→stored answer order; checks gold."""
        src = (setup.get("sourceMaterial") or {}).get("QuALITYSourceMaterial")
        if not src:
            raise DataError(
                f"{where}: setup.sourceMaterial has no QuALITYSourceMaterial (only QuALITY sessions are supported)"
            )
        article, answers, question = str(src["articleId"]), list(setup["answers"]), str(setup["question"])
        if len(answers) != 2 or len(set(answers)) != 2:
            raise DataError(f"{where}: setup.answers must be two different answers, got {answers!r}")
        stored = sorted(answers)
        order = [stored.index(a) for a in answers]
        digest = hashlib.sha1(question.strip().encode()).hexdigest()[:10]
        item_id = f"quality-{article}-{digest}"
        right = stored[order[int(setup["correctAnswerIndex"])]]
        if item_id not in self.items:
            if article not in self.passages:
                self.passages[article] = detokenize(src["contents"])
            self.items[item_id] = Item(
                item_id=item_id,
                task_kind="multiple-choice",
                problem_id=article,
                title=str(src.get("title") or article),
                body=self.passages[article].text,
                question=question,
                choices=stored,
                meta={"source": "nyu-debate", "quality_article_id": article},
            )
            self.gold[item_id] = Gold(
                item_id,
                LETTERS[stored.index(right)],
                "dataset-label",
                {"answer_text": right, "from": f"{REPOSITORY} setup.correctAnswerIndex", "first_session": where},
            )
        elif self.items[item_id].choices != stored:
            raise DataError(
                f"{where}: question {question!r} has answers {answers!r} here but "
                f"{self.items[item_id].choices!r} in {self.gold[item_id].detail['first_session']}"
            )
        elif self.gold[item_id].detail["answer_text"] != right:
            raise DataError(
                f"{where}: the correct answer to {question!r} is {right!r} here but "
                f"{self.gold[item_id].detail['answer_text']!r} in "
                f"{self.gold[item_id].detail['first_session']}",
                hint="Imported gold must be exactly what the data says; the data contradicts itself.",
            )
        return item_id, order


def _judgment(
    jid: str,
    judge: str,
    item_id: str,
    condition: str,
    beliefs: list[Belief],
    start: Any,
    transcript_id: str,
    meta: dict[str, Any],
) -> ImportedJudgment:
    final = beliefs[-1]
    top = max(final.probabilities)
    winners = [k for k, p in enumerate(final.probabilities) if p == top]
    choice = LETTERS[winners[0]] if len(winners) == 1 else TIE
    began = when(start)
    secs = (final.ts - began).total_seconds() if final.ts and began else None
    return ImportedJudgment(
        jid,
        judge,
        item_id,
        condition,
        choice,
        round(100 * top),
        final.message or None,
        secs,
        final.ts,
        beliefs[:-1],
        transcript_id,
        {**meta, "probabilities": final.probabilities, "final_round": final.round},
    )


def _content(kind: str, turns: list[dict[str, Any]], shown: list[str], order: list[int]) -> dict[str, Any]:
    """Turns relabelled by the stored choice each debater defends (A/B), as sandwich's own debates are."""
    stored = sorted(shown)
    side = {"Debater A": LETTERS[order[0]], "Debater B": LETTERS[order[1]]}
    out = []
    for t in turns:
        sp = t["speaker"]
        label = (
            "judge"
            if sp == "Judge"
            else ("debaters" if sp == "Debaters" else side.get(sp, sp) if kind == "debate" else "consultant")
        )
        out.append({**{k: v for k, v in t.items() if k != "speaker"}, "speaker": label, "original_speaker": sp})
    answers = {ltr: f"{ltr}. {stored[n]}" for n, ltr in enumerate(LETTERS)}
    if kind == "debate":
        return {"answers": answers, "turns": out, "imported": True}
    consultant = next((t["speaker"] for t in turns if t["speaker"].startswith("Debater")), "Debater A")
    return {
        "assigned_answer": answers[side.get(consultant, "A")],
        "side": side.get(consultant, "A"),
        "turns": out,
        "imported": True,
    }


def load_nyu_debate(path: str | Path, *, include_all: bool = False) -> ImportedStudy:
    """Read a julianmichael/debate data folder into an observed study (no database is touched).

    Raises DataError (with file:line:col where it applies) on malformed or self-contradicting data.
    """
    root = Path(path)
    meta_path = root / "debates-metadata.jsonl"
    summary = ImportSummary(source=f"{REPOSITORY} at {root}")
    b = _Builder(root)
    for line, meta in read_jsonl(meta_path):
        summary.sessions += 1
        name = str(meta.get("name", ""))
        where_meta = f"{meta_path}:{line}"
        info = judging_info(meta)
        offline_meta = ((meta.get("status") or {}).get("Complete") or {}).get("offlineJudgingResults") or {}
        if not meta.get("includedInPaper") and not include_all:
            summary.skipped["not in the paper (includedInPaper false)"] += 1
            summary.offline_skipped["session not in the paper"] += len(offline_meta)
            continue
        session_path = root / "debates" / "official" / f"{name}.json"
        if info is None and not offline_meta:
            summary.skipped["never judged to the end"] += 1
            continue
        data = read_session(session_path)
        setup = data["setup"]
        where = str(session_path)
        item_id, order = b.item(setup, where)
        if info is not None and int(info["correctAnswerIndex"]) != int(setup["correctAnswerIndex"]):
            raise DataError(
                f"{where_meta}: correctAnswerIndex {info['correctAnswerIndex']} disagrees with "
                f"{where} setup.correctAnswerIndex {setup['correctAnswerIndex']}"
            )
        base = condition_of(meta.get("setting") or {})
        kind = "debate" if base.endswith("debate") else "consultancy"
        passage = b.passages[str(setup["sourceMaterial"]["QuALITYSourceMaterial"]["articleId"])]
        turns, beliefs, offline = walk_rounds(data["rounds"], passage, order, where)
        b.transcripts.append(
            Transcript(
                name,
                item_id,
                base,
                kind,
                _content(kind, turns, setup["answers"], order),
                {
                    "dataset": "nyu-debate",
                    "repository": REPOSITORY,
                    "file": f"debates/official/{name}.json",
                    "session": name,
                    "roles": setup.get("roles") or {},
                },
            )
        )
        common = {
            "imported": "nyu-debate",
            "session": name,
            "shown_choices": list(setup["answers"]),
            "shown_order": order,
            "included_in_paper": bool(meta.get("includedInPaper")),
            "scoring_rule": scoring_rule(setup.get("rules") or {}),
        }
        judge = (setup.get("roles") or {}).get("Judge") or (meta.get("roleAssignments") or {}).get("Judge")
        if info is None or not judge or not beliefs or not beliefs[-1].final:
            summary.skipped["never judged to the end"] += 1
        else:
            final = info["finalJudgement"]
            mine = [beliefs[-1].probabilities[order[k]] for k in range(len(order))]
            if any(abs(a - float(x)) > 1e-9 for a, x in zip(mine, final, strict=True)):
                raise DataError(
                    f"{where_meta}: finalJudgement {final} disagrees with the last JudgeFeedback in {where}"
                )
            first = min((t["ts"] for t in turns if isinstance(t.get("ts"), (int, float))), default=None)
            b.judgments.append(
                _judgment(
                    f"nyu:{name}:judge",
                    judge,
                    item_id,
                    base,
                    beliefs,
                    first,
                    name,
                    {
                        **common,
                        "mode": "live",
                        "judge_reward": info.get("judgeReward"),
                        "num_continues": info.get("numContinues"),
                        "ended_by": next(iter(meta["status"]["Complete"]["result"].get("endedBy") or {"?": 0})),
                    },
                )
            )
            summary.included += 1
        for judge_name, result in sorted((offline or offline_meta).items()):
            steps, mode = offline_beliefs(result, order, f"{where} offline judge {judge_name!r}")
            if not steps or not steps[-1].final:
                summary.offline_skipped["offline judging not finished"] += 1
                continue
            b.judgments.append(
                _judgment(
                    f"nyu:{name}:offline:{judge_name}",
                    judge_name,
                    item_id,
                    f"offline-{base}",
                    steps,
                    result.get("startTimeMillis"),
                    name,
                    {**common, "mode": f"offline-{mode}"},
                )
            )
            summary.offline_included += 1
    judgments = _one_per_overseer_and_item(b.judgments, summary)
    for j in judgments:
        summary.by_condition[j.condition] += 1
    order_ = CONDITIONS + [f"offline-{c}" for c in CONDITIONS]
    conditions = [
        ConditionRecord(
            c,
            ["debate" if c.endswith("debate") else "consultancy"],
            BRIEFING["debate" if c.endswith("debate") else "consultancy"],
        )
        for c in order_
        if summary.by_condition[c]
    ]
    if not judgments:
        raise DataError(
            f"{meta_path}: no session was judged to the end"
            + ("" if include_all else " among those included in the paper")
            + "; nothing to import.",
            hint="Check the folder, or pass --all to include sessions outside the paper.",
        )
    split = split_groups([i.problem_id for i in b.items.values()], 0.7, 0)
    for it in b.items.values():
        it.split = split[it.problem_id]
    text, _ = observed_config(
        "nyu-debate",
        "Does debate help non-expert judges supervise unreliable experts better than consultancy?",
        "Imported from julianmichael/debate (Michael et al. 2023, arXiv 2311.08702; MIT licence). "
        + ("All judged sessions." if include_all else "Sessions included in the paper."),
        conditions,
        source="import:nyu-debate",
    )
    overseers = sorted({j.overseer for j in judgments})
    return ImportedStudy(
        "nyu-debate",
        text,
        list(b.items.values()),
        list(b.gold.values()),
        conditions,
        overseers,
        judgments,
        b.transcripts,
        summary,
        {"dataset": "nyu-debate", "repository": REPOSITORY, "path": str(root), "include_all": include_all},
    )


def _one_per_overseer_and_item(judgments: list[ImportedJudgment], summary: ImportSummary) -> list[ImportedJudgment]:
    """The study holds one judgment per overseer and item: keep the earliest, count the rest."""
    seen: set[tuple[str, str]] = set()
    out = []
    for j in sorted(judgments, key=lambda j: (j.created_at is None, j.created_at or 0, j.judgment_id)):
        key = (j.overseer, j.item_id)
        if key in seen:
            why = "same judge and item judged again (the earlier judgment is kept)"
            if j.meta.get("mode") == "live":
                summary.included -= 1
                summary.skipped[why] += 1
            else:
                summary.offline_included -= 1
                summary.offline_skipped[why] += 1
            continue
        seen.add(key)
        out.append(j)
    return out
