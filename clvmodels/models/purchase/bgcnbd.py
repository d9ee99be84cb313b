"""BG/CNBD-k model of repeat purchasing (Platzer & Reutterer 2016, "Ticking Away the
Moments: Timing Regularity Helps to Better Predict Customer Activity", Marketing
Science 35(5)).

The BG/NBD model (:mod:`clvmodels.models.purchase.bgnbd`) with regular purchases:
while alive a customer's inter-purchase times are Erlang-k with mean ``1 / lambda``,
``lambda ~ Gamma(r, alpha)``, and she drops out with probability ``p ~ Beta(a, b)``
right after each repeat purchase (not after the first, so a customer without repeat
purchases is alive). ``k = 1`` is BG/NBD with the same parameters (these formulas
then call BG/NBD's); the math of every ``k`` is in
:mod:`clvmodels.models.purchase.cnbd`, shared with MBG/CNBD-k. Every
formula takes the Erlang order as ``erlang_k`` (the fitted model's ``point_params`` and
``param_draws`` carry it) and broadcasts like the other purchase models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..registry import register_model
from .bgnbd import (
    bgnbd_conditional_expected_purchases,
    bgnbd_discounted_purchases_if_alive,
    bgnbd_expected_purchases_new,
    bgnbd_probability_alive,
    bgnbd_probability_of_purchases,
    bgnbd_simulate_future,
)
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

__all__ = [
    "BetaGeoCNBDModel",
    "bgcnbd_conditional_expected_purchases",
    "bgcnbd_discounted_purchases_if_alive",
    "bgcnbd_expected_purchases_new",
    "bgcnbd_probability_alive",
    "bgcnbd_probability_of_purchases",
    "bgcnbd_simulate_future",
    "simulate_bgcnbd",
]

PARS = (0.2426, 4.4135, 0.7929, 2.4258)  # CDNOW's BG/NBD fit, for the examples


def bgcnbd_probability_alive(r, alpha, a, b, erlang_k, frequency, recency, T):
    """P(alive at T | x, t_x, T) (:func:`~clvmodels.models.purchase.cnbd.cnbd_probability_alive`).

    A regular customer whose pause is long for her rhythm is less likely alive:

    >>> [float(np.round(bgcnbd_probability_alive(*PARS, k, 10, 30.0, 38.86), 3)) for k in (1, 2, 4)]
    [0.58, 0.361, 0.097]
    """
    if erlang_order(erlang_k) == 1:
        return bgnbd_probability_alive(r, alpha, a, b, frequency, recency, T)
    return cnbd_probability_alive(r, alpha, a, b, erlang_k, frequency, recency, T,
                                  dropout_at_zero=False)


def bgcnbd_conditional_expected_purchases(r, alpha, a, b, erlang_k, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T]
    (:func:`~clvmodels.models.purchase.cnbd.cnbd_conditional_expected_purchases`).

    >>> float(np.round(bgcnbd_conditional_expected_purchases(*PARS, 3, 2, 30.43, 38.86, 39), 4))
    1.5467
    """
    if erlang_order(erlang_k) == 1:
        return bgnbd_conditional_expected_purchases(r, alpha, a, b, frequency, recency, T, t)
    return cnbd_conditional_expected_purchases(r, alpha, a, b, erlang_k, frequency, recency, T,
                                               t, dropout_at_zero=False)


def bgcnbd_expected_purchases_new(r, alpha, a, b, erlang_k, t):
    """E[X(t)] for a customer just acquired
    (:func:`~clvmodels.models.purchase.cnbd.cnbd_expected_purchases_new`).

    >>> float(np.round(bgcnbd_expected_purchases_new(*PARS, 3, 39.0), 4))
    1.0903
    """
    if erlang_order(erlang_k) == 1:
        return bgnbd_expected_purchases_new(r, alpha, a, b, t)
    return cnbd_expected_purchases_new(r, alpha, a, b, erlang_k, t, dropout_at_zero=False)


def bgcnbd_probability_of_purchases(r, alpha, a, b, erlang_k, k, t):
    """P(X(t) = k) for a customer just acquired (``k`` the count, ``erlang_k`` the order;
    :func:`~clvmodels.models.purchase.cnbd.cnbd_probability_of_purchases`).

    >>> p = bgcnbd_probability_of_purchases(*PARS, 3, np.arange(300), 52.0)
    >>> float(np.round(p.sum(), 6))
    1.0
    """
    if erlang_order(erlang_k) == 1:
        return bgnbd_probability_of_purchases(r, alpha, a, b, k, t)
    return cnbd_probability_of_purchases(r, alpha, a, b, erlang_k, k, t, dropout_at_zero=False)


