"""Report tables in narrow terminals: short headers under 100 columns, or one record per block when even those
do not fit — never a header cut to `unass…` or `decom…`."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

NARROW = 100  # below this many columns tables get short headers
SHORT = {
    "condition": "cond.",
    "judgments": "n",
    "overseers": "ovs.",
    "accuracy": "acc.",
    "s / item": "s/item",
    "accuracy [95% CI]": "acc. [95% CI]",
    "gap closed [95% CI]": "gap [95% CI]",
    "items with ≥2 answers": "≥2 answers",
    "majority vote": "majority",
    "DS estimate": "DS est.",
    "why unknown": "why",
    "items judged ≥2×": "≥2×",
    "estimate [interval]": "estimate",
    "coverage @99% precision": "cov. @99%",
    "coverage @99.9% precision": "cov. @99.9%",
    "95% lower bound, precision at the 99% point": "prec. lower 95%",
    "best-of-n pass": "best-of-n",
    "95% CI seeds": "CI seeds",
    "95% CI bootstrap": "CI boot.",
}
"""Short header for each long one; the table's caption spells out the abbreviations used."""
WORDS = {"n": "n = judgments", "ovs.": "ovs. = overseers", "cond.": "cond. = condition"}


def _header(c: object) -> str:
    return Text.from_markup(str(c)).plain if isinstance(c, str) else str(c)


def stacked(t: Table) -> Table:
    """The table as one block per row: `header  value` lines, a rule between records."""
    out = Table(title=t.title, title_justify="left", show_header=False, show_edge=False, pad_edge=False, expand=True)
    out.add_column(style="bold", no_wrap=True)
    out.add_column(overflow="fold", ratio=1)
    headers = [_header(c.header) for c in t.columns]
    cells = [list(c._cells) for c in t.columns]
    for r in range(t.row_count):
        for k, h in enumerate(headers):
            out.add_row(h, cells[k][r], end_section=k == len(headers) - 1)
    return out


def fit(t: Table, width: int) -> Table:
    """`t` unchanged at `width` ≥ 100; else with short headers no narrower than their text, or stacked."""
    if width >= NARROW:
        return t
    used = []
    for c in t.columns:
        h = _header(c.header)
        c.header = SHORT.get(h, h)
        if c.header != h and c.header in WORDS:
            used.append(WORDS[str(c.header)])
        c.min_width = max(len(w) for w in str(c.header).split() or [""])  # a header wraps at spaces, never cut
        c.no_wrap, c.overflow = False, "fold"  # values wrap, never end in an ellipsis; headers keep their width
    # each column: its header (at least 3 wide, for a wrapped value) plus 3 of padding and rule
    need = sum(max(c.min_width or 0, 3) + 3 for c in t.columns) + 1
    if need > width:
        return stacked(t)
    if used:
        t.caption = (f"{t.caption} · " if t.caption else "") + ", ".join(used)
        t.caption_justify = "left"
    return t
