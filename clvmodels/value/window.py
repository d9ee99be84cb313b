"""Each customer's expected discounted value in a window of the future, ``(t1, t2]``
after the end of observation (e.g. the second year: ``start="12 months", end="24
months"``).

The expected value in a window is the difference of two expected values,
``E[CLV over t2] - E[CLV over t1]``: expectations add. Its credible interval is
taken over the parameter draws of that difference (each draw's value over ``t2`` minus
the same draw's value over ``t1``), **not** as a difference of the two horizons'
intervals, and a predictive interval of a window is no difference of predictive
intervals either (the bounds of a sum are not the sums of bounds). The one formula
for a customer's expected value at a parameter draw is
:func:`~clvmodels.value.portfolio.expected_values`; customers are evaluated once per
distinct ``(frequency, recency, T, monetary_value)`` row, in blocks of about two
million numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.compress import compress_rows
from ..errors import check_parameter
from ..timeunits import annual_rate_to_continuous, convert_duration, parse_horizon
from .intervals import credible_bounds
from .portfolio import expected_values
from .purchase import (
    check_clv_options,
    check_value_models,
    model_summary_arrays,
    pick_draws,
)
from .rows import RowParams

__all__ = ["window_value"]

_OWNER = "window_value"
_BLOCK_NUMBERS = 2_000_000
_COLUMNS = ("frequency", "recency", "T", "monetary_value")


def window_value(transaction_model, spend_model, data: pd.DataFrame, *, start, end,
                 discount_rate: float = 0.0, margin: float = 1.0, level: float = 0.90,
                 n_draws: int | None = 100, random_state=None) -> pd.DataFrame:
    """Expected discounted value of each customer between ``start`` and ``end`` after
    the end of observation, with a credible interval (module docstring).

    Parameters
    ----------
    transaction_model, spend_model : fitted PurchaseModel, GammaGammaModel
    data : DataFrame
        RFM summary in the models' time unit, one row per customer.
    start, end : str or (float, str)
        The window's ends, units explicit (``"12 months"``, ``(2, "year")``); ``start``
        may be 0 or None (from the end of observation), and ``end`` must be later.
    discount_rate, margin, level : float
        Effective annual discount rate (money is discounted to the end of observation,
        as every CLV here), share of spend that is profit, probability of the credible
        interval.
    n_draws : int or None
        Parameter draws for the credible interval (None: all).
    random_state : int or Generator, optional
        Seed for the choice of draws.

    Returns
    -------
    DataFrame
        Per customer: ``expected_value`` (at the point estimate; equal to the
        difference of :func:`~clvmodels.value.purchase.customer_lifetime_value`'s
        ``expected_clv`` over ``end`` and over ``start``) and
        ``expected_value_lower``/``upper`` (credible interval of that difference);
        ``attrs`` record the window in model units, the rates and the level.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> from clvmodels.models import BetaGeoModel, GammaGammaModel
    >>> summary = load_cdnow_summary()
    >>> bg = BetaGeoModel(random_state=0).fit(summary)
    >>> gg = GammaGammaModel(random_state=0).fit(summary)
    >>> second = window_value(bg, gg, summary, start="52 weeks", end="104 weeks",
    ...                       discount_rate=0.1, random_state=0)
    >>> bool((second.expected_value_lower <= second.expected_value).all())
    True
    """
    unit = check_value_models(_OWNER, transaction_model, spend_model, data,
                              name="transaction_model", covariates=True)
    # (no simulation here: n_samples is a placeholder the shared check requires)
    check_clv_options(_OWNER, margin=margin, level=level, n_samples=20, n_draws=n_draws,
                      chunk_size=None)
    ends = []
    for name, value in (("start", start), ("end", end)):
        if name == "start" and (value is None or (isinstance(value, (int, float))
                                                  and value == 0)):
            ends.append(0.0)
            continue
        h, h_unit = parse_horizon(value, _OWNER)
        ends.append(convert_duration(h, h_unit, unit))
    t1, t2 = ends
    check_parameter("end", _OWNER, end, t2 > t1, f"a horizon later than start ({t1:g} {unit}s)")
    delta = annual_rate_to_continuous(discount_rate, unit, _OWNER)
    arr = model_summary_arrays(transaction_model, data, _OWNER, need_monetary=True)
    # models with covariates: customers also told apart by their covariate patterns
    rp = (RowParams(transaction_model, data, len(data)), RowParams(spend_model, data, len(data)))
    arr.update(ppat=rp[0].ids, spat=rp[1].ids)
    comp = compress_rows(arr, [*_COLUMNS, *(c for c, r in zip(("ppat", "spat"), rp)
                                            if r.linked)])
    rows = comp.unique
    for c in ("ppat", "spat"):
        rows.setdefault(c, np.zeros(comp.n_unique))

    def window(params, spend, idx):
        cust = {c: rows[c][idx] for c in (*_COLUMNS, "ppat", "spat")}
        v1, v2 = (expected_values(transaction_model, params, spend, cust, [h], delta,
                                  purchase=rp[0], spend=rp[1])[0]
                  if h > 0 else 0.0 for h in (t1, t2))
        return margin * (v2 - v1)

    point = {k: np.array([v]) for k, v in transaction_model.point_params().items()}
    gg_point = {k: np.array([v]) for k, v in spend_model.point_params().items()}
    every = np.arange(comp.n_unique)
    expected = window(point, gg_point, every)[0]

    rng = np.random.default_rng(random_state)
    draws = pick_draws(transaction_model, n_draws, rng)
    gg = pick_draws(spend_model, n_draws, rng)
    k = next(iter(draws.values())).shape[0]
    n_gg = next(iter(gg.values())).shape[0]
    gg = {n: v[np.arange(k) % n_gg] for n, v in gg.items()}
    bounds = np.empty((2, comp.n_unique))
    step = max(1, _BLOCK_NUMBERS // k)
    for s in range(0, comp.n_unique, step):
        idx = every[s:s + step]
        bounds[:, idx] = credible_bounds(window(draws, gg, idx), level, axis=0)

    out = pd.DataFrame({"expected_value": expected[comp.inverse],
                        "expected_value_lower": bounds[0][comp.inverse],
                        "expected_value_upper": bounds[1][comp.inverse]}, index=data.index)
    out.attrs.update(window=(t1, t2), time_unit=unit, discount_rate=float(discount_rate),
                     margin=float(margin), level=level, n_draws=k,
                     expected_value_interval="credible interval of the expected value in the "
                     "window (over parameter draws of the difference of the two horizons' "
                     "expected values; not a difference of intervals)")
    return out
