"""The shared math of the (M)BG/CNBD-k purchase models (Platzer & Reutterer 2016, "Ticking
Away the Moments: Timing Regularity Helps to Better Predict Customer Activity",
Marketing Science 35(5); Reutterer, Platzer & Schroeder 2021, IJRM 38(1)).

**The model.** While alive a customer's inter-purchase times are Erlang-k: every k-th
event of a Poisson process of *phases*. Her purchase rate (purchases per time unit) is
``lambda ~ Gamma(r, alpha)`` (shape ``r``, rate ``alpha``), so phases come at rate
``mu = k lambda`` and each gap has mean ``1 / lambda`` and coefficient of variation
``1 / sqrt(k)``. After each repeat purchase she drops out with probability
``p ~ Beta(a, b)``; in the MBG variant (``dropout_at_zero``) also right after her first
purchase at time 0. With ``k = 1`` these are the BG/NBD and MBG/NBD models with the
same ``(r, alpha, a, b)``.

*Rate convention.* ``alpha`` is the rate of the purchase-rate gamma for every ``k``, so
``r / alpha`` is the mean purchase rate whatever the regularity and fits for different
``k`` are comparable. BTYDplus (``mbgcnbd.*``, ``bgcnbd.*``) uses the phase rate
instead (its Erlang has rate ``lambda`` and mean gap ``k / lambda``): its
``alpha`` is ``alpha / k`` here; ``r, a, b`` are the same. Below ``beta = alpha / k`` is
the rate of the phase-rate gamma, ``mu ~ Gamma(r, beta)``.

**Likelihood** of ``x`` repeat purchases, the last at ``t_x``, observed to ``T``, with
``s = 1`` for MBG and 0 for BG, ``n = r + k x`` and ``d = T - t_x``::

    log L = (k-1) sum log(gaps) - x log Gamma(k)
            + log B(a, b+x+s) - log B(a, b) + log Gamma(n) - log Gamma(r) + r log beta
            - n log(beta+T) + log( S + [x+s>0] a/(b+x+s-1) ((beta+T)/(beta+t_x))^n )
    S = sum_{j<k} Gamma(n+j) / (Gamma(n) j!) (d/(beta+T))^j

``S`` is the chance, given the rate, of fewer than ``k`` phases (no purchase) in
``(t_x, T]``, integrated over the rate; the last term is "dropped out right after the
last purchase". The first line is the Erlang density's ``t^(k-1)`` term: it needs
each customer's ``log_gap_sum`` (:mod:`clvmodels.data.regularity`) and does not depend
on the parameters, so it matters only for comparing ``k``. Without ``log_gap_sum`` it is
replaced by the density of ``t_x`` given ``x`` (a sum of ``k x`` phases), relative to
``k = 1``: ``(k-1) x log t_x - log Gamma(kx) + log Gamma(x)``; either way the value at
``k = 1`` is the BG/NBD or MBG/NBD likelihood.

**Predictions.** Alive at ``T``, she is in phase ``j < k`` of her current gap with
posterior weight ``Gamma(n+j)/(Gamma(n) j!) (d/(beta+T))^j / S``; given ``j``,
``mu ~ Gamma(n+j, beta+T)`` and ``p ~ Beta(a, b+x+s)``. Her purchases in
``(T, T+t]`` before drop-out are ``floor((j + N)/k)`` with ``N ~ NB(n+j, t/(beta+T+t))``
phases, and she makes the ``m``-th of them with probability ``E[(1-p)^(m-1)]``. So the
expected purchases are finite sums over negative-binomial terms (a window of ``N``
around its mean: 8 standard deviations, plus 40 over ``-log theta`` on the right for
the geometric-like tail), exact up to the neglected mass (below 1e-15); ``P(X = m)``
for a new customer is a difference of regularized incomplete beta functions; the
discounted expectation sums over her purchases the discount of each, integrated over
the (beta-prime) distribution of its time by Gauss-Legendre quadrature, or, where her
phase rate is broad (young customers, few purchases: the long tails of those sums), by
parts over the undiscounted expectation (:mod:`.cnbd_kernel`). Value code asks for many
customers and draws at once: the expectation given a phase is then computed once per
draw and distinct ``(x, T)`` and interpolated in ``T`` (:mod:`.cnbd_kernel`). Unlike the
random-timing models, the value of a customer alive at ``T`` depends on the time
since her last purchase (where she is in her cycle), so
:func:`cnbd_discounted_purchases_if_alive` takes ``recency``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numba import njit
from scipy import special

from ...data.compress import compress_rows
from ...data.regularity import LOG_GAP_SUM, log_gap_sum_array
from ...errors import DataError, FitError, check_parameter, format_examples
from ...parallel import run_split, threads_for
from ...priors import LogNormal
from .. import boundary as bd
from ..backend import NUMPY, pytensor_ops
from ..inputs import summary_arrays
from .base import PurchaseModel, broadcast_flat, draw_alive
from .cnbd_kernel import (
    BROAD,
    CC_RULES,
    by_parts_range,
    if_alive_table,
    outer_layout,
)

__all__ = [
    "ErlangPurchaseModel",
    "cnbd_conditional_expected_purchases",
    "cnbd_discounted_purchases_if_alive",
    "cnbd_expected_purchases_new",
    "cnbd_log_likelihood",
    "cnbd_phase_probabilities",
    "cnbd_probability_alive",
    "cnbd_probability_of_purchases",
    "cnbd_simulate_future",
    "cnbd_statistics",
    "cnbd_total_log_likelihood",
    "erlang_formulas",
    "lgamma_ratio",
    "simulate_cnbd",
    "survival_sum",
]

#: largest Erlang order accepted (the likelihood has k terms per customer)
MAX_ORDER = 50


def erlang_order(erlang_k) -> int:
    """The Erlang order ``k`` from a scalar or an array of equal values (parameter draws
    carry it as a constant array), as an int >= 1."""
    v = np.unique(np.asarray(erlang_k, dtype=np.float64))
    if v.size != 1 or not (v[0] >= 1 and v[0] == np.round(v[0]) and v[0] <= MAX_ORDER):
        raise ValueError(f"The 'erlang_k' parameter of the Erlang-k purchase formulas must be "
                         f"one whole number in [1, {MAX_ORDER}]. Got {np.asarray(erlang_k)!r} "
                         "instead.")
    return int(v[0])


# ------------------------------------------------------------------ special functions
def _stirling_tail(w):
    """``log Gamma(w) - ((w - 1/2) log w - w + log(2 pi)/2)`` for ``w >= 20``."""
    w2 = w * w
    return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * w2)) / w2) / w2) / w


def lgamma_ratio(z, e):
    """``log Gamma(z + e) - log Gamma(z)`` for ``z > 0, z + e > 0``, accurate where the
    plain difference of ``gammaln`` loses digits: large ``z`` (Stirling's series for
    both, the leading terms combined through ``log1p``) and small ``e`` (Taylor series
    in ``e``).

    >>> float(np.round(lgamma_ratio(1e8, 1e-6) / (1e-6 * special.digamma(1e8)), 12))
    1.0
    >>> float(np.round((special.gammaln(1e8 + 1e-6) - special.gammaln(1e8))
    ...                / (1e-6 * special.digamma(1e8)), 3))  # the plain difference
    0.997
    """
    z, e = np.broadcast_arrays(np.asarray(z, dtype=np.float64), np.asarray(e, dtype=np.float64))
    out = np.zeros(z.shape)
    nonzero = e != 0.0
    big = nonzero & (np.minimum(z, z + e) >= 20.0)
    tiny = nonzero & ~big & (np.abs(e) < 1e-3) & (z >= 0.5)
    rest = nonzero & ~(big | tiny)
    if big.any():
        zb, eb = z[big], e[big]
        out[big] = ((zb - 0.5) * np.log1p(eb / zb) + eb * np.log(zb + eb) - eb
                    + _stirling_tail(zb + eb) - _stirling_tail(zb))
    if tiny.any():
        zt, et = z[tiny], e[tiny]
        out[tiny] = et * (special.digamma(zt) + et / 2.0 * (special.polygamma(1, zt) + et / 3.0 * (
            special.polygamma(2, zt) + et / 4.0 * special.polygamma(3, zt))))
    if rest.any():
        out[rest] = special.gammaln(z[rest] + e[rest]) - special.gammaln(z[rest])
    return out


def _survival(a, B, m):
    """``E[(1-p)^m] = B(a, B+m) / B(a, B)`` for ``p ~ Beta(a, B)``: the chance of still
    being alive after ``m`` more purchases."""
    return np.exp(lgamma_ratio(B, m) - lgamma_ratio(a + B, m))


def survival_sum(M, a, B):
    """``h(M) = sum_{m<M} E[(1-p)^m]`` for ``p ~ Beta(a, B)``: the expected purchases of
    a live customer who would make ``M`` of them without drop-out. Closed form
    ``(a+B-1)/(a-1) (1 - Gamma(a+B-1) Gamma(B+M) / (Gamma(B) Gamma(a+B+M-1)))`` after
    one step ``h(M; B) = 1 + B/(a+B) h(M-1; B+1)`` (so ``a + B > 1`` below), the ratio
    through :func:`lgamma_ratio`; ``a = 1``: ``B' (psi(B'+m) - psi(B'))``.

    >>> a, B = 0.7, 2.5
    >>> direct = sum(np.exp(special.betaln(a, B + m) - special.betaln(a, B)) for m in range(40))
    >>> bool(np.isclose(survival_sum(40, a, B), direct, rtol=1e-13))
    True
    """
    M, a, B = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (M, a, B)))
    B1, m = B + 1.0, np.maximum(M - 1.0, 0.0)
    eps = a - 1.0
    near = np.abs(eps) < 1e-10
    safe = np.where(near, 1.0, eps)
    log_rho = lgamma_ratio(B1, safe) - lgamma_ratio(B1 + m, safe)
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = np.where(near, B1 * (special.digamma(B1 + m) - special.digamma(B1)),
                        (a + B1 - 1.0) / safe * -np.expm1(log_rho))
    return np.where(M >= 1.0, 1.0 + B / (a + B) * rest, 0.0)


# ------------------------------------------------------------------------ likelihood
def cnbd_statistics(frequency, recency, T, weights, log_gap_sum=None) -> dict:
    """What :func:`cnbd_total_log_likelihood` needs from (compressed) rows and their
    weights, for every ``k``: per-row data, the weights per distinct ``x``, and the
    weighted totals of the regularity term (``log_gap_sum``: one number per row, or
    None to use the summary's ``x log t_x``)."""
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    ux, ix = np.unique(x, return_inverse=True)
    uT, iT = np.unique(T, return_inverse=True)
    rep = x > 0
    with np.errstate(divide="ignore"):
        x_log_tx = float(w[rep] @ (x[rep] * np.log(t_x[rep])))
    out = {"x": x, "t_x": t_x, "T": T, "w": w, "ux": ux, "ix": ix, "uT": uT, "iT": iT,
           "w_x": np.bincount(ix, weights=w, minlength=ux.size),
           "log_d": np.log(np.maximum(T - t_x, 1e-300)),  # d = 0: every j > 0 term vanishes
           "x_log_tx": x_log_tx, "wx": float(w @ x), "gaps": None}
    if log_gap_sum is not None:
        out["gaps"] = float(w @ np.asarray(log_gap_sum, dtype=np.float64))
    return out


def regularity_term(stats: dict, k: int) -> float:
    """The parameter-free part of the weighted log-likelihood at order ``k`` (module
    docstring): 0 at ``k = 1``."""
    if stats["gaps"] is not None:
        return (k - 1) * stats["gaps"] - special.gammaln(k) * stats["wx"]
    ux, w_x = stats["ux"], stats["w_x"]
    rep = ux > 0
    per_x = special.gammaln(ux[rep]) - special.gammaln(k * ux[rep])
    return float(w_x[rep] @ per_x) + (k - 1) * stats["x_log_tx"]


def _row_log_likelihood(r, alpha, a, b, stats, k, s, *, gradient, ops):
    """Per-row log-likelihood without the regularity term (and with ``gradient``, the
    per-row partial derivatives w.r.t. ``r, beta, a, b``, numpy only)."""
    x, ix, iT, ux = stats["x"], stats["ix"], stats["iT"], stats["ux"]
    beta = alpha / k
    n_x = r + k * ux
    per_x = (ops.betaln(a, b + ux + s) - ops.betaln(a, b) + ops.gammaln(n_x) - ops.gammaln(r)
             + r * ops.log(beta))
    log_bT = ops.take(ops.log(beta + stats["uT"]), iT)
    log_btx = ops.log(beta + stats["t_x"])
    n = ops.take(n_x, ix)
    log_u = stats["log_d"] - log_bT
    coef = 0.0 * n_x  # log Gamma(n+j) / (Gamma(n) j!) per distinct x, built up over j
    terms = [0.0 * n]
    log_s = terms[0]
    for j in range(1, k):
        coef = coef + ops.log(n_x + (j - 1.0)) - np.log(j)
        terms.append(ops.take(coef, ix) + j * log_u)
        log_s = ops.logaddexp(log_s, terms[-1])
    drop = (x + s) > 0
    log_d = ops.log(a) - ops.log(b + np.maximum(x + s - 1.0, 0.0)) + n * (log_bT - log_btx)
    z = ops.where(drop, ops.logaddexp(log_s, log_d), log_s)
    ll = ops.take(per_x, ix) - n * log_bT + z
    if not gradient:
        return ll
    if ops is not NUMPY:
        raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
    dg = special.digamma
    bT, btx = np.exp(log_bT), np.exp(log_btx)
    pi_d = np.where(drop, np.exp(np.minimum(log_d - z, 0.0)), 0.0)
    g_r = np.take(dg(n_x) - dg(r) + np.log(beta), ix) - log_bT + pi_d * (log_bT - log_btx)
    g_beta = r / beta - n / bT + pi_d * n * (1.0 / bT - 1.0 / btx)
    psi_step = np.zeros_like(n_x)  # psi(n+j) - psi(n) per distinct x
    for j in range(1, k):
        psi_step = psi_step + 1.0 / (n_x + (j - 1.0))
        pi_j = np.exp(terms[j] - z)
        g_r = g_r + pi_j * np.take(psi_step, ix)
        g_beta = g_beta - pi_j * j / bT
    bx = b + ux + s
    g_a = np.take(dg(a + b) - dg(a + bx), ix) + pi_d / a
    g_b = (np.take(dg(bx) - dg(a + bx) - dg(b) + dg(a + b), ix)
           - pi_d / (b + np.maximum(x + s - 1.0, 0.0)))
    return ll, np.stack(np.broadcast_arrays(g_r, g_beta, g_a, g_b))


def cnbd_total_log_likelihood(r, alpha, a, b, stats, *, erlang_k, dropout_at_zero,
                              gradient=False, ops=NUMPY):
    """Weighted log-likelihood of the (M)BG/CNBD-k model over the rows of ``stats``
    (:func:`cnbd_statistics`), regularity term included (module docstring). The
    maximum-likelihood fit (numpy; ``gradient=True`` adds the gradient w.r.t. ``log r,
    log alpha, log a, log b``) and the PyMC model (``ops=pytensor_ops()``) both use it.

    >>> st = cnbd_statistics(np.array([0, 2]), np.array([0.0, 30.43]),
    ...                      np.array([38.86, 38.86]), np.ones(2))
    >>> round(float(cnbd_total_log_likelihood(0.5248, 6.1831, 0.8914, 1.614, st,
    ...                                       erlang_k=1, dropout_at_zero=True)), 4)
    -10.0255
    """
    k = erlang_order(erlang_k)
    s = 1.0 if dropout_at_zero else 0.0
    const = regularity_term(stats, k)
    out = _row_log_likelihood(r, alpha, a, b, stats, k, s, gradient=gradient, ops=ops)
    if not gradient:
        return ops.dot(stats["w"], out) + const
    ll, g = out
    g = g @ stats["w"]
    beta = alpha / k
    return float(stats["w"] @ ll + const), np.array([r * g[0], beta * g[1], a * g[2], b * g[3]])


def cnbd_log_likelihood(r, alpha, a, b, frequency, recency, T, *, erlang_k, dropout_at_zero,
                        log_gap_sum=None, gradient=False):
    """Per-customer (M)BG/CNBD-k log-likelihood (module docstring), with the regularity
    term from ``log_gap_sum`` (or, without it, from ``x log t_x``: see the module
    docstring). The fits sum the same terms through :func:`cnbd_total_log_likelihood`
    (a test holds them equal). With ``gradient`` also the ``(4, n)`` partial derivatives
    w.r.t. the log parameters.

    >>> ll = cnbd_log_likelihood(0.5248, 6.1831, 0.8914, 1.614, np.array([0, 2]),
    ...                          np.array([0.0, 30.43]), np.array([38.86, 38.86]),
    ...                          erlang_k=1, dropout_at_zero=True)
    >>> np.round(ll, 4)  # MBG/NBD's
    array([-0.5396, -9.4859])
    """
    k = erlang_order(erlang_k)
    gaps = 0.0 if log_gap_sum is None else log_gap_sum
    shape, (x, t_x, T, gaps) = broadcast_flat(frequency, recency, T, gaps)
    stats = cnbd_statistics(x, t_x, T, np.ones(x.size))
    out = _row_log_likelihood(r, alpha, a, b, stats, k, 1.0 if dropout_at_zero else 0.0,
                              gradient=gradient, ops=NUMPY)
    if log_gap_sum is not None:
        extra = (k - 1) * gaps - special.gammaln(k) * x
    else:
        rep = x > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            extra = np.where(rep, (k - 1) * x * np.log(t_x) - special.gammaln(k * x)
                             + special.gammaln(x), 0.0)
    if not gradient:
        return (out + extra).reshape(shape)
    ll, g = out
    beta = alpha / k
    return ((ll + extra).reshape(shape),
            (g * np.array([r, beta, a, b])[:, None]).reshape((4,) + shape))


# ---------------------------------------------------------------- alive and phases
def _phase_terms(r, alpha, a, b, k, s, x, t_x, T):
    """Log posterior weights (unnormalised) of the phase ``j < k`` at ``T`` given alive,
    shape ``(k,) + shape``, their log sum ``log S``, and the log of the "dropped out
    after the last purchase" term (``-inf`` where impossible)."""
    beta = alpha / k
    n = r + k * x
    log_bT = np.log(beta + T)
    with np.errstate(divide="ignore"):
        log_u = np.log(T - t_x) - log_bT
    terms = np.empty((k,) + np.shape(n))
    terms[0] = 0.0
    for j in range(1, k):
        terms[j] = terms[j - 1] + np.log(n + (j - 1.0)) - np.log(j) + log_u
    # log of the sum: terms[0] = 0, so the largest term is finite (numpy directly: scipy's
    # logsumexp costs several times more on these (k, n) tables)
    top = terms.max(axis=0)
    log_s = top + np.log(np.exp(terms - top).sum(axis=0))
    drop = (x + s) > 0
    with np.errstate(divide="ignore"):
        log_d = np.where(drop, np.log(a) - np.log(b + np.maximum(x + s - 1.0, 0.0))
                         + n * (log_bT - np.log(beta + t_x)), -np.inf)
    return terms, log_s, log_d


def cnbd_probability_alive(r, alpha, a, b, erlang_k, frequency, recency, T, *,
                           dropout_at_zero):
    """P(alive at T | x, t_x, T): ``S / (S + [x+s>0] a/(b+x+s-1) ((beta+T)/(beta+t_x))^n)``
    (module docstring); 1 without repeat purchases in the BG variant.

    >>> float(np.round(cnbd_probability_alive(0.5248, 6.1831, 0.8914, 1.614, 1, 2, 30.43,
    ...                                       38.86, dropout_at_zero=True), 4))  # MBG/NBD
    0.7061
    """
    k = erlang_order(erlang_k)
    shape, (r, alpha, a, b, x, t_x, T) = broadcast_flat(r, alpha, a, b, frequency, recency, T)
    _, log_s, log_d = _phase_terms(r, alpha, a, b, k, float(dropout_at_zero), x, t_x, T)
    return special.expit(log_s - log_d).reshape(shape)


def cnbd_phase_probabilities(r, alpha, a, b, erlang_k, frequency, recency, T):
    """P(phase j at T | alive, x, t_x, T) for ``j = 0 .. k-1``, shape ``(k,) + shape``:
    how far through her current gap a live customer is (the same for BG and MBG)."""
    k = erlang_order(erlang_k)
    shape, (r, alpha, a, b, x, t_x, T) = broadcast_flat(r, alpha, a, b, frequency, recency, T)
    terms, log_s, _ = _phase_terms(r, alpha, a, b, k, 0.0, x, t_x, T)
    return np.exp(terms - log_s).reshape((k,) + shape)


# ------------------------------------------------------------- expected purchases
def _nb_window(s, theta):
    """First and last ``N`` of the window of ``NB(s, theta)`` outside of which the
    mass is below 1e-15 (module docstring)."""
    q = 1.0 - theta
    mean = s * theta / q
    sd = np.sqrt(s * theta) / q
    lo = np.floor(np.maximum(mean - 8.0 * sd, 0.0))
    hi = np.ceil(mean + 8.0 * sd + 40.0 / -np.log(theta)) + 1.0
    return lo, hi


def floor_expectation(s, theta, j, k, a, B):
    """``E[h(floor((N + j)/k))]`` with ``N ~ NB(s, theta)`` (``P(N) = Gamma(s+N)/(Gamma(s)
    N!) (1-theta)^s theta^N``) and ``h`` :func:`survival_sum` at ``(a, B)``: the expected
    purchases, before drop-out with ``p ~ Beta(a, B)``, of a customer ``j`` phases into
    her gap when ``N`` phases follow. Flat arrays of one length (``j``, ``k`` ints).

    Over the window of ``N`` (:func:`_nb_window`) by a compiled loop
    (:func:`_window_range`): the probabilities from the first one by their ratios
    ``theta (s+N)/(N+1)``, ``E[(1-p)^m]`` from the first by ``(B+m)/(a+B+m)``, in one pass
    without temporaries, rows split over threads (:mod:`clvmodels.parallel`). Windows
    longer than ``_LONG`` phases (purchase rates far beyond the data's, or horizons
    thousands of times ``alpha``) are summed per purchase count instead
    (:func:`_long_window_sum`)."""
    s, theta, a, B = (np.asarray(v, dtype=np.float64) for v in (s, theta, a, B))
    out = np.zeros(s.shape)
    pos = np.flatnonzero(theta > 0)
    if not pos.size:
        return out
    lo, hi = _nb_window(s[pos], theta[pos])
    long = hi - lo + 1.0 > _LONG
    for i in np.flatnonzero(long):
        row = pos[i]
        out[row] = _long_window_sum(s[row], theta[row], lo[i], hi[i], j, k, a[row], B[row])
    pos, lo, hi = pos[~long], lo[~long], hi[~long]
    if not pos.size:
        return out
    sp, tp, ap, Bp = s[pos], theta[pos], a[pos], B[pos]
    m_lo = np.floor((lo + j) / k)
    first_pmf = (lgamma_ratio(sp, lo) - special.gammaln(lo + 1.0) + sp * np.log1p(-tp)
                 + lo * np.log(tp))
    first_step = lgamma_ratio(Bp, m_lo) - lgamma_ratio(ap + Bp, m_lo)  # log E[(1-p)^m_lo]
    base = np.where(m_lo > 0, survival_sum(m_lo, ap, Bp), 0.0)
    result = np.empty(pos.size)
    args = [np.ascontiguousarray(v) for v in (sp, tp, lo, hi, ap, Bp, first_pmf, first_step,
                                               base)]
    run_split(lambda start, stop: _window_range(start, stop, result, *args, float(j), float(k)),
              pos.size, threads_for(pos.size))
    out[pos] = result
    return out


@njit(cache=True, nogil=True)
def _window_range(start, stop, out, s, theta, lo, hi, a, B, first_pmf, first_step, base,
                  j, k):  # pragma: no cover - compiled
    """:func:`floor_expectation` for rows ``start .. stop-1``: ``base`` is ``h(m_lo)``, the
    purchases surely made below the window; ``cum`` adds the chance of each further one."""
    for i in range(start, stop):
        log_theta = math.log(theta[i])
        log_pmf = first_pmf[i]
        n = lo[i]
        m = math.floor((n + j) / k)
        place = (n + j) - m * k  # phases into the current purchase count
        step = math.exp(first_step[i])  # E[(1-p)^m]: the chance of making purchase m + 1
        cum = 0.0
        acc = 0.0
        mass = 0.0
        pmf = math.exp(log_pmf)
        for _ in range(int(hi[i] - lo[i]) + 1):
            acc += pmf * cum
            mass += pmf
            if log_pmf > -700.0:  # by the ratio, once clear of underflow
                pmf *= theta[i] * (s[i] + n) / (n + 1.0)
            else:
                log_pmf += math.log((s[i] + n) / (n + 1.0)) + log_theta
                pmf = math.exp(log_pmf)
            n += 1.0
            place += 1.0
            if place >= k:
                place = 0.0
                cum += step
                step *= (B[i] + m) / (a[i] + B[i] + m)
                m += 1.0
        out[i] = base[i] * mass + acc


_LONG = 1 << 20  # longest window of phases summed term by term
_BLOCKS = 1 << 14  # purchase counts per long window, at most


def _long_window_sum(s, theta, lo, hi, j, k, a, B):
    """:func:`floor_expectation` for one long window, in the tail-sum form
    ``h(m_lo) + sum_{m > m_lo} E[(1-p)^(m-1)] P(M >= m)``, ``P(M >= m) = P(N >= mk - j)``
    a regularized incomplete beta function. Exact for the first ``_BLOCKS`` purchase
    counts of the window; beyond, counts go in blocks of ``c`` (at most ``_BLOCKS`` of
    them), each block's ``h`` increment weighted by the mean of ``P(M >= m)`` at its two
    ends: far from the start of the window, where ``P(M >= m)`` is smooth on the scale
    of a block."""
    m_lo = np.floor((lo + j) / k)
    m_hi = np.floor((hi + j) / k) + 1.0
    head = m_lo + np.arange(min(m_hi - m_lo, _BLOCKS) + 1.0)
    c = max(1.0, np.ceil((m_hi - head[-1]) / _BLOCKS))
    rest = head[-1] + c * np.arange(1.0, np.ceil(max(m_hi - head[-1], 0.0) / c) + 1.0)

    def at_least(m):
        return np.where(m * k - j >= 1.0,
                        special.betainc(np.maximum(m * k - j, 1.0), s, theta), 1.0)

    h_head = survival_sum(head, a, B)
    total = h_head[0] + np.sum(np.diff(h_head) * at_least(head[1:]))
    if rest.size:
        edges = np.concatenate([head[-1:], rest])
        weight = (at_least(edges[:-1] + 1.0) + at_least(edges[1:])) / 2.0
        total += np.sum(np.diff(survival_sum(edges, a, B)) * weight)
    return float(total)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)
_GL_X = (_GL_X + 1.0) / 2.0
_GL_W = _GL_W / 2.0


def discounted_floor_expectation(s, B, H, delta, j, k, a, Bp):
    """``sum_m E[(1-p)^(m-1)] E[exp(-delta S_m); S_m <= H]``: the expected discounted
    purchases in ``(0, H]`` of a live customer ``j`` phases into her gap, phase rate
    ``mu ~ Gamma(s, B)``, ``p ~ Beta(a, Bp)``, her ``m``-th purchase at ``S_m``, the
    ``K = m k - j``-th phase. Mixed over ``mu``, ``S_K / (B + S_K) ~ Beta(K, s)``; with
    ``v = log(1 + S_K / B)`` its density is ``(1 - e^-v)^(K-1) e^(-s v) / B(K, s)``, smooth
    on ``(0, log(1 + H/B)]``; times the discount ``exp(-delta B (e^v - 1))`` it is
    log-concave, and is integrated by Gauss-Legendre quadrature on either side of its
    peak, over the part of that range where it is within ``e^-40`` of the peak
    (:func:`_mass_range`). Purchases ``m`` run to the end of the negative-binomial
    window of the phases by ``H``. Flat arrays, ``j``, ``k`` ints; a compiled loop
    (:func:`_discounted_range`), rows split over threads.

    Rows whose phases by ``H`` have ``s theta <= BROAD`` (broad rates: the sums above
    have long tails) go first by parts, ``exp(-delta H) F(H) + delta int_0^H exp(-delta u)
    F(u) du`` with ``F`` the undiscounted expectation (:func:`.cnbd_kernel.by_parts_range`,
    nested Clenshaw-Curtis rules of 17/33 then 33/65 points); a row is kept only where the
    two rules agree to 1e-13 relative, the others are summed purchase by purchase
    (tested equal to 1e-10; on long windows by parts matched an adaptive quadrature to
    1e-15 where the purchase-by-purchase sum was off by up to 5e-10)."""
    s, B, H, delta, a, Bp = (np.ascontiguousarray(np.asarray(v, dtype=np.float64))
                             for v in (s, B, H, delta, a, Bp))
    out = np.zeros(s.shape)
    pos = np.flatnonzero(H > 0)
    if not pos.size:
        return out
    # broad phase rates (the window of phases by H starts at 0): by parts, where the two
    # nested rules agree (cnbd_kernel.by_parts_range); the others purchase by purchase
    broad = pos[s[pos] * H[pos] / (B[pos] + H[pos]) <= BROAD]
    done = np.zeros(s.shape, dtype=bool)
    for rule in CC_RULES:  # 17 in 33 points, then 33 in 65 where those differ
        if not broad.size:
            break
        args = [np.ascontiguousarray(v[broad]) for v in (s, B, H, delta, a, Bp)]
        result = np.empty(broad.size)
        ok = np.zeros(broad.size, dtype=np.bool_)
        run_split(lambda start, stop, result=result, ok=ok, args=args, rule=rule:
                  by_parts_range(start, stop, result, ok, *args, float(j), float(k), *rule),
                  broad.size, threads_for(broad.size))
        out[broad[ok]] = result[ok]
        done[broad[ok]] = True
        broad = broad[~ok]
    pos = pos[~done[pos]]
    if not pos.size:
        return out
    _, hi = _nb_window(s[pos], H[pos] / (B[pos] + H[pos]))
    m_max = np.maximum(np.floor((hi + j) / k), 1.0)
    args = [np.ascontiguousarray(v[pos]) for v in (s, B, H, delta, a, Bp)]
    result = np.empty(pos.size)
    run_split(lambda start, stop: _discounted_range(start, stop, result, *args, m_max,
                                                    float(j), float(k), _GL_X, _GL_W),
              pos.size, threads_for(pos.size))
    out[pos] = result
    return out


@njit(cache=True)
def _log_integrand(v, K, s, dB):  # pragma: no cover - compiled
    """``(K-1) log(1 - e^-v) - s v - dB (e^v - 1)`` (the log of the density of ``v`` times
    the discount, up to a constant; concave) and its derivative."""
    g = math.expm1(v)
    return ((K - 1.0) * math.log(g / (1.0 + g)) - s * v - dB * g,
            (K - 1.0) / g - s - dB * (1.0 + g))


@njit(cache=True)
def _mass_range(K, s, dB):  # pragma: no cover - compiled
    """The peak of the (log-concave) discounted density of ``v`` and where it is within
    ``e^-40`` of the peak: the peak in closed form (a quadratic in ``e^v - 1``), each end
    by Newton's method from the Gaussian guess ``peak +- sqrt(80) sd``; on a concave
    function its steps end on the outer side of the root, so the range never falls
    short (three steps, then at most a few per cent wide)."""
    if K <= 1.0:
        peak = 0.0  # decreasing from 0
        curvature = s + dB
    else:
        b = s + dB
        y = 2.0 * (K - 1.0) / (b + math.sqrt(b * b + 4.0 * dB * (K - 1.0)))
        peak = math.log1p(y)
        curvature = (K - 1.0) * (1.0 + y) / (y * y) + dB * (1.0 + y)
    sd = 1.0 / math.sqrt(curvature)
    level = -40.0 + (_log_integrand(peak, K, s, dB)[0] if peak > 0.0 else 0.0)
    ends = np.empty(2)
    for side in range(2):
        v = peak + (1.0 if side else -1.0) * math.sqrt(80.0) * sd
        if v <= 0.0:
            ends[side] = 0.0
            continue
        for _ in range(3):
            f, df = _log_integrand(v, K, s, dB)
            v = min(v + (level - f) / df, 700.0)  # beyond e^700 no horizon reaches
            if v <= 0.0:
                v = 0.0
                break
        ends[side] = v
    return ends[0], ends[1], peak


@njit(cache=True, nogil=True)
def _discounted_range(start, stop, out, s, B, H, delta, a, Bp, m_max, j, k, nodes,
                      weights):  # pragma: no cover - compiled
    """:func:`discounted_floor_expectation` for rows ``start .. stop-1``."""
    for i in range(start, stop):
        v_end = math.log1p(H[i] / B[i])
        survive = 1.0  # E[(1-p)^(m-1)]
        total = 0.0
        dB = delta[i] * B[i]
        for mi in range(int(m_max[i])):
            m = mi + 1.0
            K = m * k - j
            v_lo, v_hi, peak = _mass_range(K, s[i], dB)
            v_lo, v_hi = min(v_lo, v_end), min(v_hi, v_end)
            if v_hi > v_lo:
                norm = math.lgamma(K) + math.lgamma(s[i]) - math.lgamma(K + s[i])
                cut = min(max(peak, v_lo), v_hi)  # one panel either side of the peak
                g = 0.0
                for a_, b_ in ((v_lo, cut), (cut, v_hi)):
                    width = b_ - a_
                    if not width > 0.0:
                        continue
                    for q in range(nodes.size):
                        v = a_ + nodes[q] * width
                        g += weights[q] * width * math.exp(
                            _log_integrand(v, K, s[i], dB)[0] - norm)
                total += survive * g
            survive *= (Bp[i] + m - 1.0) / (a[i] + Bp[i] + m - 1.0)
        out[i] = total


def _if_alive_expectation(r, alpha, a, b, k, s, x, t_x, T, t, delta=0.0):
    """Expected (at ``delta > 0``: discounted) purchases in ``(T, T+t]`` of a customer alive
    at ``T`` (flat arrays; ``delta`` a scalar)."""
    terms, log_s, _ = _phase_terms(r, alpha, a, b, k, s, x, t_x, T)
    post = np.exp(terms - log_s)
    beta = alpha / k
    out = np.zeros(x.shape)
    for j in range(k):
        use = np.flatnonzero((post[j] > 1e-16) & (t > 0))
        if not use.size:
            continue
        shape = (r + k * x)[use] + j
        Bp = (b + x + s)[use]
        if delta == 0:
            e = floor_expectation(shape, t[use] / (beta + T + t)[use], j, k, a[use], Bp)
        else:
            e = discounted_floor_expectation(shape, (beta + T)[use], t[use],
                                             np.full(use.size, delta), j, k, a[use], Bp)
        out[use] += post[j, use] * e
    return out


def _live_expectation(r, alpha, a, b, k, s, x, t_x, T, horizon, delta):
    """Expected (``delta > 0``: discounted) purchases in ``(T, T+horizon]`` of a customer
    alive at ``T``, broadcast over parameters and customers, and that broadcast shape.

    Where parameters and customers broadcast as an outer product (draws ``(n, 1)``
    against customer arrays, as value code asks) and the horizon is one number, the
    expectation given each phase is computed once per draw and distinct ``(x, T)``,
    interpolated in ``T`` where an ``x`` has many (:mod:`.cnbd_kernel`), and mixed over
    the phase weights; otherwise one evaluation per element
    (:func:`_if_alive_expectation`)."""
    params = [np.asarray(v, dtype=np.float64) for v in (r, alpha, a, b)]
    cust = [np.asarray(v, dtype=np.float64) for v in (x, t_x, T)]
    h = np.asarray(horizon, dtype=np.float64)
    layout = outer_layout(params, cust) if h.ndim == 0 else None
    if layout is None:
        shape, flat = broadcast_flat(*params, *cust, h)
        return _if_alive_expectation(*flat[:4], k, s, *flat[4:7], flat[7],
                                     float(delta)).reshape(shape), shape
    shape, p_index, c_index, P, C = layout
    pshape = np.broadcast_shapes(*(v.shape for v in params))
    cshape = np.broadcast_shapes(*(v.shape for v in cust))
    pr, pa_, pa, pb = (np.broadcast_to(v, pshape).ravel() for v in params)
    cx, ctx, cT = (np.broadcast_to(v, cshape).ravel() for v in cust)
    H = float(h)
    if not H > 0:
        return np.zeros(shape), shape

    def evaluate(j, px, pT, pidx):
        shape_j = pr[pidx] + k * px + j
        B = pa_[pidx] / k + pT
        Bp = pb[pidx] + px + s
        if delta == 0:
            return floor_expectation(shape_j, H / (B + H), j, k, pa[pidx], Bp)
        return discounted_floor_expectation(shape_j, B, np.full(px.size, H),
                                            np.full(px.size, float(delta)), j, k, pa[pidx], Bp)

    V, pair = if_alive_table((pr, pa_, pa, pb), cx, cT, k, s, evaluate, extra=(H, delta))
    terms, log_s, _ = _phase_terms(pr[:, None], pa_[:, None], pa[:, None], pb[:, None], k, s,
                                   cx[None, :], ctx[None, :], cT[None, :])
    table = np.zeros((P, C))
    for j in range(k):
        post = np.exp(terms[j] - log_s)
        table += np.where(post > 1e-16, post * V[j][:, pair], 0.0)
    return table[p_index, c_index], shape


def cnbd_conditional_expected_purchases(r, alpha, a, b, erlang_k, frequency, recency, T, t, *,
                                        dropout_at_zero):
    """E[purchases in (T, T+t] | x, t_x, T]: P(alive) times the expectation given alive,
    a mixture over her phase ``j`` of :func:`floor_expectation` (module docstring)."""
    k = erlang_order(erlang_k)
    s = float(dropout_at_zero)
    e, shape = _live_expectation(r, alpha, a, b, k, s, frequency, recency, T, t, 0.0)
    alive_shape, flat = broadcast_flat(r, alpha, a, b, frequency, recency, T)
    _, log_s, log_d = _phase_terms(*flat[:4], k, s, *flat[4:])
    alive = special.expit(log_s - log_d).reshape(alive_shape)
    return np.broadcast_to(alive, shape) * e


def cnbd_expected_purchases_new(r, alpha, a, b, erlang_k, t, *, dropout_at_zero):
    """E[X(t)] for a customer just acquired: ``E[h(floor(N/k))]``, ``N ~ NB(r, t/(beta+t))``,
    ``p ~ Beta(a, b)``; in the MBG variant she stays after the first purchase with
    probability ``b/(a+b)`` and then ``p ~ Beta(a, b+1)``."""
    k = erlang_order(erlang_k)
    shape, (r, alpha, a, b, t) = broadcast_flat(r, alpha, a, b, t)
    beta = alpha / k
    B = b + 1.0 if dropout_at_zero else b
    e = floor_expectation(r, t / (beta + t), 0, k, a, B)
    return (b / (a + b) * e if dropout_at_zero else e).reshape(shape)


def cnbd_probability_of_purchases(r, alpha, a, b, erlang_k, k, t, *, dropout_at_zero):
    """P(X(t) = k) for a customer just acquired (``k`` here the count; the Erlang order is
    ``erlang_k``): ``P(X >= m) = E[(1-p)^(m-1)] P(N >= m erlang_k)`` with ``N ~ NB(r,
    t/(beta+t))``, whose tail is the regularized incomplete beta ``I_theta(m erlang_k, r)``,
    and ``P(X = m) = P(X >= m) - P(X >= m+1)``. Broadcasts ``k`` against ``t`` and the
    parameters."""
    order = erlang_order(erlang_k)
    m = np.asarray(k, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    theta = t / (alpha / order + t)
    B = b + 1.0 if dropout_at_zero else b

    def at_least(c):
        with np.errstate(invalid="ignore", divide="ignore"):
            tail = special.betainc(np.maximum(c, 1.0) * order, r, theta)
            return np.where(c >= 1.0, _survival(a, B, np.maximum(c - 1.0, 0.0)) * tail, 1.0)

    p = at_least(m) - at_least(m + 1.0)
    if not dropout_at_zero:
        return p
    stay = b / (a + b)
    return np.where(m == 0, 1.0 - stay, 0.0) + stay * p


def cnbd_discounted_purchases_if_alive(r, alpha, a, b, erlang_k, frequency, T, horizon, delta,
                                       recency=None, *, dropout_at_zero):
    """Expected discounted purchases in (T, T+horizon] for a customer alive at T, a
    purchase ``u`` after ``T`` counting ``exp(-delta u)``.

    It depends on where she is in her cycle, so on ``recency`` too (module docstring);
    without it only customers with ``T = 0`` (just acquired: ``recency = 0``) are
    answered. ``delta = 0``: the expectation given alive (:func:`floor_expectation`);
    otherwise purchase by purchase, each discounted over the distribution of its time
    (:func:`discounted_floor_expectation`), so the staircase of a regular customer's
    expected purchases over time needs no resolving. Multiply by the probability alive
    for the unconditional value.
    """
    k = erlang_order(erlang_k)
    T_arr = np.asarray(T, dtype=np.float64)
    if recency is None:
        if np.any(T_arr != 0):
            raise TypeError(
                "The Erlang-k models' value of a live customer depends on the time since her "
                "last purchase (how far she is through her usual gap), so "
                "discounted_purchases_if_alive needs 'recency' as well as 'frequency' and "
                "'T'; only just-acquired customers (T = 0) can be answered without it.")
        recency = np.zeros_like(T_arr)
    s = float(dropout_at_zero)
    return _live_expectation(r, alpha, a, b, k, s, frequency, recency, T, horizon,
                             float(delta))[0]


# ------------------------------------------------------------------------ simulation
def _erlang_purchases(n, live, mu, first_shape, k, last, end, delta, rng, amounts):
    """Purchases of ``n`` simulated customers over ``(0, end]`` (time since ``T``), those at
    ``live`` alive at 0 with phase rate ``mu``, first purchase after ``first_shape``
    phases and then every ``k``, dropping out right after purchase ``last``. Returns flat
    counts, discounted counts and discounted amounts (``amounts`` called with the
    positions within ``live`` buying in a round; None without). Loops over purchase
    rounds, never over customers."""
    count = np.zeros(live.size)
    disc = np.zeros(live.size)
    value = None if amounts is None else np.zeros(live.size)
    idx = np.arange(live.size)
    tau = np.zeros(live.size)
    shape = np.asarray(first_shape, dtype=np.float64)
    done = 0
    while idx.size:
        tau = tau + rng.standard_gamma(shape) / mu[idx]
        within = tau <= end
        idx, tau = idx[within], tau[within]
        if not idx.size:
            break
        weight = 1.0 if delta == 0 else np.exp(-delta * tau)
        count[idx] += 1.0
        disc[idx] += weight
        if value is not None:
            value[idx] += weight * amounts(idx)
        done += 1
        stays = last[idx] > done
        idx, tau = idx[stays], tau[stays]
        shape = np.full(idx.size, float(k))
    outputs = []
    for part in (count, disc, value):
        if part is None:
            outputs.append(None)
            continue
        full = np.zeros(n)
        full[live] = part
        outputs.append(full)
    return tuple(outputs)


def cnbd_simulate_future(r, alpha, a, b, erlang_k, frequency, recency, T, horizon, delta, rng,
                         amounts=None, alive_probability=None, *, dropout_at_zero):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history: alive at
    ``T`` with P(alive) (BG: for sure without repeat purchases); if alive, her phase
    ``j`` from :func:`cnbd_phase_probabilities`, ``mu ~ Gamma(r+kx+j, beta+T)``, ``p ~
    Beta(a, b+x+s)``; then Erlang gaps (the first ``k - j`` phases long), dropping out
    after each purchase with probability ``p``. Shapes, ``amounts`` and
    ``alive_probability`` as in :mod:`clvmodels.models.purchase.base`."""
    k = erlang_order(erlang_k)
    s = float(dropout_at_zero)
    shape, (r, alpha, a, b, x, t_x, T) = broadcast_flat(r, alpha, a, b, frequency, recency, T)

    def probability(where=slice(None)):
        _, log_s, log_d = _phase_terms(r[where], alpha[where], a[where], b[where], k, s,
                                       x[where], t_x[where], T[where])
        return special.expit(log_s - log_d)

    where = None if dropout_at_zero else np.flatnonzero(x > 0)
    alive = draw_alive(rng, shape, alive_probability, probability, where)
    live = np.flatnonzero(alive)
    rl, al, aa, bl, xl, tl, Tl = (v[live] for v in (r, alpha, a, b, x, t_x, T))
    terms, log_s, _ = _phase_terms(rl, al, aa, bl, k, s, xl, tl, Tl)
    cum = np.cumsum(np.exp(terms - log_s), axis=0)
    j = np.minimum((cum < rng.random(live.size)).sum(axis=0), k - 1)
    mu = rng.standard_gamma(rl + k * xl + j) / (al / k + Tl)
    drop = rng.beta(aa, bl + xl + s)
    last = rng.geometric(np.clip(drop, 1e-12, 1.0))
    local = None if amounts is None else (lambda idx: amounts(live[idx]))
    n = int(np.prod(shape))
    count, disc, value = _erlang_purchases(n, live, mu, (k - j).astype(np.float64), k, last,
                                           float(horizon), delta, rng, local)
    out = (count.reshape(shape), disc.reshape(shape))
    return out if value is None else out + (value.reshape(shape),)


def simulate_cnbd(n_customers, k, r, alpha, a, b, *, T, holdout=0.0,
                  dropout_at_zero, time_unit="week", random_state=None,
                  owner="simulate_cnbd") -> pd.DataFrame:
    """Simulate (M)BG/CNBD-k customers: ``lambda ~ Gamma(r, alpha)`` purchases per time
    unit, Erlang-``k`` gaps with mean ``1/lambda``, ``p ~ Beta(a, b)``; first
    purchase at 0, observed to ``T`` (scalar or per customer), drop-out after each
    repeat purchase (and, ``dropout_at_zero``, after the first). Columns ``frequency``,
    ``recency``, ``T``, ``log_gap_sum``, ``true_lambda``, ``true_p``, ``true_alive`` and,
    with ``holdout > 0``, ``holdout_frequency`` and ``holdout_length``."""
    for name, v in (("r", r), ("alpha", alpha), ("a", a), ("b", b)):
        check_parameter(name, owner, v, isinstance(v, (int, float)) and v > 0, "a positive float")
    check_parameter("k", owner, k, isinstance(k, (int, np.integer))
                    and not isinstance(k, bool) and 1 <= k <= MAX_ORDER,
                    f"an int in [1, {MAX_ORDER}]")
    check_parameter("n_customers", owner, n_customers,
                    isinstance(n_customers, (int, np.integer)) and n_customers > 0, "a positive int")
    rng = np.random.default_rng(random_state)
    n = int(n_customers)
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    last = rng.geometric(np.clip(p, 1e-12, 1.0)) - (1 if dropout_at_zero else 0)
    mu = k * lam
    freq = np.zeros(n, dtype=np.int64)
    recency = np.zeros(n)
    gaps = np.zeros(n)
    hold = np.zeros(n, dtype=np.int64)
    idx = np.flatnonzero(last > 0)
    tau = np.zeros(idx.size)
    done = 0
    while idx.size:
        g = rng.standard_gamma(float(k), idx.size) / mu[idx]
        tau = tau + g
        in_cal = tau <= T[idx]
        ci = idx[in_cal]
        freq[ci] += 1
        recency[ci] = tau[in_cal]
        gaps[ci] += np.log(g[in_cal])
        in_hold = ~in_cal & (tau <= T[idx] + holdout)
        hold[idx[in_hold]] += 1
        done += 1
        keep = (in_cal | in_hold) & (last[idx] > done)
        idx, tau = idx[keep], tau[keep]
    out = pd.DataFrame({"frequency": freq, "recency": recency, "T": T, LOG_GAP_SUM: gaps,
                        "true_lambda": lam, "true_p": p, "true_alive": freq < last})
    if holdout > 0:
        out["holdout_frequency"] = hold
        out["holdout_length"] = float(holdout)
    out.index.name = "customer_id"
    out.attrs["time_unit"] = time_unit
    return out


# ---------------------------------------------------------- a model's formula set
_ROLES = ("probability_alive", "conditional_expected_purchases", "expected_purchases_new",
          "probability_of_purchases", "discounted_purchases_if_alive", "simulate_future")

#: each formula's docstring: what it is, and an example run as a doctest in the model's
#: module (``{f}`` the model's prefix, ``PARS`` its CDNOW fit there; the model gives the
#: numbers ``{alive}``, ``{expected}`` and ``{new}``)
_DOCS = {
    "probability_alive": """P(alive at T | x, t_x, T) (:func:`~{m}.cnbd_probability_alive`).

A regular customer whose pause is long for her rhythm is less likely alive:

>>> [float(np.round({f}_probability_alive(*PARS, k, 10, 30.0, 38.86), 3)) for k in (1, 2, 4)]
{alive}
""",
    "conditional_expected_purchases": """E[purchases in (T, T+t] | x, t_x, T]
(:func:`~{m}.cnbd_conditional_expected_purchases`).

>>> float(np.round({f}_conditional_expected_purchases(*PARS, 3, 2, 30.43, 38.86, 39), 4))
{expected}
""",
    "expected_purchases_new": """E[X(t)] for a customer just acquired
(:func:`~{m}.cnbd_expected_purchases_new`).

>>> float(np.round({f}_expected_purchases_new(*PARS, 3, 39.0), 4))
{new}
""",
    "probability_of_purchases": """P(X(t) = k) for a customer just acquired (``k`` the count, \
``erlang_k`` the order; :func:`~{m}.cnbd_probability_of_purchases`).

>>> p = {f}_probability_of_purchases(*PARS, 3, np.arange(300), 52.0)
>>> float(np.round(p.sum(), 6))
1.0
""",
    "discounted_purchases_if_alive": """Expected discounted purchases in (T, T+horizon] for a \
customer alive at T; for ``erlang_k > 1`` it needs ``recency``
(:func:`~{m}.cnbd_discounted_purchases_if_alive`).

>>> e = {f}_discounted_purchases_if_alive(*PARS, 3, 2, 38.86, 39.0, 0.0, recency=30.43)
>>> p = {f}_probability_alive(*PARS, 3, 2, 30.43, 38.86)
>>> float(np.round(e * p, 4))  # {f}_conditional_expected_purchases
{expected}
""",
    "simulate_future": """Simulate each customer's purchases in ``(T, T+horizon]`` given her \
history (:func:`~{m}.cnbd_simulate_future`).

>>> rng = np.random.default_rng(0)
>>> n, d = {f}_simulate_future(*(np.full((1, 100_000), v) for v in PARS), 3, 2, 30.43,
...                            38.86, 39.0, 0.0, rng)
>>> bool(abs(n.mean() - {expected}) < 0.02)  # E = {expected} ({f}_conditional_expected_purchases)
True
""",
    "simulate": """Simulate customers (:func:`~{m}.simulate_cnbd` with {when}): the summary \
with ``log_gap_sum`` and the ``true_*`` columns.

>>> df = simulate_{f}(5, 3, 0.52, 6.18, 0.89, 1.61, T=39.0, random_state=1)
>>> list(df.columns)[:4], len(df)
(['frequency', 'recency', 'T', 'log_gap_sum'], 5)
""",
}


def _documented(fn, name: str, module: str, doc: str):
    """``fn`` named ``name`` in ``module`` with docstring ``doc`` (its example runs as a
    doctest through that module's ``__test__``)."""
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = module
    fn.__doc__ = doc
    return fn


def erlang_formulas(prefix: str, *, dropout_at_zero: bool, random_timing: dict, module: str,
                    numbers: dict) -> dict:
    """The functions of one Erlang-k model: its ``formulas`` (by role, in the order of
    ``_ROLES``, named ``<prefix>_<role>``) and its simulator ``simulate_<prefix>``. At
    ``erlang_k = 1`` the random-timing model's own closed forms (``random_timing``, its
    ``formulas``: they take the same arguments without ``erlang_k``, and without
    ``recency`` for ``discounted_purchases_if_alive``), otherwise this module's
    formulas with ``dropout_at_zero``. ``module`` is the model module's name, ``numbers``
    the results of the examples there (``_DOCS``)."""
    s = bool(dropout_at_zero)
    closed = {role: random_timing[role] for role in _ROLES}

    def probability_alive(r, alpha, a, b, erlang_k, frequency, recency, T):
        if erlang_order(erlang_k) == 1:
            return closed["probability_alive"](r, alpha, a, b, frequency, recency, T)
        return cnbd_probability_alive(r, alpha, a, b, erlang_k, frequency, recency, T,
                                      dropout_at_zero=s)

    def conditional_expected_purchases(r, alpha, a, b, erlang_k, frequency, recency, T, t):
        if erlang_order(erlang_k) == 1:
            return closed["conditional_expected_purchases"](r, alpha, a, b, frequency, recency,
                                                            T, t)
        return cnbd_conditional_expected_purchases(r, alpha, a, b, erlang_k, frequency, recency,
                                                   T, t, dropout_at_zero=s)

    def expected_purchases_new(r, alpha, a, b, erlang_k, t):
        if erlang_order(erlang_k) == 1:
            return closed["expected_purchases_new"](r, alpha, a, b, t)
        return cnbd_expected_purchases_new(r, alpha, a, b, erlang_k, t, dropout_at_zero=s)

    def probability_of_purchases(r, alpha, a, b, erlang_k, k, t):
        if erlang_order(erlang_k) == 1:
            return closed["probability_of_purchases"](r, alpha, a, b, k, t)
        return cnbd_probability_of_purchases(r, alpha, a, b, erlang_k, k, t, dropout_at_zero=s)

    def discounted_purchases_if_alive(r, alpha, a, b, erlang_k, frequency, T, horizon, delta,
                                      recency=None):
        if erlang_order(erlang_k) == 1:
            return closed["discounted_purchases_if_alive"](r, alpha, a, b, frequency, T,
                                                           horizon, delta)
        return cnbd_discounted_purchases_if_alive(r, alpha, a, b, erlang_k, frequency, T,
                                                  horizon, delta, recency, dropout_at_zero=s)

    def simulate_future(r, alpha, a, b, erlang_k, frequency, recency, T, horizon, delta, rng,
                        amounts=None, alive_probability=None):
        if erlang_order(erlang_k) == 1:
            return closed["simulate_future"](r, alpha, a, b, frequency, recency, T, horizon,
                                             delta, rng, amounts, alive_probability)
        return cnbd_simulate_future(r, alpha, a, b, erlang_k, frequency, recency, T, horizon,
                                    delta, rng, amounts, alive_probability, dropout_at_zero=s)

    def simulate(n_customers: int, k: int, r: float, alpha: float, a: float, b: float, *,
                 T: float | np.ndarray, holdout: float = 0.0, time_unit: str = "week",
                 random_state: int | np.random.Generator | None = None) -> pd.DataFrame:
        return simulate_cnbd(n_customers, k, r, alpha, a, b, T=T, holdout=holdout,
                             dropout_at_zero=s, time_unit=time_unit,
                             random_state=random_state, owner=f"simulate_{prefix}")

    when = ("drop-out possible right after the first purchase" if s
            else "drop-out only after repeat purchases")
    words = {"f": prefix, "m": __name__, "when": when, **numbers}
    formulas = {fn.__name__: _documented(fn, f"{prefix}_{fn.__name__}", module,
                                         _DOCS[fn.__name__].format(**words))
                for fn in (probability_alive, conditional_expected_purchases,
                           expected_purchases_new, probability_of_purchases,
                           discounted_purchases_if_alive, simulate_future)}
    return formulas, _documented(simulate, f"simulate_{prefix}", module,
                                 _DOCS["simulate"].format(**words))


# ---------------------------------------------------------------------------- model
class ErlangPurchaseModel(PurchaseModel):
    """The engine of the (M)BG/CNBD-k models: the settings, the fit over ``k``, the
    likelihood hooks, the parameters in words. A model sets ``dropout_at_zero``,
    ``dropout_when``, ``random_timing_name`` and ``formulas`` (:func:`erlang_formulas`).

    Parameters
    ----------
    k : int or None
        Erlang order of the inter-purchase times (1: the random-timing model, BG/NBD or
        MBG/NBD). None: chosen by likelihood over ``1 .. max_k`` (:meth:`fit`).
    max_k : int
        Highest order tried when ``k`` is None.

    Other settings are those of :class:`~clvmodels.models.base.BaseModel`. The summary
    needs ``frequency``, ``recency`` and ``T``, and for choosing ``k`` best also
    ``log_gap_sum`` (``rfm_summary(..., regularity=True)``): without it orders are
    compared on the summary alone (``regularity_source_``). The parameters are the
    random-timing model's, ``alpha`` the rate of the purchase-rate gamma for every ``k``
    (module docstring; BTYDplus's ``alpha`` is ``alpha / k``).
    """

    param_names = ("r", "alpha", "a", "b")
    default_priors = {"r": LogNormal(0.0, 2.0), "alpha": LogNormal(0.0, 3.0),
                      "a": LogNormal(0.0, 2.0), "b": LogNormal(0.0, 2.0)}
    #: drop-out possible right after the first purchase (MBG) or only after repeat ones (BG)
    dropout_at_zero: bool = False
    #: the model at k = 1, for messages
    random_timing_name: str = ""
    #: when a customer may drop out, for :meth:`describe_parameters`
    dropout_when: str = ""
    #: a live customer's future depends on how far she is through her usual gap, so
    #: value code passes recency to discounted_purchases_if_alive (value.purchase.
    #: if_alive_columns)
    if_alive_needs_recency: bool = True

    def __init__(
        self,
        *,
        k: int | None = None,
        max_k: int = 12,
        time_unit: str | None = None,
        priors: dict | None = None,
        draws: int = 1000,
        tune: int | None = None,
        chains: int = 4,
        cores: int | None = None,
        sampler: str = "pymc",
        target_accept: float = 0.8,
        advi_iterations: int = 20_000,
        random_state: int | None = None,
        max_iter: int = 1000,
    ):
        super().__init__(time_unit=time_unit, priors=priors, draws=draws, tune=tune,
                         chains=chains, cores=cores, sampler=sampler,
                         target_accept=target_accept, advi_iterations=advi_iterations,
                         random_state=random_state, max_iter=max_iter)
        self.k = k
        self.max_k = max_k

    def _check_order_settings(self) -> None:
        owner = type(self).__name__

        def whole(v):
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        problems = []
        if not (self.k is None or (whole(self.k) and 1 <= self.k <= MAX_ORDER)):
            problems.append(f"The 'k' parameter of {owner} must be None (chosen by likelihood) "
                            f"or an int in [1, {MAX_ORDER}]. Got {self.k!r} instead.")
        if not (whole(self.max_k) and 1 <= self.max_k <= MAX_ORDER):
            problems.append(f"The 'max_k' parameter of {owner} must be an int in "
                            f"[1, {MAX_ORDER}]. Got {self.max_k!r} instead.")
        if problems:
            raise ValueError(" ".join(problems))

    def fit(self, data: pd.DataFrame, *, method: str = "mle") -> ErlangPurchaseModel:
        """Fit the model; returns ``self``.

        With ``k`` set, a fit at that order. With ``k=None``, a fit for ``k = 1, 2, ...``
        (each started at the previous optimum), stopping after ``max_k`` or once the
        likelihood has fallen twice in a row (as BTYDplus), and the order with the
        highest likelihood is kept. The orders are compared by maximum likelihood
        (``method="mle"``) or, for ``"map"``, ``"mcmc"`` and ``"advi"``, by the likelihood
        at each order's posterior mode (the priors keep every order's fit finite where
        maximum likelihood runs to a boundary); ``"mcmc"`` and ``"advi"`` then sample at
        the order kept. ``k_`` is the order, ``k_log_likelihoods_`` the likelihood of each
        order tried, ``regularity_source_`` says whether the regularity term came from
        the gaps (``log_gap_sum``) or from the summary alone (then orders are compared on
        ``(x, t_x, T)``, less sharply). Other arguments as
        :meth:`~clvmodels.models.base.BaseModel.fit`.

        Raises
        ------
        FitError
            Maximum likelihood runs to a boundary (:meth:`_check_boundary`): every
            customer looks to have the same drop-out probability (``a, b -> inf``
            together) or the same purchase rate (``r, alpha -> inf``). The other purchase
            models become their nested limit model there (DESIGN.md principle 8); the
            Erlang-k models have none yet, so the error says so and what to fit instead.
            Also when the fit at one order of the search fails: the order is then not
            chosen by likelihood over the orders, so no order is kept (the message names
            the order, why it failed and the orders fitted before it). A failed fit
            leaves the model unfitted.
        """
        self._check_order_settings()
        self._check_settings(method)
        for attr in ("_cache", "_warm"):
            vars(self).pop(attr, None)
        orders = [int(self.k)] if self.k is not None else list(range(1, int(self.max_k) + 1))
        search = "mle" if method == "mle" else "map"
        tried: dict[int, float] = {}
        kept: dict[int, dict] = {}
        try:
            self._cache = (data, self._prepare_rows(data))
            source = "summary" if self._cache[1][0]["stats"]["gaps"] is None else "gaps"
            for order in orders:
                self.k_ = order
                try:
                    self._fit_order(data, method if len(orders) == 1 else search)
                except FitError as exc:
                    if not tried:  # the first order: its own error names it
                        raise
                    raise self._search_error(exc, order, tried) from exc
                tried[order] = self.log_likelihood_
                kept[order] = {n: v for n, v in vars(self).items()
                               if n.endswith("_") and not n.startswith("_")}
                self._warm = self.log_params_.copy()
                lls = list(tried.values())
                if len(lls) >= 3 and lls[-1] < lls[-2] < lls[-3]:
                    break
            best = max(tried, key=tried.get)
            vars(self).update(kept[best])
            if len(orders) > 1 and method != search:
                self.k_ = best
                self._fit_order(data, method)
        except FitError:
            for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("_")]:
                delattr(self, name)  # a failed fit leaves no half-fitted model to save
            raise
        finally:
            for attr in ("_cache", "_warm", "_optimum"):
                vars(self).pop(attr, None)
        self.k_ = int(best)
        self.regularity_source_ = source
        self.k_log_likelihoods_ = pd.Series(tried, name="log_likelihood").rename_axis("k")
        if method == "mle":
            self.aic_ = 2.0 * self.parameter_count() - 2.0 * self.log_likelihood_
        return self

    def mixing_spread(self, params: dict) -> dict[str, float]:
        """How far the drop-out beta (``1 / (a + b + 1)``) and the purchase-rate gamma
        (``1 / (1 + r)``) are from a point (:mod:`clvmodels.models.boundary`); the Erlang-k
        models have no nested limit models (``limit_models`` is empty), so
        :meth:`_check_boundary` turns a collapse into a :class:`FitError` in words."""
        return {"dropout": bd.beta_spread(params["a"], params["b"]),
                "purchase": bd.gamma_spread(params["r"])}

    def _fit_order(self, data, method: str) -> None:
        """One fit at order ``k_`` with the boundary checked (:meth:`_check_boundary`)."""
        try:
            super().fit(data, method=method)
        except FitError as exc:
            optimum = vars(self).pop("_optimum", None)
            if method == "mle" and optimum is not None:
                at = dict(zip(self.param_names, np.exp(optimum[0])))
                self._check_boundary(at, bd.FAILED_AT_POINT, cause=exc)
            raise
        if method == "mle":
            self._check_boundary(dict(self.params_), bd.AT_POINT)

    def _check_boundary(self, params: dict, threshold: float, cause=None) -> None:
        """Raise a :class:`FitError` in words when a mixing of ``params`` has collapsed
        (spread below ``threshold``): the criterion by which BG/NBD and MBG/NBD become
        their nested limit model (:mod:`clvmodels.models.boundary`: spread below
        ``AT_POINT`` at the optimum, or ``FAILED_AT_POINT`` where a failed fit stopped).
        Nearer the boundary than that the fit is kept: a finite ``a + b`` or ``r`` is a
        usable model, and without the nested model there is no likelihood-ratio test."""
        spread = self.mixing_spread(params)
        gone = [m for m in ("dropout", "purchase") if spread[m] <= threshold]
        if not gone:
            return
        name, k, p = type(self).__name__, int(self.k_), params
        unit = getattr(self, "time_unit_", None) or "time unit"
        dropout = ("the drop-out probability looks the same for every customer: maximum "
                   "likelihood drives a and b of its beta distribution to infinity together "
                   f"(a = {p['a']:.4g}, b = {p['b']:.4g}, a/(a+b) = "
                   f"{p['a'] / (p['a'] + p['b']):.3f}, spread 1/(a+b+1) = "
                   f"{spread['dropout']:.2g})")
        purchase = ("the purchase rate looks the same for every customer: maximum likelihood "
                    "drives r and alpha of its gamma distribution to infinity together "
                    f"(r = {p['r']:.4g}, alpha = {p['alpha']:.4g}, r/alpha = "
                    f"{p['r'] / p['alpha']:.4g} purchases per {unit}, spread 1/(1+r) = "
                    f"{spread['purchase']:.2g})")
        facts = {"dropout": (dropout, "one drop-out probability"),
                 "purchase": (purchase, "one purchase rate")}
        said = "; and ".join(facts[m][0] for m in gone)
        limit = " and ".join(facts[m][1] for m in gone)
        random = "BetaGeoModel" if not self.dropout_at_zero else "ModifiedBetaGeoModel"
        random_cli = "bgnbd" if not self.dropout_at_zero else "mbgnbd"
        what = (f"{name} at Erlang order k = {k}: {said}. BG/NBD and MBG/NBD then become their "
                f"nested model with {limit} (a boundary is an answer), but the Erlang-k models "
                "have no such limit model yet, so this fit has no usable parameters (their "
                "draws would run to infinity).\nWhat to try:\n")
        kept = (f"the fit stays an Erlang-{k} model" if self.k is not None
                else "k is still chosen by likelihood, at each order's posterior mode")
        python = (what + "  1. fit with method='map': its priors keep every parameter finite and "
                  f"{kept};\n"
                  f"  2. or fit {random} (random timing), which then becomes its limit model "
                  f"with {limit}.")
        cli = (what + "  1. add --method map: its priors keep every parameter finite;\n"
               f"  2. or use --model {random_cli} (random timing), which then becomes its limit "
               f"model with {limit}.")
        error = FitError(python, cli_message=cli)
        if cause is not None:
            raise error from cause
        raise error

    def _search_error(self, exc: FitError, order: int, tried: dict) -> FitError:
        """The error of the order search (``k=None``) when the fit at ``order`` failed."""
        name = type(self).__name__
        fitted = (", ".join(f"k = {k} (log-likelihood {ll:.2f})" for k, ll in tried.items())
                  or "none")
        what = (f"{name} chooses the Erlang order k by likelihood over k = 1 to {self.max_k}, "
                f"but the fit at k = {order} failed, so no order is kept (a lower one would "
                f"not be the likelihood's choice). Orders fitted before it: {fitted}. "
                "Why it failed:\n")
        python = (what + str(exc) + (f"\nTo fit one order without the search, set k (e.g. "
                                     f"k={max(tried, key=tried.get)})." if tried else ""))
        return FitError(python, cli_message=what + str(exc.cli_message or exc))

    def k_was_chosen(self) -> bool:
        """Whether the fit chose ``k`` by likelihood over more than one order (setting
        ``k=None`` with ``max_k > 1``) rather than being given it: then ``k`` is a fitted
        parameter too."""
        return self.k is None and self.max_k > 1

    def parameter_count(self) -> int:
        """Fitted parameters, for AIC and BIC: ``r, alpha, a, b`` and, when the fit chose
        it by likelihood (:meth:`k_was_chosen`), the order ``k``."""
        return len(self.param_names) + int(self.k_was_chosen())

    def describe_parameters(self) -> dict:
        """The four parameters in words, with the fitted values; the sentence of ``alpha``
        (the average purchase rate) goes on to the Erlang order ``k``, the regularity of
        each customer's gaps (``k`` is not a row of :meth:`summary`: its ``attrs`` hold it).

        >>> from clvmodels.datasets import load_cdnow_summary
        >>> from clvmodels.models.purchase.mbgcnbd import ModifiedBetaGeoCNBDModel
        >>> fit = ModifiedBetaGeoCNBDModel(k=3).fit(load_cdnow_summary())
        >>> print(fit.describe_parameters()["alpha"].split(": ", 2)[2])
        the gaps between a customer's purchases are Erlang-k with k = 3 (set for the fit), each the sum of k exponential phases, so their coefficient of variation is 1/sqrt(k) = 0.577: a customer's gaps vary about 58% as much as random timing (k = 1, the MBG/NBD) would, and a pause long for her rhythm is stronger evidence that she has dropped out.
        """
        from .bgnbd import beta_dropout_words, gamma_rate_words, unit_words

        self._require_fitted()
        v = self.point_params()
        unit, per_year = unit_words(self)
        r, alpha = gamma_rate_words(v["r"], v["alpha"], unit, per_year)
        a, b = beta_dropout_words(v["a"], v["b"], self.dropout_when)
        return {"r": r, "alpha": f"{alpha} {self._order_words()}", "a": a, "b": b}

    def _order_words(self) -> str:
        """The Erlang order of the fit in words (:meth:`describe_parameters`)."""
        k = int(self.k_)
        if self.k_was_chosen():
            tried = self.k_log_likelihoods_.index
            how = f"chosen by likelihood over k = {min(tried)} to {max(tried)}"
            if self.regularity_source_ == "summary":
                how += (", compared on (frequency, recency, T) alone: a summary with "
                        "log_gap_sum compares them more sharply")
        else:
            how = "set for the fit"
        if k == 1:
            return (f"Purchases come at random times while active: the gaps between a "
                    f"customer's purchases are exponential, Erlang-k with k = 1 ({how}), as "
                    f"in the {self.random_timing_name}; their coefficient of variation is "
                    "1/sqrt(k) = 1.")
        cv = 1.0 / math.sqrt(k)
        return (f"Purchases are regular while active: the gaps between a customer's purchases "
                f"are Erlang-k with k = {k} ({how}), each the sum of k exponential phases, so their "
                f"coefficient of variation is 1/sqrt(k) = {cv:.3g}: a customer's gaps vary "
                f"about {cv:.0%} as much as random timing (k = 1, the "
                f"{self.random_timing_name}) would, and a pause long for her rhythm is "
                "stronger evidence that she has dropped out.")

    # ------------------------------------------------------------ engine hooks
    def _prepare_rows(self, data):
        owner = type(self).__name__
        arr = summary_arrays(data, owner)
        instant = (arr["frequency"] > 0) & (arr["recency"] == 0)
        if instant.any():
            ids = data.index[instant]
            raise DataError(
                f"{owner}: {int(instant.sum())} customer(s) have repeat purchases but recency 0, "
                f"first customer ids {format_examples(ids.tolist())}: no time passed between "
                "their purchases, which Erlang-k gaps cannot produce. Same-day purchases are one "
                "purchase (rfm_summary merges them); rebuild the summary or drop these rows.")
        gaps = None
        if isinstance(data, pd.DataFrame) and LOG_GAP_SUM in data.columns:
            gaps = log_gap_sum_array(data, arr["frequency"], arr["recency"], owner)
        comp = compress_rows(arr, ["frequency", "recency", "T"])
        u = comp.unique
        stats = cnbd_statistics(u["frequency"], u["recency"], u["T"], comp.weights)
        # the regularity term needs only the total over all customers: compressing the rows
        # on (x, t_x, T) keeps it
        stats["gaps"] = None if gaps is None else float(gaps.sum())
        arrays = {"x": u["frequency"], "T": u["T"], "stats": stats}
        return arrays, comp.weights

    def _prepare(self, data):
        cache = vars(self).get("_cache")
        if cache is not None and cache[0] is data:
            return cache[1]
        return self._prepare_rows(data)

    def _start(self, arrays, weights):
        warm = vars(self).get("_warm")
        if warm is not None:
            return warm.copy()
        return np.log([1.0, self._start_alpha(arrays, weights), 1.0, 1.0])

    def _loglik_and_grad(self, log_params, arrays, weights):
        return cnbd_total_log_likelihood(*np.exp(log_params), arrays["stats"], erlang_k=self.k_,
                                         dropout_at_zero=self.dropout_at_zero, gradient=True)

    def _pymc_log_likelihood(self, params, arrays, weights):
        return cnbd_total_log_likelihood(params["r"], params["alpha"], params["a"], params["b"],
                                         arrays["stats"], erlang_k=self.k_,
                                         dropout_at_zero=self.dropout_at_zero,
                                         ops=pytensor_ops())

    # ---------------------------------------------------------------- results
    def point_params(self) -> dict[str, float]:
        """The point estimate as floats, with the Erlang order ``erlang_k`` (fixed by the
        fit) that every formula of these models takes."""
        out = super().point_params()
        out["erlang_k"] = float(self.k_)
        return out

    def param_draws(self) -> dict[str, np.ndarray]:
        """Flattened parameter draws, with ``erlang_k`` as a constant array alongside."""
        out = super().param_draws()
        out["erlang_k"] = np.full(next(iter(out.values())).shape, float(self.k_))
        return out

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Parameter table (:meth:`~clvmodels.models.base.BaseModel.summary`); ``attrs``
        also hold the Erlang order ``erlang_k`` and the likelihood of each order tried."""
        out = super().summary(level)
        out.attrs["erlang_k"] = int(self.k_)
        out.attrs["k_log_likelihoods"] = self.k_log_likelihoods_.to_dict()
        return out

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return (f"{type(self).__name__}(k={self.k_}, {inner}, "
                    f"log_likelihood={self.log_likelihood_:.2f})")
        return f"{type(self).__name__}(not fitted)"
