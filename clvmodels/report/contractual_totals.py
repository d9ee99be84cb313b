"""Totals of subscription accounts with both intervals, and their expected value per
period, for the subscription report.

Per-account intervals of :func:`~clvmodels.value.contractual.contractual_lifetime_value`
cannot be added up (the sum of bounds is no bound of the sum): the parameters are shared
by every account, while each account's own churn and renewals are independent given
them. As :func:`~clvmodels.value.portfolio.portfolio_value` does for purchase data:

* *credible interval of the expected total*: for each parameter draw, all accounts at
  that draw, ``sum_i margin x revenue_i x DERL_i(theta_d)`` (within the horizon);
  quantiles over draws;
* *predictive interval of the realized total*: each simulated future of the whole base
  takes one parameter draw for every account, simulates every active account's further
  renewals (the model's simulator: its own churn probability, then its renewals) and
  adds up their discounted payments; quantiles over the futures.

An account row of weight ``w`` (``weight`` column: ``w`` identical accounts) gets
``c = min(w, 64)`` independent futures, rescaled about their conditional mean to the
exact mean ``w mu`` and variance ``w sigma^2`` of ``w`` accounts' sum (as in
:mod:`clvmodels.value.portfolio`). Expectations run on the model's unique account rows;
simulations in blocks of about a million futures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..value.contractual import discounted_count
from ..value.intervals import credible_bounds
from ..value.purchase import pick_draws

__all__ = ["contractual_cash_flows", "contractual_totals"]

_OWNER = "build_contractual_report"
_FUTURES_PER_ROW = 64
_SIMULATION_NUMBERS = 1_000_000


def _setup(model, accounts, revenue, margin, n_draws, rng):
    arr = model.account_columns(accounts, _OWNER)
    weight = arr["weight"]
    p_point, tenure, churned, comp = model.account_parameters(accounts)
    money = np.where(churned, 0.0, np.bincount(comp.inverse, weights=weight * margin * revenue,
                                               minlength=comp.n_unique))
    draws = pick_draws(model, n_draws, rng)
    p_draws = model.account_parameters(accounts, draws)[0]
    return weight, p_point, p_draws, tenure, churned, comp, money, draws


def _expected(model, p, tenure, money, lam, periods) -> np.ndarray:
    """Per parameter set (rows of ``p``): the summed expected value."""
    derl = model._discounted_renewals(p, tenure, lam, periods)
    return np.where(money > 0, derl, 0.0) @ money


def _payments(model, p, tenure, money, periods) -> np.ndarray:
    """``(periods, n_sets)``: the expected revenue x margin paid at each of the next
    ``periods`` renewals (``k = 0`` the next one), summed over accounts, per parameter
    set: ``sum_i money_i P(T > t_i + 1 + k | T > t_i)``."""
    n_sets = next(iter(p.values())).shape[0]
    out = np.zeros((periods, n_sets))
    k = 1.0 + np.arange(periods)
    step = max(1, 2_000_000 // (n_sets * periods))
    live = np.flatnonzero(money > 0)
    for start in range(0, live.size, step):
        rows = live[start:start + step]
        block = {n: np.asarray(v)[:, rows][..., None] for n, v in p.items()}
        surv = model._conditional_survival(block, tenure[rows][:, None], k)  # (sets, rows, k)
        out += np.einsum("srk,r->ks", surv, money[rows])
    return out


def contractual_totals(model, accounts: pd.DataFrame, *, revenue_col: str, horizons: dict,
                       discount_rate: float, margin: float, level: float,
                       n_draws: int | None = 100, n_samples: int = 200,
                       random_state=0) -> pd.DataFrame:
    """One row per horizon (``horizons``: label -> renewal periods, None for the whole
    remaining life): ``expected_total`` (at the point estimate), its credible interval
    ``expected_total_lower``/``upper`` and the predictive interval of the realized
    total ``predictive_total_lower``/``upper`` (module docstring)."""
    rng = np.random.default_rng(random_state)
    revenue = accounts[revenue_col].to_numpy(dtype=np.float64)
    weight, p_point, p_draws, tenure, churned, comp, money, draws = _setup(
        model, accounts, revenue, margin, n_draws, rng)
    lam = model.period_log_discount(discount_rate, 0.0, _OWNER)
    k = next(iter(draws.values())).shape[0]
    reps = -(-n_samples // k)
    sample_draw = np.concatenate([rng.permutation(k) for _ in range(reps)])[:n_samples]

    active = ~churned[comp.inverse] & (weight > 0)
    rows = np.flatnonzero(active)
    copies = np.minimum(np.ceil(weight[rows]), _FUTURES_PER_ROW).astype(np.int64)
    out = {}
    for label, periods in horizons.items():
        point = float(_expected(model, p_point, tenure, money, lam, periods)[0])
        per_draw = _expected(model, p_draws, tenure, money, lam, periods)
        totals = np.zeros(n_samples)
        cum = np.cumsum(copies)
        per_block = max(1, _SIMULATION_NUMBERS // n_samples)
        start = 0
        while start < rows.size:
            done = cum[start - 1] if start else 0
            end = max(start + 1, int(np.searchsorted(cum, done + per_block, side="right")))
            idx = np.arange(start, min(end, rows.size))
            start = idx[-1] + 1
            c = copies[idx]
            acct = rows[idx]
            unique_row = comp.inverse[np.repeat(acct, c)]
            sampled = {n: v[sample_draw][None, :] for n, v in draws.items()}
            p = model._row_params(sampled, {n: v[unique_row][:, None]
                                            for n, v in comp.unique.items()})
            t = tenure[unique_row][:, None]
            renewals = model._simulate_renewals(p, t, rng, horizon=periods)
            lam_rows = lam * model._period_scale(p)
            value = discounted_count(np.broadcast_to(renewals, (unique_row.size, n_samples)),
                                     lam_rows)
            sums = np.add.reduceat(value, np.cumsum(c) - c, axis=0)  # (accounts, S)
            w = weight[acct]
            big = np.flatnonzero(w != c)
            if big.size:
                first = (np.cumsum(c) - c)[big]
                p_big = {n: np.broadcast_to(v, (unique_row.size, n_samples)
                                            if np.ndim(v) == 2 else np.shape(v))[first]
                         for n, v in p.items()}
                mu = model._discounted_renewals(p_big, tenure[comp.inverse[acct[big]]][:, None],
                                                lam, periods)
                wb, cb = w[big][:, None], c[big][:, None].astype(np.float64)
                sums[big] = wb * mu + np.sqrt(wb / cb) * (sums[big] - cb * mu)
            totals += (margin * revenue[acct]) @ sums
        cred = credible_bounds(per_draw, level)
        pred = credible_bounds(totals, level)
        out[label] = {"expected_total": point, "expected_total_lower": cred[0],
                      "expected_total_upper": cred[1], "predictive_total_lower": pred[0],
                      "predictive_total_upper": pred[1]}
    return pd.DataFrame(out).T.rename_axis("horizon")


def contractual_cash_flows(model, accounts: pd.DataFrame, *, revenue_col: str, periods: int,
                           step: int, discount_rate: float, margin: float, level: float,
                           n_draws: int | None = 100, random_state=0) -> pd.DataFrame:
    """Expected value of the active accounts' renewals in each block of ``step``
    renewal periods over the next ``periods``: undiscounted (the money in the block)
    and discounted (present value, the blocks add up to the total over ``periods``),
    each with its credible range over parameter draws. Block ``j`` holds the renewal
    decisions ``j step + 1 .. (j + 1) step`` from now (each account on its own
    renewal calendar)."""
    rng = np.random.default_rng(random_state)
    revenue = accounts[revenue_col].to_numpy(dtype=np.float64)
    _, p_point, p_draws, tenure, _, _, money, _ = _setup(model, accounts, revenue, margin,
                                                         n_draws, rng)
    bounds = list(range(step, periods, step)) + [periods]
    unit = model.time_unit_ or "period"
    p_all = {k: np.concatenate([p_point[k], p_draws[k]]) for k in p_point}
    uniform = np.all(np.asarray(model._period_scale(p_all)) == 1.0)
    if uniform:  # every account renews once a model period: all payments at once
        terms = _payments(model, p_all, tenure, money, periods)  # (periods, 1 + draws)
    out, whole = {}, {}
    for name, rate in (("cash", 0.0), ("present", discount_rate)):
        lam = model.period_log_discount(rate, 0.0, _OWNER)
        if uniform:
            cum = np.cumsum(terms * np.exp(-lam * np.arange(periods))[:, None], axis=0)
            cum = cum[np.asarray(bounds) - 1]
        else:  # renewal periods differ between accounts: the model converts each horizon
            cum = np.array([_expected(model, p_all, tenure, money, lam, b) for b in bounds])
        per = np.diff(np.vstack([np.zeros((1, cum.shape[1])), cum]), axis=0)
        lo, hi = credible_bounds(per[:, 1:], level, axis=1)
        out[name] = (per[:, 0], lo, hi)
        whole[name] = (cum[-1, 0], *credible_bounds(cum[-1, 1:], level))
    starts = [1] + [b + 1 for b in bounds[:-1]]
    labels = [f"{unit} {a}" if a == b else f"{unit}s {a}-{b}" for a, b in zip(starts, bounds)]
    table = pd.DataFrame({
        "label": labels, "expected": out["cash"][0], "lower": out["cash"][1],
        "upper": out["cash"][2], "present_value": out["present"][0],
        "present_value_lower": out["present"][1], "present_value_upper": out["present"][2]})
    table.attrs.update(total=whole["cash"], present_total=whole["present"])
    return table
