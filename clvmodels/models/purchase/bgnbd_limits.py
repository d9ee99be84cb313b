"""The BG/NBD's nested limits: the models a BG/NBD fit becomes when one of its mixing
distributions collapses to a point (DESIGN.md principle 8, :mod:`clvmodels.models.boundary`).

The BG/NBD (:mod:`clvmodels.models.purchase.bgnbd`) lets the purchase rate
``lambda ~ Gamma(r, alpha)`` and the drop-out probability after a purchase
``p ~ Beta(a, b)`` differ between customers. When the data show no spread in one of
them, maximum likelihood sends its two parameters to infinity together (``a, b -> inf``
at ``a / (a + b) = p``; ``r, alpha -> inf`` at ``r / alpha = lam``) and the fit becomes:

* :class:`BetaGeoHomogeneousDropoutModel` ``(r, alpha, p)``: one drop-out probability;
* :class:`BetaGeoHomogeneousRateModel` ``(lam, a, b)``: one purchase rate;
* :class:`BetaGeoHomogeneousModel` ``(lam, p)``: both (Poisson purchases at ``lam``, a
  geometric number of purchases before drop-out), reached from either of the others.

Each formula is the BG/NBD's in the limit, written in closed form where one exists:

* no drop-out mixing: ``B(a, b+x) / B(a, b) -> (1-p)^x`` and ``a / (b+x-1) -> p/(1-p)``;
  given alive, ``lambda ~ Gamma(r+x, alpha+T)`` and purchases arrive at rate
  ``lambda exp(-p lambda u)``, so ``E[X | alive] = (1 - ((alpha+T)/(alpha+T+p t))^(r+x))/p``;
* no rate mixing: ``G(r+x)/G(r) alpha^r/(alpha+T)^(r+x) -> lam^x exp(-lam T)``; given
  alive, ``p ~ Beta(a, b+x)`` and ``E[X | alive] = E[(1 - exp(-p lam t))/p]``, the
  integral over ``(0, lam t)`` of the beta's Laplace transform ``1F1(a; a+b+x; -s)``
  (:func:`beta_exposure`; the closed form ``(a+b+x-1)/(a-1) (1 - 1F1(a-1; a+b+x-1;
  -lam t))`` loses digits near ``a = 1``, near ``a + b + x = 1`` and for small
  ``lam t``, so it is not used);
* counts of a new customer: ``P(X(t) = k) = E[(1-p)^k] P(N = k) + [k > 0]
  E[p (1-p)^(k-1)] P(N >= k)`` with ``N`` the purchases of a customer who never drops
  out (negative binomial, or Poisson at a point rate), whose tail is a regularized
  incomplete beta (gamma) function: no table over ``j < k``.

Every formula broadcasts: parameters may be scalars or arrays of draws shaped to
broadcast against the customer arrays, as in the BG/NBD.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ...data.compress import compress_rows
from ...priors import LogNormal
from ..backend import NUMPY, pytensor_ops
from ..boundary import beta_spread, boundary_statement, estimate_text, gamma_spread
from ..registry import register_model
from .base import PurchaseModel, broadcast_flat, draw_alive, simulate_live_customers
from .bgnbd import (
    BGNBD_DROPOUT,
    BetaGeoModel,
    beta_dropout_words,
    limit_parameter_words,
    point_dropout_words,
)

__all__ = [
    "BetaGeoHomogeneousDropoutModel",
    "BetaGeoHomogeneousRateModel",
    "BetaGeoHomogeneousModel",
    "beta_exposure",
    "point_p_log_likelihood",
    "point_p_probability_alive",
    "point_p_conditional_expected_purchases",
    "point_p_expected_purchases_new",
    "point_p_probability_of_purchases",
    "point_p_discounted_purchases_if_alive",
    "point_p_simulate_future",
    "point_lam_log_likelihood",
    "point_lam_probability_alive",
    "point_lam_conditional_expected_purchases",
    "point_lam_expected_purchases_new",
    "point_lam_probability_of_purchases",
    "point_lam_discounted_purchases_if_alive",
    "point_lam_simulate_future",
    "point_both_log_likelihood",
    "point_both_probability_alive",
    "point_both_conditional_expected_purchases",
    "point_both_expected_purchases_new",
    "point_both_probability_of_purchases",
    "point_both_discounted_purchases_if_alive",
    "point_both_simulate_future",
]


def _gl(n):
    """Gauss-Legendre nodes and weights on [0, 1]."""
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1.0) / 2.0, w / 2.0


# 48 nodes: the beta exposure to 1e-12 relative (tested against adaptive quadrature on
# a grid a in [0.05, 300], b in [0.1, 1e4], lam t in [1e-4, 1e4], discounting to e^-30);
# 32 nodes: the discounted gamma integral to 1e-13 over its concave log-integrand
_GL48 = _gl(48)
_GL32 = _gl(32)
#: the gamma integral is cut where its integrand has fallen by e^-40 below its peak
_DROP = 40.0


def _log1p(ops):
    """``log1p`` of the back-end (``ops`` has none; PyTensor's is exact near 0 too)."""
    if ops is NUMPY:
        return np.log1p
    import pytensor.tensor as pt

    return pt.log1p


def _arrays(frequency, recency, T):
    return (np.asarray(frequency, dtype=np.float64), np.asarray(recency, dtype=np.float64),
            np.asarray(T, dtype=np.float64))


# --------------------------------------------------------------------------- new customers
def _count_probabilities(log_keep, log_drop, log_pmf, tail, k):
    """``P(X(t) = k) = exp(log_keep + log_pmf) + [k > 0] exp(log_drop) tail``: the
    customer has not dropped out after her k purchases (``E[(1-p)^k]``) and made exactly
    k, or dropped out after the k-th (``E[p (1-p)^(k-1)]``) having made at least k."""
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.exp(log_keep + log_pmf)
        second = np.where(k > 0, np.exp(log_drop) * tail, 0.0)
    return first + second


def _nb_log_pmf_and_tail(r, alpha, k, t):
    """log P(N = k) and P(N >= k) of the negative binomial count ``N`` of a customer who
    buys at ``lambda ~ Gamma(r, alpha)`` over ``t`` and never drops out. The tail is
    ``I_{t/(alpha+t)}(k, r)`` (regularized incomplete beta) for ``k >= 1``."""
    q = t / (alpha + t)
    log_pmf = (special.gammaln(r + k) - special.gammaln(r) - special.gammaln(k + 1.0)
               + r * np.log(alpha / (alpha + t)) + special.xlogy(k, q))
    tail = special.betainc(np.maximum(k, 1.0), r, q)
    return log_pmf, tail


def _poisson_log_pmf_and_tail(lam, k, t):
    """log P(N = k) and P(N >= k) of ``N ~ Poisson(lam t)``; the tail is the regularized
    lower incomplete gamma function ``P(k, lam t)`` for ``k >= 1``."""
    m = lam * t
    log_pmf = special.xlogy(k, m) - m - special.gammaln(k + 1.0)
    tail = special.gammainc(np.maximum(k, 1.0), m)
    return log_pmf, tail


# --------------------------------------------------------------------------- the beta exposure
def beta_exposure(a, b, c, k=0.0):
    """``E[int_0^c exp(-k s) exp(-p s) ds]`` for ``p ~ Beta(a, b)``
    ``= int_0^c exp(-k s) 1F1(a; a+b; -s) ds``.

    With ``c = lam t`` and ``k = 0`` it is a customer's expected purchases over ``t``
    at a point rate ``lam`` whose drop-out probability is ``Beta(a, b)``
    (``E[(1 - exp(-p lam t)) / p]``); with ``c = lam H`` and ``k = delta / lam`` the
    same discounted at continuous rate ``delta``. Evaluated by 48-point Gauss-Legendre
    in ``v = log(1 + s)``, where the integrand is smooth for every ``a, b`` (the closed
    form at ``k = 0``, ``(a+b-1)/(a-1) (1 - 1F1(a-1; a+b-1; -c))``, has removable
    singularities at ``a = 1`` and ``a + b = 1`` and cancels for small ``c``), once per
    distinct ``(a, b, c, k)``.

    >>> e = beta_exposure(2.0, 3.0, 10.0)
    >>> closed = 4.0 / 1.0 * (1.0 - special.hyp1f1(1.0, 4.0, -10.0))
    >>> bool(np.isclose(e, closed, rtol=1e-12))
    True
    """
    shape, flat = broadcast_flat(a, b, c, k)
    # customers share x (hence b) and the horizon: evaluate each distinct (a, b, c, k)
    # once (e.g. 100 draws x 30 distinct x instead of 100 draws x every customer)
    rows = compress_rows(dict(zip("abck", flat)), list("abck"))
    a, b, c, k = (rows.unique[n] for n in "abck")
    v_end = np.log1p(c)
    total = 0.0
    for node, weight in zip(*_GL48):
        v = node * v_end
        s = np.expm1(v)
        total = total + weight * np.exp(v - k * s) * special.hyp1f1(a, a + b, -s)
    return (total * v_end)[rows.inverse].reshape(shape)


# ============================================================================ one p (r, alpha, p)
def point_p_log_likelihood(r, alpha, p, frequency, recency, T, *, gradient=False, ops=NUMPY):
    """Per-customer log-likelihood of the BG/NBD with one drop-out probability ``p``.

    ``L = G(r+x)/G(r) alpha^r [(1-p)^x / (alpha+T)^(r+x) + [x>0] p (1-p)^(x-1) /
    (alpha+t_x)^(r+x)]``, in log space with the second term as a soft-plus of
    ``z = log(p/(1-p)) + (r+x) log(1 + (T-t_x)/(alpha+t_x))`` and ``r log(alpha) -
    (r+x) log(alpha+T)`` as ``-r log1p(T/alpha) - x log(alpha+T)`` (no cancellation
    when ``r`` and ``alpha`` are large). With ``gradient=True`` (numpy) also the
    derivatives with respect to ``log r, log alpha, log p``, shape ``(3, n)``.

    >>> ll = point_p_log_likelihood(0.25, 4.0, 0.25, np.array([0, 2]), np.array([0.0, 30.0]),
    ...                             np.array([38.0, 38.0]))
    >>> np.round(ll, 4)
    array([-0.5878, -9.3724])
    """
    x, t_x, T = _arrays(frequency, recency, T)
    log1p = _log1p(ops)
    xpos = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_keep = log1p(-p)
        gap = log1p((T - t_x) / (alpha + t_x))
        z = ops.log(p) - log_keep + (r + x) * gap
        ll = (ops.gammaln(r + x) - ops.gammaln(r) - r * log1p(T / alpha)
              - x * ops.log(alpha + T) + x * log_keep
              + ops.where(xpos, ops.logaddexp(0.0, z), 0.0))
        if not gradient:
            return ll
        if ops is not NUMPY:
            raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates "
                             "itself")
        pi = np.where(xpos, special.expit(z), 0.0)
        g_r = r * (special.digamma(r + x) - special.digamma(r) - np.log1p(T / alpha) + pi * gap)
        g_alpha = ((r * T - x * alpha) / (alpha + T)
                   - pi * (r + x) * alpha * (T - t_x) / ((alpha + T) * (alpha + t_x)))
        g_p = (pi - x * p) / (1.0 - p)
    return ll, np.stack(np.broadcast_arrays(g_r, g_alpha, g_p))


