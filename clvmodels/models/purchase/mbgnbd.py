"""MBG/NBD model of repeat purchasing (Batislam, Denizel & Filiztekin 2007, "Empirical
validation and comparison of models for customer base analysis", International
Journal of Research in Marketing 24(3)).

The BG/NBD model (:mod:`clvmodels.models.purchase.bgnbd`) with one more chance to drop out:
while alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r,
alpha)`` (shape ``r``, rate ``alpha``), and she drops out with probability
``p ~ Beta(a, b)`` right after her first purchase (time 0) and again after each
repeat purchase. So a customer without repeat purchases may already be gone, and
P(alive) < 1 for ``x = 0`` too. A customer's data are ``x`` repeat purchases, the
time of the last one ``t_x`` and her age ``T``, all measured from her first purchase.

**Alive means BG/NBD with b + 1.** A customer alive at ``T`` after ``x`` repeat
purchases has survived ``x + 1`` drop-out chances, so her posterior is
``lambda ~ Gamma(r + x, alpha + T)``, ``p ~ Beta(a, b + x + 1)``: exactly the
posterior of a live BG/NBD customer with ``b + 1`` in place of ``b``, and from ``T``
on both processes are the same. The predictions for a live customer therefore call
the BG/NBD formulas with ``b + 1`` (each formula exists once); what is new here is
the likelihood and P(alive).

Every formula here broadcasts: parameters may be scalars or arrays of draws shaped to
broadcast against the customer arrays (e.g. ``(n_draws, 1)`` against ``(n,)``), which
is how one prediction path serves point fits and posterior draws alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from ...errors import check_parameter
from ...priors import LogNormal
from ...simulate import per_customer, purchases_to_summary
from ..backend import NUMPY, pytensor_ops
from ..boundary import beta_spread, gamma_spread
from ..covariates import with_covariates
from ..registry import register_model
from .base import PurchaseModel, broadcast_flat, draw_alive, simulate_live_customers
from .bgnbd import (
    beta_dropout_words,
    bgnbd_discounted_purchases_if_alive,
    bgnbd_expected_cumulative_purchases,
    bgnbd_expected_purchases_new,
    bgnbd_live_future,
    bgnbd_live_state,
    bgnbd_probability_of_purchases,
    gamma_rate_words,
    grouped_weights,
    regrouped_log_likelihood,
    unit_words,
)
from .bgnbd_kernel import repeat_term_data

#: when an MBG/NBD customer may drop out
MBGNBD_DROPOUT = "right after her first purchase and after each repeat purchase"

__all__ = [
    "ModifiedBetaGeoModel",
    "mbgnbd_log_likelihood",
    "mbgnbd_probability_alive",
    "mbgnbd_expected_purchases_new",
    "mbgnbd_conditional_expected_purchases",
    "mbgnbd_probability_of_purchases",
    "mbgnbd_discounted_purchases_if_alive",
    "mbgnbd_expected_cumulative_purchases",
    "mbgnbd_simulate_future",
    "simulate_mbgnbd",
]


def _log_odds(ops, r, a, b, x, log_at, log_atx):
    """log of ``a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)``: the odds of "dropped out right
    after the last purchase" against "alive at T" (finite for every row, x = 0 too)."""
    return ops.log(a) - ops.log(b + x) + (r + x) * (log_at - log_atx)


