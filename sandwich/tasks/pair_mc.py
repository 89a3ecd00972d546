"""`multiple-choice-pairs`: two answers of the study's assistant to a multiple-choice question, each with its
reasoning; gold is the one whose answer is right.

Precompute step (run when the task is built): the assistant answers every question `task.samples` times at
`task.temperature` (seeds task.seed, task.seed + 1, …; best-of-n sampling), each time reasoning first and ending
with "Answer: X". A letter the reply does not state is asked for once more, constrained to the choices. A
question becomes a pair when its samples disagree with one right and one wrong (the first of each); questions
whose samples all agree, or are all wrong, are left out and counted in the task's notes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sandwich import compose
from sandwich.config import MultipleChoiceTask
from sandwich.tasks.base import Gold, Item, TaskData
from sandwich.tasks.multiple_choice import LETTERS, _text, decide_reading, read_rows
from sandwich.tasks.multiple_choice import _reading as answer_index

ASK = (
    "Answer the question below. Think it through in a few sentences, then end with a last line "
    "'Answer: X', where X is the letter of your choice.\n\n{question}"
)
SYSTEM = "You are a careful assistant. Be concrete and brief."
_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:=]?\s*\(?([A-Z])\b[).]?", re.IGNORECASE)


def question_text(passage: str, question: str, choices: list[str]) -> str:
    """The question as the model reads it and as a pair's prompt: passage, question, lettered choices."""
    parts = [f"Passage:\n{passage.strip()}\n"] if passage.strip() else []
    parts.append(f"Question: {question}")
    parts += [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)]
    return "\n".join(parts)


def stated_letter(text: str, n_choices: int) -> str | None:
    """The last 'Answer: X' in a reply, when X is one of the first `n_choices` letters."""
    found = [m.group(1).upper() for m in _ANSWER.finditer(text)]
    return found[-1] if found and found[-1] in LETTERS[:n_choices] else None


def load_mc_pairs(task: Any, study: Any, base: Path, *, backend_factory: Any = None) -> TaskData:
    """Pairs of the assistant's answers to each question of `task.questions` (a multiple-choice file)."""
    from sandwich.tasks.pair_sources import _pair_item, _split, choices, prompt_hash

    mc = MultipleChoiceTask(
        kind="multiple-choice",
        source=task.questions,
        columns=task.question_columns,
        answer_format=task.answer_format,
        limit=task.limit,
        hf_config=task.hf_config,
        hf_split=task.hf_split,
    )
    rows, where = read_rows(mc, base)
    reading, _ = decide_reading(rows, mc.answer_format, where)
    cols = task.question_columns
    prompts, truth = [], []
    for r in rows:
        passage = _text(r.record[cols.passage]) if cols.passage else ""
        prompts.append(question_text(passage, _text(r.record[cols.question]), r.choices))
        idx = answer_index(r.answer, r.choices, reading)
        assert idx is not None  # decide_reading checked every row
        truth.append(LETTERS[idx])
    backend = (backend_factory or compose.backend_factory())(study.assistant)
    convs = [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ASK.format(question=p)}] for p in prompts
    ]
    samples: list[list[tuple[str, str]]] = [[] for _ in rows]
    for s in range(task.samples):
        gens = backend.generate(
            convs, max_tokens=study.assistant.max_tokens, temperature=task.temperature, seed=task.seed + s
        )
        letters = [stated_letter(g.text, len(r.choices)) for g, r in zip(gens, rows, strict=True)]
        missing = [k for k, x in enumerate(letters) if x is None]
        for k in missing:  # the reply did not say: ask for the letter, constrained to the choices
            follow = [
                *convs[k],
                {"role": "assistant", "content": gens[k].text},
                {"role": "user", "content": "Your answer, as one letter:"},
            ]
            [g] = backend.generate(
                [follow],
                max_tokens=4,
                temperature=0.0,
                seed=task.seed + s,
                choices=list(LETTERS[: len(rows[k].choices)]),
            )
            letters[k] = g.text.strip()[:1].upper()
        for k, (g, letter) in enumerate(zip(gens, letters, strict=True)):
            if letter:
                samples[k].append((letter, g.text.strip()))
    items: list[Item] = []
    gold: list[Gold] = []
    agreed = all_wrong = 0
    for k, r in enumerate(rows):
        right = next((s for s in samples[k] if s[0] == truth[k]), None)
        wrong = next((s for s in samples[k] if s[0] != truth[k]), None)
        if right is None or wrong is None:
            agreed += right is not None
            all_wrong += right is None
            continue

        def response(sample: tuple[str, str], choices: list[str] = r.choices) -> str:
            letter, text = sample
            body = _ANSWER.sub("", text).strip() if stated_letter(text, len(choices)) else text
            return f"{body}\n\nAnswer: {letter}. {choices[LETTERS.index(letter)]}"

        a, b = (right, wrong) if len(items) % 2 == 0 else (wrong, right)  # canonical gold A for half the pairs
        item_id = f"pr-{r.qid}"
        items.append(
            _pair_item(
                item_id,
                f"Pair {r.qid}",
                prompt_hash(prompts[k]),
                prompts[k],
                response(a),
                response(b),
                task.question,
                choices(task),
                None,
                study.seed,
            )
        )
        gold.append(
            Gold(
                item_id=item_id,
                label="A" if a is right else "B",
                source="dataset-label",
                detail={
                    "right_letter": truth[k],
                    "letter_a": a[0],
                    "letter_b": b[0],
                    "samples": len(samples[k]),
                    "temperature": task.temperature,
                },
            )
        )
    _split(items, task)
    note = (
        f"multiple-choice-pairs: {len(items)} pairs from {len(rows)} questions ({task.samples} samples at "
        f"temperature {task.temperature}); {agreed} where every sample was right and {all_wrong} where none "
        "was left out"
    )
    return TaskData(items=items, gold=gold, notes=[note])
