"""MBG/CNBD-k model of repeat purchasing (Platzer & Reutterer 2016, "Ticking Away the
Moments: Timing Regularity Helps to Better Predict Customer Activity", Marketing
Science 35(5)).

The MBG/NBD model (:mod:`clvmodels.models.purchase.mbgnbd`) with regular purchases:
while alive a customer's inter-purchase times are Erlang-k with mean ``1 / lambda``,
``lambda ~ Gamma(r, alpha)``, and she drops out with probability ``p ~ Beta(a, b)``
right after her first purchase and after each repeat purchase. ``k = 1`` is MBG/NBD
with the same parameters (these formulas then call MBG/NBD's); the math of every
``k`` is in :mod:`clvmodels.models.purchase.cnbd`, shared with BG/CNBD-k. Every
formula takes the Erlang order as ``erlang_k`` (the fitted model's ``point_params`` and
``param_draws`` carry it) and broadcasts like the other purchase models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..registry import register_model
from .cnbd import (
    ErlangPurchaseModel,
    cnbd_conditional_expected_purchases,
    cnbd_discounted_purchases_if_alive,
    cnbd_expected_purchases_new,
    cnbd_probability_alive,
    cnbd_probability_of_purchases,
    cnbd_simulate_future,
    erlang_order,
    simulate_cnbd,
)
from .mbgnbd import (
    mbgnbd_conditional_expected_purchases,
    mbgnbd_discounted_purchases_if_alive,
    mbgnbd_expected_purchases_new,
    mbgnbd_probability_alive,
    mbgnbd_probability_of_purchases,
    mbgnbd_simulate_future,
)

__all__ = [
    "ModifiedBetaGeoCNBDModel",
    "mbgcnbd_conditional_expected_purchases",
    "mbgcnbd_discounted_purchases_if_alive",
    "mbgcnbd_expected_purchases_new",
    "mbgcnbd_probability_alive",
    "mbgcnbd_probability_of_purchases",
    "mbgcnbd_simulate_future",
    "simulate_mbgcnbd",
]

PARS = (0.5248, 6.1831, 0.8914, 1.6140)  # CDNOW's MBG/NBD fit, for the examples


def mbgcnbd_probability_alive(r, alpha, a, b, erlang_k, frequency, recency, T):
    """P(alive at T | x, t_x, T) (:func:`~clvmodels.models.purchase.cnbd.cnbd_probability_alive`).

    A regular customer whose pause is long for her rhythm is less likely alive:

    >>> [float(np.round(mbgcnbd_probability_alive(*PARS, k, 10, 30.0, 38.86), 3)) for k in (1, 2, 4)]
    [0.565, 0.348, 0.092]
    """
    if erlang_order(erlang_k) == 1:
        return mbgnbd_probability_alive(r, alpha, a, b, frequency, recency, T)
    return cnbd_probability_alive(r, alpha, a, b, erlang_k, frequency, recency, T,
                                  dropout_at_zero=True)


def mbgcnbd_conditional_expected_purchases(r, alpha, a, b, erlang_k, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T]
    (:func:`~clvmodels.models.purchase.cnbd.cnbd_conditional_expected_purchases`).

    >>> float(np.round(mbgcnbd_conditional_expected_purchases(*PARS, 3, 2, 30.43, 38.86, 39), 4))
    1.5404
    """
    if erlang_order(erlang_k) == 1:
        return mbgnbd_conditional_expected_purchases(r, alpha, a, b, frequency, recency, T, t)
    return cnbd_conditional_expected_purchases(r, alpha, a, b, erlang_k, frequency, recency, T,
                                               t, dropout_at_zero=True)


def mbgcnbd_expected_purchases_new(r, alpha, a, b, erlang_k, t):
    """E[X(t)] for a customer just acquired
    (:func:`~clvmodels.models.purchase.cnbd.cnbd_expected_purchases_new`).

    >>> float(np.round(mbgcnbd_expected_purchases_new(*PARS, 3, 39.0), 4))
    1.1012
    """
    if erlang_order(erlang_k) == 1:
        return mbgnbd_expected_purchases_new(r, alpha, a, b, t)
    return cnbd_expected_purchases_new(r, alpha, a, b, erlang_k, t, dropout_at_zero=True)


def mbgcnbd_probability_of_purchases(r, alpha, a, b, erlang_k, k, t):
    """P(X(t) = k) for a customer just acquired (``k`` the count, ``erlang_k`` the order;
    :func:`~clvmodels.models.purchase.cnbd.cnbd_probability_of_purchases`).

    >>> p = mbgcnbd_probability_of_purchases(*PARS, 3, np.arange(300), 52.0)
    >>> float(np.round(p.sum(), 6))
    1.0
    """
    if erlang_order(erlang_k) == 1:
        return mbgnbd_probability_of_purchases(r, alpha, a, b, k, t)
    return cnbd_probability_of_purchases(r, alpha, a, b, erlang_k, k, t, dropout_at_zero=True)