def point_p_probability_alive(r, alpha, p, frequency, recency, T):
    """P(alive at T) ``= 1 / (1 + [x>0] p/(1-p) ((alpha+T)/(alpha+t_x))^(r+x))``.

    >>> float(np.round(point_p_probability_alive(0.25, 4.0, 0.25, 2, 30.0, 38.0), 4))
    0.6509
    """
    x, t_x, T = _arrays(frequency, recency, T)
    with np.errstate(divide="ignore"):
        z = np.log(p) - np.log1p(-p) + (r + x) * np.log1p((T - t_x) / (alpha + t_x))
    return np.where(x > 0, special.expit(-z), 1.0)


def _point_p_if_alive(r, alpha, p, x, T, t):
    """Expected purchases in ``(T, T+t]`` of a customer alive at ``T`` with ``x``
    purchases: ``(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p``."""
    return -np.expm1(-(r + x) * np.log1p(p * t / (alpha + T))) / p


def point_p_conditional_expected_purchases(r, alpha, p, frequency, recency, T, t):
    """E[purchases in (T, T+t]] ``= P(alive) (1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p``.

    >>> float(np.round(point_p_conditional_expected_purchases(0.25, 4.0, 0.25, 2, 30.0, 38.0,
    ...                                                       39.0), 4))
    0.9759
    """
    x, t_x, T = _arrays(frequency, recency, T)
    return (_point_p_if_alive(r, alpha, p, x, T, np.asarray(t, dtype=np.float64))
            * point_p_probability_alive(r, alpha, p, x, t_x, T))


