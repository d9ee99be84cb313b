"""Models: BG/NBD (purchases), Gamma-Gamma (spend), sharing one fitting engine."""

from .base import BaseModel
from .churn.bdw import BetaDiscreteWeibullCovariateModel, BetaDiscreteWeibullModel
from .churn.covariates import ShiftedBetaGeoCovariateModel
from .churn.sbg import ShiftedBetaGeoModel
from .purchase.bgbb import BetaGeoBetaBinomModel
from .purchase.bgnbd import BetaGeoModel
from .purchase.mbgnbd import ModifiedBetaGeoModel
from .purchase.pnbd import ParetoNBDModel
from .spend.gamma_gamma import GammaGammaModel

__all__ = ["BaseModel", "BetaGeoModel", "GammaGammaModel", "ShiftedBetaGeoModel",
           "ShiftedBetaGeoCovariateModel", "ModifiedBetaGeoModel", "BetaGeoBetaBinomModel",
           "BetaDiscreteWeibullModel", "BetaDiscreteWeibullCovariateModel",
           "ParetoNBDModel"]
