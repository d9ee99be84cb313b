"""Beta-discrete-Weibull (BdW) model of contract renewals: the sBG with duration
dependence (Fader, Hardie, Liu, Davin & Steenburgh 2018, "How to Project Customer
Retention Revisited: The Role of Duration Dependence", Journal of Interactive
Marketing 43).

Each account has its own churn probability ``theta ~ Beta(alpha, beta)``; given
``theta`` its lifetime ``T`` (periods paid for) has the discrete-Weibull survival
``P(T > t | theta) = (1 - theta)^(t^c)``, so across accounts

* survival ``S(t) = P(T > t) = B(alpha, beta + t^c) / B(alpha, beta)``;
* ``P(T = t) = S(t - 1) - S(t)``;
* retention rate ``r(t) = S(t) / S(t - 1)``.

``c < 1``: an account's own churn hazard falls with its tenure; ``c > 1``: it rises;
``c = 1`` is exactly the sBG (:mod:`clvmodels.models.churn.sbg`). The cohort retention rate
mixes both effects: it rises with tenure when the accounts that stay are the loyal
ones (heterogeneity) and when each account grows more loyal (``c < 1``).

Given ``T > t`` an account's churn probability is ``Beta(alpha, beta + t^c)`` (the
likelihood ``(1 - theta)^(t^c)`` is conjugate), so its predictions condition on
tenure as the sBG's do. For large ``t``, ``S(t) ~ t^(-c alpha)``: the undiscounted
mean lifetime exists only when ``c alpha > 1``.

Every formula broadcasts: parameters may be arrays of draws shaped ``(n_draws, 1)``
against account arrays ``(n,)``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ...priors import LogNormal
from ..backend import NUMPY
from ..boundary import beta_spread
from ..registry import register_model
from .base import ChurnModel, observe_lifetimes
from .covariates import CovariateChurnMixin
from .sbg import churn_words

__all__ = [
    "BetaDiscreteWeibullModel",
    "BetaDiscreteWeibullCovariateModel",
    "bdw_log_likelihood",
    "bdw_survival",
    "bdw_retention_rate",
    "bdw_expected_residual_lifetime",
    "bdw_discounted_residual_lifetime",
    "bdw_simulate_renewals",
    "simulate_bdw",
    "DiscreteWeibullChurnModel",
]


def _power(t, c, ops=NUMPY):
    """``(t^c, log t)`` for data ``t >= 0`` and parameter ``c > 0`` on either back-end,
    with ``0^c = 0`` and a zero (not NaN) derivative w.r.t. ``c`` there."""
    t = np.asarray(t, dtype=np.float64)
    pos = t > 0
    log_t = np.log(np.where(pos, t, 1.0))
    return ops.exp(c * log_t) * pos, log_t


# ---------------------------------------------------------------- likelihood
def bdw_log_likelihood(alpha, beta, c, tenure, churned, entry=0.0, *, gradient=False,
                       ops=NUMPY):
    """Per-account BdW log-likelihood (Fader et al. 2018) conditioned on the account
    having survived its first ``entry`` renewal decisions (left truncation).

    With ``L(t) = log B(alpha, beta + t^c)`` (``log S(t)`` up to a constant that
    cancels): an active account (``T > t``) contributes ``L(t) - L(e)``, a churned one
    (``T = t``) ``log(S(t - 1) - S(t)) - log S(e) = L(t - 1) + log(1 - exp(L(t) -
    L(t - 1))) - L(e)``, evaluated in that stable form. Written once: maximum
    likelihood evaluates it with numpy, the PyMC model builds it as a PyTensor graph
    (``ops=pytensor_ops()``). ``alpha`` and ``beta`` may be per-account arrays (the
    covariate model). With ``gradient=True`` (numpy) also returns the derivatives
    w.r.t. ``log alpha``, ``log beta`` and ``log c`` per account, ``(3, n)``.

    >>> ll = bdw_log_likelihood(0.7, 1.2, 1.0, np.array([1, 4]), np.array([1, 0]))
    >>> bool(np.allclose(np.exp(ll), [0.7 / 1.9, np.prod([(1.2 + i) / (1.9 + i)
    ...                                                   for i in range(4)])]))
    True
    >>> np.round(bdw_log_likelihood(0.7, 1.2, 0.5, np.array([1, 7]), np.array([1, 0])), 4)
    array([-0.9985, -0.8697])
    """
    t = np.asarray(tenure, dtype=np.float64)
    d = np.asarray(churned, dtype=np.float64)
    e = np.asarray(entry, dtype=np.float64)
    x_lo, log_lo = _power(t - d, c, ops)  # (t - 1)^c for churned, t^c for active rows
    x_t, log_t = _power(t, c, ops)
    x_e, log_e = _power(e, c, ops)
    # L(t) - log Gamma(alpha): numpy uses the accurate _log_gamma_ratio, PyTensor
    # the same function of gammaln (the same value, one formula)
    if ops is NUMPY:
        ratio = _log_gamma_ratio
    else:
        def ratio(b, a):
            return ops.gammaln(b) - ops.gammaln(b + a)
    l_lo = ratio(beta + x_lo, alpha)
    l_e = ratio(beta + x_e, alpha)
    # active rows take a dummy -1 so that log1mexp (and its derivative) stays finite
    diff = ops.where(d > 0, ratio(beta + x_t, alpha) - l_lo, -1.0)
    ll = l_lo + d * ops.log1mexp(diff) - l_e
    if not gradient:
        return ll
    if ops is not NUMPY:
        raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
    psi_a = special.digamma(alpha)

    def grad_l(x, log_x):  # d L(t) / d (log alpha, log beta, log c) at x = t^c
        dx = _polygamma_differences(beta + x, alpha)[0]
        return alpha * (psi_a - special.digamma(alpha + beta + x)), beta * dx, dx * c * x * log_x

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        kappa = d * np.exp(diff) / np.expm1(diff)  # d log(1 - e^D) / dD, 0 when active
    g_lo, g_t, g_e = grad_l(x_lo, log_lo), grad_l(x_t, log_t), grad_l(x_e, log_e)
    g = [(1.0 - kappa) * lo + kappa * hi - en for lo, hi, en in zip(g_lo, g_t, g_e)]
    return ll, np.stack(np.broadcast_arrays(*g))


# ------------------------------------------------------- cohort-level curves
def _log_survival(alpha, beta, c, t):
    x, _ = _power(t, c)
    beta = np.asarray(beta, dtype=np.float64)
    return _log_gamma_ratio(beta + x, alpha) - _log_gamma_ratio(beta, alpha)


def bdw_survival(alpha, beta, c, t):
    """``S(t) = B(alpha, beta + t^c) / B(alpha, beta)``: share of a new cohort still
    active after ``t`` renewal decisions.

    >>> np.round(bdw_survival(0.7041, 1.1820, 1.0, np.array([1, 7, 12])), 4)
    array([0.6267, 0.239 , 0.17  ])
    >>> np.round(bdw_survival(0.7, 1.2, np.array([0.5, 2.0]), 7), 4)
    array([0.4191, 0.0677])
    """
    return np.exp(_log_survival(alpha, beta, c, np.asarray(t, dtype=np.float64)))


def bdw_retention_rate(alpha, beta, c, t):
    """``r(t) = S(t) / S(t - 1)``, ``t >= 1``: the share of the accounts active in
    period ``t`` that renew at its end. With ``c = 1`` the sBG's ``(beta + t - 1) /
    (alpha + beta + t - 1)``.

    >>> np.round(bdw_retention_rate(0.7041, 1.1820, 1.0, np.array([1, 2, 10])), 3)
    array([0.627, 0.756, 0.935])
    """
    t = np.asarray(t, dtype=np.float64)
    return np.exp(_log_survival(alpha, beta, c, t) - _log_survival(alpha, beta, c, t - 1.0))


# ------------------------------------------- residual lifetime, discounted or not
# Gauss-Legendre nodes on [0, 1] for the tail integral of the residual-lifetime sum
# (more nodes without discounting, where the integrand spans a longer range of v)
_GL = {n: ((x + 1.0) / 2.0, w / 2.0) for n, (x, w) in
       ((n, np.polynomial.legendre.leggauss(n)) for n in (40, 96))}
_COARSE = np.linspace(0.0, 1.0, 9)  # grid locating where the tail integrand vanishes
_DROP = 45.0  # the integrand is cut where it is exp(-45) below its peak
_HEAD, _MAX_HEAD = 24, 4096
_BLOCK_TERMS = 2_000_000  # head terms evaluated at a time (memory bound)
_STIRLING = 10.0  # log-gamma arguments from which Stirling's series is used
_SUM_STIRLING = 1000.0  # the same in the residual-lifetime sums (1e-13 per term is enough)
_PSI_SERIES = 1e4  # polygamma arguments from which their asymptotic series are used


def _log_gamma_ratio(b, a, stirling_from=_STIRLING):
    """``log Gamma(b) - log Gamma(b + a)`` for ``a, b > 0`` (``log B(a, b)`` up to
    ``log Gamma(a)``); Stirling's series (to ``z^-9``, error below ``2e-14`` there)
    from ``b = 10`` on, where the difference of two ``gammaln`` values (each ~``b
    log b``) would lose digits. More accurate for large ``b`` than ``special.betaln``
    (off by up to ~1e-8 for ``b`` in the millions), and faster. Sums of many terms,
    which need no more than ``1e-13`` per term, pass ``stirling_from=1000`` (faster).

    >>> b = np.array([5.0, 50.0, 2e6])  # a = 2: Gamma(b) / Gamma(b + 2) = 1 / (b (b + 1))
    >>> bool(np.allclose(_log_gamma_ratio(b, 2.0), -np.log(b) - np.log1p(b), rtol=1e-15))
    True
    """
    b = np.asarray(b, dtype=np.float64)
    large = b >= stirling_from
    if not large.any():
        return special.gammaln(b) - special.gammaln(b + a)
    a = np.broadcast_to(a, np.broadcast_shapes(np.shape(a), b.shape))
    b = np.broadcast_to(b, a.shape)
    out = np.empty(a.shape)
    small = ~large
    out[small] = special.gammaln(b[small]) - special.gammaln(b[small] + a[small])
    bl, al = b[large], a[large]
    s = bl + al

    def series(z):  # Stirling's series of log Gamma(z) after its leading terms
        w = 1.0 / (z * z)
        return (1 / 12 - w * (1 / 360 - w * (1 / 1260 - w * (1 / 1680 - w / 1188)))) / z

    with np.errstate(over="ignore"):
        out[large] = (al - (bl - 0.5) * np.log1p(al / bl) - al * np.log(s)
                      + series(bl) - series(s))
    return out


def _polygamma_differences(z, a):
    """``psi_n(z) - psi_n(z + a)`` for ``n = 0, 1, 2`` (``psi_n`` the polygamma
    functions), from the asymptotic series for ``z >= 1e4``, where the direct
    difference of two nearly equal values would lose the digits that matter.

    >>> np.round(_polygamma_differences(np.array([3.0, 1e12]), 2.0)[0] * [1.0, 1e12], 6)
    array([-0.583333, -2.      ])
    """
    z = np.asarray(z, dtype=np.float64)
    z, a = np.broadcast_arrays(z, np.asarray(a, dtype=np.float64))
    s = z + a
    with np.errstate(over="ignore", invalid="ignore"):
        zs = z * s
        two = a * (z + s)  # s^2 - z^2
        three = a * (z * z + z * s + s * s)  # s^3 - z^3
        large = (-np.log1p(a / z) - a / (2.0 * zs) - two / (12.0 * zs * zs),
                 a / zs + two / (2.0 * zs * zs) + three / (6.0 * zs**3),
                 -two / (zs * zs) - three / zs**3)
    small = z < _PSI_SERIES
    return tuple(np.where(small, special.polygamma(n, z) - special.polygamma(n, s), v)
                 for n, v in enumerate(large))


def _residual_sum(a, b, c, t, lam):
    """``sum_{k>=0} exp(-lam k) S(t + 1 + k) / S(t)`` elementwise, ``lam >= 0``
    (``lam = 0`` needs ``c a > 1``).

    The first ``K`` terms (``K >= 24``, more when ``c max(a, 1)`` is large against
    ``t``) are summed; the rest by Euler-Maclaurin: the integral of the smooth summand
    ``f`` over ``[K, inf)`` plus ``f(K)/2 - f'(K)/12 + f'''(K)/720``. The integral is
    taken in ``v = log((t + 1 + x) / (t + 1 + K))``, in which the summand's power-law
    decay is exponential and its log is concave, by 40-point Gauss-Legendre (96 without
    discounting) on ``[0, V]``: ``V`` is where the discount factor is below ``exp(-100)``, cut back to
    where the integrand is ``exp(-45)`` below its peak (located on a coarse grid).
    Without discounting ``V`` is where ``t^c`` dwarfs ``beta``, and the rest,
    ``~ y^(-c a)``, is integrated in closed form from the asymptotic expansion of the
    beta function. Blocks of similar ``K`` keep memory bounded.
    """
    a, b, c, t, lam = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (a, b, c, t, lam)))
    shape = a.shape
    a, b, c, t, lam = (v.ravel() for v in (a, b, c, t, lam))
    scale = c * np.maximum(a, 1.0)
    heads = np.clip(np.ceil(20.0 * scale - t - 1.0), _HEAD, _MAX_HEAD).astype(np.intp)
    order = np.argsort(heads, kind="stable")
    out = np.empty(a.size)
    start = 0
    while start < a.size:
        stop = min(a.size, start + max(1, _BLOCK_TERMS // int(heads[order[start]])))
        stop = start + max(1, _BLOCK_TERMS // int(heads[order[stop - 1]]))  # largest K in it
        idx = order[start:stop]
        out[idx] = _residual_sum_block(a[idx], b[idx], c[idx], t[idx], lam[idx],
                                       int(heads[idx].max()))
        start = stop
    return out.reshape(shape)


def _residual_sum_block(a, b, c, t, lam, K):
    """:func:`_residual_sum` for 1-d arrays with ``K`` head terms."""
    a_, b_, c_, lam_ = (v[:, None] for v in (a, b, c, lam))
    y0 = t + 1.0
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        log_norm = _log_gamma_ratio(b + _power(t, c)[0], a, _SUM_STIRLING)  # log S(t) + const
        k = np.arange(K, dtype=np.float64)
        y = y0[:, None] + k
        log_p = _log_gamma_ratio(b_ + np.exp(c_ * np.log(y)), a_, _SUM_STIRLING) - log_norm[:, None]
        head = np.exp(log_p - lam_ * k).sum(axis=1)

        yK = y0 + K
        log_yK = np.log(yK)

        def log_integrand(v):  # log of f(x) dx/dv at y = t + 1 + x = yK e^v
            log_y = log_yK[:, None] + v
            y_v = np.exp(log_y)
            return (_log_gamma_ratio(b_ + np.exp(c_ * log_y), a_, _SUM_STIRLING) - log_norm[:, None]
                    - lam_ * (y_v - y0[:, None]) + log_y)

        p = c * a
        undiscounted = lam == 0
        # where the discount factor is below exp(-100), or (undiscounted) where
        # X = y^c exceeds 1e6 (a b + a^2 + 1) and the asymptotic tail takes over
        v_asym = np.maximum(np.log(1e6 * (a * b + a * a + 1.0)) / c - log_yK, 0.0)
        v_max = np.where(undiscounted, v_asym, np.log1p(100.0 / (lam * yK)))
        g = log_integrand(_COARSE[None, :] * v_max[:, None])
        peak = np.argmax(g, axis=1)
        below = (g < g.max(axis=1, keepdims=True) - _DROP) & (
            np.arange(_COARSE.size)[None, :] > peak[:, None])
        cut = below.any(axis=1)
        first = np.where(cut, np.argmax(below, axis=1), _COARSE.size - 1)
        v_end = _COARSE[first] * v_max
        gl_x, gl_w = _GL[96 if undiscounted.any() else 40]
        integral = (np.exp(log_integrand(gl_x[None, :] * v_end[:, None])) @ gl_w) * v_end

        # undiscounted: int_{Y}^inf y^-p (1 - kappa y^-c) dy / S(t), Y = yK e^V
        log_y_end = log_yK + v_end
        kappa = a * b + a * (a - 1.0) / 2.0
        asym = np.exp(-log_norm) * (np.exp((1.0 - p) * log_y_end) / (p - 1.0) - kappa
                                    * np.exp((1.0 - p - c) * log_y_end) / (p + c - 1.0))
        integral = integral + np.where(undiscounted & ~cut, asym, 0.0)

        # Euler-Maclaurin end corrections at x = K from derivatives of log f
        X = np.exp(c * log_yK)
        f_K = np.exp(_log_gamma_ratio(b + X, a, _SUM_STIRLING) - log_norm - lam * K)
        d1, d2, d3 = _polygamma_differences(b + X, a)
        x1 = c * X / yK
        x2 = x1 * (c - 1.0) / yK
        x3 = x2 * (c - 2.0) / yK
        h1 = d1 * x1 - lam
        h2 = d2 * x1**2 + d1 * x2
        h3 = d3 * x1**3 + 3.0 * d2 * x1 * x2 + d1 * x3
        tail = integral + f_K / 2.0 - f_K * h1 / 12.0 + f_K * (h1**3 + 3.0 * h1 * h2 + h3) / 720.0
    return head + np.where(f_K > 0, tail, 0.0)


def _derl_lam(alpha, beta, c, tenure, lam):
    """Whole-life DERL with the discount given as ``lam = -log z`` per period (any
    sign): finite for ``lam > 0``; for ``lam = 0`` the expected residual lifetime,
    infinite when ``c alpha <= 1``; infinite for ``lam < 0``."""
    t = np.asarray(tenure, dtype=np.float64)
    a, b, c, t, lam = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                            for v in (alpha, beta, c, t, lam)))
    out = np.full(a.shape, np.inf)
    ok = (lam > 0) | ((lam == 0) & (c * a > 1.0))
    out[ok] = _residual_sum(a[ok], b[ok], c[ok], t[ok], lam[ok])
    return out


def bdw_expected_residual_lifetime(alpha, beta, c, tenure):
    """Expected further renewals of an active account with tenure ``t``:
    ``sum_{k>=1} S(t + k) / S(t)``; infinite when ``c alpha <= 1`` (``S(t) ~
    t^(-c alpha)``). With ``c = 1`` the sBG's ``(beta + t) / (alpha - 1)``.

    >>> np.round(bdw_expected_residual_lifetime(3.8, 15.2, 1.0, np.array([0, 4])), 4)
    array([5.4286, 6.8571])
    >>> float(bdw_expected_residual_lifetime(3.8, 15.2, 0.25, 0))
    inf
    """
    return _derl_lam(alpha, beta, c, tenure, 0.0)


def bdw_discounted_residual_lifetime(alpha, beta, c, tenure, discount, growth=0.0):
    """Discounted expected residual lifetime (DERL) of an active account with tenure
    ``t``: ``sum_{k>=0} P(T > t + 1 + k | T > t) z^k``, ``z = (1 + growth) / (1 +
    discount)`` per period, in units of one period's revenue (next renewal
    undiscounted; the convention of :func:`~clvmodels.models.churn.sbg.sbg_discounted_residual_lifetime`).
    Infinite for ``z > 1``, and for ``z = 1`` when ``c alpha <= 1``; never NaN.

    >>> np.round(bdw_discounted_residual_lifetime(3.80, 15.20, 1.0, np.arange(3), 0.10), 2)
    array([3.31, 3.45, 3.59])
    >>> np.round(bdw_discounted_residual_lifetime(0.8, 2.5, [0.5, 1.0, 1.5], 0, 0.01), 2)
    array([33.3 , 11.23,  4.74])
    """
    lam = np.log1p(np.asarray(discount, dtype=np.float64)) - np.log1p(np.asarray(growth, float))
    return _derl_lam(alpha, beta, c, tenure, lam)


# ---------------------------------------------------------------- simulation
def _renewals_before(t, e, c):
    """The largest whole ``k >= 0`` with ``(t + k)^c - t^c <= e`` (``e >= 0``, may be
    ``inf``): ``floor((t^c + e)^(1/c) - t)``, corrected by one where rounding put it
    on the wrong side of a whole number (exact for ``c = 1``)."""
    tc = np.power(t, c)
    with np.errstate(over="ignore", invalid="ignore"):
        k = np.maximum(np.floor(np.power(tc + e, 1.0 / c) - t), 0.0)
        finite = np.isfinite(k)
        k = k + (finite & (np.power(t + k + 1.0, c) - tc <= e))
        k = k - (finite & (k > 0) & (np.power(t + k, c) - tc > e))
    return k


def _exposure_to_churn(theta, u):
    """``E = log(u) / log(1 - theta)``: ``P(E >= x) = (1 - theta)^x``; ``inf`` when
    ``theta`` underflows to 0, 0 when it is 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.log(u) / np.log1p(-theta)
    return np.where(theta <= 0.0, np.inf, np.where(theta >= 1.0, 0.0, e))


