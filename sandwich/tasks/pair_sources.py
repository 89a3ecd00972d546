"""Where pairwise items come from: two HumanEval candidates judged by sandboxed execution, or a data file.

- ``humaneval-pairs``: the code-review candidates of a problem (its reference solution and AST mutants, all
  rendered by ``ast.unparse``) are run in the sandbox against each hidden test separately (the problem's
  ``check`` split into one test per top-level assert); a pair's gold is the candidate that passes more of
  them. Pairs whose candidates pass equally many are left out and counted in the notes.
- a ``.jsonl``/``.csv``/``.parquet``/``.json`` file of ``prompt, response_a, response_b[, gold]``, columns
  mapped by ``task.columns`` as multiple-choice files are; every problem is reported at once by file, row and
  column, and nothing is written.

Canonical order: a pair's ``response_a``/``response_b`` are as the source defines them (for HumanEval pairs
seeded so that gold is A for half the pairs); what an overseer is shown first is picked per overseer later.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import itertools
import random
from pathlib import Path
from typing import Any

from sandwich.errors import DataError, SandwichError
from sandwich.tasks.base import Gold, Item, TaskData
from sandwich.tasks.kind import Progress
from sandwich.tasks.multiple_choice import _listing, _missing, _read_records, _text
from sandwich.tasks.split import split_groups

GOLD_VALUES = {"a": "A", "b": "B", "response_a": "A", "response_b": "B"}
TIE_VALUES = {"tie", "equal", "same"}


def order_key(seed: int, item_id: str) -> str:
    """The lead-side key from which each overseer's shown order of an item is drawn (from the study seed)."""
    return hashlib.sha256(f"pair-order:{seed}:{item_id}".encode()).hexdigest()[:16]


def prompt_hash(prompt: str) -> str:
    """A file pair's problem id: its prompt's hash, so splits keep every pair of one prompt together."""
    return "p-" + hashlib.sha256(prompt.encode()).hexdigest()[:12]


def _pair_item(
    item_id: str,
    title: str,
    problem_id: str,
    prompt: str,
    a: str,
    b: str,
    question: str,
    choices: list[str],
    language: str | None,
    study_seed: int,
) -> Item:
    from sandwich.tasks.pairwise import PairContent

    body = PairContent(prompt=prompt, response_a=a, response_b=b).body_json()
    return Item(
        item_id=item_id,
        task_kind="pairwise",
        problem_id=problem_id,
        title=title,
        prompt=prompt,
        body=body,
        question=question,
        choices=choices,
        language=language,
        meta={"order_key": order_key(study_seed, item_id)},
    )


# ------------------------------------------------------------------ HumanEval pairs
def split_tests(test: str) -> list[str]:
    """The hidden test suite as one suite per test: ``check``'s top-level statements that assert
    (an ``assert``, or a loop/block holding asserts) are kept one at a time, every other statement in all.

    Returns ``[test]`` when the suite has no ``check`` function or fewer than two such statements.
    """
    tree = ast.parse(test)
    check = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is None:
        return [test]
    asserting = [i for i, st in enumerate(check.body) if any(isinstance(n, ast.Assert) for n in ast.walk(st))]
    if len(asserting) < 2:
        return [test]
    where = tree.body.index(check)
    out = []
    for keep in asserting:
        module = copy.deepcopy(tree)
        fn = module.body[where]
        assert isinstance(fn, ast.FunctionDef)
        fn.body = [st for i, st in enumerate(fn.body) if i == keep or i not in asserting]
        out.append(ast.unparse(module))
    return out


def count_passed(
    cands: list[tuple[str, str, str]], limits: Any, *, allow_unsandboxed: bool = False, progress: Progress | None = None
) -> list[tuple[int, int]]:
    """(tests passed, tests) per ``(code, test, entry_point)``, each test run in the sandbox on its own.

    A candidate that passes the whole suite passes every test (one run); the others are run once per test.
    Raises SandwichError when the sandbox is unavailable or fails (nothing is written then).
    """
    from sandwich.sandbox import SandboxUnavailable
    from sandwich.tasks.execution import execute_candidates

    def run(programs: list[tuple[str, str, str]]) -> list[str]:
        try:
            done = execute_candidates(programs, limits, progress=progress, allow_unsandboxed=allow_unsandboxed)
        except SandboxUnavailable as e:
            raise SandwichError(
                f"Cannot run the hidden tests: {e}",
                hint="Gold for humaneval-pairs comes from running code, which sandwich does only "
                "in the bubblewrap sandbox.",
            ) from None
        broken = [r for r in done if r.status == "error"]
        if broken:
            raise SandwichError(
                f"The sandbox failed on {len(broken)} of {len(done)} programs "
                f"(first: {broken[0].detail}); no gold was written.",
                hint="Check `bwrap --version` works for this user; then run create again.",
            )
        return [r.status for r in done]

    whole = run(cands)
    parts = [split_tests(test) for _, test, _ in cands]
    todo = [(k, t) for k, status in enumerate(whole) if status != "passed" for t in parts[k]]
    each = run([(cands[k][0], t, cands[k][2]) for k, t in todo]) if todo else []
    passed = {k: len(parts[k]) for k, status in enumerate(whole) if status == "passed"}
    for (k, _), status in zip(todo, each, strict=True):
        passed[k] = passed.get(k, 0) + (status == "passed")
    return [(passed[k], len(parts[k])) for k in range(len(cands))]


