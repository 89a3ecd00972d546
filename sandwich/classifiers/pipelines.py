"""Which classifier pipeline a study's task kind uses: pointwise P(bad) classifiers, or pairwise reward models.

A registry keyed by the task kind's registered name (`task.kind`), so `train`, `compare` and `export --format
trl` dispatch without `if kind == ...`: a task kind not listed here gets the pointwise pipeline. A new kind
whose items are comparisons registers the pairwise pipeline under its name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Pipeline:
    """How a kind of study trains, compares and exports its reward models (each imported on first use)."""

    name: str
    train: str  # "module:function" with `training.train_study`'s arguments
    compare: str  # "module:function" with `compare.compare_study`'s arguments
    export_trl: str | None = None  # "module:function(svc, out) -> rows per file"; None: no preference export
    # the label-source names a study file may list in classifiers.train_on, given its condition names
    label_sources: Callable[[Sequence[str]], set[str]] = field(default=lambda names: pointwise_sources(names))
    sources_hint: str = (
        "'expert', a condition name, or majority:/dawid-skene: followed by a condition name, "
        "optionally followed by @human, @llm or @parametric"
    )

    def function(self, what: str) -> Callable[..., Any]:
        """The named function, imported."""
        import importlib

        ref = getattr(self, what)
        module, name = ref.split(":")
        return getattr(importlib.import_module(module), name)


def _sources(names: Sequence[str], aggregations: Sequence[str]) -> set[str]:
    """Each condition and its aggregations, each optionally limited to one kind of overseer (`@human`, `@llm`,
    `@parametric`; see `sandwich.classifiers.data.source_conditions`)."""
    judged = {*names} | {f"{agg}:{c}" for agg in aggregations for c in names}
    return judged | {f"{s}@{k}" for s in judged for k in ("human", "llm", "parametric")}


def pointwise_sources(names: Sequence[str]) -> set[str]:
    """Gold ('expert'), each condition, and its crowd-kit aggregations (majority, Dawid–Skene), per kind."""
    return {"expert"} | _sources(names, ("majority", "dawid-skene"))


def pairwise_sources(names: Sequence[str]) -> set[str]:
    """Gold ('expert', alias 'gold'), each condition, and its Bradley–Terry aggregate, per kind of overseer."""
    return {"expert", "gold"} | _sources(names, ("bradley-terry",))


POINTWISE = Pipeline(
    "pointwise", "sandwich.classifiers.training:train_study", "sandwich.classifiers.compare:compare_study"
)
PAIRWISE = Pipeline(
    "pairwise",
    "sandwich.classifiers.pairwise_train:train_pairwise_study",
    "sandwich.classifiers.pairwise_compare:compare_pairwise_study",
    "sandwich.classifiers.trl_export:export_trl_study",
    pairwise_sources,
    "'expert', a condition name, or bradley-terry: followed by a condition name, optionally "
    "followed by @human, @llm or @parametric",
)
_BY_KIND: dict[str, Pipeline] = {"pairwise": PAIRWISE}


def register(task_kind: str, pipeline: Pipeline) -> None:
    """Use `pipeline` for studies of `task_kind`."""
    _BY_KIND[task_kind] = pipeline


def for_kind(task_kind: str) -> Pipeline:
    """The pipeline of a task kind (pointwise unless registered)."""
    return _BY_KIND.get(task_kind, POINTWISE)


def study_kind(db_path: str | Path) -> str:
    """The task kind of a study database."""
    from sandwich.service import StudyService

    with StudyService(db_path, read_only=True) as svc:
        return str(svc.study.task.kind)