def point_p_expected_purchases_new(r, alpha, p, t):
    """E[X(t)] of a new customer ``= (1 - (alpha/(alpha+p t))^r) / p``.

    >>> float(np.round(point_p_expected_purchases_new(0.25, 4.0, 0.25, 52.0), 4))
    1.2141
    """
    return _point_p_if_alive(r, alpha, p, 0.0, 0.0, np.asarray(t, dtype=np.float64))


def point_p_probability_of_purchases(r, alpha, p, k, t):
    """P(X(t) = k) of a new customer: ``(1-p)^k NB(k) + [k>0] p (1-p)^(k-1) P(NB >= k)``
    with ``NB`` the negative binomial count ``(r, alpha/(alpha+t))``.

    >>> pmf = point_p_probability_of_purchases(0.25, 4.0, 0.25, np.arange(400), 52.0)
    >>> float(np.round(pmf.sum(), 10)), float(np.round(pmf @ np.arange(400), 4))
    (1.0, 1.2141)
    """
    k = np.asarray(k, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    log_pmf, tail = _nb_log_pmf_and_tail(r, alpha, k, t)
    with np.errstate(divide="ignore"):
        log_keep = k * np.log1p(-p)
        log_drop = np.log(p) + np.maximum(k - 1.0, 0.0) * np.log1p(-p)
    return _count_probabilities(log_keep, log_drop, log_pmf, tail, k)


def point_p_discounted_purchases_if_alive(r, alpha, p, frequency, T, horizon, delta):
    """Expected discounted purchases in (T, T+horizon] of a customer alive at T.

    Given alive, ``lambda ~ Gamma(s, beta)`` with ``s = r+x``, ``beta = alpha+T``, and
    purchases come at rate ``lambda exp(-p lambda u)``, whose expectation is
    ``(s/beta) (1 + p u/beta)^-(s+1)``; so the value is ``int_0^H exp(-delta u) (s/beta)
    (1 + p u/beta)^-(s+1) du``. In ``v = log(1 + p u/beta)`` the log of the integrand,
    ``-delta beta/p (e^v - 1) - s v``, is concave and falls from 0, so the range is cut
    where it has fallen by 40 (both terms are non-negative: before ``40/s`` and before
    ``log(1 + 40 p/(delta beta))``) and integrated by 32-point Gauss-Legendre: 1e-13
    relative against adaptive quadrature for ``s`` in [0.05, 5000], ``p`` in [1e-4,
    0.9], ``delta H`` to 30. With ``delta = 0`` it is the closed form
    ``(1 - (1 + p H/beta)^-s) / p``.

    >>> e0 = point_p_discounted_purchases_if_alive(0.25, 4.0, 0.25, 2, 38.0, 39.0, 0.0)
    >>> e1 = point_p_discounted_purchases_if_alive(0.25, 4.0, 0.25, 2, 38.0, 39.0, 1e-12)
    >>> bool(np.isclose(e0, e1, rtol=1e-9))
    True
    """
    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    if float(delta) == 0.0:
        return _point_p_if_alive(r, alpha, p, x, T, float(horizon))
    s = r + x
    beta = alpha + T
    kappa = float(delta) * beta / p
    with np.errstate(divide="ignore"):
        v_cut = np.minimum(np.minimum(np.log1p(p * float(horizon) / beta), _DROP / s),
                           np.log1p(_DROP / kappa))
    total = 0.0
    for node, weight in zip(*_GL32):
        v = node * v_cut
        total = total + weight * np.exp(-kappa * np.expm1(v) - s * v)
    return total * v_cut * s / p


def _simulate(shape, x, probability_alive, lam, drop, horizon, delta, rng, amounts,
              alive_probability=None):
    """Futures of flat customers (``x``, and P(alive), the rate and the drop-out
    probability as functions of positions among them): alive with P(alive) (the
    caller's ``alive_probability`` when given, :func:`~clvmodels.models.purchase.base.
    draw_alive`), drawn for ``x > 0`` only; if alive she buys at ``lam`` and drops out
    after a ``Geometric(drop)``-th purchase."""
    alive = draw_alive(rng, shape, alive_probability, probability_alive,
                       where=np.flatnonzero(x > 0))
    live = np.flatnonzero(alive)
    last = rng.geometric(np.clip(drop(live), 1e-12, 1.0))
    return simulate_live_customers(shape, live, lam(live), last, float(horizon), delta, rng,
                                   amounts)


def point_p_simulate_future(r, alpha, p, frequency, recency, T, horizon, delta, rng,
                            amounts=None, alive_probability=None):
    """Simulated purchases in ``(T, T+horizon]``: alive with P(alive); if alive,
    ``lambda ~ Gamma(r+x, alpha+T)``, Poisson purchases at ``lambda`` and drop-out with
    probability ``p`` after each (see :mod:`clvmodels.models.purchase.base`).

    >>> n, d = point_p_simulate_future(*(np.full((1, 100_000), v) for v in (0.25, 4.0, 0.25)),
    ...                                2, 30.0, 38.0, 39.0, 0.0, np.random.default_rng(0))
    >>> round(float(n.mean()), 2), bool((n == d).all())  # E = 0.9759
    (0.97, True)
    """
    shape, (r, alpha, p, x, t_x, T) = broadcast_flat(r, alpha, p, frequency, recency, T)

    def alive(i):
        return point_p_probability_alive(r[i], alpha[i], p[i], x[i], t_x[i], T[i])

    return _simulate(shape, x, alive, lambda i: rng.standard_gamma(r[i] + x[i]) / (alpha[i] + T[i]),
                     lambda i: p[i], horizon, delta, rng, amounts, alive_probability)


# ============================================================================ one rate (lam, a, b)
def point_lam_log_likelihood(lam, a, b, frequency, recency, T, *, gradient=False, ops=NUMPY):
    """Per-customer log-likelihood of the BG/NBD with one purchase rate ``lam``.

    ``L = lam^x [B(a, b+x)/B(a, b) exp(-lam T) + [x>0] B(a+1, b+x-1)/B(a, b)
    exp(-lam t_x)]``, in log space with the second term as a soft-plus of ``z = log(a /
    (b+x-1)) + lam (T - t_x)``. With ``gradient=True`` (numpy) also the derivatives with
    respect to ``log lam, log a, log b``, shape ``(3, n)``.

    >>> ll = point_lam_log_likelihood(0.06, 0.8, 2.4, np.array([0, 2]), np.array([0.0, 30.0]),
    ...                               np.array([38.0, 38.0]))
    >>> np.round(ll, 4)
    array([-2.28  , -8.0835])
    """
    x, t_x, T = _arrays(frequency, recency, T)
    xpos = x > 0
    b_x = b + np.maximum(x - 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = ops.log(a) - ops.log(b_x) + lam * (T - t_x)
        ll = (x * ops.log(lam) - lam * T + ops.betaln(a, b + x) - ops.betaln(a, b)
              + ops.where(xpos, ops.logaddexp(0.0, z), 0.0))
        if not gradient:
            return ll
        if ops is not NUMPY:
            raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates "
                             "itself")
        pi = np.where(xpos, special.expit(z), 0.0)
        dg = special.digamma
        g_lam = x - lam * T + pi * lam * (T - t_x)
        g_a = a * (dg(a + b) - dg(a + b + x)) + pi
        g_b = b * (dg(b + x) - dg(a + b + x) - dg(b) + dg(a + b) - pi / b_x)
    return ll, np.stack(np.broadcast_arrays(g_lam, g_a, g_b))


def point_lam_probability_alive(lam, a, b, frequency, recency, T):
    """P(alive at T) ``= 1 / (1 + [x>0] a/(b+x-1) exp(lam (T - t_x)))``.

    >>> float(np.round(point_lam_probability_alive(0.06, 0.8, 2.4, 2, 30.0, 38.0), 4))
    0.7245
    """
    x, t_x, T = _arrays(frequency, recency, T)
    with np.errstate(divide="ignore"):
        z = np.log(a) - np.log(b + np.maximum(x - 1.0, 0.0)) + lam * (T - t_x)
    return np.where(x > 0, special.expit(-z), 1.0)


def point_lam_conditional_expected_purchases(lam, a, b, frequency, recency, T, t):
    """E[purchases in (T, T+t]] ``= P(alive) E[(1 - exp(-p lam t))/p]``, ``p ~ Beta(a,
    b+x)`` (:func:`beta_exposure`).

    >>> float(np.round(point_lam_conditional_expected_purchases(0.06, 0.8, 2.4, 2, 30.0, 38.0,
    ...                                                         39.0), 4))
    1.4464
    """
    x, t_x, T = _arrays(frequency, recency, T)
    return (beta_exposure(a, b + x, lam * np.asarray(t, dtype=np.float64))
            * point_lam_probability_alive(lam, a, b, x, t_x, T))


def point_lam_expected_purchases_new(lam, a, b, t):
    """E[X(t)] of a new customer ``= E[(1 - exp(-p lam t))/p]``, ``p ~ Beta(a, b)``
    (the confluent limit of FHL 2005, eq. 9: ``(a+b-1)/(a-1) (1 - exp(-lam t)
    1F1(b; a+b-1; lam t))``).

    >>> float(np.round(point_lam_expected_purchases_new(0.06, 0.8, 2.4, 52.0), 4))
    2.282
    """
    return beta_exposure(a, b, lam * np.asarray(t, dtype=np.float64))


def point_lam_probability_of_purchases(lam, a, b, k, t):
    """P(X(t) = k) of a new customer: ``B(a, b+k)/B(a, b) Poisson(k; lam t) + [k>0]
    B(a+1, b+k-1)/B(a, b) P(Poisson(lam t) >= k)``.

    >>> pmf = point_lam_probability_of_purchases(0.06, 0.8, 2.4, np.arange(100), 52.0)
    >>> float(np.round(pmf.sum(), 10)), float(np.round(pmf @ np.arange(100), 4))
    (1.0, 2.282)
    """
    k = np.asarray(k, dtype=np.float64)
    log_pmf, tail = _poisson_log_pmf_and_tail(lam, k, np.asarray(t, dtype=np.float64))
    base = special.betaln(a, b)
    with np.errstate(invalid="ignore"):
        log_keep = special.betaln(a, b + k) - base
        log_drop = special.betaln(a + 1.0, b + np.maximum(k, 1.0) - 1.0) - base
    return _count_probabilities(log_keep, log_drop, log_pmf, tail, k)


def point_lam_discounted_purchases_if_alive(lam, a, b, frequency, T, horizon, delta):
    """Expected discounted purchases in (T, T+horizon] of a customer alive at T:
    ``int_0^H exp(-delta u) lam 1F1(a; a+b+x; -lam u) du`` (given alive, ``p ~ Beta(a,
    b+x)``, and purchases come at rate ``lam exp(-p lam u)``), i.e.
    :func:`beta_exposure` with ``c = lam H`` and ``k = delta / lam``. Depends on the
    customer only through ``x`` (``T`` is accepted for the interface).

    >>> e0 = point_lam_discounted_purchases_if_alive(0.06, 0.8, 2.4, 2, 38.0, 39.0, 0.0)
    >>> e1 = point_lam_discounted_purchases_if_alive(0.06, 0.8, 2.4, 2, 38.0, 39.0, 1e-12)
    >>> bool(np.isclose(e0, e1, rtol=1e-9))
    True
    """
    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    c = np.broadcast_to(lam * float(horizon), np.broadcast_shapes(lam.shape, T.shape))
    return beta_exposure(a, b + x, c, float(delta) / lam)


def point_lam_simulate_future(lam, a, b, frequency, recency, T, horizon, delta, rng,
                              amounts=None, alive_probability=None):
    """Simulated purchases in ``(T, T+horizon]``: alive with P(alive); if alive, ``p ~
    Beta(a, b+x)``, Poisson purchases at ``lam`` and drop-out with probability ``p``
    after each (see :mod:`clvmodels.models.purchase.base`).

    >>> n, d = point_lam_simulate_future(*(np.full((1, 100_000), v) for v in (0.06, 0.8, 2.4)),
    ...                                  2, 30.0, 38.0, 39.0, 0.0, np.random.default_rng(0))
    >>> round(float(n.mean()), 2)  # E = 1.4464
    1.45
    """
    shape, (lam, a, b, x, t_x, T) = broadcast_flat(lam, a, b, frequency, recency, T)

    def alive(i):
        return point_lam_probability_alive(lam[i], a[i], b[i], x[i], t_x[i], T[i])

    return _simulate(shape, x, alive, lambda i: lam[i], lambda i: rng.beta(a[i], b[i] + x[i]),
                     horizon, delta, rng, amounts, alive_probability)


# ============================================================================ both (lam, p)
def point_both_log_likelihood(lam, p, frequency, recency, T, *, gradient=False, ops=NUMPY):
    """Per-customer log-likelihood when every customer buys at ``lam`` and drops out with
    probability ``p`` after each purchase: ``L = lam^x [(1-p)^x exp(-lam T) + [x>0]
    p (1-p)^(x-1) exp(-lam t_x)]``, the second term as a soft-plus of ``z = log(p/(1-p))
    + lam (T - t_x)``. With ``gradient=True`` (numpy) also the derivatives with respect
    to ``log lam, log p``, shape ``(2, n)``.

    >>> ll = point_both_log_likelihood(0.06, 0.25, np.array([0, 2]), np.array([0.0, 30.0]),
    ...                                np.array([38.0, 38.0]))
    >>> np.round(ll, 4)
    array([-2.28  , -8.0513])
    """
    x, t_x, T = _arrays(frequency, recency, T)
    log1p = _log1p(ops)
    xpos = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_keep = log1p(-p)
        z = ops.log(p) - log_keep + lam * (T - t_x)
        ll = (x * ops.log(lam) - lam * T + x * log_keep
              + ops.where(xpos, ops.logaddexp(0.0, z), 0.0))
        if not gradient:
            return ll
        if ops is not NUMPY:
            raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates "
                             "itself")
        pi = np.where(xpos, special.expit(z), 0.0)
        g_lam = x - lam * T + pi * lam * (T - t_x)
        g_p = (pi - x * p) / (1.0 - p)
    return ll, np.stack(np.broadcast_arrays(g_lam, g_p))


