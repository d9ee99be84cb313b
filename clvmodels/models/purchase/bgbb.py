"""BG/BB model of discrete-time repeat transactions (Fader, Hardie & Berger 2010,
"Customer-Base Analysis in a Discrete-Time Noncontractual Setting", Marketing Science
29(6)).

Time comes in periods, each one transaction opportunity (a year of donations, a
yearly event). While alive, a customer transacts in a period with probability
``p ~ Beta(alpha, beta)``; at the start of every period after her acquisition she
becomes inactive for good with probability ``theta ~ Beta(gamma, delta)``. Her data
are ``x`` periods with a transaction among her ``n`` opportunities and ``t_x``, the
last of them (0 if none), as built by :func:`clvmodels.data.discrete.discrete_summary`.

Given her data and that she is alive in period ``n``, ``p ~ Beta(alpha + x,
beta + n - x)`` and ``theta ~ Beta(gamma, delta + n)``; all predictions follow from
those and from ``P(alive in period n | x, t_x, n)``.

**One family, written once.** The BG/BB and its nested limits (every customer with the
same ``p``, the same ``theta``, or both: :mod:`clvmodels.models.purchase.bgbb_limits`)
differ only in the two mixing distributions. Every formula is written once in terms of
what a mixing contributes: for the transaction probability ``E[p^x (1-p)^(m-x)]`` and
the mean of ``p`` given ``x`` transactions in ``m`` periods alive; for the drop-out
probability ``E[(1-theta)^m]`` (alive in period ``m``), ``E[theta (1-theta)^m]``
(inactive from period ``m + 1``), the expected (discounted) number of later periods
alive, and the posterior of ``theta`` after ``m`` survived chances. A beta mixing
gives the BG/BB's beta functions; a point gives powers of ``p`` or ``1 - theta``.

**On the purchase-model interface** (:mod:`clvmodels.models.purchase.base`): ``T``
is the number of opportunities ``n`` (``n_periods`` in the summary), horizons ``t``
are whole numbers of future periods, and the purchases in ``(T, T + t]`` are the
transactions in periods ``n + 1 .. n + t``. ``probability_alive`` is P(alive in
period ``n + 1``) (FHB eq. 11: alive for the next opportunity); a transaction in
period ``n + u`` is discounted by ``exp(-discount u)``, ``discount`` the continuous
rate per period (``log(1 + d)`` for a rate ``d`` per period, as the published DERT).
The formulas take that rate as ``discount`` rather than ``delta``, since ``delta`` is
a parameter of the BG/BB (the models say so in ``discount_keyword``).

Every formula here broadcasts: parameters may be scalars or arrays of draws shaped to
broadcast against the customer arrays (e.g. ``(n_draws, 1)`` against ``(n,)``), which
is how one prediction path serves point fits and posterior draws alike.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special

from ...data.compress import compress_rows
from ...data.discrete import discrete_summary_arrays
from ...errors import check_parameter
from ...priors import LogNormal
from ...simulate import per_customer
from ..backend import NUMPY, pytensor_ops
from ..boundary import beta_spread
from ..churn.sbg import sbg_discounted_residual_lifetime
from ..covariates import with_covariates
from ..registry import register_model
from .base import PurchaseModel, broadcast_flat, draw_alive

__all__ = [
    "BetaGeoBetaBinomModel",
    "BetaGeoBetaBinomFamily",
    "family_formulas",
    "bgbb_log_likelihood",
    "bgbb_probability_alive",
    "bgbb_conditional_expected_transactions",
    "bgbb_expected_transactions_new",
    "bgbb_probability_of_transactions",
    "bgbb_discounted_transactions",
    "simulate_bgbb",
]


# ----------------------------------------------------------------------------- mixings
def _log1m(ops, v):
    """``log(1 - v)`` (``log1p`` with numpy)."""
    return np.log1p(-v) if ops is NUMPY else ops.log(1.0 - v)


def _norm(mixing, ops, a, b):
    """``log B(a, b)`` of a beta ``mixing``, computed once per back-end."""
    if ops.name not in mixing._norm:
        mixing._norm[ops.name] = ops.betaln(a, b)
    return mixing._norm[ops.name]


class _BetaPurchase:
    """Transaction probability ``p ~ Beta(alpha, beta)``; gradients are with respect to
    ``log alpha, log beta``."""

    def __init__(self, alpha, beta):
        self.a, self.b = alpha, beta
        self.params = (alpha, beta)
        self._norm = {}

    def log_mean(self, x, m, ops=NUMPY):
        """``log E[p^x (1-p)^(m-x)]``: ``x`` transactions in ``m`` periods alive."""
        return ops.betaln(self.a + x, self.b + m - x) - _norm(self, ops, self.a, self.b)

    def d_log_mean(self, x, m):
        a, b, dg = self.a, self.b, special.digamma
        return [a * (dg(a + x) - dg(a + b + m) - dg(a) + dg(a + b)),
                b * (dg(b + m - x) - dg(a + b + m) - dg(b) + dg(a + b))]

    def mean(self):
        return self.a / (self.a + self.b)

    def posterior_mean(self, x, m):
        """E[p | x transactions in m periods alive]."""
        return (self.a + x) / (self.a + self.b + m)

    def draw(self, x, m, rng):
        return rng.beta(self.a + x, self.b + m - x)


class _PointPurchase:
    """The same transaction probability ``p`` for every customer (gradient w.r.t.
    ``log p``)."""

    def __init__(self, p):
        self.p = p
        self.params = (p,)

    def log_mean(self, x, m, ops=NUMPY):
        return x * ops.log(self.p) + (m - x) * _log1m(ops, self.p)

    def d_log_mean(self, x, m):
        p = self.p
        return [x - (m - x) * p / (1.0 - p)]

    def mean(self):
        return self.p

    def posterior_mean(self, x, m):
        return self.p

    def draw(self, x, m, rng):
        return np.broadcast_to(self.p, np.shape(x)).astype(np.float64)


class _BetaDropout:
    """Drop-out probability ``theta ~ Beta(gamma, delta)`` (gradients w.r.t. ``log
    gamma, log delta``)."""

    def __init__(self, gamma, delta):
        self.g, self.d = gamma, delta
        self.params = (gamma, delta)
        self._norm = {}

    def log_alive(self, m, ops=NUMPY):
        """``log E[(1-theta)^m]``: alive in period ``m``."""
        return ops.betaln(self.g, self.d + m) - _norm(self, ops, self.g, self.d)

    def log_drop(self, m, ops=NUMPY):
        """``log E[theta (1-theta)^m]``: alive in period ``m``, inactive from ``m + 1``."""
        return ops.betaln(self.g + 1.0, self.d + m) - _norm(self, ops, self.g, self.d)

    def d_log_alive(self, m):
        g, d, dg = self.g, self.d, special.digamma
        return [g * (dg(g + d) - dg(g + d + m)),
                d * (dg(d + m) - dg(g + d + m) - dg(d) + dg(g + d))]

    def d_log_drop(self, m):
        g, d, dg = self.g, self.d, special.digamma
        return [g * (dg(g + 1.0) - dg(g + d + m + 1.0) - dg(g) + dg(g + d)),
                d * (dg(d + m) - dg(g + d + m + 1.0) - dg(d) + dg(g + d))]

    def log_survival(self, m, k):
        """``log P(alive in period m + k | alive in period m)``."""
        return special.betaln(self.g, self.d + m + k) - special.betaln(self.g, self.d + m)

    def alive_periods(self, m, t):
        """Expected number of the periods ``m + 1 .. m + t`` alive, given alive in ``m``
        (``t`` may be infinite: finite only for ``gamma > 1``)."""
        if np.ndim(t) == 0 and np.isinf(t):
            g = np.asarray(self.g, dtype=np.float64)
            with np.errstate(divide="ignore"):
                return np.where(g > 1.0, (self.d + m) / (g - 1.0), np.inf)
        return _alive_periods(self.g, self.d + m, t)

    def discounted_alive_periods(self, m, t, rate):
        """``sum_{k=1}^{t} P(alive in m + k | alive in m) (1 + rate)^-k`` (``rate`` > 0
        per period, ``t`` a whole number or infinite)."""
        return _discounted_alive_periods(self.g, self.d + m, t, rate)

    def draw(self, m, rng):
        """``theta`` of a customer who survived ``m`` drop-out chances."""
        return rng.beta(self.g, self.d + m)


class _PointDropout:
    """The same drop-out probability ``theta`` for every customer (gradient w.r.t.
    ``log theta``)."""

    def __init__(self, theta):
        self.theta = theta
        self.params = (theta,)

    def log_alive(self, m, ops=NUMPY):
        return m * _log1m(ops, self.theta)

    def log_drop(self, m, ops=NUMPY):
        return ops.log(self.theta) + m * _log1m(ops, self.theta)

    def d_log_alive(self, m):
        th = self.theta
        return [-m * th / (1.0 - th)]

    def d_log_drop(self, m):
        th = self.theta
        return [1.0 - m * th / (1.0 - th)]

    def log_survival(self, m, k):
        return k * np.log1p(-self.theta) + 0.0 * np.asarray(m)

    def alive_periods(self, m, t):
        return _geometric_sum(np.log1p(-self.theta), t)

    def discounted_alive_periods(self, m, t, rate):
        return _geometric_sum(np.log1p(-self.theta) - np.log1p(rate), t)

    def draw(self, m, rng):
        return np.broadcast_to(self.theta, np.shape(m)).astype(np.float64)


def _geometric_sum(log_r, t):
    """``sum_{k=1}^{t} r^k = r (1 - r^t) / (1 - r)`` for ``r = exp(log_r) <= 1`` (``t``
    whole or infinite; ``t`` at ``r = 1``)."""
    log_r = np.asarray(log_r, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tail = np.where(np.isinf(t), 1.0, -np.expm1(t * log_r))
        out = np.exp(log_r) * tail / -np.expm1(log_r)
        return np.where(log_r == 0.0, t, out)


# ---------------------------------------------------------------- the family's formulas
_BLOCK_VALUES = 2**22  # numpy: padded-sum values evaluated at a time (memory bound)


def _ndim(value) -> int:
    return value.ndim if hasattr(value, "ndim") else np.ndim(value)


def _family_log_likelihood(purchase, dropout, frequency, recency, n_periods, *,
                           gradient=False, ops=NUMPY, alive=False):
    """Per-customer log-likelihood of the BG/BB family (:func:`bgbb_log_likelihood`
    with each mixing's contributions, module docstring):
    ``L = E[p^x (1-p)^(n-x)] E[(1-theta)^n] + sum_{i=0}^{n-t_x-1} E[p^x (1-p)^(t_x+i-x)]
    E[theta (1-theta)^(t_x+i)]``. With ``gradient`` (numpy) also the derivatives with
    respect to the log parameters, purchase mixing first, as a ``(k, ...)`` array; with
    ``alive`` (numpy) instead P(alive in period n | x, t_x, n), the first term over ``L``."""
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    n = np.asarray(n_periods, dtype=np.float64)
    if gradient and ops is not NUMPY:
        raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
    m = n - t_x  # inactivity may have begun in periods t_x + 1 .. n
    log_a = purchase.log_mean(x, n, ops) + dropout.log_alive(n, ops)  # alive throughout

    def log_term(i):  # log of the sum's term i (the i = 0 term is the largest)
        return purchase.log_mean(x, t_x + i, ops) + dropout.log_drop(t_x + i, ops)

    log_b0 = log_term(0.0)
    n_terms = int(m.max()) if m.size else 0
    values = (*purchase.params, *dropout.params, x, t_x, n)
    nd = max(_ndim(v) for v in values)
    block = n_terms
    if ops is NUMPY:
        shape = np.broadcast_shapes(*(np.shape(v) for v in values))
        block = max(1, _BLOCK_VALUES // max(int(np.prod(shape)), 1))
    s = 0.0
    grad_s = 0.0
    for lo in range(0, n_terms, block):
        i = np.arange(lo, min(n_terms, lo + block), dtype=np.float64).reshape((-1,) + (1,) * nd)
        w = ops.exp(log_term(i) - log_b0) * (i < m).astype(np.float64)
        s = s + w.sum(axis=0)
        if gradient:
            d = np.stack(np.broadcast_arrays(*purchase.d_log_mean(x, t_x + i),
                                             *dropout.d_log_drop(t_x + i)))
            grad_s = grad_s + (w * d).sum(axis=1)
    empty = (m <= 0).astype(np.float64)
    log_rest = log_b0 + ops.log(s + empty)  # an empty sum is masked out: S := 1 there
    ll = ops.where(m <= 0, log_a, ops.logaddexp(log_a, log_rest))
    if alive:
        return np.exp(log_a - ll)
    if not gradient:
        return ll
    pi_a = np.where(m <= 0, 1.0, special.expit(log_a - log_rest))  # P(alive in period n)
    g_a = np.stack(np.broadcast_arrays(*purchase.d_log_mean(x, n), *dropout.d_log_alive(n)))
    g_rest = grad_s / (s + empty)
    return ll, pi_a * g_a + (1.0 - pi_a) * g_rest


def _family_alive_now(purchase, dropout, frequency, recency, n_periods):
    """P(alive in period n | x, t_x, n), and x, n as float arrays."""
    x = np.asarray(frequency, dtype=np.float64)
    n = np.asarray(n_periods, dtype=np.float64)
    return _family_log_likelihood(purchase, dropout, x, recency, n, alive=True), x, n


def _family_probability_alive(purchase, dropout, frequency, recency, n_periods, n_future):
    """P(alive in period ``n + n_future`` | x, t_x, n)."""
    alive, _, n = _family_alive_now(purchase, dropout, frequency, recency, n_periods)
    return alive * np.exp(dropout.log_survival(n, np.asarray(n_future, dtype=np.float64)))


def _family_conditional_expected(purchase, dropout, frequency, recency, n_periods, n_future):
    """E[transactions in periods n+1 .. n+n_future | x, t_x, n]: P(alive in n) times
    E[p | x, n] times the expected number of those periods alive."""
    alive, x, n = _family_alive_now(purchase, dropout, frequency, recency, n_periods)
    return alive * purchase.posterior_mean(x, n) * dropout.alive_periods(n, n_future)


def _family_discounted_if_alive_now(purchase, dropout, frequency, n_periods, rate, horizon):
    """Discounted expected transactions in periods ``n+1 .. n+horizon`` (period ``n +
    k`` counting ``(1 + rate)^-k``) of a customer alive in period ``n``."""
    x = np.asarray(frequency, dtype=np.float64)
    n = np.asarray(n_periods, dtype=np.float64)
    if rate == 0.0:
        periods = dropout.alive_periods(n, horizon)
    else:
        periods = dropout.discounted_alive_periods(n, horizon, rate)
    return purchase.posterior_mean(x, n) * periods


def _family_probability_of_transactions(purchase, dropout, k, n):
    """P(X(n) = k) for a customer just acquired: alive throughout, or alive for
    exactly ``i`` periods (:func:`bgbb_probability_of_transactions`)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)

    def log_choose(top, bottom):
        return (special.gammaln(top + 1.0) - special.gammaln(bottom + 1.0)
                - special.gammaln(top - bottom + 1.0))

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        total = np.where(k <= n, np.exp(
            log_choose(n, k) + purchase.log_mean(k, n) + dropout.log_alive(n)), 0.0)
        for i in range(int(np.max(n)) if n.size else 0):
            term = np.exp(log_choose(float(i), k) + purchase.log_mean(k, float(i))
                          + dropout.log_drop(float(i)))
            total = total + np.where((k <= i) & (i < n), term, 0.0)
    return total


