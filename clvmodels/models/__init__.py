"""Models: BG/NBD (purchases), Gamma-Gamma (spend), sharing one fitting engine."""

from .base import BaseModel
from .bdw import BetaDiscreteWeibullCovariateModel, BetaDiscreteWeibullModel
from .bgbb import BetaGeoBetaBinomModel
from .bgnbd import BetaGeoModel
from .gamma_gamma import GammaGammaModel
from .mbgnbd import ModifiedBetaGeoModel
from .pnbd import ParetoNBDModel
from .sbg import ShiftedBetaGeoModel
from .sbg_covariates import ShiftedBetaGeoCovariateModel

__all__ = ["BaseModel", "BetaGeoModel", "GammaGammaModel", "ShiftedBetaGeoModel",
           "ShiftedBetaGeoCovariateModel", "ModifiedBetaGeoModel", "BetaGeoBetaBinomModel",
           "BetaDiscreteWeibullModel", "BetaDiscreteWeibullCovariateModel",
           "ParetoNBDModel"]