def point_both_probability_alive(lam, p, frequency, recency, T):
    """P(alive at T) ``= 1 / (1 + [x>0] p/(1-p) exp(lam (T - t_x)))``.

    >>> float(np.round(point_both_probability_alive(0.06, 0.25, 2, 30.0, 38.0), 4))
    0.6499
    """
    x, t_x, T = _arrays(frequency, recency, T)
    with np.errstate(divide="ignore"):
        z = np.log(p) - np.log1p(-p) + lam * (T - t_x)
    return np.where(x > 0, special.expit(-z), 1.0)


def point_both_conditional_expected_purchases(lam, p, frequency, recency, T, t):
    """E[purchases in (T, T+t]] ``= P(alive) (1 - exp(-p lam t)) / p``.

    >>> float(np.round(point_both_conditional_expected_purchases(0.06, 0.25, 2, 30.0, 38.0,
    ...                                                          39.0), 4))
    1.1514
    """
    x, t_x, T = _arrays(frequency, recency, T)
    t = np.asarray(t, dtype=np.float64)
    return -np.expm1(-p * lam * t) / p * point_both_probability_alive(lam, p, x, t_x, T)


def point_both_expected_purchases_new(lam, p, t):
    """E[X(t)] of a new customer ``= (1 - exp(-p lam t)) / p``.

    >>> float(np.round(point_both_expected_purchases_new(0.06, 0.25, 52.0), 4))
    2.1664
    """
    return -np.expm1(-p * lam * np.asarray(t, dtype=np.float64)) / p


