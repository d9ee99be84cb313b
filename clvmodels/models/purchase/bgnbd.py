"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your
Customers the Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science
24(2)).

While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``
(shape ``r``, rate ``alpha``); after each repeat purchase she drops out with
probability ``p ~ Beta(a, b)``. A customer's data are ``x`` repeat purchases, the time
of the last one ``t_x`` and her age ``T``, all measured from her first purchase.

Every formula here broadcasts: parameters may be scalars or arrays of draws shaped to
broadcast against the customer arrays (e.g. ``(n_draws, 1)`` against ``(n,)``), which
is how one prediction path serves point fits and posterior draws alike.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ...data.compress import compress_rows
from ...priors import LogNormal
from ..backend import NUMPY, pytensor_ops
from ..boundary import beta_spread, gamma_spread
from ..covariates import with_covariates
from ..inputs import summary_arrays
from ..registry import register_model
from .base import (
    PurchaseModel,
    broadcast_flat,
    draw_alive,
    expected_cumulative_purchases,
    simulate_live_customers,
)
from .bgnbd_kernel import repeat_term, repeat_term_data, repeat_term_pytensor

__all__ = [
    "BetaGeoModel",
    "bgnbd_log_likelihood",
    "bgnbd_total_log_likelihood",
    "bgnbd_statistics",
    "bgnbd_probability_alive",
    "bgnbd_expected_purchases_new",
    "bgnbd_conditional_expected_purchases",
    "bgnbd_probability_of_purchases",
    "bgnbd_discounted_purchases_if_alive",
    "bgnbd_expected_cumulative_purchases",
    "bgnbd_alive_draws",
    "bgnbd_live_state",
    "bgnbd_simulate_future",
]


def _log_odds(ops, r, alpha, a, b, x, log_at, log_atx):
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))**(r+x), finite for every row
    (for x == 0 it is a placeholder the callers mask out)."""
    return ops.log(a) - ops.log(b + np.maximum(x - 1.0, 0.0)) + (r + x) * (log_at - log_atx)


def bgnbd_log_likelihood(r, alpha, a, b, frequency, recency, T, *, gradient=False, ops=NUMPY,
                         compiled=True):
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6), in log space.

    ``log L = log B(a, b+x) - log B(a, b) + log G(r+x) - log G(r) + r log(alpha)
    - (r+x) log(alpha+T) + [x>0] log(1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``,
    the last term as a soft-plus so it stays finite for x up to 1e5 and T up to 1e4.
    Fits sum it over customers through :func:`bgnbd_total_log_likelihood`, the same
    terms regrouped (held equal to the sum of this function by a test). With the numpy
    back-end the compiled kernel of :mod:`clvmodels.models.purchase.row_kernels`
    evaluates it (a covariate model's fit calls it on every row at every step); the
    formulas below are its reference (``compiled=False``) and build the PyMC graph.

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
    >>> ll = bgnbd_log_likelihood(0.2426, 4.4135, 0.7929, 2.4258, np.array([0, 2]),
    ...                           np.array([0.0, 30.43]), np.array([38.86, 38.86]))
    >>> np.round(ll, 4)
    array([-0.5538, -9.4597])
    """
    if ops is NUMPY and compiled:
        from .row_kernels import beta_geometric_row_log_likelihood

        return beta_geometric_row_log_likelihood(r, alpha, a, b, frequency, recency, T,
                                                 modified=False, gradient=gradient)
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    xpos = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        k_x = (ops.betaln(a, b + x) - ops.betaln(a, b)
               + ops.gammaln(r + x) - ops.gammaln(r) + r * ops.log(alpha))
        log_at = ops.log(alpha + T)
        log_atx = ops.log(alpha + t_x)
        z = _log_odds(ops, r, alpha, a, b, x, log_at, log_atx)
        ll = k_x - (r + x) * log_at + ops.where(xpos, ops.logaddexp(0.0, z), 0.0)
        if not gradient:
            return ll
        if ops is not NUMPY:
            raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
        s = r + x
        pi = np.where(xpos, special.expit(z), 0.0)
        d_log = log_at - log_atx
        g_r = r * (special.digamma(r + x) - special.digamma(r) + np.log(alpha)
                   - log_at + pi * d_log)
        inv_at, inv_atx = np.exp(-log_at), np.exp(-log_atx)
        g_alpha = alpha * (r / alpha - s * inv_at + pi * s * (inv_at - inv_atx))
        g_a = a * (special.digamma(a + b) - special.digamma(a + b + x)) + pi
        g_b = b * (special.digamma(b + x) - special.digamma(a + b + x)
                   - special.digamma(b) + special.digamma(a + b)
                   - pi / (b + np.maximum(x - 1.0, 0.0)))
    return ll, np.stack([g_r, g_alpha, g_a, g_b])


