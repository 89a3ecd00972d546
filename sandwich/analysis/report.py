"""The analysis as a reader sees it: rich tables in the terminal, a self-contained HTML page.

The HTML embeds its plots as base64 PNGs (and writes them beside it too), so
index.html can be mailed or archived alone. When any judgment is simulated,
both say SYNTHETIC first, in red.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from sandwich.analysis.bootstrap import Interval
from sandwich.analysis.integrity import integrity_html, integrity_json, print_integrity
from sandwich.analysis.narrow import fit

if TYPE_CHECKING:
    from sandwich.analysis.result import AnalysisResult

SYNTHETIC = (
    "SYNTHETIC: {n} of {total} judgments come from simulated overseers. These numbers describe the "
    "simulation, not people."
)


def pct(x: float) -> str:
    """A share as a percentage, or a dash."""
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def ci(iv: Interval | None, scale: float = 100.0, unit: str = "%", digits: int = 1) -> str:
    """`est [lo, hi]` with the corrected 95% interval."""
    if iv is None or not math.isfinite(iv.est):
        return "—"
    e = f"{iv.est * scale:.{digits}f}{unit}"
    if not math.isfinite(iv.lo):
        return e
    return f"{e} [{iv.lo * scale:.{digits}f}, {iv.hi * scale:.{digits}f}]"


def fmt_p(p: float) -> str:
    """A p-value for a table."""
    return "—" if not math.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


# ------------------------------------------------------------------- tables
def condition_table(res: AnalysisResult) -> Table:
    """Per condition: accuracy, Brier, ECE, time, counts."""
    t = Table(
        title="Per condition (95% calibrated two-way cluster-robust CIs: overseers × items; "
        "ECE: equal-mass monotone sweep, Roelofs et al. 2022, CI over overseers)",
        title_justify="left",
    )
    for c in ("condition", "judgments", "overseers", "items", "accuracy", "Brier", "ECE", "s / item"):
        t.add_column(c, justify="left" if c == "condition" else "right")
    for g in res.groups:
        t.add_row(
            g.group,
            str(g.judgments),
            str(g.overseers),
            str(g.items),
            ci(g.accuracy),
            ci(g.brier, 1, "", 3),
            ece_text(g),
            ci(g.time, 1, "", 0),
        )
    return t


def source_table(res: AnalysisResult) -> Table:
    """Each source on its own (people, each kind of simulated overseer): accuracy per condition, never pooled."""
    t = Table(title="By source — people and each simulation on their own (95% CIs)", title_justify="left")
    for c in ("source", "condition", "judgments", "overseers", "accuracy"):
        t.add_column(c, justify="left" if c in ("source", "condition") else "right")
    for s in res.by_source:
        for k, g in enumerate(s.groups):
            t.add_row(s.label if k == 0 else "", g.group, str(g.judgments), str(g.overseers), ci(g.accuracy))
    return t


def ece_text(g: Any) -> str:
    """ECE_sweep with its 95% interval (overseers resampled)."""
    if not math.isfinite(g.ece):
        return "—"
    lo, hi = g.ece_ci
    return f"{g.ece:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) else "")


def sandwich_table(res: AnalysisResult) -> Table:
    """The sandwich: model alone, non-experts unassisted and assisted, experts; gap closed with CI."""
    t = Table(title="The sandwich — gap closed = (assisted − unassisted) / (expert − unassisted)", title_justify="left")
    t.add_column("rung")
    t.add_column("accuracy [95% CI]", justify="right")
    t.add_column("gap closed [95% CI]", justify="right")
    t.add_column("note", style="dim")
    if res.sandwich is None:
        return t
    for r in res.sandwich.rows:
        gap = ""
        if r.gap is not None:
            gap = ci(r.gap, 100, "%", 0) if not res.sandwich.unstable else f"{pct(r.gap.est)} (unstable)"
        style = {"unassisted": "red", "expert": "green", "gold": "green", "model": "bright_black"}.get(r.kind)
        t.add_row(r.label, ci(r.accuracy), gap, r.note, style=style)
    return t


def agreement_table(res: AnalysisResult) -> Table:
    t = Table(title="Agreement between overseers (Krippendorff's α, nominal)", title_justify="left")
    for c in ("group", "α", "items judged ≥2×", "note"):
        t.add_column(c)
    for a in res.agreement:
        t.add_row(a.group, "—" if a.alpha is None else f"{a.alpha:.3f}", str(a.items_shared), a.note)
    return t


def aggregation_table(res: AnalysisResult) -> Table:
    t = Table(title="Aggregated answers per item vs gold", title_justify="left")
    for c in ("condition", "items", "items with ≥2 answers", "majority vote", "Dawid–Skene", "note"):
        t.add_column(c)
    for a in res.aggregates:
        t.add_row(a.group, str(a.items), str(a.multi_judged), pct(a.majority), pct(a.dawid_skene), a.note)
    return t


def overseer_table(res: AnalysisResult) -> Table:
    t = Table(
        title="Overseers: Dawid–Skene reliability (estimated without gold) vs accuracy on gold", title_justify="left"
    )
    for c in ("overseer", "judgments", "DS estimate", "on gold", "verdict", "why unknown"):
        t.add_column(c)
    colour = {"signal": "green", "weak": "yellow", "noise": "red", "unknown": "dim"}
    for r in res.reliability:
        t.add_row(
            r.overseer,
            str(r.judgments),
            pct(r.ds_accuracy),
            pct(r.gold_accuracy),
            f"[{colour[r.verdict]}]{r.verdict}[/]",
            r.reason,
        )
    return t


def hypotheses_table(res: AnalysisResult) -> Table:
    t = Table(
        title="Hypotheses (estimate = A − B; null results reported the same way; the interval matches the "
        "test: two-sided 95% for two-sided, a one-sided (1 − α) bound [≥ lo] or [≤ hi] for greater/less)",
        title_justify="left",
    )
    for c in ("id", "label", "A vs B", "metric", "alt.", "estimate [interval]", "p", "test", "α", "verdict"):
        t.add_column(c)
    for h in res.hypotheses:
        scale, unit, dig = (100, " pt", 1) if h.metric in ("accuracy", "gap_closed") else (1, "", 3)
        colour = {"supported": "green", "not supported": "yellow"}.get(h.verdict, "red")
        t.add_row(
            h.id,
            h.label,
            f"{h.compare[0]} vs {h.compare[1]}",
            h.metric,
            h.alternative,
            hypothesis_interval(h, scale, unit, dig),
            fmt_p(h.p) + (f" ({res.multiplicity} {fmt_p(h.p_adjusted)})" if math.isfinite(h.p_adjusted) else ""),
            h.test,
            f"{h.alpha:g}",
            f"[{colour}]{h.verdict}[/]",
        )
    return t


def hypothesis_interval(h: Any, scale: float, unit: str, digits: int) -> str:
    """`est [lo, hi]` (two-sided), `est [≥ lo]` / `est [≤ hi]` (one-sided bound), or the estimate alone."""
    if not math.isfinite(h.estimate):
        return "—"
    e = f"{h.estimate * scale:.{digits}f}{unit}"
    if h.alternative == "greater" and math.isfinite(h.lo):
        return f"{e} [≥ {h.lo * scale:.{digits}f}]"
    if h.alternative == "less" and math.isfinite(h.hi):
        return f"{e} [≤ {h.hi * scale:.{digits}f}]"
    if math.isfinite(h.lo) and math.isfinite(h.hi):
        return f"{e} [{h.lo * scale:.{digits}f}, {h.hi * scale:.{digits}f}]"
    return e


def print_report(res: AnalysisResult, console: Console | None = None) -> None:
    """Everything, in the order a lead reads it: warnings, sandwich, conditions, tests, the rest."""
    console = console or Console()
    console.print(f"[bold]{res.study}[/] — {res.question}")
    console.print(
        f"[dim]{res.db_path} · {res.judgments} judgments · {res.replicates} bootstrap replicates · seed {res.seed}[/]"
    )
    print_integrity(res, console)
    console.print(f"figures: [bold]{res.source_label}[/]", style="bold red" if res.mixed else None)
    if res.synthetic:
        console.print(Panel(SYNTHETIC.format(n=res.simulated, total=res.judgments), style="bold red"))
    for d in res.disclosure:
        console.print(f"[bold]what this is:[/] {d}", soft_wrap=True)
    for w in res.warnings:
        console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
    if not res.groups:
        return
    console.print(fit(sandwich_table(res), console.width))
    console.print(fit(condition_table(res), console.width))
    if res.by_source:
        console.print(fit(source_table(res), console.width))
    if res.hypotheses:
        console.print(fit(hypotheses_table(res), console.width))
        for h in res.hypotheses:
            if h.note:
                console.print(f"[dim]{h.id}: {h.note}[/]")
    console.print(fit(agreement_table(res), console.width))
    console.print(fit(aggregation_table(res), console.width))
    console.print(fit(overseer_table(res), console.width))
    if res.trajectory is not None:
        for tt in res.trajectory.tables:
            console.print(fit(tt, console.width))
        for n in res.trajectory.notes:
            console.print(f"[dim]{n}[/]")
    console.print(
        "[dim]Intervals: two-way (pigeonhole) bootstrap over overseers and items, rescaled to remove "
        "double-counted judgment noise; the plain pigeonhole intervals are in results.json.[/]"
    )
    if res.html:
        console.print(f"report: [bold]{res.html}[/]")


# --------------------------------------------------------------------- html
def _table_html(t: Table) -> str:
    """A rich Table as a plain HTML table (markup stripped)."""
    from rich.text import Text

    cols = [html.escape(str(c.header)) for c in t.columns]
    cells = [[Text.from_markup(str(x)).plain for x in c._cells] for c in t.columns]
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cells[c][r])}</td>" for c in range(len(cols))) + "</tr>"
        for r in range(t.row_count)
    )
    title = html.escape(str(t.title or ""))
    return (
        f"<h2>{title}</h2><table><thead><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}h2{font-size:1.1em;margin-top:1.6em}
.synthetic{background:#b00020;color:#fff;padding:.8em 1em;font-weight:bold;font-size:1.2em}
.warn{background:#fff4ce;padding:.5em 1em;border-left:4px solid #e0a800}img{max-width:100%;margin:.5em 0}
.dim{color:#666;font-size:.9em}"""