def load_humaneval_pairs(
    task: Any, study: Any, *, allow_unsandboxed: bool = False, progress: Progress | None = None
) -> TaskData:
    """Pairs of candidates per HumanEval problem, gold = the one passing more hidden tests (ties left out)."""
    from sandwich.sandbox import SandboxLimits
    from sandwich.tasks.code_review import select_problems
    from sandwich.tasks.mutants import make_mutants, normalize

    problems = select_problems(task, study.seed)
    cands: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    for p in problems:
        cands.append((p, normalize(p["prompt"] + p["canonical_solution"]), {"candidate": "canonical"}))
        for m in make_mutants(
            p["prompt"] + p["canonical_solution"],
            task.candidates.mutants,
            seed=task.candidates.seed + int(p["task_id"].split("/")[-1]),
            operators=task.candidates.operators,
        ):
            cands.append((p, m.code, {"candidate": "mutant", "operator": m.operator, "site": m.site}))
    execution = study.gold.kind == "execution"
    scores: list[tuple[int, int]] = [(0, 0)] * len(cands)
    if execution:
        limits = SandboxLimits(timeout_s=study.gold.timeout_s, memory_mb=study.gold.memory_mb)
        scores = count_passed(
            [(code, p["test"], p["entry_point"]) for p, code, _ in cands],
            limits,
            allow_unsandboxed=allow_unsandboxed,
            progress=progress,
        )
    rng = random.Random(f"pairs:{task.seed}")
    pairs: list[tuple[dict[str, Any], int, int]] = []
    ties = unmatched = 0
    tilt = 0  # chosen pairs whose better response is the shorter one, minus those where it is the longer one

    def shorter_wins(i: int, j: int) -> int:
        if not execution:
            return 0
        better, worse = (cands[i][1], cands[j][1]) if scores[i][0] > scores[j][0] else (cands[j][1], cands[i][1])
        return (len(better) < len(worse)) - (len(better) > len(worse))

    for p in problems:
        mine = [k for k, (q, _, _) in enumerate(cands) if q is p]
        options = [(i, j) for i, j in itertools.combinations(mine, 2) if cands[i][1] != cands[j][1]]
        tied = [(i, j) for i, j in options if execution and scores[i][0] == scores[j][0]]
        ties += len(tied)
        options = [o for o in options if o not in tied]
        if task.match_length:  # length then says nothing about which response is better
            unmatched += sum(len(cands[i][1]) != len(cands[j][1]) for i, j in options)
            options = [(i, j) for i, j in options if len(cands[i][1]) == len(cands[j][1])]
        rng.shuffle(options)
        for _ in range(min(task.pairs_per_problem, len(options))):
            # a seeded pick that keeps "the shorter (or longer) response is better" as near chance as it can:
            # pairs of equal length first, then whichever keeps the count of each even (mutants often differ in
            # length from the reference, so pairs picked blindly would carry a length tell)
            pick = min(options, key=lambda o: (shorter_wins(*o) != 0, abs(tilt + shorter_wins(*o))))
            options.remove(pick)
            tilt += shorter_wins(*pick)
            pairs.append((p, *pick))
    rng.shuffle(pairs)
    width = max(3, len(str(len(pairs))))
    codes = list(range(1, len(pairs) + 1))
    random.Random(f"codes:{task.seed}").shuffle(codes)  # ids say nothing of the canonical order
    items, gold = [], []
    for n, (p, i, j) in enumerate(pairs):
        better, worse = (i, j) if scores[i][0] >= scores[j][0] else (j, i)
        a, b = (better, worse) if n % 2 == 0 else (worse, better)  # canonical gold A for half the pairs
        code = str(codes[n]).zfill(width)
        item_id = f"pr-{code}"
        items.append(
            _pair_item(
                item_id,
                f"Pair {code}",
                p["task_id"],
                p["prompt"],
                cands[a][1],
                cands[b][1],
                task.question,
                choices(task),
                "python",
                study.seed,
            )
        )
        if execution:
            gold.append(
                Gold(
                    item_id=item_id,
                    label="A" if a == better else "B",
                    source="execution",
                    detail={
                        "passed_a": scores[a][0],
                        "passed_b": scores[b][0],
                        "tests": scores[a][1],
                        "candidate_a": cands[a][2],
                        "candidate_b": cands[b][2],
                    },
                )
            )
    _split(items, task)
    hidden = {p["task_id"]: (p["test"], p["entry_point"]) for p in problems}
    notes = (
        [
            f"humaneval-pairs: {len(items)} pairs from {len(problems)} problems; {ties} pair(s) whose candidates "
            f"pass equally many hidden tests left out; {unmatched} of different lengths left out (match_length)"
        ]
        if execution
        else []
    )
    return TaskData(items=items, gold=gold, hidden_tests=hidden, notes=notes)


