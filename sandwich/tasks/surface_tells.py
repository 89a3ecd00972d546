"""Surface tells: oddities a reader can see in code without understanding it.

A mutant that shows one (an ``if …: pass`` body, ``not a == b``, a loop that ends in
an unconditional ``return``) can be called buggy by an overseer who never reads the
problem, so code-review candidates must show them no more often than reference
solutions do. :func:`tells` names the ones a program shows; each detector is one
function over a parsed module, listed in :data:`DETECTORS`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

__all__ = ["DETECTORS", "tells"]

Detector = Callable[[ast.Module], Iterator[ast.AST]]


def _same(a: ast.AST, b: ast.AST) -> bool:
    return ast.dump(a) == ast.dump(b)


def if_pass(tree: ast.Module) -> Iterator[ast.AST]:
    """``if c: pass`` (with or without an else): an empty branch a person would invert or drop."""
    for n in ast.walk(tree):
        if isinstance(n, ast.If) and len(n.body) == 1 and isinstance(n.body[0], ast.Pass):
            yield n


def negated_comparison(tree: ast.Module) -> Iterator[ast.AST]:
    """``not a == b``, ``not a < b``: people write ``a != b``, ``a >= b``."""
    for n in ast.walk(tree):
        if (
            isinstance(n, ast.UnaryOp)
            and isinstance(n.op, ast.Not)
            and isinstance(n.operand, ast.Compare)
            and len(n.operand.ops) == 1
        ):
            yield n


def double_negation(tree: ast.Module) -> Iterator[ast.AST]:
    """``not not x``."""
    for n in ast.walk(tree):
        if (
            isinstance(n, ast.UnaryOp)
            and isinstance(n.op, ast.Not)
            and isinstance(n.operand, ast.UnaryOp)
            and isinstance(n.operand.op, ast.Not)
        ):
            yield n


def loop_ends_in_return(tree: ast.Module) -> Iterator[ast.AST]:
    """A loop whose body ends in an unconditional ``return``: it never runs a second time."""
    for n in ast.walk(tree):
        if isinstance(n, (ast.For, ast.While)) and n.body and isinstance(n.body[-1], ast.Return):
            yield n


def constant_condition(tree: ast.Module) -> Iterator[ast.AST]:
    """``if True:``, ``x if False else y``, ``while False:`` (``while True:`` is idiomatic)."""
    for n in ast.walk(tree):
        test = getattr(n, "test", None)
        if (
            isinstance(n, (ast.If, ast.IfExp, ast.While))
            and isinstance(test, ast.Constant)
            and not (isinstance(n, ast.While) and test.value)
        ):
            yield n


def same_operands(tree: ast.Module) -> Iterator[ast.AST]:
    """``x == x``, ``a and a``, ``x - x``, ``x // x``: an operation on one value twice."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Compare):
            pairs = list(zip([n.left, *n.comparators], n.comparators, strict=False))  # adjacent pairs: one shorter
        elif isinstance(n, ast.BoolOp):
            pairs = [(a, b) for i, a in enumerate(n.values) for b in n.values[i + 1 :]]
        elif isinstance(n, ast.BinOp) and not isinstance(n.op, (ast.Add, ast.Mult)):
            pairs = [(n.left, n.right)]
        else:
            continue
        if any(_same(a, b) for a, b in pairs):
            yield n


_IDENTITY = {
    ast.Add: 0,
    ast.Sub: 0,
    ast.Mult: 1,
    ast.FloorDiv: 1,
    ast.Div: 1,
    ast.Pow: 1,
    ast.LShift: 0,
    ast.RShift: 0,
    ast.BitOr: 0,
    ast.BitXor: 0,
}


def identity_operation(tree: ast.Module) -> Iterator[ast.AST]:
    """``x + 0``, ``x * 1``, ``x // 1``, ``x ** 1``, ``0 + x``, ``-0``: arithmetic that does nothing."""
    for n in ast.walk(tree):
        if isinstance(n, ast.BinOp) and type(n.op) in _IDENTITY:
            unit = _IDENTITY[type(n.op)]
            right = isinstance(n.right, ast.Constant) and type(n.right.value) is int and n.right.value == unit
            left = (
                isinstance(n.op, (ast.Add, ast.Mult, ast.BitOr, ast.BitXor))
                and isinstance(n.left, ast.Constant)
                and type(n.left.value) is int
                and n.left.value == unit
            )
            if right or left:
                yield n
        elif (
            isinstance(n, ast.UnaryOp)
            and isinstance(n.op, ast.USub)
            and isinstance(n.operand, ast.Constant)
            and n.operand.value == 0
        ):
            yield n


def self_assignment(tree: ast.Module) -> Iterator[ast.AST]:
    """``x = x``."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and _same_name(n.targets[0], n.value):
            yield n


def _same_name(a: ast.AST, b: ast.AST) -> bool:
    return isinstance(a, ast.Name) and isinstance(b, ast.Name) and a.id == b.id


def statement_without_effect(tree: ast.Module) -> Iterator[ast.AST]:
    """An expression statement that is not a call, await, yield or docstring: ``lst``, ``x.sort``, ``a < b``."""
    for n in ast.walk(tree):
        if (
            isinstance(n, ast.Expr)
            and not isinstance(n.value, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom))
            and not (isinstance(n.value, ast.Constant) and isinstance(n.value.value, (str, type(...))))
        ):
            yield n


def dead_code(tree: ast.Module) -> Iterator[ast.AST]:
    """A statement after ``return``/``break``/``continue``/``raise`` in the same block."""
    for n in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(n, field, None)
            if isinstance(block, list):
                for i, stmt in enumerate(block[:-1]):
                    if isinstance(stmt, (ast.Return, ast.Break, ast.Continue, ast.Raise)):
                        yield block[i + 1]
                        break


def unused_parameter(tree: ast.Module) -> Iterator[ast.AST]:
    """A function parameter the body never reads (a renamed variable left one behind)."""
    for f in ast.walk(tree):
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            read = {n.id for n in ast.walk(f) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            a = f.args
            for p in a.posonlyargs + a.args + a.kwonlyargs:
                if p.arg not in read and p.arg not in ("self", "cls", "_"):
                    yield p


def unused_variable(tree: ast.Module) -> Iterator[ast.AST]:
    """A local name assigned and never read in its function."""
    for f in ast.walk(tree):
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            read = {n.id for n in ast.walk(f) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            for n in ast.walk(f):
                if isinstance(n, ast.Assign):
                    for t in n.targets:
                        if isinstance(t, ast.Name) and t.id not in read and t.id != "_":
                            yield t


DETECTORS: dict[str, Detector] = {
    "if-pass": if_pass,
    "negated comparison": negated_comparison,
    "double negation": double_negation,
    "loop ends in return": loop_ends_in_return,
    "constant condition": constant_condition,
    "same operands": same_operands,
    "identity operation": identity_operation,
    "self-assignment": self_assignment,
    "statement without effect": statement_without_effect,
    "dead code": dead_code,
    "unused parameter": unused_parameter,
    "unused variable": unused_variable,
}


def tells(code: str) -> list[str]:
    """The names of the surface tells ``code`` shows, once each per kind, in DETECTORS order."""
    tree = ast.parse(code)
    return [name for name, detect in DETECTORS.items() if next(detect(tree), None) is not None]


def tell_counts(code: str) -> dict[str, int]:
    """How many of each surface tell ``code`` shows (kinds with none left out)."""
    tree = ast.parse(code)
    counts = {name: sum(1 for _ in detect(tree)) for name, detect in DETECTORS.items()}
    return {k: v for k, v in counts.items() if v}
