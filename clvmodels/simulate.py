"""Seeded simulators of the models' generative processes.

They serve parameter-recovery and coverage tests, benchmarks, and the predictive
intervals of :mod:`clvmodels.value.purchase`, which simulate each customer's future with the
same purchase process (:func:`purchase_process`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from .errors import check_parameter

__all__ = ["purchase_process", "simulate_bgnbd", "simulate_spend"]


def per_customer(name: str, owner: str, value, n: int) -> float | np.ndarray:
    """A simulator's parameter: a positive scalar (returned as a float, so a scalar
    simulation draws exactly what it always drew) or one positive value per customer
    (returned as a float array of length ``n``, e.g. a covariate model's row values).

    >>> per_customer("alpha", "simulate_bgnbd", 2, 3)
    2.0
    >>> per_customer("alpha", "simulate_bgnbd", [1.0, 2.0], 3)
    Traceback (most recent call last):
    ...
    ValueError: The 'alpha' parameter of simulate_bgnbd must be a positive float or an array of one positive float per customer (length 3). Got an array of shape (2,) instead.
    """
    if np.ndim(value) == 0:
        ok = (isinstance(value, (int, float, np.integer, np.floating))
              and not isinstance(value, (bool, np.bool_)) and np.isfinite(value) and value > 0)
        check_parameter(name, owner, value, bool(ok), "a positive float")
        return float(value)
    expected = ("a positive float or an array of one positive float per customer "
                f"(length {n})")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"The {name!r} parameter of {owner} must be {expected}. Got a "
                        f"{type(value).__name__} of non-numbers instead.") from None
    if arr.shape != (n,):
        raise ValueError(f"The {name!r} parameter of {owner} must be {expected}. Got an "
                         f"array of shape {arr.shape} instead.")
    bad = np.flatnonzero(~(np.isfinite(arr) & (arr > 0)))
    if bad.size:
        raise ValueError(f"The {name!r} parameter of {owner} must be {expected}. Got an "
                         f"array with {bad.size} non-positive or non-finite value(s), the "
                         f"first at position {bad[0]} ({float(arr[bad[0]])!r}) instead.")
    return arr


def purchase_process(
    rate: np.ndarray, last_purchase: np.ndarray, end: np.ndarray | float, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The BG/NBD purchase process, one purchase round at a time, for many customers.

    Customer ``i`` is alive at time 0 and buys as a Poisson process with rate
    ``rate[i]`` until ``end[i]``; she drops out right after her
    ``last_purchase[i]``-th purchase (``Geometric(p)`` when she drops out with
    probability ``p`` after each purchase). Each round yields ``(idx, times)``: the
    customers making their next purchase and when. Work grows with the number of
    purchases; the loop runs over purchase rounds, never over customers.
    """
    n = rate.shape[0]
    end = np.broadcast_to(np.asarray(end, dtype=np.float64), (n,))
    idx = np.flatnonzero((rate > 0) & (last_purchase > 0))
    tau = np.zeros(idx.size)
    done = 0
    while idx.size:
        tau = tau + rng.standard_exponential(idx.size) / rate[idx]
        within = tau <= end[idx]
        idx, tau = idx[within], tau[within]
        if not idx.size:
            return
        yield idx, tau
        done += 1
        stays = last_purchase[idx] > done
        idx, tau = idx[stays], tau[stays]


def simulate_bgnbd(
    n_customers: int,
    r: float | np.ndarray,
    alpha: float | np.ndarray,
    a: float | np.ndarray,
    b: float | np.ndarray,
    *,
    T: float | np.ndarray,
    holdout: float = 0.0,
    time_unit: str = "week",
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate BG/NBD customers (Fader, Hardie & Lee 2005, section 2).

    Each customer has ``lambda ~ Gamma(r, rate=alpha)`` and ``p ~ Beta(a, b)``, makes
    her first purchase at time 0 and is observed until ``T`` (scalar or one value
    per customer). Each parameter is a scalar or one value per customer (an array of
    length ``n_customers``: e.g. a covariate model's row parameters, ``alpha_i``
    ``= alpha exp(-z_i @ c)``). With ``holdout > 0`` purchases in ``(T, T + holdout]`` are counted
    in ``holdout_frequency``. The true ``lambda``, ``p`` and whether the customer is
    still alive at ``T`` are returned as ``true_*`` columns.

    >>> df = simulate_bgnbd(5, 0.24, 4.41, 0.79, 2.43, T=39.0, random_state=1)
    >>> list(df.columns)[:3], len(df)
    (['frequency', 'recency', 'T'], 5)
    """
    owner = "simulate_bgnbd"
    check_parameter("n_customers", owner, n_customers,
                    isinstance(n_customers, (int, np.integer)) and n_customers > 0, "a positive int")
    r, alpha, a, b = (per_customer(name, owner, v, n_customers)
                      for name, v in (("r", r), ("alpha", alpha), ("a", a), ("b", b)))
    rng = np.random.default_rng(random_state)
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n_customers,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    last = rng.geometric(np.clip(p, 1e-12, 1.0))  # the purchase after which she drops out
    return purchases_to_summary(lam, p, last, T, holdout, time_unit, rng)


def purchases_to_summary(lam, p, last, T, holdout, time_unit, rng) -> pd.DataFrame:
    """The summary (and holdout counts) of customers buying at rates ``lam`` until their
    ``last`` purchase (the drop-out models: :func:`simulate_bgnbd`, and MBG/NBD's
    simulator, where ``last`` may be 0), observed until ``T``; ``p`` is reported as the
    true drop-out probability."""
    n_customers = lam.shape[0]
    freq = np.zeros(n_customers, dtype=np.int64)
    recency = np.zeros(n_customers)
    hold = np.zeros(n_customers, dtype=np.int64)
    for idx, tau in purchase_process(lam, last, T + holdout, rng):
        in_cal = tau <= T[idx]
        ci = idx[in_cal]
        freq[ci] += 1
        recency[ci] = tau[in_cal]
        hold[idx[~in_cal]] += 1
    out = pd.DataFrame({
        "frequency": freq,
        "recency": recency,
        "T": T,
        "true_lambda": lam,
        "true_p": p,
        "true_alive": freq < last,
    })
    if holdout > 0:
        out["holdout_frequency"] = hold
        out["holdout_length"] = float(holdout)
    out.index.name = "customer_id"
    out.attrs["time_unit"] = time_unit
    return out


def simulate_spend(
    frequency: np.ndarray,
    p: float | np.ndarray,
    q: float | np.ndarray,
    gamma: float | np.ndarray,
    *,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Mean spend over ``frequency`` purchases under the Gamma-Gamma model.

    ``nu ~ Gamma(q, rate=gamma)`` per customer; each amount ``~ Gamma(p, rate=nu)``, so
    the mean of ``x`` amounts is ``Gamma(p x, rate=nu x)``. NaN where ``x == 0``.
    Each parameter is a scalar or one value per customer (an array as long as
    ``frequency``: e.g. a covariate model's ``gamma_i = gamma exp(z_i @ c)``).

    >>> m = simulate_spend(np.array([0, 3]), 6.25, 3.74, 15.44, random_state=0)
    >>> bool(np.isnan(m[0])), bool(m[1] > 0)
    (True, True)
    """
    owner = "simulate_spend"
    x = np.asarray(frequency, dtype=np.float64)
    n = x.shape[0]
    p, q, gamma = (per_customer(name, owner, v, n)
                   for name, v in (("p", p), ("q", q), ("gamma", gamma)))
    rng = np.random.default_rng(random_state)
    nu = rng.gamma(q, 1.0 / gamma, n)
    pos = x > 0
    out = np.full(n, np.nan)
    out[pos] = rng.gamma((p if np.ndim(p) == 0 else p[pos]) * x[pos], 1.0 / (nu[pos] * x[pos]))
    return out
