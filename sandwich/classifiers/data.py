"""What classifiers learn from: examples (the inputs) and label sources (who said what about them).

An **example** is one candidate a reward model scores: a code-review item (a
candidate program), or one choice of a multiple-choice item. Examples of one
**group** compete with each other (the candidates of one HumanEval problem, the
choices of one question); best-of-n picks within a group.

Every target is P(bad): the positive class is the one a high-stakes overseer
must catch — a buggy program, a wrong answer.

A **label source** turns judgments into targets on train-split examples only:
``expert`` (gold), a condition name (per item: majority of that condition's
judgments, ties broken by confidence), ``majority:<cond>`` and
``dawid-skene:<cond>`` (crowd-kit aggregations over overseers). People and
simulated overseers are never pooled: a source reads one kind of judgment,
``<source>@human``, ``@llm`` or ``@parametric`` (`sandwich.analysis.sources`);
without a suffix, the kind `analyze` reports by default (the plan's first
source present, else people when there are any, else the first simulated kind).
Judgments made without their condition's help (``assistance_failed``) never
become labels, as they are left out of `analyze`'s estimates.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sandwich.errors import SandwichError
from sandwich.tasks import kind as task_kinds

AGGREGATIONS = ("majority", "dawid-skene")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Example:
    """One thing a classifier scores. `bad` is the gold (1 = buggy / wrong choice), used only to evaluate."""

    example_id: str
    item_id: str
    group: str
    split: str
    text: str
    bad: int | None
    choice: str | None = None  # multiple-choice: the choice's letter
    context: str = ""  # what the candidate answers (the task statement); a reward model reads it too

    @property
    def full_text(self) -> str:
        """Context and candidate together, for a backbone that reads both (the reward model)."""
        return f"{self.context}\n\n{self.text}" if self.context else self.text


@dataclass
class SourceLabels:
    """Training targets (P(bad), 0..1) from one label source, on train-split examples only."""

    source: str
    targets: dict[str, float]  # example_id -> soft target
    hard: dict[str, int]  # example_id -> 0/1 target
    n_judgments: int = 0
    notes: list[str] = field(default_factory=list)

    def data_hash(self, soft: bool) -> str:
        """A hash of exactly what training sees: which examples, with which targets."""
        use = self.targets if soft else self.hard
        payload = json.dumps(sorted((k, round(float(v), 6)) for k, v in use.items()))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ------------------------------------------------------------------ inputs
def strip_docstrings(code: str) -> str:
    """The program without docstrings: the statement repeats in every sibling and eats the encoder's window."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def _docstring(prompt: str) -> str:
    try:
        tree = ast.parse(prompt + "\n    pass\n")
    except SyntaxError:
        return prompt
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and ast.get_docstring(node):
            return ast.get_docstring(node) or ""
    return prompt


def code_review_text(body: str) -> str:
    """Encoder input for a candidate program: its code without docstrings.

    The statement is the same for every candidate of a problem; left in, it fills
    the encoder's window and dilutes the mean-pooled code (measured: held-out AUROC
    0.69 with it, 0.84 without, gold labels, frozen MiniLM). It goes in `context`.
    """
    return strip_docstrings(body)


def task_context(prompt: str) -> str:
    """The problem statement as plain text (from the prompt's docstring)."""
    return f"Task: {_docstring(prompt)[:800]}"


def choice_text(passage: str, question: str, choice: str) -> str:
    """Input text for one answer to a question: question and answer first, passage after (truncation cuts it)."""
    text = f"Question: {question}\nAnswer: {choice}"
    return f"{text}\nPassage: {passage}" if passage else text


