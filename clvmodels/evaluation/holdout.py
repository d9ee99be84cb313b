"""Scoring purchase predictions against a holdout period.

Coverage of an interval for an integer count needs care: a 90% interval of a
discrete distribution usually holds more than 90% (for a customer almost sure to
buy nothing, the interval is [0, 0] and holds ~97%). We report two numbers:

* ``coverage`` — the *randomized PIT coverage*: with ``F`` the predictive CDF and
  ``y`` the actual count, the probability integral transform is spread uniformly
  over ``[F(y-1), F(y)]`` and we count the share of that range inside the central
  ``[(1-level)/2, (1+level)/2]``. Averaged over customers it equals ``level``
  exactly when the predictive distributions are right, whatever their discreteness.
* ``coverage_conventional`` — the share of customers with
  ``lower <= y <= upper`` for the equal-tailed interval; conservative (>= level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.compress import compress_rows
from ..errors import DataError, check_parameter
from ..models.purchase.base import PurchaseModel
from ..value.intervals import tail_probabilities
from ..value.purchase import model_summary_arrays, simulate_model_futures
from ..value.rows import RowParams

__all__ = ["HoldoutScore", "evaluate_holdout", "pit_coverage"]


@dataclass
class HoldoutScore:
    """Result of :func:`evaluate_holdout`: ``metrics`` (Series) and ``per_customer``
    (DataFrame with actual, expected, interval bounds and coverage share)."""

    metrics: pd.Series
    per_customer: pd.DataFrame

    def __repr__(self) -> str:
        return "HoldoutScore\n" + self.metrics.to_string()


def pit_coverage(samples: np.ndarray, actual: np.ndarray, level: float) -> np.ndarray:
    """Randomized-PIT coverage share per row (module docstring).

    ``samples`` is ``(n_rows, n_samples)`` of simulated counts; ``actual`` the
    observed counts.

    >>> s = np.array([[0, 0, 1, 1]])  # P(0) = P(1) = 0.5
    >>> pit_coverage(s, np.array([0]), 0.9).round(3).tolist()  # [0, .5] vs [.05, .95]
    [0.9]
    """
    y = actual[:, None]
    f_below = np.mean(samples < y, axis=1)
    f_at = np.mean(samples <= y, axis=1)
    lo, hi = tail_probabilities(level)
    overlap = np.clip(np.minimum(f_at, hi) - np.maximum(f_below, lo), 0.0, None)
    width = f_at - f_below
    inside = (f_below >= lo) & (f_at <= hi)
    # a zero-width PIT range (actual value never simulated) is covered iff inside
    return np.where(width > 0, overlap / np.where(width > 0, width, 1.0), inside.astype(float))


def evaluate_holdout(
    model: PurchaseModel,
    data: pd.DataFrame,
    *,
    level: float = 0.90,
    n_samples: int = 2000,
    random_state: int | np.random.Generator | None = None,
) -> HoldoutScore:
    """Score a fitted purchase model (BG/NBD, MBG/NBD, Pareto/NBD, any
    :class:`~clvmodels.models.purchase.base.PurchaseModel`) on a calibration/holdout summary.

    ``data`` is the output of :func:`clvmodels.calibration_holdout_summary` (or any
    frame with ``frequency``, ``recency``, ``T``, ``holdout_frequency`` and
    ``holdout_length``). Returns per-customer MAE and RMSE of holdout purchases,
    the aggregate actual and expected totals and their relative error, and interval
    coverage (both definitions in the module docstring) of the predictive interval,
    which includes parameter uncertainty through the model's draws. Expected holdout
    purchases are the model's conditional expectation at the point estimate; the
    predictive distribution of each customer's holdout count is ``n_samples`` futures
    from the model's simulator (:func:`clvmodels.value.purchase.simulate_model_futures`).

    >>> from clvmodels.datasets import load_cdnow_summary
    >>> from clvmodels.models import ModifiedBetaGeoModel
    >>> data = load_cdnow_summary()
    >>> score = evaluate_holdout(ModifiedBetaGeoModel().fit(data), data, n_samples=200,
    ...                          random_state=0)
    >>> int(score.metrics.actual_total), round(score.metrics.expected_total)
    (1882, 1577)
    """
    owner = "evaluate_holdout"
    if not isinstance(model, PurchaseModel):
        raise TypeError(f"The 'model' parameter of {owner} must be a fitted purchase model "
                        "(BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel). "
                        f"Got {type(model).__name__} instead.")
    model._require_fitted()
    check_parameter("level", owner, level, isinstance(level, float) and 0 < level < 1,
                    "a float in (0, 1)")
    arr = model_summary_arrays(model, data, owner)
    for col in ("holdout_frequency", "holdout_length"):
        if col not in data.columns:
            raise DataError(f"{owner}: missing column {col!r}; build the data with "
                            "calibration_holdout_summary().")
    actual = data["holdout_frequency"].to_numpy(dtype=np.float64)
    length = np.unique(data["holdout_length"].to_numpy(dtype=np.float64))
    if length.size != 1 or not np.isfinite(length[0]) or length[0] <= 0:
        raise DataError(f"{owner}: 'holdout_length' must be one positive value for all rows; "
                        f"got {length[:5].tolist()}.")
    horizon = float(length[0])
    purchase = RowParams(model, data, len(data))  # each customer's covariate pattern
    arr["ppat"] = purchase.ids
    comp = compress_rows(arr, ["frequency", "recency", "T"]
                         + (["ppat"] if purchase.linked else []))
    rows = comp.unique
    expected = model.formula("conditional_expected_purchases")(
        **purchase.point(rows.get("ppat")), frequency=rows["frequency"],
        recency=rows["recency"], T=rows["T"], t=horizon,
    )[comp.inverse]
    rng = np.random.default_rng(random_state)
    sims = simulate_model_futures(model, rows, horizon, 0.0, n_samples, rng,
                                  purchase=purchase).purchases
    lower, upper = np.quantile(sims, tail_probabilities(level), axis=1, method="inverted_cdf")[:, comp.inverse]
    # PIT coverage depends on the actual value, so evaluate per (unique row, actual)
    keys = compress_rows({"row": comp.inverse.astype(float), "y": actual}, ["row", "y"])
    cov_keys = pit_coverage(sims[keys.unique["row"].astype(np.intp)], keys.unique["y"], level)
    coverage = cov_keys[keys.inverse]
    err = expected - actual
    per_customer = pd.DataFrame(
        {"actual": actual, "expected": expected, "lower": lower, "upper": upper,
         "coverage_share": coverage},
        index=data.index,
    )
    metrics = pd.Series(
        {
            "customers": float(len(data)),
            "holdout_length": horizon,
            "mae": float(np.mean(np.abs(err))),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "actual_total": float(actual.sum()),
            "expected_total": float(expected.sum()),
            "aggregate_error": float(expected.sum() / actual.sum() - 1.0) if actual.sum() else np.nan,
            "coverage": float(coverage.mean()),
            "coverage_conventional": float(np.mean((lower <= actual) & (actual <= upper))),
            "level": level,
        },
        name="holdout",
    )
    return HoldoutScore(metrics, per_customer)
