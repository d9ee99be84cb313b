"""Shifted-beta-geometric (sBG) model of contract renewals (Fader & Hardie 2007, "How
to Project Customer Retention", Journal of Interactive Marketing 21(1); Fader &
Hardie 2010, "Customer-Base Valuation in a Contractual Setting: The Perils of
Ignoring Heterogeneity", Marketing Science 29(1)).

An account pays for period 1 when acquired; at the end of every period it renews
(pays for the next one) with probability ``1 - theta`` or churns with probability
``theta``, its own churn probability, which is ``Beta(alpha, beta)`` across accounts.
The last period paid for, ``T``, has

* ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, ``t = 1, 2, ...``;
* survival ``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)``;
* retention rate ``r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)``.

**Tenure.** ``tenure`` counts the renewal decisions seen (see
:mod:`clvmodels.data.subscriptions`): a churned account with tenure ``t`` contributes
``P(T = t)``, an active one ``S(t)``. Given that an active account has renewed ``t``
times, its churn probability is ``Beta(alpha, beta + t)`` — all its predictions
below follow from that. Fader & Hardie (2010) index the same account by ``n = t + 1``
("has made ``n - 1`` renewals").

Every formula broadcasts: parameters may be arrays of draws shaped ``(n_draws, 1)``
against account arrays ``(n,)``, so one path serves point fits and posterior draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from ...errors import DataError
from ...priors import LogNormal
from ..backend import NUMPY
from ..boundary import beta_spread
from ..registry import register_model
from .base import ChurnModel, observe_lifetimes

__all__ = [
    "ShiftedBetaGeoModel",
    "GeometricChurnModel",
    "sbg_log_likelihood",
    "sbg_survival",
    "sbg_retention_rate",
    "sbg_churn_probability",
    "sbg_expected_lifetime",
    "sbg_probability_renewal",
    "sbg_conditional_survival",
    "sbg_expected_residual_lifetime",
    "sbg_discounted_residual_lifetime",
    "sbg_simulate_renewals",
    "accounts_from_survival",
    "simulate_sbg",
]


# ---------------------------------------------------------------- likelihood
def sbg_log_likelihood(alpha, beta, tenure, churned, entry=0.0, *, gradient=False, ops=NUMPY):
    """Per-account sBG log-likelihood (Fader & Hardie 2007), in log space, conditioned
    on the account having survived its first ``entry`` renewal decisions (left
    truncation: the account was observed only from then on; 0 = from acquisition).

    ``log L = log B(alpha + c, beta + t - c) - log B(alpha, beta + e)`` with ``c = 1``
    for a churned account (``P(T = t) / S(e)``) and ``c = 0`` for an active one
    (``S(t) / S(e)``), ``e`` = ``entry``. With ``e = 0`` it is the full-history
    likelihood of Fader & Hardie. This is the one sBG likelihood: maximum likelihood
    evaluates it with numpy, the PyMC model builds it as a PyTensor graph
    (``ops=pytensor_ops()``). ``alpha`` and ``beta`` may be per-account arrays (the
    covariate model). With ``gradient=True`` (numpy) also returns the derivatives
    w.r.t. ``log alpha`` and ``log beta`` per account, ``(2, n)``.

    >>> ll = sbg_log_likelihood(0.7041, 1.1820, np.array([1, 7]), np.array([1, 0]))
    >>> np.round(ll, 4)
    array([-0.9853, -1.4313])

    A snapshot row (entry = tenure - 1) contributes the churn or retention rate at its
    tenure: ``exp(ll) = 1 - r(7) = alpha / (alpha + beta + 6)`` for a churned account
    with tenure 7:

    >>> float(np.round(np.exp(sbg_log_likelihood(0.7041, 1.1820, 7, 1, 6)), 4))
    0.0893
    """
    t = np.asarray(tenure, dtype=np.float64)
    c = np.asarray(churned, dtype=np.float64)
    e = np.asarray(entry, dtype=np.float64)
    ll = ops.betaln(alpha + c, beta + t - c) - ops.betaln(alpha, beta + e)
    if not gradient:
        return ll
    if ops is not NUMPY:
        raise ValueError("gradient=True needs the numpy back-end; PyTensor differentiates itself")
    psi_all = special.digamma(alpha + beta + t)
    psi_ab = special.digamma(alpha + beta + e)
    g_alpha = alpha * (special.digamma(alpha + c) - special.digamma(alpha) + psi_ab - psi_all)
    g_beta = beta * (special.digamma(beta + t - c) - special.digamma(beta + e) + psi_ab - psi_all)
    return ll, np.stack(np.broadcast_arrays(g_alpha, g_beta))


# ------------------------------------------------------- cohort-level curves
def sbg_survival(alpha, beta, t):
    """``S(t) = B(alpha, beta + t) / B(alpha, beta)``: share of a new cohort still
    active after ``t`` renewal decisions.

    >>> np.round(1000 * sbg_survival(0.7041, 1.1820, np.array([1, 7, 12])), 1)
    array([626.7, 239. , 170. ])
    """
    t = np.asarray(t, dtype=np.float64)
    return np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta))


def sbg_retention_rate(alpha, beta, t):
    """``r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)``, ``t >= 1``:
    the share of the accounts active in period ``t`` that renew at its end.
    Rises with ``t``: the accounts that stay are the ones with low churn probability.

    >>> np.round(sbg_retention_rate(0.7041, 1.1820, np.array([1, 2, 10])), 3)
    array([0.627, 0.756, 0.935])
    """
    t = np.asarray(t, dtype=np.float64)
    return (beta + t - 1.0) / (alpha + beta + t - 1.0)


def sbg_churn_probability(alpha, beta, t):
    """``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, ``t >= 1``: share of a
    new cohort that churns at the end of period ``t``.

    >>> float(np.round(sbg_churn_probability(0.7041, 1.1820, 1), 4))
    0.3733
    """
    t = np.asarray(t, dtype=np.float64)
    return np.exp(special.betaln(alpha + 1.0, beta + t - 1.0) - special.betaln(alpha, beta))


def sbg_expected_lifetime(alpha, beta):
    """Average customer lifespan ``E[T] = E[1 / theta] = (alpha + beta - 1) / (alpha - 1)``
    periods for a new account; infinite when ``alpha <= 1`` (then enough accounts have
    a churn probability near 0 that the mean does not exist; use the median
    or a discounted lifetime instead).

    >>> float(np.round(sbg_expected_lifetime(3.80, 15.20), 4))
    6.4286
    >>> float(sbg_expected_lifetime(0.7, 1.2))
    inf
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (alpha + beta - 1.0) / (alpha - 1.0)
    return np.where(alpha > 1.0, out, np.inf)


