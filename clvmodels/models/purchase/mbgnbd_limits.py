"""The nested limits of the MBG/NBD model (:mod:`clvmodels.models.purchase.mbgnbd`): what
a fit becomes when a mixing distribution collapses to a point (every customer the same;
DESIGN.md principle 8, :mod:`clvmodels.models.boundary`).

* :class:`ModifiedBetaGeoHomogeneousDropoutModel` ``(r, alpha, p)``: every customer
  drops out with the same probability ``p`` (``a, b -> inf`` with ``a / (a + b) = p``);
  purchase rates ``lambda ~ Gamma(r, alpha)``.
* :class:`ModifiedBetaGeoHomogeneousRateModel` ``(lam, a, b)``: every customer buys at
  the same rate ``lam`` while alive (``r, alpha -> inf`` with ``r / alpha = lam``);
  ``p ~ Beta(a, b)``.
* :class:`ModifiedBetaGeoHomogeneousModel` ``(lam, p)``: both.

Each formula is the MBG/NBD one with the collapsed mixing replaced by its point, in
closed form where the limit has one (the limits of ``B(a, b + n) / B(a, b) -> (1 -
p)^n`` and ``Gamma(r + x) alpha^r / (Gamma(r) (alpha + t)^(r + x)) -> lam^x
exp(-lam t)``). As in the MBG/NBD, a customer alive at ``T`` after ``x`` repeat
purchases has survived ``x + 1`` drop-out chances, so her posterior is ``lambda ~
Gamma(r + x, alpha + T)`` (or ``lam``) and ``p ~ Beta(a, b + x + 1)`` (or ``p``), and
from ``T`` on she buys at rate ``lambda`` and drops out after each purchase with
probability ``p``: until drop-out, which comes at rate ``p lambda``, so her expected
purchases in ``(T, T + t]`` are ``E[(1 - exp(-p lambda t)) / p]``, and her discounted
ones ``int_0^t exp(-delta u) E[lambda exp(-p lambda u)] du``. Where that expectation
has no closed form it is integrated by :func:`dyadic_integral`; the beta mixing's
``E[exp(-p v)]`` is Kummer's function ``1F1(a; a + B; -v)``.

Every formula broadcasts: parameters may be scalars or arrays of draws shaped to
broadcast against the customer arrays (e.g. ``(n_draws, 1)`` against ``(n,)``).
Prediction formulas read a drop-out probability above 1 (a draw of the log-normal
approximation beyond the parameter space) as 1: everyone drops out right after a
purchase.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ...priors import LogNormal
from ..backend import NUMPY, pytensor_ops
from ..boundary import beta_spread, boundary_statement, estimate_text, gamma_spread
from ..registry import register_model
from .base import PurchaseModel, broadcast_flat, draw_alive, simulate_live_customers
from .bgnbd import beta_dropout_words, limit_parameter_words, point_dropout_words
from .mbgnbd import MBGNBD_DROPOUT, ModifiedBetaGeoModel

__all__ = [
    "ModifiedBetaGeoHomogeneousDropoutModel",
    "ModifiedBetaGeoHomogeneousRateModel",
    "ModifiedBetaGeoHomogeneousModel",
    "dyadic_integral",
    "mbgnbd_hdropout_log_likelihood",
    "mbgnbd_hdropout_probability_alive",
    "mbgnbd_hdropout_conditional_expected_purchases",
    "mbgnbd_hdropout_expected_purchases_new",
    "mbgnbd_hdropout_probability_of_purchases",
    "mbgnbd_hdropout_discounted_purchases_if_alive",
    "mbgnbd_hdropout_simulate_future",
    "mbgnbd_hrate_log_likelihood",
    "mbgnbd_hrate_probability_alive",
    "mbgnbd_hrate_conditional_expected_purchases",
    "mbgnbd_hrate_expected_purchases_new",
    "mbgnbd_hrate_probability_of_purchases",
    "mbgnbd_hrate_discounted_purchases_if_alive",
    "mbgnbd_hrate_simulate_future",
    "mbgnbd_homogeneous_log_likelihood",
    "mbgnbd_homogeneous_probability_alive",
    "mbgnbd_homogeneous_conditional_expected_purchases",
    "mbgnbd_homogeneous_expected_purchases_new",
    "mbgnbd_homogeneous_probability_of_purchases",
    "mbgnbd_homogeneous_discounted_purchases_if_alive",
    "mbgnbd_homogeneous_simulate_future",
]

# ------------------------------------------------------------------ shared numerics
_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)
_GL_X = (_GL_X + 1.0) / 2.0
_GL_W = _GL_W / 2.0


def dyadic_integral(integrand, end, scale):
    """``int_0^end integrand(u, idx) du`` for flat arrays ``end`` and ``scale``, by
    12-point Gauss-Legendre on the panels ``[0, h]``, ``[h, 2h]``, ``[2h, 4h]``, ...
    up to ``end``, ``h = min(end, scale)``.

    Made for mixtures of decaying exponentials ``E[c exp(-c u)]`` (the purchase rates
    here, times the discount ``exp(-delta u)``) with ``scale`` one over the fastest
    decay of the start: each component is smooth on the first panel, and on a later
    one ``[u0, 2 u0]`` it varies by ``exp(-c u0)`` while weighing ``exp(-c u0)``, so
    the rule stays accurate whatever the decay rates and the horizon, with about
    ``log2(end / scale)`` panels (the tests hold it to 1e-9 against adaptive quadrature
    over many orders of magnitude of both). ``integrand(u, idx)`` gets the times ``u``
    for the elements ``idx`` (only those whose horizon the panel reaches); NaN where
    ``end`` or ``scale`` is NaN.

    >>> u_end, c = np.array([10.0, 1e4]), np.array([3.0, 0.01])
    >>> got = dyadic_integral(lambda u, i: c[i] * np.exp(-c[i] * u), u_end, 1 / c)
    >>> np.allclose(got, -np.expm1(-c * u_end), rtol=1e-12)
    True
    """
    end = np.asarray(end, dtype=np.float64)
    h = np.minimum(np.asarray(scale, dtype=np.float64), end)
    total = np.where(np.isnan(h), np.nan, 0.0)
    lo = np.zeros(end.shape)
    hi = h
    while True:
        idx = np.flatnonzero(hi > lo)
        if not idx.size:
            return total
        width = hi[idx] - lo[idx]
        for node, weight in zip(_GL_X, _GL_W):
            total[idx] += weight * width * integrand(lo[idx] + node * width, idx)
        lo = hi
        hi = np.minimum(2.0 * hi, end)


def _unique_rows(fn, *arrays):
    """``fn(*arrays)`` evaluated once per distinct combination of the broadcast
    ``arrays`` (flat) and spread back to their broadcast shape."""
    shape, flat = broadcast_flat(*arrays)
    if not flat[0].size:
        return np.zeros(shape)
    uniq, inverse = np.unique(np.column_stack(flat), axis=0, return_inverse=True)
    return fn(*uniq.T)[inverse.reshape(-1)].reshape(shape)


def _as_probability(p):
    """A drop-out probability for the prediction formulas: at most 1 (module docstring)."""
    return np.minimum(np.asarray(p, dtype=np.float64), 1.0)


def _one_minus_exp_over(z):
    """``(1 - exp(-z)) / z``, 1 at ``z = 0``."""
    z = np.asarray(z, dtype=np.float64)
    safe = np.where(z == 0.0, 1.0, z)
    return np.where(z == 0.0, 1.0, -np.expm1(-safe) / safe)


def _counts(k):
    """``k`` as floats and where it is positive (the tail terms of P(X = k))."""
    k = np.asarray(k, dtype=np.float64)
    return k, k > 0, np.maximum(k, 1.0)


def _fixed_p_count_probability(p, k, log_pmf, tail):
    """P(X(t) = k) for a new customer dropping out with probability ``p`` right after
    her first purchase and after each repeat purchase, given the pmf and the tail
    ``P(N >= k)`` of her purchases ``N`` in ``(0, t]`` were she never to drop out:
    ``p [k = 0] + (1 - p)^(k+1) P(N = k) + [k > 0] p (1 - p)^k P(N >= k)`` (alive at
    ``t`` after ``k`` purchases; or dropped out right after the ``k``-th, made by
    ``t``)."""
    k, pos, _ = _counts(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.log1p(-p)
        alive = np.exp((k + 1.0) * log_q + log_pmf)
        gone = np.where(pos, p * np.exp(k * log_q) * tail, 0.0)
    return np.where(k == 0, p, 0.0) + np.where(np.isnan(alive), 0.0, alive) + np.where(
        np.isnan(gone), 0.0, gone)


# --------------------------------------------- homogeneous drop-out (r, alpha, p)
def mbgnbd_hdropout_log_likelihood(r, alpha, p, frequency, recency, T, *, gradient=False,
                                   ops=NUMPY):
    """Per-customer log-likelihood of the homogeneous-drop-out MBG/NBD.

    The MBG/NBD's (:func:`~clvmodels.models.purchase.mbgnbd.mbgnbd_log_likelihood`)
    with ``B(a, b+x+1)/B(a, b) -> (1-p)^(x+1)`` and ``a/(b+x) -> p/(1-p)``:
    ``log L = (x+1) log(1-p) + log G(r+x) - log G(r) + r log(alpha) - (r+x)
    log(alpha+T) + log(1 + p/(1-p) ((alpha+T)/(alpha+t_x))^(r+x))``, the last term a
    soft-plus. ``-inf`` for ``p >= 1`` (numpy). ``gradient=True`` (numpy, scalar
    parameters) also returns the ``(3, n)`` derivatives with respect to ``log r,
    log alpha, log p``.

    >>> np.round(mbgnbd_hdropout_log_likelihood(0.5, 6.0, 0.3, np.array([0, 2]),
    ...                                         np.array([0.0, 30.0]), np.array([39.0, 39.0])), 4)
    array([-0.5877, -9.4196])
    """
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.log1p(-p) if ops is NUMPY else ops.log(1.0 - p)
        log_at = ops.log(alpha + T)
        log_atx = ops.log(alpha + t_x)
        z = ops.log(p) - log_q + (r + x) * (log_at - log_atx)
        ll = ((x + 1.0) * log_q + ops.gammaln(r + x) - ops.gammaln(r) + r * ops.log(alpha)
              - (r + x) * log_at + ops.logaddexp(0.0, z))
    if ops is not NUMPY:
        if gradient:
            raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates "
                             "itself")
        return ll
    ll = np.where(np.asarray(p) < 1.0, ll, -np.inf)
    if not gradient:
        return ll
    s = r + x
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = special.expit(z)  # posterior probability of "dropped out after the last purchase"
        g_r = r * (special.digamma(s) - special.digamma(r) + np.log(alpha) - log_at
                   + pi * (log_at - log_atx))
        inv_at, inv_atx = np.exp(-log_at), np.exp(-log_atx)
        g_alpha = alpha * (r / alpha - s * inv_at + pi * s * (inv_at - inv_atx))
        g_p = (pi - (x + 1.0) * p) / (1.0 - p)
    return ll, np.stack(np.broadcast_arrays(g_r, g_alpha, g_p))


def _hdropout_log_odds(r, alpha, p, frequency, recency, T):
    """log of ``p/(1-p) ((alpha+T)/(alpha+t_x))^(r+x)``: "dropped out right after the
    last purchase" against "alive at T"."""
    x = np.asarray(frequency, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return (np.log(p) - np.log1p(-p) + (r + x) * (
            np.log(alpha + np.asarray(T, dtype=np.float64))
            - np.log(alpha + np.asarray(recency, dtype=np.float64))))


def mbgnbd_hdropout_probability_alive(r, alpha, p, frequency, recency, T):
    """P(alive at T | x, t_x, T): ``1 / (1 + p/(1-p) ((alpha+T)/(alpha+t_x))^(r+x))``;
    ``1 - p`` for a customer seen only at her first purchase (``x = 0``, ``T = 0``).

    >>> float(np.round(mbgnbd_hdropout_probability_alive(0.5, 6.0, 0.3, 0, 0.0, 0.0), 12))
    0.7
    """
    return special.expit(-_hdropout_log_odds(r, alpha, _as_probability(p), frequency,
                                             recency, T))


def _hdropout_if_alive(r, alpha, p, frequency, T, t):
    """Expected purchases in ``(T, T+t]`` of a live customer: ``(1 - ((alpha+T)/(alpha+T
    +p t))^(r+x)) / p``, the mean over ``lambda ~ Gamma(r+x, alpha+T)`` of ``(1 -
    exp(-p lambda t)) / p``."""
    s = r + np.asarray(frequency, dtype=np.float64)
    beta = alpha + np.asarray(T, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    # (1 - (beta/(beta+p t))^s)/p with p -> 0 handled: log1p(p t/beta)/p -> t/beta
    y = s * np.log1p(p * t / beta)
    return np.where(p > 0, -np.expm1(-y) / np.where(p > 0, p, 1.0), s * t / beta)


def mbgnbd_hdropout_conditional_expected_purchases(r, alpha, p, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T]: P(alive) times ``(1 - ((alpha+T)/(alpha
    +T+p t))^(r+x)) / p``, the mean over ``lambda ~ Gamma(r+x, alpha+T)`` of a live
    customer's ``(1 - exp(-p lambda t)) / p`` (she drops out at rate ``p lambda``).

    >>> float(np.round(mbgnbd_hdropout_conditional_expected_purchases(
    ...     0.5, 6.0, 0.3, 2, 30.0, 39.0, 39.0), 4))
    0.8365
    """
    p = _as_probability(p)
    return (_hdropout_if_alive(r, alpha, p, frequency, T, t)
            * mbgnbd_hdropout_probability_alive(r, alpha, p, frequency, recency, T))


def mbgnbd_hdropout_expected_purchases_new(r, alpha, p, t):
    """E[X(t)] for a customer just acquired: ``(1-p)/p (1 - (alpha/(alpha+p t))^r)``
    (she survives the drop-out right after her first purchase with probability
    ``1 - p``, then buys as a live customer with ``x = 0``, ``T = 0``).

    >>> float(np.round(mbgnbd_hdropout_expected_purchases_new(0.5, 6.0, 0.3, 39.0), 4))
    0.9748
    """
    p = _as_probability(p)
    return (1.0 - p) * _hdropout_if_alive(r, alpha, p, 0.0, 0.0, t)


def mbgnbd_hdropout_probability_of_purchases(r, alpha, p, k, t):
    """P(X(t) = k) for a customer just acquired: ``p [k = 0] + (1-p)^(k+1) NB(k) +
    [k > 0] p (1-p)^k P(NB >= k)``, ``NB`` the negative binomial count of purchases
    of a customer who never drops out (``r``, ``alpha/(alpha+t)``), its tail
    ``P(NB >= k) = I_{t/(alpha+t)}(k, r)`` (regularized incomplete beta).

    >>> pmf = mbgnbd_hdropout_probability_of_purchases(0.5, 6.0, 0.3, np.arange(400), 52.0)
    >>> float(np.round(pmf.sum(), 10))
    1.0
    """
    p = _as_probability(p)
    k, pos, k1 = _counts(k)
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = (special.gammaln(r + k) - special.gammaln(r) - special.gammaln(k + 1.0)
                   + r * np.log(alpha / (alpha + t)) + special.xlogy(k, t / (alpha + t)))
    tail = np.where(pos, special.betainc(k1, r, t / (alpha + t)), 0.0)
    return _fixed_p_count_probability(p, k, log_pmf, tail)


def mbgnbd_hdropout_discounted_purchases_if_alive(r, alpha, p, frequency, T, horizon, delta):
    """Expected discounted purchases in ``(T, T+horizon]`` for a customer alive at T.

    Her purchase rate ``u`` after ``T`` is ``E[lambda exp(-p lambda u)] = (r+x)/(alpha
    +T) (1 + p u/(alpha+T))^(-(r+x+1))`` over ``lambda ~ Gamma(r+x, alpha+T)``; a
    purchase counts ``exp(-delta u)``. Closed form at ``delta = 0`` (the conditional
    expectation over P(alive)), else :func:`dyadic_integral` of the discounted rate.

    >>> e0 = mbgnbd_hdropout_discounted_purchases_if_alive(0.5, 6.0, 0.3, 2, 39.0, 39.0, 0.0)
    >>> e1 = mbgnbd_hdropout_discounted_purchases_if_alive(0.5, 6.0, 0.3, 2, 39.0, 39.0, 1e-12)
    >>> bool(np.isclose(e0, e1, rtol=1e-10))
    True
    """
    p = _as_probability(p)
    if float(delta) == 0.0:
        return _hdropout_if_alive(r, alpha, p, frequency, T, horizon)
    delta = float(delta)
    shape, (r, alpha, p, x, T, H) = broadcast_flat(r, alpha, p, frequency, T, horizon)
    s, beta = r + x, alpha + T

    def rate(u, i):
        return s[i] / beta[i] * np.exp(-delta * u - (s[i] + 1.0) * np.log1p(p[i] * u / beta[i]))

    return dyadic_integral(rate, H, 1.0 / ((s + 1.0) * p / beta + delta)).reshape(shape)


def mbgnbd_hdropout_simulate_future(r, alpha, p, frequency, recency, T, horizon, delta, rng,
                                    amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history:
    alive at ``T`` with :func:`mbgnbd_hdropout_probability_alive`; if alive, ``lambda
    ~ Gamma(r+x, alpha+T)`` and she drops out after each purchase with probability
    ``p``. Shapes and outputs as the other models' ``simulate_future``
    (:mod:`clvmodels.models.purchase.base`).

    >>> n, d = mbgnbd_hdropout_simulate_future(*(np.full((1, 100_000), v) for v in
    ...     (0.5, 6.0, 0.3)), 2, 30.0, 39.0, 39.0, 0.0, np.random.default_rng(0))
    >>> round(float(n.mean()), 2)  # E = 0.8365
    0.84
    """
    shape, (r, alpha, p, x, t_x, T) = broadcast_flat(r, alpha, _as_probability(p), frequency,
                                                     recency, T)
    alive = draw_alive(rng, shape, alive_probability,
                       lambda: mbgnbd_hdropout_probability_alive(r, alpha, p, x, t_x, T))
    live = np.flatnonzero(alive)
    lam = rng.standard_gamma(r[live] + x[live]) / (alpha[live] + T[live])
    last = rng.geometric(np.clip(p[live], 1e-12, 1.0))
    return simulate_live_customers(shape, live, lam, last, float(horizon), delta, rng, amounts)


# ------------------------------------------------ homogeneous purchase rate (lam, a, b)
def mbgnbd_hrate_log_likelihood(lam, a, b, frequency, recency, T, *, gradient=False,
                                ops=NUMPY):
    """Per-customer log-likelihood of the homogeneous-rate MBG/NBD.

    The MBG/NBD's with ``G(r+x) alpha^r / (G(r) (alpha+t)^(r+x)) -> lam^x exp(-lam t)``:
    ``log L = log B(a, b+x+1) - log B(a, b) + x log(lam) - lam T + log(1 + a/(b+x)
    exp(lam (T - t_x)))``, the last term a soft-plus. ``gradient=True`` (numpy,
    scalar parameters) also returns the ``(3, n)`` derivatives with respect to
    ``log lam, log a, log b``.

    >>> np.round(mbgnbd_hrate_log_likelihood(0.1, 0.9, 1.6, np.array([0, 2]),
    ...                                      np.array([0.0, 30.0]), np.array([39.0, 39.0])), 4)
    array([-0.9863, -8.9926])
    """
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    z = ops.log(a) - ops.log(b + x) + lam * (T - t_x)
    ll = (ops.betaln(a, b + x + 1.0) - ops.betaln(a, b) + x * ops.log(lam) - lam * T
          + ops.logaddexp(0.0, z))
    if not gradient:
        return ll
    if ops is not NUMPY:
        raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
    pi = special.expit(z)
    dg = special.digamma
    g_lam = x - lam * T + pi * lam * (T - t_x)
    g_a = a * (dg(a + b) - dg(a + b + x + 1.0)) + pi
    g_b = b * (dg(b + x + 1.0) - dg(a + b + x + 1.0) - dg(b) + dg(a + b) - pi / (b + x))
    return ll, np.stack(np.broadcast_arrays(g_lam, g_a, g_b))


def mbgnbd_hrate_probability_alive(lam, a, b, frequency, recency, T):
    """P(alive at T | x, t_x, T): ``1 / (1 + a/(b+x) exp(lam (T - t_x)))``.

    >>> float(np.round(mbgnbd_hrate_probability_alive(0.1, 0.9, 1.6, 0, 0.0, 0.0), 4))
    0.64
    """
    x = np.asarray(frequency, dtype=np.float64)
    z = (np.log(a) - np.log(b + x)
         + lam * (np.asarray(T, dtype=np.float64) - np.asarray(recency, dtype=np.float64)))
    return special.expit(-z)


def _hrate_discounted(lam, a, b_post, horizon, delta):
    """``int_0^horizon exp(-delta u) lam 1F1(a; a+b_post; -lam u) du``: the expected
    discounted purchases of a live customer buying at rate ``lam`` whose drop-out
    probability is ``Beta(a, b_post)`` (its Laplace transform at ``lam u`` is the
    ``1F1``), once per distinct combination, by :func:`dyadic_integral` (every
    component ``exp(-(delta + p lam) u)`` decays at most at ``delta + lam``)."""
    def one(lam, a, bp, H, delta):
        def rate(u, i):
            return lam[i] * np.exp(-delta[i] * u) * special.hyp1f1(a[i], a[i] + bp[i],
                                                                    -lam[i] * u)

        return dyadic_integral(rate, H, 1.0 / (lam + delta))

    return _unique_rows(one, lam, a, b_post, horizon, delta)


def mbgnbd_hrate_conditional_expected_purchases(lam, a, b, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T]: P(alive) times a live customer's
    ``E[(1 - exp(-p lam t)) / p]`` over ``p ~ Beta(a, b+x+1)``, which is
    ``int_0^t lam 1F1(a; a+b+x+1; -lam u) du`` (the closed form ``(a+b+x)/(a-1) (1 -
    1F1(a-1; a+b+x; -lam t))`` cancels badly near ``a = 1``, so it is integrated).

    >>> float(np.round(mbgnbd_hrate_conditional_expected_purchases(
    ...     0.1, 0.9, 1.6, 2, 30.0, 39.0, 39.0), 4))
    1.8563
    """
    x = np.asarray(frequency, dtype=np.float64)
    return (_hrate_discounted(lam, a, b + x + 1.0, t, 0.0)
            * mbgnbd_hrate_probability_alive(lam, a, b, x, recency, T))


def mbgnbd_hrate_expected_purchases_new(lam, a, b, t):
    """E[X(t)] for a customer just acquired: ``b/(a+b)`` (she survives the drop-out
    right after her first purchase) times ``E[(1 - exp(-p lam t)) / p]`` over ``p ~
    Beta(a, b+1)``; the confluent limit of the MBG/NBD's ``b/(a-1) (1 - 1F1(a-1; a+b;
    -lam t))``.

    >>> float(np.round(mbgnbd_hrate_expected_purchases_new(0.1, 0.9, 1.6, 39.0), 4))
    1.6933
    """
    return b / (a + b) * _hrate_discounted(lam, a, b + 1.0, t, 0.0)


def mbgnbd_hrate_probability_of_purchases(lam, a, b, k, t):
    """P(X(t) = k) for a customer just acquired: ``a/(a+b) [k = 0] + B(a, b+k+1)/B(a, b)
    Pois(k) + [k > 0] B(a+1, b+k)/B(a, b) P(Pois >= k)``, ``Pois`` the Poisson(``lam
    t``) count of a customer who never drops out, its tail the regularized incomplete
    gamma ``P(k, lam t)``.

    >>> pmf = mbgnbd_hrate_probability_of_purchases(0.1, 0.9, 1.6, np.arange(100), 52.0)
    >>> float(np.round(pmf.sum(), 10))
    1.0
    """
    k, pos, k1 = _counts(k)
    m = lam * np.asarray(t, dtype=np.float64)
    lb = special.betaln(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pois = special.xlogy(k, m) - m - special.gammaln(k + 1.0)
        alive = np.exp(special.betaln(a, b + k + 1.0) - lb + log_pois)
        gone = np.where(pos, np.exp(special.betaln(a + 1.0, b + k) - lb)
                        * special.gammainc(k1, m), 0.0)
    return np.where(k == 0, a / (a + b), 0.0) + alive + gone


def mbgnbd_hrate_discounted_purchases_if_alive(lam, a, b, frequency, T, horizon, delta):
    """Expected discounted purchases in ``(T, T+horizon]`` for a customer alive at T:
    ``int_0^horizon exp(-delta u) lam 1F1(a; a+b+x+1; -lam u) du`` (her purchase rate
    ``u`` after ``T``, ``E[lam exp(-p lam u)]`` over ``p ~ Beta(a, b+x+1)``), by
    :func:`dyadic_integral`, once per distinct ``x`` and parameters (``T`` does not
    matter: the rate is known).

    >>> float(np.round(mbgnbd_hrate_discounted_purchases_if_alive(0.1, 0.9, 1.6, 2, 39.0,
    ...                                                           39.0, 0.0), 4))
    2.9977
    """
    x = np.asarray(frequency, dtype=np.float64)
    shape = np.broadcast_shapes(np.shape(lam), np.shape(a), np.shape(b), x.shape,
                                np.shape(T), np.shape(horizon))
    out = _hrate_discounted(lam, a, b + x + 1.0, horizon, float(delta))
    return np.broadcast_to(out, shape).copy()


def mbgnbd_hrate_simulate_future(lam, a, b, frequency, recency, T, horizon, delta, rng,
                                 amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history:
    alive at ``T`` with :func:`mbgnbd_hrate_probability_alive`; if alive she buys at
    rate ``lam`` and drops out after each purchase with probability ``p ~ Beta(a,
    b+x+1)``. Shapes and outputs as the other models' ``simulate_future``.

    >>> n, d = mbgnbd_hrate_simulate_future(*(np.full((1, 100_000), v) for v in
    ...     (0.1, 0.9, 1.6)), 2, 30.0, 39.0, 39.0, 0.0, np.random.default_rng(0))
    >>> round(float(n.mean()), 2)  # E = 1.8563
    1.86
    """
    shape, (lam, a, b, x, t_x, T) = broadcast_flat(lam, a, b, frequency, recency, T)
    alive = draw_alive(rng, shape, alive_probability,
                       lambda: mbgnbd_hrate_probability_alive(lam, a, b, x, t_x, T))
    live = np.flatnonzero(alive)
    drop = rng.beta(a[live], b[live] + x[live] + 1.0)
    last = rng.geometric(np.clip(drop, 1e-12, 1.0))
    return simulate_live_customers(shape, live, lam[live], last, float(horizon), delta, rng,
                                   amounts)