def bdw_simulate_renewals(alpha, beta, c, tenure, rng, horizon=None):
    """Simulate the number of further renewals of active accounts (float array, the
    shape of the broadcast inputs). Each draws its churn probability from its
    posterior ``Beta(alpha, beta + t^c)``, then renews ``K`` more times with
    ``P(K >= k) = (1 - theta)^((t + k)^c - t^c)``. ``K`` is infinite when ``theta``
    underflows to 0; ``horizon`` caps it. With ``c = 1`` and the same generator it
    gives exactly :func:`~clvmodels.models.churn.sbg.sbg_simulate_renewals`' draws.

    >>> k = bdw_simulate_renewals(3.8, 15.2, 1.0, np.zeros(20000), np.random.default_rng(0))
    >>> bool(abs(k.mean() - 15.2 / 2.8) < 0.3)
    True
    """
    t = np.asarray(tenure, dtype=np.float64)
    a, b, c, t = np.broadcast_arrays(np.asarray(alpha, float), np.asarray(beta, float),
                                     np.asarray(c, float), t)
    theta = rng.beta(a, b + _power(t, c)[0])
    k = _renewals_before(t, _exposure_to_churn(theta, rng.random(a.shape)), c)
    return k if horizon is None else np.minimum(k, float(horizon))