def _whole_periods(value, name, owner, allow_inf=False):
    """``value`` as whole numbers of periods (float64), or a ValueError naming it."""
    v = np.asarray(value, dtype=np.float64)
    r = np.round(v)
    finite = np.isfinite(v)
    with np.errstate(invalid="ignore"):
        whole = finite & (np.abs(v - r) <= 1e-9 * np.maximum(1.0, np.abs(v)))
    ok = (v >= 0) & (whole | (np.isinf(v) & allow_inf))
    if not np.all(ok):
        raise ValueError(f"The {name!r} parameter of {owner} must be a whole number of periods "
                         f">= 0{' or inf' if allow_inf else ''} (the model counts transaction "
                         f"opportunities). Got {value!r} instead.")
    return np.where(finite, r, v)


def _discount_rate(discount, owner):
    """The rate per period ``exp(discount) - 1`` of a continuous rate per period."""
    check_parameter("discount", owner, discount,
                    np.ndim(discount) == 0 and np.isfinite(discount) and discount >= 0,
                    "a float in [0, inf) (continuous rate per period)")
    return float(np.expm1(discount))


def family_formulas(parts, prefix: str) -> dict:
    """The six roles of the purchase-model interface (:mod:`~clvmodels.models.purchase.base`)
    for a model of the BG/BB family whose mixings ``parts(**params)`` returns as
    ``(purchase, dropout)`` (module docstring). The functions take the model's
    parameters by name; ``T`` is the number of opportunities ``n``, ``t`` and
    ``horizon`` whole numbers of future periods, ``discount`` the continuous discount
    rate per period (a transaction in period ``n + u`` counts ``exp(-discount u)``)."""

    def probability_alive(frequency, recency, T, **params):
        """P(alive in period n + 1 | x, t_x, n): alive for the next opportunity."""
        return _family_probability_alive(*parts(**params), frequency, recency, T, 1.0)

    def conditional_expected_purchases(frequency, recency, T, t, **params):
        """Expected transactions in periods n+1 .. n+t."""
        t = _whole_periods(t, "t", f"{prefix}_conditional_expected_purchases")
        return _family_conditional_expected(*parts(**params), frequency, recency, T, t)

    def expected_purchases_new(t, **params):
        """E[X(t)] of a customer just acquired: transactions in her first t periods."""
        t = _whole_periods(t, "t", f"{prefix}_expected_purchases_new")
        purchase, dropout = parts(**params)
        return purchase.mean() * dropout.alive_periods(0.0, t)

    def probability_of_purchases(k, t, **params):
        """P(X(t) = k) of a customer just acquired."""
        owner = f"{prefix}_probability_of_purchases"
        k, t = _whole_periods(k, "k", owner), _whole_periods(t, "t", owner)
        return _family_probability_of_transactions(*parts(**params), k, t)

    def discounted_purchases_if_alive(frequency, T, horizon, discount, **params):
        """Discounted expected transactions in periods n+1 .. n+horizon of a customer
        alive in period n + 1 (times P(alive) the unconditional value)."""
        owner = f"{prefix}_discounted_purchases_if_alive"
        h = float(_whole_periods(horizon, "horizon", owner, allow_inf=True))
        rate = _discount_rate(discount, owner)
        purchase, dropout = parts(**params)
        n = np.asarray(T, dtype=np.float64)
        value = _family_discounted_if_alive_now(purchase, dropout, frequency, n, rate, h)
        return _full(value / np.exp(dropout.log_survival(n, 1.0)), frequency, T,
                     *purchase.params, *dropout.params)

    def simulate_future(frequency, recency, T, horizon, discount, rng, amounts=None,
                        alive_probability=None, **params):
        """Simulated futures (module docstring of :mod:`~clvmodels.models.purchase.base`):
        alive in period n + 1 with :func:`probability_alive`; if so ``p`` from its
        posterior given x of n, ``theta`` given n + 1 survived drop-out chances, then
        period by period she drops out with ``theta`` and transacts with ``p``."""
        owner = f"{prefix}_simulate_future"
        h = int(_whole_periods(horizon, "horizon", owner))
        _discount_rate(discount, owner)
        names = list(params)
        shape, flat = broadcast_flat(*params.values(), frequency, recency, T)
        values, (x, t_x, n) = dict(zip(names, flat[:len(names)])), flat[len(names):]
        alive = draw_alive(rng, shape, alive_probability,
                           lambda: _family_probability_alive(*parts(**values), x, t_x, n, 1.0))
        live = np.flatnonzero(alive)
        purchase, dropout = parts(**{k: v[live] for k, v in values.items()})
        return _simulate_periods(shape, live, purchase.draw(x[live], n[live], rng),
                                 dropout.draw(n[live] + 1.0, rng), h, discount, rng, amounts)

    roles = {"probability_alive": probability_alive,
             "conditional_expected_purchases": conditional_expected_purchases,
             "expected_purchases_new": expected_purchases_new,
             "probability_of_purchases": probability_of_purchases,
             "discounted_purchases_if_alive": discounted_purchases_if_alive,
             "simulate_future": simulate_future}
    for role, fn in roles.items():
        fn.__name__ = fn.__qualname__ = f"{prefix}_{role}"
    return roles