# ------------------------------------------------------------- homogeneous (lam, p)
def mbgnbd_homogeneous_log_likelihood(lam, p, frequency, recency, T, *, gradient=False,
                                      ops=NUMPY):
    """Per-customer log-likelihood of the homogeneous MBG/NBD (both limits):
    ``log L = (x+1) log(1-p) + x log(lam) - lam T + log(1 + p/(1-p) exp(lam (T -
    t_x)))``. ``-inf`` for ``p >= 1`` (numpy). ``gradient=True`` (numpy, scalar
    parameters) also returns the ``(2, n)`` derivatives with respect to ``log lam,
    log p``.

    >>> np.round(mbgnbd_homogeneous_log_likelihood(0.1, 0.3, np.array([0, 2]),
    ...                                            np.array([0.0, 30.0]), np.array([39.0, 39.0])), 4)
    array([-1.1578, -8.8553])
    """
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.log1p(-p) if ops is NUMPY else ops.log(1.0 - p)
        z = ops.log(p) - log_q + lam * (T - t_x)
        ll = (x + 1.0) * log_q + x * ops.log(lam) - lam * T + ops.logaddexp(0.0, z)
    if ops is not NUMPY:
        if gradient:
            raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates "
                             "itself")
        return ll
    ll = np.where(np.asarray(p) < 1.0, ll, -np.inf)
    if not gradient:
        return ll
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = special.expit(z)
        g_lam = x - lam * T + pi * lam * (T - t_x)
        g_p = (pi - (x + 1.0) * p) / (1.0 - p)
    return ll, np.stack(np.broadcast_arrays(g_lam, g_p))


