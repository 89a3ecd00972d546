"""How a report shows the study's integrity: the frozen plan (hash, time, TAMPERED) and the looks made early.

Kept apart from `report.py` so the statistics tables and these checks change independently.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

if TYPE_CHECKING:
    from sandwich.analysis.result import AnalysisResult


def plan_line(res: AnalysisResult) -> str:
    """'frozen plan 02ae410cd1df… at 2026-11-29 23:01:02 UTC' (or that none is frozen yet)."""
    p = res.preregistration
    if p is None:
        return "analysis plan: not frozen yet (it is frozen at the first judgment)"
    stored = f"sha256 {p['hash']}"
    if p.get("plan_hash") and p["plan_hash"] != p["hash"]:
        stored += f" as stored, but the stored plan hashes to {p['plan_hash']}"
    return f"frozen analysis plan: {stored} at {p['frozen_at']:%Y-%m-%d %H:%M:%S} UTC"


def completeness_line(res: AnalysisResult) -> str:
    """'24 of 36 planned judgments stored (interim)' or '36 of 36 planned judgments stored (complete)'."""
    state = "interim" if res.interim else "complete"
    return f"{res.stored} of {res.planned} planned judgments stored ({state})"


def tampered_text(res: AnalysisResult) -> str:
    """The TAMPERED notice with every difference found ('' when the plan checks out)."""
    if not res.tampered or res.preregistration is None:
        return ""
    return (
        "TAMPERED — this study was changed after its analysis plan was frozen or its results were looked "
        "at; no test is confirmatory. " + "; ".join(res.preregistration["problems"]) + "."
    )


def looks_table(res: AnalysisResult) -> Table | None:
    """Looks at the results made before the planned sample size was reached (None when there were none)."""
    if not res.looks:
        return None
    t = Table(
        title="Looks before the planned sample size (each analyze, export and snapshot is logged)", title_justify="left"
    )
    for c in ("when (UTC)", "look", "by", "judgments then"):
        t.add_column(c)
    for look in res.looks:
        t.add_row(
            f"{look['ts']:%Y-%m-%d %H:%M:%S}", look["action"], look["who"], f"{look['judgments']} of {look['planned']}"
        )
    return t


def print_integrity(res: AnalysisResult, console: Console) -> None:
    """The plan's hash and time, TAMPERED in red when it fails its check, completeness, and early looks."""
    console.print(f"[dim]{plan_line(res)} · {completeness_line(res)}[/]", soft_wrap=True)
    if res.tampered:
        console.print(Panel(tampered_text(res), style="bold red"))
    table = looks_table(res)
    if table is not None:
        console.print(table)


def integrity_html(res: AnalysisResult) -> str:
    """The same, as HTML."""
    parts = [f"<p class='dim'>{html.escape(plan_line(res))} · {html.escape(completeness_line(res))}</p>"]
    if res.tampered:
        parts.append(f"<div class='synthetic'>{html.escape(tampered_text(res))}</div>")
    if res.looks:
        rows = "".join(
            f"<tr><td>{look['ts']:%Y-%m-%d %H:%M:%S}</td><td>{html.escape(look['action'])}</td>"
            f"<td>{html.escape(look['who'])}</td><td>{look['judgments']} of {look['planned']}</td></tr>"
            for look in res.looks
        )
        parts.append(
            "<h2>Looks before the planned sample size (each analyze, export and snapshot is logged)</h2>"
            "<table><thead><tr><th>when (UTC)</th><th>look</th><th>by</th><th>judgments then</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
    return "".join(parts)


def integrity_json(res: AnalysisResult) -> dict[str, Any]:
    """For results.json: the frozen plan check, completeness and early looks."""
    return {
        "preregistration": res.preregistration,
        "tampered": res.tampered,
        "interim": res.interim,
        "planned_judgments": res.planned,
        "stored_judgments": res.stored,
        "looks_before_complete": res.looks,
    }
