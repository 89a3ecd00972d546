"""Which judgments a figure is made of: people and each kind of simulated overseer kept apart, and
judgments made without their condition's help left out of that condition.

A judgment's `source` says who made it: `human` (a person in the app or through
the server), `parametric` (a simulated overseer drawing answers from typed-in
skills) or `llm` (an LLM judge reading the item and the help). Figures pooled
across sources describe neither people nor the simulation, so the analysis
selects one source set (by default: what the frozen plan names, else people
when there are any, else the first simulated kind) and reports every source
present side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from sandwich import rules
from sandwich.config import Study
from sandwich.errors import SandwichError

# display order and words for each source
SOURCE_ORDER = ("human", "llm", "parametric")
SOURCE_WORDS = {"human": "people", "llm": "LLM-judge simulation", "parametric": "parametric simulation"}
CHOICES = ("human", "llm", "parametric", "simulated", "all")


def source_words(sources: list[str]) -> str:
    """'people', 'parametric simulation', 'people + LLM-judge simulation (MIXED)', …"""
    words = " + ".join(SOURCE_WORDS.get(s, s) for s in sources)
    return f"{words} (MIXED)" if len(sources) > 1 else words


def present_sources(judgments: pl.DataFrame) -> list[str]:
    """The sources among these judgments, people first."""
    found = set(judgments["source"].drop_nulls().unique().to_list()) if judgments.height else set()
    return [s for s in SOURCE_ORDER if s in found] + sorted(found - set(SOURCE_ORDER))


def planned_sources(prereg: dict[str, Any] | None, study: Study) -> list[str] | None:
    """The sources the frozen analysis plan counts as confirmatory; without a frozen plan, the study file's
    `preregistration.sources`. None when the plan does not say (then: people if any, else the first kind)."""
    if prereg is not None and isinstance(prereg.get("plan"), dict):
        return rules.planned_sources(prereg["plan"])
    declared = study.preregistration.sources
    return [str(s) for s in declared] if declared else None


def select_sources(requested: str | None, present: list[str], planned: list[str] | None) -> list[str]:
    """The sources to analyse for `--source` (None: the plan's, else people if any, else the first present)."""
    if requested is None:
        if planned:
            return [s for s in planned if s in present] or list(planned)
        return ["human"] if "human" in present else present[:1]
    wanted: list[str] = []
    for part in (p.strip() for p in requested.split(",") if p.strip()):
        if part not in CHOICES and part not in present:
            raise SandwichError(
                f"--source {requested!r}: unknown source {part!r}.",
                hint=f"Use one of {', '.join(CHOICES)} (or several, comma-separated); "
                f"this study has: {', '.join(present) or 'no judgments'}.",
            )
        if part == "all":
            wanted += present
        elif part == "simulated":
            wanted += [s for s in present if s != "human"]
        else:
            wanted.append(part)
    return list(dict.fromkeys(wanted))


@dataclass
class NoHelp:
    """Judgments in an assisted condition made without that condition's help."""

    condition: str
    without_help: int
    judgments: int
    excluded: bool


def judgments_without_help(judgments: pl.DataFrame, study: Study) -> list[NoHelp]:
    """Per assisted condition: how many non-expert judgments carry `assistance_failed` (help failed or none
    was prepared)."""
    out: list[NoHelp] = []
    assisted = [c.name for c in study.conditions if c.assistance]
    if not judgments.height:
        return out
    j = judgments.filter(pl.col("role") != "expert")
    for name in assisted:
        in_c = j.filter(pl.col("condition") == name)
        failed = int(in_c["assistance_failed"].fill_null(False).sum()) if in_c.height else 0
        if failed:
            out.append(NoHelp(name, failed, in_c.height, excluded=False))
    return out


def drop_without_help(judgments: pl.DataFrame, study: Study) -> pl.DataFrame:
    """The judgments minus non-expert ones in assisted conditions that had no help."""
    assisted = [c.name for c in study.conditions if c.assistance]
    no_help = (
        (pl.col("role") != "expert")
        & pl.col("condition").is_in(assisted)
        & pl.col("assistance_failed").fill_null(False)
    )
    return judgments.filter(~no_help)


def disclosure(judgments: pl.DataFrame, study: Study, model: str | None, model_accuracy: float | None) -> list[str]:
    """What is synthetic in these figures, and what the model behind them can and cannot show, in words."""
    out: list[str] = []
    sources = present_sources(judgments)
    assisted = [c.name for c in study.conditions if c.assistance]
    if "parametric" in sources:
        out.append(
            "Parametric simulated overseers read no item and no help: each answer is drawn at random, right "
            "with the probability typed into the study file's `simulation:` section for that condition. "
            "Differences between their conditions are those typed-in skills plus noise — they test the "
            "pipeline and the statistics, not whether assistance helps."
        )
    if "llm" in sources:
        j = judgments.filter((pl.col("source") == "llm") & pl.col("condition").is_in(assisted))
        helped = int((~j["assistance_failed"].fill_null(False)).sum()) if j.height else 0
        judge_model = study.simulation.non_expert.model or study.assistant.model
        out.append(
            f"LLM-judge overseers are a language model ({judge_model}"
            f") reading each item, the part's briefing and the precomputed help, as a person would: "
            f"{helped} of {j.height} of their assisted judgments had help. They are a model, not people."
        )
    if model is not None and model_accuracy is not None and sources and set(sources) != {"human"}:
        out.append(
            f"The assistant ({model}) answers {100 * model_accuracy:.1f}% of items alone. A small stand-in "
            "model shows that help is generated, shown and recorded end to end; it cannot show how much a "
            "capable model's help would close the gap for people."
        )
    return out
