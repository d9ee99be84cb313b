"""The Pareto/NBD's nested limits: what a fit becomes when a gamma mixing distribution
collapses to a point (DESIGN.md principle 8; :mod:`clvmodels.models.boundary`).

The Pareto/NBD (:mod:`~clvmodels.models.purchase.pnbd`) mixes Poisson purchase rates
``lambda ~ Gamma(r, alpha)`` and exponential drop-out rates ``mu ~ Gamma(s, beta)``.
When the data show no heterogeneity in one of them, maximum likelihood drives its
shape and rate to infinity together (the mean ``s / beta`` or ``r / alpha`` fixed),
and the model becomes one of

* :class:`ParetoNBDHomogeneousDropoutModel` ``(r, alpha, mu)``: every customer drops
  out at the same rate ``mu`` (``s, beta -> inf``, ``s / beta = mu``);
* :class:`ParetoNBDHomogeneousRateModel` ``(lam, s, beta)``: every customer buys at
  the same rate ``lam`` while alive (``r, alpha -> inf``, ``r / alpha = lam``);
* :class:`ParetoNBDHomogeneousModel` ``(lam, mu)``: both (either of the first two can
  collapse further into it).

**The likelihoods.** Given ``lambda`` and ``mu``, a customer with ``x`` repeat purchases,
the last at ``t_x``, observed to ``T`` has ``L = lambda^x exp(-(lambda+mu) T) + lambda^x
mu int_{t_x}^T exp(-(lambda+mu) tau) dtau``. With ``D = T - t_x``:

* both fixed: ``log L = x log lam - (lam+mu) t_x + log(mu + lam e^{-(lam+mu) D})
  - log(lam+mu)`` (a logsumexp);
* ``mu`` fixed, ``lambda`` gamma (``a = r + x``, ``alpha' = alpha + t_x``): ``L = G(a)
  alpha^r / (G(r) alpha'^a) e^{-mu t_x} P``, ``P = (1 + D/alpha')^-a e^{-mu D} + mu
  int_0^D (1 + u/alpha')^-a e^{-mu u} du``;
* ``lambda`` fixed, ``mu`` gamma (``beta' = beta + t_x``): ``L = lam^x e^{-lam t_x}
  (beta/beta')^s P``, ``P = e^{-lam D} (1 + D/beta')^-s + s/beta' int_0^D e^{-lam u}
  (1 + u/beta')^-(s+1) du``.

These are the Pareto/NBD's ``P`` with ``(1 + u/beta')^-s -> e^{-mu u}`` or ``(1 +
u/alpha')^-a -> e^{-lam u}``. The integrals are upper incomplete gamma functions of
negative order (no scipy function); in ``v = log(1 + u/scale)`` both are ``scale int_0^V
exp(c1 v - c2 (e^v - 1)) dv``, a *concave* log integrand, which the Pareto/NBD's
quadrature (:func:`~clvmodels.models.purchase.pnbd._log_integral`: peak in closed form,
cut ``e^-40`` below it by tangent lines, 32-point Gauss-Legendre relative to the peak)
evaluates in log space for ``x`` up to 1e5, ``T`` up to 1e4 and ``alpha`` or ``beta``
anywhere. The same lines build the PyMC graph; the maximum-likelihood gradient is
analytic (the derivatives of the integrand averaged on the same nodes).

**New customers.** ``P(X(t) = k)`` mixes the Poisson count of a customer alive at
``t`` and of one who died at ``tau < t``: with both rates fixed it is ``e^{-mu t}
Poisson(k; lam t) + mu/(lam+mu) (lam/(lam+mu))^k P(k+1, (lam+mu) t)`` (``P`` the
regularised lower incomplete gamma); with one gamma the death-time integral is again
log-concave, in ``q = log(1 + tau/scale)``, and goes through the same quadrature.

Every formula broadcasts: parameters may be scalars or arrays of draws shaped to
broadcast against the customer arrays, as in the Pareto/NBD.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ...priors import LogNormal
from ..backend import NUMPY, pytensor_ops
from ..boundary import boundary_statement, estimate_text, gamma_spread
from ..registry import register_model
from .base import NEVER, PurchaseModel, broadcast_flat, draw_alive, simulate_live_customers
from .bgnbd import limit_parameter_words
from .pnbd import (
    gamma_dropout_words,
    point_dropout_rate_words,
    _NUMPY_EXTRA,
    ParetoNBDModel,
    _as_float,
    _extra,
    _log_integral,
    _survival_integral,
)

__all__ = [
    "ParetoNBDHomogeneousDropoutModel",
    "ParetoNBDHomogeneousRateModel",
    "ParetoNBDHomogeneousModel",
    "pnbd_fixed_mu_log_likelihood",
    "pnbd_fixed_mu_probability_alive",
    "pnbd_fixed_mu_conditional_expected_purchases",
    "pnbd_fixed_mu_expected_purchases_new",
    "pnbd_fixed_mu_probability_of_purchases",
    "pnbd_fixed_mu_discounted_purchases_if_alive",
    "pnbd_fixed_mu_simulate_future",
    "pnbd_fixed_lam_log_likelihood",
    "pnbd_fixed_lam_probability_alive",
    "pnbd_fixed_lam_conditional_expected_purchases",
    "pnbd_fixed_lam_expected_purchases_new",
    "pnbd_fixed_lam_probability_of_purchases",
    "pnbd_fixed_lam_discounted_purchases_if_alive",
    "pnbd_fixed_lam_simulate_future",
    "pnbd_homogeneous_log_likelihood",
    "pnbd_homogeneous_probability_alive",
    "pnbd_homogeneous_conditional_expected_purchases",
    "pnbd_homogeneous_expected_purchases_new",
    "pnbd_homogeneous_probability_of_purchases",
    "pnbd_homogeneous_discounted_purchases_if_alive",
    "pnbd_homogeneous_simulate_future",
]


# ------------------------------------------------------------------- shared integrals
def _decay_f(xp, ops):
    """``psi(v) = c1 v - c2 (e^v - 1)`` and its derivative (concave for ``c2 >= 0``)."""

    def f(v, c1, c2, slope=True):
        g = xp.expm1(v)
        return c1 * v - c2 * g, (c1 - c2 * (1.0 + g)) if slope else None

    return f


def _log_decay_integral(ops, c1, c2, V, *, moments=False):
    """``log int_0^V exp(c1 v - c2 (e^v - 1)) dv`` for ``c2 >= 0``, ``V > 0``: the
    concave-integrand quadrature of the Pareto/NBD, the peak at ``log(c1/c2)`` clipped
    to ``[0, V]``. With ``moments`` (numpy) also the means of ``v``, ``e^-v`` and
    ``e^v - 1`` under the normalised integrand (for gradients)."""
    xp = _extra(ops)
    f = _decay_f(xp, ops)
    rising = c1 > c2
    ratio = ops.where(rising, c1, 1.0) / ops.where(rising, c2, 1.0)
    peak = ops.where(rising, xp.minimum(ops.log(xp.maximum(ratio, 1.0)), V), 0.0)
    if not moments:
        return _log_integral(ops, xp, f, (c1, c2), 0.0, peak, V)

    def mom(v):
        g = np.expm1(v)
        return c1 * v - c2 * g, [v, np.exp(-v), g]

    return _log_integral(ops, xp, f, (c1, c2), 0.0, peak, V, moments=mom)


def _log_count_integral(k, b, c, Q):
    """``log int_0^Q exp(k log(e^q - 1) - b q - c (e^q - 1)) dq`` (numpy; ``k >= 0``,
    ``c > 0``, ``Q > 0``): the death-time integral of ``P(X(t) = k)`` with one gamma
    mixing. The log integrand is concave; its peak is found by bisection on
    ``[0, Q]``."""
    shape = np.broadcast_shapes(np.shape(k), np.shape(b), np.shape(c), np.shape(Q))
    k, b, c, Q = (np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for v in (k, b, c, Q))

    def f(q, k, b, c, slope=True):
        g = np.maximum(np.expm1(q), 1e-300)
        value = k * np.log(g) - b * q - c * g
        return value, (k * (1.0 + g) / g - b - c * (1.0 + g)) if slope else None

    lo, hi = np.zeros(shape), Q.copy()
    for _ in range(64):
        mid = (lo + hi) / 2.0
        up = f(mid, k, b, c)[1] > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    peak = np.where(f(Q, k, b, c)[1] >= 0, Q, (lo + hi) / 2.0)
    return _log_integral(NUMPY, _NUMPY_EXTRA, f, (k, b, c), 0.0, peak, Q)


def _rate_window(rate, horizon):
    """``int_0^H e^{-rate u} du = (1 - e^{-rate H}) / rate`` (``H`` at ``rate = 0``)."""
    horizon = np.asarray(horizon, dtype=np.float64)
    return horizon * special.exprel(-rate * horizon)


def _unit(model) -> str:
    return f"per {model.time_unit_}" if getattr(model, "time_unit_", None) else "per time unit"


def _rate_text(model, name: str) -> str:
    """``"mu = 0.0200 per week (95% interval 0.0190-0.0210)"`` with enough digits for
    a small rate."""
    est = float(model.params_[name])
    digits = max(4, int(-np.floor(np.log10(est))) + 2) if est > 0 else 4
    text = estimate_text(model, name, digits=digits)
    return text.replace(" (95% interval", f" {_unit(model)} (95% interval", 1)


#: the fact each collapsed mixing states, and the parameters that grew without bound
_FACTS = {
    "dropout": ("The drop-out rate is the same for every customer: {}", "s and beta",
                "s/beta = mu"),
    "purchase": ("The purchase rate while alive is the same for every customer: {}",
                 "r and alpha", "r/alpha = lam"),
}
_RATE_OF = {"dropout": "mu", "purchase": "lam"}


def _statement(model, full_name, lr, p_value, collapsed, words):
    """``boundary_['message']`` of a limit ``model`` that a ``full_name`` fit became
    because the mixings ``collapsed`` collapsed (one fact per mixing, in order)."""
    facts = [_FACTS[m][0].format(_rate_text(model, _RATE_OF[m])) for m in collapsed]
    grew = [f"{_FACTS[m][1]} grow without bound together ({_FACTS[m][2]})" for m in collapsed]
    if len(grew) > 1:
        grew = [grew[0], "and so do " + grew[1].replace(" grow without bound together", "")]
    uses = f"{type(model).__name__}, {words}: the limit of {full_name} as {', '.join(grew)}"
    return boundary_statement(facts, full_name, lr, p_value, uses)


# ------------------------------------------------------ homogeneous drop-out: (r, alpha, mu)
def _fixed_mu_log_p(ops, r, alpha, mu, x, t_x, T, *, gradient=False):
    """``log`` of the alive term and of ``P`` (module docstring) with ``mu`` fixed; with
    ``gradient`` (numpy) also ``d log P / d(r, alpha, mu)`` and P(alive)."""
    xp = _extra(ops)
    a = r + x
    ap, D = alpha + t_x, T - t_x
    gap = D > 0
    log_e1 = -a * xp.log1p(D / ap) - mu * D
    V = xp.log1p(ops.where(gap, D, 1.0) / ap)
    c1, c2 = 1.0 - a, mu * ap
    if not gradient:
        log_int = _log_decay_integral(ops, c1, c2, V)
        log_t2 = ops.log(mu) + ops.log(ap) + log_int
        return log_e1, ops.where(gap, ops.logaddexp(log_e1, log_t2), log_e1)
    if ops is not NUMPY:
        raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
    c1, c2, V = np.broadcast_arrays(c1, c2, V)
    log_int, (e_v, e_iv, e_g) = _log_decay_integral(ops, c1, c2, V, moments=True)
    log_t2 = np.log(mu) + np.log(ap) + log_int
    log_p = np.where(gap, np.logaddexp(log_e1, log_t2), log_e1)
    alive = np.exp(log_e1 - log_p)
    dead = np.where(gap, 1.0 - alive, 0.0)
    # d log(alive term) and d log(mu int_0^D (1+u/alpha')^-a e^{-mu u} du) w.r.t. r,
    # alpha, mu; the latter as means over the integrand of the derivatives of its log
    d_e1 = [-np.log1p(D / ap), a * (1.0 / ap - 1.0 / (ap + D)), -D]
    d_t2 = [-e_v, a / ap * (1.0 - e_iv), 1.0 / mu - ap * e_g]
    return log_e1, log_p, [alive * e + dead * g for e, g in zip(d_e1, d_t2)], alive


def pnbd_fixed_mu_log_likelihood(r, alpha, mu, frequency, recency, T, *, gradient=False,
                                 ops=NUMPY):
    """Per-customer log-likelihood of :class:`ParetoNBDHomogeneousDropoutModel`: the
    Pareto/NBD with every drop-out rate equal to ``mu`` (module docstring),
    ``log G(r+x) - log G(r) + r log alpha - (r+x) log(alpha+t_x) - mu t_x + log P``.

    With ``gradient=True`` (numpy) also the derivatives with respect to ``log r, log
    alpha, log mu``, shaped ``(3, ...)``.

    >>> ll = pnbd_fixed_mu_log_likelihood(0.55, 10.6, 0.05, np.array([0, 2]),
    ...                                   np.array([0.0, 30.43]), np.array([38.86, 38.86]))
    >>> np.round(ll, 4)
    array([ -0.4313, -10.2346])
    """
    x, t_x, T = _as_float(frequency, recency, T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ap = alpha + t_x
        const = (ops.gammaln(r + x) - ops.gammaln(r) + r * ops.log(alpha) - (r + x) * ops.log(ap)
                 - mu * t_x)
        if not gradient:
            return const + _fixed_mu_log_p(ops, r, alpha, mu, x, t_x, T)[1]
        _, log_p, d, _ = _fixed_mu_log_p(ops, r, alpha, mu, x, t_x, T, gradient=True)
        dg = special.digamma
        grads = [r * (dg(r + x) - dg(r) + np.log(alpha) - np.log(ap) + d[0]),
                 alpha * (r / alpha - (r + x) / ap + d[1]),
                 mu * (-t_x + d[2])]
    return const + log_p, np.stack(np.broadcast_arrays(*grads))


def pnbd_fixed_mu_probability_alive(r, alpha, mu, frequency, recency, T):
    """P(alive at T | x, t_x, T) with every drop-out rate ``mu``: the alive term over
    ``P``.

    >>> float(np.round(pnbd_fixed_mu_probability_alive(0.55, 10.6, 0.05, 2, 30.43, 38.86), 4))
    0.596
    """
    x, t_x, T = _as_float(frequency, recency, T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_e1, log_p = _fixed_mu_log_p(NUMPY, r, alpha, mu, x, t_x, T)
    return np.exp(log_e1 - log_p)


def pnbd_fixed_mu_expected_purchases_new(r, alpha, mu, t):
    """E[X(t)] for a customer just acquired: ``r/alpha (1 - e^{-mu t}) / mu``.

    >>> float(np.round(pnbd_fixed_mu_expected_purchases_new(0.55, 10.6, 0.05, 39.0), 4))
    0.8901
    """
    return r / alpha * _rate_window(mu, t)


def pnbd_fixed_mu_conditional_expected_purchases(r, alpha, mu, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T]: P(alive) ``(r+x)/(alpha+T) (1 - e^{-mu
    t}) / mu`` (given alive, ``lambda ~ Gamma(r+x, alpha+T)``).

    >>> float(np.round(pnbd_fixed_mu_conditional_expected_purchases(
    ...     0.55, 10.6, 0.05, 2, 30.43, 38.86, 39.0), 4))
    0.5271
    """
    x, T = _as_float(frequency, T)
    if_alive = (r + x) / (alpha + T) * _rate_window(mu, t)
    return if_alive * pnbd_fixed_mu_probability_alive(r, alpha, mu, x, recency, T)