def simulate_bdw(n_accounts: int, alpha: float, beta: float, c: float, *, tenure_max,
                 holdout: int = 0, entry=0, time_unit: str = "month",
                 random_state=None):
    """Simulate accounts of the BdW model observed from renewal decision ``entry`` to
    ``tenure_max`` (ints, or one per account), and the ``holdout`` decisions after
    that; as :func:`~clvmodels.models.churn.sbg.simulate_sbg` (same columns; accounts that
    churned before ``entry`` are left out), and with ``c = 1`` the same accounts for
    the same ``random_state``. Each account draws ``theta ~ Beta(alpha, beta)`` and
    its lifetime ``T = 1 + max{t : t^c <= E}`` with ``P(E >= x) = (1 - theta)^x``, so
    ``P(T > t | theta) = (1 - theta)^(t^c)``.

    >>> s = simulate_bdw(5, 1.0, 3.0, 0.5, tenure_max=4, random_state=0)
    >>> list(s.columns), s.attrs["time_unit"]
    (['tenure', 'churned', 'entry', 'theta', 'holdout_renewals'], 'month')
    """
    rng = np.random.default_rng(random_state)
    theta = rng.beta(alpha, beta, size=n_accounts)
    e = _exposure_to_churn(theta, rng.random(n_accounts))
    life = 1.0 + _renewals_before(np.zeros(n_accounts), e, float(c))
    return observe_lifetimes(life, entry=entry, tenure_max=tenure_max, holdout=holdout,
                             time_unit=time_unit, extra={"theta": theta})