def load_examples(svc: Any) -> list[Example]:
    """Every example of a study (train and test), with gold attached for evaluation."""
    kind = svc.study.task.kind
    gold = svc.gold()
    items = [
        {
            "item_id": i.item_id,
            "task_kind": i.task_kind,
            "problem_id": i.problem_id,
            "split": i.split,
            "prompt": i.prompt,
            "body": i.body,
            "question": i.question,
            "choices": i.choices,
        }
        for i in svc.store.items()
    ]
    out: list[Example] = []
    tk = task_kinds.get(kind)  # the task kind says whether an example is an item or one of its choices
    for it in items:
        g = gold.get(it["item_id"])
        if not tk.examples_per_choice and tk.bad_answer is not None:
            text, context = tk.example_text(it["prompt"] or "", it["body"] or "")
            out.append(
                Example(
                    it["item_id"],
                    it["item_id"],
                    it["problem_id"],
                    it["split"],
                    text,
                    None if g is None else int(g == tk.bad_answer),
                    context=context,
                )
            )
        elif tk.examples_per_choice:
            for k, choice in enumerate(it["choices"] or []):
                letter = LETTERS[k]
                out.append(
                    Example(
                        f"{it['item_id']}#{letter}",
                        it["item_id"],
                        it["item_id"],
                        it["split"],
                        choice_text(it["body"] or "", it["question"] or "", choice),
                        None if g is None else int(g != letter),
                        letter,
                    )
                )
        else:
            raise SandwichError(
                f"Classifiers do not support task kind {kind!r} yet.",
                hint="Use a code-review or multiple-choice study.",
            )
    return out


# ------------------------------------------------------------------ labels
JUDGMENT_KINDS = ("human", "llm", "parametric")  # the sources `analyze --source` keeps apart


def source_conditions(source: str) -> tuple[str | None, str]:
    """('majority', 'explain') for 'majority:explain' (or 'majority:explain@human'); (None, 'explain') for a plain
    condition; (None, 'expert')."""
    source = split_kind(source)[0]
    if ":" in source:
        agg, cond = source.split(":", 1)
        return agg, cond
    return None, source


def split_kind(source: str) -> tuple[str, str | None]:
    """('majority:explain', 'human') for 'majority:explain@human'; ('explain', None) without a suffix."""
    base, at, kind = source.rpartition("@")
    return (base, kind) if at else (source, None)


def kind_to_read(kinds: Sequence[str], kind: str | None, planned: Sequence[str] | None) -> tuple[str | None, list[str]]:
    """Which kind of overseer a label source reads among one condition's usable judgments, and what it leaves out.

    `kinds`: the kind of each usable judgment ('human', 'llm', 'parametric'). `kind` None: the kind `analyze`
    reports by default among them (`sandwich.analysis.sources.select_sources` with the study's `planned`
    sources). Returns (the kind read, or None when there is none; notes counting the other kinds' judgments).
    Shared by pointwise labels and pairwise preferences, so one source name reads the same judgments in both."""
    from sandwich.analysis.sources import select_sources, source_words

    present = [k for k in JUDGMENT_KINDS if k in kinds]
    if kind is None:
        chosen = select_sources(None, present, list(planned) if planned else None)
        kind = chosen[0] if chosen else None
    notes: list[str] = []
    others = {k: sum(x == k for x in kinds) for k in present if k != kind}
    if others:
        notes.append(
            f"labels from {source_words([kind]) if kind else 'nobody'} only; left out: "
            + ", ".join(f"{n} judgment(s) of {source_words([k])}" for k, n in others.items())
            + f" (use '@{next(iter(others))}' for those)."
        )
    return kind, notes


def _judgments(svc: Any, condition: str, kind: str | None) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    """One kind of non-expert judgment under a condition, without those made without their help.

    Returns (rows, the kind read, notes). `kind` None: the kind `analyze` reports by default among these
    judgments (:func:`kind_to_read`). Skipped judgments carry no label."""
    from sandwich.analysis.sources import planned_sources

    non_experts = {o.name for o in svc.overseers() if o.role == "non_expert"}
    usable = [
        j
        for j in svc.store.judgments(condition=condition)
        if not j.skipped and j.choice is not None and j.overseer in non_experts
    ]
    kind, notes = kind_to_read([j.source for j in usable], kind, planned_sources(None, svc.study))
    mine = [j for j in usable if j.source == kind]
    failed = sum(j.assistance_failed for j in mine)
    if failed:
        notes.append(f"{failed} judgment(s) made without the condition's help (assistance_failed) are not labels.")
    rows = [
        {"overseer": j.overseer, "item_id": j.item_id, "choice": j.choice, "confidence": j.confidence}
        for j in mine
        if not j.assistance_failed
    ]
    return rows, kind, notes


