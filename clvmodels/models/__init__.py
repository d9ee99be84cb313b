"""Models: BG/NBD (purchases), Gamma-Gamma (spend), sharing one fitting engine."""

from .base import BaseModel
from .bgnbd import BetaGeoModel
from .gamma_gamma import GammaGammaModel
from .sbg import ShiftedBetaGeoModel
from .sbg_covariates import ShiftedBetaGeoCovariateModel

__all__ = ["BaseModel", "BetaGeoModel", "GammaGammaModel", "ShiftedBetaGeoModel",
           "ShiftedBetaGeoCovariateModel"]