def mbgnbd_log_likelihood(r, alpha, a, b, frequency, recency, T, *, gradient=False, ops=NUMPY,
                          compiled=True):
    """Per-customer MBG/NBD log-likelihood (Batislam et al. 2007, eq. 5), in log space.

    ``L = B(a, b+x+1)/B(a, b) G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
    + B(a+1, b+x)/B(a, b) G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``: alive at ``T``,
    or dropped out right after the last purchase (at time 0 when ``x = 0``). Since
    ``B(a+1, b+x) / B(a, b+x+1) = a / (b+x)``, ``log L = log B(a, b+x+1) - log B(a, b)
    + log G(r+x) - log G(r) + r log(alpha) - (r+x) log(alpha+T)
    + log(1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))``, the last term as a soft-plus,
    finite for x up to 1e5 and T up to 1e4. This one function is the likelihood of the
    maximum-likelihood fit (numpy) and of the PyMC model (``ops=pytensor_ops()``). With
    the numpy back-end the compiled kernel of
    :mod:`clvmodels.models.purchase.row_kernels` evaluates it (a covariate model's fit
    calls it on every row at every step); the formulas below are its reference
    (``compiled=False``) and build the PyMC graph.

    Parameters
    ----------
    r, alpha, a, b : float, ndarray or PyTensor scalar
        Model parameters (broadcast against the customer arrays).
    frequency, recency, T : ndarray
        Repeat purchases x, time of last purchase t_x, age T (same time unit).
    gradient : bool
        Also return the partial derivatives with respect to ``log r, log alpha,
        log a, log b`` (numpy back-end), as a ``(4, n)`` array.
    ops : namespace
        Array back-end (:mod:`clvmodels.models.backend`).
    compiled : bool
        With the numpy back-end, evaluate by the compiled kernel (default) or, with
        ``False``, by the numpy formulas it is tested against.

    Examples
    --------
    >>> ll = mbgnbd_log_likelihood(0.5248, 6.1831, 0.8914, 1.6140, np.array([0, 2]),
    ...                            np.array([0.0, 30.43]), np.array([38.86, 38.86]))
    >>> np.round(ll, 4)
    array([-0.5396, -9.4859])
    """
    if ops is NUMPY and compiled:
        from .row_kernels import beta_geometric_row_log_likelihood

        return beta_geometric_row_log_likelihood(r, alpha, a, b, frequency, recency, T,
                                                 modified=True, gradient=gradient)
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    k_x = (ops.betaln(a, b + x + 1.0) - ops.betaln(a, b)
           + ops.gammaln(r + x) - ops.gammaln(r) + r * ops.log(alpha))
    log_at = ops.log(alpha + T)
    log_atx = ops.log(alpha + t_x)
    z = _log_odds(ops, r, a, b, x, log_at, log_atx)
    ll = k_x - (r + x) * log_at + ops.logaddexp(0.0, z)
    if not gradient:
        return ll
    if ops is not NUMPY:
        raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
    s = r + x
    pi = special.expit(z)  # posterior probability of "dropped out after the last purchase"
    dg = special.digamma
    g_r = r * (dg(s) - dg(r) + np.log(alpha) - log_at + pi * (log_at - log_atx))
    inv_at, inv_atx = np.exp(-log_at), np.exp(-log_atx)
    g_alpha = alpha * (r / alpha - s * inv_at + pi * s * (inv_at - inv_atx))
    g_a = a * (dg(a + b) - dg(a + b + x + 1.0)) + pi
    g_b = b * (dg(b + x + 1.0) - dg(a + b + x + 1.0) - dg(b) + dg(a + b) - pi / (b + x))
    return ll, np.stack(np.broadcast_arrays(g_r, g_alpha, g_a, g_b))


def mbgnbd_probability_alive(r, alpha, a, b, frequency, recency, T):
    """P(alive at T | x, t_x, T) (Batislam et al. 2007, eq. 8):
    ``1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))``, below 1 for ``x = 0`` too.

    >>> pars = (0.5248, 6.1831, 0.8914, 1.6140)
    >>> np.round(mbgnbd_probability_alive(*pars, np.array([0, 2]), np.array([0.0, 30.43]),
    ...                                   np.array([38.86, 38.86])), 4)
    array([0.3897, 0.7061])
    """
    x = np.asarray(frequency, dtype=np.float64)
    z = _log_odds(NUMPY, r, a, b, x, np.log(alpha + np.asarray(T, dtype=np.float64)),
                  np.log(alpha + np.asarray(recency, dtype=np.float64)))
    return special.expit(-z)


def mbgnbd_expected_purchases_new(r, alpha, a, b, t):
    """E[X(t)] for a customer just acquired (Batislam et al. 2007, eq. 7):
    ``b/(a-1) (1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t)))``.

    She is still alive after her first purchase with probability ``E[1-p] = b/(a+b)``,
    and then ``p ~ Beta(a, b+1)``: the BG/NBD expectation with ``b + 1``, times
    ``b/(a+b)``.

    >>> float(np.round(mbgnbd_expected_purchases_new(0.5248, 6.1831, 0.8914, 1.6140, 39.0), 4))
    1.1822
    """
    return b / (a + b) * bgnbd_expected_purchases_new(r, alpha, a, b + 1.0, t)