def grouped_weights(frequency, T, weights) -> dict:
    """Weights per distinct ``x`` and per distinct ``T`` (and of ``x`` per ``T``): what
    the regrouped likelihoods of the beta-geometric models sum their smooth terms over."""
    x = np.asarray(frequency, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    ux, ix = np.unique(x, return_inverse=True)
    uT, iT = np.unique(np.asarray(T, dtype=np.float64), return_inverse=True)
    return {"ux": ux, "w_x": np.bincount(ix, weights=w, minlength=ux.size),
            "uT": uT, "w_T": np.bincount(iT, weights=w, minlength=uT.size),
            "wx_T": np.bincount(iT, weights=w * x, minlength=uT.size)}


def bgnbd_statistics(frequency, recency, T, weights) -> dict:
    """What :func:`bgnbd_total_log_likelihood` needs, computed once per fit from the
    (compressed) rows and their weights: weights per distinct ``x`` and per distinct
    ``T``, and the compiled kernel's data for the rows with repeat purchases, the only
    ones whose likelihood couples ``x``, ``t_x`` and ``T``."""
    x = np.asarray(frequency, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    rep = x > 0
    return {**grouped_weights(x, T, w),
            "repeat": repeat_term_data(x[rep], np.asarray(recency, dtype=np.float64)[rep],
                                       np.asarray(T, dtype=np.float64)[rep], w[rep])}


def bgnbd_total_log_likelihood(r, alpha, a, b, stats, *, gradient=False, ops=NUMPY):
    """Weighted sum of :func:`bgnbd_log_likelihood` over customers, regrouped:
    terms in ``x`` alone are summed per distinct ``x``, ``(r+x) log(alpha+T)`` per
    distinct ``T``, and only the soft-plus term is evaluated per row, for rows with
    repeat purchases, by the compiled kernel of :mod:`clvmodels.models.purchase.bgnbd_kernel`.
    The maximum-likelihood fit (numpy, with ``gradient=True``: the gradient w.r.t. the
    log parameters) and the PyMC model (``ops=pytensor_ops()``) both use this function.

    >>> st = bgnbd_statistics(np.array([0, 2]), np.array([0.0, 30.43]),
    ...                       np.array([38.86, 38.86]), np.array([1.0, 1.0]))
    >>> round(float(bgnbd_total_log_likelihood(0.2426, 4.4135, 0.7929, 2.4258, st)), 4)
    -10.0135
    """
    return regrouped_log_likelihood(r, alpha, a, b, stats, b_shift=0.0, r_shift=0.0,
                                    gradient=gradient, ops=ops)


def regrouped_log_likelihood(r, alpha, a, b, stats, *, b_shift, r_shift, gradient=False,
                             ops=NUMPY):
    """The beta-geometric models' summed likelihood, regrouped: per distinct ``x``
    ``log B(a, b+x+b_shift) - log B(a, b) + log G(r+x) - log G(r) + r log(alpha)``, per
    distinct ``T`` ``-(r+x) log(alpha+T)``, and per kernel row the compiled soft-plus
    at ``r + r_shift`` (BG/NBD: shifts 0; MBG/NBD: ``b_shift = 1``, ``r_shift = -1`` with
    the kernel read at ``x + 1``). With ``gradient`` (numpy) also the gradient w.r.t.
    the log parameters."""
    if ops is not NUMPY:  # data as shared variables: a compiled graph cached across data sets
        stats = {k: v if k == "repeat" else ops.data(v) for k, v in stats.items()}
    u, w_x = stats["ux"], stats["w_x"]
    per_x = (ops.betaln(a, b + u + b_shift) - ops.betaln(a, b) + ops.gammaln(r + u)
             - ops.gammaln(r) + r * ops.log(alpha))
    log_aT = ops.log(alpha + stats["uT"])
    smooth = ops.dot(w_x, per_x) - ops.dot(r * stats["w_T"] + stats["wx_T"], log_aT)
    if ops is not NUMPY:
        if gradient:
            raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates "
                             "itself")
        return smooth + repeat_term_pytensor(r + r_shift, alpha, a, b, stats["repeat"])
    rep, g_rep = repeat_term(r + r_shift, alpha, a, b, stats["repeat"])
    total = smooth + rep
    if not gradient:
        return total
    inv_aT = 1.0 / (alpha + stats["uT"])
    dg = special.digamma
    bu = b + u + b_shift
    g_r = r * (w_x @ (dg(r + u) - dg(r) + np.log(alpha)) - stats["w_T"] @ log_aT + g_rep[0])
    g_alpha = alpha * (w_x.sum() * r / alpha - (r * stats["w_T"] + stats["wx_T"]) @ inv_aT
                       + g_rep[1])
    g_a = a * (w_x @ (dg(a + b) - dg(a + bu)) + g_rep[2])
    g_b = b * (w_x @ (dg(bu) - dg(a + bu) - dg(b) + dg(a + b)) + g_rep[3])
    return float(total), np.array([g_r, g_alpha, g_a, g_b])


def bgnbd_probability_alive(r, alpha, a, b, frequency, recency, T):
    """P(alive at T | x, t_x, T) (FHL 2005, eq. 11); 1 for customers with x = 0.

    >>> float(np.round(bgnbd_probability_alive(0.2425982, 4.413684, 0.7929899, 2.426167,
    ...                                        26, 30.857, 31), 5))
    0.96885
    """
    x = np.asarray(frequency, dtype=np.float64)
    with np.errstate(divide="ignore"):
        z = _log_odds(NUMPY, r, alpha, a, b, x, np.log(alpha + np.asarray(T, float)),
                      np.log(alpha + np.asarray(recency, float)))
    return np.where(x > 0, special.expit(-z), 1.0)


def _nudge_a(a):
    """Formulas with (a - 1) in a denominator are continuous at a = 1; evaluate next to it."""
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.abs(a - 1.0) < 1e-7, 1.0 + 1e-7, a)