def point_both_probability_of_purchases(lam, p, k, t):
    """P(X(t) = k) of a new customer: ``(1-p)^k Poisson(k; lam t) + [k>0] p (1-p)^(k-1)
    P(Poisson(lam t) >= k)``.

    >>> pmf = point_both_probability_of_purchases(0.06, 0.25, np.arange(60), 52.0)
    >>> float(np.round(pmf.sum(), 10)), float(np.round(pmf @ np.arange(60), 4))
    (1.0, 2.1664)
    """
    k = np.asarray(k, dtype=np.float64)
    log_pmf, tail = _poisson_log_pmf_and_tail(lam, k, np.asarray(t, dtype=np.float64))
    with np.errstate(divide="ignore"):
        log_keep = k * np.log1p(-p)
        log_drop = np.log(p) + np.maximum(k - 1.0, 0.0) * np.log1p(-p)
    return _count_probabilities(log_keep, log_drop, log_pmf, tail, k)


def point_both_discounted_purchases_if_alive(lam, p, frequency, T, horizon, delta):
    """Expected discounted purchases in (T, T+horizon] of a customer alive at T:
    ``int_0^H exp(-delta u) lam exp(-p lam u) du = lam (1 - exp(-(delta + p lam) H)) /
    (delta + p lam)``; the same for every customer (``frequency`` and ``T`` give the
    shape).

    >>> float(np.round(point_both_discounted_purchases_if_alive(0.06, 0.25, 2, 38.0, 39.0,
    ...                                                         0.0), 4))
    1.7716
    """
    shape = np.broadcast_shapes(np.shape(lam), np.shape(p), np.shape(frequency), np.shape(T))
    rate = float(delta) + p * lam
    return np.broadcast_to(-np.expm1(-rate * float(horizon)) * lam / rate, shape).copy()