def _full(value, *arrays):
    """``value`` broadcast to the shape of ``arrays`` (a point mixing gives the same
    value for every customer)."""
    shape = np.broadcast_shapes(np.shape(value), *(np.shape(a) for a in arrays))
    return np.broadcast_to(value, shape).astype(np.float64)


def _simulate_periods(shape, live, p, theta, horizon, discount, rng, amounts=None):
    """Transactions of the live simulated customers (flat positions ``live`` of
    ``shape``, alive in the first future period, with probabilities ``p`` and
    ``theta``) over ``horizon`` periods: each later period she is still alive with
    ``1 - theta`` and transacts with ``p``; period ``u`` counts ``exp(-discount u)``.
    Loops run over periods, never over customers. Returns ``(count, discounted[,
    value])`` shaped ``shape``; ``amounts`` takes flat positions."""
    size = int(np.prod(shape))
    count, disc = np.zeros(size), np.zeros(size)
    value = None if amounts is None else np.zeros(size)
    idx, p, theta = np.asarray(live, dtype=np.intp), np.asarray(p), np.asarray(theta)
    for u in range(1, horizon + 1):
        if u > 1:
            stay = rng.random(idx.size) >= theta
            idx, p, theta = idx[stay], p[stay], theta[stay]
        if not idx.size:
            break
        buys = idx[rng.random(idx.size) < p]
        weight = math.exp(-discount * u)
        count[buys] += 1.0
        disc[buys] += weight
        if value is not None and buys.size:
            value[buys] += weight * amounts(buys)
    out = (count.reshape(shape), disc.reshape(shape))
    return out if value is None else out + (value.reshape(shape),)


