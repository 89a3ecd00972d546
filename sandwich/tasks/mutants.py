"""Deterministic AST mutants of a Python solution: plausible single-site bugs.

Every candidate, the original included, is rendered by ``ast.unparse`` (see
:func:`normalize`), so formatting and comments never tell an overseer which
candidate is the original. Mutations touch only the body of the solution
function (the last top-level function, or ``entry_point``), never its docstring.
Line numbers in :attr:`Mutant.site` refer to the normalized text.

Mutants read like code a person wrote: a dropped ``if`` body inverts the
condition (``if a != b: B``, never ``if a == b: pass … else: B``), a negated
comparison flips its operator (``a >= b``, never ``not a < b``), and a mutant that
shows a surface tell its original lacks (see :mod:`sandwich.tasks.surface_tells`:
an unused parameter, ``x - x``, ``x + 0``, a loop that ends in ``return``) is
discarded, so an overseer cannot spot the buggy one without reading the problem.
"""

from __future__ import annotations

import ast
import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sandwich.tasks.surface_tells import tell_counts

__all__ = ["OPERATORS", "Mutant", "make_mutants", "normalize"]

# One possible edit: a label for the gold record and a closure that applies it
# in place to the tree it was found in.
Edit = tuple[str, Callable[[], None]]
Operator = Callable[[ast.FunctionDef], list[Edit]]


@dataclass
class Mutant:
    """A mutated program, the operator that made it, and where it changed."""

    code: str
    operator: str
    site: str  # e.g. 'line 7: < -> <='


def normalize(code: str) -> str:
    """Canonical rendering of ``code``: ``ast.unparse(ast.parse(code))``."""
    return ast.unparse(ast.parse(code))


def _body_nodes(func: ast.FunctionDef) -> Iterator[ast.AST]:
    """Every node of the function body except its docstring, in a fixed order."""
    for stmt in _top_statements(func):
        yield from ast.walk(stmt)


def _top_statements(func: ast.FunctionDef) -> list[ast.stmt]:
    body = func.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def _src(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


def _line(node: ast.AST) -> str:
    return f"line {getattr(node, 'lineno', '?')}"


def _setter(obj: object, attr: str, value: object) -> Callable[[], None]:
    return lambda: setattr(obj, attr, value)


_CMP_FLIP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_CMP_SYM = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_ARITH = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.BitXor: ast.BitOr,
}
_ARITH_SYM = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Div: "/",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}


_CMP_INVERSE = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.LtE: ast.Gt,
    ast.Gt: ast.LtE,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


def _negate(test: ast.expr) -> ast.expr | None:
    """The condition's negation as a person writes it: ``a != b`` for ``a == b``, ``x`` for ``not x``.

    None for a chained comparison (``not a < b < c`` reads oddly and has no plain inverse).
    """
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    if isinstance(test, ast.Compare):
        if len(test.ops) != 1:
            return None
        return ast.Compare(left=test.left, ops=[_CMP_INVERSE[type(test.ops[0])]()], comparators=test.comparators)
    return ast.UnaryOp(op=ast.Not(), operand=test)


def _blocks(func: ast.FunctionDef) -> Iterator[list[ast.stmt]]:
    """Every statement list inside the function body (the body itself without its docstring first)."""
    yield func.body
    for node in _body_nodes(func):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _compare_flip(func: ast.FunctionDef) -> list[Edit]:
    edits: list[Edit] = []
    for node in _body_nodes(func):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                new = _CMP_FLIP[type(op)]

                def apply(node: ast.Compare = node, i: int = i, new: type = new) -> None:
                    node.ops[i] = new()

                edits.append((f"{_line(node)}: {_CMP_SYM[type(op)]} -> {_CMP_SYM[new]}", apply))
    return edits


def _off_by_one(func: ast.FunctionDef) -> list[Edit]:
    edits: list[Edit] = []
    for node in _body_nodes(func):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            for delta in (1, -1):
                new = node.value + delta
                edits.append((f"{_line(node)}: {node.value} -> {new}", _setter(node, "value", new)))
    return edits


def _bool_swap(func: ast.FunctionDef) -> list[Edit]:
    edits: list[Edit] = []
    # `while True` -> `while False` is a constant condition anyone can see
    tests = {id(n.test) for n in _body_nodes(func) if isinstance(n, (ast.If, ast.While, ast.IfExp))}
    for node in _body_nodes(func):
        if isinstance(node, ast.BoolOp):
            old, new = ("and", ast.Or) if isinstance(node.op, ast.And) else ("or", ast.And)
            edits.append((f"{_line(node)}: {old} -> {'or' if old == 'and' else 'and'}", _setter(node, "op", new())))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool) and id(node) not in tests:
            edits.append((f"{_line(node)}: {node.value} -> {not node.value}", _setter(node, "value", not node.value)))
    return edits


