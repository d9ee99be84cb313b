"""Evaluation: holdout scores (:mod:`.holdout`), model comparison (:mod:`.comparison`),
checks of churn models (:mod:`.churn_checks`) and life tables (:mod:`.retention`)."""

from .comparison import compare_models
from .holdout import HoldoutScore, evaluate_holdout, pit_coverage

__all__ = ["evaluate_holdout", "pit_coverage", "HoldoutScore", "compare_models"]
