"""Pairwise preferences (`task.kind: pairwise`): a prompt with two responses; which is better, and how sure.

An item stores its pair in CANONICAL order (as its source defines response A and B): ``prompt`` in the item's
prompt, the two responses as JSON in its body (:class:`PairContent`), choices ``["A", "B"]`` (plus ``"tie"``
when the study file sets ``task.allow_ties``), gold ``"A"`` or ``"B"``. Which response an overseer sees on the
left (as "A") is drawn per overseer and item from the study seed (:meth:`Pairwise.shown_order`, ``"AB"`` or
``"BA"``); the service shows the item in that order and stores every judgment back in canonical terms, with
``client_meta["shown_order"]`` recording the order shown. The confidence is the strength of the preference:
the overseer's probability, 50–100 %, that the chosen response is the better one.

:func:`pair_frame` is the lead-side table of pairs (one row per item, with gold) the reward models read;
:func:`position_bias` measures how often overseers chose the response shown on the left.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandwich.config import CandidateSpec, ColumnMap, Seed, SplitSpec, Strict
from sandwich.errors import DataError
from sandwich.tasks.base import TaskData
from sandwich.tasks.kind import Progress, TaskKind, register
from sandwich.views import ItemContent

ORDERS = ("AB", "BA")
SOURCES = ("humaneval-pairs", "multiple-choice-pairs")


class PairColumns(Strict):
    """Where each field lives in a pair file."""

    prompt: str = "prompt"
    response_a: str = "response_a"
    response_b: str = "response_b"
    gold: str | None = "gold"
    id: str | None = None


class PairwiseTask(Strict):
    """Which of two responses to a prompt is better: `source` is humaneval-pairs or a data file."""

    kind: Literal["pairwise"]
    source: str = Field(
        ...,
        description="humaneval-pairs, or a .jsonl/.csv/.parquet file of prompt, response_a, "
        "response_b[, gold] (relative to the study file)",
    )
    question: str = "Which response is better?"
    allow_ties: bool = Field(False, description="overseers may answer 'tie' (off: a tie is refused)")
    # humaneval-pairs
    problems: int | list[str] | None = Field(20, description="HumanEval problems: how many (seeded) or their ids")
    candidates: CandidateSpec = CandidateSpec(mutants=3)
    pairs_per_problem: int = Field(2, ge=1, le=45)
    match_length: bool = Field(
        True,
        description="humaneval-pairs: keep only pairs whose two programs have the "
        "same length, so 'the longer one' is no tell",
    )
    # multiple-choice-pairs: the questions, and how the assistant's answers are sampled
    questions: str | None = Field(None, description="multiple-choice-pairs: a multiple-choice data file")
    question_columns: ColumnMap = ColumnMap()
    answer_format: Literal["auto", "index", "letter", "text"] = "auto"
    samples: int = Field(4, ge=2, le=64, description="multiple-choice-pairs: answers sampled per question")
    temperature: float = Field(0.8, gt=0, le=2)
    # files
    columns: PairColumns = PairColumns()
    hf_config: str | None = None
    hf_split: str = "test"
    limit: int | None = Field(None, ge=1)
    seed: Seed = 0
    split: SplitSpec = SplitSpec(by="problem")

    @model_validator(mode="after")
    def _source(self) -> PairwiseTask:
        if self.source == "multiple-choice-pairs" and not self.questions:
            raise ValueError("source multiple-choice-pairs needs questions: a multiple-choice data file")
        if (
            self.source not in SOURCES
            and not self.source.startswith("hf:")
            and Path(self.source).suffix.lower() not in (".jsonl", ".ndjson", ".json", ".csv", ".parquet")
        ):
            raise ValueError(f"source {self.source!r} is neither humaneval-pairs nor a .jsonl/.json/.csv/.parquet file")
        if isinstance(self.problems, int) and self.problems < 1:
            raise ValueError("problems must be at least 1")
        return self


class PairContent(BaseModel):
    """A pairwise item, typed, in canonical order: the prompt and responses A and B as the source defines them."""

    model_config = ConfigDict(frozen=True)
    prompt: str
    response_a: str
    response_b: str

    def body_json(self) -> str:
        """The stored body: the two responses as a JSON object (the prompt is the item's prompt)."""
        return json.dumps({"response_a": self.response_a, "response_b": self.response_b}, ensure_ascii=False)

    @classmethod
    def of(cls, prompt: str, body: str) -> PairContent:
        """Read an item's prompt and body; DataError when the body is not a pair."""
        try:
            d = json.loads(body)
            return cls(prompt=prompt, response_a=d["response_a"], response_b=d["response_b"])
        except (ValueError, KeyError, TypeError):
            raise DataError("a pairwise item's body is not a JSON object with response_a and response_b") from None


def swap(value: str) -> str:
    """A ↔ B (anything else, e.g. 'tie', unchanged)."""
    return {"A": "B", "B": "A"}.get(value, value)


_RESPONSE = re.compile(r"\b([Rr]esponse|RESPONSE) ([AB])\b")


def _swap_words(value: Any) -> Any:
    if isinstance(value, str):
        return _RESPONSE.sub(lambda m: f"{m.group(1)} {swap(m.group(2))}", value)
    if isinstance(value, list):
        return [_swap_words(v) for v in value]
    if isinstance(value, dict):
        return {_swap_words(k): _swap_words(v) for k, v in value.items()}
    return value


class Pairwise(TaskKind):
    """Which of two responses to a prompt is better. Gold by sandboxed execution, the data file, or experts."""

    name = "pairwise"
    config = PairwiseTask
    content = PairContent
    gold_kinds = ("execution", "dataset-label", "expert-overseers")
    default_choices: ClassVar[list[str] | str] = ["A", "B"]
    shows_code = False
    question_in_item = True
    noun = "pair of responses"
    goal = "which of the two responses is better; make each question compare Response A with Response B on one point"
    source_word = "prompt or responses"
    explain_focus = (
        "Explain what Response A does and what Response B does, step by step, and where they differ. "
        "Do not say which is better."
    )
    critique_target = "two responses (look at each one; in Where, name Response A or Response B, then the part)"
    n_answers = 2
    examples_per_choice = False

    def load(
        self, task: Any, study: Any, base: Path, *, allow_unsandboxed: bool = False, progress: Progress | None = None
    ) -> TaskData:
        from sandwich.tasks.pair_sources import load_humaneval_pairs, load_pair_file

        if task.source == "humaneval-pairs":
            return load_humaneval_pairs(task, study, allow_unsandboxed=allow_unsandboxed, progress=progress)
        if task.source == "multiple-choice-pairs":
            from sandwich.tasks.pair_mc import load_mc_pairs

            return load_mc_pairs(task, study, base)
        return load_pair_file(task, study, base)

    def wanted_choices(self, task: Any) -> list[str] | str:
        return ["A", "B", "tie"] if task.allow_ties else ["A", "B"]

    def study_problems(self, sections: Any) -> list[tuple[tuple[str | int, ...], str]]:
        task, gold, judgment = sections.get("task"), sections.get("gold"), sections.get("judgment")
        out: list[tuple[tuple[str | int, ...], str]] = []
        if gold is not None and task.source == "humaneval-pairs" and gold.kind == "dataset-label":
            out.append(
                (("gold", "kind"), "humaneval-pairs has no dataset label; use kind: execution or expert-overseers")
            )
        if gold is not None and task.source != "humaneval-pairs" and gold.kind == "execution":
            out.append(
                (("gold", "kind"), "a pair file cannot be executed; use kind: dataset-label or expert-overseers")
            )
        if judgment is None:
            return out
        if isinstance(judgment.choices, list) and "tie" in judgment.choices and not task.allow_ties:
            out.append(
                (
                    ("judgment", "choices"),
                    "this study does not allow ties; set task.allow_ties: true to let overseers answer 'tie'",
                )
            )
        if judgment.confidence[0] < 50:
            lowest = judgment.confidence[0]
            out.append(
                (
                    ("judgment", "confidence"),
                    "a pairwise strength is the probability that the chosen "
                    f"response is the better one, 50–100; got {lowest}",
                )
            )
        return out

    def problem_count(self, task: Any) -> int | None:
        if task.source != "humaneval-pairs":
            return None
        return task.problems if isinstance(task.problems, int) else (len(task.problems) if task.problems else 164)

    def gold_summary(self, counts: dict[str, int]) -> str:
        return f", {counts['gold']} gold pairs" if counts.get("gold") else ""

    # ------------------------------------------------------------ views
    def typed(self, item: ItemContent) -> PairContent:
        return PairContent.of(item.prompt, item.body)

    def _text(self, item: ItemContent) -> str:
        c = self.typed(item)
        fence = f"```{item.language}\n" if item.language else ""
        end = "\n```" if item.language else ""
        return (
            f"Prompt:\n{c.prompt.strip()}\n\nResponse A:\n{fence}{c.response_a.strip()}{end}\n\n"
            f"Response B:\n{fence}{c.response_b.strip()}{end}"
        )

    def model_view(self, item: ItemContent) -> str:
        return (
            f'A prompt and two responses to it. Refer to them only as "Response A" and "Response B".\n\n'
            f"{self._text(item)}\n\nQuestion: {item.question}"
        )

    def judge_view(self, item: ItemContent) -> list[str]:
        return [self._text(item), f"Question: {item.question.strip()}"]

    def reads_data(self, task: Any) -> bool:
        # a pair file is cheap to read and `validate` dry-runs it; the built-in sources run the sandbox or a model
        return str(task.source) not in SOURCES

    def quote_source(self, item: ItemContent) -> str:
        c = self.typed(item)
        return "\n".join((c.prompt, c.response_a, c.response_b))

    def panes(self, item: ItemContent) -> list[tuple[str, str]] | None:
        c = self.typed(item)
        return [("A", c.response_a), ("B", c.response_b)]

    def answer_values(self, item: ItemContent) -> list[str]:
        return ["A", "B"]  # a consultant or debater argues for one response, never for a tie

    def answer_text(self, item: ItemContent, value: str) -> str:
        return f"Response {value}" if value in ("A", "B") else ("The two are equally good" if value == "tie" else value)

    def practice_explanation(self, right: str) -> str:
        return f"Response {right} is the better one."

    # ------------------------------------------------------------ order shown, per overseer
    def plan_orders(self, data: TaskData, assignments: Sequence[Any], seed: int) -> None:
        """In each overseer's part (condition block), the response shown on the left is the gold one for
        exactly half the pairs (a seeded half; an odd one out is a coin flip), so "always the left response"
        scores chance in every part, whatever the draw. Pairs without gold get a coin flip. Kept in each item's
        meta as ``shown[overseer]``."""
        labels = {g.item_id: g.label for g in data.gold}
        by_id = {i.item_id: i for i in data.items}
        parts: dict[tuple[str, int], list[str]] = {}
        for a in sorted(assignments, key=lambda a: (a.overseer, a.position)):
            if by_id[a.item_id].task_kind == self.name:
                parts.setdefault((a.overseer, a.block), []).append(a.item_id)
        for i in data.items:
            i.meta.pop("shown", None)
        for (overseer, block), ids in sorted(parts.items()):
            rng = random.Random(f"shown:{seed}:{overseer}:{block}")
            golden = [i for i in ids if labels.get(i) in ("A", "B")]
            left_is_gold = _balanced_half(golden, rng)
            for item_id in ids:
                gold = labels.get(item_id)
                if gold in ("A", "B"):
                    order = "AB" if (item_id in left_is_gold) == (gold == "A") else "BA"
                else:
                    order = ORDERS[rng.random() < 0.5]
                by_id[item_id].meta.setdefault("shown", {})[overseer] = order

    def shown_order(self, meta: dict[str, Any] | None, overseer: str) -> str | None:
        meta = meta or {}
        planned = (meta.get("shown") or {}).get(overseer)
        if planned in ORDERS:
            return str(planned)
        key = meta.get("order_key")
        if key is None:
            return "AB"  # a pair stored without a key (imported) is shown as stored, and recorded so
        return ORDERS[hashlib.sha256(f"{key}:{overseer}".encode()).digest()[0] & 1]

    def show(self, item: ItemContent, order: str) -> ItemContent:
        if order == "AB":
            return item
        c = self.typed(item)
        flipped = PairContent(prompt=c.prompt, response_a=c.response_b, response_b=c.response_a)
        return item.model_copy(update={"body": flipped.body_json()})

    def to_canonical(self, value: str, order: str) -> str:
        return swap(value) if order == "BA" else value

    def to_shown(self, value: str, order: str) -> str:
        return swap(value) if order == "BA" else value

    def show_assistance(self, content: Any, order: str) -> Any:
        return _swap_words(content) if order == "BA" else content


register(Pairwise())


# ------------------------------------------------------------------ lead-side tables
def pair_frame(store: Any) -> pl.DataFrame:
    """One row per pairwise study item: item_id, problem_id, split, prompt, response_a, response_b (canonical
    order), gold ("A", "B" or None), and, where gold is execution, each response's hidden tests passed
    (``passed_a``, ``passed_b``) out of ``tests`` (null otherwise). Read through the StudyStore; lead side: it
    holds gold and test results, which no overseer view carries."""
    gold = {g.item_id: g for g in store.gold()}
    rows = []
    for it in store.items(role="study"):
        if it.task_kind != "pairwise":
            continue
        c = PairContent.of(it.prompt or "", it.body or "")
        g = gold.get(it.item_id)
        detail = (g.detail or {}) if g is not None else {}
        rows.append(
            {
                "item_id": it.item_id,
                "problem_id": it.problem_id,
                "split": it.split,
                "prompt": c.prompt,
                "response_a": c.response_a,
                "response_b": c.response_b,
                "gold": g.label if g is not None and g.label in ("A", "B") else None,
                **{k: _count(detail.get(k)) for k in COUNTS},
            }
        )
    schema: dict[str, Any] = {
        k: pl.String for k in ("item_id", "problem_id", "split", "prompt", "response_a", "response_b", "gold")
    }
    schema |= {k: pl.Int64 for k in COUNTS}
    return pl.DataFrame(rows, schema=schema)


COUNTS = ("passed_a", "passed_b", "tests")  # per-response hidden-test results (execution gold only)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PositionBias(BaseModel):
    """How often overseers chose the response shown on the left, per overseer and pooled.

    `left`: judgments choosing the left response; `n`: judgments answering A or B; `p`: two-sided exact
    binomial test of left share = 1/2 (scipy.stats.binomtest). Position bias as in Zheng et al. (2023),
    "Judging LLM-as-a-judge", measured here on judgments whose shown order was drawn at random.
    """

    overseer: str
    n: int
    left: int
    p: float

    @property
    def share(self) -> float:
        return self.left / self.n if self.n else float("nan")


def position_bias(store: Any) -> list[PositionBias]:
    """Per overseer (then 'all'), the share of A/B judgments that chose the response shown on the left,
    read from each judgment's `client_meta["shown_order"]` and canonical `choice` (lead side, no gold)."""
    from scipy.stats import binomtest

    counts: dict[str, list[int]] = {}
    for j in store.judgments():
        order = (j.client_meta or {}).get("shown_order")
        if order not in ORDERS or j.skipped or j.choice not in ("A", "B"):
            continue
        c = counts.setdefault(j.overseer, [0, 0])
        c[0] += j.choice == order[0]
        c[1] += 1
    rows = [(name, left, n) for name, (left, n) in sorted(counts.items())]
    if rows:
        rows.append(("all", sum(r[1] for r in rows), sum(r[2] for r in rows)))
    return [
        PositionBias(overseer=name, n=n, left=left, p=float(binomtest(left, n, 0.5).pvalue)) for name, left, n in rows
    ]


def _balanced_half(ids: Sequence[str], rng: random.Random, tries: int = 1000) -> set[str]:
    """The pairs (in session order) whose gold response goes on the left: a seeded half, redrawn until neither
    alternating nor "first half one way, then the other" inside the part does better than one pair off
    chance (rerandomization: Morgan & Rubin 2012, Ann. Statist. 40(2)). Without it, one plan in twenty put
    69% of a study's pairs in an alternating pattern by chance, which check-design rightly flags."""
    n = len(ids)

    def draw() -> set[str]:
        picked = list(ids)
        rng.shuffle(picked)
        return set(picked[: n // 2 + (rng.random() < 0.5 if n % 2 else 0)])

    def balanced(left: set[str]) -> bool:
        alternate = sum((k % 2 == 0) == (i in left) for k, i in enumerate(ids))
        first = sum(i in left for i in ids[: n // 2])
        return abs(2 * alternate - n) <= 2 and abs(2 * first - len(left)) <= 2

    left = draw()
    for _ in range(tries):
        if balanced(left):
            break
        left = draw()
    return left