def mbgnbd_homogeneous_probability_alive(lam, p, frequency, recency, T):
    """P(alive at T | x, t_x, T): ``1 / (1 + p/(1-p) exp(lam (T - t_x)))``.

    >>> float(np.round(mbgnbd_homogeneous_probability_alive(0.1, 0.3, 2, 30.0, 39.0), 4))
    0.4868
    """
    p = _as_probability(p)
    with np.errstate(divide="ignore"):
        z = (np.log(p) - np.log1p(-p)
             + lam * (np.asarray(T, dtype=np.float64) - np.asarray(recency, dtype=np.float64)))
    pa = special.expit(-z)
    return np.broadcast_to(pa, np.broadcast_shapes(pa.shape, np.shape(frequency))).copy()


def mbgnbd_homogeneous_conditional_expected_purchases(lam, p, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T]: P(alive) times ``(1 - exp(-p lam t)) / p``
    (she drops out at rate ``p lam``).

    >>> float(np.round(mbgnbd_homogeneous_conditional_expected_purchases(
    ...     0.1, 0.3, 2, 30.0, 39.0, 39.0), 4))
    1.1191
    """
    p = _as_probability(p)
    return (lam * np.asarray(t, dtype=np.float64) * _one_minus_exp_over(p * lam * t)
            * mbgnbd_homogeneous_probability_alive(lam, p, frequency, recency, T))


def mbgnbd_homogeneous_expected_purchases_new(lam, p, t):
    """E[X(t)] for a customer just acquired: ``(1-p) (1 - exp(-p lam t)) / p``.

    >>> float(np.round(mbgnbd_homogeneous_expected_purchases_new(0.1, 0.3, 39.0), 4))
    1.6091
    """
    p = _as_probability(p)
    t = np.asarray(t, dtype=np.float64)
    return (1.0 - p) * lam * t * _one_minus_exp_over(p * lam * t)


def mbgnbd_homogeneous_probability_of_purchases(lam, p, k, t):
    """P(X(t) = k) for a customer just acquired: ``p [k = 0] + (1-p)^(k+1) Pois(k) +
    [k > 0] p (1-p)^k P(Pois >= k)``, ``Pois`` the Poisson(``lam t``) count.

    >>> pmf = mbgnbd_homogeneous_probability_of_purchases(0.1, 0.3, np.arange(100), 52.0)
    >>> float(np.round(pmf.sum(), 10))
    1.0
    """
    p = _as_probability(p)
    k, pos, k1 = _counts(k)
    m = lam * np.asarray(t, dtype=np.float64)
    log_pmf = special.xlogy(k, m) - m - special.gammaln(k + 1.0)
    tail = np.where(pos, special.gammainc(k1, m), 0.0)
    return _fixed_p_count_probability(p, k, log_pmf, tail)


def mbgnbd_homogeneous_discounted_purchases_if_alive(lam, p, frequency, T, horizon, delta):
    """Expected discounted purchases in ``(T, T+horizon]`` for a customer alive at T:
    ``lam (1 - exp(-(delta + p lam) H)) / (delta + p lam)`` (rate ``lam exp(-p lam u)``
    discounted by ``exp(-delta u)``).

    >>> float(np.round(mbgnbd_homogeneous_discounted_purchases_if_alive(
    ...     0.1, 0.3, 2, 39.0, 39.0, 0.0), 4))
    2.2988
    """
    p = _as_probability(p)
    H = np.asarray(horizon, dtype=np.float64)
    out = lam * H * _one_minus_exp_over((float(delta) + p * lam) * H)
    shape = np.broadcast_shapes(np.shape(out), np.shape(frequency), np.shape(T))
    return np.broadcast_to(out, shape).copy()


def mbgnbd_homogeneous_simulate_future(lam, p, frequency, recency, T, horizon, delta, rng,
                                       amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history:
    alive at ``T`` with :func:`mbgnbd_homogeneous_probability_alive`; if alive she
    buys at rate ``lam`` and drops out after each purchase with probability ``p``.

    >>> n, d = mbgnbd_homogeneous_simulate_future(np.full((1, 100_000), 0.1), 0.3, 2, 30.0,
    ...                                           39.0, 39.0, 0.0, np.random.default_rng(0))
    >>> round(float(n.mean()), 1)  # E = 1.1191
    1.1
    """
    shape, (lam, p, x, t_x, T) = broadcast_flat(lam, _as_probability(p), frequency, recency, T)
    alive = draw_alive(rng, shape, alive_probability,
                       lambda: mbgnbd_homogeneous_probability_alive(lam, p, x, t_x, T))
    live = np.flatnonzero(alive)
    last = rng.geometric(np.clip(p[live], 1e-12, 1.0))
    return simulate_live_customers(shape, live, lam[live], last, float(horizon), delta, rng,
                                   amounts)


