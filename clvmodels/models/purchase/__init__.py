"""Purchase models (non-contractual): one file per model on the interface of
:class:`~clvmodels.models.purchase.base.PurchaseModel`."""

from .base import PurchaseModel
from .bgbb import BetaGeoBetaBinomModel
from .bgcnbd import BetaGeoCNBDModel
from .bgnbd import BetaGeoModel
from .mbgcnbd import ModifiedBetaGeoCNBDModel
from .mbgnbd import ModifiedBetaGeoModel
from .pnbd import ParetoNBDModel

# the nested models a fit becomes at a boundary (each file wires itself to its model)
from . import bgbb_limits, bgnbd_limits, mbgnbd_limits, pnbd_limits  # noqa: E402, F401

__all__ = ["PurchaseModel", "BetaGeoModel", "ModifiedBetaGeoModel", "ParetoNBDModel",
           "BetaGeoBetaBinomModel", "ModifiedBetaGeoCNBDModel", "BetaGeoCNBDModel"]
