"""Validation in money and in ranking on a holdout period, and the refit that makes a
validation honest.

:func:`~clvmodels.evaluation.holdout.evaluate_holdout` scores purchase counts. A
finance reader asks two more questions of a forecast that did not see the holdout:

* *Money*: did the customers spend what the model expected? Each customer's forecast
  is ``E[purchases in the holdout | calibration history] x E[spend per purchase |
  calibration history]`` (purchase model x Gamma-Gamma, undiscounted, revenue); the
  actual is ``holdout_frequency x holdout_monetary_value`` (purchase days times their
  mean amount, from :func:`~clvmodels.calibration_holdout_summary`). Compared in total,
  by decile of the forecast, and for the spend model alone (the mean spend per
  purchase it expected of the customers who bought in the holdout, against what they
  spent).
* *Ranking*: does the forecast put the customers who spent first? The gains curve
  ``G(x)`` is the share of actual holdout spend made by the share ``x`` of customers
  with the highest forecast; customers with the same forecast are taken in random
  order (the curve is linear across a tie: its expectation over orders). The Gini
  coefficient of the ranking is ``2 x area under G - 1``; the *normalized* Gini divides
  it by that of the perfect ranking (customers sorted by what they actually spent), so
  1 is a perfect ranking and 0 a random one. The top-decile lift is the share of
  actual spend in the top 10% divided by 0.10.

:func:`refit_like` fits a fresh copy of a fitted model (same class, settings, priors
and fit method: MLE, MAP, MCMC or ADVI) to other data, so a validation refits the
model the way the job was fitted.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError, check_parameter
from ..models.purchase.base import PurchaseModel
from ..models.spend.gamma_gamma import GammaGammaModel, gamma_gamma_expected_spend
from ..value.purchase import model_summary_arrays
from ..value.rows import RowParams

__all__ = ["HoldoutValueScore", "evaluate_holdout_value", "gains_curve", "refit_like"]


def refit_like(model, data: pd.DataFrame, **fit_kwargs):
    """A new model of ``model``'s class with its settings (priors, sampler, draws,
    seed, ...), fitted to ``data`` by the method ``model`` was fitted with.

    A model that became its nested limit at a boundary (``boundary_``) is refitted as
    the model that was asked for, which may again become a limit on ``data``.

    >>> from clvmodels.datasets import load_cdnow_summary
    >>> from clvmodels.models import BetaGeoModel
    >>> data = load_cdnow_summary()
    >>> bg = BetaGeoModel(random_state=3).fit(data, method="map")
    >>> again = refit_like(bg, data.iloc[:1000])
    >>> again.fit_method_, again.random_state
    ('map', 3)
    """
    model._require_fitted()
    cls = vars(model).get("_full_model", type(model))
    names = [p.name for p in inspect.signature(cls.__init__).parameters.values()
             if p.kind is p.KEYWORD_ONLY]
    settings = {n: getattr(model, n) for n in names if hasattr(model, n)}
    return cls(**settings).fit(data, method=model.fit_method_, **fit_kwargs)


@dataclass
class HoldoutValueScore:
    """Result of :func:`evaluate_holdout_value`: ``metrics`` (Series), ``deciles``
    (DataFrame, one row per decile of the forecast, highest first) and
    ``per_customer`` (DataFrame: ``expected_spend``, ``actual_spend``, ``decile``)."""

    metrics: pd.Series
    deciles: pd.DataFrame
    per_customer: pd.DataFrame

    def __repr__(self) -> str:
        return "HoldoutValueScore\n" + self.metrics.to_string()


def gains_curve(predicted, actual) -> tuple[np.ndarray, np.ndarray]:
    """The gains curve of ranking by ``predicted``: ``(x, y)`` with ``x`` the share of
    customers taken (highest prediction first) and ``y`` the share of the ``actual``
    total they hold, at ``x = 0``, at every change of ``predicted`` and at ``x = 1``
    (ties in ``predicted`` are taken in random order: linear across a tie).

    >>> x, y = gains_curve([3.0, 2.0, 2.0, 1.0], [5.0, 0.0, 4.0, 1.0])
    >>> x.tolist(), y.tolist()
    ([0.0, 0.25, 0.75, 1.0], [0.0, 0.5, 0.9, 1.0])
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    values, inverse = np.unique(-predicted, return_inverse=True)  # highest first
    counts = np.bincount(inverse, minlength=values.size)
    sums = np.bincount(inverse, weights=actual, minlength=values.size)
    total = actual.sum()
    x = np.r_[0.0, np.cumsum(counts)] / predicted.size
    y = np.r_[0.0, np.cumsum(sums)] / (total if total > 0 else 1.0)
    return x, y


def _gini(predicted, actual) -> float:
    x, y = gains_curve(predicted, actual)
    return float(2.0 * np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0) - 1.0)