def bgcnbd_discounted_purchases_if_alive(r, alpha, a, b, erlang_k, frequency, T, horizon, delta,
                                          recency=None):
    """Expected discounted purchases in (T, T+horizon] for a customer alive at T; for
    ``erlang_k > 1`` it needs ``recency`` (:func:`~clvmodels.models.purchase.cnbd.
    cnbd_discounted_purchases_if_alive`).

    >>> e = bgcnbd_discounted_purchases_if_alive(*PARS, 3, 2, 38.86, 39.0, 0.0, recency=30.43)
    >>> p = bgcnbd_probability_alive(*PARS, 3, 2, 30.43, 38.86)
    >>> float(np.round(e * p, 4))  # bgcnbd_conditional_expected_purchases
    1.5467
    """
    if erlang_order(erlang_k) == 1:
        return bgnbd_discounted_purchases_if_alive(r, alpha, a, b, frequency, T, horizon, delta)
    return cnbd_discounted_purchases_if_alive(r, alpha, a, b, erlang_k, frequency, T, horizon,
                                              delta, recency, dropout_at_zero=False)


def bgcnbd_simulate_future(r, alpha, a, b, erlang_k, frequency, recency, T, horizon, delta, rng,
                            amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history
    (:func:`~clvmodels.models.purchase.cnbd.cnbd_simulate_future`).

    >>> rng = np.random.default_rng(0)
    >>> n, d = bgcnbd_simulate_future(*(np.full((1, 100_000), v) for v in PARS), 3, 2, 30.43,
    ...                                38.86, 39.0, 0.0, rng)
    >>> bool(abs(n.mean() - 1.5467) < 0.02)  # E = 1.5467 (bgcnbd_conditional_expected_purchases)
    True
    """
    if erlang_order(erlang_k) == 1:
        return bgnbd_simulate_future(r, alpha, a, b, frequency, recency, T, horizon, delta, rng,
                                      amounts, alive_probability)
    return cnbd_simulate_future(r, alpha, a, b, erlang_k, frequency, recency, T, horizon, delta,
                                rng, amounts, alive_probability, dropout_at_zero=False)


@register_model
class BetaGeoCNBDModel(ErlangPurchaseModel):
    """BG/CNBD-k model of repeat purchases, fitted by ``fit(summary, method=...)`` with
    ``"mle"`` (default), ``"map"``, ``"mcmc"`` or ``"advi"``.

    Parameters
    ----------
    k : int or None
        Erlang order of the inter-purchase times (1: BG/NBD). None: chosen by
        likelihood over ``1 .. max_k`` (:meth:`fit`).
    max_k : int
        Highest order tried when ``k`` is None.

    Other settings are those of :class:`~clvmodels.models.base.BaseModel`. The summary
    needs ``frequency``, ``recency`` and ``T``, and for choosing ``k`` best also
    ``log_gap_sum`` (``rfm_summary(..., regularity=True)``): without it orders are
    compared on the summary alone (``regularity_source_``). The parameters are the
    BG/NBD's, ``alpha`` the rate of the purchase-rate gamma for every ``k``
    (:mod:`clvmodels.models.purchase.cnbd`; BTYDplus's ``alpha`` is ``alpha / k``).

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = BetaGeoCNBDModel(k=1, random_state=1).fit(load_cdnow_summary())
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 2)  # BG/NBD's
    ([0.243, 4.414, 0.793, 2.426], -9582.43)
    """

    dropout_at_zero = False
    reference = "Platzer & Reutterer (2016), Marketing Science 35(5)"
    formulas = {
        "probability_alive": bgcnbd_probability_alive,
        "conditional_expected_purchases": bgcnbd_conditional_expected_purchases,
        "expected_purchases_new": bgcnbd_expected_purchases_new,
        "probability_of_purchases": bgcnbd_probability_of_purchases,
        "discounted_purchases_if_alive": bgcnbd_discounted_purchases_if_alive,
        "simulate_future": bgcnbd_simulate_future,
    }


def simulate_bgcnbd(
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
    """Simulate BG/CNBD-k customers (:func:`~clvmodels.models.purchase.cnbd.simulate_cnbd`
    with drop-out only after repeat purchases): the summary with ``log_gap_sum`` and the
    ``true_*`` columns.

    >>> df = simulate_bgcnbd(5, 3, 0.52, 6.18, 0.89, 1.61, T=39.0, random_state=1)
    >>> list(df.columns)[:4], len(df)
    (['frequency', 'recency', 'T', 'log_gap_sum'], 5)
    """
    return simulate_cnbd(n_customers, k, r, alpha, a, b, T=T, holdout=holdout,
                         dropout_at_zero=False, time_unit=time_unit, random_state=random_state,
                         owner="simulate_bgcnbd")