def point_both_simulate_future(lam, p, frequency, recency, T, horizon, delta, rng,
                               amounts=None, alive_probability=None):
    """Simulated purchases in ``(T, T+horizon]``: alive with P(alive); if alive, Poisson
    purchases at ``lam`` and drop-out with probability ``p`` after each.

    >>> n, d = point_both_simulate_future(*(np.full((1, 100_000), v) for v in (0.06, 0.25)),
    ...                                   2, 30.0, 38.0, 39.0, 0.0, np.random.default_rng(0))
    >>> round(float(n.mean()), 2)  # E = 1.1514
    1.15
    """
    shape, (lam, p, x, t_x, T) = broadcast_flat(lam, p, frequency, recency, T)

    def alive(i):
        return point_both_probability_alive(lam[i], p[i], x[i], t_x[i], T[i])

    return _simulate(shape, x, alive, lambda i: lam[i], lambda i: p[i], horizon, delta, rng,
                     amounts, alive_probability)


# ============================================================================ the models
#: what the facts and the limit's wording say about each mixing
_FACTS = {
    "dropout": ("The drop-out probability after a purchase is the same for every customer",
                "a and b"),
    "purchase": ("The purchase rate while alive is the same for every customer", "r and alpha"),
}


class _BetaGeoLimit(PurchaseModel):
    """What the BG/NBD's limits share: the likelihood of ``_log_likelihood`` summed over
    the compressed rows, the statement in words, the starting point."""

    #: per-customer log-likelihood ``f(*params, frequency, recency, T, gradient, ops)``
    _log_likelihood = None
    #: the model in words, for the boundary statement
    _words = ""

    def describe_parameters(self) -> dict:
        """The parameters in words, with the fitted values (:func:`~clvmodels.models.
        purchase.bgnbd.limit_parameter_words`): a shared drop-out probability ``p`` or
        beta-distributed ones (``a``, ``b``)."""
        return limit_parameter_words(
            self, "p", lambda p, unit: point_dropout_words(p, BGNBD_DROPOUT),
            (("a", "b"), lambda a, b, unit: beta_dropout_words(a, b, BGNBD_DROPOUT)))

    def _loglik_and_grad(self, log_params, arrays, weights):
        ll, grad = type(self)._log_likelihood(*np.exp(log_params), arrays["x"], arrays["t_x"],
                                              arrays["T"], gradient=True)
        return float(weights @ ll), grad @ weights

    def _pymc_log_likelihood(self, params, arrays, weights):
        ops = pytensor_ops()
        ll = type(self)._log_likelihood(*(params[n] for n in self.param_names), arrays["x"],
                                        arrays["t_x"], arrays["T"], ops=ops)
        return ops.dot(weights, ll)

    def _start_values(self, arrays, weights) -> dict:
        """Starting values by name: the rate from the average ``x / T``, shapes at 1."""
        alpha0 = self._start_alpha(arrays, weights)
        return {"r": 1.0, "alpha": alpha0, "lam": 1.0 / alpha0, "a": 1.0, "b": 1.0, "p": 0.2}

    def _start(self, arrays, weights):
        values = self._start_values(arrays, weights)
        return np.log([values[n] for n in self.param_names])

    def _fact(self, mixing: str) -> str:
        fact, _ = _FACTS[mixing]
        if mixing == "dropout":
            return f"{fact}: {self._estimate('p')}"
        unit = self.time_unit_ or "time unit"
        return f"{fact}: {self._estimate('lam').replace(' (95%', f' per {unit} (95%', 1)}"

    def _estimate(self, name: str) -> str:
        small = float(self.params_[name]) < 0.01
        return estimate_text(self, name, digits=6 if small else 4)

    def _boundary_message(self, full_name, lr, p_value, collapsed) -> str:
        pairs = [_FACTS[m][1] for m in collapsed]
        grow = (f"{pairs[0]} grow without bound together" if len(pairs) == 1 else
                f"{', and '.join(pairs)}, grow without bound (each pair together)")
        uses = f"{self._words}, the {full_name}'s limit as {grow}"
        return boundary_statement([self._fact(m) for m in collapsed], full_name, lr, p_value,
                                  uses)