def pnbd_fixed_mu_discounted_purchases_if_alive(r, alpha, mu, frequency, T, horizon, delta):
    """Expected discounted purchases in (T, T+horizon] for a customer alive at T:
    ``(r+x)/(alpha+T) int_0^H e^{-(delta+mu) u} du``.

    >>> float(np.round(pnbd_fixed_mu_discounted_purchases_if_alive(
    ...     0.55, 10.6, 0.05, 2, 38.86, 39.0, 0.0), 4))
    0.8844
    """
    x, T = _as_float(frequency, T)
    return (r + x) / (alpha + T) * _rate_window(mu + delta, horizon)


def pnbd_fixed_mu_probability_of_purchases(r, alpha, mu, k, t):
    """P(X(t) = k) for a customer just acquired, every drop-out rate ``mu``::

        P = NB_k(t) e^{-mu t} + mu int_0^t NB_k(tau) e^{-mu tau} dtau,

    ``NB_k(tau) = G(r+k)/(G(r) k!) (alpha/(alpha+tau))^r (tau/(alpha+tau))^k``; the
    integral in ``q = log(1 + tau/alpha)`` has the concave log integrand ``k log(e^q-1)
    - (r+k-1) q - mu alpha (e^q - 1)``.

    >>> p = pnbd_fixed_mu_probability_of_purchases(0.55, 10.6, 0.05, np.arange(400), 52.0)
    >>> float(np.round(p.sum(), 12))
    1.0
    """
    k, t = _as_float(k, t)
    shape = np.broadcast_shapes(k.shape, t.shape, *(np.shape(v) for v in (r, alpha, mu)))
    k = np.broadcast_to(k, shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_nb = special.gammaln(r + k) - special.gammaln(r) - special.gammaln(k + 1.0)
        first = np.exp(log_nb + r * np.log(alpha) + special.xlogy(k, t)
                       - (r + k) * np.log(alpha + t) - mu * t)
        Q = np.log1p(np.where(t > 0, t, 1.0) / alpha)
        log_int = _log_count_integral(k, r + k - 1.0, mu * alpha, Q)
        second = np.exp(log_nb + np.log(mu * alpha) + log_int)
    return np.where(t > 0, first + second, np.where(k == 0, 1.0, 0.0))


def pnbd_fixed_mu_simulate_future(r, alpha, mu, frequency, recency, T, horizon, delta, rng,
                                  amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history:
    alive at ``T`` with :func:`pnbd_fixed_mu_probability_alive`; given alive ``lambda ~
    Gamma(r+x, alpha+T)``, remaining lifetime ``Exponential(mu)``, Poisson purchases
    at ``lambda`` until it or the horizon ends. Shapes and outputs as
    :func:`~clvmodels.models.purchase.pnbd.pnbd_simulate_future`.

    >>> rng = np.random.default_rng(0)
    >>> n, d = pnbd_fixed_mu_simulate_future(*(np.full((1, 100_000), v) for v in
    ...     (0.55, 10.6, 0.05)), 2, 30.43, 38.86, 39.0, 0.0, rng)
    >>> round(float(n.mean()), 1)  # E = 0.5271
    0.5
    """
    shape, (r, alpha, mu, x, t_x, T) = broadcast_flat(r, alpha, mu, frequency, recency, T)
    alive = draw_alive(rng, shape, alive_probability,
                       lambda: pnbd_fixed_mu_probability_alive(r, alpha, mu, x, t_x, T))
    live = np.flatnonzero(alive)
    lam = rng.standard_gamma(r[live] + x[live]) / (alpha[live] + T[live])
    return _simulate_live(shape, live, lam, mu[live], horizon, delta, rng, amounts)


def _simulate_live(shape, live, lam, mu, horizon, delta, rng, amounts):
    """Purchases of the live customers ``live`` of the flat ``shape`` buying at ``lam``
    for an ``Exponential(mu)`` remaining lifetime, cut at ``horizon``."""
    with np.errstate(divide="ignore"):  # mu of 0: she never dies
        life = rng.standard_exponential(live.size) / mu
    end = np.minimum(life, float(horizon))
    n = int(np.prod(shape))
    if delta == 0 and amounts is None:
        count = np.zeros(n)
        count[live] = rng.poisson(lam * end)
        return count.reshape(shape), count.reshape(shape).copy()
    return simulate_live_customers(shape, live, lam, np.full(live.size, NEVER), end, delta,
                                   rng, amounts)


# ----------------------------------------------------- homogeneous purchase rate: (lam, s, beta)
def _fixed_lam_log_p(ops, lam, s, beta, x, t_x, T, *, gradient=False):
    """``log`` of the alive term and of ``P`` (module docstring) with ``lambda`` fixed;
    with ``gradient`` (numpy) also ``d log P / d(lam, s, beta)`` and P(alive)."""
    xp = _extra(ops)
    bp, D = beta + t_x, T - t_x
    gap = D > 0
    log_e1 = -lam * D - s * xp.log1p(D / bp)
    V = xp.log1p(ops.where(gap, D, 1.0) / bp)
    # s/beta' int_0^D e^{-lam u} (1+u/beta')^-(s+1) du = s int_0^V exp(-s v - lam beta' (e^v-1)) dv
    c1, c2 = -s + 0.0 * x, lam * bp
    if not gradient:
        log_t2 = ops.log(s) + _log_decay_integral(ops, c1, c2, V)
        return log_e1, ops.where(gap, ops.logaddexp(log_e1, log_t2), log_e1)
    if ops is not NUMPY:
        raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
    c1, c2, V = np.broadcast_arrays(c1, c2, V)
    log_int, (e_v, e_iv, e_g) = _log_decay_integral(ops, c1, c2, V, moments=True)
    log_p = np.where(gap, np.logaddexp(log_e1, np.log(s) + log_int), log_e1)
    alive = np.exp(log_e1 - log_p)
    dead = np.where(gap, 1.0 - alive, 0.0)
    d_e1 = [-D, -np.log1p(D / bp), s * (1.0 / bp - 1.0 / (bp + D))]
    d_t2 = [-bp * e_g, 1.0 / s - e_v, -1.0 / bp + (s + 1.0) / bp * (1.0 - e_iv)]
    return log_e1, log_p, [alive * e + dead * g for e, g in zip(d_e1, d_t2)], alive


def pnbd_fixed_lam_log_likelihood(lam, s, beta, frequency, recency, T, *, gradient=False,
                                  ops=NUMPY):
    """Per-customer log-likelihood of :class:`ParetoNBDHomogeneousRateModel`: the
    Pareto/NBD with every purchase rate equal to ``lam`` (module docstring),
    ``x log lam - lam t_x + s log beta - s log(beta+t_x) + log P``.

    With ``gradient=True`` (numpy) also the derivatives with respect to ``log lam, log
    s, log beta``, shaped ``(3, ...)``.

    >>> ll = pnbd_fixed_lam_log_likelihood(0.05, 0.6, 11.7, np.array([0, 2]),
    ...                                    np.array([0.0, 30.43]), np.array([38.86, 38.86]))
    >>> np.round(ll, 4)
    array([-0.8774, -8.6769])
    """
    x, t_x, T = _as_float(frequency, recency, T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bp = beta + t_x
        const = x * ops.log(lam) - lam * t_x + s * ops.log(beta) - s * ops.log(bp)
        if not gradient:
            return const + _fixed_lam_log_p(ops, lam, s, beta, x, t_x, T)[1]
        _, log_p, d, _ = _fixed_lam_log_p(ops, lam, s, beta, x, t_x, T, gradient=True)
        grads = [lam * (x / lam - t_x + d[0]),
                 s * (np.log(beta) - np.log(bp) + d[1]),
                 beta * (s / beta - s / bp + d[2])]
    return const + log_p, np.stack(np.broadcast_arrays(*grads))


def pnbd_fixed_lam_probability_alive(lam, s, beta, frequency, recency, T):
    """P(alive at T | x, t_x, T) with every purchase rate ``lam``: the alive term over
    ``P``.

    >>> float(np.round(pnbd_fixed_lam_probability_alive(0.05, 0.6, 11.7, 2, 30.43, 38.86), 4))
    0.8731
    """
    x, t_x, T = _as_float(frequency, recency, T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_e1, log_p = _fixed_lam_log_p(NUMPY, lam, s, beta, x, t_x, T)
    return np.exp(log_e1 - log_p)


def pnbd_fixed_lam_expected_purchases_new(lam, s, beta, t):
    """E[X(t)] for a customer just acquired: ``lam int_0^t (1 + u/beta)^-s du``.

    >>> float(np.round(pnbd_fixed_lam_expected_purchases_new(0.05, 0.6, 11.7, 39.0), 4))
    1.1667
    """
    return lam * _survival_integral(s, beta, t)


def pnbd_fixed_lam_conditional_expected_purchases(lam, s, beta, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T]: P(alive) ``lam int_0^t (1 + u/(beta+T))^-s
    du`` (given alive, ``mu ~ Gamma(s, beta+T)``).

    >>> float(np.round(pnbd_fixed_lam_conditional_expected_purchases(
    ...     0.05, 0.6, 11.7, 2, 30.43, 38.86, 39.0), 4))
    1.418
    """
    x, T = _as_float(frequency, T)
    if_alive = lam * _survival_integral(s, beta + T, t)
    return if_alive * pnbd_fixed_lam_probability_alive(lam, s, beta, x, recency, T)


def pnbd_fixed_lam_discounted_purchases_if_alive(lam, s, beta, frequency, T, horizon, delta):
    """Expected discounted purchases in (T, T+horizon] for a customer alive at T:
    ``lam int_0^H (1 + u/(beta+T))^-s e^{-delta u} du``, by the concave-integrand
    quadrature in ``v = log(1 + u/(beta+T))`` (as the Pareto/NBD's).

    >>> float(np.round(pnbd_fixed_lam_discounted_purchases_if_alive(
    ...     0.05, 0.6, 11.7, 2, 38.86, 39.0, 0.0), 4))
    1.624
    """
    x, T = _as_float(frequency, T)
    scale = beta + T
    c1 = np.asarray(1.0 - s, dtype=np.float64)
    c2 = np.asarray(delta * scale, dtype=np.float64)
    horizon = np.asarray(horizon, dtype=np.float64)
    shape = np.broadcast_shapes(np.shape(lam), x.shape, T.shape, horizon.shape, c1.shape,
                                c2.shape)
    c1, c2 = np.broadcast_to(c1, shape), np.broadcast_to(c2, shape)
    V = np.broadcast_to(np.log1p(horizon / scale), shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_int = _log_decay_integral(NUMPY, c1, c2, np.where(V > 0, V, 1.0))
        return np.where(V > 0, lam * scale * np.exp(log_int), 0.0)


def pnbd_fixed_lam_probability_of_purchases(lam, s, beta, k, t):
    """P(X(t) = k) for a customer just acquired, every purchase rate ``lam``::

        P = Poisson(k; lam t) (beta/(beta+t))^s
            + s beta^s int_0^t Poisson(k; lam tau) (beta+tau)^-(s+1) dtau;

    the integral in ``q = log(1 + tau/beta)`` has the concave log integrand ``k
    log(e^q-1) - s q - lam beta (e^q - 1)``.

    >>> p = pnbd_fixed_lam_probability_of_purchases(0.05, 0.6, 11.7, np.arange(100), 52.0)
    >>> float(np.round(p.sum(), 12))
    1.0
    """
    k, t = _as_float(k, t)
    shape = np.broadcast_shapes(k.shape, t.shape, *(np.shape(v) for v in (lam, s, beta)))
    k = np.broadcast_to(k, shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_k = -special.gammaln(k + 1.0)
        first = np.exp(log_k + special.xlogy(k, lam * t) - lam * t - s * np.log1p(t / beta))
        Q = np.log1p(np.where(t > 0, t, 1.0) / beta)
        log_int = _log_count_integral(k, s, lam * beta, Q)
        second = np.exp(log_k + special.xlogy(k, lam * beta) + np.log(s) + log_int)
    return np.where(t > 0, first + second, np.where(k == 0, 1.0, 0.0))


def pnbd_fixed_lam_simulate_future(lam, s, beta, frequency, recency, T, horizon, delta, rng,
                                   amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history:
    alive at ``T`` with :func:`pnbd_fixed_lam_probability_alive`; given alive ``mu ~
    Gamma(s, beta+T)``, remaining lifetime ``Exponential(mu)``, Poisson purchases at
    ``lam`` until it or the horizon ends. Shapes and outputs as
    :func:`~clvmodels.models.purchase.pnbd.pnbd_simulate_future`.

    >>> rng = np.random.default_rng(0)
    >>> n, d = pnbd_fixed_lam_simulate_future(*(np.full((1, 100_000), v) for v in
    ...     (0.05, 0.6, 11.7)), 2, 30.43, 38.86, 39.0, 0.0, rng)
    >>> round(float(n.mean()), 1)  # E = 1.418
    1.4
    """
    shape, (lam, s, beta, x, t_x, T) = broadcast_flat(lam, s, beta, frequency, recency, T)
    alive = draw_alive(rng, shape, alive_probability,
                       lambda: pnbd_fixed_lam_probability_alive(lam, s, beta, x, t_x, T))
    live = np.flatnonzero(alive)
    mu = rng.standard_gamma(s[live]) / (beta[live] + T[live])
    return _simulate_live(shape, live, lam[live], mu, horizon, delta, rng, amounts)


# ------------------------------------------------------------------ homogeneous: (lam, mu)
def pnbd_homogeneous_log_likelihood(lam, mu, frequency, recency, T, *, gradient=False,
                                    ops=NUMPY):
    """Per-customer log-likelihood with one purchase rate ``lam`` and one drop-out rate
    ``mu`` for every customer: ``x log lam - (lam+mu) t_x + log(mu + lam e^{-(lam+mu)
    D}) - log(lam+mu)``, ``D = T - t_x``, the middle term a logsumexp.

    With ``gradient=True`` (numpy) also the derivatives with respect to ``log lam, log
    mu``, shaped ``(2, ...)``.

    >>> ll = pnbd_homogeneous_log_likelihood(0.05, 0.05, np.array([0, 2]),
    ...                                      np.array([0.0, 30.43]), np.array([38.86, 38.86]))
    >>> np.round(ll, 4)
    array([-0.6728, -9.3696])
    """
    x, t_x, T = _as_float(frequency, recency, T)
    D = T - t_x
    kappa = lam + mu
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lam, log_mu = ops.log(lam), ops.log(mu)
        mix = ops.logaddexp(log_mu, log_lam - kappa * D)
        ll = x * log_lam - kappa * t_x + mix - ops.log(kappa)
        if not gradient:
            return ll
        # a = lam e^{-kappa D} / (mu + lam e^{-kappa D})
        a = np.exp(log_lam - kappa * D - mix)
        grads = [x - lam * t_x + a - a * lam * D - lam / kappa,
                 -mu * t_x + (1.0 - a) - a * mu * D - mu / kappa]
    return ll, np.stack(np.broadcast_arrays(*grads))


def pnbd_homogeneous_probability_alive(lam, mu, frequency, recency, T):
    """P(alive at T | x, t_x, T) = ``(lam+mu) e^{-(lam+mu) D} / (mu + lam e^{-(lam+mu)
    D})`` (independent of ``x``).

    >>> float(np.round(pnbd_homogeneous_probability_alive(0.05, 0.05, 2, 30.43, 38.86), 4))
    0.6018
    """
    _, t_x, T = _as_float(frequency, recency, T)
    D = T - t_x
    kappa = lam + mu
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mix = np.logaddexp(np.log(mu), np.log(lam) - kappa * D)
        return np.exp(np.log(kappa) - kappa * D - mix)


def pnbd_homogeneous_expected_purchases_new(lam, mu, t):
    """E[X(t)] for a customer just acquired: ``lam (1 - e^{-mu t}) / mu``.

    >>> float(np.round(pnbd_homogeneous_expected_purchases_new(0.05, 0.05, 39.0), 4))
    0.8577
    """
    return lam * _rate_window(mu, t)


def pnbd_homogeneous_conditional_expected_purchases(lam, mu, frequency, recency, T, t):
    """E[purchases in (T, T+t] | x, t_x, T]: P(alive) ``lam (1 - e^{-mu t}) / mu``.

    >>> float(np.round(pnbd_homogeneous_conditional_expected_purchases(
    ...     0.05, 0.05, 2, 30.43, 38.86, 39.0), 4))
    0.5162
    """
    return (lam * _rate_window(mu, t)
            * pnbd_homogeneous_probability_alive(lam, mu, frequency, recency, T))


def pnbd_homogeneous_discounted_purchases_if_alive(lam, mu, frequency, T, horizon, delta):
    """Expected discounted purchases in (T, T+horizon] for a customer alive at T:
    ``lam (1 - e^{-(mu+delta) H}) / (mu+delta)``.

    >>> float(np.round(pnbd_homogeneous_discounted_purchases_if_alive(
    ...     0.05, 0.05, 2, 38.86, 39.0, 0.0), 4))
    0.8577
    """
    x, T = _as_float(frequency, T)
    out = lam * _rate_window(mu + delta, horizon)
    return np.broadcast_to(out, np.broadcast_shapes(np.shape(out), x.shape, T.shape)).copy()


def pnbd_homogeneous_probability_of_purchases(lam, mu, k, t):
    """P(X(t) = k) for a customer just acquired: ``e^{-mu t} Poisson(k; lam t) +
    mu/(lam+mu) (lam/(lam+mu))^k P(k+1, (lam+mu) t)`` (alive at ``t``, or died at
    ``tau`` having bought ``k`` times: ``int_0^t mu e^{-mu tau} Poisson(k; lam tau)
    dtau``; ``P`` the regularised lower incomplete gamma).

    >>> p = pnbd_homogeneous_probability_of_purchases(0.05, 0.05, np.arange(100), 52.0)
    >>> float(np.round(p.sum(), 12))
    1.0
    """
    k, t = _as_float(k, t)
    kappa = lam + mu
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        first = np.exp(special.xlogy(k, lam * t) - lam * t - mu * t - special.gammaln(k + 1.0))
        second = (np.exp(np.log(mu / kappa) + k * np.log(lam / kappa))
                  * special.gammainc(k + 1.0, kappa * t))
    return np.where(t > 0, first + second, np.where(k == 0, 1.0, 0.0))


def pnbd_homogeneous_simulate_future(lam, mu, frequency, recency, T, horizon, delta, rng,
                                     amounts=None, alive_probability=None):
    """Simulate each customer's purchases in ``(T, T+horizon]`` given her history:
    alive at ``T`` with :func:`pnbd_homogeneous_probability_alive`, then Poisson
    purchases at ``lam`` for an ``Exponential(mu)`` remaining lifetime cut at the
    horizon. Shapes and outputs as
    :func:`~clvmodels.models.purchase.pnbd.pnbd_simulate_future`.

    >>> rng = np.random.default_rng(0)
    >>> n, d = pnbd_homogeneous_simulate_future(np.full((1, 100_000), 0.05), 0.05, 2, 30.43,
    ...                                         38.86, 39.0, 0.0, rng)
    >>> round(float(n.mean()), 1)  # E = 0.5162
    0.5
    """
    shape, (lam, mu, x, t_x, T) = broadcast_flat(lam, mu, frequency, recency, T)
    alive = draw_alive(rng, shape, alive_probability,
                       lambda: pnbd_homogeneous_probability_alive(lam, mu, x, t_x, T))
    live = np.flatnonzero(alive)
    return _simulate_live(shape, live, lam[live], mu[live], horizon, delta, rng, amounts)


# ------------------------------------------------------------------------------ models
def _mean_T(arrays, weights) -> float:
    return max(float(np.average(arrays["T"], weights=weights)), 1e-6)


def _mean_rate(arrays, weights) -> float:
    """Repeat purchases per unit of observed time, over all customers."""
    total = float(weights @ arrays["T"])
    return max(float(weights @ arrays["x"]) / max(total, 1e-9), 1e-6)


class _LimitModel(PurchaseModel):
    """What the three limits share: the engine hooks through one likelihood function
    ``_loglik`` of the parameters in ``param_names`` order."""

    #: the per-customer log-likelihood ``(*params, x, t_x, T, gradient=, ops=)``; set by each
    _loglik = None
    #: the model in words, for the boundary statement
    _words = ""

    def describe_parameters(self) -> dict:
        """The parameters in words, with the fitted values (:func:`~clvmodels.models.
        purchase.bgnbd.limit_parameter_words`): a shared drop-out rate ``mu`` or
        gamma-distributed ones (``s``, ``beta``)."""
        return limit_parameter_words(self, "mu", point_dropout_rate_words,
                                     (("s", "beta"), gamma_dropout_words))

    def _loglik_and_grad(self, log_params, arrays, weights):
        ll, g = type(self)._loglik(*np.exp(log_params), arrays["x"], arrays["t_x"], arrays["T"],
                                   gradient=True)
        return float(weights @ ll), g @ weights

    def _pymc_log_likelihood(self, params, arrays, weights):
        ops = pytensor_ops()
        ll = type(self)._loglik(*(params[n] for n in self.param_names), arrays["x"],
                                arrays["t_x"], arrays["T"], ops=ops)
        return ops.dot(weights, ll)

    def _boundary_message(self, full_name, lr, p_value, collapsed) -> str:
        return _statement(self, full_name, lr, p_value, collapsed, self._words)


@register_model
class ParetoNBDHomogeneousDropoutModel(_LimitModel):
    """The Pareto/NBD with one drop-out rate ``mu`` for every customer: gamma-mixed
    Poisson purchase rates ``lambda ~ Gamma(r, alpha)`` while alive, and exponential
    lifetimes at rate ``mu`` (the Pareto/NBD's limit ``s, beta -> inf`` with ``s / beta
    = mu``). A Pareto/NBD fit becomes this model when the data show no heterogeneity in
    drop-out (DESIGN.md principle 8); it can also be fitted directly, and becomes
    :class:`ParetoNBDHomogeneousModel` when the purchase rates show none either.

    Examples
    --------
    Customers who all drop out at 0.03 a week (``s = 1e12`` is a point mass): the
    Pareto/NBD fit becomes this model.

    >>> from clvmodels import ParetoNBDModel, simulate_pnbd
    >>> data = simulate_pnbd(4000, 0.8, 8.0, 1e12, 1e12 / 0.03, T=52.0, random_state=2)
    >>> model = ParetoNBDModel().fit(data)
    >>> type(model).__name__, model.boundary_["collapsed"], round(float(model.params_["mu"]), 2)
    ('ParetoNBDHomogeneousDropoutModel', ['dropout'], 0.03)
    """

    param_names = ("r", "alpha", "mu")
    default_priors = {"r": LogNormal(0.0, 2.0), "alpha": LogNormal(0.0, 3.0),
                      "mu": LogNormal(-3.0, 3.0)}
    reference = ("Schmittlein, Morrison & Colombo (1987), Management Science 33(1): the "
                 "Pareto/NBD with a point mass for the drop-out rate")
    _words = ("the Pareto/NBD with one drop-out rate mu for every customer (exponential "
              "lifetimes, gamma-distributed purchase rates while alive)")
    _loglik = staticmethod(pnbd_fixed_mu_log_likelihood)
    formulas = {
        "probability_alive": pnbd_fixed_mu_probability_alive,
        "conditional_expected_purchases": pnbd_fixed_mu_conditional_expected_purchases,
        "expected_purchases_new": pnbd_fixed_mu_expected_purchases_new,
        "probability_of_purchases": pnbd_fixed_mu_probability_of_purchases,
        "discounted_purchases_if_alive": pnbd_fixed_mu_discounted_purchases_if_alive,
        "simulate_future": pnbd_fixed_mu_simulate_future,
    }

    def _start(self, arrays, weights):
        return np.log([1.0, self._start_alpha(arrays, weights), 1.0 / _mean_T(arrays, weights)])

    def mixing_spread(self, params):
        """``1 / (1 + r)``: the purchase-rate gamma's spread; 0 when every customer
        buys at the same rate."""
        return {"purchase": gamma_spread(params["r"])}


@register_model
class ParetoNBDHomogeneousRateModel(_LimitModel):
    """The Pareto/NBD with one purchase rate ``lam`` for every customer while alive:
    Poisson purchases at ``lam`` and gamma-mixed exponential lifetimes, ``mu ~ Gamma(s,
    beta)`` (the Pareto/NBD's limit ``r, alpha -> inf`` with ``r / alpha = lam``). A
    Pareto/NBD fit becomes this model when the data show no heterogeneity in purchase
    rates (DESIGN.md principle 8); it can also be fitted directly, and becomes
    :class:`ParetoNBDHomogeneousModel` when drop-out shows none either.

    Examples
    --------
    >>> from clvmodels import simulate_pnbd
    >>> data = simulate_pnbd(2000, 1e12, 1e12 / 0.1, 0.8, 25.0, T=52.0, random_state=1)
    >>> model = ParetoNBDHomogeneousRateModel().fit(data)
    >>> model.param_names, round(float(model.params_["lam"]), 2)
    (('lam', 's', 'beta'), 0.1)
    """

    param_names = ("lam", "s", "beta")
    default_priors = {"lam": LogNormal(-3.0, 3.0), "s": LogNormal(0.0, 2.0),
                      "beta": LogNormal(0.0, 3.0)}
    reference = ("Schmittlein, Morrison & Colombo (1987), Management Science 33(1): the "
                 "Pareto/NBD with a point mass for the purchase rate")
    _words = ("the Pareto/NBD with one purchase rate lam for every customer while alive "
              "(Poisson purchases, gamma-distributed drop-out rates)")
    _loglik = staticmethod(pnbd_fixed_lam_log_likelihood)
    formulas = {
        "probability_alive": pnbd_fixed_lam_probability_alive,
        "conditional_expected_purchases": pnbd_fixed_lam_conditional_expected_purchases,
        "expected_purchases_new": pnbd_fixed_lam_expected_purchases_new,
        "probability_of_purchases": pnbd_fixed_lam_probability_of_purchases,
        "discounted_purchases_if_alive": pnbd_fixed_lam_discounted_purchases_if_alive,
        "simulate_future": pnbd_fixed_lam_simulate_future,
    }

    def _start(self, arrays, weights):
        return np.log([_mean_rate(arrays, weights), 1.0, _mean_T(arrays, weights)])

    def mixing_spread(self, params):
        """``1 / (1 + s)``: the drop-out-rate gamma's spread; 0 when every customer
        drops out at the same rate."""
        return {"dropout": gamma_spread(params["s"])}


@register_model
class ParetoNBDHomogeneousModel(_LimitModel):
    """The Pareto/NBD without heterogeneity: every customer buys as a Poisson process
    at rate ``lam`` while alive and drops out at rate ``mu`` (exponential lifetime), the
    Pareto/NBD's limit as both gammas collapse to points. A Pareto/NBD fit (or either
    one-gamma limit) becomes this model when the data show no heterogeneity at all
    (DESIGN.md principle 8); it can also be fitted directly.

    Examples
    --------
    >>> from clvmodels import simulate_pnbd
    >>> data = simulate_pnbd(2000, 1e12, 1e13, 1e12, 1e12 / 0.03, T=52.0, random_state=1)
    >>> model = ParetoNBDHomogeneousModel().fit(data)
    >>> model.params_.round(2).to_dict()
    {'lam': 0.1, 'mu': 0.03}
    """

    param_names = ("lam", "mu")
    default_priors = {"lam": LogNormal(-3.0, 3.0), "mu": LogNormal(-3.0, 3.0)}
    reference = ("Schmittlein, Morrison & Colombo (1987), Management Science 33(1): the "
                 "Pareto/NBD with point masses for both rates")
    _words = ("the Pareto/NBD without heterogeneity (Poisson purchases at one rate lam "
              "while alive, exponential lifetimes at one rate mu)")
    _loglik = staticmethod(pnbd_homogeneous_log_likelihood)
    limit_models = {}
    formulas = {
        "probability_alive": pnbd_homogeneous_probability_alive,
        "conditional_expected_purchases": pnbd_homogeneous_conditional_expected_purchases,
        "expected_purchases_new": pnbd_homogeneous_expected_purchases_new,
        "probability_of_purchases": pnbd_homogeneous_probability_of_purchases,
        "discounted_purchases_if_alive": pnbd_homogeneous_discounted_purchases_if_alive,
        "simulate_future": pnbd_homogeneous_simulate_future,
    }

    def _start(self, arrays, weights):
        return np.log([_mean_rate(arrays, weights), 1.0 / _mean_T(arrays, weights)])


ParetoNBDHomogeneousDropoutModel.limit_models = {"purchase": ParetoNBDHomogeneousModel}
ParetoNBDHomogeneousRateModel.limit_models = {"dropout": ParetoNBDHomogeneousModel}
ParetoNBDModel.limit_models = {"dropout": ParetoNBDHomogeneousDropoutModel,
                               "purchase": ParetoNBDHomogeneousRateModel}