# -------------------------------------------------------------------- the models
_PAIRS = {"dropout": "a and b", "purchase": "r and alpha"}


def _statement(model, full_name, lr, p_value, collapsed, what) -> str:
    """The boundary statement of an MBG/NBD limit ``model`` (``what``: the model in
    words), one fact per collapsed mixing."""
    unit = model.time_unit_ or "time unit"
    facts = []
    for mixing in collapsed:
        if mixing == "dropout":
            facts.append("The drop-out probability after a purchase is the same for every "
                         f"customer: {estimate_text(model, 'p')}")
        else:
            rate = estimate_text(model, "lam").replace(" (95% interval",
                                                       f" per {unit} (95% interval", 1)
            facts.append(f"The purchase rate while alive is the same for every customer: {rate}")
    pairs = [_PAIRS[m] for m in collapsed]
    uses = (f"{what}, the limit of {full_name} as {pairs[0]} grow without bound together"
            + "".join(f", and so do {more}" for more in pairs[1:]))
    return boundary_statement(facts, full_name, lr, p_value, uses)


#: log of the largest drop-out probability the optimiser sees as it is (1 - 1e-6)
_LOG_P_CAP = np.log1p(-1e-6)


def _walled_at_one(total, theta):
    """``total(theta)`` (weighted log-likelihood and gradient; last parameter ``log p``)
    for the optimiser, with a wall at ``p = 1``: beyond ``p = 1 - 1e-6`` the likelihood,
    undefined past 1, continues as its value at that cap minus a slope ``W (1 + d/2) d``
    in the excess ``d`` of ``log p`` (``W``: the size of the gradient at the cap, about
    1e6 times the purchases), so a step past 1 meets a finite, steep descent back instead
    of a non-finite value, which would stop the optimiser where it stands. Below the cap
    it is ``total`` itself; the maximum is never past it unless every customer drops out
    at once."""
    over = theta[-1] - _LOG_P_CAP
    if over <= 0.0:
        return total(theta)
    at_cap = np.array(theta, dtype=np.float64)
    at_cap[-1] = _LOG_P_CAP
    ll, g = total(at_cap)
    wall = abs(g[-1])
    g = np.array(g, dtype=np.float64)
    g[-1] = -wall * (1.0 + over)
    return ll - wall * (1.0 + 0.5 * over) * over, g


