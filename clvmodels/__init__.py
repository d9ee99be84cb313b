"""clvmodels: probabilistic, predictive customer lifetime value.

Transactions become per-customer summaries (:func:`rfm_summary`), the BG/NBD
(:class:`BetaGeoModel`) and Gamma-Gamma (:class:`GammaGammaModel`) models are fitted
to them, and :func:`customer_lifetime_value` turns both into per-customer CLV with a
credible interval for the expected value and a predictive interval for the realized
value.

The public names load on first use (PEP 562), so ``import clvmodels`` and the command
line start without importing pandas, SciPy, PyMC or numba.
"""

from importlib import import_module

#: public name -> the module that defines it
_LAZY = {
    "customer_lifetime_value": ".value.purchase",
    "portfolio_value": ".value.portfolio",
    "new_customer_value": ".value.new_customer",
    "calibration_holdout_summary": ".data",
    "compress_rows": ".data",
    "load_transactions": ".data",
    "repeat_purchase_tracking": ".data",
    "rfm_summary": ".data",
    "ClvModelsError": ".errors",
    "ConvergenceWarning": ".errors",
    "DataError": ".errors",
    "FitError": ".errors",
    "IncompatibleModelError": ".errors",
    "NotFittedError": ".errors",
    "evaluate_holdout": ".evaluation.holdout",
    "contractual_lifetime_value": ".value.contractual",
    "subscription_calibration_holdout": ".data.subscriptions",
    "subscription_summary": ".data.subscriptions",
    "BetaGeoModel": ".models",
    "GammaGammaModel": ".models",
    "BetaGeoCovariateModel": ".models",
    "ModifiedBetaGeoCovariateModel": ".models",
    "ParetoNBDCovariateModel": ".models",
    "BetaGeoBetaBinomCovariateModel": ".models",
    "GammaGammaCovariateModel": ".models",
    "attach_covariates": ".data.covariates",
    "GeometricChurnModel": ".models.churn.sbg",
    "ShiftedBetaGeoModel": ".models.churn.sbg",
    "accounts_from_survival": ".models.churn.sbg",
    "simulate_sbg": ".models.churn.sbg",
    "SegmentedChurnModel": ".models.churn.segmented",
    "ShiftedBetaGeoCovariateModel": ".models.churn.covariates",
    "BetaDiscreteWeibullCovariateModel": ".models.churn.bdw",
    "BetaDiscreteWeibullModel": ".models.churn.bdw",
    "expected_retention": ".evaluation.retention",
    "fit_by_segment": ".evaluation.retention",
    "lifetime_summary": ".evaluation.retention",
    "retention_table": ".evaluation.retention",
    "load_model": ".models.persistence",
    "save_model": ".models.persistence",
    "ModifiedBetaGeoModel": ".models.purchase.mbgnbd",
    "simulate_mbgnbd": ".models.purchase.mbgnbd",
    "ParetoNBDModel": ".models.purchase.pnbd",
    "simulate_pnbd": ".models.purchase.pnbd",
    "BetaGeoBetaBinomModel": ".models.purchase.bgbb",
    "simulate_bgbb": ".models.purchase.bgbb",
    "ModifiedBetaGeoCNBDModel": ".models.purchase.mbgcnbd",
    "simulate_mbgcnbd": ".models.purchase.mbgcnbd",
    "BetaGeoCNBDModel": ".models.purchase.bgcnbd",
    "simulate_bgcnbd": ".models.purchase.bgcnbd",
    "estimate_regularity": ".evaluation.regularity",
    "discrete_summary": ".data.discrete",
    "compare_models": ".evaluation.comparison",
    "DiscreteWeibullChurnModel": ".models.churn.bdw",
    # the nested models a purchase-model fit becomes at a boundary (models/boundary.py)
    "BetaGeoHomogeneousDropoutModel": ".models.purchase.bgnbd_limits",
    "BetaGeoHomogeneousRateModel": ".models.purchase.bgnbd_limits",
    "BetaGeoHomogeneousModel": ".models.purchase.bgnbd_limits",
    "ModifiedBetaGeoHomogeneousDropoutModel": ".models.purchase.mbgnbd_limits",
    "ModifiedBetaGeoHomogeneousRateModel": ".models.purchase.mbgnbd_limits",
    "ModifiedBetaGeoHomogeneousModel": ".models.purchase.mbgnbd_limits",
    "ParetoNBDHomogeneousDropoutModel": ".models.purchase.pnbd_limits",
    "ParetoNBDHomogeneousRateModel": ".models.purchase.pnbd_limits",
    "ParetoNBDHomogeneousModel": ".models.purchase.pnbd_limits",
    "BetaGeoBetaBinomHomogeneousDropoutModel": ".models.purchase.bgbb_limits",
    "BetaGeoBetaBinomHomogeneousRateModel": ".models.purchase.bgbb_limits",
    "BetaGeoBetaBinomHomogeneousModel": ".models.purchase.bgbb_limits",
    "simulate_bgnbd": ".simulate",
    "simulate_spend": ".simulate",
}
_SUBMODULES = ('datasets',)


def _version() -> str:
    """The installed version (importlib.metadata costs the command line's start as much
    as the rest of it: looked up on first use of ``__version__``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clvmodels")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def __getattr__(name: str):
    if name == "__version__":
        value = _version()
    elif name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
    elif name in _SUBMODULES:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'clvmodels' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "BetaGeoCovariateModel",
    "ModifiedBetaGeoCovariateModel",
    "ParetoNBDCovariateModel",
    "BetaGeoBetaBinomCovariateModel",
    "GammaGammaCovariateModel",
    "attach_covariates",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "BetaGeoBetaBinomModel",
    "ModifiedBetaGeoCNBDModel",
    "BetaGeoCNBDModel",
    "customer_lifetime_value",
    "portfolio_value",
    "new_customer_value",
    "ShiftedBetaGeoModel",
    "ShiftedBetaGeoCovariateModel",
    "BetaDiscreteWeibullModel",
    "BetaDiscreteWeibullCovariateModel",
    "GeometricChurnModel",
    "SegmentedChurnModel",
    "subscription_calibration_holdout",
    "datasets",
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
    "simulate_mbgnbd",
    "simulate_pnbd",
    "simulate_bgbb",
    "simulate_mbgcnbd",
    "simulate_bgcnbd",
    "estimate_regularity",
    "discrete_summary",
    "compare_models",
    "DiscreteWeibullChurnModel",
    "BetaGeoHomogeneousDropoutModel",
    "BetaGeoHomogeneousRateModel",
    "BetaGeoHomogeneousModel",
    "ModifiedBetaGeoHomogeneousDropoutModel",
    "ModifiedBetaGeoHomogeneousRateModel",
    "ModifiedBetaGeoHomogeneousModel",
    "ParetoNBDHomogeneousDropoutModel",
    "ParetoNBDHomogeneousRateModel",
    "ParetoNBDHomogeneousModel",
    "BetaGeoBetaBinomHomogeneousDropoutModel",
    "BetaGeoBetaBinomHomogeneousRateModel",
    "BetaGeoBetaBinomHomogeneousModel",
    "ClvModelsError",
    "DataError",
    "FitError",
    "NotFittedError",
    "IncompatibleModelError",
    "ConvergenceWarning",
]