# ------------------------------------------------------------------- the BG/BB's own
def _beta_parts(alpha, beta, gamma, delta):
    return _BetaPurchase(alpha, beta), _BetaDropout(gamma, delta)


def bgbb_log_likelihood(alpha, beta, gamma, delta, frequency, recency, n_periods, *,
                        gradient=False, ops=NUMPY):
    """Per-customer BG/BB log-likelihood (Fader, Hardie & Berger 2010, eq. 5), in log space.

    ``L = B(alpha+x, beta+n-x)/B(alpha, beta) B(gamma, delta+n)/B(gamma, delta)
    + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha, beta)
    B(gamma+1, delta+t_x+i)/B(gamma, delta)``: alive throughout, or inactive from
    period ``t_x + i + 1`` on. The sum runs over a padded axis ``i = 0..max(n - t_x) - 1``
    (vectorized, a mask ending each customer's sum); its terms fall with ``i``, so it
    is the ``i = 0`` term times ``S = sum_i mask_i exp(term_i - term_0)``, every
    summand in (0, 1]: nothing overflows. The two parts are added with a log-sum-exp.
    Only arithmetic, ``.sum(axis=0)`` and ``ops`` functions: the same lines build the
    PyMC graph (``ops=pytensor_ops()``; one block). With numpy the padded axis is
    taken in blocks of bounded size, so memory does not grow with its length. The
    nested limits use the same lines (module docstring).

    Parameters
    ----------
    alpha, beta, gamma, delta : float, ndarray or PyTensor scalar
        Model parameters (broadcast against the customer arrays).
    frequency, recency, n_periods : ndarray
        Periods with a transaction x, the last of them t_x, opportunities n.
    gradient : bool
        Also return the partial derivatives with respect to ``log alpha, log beta,
        log gamma, log delta`` (numpy, scalar parameters only), as a ``(4, n)`` array.
    ops : namespace
        Array back-end (:mod:`clvmodels.models.backend`).

    Examples
    --------
    >>> ll = bgbb_log_likelihood(1.204, 0.750, 0.657, 2.783, np.array([0, 3, 6]),
    ...                          np.array([0, 4, 6]), np.array([6, 6, 6]))
    >>> np.round(ll, 4)
    array([-1.1673, -5.0593, -2.1822])
    """
    return _family_log_likelihood(*_beta_parts(alpha, beta, gamma, delta), frequency, recency,
                                  n_periods, gradient=gradient, ops=ops)