def mbgcnbd_discounted_purchases_if_alive(r, alpha, a, b, erlang_k, frequency, T, horizon, delta,
                                          recency=None):
    """Expected discounted purchases in (T, T+horizon] for a customer alive at T; for
    ``erlang_k > 1`` it needs ``recency`` (:func:`~clvmodels.models.purchase.cnbd.
    cnbd_discounted_purchases_if_alive`).

    >>> e = mbgcnbd_discounted_purchases_if_alive(*PARS, 3, 2, 38.86, 39.0, 0.0, recency=30.43)
    >>> p = mbgcnbd_probability_alive(*PARS, 3, 2, 30.43, 38.86)
    >>> float(np.round(e * p, 4))  # mbgcnbd_conditional_expected_purchases
    1.5404
    """
    if erlang_order(erlang_k) == 1:
        return mbgnbd_discounted_purchases_if_alive(r, alpha, a, b, frequency, T, horizon, delta)
    return cnbd_discounted_purchases_if_alive(r, alpha, a, b, erlang_k, frequency, T, horizon,
                                              delta, recency, dropout_at_zero=True)


def mbgcnbd_simulate_future(r, alpha, a, b, erlang_k, frequency, recency, T, horizon, delta, rng,
                            amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history
    (:func:`~clvmodels.models.purchase.cnbd.cnbd_simulate_future`).

    >>> rng = np.random.default_rng(0)
    >>> n, d = mbgcnbd_simulate_future(*(np.full((1, 100_000), v) for v in PARS), 3, 2, 30.43,
    ...                                38.86, 39.0, 0.0, rng)
    >>> bool(abs(n.mean() - 1.5404) < 0.02)  # E = 1.5404 (mbgcnbd_conditional_expected_purchases)
    True
    """
    if erlang_order(erlang_k) == 1:
        return mbgnbd_simulate_future(r, alpha, a, b, frequency, recency, T, horizon, delta, rng,
                                      amounts, alive_probability)
    return cnbd_simulate_future(r, alpha, a, b, erlang_k, frequency, recency, T, horizon, delta,
                                rng, amounts, alive_probability, dropout_at_zero=True)


@register_model
class ModifiedBetaGeoCNBDModel(ErlangPurchaseModel):
    """MBG/CNBD-k model of repeat purchases, fitted by ``fit(summary, method=...)`` with
    ``"mle"`` (default), ``"map"``, ``"mcmc"`` or ``"advi"``.

    Parameters
    ----------
    k : int or None
        Erlang order of the inter-purchase times (1: MBG/NBD). None: chosen by
        likelihood over ``1 .. max_k`` (:meth:`fit`).
    max_k : int
        Highest order tried when ``k`` is None.

    Other settings are those of :class:`~clvmodels.models.base.BaseModel`. The summary
    needs ``frequency``, ``recency`` and ``T``, and for choosing ``k`` best also
    ``log_gap_sum`` (``rfm_summary(..., regularity=True)``): without it orders are
    compared on the summary alone (``regularity_source_``). The parameters are the
    MBG/NBD's, ``alpha`` the rate of the purchase-rate gamma for every ``k``
    (:mod:`clvmodels.models.purchase.cnbd`; BTYDplus's ``alpha`` is ``alpha / k``).

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = ModifiedBetaGeoCNBDModel(k=1, random_state=1).fit(load_cdnow_summary())
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 2)  # MBG/NBD's
    ([0.525, 6.183, 0.891, 1.614], -9582.14)
    """

    dropout_at_zero = True
    reference = "Platzer & Reutterer (2016), Marketing Science 35(5)"
    formulas = {
        "probability_alive": mbgcnbd_probability_alive,
        "conditional_expected_purchases": mbgcnbd_conditional_expected_purchases,
        "expected_purchases_new": mbgcnbd_expected_purchases_new,
        "probability_of_purchases": mbgcnbd_probability_of_purchases,
        "discounted_purchases_if_alive": mbgcnbd_discounted_purchases_if_alive,
        "simulate_future": mbgcnbd_simulate_future,
    }


def simulate_mbgcnbd(
    n_customers: int,
    k: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    T: float | np.ndarray,
    holdout: float = 0.0,
    time_unit: str = "week",
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate MBG/CNBD-k customers (:func:`~clvmodels.models.purchase.cnbd.simulate_cnbd`
    with drop-out possible right after the first purchase): the summary with
    ``log_gap_sum`` and the ``true_*`` columns.

    >>> df = simulate_mbgcnbd(5, 3, 0.52, 6.18, 0.89, 1.61, T=39.0, random_state=1)
    >>> list(df.columns)[:4], len(df)
    (['frequency', 'recency', 'T', 'log_gap_sum'], 5)
    """
    return simulate_cnbd(n_customers, k, r, alpha, a, b, T=T, holdout=holdout,
                         dropout_at_zero=True, time_unit=time_unit, random_state=random_state,
                         owner="simulate_mbgcnbd")