def evaluate_holdout_value(
    transaction_model: PurchaseModel,
    spend_model: GammaGammaModel,
    data: pd.DataFrame,
    *,
    n_groups: int = 10,
) -> HoldoutValueScore:
    """Score the money forecast of models fitted on the calibration part of ``data``
    against the spend in its holdout (module docstring).

    Parameters
    ----------
    transaction_model, spend_model : fitted PurchaseModel, GammaGammaModel
        Models that have not seen the holdout (fitted on the calibration columns); with
        covariates, each customer is forecast with her own parameters (``data`` then
        carries the covariate columns).
    data : DataFrame
        From :func:`~clvmodels.calibration_holdout_summary` with amounts:
        ``frequency``, ``recency``, ``T``, ``monetary_value``, ``holdout_frequency``,
        ``holdout_monetary_value``, ``holdout_length``.
    n_groups : int
        Groups of the forecast (10: deciles), of equal size up to one customer.

    Returns
    -------
    HoldoutValueScore
        ``metrics``: ``customers``, ``holdout_length``, ``expected_spend_total``,
        ``actual_spend_total``, ``spend_error`` (expected / actual - 1), ``gini``,
        ``gini_perfect``, ``normalized_gini``, ``top_decile_share``,
        ``top_decile_lift``, ``buyers`` (customers who bought in the holdout),
        ``expected_spend_per_purchase`` and ``actual_spend_per_purchase`` (the spend
        model check, weighted by the buyers' holdout purchases).

    Examples
    --------
    >>> from clvmodels import calibration_holdout_summary
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> from clvmodels.models import BetaGeoModel, GammaGammaModel
    >>> data = calibration_holdout_summary(load_cdnow_transactions(),
    ...                                    calibration_end="1997-09-30",
    ...                                    observation_end="1998-06-30")
    >>> bg = BetaGeoModel(random_state=0).fit(data)
    >>> gg = GammaGammaModel(random_state=0).fit(data)
    >>> score = evaluate_holdout_value(bg, gg, data)
    >>> bool(0.5 < score.metrics.normalized_gini <= 1.0)
    True
    """
    owner = "evaluate_holdout_value"
    for model, cls, name in ((transaction_model, PurchaseModel, "transaction_model"),
                             (spend_model, GammaGammaModel, "spend_model")):
        if not isinstance(model, cls):
            raise TypeError(f"The {name!r} parameter of {owner} must be a fitted "
                            f"{cls.__name__}. Got {type(model).__name__} instead.")
        model._require_fitted()
    check_parameter("n_groups", owner, n_groups,
                    isinstance(n_groups, int) and not isinstance(n_groups, bool)
                    and 2 <= n_groups <= len(data), "an int in [2, number of customers]")
    missing = [c for c in ("holdout_frequency", "holdout_monetary_value", "holdout_length")
               if c not in data.columns]
    if missing:
        raise DataError(f"{owner}: missing column(s) {missing}; build the data with "
                        "calibration_holdout_summary() from transactions with amounts "
                        "(amount_col).")
    arr = model_summary_arrays(transaction_model, data, owner, need_monetary=True)
    length = np.unique(data["holdout_length"].to_numpy(dtype=np.float64))
    if length.size != 1 or not np.isfinite(length[0]) or length[0] <= 0:
        raise DataError(f"{owner}: 'holdout_length' must be one positive value for all rows; "
                        f"got {length[:5].tolist()}.")
    # each customer's own parameters (one set for all without covariates): her purchase
    # and spend covariate patterns index their point estimates
    purchase = RowParams(transaction_model, data, len(data))
    spend = RowParams(spend_model, data, len(data))
    purchases = transaction_model.formula("conditional_expected_purchases")(
        **purchase.point(purchase.ids), frequency=arr["frequency"], recency=arr["recency"],
        T=arr["T"], t=float(length[0]))
    per_purchase = gamma_gamma_expected_spend(
        **spend.point(spend.ids), frequency=arr["frequency"],
        monetary_value=np.nan_to_num(arr["monetary_value"]))
    expected = np.asarray(purchases * per_purchase, dtype=np.float64)
    bought = data["holdout_frequency"].to_numpy(dtype=np.float64)
    actual = bought * np.nan_to_num(data["holdout_monetary_value"].to_numpy(dtype=np.float64))

    n = expected.size
    order = np.argsort(-expected, kind="stable")
    group = np.empty(n, dtype=np.intp)
    group[order] = np.arange(n) * n_groups // n  # 0 = highest forecast
    counts = np.bincount(group, minlength=n_groups)
    exp_sum = np.bincount(group, weights=expected, minlength=n_groups)
    act_sum = np.bincount(group, weights=actual, minlength=n_groups)
    total_actual, total_expected = float(actual.sum()), float(expected.sum())
    deciles = pd.DataFrame({
        "customers": counts,
        "expected_spend": exp_sum,
        "actual_spend": act_sum,
        "share_of_actual_spend": act_sum / total_actual if total_actual > 0 else np.nan,
    }, index=pd.Index(np.arange(1, n_groups + 1), name="group"))

    gini, perfect = _gini(expected, actual), _gini(actual, actual)
    top = float(act_sum[0] / total_actual) if total_actual > 0 else np.nan
    buyers = bought > 0
    metrics = pd.Series({
        "customers": float(n),
        "holdout_length": float(length[0]),
        "expected_spend_total": total_expected,
        "actual_spend_total": total_actual,
        "spend_error": total_expected / total_actual - 1.0 if total_actual > 0 else np.nan,
        "gini": gini,
        "gini_perfect": perfect,
        "normalized_gini": gini / perfect if perfect > 0 else np.nan,
        "top_decile_share": top,
        "top_decile_lift": top * n_groups,
        "buyers": float(buyers.sum()),
        "expected_spend_per_purchase": (float(bought[buyers] @ per_purchase[buyers]
                                              / bought[buyers].sum()) if buyers.any() else np.nan),
        "actual_spend_per_purchase": (float(actual[buyers].sum() / bought[buyers].sum())
                                      if buyers.any() else np.nan),
    }, name="holdout_value")
    per_customer = pd.DataFrame({"expected_spend": expected, "actual_spend": actual,
                                 "decile": group + 1}, index=data.index)
    return HoldoutValueScore(metrics, deciles, per_customer)