#: drop-out probabilities tried for the starting point
_P_GRID = np.geomspace(1e-3, 0.95, 25)


def _start_with_p(model, others, arrays, weights):
    """Starting point (log scale) of a model whose last parameter is the drop-out
    probability ``p``: ``others`` for the rest and the ``p`` of a grid with the highest
    likelihood, so that the optimiser starts near its answer in ``p`` (the likelihood is
    steep there: it falls to ``-inf`` as ``p -> 1``)."""
    logs = np.log(others)
    with np.errstate(all="ignore"):
        ll = [model._loglik_and_grad(np.append(logs, np.log(p)), arrays, weights)[0]
              for p in _P_GRID]
    ll = np.where(np.isfinite(ll), ll, -np.inf)
    return np.append(logs, np.log(_P_GRID[int(np.argmax(ll))]))


def _describe(model) -> dict:
    """The parameters of an MBG/NBD limit in words, with the fitted values
    (:func:`~clvmodels.models.purchase.bgnbd.limit_parameter_words`)."""
    return limit_parameter_words(
        model, "p", lambda p, unit: point_dropout_words(p, MBGNBD_DROPOUT),
        (("a", "b"), lambda a, b, unit: beta_dropout_words(a, b, MBGNBD_DROPOUT)))


@register_model
class ModifiedBetaGeoHomogeneousDropoutModel(PurchaseModel):
    """The MBG/NBD with the same drop-out probability ``p`` for every customer (``a, b
    -> inf`` with ``a / (a + b) = p``): she drops out with probability ``p`` right
    after her first purchase and after each repeat purchase, and buys at ``lambda ~
    Gamma(r, alpha)`` while alive.

    An MBG/NBD fit becomes this model when the data show no heterogeneity in the
    drop-out probability (DESIGN.md principle 8); it can be fitted directly too, and
    becomes :class:`ModifiedBetaGeoHomogeneousModel` when the rates show none either.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = ModifiedBetaGeoHomogeneousDropoutModel().fit(load_cdnow_summary())
    >>> model.param_names, bool(0 < model.params_["p"] < 1)
    (('r', 'alpha', 'p'), True)
    """

    param_names = ("r", "alpha", "p")
    default_priors = {"r": LogNormal(0.0, 2.0), "alpha": LogNormal(0.0, 3.0),
                      "p": LogNormal(-2.0, 2.0)}
    reference = ("Batislam, Denizel & Filiztekin (2007), IJRM 24(3): the MBG/NBD with a point "
                 "mass for the drop-out probability")
    formulas = {
        "probability_alive": mbgnbd_hdropout_probability_alive,
        "conditional_expected_purchases": mbgnbd_hdropout_conditional_expected_purchases,
        "expected_purchases_new": mbgnbd_hdropout_expected_purchases_new,
        "probability_of_purchases": mbgnbd_hdropout_probability_of_purchases,
        "discounted_purchases_if_alive": mbgnbd_hdropout_discounted_purchases_if_alive,
        "simulate_future": mbgnbd_hdropout_simulate_future,
    }

    def describe_parameters(self) -> dict:
        """The parameters in words, with the fitted values."""
        return _describe(self)

    def mixing_spread(self, params):
        return {"purchase": gamma_spread(params["r"])}

    def _start(self, arrays, weights):
        return _start_with_p(self, [1.0, self._start_alpha(arrays, weights)], arrays, weights)

    def _loglik_and_grad(self, log_params, arrays, weights):
        def total(theta):
            ll, g = mbgnbd_hdropout_log_likelihood(*np.exp(theta), arrays["x"], arrays["t_x"],
                                                   arrays["T"], gradient=True)
            return float(weights @ ll), g @ weights

        return _walled_at_one(total, log_params)

    def _pymc_log_likelihood(self, params, arrays, weights):
        ops = pytensor_ops()
        ll = mbgnbd_hdropout_log_likelihood(params["r"], params["alpha"], params["p"],
                                            arrays["x"], arrays["t_x"], arrays["T"], ops=ops)
        return ops.dot(weights, ll)

    def _boundary_message(self, full_name, lr, p_value, collapsed):
        return _statement(self, full_name, lr, p_value, collapsed,
                          "the homogeneous-drop-out MBG/NBD model")