def bgnbd_expected_purchases_new(r, alpha, a, b, t):
    """E[X(t)] for a customer just acquired (FHL 2005, eq. 9).

    >>> float(np.round(bgnbd_expected_purchases_new(0.2425982, 4.413684, 0.7929899, 2.426167, 52), 4))
    1.444
    """
    a = _nudge_a(a)
    t = np.asarray(t, dtype=np.float64)
    z = t / (alpha + t)
    tail = np.exp(r * np.log(alpha / (alpha + t))) * special.hyp2f1(r, b, a + b - 1.0, z)
    return (a + b - 1.0) / (a - 1.0) * (1.0 - tail)


_BETA_NODES, _BETA_WEIGHTS = np.polynomial.legendre.leggauss(64)


def _beta_expectation(g, A, B, *args):
    """``E[g(p, *args)]`` for ``p ~ Beta(A, B)`` by 64-point Gauss-Legendre quadrature
    over ``mean +- 12 sd`` (clipped to (0, 1)), the density in log space and normalized
    on the same nodes. Accurate for the concentrated betas (``A + B`` in the hundreds
    and beyond) where the hypergeometric closed forms overflow; elementwise over
    equally shaped 1-d arrays.

    >>> e = _beta_expectation(lambda p: p * p, np.array([3e4]), np.array([7e4]))
    >>> bool(np.isclose(e[0], 0.3 * 0.3 + 0.21 / 1e5, rtol=1e-9))
    True
    """
    m = A / (A + B)
    sd = np.sqrt(m * (1.0 - m) / (A + B + 1.0))
    lo = np.maximum(m - 12.0 * sd, 0.0)[:, None]
    hi = np.minimum(m + 12.0 * sd, 1.0)[:, None]
    p = lo + (hi - lo) * (_BETA_NODES + 1.0) / 2.0
    with np.errstate(divide="ignore"):
        logf = (A[:, None] - 1.0) * np.log(p) + (B[:, None] - 1.0) * np.log1p(-p)
    w = _BETA_WEIGHTS * np.exp(logf - logf.max(axis=1, keepdims=True))
    return (w * g(p, *(v[:, None] for v in args))).sum(axis=1) / w.sum(axis=1)