def _item_probs(choice: str, confidence: int | None, options: list[str]) -> dict[str, float]:
    """One judgment as a distribution over the options: confidence on the chosen one, the rest spread evenly."""
    c = (confidence if confidence is not None else 100) / 100.0
    rest = (1.0 - c) / max(len(options) - 1, 1)
    return {o: (c if o == choice else rest) for o in options}


def _options(svc: Any, item_id: str, cache: dict[str, list[str]]) -> list[str]:
    tk = task_kinds.get(svc.study.task.kind)
    if not tk.examples_per_choice and isinstance(tk.default_choices, list):
        return list(tk.default_choices)
    if item_id not in cache:
        item = svc.store.item(item_id)
        cache[item_id] = [LETTERS[k] for k in range(len(item.choices or []))] if item is not None else []
    return cache[item_id]


def _to_examples(
    kind: str, item_id: str, verdict: str, probs: dict[str, float], by_item: dict[str, list[Example]]
) -> tuple[dict[str, float], dict[str, int]]:
    """Item-level verdict + option probabilities → per-example P(bad) targets."""
    soft: dict[str, float] = {}
    hard: dict[str, int] = {}
    for ex in by_item.get(item_id, []):
        bad = task_kinds.get(kind).bad_answer
        if ex.choice is None and bad is not None:  # a whole-item example
            soft[ex.example_id] = probs.get(bad, 0.0)
            hard[ex.example_id] = int(verdict == bad)
        else:
            soft[ex.example_id] = 1.0 - probs.get(ex.choice or "", 0.0)
            hard[ex.example_id] = int(verdict != ex.choice)
    return soft, hard


def labels_for(svc: Any, source: str, examples: list[Example]) -> SourceLabels:
    """Targets for one label source on the train split. Test-split items never get a target."""
    kind = svc.study.task.kind
    train = [e for e in examples if e.split == "train"]
    by_item: dict[str, list[Example]] = defaultdict(list)
    for e in train:
        by_item[e.item_id].append(e)
    names = [c.name for c in svc.study.conditions]
    agg, cond = source_conditions(source)
    who = split_kind(source)[1]
    if who is not None and (who not in JUDGMENT_KINDS or cond == "expert"):
        raise SandwichError(
            f"Unknown label source {source!r}: {who!r} is not a kind of overseer"
            if cond != "expert"
            else f"Unknown label source {source!r}: expert labels are gold.",
            hint="Suffix a condition source with @human, @llm or @parametric (people and "
            "simulations are never pooled); 'expert' takes no suffix.",
        )
    if source == "expert":
        lab = SourceLabels(source, {}, {})
        for e in train:
            if e.bad is not None:
                lab.targets[e.example_id] = float(e.bad)
                lab.hard[e.example_id] = e.bad
        return lab
    if cond not in names or (agg is not None and agg not in AGGREGATIONS):
        raise SandwichError(
            f"Unknown label source {source!r}.",
            hint="Use 'expert', a condition name (" + ", ".join(names) + "), or "
            "majority:<condition> / dawid-skene:<condition>, optionally followed by "
            "@human, @llm or @parametric.",
        )
    judged, _, notes = _judgments(svc, cond, who)
    rows = [r for r in judged if r["item_id"] in by_item]  # train split only
    lab = SourceLabels(source, {}, {}, n_judgments=len(rows), notes=notes)
    cache: dict[str, list[str]] = {}
    per_item: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        per_item[r["item_id"]].append(r)
    if agg is None:
        for item_id, js in per_item.items():
            opts = _options(svc, item_id, cache)
            probs = {o: sum(_item_probs(j["choice"], j["confidence"], opts)[o] for j in js) / len(js) for o in opts}
            # majority of choices; ties broken by summed confidence, then by the mean probability
            votes = {
                o: (
                    sum(j["choice"] == o for j in js),
                    sum((j["confidence"] or 0) for j in js if j["choice"] == o),
                    probs[o],
                )
                for o in opts
            }
            verdict = max(opts, key=lambda o: votes[o])
            s, h = _to_examples(kind, item_id, verdict, probs, by_item)
            lab.targets.update(s)
            lab.hard.update(h)
        return lab
    return _aggregate(svc, agg, kind, rows, by_item, lab, cache)