def mbgnbd_conditional_expected_purchases(r, alpha, a, b, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T] (Batislam et al. 2007, eq. 9):
    P(alive at T) times the expected purchases of a live customer, which are the
    BG/NBD ones with ``b + 1`` (see the module docstring).

    >>> float(np.round(mbgnbd_conditional_expected_purchases(
    ...     0.5248, 6.1831, 0.8914, 1.6140, 2, 30.43, 38.86, 39), 4))
    1.2626
    """
    if_alive = bgnbd_discounted_purchases_if_alive(r, alpha, a, b + 1.0, frequency, T, t, 0.0)
    return if_alive * mbgnbd_probability_alive(r, alpha, a, b, frequency, recency, T)


def mbgnbd_probability_of_purchases(r, alpha, a, b, k, t):
    """P(X(t) = k) for a customer just acquired.

    With probability ``a/(a+b)`` she drops out right after her first purchase and
    makes none; otherwise (``p ~ Beta(a, b+1)``) her count is BG/NBD's with ``b + 1``.
    ``k`` is an array of non-negative integers, broadcast against ``t`` and the
    parameters.

    >>> p = mbgnbd_probability_of_purchases(0.5248, 6.1831, 0.8914, 1.6140, np.arange(300), 52.0)
    >>> float(np.round(p.sum(), 6))
    1.0
    """
    k = np.asarray(k, dtype=np.float64)
    stay = b / (a + b)
    return (np.where(k == 0, 1.0 - stay, 0.0)
            + stay * bgnbd_probability_of_purchases(r, alpha, a, b + 1.0, k, t))


def mbgnbd_discounted_purchases_if_alive(r, alpha, a, b, frequency, T, horizon, delta):
    """Expected discounted purchases in (T, T+horizon] for a customer alive at T.

    Continuous discounting, a purchase ``u`` time units after ``T`` counting
    ``exp(-delta u)``. A live MBG/NBD customer is a live BG/NBD customer with
    ``b + 1``, so this is :func:`~clvmodels.models.purchase.bgnbd.bgnbd_discounted_purchases_if_alive`
    at ``b + 1`` (closed form at ``delta = 0``, quadrature otherwise). Multiply by
    :func:`mbgnbd_probability_alive` for the unconditional value.

    >>> pars = (0.5248, 6.1831, 0.8914, 1.6140)
    >>> e0 = mbgnbd_discounted_purchases_if_alive(*pars, 2, 38.86, 39.0, 0.0)
    >>> e1 = mbgnbd_discounted_purchases_if_alive(*pars, 2, 38.86, 39.0, 1e-12)
    >>> bool(np.isclose(e0, e1, rtol=1e-9))
    True
    """
    return bgnbd_discounted_purchases_if_alive(r, alpha, a, b + 1.0, frequency, T, horizon, delta)


def mbgnbd_simulate_future(r, alpha, a, b, frequency, recency, T, horizon, delta, rng,
                           amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history.

    Alive at ``T`` with :func:`mbgnbd_probability_alive` (below 1 for ``x = 0`` too);
    if alive she has survived ``x + 1`` drop-out chances, so ``lambda ~ Gamma(r+x,
    alpha+T)`` and ``p ~ Beta(a, b+x+1)``, and from ``T`` on she is a live BG/NBD
    customer with ``b + 1`` (module docstring):
    :func:`~clvmodels.models.purchase.bgnbd.bgnbd_live_state` at ``b + 1``. Shapes and outputs
    as :func:`~clvmodels.models.purchase.bgnbd.bgnbd_simulate_future`.

    >>> rng = np.random.default_rng(0)
    >>> n, d = mbgnbd_simulate_future(*(np.full((1, 100_000), v) for v in
    ...     (0.5248, 6.1831, 0.8914, 1.6140)), 2, 30.43, 38.86, 39.0, 0.0, rng)
    >>> round(float(n.mean()), 1)  # E = 1.2626
    1.3
    """
    shape, (r, alpha, a, b, x, t_x, T) = broadcast_flat(r, alpha, a, b, frequency, recency, T)
    alive = draw_alive(rng, shape, alive_probability,
                       lambda: mbgnbd_probability_alive(r, alpha, a, b, x, t_x, T))
    live, lam, last = bgnbd_live_state(r, alpha, a, b + 1.0, x, T, alive, rng)
    return simulate_live_customers(shape, live, lam, last, float(horizon), delta, rng, amounts)