# ---------------------------------------------------------------------- model
_BDW_TIPS = (
    "What to try:\n"
    "  1. check the summary: 'tenure' counts renewal decisions (see "
    "clvmodels.data.subscriptions), 'churned' marks cancelled accounts and 'entry' the "
    "decisions survived before observation began (a snapshot: entry = tenure - 1);\n"
    "  2. if no account (or almost none) churned, or if churn probabilities hardly differ "
    "between accounts (alpha and beta then grow together without bound), maximum "
    "likelihood has no finite answer: fit with method='map' or 'mcmc' (CLI: --method "
    "map), where the priors keep alpha, beta and c finite, or add accounts observed to "
    "churn;\n"
    "  3. the duration exponent c is identified by how churn changes with tenure: with "
    "few distinct tenures (a short history, or a snapshot of one decision per account "
    "over a narrow range of tenures) use method='map' (CLI: --method map), or the sBG "
    "(ShiftedBetaGeoModel, c = 1; CLI: --model sbg);\n"
    "  4. fit on more accounts or a longer history;\n"
    "  5. allow more iterations: max_iter (CLI: --max-iter)."
)


@register_model
class BetaDiscreteWeibullModel(ChurnModel):
    """Beta-discrete-Weibull model of contract renewals (module docstring), fitted by
    ``fit(accounts, method=...)`` with ``"mle"`` (default), ``"map"``, ``"mcmc"`` or
    ``"advi"``; settings as in :class:`~clvmodels.models.base.BaseModel`.

    ``accounts`` has one row per account with ``tenure`` and ``churned`` (optional
    ``weight`` and ``entry``), as for
    :class:`~clvmodels.models.churn.sbg.ShiftedBetaGeoModel`. Predictions and curves come
    from the churn-model engine (:class:`~clvmodels.models.churn.base.ChurnModel`); the
    whole-life (discounted) residual lifetimes from :func:`bdw_discounted_residual_lifetime`.

    Examples
    --------
    The "regular" cohort of Fader & Hardie (2007), years 1-7: the BdW fits at least as
    well as the sBG (log-likelihood -1680.27, the nested ``c = 1``):

    >>> from clvmodels.models.churn.sbg import accounts_from_survival
    >>> regular = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241],
    ...                                  time_unit="year")
    >>> model = BetaDiscreteWeibullModel().fit(regular)
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 2)
    ([0.456, 0.779, 1.283], -1679.6)
    >>> round(1000 * float(model.survival(12)), 1)  # projected survivors in year 12
    177.3
    >>> model.expected_lifetime()  # c alpha < 1: S(t) ~ t^(-c alpha) has no finite mean
    inf
    """

    param_names = ("alpha", "beta", "c")
    row_param_names = ("alpha", "beta", "c")
    # alpha and c are shapes; beta's scale depends on the period length (wider prior);
    # c ~ LogNormal(0, 1) centres on the sBG (c = 1) and allows about 0.14..7 (95%)
    default_priors = {"alpha": LogNormal(0.0, 2.0), "beta": LogNormal(0.0, 3.0),
                      "c": LogNormal(0.0, 1.0)}
    reference = ("Fader, Hardie, Liu, Davin & Steenburgh (2018), Journal of Interactive "
                 "Marketing 43")
    fit_tips = _BDW_TIPS

    def describe_parameters(self) -> dict:
        """The parameters in words, with the fitted values: the churn probability as
        in the sBG, and how an account's churn changes with its tenure (``c``)."""
        self._require_fitted()
        v = self.point_params()
        unit = getattr(self, "time_unit_", None) or "period"
        out = churn_words(v, unit, renewals="at its first renewal")
        c = v["c"]
        trend = ("falls" if c < 1 else "rises") + " with its tenure"
        out["c"] = (f"How an account's own churn changes with its tenure: c = {c:.3g} "
                    f"({'below' if c < 1 else 'above'} 1, so each account's churn {trend}; "
                    f"at c = 1 it would stay the same): staying 12 {unit}s is as likely as "
                    f"staying {12 ** c:.3g} {unit}s would be at the churn of the first "
                    "renewal (t^c for t = 12).")
        return out

    def _start(self, arrays, weights):
        rate = self._start_churn_rate(arrays, weights)
        return np.log([1.0, (1.0 - rate) / rate, 1.0])

    def mixing_spread(self, params):
        """``1 / (alpha + beta + 1)``; 0 when every account has the same churn parameter."""
        return {"churn": beta_spread(params["alpha"], params["beta"])}

    # the model's math (ChurnModel hooks)
    def _log_survival(self, p, t):
        return _log_survival(p["alpha"], p["beta"], p["c"], t)

    def _row_log_likelihood(self, p, rows, *, gradient=False, ops=NUMPY):
        return bdw_log_likelihood(p["alpha"], p["beta"], p["c"], rows["tenure"],
                                  rows["churned"], rows.get("entry", 0.0),
                                  gradient=gradient, ops=ops)

    def _discounted_renewals(self, p, tenure, lam, horizon=None):
        if horizon is None:
            return _derl_lam(p["alpha"], p["beta"], p["c"], tenure, lam)
        return super()._discounted_renewals(p, tenure, lam, horizon)

    def _expected_residual_lifetime(self, p, tenure):
        return bdw_expected_residual_lifetime(p["alpha"], p["beta"], p["c"], tenure)

    def _simulate_renewals(self, p, tenure, rng, horizon=None):
        return bdw_simulate_renewals(p["alpha"], p["beta"], p["c"], tenure, rng,
                                     horizon=horizon)