@register_model
class ModifiedBetaGeoHomogeneousRateModel(PurchaseModel):
    """The MBG/NBD with the same purchase rate ``lam`` for every live customer (``r,
    alpha -> inf`` with ``r / alpha = lam``): she buys as a Poisson process with rate
    ``lam`` while alive and drops out with probability ``p ~ Beta(a, b)`` right after
    her first purchase and after each repeat purchase.

    An MBG/NBD fit becomes this model when the data show no heterogeneity in the
    purchase rate (DESIGN.md principle 8); it can be fitted directly too, and becomes
    :class:`ModifiedBetaGeoHomogeneousModel` when the drop-out probabilities show none
    either.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = ModifiedBetaGeoHomogeneousRateModel().fit(load_cdnow_summary())
    >>> model.param_names, bool(model.params_["lam"] > 0)
    (('lam', 'a', 'b'), True)
    """

    param_names = ("lam", "a", "b")
    default_priors = {"lam": LogNormal(-2.0, 3.0), "a": LogNormal(0.0, 2.0),
                      "b": LogNormal(0.0, 2.0)}
    reference = ("Batislam, Denizel & Filiztekin (2007), IJRM 24(3): the MBG/NBD with a point "
                 "mass for the purchase rate")
    formulas = {
        "probability_alive": mbgnbd_hrate_probability_alive,
        "conditional_expected_purchases": mbgnbd_hrate_conditional_expected_purchases,
        "expected_purchases_new": mbgnbd_hrate_expected_purchases_new,
        "probability_of_purchases": mbgnbd_hrate_probability_of_purchases,
        "discounted_purchases_if_alive": mbgnbd_hrate_discounted_purchases_if_alive,
        "simulate_future": mbgnbd_hrate_simulate_future,
    }

    def describe_parameters(self) -> dict:
        """The parameters in words, with the fitted values."""
        return _describe(self)

    def mixing_spread(self, params):
        return {"dropout": beta_spread(params["a"], params["b"])}

    def _start(self, arrays, weights):
        return np.log([1.0 / self._start_alpha(arrays, weights), 1.0, 1.0])

    def _loglik_and_grad(self, log_params, arrays, weights):
        ll, g = mbgnbd_hrate_log_likelihood(*np.exp(log_params), arrays["x"], arrays["t_x"],
                                            arrays["T"], gradient=True)
        return float(weights @ ll), g @ weights

    def _pymc_log_likelihood(self, params, arrays, weights):
        ops = pytensor_ops()
        ll = mbgnbd_hrate_log_likelihood(params["lam"], params["a"], params["b"], arrays["x"],
                                         arrays["t_x"], arrays["T"], ops=ops)
        return ops.dot(weights, ll)

    def _boundary_message(self, full_name, lr, p_value, collapsed):
        return _statement(self, full_name, lr, p_value, collapsed,
                          "the homogeneous-rate MBG/NBD model")