def mbgnbd_live_future(r, alpha, a, b, frequency, recency, T, rng):
    """The latent state of customers known to be alive at ``T`` (flattened broadcast
    shape): a live BG/NBD customer with ``b + 1`` (:func:`mbgnbd_simulate_future`, the
    reference), as :func:`~clvmodels.models.purchase.bgnbd.bgnbd_live_future` returns it."""
    return bgnbd_live_future(r, alpha, a, b + 1.0, frequency, recency, T, rng)


def mbgnbd_expected_cumulative_purchases(r, alpha, a, b, first_purchase_times, t):
    """Expected cumulative repeat purchases of a cohort by each time in ``t``: the sum of
    :func:`mbgnbd_expected_purchases_new` over the customers acquired before ``t``
    (``first_purchase_times`` on the same clock as ``t``).

    >>> mbgnbd_expected_cumulative_purchases(0.5248, 6.1831, 0.8914, 1.6140, [0.0, 0.0],
    ...                                      [39.0]).round(3)
    array([2.364])
    """
    return b / (a + b) * bgnbd_expected_cumulative_purchases(r, alpha, a, b + 1.0,
                                                             first_purchase_times, t)


def mbgnbd_statistics(frequency, recency, T, weights) -> dict:
    """What :func:`mbgnbd_total_log_likelihood` needs, computed once per fit: weights per
    distinct ``x`` and per distinct ``T`` and the compiled soft-plus kernel's data for
    every row (BG/NBD's kernel, :mod:`clvmodels.models.purchase.bgnbd_kernel`, read with
    ``x + 1`` purchases: see :func:`mbgnbd_total_log_likelihood`)."""
    x = np.asarray(frequency, dtype=np.float64)
    return {**grouped_weights(x, T, weights),
            "repeat": repeat_term_data(x + 1.0, np.asarray(recency, dtype=np.float64),
                                       np.asarray(T, dtype=np.float64),
                                       np.asarray(weights, dtype=np.float64))}


def mbgnbd_total_log_likelihood(r, alpha, a, b, stats, *, gradient=False, ops=NUMPY):
    """Weighted sum of :func:`mbgnbd_log_likelihood` over customers, regrouped as
    BG/NBD's (:func:`~clvmodels.models.purchase.bgnbd.bgnbd_total_log_likelihood`): the
    terms in ``x`` alone per distinct ``x``, ``(r+x) log(alpha+T)`` per distinct ``T``,
    and the soft-plus ``log(1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))`` per row by the
    compiled BG/NBD kernel, which computes ``log(1 + a/(b+x'-1) ((alpha+T)/(alpha+t_x))^(r'+x'))``:
    with ``x' = x + 1`` and ``r' = r - 1`` it is exactly this term, for every row (the
    MBG/NBD's customers may leave at time 0, so rows without repeat purchases have it
    too). MLE (``gradient=True``: w.r.t. the log parameters) and PyMC share it.

    >>> st = mbgnbd_statistics(np.array([0, 2]), np.array([0.0, 30.43]),
    ...                        np.array([38.86, 38.86]), np.array([1.0, 1.0]))
    >>> ll = mbgnbd_log_likelihood(0.5248, 6.1831, 0.8914, 1.614, np.array([0, 2]),
    ...                            np.array([0.0, 30.43]), np.array([38.86, 38.86]))
    >>> bool(np.isclose(mbgnbd_total_log_likelihood(0.5248, 6.1831, 0.8914, 1.614, st),
    ...                 ll.sum(), rtol=1e-12))
    True
    """
    return regrouped_log_likelihood(r, alpha, a, b, stats, b_shift=1.0, r_shift=-1.0,
                                    gradient=gradient, ops=ops)