def _aggregate(
    svc: Any,
    agg: str,
    kind: str,
    rows: list[dict[str, Any]],
    by_item: dict[str, list[Example]],
    lab: SourceLabels,
    cache: dict[str, list[str]],
) -> SourceLabels:
    """Crowd-kit aggregation (majority vote or Dawid–Skene) over the condition's overseers."""
    if not rows:
        return lab
    import pandas as pd

    from sandwich.analysis.aggregation import dawid_skene_labels, majority_votes

    df = pd.DataFrame(
        {
            "task": [r["item_id"] for r in rows],
            "worker": [r["overseer"] for r in rows],
            "label": [r["choice"] for r in rows],
        }
    ).sort_values(["task", "worker", "label"])
    # majority vote: order-independent; a tie takes the first tied answer alphabetically, its soft target splits
    top = majority_votes(df)
    shares = df.groupby("task")["label"].value_counts(normalize=True).unstack(fill_value=0.0)
    labels, probas = pd.Series({k: v[0] for k, v in top.items()}), shares
    ties = sum(len(v) > 1 for v in top.values())
    if ties:
        lab.notes.append(
            f"majority vote: {ties} tied item(s) take the first tied answer alphabetically (hard "
            "labels) and an even split (soft labels)."
        )
    if agg == "dawid-skene":
        ds_labels, ds_probas, overridden, reason = dawid_skene_labels(df, 100)
        if ds_labels is None:  # the guard the analysis applies, before its labels are trained on
            lab.notes.append(f"Dawid–Skene {reason}; majority-vote labels are used instead.")
        else:
            labels, probas = ds_labels, ds_probas
            if overridden:
                lab.notes.append(
                    f"Dawid–Skene relabelled {overridden} unanimous item(s); the unanimous answer is kept."
                )
    for item_id, verdict in labels.items():
        opts = _options(svc, item_id, cache)
        if probas is not None and item_id in probas.index:
            probs = {o: float(probas.loc[item_id].get(o, 0.0)) for o in opts}
        else:
            probs = {o: float(o == verdict) for o in opts}
        s, h = _to_examples(kind, item_id, str(verdict), probs, by_item)
        lab.targets.update(s)
        lab.hard.update(h)
    return lab


def training_set(examples: list[Example], labels: SourceLabels, *, soft: bool) -> tuple[list[Example], list[float]]:
    """The train-split examples a source labels, with their targets. Refuses any test example."""
    by_id = {e.example_id: e for e in examples}
    use = labels.targets if soft else labels.hard
    chosen = [by_id[k] for k in sorted(use) if k in by_id]
    leaked = [e.example_id for e in chosen if e.split != "train"]
    if leaked:  # labels_for never produces these; this guards hand-built label sets
        raise SandwichError(
            f"Label source {labels.source!r} labels {len(leaked)} test-split example(s) "
            f"(first: {leaked[0]}); training on them would leak the evaluation set."
        )
    return chosen, [float(use[e.example_id]) for e in chosen]


def held_out(examples: list[Example]) -> list[Example]:
    """The held-out examples every classifier is scored on (against gold)."""
    return [e for e in examples if e.split == "test" and e.bad is not None]