def bgbb_probability_alive(alpha, beta, gamma, delta, frequency, recency, n_periods,
                           n_future=1):
    """P(alive in period ``n + n_future`` | x, t_x, n) (Fader, Hardie & Berger 2010,
    eq. 11 for ``n_future = 1``: alive for the next opportunity).

    ``P(alive in n) B(gamma, delta+n+n_future) / B(gamma, delta+n)``, where
    ``P(alive in n) = B(alpha+x, beta+n-x) B(gamma, delta+n) / (B(alpha, beta)
    B(gamma, delta) L)``; ``n_future = 0`` gives P(alive in the last period observed).

    >>> np.round(bgbb_probability_alive(1.204, 0.750, 0.657, 2.783, np.array([0, 3, 6]),
    ...                                 np.array([0, 4, 6]), 6), 4)
    array([0.108 , 0.4395, 0.9304])
    """
    return _family_probability_alive(*_beta_parts(alpha, beta, gamma, delta), frequency,
                                     recency, n_periods, n_future)


def _alive_periods(gamma, d, periods):
    """``sum_{k=1}^{N} B(gamma, d+k)/B(gamma, d)``: expected number of the next ``N``
    periods alive for a customer alive now with ``theta ~ Beta(gamma, d)``.

    By the telescoping ``G(d+k)/G(gamma+d+k) = (G(d+k)/G(gamma+d+k-1) -
    G(d+k+1)/G(gamma+d+k)) / (gamma-1)`` it is ``-d/(gamma-1) expm1(L)`` with
    ``L = log[G(gamma+d) G(d+N+1) / (G(d+1) G(gamma+d+N))]``. Near ``gamma = 1``
    (``|gamma-1| < 0.01``) ``L/(gamma-1)`` comes from its Taylor series in
    ``gamma - 1`` (polygamma differences, six terms), which keeps full precision and
    gives the limit ``d (psi(d+N+1) - psi(d+1))`` at ``gamma = 1``.
    """
    gamma = np.asarray(gamma, dtype=np.float64)
    big_n = np.asarray(periods, dtype=np.float64)
    eps = gamma - 1.0
    small = np.abs(eps) < 0.01
    e_s = np.where(small, eps, 0.0)
    l_over_eps = 0.0
    for k in range(6):  # gammaln(y+e) - gammaln(y) = sum_k e^(k+1)/(k+1)! psi_k(y)
        l_over_eps = l_over_eps + e_s**k / math.factorial(k + 1) * (
            special.polygamma(k, d + 1.0) - special.polygamma(k, d + big_n + 1.0))
    near_one = -d * l_over_eps * special.exprel(e_s * l_over_eps)
    log_ratio = (special.gammaln(gamma + d) - special.gammaln(gamma + d + big_n)
                 + special.gammaln(d + big_n + 1.0) - special.gammaln(d + 1.0))
    e_l = np.where(small, 1.0, eps)
    return np.where(small, near_one, -d / e_l * np.expm1(log_ratio))


def bgbb_expected_transactions_new(alpha, beta, gamma, delta, n):
    """E[X(n)]: expected transactions of a customer just acquired in her first ``n``
    opportunities (Fader, Hardie & Berger 2010, eq. 9):
    ``alpha/(alpha+beta) delta/(gamma-1) (1 - G(gamma+delta) G(1+delta+n)
    / (G(gamma+delta+n) G(1+delta)))``.

    >>> np.round(bgbb_expected_transactions_new(1.204, 0.750, 0.657, 2.783, np.array([1, 6])), 4)
    array([0.4985, 2.2196])
    """
    return alpha / (alpha + beta) * _alive_periods(gamma, delta, n)


def bgbb_conditional_expected_transactions(alpha, beta, gamma, delta, frequency, recency,
                                           n_periods, n_future):
    """E[transactions in periods n+1 .. n+n_future | x, t_x, n] (Fader, Hardie & Berger
    2010, eq. 13): P(alive in n) times ``(alpha+x)/(alpha+beta+n)`` times the expected
    number of those periods she stays alive.

    >>> np.round(bgbb_conditional_expected_transactions(
    ...     1.204, 0.750, 0.657, 2.783, np.array([0, 3, 6]), np.array([0, 4, 6]), 6, 5), 4)
    array([0.0728, 1.0342, 3.7521])
    """
    return _family_conditional_expected(*_beta_parts(alpha, beta, gamma, delta), frequency,
                                        recency, n_periods, n_future)