def results_json(res: AnalysisResult) -> dict[str, Any]:
    """Machine-readable numbers (both interval kinds) for scripts."""

    def iv(x: Interval | None) -> dict[str, float | None] | None:
        return None if x is None else {k: (v if math.isfinite(v) else None) for k, v in x.as_dict().items()}

    return {
        "study": res.study,
        "judgments": res.judgments,
        "simulated": res.simulated,
        "synthetic": res.synthetic,
        "replicates": res.replicates,
        "permutations": res.permutations,
        "multiplicity": res.multiplicity,
        "seed": res.seed,
        "warnings": res.warnings,
        "sources": res.sources,
        "mixed": res.mixed,
        "left_out": res.left_out,
        "premise": res.premise,
        "disclosure": res.disclosure,
        "no_help": [n.__dict__ for n in res.no_help],
        "by_source": [
            {
                "source": s.source,
                "judgments": s.judgments,
                "conditions": [
                    {"group": g.group, "judgments": g.judgments, "overseers": g.overseers, "accuracy": iv(g.accuracy)}
                    for g in s.groups
                ],
            }
            for s in res.by_source
        ],
        "conditions": [
            {
                "group": g.group,
                "judgments": g.judgments,
                "accuracy": iv(g.accuracy),
                "brier": iv(g.brier),
                "ece": g.ece if math.isfinite(g.ece) else None,
                "ece_ci": [x if math.isfinite(x) else None for x in g.ece_ci],
                "ece_method": "ECE_sweep",
                "time": iv(g.time),
            }
            for g in res.groups
        ],
        "sandwich": None
        if res.sandwich is None
        else {
            "unstable": res.sandwich.unstable,
            "denominator": iv(res.sandwich.denominator),
            "rows": [
                {"label": r.label, "kind": r.kind, "accuracy": iv(r.accuracy), "gap_closed": iv(r.gap)}
                for r in res.sandwich.rows
            ],
        },
        "hypotheses": [
            {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in h.__dict__.items()}
            for h in res.hypotheses
        ],
        **integrity_json(res),
        **({"trajectories": res.trajectory.data} if res.trajectory is not None else {}),
    }