@register_model
class BetaGeoHomogeneousModel(_BetaGeoLimit):
    """The BG/NBD with every customer the same: she buys as a Poisson process at rate
    ``lam`` while alive and drops out with probability ``p`` after each purchase, so she
    makes a geometric number of purchases before dropping out. The BG/NBD's limit as
    ``a, b -> inf`` (``a / (a+b) = p``) and ``r, alpha -> inf`` (``r / alpha = lam``).

    A BG/NBD fit (or a fit of :class:`BetaGeoHomogeneousDropoutModel` or
    :class:`BetaGeoHomogeneousRateModel`) becomes this model when the data show no
    heterogeneity (:meth:`~clvmodels.models.base.BaseModel.fit`); it can be fitted
    directly too. ``lam`` is per time unit of the summary.

    Examples
    --------
    Customers with the same rate 0.06 a week and drop-out probability 0.25 (``a`` and
    ``b`` so large that every simulated ``p`` is 0.25 to five digits):

    >>> from clvmodels import simulate_bgnbd
    >>> data = simulate_bgnbd(5000, 6e8, 1e10, 2.5e9, 7.5e9, T=52.0, random_state=1)
    >>> model = BetaGeoHomogeneousModel().fit(data)
    >>> model.params_.round(2).tolist()
    [0.06, 0.25]
    """

    param_names = ("lam", "p")
    # lam is a rate per time unit (about 0.05 a week, 0.007 a day): wide, like alpha's;
    # p is a probability sampled on the log scale like the geometric churn model's
    default_priors = {"lam": LogNormal(0.0, 3.0), "p": LogNormal(-2.0, 2.0)}
    reference = "Fader, Hardie & Lee (2005): the BG/NBD with point masses (no heterogeneity)"
    formulas = {
        "probability_alive": point_both_probability_alive,
        "conditional_expected_purchases": point_both_conditional_expected_purchases,
        "expected_purchases_new": point_both_expected_purchases_new,
        "probability_of_purchases": point_both_probability_of_purchases,
        "discounted_purchases_if_alive": point_both_discounted_purchases_if_alive,
        "simulate_future": point_both_simulate_future,
    }
    _log_likelihood = staticmethod(point_both_log_likelihood)
    _words = ("the homogeneous BG/NBD (BetaGeoHomogeneousModel: Poisson purchases and a "
              "geometric number of purchases before drop-out)")
    limit_models = {}


