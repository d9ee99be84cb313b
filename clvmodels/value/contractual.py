"""Per-account lifetime value of subscription (contractual) accounts, with two honest
intervals (DESIGN.md principle 3), from a fitted sBG model.

Convention (Fader & Hardie 2010). Accounts are valued just before their next
renewal decision: an active account with tenure ``t`` pays ``revenue`` at its next
renewal if it renews (undiscounted), ``revenue (1 + g)`` one period later if it
renews again, discounted once, and so on. With ``d`` the per-period equivalent of
the effective *annual* ``discount_rate`` (converted exactly for the model's period,
:mod:`clvmodels.timeunits`) and ``z = (1 + g) / (1 + d)``,

``expected_clv = margin * revenue * DERL``, ``DERL = sum_{k>=0} P(T > t + 1 + k | T > t) z^k``

(:func:`~clvmodels.models.churn.sbg.sbg_discounted_residual_lifetime`). Churned accounts
are worth 0.

* ``expected_clv_lower`` / ``expected_clv_upper`` — *credible interval for the
  expected CLV*: quantiles over the model's parameter draws of the expected value.
  Parameter uncertainty only.
* ``clv_predictive_lower`` / ``clv_predictive_upper`` — *predictive interval for the
  realized CLV*: quantiles of simulated futures. Each takes a parameter draw, the
  account's churn probability from its posterior ``Beta(alpha, beta + t)``, and a
  geometric number ``K`` of further renewals; the realized value is
  ``margin * revenue * (1 + z + ... + z^(K-1))``. Parameter, individual and renewal
  uncertainty.

Everything runs on unique ``(tenure, churned, covariates)`` rows; revenue scales
each account's distribution (so it must be >= 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, IncompatibleModelError, check_parameter, format_examples
from ..models.churn.base import ChurnModel
from ..timeunits import convert_duration, parse_horizon
from .intervals import credible_bounds, tail_probabilities
from .purchase import check_clv_options, pick_draws

__all__ = ["contractual_lifetime_value", "simulate_discounted_renewals", "discounted_count",
           "horizon_periods"]

_OWNER = "contractual_lifetime_value"


def discounted_count(k, lam):
    """Value of ``k`` payments ``1, z, z^2, ...`` with ``z = exp(-lam)``:
    ``(1 - z^k) / (1 - z)``; ``k`` when ``lam == 0``; ``k`` may be infinite.

    ``lam`` may be an array (each account discounted on its own renewal calendar).

    >>> discounted_count(np.array([0.0, 1.0, 3.0, np.inf]), np.log(2.0)).tolist()
    [0.0, 1.0, 1.75, 2.0]
    """
    k = np.asarray(k, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    if not lam.any():
        return np.broadcast_to(k, np.broadcast_shapes(k.shape, lam.shape)).copy()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = np.where(lam == 0, k, np.expm1(-lam * k) / np.expm1(-lam))
    return np.where(k == 0, 0.0, out)


def _check_model(model, owner):
    if not isinstance(model, ChurnModel):
        raise TypeError(f"The 'model' parameter of {owner} must be a fitted churn model "
                        "(ShiftedBetaGeoModel, BetaDiscreteWeibullModel or their covariate "
                        f"versions). Got {type(model).__name__} instead.")
    model._require_fitted()


def _simulate_rows(model, accounts, lam, n_samples, rng, horizon=None, draws=None):
    """Discounted counts of future payments, ``(n_unique, n_samples)``, and the
    compressed rows; each sample uses a random parameter draw."""
    draws = model.param_draws() if draws is None else draws
    n_total = next(iter(draws.values())).shape[0]
    _, tenure, churned, comp = model.account_parameters(accounts, {k: v[:1] for k, v in
                                                                    draws.items()})
    pick = rng.integers(0, n_total, size=(comp.n_unique, n_samples))
    sampled = {k: v[pick] for k, v in draws.items()}  # (n_unique, n_samples)
    p = model._row_params(sampled, {k: v[:, None] for k, v in comp.unique.items()})
    k = model._simulate_renewals(p, tenure[:, None], rng, horizon=horizon)
    lam = lam * model._period_scale(p)
    value = discounted_count(np.broadcast_to(k, (comp.n_unique, n_samples)), lam)
    return np.where(churned[:, None], 0.0, value), comp


def simulate_discounted_renewals(
    model: ChurnModel,
    accounts: pd.DataFrame,
    *,
    discount_rate: float = 0.0,
    growth_rate: float = 0.0,
    horizon: int | None = None,
    n_samples: int = 1000,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Simulated futures per account, ``(n_accounts, n_samples)``: the discounted number
    of future payments (``1 + z + ... + z^(K-1)`` for ``K`` further renewals, see the
    module docstring), parameter uncertainty included through the model's draws.
    With ``discount_rate=0`` and ``growth_rate=0`` it is the number of further
    renewals; ``horizon`` counts only those within the next ``horizon`` renewal
    decisions (for holdout checks).

    >>> from clvmodels.models.churn.sbg import ShiftedBetaGeoModel, accounts_from_survival
    >>> m = ShiftedBetaGeoModel(random_state=0).fit(accounts_from_survival(
    ...     [1000, 631, 468, 382, 326, 289, 262, 241], time_unit="year"))
    >>> sims = simulate_discounted_renewals(m, pd.DataFrame({"tenure": [0, 7]}), horizon=5,
    ...                                     n_samples=400, random_state=1)
    >>> sims.shape, float(sims.max())
    ((2, 400), 5.0)
    """
    _check_model(model, "simulate_discounted_renewals")
    check_parameter("n_samples", "simulate_discounted_renewals", n_samples,
                    isinstance(n_samples, int) and n_samples >= 1, "an int >= 1")
    check_parameter("horizon", "simulate_discounted_renewals", horizon,
                    horizon is None or (isinstance(horizon, int) and horizon >= 0),
                    "None or an int >= 0")
    lam = model.period_log_discount(discount_rate, growth_rate, "simulate_discounted_renewals")
    rng = np.random.default_rng(random_state)
    value, comp = _simulate_rows(model, accounts, lam, n_samples, rng, horizon=horizon)
    return value[comp.inverse]


