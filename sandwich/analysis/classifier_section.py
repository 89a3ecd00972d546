"""The report's classifier section: when a study has trained classifiers (`sandwich train`), the comparison by
label source — its plots (classifiers.png, risk_coverage.png) and its tables (metrics and best-of-n, performance
gap recovered, high stakes) — in the HTML report, computed exactly as `sandwich compare` does."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from sandwich.errors import SandwichError

if TYPE_CHECKING:
    from sandwich.analysis.result import AnalysisResult
    from sandwich.classifiers.compare import ComparisonResult
    from sandwich.classifiers.pairwise_compare import PairComparison

TITLE = "<h2>Classifiers trained on each label source</h2>"


def comparison(res: AnalysisResult, out: Path) -> ComparisonResult | PairComparison | str:
    """The comparison of the study's trained runs (plots written to OUT/classifiers/), or why there is none."""
    from sandwich.classifiers import compare_study  # pointwise or pairwise, by the study's task kind
    from sandwich.classifiers.training import default_runs_dir, load_runs

    root = default_runs_dir(res.db_path, res.study)
    if not load_runs(root):
        return "No classifiers trained for this study yet (sandwich train STUDY, then analyze again)."
    try:
        return compare_study(res.db_path, out / "classifiers", n_boot=min(res.replicates, 1000), seed=res.seed)
    except SandwichError as e:  # e.g. runs that predate the study's items: say so, keep the rest of the report
        return f"The trained classifiers could not be compared: {e}"


def classifier_html(
    r: ComparisonResult | PairComparison | str, table_html: Callable[[Table], str], img: Callable[[Path], str]
) -> str:
    """The section as HTML: SYNTHETIC first when labels were simulated, the plots, every table, the notes."""
    if isinstance(r, str):
        return TITLE + f"<p class='dim'>{html.escape(r)}</p>"
    parts = [TITLE]
    plots = [Path(p) for p in getattr(r, "plots", {}).values() if Path(p).exists()]
    for renderable in r.table.renderables:  # a pairwise study's reward-model comparison has the same shape
        if isinstance(renderable, Table):
            parts.append(table_html(renderable))
            if plots:  # the plots right after the main table they draw
                parts += [img(p) for p in plots]
                plots = []
        elif isinstance(renderable, Text) and renderable.plain.strip() and not renderable.plain.startswith("plots:"):
            cls = "synthetic" if renderable.plain.startswith("SYNTHETIC") else "dim"
            parts.append(f"<p class='{cls}'>{html.escape(renderable.plain)}</p>")
    return "".join(parts)
