"""The value of a newly acquired customer: what customer acquisition cost (CAC) should
be held against.

The residual value of customers already in the base (their next year, say) is not an
LTV for an LTV:CAC ratio: a new customer's value runs from acquisition and includes the
first purchase. For any purchase model and Gamma-Gamma spend, over ``horizon`` from
acquisition (continuous discounting of an effective annual ``discount_rate``, as in
:func:`~clvmodels.value.purchase.customer_lifetime_value`)::

    value = margin x spend x (1 [first purchase, at acquisition]
                              + P(alive right after it) x discounted repeat purchases)

with the purchase model's formulas at a customer with no repeat purchase and age 0
(``P(alive)`` is 1 for BG/NBD and Pareto/NBD, ``b / (a + b)`` for MBG/NBD, whose
customers may leave right after the first purchase) and the population mean spend
``p gamma / (q - 1)``; the first purchase is taken to be spent like the repeat ones
(Gamma-Gamma describes the value of each transaction).

Two intervals, as everywhere (DESIGN.md principle 3): a *credible* one for the expected
value (over parameter draws) and a *predictive* one for what one new customer will
actually bring (simulated: a parameter draw, her spend rate, her purchases). The
predictive one is very wide and starts at one purchase's margin: most customers buy
once or a few times.

With models fitted with covariates (:mod:`clvmodels.models.covariates`), the new
customer is described by her covariate values (``covariates={"channel": "web"}``): her
parameters, and so her value and both intervals, are those of that covariate pattern,
the coefficients' uncertainty included (e.g. the value of a customer acquired through
each channel, for an LTV:CAC per channel).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..models.purchase.base import PurchaseModel
from ..models.spend.gamma_gamma import GammaGammaModel, gamma_gamma_expected_spend
from ..timeunits import annual_rate_to_continuous, convert_duration, parse_horizon
from .intervals import credible_bounds
from .purchase import (
    _spend_sampler,
    check_clv_options,
    check_value_models,
    discount_argument,
    pick_draws,
)
from .rows import has_covariates

__all__ = ["new_customer_value"]

_OWNER = "new_customer_value"


def _new_customer_expectation(model, params, spend, horizon, delta, margin, first):
    """Expected value of a new customer at parameters ``params`` (arrays of draws or
    scalars) and spend parameters ``spend``."""
    f = type(model).formula
    zero = np.zeros(1)
    alive = f("probability_alive")(**params, frequency=zero, recency=zero, T=zero)
    repeat = f("discounted_purchases_if_alive")(**params, frequency=zero, T=zero,
                                                horizon=horizon,
                                                **discount_argument(model, delta))
    mean_spend = gamma_gamma_expected_spend(**spend, frequency=0.0, monetary_value=np.nan)
    return margin * mean_spend * (float(first) + alive * repeat)


def _own_parameters(model, covariates, owner):
    """``(point, draws)`` of ``model`` for a new customer with ``covariates`` (a dict of
    column to value): the model's own parameters, floats and ``(k,)`` draw arrays."""
    if not has_covariates(model):
        return model.point_params(), model.param_draws()
    if covariates is None:
        raise ValueError(
            f"{owner}: {type(model).__name__} was fitted with covariates "
            f"{model.covariate_columns()}, so a new customer's value depends on them. Give "
            "her values, e.g. covariates={" + ", ".join(
                f"{c!r}: ..." for c in model.covariate_columns()) + "}.")
    frame = pd.DataFrame([dict(covariates)])
    z = model.design(frame)
    point = {k: float(np.ravel(v)[0]) for k, v in
             model.row_point(z).items()}
    draws = {k: np.asarray(v, dtype=np.float64)[:, 0]
             for k, v in model.row_draws(model.param_draws(), z).items()}
    return point, draws


