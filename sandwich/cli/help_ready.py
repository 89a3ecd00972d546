"""Before `label` or `serve` starts: every assisted condition must have its precomputed help.

An assisted condition whose help was never generated (or failed) runs as an unassisted one while
the analysis still counts it as assisted. So sessions refuse to start until the help is there,
unless the lead passes ALLOW_FLAG; then a loud warning says what is missing and how to fix it.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from sandwich.errors import SandwichError, StudyLocked
from sandwich.service import StudyService
from sandwich.store import Location, default_db_path

ALLOW_FLAG = "--allow-missing-help"
ALLOW_HELP = (
    "Start even if an assisted condition lacks precomputed help (those items show no help and their "
    "judgments are marked assistance_failed)."
)


@dataclass
class ConditionHelp:
    """How many of the items met under one assisted condition have all of its help prepared (status ok)."""

    condition: str
    items: int
    ready: int
    never_generated: int  # items with at least one kind never generated
    failed: int  # items whose help was generated but failed or could not be read

    def line(self) -> str:
        why = [f"{self.never_generated} never generated"] if self.never_generated else []
        why += [f"{self.failed} failed or unreadable"] if self.failed else []
        return f"{self.condition}: {self.ready} of {self.items} items have help ({', '.join(why)})"


def help_readiness(svc: StudyService, overseers: Sequence[str] | None = None) -> list[ConditionHelp]:
    """Per assisted condition the overseers meet (all overseers when None): items with and without help.

    Counts come from the precompute plan itself (`assistants.precompute.plan`), so "ready" means exactly
    what `sandwich assist precompute` would not redo.
    """
    from assistants.precompute import needed, plan

    pairs = needed(svc, overseers)
    missing = {(j.item.item_id, j.condition) for j in plan(svc, overseers=overseers)[0]}
    not_ok = {(j.item.item_id, j.condition) for j in plan(svc, retry_failed=True, overseers=overseers)[0]}
    out = []
    for cond in (c.name for c in svc.study.conditions if c.assistance):
        items = {i for i, c in pairs if c == cond}
        if not items:
            continue
        never = {i for i in items if (i, cond) in missing}
        failed = {i for i in items if (i, cond) in not_ok} - never
        out.append(ConditionHelp(cond, len(items), len(items) - len(never) - len(failed), len(never), len(failed)))
    return out


def require_help(db: Location, study_arg: str, overseers: Sequence[str] | None, *, allow: bool, warn: Console) -> None:
    """Refuse (SandwichError, exit 2) when an assisted condition lacks help; with `allow`, warn loudly instead.

    `warn` is a rich Console (stderr) for the warning. The message gives the exact precompute command.
    """
    try:
        with StudyService(db, read_only=True) as svc:
            lacking = [c for c in help_readiness(svc, overseers) if c.ready < c.items]
    except StudyLocked:
        return  # another process owns the database: the command itself reports that when it opens it
    if not lacking:
        return
    cmd = ["sandwich", "assist", "precompute", study_arg]
    # the database is not where the STUDY argument points
    if not isinstance(db, Path) or default_db_path(study_arg).resolve() != db.resolve():
        cmd += ["--db", str(db)]
    for name in overseers or []:
        cmd += ["--overseer", name]
    if any(c.failed for c in lacking):
        cmd.append("--retry-failed")
    who = f" for {', '.join(overseers)}" if overseers else ""
    lines = "; ".join(c.line() for c in lacking)
    fix = f"Run {shlex.join(cmd)} first"
    if not allow:
        raise SandwichError(
            f"Assisted conditions lack their precomputed help{who}: {lines}. Overseers would judge "
            "them without help while the analysis counts them as assisted.",
            hint=f"{fix}, or pass {ALLOW_FLAG} to start anyway.",
        )
    warn.print(
        f"[bold red]WARNING:[/] assisted conditions lack their precomputed help{who}: {lines}. Those items "
        f"show no help and their judgments are marked assistance_failed. {fix}.",
        highlight=False,
        soft_wrap=True,
    )
