"""Import Khan et al. 2024 human judgments (ucl-dark/llm_debate, ``data/human_feedback.csv``).

One row is one judged debate, consultancy or baseline (fields as in the repository's
``data/dataset_readme.md``). Mapping:

- item = story title (or ``question_set_id``) + question; the two answers of the row's
  ``transcript.answers`` (correct, incorrect) stored in sorted order; gold = the correct one.
  The story text is omitted in the published file, so items carry no passage;
- shown order: answer A is the correct one unless ``swap`` is true (kept per judgment);
- condition = ``debate_method`` (debate, consultancy, baseline), ``-interactive`` when
  ``interactive_judge``; overseer = ``judge-<judge_id>``;
- choice = the correct answer when ``correct`` is true, else the other; confidence = ``confidence``
  (percent on the chosen answer), checked against ``confidence_correct``; rationale = ``explanation``;
- transcript = ``transcript.rounds`` as debate/consultancy assistance content, quotes kept as tagged
  (``<v_quote>`` verified, ``<u_quote>`` not) since the story is not in the file to check them against.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandwich.errors import DataError
from sandwich.importers.judgments import read_table
from sandwich.importers.observed import observed_config
from sandwich.importers.records import (
    ConditionRecord,
    ImportedJudgment,
    ImportedStudy,
    ImportSummary,
    Transcript,
)
from sandwich.tasks.base import Gold, Item
from sandwich.tasks.split import split_groups

LETTERS = "AB"
REPOSITORY = "ucl-dark/llm_debate"
NEEDED = [
    "debate_id",
    "judge_id",
    "question",
    "story_title",
    "debate_method",
    "interactive_judge",
    "swap",
    "correct",
    "confidence",
    "transcript",
]
QUOTE = re.compile(r"<(v_quote|u_quote|quote)>(.*?)</\1>", re.DOTALL)


def _bool(value: Any, where: str) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "t"):
        return True
    if text in ("false", "0", "no", "f", "", "none", "null"):
        return False
    raise DataError(f"{where}: expected true or false, got {value!r}")


def _percent(value: Any, where: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: expected a number, got {value!r}") from None
    x = 100 * x if x <= 1 else x  # the file's confidences are percentages; accept probabilities too
    if not 0 <= x <= 100:
        raise DataError(f"{where}: {x:g} is not a percentage")
    return x


def _turns(rounds: list[dict[str, Any]], letter: dict[str, str], kind: str) -> list[dict[str, Any]]:
    turns = []
    for n, r in enumerate(rounds, start=1):
        for side in ("correct", "incorrect"):
            text = r.get(side)
            if isinstance(text, dict):
                text = text.get("text") or json.dumps(text)
            if text:
                quotes = [{"text": q, "verified": tag == "v_quote"} for tag, q in QUOTE.findall(str(text))]
                turns.append(
                    {
                        "round": n,
                        "speaker": letter[side] if kind == "debate" else "consultant",
                        "text": str(text),
                        "quotes": quotes,
                        "original_speaker": side,
                    }
                )
        if r.get("judge"):
            turns.append({"round": n, "speaker": "judge", "text": str(r["judge"]), "quotes": []})
    return turns


def load_llm_debate(file: str | Path, *, experiments: list[str] | None = None) -> ImportedStudy:
    """Read a human_feedback.csv (or .parquet/.jsonl with the same columns) into an observed study."""
    path = Path(file)
    frame = read_table(path)
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} of the llm_debate human_feedback layout",
            hint=f"Expected the columns of {REPOSITORY} data/human_feedback.csv.",
        )
    summary = ImportSummary(source=f"{REPOSITORY} {path.name}")
    items: dict[str, Item] = {}
    gold: dict[str, Gold] = {}
    judgments: list[ImportedJudgment] = []
    transcripts: list[Transcript] = []
    seen: set[tuple[str, str]] = set()
    for n, row in enumerate(frame.iter_rows(named=True), start=1):

        def at(col: str, row_no: int = n) -> str:
            return f"{path} row {row_no} column {col!r}"

        summary.sessions += 1
        if experiments and str(row.get("experiment_name")) not in experiments:
            summary.skipped["experiment not selected"] += 1
            continue
        try:
            tr = json.loads(row["transcript"]) if isinstance(row["transcript"], str) else dict(row["transcript"])
        except (json.JSONDecodeError, TypeError, ValueError) as e:
            raise DataError(f"{at('transcript')}: not a JSON object: {e}") from None
        answers = tr.get("answers") or {}
        right, wrong = answers.get("correct"), answers.get("incorrect")
        if not right or not wrong or right == wrong:
            raise DataError(
                f"{at('transcript')}: transcript.answers needs two different 'correct' and 'incorrect' answers"
            )
        swap = _bool(row["swap"], at("swap"))
        shown = [wrong, right] if swap else [right, wrong]
        stored = sorted(shown)
        order = [stored.index(a) for a in shown]
        question = str(row["question"])
        story = str(row.get("question_set_id") or row["story_title"])
        item_id = f"quality-{hashlib.sha1(f'{story}|{question}'.encode()).hexdigest()[:12]}"
        if item_id not in items:
            items[item_id] = Item(
                item_id,
                "multiple-choice",
                story,
                str(row["story_title"]),
                question=question,
                choices=stored,
                meta={"source": "llm-debate", "passage": "omitted in the file"},
            )
            gold[item_id] = Gold(
                item_id,
                LETTERS[stored.index(right)],
                "dataset-label",
                {"answer_text": right, "from": f"{REPOSITORY} transcript.answers.correct"},
            )
        elif items[item_id].choices != stored:
            raise DataError(
                f"{at('transcript')}: answers {shown!r} differ from an earlier row's "
                f"{items[item_id].choices!r} for the same question"
            )
        method = str(row["debate_method"]).strip().lower()
        if method not in ("debate", "consultancy", "baseline"):
            raise DataError(f"{at('debate_method')}: {method!r} is not debate, consultancy or baseline")
        interactive = _bool(row["interactive_judge"], at("interactive_judge"))
        condition = method + ("-interactive" if interactive and method != "baseline" else "")
        overseer = f"judge-{str(row['judge_id']).strip()}"
        if (overseer, item_id) in seen:
            summary.skipped["same judge and item judged again (the earlier row is kept)"] += 1
            continue
        seen.add((overseer, item_id))
        correct = _bool(row["correct"], at("correct"))
        conf = _percent(row["confidence"], at("confidence"))
        if row.get("confidence_correct") not in (None, ""):
            cc = _percent(row["confidence_correct"], at("confidence_correct"))
            if abs(cc - (conf if correct else 100 - conf)) > 0.5:
                raise DataError(
                    f"{at('confidence_correct')}: {cc:g} contradicts correct={correct} with confidence {conf:g}"
                )
        right_letter = LETTERS[stored.index(right)]
        choice = right_letter if correct else LETTERS[1 - stored.index(right)]
        letter = {"correct": right_letter, "incorrect": LETTERS[1 - stored.index(right)]}
        tid = f"llm-debate:{row['debate_id']}"
        if method != "baseline":
            kind = method
            content: dict[str, Any] = {"turns": _turns(tr.get("rounds") or [], letter, kind), "imported": True}
            ans = {ltr: f"{ltr}. {stored[k]}" for k, ltr in enumerate(LETTERS)}
            if kind == "debate":
                content["answers"] = ans
            else:
                side = letter.get(str(row.get("consultant_type") or "").strip().lower(), "")
                content.update({"assigned_answer": ans.get(side, ""), "side": side})
            transcripts.append(
                Transcript(
                    tid,
                    item_id,
                    condition,
                    kind,
                    content,
                    {
                        "dataset": "llm-debate",
                        "repository": REPOSITORY,
                        "file": path.name,
                        "row": n,
                        "debate_id": str(row["debate_id"]),
                    },
                )
            )
        when = None
        if row.get("judgement_time"):
            try:
                t = datetime.fromisoformat(str(row["judgement_time"]))
                when = t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t
            except ValueError:
                when = None
        judgments.append(
            ImportedJudgment(
                f"llm-debate:{row['debate_id']}:{overseer}",
                overseer,
                item_id,
                condition,
                choice,
                round(conf),
                str(row.get("explanation") or "") or None,
                None,
                when,
                [],
                tid if method != "baseline" else None,
                {
                    "imported": "llm-debate",
                    "row": n,
                    "shown_choices": shown,
                    "shown_order": order,
                    "swap": swap,
                    "experiment": row.get("experiment_name"),
                    "turns_used": row.get("turns_used"),
                    "consultant_type": row.get("consultant_type"),
                    "mode": "live",
                },
            )
        )
        summary.included += 1
        summary.by_condition[condition] += 1
    if not judgments:
        raise DataError(f"{path}: no judgments to import" + (" for the selected experiments" if experiments else ""))
    split = split_groups([i.problem_id for i in items.values()], 0.7, 0)
    for it in items.values():
        it.split = split[it.problem_id]
    names = ["baseline", "consultancy", "consultancy-interactive", "debate", "debate-interactive"]
    conds = [ConditionRecord(c, [] if c == "baseline" else [c.split("-")[0]]) for c in names if summary.by_condition[c]]
    text, _ = observed_config(
        "llm-debate",
        "Does debate help human judges find the truth (Khan et al. 2024)?",
        f"Imported from {REPOSITORY} data/human_feedback.csv (Khan et al. 2024, arXiv 2402.06782).",
        conds,
        source="import:llm-debate",
        confidence=list(range(101)),
    )
    return ImportedStudy(
        "llm-debate",
        text,
        list(items.values()),
        list(gold.values()),
        conds,
        sorted({j.overseer for j in judgments}),
        judgments,
        transcripts,
        summary,
        {"dataset": "llm-debate", "repository": REPOSITORY, "file": str(path), "experiments": experiments or []},
    )
