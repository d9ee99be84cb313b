"""Purchase models (non-contractual): one file per model on the interface of
:class:`~clvmodels.models.purchase.base.PurchaseModel`."""

from .base import PurchaseModel
from .bgbb import BetaGeoBetaBinomModel
from .bgnbd import BetaGeoModel
from .mbgnbd import ModifiedBetaGeoModel
from .pnbd import ParetoNBDModel

__all__ = ["PurchaseModel", "BetaGeoModel", "ModifiedBetaGeoModel", "ParetoNBDModel",
           "BetaGeoBetaBinomModel"]
