"""User-facing errors: each says what was wrong, where, and what to do.

The CLI turns any :class:`SandwichError` into a one-paragraph message and exit
code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SandwichError(Exception):
    """An error caused by input or environment, explained for the user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class StudyFileError(SandwichError):
    """A study YAML file that does not parse or does not validate."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        head = f"{path}: {len(problems)} problem(s) in the study file" if len(problems) > 1 else ""
        body = "\n".join(problems)
        super().__init__(f"{head}\n{body}".strip(), hint="Fix the file and run `sandwich validate` again.")


class DataError(SandwichError):
    """A task's data source is missing or malformed."""


class StoreError(SandwichError):
    """The study database cannot be opened or written as asked."""


class StudyLocked(StoreError):
    """Another process holds the study database's write lock."""


class NotFound(SandwichError):
    """A named overseer, item, assignment or condition does not exist."""


class AlreadyJudged(SandwichError):
    """An assignment already has a different judgment."""


class SessionInUse(SandwichError):
    """Another live session of the same overseer holds the lease (see `sandwich.leases`)."""


class SessionFinished(SandwichError):
    """An overseer has no unjudged assignments left."""


class AssistanceUnavailable(SandwichError):
    """The model backend is down, slow or refused; the overseer can still judge."""


class NotSaved(StoreError):
    """A write (e.g. a judgment) was not confirmed as stored; the client must keep it and may retry."""
