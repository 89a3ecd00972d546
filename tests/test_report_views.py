"""What the study lead reads (issue 14): the classifier section of the HTML report, plots that agree on colours
and units and do not overprint, and terminal tables whose headers survive an 80-column terminal."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from report_support import plant_runs, simulated_study
from rich.console import Console
from rich.table import Table

from sandwich.analysis import analyze_study
from sandwich.analysis.narrow import fit
from sandwich.analysis.palette import palette
from sandwich.classifiers.compare import compare_study

ALL_PNGS = {"sandwich", "reliability", "overseers", "hypotheses", "classifiers", "risk_coverage"}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = simulated_study(tmp_path_factory.mktemp("report"))
    plant_runs(db)
    return db


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """Every figure a plot function makes, kept open (plt.close is a no-op) so its artists can be inspected."""
    made: list = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: made.append(fig))
    yield made
    close("all")


def test_the_html_report_has_the_classifier_section(study: Path, tmp_path: Path) -> None:
    res = analyze_study(study, out_dir=tmp_path / "report", replicates=100)
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert {p.stem for p in res.pngs} == ALL_PNGS
    embedded = set(re.findall(r"<img alt='([a-z_]+)' src='data:image/png;base64,", page))
    assert embedded == ALL_PNGS
    section = page[page.index("Classifiers trained on each label source") :]
    for title in ("Performance gap recovered", "High stakes", "best-of-n pass"):
        assert title in section
    # the figures are compare's own: the debate-trained classifier's PGR on accuracy, as `sandwich compare` gives it
    cmp = compare_study(study, n_boot=100, seed=res.seed)
    debate = next(s for s in cmp.summaries if s.source == "debate")
    assert f"<td>debate</td><td>accuracy</td><td>{debate.pgr['accuracy']['mean']:.2f}</td>" in section
    assert "SYNTHETIC" in section


def test_without_trained_classifiers_the_report_says_how_to_get_them(tmp_path: Path) -> None:
    db = simulated_study(tmp_path)
    analyze_study(db, out_dir=tmp_path / "report", replicates=50)
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "No classifiers trained for this study yet (sandwich train STUDY" in page
    assert "alt='classifiers'" not in page


def test_every_plot_gives_a_condition_the_same_colour(study: Path, tmp_path: Path, figures: list) -> None:
    from matplotlib.colors import to_hex

    analyze_study(study, out_dir=tmp_path / "report", replicates=100)
    by_title = {f.axes[0].get_title(): f for f in figures if f is not None and f.axes}
    colours = palette(["unassisted", "unassisted", "consult", "debate"])
    assert len({colours[c] for c in ("unassisted", "consult", "debate", "expert")}) == 4
    bars = next(f for t, f in by_title.items() if "the sandwich" in t).axes[0]
    names = [t.get_text() for t in bars.get_xticklabels()]
    bar_colour = {n: to_hex(p.get_facecolor()) for n, p in zip(names, bars.patches, strict=False)}
    assert bar_colour["debate"] == colours["debate"].lower()
    assert bar_colour["unassisted (non-experts)"] == colours["unassisted"].lower()
    assert bar_colour["experts"] == colours["expert"].lower()
    rel = next(f for t, f in by_title.items() if "Reliability" in t).axes[0]
    line_colour = {ln.get_label().split(" (")[0]: to_hex(ln.get_color()) for ln in rel.get_lines()}
    for c in ("unassisted", "consult", "debate", "expert"):
        assert line_colour[c] == colours[c].lower(), c
    assert "perfect calibration" in [t.get_text() for t in rel.get_legend().get_texts()]
    cls = next(f for f in figures if f is not None and f._suptitle is not None)
    ax = cls.axes[0]
    labels = [t.get_text().split(" (n=")[0] for t in ax.get_yticklabels()]
    for label, patch in zip(labels, ax.patches, strict=False):
        assert to_hex(patch.get_facecolor()) == colours[label.split(":")[-1]].lower(), label


def test_plots_do_not_overprint_and_the_hypothesis_axis_is_in_points(
    study: Path, tmp_path: Path, figures: list
) -> None:
    res = analyze_study(study, out_dir=tmp_path / "report", replicates=100)
    for fig in [f for f in figures if f is not None]:
        renderer = fig.canvas.get_renderer()
        stamp = [t for t in fig.texts if t.get_text().startswith("SYNTHETIC")]
        assert stamp, "every plot of a simulated study is stamped"
        box = stamp[0].get_window_extent(renderer)
        titles = [a.title for a in fig.axes] + ([fig._suptitle] if fig._suptitle is not None else [])
        for t in titles:
            if t.get_text():
                assert not box.overlaps(t.get_window_extent(renderer)), t.get_text()
        for ax in fig.axes:  # value labels stay inside the axes, below their title
            top = ax.get_window_extent(renderer).y1
            for t in ax.texts:
                assert t.get_window_extent(renderer).y1 <= top + 1, t.get_text()
    [h1] = res.hypotheses
    hyp = next(f for f in figures if f is not None and f.axes and "Hypotheses" in f.axes[0].get_title()).axes[0]
    points = [ln for ln in hyp.get_lines() if ln.get_marker() == "o" and len(ln.get_xdata())]
    assert math.isclose(float(np.asarray(points[0].get_xdata())[0]), 100 * h1.estimate)
    assert "percentage points" in hyp.get_xlabel()


def test_report_tables_keep_whole_headers_at_80_columns(study: Path) -> None:
    res = analyze_study(study, replicates=100)
    console = Console(width=80, record=True, no_color=True)
    res.print(console)
    cmp = compare_study(study, n_boot=100)
    for part in cmp.table.renderables:
        console.print(fit(part, 80) if isinstance(part, Table) else part)
    text = console.export_text()
    assert "…" not in text
    table_lines = [ln for ln in text.splitlines() if any(ch in ln for ch in "┃│━")]
    assert table_lines and max(len(ln) for ln in table_lines) <= 80
    for header in ("cond.", "Brier", "ECE", "s/item", "verdict", "PGR", "cov. @99%"):
        assert header in text, header
    assert "n = judgments" in text  # short headers are spelled out
    wide = Console(width=140, record=True, no_color=True)
    res.print(wide)
    assert "judgments" in wide.export_text() and "cond." not in wide.export_text()  # wide terminals: unchanged


SIX_CONDITIONS = """
  - {name: unassisted}
  - {name: explain, assistance: [explanation]}
  - {name: decompose, assistance: [decomposition]}
  - {name: critique, assistance: [critique]}
  - {name: consult, assistance: [consultancy]}
  - {name: debate, assistance: [{debate: {rounds: 1}}]}"""


@pytest.mark.parametrize("columns", [80, 160])
def test_status_with_six_conditions_at_80_columns_cuts_no_header(tmp_path: Path, columns: int) -> None:
    import os
    import subprocess
    import sys

    from study_files import write_mc_study

    from sandwich.create import create_study
    from sandwich.studyfile import load_study

    db = tmp_path / "mc.duckdb"
    create_study(load_study(write_mc_study(tmp_path, conditions=SIX_CONDITIONS, overseers=6)), db)
    res = subprocess.run(
        [sys.executable, "-m", "sandwich", "status", str(db)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "COLUMNS": str(columns)},
    )
    assert res.returncode == 0, res.stderr
    assert "…" not in res.stdout
    for name in ("unassisted", "decompose", "critique", "consult", "debate", "done", "left"):
        assert name in res.stdout, name
    assert "0/2" in res.stdout  # each of the six conditions: 0 of 2 items done