@register_model
class ModifiedBetaGeoModel(PurchaseModel):
    """MBG/NBD model of repeat purchases, fitted by ``fit(summary, method=...)`` with
    ``"mle"`` (default), ``"map"``, ``"mcmc"`` or ``"advi"``.

    ``summary`` needs ``frequency``, ``recency`` and ``T`` (see
    :func:`clvmodels.rfm_summary`). Settings are those of
    :class:`~clvmodels.models.base.BaseModel`; the default priors are BG/NBD's.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = ModifiedBetaGeoModel(random_state=1).fit(load_cdnow_summary())
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 2)
    ([0.525, 6.183, 0.891, 1.614], -9582.14)
    """

    param_names = ("r", "alpha", "a", "b")
    default_priors = {"r": LogNormal(0.0, 2.0), "alpha": LogNormal(0.0, 3.0),
                      "a": LogNormal(0.0, 2.0), "b": LogNormal(0.0, 2.0)}
    reference = "Batislam, Denizel & Filiztekin (2007), IJRM 24(3)"
    row_likelihood = staticmethod(mbgnbd_log_likelihood)
    covariate_links = {"purchase": (("alpha", -1),), "dropout": (("a", 1), ("b", 1))}
    formulas = {
        "probability_alive": mbgnbd_probability_alive,
        "conditional_expected_purchases": mbgnbd_conditional_expected_purchases,
        "expected_purchases_new": mbgnbd_expected_purchases_new,
        "probability_of_purchases": mbgnbd_probability_of_purchases,
        "discounted_purchases_if_alive": mbgnbd_discounted_purchases_if_alive,
        "simulate_future": mbgnbd_simulate_future,
        "live_state": mbgnbd_live_future,
    }

    def describe_parameters(self) -> dict:
        """The four parameters in words, with the fitted values."""
        self._require_fitted()
        v = self.point_params()
        unit, per_year = unit_words(self)
        r, alpha = gamma_rate_words(v["r"], v["alpha"], unit, per_year)
        a, b = beta_dropout_words(v["a"], v["b"], MBGNBD_DROPOUT)
        return {"r": r, "alpha": alpha, "a": a, "b": b}

    def mixing_spread(self, params):
        """How far the drop-out beta and the purchase-rate gamma are from a point
        (:mod:`clvmodels.models.boundary`; the limits are in
        :mod:`clvmodels.models.purchase.mbgnbd_limits`)."""
        return {"dropout": beta_spread(params["a"], params["b"]),
                "purchase": gamma_spread(params["r"])}

    def _start(self, arrays, weights):
        alpha0 = self._start_alpha(arrays, weights)
        return np.log([1.0, alpha0, 1.0, 1.0])

    def _prepare(self, data):
        arrays, weights = super()._prepare(data)
        arrays["stats"] = mbgnbd_statistics(arrays["x"], arrays["t_x"], arrays["T"], weights)
        return arrays, weights

    def _loglik_and_grad(self, log_params, arrays, weights):
        return mbgnbd_total_log_likelihood(*np.exp(log_params), arrays["stats"], gradient=True)

    def _pymc_log_likelihood(self, params, arrays, weights):
        return mbgnbd_total_log_likelihood(params["r"], params["alpha"], params["a"],
                                           params["b"], arrays["stats"], ops=pytensor_ops())


def simulate_mbgnbd(
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
    """Simulate MBG/NBD customers (Batislam et al. 2007, section 2.2).

    Each customer has ``lambda ~ Gamma(r, rate=alpha)`` and ``p ~ Beta(a, b)``, makes
    her first purchase at time 0 and is observed until ``T`` (scalar or one value per
    customer); she drops out with probability ``p`` right after the first purchase and
    after each repeat purchase. Each parameter is a scalar or one value per customer
    (an array of length ``n_customers``, e.g. a covariate model's row parameters).
    With ``holdout > 0`` purchases in ``(T, T + holdout]`` are counted in
    ``holdout_frequency``. The true ``lambda``, ``p`` and whether the customer is
    still alive at ``T`` are returned as ``true_*`` columns; the output has the
    columns of :func:`clvmodels.simulate_bgnbd`.

    >>> df = simulate_mbgnbd(5, 0.52, 6.18, 0.89, 1.61, T=39.0, random_state=1)
    >>> list(df.columns)[:3], len(df)
    (['frequency', 'recency', 'T'], 5)
    """
    owner = "simulate_mbgnbd"
    check_parameter("n_customers", owner, n_customers,
                    isinstance(n_customers, (int, np.integer)) and n_customers > 0, "a positive int")
    r, alpha, a, b = (per_customer(name, owner, v, n_customers)
                      for name, v in (("r", r), ("alpha", alpha), ("a", a), ("b", b)))
    rng = np.random.default_rng(random_state)
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n_customers,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    # the repeat purchase after which she drops out; 0: right after the first purchase
    last = rng.geometric(np.clip(p, 1e-12, 1.0)) - 1
    return purchases_to_summary(lam, p, last, T, holdout, time_unit, rng)


#: ModifiedBetaGeoModel with customer covariates (:mod:`clvmodels.models.covariates`)
ModifiedBetaGeoCovariateModel = with_covariates(ModifiedBetaGeoModel, "ModifiedBetaGeoCovariateModel")