def bgbb_probability_of_transactions(alpha, beta, gamma, delta, k, n):
    """P(X(n) = k): probability that a customer just acquired transacts in ``k`` of her
    first ``n`` opportunities (Fader, Hardie & Berger 2010, eq. 7).

    ``C(n,k) B(alpha+k, beta+n-k)/B(alpha, beta) B(gamma, delta+n)/B(gamma, delta)
    + sum_{i=k}^{n-1} C(i,k) B(alpha+k, beta+i-k)/B(alpha, beta) B(gamma+1, delta+i)
    / B(gamma, delta)`` (alive throughout, or alive for exactly ``i`` periods).
    ``k`` and ``n`` are arrays of whole numbers, broadcast against each other and the
    parameters.

    >>> p = bgbb_probability_of_transactions(1.204, 0.750, 0.657, 2.783, np.arange(7), 6)
    >>> np.round(p, 4), float(np.round(p.sum(), 10))
    (array([0.3112, 0.1701, 0.1215, 0.1003, 0.0917, 0.0925, 0.1128]), 1.0)
    """
    return _family_probability_of_transactions(*_beta_parts(alpha, beta, gamma, delta), k, n)


_DIRECT_MAX = 5000  # finite discounted horizons up to this many periods are summed directly


def _discounted_alive_periods(gamma, d, horizon, discount_rate):
    """``sum_{k=1}^{H} B(gamma, d+k)/B(gamma, d) q^k``, ``q = 1/(1+discount_rate) < 1``.

    The dropout process is the shifted-beta-geometric one, so the infinite sum is
    ``q`` times the sBG's discounted expected residual lifetime at tenure 0
    (:func:`~clvmodels.models.churn.sbg.sbg_discounted_residual_lifetime`, the series
    ``d/(gamma+d) 2F1(1, d+1; gamma+d+1; q)`` summed robustly: ``scipy``'s 2F1 returns
    NaN near ``q = 1`` for large ``d``). A finite horizon is summed term by term
    (``B(gamma, d+k+1) = B(gamma, d+k) (d+k)/(gamma+d+k)``) while the discounting over
    it is weak (``discount_rate * H < 5``, ``H <= 5000``): there the series and its
    tail from ``H + 1`` on are both large and nearly equal. Otherwise it is the series
    less the tail, ``q^(H+1) B(gamma, d+H)/B(gamma, d)`` times the residual lifetime at
    tenure ``H``.
    """
    q = 1.0 / (1.0 + discount_rate)
    if not np.isinf(horizon) and discount_rate * horizon < 5.0 and horizon <= _DIRECT_MAX:
        total, alive = 0.0, 1.0
        for k in range(int(horizon)):
            alive = alive * (d + k) / (gamma + d + k)
            total = total + alive * q ** (k + 1)
        return total
    total = q * sbg_discounted_residual_lifetime(gamma, d, 0.0, discount_rate)
    if np.isinf(horizon):
        return total
    tail = (np.exp((horizon + 1.0) * np.log(q)
                   + special.betaln(gamma, d + horizon) - special.betaln(gamma, d))
            * sbg_discounted_residual_lifetime(gamma, d, horizon, discount_rate))
    return total - tail


def bgbb_discounted_transactions(alpha, beta, gamma, delta, frequency, recency, n_periods,
                                 discount_rate, horizon=np.inf):
    """Discounted expected transactions in periods ``n+1 .. n+horizon`` given x, t_x, n.

    A transaction in period ``n + k`` counts ``(1 + d)^(-k)`` for the discount rate
    ``d`` **per period**. With ``horizon = inf`` this is the DERT of Fader, Hardie &
    Berger (2010, eq. 14): ``B(alpha+x+1, beta+n-x)/B(alpha, beta) B(gamma,
    delta+n+1)/(B(gamma, delta) (1+d)) 2F1(1, delta+n+1; gamma+delta+n+1; 1/(1+d)) / L``;
    a finite horizon subtracts the same series from period ``n + horizon + 1`` on. At
    ``d = 0`` it equals :func:`bgbb_conditional_expected_transactions` (a finite
    horizon then, unless ``gamma > 1``).

    >>> pars = (1.204, 0.750, 0.657, 2.783)
    >>> np.round(bgbb_discounted_transactions(*pars, np.array([0, 6]), np.array([0, 6]),
    ...                                       6, 0.10), 4)
    array([0.1146, 5.9087])
    >>> bool(np.isclose(bgbb_discounted_transactions(*pars, 3, 4, 6, 0.0, 5),
    ...                 bgbb_conditional_expected_transactions(*pars, 3, 4, 6, 5)))
    True
    """
    def as_float(value):
        try:
            return float(value)
        except (TypeError, ValueError):
            return float("nan")

    d, h = as_float(discount_rate), as_float(horizon)
    check_parameter("discount_rate", "bgbb_discounted_transactions", discount_rate,
                    np.isfinite(d) and d >= 0, "a float in [0, inf) (per period)")
    check_parameter("horizon", "bgbb_discounted_transactions", horizon,
                    h > 0 and (np.isinf(h) or h == round(h)), "a whole number of periods > 0 "
                    "or inf")
    purchase, dropout = _beta_parts(alpha, beta, gamma, delta)
    alive, _, n = _family_alive_now(purchase, dropout, frequency, recency, n_periods)
    return alive * _family_discounted_if_alive_now(purchase, dropout, frequency, n, d, h)