def _account_column(accounts, col, name, owner, *, allow_zero=True) -> np.ndarray:
    if col not in accounts.columns:
        raise DataError(f"{owner}: the {name} column {col!r} is not in the accounts; they have "
                        f"{list(accounts.columns)[:20]}. Pass {name}=<column name>.")
    try:
        v = pd.to_numeric(accounts[col], errors="raise").to_numpy(np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{owner}: column {col!r} must be numeric ({exc}). Convert it with "
                        "pd.to_numeric.") from None
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        raise DataError(
            f"{owner}: column {col!r} must be finite and >= 0; {int(bad.sum())} row(s) are not, "
            f"first account ids {format_examples(accounts.index[bad].tolist())}. Fill missing "
            "values (e.g. 0 for accounts without revenue) or drop those accounts."
        )
    return v


def contractual_lifetime_value(
    model: ChurnModel,
    accounts: pd.DataFrame,
    *,
    revenue_col: str,
    discount_rate: float,
    margin: float = 1.0,
    growth_rate: float = 0.0,
    horizon=None,
    acquisition_cost_col: str | None = None,
    level: float = 0.90,
    n_draws: int | None = 200,
    n_samples: int = 1000,
    chunk_size: int | None = None,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Per-account residual lifetime value of subscription accounts, with a credible
    interval of the expected value and a predictive interval of the realized value.

    Parameters
    ----------
    model : ChurnModel
        Fitted churn model (sBG or beta-discrete-Weibull, with or without covariates;
        any fit method: only its parameter draws are used).
    accounts : DataFrame
        One row per account: ``tenure`` (renewal decisions made), optional ``churned``
        (missing: all active), the revenue column and, for the covariate model, its
        covariates, in the model's period.
    revenue_col : str
        Revenue per period at the next renewal (e.g. the monthly charge).
    discount_rate : float
        Effective *annual* discount rate (0.10 = 10%), converted exactly to the
        model's period. With 0 and no discounting the expected value is infinite when
        the fitted ``alpha <= 1`` (see
        :func:`~clvmodels.models.churn.sbg.sbg_expected_residual_lifetime`).
    margin : float
        Share of revenue that is profit.
    growth_rate : float
        Per-period revenue expansion (contraction if negative); each period's
        discount factor is multiplied by ``1 + growth_rate``.
    horizon : str, tuple or None
        Value only the renewals within this horizon (``"3 years"``, ``"36 months"``,
        ``(5, "year")``: the next ``floor(horizon / period)`` renewal decisions); None
        (default) values the whole remaining life.
    acquisition_cost_col : str, optional
        Column of acquisition costs: adds ``acquisition_cost``, ``net_value =
        expected_clv - acquisition_cost`` and ``ltv_to_cac = expected_clv /
        acquisition_cost`` (``inf`` for a zero cost, NaN when value and cost are both 0).
    level : float
        Probability content of both intervals.
    n_draws : int or None
        Parameter draws used for the credible interval (None: all).
    n_samples : int
        Simulated futures per distinct account row for the predictive interval.
    chunk_size : int, optional
        Distinct rows simulated at a time (default: about 8 million numbers a block).
    random_state : int or Generator, optional
        Seed for draw selection and simulation.

    Returns
    -------
    DataFrame
        Per account: ``probability_renewal``, ``expected_residual_lifetime`` (further
        renewals, undiscounted; ``inf`` when ``alpha <= 1``),
        ``discounted_expected_residual_lifetime`` (DERL at the discount rate, no
        growth), ``expected_clv`` (all at the point estimate), ``expected_clv_lower``
        / ``upper`` (credible interval), ``clv_predictive_lower`` / ``upper``
        (predictive interval), and the acquisition-cost columns when asked. ``attrs``
        record the settings and what each interval is.

    Examples
    --------
    >>> from clvmodels.models.churn.sbg import ShiftedBetaGeoModel, accounts_from_survival
    >>> m = ShiftedBetaGeoModel(random_state=0).fit(accounts_from_survival(
    ...     [1000, 631, 468, 382, 326, 289, 262, 241], time_unit="year"))
    >>> accounts = pd.DataFrame({"tenure": [0, 7], "revenue": [100.0, 100.0]}, index=["a", "b"])
    >>> clv = contractual_lifetime_value(m, accounts, revenue_col="revenue", discount_rate=0.1,
    ...                                  random_state=0)
    >>> clv["expected_clv"].round(1).tolist()
    [296.4, 684.2]
    >>> bool((clv.expected_clv_lower < clv.expected_clv).all())
    True
    """
    _check_model(model, _OWNER)
    check_clv_options(_OWNER, margin=margin, level=level, n_samples=n_samples,
                      n_draws=n_draws, chunk_size=chunk_size)
    lam = model.period_log_discount(discount_rate, growth_rate, _OWNER)
    lam_d = model.period_log_discount(discount_rate, 0.0, _OWNER)
    periods = horizon_periods(model, horizon, _OWNER)
    revenue = _account_column(accounts, revenue_col, "revenue_col", _OWNER)
    cost = None
    if acquisition_cost_col is not None:
        cost = _account_column(accounts, acquisition_cost_col, "acquisition_cost_col", _OWNER)
    rng = np.random.default_rng(random_state)

    # point estimate, per unique (tenure, churned, entry, covariates) row
    p, tenure, churned, comp = model.account_parameters(accounts)
    p = {k: v[0] for k, v in p.items()}
    active = ~churned

    def zero_if_churned(v):
        return np.where(active, v, 0.0)

    p_renew = zero_if_churned(model._probability_renewal(p, tenure))
    if periods is None:
        erl = zero_if_churned(model._expected_residual_lifetime(p, tenure))
    else:
        erl = zero_if_churned(model._discounted_renewals(p, tenure, 0.0, periods))
    derl = zero_if_churned(model._discounted_renewals(p, tenure, lam_d, periods))
    derl_g = zero_if_churned(model._discounted_renewals(p, tenure, lam, periods))
    endless = ~np.isfinite(derl_g)
    if endless.any():
        n_bad = int(np.bincount(comp.inverse, minlength=comp.n_unique)[endless].sum())
        _unbounded(f"for {n_bad} account(s)", lam, discount_rate, growth_rate)

    # credible interval: quantiles over parameter draws of DERL (with growth)
    q = tail_probabilities(level)
    draws = pick_draws(model, n_draws, rng)
    p_d, _, _, _ = model.account_parameters(accounts, draws)
    per_draw = np.where(active, model._discounted_renewals(p_d, tenure, lam, periods), 0.0)
    endless = ~np.isfinite(per_draw).all(axis=0)
    if endless.any():  # finite at the estimate, unbounded under some parameter draws
        n_bad = int(np.bincount(comp.inverse, minlength=comp.n_unique)[endless].sum())
        share = float(np.mean(~np.isfinite(per_draw).all(axis=1)))
        _unbounded(f"under {share:.0%} of the parameter draws for {n_bad} account(s) (its "
                   "credible interval has no upper bound)", lam, discount_rate, growth_rate)
    cred = credible_bounds(per_draw, level, axis=0)

    # predictive interval: quantiles of simulated discounted payment counts
    if chunk_size is None:
        chunk_size = max(100, 8_000_000 // n_samples)
    pred = np.empty((2, comp.n_unique))
    all_draws = model.param_draws()
    for start in range(0, comp.n_unique, chunk_size):
        rows = np.arange(start, min(start + chunk_size, comp.n_unique))
        chunk = pd.DataFrame({k: v[rows] for k, v in comp.unique.items()})
        chunk["churned"] = chunk["churned"] > 0
        sims, sub = _simulate_rows(model, chunk, lam, n_samples, rng, draws=all_draws,
                                   horizon=periods)
        pred[:, rows] = np.quantile(sims[sub.inverse], q, axis=1)

    scale = margin * revenue
    inv = comp.inverse
    out = pd.DataFrame(
        {
            "probability_renewal": p_renew[inv],
            "expected_residual_lifetime": erl[inv],
            "discounted_expected_residual_lifetime": derl[inv],
            "expected_clv": _scaled(scale, derl_g[inv]),
            "expected_clv_lower": _scaled(scale, cred[0][inv]),
            "expected_clv_upper": _scaled(scale, cred[1][inv]),
            "clv_predictive_lower": _scaled(scale, pred[0][inv]),
            "clv_predictive_upper": _scaled(scale, pred[1][inv]),
        },
        index=accounts.index,
    )
    if cost is not None:
        out["acquisition_cost"] = cost
        out["net_value"] = out["expected_clv"] - cost
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = out["expected_clv"].to_numpy() / np.where(cost > 0, cost, 1.0)
            out["ltv_to_cac"] = np.where(cost > 0, ratio,
                                         np.where(out["expected_clv"] > 0, np.inf, np.nan))
    out.attrs.update(
        time_unit=model.time_unit_, discount_rate=float(discount_rate),
        discount_rate_per_period=float(np.expm1(lam_d)), growth_rate=float(growth_rate),
        margin=float(margin), level=level, revenue_col=revenue_col,
        horizon_periods=periods,
        expected_clv_interval="credible interval of the expected CLV (parameter uncertainty)",
        clv_predictive_interval="predictive interval of the realized CLV (parameter, "
        "individual churn-probability and renewal uncertainty; simulated)",
    )
    return out


def _unbounded(where: str, lam: float, discount_rate, growth_rate) -> None:
    """Refuse a whole-life value that is infinite (``where`` says for whom)."""
    if discount_rate == 0 and growth_rate == 0:
        why = ("with no discounting the expected remaining lifetime itself is infinite "
               "(accounts that practically never cancel weigh without bound)")
    elif lam <= 0:
        why = "the growth rate is at or above the discount rate"
    else:
        why = ("with so little discounting a share of accounts that practically never "
               "cancels is worth an unbounded amount")
    what = f"{_OWNER}: the whole-life value is infinite {where}: {why} "
    error = ValueError(
        what + f"(discount_rate={discount_rate!r} a year, growth_rate={growth_rate!r} a "
        "period). Give a finite horizon (horizon='5 years'; CLI --horizon), a higher "
        "discount rate or a lower growth rate.")
    error.cli_message = (what + f"(--discount-rate {discount_rate:g} a year, --growth-rate "
                         f"{growth_rate:g} a period). Add a --horizon (e.g. --horizon "
                         "'5 years'), raise --discount-rate or lower --growth-rate.")
    raise error


def horizon_periods(model, horizon, owner) -> int | None:
    """Renewal decisions within ``horizon`` (a units-explicit duration) in the model's
    period, or None for the whole remaining life.

    >>> from clvmodels.models.churn.sbg import ShiftedBetaGeoModel, accounts_from_survival
    >>> m = ShiftedBetaGeoModel().fit(accounts_from_survival([100, 60, 40], time_unit="month"))
    >>> horizon_periods(m, "3 years", "demo"), horizon_periods(m, None, "demo")
    (36, None)
    """
    if horizon is None:
        return None
    value, unit = parse_horizon(horizon, owner)
    if model.time_unit_ is None:
        raise IncompatibleModelError(
            f"{owner}: the model does not know its period length, so the horizon {horizon!r} "
            "cannot be converted to renewal periods. Fit it with time_unit='month' (or the "
            "period of your data).")
    n = int(np.floor(convert_duration(value, unit, model.time_unit_) + 1e-9))
    if n < 1:
        raise ValueError(f"The 'horizon' parameter of {owner} must cover at least one renewal "
                         f"period ({model.time_unit_}). Got {horizon!r} instead.")
    return n


def _scaled(scale, value):
    """``scale * value`` with ``0 * inf = 0`` (no revenue, nothing to gain)."""
    with np.errstate(invalid="ignore"):
        return np.where(scale == 0, 0.0, scale * value)