def _repair_concentrated(out, g, a, b_x, *args):
    """Where a closed form gave no finite value for a concentrated beta (``a + b`` in
    the thousands), the same expectation over ``p ~ Beta(a, b_x)`` by quadrature. Only
    for ``a, b_x >= 2`` (a density without end-point singularities, where the
    quadrature agrees with the closed forms to 1e-8 or better); other failures stay NaN
    rather than become a number of unknown accuracy."""
    full = np.broadcast_arrays(out, a, b_x, *args)
    bad = ~np.isfinite(full[0]) & (full[1] >= 2.0) & (full[2] >= 2.0)
    if not bad.any():
        return out
    out = np.array(full[0], dtype=np.float64)
    picked = [v[bad] for v in full[1:]]
    out[bad] = _beta_expectation(g, picked[0], picked[1], *picked[2:])
    return out


def _alive_expectation_integrand(p, s, beta, t):
    """``(1 - (beta/(beta + p t))^s) / p``: expected purchases in ``t`` of a live customer
    with drop-out probability ``p`` and ``lambda ~ Gamma(s, beta)``."""
    return -np.expm1(-s * np.log1p(p * t / beta)) / p


def _rate_integrand(p, s, beta, u):
    """``E[lambda exp(-p lambda u)] / (s / beta)`` given ``p``: ``(1 + p u/beta)^-(s+1)``."""
    return np.exp(-(s + 1.0) * np.log1p(p * u / beta))


