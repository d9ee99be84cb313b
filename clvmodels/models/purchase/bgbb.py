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
from ..backend import NUMPY, pytensor_ops
from ..base import BaseModel
from ..churn.sbg import sbg_discounted_residual_lifetime
from ..registry import register_model

__all__ = [
    "BetaGeoBetaBinomModel",
    "bgbb_log_likelihood",
    "bgbb_probability_alive",
    "bgbb_conditional_expected_transactions",
    "bgbb_expected_transactions_new",
    "bgbb_probability_of_transactions",
    "bgbb_discounted_transactions",
    "simulate_bgbb",
]


def _log_alive_throughout(ops, alpha, beta, gamma, delta, x, n):
    """log of ``B(alpha+x, beta+n-x)/B(alpha, beta) B(gamma, delta+n)/B(gamma, delta)``:
    the likelihood of the data jointly with being alive in period ``n``."""
    return (ops.betaln(alpha + x, beta + n - x) - ops.betaln(alpha, beta)
            + ops.betaln(gamma, delta + n) - ops.betaln(gamma, delta))


_BLOCK_VALUES = 2**22  # numpy: padded-sum values evaluated at a time (memory bound)


def _ndim(value) -> int:
    return value.ndim if hasattr(value, "ndim") else np.ndim(value)


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
    taken in blocks of bounded size, so memory does not grow with its length.

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
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    n = np.asarray(n_periods, dtype=np.float64)
    if gradient and ops is not NUMPY:
        raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
    m = n - t_x  # inactivity may have begun in periods t_x + 1 .. n
    norm = ops.betaln(alpha, beta) + ops.betaln(gamma, delta)
    log_a = _log_alive_throughout(ops, alpha, beta, gamma, delta, x, n)

    def log_term(i):  # log of the sum's term i (the i = 0 term is the largest)
        return (ops.betaln(alpha + x, beta + t_x - x + i)
                + ops.betaln(gamma + 1.0, delta + t_x + i) - norm)

    log_b0 = log_term(0.0)
    n_terms = int(m.max()) if m.size else 0
    nd = max(_ndim(v) for v in (alpha, beta, gamma, delta, x, t_x, n))
    block = n_terms
    if ops is NUMPY:
        shape = np.broadcast_shapes(*(np.shape(v) for v in (alpha, beta, gamma, delta, x, t_x, n)))
        block = max(1, _BLOCK_VALUES // max(int(np.prod(shape)), 1))
    s = 0.0
    grad_s = 0.0
    for lo in range(0, n_terms, block):
        i = np.arange(lo, min(n_terms, lo + block), dtype=np.float64).reshape((-1,) + (1,) * nd)
        w = ops.exp(log_term(i) - log_b0) * (i < m).astype(np.float64)
        s = s + w.sum(axis=0)
        if gradient:
            grad_s = grad_s + (w * _d_log_term(alpha, beta, gamma, delta, x, t_x + i)).sum(axis=1)
    empty = (m <= 0).astype(np.float64)
    log_rest = log_b0 + ops.log(s + empty)  # an empty sum is masked out: S := 1 there
    ll = ops.where(m <= 0, log_a, ops.logaddexp(log_a, log_rest))
    if not gradient:
        return ll
    dg = special.digamma
    pi_a = np.where(m <= 0, 1.0, special.expit(log_a - log_rest))  # P(alive in period n)
    g_a = np.stack(np.broadcast_arrays(
        alpha * (dg(alpha + x) - dg(alpha + beta + n) - dg(alpha) + dg(alpha + beta)),
        beta * (dg(beta + n - x) - dg(alpha + beta + n) - dg(beta) + dg(alpha + beta)),
        gamma * (dg(gamma + delta) - dg(gamma + delta + n)),
        delta * (dg(delta + n) - dg(gamma + delta + n) - dg(delta) + dg(gamma + delta))))
    g_rest = grad_s / (s + empty)
    return ll, pi_a * g_a + (1.0 - pi_a) * g_rest


def _d_log_term(alpha, beta, gamma, delta, x, t):
    """Derivatives of ``log B(alpha+x, beta+t-x) + log B(gamma+1, delta+t) - log B(alpha,
    beta) - log B(gamma, delta)`` w.r.t. the log parameters, stacked on a new axis 0."""
    dg = special.digamma
    return np.stack(np.broadcast_arrays(
        alpha * (dg(alpha + x) - dg(alpha + beta + t) - dg(alpha) + dg(alpha + beta)),
        beta * (dg(beta + t - x) - dg(alpha + beta + t) - dg(beta) + dg(alpha + beta)),
        gamma * (dg(gamma + 1.0) - dg(gamma + delta + t + 1.0) - dg(gamma) + dg(gamma + delta)),
        delta * (dg(delta + t) - dg(gamma + delta + t + 1.0) - dg(delta) + dg(gamma + delta))))


def _posterior_alive(alpha, beta, gamma, delta, frequency, recency, n_periods):
    """P(alive in period n | x, t_x, n), and x, n as float arrays."""
    x = np.asarray(frequency, dtype=np.float64)
    n = np.asarray(n_periods, dtype=np.float64)
    ll = bgbb_log_likelihood(alpha, beta, gamma, delta, x, recency, n)
    return np.exp(_log_alive_throughout(NUMPY, alpha, beta, gamma, delta, x, n) - ll), x, n


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
    alive, _, n = _posterior_alive(alpha, beta, gamma, delta, frequency, recency, n_periods)
    k = np.asarray(n_future, dtype=np.float64)
    return alive * np.exp(special.betaln(gamma, delta + n + k) - special.betaln(gamma, delta + n))


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
    alive, x, n = _posterior_alive(alpha, beta, gamma, delta, frequency, recency, n_periods)
    return alive * (alpha + x) / (alpha + beta + n) * _alive_periods(gamma, delta + n, n_future)


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
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    norm = special.betaln(alpha, beta) + special.betaln(gamma, delta)

    def log_choose(top, bottom):
        return (special.gammaln(top + 1.0) - special.gammaln(bottom + 1.0)
                - special.gammaln(top - bottom + 1.0))

    with np.errstate(invalid="ignore"):
        total = np.where(k <= n, np.exp(
            log_choose(n, k) + special.betaln(alpha + k, beta + n - k)
            + special.betaln(gamma, delta + n) - norm), 0.0)
        for i in range(int(np.max(n)) if n.size else 0):
            term = np.exp(log_choose(float(i), k) + special.betaln(alpha + k, beta + i - k)
                          + special.betaln(gamma + 1.0, delta + i) - norm)
            total = total + np.where((k <= i) & (i < n), term, 0.0)
    return total


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
    alive, x, n = _posterior_alive(alpha, beta, gamma, delta, frequency, recency, n_periods)
    if d == 0.0:
        if np.isinf(h):
            g = np.asarray(gamma, dtype=np.float64)
            with np.errstate(divide="ignore"):
                periods = np.where(g > 1.0, (delta + n) / (g - 1.0), np.inf)
        else:
            periods = _alive_periods(gamma, delta + n, h)
    else:
        periods = _discounted_alive_periods(gamma, delta + n, h, d)
    return alive * (alpha + x) / (alpha + beta + n) * periods


@register_model
class BetaGeoBetaBinomModel(BaseModel):
    """BG/BB model of discrete-time repeat transactions, fitted by
    ``fit(summary, method=...)`` with ``"mle"`` (default), ``"map"``, ``"mcmc"`` or
    ``"advi"``.

    ``summary`` needs ``frequency``, ``recency`` and ``n_periods`` and may have
    ``weight`` (customers per row; see
    :func:`clvmodels.data.discrete.discrete_summary`). Settings are those of
    :class:`~clvmodels.models.base.BaseModel`. Horizons of the predictions are whole
    periods, discount rates per period.

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

    def _prepare(self, data):
        arr = discrete_summary_arrays(data, type(self).__name__)
        comp = compress_rows(arr, ["frequency", "recency", "n_periods"])
        weights = np.bincount(comp.inverse, weights=arr["weight"], minlength=comp.n_unique)
        u = comp.unique
        return {"x": u["frequency"], "t_x": u["recency"], "n": u["n_periods"]}, weights

    def _start(self, arrays, weights):
        return np.zeros(4)  # all four parameters 1: uniform mixing distributions

    def _loglik_and_grad(self, log_params, arrays, weights):
        ll, g = bgbb_log_likelihood(*np.exp(log_params), arrays["x"], arrays["t_x"],
                                    arrays["n"], gradient=True)
        return float(weights @ ll), g @ weights

    def _pymc_log_likelihood(self, params, arrays, weights):
        ops = pytensor_ops()
        ll = bgbb_log_likelihood(params["alpha"], params["beta"], params["gamma"],
                                 params["delta"], arrays["x"], arrays["t_x"], arrays["n"],
                                 ops=ops)
        return ops.dot(weights, ll)

    # ------------------------------------------------------------- predictions
    def _customer_frame(self, data: pd.DataFrame):
        self._require_fitted()
        arr = discrete_summary_arrays(data, type(self).__name__)
        return {"frequency": arr["frequency"], "recency": arr["recency"],
                "n_periods": arr["n_periods"]}, data.index

    def probability_alive(self, data: pd.DataFrame, n_future: int = 1) -> pd.Series:
        """P(alive in period ``n + n_future``) per customer at the point estimate
        (default: alive for the next opportunity)."""
        arr, index = self._customer_frame(data)
        p = bgbb_probability_alive(**self.point_params(), **arr, n_future=n_future)
        return pd.Series(p, index=index, name="probability_alive")

    def expected_purchases(self, data: pd.DataFrame, t: int) -> pd.Series:
        """Expected transactions in the next ``t`` periods per customer at the point
        estimate."""
        arr, index = self._customer_frame(data)
        e = bgbb_conditional_expected_transactions(**self.point_params(), **arr, n_future=t)
        return pd.Series(e, index=index, name="expected_purchases")

    def discounted_purchases(self, data: pd.DataFrame, discount_rate: float,
                             horizon: float = np.inf) -> pd.Series:
        """Discounted expected transactions in the next ``horizon`` periods per customer
        at the point estimate (``discount_rate`` per period; see
        :func:`bgbb_discounted_transactions`)."""
        arr, index = self._customer_frame(data)
        e = bgbb_discounted_transactions(**self.point_params(), **arr,
                                         discount_rate=discount_rate, horizon=horizon)
        return pd.Series(e, index=index, name="discounted_purchases")

    def expected_purchases_new_customer(self, t) -> np.ndarray:
        """E[X(t)] for a customer just acquired (``t`` periods), at the point estimate."""
        self._require_fitted()
        return bgbb_expected_transactions_new(**self.point_params(), n=t)

    def probability_of_purchases(self, k, t) -> np.ndarray:
        """P(X(t) = k) for a customer just acquired, at the point estimate."""
        self._require_fitted()
        return bgbb_probability_of_transactions(**self.point_params(), k=k, n=t)


def simulate_bgbb(
    n_customers: int,
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
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
    probability ``p``. She is observed for ``n_periods`` periods (scalar or one value
    per customer); with ``holdout > 0`` her transactions in the next ``holdout``
    periods are counted in ``holdout_frequency``. The true ``p``, ``theta`` and
    whether she is alive in period ``n + 1`` (the event of
    :func:`bgbb_probability_alive`) are returned as ``true_*`` columns.

    >>> df = simulate_bgbb(5, 1.2, 0.75, 0.66, 2.78, n_periods=6, random_state=1)
    >>> list(df.columns)[:3], len(df)
    (['frequency', 'recency', 'n_periods'], 5)
    """
    owner = "simulate_bgbb"
    for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma), ("delta", delta)):
        check_parameter(name, owner, v, isinstance(v, (int, float)) and v > 0, "a positive float")
    check_parameter("n_customers", owner, n_customers,
                    isinstance(n_customers, (int, np.integer)) and n_customers > 0, "a positive int")
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
        out["holdout_periods"] = int(holdout)
    out.index.name = "customer_id"
    out.attrs["time_unit"] = time_unit
    return out
