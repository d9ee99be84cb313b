"""Portfolio totals: the CLV of a whole customer base (or of each segment) with two
honest intervals.

Per-customer intervals (:func:`~clvmodels.value.purchase.customer_lifetime_value`)
cannot be added up: the sum of per-customer bounds is no bound of the sum. Parameter
uncertainty is *shared* by every customer (one set of population parameters drives
them all), while individual and purchase-process uncertainty is independent across
customers given the parameters and largely averages out. The total therefore gets
its own two intervals (same convention as the per-customer ones: continuous
discounting of an effective annual ``discount_rate``, ``margin`` times spend):

* ``expected_total_lower`` / ``expected_total_upper`` — a *credible interval for the
  expected total*: for each parameter draw ``d`` (purchase and spend draws aligned by
  index), ``total_d = sum over customers of E[CLV | theta_d]`` with
  ``E[CLV | theta] = margin x P(alive) x discounted purchases if alive x expected
  spend``, all customers at the *same* draw; quantiles over draws. Parameter
  uncertainty only.
* ``predictive_total_lower`` / ``predictive_total_upper`` — a *predictive interval for
  the realized total*: sample ``s`` takes one parameter draw ``d_s`` shared by all
  customers, simulates every customer's future given ``theta_{d_s}`` (the purchase
  model's ``simulate_future``, Gamma-Gamma spend) and adds them up; quantiles over
  samples. Parameter, individual and purchase-process uncertainty.

Both take quantiles at Weibull positions (:func:`~clvmodels.value.intervals.
credible_bounds`).

Work runs on compressed unique rows with weights (DESIGN.md principle 4), a block of
rows at a time, accumulating per-draw and per-sample totals per group: memory is
bounded by the block size, never ``customers x samples`` nor ``customers x draws``.

*Expected totals.* Customers sharing ``(group, frequency, recency, T)`` are summed
exactly by their weighted mean spend: Gamma-Gamma's expected spend
``p (gamma + x m) / (p x + q - 1)`` is affine in ``m``, so ``sum_i w_i E[spend | m_i]
= W E[spend | m_bar]`` with ``W = sum w_i`` and ``m_bar`` the weighted mean of ``m``.
P(alive) is evaluated once per distinct ``(frequency, recency, T)`` of a block and the
discounted purchases if alive once per distinct ``(frequency, T)``.

*Predictive totals and weights.* A unique row of weight ``w`` stands for ``w``
identical customers, each with her own independent future: given ``theta`` their sum
has mean ``w mu(theta)`` and variance ``w sigma^2(theta)``, ``mu`` and ``sigma^2`` the
conditional mean and variance of one customer's discounted value. Simulating one
future and multiplying it by ``w`` would be wrong (variance ``w^2 sigma^2``: the ``w``
customers would behave as one). Here a row gets ``c = min(w, 64)`` independent
futures with sum ``S_c``, and contributes

``w mu(theta_{d_s}) + sqrt(w / c) (S_c - c mu(theta_{d_s}))``,

``mu`` computed from the model's formulas (P(alive) x discounted purchases if alive x
expected spend) at the sample's draw. This is exactly the sum of the ``w`` futures
when ``w <= 64`` (then ``c = w`` and it reduces to ``S_c``); for larger ``w`` it has the
exact conditional mean ``w mu`` and variance ``w sigma^2``, is never negative (``S_c >=
0`` and ``w >= sqrt(w c)``), and its skewness is that of ``c`` customers' sum, not the
smaller one of ``w`` customers' sum -- immaterial for the total, which adds many rows
(held by a test against the fully expanded base). ``c = 1`` would be the bare
moment-matching rule ``w mu + sqrt(w) (X - mu)``: right mean and variance, but a heavy
row keeps one customer's skewness, and in that test (30 rows, weights up to 200) it
moved both 90% bounds up by about 8% of the width; with 64 futures per row the bounds
agree with the expanded base within Monte Carlo noise, at a cost of at most 64 futures
per row whatever ``w``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import sparse

from ..data.compress import compress_rows
from ..errors import DataError, check_parameter
from ..models.purchase.base import PurchaseModel
from ..models.spend.gamma_gamma import (
    GammaGammaModel,
    gamma_gamma_expected_spend,
    gamma_gamma_spend_sampler,
)
from ..timeunits import annual_rate_to_continuous, convert_duration, parse_horizon
from .intervals import credible_bounds
from .purchase import (
    _spend_sampler,
    check_clv_options,
    check_value_models,
    discount_argument,
    if_alive_columns,
    model_summary_arrays,
    pick_draws,
)
from .rows import RowParams

__all__ = ["expected_values", "portfolio_value"]

_OWNER = "portfolio_value"
_ALL = "all customers"
#: draws x entries per block of expected values
_TABLE_NUMBERS = 2_000_000
#: simulated futures (expanded rows x samples) per block of the predictive totals
_SIMULATION_NUMBERS = 1_000_000
#: most independent futures simulated for one unique row (module docstring)
_FUTURES_PER_ROW = 64
_CUSTOMER = ("frequency", "recency", "T")


def _groups(data: pd.DataFrame, by) -> tuple[np.ndarray, pd.Index]:
    """Group code per customer and the group labels (one "all customers" group when
    ``by`` is None)."""
    if by is None:
        return np.zeros(len(data), dtype=np.intp), pd.Index([_ALL], name="group")
    check_parameter("by", _OWNER, by, isinstance(data, pd.DataFrame) and by in data.columns,
                    "None or the name of a column of data")
    codes, labels = pd.factorize(data[by], sort=True)
    if (codes < 0).any():
        bad = data.index[codes < 0][:5].tolist()
        raise DataError(f"{_OWNER}: column {by!r} is missing for {int((codes < 0).sum())} "
                        f"customer(s), first customer ids {bad}. Give every customer a group "
                        "(e.g. data[by].fillna('unknown')).")
    return codes.astype(np.intp), pd.Index(labels, name=by)


def _group_matrix(groups: np.ndarray, n_groups: int, weights: np.ndarray):
    """Sparse ``(n_groups, n)`` matrix summing ``n`` weighted entries into their groups."""
    n = groups.shape[0]
    return sparse.csr_matrix((weights, (groups, np.arange(n))), shape=(n_groups, n))


def expected_values(model, draws, spend_draws, customers, horizons, delta, *,
                    if_alive: bool = False, purchase=None, spend=None) -> list[np.ndarray]:
    """``E[discounted spend | theta_d]`` (before margin) for each parameter set ``d``
    (rows: ``draws`` and ``spend_draws`` aligned by index) and each customer of
    ``customers`` (columns: ``frequency``, ``recency``, ``T``, ``monetary_value``), one
    array per horizon of ``horizons`` (model units), through the model's formulas:
    P(alive) once per distinct ``(frequency, recency, T)`` (left out with
    ``if_alive``: the value of a customer *if she is still active*), the discounted
    purchases if alive once per distinct ``(frequency, T)`` and horizon, the expected
    spend once per customer. The one place the report, the portfolio totals and their
    intervals get a customer's expected value at a parameter draw.

    Models with covariates: ``purchase`` and ``spend`` (:class:`~clvmodels.value.rows.
    RowParams`) give each covariate pattern's draws, and ``customers`` carries each
    customer's patterns ``ppat`` and ``spat``."""
    purchase = purchase or RowParams(model, None, 0)
    by = ["ppat"] if purchase.linked else []
    triples = compress_rows(customers, [*_CUSTOMER, *by])
    pairs = compress_rows(triples.unique, if_alive_columns(model) + by)
    if spend is not None and spend.linked:
        gcol = spend.draws(spend_draws, customers["spat"])
    else:
        gcol = {k: np.atleast_1d(np.asarray(v, dtype=np.float64))[:, None]
                for k, v in spend_draws.items() if ":" not in k}
    spend_value = gamma_gamma_expected_spend(
        **gcol, frequency=customers["frequency"],
        monetary_value=np.nan_to_num(customers["monetary_value"]))
    if not if_alive:
        pa = model.formula("probability_alive")(
            **purchase.draws(draws, triples.unique.get("ppat")),
            **{c: triples.unique[c] for c in _CUSTOMER})
        spend_value = spend_value * pa[:, triples.inverse]
    purchases = model.formula("discounted_purchases_if_alive")
    at_pairs = purchase.draws(draws, pairs.unique.get("ppat"))
    pair_cols = {c: v for c, v in pairs.unique.items() if c != "ppat"}
    return [purchases(**at_pairs, **pair_cols, horizon=float(h),
                      **discount_argument(model, delta))[:, pairs.inverse][:, triples.inverse]
            * spend_value for h in horizons]


