"""The purchase-model family: what every continuous-time purchase model answers, written
once (DESIGN.md: one interface per family).

A purchase model (BG/NBD, MBG/NBD, Pareto/NBD, ...) states its formulas in
``formulas``, functions taking the model's parameters by name (scalars or arrays of
draws that broadcast against the customer arrays):

* ``probability_alive(..., frequency, recency, T)``;
* ``conditional_expected_purchases(..., frequency, recency, T, t)`` — expected
  purchases in ``(T, T + t]``;
* ``expected_purchases_new(..., t)`` — ``E[X(t)]`` for a customer just acquired;
* ``probability_of_purchases(..., k, t)`` — ``P(X(t) = k)`` for that customer.

The per-customer frames, the point-estimate predictions and the cohort tracking
forecast below are derived from them, the same for every model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import BaseModel
from .inputs import summary_arrays

__all__ = ["PurchaseModel", "expected_cumulative_purchases"]


def expected_cumulative_purchases(expected_new, first_purchase_times, t):
    """Expected cumulative repeat purchases of a cohort by each time in ``t``:
    ``sum_i E[X(t - first_i)]`` over customers acquired before ``t`` (the aggregate
    tracking forecast of Fader, Hardie & Lee 2005, section 4), evaluated once per
    distinct first-purchase time. ``expected_new(age)`` is ``E[X(age)]`` of a new
    customer.

    >>> expected_cumulative_purchases(lambda age: 0.1 * age, [0.0, 0.0, 5.0], [10.0])
    array([2.5])
    """
    first = np.asarray(first_purchase_times, dtype=np.float64)
    firsts, counts = np.unique(first, return_counts=True)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    age = np.clip(t[:, None] - firsts[None, :], 0.0, None)
    e = expected_new(age)
    return (np.where(age > 0, e, 0.0) * counts).sum(axis=1)


class PurchaseModel(BaseModel):
    """Shared predictions of the continuous-time purchase models (module docstring).
    Settings and fitting as in :class:`~clvmodels.models.base.BaseModel`."""

    #: the model's formulas by role (module docstring); set by each model
    formulas: dict = {}

    def _formula(self, role: str):
        fn = type(self).formulas.get(role)
        if fn is None:
            raise NotImplementedError(f"{type(self).__name__} has no {role.replace('_', ' ')} "
                                      "formula.")
        return fn

    def _customer_frame(self, data: pd.DataFrame):
        self._require_fitted()
        return summary_arrays(data, type(self).__name__), data.index

    def probability_alive(self, data: pd.DataFrame) -> pd.Series:
        """P(alive at T) per customer at the point estimate."""
        arr, index = self._customer_frame(data)
        p = self._formula("probability_alive")(
            **self.point_params(), frequency=arr["frequency"], recency=arr["recency"],
            T=arr["T"])
        return pd.Series(p, index=index, name="probability_alive")

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        """Expected purchases in (T, T+t] per customer at the point estimate."""
        arr, index = self._customer_frame(data)
        e = self._formula("conditional_expected_purchases")(
            **self.point_params(), frequency=arr["frequency"], recency=arr["recency"],
            T=arr["T"], t=t)
        return pd.Series(e, index=index, name="expected_purchases")

    def expected_purchases_new_customer(self, t) -> np.ndarray:
        """E[X(t)] for a customer just acquired, at the point estimate."""
        self._require_fitted()
        return self._formula("expected_purchases_new")(**self.point_params(), t=t)

    def probability_of_purchases(self, k, t) -> np.ndarray:
        """P(X(t) = k) for a customer just acquired, at the point estimate."""
        self._require_fitted()
        return self._formula("probability_of_purchases")(**self.point_params(), k=k, t=t)

    def expected_cumulative_purchases(self, first_purchase_times, t) -> np.ndarray:
        """Expected cumulative repeat purchases of a cohort by times ``t`` at the
        point estimate (:func:`expected_cumulative_purchases`)."""
        self._require_fitted()
        params = self.point_params()
        new = self._formula("expected_purchases_new")
        return expected_cumulative_purchases(lambda age: new(**params, t=age),
                                             first_purchase_times, t)
