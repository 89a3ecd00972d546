"""Analysis of a study: accuracy with two-way bootstrap intervals, calibration, agreement,
aggregation, the sandwich with gap closed, and pre-registered hypothesis tests."""

from sandwich.analysis.result import AnalysisResult, analyze_study

__all__ = ["AnalysisResult", "analyze_study"]
