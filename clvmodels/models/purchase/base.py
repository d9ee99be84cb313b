"""The purchase-model family: what every continuous-time purchase model answers, written
once (DESIGN.md: one interface per family).

A purchase model (BG/NBD, MBG/NBD, Pareto/NBD, ...) states its formulas in
``formulas``, functions taking the model's parameters by name (scalars or arrays of
draws that broadcast against the customer arrays):

* ``probability_alive(..., frequency, recency, T)``;
* ``conditional_expected_purchases(..., frequency, recency, T, t)`` — expected
  purchases in ``(T, T + t]``;
* ``expected_purchases_new(..., t)`` — ``E[X(t)]`` for a customer just acquired;
* ``probability_of_purchases(..., k, t)`` — ``P(X(t) = k)`` for that customer;
* ``discounted_purchases_if_alive(..., frequency, T, horizon, delta)`` — expected
  purchases in ``(T, T + horizon]``, one ``u`` time units after ``T`` counting
  ``exp(-delta u)``, for a customer alive at ``T`` (times ``probability_alive`` it is
  the unconditional value; with ``delta = 0`` it is ``conditional_expected_purchases``
  over ``probability_alive``);
* ``simulate_future(..., frequency, recency, T, horizon, delta, rng, amounts=None)`` —
  one simulated future per element of the broadcast shape of the parameters and the
  customer arrays (e.g. parameters ``(n_rows, n_samples)``, customers ``(n_rows,
  1)``), conditional on the customer's history: whether she is alive at ``T``, her
  latent rates given that, and her purchases in ``(T, T + horizon]``. Returns the
  number of purchases and the discounted count ``sum exp(-delta u)`` over purchase
  times ``u`` (after ``T``), both of that shape; given ``amounts``, a function
  returning one amount per purchase of the flat sample indices it is passed, also the
  discounted sum of those amounts (how value models attach spend).
  :func:`simulate_live_customers` turns a live customer's purchase process into
  those outputs, the same for every model. An optional ``alive_probability``
  (broadcasting to the same shape) is P(alive) already computed for those elements
  by the caller, e.g. from the table of P(alive) per customer and parameter draw
  that the credible interval needs anyway; the model then does not compute it again
  (:func:`draw_alive`).

Optional: ``live_state(..., frequency, recency, T, rng)`` — for customers known to be
alive at ``T`` (the broadcast shape, flattened), the latent state of the purchase
process :func:`simulate_live_customers` runs: purchase rate, the purchase after which
she drops out (``NEVER`` if none) and her remaining lifetime (``inf`` if unbounded).
Value code simulates that process with a compiled loop
(:mod:`clvmodels.value.predictive`); ``simulate_future`` stays the reference.

The per-customer frames, the point-estimate predictions and the cohort tracking
forecast below are derived from them, the same for every model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...data.compress import compress_rows
from ...simulate import purchase_process
from ..base import BaseModel
from ..inputs import check_fit_data, summary_arrays

__all__ = ["PurchaseModel", "expected_cumulative_purchases", "accumulate_purchases",
           "broadcast_flat", "draw_alive", "simulate_live_customers"]

#: ``last_purchase`` of a customer who never drops out by purchasing (Pareto/NBD)
NEVER = np.iinfo(np.int64).max


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


def broadcast_flat(*arrays):
    """The broadcast shape of ``arrays`` and each of them broadcast to it, flattened
    (float64), for simulators that work on one flat sample axis.

    >>> shape, (a, b) = broadcast_flat(np.ones((2, 3)), np.array([[1.0], [2.0]]))
    >>> shape, b.tolist()
    ((2, 3), [1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    """
    arrays = [np.asarray(v, dtype=np.float64) for v in arrays]
    shape = np.broadcast_shapes(*(v.shape for v in arrays))
    return shape, [np.broadcast_to(v, shape).ravel() for v in arrays]


def draw_alive(rng, shape, alive_probability, probability, where=None):
    """Whether each flat simulated customer of the broadcast ``shape`` is alive at ``T``:
    ``Bernoulli(P(alive))`` with P(alive) the caller's ``alive_probability`` (broadcast
    to ``shape``) when given, else ``probability()`` (flat, the model's formula). With
    ``where`` (flat positions) only those customers are drawn, the others are alive for
    sure and ``probability(where)`` is evaluated there only (BG/NBD-type models, where
    a customer without repeat purchases has not had a chance to drop out); a given
    probability below 1 outside ``where`` is drawn too.

    >>> draw_alive(np.random.default_rng(0), (1, 3), np.array([0.0, 1.0, 0.0]), None).tolist()
    [False, True, False]
    """
    n = int(np.prod(shape))
    given = (None if alive_probability is None
             else np.broadcast_to(np.asarray(alive_probability, dtype=np.float64), shape).ravel())
    if where is None:
        p = probability() if given is None else given
        return rng.random(n) < p
    alive = np.ones(n, dtype=bool)
    if given is not None:  # a given probability below 1 is drawn wherever it is
        extra = np.flatnonzero(given < 1.0)
        if extra.size:  # (``where`` is sorted and unique already)
            where = np.union1d(where, extra)
    if where.size:
        p = probability(where) if given is None else given[where]
        alive[where] = rng.random(where.size) < p
    return alive


def accumulate_purchases(n, live, rate, last_purchase, end, delta, rng, amounts=None):
    """Purchases of ``n`` simulated customers over ``(0, end]`` (time since ``T``), of
    which those at positions ``live`` are alive at 0 and the others make none.

    Live customer ``i`` (``rate``, ``last_purchase`` and ``end`` are per live
    customer, or scalars) buys by :func:`~clvmodels.simulate.purchase_process`.
    Returns flat ``(purchases, discounted, value)``: counts, ``sum exp(-delta u)``
    over purchase times ``u``, and, when ``amounts`` is given (a function of the
    positions *within* ``live`` of the customers buying in a round, returning one
    amount each, called once per purchase round), the discounted sum of the amounts
    (else None). Loops run over purchase rounds, never over customers.

    >>> p, d, v = accumulate_purchases(3, np.array([1]), np.array([1e9]), np.array([2]), 1.0,
    ...                                0.0, np.random.default_rng(0))
    >>> p.tolist(), v
    ([0.0, 2.0, 0.0], None)
    """
    live = np.asarray(live, dtype=np.intp)
    count = np.zeros(live.size)
    disc = np.zeros(live.size)
    value = None if amounts is None else np.zeros(live.size)
    for idx, tau in purchase_process(rate, last_purchase, end, rng):
        count[idx] += 1.0
        weight = None if delta == 0 else np.exp(-delta * tau)
        disc[idx] += 1.0 if weight is None else weight
        if value is not None:
            amount = amounts(idx)
            value[idx] += amount if weight is None else weight * amount
    outputs = []
    for part in (count, disc, value):
        if part is None:
            outputs.append(None)
            continue
        full = np.zeros(n)
        full[live] = part
        outputs.append(full)
    return tuple(outputs)


def simulate_live_customers(shape, live, rate, last_purchase, end, delta, rng, amounts=None):
    """:func:`accumulate_purchases` for a model's ``simulate_future`` (module
    docstring): ``live`` indexes the flattened ``shape``; ``amounts`` takes flat
    sample indices; returns ``(purchases, discounted[, value])`` shaped ``shape``."""
    n = int(np.prod(shape))
    local = None if amounts is None else (lambda idx: amounts(live[idx]))
    purchases, disc, value = accumulate_purchases(n, live, rate, last_purchase, end, delta,
                                                  rng, local)
    out = (purchases.reshape(shape), disc.reshape(shape))
    return out if value is None else out + (value.reshape(shape),)


class PurchaseModel(BaseModel):
    """Shared predictions of the continuous-time purchase models (module docstring).
    Settings and fitting as in :class:`~clvmodels.models.base.BaseModel`."""

    #: the model's formulas by role (module docstring); set by each model
    formulas: dict = {}
    #: the per-customer log-likelihood ``f(params..., frequency, recency, T, *, gradient,
    #: ops)`` (gradient: w.r.t. the log parameters, per row), for covariate fits
    row_likelihood = None
    #: side -> ((parameter, sign), ...): where covariates act (clvmodels.models.covariates)
    covariate_links: dict = {}

    @classmethod
    def formula(cls, role: str):
        """The model's function for ``role`` (module docstring), for code that maps
        parameter draws to predictions without knowing the model."""
        fn = cls.formulas.get(role)
        if fn is None:
            raise NotImplementedError(f"{cls.__name__} has no {role.replace('_', ' ')} "
                                      "formula.")
        return fn

    _formula = formula

    # ------------------------------------------------------------ engine hooks
    def _fit_once(self, data, method):
        check_fit_data(data, type(self).__name__)  # degenerate data in words, not a failed fit
        super()._fit_once(data, method)

    def _prepare(self, data):
        """Validated summary compressed to distinct ``(frequency, recency, T)`` rows:
        arrays ``x``, ``t_x``, ``T`` and the row counts as weights (models whose
        likelihood regroups further, like BG/NBD, override it)."""
        arr = summary_arrays(data, type(self).__name__)
        comp = compress_rows(arr, ["frequency", "recency", "T"])
        u = comp.unique
        return {"x": u["frequency"], "t_x": u["recency"], "T": u["T"]}, comp.weights

    def _covariate_rows(self, data):
        """Per-customer rows of the likelihood (uncompressed), their weights, and which
        customers of ``data`` they are (None: all): for covariate fits."""
        arr = summary_arrays(data, type(self).__name__)
        rows = {"x": arr["frequency"], "t_x": arr["recency"], "T": arr["T"]}
        return rows, np.ones(arr["frequency"].shape[0]), None

    def _row_loglik(self, p, rows, gradient=False, ops=None):
        """The per-row log-likelihood at per-row parameters ``p`` (and with ``gradient``
        its derivatives w.r.t. the log row parameters, ``(n_params, n)``)."""
        from ..backend import NUMPY

        return type(self).row_likelihood(**p,
                                         frequency=rows["x"], recency=rows["t_x"], T=rows["T"],
                                         gradient=gradient, ops=ops or NUMPY)

    @staticmethod
    def _start_alpha(arrays, weights) -> float:
        """A starting rate parameter: one over the average purchase rate ``x / T``."""
        mean_rate = np.average(arrays["x"] / np.maximum(arrays["T"], 1e-9), weights=weights)
        return 1.0 / max(mean_rate, 1e-6)

    def _customer_frame(self, data: pd.DataFrame):
        self._require_fitted()
        return summary_arrays(data, type(self).__name__), data.index

    def probability_alive(self, data: pd.DataFrame) -> pd.Series:
        """P(alive at T) per customer at the point estimate."""
        arr, index = self._customer_frame(data)
        p = self._formula("probability_alive")(
            **self._params_for(data), frequency=arr["frequency"], recency=arr["recency"],
            T=arr["T"])
        return pd.Series(p, index=index, name="probability_alive")

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        """Expected purchases in (T, T+t] per customer at the point estimate."""
        arr, index = self._customer_frame(data)
        e = self._formula("conditional_expected_purchases")(
            **self._params_for(data), frequency=arr["frequency"], recency=arr["recency"],
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
