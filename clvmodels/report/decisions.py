"""The numbers the purchase report leads with, each with its interval: how
concentrated the value is, which valuable customers are slipping away and what they
are worth if won back, and the expected value per calendar period.

All come from one computation, :func:`draw_totals`: for the point estimate and for
each of ``n_draws`` parameter draws (purchase and spend draws aligned by index, as in
:func:`~clvmodels.value.portfolio.portfolio_value`), the sum over a group of
customers of ``margin x P(alive) x discounted purchases if alive x expected spend``
(or, ``if_alive=True``, without P(alive): the value of a customer *if she is still
active*), over one or more horizons. Customers are compressed to unique ``(group,
frequency, recency, T)`` rows with their weighted mean spend (exact: Gamma-Gamma's
expected spend is affine in the mean spend), and evaluated in blocks of about two
million numbers, so memory does not grow with the number of customers. Quantiles over
the draws (Weibull positions, :func:`~clvmodels.value.intervals.credible_bounds`) give
*credible* ranges: what the expected value could be given what the data leave
uncertain about the model. A group's realized value varies more (each customer's own
future): the report gives predictive ranges where it simulates
(:func:`~clvmodels.value.portfolio.portfolio_value`).

Models with covariates (:mod:`clvmodels.models.covariates`) value each customer with her
own parameters: customers are also told apart by their covariate patterns (the purchase
pattern ``ppat`` and the spend pattern ``spat`` of :class:`~clvmodels.value.rows.
RowParams`), and each pattern's parameters at each draw come from the same draws of the
coefficients; with every coefficient 0 the numbers are those of the model without
covariates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from ..data.compress import compress_rows
from ..timeunits import annual_rate_to_continuous, convert_duration
from ..value.intervals import credible_bounds, tail_probabilities
from ..value.portfolio import expected_values
from ..value.purchase import model_summary_arrays, pick_draws, simulate_model_futures
from ..value.rows import RowParams

__all__ = ["at_risk", "cash_flows", "draw_totals", "printed_bounds", "row_values",
           "top_share"]

_OWNER = "build_report"
_BLOCK_NUMBERS = 2_000_000
_CUSTOMER = ("frequency", "recency", "T")


def _parameter_sets(model, spend_model, n_draws, random_state):
    """Point estimate (first) then ``n_draws`` draws, purchase and spend aligned."""
    rng = np.random.default_rng(random_state)
    draws = pick_draws(model, n_draws, rng)
    gg = pick_draws(spend_model, n_draws, rng)
    k = next(iter(draws.values())).shape[0]
    n_gg = next(iter(gg.values())).shape[0]
    point, gg_point = model.point_params(), spend_model.point_params()
    params = {n: np.r_[point[n], v] for n, v in draws.items()}
    spend = {n: np.r_[gg_point[n], v[np.arange(k) % n_gg]] for n, v in gg.items()}
    return params, spend


def _patterns(model, spend_model, summary, arr) -> tuple[RowParams, RowParams, list[str]]:
    """Each customer's covariate patterns (``arr`` gains ``ppat`` and ``spat``), the
    :class:`~clvmodels.value.rows.RowParams` of both models and the pattern columns that
    tell customers apart (none without covariates)."""
    rp = (RowParams(model, summary, len(summary)),
          RowParams(spend_model, summary, len(summary)))
    arr.update(ppat=rp[0].ids, spat=rp[1].ids)
    return (*rp, [c for c, r in zip(("ppat", "spat"), rp) if r.linked])


def row_values(model, params, spend, rows, horizon, delta, *, if_alive=False,
               purchase=None, spend_rows=None) -> np.ndarray:
    """``(n_parameter_sets, n_rows)``: each row's expected discounted spend (before
    margin) over ``horizon`` (model units) at each parameter set; ``if_alive`` leaves
    out P(alive) (:func:`~clvmodels.value.portfolio.expected_values`). With covariates,
    ``purchase`` and ``spend_rows`` are the models' :class:`~clvmodels.value.rows.
    RowParams` and ``rows`` carry the patterns ``ppat`` and ``spat``."""
    return expected_values(model, params, spend, rows, [horizon], delta, if_alive=if_alive,
                           purchase=purchase, spend=spend_rows)[0]


def draw_totals(model, spend_model, summary: pd.DataFrame, *, horizons, discount_rate: float,
                margin: float, groups=None, n_groups: int = 1, if_alive: bool = False,
                n_draws: int | None = 100, random_state=0) -> np.ndarray:
    """``(len(horizons), n_groups, 1 + k)``: per horizon (in the model's time unit) and
    group (``groups``: a code per customer, 0..n_groups-1; None: one group), the summed
    expected value at the point estimate (last axis, position 0) and at ``k`` parameter
    draws (module docstring)."""
    arr = model_summary_arrays(model, summary, _OWNER, need_monetary=True)
    purchase, spend_rows, patterns = _patterns(model, spend_model, summary, arr)
    codes = (np.zeros(len(summary), dtype=np.intp) if groups is None
             else np.asarray(groups, dtype=np.intp))
    # the weighted mean spend is exact within a spend pattern (one gamma per pattern)
    comp = compress_rows({**arr, "group": codes.astype(np.float64)},
                         ["group", *_CUSTOMER, *patterns])
    money = np.bincount(comp.inverse, weights=np.nan_to_num(arr["monetary_value"]),
                        minlength=comp.n_unique) / comp.weights
    rows = {**{c: comp.unique[c] for c in _CUSTOMER}, "monetary_value": money,
            **{c: comp.unique.get(c, np.zeros(comp.n_unique)) for c in ("ppat", "spat")}}
    row_group = comp.unique["group"].astype(np.intp)
    params, spend = _parameter_sets(model, spend_model, n_draws, random_state)
    n_sets = next(iter(params.values())).shape[0]
    delta = annual_rate_to_continuous(discount_rate, model.time_unit_, _OWNER)
    order = np.lexsort((rows["recency"], rows["T"], rows["frequency"]))
    step = max(1, _BLOCK_NUMBERS // n_sets)
    out = np.zeros((len(horizons), n_groups, n_sets))
    for start in range(0, order.size, step):
        idx = order[start:start + step]
        block = {c: v[idx] for c, v in rows.items()}
        summing = sparse.csr_matrix((comp.weights[idx], (row_group[idx], np.arange(idx.size))),
                                    shape=(n_groups, idx.size))
        for h, values in enumerate(expected_values(model, params, spend, block, horizons,
                                                   delta, if_alive=if_alive, purchase=purchase,
                                                   spend=spend_rows)):
            out[h] += summing @ values.T
    return margin * out


def top_share(model, spend_model, summary, expected_clv: pd.Series, *, horizon: float,
              discount_rate, margin, level, top=0.20, n_draws=100, random_state=0) -> dict:
    """The customers with the highest expected value (the ``top`` share, ranked at the
    point estimate): their number, their expected value and their share of the total,
    each with its credible range over parameter draws (the same customers at each
    draw)."""
    n = len(expected_clv)
    k = int(np.ceil(top * n))
    order = np.argsort(-expected_clv.to_numpy(dtype=np.float64), kind="stable")
    in_top = np.zeros(n, dtype=np.intp)
    in_top[order[:k]] = 1
    totals = draw_totals(model, spend_model, summary, horizons=[horizon],
                         discount_rate=discount_rate, margin=margin, groups=in_top, n_groups=2,
                         n_draws=n_draws, random_state=random_state)[0]
    value, whole = totals[1], totals.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = value / whole
    return {"customers": k, "value": value[0], "value_range": credible_bounds(value[1:], level),
            "share": share[0], "share_range": credible_bounds(share[1:], level),
            "top": top}


def at_risk(model, spend_model, summary, clv: pd.DataFrame, *, horizon: float, discount_rate,
            margin, level, threshold=0.5, valuable=0.8, gone=0.1, n_draws=100,
            random_state=0) -> tuple[dict, pd.DataFrame]:
    """Valuable customers who are probably slipping away: P(alive) below ``threshold``
    and a value *if still active* over ``horizon`` at or above its ``valuable``
    quantile over all customers (0.8: as much as the top 20% would bring if active).

    Returns the summary (number; how many of them are below ``gone``, probably lost
    already; their value if still active with its credible range; the value expected
    of them as things stand) and one row per such customer, most valuable if active
    first (``value_if_active``, ``probability_alive``, ``expected_clv``)."""
    arr = model_summary_arrays(model, summary, _OWNER, need_monetary=True)
    purchase, spend_rows, patterns = _patterns(model, spend_model, summary, arr)
    delta = annual_rate_to_continuous(discount_rate, model.time_unit_, _OWNER)
    comp = compress_rows(arr, [*_CUSTOMER, "monetary_value", *patterns])
    rows = {**comp.unique, **{c: comp.unique.get(c, np.zeros(comp.n_unique))
                              for c in ("ppat", "spat")}}
    point = {k: np.array([v]) for k, v in model.point_params().items()}
    gg = {k: np.array([v]) for k, v in spend_model.point_params().items()}
    if_active = margin * row_values(model, point, gg, rows, float(horizon), delta,
                                    if_alive=True, purchase=purchase,
                                    spend_rows=spend_rows)[0][comp.inverse]
    p_alive = clv["probability_alive"].to_numpy(dtype=np.float64)
    bar = float(np.quantile(if_active, valuable))
    risky = (p_alive < threshold) & (if_active >= bar)
    totals = draw_totals(model, spend_model, summary, horizons=[horizon],
                         discount_rate=discount_rate, margin=margin,
                         groups=risky.astype(np.intp), n_groups=2, if_alive=True,
                         n_draws=n_draws, random_state=random_state)[0, 1]
    table = pd.DataFrame({"value_if_active": if_active, "probability_alive": p_alive,
                          "expected_clv": clv["expected_clv"].to_numpy(dtype=np.float64)},
                         index=summary.index)[risky].sort_values(
        "value_if_active", ascending=False, kind="stable")
    lost = table["probability_alive"] < gone
    return {"customers": int(risky.sum()), "threshold": threshold, "valuable": valuable,
            "bar": bar, "gone": gone, "customers_gone": int(lost.sum()),
            "value_if_active_gone": float(table.loc[lost, "value_if_active"].sum()),
            "value_if_active": float(totals[0]),
            "value_if_active_range": credible_bounds(totals[1:], level),
            "expected": float(table["expected_clv"].sum())}, table


def cash_flows(model, spend_model, summary, *, years: float, start, discount_rate, margin,
               level, n_draws=100, random_state=0) -> pd.DataFrame:
    """Expected value per calendar month (horizons up to two years) or quarter (longer)
    after ``start`` (the observation end, the last day observed) over ``years``:
    undiscounted (the money expected in the period) and discounted to ``start``
    (present value), each with its credible range. The last period ends exactly at the
    horizon, so the present values add up to the total over ``years``. A
    discrete-time model (counting whole periods of its own unit) gets one row per
    period of its unit."""
    unit = model.time_unit_
    discrete = getattr(type(model), "discrete_time", False)
    first_day = pd.Timestamp(start).normalize() + pd.Timedelta(days=1)
    if discrete:
        n = max(1, int(round(convert_duration(years, "year", unit))))
        step = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1),
                "month": pd.DateOffset(months=1), "year": pd.DateOffset(years=1)}[unit]
        ends = [first_day + step * i for i in range(n + 1)]
        bounds = np.arange(n + 1, dtype=np.float64)
    else:
        months = 1 if years <= 2 else 3
        total = int(round(years * 12))
        cuts = sorted({*range(0, total, months), total}) if total else [0]
        ends = [first_day + pd.DateOffset(months=m) for m in cuts]
        bounds = convert_duration(1.0, "day", unit) * np.array(
            [(e - first_day).days for e in ends], dtype=np.float64)
        bounds[-1] = convert_duration(years, "year", unit)
    out, whole = {}, {}
    for name, rate in (("cash", 0.0), ("present", discount_rate)):
        cum = draw_totals(model, spend_model, summary, horizons=bounds[1:], discount_rate=rate,
                          margin=margin, n_draws=n_draws, random_state=random_state)[:, 0, :]
        per = np.diff(np.vstack([np.zeros((1, cum.shape[1])), cum]), axis=0)
        lo, hi = credible_bounds(per[:, 1:], level, axis=1)
        out[name] = (per[:, 0], lo, hi)
        whole[name] = (cum[-1, 0], *credible_bounds(cum[-1, 1:], level))
    last = [e - pd.Timedelta(days=1) for e in ends[1:]]
    labels = []
    for a, b in zip(ends[:-1], last):
        if a.day == 1 and b == a + pd.offsets.MonthEnd(0):
            labels.append(f"{a:%b %Y}")
        elif a.day == 1 and b.is_month_end:
            labels.append(f"{a:%b}-{b:%b %Y}" if a.year == b.year else f"{a:%b %Y}-{b:%b %Y}")
        else:
            labels.append(f"{a:%Y-%m-%d} to {b:%Y-%m-%d}")
    table = pd.DataFrame({
        "period_start": ends[:-1], "period_end": last, "label": labels,
        "expected": out["cash"][0], "lower": out["cash"][1], "upper": out["cash"][2],
        "present_value": out["present"][0], "present_value_lower": out["present"][1],
        "present_value_upper": out["present"][2]})
    table.attrs.update(total=whole["cash"], present_total=whole["present"])
    return table


#: simulated futures per printed customer (:func:`printed_bounds`)
PRINTED_FUTURES = 50_000
_STEPS = (1.0, 2.0, 5.0)


def _step(se: float, minimum: float = 1.0) -> float:
    """The smallest of 1, 2, 5 x 10^k (at least ``minimum``) that is at least six
    Monte Carlo standard errors."""
    need = max(6.0 * se, minimum)
    k = np.floor(np.log10(need))
    for unit in (*_STEPS, 10.0):
        if unit * 10.0 ** k >= need * (1 - 1e-12):
            return float(unit * 10.0 ** k)
    return float(10.0 ** (k + 1))  # pragma: no cover - the loop always returns


def printed_bounds(model, spend_model, summary: pd.DataFrame, ids, *, horizon: float,
                   discount_rate: float, margin: float, level: float,
                   n_samples: int = PRINTED_FUTURES, random_state=None) -> pd.DataFrame:
    """Predictive bounds of the customers ``ids`` stable enough to print: each
    customer's future simulated ``n_samples`` times (every parameter draw taking its
    turn at random: :func:`~clvmodels.value.purchase.simulate_model_futures`), the
    bounds rounded to a step the Monte Carlo error supports.

    A bound's Monte Carlo standard error is read off the simulated values themselves
    (distribution-free: the values at ranks ``n q -/+ sqrt(n q (1 - q))`` bracket the
    quantile ``q`` with about 68% probability, so half their distance is one standard
    error). Both columns (lower, upper) are rounded to the smallest step of 1, 2, 5 x
    10^k dollars that is at least six times the largest standard error of the printed
    bounds (one step for the whole table): two runs with different seeds then print the
    same bound (at least about four times in five), or, when a bound sits near a
    rounding edge, bounds one step apart (no finite simulation can do better at an
    edge); two steps apart would need the estimates to differ by more than a step, six
    standard errors or 4.2 standard errors of their difference: about one chance in
    40,000 per bound. A bound whose bracket reaches $0 sits at the edge of the chance
    that the customer brings nothing (that chance is, within Monte Carlo error, the
    bound's tail probability): it prints as $0.

    Returns
    -------
    DataFrame
        Indexed by ``ids``: ``clv_predictive_lower``/``upper`` (unrounded),
        ``printed_lower``/``upper`` (rounded), ``lower_se``/``upper_se``; ``attrs``
        hold ``step`` (the rounding step, dollars), ``se`` (the largest standard
        error of a bound not at $0) and ``n_samples``.
    """
    ids = pd.Index(ids)
    shown = summary.loc[ids]
    rows = model_summary_arrays(model, shown, _OWNER, need_monetary=True)
    purchase, spend_rows, _ = _patterns(model, spend_model, shown, rows)
    delta = annual_rate_to_continuous(discount_rate, model.time_unit_, _OWNER)
    rng = np.random.default_rng(random_state)
    sims = simulate_model_futures(model, rows, horizon, delta, n_samples, rng,
                                  spend_model=spend_model, purchase=purchase,
                                  spend=spend_rows)
    values = margin * np.sort(sims.value, axis=1)
    q = tail_probabilities(level)
    bounds = np.quantile(values, q, axis=1)  # as customer_lifetime_value computes them
    half = np.sqrt(n_samples * q * (1 - q))
    lo_rank = np.clip(np.floor(n_samples * q - half).astype(int), 0, n_samples - 1)
    hi_rank = np.clip(np.ceil(n_samples * q + half).astype(int), 0, n_samples - 1)
    se = (values[:, hi_rank] - values[:, lo_rank]).T / 2.0  # (2, customers)
    out = pd.DataFrame({"clv_predictive_lower": bounds[0], "clv_predictive_upper": bounds[1],
                        "lower_se": se[0], "upper_se": se[1]}, index=ids)
    # a bound whose bracket reaches $0 sits at the edge of the customer's chance of
    # bringing nothing: within Monte Carlo error that chance is the bound's tail
    # probability, so the bound is $0 (printed so), not a few noisy dollars
    at_zero = (values[:, lo_rank] <= 0).T
    worst = float(se[~at_zero].max()) if (~at_zero).any() else 0.0
    step = _step(worst)
    for j, side in enumerate(("lower", "upper")):
        out[f"printed_{side}"] = np.where(at_zero[j], 0.0, np.round(bounds[j] / step) * step)
    out.attrs.update(step=step, se=worst)
    out.attrs["n_samples"] = n_samples
    return out
