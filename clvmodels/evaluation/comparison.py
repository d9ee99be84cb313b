"""Which purchase model fits? One table over a calibration/holdout split.

:func:`compare_models` fits nothing: it takes purchase models fitted on the calibration
period and scores each the same way — in-sample (log-likelihood, parameters, AIC,
BIC) and on the holdout period (totals, per-customer errors, the relative MAE that
BTYDplus reports, interval coverage at several levels, and, with a spend model, the
holdout value in money) — so that the models can be ranked on the same footing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, check_parameter
from ..models.purchase.base import PurchaseModel
from .holdout import evaluate_holdout

__all__ = ["compare_models"]

_LEVELS = (0.80, 0.90, 0.95)


def compare_models(models, data: pd.DataFrame, *, spend_model=None, levels=_LEVELS,
                   n_samples: int = 2000, random_state: int = 0) -> pd.DataFrame:
    """Score purchase models fitted on a calibration period on the same calibration
    and holdout data.

    Parameters
    ----------
    models : dict of str to PurchaseModel, or a sequence of them
        Fitted purchase models (names default to the class names).
    data : DataFrame
        :func:`clvmodels.calibration_holdout_summary` output (``frequency``,
        ``recency``, ``T``, ``holdout_frequency``, ``holdout_length`` and, for money,
        ``monetary_value`` and ``holdout_monetary_value``).
    spend_model : GammaGammaModel, optional
        Fitted spend model: adds the holdout value actual vs forecast (expected
        purchases × expected spend per purchase).
    levels : sequence of float
        Levels of the predictive intervals whose coverage is reported.
    n_samples, random_state
        Simulated futures per distinct customer and the seed (the same for every model).

    Returns
    -------
    DataFrame
        One row per model, sorted by holdout MAE: ``log_likelihood`` (calibration
        data), ``parameters`` (the model's ``parameter_count()`` where it has one: an
        Erlang-k model counts ``k`` when its fit chose it), ``aic``, ``bic`` (``n`` =
        customers), ``actual_total``, ``expected_total``, ``aggregate_error``
        (expected / actual - 1), ``mae``,
        ``relative_mae`` (sum |expected - actual| / sum actual), ``rmse``,
        ``coverage_<level>`` (randomized PIT) and ``conventional_coverage_<level>``
        (``lower <= actual <= upper``) per level and, with a spend model,
        ``actual_value``, ``expected_value`` and ``value_error``.

    Examples
    --------
    >>> from clvmodels import BetaGeoModel, ModifiedBetaGeoModel, calibration_holdout_summary
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> cal = calibration_holdout_summary(load_cdnow_transactions(), calibration_end="1997-09-30",
    ...                                   observation_end="1998-06-30", time_unit="week")
    >>> table = compare_models({"BG/NBD": BetaGeoModel().fit(cal)}, cal, levels=(0.9,),
    ...                        n_samples=200)
    >>> table.loc["BG/NBD", ["actual_total", "expected_total"]].round(0).tolist()
    [1882.0, 1653.0]
    """
    owner = "compare_models"
    if not isinstance(models, dict):
        models = {type(m).__name__: m for m in models}
    if not models:
        raise ValueError(f"The 'models' parameter of {owner} must hold at least one fitted "
                         "purchase model. Got none instead.")
    for name, m in models.items():
        if not isinstance(m, PurchaseModel):
            raise TypeError(f"The 'models' parameter of {owner} must hold fitted purchase models "
                            f"(BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel); {name!r} is a "
                            f"{type(m).__name__}.")
        m._require_fitted()
    check_parameter("levels", owner, levels, len(levels) > 0 and all(
        isinstance(v, float) and 0 < v < 1 for v in levels), "a sequence of floats in (0, 1)")
    if "holdout_frequency" not in getattr(data, "columns", ()):
        raise DataError(f"{owner}: the data have no 'holdout_frequency'; build them with "
                        "calibration_holdout_summary().")
    rows = {}
    for name, m in models.items():
        arrays, weights = m._prepare(data)
        ll = float(m._loglik_and_grad(np.log(m.params_.to_numpy()), arrays, weights)[0])
        # a model whose fit chose more than its continuous parameters (the Erlang order k
        # chosen by likelihood) counts those too
        k = m.parameter_count() if hasattr(m, "parameter_count") else len(m.param_names)
        row = {"log_likelihood": ll, "parameters": k, "aic": 2 * k - 2 * ll,
               "bic": k * np.log(len(data)) - 2 * ll}
        for i, level in enumerate(levels):
            score = evaluate_holdout(m, data, level=float(level), n_samples=n_samples,
                                     random_state=random_state)
            if i == 0:
                per = score.per_customer
                err = per["expected"] - per["actual"]
                row.update({
                    "actual_total": score.metrics["actual_total"],
                    "expected_total": score.metrics["expected_total"],
                    "aggregate_error": score.metrics["aggregate_error"],
                    "mae": score.metrics["mae"],
                    "relative_mae": float(np.abs(err).sum() / per["actual"].sum()),
                    "rmse": score.metrics["rmse"]})
            tag = f"{level:.0%}".rstrip("%")
            row[f"coverage_{tag}"] = score.metrics["coverage"]
            row[f"conventional_coverage_{tag}"] = score.metrics["coverage_conventional"]
        if spend_model is not None:
            row.update(_holdout_value(m, spend_model, data, per["expected"].to_numpy(), owner))
        rows[name] = row
    out = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    out.attrs.update(levels=tuple(levels), customers=len(data),
                     holdout_length=float(data["holdout_length"].iloc[0]))
    return out.sort_values("mae", kind="stable")


def _holdout_value(model, spend_model, data, expected_purchases, owner) -> dict:
    """Holdout spend: actual (purchases x their mean amount) vs the forecast (expected
    purchases x expected spend per purchase)."""
    if "holdout_monetary_value" not in data.columns:
        raise DataError(f"{owner}: a spend model needs 'holdout_monetary_value' in the data; "
                        "build them with calibration_holdout_summary() from transactions with "
                        "amounts.")
    spend = spend_model.expected_spend(data).to_numpy()
    actual = (data["holdout_frequency"].to_numpy(float)
              * np.nan_to_num(data["holdout_monetary_value"].to_numpy(float)))
    expected = float(expected_purchases @ spend)
    return {"actual_value": float(actual.sum()), "expected_value": expected,
            "value_error": expected / float(actual.sum()) - 1.0 if actual.sum() else np.nan}