class BetaDiscreteWeibullCovariateModel(CovariateChurnMixin, BetaDiscreteWeibullModel):
    """BdW churn model whose ``alpha`` and ``beta`` depend on account covariates through
    a log link (see :mod:`clvmodels.models.churn.covariates`); the duration exponent
    ``c`` is shared by all accounts.

    Parameters
    ----------
    covariates : sequence of str
        Numeric columns of the account summary (0/1 dummies for categories).
    coefficient_prior_sd : float
        Standard deviation of the ``Normal(0, sd)`` prior on every coefficient
        (``method`` "map", "mcmc", "advi").
    **others
        As :class:`BetaDiscreteWeibullModel`.

    Examples
    --------
    >>> import pandas as pd
    >>> from clvmodels.datasets import load_telco
    >>> telco = load_telco()
    >>> telco = telco.join(pd.get_dummies(telco["Contract"], drop_first=True, dtype=float))
    >>> model = BetaDiscreteWeibullCovariateModel(covariates=["One year", "Two year"],
    ...                                           random_state=0).fit(telco, method="map")
    >>> model.param_names[:3], model.param_names[3:5]
    (('alpha', 'beta', 'c'), ('alpha[One year]', 'alpha[Two year]'))
    """

    def __init__(
        self,
        *,
        covariates=(),
        coefficient_prior_sd: float = 2.0,
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
        super().__init__(covariates=covariates, coefficient_prior_sd=coefficient_prior_sd,
                         time_unit=time_unit, priors=priors, draws=draws, tune=tune,
                         chains=chains, cores=cores, sampler=sampler,
                         target_accept=target_accept, advi_iterations=advi_iterations,
                         random_state=random_state, max_iter=max_iter)


@register_model
class DiscreteWeibullChurnModel(BetaDiscreteWeibullModel):
    """The beta-discrete-Weibull's nested limit: every account has the same churn
    parameter ``p`` (``alpha, beta -> inf`` with ``alpha / (alpha + beta) = p``), so
    ``S(t) = (1 - p)^(t^c)``: churn that changes with tenure (``c > 1`` rising,
    ``c < 1`` falling) in the same way for every account; ``c = 1`` is the geometric
    model.

    A BdW fit becomes this model when the data show no heterogeneity (DESIGN.md
    principle 8; :meth:`~clvmodels.models.churn.base.ChurnModel.fit`); it can also be fitted
    directly.

    Examples
    --------
    >>> from clvmodels.models.churn.base import observe_lifetimes
    >>> rng = np.random.default_rng(0)
    >>> life = np.floor(np.power(np.log(rng.random(20000)) / np.log(0.9), 1 / 1.5)) + 1
    >>> accounts = observe_lifetimes(life, tenure_max=12)
    >>> DiscreteWeibullChurnModel().fit(accounts).params_.round(2).tolist()
    [0.1, 1.5]
    """

    param_names = ("p", "c")
    row_param_names = ("p", "c")
    default_priors = {"p": LogNormal(-2.0, 2.0), "c": LogNormal(0.0, 1.0)}
    reference = ("Fader et al. (2018): the beta-discrete-Weibull with a point mass (no "
                 "heterogeneity)")
    limit_models = {}

    def _start(self, arrays, weights):
        return np.log([self._start_churn_rate(arrays, weights), 1.0])

    def _boundary_message(self, full_name, lr, p_value, collapsed) -> str:
        s = self.summary(0.95)
        unit = self.time_unit_ or "period"
        p, c = s.loc["p", "estimate"], s.loc["c", "estimate"]
        trend = ("rises" if s.loc["c", "lower"] > 1 else "falls" if s.loc["c", "upper"] < 1
                 else "barely changes")
        return (f"The churn probability is the same for every account, and it {trend} with "
                f"tenure in the same way for all: S(t) = (1 - p)^(t^c) with p = {p:.4f} "
                f"(95% interval {s.loc['p', 'lower']:.4f}-{s.loc['p', 'upper']:.4f}) and c = "
                f"{c:.3f} ({s.loc['c', 'lower']:.3f}-{s.loc['c', 'upper']:.3f}), per {unit}; "
                f"letting it differ between accounts ({full_name}) fits no better "
                f"(likelihood-ratio statistic {lr:.2f}, p-value {p_value:.2f}). The fit uses "
                "the discrete-Weibull model, the limit as alpha and beta grow without bound "
                "together.")

    def _log_survival(self, p, t):
        return _power(t, p["c"])[0] * np.log1p(-p["p"])

    def _row_log_likelihood(self, p, rows, *, gradient=False, ops=NUMPY):
        t = np.asarray(rows["tenure"], dtype=np.float64)
        ch = np.asarray(rows["churned"], dtype=np.float64)
        e = np.asarray(rows.get("entry", 0.0), dtype=np.float64)
        c = p["c"]
        q = ops.log(1.0 - p["p"])  # log(1 - p) < 0
        tc, log_t = _power(t, c, ops)
        pc, log_p = _power(t - 1.0, c, ops)
        ec, log_e = _power(e, c, ops)
        d = tc - pc
        safe_d = ops.where(ch > 0, d, 1.0)  # active rows: no churn term
        ll = (ch * (q * (pc - ec) + ops.log1mexp(q * safe_d))
              + (1.0 - ch) * q * (tc - ec))
        if not gradient:
            return ll
        pp = np.asarray(p["p"], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inv = 1.0 / np.expm1(-q * safe_d)  # e^{qD} / (1 - e^{qD})
            dq = np.where(ch > 0, pc - ec - safe_d * inv, tc - ec)
            g_p = dq * (-pp / (1.0 - pp))
            dt, dp, de = c * tc * log_t, c * pc * log_p, c * ec * log_e
            g_c = np.where(ch > 0, q * (dp - de) - q * (dt - dp) * inv, q * (dt - de))
        return ll, np.stack(np.broadcast_arrays(g_p, g_c))

    def _probability_renewal(self, p, tenure):
        return self._conditional_survival(p, tenure, 1.0)

    def _discounted_renewals(self, p, tenure, lam, horizon=None):
        return ChurnModel._discounted_renewals(self, p, tenure, lam, horizon)

    def _expected_residual_lifetime(self, p, tenure):
        return self._discounted_renewals(p, tenure, 0.0)

    def _expected_lifetime(self, p):
        return 1.0 + self._expected_residual_lifetime(p, np.zeros(np.shape(p["p"])))

    def _simulate_renewals(self, p, tenure, rng, horizon=None):
        t = np.asarray(tenure, dtype=np.float64)
        q, c, t = np.broadcast_arrays(np.asarray(p["p"], float), np.asarray(p["c"], float), t)
        k = _renewals_before(t, _exposure_to_churn(q, rng.random(q.shape)), c)
        return k if horizon is None else np.minimum(k, float(horizon))


BetaDiscreteWeibullModel.limit_models = {"churn": DiscreteWeibullChurnModel}
