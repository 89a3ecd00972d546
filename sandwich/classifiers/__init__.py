"""Reward-model classifiers trained on each label source's judgments, compared against expert-trained ones.

Pointwise P(bad) classifiers for code-review and multiple-choice studies; Bradley–Terry reward models for
pairwise studies. `sandwich.classifiers.pipelines` picks one by the study's task kind.
"""

from __future__ import annotations

from typing import Any

from sandwich.classifiers.pipelines import for_kind, study_kind


def train_study(db_path: Any, **kwargs: Any) -> list[Any]:
    """Train the study's classifiers or reward models (see `training.train_study`, `pairwise_train`)."""
    return for_kind(study_kind(db_path)).function("train")(db_path, **kwargs)


def compare_study(db_path: Any, out_dir: Any = None, **kwargs: Any) -> Any:
    """Compare the trained classifiers or reward models (see `compare.compare_study`, `pairwise_compare`)."""
    return for_kind(study_kind(db_path)).function("compare")(db_path, out_dir, **kwargs)


__all__ = ["train_study", "compare_study"]