def _arith_swap(func: ast.FunctionDef) -> list[Edit]:
    edits: list[Edit] = []
    for node in _body_nodes(func):
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _ARITH:
            new = _ARITH[type(node.op)]
            eq = "=" if isinstance(node, ast.AugAssign) else ""
            edits.append(
                (f"{_line(node)}: {_ARITH_SYM[type(node.op)]}{eq} -> {_ARITH_SYM[new]}{eq}", _setter(node, "op", new()))
            )
    return edits


_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.ClassDef,
)


def _function_locals(func: ast.FunctionDef) -> list[str]:
    """Parameters and names bound directly in the function (not in nested scopes)."""
    a = func.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    names += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    return list(dict.fromkeys(names))


def _wrong_variable(func: ast.FunctionDef) -> list[Edit]:
    local = _function_locals(func)
    edits: list[Edit] = []

    def visit(node: ast.AST, shadowed: frozenset[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return  # a nested scope may rebind anything; leave it alone
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            bound = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
            shadowed = shadowed | bound
        if (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.id in local
            and node.id not in shadowed
        ):
            for other in local:
                if other != node.id and other not in shadowed:
                    edits.append((f"{_line(node)}: {node.id} -> {other}", _setter(node, "id", other)))
        for child in ast.iter_child_nodes(node):
            visit(child, shadowed)

    for node in _top_statements(func):
        visit(node, frozenset())
    return edits


def _drop_branch(func: ast.FunctionDef) -> list[Edit]:
    """A forgotten ``else``/``elif`` branch, or a forgotten ``if`` body written the way a person would.

    With an ``else``, dropping the ``if`` body leaves ``if <negated test>: <else body>``; without one,
    the whole statement goes (when its block keeps another statement).
    """
    edits: list[Edit] = []
    for block in _blocks(func):
        rest = [s for s in block if not (block is func.body and s is _docstring_stmt(func))]
        for node in block:
            if not isinstance(node, ast.If):
                continue
            if node.orelse:
                kind = "elif" if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If) else "else"
                edits.append((f"{_line(node)}: {kind} branch removed", _setter(node, "orelse", [])))
                negated = _negate(node.test)
                if negated is not None:

                    def invert(node: ast.If = node, negated: ast.expr = negated) -> None:
                        node.test, node.body, node.orelse = negated, node.orelse, []

                    edits.append((f"{_line(node)}: if body removed (if {_src(negated)}: keeps the else)", invert))
            elif len(rest) > 1:

                def remove(block: list[ast.stmt] = block, node: ast.If = node) -> None:
                    block.remove(node)

                edits.append((f"{_line(node)}: if statement removed", remove))
    return edits


def _docstring_stmt(func: ast.FunctionDef) -> ast.stmt | None:
    body = func.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0]
    return None


def _early_return(func: ast.FunctionDef) -> list[Edit]:
    """One return value swapped for another (returning too early, with the wrong result).

    A copy of the final return at the end of a loop body is not offered: a loop that ends in an
    unconditional ``return`` is a surface tell anyone can spot.
    """
    edits: list[Edit] = []
    returns = [n for n in _body_nodes(func) if isinstance(n, ast.Return) and n.value is not None]
    # why the ignore below: r.value is not None: filtered above, not narrowed in a comprehension
    values = list(dict.fromkeys(ast.unparse(r.value) for r in returns))  # type: ignore[arg-type]
    for r in returns:
        for v in values:
            if v != ast.unparse(r.value):  # type: ignore[arg-type]  # r.value is not None: filtered above
                new = ast.parse(v, mode="eval").body
                # why the ignore below: r.value is not None: filtered above
                edits.append(
                    (
                        f"{_line(r)}: return {_src(r.value)} -> return {_src(new)}",  # type: ignore[arg-type]
                        _setter(r, "value", new),
                    )
                )
    return edits


