"""`sandwich check-design`: what an overseer could score without skill on the study's sessions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from sandwich.cli.common import console, progress_bar
from sandwich.design_check import DesignReport

if TYPE_CHECKING:
    from sandwich.no_skill import SessionItem
    from sandwich.service import StudyService

UNSANDBOXED = "--i-understand-this-runs-untrusted-code-unsandboxed"


def show_design_report(report: DesignReport, *, title: str = "No-skill strategies per overseer") -> None:
    """Print check-design's table (accuracy of each strategy family's best variant), gold per part and warnings."""
    if not report.overseers:
        console.print(
            "[dim]check-design: no gold to score no-skill strategies against (this study's gold comes "
            "from expert overseers' judgments).[/]"
        )
        return
    table = Table(title=title, show_edge=False)
    for col in ("overseer", "items", "problems", "siblings", "gold/part", "best no-skill", "strategy"):
        table.add_column(col, justify="left" if col in ("overseer", "strategy") else "right")
    for row in report.overseers:
        shares = [max(c.values()) for c in row.gold_per_part]
        sizes = [sum(c.values()) for c in row.gold_per_part]
        top = max(report.strategies, key=lambda s: s.per_overseer.get(row.overseer, 0.0), default=None)
        table.add_row(
            row.overseer,
            str(row.items),
            str(row.problems),
            f"{row.parts_with_siblings}/{row.parts}",
            f"{min(shares)}–{max(shares)}/{max(sizes)}",
            f"{top.per_overseer.get(row.overseer, float('nan')):.1%}" if top else "–",
            top.family if top else "–",
        )
    console.print(table)
    console.print(
        "  siblings: parts holding two versions of one problem; gold/part: how often the most common gold "
        "answer occurs in a part (fewest–most) of the part's size; best no-skill: the strategy family "
        "whose pooled-best variant scores highest for this overseer (few judgments each: the warnings "
        "use the pooled tests below)",
        style="dim",
    )
    pooled = Table(title="No-skill strategies, all overseers pooled", show_edge=False)
    for col in ("strategy", "best variant", "accuracy", "per overseer", "p"):
        pooled.add_column(col, justify="left" if col in ("strategy", "best variant") else "right")
    for s in report.strategies:
        each = list(s.per_overseer.values())
        pooled.add_row(s.family, s.variant, f"{s.accuracy:.1%}", f"{min(each):.0%}–{max(each):.0%}", f"{s.p_value:.2g}")
    console.print(pooled)
    console.print(
        f"  chance {report.chance:.1%}; {report.variants_tested} variants tried; {report.test}; α = {report.alpha}",
        style="dim",
        highlight=False,
    )
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    if not report.warnings:
        console.print(
            "[green]ok[/] no no-skill strategy beats chance by more than noise, and no part leaks "
            "siblings or one-sided gold"
        )


def check_design_cmd(
    study: Path = typer.Argument(
        ..., help="Study YAML file, or the .duckdb of an observed (imported) study.", show_default=False
    ),
    seeds: int = typer.Option(
        1, "--seeds", min=1, help="Also deal the plan with this many seeds (study seed + 0, 1, …) and summarise them."
    ),
    unsandboxed: bool = typer.Option(False, UNSANDBOXED, help="Run candidate code WITHOUT the sandbox (dangerous)."),
) -> None:
    """Deal the study's sessions (as `create` would, nothing is written) and report what no-skill strategies score.

    Exit code 1 when a strategy beats chance by more than noise or a part leaks.
    """
    from sandwich.assignment import deal_study
    from sandwich.create import build_task
    from sandwich.design_check import check_design
    from sandwich.studyfile import load_study

    if study.suffix == ".duckdb":
        _check_stored_design(study)
        return
    sf = load_study(study)
    with progress_bar("building items and gold", transient=True) as update:
        data = build_task(sf, allow_unsandboxed=unsandboxed, progress=update)
    warned = 0
    for k in range(seeds):
        s = (
            sf.study
            if k == 0
            else sf.study.model_copy(
                update={
                    "seed": sf.study.seed + k,
                    "overseers": sf.study.overseers.model_copy(update={"seed": sf.study.overseers.seed + k}),
                }
            )
        )
        report = check_design(s, data.items, data.gold, deal_study(s, data).assignments)
        if k == 0:
            show_design_report(report, title=f"No-skill strategies per overseer — {sf.study.study}")
        elif report.warnings or k == seeds - 1:
            console.print(f"seed +{k}: ceiling {report.ceiling:.1%}, {len(report.warnings)} warning(s)")
            for w in report.warnings:
                console.print(f"  [yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
        warned += bool(report.warnings)
    if seeds > 1:
        console.print(f"{warned} of {seeds} seeds warned")
    if warned:
        raise SystemExit(1)  # typer.Exit's code is swallowed when the app runs with standalone_mode=False


Shown = dict[tuple[str, str], tuple[str, ...]]  # (overseer, item id) -> answer values in the order shown


def stored_sessions(svc: StudyService) -> tuple[dict[str, list[SessionItem]], Shown]:
    """The non-experts' sessions a study database holds, and the shown order of each (overseer, item) that has one.

    In an observed study, answers are scored by position in the order each judge saw them (kept per judgment
    by the importers), so "always A" means "always the first option shown"; without a kept order, the stored one.
    """
    from sandwich.design_check import in_shown_order, sessions_from, shown_values

    st = svc.store
    non_experts = [o.name for o in st.overseers() if o.role == "non_expert"]
    items = st.items()
    shown: Shown = {}
    if svc.study.overseers.design == "observed":
        by_id = {i.item_id: list(i.choices or []) for i in items}
        for j in st.judgments():
            choices = by_id.get(j.item_id, [])
            letters = [chr(ord("A") + k) for k in range(len(choices))]
            if (order := shown_values(j.client_meta, choices, letters)) is not None:
                shown[(j.overseer, j.item_id)] = order
    return in_shown_order(sessions_from(st.assignments(), items, st.gold(), non_experts), shown), shown


def _check_stored_design(db: Path) -> None:
    """check-design on the sessions a study database holds: an observed study's come from its data."""
    from sandwich.design_check import check_sessions
    from sandwich.service import StudyService

    with StudyService(db, read_only=True) as svc:
        sessions, shown = stored_sessions(svc)
        report = check_sessions(sessions, versions_per_problem=svc.study.overseers.versions_per_problem)
        show_design_report(report, title=f"No-skill strategies per overseer — {svc.study.study}")
        biased = _show_position_bias(svc.store)
        if svc.study.overseers.design == "observed":
            n = sum(len(s) for s in sessions.values())
            k = sum((o, it.item_id) in shown for o, s in sessions.items() for it in s)
            console.print(
                "  observed design: sessions, order and parts are the data's own; answer positions "
                f"(A = the first option shown) are the order each judge saw for {k} of {n} judgments"
                + (f", the stored order for the other {n - k} (no shown order kept)" if k < n else ""),
                style="dim",
            )
    if report.warnings or biased:
        raise SystemExit(1)


def _show_position_bias(st: object, alpha: float = 0.05) -> bool:
    """Pairwise studies: each overseer's share of choices for the response shown on the left (the order is
    drawn at random, so 50% without bias); True when an overseer's share differs from 50% (Bonferroni)."""
    from sandwich.tasks.pairwise import position_bias

    rows = position_bias(st)
    if not rows:
        return False
    m = len(rows)
    console.print("position bias (pairwise): chose the response shown on the left", highlight=False)
    warned = False
    for r in rows:
        flag = r.p < alpha / m
        warned |= flag
        line = f"  {r.overseer}: {r.left}/{r.n} = {r.share:.1%} (exact binomial vs 50%, p = {r.p:.2g})"
        console.print(f"[yellow]warning:[/] {line.strip()}" if flag else line, highlight=False)
    return warned


def register(app: typer.Typer) -> None:
    """Add check-design."""
    app.command("check-design")(check_design_cmd)
