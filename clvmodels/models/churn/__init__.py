"""Contractual churn models: one engine (:class:`~clvmodels.models.churn.base.ChurnModel`)
and one file per model."""

from .base import ChurnModel
from .bdw import (
                  BetaDiscreteWeibullCovariateModel,
                  BetaDiscreteWeibullModel,
                  DiscreteWeibullChurnModel,
)
from .covariates import ShiftedBetaGeoCovariateModel
from .sbg import GeometricChurnModel, ShiftedBetaGeoModel
from .segmented import SegmentedChurnModel

__all__ = ["ChurnModel", "ShiftedBetaGeoModel", "GeometricChurnModel",
           "ShiftedBetaGeoCovariateModel", "BetaDiscreteWeibullModel",
           "BetaDiscreteWeibullCovariateModel", "DiscreteWeibullChurnModel",
           "SegmentedChurnModel"]
