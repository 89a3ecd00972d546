"""Mutants: valid, distinct, deterministic, blind to formatting; and over all of HumanEval."""

from __future__ import annotations

import ast
import random

import pytest

from sandwich.sandbox import SandboxLimits, SandboxUnavailable, check_sandbox
from sandwich.tasks.code_review import load_problems
from sandwich.tasks.execution import check_program, execute_candidates
from sandwich.tasks.mutants import OPERATORS, Mutant, make_mutants, normalize
from sandwich.tasks.surface_tells import tell_counts, tells

# One function with a site for every operator, a helper before it and a
# docstring full of things an operator could wrongly touch.
SOLUTION = '''
import math

def helper(x):
    return x + 1 < 3

def solve(numbers: list, limit: int) -> int:
    """Count 1 < 2 and True, return 0 + 1."""
    if not numbers:
        return -1
    total = 0
    for i, n in enumerate(numbers):
        if n > limit and i != 0:
            total += n * 2
        elif n in (1, 2) or False:
            total -= 1
        else:
            pass
    while total < 0:
        total = total + limit
    return total
'''


def _docstring(code: str, name: str) -> str | None:
    fn = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_docstring(fn)


def _helper_src(code: str) -> str:
    return ast.unparse(next(n for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)))


def test_operators_cover_the_required_kinds() -> None:
    assert {
        "compare_flip",
        "off_by_one",
        "bool_swap",
        "arith_swap",
        "wrong_variable",
        "drop_branch",
        "early_return",
        "negate_condition",
    } <= set(OPERATORS)


@pytest.mark.parametrize("operator", sorted(OPERATORS))
def test_each_operator_makes_valid_different_code(operator: str) -> None:
    mutants = make_mutants(SOLUTION, 5, seed=1, operators=[operator])
    assert mutants, f"{operator} found no site"
    original = normalize(SOLUTION)
    for m in mutants:
        assert isinstance(m, Mutant) and m.operator == operator
        compile(m.code, "<mutant>", "exec")
        assert m.code != original
        assert m.code == normalize(m.code)  # rendered exactly like the original
        assert m.site.startswith("line ")
        # only the solution's body changes: not its docstring, not the helper before it
        assert _docstring(m.code, "solve") == _docstring(SOLUTION, "solve")
        assert _helper_src(m.code) == _helper_src(SOLUTION)
    assert len({m.code for m in mutants}) == len(mutants)


def test_site_labels_point_at_the_normalized_line() -> None:
    original = normalize(SOLUTION).splitlines()
    for m in make_mutants(SOLUTION, 8, seed=3, operators=["compare_flip"]):
        line = int(m.site.split(":")[0].removeprefix("line "))
        before = m.site.split(": ")[1].split(" -> ")[0]
        assert before in original[line - 1]


def test_deterministic_in_the_seed_and_spread_over_operators() -> None:
    a = make_mutants(SOLUTION, 6, seed=7)
    b = make_mutants(SOLUTION, 6, seed=7)
    assert [(m.code, m.operator, m.site) for m in a] == [(m.code, m.operator, m.site) for m in b]
    assert len(a) == 6 and len({m.operator for m in a}) == 6
    assert [m.code for m in make_mutants(SOLUTION, 6, seed=8)] != [m.code for m in a]


def test_fewer_than_asked_when_impossible_and_unknown_operator_rejected() -> None:
    assert make_mutants("def f():\n    pass\n", 3, seed=0) == []
    tiny = make_mutants("def f(x):\n    return x < 1\n", 50, seed=0)
    assert 0 < len(tiny) < 50 and len({m.code for m in tiny}) == len(tiny)
    with pytest.raises(ValueError, match="unknown mutation operator"):
        make_mutants(SOLUTION, 1, seed=0, operators=["flip_everything"])


def test_formatting_never_reveals_the_original() -> None:
    messy = "def f(a,b):\n    # a comment\n    return (a+b)  if a>0 else b\n"
    assert normalize(messy) == normalize(normalize(messy))
    assert "#" not in normalize(messy)
    for m in make_mutants(messy, 4, seed=2):
        assert m.code == normalize(m.code)


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return load_problems()


def test_almost_every_humaneval_problem_gets_a_mutant(problems: list[dict]) -> None:
    got = [bool(make_mutants(p["prompt"] + p["canonical_solution"], 2, seed=i)) for i, p in enumerate(problems)]
    assert len(problems) == 164
    assert sum(got) / len(got) >= 0.97, f"only {sum(got)}/{len(got)} problems have a mutant"