# ------------------------------------------------------------------------------ models
class BetaGeoBetaBinomFamily(PurchaseModel):
    """What the BG/BB and its nested limits share (module docstring): discrete-time
    summaries, the engine hooks through one likelihood of the two mixings
    ``_parts(**params)``, and the predictions per period. Settings are those of
    :class:`~clvmodels.models.base.BaseModel`; horizons are whole periods."""

    #: summaries count periods (``n_periods``), not time (``T``)
    discrete_time = True
    #: the keyword of the discount rate in the formulas (``delta`` is a parameter)
    discount_keyword = "discount"

    def describe_parameters(self) -> dict:
        """The parameters in words, with the fitted values: beta-distributed chances
        of a transaction (``alpha``, ``beta``) or one shared chance ``p``;
        beta-distributed drop-out chances (``gamma``, ``delta``) or one shared ``theta``.

        >>> from clvmodels.datasets import load_donations
        >>> model = BetaGeoBetaBinomModel(random_state=1).fit(load_donations())
        >>> "on average gamma/(gamma+delta) = 19.1% each year" in model.describe_parameters()["gamma"]
        True
        """
        self._require_fitted()
        v = self.point_params()
        unit = getattr(self, "time_unit_", None) or "period"
        out = {}
        if "p" in v:
            out["p"] = (f"While active, every customer transacts in a {unit} with the same "
                        f"chance p = {v['p']:.1%}: the data show no difference between customers "
                        "in how often they transact.")
        else:
            a, b = v["alpha"], v["beta"]
            out["alpha"] = (f"While active, a customer transacts in a {unit} with a chance that "
                            f"varies between customers as a beta distribution with alpha = "
                            f"{a:.3g} and beta = {b:.3g}: on average alpha/(alpha+beta) = "
                            f"{a / (a + b):.1%} of the {unit}s.")
            out["beta"] = (f"Together with alpha, beta = {b:.3g} sets that chance; alpha + beta = "
                           f"{a + b:.3g} says how alike customers are in it (the larger, the "
                           "more alike).")
        start = f"At the start of each {unit} after the first, "
        if "theta" in v:
            t = v["theta"]
            out["theta"] = (f"{start}every customer drops out for good with the same chance "
                            f"theta = {t:.1%}: she stays {1 / t:.3g} {unit}s on average.")
        else:
            g, d = v["gamma"], v["delta"]
            out["gamma"] = (f"{start}a customer drops out for good with a chance that varies "
                            f"between customers as a beta distribution with gamma = {g:.3g} and "
                            f"delta = {d:.3g}: on average gamma/(gamma+delta) = "
                            f"{g / (g + d):.1%} each {unit}.")
            out["delta"] = (f"Together with gamma, delta = {d:.3g} sets that chance; gamma + delta = "
                            f"{g + d:.3g} says how alike customers are in it (the larger, the "
                            "more alike).")
        return out

    @staticmethod
    def _parts(**params):
        """``(purchase, dropout)`` mixings at ``params``."""
        raise NotImplementedError

    def _prepare(self, data):
        arr = discrete_summary_arrays(data, type(self).__name__)
        comp = compress_rows(arr, ["frequency", "recency", "n_periods"])
        weights = np.bincount(comp.inverse, weights=arr["weight"], minlength=comp.n_unique)
        u = comp.unique
        return {"x": u["frequency"], "t_x": u["recency"], "n": u["n_periods"]}, weights

    def _covariate_rows(self, data):
        arr = discrete_summary_arrays(data, type(self).__name__)
        rows = {"x": arr["frequency"], "t_x": arr["recency"], "n": arr["n_periods"]}
        return rows, np.asarray(arr["weight"], dtype=np.float64), None

    def _row_loglik(self, p, rows, gradient=False, ops=None):
        return _family_log_likelihood(*self._parts(**p),
                                      rows["x"], rows["t_x"], rows["n"], gradient=gradient,
                                      ops=ops or NUMPY)

    @staticmethod
    def _start_p(arrays, weights) -> float:
        """A starting transaction probability: transactions over periods up to the
        last one, over all customers."""
        periods = float(weights @ arrays["t_x"])
        return float(np.clip(float(weights @ arrays["x"]) / max(periods, 1.0), 0.05, 0.95))

    def _loglik_and_grad(self, log_params, arrays, weights):
        parts = self._parts(**dict(zip(self.param_names, np.exp(log_params))))
        ll, g = _family_log_likelihood(*parts, arrays["x"], arrays["t_x"], arrays["n"],
                                       gradient=True)
        return float(weights @ ll), g @ weights

    def _pymc_log_likelihood(self, params, arrays, weights):
        ops = pytensor_ops()
        ll = _family_log_likelihood(*self._parts(**{n: params[n] for n in self.param_names}),
                                    arrays["x"], arrays["t_x"], arrays["n"], ops=ops)
        return ops.dot(weights, ll)

    # ------------------------------------------------------------- predictions
    def _customer_frame(self, data: pd.DataFrame):
        self._require_fitted()
        arr = discrete_summary_arrays(data, type(self).__name__)
        return {"frequency": arr["frequency"], "recency": arr["recency"],
                "T": arr["n_periods"]}, data.index

    def probability_alive(self, data: pd.DataFrame, n_future: int = 1) -> pd.Series:
        """P(alive in period ``n + n_future``) per customer at the point estimate
        (default: alive for the next opportunity)."""
        arr, index = self._customer_frame(data)
        p = _family_probability_alive(*self._parts(**self._params_for(data)),
                                      arr["frequency"], arr["recency"], arr["T"], n_future)
        return pd.Series(_full(p, arr["T"]), index=index, name="probability_alive")

    def expected_purchases(self, data: pd.DataFrame, t: int) -> pd.Series:
        """Expected transactions in the next ``t`` periods per customer at the point
        estimate."""
        return super().expected_purchases(data, t)

    def discounted_purchases(self, data: pd.DataFrame, discount_rate: float,
                             horizon: float = np.inf) -> pd.Series:
        """Discounted expected transactions in the next ``horizon`` periods per customer
        at the point estimate (``discount_rate`` per period; see
        :func:`bgbb_discounted_transactions`)."""
        owner = f"{type(self).__name__}.discounted_purchases"
        check_parameter("discount_rate", owner, discount_rate,
                        isinstance(discount_rate, (int, float)) and np.isfinite(discount_rate)
                        and discount_rate >= 0, "a float in [0, inf) (per period)")
        arr, index = self._customer_frame(data)
        params = self._params_for(data)
        pa = self.formula("probability_alive")(**params, **arr)
        e = pa * self.formula("discounted_purchases_if_alive")(
            **params, frequency=arr["frequency"], T=arr["T"], horizon=horizon,
            discount=float(np.log1p(discount_rate)))
        return pd.Series(e, index=index, name="discounted_purchases")


