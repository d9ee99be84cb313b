"""Models: BG/NBD (purchases), Gamma-Gamma (spend), sharing one fitting engine."""

from .base import BaseModel
from .churn.bdw import BetaDiscreteWeibullCovariateModel, BetaDiscreteWeibullModel
from .churn.covariates import ShiftedBetaGeoCovariateModel
from .churn.sbg import ShiftedBetaGeoModel
from .purchase.bgbb import BetaGeoBetaBinomCovariateModel, BetaGeoBetaBinomModel
from .purchase.bgnbd import BetaGeoCovariateModel, BetaGeoModel
from .purchase.mbgnbd import ModifiedBetaGeoCovariateModel, ModifiedBetaGeoModel
from .purchase.pnbd import ParetoNBDCovariateModel, ParetoNBDModel
from .spend.gamma_gamma import GammaGammaCovariateModel, GammaGammaModel

__all__ = ["BaseModel", "BetaGeoModel", "GammaGammaModel", "ShiftedBetaGeoModel",
           "ShiftedBetaGeoCovariateModel", "ModifiedBetaGeoModel", "BetaGeoBetaBinomModel",
           "BetaDiscreteWeibullModel", "BetaDiscreteWeibullCovariateModel",
           "ParetoNBDModel", "BetaGeoCovariateModel", "ModifiedBetaGeoCovariateModel",
           "ParetoNBDCovariateModel", "BetaGeoBetaBinomCovariateModel",
           "GammaGammaCovariateModel"]