def test_canonical_passes_and_most_mutants_fail_in_the_sandbox(
    problems: list[dict], capsys: pytest.CaptureFixture
) -> None:
    try:
        check_sandbox()
    except SandboxUnavailable as e:
        pytest.skip(str(e))
    sample = random.Random(0).sample(problems, 40)
    canon, mutants = [], []
    for p in sample:
        code = p["prompt"] + p["canonical_solution"]
        canon.append((normalize(code), p["test"], p["entry_point"]))
        mutants += [(m.code, p["test"], p["entry_point"]) for m in make_mutants(code, 2, seed=11)]
    results = execute_candidates(canon + mutants, SandboxLimits(timeout_s=3.0))
    canon_res, mutant_res = results[: len(canon)], results[len(canon) :]
    bad = [(p["task_id"], r.detail) for p, r in zip(sample, canon_res, strict=True) if r.status != "passed"]
    assert not bad
    killed = sum(r.status != "passed" for r in mutant_res) / len(mutant_res)
    with capsys.disabled():
        print(
            f"\n[mutants] {len(canon)} canonical solutions all pass; "
            f"{killed:.0%} of {len(mutant_res)} mutants fail their tests"
        )
    assert killed >= 0.75


def test_check_program_appends_tests_and_the_check_call() -> None:
    prog = check_program("def f(x):\n    return x\n", "def check(c):\n    assert c(2) == 2\n", "f")
    assert prog.rstrip().endswith("check(f)")
    ns: dict = {}
    exec(compile(prog, "<prog>", "exec"), ns)  # trusted code written here, not a candidate


def test_mutants_show_surface_tells_no_more_than_reference_solutions(problems: list[dict]) -> None:
    # Before the idiomatic rewrite: 32.0% of mutants (103/322) against 1.2% of references (2/164).
    refs, muts, new = 0, 0, []
    n_mut = 0
    for p in problems:
        code = p["prompt"] + p["canonical_solution"]
        ref = tell_counts(normalize(code))
        refs += bool(ref)
        for m in make_mutants(code, 2, seed=7 + int(p["task_id"].split("/")[-1])):  # the shipped study's seeds
            n_mut += 1
            mine = tell_counts(m.code)
            muts += bool(mine)
            new += [(p["task_id"], m.site, k) for k, v in mine.items() if v > ref.get(k, 0)]
    assert n_mut >= 310
    assert new == [], f"mutants with a tell their reference lacks: {new[:5]}"
    assert muts / n_mut <= refs / len(problems) + 0.02, (muts / n_mut, refs / len(problems))


@pytest.mark.parametrize(
    ("tell", "odd", "plain"),
    [
        (
            "if-pass",
            "def f(a):\n    if a:\n        pass\n    else:\n        a = 1\n    return a",
            "def f(a):\n    if not a:\n        a = 1\n    return a",
        ),
        ("negated comparison", "def f(a, b):\n    return not a == b", "def f(a, b):\n    return a != b"),
        (
            "loop ends in return",
            "def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n        return t",
            "def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t",
        ),
        (
            "constant condition",
            "def f(x):\n    while False:\n        x += 1\n    return x",
            "def f(x):\n    while True:\n        x += 1\n        if x > 3:\n            break\n    return x",
        ),
        ("same operands", "def f(a, b):\n    return a - a + b", "def f(a, b):\n    return a - b + a"),
        ("identity operation", "def f(a):\n    return a * 1", "def f(a):\n    return a * 2"),
        ("statement without effect", "def f(xs):\n    xs\n    return xs", "def f(xs):\n    xs.sort()\n    return xs"),
        ("unused parameter", "def f(a, b):\n    return a", "def f(a, b):\n    return a + b"),
        ("unused variable", "def f(a):\n    b = a\n    return a", "def f(a):\n    b = a\n    return b"),
        ("dead code", "def f(a):\n    return a\n    a += 1", "def f(a):\n    a += 1\n    return a"),
    ],
)
def test_each_surface_tell_is_seen_where_it_is_and_only_there(tell: str, odd: str, plain: str) -> None:
    assert tell in tells(odd)
    assert tell not in tells(plain)


def test_dropped_branches_and_negations_read_like_code_a_person_wrote() -> None:
    code = (
        "def f(a, b):\n    if a == b:\n        return 1\n    else:\n        b += 1\n"
        "    while a < b:\n        a += 1\n    return a"
    )
    texts = [m.code for m in make_mutants(code, 20, seed=0, operators=["drop_branch", "negate_condition"])]
    assert "    if a != b:\n        b += 1" in "\n".join(texts)  # the if body dropped, the else kept
    assert any("while a >= b:" in t for t in texts)  # a negated loop condition
    assert not any("pass" in t or "not a" in t for t in texts)