@register_model
class BetaGeoBetaBinomModel(BetaGeoBetaBinomFamily):
    """BG/BB model of discrete-time repeat transactions, fitted by
    ``fit(summary, method=...)`` with ``"mle"`` (default), ``"map"``, ``"mcmc"`` or
    ``"advi"``.

    ``summary`` needs ``frequency``, ``recency`` and ``n_periods`` and may have
    ``weight`` (customers per row; see
    :func:`clvmodels.data.discrete.discrete_summary`). Settings are those of
    :class:`~clvmodels.models.base.BaseModel`. Horizons of the predictions are whole
    periods, discount rates per period. A purchase model
    (:class:`~clvmodels.models.purchase.base.PurchaseModel`): customer lifetime value,
    holdout scoring and model comparison take it with a discrete summary. When the
    data show no heterogeneity in ``p`` or ``theta``, a maximum-likelihood fit becomes
    the nested model (:mod:`clvmodels.models.purchase.bgbb_limits`).

    Examples
    --------
    >>> from clvmodels.datasets import load_donations
    >>> model = BetaGeoBetaBinomModel(random_state=1).fit(load_donations())
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 1)
    ([1.204, 0.75, 0.657, 2.783], -33225.6)
    """

    param_names = ("alpha", "beta", "gamma", "delta")
    default_priors = {"alpha": LogNormal(0.0, 2.0), "beta": LogNormal(0.0, 2.0),
                      "gamma": LogNormal(0.0, 2.0), "delta": LogNormal(0.0, 2.0)}
    reference = "Fader, Hardie & Berger (2010), Marketing Science 29(6)"
    _parts = staticmethod(_beta_parts)
    formulas = family_formulas(_beta_parts, "bgbb")
    covariate_links = {"purchase": (("alpha", 1), ("beta", 1)),
                       "dropout": (("gamma", 1), ("delta", 1))}

    def _start(self, arrays, weights):
        return np.zeros(4)  # all four parameters 1: uniform mixing distributions

    def mixing_spread(self, params):
        """``1 / (a + b + 1)`` of each beta: 0 when every customer has the same
        transaction probability (``purchase``) or drop-out probability (``dropout``)."""
        return {"purchase": beta_spread(params["alpha"], params["beta"]),
                "dropout": beta_spread(params["gamma"], params["delta"])}


def simulate_bgbb(
    n_customers: int,
    alpha: float | np.ndarray,
    beta: float | np.ndarray,
    gamma: float | np.ndarray,
    delta: float | np.ndarray,
    *,
    n_periods: int | np.ndarray,
    holdout: int = 0,
    time_unit: str = "year",
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate BG/BB customers (Fader, Hardie & Berger 2010, section 2).

    Each customer has ``p ~ Beta(alpha, beta)`` and ``theta ~ Beta(gamma, delta)``; at
    the start of each period ``1, 2, ...`` she becomes inactive with probability
    ``theta`` (for good), and in each period she is alive she transacts with
    probability ``p``. Each parameter is a scalar or one value per customer (an array
    of length ``n_customers``, e.g. a covariate model's row parameters). She is
    observed for ``n_periods`` periods (scalar or one value per customer); with
    ``holdout > 0`` her transactions in the next ``holdout`` periods are counted in
    ``holdout_frequency`` (and ``holdout_length`` is ``holdout``, as
    :func:`clvmodels.evaluate_holdout` reads it). The true ``p``,
    ``theta`` and whether she is alive in period ``n + 1`` (the event of
    :func:`bgbb_probability_alive`) are returned as ``true_*`` columns.

    >>> df = simulate_bgbb(5, 1.2, 0.75, 0.66, 2.78, n_periods=6, random_state=1)
    >>> list(df.columns)[:3], len(df)
    (['frequency', 'recency', 'n_periods'], 5)
    """
    owner = "simulate_bgbb"
    check_parameter("n_customers", owner, n_customers,
                    isinstance(n_customers, (int, np.integer)) and n_customers > 0, "a positive int")
    alpha, beta, gamma, delta = (
        per_customer(name, owner, v, n_customers)
        for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma), ("delta", delta)))
    check_parameter("holdout", owner, holdout,
                    isinstance(holdout, (int, np.integer)) and holdout >= 0, "an int >= 0")
    rng = np.random.default_rng(random_state)
    n = np.broadcast_to(np.asarray(n_periods), (n_customers,)).astype(np.int64)
    check_parameter("n_periods", owner, n_periods, bool(np.all(n >= 0)), "whole numbers >= 0")
    p = rng.beta(alpha, beta, n_customers)
    theta = rng.beta(gamma, delta, n_customers)
    death = rng.geometric(np.clip(theta, 1e-300, 1.0))  # first period she is inactive
    freq = np.zeros(n_customers, dtype=np.int64)
    recency = np.zeros(n_customers, dtype=np.int64)
    hold = np.zeros(n_customers, dtype=np.int64)
    for k in range(1, int(n.max()) + holdout + 1):  # a loop over periods, not customers
        buys = (k < death) & (k <= n + holdout) & (rng.random(n_customers) < p)
        in_cal = buys & (k <= n)
        freq += in_cal
        recency[in_cal] = k
        hold += buys & ~in_cal
    out = pd.DataFrame({
        "frequency": freq,
        "recency": recency,
        "n_periods": n,
        "true_p": p,
        "true_theta": theta,
        "true_alive": death > n + 1,
    })
    if holdout > 0:
        out["holdout_frequency"] = hold
        out["holdout_length"] = int(holdout)
    out.index.name = "customer_id"
    out.attrs["time_unit"] = time_unit
    return out


#: BetaGeoBetaBinomModel with customer covariates (:mod:`clvmodels.models.covariates`)
BetaGeoBetaBinomCovariateModel = with_covariates(BetaGeoBetaBinomModel,
                                                 "BetaGeoBetaBinomCovariateModel")