@register_model
class BetaGeoHomogeneousDropoutModel(_BetaGeoLimit):
    """The BG/NBD with one drop-out probability ``p`` for every customer and purchase
    rates ``lambda ~ Gamma(r, alpha)``: the BG/NBD's limit as ``a, b -> inf`` with
    ``a / (a+b) = p``.

    A BG/NBD fit becomes this model when its drop-out beta collapses
    (:meth:`~clvmodels.models.base.BaseModel.fit`); if the purchase-rate gamma
    collapses too, it becomes :class:`BetaGeoHomogeneousModel`.

    Examples
    --------
    >>> from clvmodels import simulate_bgnbd
    >>> data = simulate_bgnbd(5000, 0.8, 10.0, 2.5e9, 7.5e9, T=52.0, random_state=1)
    >>> model = BetaGeoHomogeneousDropoutModel().fit(data)
    >>> model.params_.round(2).tolist()  # simulated: 0.8, 10, 0.25
    [0.8, 9.87, 0.25]
    """

    param_names = ("r", "alpha", "p")
    default_priors = {"r": LogNormal(0.0, 2.0), "alpha": LogNormal(0.0, 3.0),
                      "p": LogNormal(-2.0, 2.0)}
    reference = "Fader, Hardie & Lee (2005): the BG/NBD with a point-mass drop-out probability"
    formulas = {
        "probability_alive": point_p_probability_alive,
        "conditional_expected_purchases": point_p_conditional_expected_purchases,
        "expected_purchases_new": point_p_expected_purchases_new,
        "probability_of_purchases": point_p_probability_of_purchases,
        "discounted_purchases_if_alive": point_p_discounted_purchases_if_alive,
        "simulate_future": point_p_simulate_future,
    }
    _log_likelihood = staticmethod(point_p_log_likelihood)
    _words = ("the BG/NBD with one drop-out probability (BetaGeoHomogeneousDropoutModel: "
              "gamma purchase rates)")
    limit_models = {"purchase": BetaGeoHomogeneousModel}

    def mixing_spread(self, params):
        """``1 / (1 + r)``: the purchase-rate gamma's spread; 0 when every customer buys
        at the same rate."""
        return {"purchase": gamma_spread(params["r"])}


@register_model
class BetaGeoHomogeneousRateModel(_BetaGeoLimit):
    """The BG/NBD with one purchase rate ``lam`` for every customer and drop-out
    probabilities ``p ~ Beta(a, b)``: the BG/NBD's limit as ``r, alpha -> inf`` with
    ``r / alpha = lam``.

    A BG/NBD fit becomes this model when its purchase-rate gamma collapses
    (:meth:`~clvmodels.models.base.BaseModel.fit`); if the drop-out beta collapses too,
    it becomes :class:`BetaGeoHomogeneousModel`. ``lam`` is per time unit.

    Examples
    --------
    >>> from clvmodels import simulate_bgnbd
    >>> data = simulate_bgnbd(5000, 6e8, 1e10, 0.8, 2.4, T=52.0, random_state=1)
    >>> model = BetaGeoHomogeneousRateModel().fit(data)
    >>> model.params_.round(2).tolist()  # simulated: 0.06, 0.8, 2.4
    [0.06, 0.7, 2.14]
    """

    param_names = ("lam", "a", "b")
    default_priors = {"lam": LogNormal(0.0, 3.0), "a": LogNormal(0.0, 2.0),
                      "b": LogNormal(0.0, 2.0)}
    reference = "Fader, Hardie & Lee (2005): the BG/NBD with a point-mass purchase rate"
    formulas = {
        "probability_alive": point_lam_probability_alive,
        "conditional_expected_purchases": point_lam_conditional_expected_purchases,
        "expected_purchases_new": point_lam_expected_purchases_new,
        "probability_of_purchases": point_lam_probability_of_purchases,
        "discounted_purchases_if_alive": point_lam_discounted_purchases_if_alive,
        "simulate_future": point_lam_simulate_future,
    }
    _log_likelihood = staticmethod(point_lam_log_likelihood)
    _words = ("the BG/NBD with one purchase rate (BetaGeoHomogeneousRateModel: beta drop-out "
              "probabilities)")
    limit_models = {"dropout": BetaGeoHomogeneousModel}

    def mixing_spread(self, params):
        """``1 / (a + b + 1)``: the drop-out beta's spread; 0 when every customer has the
        same drop-out probability."""
        return {"dropout": beta_spread(params["a"], params["b"])}


BetaGeoModel.limit_models = {"dropout": BetaGeoHomogeneousDropoutModel,
                             "purchase": BetaGeoHomogeneousRateModel}