def write_html(res: AnalysisResult, out: Path) -> Path:
    """index.html (plots embedded), the PNGs beside it, and results.json."""
    from sandwich.analysis.plots import all_plots

    out.mkdir(parents=True, exist_ok=True)
    res.pngs = all_plots(res, out)
    parts = [
        f"<h1>{html.escape(res.study)}</h1><p>{html.escape(res.question)}</p>",
        (
            f"<p class='dim'>{html.escape(str(res.db_path))} · {res.judgments} judgments · {res.replicates} "
            f"bootstrap replicates · seed {res.seed}</p>"
        ),
        f"<p><b>figures: {html.escape(res.source_label)}</b></p>",
    ]
    parts.append(integrity_html(res))
    if res.synthetic:
        parts.append(
            f"<div class='synthetic'>{html.escape(SYNTHETIC.format(n=res.simulated, total=res.judgments))}</div>"
        )
    parts += [f"<p><b>What this is:</b> {html.escape(d)}</p>" for d in res.disclosure]
    parts += [f"<p class='warn'>⚠ {html.escape(w)}</p>" for w in res.warnings]
    if res.groups:
        parts.append(_table_html(sandwich_table(res)))
        imgs = {p.name: p for p in res.pngs}
        for name in ("sandwich.png",):
            if name in imgs:
                parts.append(_img(imgs[name]))
        parts.append(_table_html(condition_table(res)))
        if res.by_source:
            parts.append(_table_html(source_table(res)))
        if "reliability.png" in imgs:
            parts.append(_img(imgs["reliability.png"]))
        if res.hypotheses:
            parts.append(_table_html(hypotheses_table(res)))
            parts += [
                f"<p class='dim'>{html.escape(h.id)}: {html.escape(h.note)}</p>" for h in res.hypotheses if h.note
            ]
            if "hypotheses.png" in imgs:
                parts.append(_img(imgs["hypotheses.png"]))
        parts += [
            _table_html(agreement_table(res)),
            _table_html(aggregation_table(res)),
            _table_html(overseer_table(res)),
        ]
        if "overseers.png" in imgs:
            parts.append(_img(imgs["overseers.png"]))
        if res.trajectory is not None:
            parts += [_table_html(tt) for tt in res.trajectory.tables]
            parts += [f"<p class='dim'>{html.escape(n)}</p>" for n in res.trajectory.notes]
        from sandwich.analysis.classifier_section import classifier_html, comparison

        found = comparison(res, out)
        if not isinstance(found, str):
            res.pngs += [Path(p) for p in found.plots.values()]
        parts.append(classifier_html(found, _table_html, _img))
        parts.append(
            "<p class='dim'>Intervals: two-way (pigeonhole) bootstrap over overseers and items "
            "(Owen 2007), rescaled to the variance 2(V<sub>overseers</sub> + V<sub>items</sub>) − "
            "V<sub>both</sub>, which removes judgment noise the plain pigeonhole bootstrap counts three "
            "times; the plain (conservative) intervals are in results.json.</p>"
        )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(res.study)} — sandwich report"
        f"</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    (out / "results.json").write_text(json.dumps(results_json(res), indent=2, default=str), encoding="utf-8")
    res.html = index
    return index


def _img(p: Path) -> str:
    data = base64.b64encode(p.read_bytes()).decode()
    return f"<img alt='{html.escape(p.stem)}' src='data:image/png;base64,{data}'>"