# ------------------------------------------------- per-account predictions
def sbg_probability_renewal(alpha, beta, tenure):
    """Probability that an active account with ``tenure`` renewals renews at its next
    renewal: ``E[1 - theta] = (beta + t) / (alpha + beta + t)`` under its posterior
    ``theta ~ Beta(alpha, beta + t)``.

    >>> np.round(sbg_probability_renewal(0.7041, 1.1820, np.array([0, 6])), 4)
    array([0.6267, 0.9107])
    """
    t = np.asarray(tenure, dtype=np.float64)
    return (beta + t) / (alpha + beta + t)


def sbg_conditional_survival(alpha, beta, tenure, k):
    """``P(T > t + k | T > t) = B(alpha, beta + t + k) / B(alpha, beta + t)``: probability
    that an active account with tenure ``t`` makes its next ``k`` renewals.

    >>> np.round(sbg_conditional_survival(0.7041, 1.1820, 7, np.array([0, 1, 5])), 4)
    array([1.    , 0.9208, 0.7114])
    """
    t = np.asarray(tenure, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    return np.exp(special.betaln(alpha, beta + t + k) - special.betaln(alpha, beta + t))


def sbg_expected_residual_lifetime(alpha, beta, tenure):
    """Expected number of further renewals (further periods paid for) of an active
    account with tenure ``t``: ``sum_{k>=1} P(T > t + k | T > t) = (beta + t) / (alpha - 1)``;
    infinite when ``alpha <= 1`` (the posterior puts enough mass near ``theta = 0``).
    The undiscounted limit of :func:`sbg_discounted_residual_lifetime`.

    >>> np.round(sbg_expected_residual_lifetime(3.80, 15.20, np.array([0, 4])), 4)
    array([5.4286, 6.8571])
    """
    t = np.asarray(tenure, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (beta + t) / (alpha - 1.0)
    return np.where(alpha > 1.0, out, np.inf)


# Gauss-Legendre nodes on [0, 1] for the tail integral of the residual-lifetime sum
_GL_X, _GL_W = np.polynomial.legendre.leggauss(64)
_GL_X = (_GL_X + 1.0) / 2.0
_GL_W = _GL_W / 2.0
_HEAD, _MAX_HEAD = 64, 4096
_BLOCK_TERMS = 2_000_000  # head terms evaluated at a time (memory bound)


def _residual_sum(a, c, lam):
    """``sum_{k>=0} exp(-lam k) P_k`` with ``P_k = B(a, c + k + 1) / B(a, c)``, ``lam > 0``.

    The first ``K`` terms (``K >= 64``, more when ``a`` is large against ``c``) are
    summed; the rest by Euler-Maclaurin: the integral of the smooth
    ``f(x) = exp(-lam x) P(x)`` over ``[K, inf)`` by 64-point Gauss-Legendre after the
    substitution ``c + x + 1 = (c + K + 1) e^v`` (which turns the slow power-law and
    exponential decay into a short interval), plus ``f(K)/2 - f'(K)/12 + f'''(K)/720``.
    Elements are processed in blocks of similar ``K`` of at most ~2 million terms, so
    memory stays bounded. Accurate to ~1e-10 relative for ``lam`` down to 1e-12 and
    ``c`` up to 1e5 (tested against sums of millions of terms), with no 2F1
    evaluation, which loses accuracy or returns NaN near ``z = 1`` for large
    parameters.
    """
    a, c, lam = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, c, lam)))
    shape = a.shape
    a, c, lam = a.ravel(), c.ravel(), lam.ravel()
    heads = np.clip(np.ceil(20.0 * a - c), _HEAD, _MAX_HEAD).astype(np.intp)
    order = np.argsort(heads, kind="stable")
    out = np.empty(a.size)
    start = 0
    while start < a.size:
        stop = min(a.size, start + max(1, _BLOCK_TERMS // int(heads[order[start]])))
        stop = start + max(1, _BLOCK_TERMS // int(heads[order[stop - 1]]))  # largest K in it
        idx = order[start:stop]
        out[idx] = _residual_sum_block(a[idx], c[idx], lam[idx], int(heads[idx].max()))
        start = stop
    return out.reshape(shape)


def _residual_sum_block(a, c, lam, K):
    """:func:`_residual_sum` for 1-d arrays with ``K`` head terms."""
    k = np.arange(K, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_p = np.cumsum(np.log1p(-a[:, None] / ((a + c)[:, None] + k)), axis=1)
        head = np.exp(log_p - lam[:, None] * k).sum(axis=1)
        cK = c + K + 1.0
        s = lam * cK
        v_max = np.where(a < 1.0, np.log1p(100.0 / s),
                         np.minimum(np.log1p(60.0 / s), 60.0 / np.maximum(a - 1.0, 1e-300)))
        v = _GL_X[None, :] * v_max[:, None]
        x = cK[:, None] * np.exp(v) - c[:, None] - 1.0
        lg0 = special.gammaln(a + c) - special.gammaln(c)
        log_f = (special.gammaln(c[:, None] + x + 1.0) - special.gammaln((a + c)[:, None] + x + 1.0)
                 + lg0[:, None] - lam[:, None] * x)
        integral = (np.exp(log_f + np.log(cK)[:, None] + v) @ _GL_W) * v_max
        f_K = np.exp(log_p[:, -1] + np.log1p(-a / (a + c + K)) - lam * K)
        d1 = -lam + special.digamma(cK) - special.digamma(a + cK)
        d2 = special.polygamma(1, cK) - special.polygamma(1, a + cK)
        d3 = special.polygamma(2, cK) - special.polygamma(2, a + cK)
        tail = integral + f_K / 2.0 - f_K * d1 / 12.0 + f_K * (d1**3 + 3.0 * d1 * d2 + d3) / 720.0
    return head + np.where(f_K > 0, tail, 0.0)


def sbg_discounted_residual_lifetime(alpha, beta, tenure, discount, growth=0.0):
    """Discounted expected residual lifetime (DERL) of an active account with tenure
    ``t``, ``d`` = ``discount`` per period (Fader & Hardie 2010, with ``n = t + 1``):

    ``DERL = sum_{k>=0} P(T > t + 1 + k | T > t) z^k
    = (beta + t) / (alpha + beta + t) * 2F1(1, beta + t + 1; alpha + beta + t + 1; z)``,

    ``z = (1 + growth) / (1 + d)``: the value, in units of one period's revenue, of the
    payments from the next renewal on, the one at the next renewal undiscounted and
    each later one discounted one more period (valuation just before the renewal
    decision). ``growth`` is a per-period revenue expansion (negative: contraction).

    For ``z < 1`` the sum is evaluated directly (see ``_residual_sum``; accurate near
    ``z = 1``, where ``scipy.special.hyp2f1`` fails for large ``beta + t``). For
    ``z = 1`` (no discounting, no growth) it is the expected residual lifetime
    ``(beta + t) / (alpha - 1)``, infinite when ``alpha <= 1``; for ``z > 1`` (growth
    faster than the discount rate) it is infinite. It is never NaN.

    Examples
    --------
    The table of Fader & Hardie (2010), ``d = 0.10``, ``n = 1..5`` (tenure ``n - 1``):

    >>> t = np.arange(5)
    >>> np.round(sbg_discounted_residual_lifetime(3.80, 15.20, t, 0.10), 2)
    array([3.31, 3.45, 3.59, 3.72, 3.84])
    >>> np.round(sbg_discounted_residual_lifetime(0.067, 0.267, t, 0.10), 2)
    array([ 7.67,  9.46,  9.85, 10.06, 10.19])
    >>> float(sbg_discounted_residual_lifetime(0.067, 0.267, 0, 0.0))
    inf
    """
    lam = np.log1p(np.asarray(discount, dtype=np.float64)) - np.log1p(np.asarray(growth, float))
    return _derl_lam(alpha, beta, tenure, lam)


def _derl_lam(alpha, beta, tenure, lam):
    """DERL with the discount given as ``lam = -log z`` (any sign)."""
    t = np.asarray(tenure, dtype=np.float64)
    alpha, c, lam = np.broadcast_arrays(np.asarray(alpha, float), beta + t, np.asarray(lam, float))
    out = np.empty(alpha.shape)
    pos = lam > 0
    out[pos] = _residual_sum(alpha[pos], c[pos], lam[pos])
    zero = lam == 0
    out[zero] = sbg_expected_residual_lifetime(alpha[zero], c[zero], 0.0)
    out[lam < 0] = np.inf
    return out


def sbg_simulate_renewals(alpha, beta, tenure, rng, horizon=None):
    """Simulate the number of further renewals of active accounts (float array, the
    shape of the broadcast inputs): each draws its churn probability from its posterior
    ``Beta(alpha, beta + tenure)``, then renews ``K`` more times with
    ``P(K >= k) = (1 - theta)^k``. ``K`` is infinite when ``theta`` underflows to 0
    (``alpha`` tiny); ``horizon`` caps it (renewals within the next ``horizon``
    periods).

    >>> k = sbg_simulate_renewals(3.8, 15.2, np.zeros(20000), np.random.default_rng(0))
    >>> bool(abs(k.mean() - 15.2 / 2.8) < 0.3)
    True
    """
    a, b = np.broadcast_arrays(np.asarray(alpha, float), beta + np.asarray(tenure, float))
    theta = rng.beta(a, b)
    u = rng.random(a.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = np.floor(np.log(u) / np.log1p(-theta))
    k = np.where(theta <= 0.0, np.inf, np.where(theta >= 1.0, 0.0, k))
    return k if horizon is None else np.minimum(k, float(horizon))


# ----------------------------------------------------------------- data helpers
def accounts_from_survival(active, *, time_unit: str | None = None) -> pd.DataFrame:
    """Turn a cohort survival table into weighted per-account rows for ``fit``.

    ``active[t]`` is the number of customers still active at the start of period
    ``t = 0..n`` (``active[0]`` the cohort size). The ``active[t-1] - active[t]`` who
    churned in period ``t`` become one row ``(tenure=t, churned=True)`` and the
    ``active[n]`` survivors one row ``(tenure=n, churned=False)``, each with its count
    in ``weight``. ``attrs['time_unit']`` records the period length when given.

    >>> accounts_from_survival([1000, 631, 468], time_unit="year")
       tenure  churned  weight
    0       1     True   369.0
    1       2     True   163.0
    2       2    False   468.0
    """
    a = np.asarray(active, dtype=np.float64)
    owner = "accounts_from_survival"
    if a.ndim != 1 or a.size < 2:
        raise DataError(f"{owner}: 'active' must list the customers active at the start of "
                        f"periods 0..n (at least two numbers). Got {active!r} instead.")
    bad = ~np.isfinite(a) | (a < 0) | (a != np.round(a))
    if bad.any() or a[0] <= 0:
        raise DataError(f"{owner}: 'active' must hold whole counts >= 0 with active[0] > 0; "
                        f"bad entries at periods {np.flatnonzero(bad).tolist()[:5]}.")
    rise = np.flatnonzero(np.diff(a) > 0)
    if rise.size:
        raise DataError(
            f"{owner}: the number active cannot grow; it rises at periods "
            f"{(rise + 1).tolist()[:5]}. A survival table follows one cohort: add "
            "customers acquired later as their own cohort."
        )
    n = a.size - 1
    out = pd.DataFrame({"tenure": np.append(np.arange(1, n + 1), n),
                        "churned": np.append(np.ones(n, bool), False),
                        "weight": np.append(-np.diff(a), a[-1])})
    if time_unit is not None:
        out.attrs["time_unit"] = time_unit
    return out


def simulate_sbg(n_accounts: int, alpha: float, beta: float, *, tenure_max, holdout: int = 0,
                 entry=0, time_unit: str = "month", random_state=None) -> pd.DataFrame:
    """Simulate accounts of the sBG model observed from renewal decision ``entry`` to
    ``tenure_max`` (ints, or one per account for accounts acquired at different times
    and seen through different windows), and the ``holdout`` decisions after that.

    ``n_accounts`` are generated; those that churned before observation began
    (lifetime ``<= entry``) are not in the result, as in a real extract (left
    truncation; see :func:`~clvmodels.models.churn.base.observe_lifetimes`).

    Returns a DataFrame indexed by ``account_id`` with ``tenure``, ``churned``,
    ``entry``, ``theta`` (the true churn probability) and ``holdout_renewals``
    (renewals made in the holdout by accounts active at its start),
    ``attrs['time_unit']`` set.

    >>> s = simulate_sbg(5, 1.0, 3.0, tenure_max=4, random_state=0)
    >>> list(s.columns), s.attrs["time_unit"]
    (['tenure', 'churned', 'entry', 'theta', 'holdout_renewals'], 'month')
    """
    rng = np.random.default_rng(random_state)
    theta = rng.beta(alpha, beta, size=n_accounts)
    with np.errstate(divide="ignore"):
        life = np.floor(np.log(rng.random(n_accounts)) / np.log1p(-theta)) + 1.0  # T >= 1
    life = np.where(theta <= 0, np.inf, life)
    return observe_lifetimes(life, entry=entry, tenure_max=tenure_max, holdout=holdout,
                             time_unit=time_unit, extra={"theta": theta})


# ---------------------------------------------------------------------- model
_SBG_TIPS = (
    "What to try:\n"
    "  1. check the summary: 'tenure' counts renewal decisions (see "
    "clvmodels.data.subscriptions), 'churned' marks cancelled accounts and 'entry' the "
    "decisions survived before observation began (a snapshot: entry = tenure - 1);\n"
    "  2. if no account (or almost none) churned, or if churn probabilities hardly differ "
    "between accounts (alpha and beta then grow together without bound: a plain geometric "
    "model fits as well), maximum likelihood has no finite answer: fit with method='map' "
    "or 'mcmc' (CLI: --method map), where the priors keep alpha and beta finite, or add "
    "accounts observed to churn;\n"
    "  3. fit on more accounts or a longer history;\n"
    "  4. allow more iterations: max_iter (CLI: --max-iter)."
)


def churn_words(params: dict, unit: str, renewals: str = "at each renewal") -> dict:
    """The churn probability of an account in words: beta-distributed (``alpha``,
    ``beta``) or one shared ``p``; keyed by parameter name."""
    if "p" in params:
        p = params["p"]
        return {"p": f"Every account churns {renewals} with the same probability p = {p:.1%} "
                     f"per {unit}: the data show no difference between accounts in how likely "
                     "they are to leave."}
    a, b = params["alpha"], params["beta"]
    mean = a / (a + b)
    return {"alpha": f"Each account churns {renewals} with a probability of its own, which "
                     f"varies between accounts as a beta distribution with alpha = {a:.3g} and "
                     f"beta = {b:.3g}: a new account churns with probability "
                     f"alpha/(alpha+beta) = {mean:.1%} at its first renewal; later the "
                     "accounts still there are the more loyal ones, so a cohort's churn falls "
                     "with tenure.",
            "beta": f"Together with alpha, beta = {b:.3g} sets that churn probability; alpha + beta = "
                    f"{a + b:.3g} says how alike accounts are in it (the larger, the more "
                    "alike, and the less a cohort's churn falls with tenure)."}


@register_model
class ShiftedBetaGeoModel(ChurnModel):
    """Shifted-beta-geometric model of contract renewals for a cohort of accounts,
    fitted by ``fit(accounts, method=...)`` with ``"mle"`` (default), ``"map"``,
    ``"mcmc"`` or ``"advi"``; settings as in :class:`~clvmodels.models.base.BaseModel`.

    ``accounts`` has one row per account with ``tenure`` and ``churned`` (and an
    optional ``weight``, the number of accounts a row stands for, and ``entry``, the
    renewal decisions survived before observation began; see
    :func:`accounts_from_survival` for cohort tables and
    :func:`clvmodels.data.subscriptions.subscription_summary` for billing data). Rows
    are compressed by ``(tenure, churned, entry)`` before fitting. Predictions and
    curves come from the churn-model engine (:class:`~clvmodels.models.churn.base.ChurnModel`)
    with the sBG's closed forms where they exist.

    Examples
    --------
    The "regular" cohort of Fader & Hardie (2007), years 1-7:

    >>> regular = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241],
    ...                                  time_unit="year")
    >>> model = ShiftedBetaGeoModel().fit(regular)
    >>> model.params_.round(4).tolist(), round(model.log_likelihood_, 2)
    ([0.7041, 1.182], -1680.27)
    >>> round(1000 * float(model.survival(12)), 1)  # projected survivors in year 12
    170.0
    """

    param_names = ("alpha", "beta")
    row_param_names = ("alpha", "beta")
    # alpha is a shape; beta grows with the number of periods an average account
    # lasts, so it depends on the period length (years vs months): wider prior
    default_priors = {"alpha": LogNormal(0.0, 2.0), "beta": LogNormal(0.0, 3.0)}
    reference = "Fader & Hardie (2007), Journal of Interactive Marketing 21(1)"
    fit_tips = _SBG_TIPS

    def describe_parameters(self) -> dict:
        """The parameters in words, with the fitted values.

        >>> regular = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241],
        ...                                  time_unit="year")
        >>> words = ShiftedBetaGeoModel().fit(regular).describe_parameters()
        >>> "churns with probability alpha/(alpha+beta) = 37.3% at its first renewal" in words["alpha"]
        True
        """
        self._require_fitted()
        unit = getattr(self, "time_unit_", None) or "period"
        return churn_words(self.point_params(), unit)

    def _start(self, arrays, weights):
        rate = self._start_churn_rate(arrays, weights)
        return np.log([1.0, (1.0 - rate) / rate])

    def mixing_spread(self, params):
        """``1 / (alpha + beta + 1)``: the variance of the churn probability over its
        largest possible value; 0 when every account has the same one."""
        return {"churn": beta_spread(params["alpha"], params["beta"])}

    # the model's math (ChurnModel hooks), with the closed forms of the sBG
    def _log_survival(self, p, t):
        return special.betaln(p["alpha"], p["beta"] + t) - special.betaln(p["alpha"], p["beta"])

    def _row_log_likelihood(self, p, rows, *, gradient=False, ops=NUMPY):
        return sbg_log_likelihood(p["alpha"], p["beta"], rows["tenure"], rows["churned"],
                                  rows.get("entry", 0.0), gradient=gradient, ops=ops)

    def _probability_renewal(self, p, tenure):
        return sbg_probability_renewal(p["alpha"], p["beta"], tenure)

    def _discounted_renewals(self, p, tenure, lam, horizon=None):
        if horizon is None:
            return _derl_lam(p["alpha"], p["beta"], tenure, lam)
        return super()._discounted_renewals(p, tenure, lam, horizon)

    def _expected_residual_lifetime(self, p, tenure):
        return sbg_expected_residual_lifetime(p["alpha"], p["beta"], tenure)

    def _expected_lifetime(self, p):
        return sbg_expected_lifetime(p["alpha"], p["beta"])

    def _simulate_renewals(self, p, tenure, rng, horizon=None):
        return sbg_simulate_renewals(p["alpha"], p["beta"], tenure, rng, horizon=horizon)


@register_model
class GeometricChurnModel(ShiftedBetaGeoModel):
    """The sBG's nested limit: every account has the same churn probability ``p`` at
    every renewal (``alpha, beta -> inf`` with ``alpha / (alpha + beta) = p``), so the
    lifetime is geometric: ``S(t) = (1 - p)^t``, retention ``1 - p`` at every tenure.

    An sBG fit becomes this model when the data show no heterogeneity (DESIGN.md
    principle 8; :meth:`~clvmodels.models.churn.base.ChurnModel.fit`); it can also be fitted
    directly. The maximum-likelihood estimate is the churn share of the observed renewal
    decisions.

    Examples
    --------
    >>> accounts = pd.DataFrame({"tenure": [1, 3, 4, 4], "churned": [True, True, False, False],
    ...                          "entry": [0, 0, 0, 2]})
    >>> model = GeometricChurnModel().fit(accounts)
    >>> round(float(model.params_["p"]), 4)  # 2 churns in 1 + 3 + 4 + 2 decisions
    0.2
    """

    param_names = ("p",)
    row_param_names = ("p",)
    default_priors = {"p": LogNormal(-2.0, 2.0)}
    reference = "Fader & Hardie (2007): the sBG with a point mass (no heterogeneity)"
    limit_models = {}

    def _start(self, arrays, weights):
        return np.log([self._start_churn_rate(arrays, weights)])

    def _boundary_message(self, full_name, lr, p_value, collapsed) -> str:
        p = float(self.params_["p"])
        lo, hi = self.summary(0.95).loc["p", ["lower", "upper"]]
        unit = self.time_unit_ or "period"
        return (f"The churn probability is the same for every account: p = {p:.4f} per "
                f"{unit} (95% interval {lo:.4f}-{hi:.4f}); letting it differ between accounts "
                f"({full_name}) fits no better (likelihood-ratio statistic {lr:.2f}, p-value "
                f"{p_value:.2f}). The fit uses the geometric model, the sBG's limit as alpha "
                f"and beta grow without bound together.")

    def _log_survival(self, p, t):
        return np.asarray(t, dtype=np.float64) * np.log1p(-p["p"])

    def _row_log_likelihood(self, p, rows, *, gradient=False, ops=NUMPY):
        t = np.asarray(rows["tenure"], dtype=np.float64)
        c = np.asarray(rows["churned"], dtype=np.float64)
        renewals = t - c - np.asarray(rows.get("entry", 0.0), dtype=np.float64)
        ll = c * ops.log(p["p"]) + renewals * ops.log(1.0 - p["p"])
        if not gradient:
            return ll
        q = p["p"]
        with np.errstate(divide="ignore", invalid="ignore"):
            g = c - renewals * q / (1.0 - q)
        return np.where(q < 1.0, ll, -np.inf), np.atleast_2d(g)

    def _probability_renewal(self, p, tenure):
        return np.broadcast_to(1.0 - p["p"], np.broadcast_shapes(np.shape(p["p"]),
                                                                 np.shape(tenure))).copy()

    def _discounted_renewals(self, p, tenure, lam, horizon=None):
        keep = 1.0 - np.asarray(p["p"], dtype=np.float64)
        r = keep * np.exp(-lam)
        shape = np.broadcast_shapes(keep.shape, np.shape(tenure))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if horizon is None:
                out = np.where(r < 1.0, keep / (1.0 - r), np.inf)
            else:
                n = float(horizon)
                out = np.where(np.isclose(r, 1.0), keep * n, keep * -np.expm1(n * np.log(r))
                               / (1.0 - r))
        return np.broadcast_to(out, shape).copy()

    def _expected_residual_lifetime(self, p, tenure):
        return self._discounted_renewals(p, tenure, 0.0)

    def _expected_lifetime(self, p):
        return 1.0 / np.asarray(p["p"], dtype=np.float64)

    def _simulate_renewals(self, p, tenure, rng, horizon=None):
        q = np.broadcast_to(np.asarray(p["p"], dtype=np.float64),
                            np.broadcast_shapes(np.shape(p["p"]), np.shape(tenure)))
        with np.errstate(divide="ignore"):
            k = np.floor(np.log(rng.random(q.shape)) / np.log1p(-q))
        k = np.where(q <= 0.0, np.inf, np.where(q >= 1.0, 0.0, k))
        return k if horizon is None else np.minimum(k, float(horizon))


ShiftedBetaGeoModel.limit_models = {"churn": GeometricChurnModel}
