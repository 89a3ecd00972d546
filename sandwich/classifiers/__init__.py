"""Reward-model classifiers trained on each label source's judgments, compared against expert-trained ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandwich.classifiers.compare import ComparisonResult
    from sandwich.classifiers.training import RunRecord


def train_study(db_path: Any, **kwargs: Any) -> list[RunRecord]:
    """Train the study's classifiers (see sandwich.classifiers.training.train_study)."""
    from sandwich.classifiers.training import train_study as _train
    return _train(db_path, **kwargs)


def compare_study(db_path: Any, out_dir: Any = None, **kwargs: Any) -> ComparisonResult:
    """Compare the trained classifiers (see sandwich.classifiers.compare.compare_study)."""
    from sandwich.classifiers.compare import compare_study as _compare
    return _compare(db_path, out_dir, **kwargs)


__all__ = ["train_study", "compare_study"]
