"""Per-customer predictive CLV with discounting and two honest intervals.

Convention (continuous discounting, DESIGN.md principle 5): a purchase made ``u``
model time units after the end of observation is worth
``exp(-delta u) * margin * spend``, where ``delta = log(1 + discount_rate) * unit /
year`` turns the *effective annual* ``discount_rate`` into a continuous rate per
model time unit exactly (one year ahead is worth ``1 / (1 + discount_rate)``).

Two intervals, never to be confused (DESIGN.md principle 3):

* ``expected_clv_lower`` / ``expected_clv_upper`` — a *credible interval for the
  expected CLV*: quantiles over parameter draws of the expected value. Parameter
  uncertainty only; it shrinks as the customer base grows.
* ``clv_predictive_lower`` / ``clv_predictive_upper`` — a *predictive interval for
  the realized CLV*: quantiles of simulated futures. Each simulated future takes a
  parameter draw, whether the customer is alive, her latent purchase and drop-out
  rates and spend level from their conditional distributions given her own history
  (the purchase model's ``simulate_future``), then purchases and amounts over the
  horizon. Customers whose live futures have the same law share them: futures of a
  customer alive at ``T`` are simulated once per distinct ``(frequency, T)`` (the
  columns of :func:`if_alive_columns`) at unit spend scale, and each customer weights
  them by her own P(alive) at their draws and scales them by her spend
  (:mod:`clvmodels.value.predictive`: the same distribution as simulating her own
  futures one by one, with P(alive) integrated out instead of drawn).

Any fitted purchase model works (DESIGN.md principle 3): the value is computed from
the roles of :mod:`clvmodels.models.purchase.base` (P(alive), discounted purchases if
alive, the simulator), never from a model's parameter names. BG/NBD has a faster
path, specialised to its formulas and with the same outputs (:func:`_bgnbd_fast_path`:
compiled credible-bound kernel, interpolation in ``T``).

All work runs on unique summary rows (DESIGN.md principle 4); the purchase part of
the expectation depends on a customer only through ``(frequency, T)`` and is
evaluated once per distinct pair, P(alive) once per distinct ``(frequency, recency,
T)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.compress import compress_rows
from ..errors import IncompatibleModelError, check_parameter, percent_as_share
from ..models.inputs import summary_arrays
from ..models.interpolation import barycentric_matrix
from ..models.purchase.base import PurchaseModel, accumulate_purchases
from ..models.purchase.bgnbd import (
    bgnbd_alive_draws,
    bgnbd_discounted_purchases_if_alive,
    bgnbd_live_state,
    bgnbd_probability_alive,
    bgnbd_simulate_future,
)
from ..models.purchase.mbgnbd import mbgnbd_discounted_purchases_if_alive
from ..models.spend.gamma_gamma import (
    GammaGammaModel,
    gamma_gamma_expected_spend,
    gamma_gamma_spend_sampler,
)
from ..timeunits import annual_rate_to_continuous, convert_duration, parse_horizon
from .kernel import clv_credible_bounds, generic_clv_bounds
from .predictive import group_customers, live_future_pool
from .rows import RowParams, has_covariates

__all__ = ["customer_lifetime_value", "simulate_futures", "simulate_model_futures",
           "FutureSamples"]

_OWNER = "customer_lifetime_value"


@dataclass
class FutureSamples:
    """Simulated futures of unique customer rows: ``purchases`` and (discounted)
    ``value`` (spend, before margin), both shaped ``(n_rows, n_samples)``."""

    purchases: np.ndarray
    value: np.ndarray | None


def check_margin(margin, owner: str) -> None:
    """``margin`` is the share of revenue that is profit: a float in (0, 1]; a number
    above 1 is refused with the share it probably meant (30 -> 0.30).

    >>> check_margin(30, "demo")
    Traceback (most recent call last):
    ...
    ValueError: The 'margin' parameter of demo must be a float in (0, 1] (the share of revenue that is profit). Got 30 instead. Did you mean 0.30 (30%)?
    """
    ok = (isinstance(margin, (int, float)) and not isinstance(margin, bool)
          and np.isfinite(margin) and 0 < margin <= 1)
    if not ok:
        hint = (f" Did you mean {percent_as_share(margin)} ({margin:g}%)?"
                if isinstance(margin, (int, float)) and 1 < margin <= 100 else "")
        raise ValueError(f"The 'margin' parameter of {owner} must be a float in (0, 1] (the share "
                         f"of revenue that is profit). Got {margin!r} instead.{hint}")


def check_value_models(owner: str, transaction_model, spend_model, data=None, *,
                       name: str = "transaction_model", covariates: bool = False) -> str:
    """The models every value function takes, checked once: a fitted purchase model
    (argument ``name``) and a fitted Gamma-Gamma model, in one time unit with ``data``
    (when given); returns that unit. Models with covariates only where ``covariates``
    (the functions that value each customer with her own parameters)."""
    for model, cls, arg, what in (
            (transaction_model, PurchaseModel, name,
             "purchase model (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, "
             "BetaGeoBetaBinomModel, or a limit a fit became)"),
            (spend_model, GammaGammaModel, "spend_model", "GammaGammaModel")):
        if not isinstance(model, cls):
            raise TypeError(f"The {arg!r} parameter of {owner} must be a fitted {what}. "
                            f"Got {type(model).__name__} instead.")
        model._require_fitted()
        if not covariates and has_covariates(model):
            raise IncompatibleModelError(
                f"{owner} does not take models with covariates yet ({type(model).__name__}); "
                "customer_lifetime_value, evaluate_holdout and compare_models do. Sum "
                "customer_lifetime_value's expected_clv for a portfolio total, or fit the "
                "model without covariates for this function.")
    unit = transaction_model.time_unit_
    if unit is None:
        raise IncompatibleModelError(
            f"{owner}: the transaction model does not know its time unit, so a horizon "
            f"cannot be converted. Fit it on a summary from rfm_summary() or set "
            f"{type(transaction_model).__name__}(time_unit='week')."
        )
    data_unit = unit if data is None else getattr(data, "attrs", {}).get("time_unit", unit)
    if data_unit != unit or spend_model.time_unit_ not in (None, unit):
        raise IncompatibleModelError(
            f"{owner}: time units disagree (transaction model: {unit!r}, spend model: "
            f"{spend_model.time_unit_!r}, data: {data_unit!r}). Rebuild the summary and refit "
            "in one unit."
        )
    return unit


def check_clv_options(owner: str, *, margin, level, n_samples, n_draws, chunk_size) -> None:
    """The settings every CLV function shares, checked with the standard message."""
    check_margin(margin, owner)
    check_parameter("level", owner, level, isinstance(level, float) and 0 < level < 1,
                    "a float in (0, 1)")
    check_parameter("n_samples", owner, n_samples,
                    isinstance(n_samples, int) and n_samples >= 20, "an int >= 20")
    check_parameter("n_draws", owner, n_draws,
                    n_draws is None or (isinstance(n_draws, int) and n_draws >= 2),
                    "None or an int >= 2")
    check_parameter("chunk_size", owner, chunk_size,
                    chunk_size is None or (isinstance(chunk_size, int) and chunk_size >= 1),
                    "None or a positive int")


def pick_draws(model, n: int | None, rng: np.random.Generator,
               draws: dict | None = None) -> dict[str, np.ndarray]:
    """``n`` of the model's flattened parameter draws (or of ``draws``, arrays of the
    same length), chosen at random without replacement (all of them when ``n`` is None
    or not smaller)."""
    draws = model.param_draws() if draws is None else draws
    total = next(iter(draws.values())).shape[0]
    if n is not None and n < total:
        pick = np.sort(rng.choice(total, size=n, replace=False))
        draws = {k: v[pick] for k, v in draws.items()}
    return draws


def simulate_futures(
    bg: dict[str, np.ndarray],
    rows: dict[str, np.ndarray],
    horizon: float,
    delta: float,
    n_samples: int,
    rng: np.random.Generator,
    gg: dict[str, np.ndarray] | None = None,
) -> FutureSamples:
    """Simulate each row's BG/NBD purchases (and discounted spend) over ``horizon``.

    ``bg`` (and ``gg``) hold parameter draws of equal length; each sample uses one
    draw picked at random, so parameter uncertainty enters the spread. Given a draw,
    the customer is alive with her P(alive); if alive, ``lambda ~ Gamma(r+x,
    alpha+T)``, ``p ~ Beta(a, b+x)`` (:func:`~clvmodels.models.purchase.bgnbd.bgnbd_alive_draws`,
    :func:`~clvmodels.models.purchase.bgnbd.bgnbd_live_state`), and (with ``gg``) spend
    rate ``nu ~ Gamma(p x + q, gamma + x m)``; each purchase amount is ``Gamma(p, nu)``.
    Any other purchase model goes through :func:`simulate_model_futures`.
    """
    x = rows["frequency"]
    n_rows = x.shape[0]
    n_total = n_rows * n_samples
    d = rng.integers(0, bg["r"].shape[0], size=n_total)
    row = np.repeat(np.arange(n_rows), n_samples)
    r, alpha, a, b = (bg[k][d] for k in ("r", "alpha", "a", "b"))
    xs, Ts = x[row], rows["T"][row]
    alive = bgnbd_alive_draws(r, alpha, a, b, xs, rows["recency"][row], Ts, rng)
    live, lam, last = bgnbd_live_state(r, alpha, a, b, xs, Ts, alive, rng)
    amounts = None
    if gg is not None:
        amounts = _spend_sampler(gg, d[live], xs[live],
                                 np.nan_to_num(rows["monetary_value"])[row[live]], rng)
    purchases, _, value = accumulate_purchases(n_total, live, lam, last, horizon, delta, rng,
                                               amounts)
    shape = (n_rows, n_samples)
    return FutureSamples(purchases.reshape(shape),
                         None if value is None else value.reshape(shape))


def _spend_sampler(gg, draw, x, m, rng):
    """Gamma-Gamma spend of simulated customers (:func:`~clvmodels.models.spend.gamma_gamma.
    gamma_gamma_spend_sampler`) at spend draws ``draw`` (taken modulo their number)."""
    n = next(iter(gg.values())).shape[0]
    params = {k: v[draw % n] for k, v in gg.items()}
    return gamma_gamma_spend_sampler(**params, frequency=x, monetary_value=m, rng=rng)


def _bgnbd_fast_path(model) -> bool:
    """Whether ``model`` has BG/NBD's formulas, for which the compiled credible-bound
    kernel (:mod:`clvmodels.value.kernel`), the interpolation of :func:`_per_pair` and
    :func:`simulate_futures` are specialised; every other purchase model takes the
    generic path through its formulas, with the same outputs."""
    f = type(model).formulas
    return (f.get("probability_alive") is bgnbd_probability_alive
            and f.get("discounted_purchases_if_alive") is bgnbd_discounted_purchases_if_alive
            and f.get("simulate_future") is bgnbd_simulate_future)


def discount_argument(model, delta: float) -> dict:
    """The continuous discount rate ``delta`` as the keyword argument ``model``'s formulas
    take it: ``delta``, or the model's ``discount_keyword`` where ``delta`` names one of
    its parameters (BG/BB's ``theta ~ Beta(gamma, delta)``)."""
    return {getattr(type(model), "discount_keyword", "delta"): delta}


def if_alive_columns(model) -> list[str]:
    """The customer columns ``model``'s ``discounted_purchases_if_alive`` depends on, so
    value code evaluates it once per distinct combination of them: ``frequency`` and
    ``T``, and ``recency`` too for a model whose live customer's future depends on the
    time since her last purchase (``if_alive_needs_recency``: the Erlang-k models,
    where it says how far she is through her usual gap)."""
    if getattr(type(model), "if_alive_needs_recency", False):
        return ["frequency", "recency", "T"]
    return ["frequency", "T"]


def model_summary_arrays(model, data: pd.DataFrame, owner: str, **kwargs) -> dict:
    """:func:`~clvmodels.models.inputs.summary_arrays` of ``data`` for ``model``: a
    discrete-time model (``discrete_time``, BG/BB) takes a discrete summary, its
    ``n_periods`` as ``T``."""
    return summary_arrays(data, owner, discrete=getattr(type(model), "discrete_time", False),
                          **kwargs)


def simulate_model_futures(
    model: PurchaseModel,
    rows: dict[str, np.ndarray],
    horizon: float,
    delta: float,
    n_samples: int,
    rng: np.random.Generator,
    spend_model: GammaGammaModel | None = None,
    block_numbers: int | None = None,
    purchase: RowParams | None = None,
    spend: RowParams | None = None,
) -> FutureSamples:
    """``n_samples`` simulated futures of each row of ``rows`` under any fitted purchase
    model (and Gamma-Gamma spend): each sample takes a parameter draw at random and
    runs the model's ``simulate_future``; rows go a block of about ``block_numbers``
    samples at a time. BG/NBD models use :func:`simulate_futures`. ``value`` is the
    discounted spend (None without ``spend_model``).

    Models with covariates value each row with its own parameters
    (:class:`~clvmodels.value.rows.RowParams`): a purchase model's from the row's
    purchase pattern ``rows["ppat"]`` (``purchase``), a spend model's from its spend
    pattern ``rows["spat"]`` (``spend``): a sample's spend rate is drawn from the
    row's own ``gamma`` at the sample's spend draw."""
    gg = None if spend_model is None else spend_model.param_draws()
    for m, given, arg, col in ((model, purchase, "purchase", "ppat"),
                               (spend_model, spend, "spend", "spat")):
        if m is not None and has_covariates(m) and (given is None or not given.linked
                                                    or col not in rows):
            raise IncompatibleModelError(
                f"simulate_model_futures: {type(m).__name__} has covariates, so each row "
                f"needs its own parameters: pass {arg}=RowParams(model, data, len(data)) and "
                f"each row's pattern as rows[{col!r}] (RowParams.ids).")
    linked = purchase is not None and purchase.linked
    spend_linked = gg is not None and spend is not None and spend.linked
    if _bgnbd_fast_path(model) and not (linked or spend_linked):
        return simulate_futures(model.param_draws(), rows, horizon, delta, n_samples, rng, gg=gg)
    simulate = model.formula("simulate_future")
    draws = model.param_draws()
    n_draws = next(iter(draws.values())).shape[0]
    n_rows = rows["frequency"].shape[0]
    purchases = np.empty((n_rows, n_samples))
    value = None if gg is None else np.empty((n_rows, n_samples))
    step = max(1, (block_numbers or _SIMULATION_NUMBERS) // n_samples)
    for start in range(0, n_rows, step):
        sl = slice(start, start + step)
        d = rng.integers(0, n_draws, size=(rows["frequency"][sl].shape[0], n_samples))
        cust = {c: rows[c][sl][:, None] for c in ("frequency", "recency", "T")}
        amounts = None
        if gg is not None:
            x = np.broadcast_to(cust["frequency"], d.shape).ravel()
            m = np.broadcast_to(np.nan_to_num(rows["monetary_value"][sl])[:, None], d.shape)
            if spend_linked:  # each row's own spend parameters at the sample's draw
                n_gg = next(iter(gg.values())).shape[0]
                params = {k: v.ravel()
                          for k, v in spend.sampled(gg, rows["spat"][sl], d % n_gg).items()}
                amounts = gamma_gamma_spend_sampler(**params, frequency=x,
                                                    monetary_value=m.ravel(), rng=rng)
            else:
                amounts = _spend_sampler(gg, d.ravel(), x, m.ravel(), rng)
        if linked:  # each row's own parameters at the sample's draw
            params = purchase.sampled(draws, rows["ppat"][sl], d)
        else:
            params = {k: v[d] for k, v in draws.items()}
        out = simulate(**params, **cust, horizon=horizon,
                       **discount_argument(model, delta), rng=rng, amounts=amounts)
        purchases[sl] = out[0]
        if value is not None:
            value[sl] = out[2]
    return FutureSamples(purchases, value)


def _bgnbd_bounds(model, bg, gg, rows, pairs, H, delta, margin, level, n_samples, rng):
    """Credible and predictive bounds (shape ``(4, n_rows)``: credible lower, upper,
    predictive lower, upper) of the CLV under BG/NBD draws: per-pair values from
    :func:`_per_pair` (interpolated in ``T``), the live futures of each pair
    (:func:`~clvmodels.value.predictive.live_future_pool`) and rows through the
    compiled kernel (:func:`clvmodels.value.kernel.clv_credible_bounds`)."""
    k = bg["r"].shape[0]
    out = np.empty((4, pairs.inverse.shape[0]))
    # pairs in (frequency, T) order, in batches whose draws x pairs
    # table stays near 8 million numbers; each batch's rows go through the compiled
    # kernel (at most 16 million tabulated numbers per call), which holds one row's
    # draws at a time
    pair_order = np.lexsort((pairs.unique["T"], pairs.unique["frequency"]))
    rank = np.empty_like(pair_order)
    rank[pair_order] = np.arange(pair_order.size)
    row_rank = rank[pairs.inverse]
    row_order = np.argsort(row_rank, kind="stable")
    sorted_rank = row_rank[row_order]
    customers = group_customers(rows, pairs.inverse, pairs.n_unique)
    batch = max(1, _PAIR_TABLE_NUMBERS // k)
    rows_per_call = max(4_000, _KERNEL_TABLE_NUMBERS // k)
    for p0 in range(0, pair_order.size, batch):
        p1 = min(p0 + batch, pair_order.size)
        in_pairs = pair_order[p0:p1]
        per_pair = _per_pair(bg, {c: v[in_pairs] for c, v in pairs.unique.items()}, H, delta)
        pool = live_future_pool(model, bg, gg, {c: v[in_pairs] for c, v in customers.items()},
                                H, discount_argument(model, delta), n_samples, rng)
        in_batch = row_order[np.searchsorted(sorted_rank, p0):np.searchsorted(sorted_rank, p1)]
        # the kernel tabulates logs per distinct recency (and T, frequency) x draws:
        # when those tables would be large, the batch's rows go a slice at a time
        distinct = max(np.unique(rows[c][in_batch]).size for c in ("recency", "T"))
        step = in_batch.size if distinct * k <= _KERNEL_TABLE_NUMBERS else rows_per_call
        for r0 in range(0, in_batch.size, max(step, 1)):
            idx = in_batch[r0:r0 + step]
            out[:, idx] = clv_credible_bounds(bg, gg, {c: v[idx] for c, v in rows.items()},
                                              per_pair, row_rank[idx] - p0, margin, level,
                                              pool=pool)
    return out


def _generic_intervals(model, draws, gg, rows, pairs, horizon, delta, margin, level, n_samples,
                       rng, chunk_rows=None, block_numbers=None, purchase=None, spend=None):
    """Credible and predictive bounds (each shape ``(2, n_rows)``) of each row's CLV for
    any purchase model, through its formulas, from one table of P(alive) per parameter
    draw and distinct ``(frequency, recency, T)``.

    Rows go sorted by their (frequency, T) pair and then (frequency, recency, T), in
    chunks of about ``block_numbers`` (draws x rows) values and at most ``chunk_rows``
    rows. Within a chunk the discounted purchases if alive are evaluated once per
    distinct pair and draw, P(alive) once per distinct (frequency, recency, T) and
    draw, and ``n_samples`` futures of a live customer are simulated per distinct pair
    (:func:`~clvmodels.value.predictive.live_future_pool`). A compiled pass over the
    chunk's rows (:func:`~clvmodels.value.kernel.generic_clv_bounds`) takes the
    credible bounds as quantiles over the draws at Weibull positions, as the BG/NBD
    kernel, and the predictive bounds from the pair's futures weighted by the row's
    P(alive) per draw (:mod:`clvmodels.value.predictive`).

    With covariates, ``purchase`` and ``spend`` (:class:`~clvmodels.value.rows.RowParams`)
    give the parameter draws of each covariate pattern: ``rows`` then carry the purchase
    pattern ``ppat`` (part of the pairs' key) and the spend pattern ``spat``."""
    p_alive = model.formula("probability_alive")
    if_alive = model.formula("discounted_purchases_if_alive")
    discount = discount_argument(model, delta)
    purchase = purchase or RowParams(model, None, 0)
    by_pattern = purchase.linked
    key = ["frequency", "recency", "T"] + (["ppat"] if by_pattern else [])
    k = next(iter(draws.values())).shape[0]
    triples = compress_rows(rows, key)
    customers = group_customers(rows, pairs.inverse, pairs.n_unique)
    pair_pattern = pairs.unique.get("ppat")
    pair_cols = {c: v for c, v in pairs.unique.items() if c != "ppat"}
    order = np.lexsort((triples.inverse, pairs.inverse))
    step = max(1, (block_numbers or _GENERIC_TABLE_NUMBERS) // k)
    if chunk_rows is not None:
        step = min(step, chunk_rows)
    out = np.empty((4, pairs.inverse.shape[0]))
    # BG/NBD's formula (and MBG/NBD's, at b + 1) for draws shared by every customer:
    # interpolated in T per frequency (_per_pair), for all pairs at once when the table
    # is small, so that each frequency's T range is interpolated as a whole
    b_shift = _INTERPOLATED_IF_ALIVE.get(if_alive)
    interpolated = b_shift is not None and not by_pattern
    pair_table = shared = None
    if interpolated:
        shared = {n: v[:, 0] for n, v in purchase.draws(draws).items()}
        shared["b"] = shared["b"] + b_shift
        if pairs.n_unique * k <= _PAIR_TABLE_NUMBERS:
            pair_table = _per_pair(shared, pair_cols, horizon, delta)
    for start in range(0, order.size, step):
        idx = order[start:start + step]
        up, in_pair = np.unique(pairs.inverse[idx], return_inverse=True)
        ut, in_triple = np.unique(triples.inverse[idx], return_inverse=True)
        pair_draws = purchase.draws(draws, None if pair_pattern is None else pair_pattern[up])
        chunk_pairs = {c: v[up] for c, v in pair_cols.items()}
        if pair_table is not None:
            per_pair = pair_table[up].T
        elif interpolated:
            per_pair = _per_pair(shared, chunk_pairs, horizon, delta).T
        else:
            per_pair = if_alive(**pair_draws, **chunk_pairs, horizon=horizon, **discount)
        pa = p_alive(**purchase.draws(draws, triples.unique["ppat"][ut] if by_pattern else None),
                     **{c: triples.unique[c][ut] for c in ("frequency", "recency", "T")})
        pool = live_future_pool(model, pair_draws, gg, {c: v[up] for c, v in customers.items()},
                                horizon, discount, n_samples, rng)
        gamma_rows = None
        if spend is not None and spend.linked:
            us, in_spend = np.unique(rows["spat"][idx], return_inverse=True)
            gamma_rows = (np.ascontiguousarray(spend.draws(gg, us)["gamma"].T), in_spend)
        out[:, idx] = generic_clv_bounds(
            np.broadcast_to(pa, (k, ut.size)).T, in_triple,
            np.broadcast_to(per_pair, (k, up.size)).T, in_pair, gg,
            {c: rows[c][idx] for c in ("frequency", "monetary_value")}, margin, level, pool,
            gamma_rows=gamma_rows)
    return out[:2], out[2:]


def _expected_clv_draws(bg, gg, rows, per_pair, pair_index, margin):
    """Expected discounted CLV for every (draw, unique row): shape (n_draws, n_rows).

    ``per_pair`` holds the discounted purchases if alive per (draw, distinct
    (frequency, T) pair); ``pair_index`` maps rows to pairs."""
    col = lambda v: v[:, None]  # noqa: E731 - draws down, rows across
    pa = bgnbd_probability_alive(col(bg["r"]), col(bg["alpha"]), col(bg["a"]), col(bg["b"]),
                                 rows["frequency"], rows["recency"], rows["T"])
    spend = gamma_gamma_expected_spend(**{k: col(v) for k, v in gg.items()},
                                       frequency=rows["frequency"],
                                       monetary_value=rows["monetary_value"])
    return margin * pa * per_pair[:, pair_index] * spend


def _per_pair(bg, pairs, horizon, delta, interpolate: bool = True,
              block_elements: int = 2_000_000):
    """Discounted purchases if alive for every (distinct (x, T) pair, draw): shape
    ``(n_pairs, n_draws)``, each pair's draws contiguous.

    Pairs sharing ``x`` are a smooth function of ``T``: for fixed ``x`` and draw the
    value is analytic in ``y = log(alpha_min + T)`` within ``|Im y| < pi`` (its only
    singularities are at ``alpha + T`` in ``{0, -horizon}``, and ``alpha >= alpha_min``
    for every draw). So where an ``x`` has more distinct ``T`` than needed, the
    quadrature runs at Chebyshev points in ``y`` (the same for all draws) and the
    values at the pairs' ``T`` come from the barycentric interpolant, one matrix
    product: interpolation error below ``1e-11`` relative (set by the strip, tested
    against direct evaluation), far below the quadrature's own ``1e-6``. The other
    pairs are evaluated directly, in blocks of draws near ``block_elements`` numbers.
    """
    x = np.asarray(pairs["frequency"], dtype=np.float64)
    T = np.asarray(pairs["T"], dtype=np.float64)
    n_draws = bg["r"].shape[0]
    out = np.empty((x.size, n_draws))
    col = {k: np.asarray(bg[k], dtype=np.float64)[:, None] for k in ("r", "alpha", "a", "b")}
    alpha_min = float(col["alpha"].min())
    order = np.lexsort((T, x))
    starts = np.flatnonzero(np.r_[True, x[order][1:] != x[order][:-1]])
    direct = []
    for lo, hi in zip(starts, np.r_[starts[1:], x.size]):
        idx = order[lo:hi]
        y = np.log(alpha_min + T[idx])
        nodes = _interpolation_nodes(y) if interpolate else None
        if nodes is None:
            direct.append(idx)
            continue
        t_nodes = np.exp(nodes) - alpha_min
        t_nodes[[0, -1]] = T[idx[-1]], T[idx[0]]  # exact at the ends (cos(0), cos(pi))
        f = bgnbd_discounted_purchases_if_alive(*col.values(), x[idx[0]], t_nodes, horizon, delta)
        if not np.isfinite(f).all():  # a failed node would spread to the whole group
            direct.append(idx)
            continue
        out[idx] = barycentric_matrix(nodes, y) @ f.T
    if direct:
        idx = np.concatenate(direct)
        step = max(1, block_elements // idx.size)
        for start in range(0, n_draws, step):
            sl = slice(start, start + step)
            out[idx, sl] = bgnbd_discounted_purchases_if_alive(
                *(v[sl] for v in col.values()), x[idx], T[idx], horizon, delta).T
    return out


_INTERPOLATION_TOLERANCE = 1e-11
#: discounted-purchases formulas that are BG/NBD's at ``b + shift``: the generic path
#: evaluates them per pair with :func:`_per_pair`'s interpolation in ``T`` (MBG/NBD's
#: live customer is a live BG/NBD customer with ``b + 1``)
_INTERPOLATED_IF_ALIVE = {bgnbd_discounted_purchases_if_alive: 0.0,
                          mbgnbd_discounted_purchases_if_alive: 1.0}
_GENERIC_TABLE_NUMBERS = 2_000_000  # draws x rows per chunk of the generic credible bounds
_SIMULATION_NUMBERS = 1_000_000  # samples per block of the generic simulated futures
_PAIR_TABLE_NUMBERS = 8_000_000  # draws x pairs per batch of the credible-bound loop
_KERNEL_TABLE_NUMBERS = 16_000_000  # draws x rows per call of the kernel (log tables)


def _interpolation_nodes(y):
    """Chebyshev extreme points spanning ``y`` (sorted), enough for the tolerance given
    analyticity within ``|Im y| < pi``; None when there are no fewer nodes than points."""
    half = (y[-1] - y[0]) / 2.0
    if y.size < 3 or not 0.0 < half < np.inf:
        return None
    t = np.pi / half  # nearest singularity, in units of the half-width
    rho = t + np.sqrt(1.0 + t * t)  # Bernstein ellipse through it
    k = int(np.ceil(np.log(1.0 / _INTERPOLATION_TOLERANCE) / np.log(rho))) + 4
    if k >= y.size:
        return None
    return (y[0] + y[-1]) / 2.0 + half * np.cos(np.pi * np.arange(k) / (k - 1))


def customer_lifetime_value(
    transaction_model: PurchaseModel,
    spend_model: GammaGammaModel,
    data: pd.DataFrame,
    *,
    horizon: str | tuple = "12 months",
    discount_rate: float = 0.0,
    margin: float = 1.0,
    level: float = 0.90,
    n_draws: int | None = 100,
    n_samples: int = 200,
    chunk_size: int | None = None,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Per-customer predictive CLV over ``horizon`` with two intervals.

    Parameters
    ----------
    transaction_model : PurchaseModel
        Fitted purchase model: BG/NBD, MBG/NBD, Pareto/NBD or any other
        :class:`~clvmodels.models.purchase.base.PurchaseModel` (any fit method: only its
        point estimate, parameter draws and formulas are used). BG/NBD takes a
        specialised fast path (compiled kernel computing P(alive) itself, interpolation
        in ``T``); the others the generic one: P(alive) x discounted purchases if alive
        from the model's formulas in (draws x rows) blocks of about 2 million numbers,
        then the same compiled per-row selection. Futures of a live customer come from
        the model's ``live_state`` and a compiled purchase loop where the model has
        one (BG/NBD, MBG/NBD, Pareto/NBD), else from its ``simulate_future``.
    spend_model : GammaGammaModel
        Fitted spend model.
    data : DataFrame
        RFM summary (``frequency``, ``recency``, ``T``, ``monetary_value``) in the
        models' time unit, indexed by customer.
    horizon : str or (float, str)
        Units-explicit horizon, e.g. ``"12 months"``, ``"52 weeks"``, ``(2, "year")``.
    discount_rate : float
        Effective annual discount rate (0.10 = 10% a year), converted exactly to a
        continuous rate per model time unit (module docstring).
    margin : float
        Share of spend that is profit (1 = revenue).
    level : float
        Probability content of both intervals (default 0.90).
    n_draws : int or None
        Parameter draws used for the credible interval (None: all of them).
    n_samples : int
        Simulated futures of a live customer per distinct ``(frequency, T)`` (with
        ``recency`` for the Erlang-k models), shared by the customers who have them
        (module docstring); each customer's predictive bounds are quantiles of those
        futures weighted by her P(alive) at their parameter draws, so her Monte Carlo
        error is at most that of ``n_samples`` futures of her own (smaller when she
        is probably gone). Customers sharing futures have correlated errors.
    chunk_size : int, optional
        Most distinct rows per chunk of the generic path (models other than BG/NBD,
        whose chunks also keep the draws x rows tables near 2 million numbers; default
        ``max(500, 4,000,000 // n_samples)``). Both intervals are computed row by row
        by compiled kernels from tables per draw and distinct value (BG/NBD: a draws x
        (frequency, T) pairs table of at most about 8 million numbers), so memory stays
        bounded whatever the number of customers and draws: draws x customers and
        samples x customers are never materialized.
    random_state : int or Generator, optional
        Seed for draw selection and simulation.

    Returns
    -------
    DataFrame
        One row per customer: ``probability_alive``, ``expected_purchases``
        (undiscounted, over the horizon), ``expected_spend`` (per purchase),
        ``expected_clv`` (discounted, times margin), all at the point estimate
        (maximum likelihood or MAP; the posterior mean of the parameters for MCMC
        and ADVI fits),
        ``expected_clv_lower``/``upper`` (credible interval of the expected value)
        and ``clv_predictive_lower``/``upper`` (predictive interval of the realized
        value). ``attrs`` record horizon, unit, rate, margin and level.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> from clvmodels.models import BetaGeoModel, GammaGammaModel
    >>> summary = load_cdnow_summary()
    >>> bg = BetaGeoModel(random_state=0).fit(summary)
    >>> gg = GammaGammaModel(random_state=0).fit(summary)
    >>> clv = customer_lifetime_value(bg, gg, summary, horizon="52 weeks", discount_rate=0.1,
    ...                               n_samples=200, random_state=0)
    >>> bool((clv.expected_clv_lower <= clv.expected_clv).all())
    True
    """
    unit = check_value_models(_OWNER, transaction_model, spend_model, data, covariates=True)
    purchase = RowParams(transaction_model, data, len(data))
    spend = RowParams(spend_model, data, len(data))
    fast = _bgnbd_fast_path(transaction_model) and not (purchase.linked or spend.linked)
    check_clv_options(_OWNER, margin=margin, level=level, n_samples=n_samples,
                      n_draws=n_draws, chunk_size=chunk_size)
    h_value, h_unit = parse_horizon(horizon, _OWNER)
    H = convert_duration(h_value, h_unit, unit)
    model_name = type(transaction_model).__name__
    if getattr(type(transaction_model), "discrete_time", False) and abs(H - round(H)) > 1e-9:
        whole = max(1, round(H))
        raise ValueError(
            f"{_OWNER}: a horizon of {horizon!r} is {H:.3g} {unit}s, but {model_name} "
            f"counts whole {unit}s (one transaction opportunity each). Give the horizon in whole "
            f"{unit}s, e.g. '{whole} {unit}{'s' if whole != 1 else ''}'.")
    delta = annual_rate_to_continuous(discount_rate, unit, _OWNER)

    arr = model_summary_arrays(transaction_model, data, _OWNER, need_monetary=True)
    # with covariates, customers are also told apart by their covariate patterns
    patterns = ((["ppat"] if purchase.linked else []) + (["spat"] if spend.linked else []))
    arr.update(ppat=purchase.ids, spat=spend.ids)
    comp = compress_rows(arr, ["frequency", "recency", "T", "monetary_value", *patterns])
    rows = comp.unique
    rows.setdefault("ppat", np.zeros(comp.n_unique))
    rows.setdefault("spat", np.zeros(comp.n_unique))
    # rows grouped by what the discounted purchases if alive depend on: (frequency, T)
    # (and recency for the Erlang-k models: if_alive_columns), and the purchase pattern
    by_pattern = ["ppat"] if purchase.linked else []
    pairs = compress_rows(rows, ["frequency", "T"] if fast
                          else if_alive_columns(transaction_model) + by_pattern)
    rng = np.random.default_rng(random_state)

    # point estimate
    if fast:
        bg_point = {k: np.array([v]) for k, v in transaction_model.point_params().items()}
        gg_point = {k: np.array([v]) for k, v in spend_model.point_params().items()}
        expected_clv = _expected_clv_draws(
            bg_point, gg_point, rows,
            _per_pair(bg_point, pairs.unique, H, delta, interpolate=False).T,
            pairs.inverse, margin)[0]
        pa = bgnbd_probability_alive(**transaction_model.point_params(),
                                     frequency=rows["frequency"], recency=rows["recency"],
                                     T=rows["T"])
        purchases_if_alive = bgnbd_discounted_purchases_if_alive(
            **transaction_model.point_params(), frequency=pairs.unique["frequency"],
            T=pairs.unique["T"], horizon=H, delta=0.0)
        expected_purchases = pa * purchases_if_alive[pairs.inverse]
    expected_spend = gamma_gamma_expected_spend(**spend.point(rows["spat"]),
                                                frequency=rows["frequency"],
                                                monetary_value=rows["monetary_value"])
    if not fast:
        triples = compress_rows(rows, ["frequency", "recency", "T", *by_pattern])
        point = purchase.point(triples.unique.get("ppat"))
        cust = {c: triples.unique[c] for c in ("frequency", "recency", "T")}
        pa = transaction_model.formula("probability_alive")(**point, **cust)[triples.inverse]
        expected_purchases = transaction_model.formula("conditional_expected_purchases")(
            **point, **cust, t=H)[triples.inverse]
        discounted = transaction_model.formula("discounted_purchases_if_alive")(
            **purchase.point(pairs.unique.get("ppat")),
            **{c: v for c, v in pairs.unique.items() if c != "ppat"}, horizon=H,
            **discount_argument(transaction_model, delta))
        expected_clv = margin * pa * discounted[pairs.inverse] * expected_spend

    # both intervals from k parameter draws (purchase and spend draws aligned by index)
    bg = pick_draws(transaction_model, n_draws, rng)
    k = next(iter(bg.values())).shape[0]
    gg_all = spend_model.param_draws()
    n_spend = next(iter(gg_all.values())).shape[0]
    gg_pick = rng.choice(n_spend, size=k, replace=k > n_spend)
    gg = {name: v[gg_pick] for name, v in gg_all.items()}
    if chunk_size is None:
        chunk_size = max(500, 4_000_000 // n_samples)
    if fast:
        bounds = _bgnbd_bounds(transaction_model, bg, gg, rows, pairs, H, delta, margin, level,
                               n_samples, rng)
        cred, pred = bounds[:2], bounds[2:]
    else:
        # one pass: P(alive) per (draw, distinct row) serves both intervals
        cred, pred = _generic_intervals(transaction_model, bg, gg, rows, pairs, H, delta,
                                        margin, level, n_samples, rng, chunk_rows=chunk_size,
                                        purchase=purchase, spend=spend)

    out = pd.DataFrame(
        {
            "probability_alive": pa,
            "expected_purchases": expected_purchases,
            "expected_spend": expected_spend,
            "expected_clv": expected_clv,
            "expected_clv_lower": cred[0],
            "expected_clv_upper": cred[1],
            "clv_predictive_lower": pred[0],
            "clv_predictive_upper": pred[1],
        }
    ).iloc[comp.inverse]
    out.index = data.index
    out.attrs.update(
        horizon=f"{h_value:g} {h_unit}" + ("" if h_value == 1 else "s"),
        horizon_in_model_units=H, time_unit=unit,
        discount_rate=float(discount_rate), continuous_rate_per_unit=delta,
        margin=float(margin), level=level,
        expected_clv_interval="credible interval of the expected CLV (parameter uncertainty)",
        clv_predictive_interval="predictive interval of the realized CLV "
        "(parameter, individual and purchase-process uncertainty; simulated)",
    )
    return out
