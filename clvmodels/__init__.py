"""clvmodels: probabilistic, predictive customer lifetime value.

Transactions become per-customer summaries (:func:`rfm_summary`), the BG/NBD
(:class:`BetaGeoModel`) and Gamma-Gamma (:class:`GammaGammaModel`) models are fitted
to them, and :func:`customer_lifetime_value` turns both into per-customer CLV with a
credible interval for the expected value and a predictive interval for the realized
value.
"""

from importlib.metadata import PackageNotFoundError, version

from .clv import customer_lifetime_value
from .data import (
    calibration_holdout_summary,
    compress_rows,
    load_transactions,
    repeat_purchase_tracking,
    rfm_summary,
)
from .errors import (
    ClvModelsError,
    ConvergenceWarning,
    DataError,
    FitError,
    IncompatibleModelError,
    NotFittedError,
)
from .evaluation import evaluate_holdout
from .contractual import contractual_lifetime_value
from .data.subscriptions import subscription_summary
from .models import BetaGeoModel, GammaGammaModel
from .models.sbg import ShiftedBetaGeoModel, accounts_from_survival, simulate_sbg
from .models.sbg_covariates import ShiftedBetaGeoCovariateModel
from .retention import expected_retention, fit_by_segment, lifetime_summary, retention_table
from .models.persistence import load_model, save_model
from .simulate import simulate_bgnbd, simulate_spend

try:
    __version__ = version("clvmodels")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "customer_lifetime_value",
    "ShiftedBetaGeoModel",
    "ShiftedBetaGeoCovariateModel",
    "accounts_from_survival",
    "simulate_sbg",
    "contractual_lifetime_value",
    "subscription_summary",
    "retention_table",
    "expected_retention",
    "fit_by_segment",
    "lifetime_summary",
    "save_model",
    "load_model",
    "evaluate_holdout",
    "load_transactions",
    "rfm_summary",
    "calibration_holdout_summary",
    "repeat_purchase_tracking",
    "compress_rows",
    "simulate_bgnbd",
    "simulate_spend",
    "ClvModelsError",
    "DataError",
    "FitError",
    "NotFittedError",
    "IncompatibleModelError",
    "ConvergenceWarning",
]