def choices(task: Any) -> list[str]:
    """The answers a pair allows: A and B, and 'tie' when the study file allows ties."""
    return ["A", "B", "tie"] if task.allow_ties else ["A", "B"]


def _split(items: list[Item], task: Any) -> None:
    key = (lambda i: i.problem_id) if task.split.by == "problem" else (lambda i: i.item_id)
    split = split_groups([key(i) for i in items], task.split.train, task.split.seed)
    for i in items:
        i.split = split[key(i)]


# ------------------------------------------------------------------ a data file
def load_pair_file(task: Any, study: Any, base: Path) -> TaskData:
    """Pairs from a file of prompt, response_a, response_b[, gold], checked row by row before anything is kept.

    Gold values: A or B (also a/b, response_a/response_b); a 'tie' gold row is left out and counted; an empty
    gold cell means no gold (allowed only when the study's gold is expert-overseers). Raises DataError listing
    every problem by file, row and column.
    """
    records, where = _read_records(task, base)
    cols = task.columns
    wants_gold = study.gold.kind == "dataset-label"
    needed = [cols.prompt, cols.response_a, cols.response_b] + ([cols.gold] if wants_gold else [])
    needed += [cols.id] if cols.id else []
    present = set().union(*(r.keys() for r in records)) if records else set()
    missing = [c for c in needed if c not in present]
    if missing and records:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; the file has: {', '.join(sorted(present))}",
            hint="Map the file's columns with task.columns (prompt, response_a, response_b, gold, id).",
        )
    if task.limit:
        records = records[: task.limit]
    if not records:
        raise DataError(f"{where}: the data file has no rows.")
    problems: list[str] = []
    rows: list[tuple[str, str, str, str, str | None]] = []
    seen: dict[str, int] = {}
    ties = 0
    for n, rec in enumerate(records, start=1):
        raw_id = rec.get(cols.id) if cols.id else f"{n - 1:05d}"
        pid = _text(raw_id) if not _missing(raw_id) else ""
        here = f"{where} row {n}" + (f" (id {pid!r})" if cols.id and pid else "")
        if cols.id and not pid:
            problems.append(f"{here}, column {cols.id!r}: the id is missing")
        elif pid in seen:
            problems.append(f"{here}, column {cols.id!r}: duplicate id {pid!r} (also row {seen[pid]})")
        seen.setdefault(pid, n)
        for col in (cols.prompt, cols.response_a, cols.response_b):
            if _missing(rec.get(col)):
                problems.append(f"{here}, column {col!r}: the text is missing")
        a, b = _text(rec.get(cols.response_a)), _text(rec.get(cols.response_b))
        if not _missing(rec.get(cols.response_a)) and a == b:
            problems.append(
                f"{here}, columns {cols.response_a!r} and {cols.response_b!r}: the two responses are "
                "the same text; overseers could not tell them apart"
            )
        label: str | None = None
        raw = rec.get(cols.gold) if cols.gold else None
        if not _missing(raw):
            text = _text(raw).strip().lower()
            if text in TIE_VALUES:
                ties += 1
                continue
            if text not in GOLD_VALUES:
                problems.append(f"{here}, column {cols.gold!r}: gold {raw!r} is not A or B (or tie)")
            label = GOLD_VALUES.get(text)
        elif wants_gold:
            problems.append(f"{here}, column {cols.gold!r}: the gold is missing (gold kind dataset-label)")
        rows.append((pid, _text(rec.get(cols.prompt)), a, b, label))
    if problems:
        raise DataError(
            _listing(f"{where}: {len(problems)} problem(s) in the data file", problems),
            hint="Fix the file (or task.columns); nothing was written.",
        )
    items, gold = [], []
    for pid, prompt, a, b, label in rows:
        item_id = f"pr-{pid}"
        items.append(
            _pair_item(
                item_id,
                f"Pair {pid}",
                prompt_hash(prompt),
                prompt,
                a,
                b,
                task.question,
                choices(task),
                None,
                study.seed,
            )
        )
        if label is not None and wants_gold:
            gold.append(Gold(item_id=item_id, label=label, source="dataset-label"))
    _split(items, task)
    return TaskData(
        items=items, gold=gold, notes=[f"{where}: {len(items)} pairs; {ties} row(s) with gold 'tie' left out"]
    )