def _negate_condition(func: ast.FunctionDef) -> list[Edit]:
    edits: list[Edit] = []
    for node in _body_nodes(func):
        tests: list[tuple[object, str, ast.expr, int]] = []
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            tests.append((node, "test", node.test, -1))
        elif isinstance(node, ast.comprehension):
            tests += [(node, "ifs", t, i) for i, t in enumerate(node.ifs)]
        for owner, field, test, i in tests:
            negated = _negate(test)
            if negated is None:
                continue
            new = negated

            def apply(owner: object = owner, field: str = field, i: int = i, new: ast.expr = new) -> None:
                if i < 0:
                    setattr(owner, field, new)
                else:
                    getattr(owner, field)[i] = new

            edits.append((f"{_line(test)}: {_src(test)} -> {_src(new)}", apply))
    return edits


def _drop_call(func: ast.FunctionDef) -> list[Edit]:
    """``f(x)`` -> ``x`` and ``x.m()`` -> ``x``: a forgotten conversion or normalisation."""
    edits: list[Edit] = []
    for parent in _body_nodes(func):
        for field, value in ast.iter_fields(parent):
            for i, node in enumerate(value) if isinstance(value, list) else [(-1, value)]:
                if not isinstance(node, ast.Call) or node.keywords:
                    continue
                if len(node.args) == 1 and not isinstance(node.args[0], ast.Starred):
                    new = node.args[0]
                elif not node.args and isinstance(node.func, ast.Attribute):
                    new = node.func.value
                else:
                    continue

                def apply(parent: ast.AST = parent, field: str = field, i: int = i, new: ast.expr = new) -> None:
                    if i < 0:
                        setattr(parent, field, new)
                    else:
                        getattr(parent, field)[i] = new

                edits.append((f"{_line(node)}: {_src(node)} -> {_src(new)}", apply))
    return edits


OPERATORS: dict[str, Operator] = {
    "compare_flip": _compare_flip,
    "off_by_one": _off_by_one,
    "bool_swap": _bool_swap,
    "arith_swap": _arith_swap,
    "wrong_variable": _wrong_variable,
    "drop_branch": _drop_branch,
    "early_return": _early_return,
    "negate_condition": _negate_condition,
    "drop_call": _drop_call,
}


def _target(tree: ast.Module, entry_point: str | None) -> ast.FunctionDef | None:
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if entry_point is not None:
        funcs = [f for f in funcs if f.name == entry_point]
    # why the ignore below: the list is filtered to function definitions; mypy keeps the wider node type
    return funcs[-1] if funcs else None  # type: ignore[return-value]


def _edits(original: str, operator: str, entry_point: str | None) -> tuple[ast.Module, list[Edit]]:
    tree = ast.parse(original)
    func = _target(tree, entry_point)
    return tree, ([] if func is None else OPERATORS[operator](func))


def _adds_tell(code: str, baseline: dict[str, int]) -> bool:
    """Whether ``code`` shows some surface tell more often than the original (``baseline``) does."""
    return any(n > baseline.get(kind, 0) for kind, n in tell_counts(code).items())


def make_mutants(
    code: str, n: int, seed: int, operators: Sequence[str] | None = None, *, entry_point: str | None = None
) -> list[Mutant]:
    """Up to ``n`` distinct mutants of ``code``, deterministic in ``seed``.

    Operators take turns (in a seeded order) so the mutants spread over them;
    each mutant differs from the normalized original and from every other one,
    compiles, and shows no surface tell its original lacks. Fewer than ``n`` come back when no more can be made.
    """
    ops = list(OPERATORS) if operators is None else list(operators)
    unknown = [o for o in ops if o not in OPERATORS]
    if unknown:
        raise ValueError(f"unknown mutation operator(s) {unknown}; known: {sorted(OPERATORS)}")
    original = normalize(code)
    baseline = tell_counts(original)
    rng = random.Random(seed)
    queues: dict[str, deque[int]] = {}
    for op in ops:
        order = list(range(len(_edits(original, op, entry_point)[1])))
        rng.shuffle(order)
        queues[op] = deque(order)
    rng.shuffle(ops)
    seen: set[str] = {original}
    out: list[Mutant] = []
    while len(out) < n and any(queues.values()):
        for op in ops:
            while queues[op] and len(out) < n:
                tree, edits = _edits(original, op, entry_point)  # a fresh tree per attempt
                label, apply = edits[queues[op].popleft()]
                apply()
                try:
                    text = normalize(ast.unparse(ast.fix_missing_locations(tree)))
                    compile(text, "<mutant>", "exec")
                except (SyntaxError, ValueError):
                    continue
                if text not in seen and not _adds_tell(text, baseline):
                    seen.add(text)
                    out.append(Mutant(code=text, operator=op, site=label))
                    break
    return out