def bgnbd_conditional_expected_purchases(r, alpha, a, b, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T] (FHL 2005, eq. 10).

    Evaluated after Euler's transformation of the hypergeometric term,
    ``(1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)`` with
    ``c = a+b+x-1`` and ``z = t/(alpha+T+t)``, which stays bounded for large ``x``.

    >>> float(np.round(bgnbd_conditional_expected_purchases(
    ...     0.2425982, 4.413684, 0.7929899, 2.426167, 2, 30.43, 38.86, 39), 4))
    1.2259
    """
    a = _nudge_a(a)
    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    c = a + b + x - 1.0
    one_minus_z = (alpha + T) / (alpha + T + t)
    with np.errstate(invalid="ignore", over="ignore"):
        tail = np.exp((a - 1.0) * np.log(one_minus_z)) * special.hyp2f1(
            a + b - 1.0 - r, a - 1.0, c, 1.0 - one_minus_z
        )
        if_alive = c / (a - 1.0) * (1.0 - tail)
    if_alive = _repair_concentrated(if_alive, _alive_expectation_integrand, a, b + x, r + x,
                                    alpha + T, t)
    return if_alive * bgnbd_probability_alive(r, alpha, a, b, x, recency, T)


def bgnbd_probability_of_purchases(r, alpha, a, b, k, t):
    """P(X(t) = k) for a customer just acquired (FHL 2005, eq. 8).

    ``k`` is an array of non-negative integers; the result broadcasts ``k`` against
    ``t`` and the parameters.

    >>> p = bgnbd_probability_of_purchases(0.2426, 4.4135, 0.7929, 2.4258, np.arange(200), 52.0)
    >>> float(np.round(p.sum(), 6))
    1.0
    """
    k = np.asarray(k, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    # the NB(r, alpha/(alpha+t)) probabilities for j = 0..max(k) are computed once per
    # (t, parameter) combination and then picked out at each k: memory grows with
    # max(k) times the t grid, not with max(k) times the whole (k, t) grid
    base = np.broadcast_shapes(np.shape(t), np.shape(r), np.shape(alpha))
    out = np.broadcast_shapes(np.shape(k), base)
    log_q0 = np.broadcast_to(r * np.log(alpha / (alpha + t)), base)
    log_q1 = np.broadcast_to(np.log(t / (alpha + t)), base)
    kmax = int(np.max(k)) if k.size else 0
    j = np.arange(kmax + 1, dtype=np.float64).reshape((-1,) + (1,) * len(base))
    nb = np.exp(special.gammaln(r + j) - special.gammaln(r) - special.gammaln(j + 1.0)
                + log_q0 + j * log_q1)
    cdf_before = np.cumsum(nb, axis=0) - nb  # sum_{j < k} NB(j)
    lead = (1,) * (len(out) - len(base))
    nb = nb.reshape((kmax + 1,) + lead + base)
    cdf_before = cdf_before.reshape(nb.shape)
    ki = np.broadcast_to(k.astype(np.int64), out)[None]
    nb_k = np.take_along_axis(nb, ki, axis=0)[0]
    cdf_k = np.take_along_axis(cdf_before, ki, axis=0)[0]
    first = np.exp(special.betaln(a, b + k) - special.betaln(a, b)) * nb_k
    with np.errstate(divide="ignore", invalid="ignore"):
        second = np.exp(special.betaln(a + 1.0, b + k - 1.0) - special.betaln(a, b)) * (1.0 - cdf_k)
    return first + np.where(k > 0, second, 0.0)


# Gauss-Legendre nodes on [0, 1] for discounting integrals over the horizon.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)
_GL_X = (_GL_X + 1.0) / 2.0
_GL_W = _GL_W / 2.0


def bgnbd_discounted_purchases_if_alive(r, alpha, a, b, frequency, T, horizon, delta):
    """Expected discounted purchases in (T, T+horizon] for a customer alive at T.

    Continuous discounting: a purchase ``u`` time units after ``T`` counts
    ``exp(-delta u)``. Given alive at ``T``, ``lambda ~ Gamma(r+x, alpha+T)`` and
    ``p ~ Beta(a, b+x)`` independently, and purchases arrive at rate
    ``lambda exp(-p lambda u)``, whose expectation is
    ``(r+x)/(alpha+T) (1+u/(alpha+T))^(-a) 2F1(a, a+b-r-1; a+b+x; u/(alpha+T+u))``.
    With ``delta = 0`` the closed form (FHL 2005, eq. 10, divided by P(alive)) is
    used; otherwise 12-point Gauss-Legendre quadrature over ``log(1 + u/(alpha+T))``,
    accurate to 1e-6 relative while ``delta * horizon <= 10`` (tested against 300
    nodes). Multiply by
    :func:`bgnbd_probability_alive` for the unconditional value. Depends on the
    customer only through ``(x, T)``, so callers can evaluate it per distinct pair.

    >>> pars = (0.2425982, 4.413684, 0.7929899, 2.426167)
    >>> e0 = bgnbd_discounted_purchases_if_alive(*pars, 2, 38.86, 39.0, 0.0)
    >>> e1 = bgnbd_discounted_purchases_if_alive(*pars, 2, 38.86, 39.0, 1e-12)
    >>> bool(np.isclose(e0, e1, rtol=1e-9))
    True
    """
    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    if float(delta) == 0.0:
        a_ = _nudge_a(a)
        c = a_ + b + x - 1.0
        one_minus_z = (alpha + T) / (alpha + T + horizon)
        with np.errstate(invalid="ignore", over="ignore"):
            tail = np.exp((a_ - 1.0) * np.log(one_minus_z)) * special.hyp2f1(
                a_ + b - 1.0 - r, a_ - 1.0, c, 1.0 - one_minus_z
            )
            out = c / (a_ - 1.0) * (1.0 - tail)
        return _repair_concentrated(out, _alive_expectation_integrand, a_, b + x, r + x,
                                    alpha + T, horizon)
    beta = alpha + T
    # substitute u = beta (exp(v) - 1): the rate's steep start for small beta is
    # spread out, so few nodes integrate it to ~1e-7 relative even for long horizons
    v_end = np.log1p(horizon / beta)
    total = 0.0
    for node, weight in zip(_GL_X, _GL_W):
        v = node * v_end
        u = np.expm1(v) * beta
        with np.errstate(invalid="ignore", over="ignore"):  # E over p of (1 + p u/beta)^-(r+x+1)
            h = np.exp(-a * v) * special.hyp2f1(a, a + b - r - 1.0, a + b + x, u / (beta + u))
        rate = (r + x) / beta * _repair_concentrated(h, _rate_integrand, a, b + x, r + x, beta, u)
        total = total + weight * np.exp(-delta * u) * rate * beta * np.exp(v)
    return total * v_end


def bgnbd_alive_draws(r, alpha, a, b, frequency, recency, T, rng, alive_probability=None):
    """Whether each simulated customer is alive at ``T``: ``Bernoulli(P(alive))``
    (:func:`bgnbd_probability_alive`, or the caller's ``alive_probability``), drawn only
    for ``x > 0`` (alive for sure otherwise). All arguments flat arrays of one length;
    returns a boolean array."""
    return draw_alive(rng, frequency.shape, alive_probability,
                      lambda i: bgnbd_probability_alive(r[i], alpha[i], a[i], b[i],
                                                        frequency[i], recency[i], T[i]),
                      where=np.flatnonzero(frequency > 0))


def bgnbd_live_state(r, alpha, a, b, frequency, T, alive, rng):
    """The latent state of the simulated customers alive at ``T`` given ``x`` repeat
    purchases by ``T``: ``lambda ~ Gamma(r+x, alpha+T)``, ``p ~ Beta(a, b+x)`` and the
    purchase after which she drops out, ``Geometric(p)``. Flat arrays of one length;
    returns ``(live, lambda, last_purchase)``, ``live`` the positions of the alive."""
    live = np.flatnonzero(alive)
    x = frequency[live]
    lam = rng.standard_gamma(r[live] + x) / (alpha[live] + T[live])
    drop = rng.beta(a[live], b[live] + x)
    last = rng.geometric(np.clip(drop, 1e-12, 1.0))
    return live, lam, last


def bgnbd_live_future(r, alpha, a, b, frequency, recency, T, rng):
    """The latent state of customers known to be alive at ``T`` (the broadcast shape of
    the arguments, flattened): purchase rate ``lambda``, the purchase after which she
    drops out, and her lifetime from ``T`` (infinite: she leaves by a purchase), from
    :func:`bgnbd_live_state`. For compiled simulators of the same process
    (:mod:`clvmodels.value.predictive`); :func:`bgnbd_simulate_future` is the reference.

    >>> lam, last, life = bgnbd_live_future(0.24, 4.41, 0.79, 2.43, np.array([2.0]), 30.4,
    ...                                     38.9, np.random.default_rng(0))
    >>> lam.shape, bool(last[0] >= 1), life.tolist()
    ((1,), True, [inf])
    """
    _, (r, alpha, a, b, x, _, T) = broadcast_flat(r, alpha, a, b, frequency, recency, T)
    _, lam, last = bgnbd_live_state(r, alpha, a, b, x, T, np.ones(x.size, dtype=bool), rng)
    return lam, last, np.full(x.size, np.inf)


def bgnbd_simulate_future(r, alpha, a, b, frequency, recency, T, horizon, delta, rng,
                          amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history.

    Alive at ``T`` with P(alive) (:func:`bgnbd_alive_draws`); if alive, ``lambda ~
    Gamma(r+x, alpha+T)`` and ``p ~ Beta(a, b+x)`` (:func:`bgnbd_live_state`), then
    Poisson purchases at rate ``lambda``, dropping out after each with probability
    ``p``. Parameters and customer arrays broadcast against each other (e.g.
    ``(n_rows, n_samples)`` draws against ``(n_rows, 1)`` customers); returns the
    counts and discounted counts (and discounted ``amounts``) of that shape, see
    :mod:`clvmodels.models.purchase.base`.

    >>> rng = np.random.default_rng(0)
    >>> n, d = bgnbd_simulate_future(*(np.full((1, 100_000), v) for v in
    ...     (0.2425982, 4.413684, 0.7929899, 2.426167)), 2, 30.43, 38.86, 39.0, 0.0, rng)
    >>> round(float(n.mean()), 1), bool((n == d).all())  # E = 1.2259
    (1.2, True)
    """
    shape, (r, alpha, a, b, x, t_x, T) = broadcast_flat(r, alpha, a, b, frequency, recency, T)
    given = (None if alive_probability is None
             else np.broadcast_to(np.asarray(alive_probability, dtype=np.float64), shape).ravel())
    alive = bgnbd_alive_draws(r, alpha, a, b, x, t_x, T, rng, given)
    live, lam, last = bgnbd_live_state(r, alpha, a, b, x, T, alive, rng)
    return simulate_live_customers(shape, live, lam, last, float(horizon), delta, rng, amounts)


# ------------------------------------------------------------- in plain words
def _n(v: float) -> str:
    """A fitted value for a sentence: three significant digits."""
    return f"{v:.3g}"


def unit_words(model) -> tuple[str, float | None]:
    """The model's time unit for a sentence and how many of them make a year (None
    when the unit is unknown)."""
    from ...timeunits import convert_duration

    unit = getattr(model, "time_unit_", None)
    if not unit:
        return "time unit", None
    return unit, convert_duration(1.0, "year", unit)


def rate_words(mean: float, unit: str, per_year: float | None) -> str:
    """'0.055 times a week (2.87 a year)'."""
    year = f" ({_n(mean * per_year)} a year)" if per_year and unit != "year" else ""
    return f"{_n(mean)} times a {unit}{year}"


def gamma_rate_words(shape: float, rate: float, unit: str, per_year: float | None,
                     shape_name: str = "r", rate_name: str = "alpha") -> tuple[str, str]:
    """The two sentences of a gamma mixing of purchase rates (shape, rate)."""
    spread = ("below 1, so most customers buy rarely and a few often" if shape < 1 else
              "at least 1, so most customers buy at rates not far from the average")
    first = (f"While active, customers buy at rates that vary between customers as a gamma "
             f"distribution with shape {shape_name} = {_n(shape)} and rate {rate_name}: "
             f"{spread} (the rates' standard deviation is {_n(shape ** -0.5)} times their "
             "mean).")
    second = (f"The rate of that gamma distribution, {rate_name} = {_n(rate)} {unit}s: the "
              f"average active customer buys {shape_name}/{rate_name} = "
              f"{rate_words(shape / rate, unit, per_year)}.")
    return first, second


def point_rate_words(lam: float, unit: str, per_year: float | None,
                     name: str = "lam") -> str:
    """The sentence of a purchase rate shared by every customer."""
    return (f"Every customer buys at the same rate while active, {name} = "
            f"{rate_words(lam, unit, per_year)}: the data show no difference between "
            "customers in how often they buy.")


def beta_dropout_words(a: float, b: float, when: str) -> tuple[str, str]:
    """The two sentences of a beta mixing of drop-out probabilities (a, b)."""
    mean = a / (a + b)
    first = (f"{when[:1].upper() + when[1:]} a customer drops out for good with a "
             f"probability that varies between customers as a beta distribution with a = "
             f"{_n(a)} and b = {_n(b)}: on average a/(a+b) = {mean:.1%} each time.")
    second = (f"Together with a, b = {_n(b)} sets that drop-out probability; a + b = "
              f"{_n(a + b)} says how alike customers are in it (the larger, the more alike).")
    return first, second


def point_dropout_words(p: float, when: str, name: str = "p") -> str:
    """The sentence of a drop-out probability shared by every customer."""
    return (f"{when[:1].upper() + when[1:]} every customer drops out for good with the same "
            f"probability {name} = {p:.1%}; she makes {_n(1 / p)} purchases on average "
            "before dropping out.")


#: when a BG/NBD customer may drop out
BGNBD_DROPOUT = "after each repeat purchase"


def limit_parameter_words(model, dropout: str, point_dropout, mixed_dropout) -> dict:
    """The parameters of a nested limit model in words, with the fitted values: a shared
    purchase rate ``lam`` or gamma-distributed rates (``r``, ``alpha``), and the
    drop-out side, ``dropout`` naming its one shared parameter: ``point_dropout(value,
    unit)`` words it, else ``mixed_dropout`` is ``((name, name), words(v1, v2, unit))``
    for its mixing distribution's two."""
    model._require_fitted()
    v = model.point_params()
    unit, per_year = unit_words(model)
    out = {}
    if "lam" in v:
        out["lam"] = point_rate_words(v["lam"], unit, per_year)
    else:
        out["r"], out["alpha"] = gamma_rate_words(v["r"], v["alpha"], unit, per_year)
    if dropout in v:
        out[dropout] = point_dropout(v[dropout], unit)
    else:
        (n1, n2), words = mixed_dropout
        out[n1], out[n2] = words(v[n1], v[n2], unit)
    return out


@register_model
class BetaGeoModel(PurchaseModel):
    """BG/NBD model of repeat purchases, fitted by ``fit(summary, method=...)`` with
    ``"mle"`` (default), ``"map"``, ``"mcmc"`` or ``"advi"``.

    ``summary`` needs ``frequency``, ``recency`` and ``T`` (see
    :func:`clvmodels.rfm_summary`). Settings are those of
    :class:`~clvmodels.models.base.BaseModel`; default priors are in
    :mod:`clvmodels.priors`.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = BetaGeoModel(random_state=1).fit(load_cdnow_summary())
    >>> model.params_.round(3).tolist()
    [0.243, 4.414, 0.793, 2.426]
    """

    param_names = ("r", "alpha", "a", "b")
    default_priors = {"r": LogNormal(0.0, 2.0), "alpha": LogNormal(0.0, 3.0),
                      "a": LogNormal(0.0, 2.0), "b": LogNormal(0.0, 2.0)}
    reference = "Fader, Hardie & Lee (2005), Marketing Science 24(2)"
    row_likelihood = staticmethod(bgnbd_log_likelihood)
    covariate_links = {"purchase": (("alpha", -1),), "dropout": (("a", 1), ("b", 1))}
    formulas = {
        "probability_alive": bgnbd_probability_alive,
        "conditional_expected_purchases": bgnbd_conditional_expected_purchases,
        "expected_purchases_new": bgnbd_expected_purchases_new,
        "probability_of_purchases": bgnbd_probability_of_purchases,
        "discounted_purchases_if_alive": bgnbd_discounted_purchases_if_alive,
        "simulate_future": bgnbd_simulate_future,
        "live_state": bgnbd_live_future,
    }

    def _prepare(self, data):
        arr = summary_arrays(data, type(self).__name__)
        comp = compress_rows(arr, ["frequency", "recency", "T"])
        u = comp.unique
        arrays = {"x": u["frequency"], "T": u["T"],
                  "stats": bgnbd_statistics(u["frequency"], u["recency"], u["T"], comp.weights)}
        return arrays, comp.weights

    def _start(self, arrays, weights):
        alpha0 = self._start_alpha(arrays, weights)
        return np.log([1.0, alpha0, 1.0, 1.0])

    def mixing_spread(self, params):
        """How far each mixing is from a point (:mod:`clvmodels.models.boundary`): the
        drop-out beta ``1 / (a + b + 1)`` and the purchase-rate gamma ``1 / (1 + r)``; the
        limits they lead to are in :mod:`clvmodels.models.purchase.bgnbd_limits`."""
        return {"dropout": beta_spread(params["a"], params["b"]),
                "purchase": gamma_spread(params["r"])}

    def describe_parameters(self) -> dict:
        """The four parameters in words, with the fitted values.

        >>> from clvmodels.datasets import load_cdnow_summary
        >>> words = BetaGeoModel(random_state=1).fit(load_cdnow_summary()).describe_parameters()
        >>> words["alpha"]
        'The rate of that gamma distribution, alpha = 4.41 weeks: the average active customer buys r/alpha = 0.055 times a week (2.87 a year).'
        """
        self._require_fitted()
        v = self.point_params()
        unit, per_year = unit_words(self)
        r, alpha = gamma_rate_words(v["r"], v["alpha"], unit, per_year)
        a, b = beta_dropout_words(v["a"], v["b"], BGNBD_DROPOUT)
        return {"r": r, "alpha": alpha, "a": a, "b": b}

    def _loglik_and_grad(self, log_params, arrays, weights):
        return bgnbd_total_log_likelihood(*np.exp(log_params), arrays["stats"], gradient=True)

    def _pymc_log_likelihood(self, params, arrays, weights):
        return bgnbd_total_log_likelihood(params["r"], params["alpha"], params["a"],
                                          params["b"], arrays["stats"], ops=pytensor_ops())


def bgnbd_expected_cumulative_purchases(r, alpha, a, b, first_purchase_times, t):
    """Expected cumulative repeat purchases of a cohort by each time in ``t``.

    ``first_purchase_times`` holds each customer's first purchase on the same clock
    as ``t`` (e.g. weeks since the start of the acquisition window); the result sums
    E[X(t - first)] over customers acquired before ``t`` (the aggregate tracking
    forecast of FHL 2005, section 4), evaluated once per distinct first-purchase time.

    >>> bgnbd_expected_cumulative_purchases(0.2426, 4.4135, 0.7929, 2.4258, [0.0, 0.0], [52.0]).round(3)
    array([2.888])
    """
    return expected_cumulative_purchases(
        lambda age: bgnbd_expected_purchases_new(r, alpha, a, b, age), first_purchase_times, t)


#: BetaGeoModel with customer covariates (:mod:`clvmodels.models.covariates`)
BetaGeoCovariateModel = with_covariates(BetaGeoModel, "BetaGeoCovariateModel")