def _expected_values(model, draws, gg, cust, horizon, delta, rp=(None, None)) -> np.ndarray:
    """:func:`expected_values` over one horizon (``rp``: the purchase and spend
    :class:`~clvmodels.value.rows.RowParams`)."""
    return expected_values(model, draws, gg, cust, [horizon], delta, purchase=rp[0],
                           spend=rp[1])[0]


def _expected_totals(model, draws, gg, entries, n_groups, horizon, delta,
                     rp=(None, None)) -> np.ndarray:
    """``(n_groups, n_draws)``: per group and draw, the weighted sum of the entries'
    expected discounted spend. ``entries`` hold ``group``, the customer columns, the
    weighted mean ``monetary_value`` and ``weight``; they go in blocks of about
    ``_TABLE_NUMBERS`` (draws x entries), sorted by ``(frequency, T, recency)`` so a
    block shares its pairs and triples."""
    k = next(iter(draws.values())).shape[0]
    n = entries["weight"].shape[0]
    order = np.lexsort((entries["recency"], entries["T"], entries["frequency"]))
    step = max(1, _TABLE_NUMBERS // k)
    out = np.zeros((n_groups, k))
    for start in range(0, n, step):
        idx = order[start:start + step]
        cust = {c: entries[c][idx] for c in (*_CUSTOMER, "monetary_value", "ppat", "spat")}
        values = _expected_values(model, draws, gg, cust, horizon, delta, rp)
        out += _group_matrix(entries["group"][idx], n_groups, entries["weight"][idx]) @ values.T
    return out


def _predictive_totals(model, draws, gg, rows, weights, groups, n_groups, sample_draw,
                       horizon, delta, rng, rp=(None, None)) -> np.ndarray:
    """``(n_groups, n_samples)``: per group and sample, the simulated total discounted
    spend (before margin). Sample ``s`` uses draw ``sample_draw[s]`` for every
    customer (purchase draws and spend draws aligned by index, the spend ones taken
    modulo their number); a row of weight ``w`` gets ``c = min(w, _FUTURES_PER_ROW)``
    independent futures, rescaled when ``c < w`` (module docstring). Rows go in blocks
    of about ``_SIMULATION_NUMBERS`` futures. With covariates (``rp``: the purchase and
    spend :class:`~clvmodels.value.rows.RowParams`) every simulated customer takes her
    own pattern's parameters at the sample's draw."""
    simulate = model.formula("simulate_future")
    purchase, spend = rp
    n_samples = sample_draw.shape[0]
    n_gg = next(iter(gg.values())).shape[0]
    params = {k: v[sample_draw][None, :] for k, v in draws.items()}  # (1, S)
    used, used_inverse = np.unique(sample_draw, return_inverse=True)
    used_draws = {k: v[used] for k, v in draws.items()}
    used_gg = {k: v[used % n_gg] for k, v in gg.items()}
    copies = np.minimum(weights, _FUTURES_PER_ROW).astype(np.int64)
    cum = np.cumsum(copies)
    per_block = max(1, _SIMULATION_NUMBERS // n_samples)
    money = np.nan_to_num(rows["monetary_value"])
    out = np.zeros((n_groups, n_samples))
    start = 0
    n = weights.shape[0]
    while start < n:
        done = cum[start - 1] if start else 0
        end = max(start + 1, int(np.searchsorted(cum, done + per_block, side="right")))
        idx = np.arange(start, min(end, n))
        start = idx[-1] + 1
        c = copies[idx]
        rep = np.repeat(idx, c)
        shape = (rep.size, n_samples)
        cust = {col: rows[col][rep][:, None] for col in _CUSTOMER}
        flat_x = np.broadcast_to(cust["frequency"], shape).ravel()
        flat_m = np.broadcast_to(money[rep][:, None], shape).ravel()
        if spend is not None and spend.linked:  # gamma of each customer's own pattern
            sampled = spend.sampled(gg, rows["spat"][rep], sample_draw[None, :] % n_gg)
            amounts = gamma_gamma_spend_sampler(
                **{k: np.broadcast_to(v, shape).ravel() for k, v in sampled.items()},
                frequency=flat_x, monetary_value=flat_m, rng=rng)
        else:
            amounts = _spend_sampler(gg, np.broadcast_to(sample_draw, shape).ravel(), flat_x,
                                     flat_m, rng)
        if purchase is not None and purchase.linked:
            block_params = purchase.sampled(draws, rows["ppat"][rep], sample_draw[None, :])
        else:
            block_params = params
        value = simulate(**block_params, **cust, horizon=horizon,
                         **discount_argument(model, delta), rng=rng, amounts=amounts)[2]
        sums = np.add.reduceat(value, np.cumsum(c) - c, axis=0)  # (rows, S)
        w = weights[idx]
        big = np.flatnonzero(w > c)
        if big.size:
            bi = idx[big]
            mu = _expected_values(model, used_draws, used_gg,
                                  {col: rows[col][bi] for col in
                                   (*_CUSTOMER, "monetary_value", "ppat", "spat")},
                                  horizon, delta, rp)[used_inverse].T  # (big rows, S)
            wb, cb = w[big][:, None], c[big][:, None].astype(np.float64)
            sums[big] = wb * mu + np.sqrt(wb / cb) * (sums[big] - cb * mu)
        out += _group_matrix(groups[idx], n_groups, np.ones(idx.size)) @ sums
    return out


def _warn_non_finite(totals: np.ndarray, what: str) -> None:
    """Say so when some parameter draws gave no finite total (a formula overflowing at
    extreme draws): the bounds over them are NaN, not silently those of the others."""
    bad = ~np.isfinite(totals).all(axis=0)
    if bad.any():
        warnings.warn(f"{_OWNER}: the model's formulas gave no finite value at {int(bad.sum())} "
                      f"of {bad.size} {what}; the bounds of that interval are NaN. Refit (e.g. "
                      "method='map', whose priors keep the parameters moderate) or use fewer, "
                      "less extreme draws.", RuntimeWarning, stacklevel=3)


def _sample_draws(k: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Draw index of each sample: the ``k`` draws used as evenly as possible (each
    ``floor`` or ``ceil`` of ``n_samples / k`` times), in random order."""
    reps = -(-n_samples // k)
    return np.concatenate([rng.permutation(k) for _ in range(reps)])[:n_samples]


def portfolio_value(
    model: PurchaseModel,
    spend_model: GammaGammaModel,
    data: pd.DataFrame,
    *,
    horizon: str | tuple = "12 months",
    discount_rate: float = 0.0,
    margin: float = 1.0,
    level: float = 0.90,
    by: str | None = None,
    n_draws: int | None = 100,
    n_samples: int = 200,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Total CLV of a customer base (or of each group of it) over ``horizon``, with a
    credible interval for the expected total and a predictive interval for the
    realized total (module docstring).

    Parameters
    ----------
    model : PurchaseModel
        Fitted continuous-time purchase model (BG/NBD, MBG/NBD, Pareto/NBD, or any
        :class:`~clvmodels.models.purchase.base.PurchaseModel`; only its point
        estimate, parameter draws and formulas are used).
    spend_model : GammaGammaModel
        Fitted spend model.
    data : DataFrame
        RFM summary (``frequency``, ``recency``, ``T``, ``monetary_value``) in the
        models' time unit, one row per customer.
    horizon : str or (float, str)
        Units-explicit horizon, e.g. ``"12 months"``, ``"52 weeks"``, ``(2, "year")``.
    discount_rate : float
        Effective annual discount rate, converted exactly to a continuous rate per
        model time unit (as in :func:`~clvmodels.value.purchase.customer_lifetime_value`).
    margin : float
        Share of spend that is profit (1 = revenue).
    level : float
        Probability content of both intervals (default 0.90).
    by : str, optional
        A column of ``data`` (segment, cohort, ...): one output row per value of it.
        None: one row for all customers.
    n_draws : int or None
        Parameter draws used (None: all of them): the credible interval's quantiles
        run over them, and the samples of the predictive interval cycle through them.
    n_samples : int
        Simulated futures of the whole base for the predictive interval.
    random_state : int or Generator, optional
        Seed for draw selection and simulation.

    Returns
    -------
    DataFrame
        One row per group (index: the values of ``by``, sorted; or ``"all
        customers"``): ``customers``; ``expected_total`` (sum of the customers'
        expected CLV at the point estimate: equal to the sum of
        :func:`customer_lifetime_value`'s ``expected_clv``);
        ``expected_total_lower``/``upper`` (credible interval of the expected total);
        ``predictive_total_lower``/``upper`` (predictive interval of the realized
        total); ``expected_value_per_customer``. ``attrs`` record horizon, unit,
        rates, margin, level and the numbers of draws and samples.

    Notes
    -----
    Identical customers are one row of weight ``w``; in the predictive total such a
    row is not one future times ``w`` (that would make its ``w`` customers act as one:
    variance ``w^2 sigma^2``) but the sum of ``w`` independent futures, simulated as
    such up to 64 and, beyond, 64 futures rescaled about their conditional mean to the
    exact conditional mean ``w mu`` and variance ``w sigma^2`` (module docstring). Cost
    grows with the number of distinct rows times ``n_samples``; memory is bounded by
    blocks of about a million simulated futures whatever the number of customers.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> from clvmodels.models import BetaGeoModel, GammaGammaModel
    >>> summary = load_cdnow_summary()
    >>> bg = BetaGeoModel(random_state=0).fit(summary)
    >>> gg = GammaGammaModel(random_state=0).fit(summary)
    >>> total = portfolio_value(bg, gg, summary, horizon="52 weeks", discount_rate=0.1,
    ...                         random_state=0)
    >>> row = total.loc["all customers"]
    >>> bool(row.predictive_total_lower < row.expected_total < row.predictive_total_upper)
    True
    """
    unit = check_value_models(_OWNER, model, spend_model, data, name="model", covariates=True)
    check_clv_options(_OWNER, margin=margin, level=level, n_samples=n_samples,
                      n_draws=n_draws, chunk_size=None)
    h_value, h_unit = parse_horizon(horizon, _OWNER)
    H = convert_duration(h_value, h_unit, unit)
    delta = annual_rate_to_continuous(discount_rate, unit, _OWNER)
    arr = model_summary_arrays(model, data, _OWNER, need_monetary=True)
    codes, labels = _groups(data, by)
    n_groups = len(labels)
    # models with covariates: customers are also told apart by their covariate patterns
    rp = (RowParams(model, data, len(data)), RowParams(spend_model, data, len(data)))
    arr.update(ppat=rp[0].ids, spat=rp[1].ids)
    patterns = [c for c, r in zip(("ppat", "spat"), rp) if r.linked]

    # unique rows (within groups) with weights, and their (group, frequency, recency,
    # T) entries with the weighted mean spend (exact for the expected totals: module
    # docstring)
    comp = compress_rows({**arr, "group": codes},
                         ["group", *_CUSTOMER, "monetary_value", *patterns])
    rows, weights = comp.unique, comp.weights
    for c in ("ppat", "spat"):
        rows.setdefault(c, np.zeros(comp.n_unique))
    groups = rows["group"].astype(np.intp)
    quads = compress_rows(rows, ["group", *_CUSTOMER, *patterns])
    for c in ("ppat", "spat"):
        quads.unique.setdefault(c, np.zeros(quads.n_unique))
    w_sum = np.bincount(quads.inverse, weights=weights)
    money = np.bincount(quads.inverse, weights=weights * np.nan_to_num(rows["monetary_value"]))
    entries = {**quads.unique, "group": quads.unique["group"].astype(np.intp),
               "weight": w_sum, "monetary_value": money / w_sum}
    customers = np.bincount(groups, weights=weights, minlength=n_groups)

    rng = np.random.default_rng(random_state)
    point = {k: np.array([v]) for k, v in model.point_params().items()}
    gg_point = {k: np.array([v]) for k, v in spend_model.point_params().items()}
    expected = margin * _expected_totals(model, point, gg_point, entries, n_groups, H,
                                         delta, rp)[:, 0]

    # credible interval: all customers at one draw, quantiles over draws
    draws = pick_draws(model, n_draws, rng)
    gg = pick_draws(spend_model, n_draws, rng)
    k = next(iter(draws.values())).shape[0]
    n_gg = next(iter(gg.values())).shape[0]
    gg_aligned = {name: v[np.arange(k) % n_gg] for name, v in gg.items()}
    totals = margin * _expected_totals(model, draws, gg_aligned, entries, n_groups, H, delta,
                                       rp)
    _warn_non_finite(totals, "parameter draws")
    cred = credible_bounds(totals, level, axis=1)

    # predictive interval: one shared draw per sample, every customer simulated
    sample_draw = _sample_draws(k, n_samples, rng)
    samples = margin * _predictive_totals(model, draws, gg, rows, weights, groups, n_groups,
                                          sample_draw, H, delta, rng, rp)
    _warn_non_finite(samples, "simulated futures of the base")
    pred = credible_bounds(samples, level, axis=1)

    out = pd.DataFrame(
        {
            "customers": customers.astype(np.int64),
            "expected_total": expected,
            "expected_total_lower": cred[0],
            "expected_total_upper": cred[1],
            "predictive_total_lower": pred[0],
            "predictive_total_upper": pred[1],
            "expected_value_per_customer": expected / customers,
        },
        index=labels,
    )
    out.attrs.update(
        horizon=f"{h_value:g} {h_unit}" + ("" if h_value == 1 else "s"),
        horizon_in_model_units=H, time_unit=unit,
        discount_rate=float(discount_rate), continuous_rate_per_unit=delta,
        margin=float(margin), level=level, n_draws=k, n_samples=n_samples,
        expected_total_interval="credible interval of the expected total (parameter "
        "uncertainty; all customers at the same parameter draw)",
        predictive_total_interval="predictive interval of the realized total (parameter, "
        "individual and purchase-process uncertainty; one shared parameter draw per "
        "simulated future of the whole base)",
    )
    return out
