"""Predictive interval of each customer's CLV from futures shared by customers alike.

The predictive distribution of a customer's discounted value ``V`` over the horizon
(:mod:`clvmodels.value.purchase`) is a mixture over the parameter draws ``d`` (purchase
and spend draws aligned by index): with probability ``1 - P_d`` (``P_d`` her P(alive)
at draw ``d``) she is gone and ``V = 0``; else ``V`` is the discounted spend of a
customer alive at ``T``. Two facts let customers share the simulation:

* **A live customer's future depends on few columns.** Given that she is alive at
  ``T`` her latent rates and future purchases depend on her history only through the
  columns her discounted purchases if alive depend on (``(frequency, T)``, and
  ``recency`` for the Erlang-k models: :func:`~clvmodels.value.purchase.if_alive_columns`),
  not on the rest of ``recency`` (which only moves P(alive)) nor on her mean spend.
* **Spend is a scale.** Gamma-Gamma draws the spend rate ``nu ~ Gamma(p x + q, gamma +
  x m)`` and each amount ``Gamma(p, nu)`` (Fader & Hardie 2013), so every amount, and
  so ``V``, is ``gamma_d + x m`` times what it is at ``gamma + x m = 1``.

So per group of customers sharing those columns, :func:`live_future_pool` simulates
``n_samples`` futures of a *live* customer with the model's own ``simulate_future``
(``alive_probability=1``), each at a random draw ``d_s`` and at unit spend scale,
giving ``(d_s, W_s)``. A customer of the group then has the predictive distribution
estimated by

``F(v) = (1/S) sum_s [(1 - P_{d_s}) 1{v >= 0} + P_{d_s} 1{v >= margin (gamma_{d_s} + x m) W_s}]``,

an unbiased estimate of her mixture's distribution function with P(alive) integrated
out exactly instead of drawn (a Rao-Blackwellized form of simulating ``S`` futures of
her own, which gives a live future only to a share ``P`` of them). Her two bounds are
its quantiles (:func:`clvmodels.value.kernel.predictive_bounds`, compiled). The estimate targets the same distribution as
simulating every customer's futures one by one, with a smaller Monte Carlo error
(tests/test_predictive_kernel.py holds the bounds to brute-force simulation); customers
of one group share their ``S`` futures, so their Monte Carlo errors are correlated.
The expensive part, simulating purchases, grows with the number of groups (16,425
``(frequency, T)`` pairs for 1,000,000 day-resolution customers), not with the
number of distinct customer rows (423,686 there).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..models.spend.gamma_gamma import gamma_gamma_spend_sampler
from ..parallel import threads_for
from .kernel import live_spend

__all__ = ["group_customers", "live_future_pool"]

#: futures (groups x samples) simulated per call of the model's simulate_future
_POOL_NUMBERS = 1_000_000
#: parts of a block of compiled futures, each with its own random stream
_PARTS = 2


def group_customers(rows: dict, inverse: np.ndarray, n_groups: int) -> dict:
    """The ``frequency``, ``recency`` and ``T`` of one customer per group (the first of
    each), for simulating a group's live futures: within a group the columns a live
    customer's future depends on are equal, and the others are not used given that
    she is alive."""
    first = np.full(n_groups, -1, dtype=np.intp)
    first[inverse[::-1]] = np.arange(inverse.size - 1, -1, -1)
    if (first < 0).any():
        raise ValueError("group_customers: a group without customers")
    return {c: np.asarray(rows[c], dtype=np.float64)[first] for c in ("frequency", "recency", "T")}


def live_future_pool(model, draws: dict, gg: dict, customers: dict, horizon: float,
                     discount: dict, n_samples: int, rng: np.random.Generator):
    """``n_samples`` simulated futures of a customer alive at ``T`` for each group
    (module docstring), each at a random draw of ``draws``/``gg`` (aligned by index)
    and at unit spend scale.

    ``draws`` holds ``(k,)`` arrays, or ``(k, n_groups)`` arrays of each group's own
    parameters (a model with covariates: :mod:`clvmodels.value.rows`; ``(k, 1)`` for
    parameters every group shares). ``customers`` holds one ``frequency``, ``recency``
    and ``T`` per group
    (:func:`group_customers`); ``discount`` is the discount keyword of the model's
    formulas. A model whose live customer buys as a Poisson process until a drop-out
    purchase or the end of a lifetime gives that state (formula ``live_state``: BG/NBD,
    MBG/NBD, Pareto/NBD) and the purchases and amounts are simulated by a compiled loop
    (:func:`~clvmodels.value.kernel.live_spend`), one at a time instead of one numpy
    pass per purchase round; any other model runs its ``simulate_future``
    (``alive_probability=1``). Returns ``(draw, value, first)``: ``(n_groups,
    n_samples)`` draw indices (int64) and discounted unit-scale spend, each group's
    futures sorted by value (ascending), and per group the number of futures with no
    purchase (``value == 0``, first in the order).
    """
    simulate = model.formula("simulate_future")
    live_state = type(model).formulas.get("live_state")
    (delta,) = discount.values()
    k = next(iter(draws.values())).shape[0]
    n = customers["frequency"].shape[0]
    draw = rng.integers(0, k, size=(n, n_samples))
    value = np.empty((n, n_samples))
    step = max(1, _POOL_NUMBERS // n_samples)
    for start in range(0, n, step):
        sl = slice(start, start + step)
        d = draw[sl]
        cust = {c: customers[c][sl][:, None] for c in ("frequency", "recency", "T")}
        flat = d.ravel()
        x = np.broadcast_to(cust["frequency"], d.shape).ravel()
        groups = np.arange(d.shape[0])[:, None] + start
        params = {name: (v[d] if v.ndim == 1 else v[d, groups if v.shape[1] > 1 else 0])
                  for name, v in draws.items()}
        if live_state is not None:
            rate, last, life = live_state(**params, **cust, rng=rng)
            args = (np.asarray(rate, dtype=np.float64), np.asarray(last, dtype=np.int64),
                    np.minimum(life, float(horizon)), gg["p"][flat],
                    gg["p"][flat] * x + gg["q"][flat])
            out = np.empty(flat.size)
            # a fixed number of parts, each with its own stream (spawned from rng): the
            # result does not depend on how many threads run them
            cuts = np.linspace(0, flat.size, _PARTS + 1).astype(int)
            streams = rng.spawn(_PARTS)
            with ThreadPoolExecutor(max(1, min(_PARTS, threads_for(flat.size)))) as pool:
                list(pool.map(lambda j: live_spend(*(a[cuts[j]:cuts[j + 1]] for a in args),
                                                   float(delta), streams[j],
                                                   out[cuts[j]:cuts[j + 1]]), range(_PARTS)))
            value[sl] = out.reshape(d.shape)
            continue
        # gamma + x m = 1: the unit spend scale (module docstring)
        amounts = gamma_gamma_spend_sampler(gg["p"][flat], gg["q"][flat], np.ones(flat.size),
                                            x, np.zeros(flat.size), rng)
        value[sl] = simulate(**params, **cust, horizon=horizon, **discount, rng=rng,
                             amounts=amounts, alive_probability=1.0)[2]
    order = np.argsort(value, axis=1, kind="stable")
    value = np.take_along_axis(value, order, axis=1)
    draw = np.take_along_axis(draw, order, axis=1).astype(np.int64)
    first = (value <= 0.0).sum(axis=1).astype(np.int64)
    return np.ascontiguousarray(draw), np.ascontiguousarray(value), first
