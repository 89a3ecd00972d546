"""`sandwich analyze` and `sandwich power`: the study's answer, and how many overseers and items it needs."""

from __future__ import annotations

from pathlib import Path

import typer

from sandwich.cli.common import DB_HELP, console, study_db
from sandwich.errors import SandwichError


def _pairs(explore: list[str]) -> list[tuple[str, str]]:
    out = []
    for e in explore:
        a, sep, b = e.partition(":")
        if not sep or not a or not b:
            raise SandwichError(f"--explore {e!r}: expected CONDITION_A:CONDITION_B (e.g. debate:unassisted).")
        out.append((a, b))
    return out


def _ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SandwichError(f"{what} {text!r}: expected comma-separated whole numbers, e.g. 4,8,16.") from None
    if not vals or min(vals) < 1:
        raise SandwichError(f"{what} {text!r}: expected positive whole numbers.")
    return vals


def analyze(
    study: str = typer.Argument(..., help="Study YAML or .duckdb file.", show_default=False),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    out: Path | None = typer.Option(None, "--out", help="Write index.html, PNG plots and results.json here."),
    replicates: int | None = typer.Option(
        None, "--replicates", min=50, help="Two-way bootstrap replicates (default: the frozen plan's, 2000)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Bootstrap/permutation seed (default: the study's)."),
    explore: list[str] = typer.Option([], "--explore", help="Extra comparison A:B, labelled exploratory (repeatable)."),
    source: str | None = typer.Option(
        None,
        "--source",
        help="Judgments the figures are made of: human, llm, parametric, simulated, all (mixed), "
        "or a comma list. Default: the frozen plan's, else human if any, else the simulation. "
        "Every source present is also shown on its own.",
    ),
    include_no_help: bool = typer.Option(
        False,
        "--include-no-help",
        help="Keep judgments an assisted condition made without its help (left out by default).",
    ),
) -> None:
    """Accuracy, calibration, agreement, aggregation, the sandwich with gap closed, and the pre-registered tests."""
    from sandwich.analysis import analyze_study

    path = study_db(study, db)
    res = analyze_study(
        path,
        out_dir=out,
        replicates=replicates,
        seed=seed,
        explore=_pairs(explore),
        study_file=study if Path(study).suffix in (".yaml", ".yml") else None,
        source=source,
        include_no_help=include_no_help,
    )
    res.print(console)


def power(
    study: Path = typer.Argument(
        ..., help="Study YAML (no database needed), or an observed study's .duckdb.", show_default=False
    ),
    overseers: str = typer.Option("4,8,16", "--overseers", help="Numbers of non-expert overseers to try."),
    items: str = typer.Option("24,48,96", "--items", help="Items per overseer to try."),
    sims: int = typer.Option(200, "--sims", min=10, help="Simulated studies per cell."),
    out: Path | None = typer.Option(None, "--out", help="Also write power.png and power.json here."),
    seed: int | None = typer.Option(None, "--seed", help="Simulation seed (default: the study's)."),
    db: Path | None = typer.Option(None, "--db", help="Observed design: the database whose incidence to keep."),
) -> None:
    """Simulated power of each pre-registered hypothesis, using the study's parametric overseer profiles."""
    from sandwich.analysis.power import power_analysis, power_table, write_power
    from sandwich.store.imported import read_config_text, read_incidence
    from sandwich.studyfile import load_study, validate_text

    db = db or (study if study.suffix == ".duckdb" else None)
    spec = (
        validate_text(read_config_text(study), f"{study}#config")
        if study.suffix == ".duckdb"
        else load_study(study).study
    )
    incidence = None
    if spec.overseers.design == "observed":
        if db is None:
            raise SandwichError(
                f"{study}: an observed design's power follows the data's incidence.",
                hint="Pass the imported study database with --db.",
            )
        incidence = read_incidence(db)
    res = power_analysis(
        spec,
        _ints(overseers, "--overseers"),
        _ints(items, "--items"),
        sims=sims,
        seed=spec.seed if seed is None else seed,
        incidence=incidence,
    )
    for t in power_table(res):
        console.print(t)
    if out is not None:
        for p in write_power(res, out):
            console.print(f"wrote {p}")


def register(app: typer.Typer) -> None:
    """Add `analyze` and `power` to the CLI."""
    app.command("analyze")(analyze)
    app.command("power")(power)