def new_customer_value(
    transaction_model: PurchaseModel,
    spend_model: GammaGammaModel,
    *,
    covariates: dict | None = None,
    horizon: str | tuple = "3 years",
    discount_rate: float = 0.0,
    margin: float = 1.0,
    level: float = 0.90,
    include_first_purchase: bool = True,
    n_draws: int | None = None,
    n_samples: int = 4000,
    random_state: int | np.random.Generator | None = None,
) -> pd.Series:
    """Expected discounted value of one newly acquired customer over ``horizon`` from
    acquisition, with both intervals (module docstring).

    Parameters
    ----------
    covariates : dict, optional
        The new customer's covariate values (column to value), needed when either model
        was fitted with covariates; e.g. ``{"channel": "web", "first_amount": 35.0}``.

    Returns
    -------
    Series
        ``expected_value`` (at the point estimate), ``expected_value_lower`` /
        ``_upper`` (credible interval over parameter draws), ``predictive_lower`` /
        ``_upper`` (what one new customer may bring), ``expected_repeat_purchases``
        (undiscounted, over the horizon) and ``break_even_cac`` (the acquisition cost
        at which LTV:CAC is 1 : 1, i.e. ``expected_value``). ``attrs`` record the
        settings.

    Examples
    --------
    >>> from clvmodels import BetaGeoModel, GammaGammaModel, rfm_summary
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> summary = rfm_summary(load_cdnow_transactions(), observation_end="1998-06-30")
    >>> bg = BetaGeoModel(random_state=0).fit(summary)
    >>> gg = GammaGammaModel(random_state=0).fit(summary)
    >>> v = new_customer_value(bg, gg, horizon="3 years", discount_rate=0.10, margin=0.30,
    ...                        random_state=0)
    >>> bool(v.expected_value_lower < v.expected_value < v.expected_value_upper)
    True
    """
    unit = check_value_models(_OWNER, transaction_model, spend_model, covariates=True)
    if covariates is not None and not (has_covariates(transaction_model)
                                       or has_covariates(spend_model)):
        raise ValueError(f"{_OWNER}: covariates were given, but neither model was fitted with "
                         "covariates (fit e.g. BetaGeoCovariateModel and "
                         "GammaGammaCovariateModel), so they would be ignored.")
    own, own_draws = _own_parameters(transaction_model, covariates, _OWNER)
    own_spend, own_spend_draws = _own_parameters(spend_model, covariates, _OWNER)
    check_clv_options(_OWNER, margin=margin, level=level, n_samples=n_samples,
                      n_draws=n_draws, chunk_size=None)
    h_value, h_unit = parse_horizon(horizon, _OWNER)
    H = convert_duration(h_value, h_unit, unit)
    if getattr(type(transaction_model), "discrete_time", False):
        H = float(round(H))  # whole transaction opportunities
    delta = annual_rate_to_continuous(discount_rate, unit, _OWNER)
    rng = np.random.default_rng(random_state)
    first = bool(include_first_purchase)

    point = _new_customer_expectation(transaction_model, own, own_spend, H, delta, margin, first)
    draws = pick_draws(transaction_model, n_draws, rng, own_draws)
    n = next(iter(draws.values())).shape[0]
    gg_all = own_spend_draws
    m = next(iter(gg_all.values())).shape[0]
    spend = {k: v[np.arange(n) % m] for k, v in gg_all.items()}
    per_draw = _new_customer_expectation(transaction_model, draws, spend, H, delta, margin,
                                         first)
    lo, hi = credible_bounds(np.asarray(per_draw, dtype=np.float64).ravel(), level)

    # predictive: one simulated new customer per sample, each at a random draw; the
    # simulator draws whether she stays after the first purchase, and her spend rate
    # (one per customer) prices the first purchase and the repeat ones alike
    d = rng.integers(0, n, size=n_samples)
    zero = np.zeros(n_samples)
    amounts = _spend_sampler(gg_all, d % m, zero, zero, rng)
    out = type(transaction_model).formula("simulate_future")(
        **{k: v[d] for k, v in draws.items()}, frequency=zero, recency=zero, T=zero,
        horizon=H, **discount_argument(transaction_model, delta), rng=rng, amounts=amounts)
    value = margin * ((amounts(np.arange(n_samples)) if first else 0.0) + out[2])
    p_lo, p_hi = credible_bounds(value, level)
    repeat = type(transaction_model).formula("expected_purchases_new")(**own, t=H)
    result = pd.Series({
        "expected_value": float(np.asarray(point).ravel()[0]),
        "expected_value_lower": float(lo), "expected_value_upper": float(hi),
        "predictive_lower": float(p_lo), "predictive_upper": float(p_hi),
        "expected_repeat_purchases": float(np.asarray(repeat).ravel()[0]),
    }, name="new_customer")
    result["break_even_cac"] = result["expected_value"]
    result.attrs = {"horizon": f"{h_value:g} {h_unit}" + ("" if h_value == 1 else "s"),
                    "time_unit": unit, "discount_rate": discount_rate, "margin": margin,
                    "level": level, "include_first_purchase": first,
                    # Monte Carlo summary of the simulated values (a check of the intervals)
                    "predictive_mean": float(value.mean()), "predictive_sd": float(value.std()),
                    "n_samples": n_samples}
    if covariates is not None:
        result.attrs["covariates"] = dict(covariates)
    return result