@register_model
class ModifiedBetaGeoHomogeneousModel(PurchaseModel):
    """The MBG/NBD without heterogeneity: every customer buys at rate ``lam`` while
    alive and drops out with probability ``p`` right after her first purchase and
    after each repeat purchase (both mixings of the MBG/NBD collapsed to points).

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = ModifiedBetaGeoHomogeneousModel().fit(load_cdnow_summary())
    >>> model.param_names, bool(0 < model.params_["p"] < 1)
    (('lam', 'p'), True)
    """

    param_names = ("lam", "p")
    default_priors = {"lam": LogNormal(-2.0, 3.0), "p": LogNormal(-2.0, 2.0)}
    reference = ("Batislam, Denizel & Filiztekin (2007), IJRM 24(3): the MBG/NBD with point "
                 "masses for the purchase rate and the drop-out probability")
    limit_models = {}
    formulas = {
        "probability_alive": mbgnbd_homogeneous_probability_alive,
        "conditional_expected_purchases": mbgnbd_homogeneous_conditional_expected_purchases,
        "expected_purchases_new": mbgnbd_homogeneous_expected_purchases_new,
        "probability_of_purchases": mbgnbd_homogeneous_probability_of_purchases,
        "discounted_purchases_if_alive": mbgnbd_homogeneous_discounted_purchases_if_alive,
        "simulate_future": mbgnbd_homogeneous_simulate_future,
    }

    def describe_parameters(self) -> dict:
        """The parameters in words, with the fitted values."""
        return _describe(self)

    def _start(self, arrays, weights):
        return _start_with_p(self, [1.0 / self._start_alpha(arrays, weights)], arrays, weights)

    def _loglik_and_grad(self, log_params, arrays, weights):
        def total(theta):
            ll, g = mbgnbd_homogeneous_log_likelihood(*np.exp(theta), arrays["x"],
                                                      arrays["t_x"], arrays["T"], gradient=True)
            return float(weights @ ll), g @ weights

        return _walled_at_one(total, log_params)

    def _pymc_log_likelihood(self, params, arrays, weights):
        ops = pytensor_ops()
        ll = mbgnbd_homogeneous_log_likelihood(params["lam"], params["p"], arrays["x"],
                                               arrays["t_x"], arrays["T"], ops=ops)
        return ops.dot(weights, ll)

    def _boundary_message(self, full_name, lr, p_value, collapsed):
        return _statement(self, full_name, lr, p_value, collapsed,
                          "the homogeneous MBG/NBD model")


ModifiedBetaGeoHomogeneousDropoutModel.limit_models = {"purchase": ModifiedBetaGeoHomogeneousModel}
ModifiedBetaGeoHomogeneousRateModel.limit_models = {"dropout": ModifiedBetaGeoHomogeneousModel}
ModifiedBetaGeoModel.limit_models = {"dropout": ModifiedBetaGeoHomogeneousDropoutModel,
                                     "purchase": ModifiedBetaGeoHomogeneousRateModel}
