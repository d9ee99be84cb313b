"""The contractual churn-model family: one engine, thin models (STYLE.md, lifelines'
parametric fitters).

A churn model describes the lifetime ``T`` of an account — the number of periods it
pays for — through a heterogeneous per-account churn process. A model declares only

* ``row_param_names`` — the parameters of one account's distribution (e.g. ``alpha``,
  ``beta`` of the sBG, plus ``c`` for the beta-discrete-Weibull);
* ``_log_survival(p, t)`` — ``log S(t) = log P(T > t)`` of a new account;
* ``_row_log_likelihood(p, rows, gradient, ops)`` — the per-row log-likelihood,
  written once for numpy (with the gradient w.r.t. the log row parameters) and
  PyTensor;
* ``_simulate_renewals(p, tenure, rng, horizon)`` — further renewals of active
  accounts, drawn from their posterior.

Everything else lives here once: fitting on rows compressed by ``(tenure, churned,
entry, covariates)``, conditional survival, the probability of renewal, residual
lifetimes (discounted or not, whole life or over a horizon), restricted mean and
median lifetimes, per-account frames. Rows carry ``entry`` (renewal decisions
survived before observation began, DESIGN.md principle 7): every likelihood
conditions on ``T > entry``.

Conventions (see :mod:`clvmodels.data.subscriptions`): a churned account with tenure
``t`` has ``T = t``; an active one has ``T > t``. An active account with tenure ``t``
renews at its next decision with ``S(t + 1) / S(t)``; its ``k``-th further renewal
happens with ``S(t + k) / S(t)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...data.compress import compress_rows
from ...data.subscriptions import account_arrays
from ...errors import DataError, FitError, IncompatibleModelError, check_parameter
from ...timeunits import annual_rate_to_continuous
from ..backend import NUMPY, pytensor_ops
from ..base import BaseModel

__all__ = ["ChurnModel", "discounted_sum", "observe_lifetimes"]

#: per-(draw, row) terms evaluated at a time by the numeric sums (memory bound)
_BLOCK_ELEMENTS = 4_000_000
#: whole-life sums stop once further terms are below this share of the sum
_TAIL_TOL = 1e-12
_MAX_TERMS = 1_000_000


def discounted_sum(log_term, shape, *, lam, horizon=None):
    """``sum_{k=0}^{H-1} exp(log_term(k) - lam k)`` elementwise over ``shape``.

    ``log_term(k)`` takes a 1-d float array of ``k`` values and returns an array of
    ``shape + (len(k),)``. With ``horizon=None`` (whole life) the sum runs until the
    remaining terms fall below ``1e-12`` of the sum (discounted: bounded by the last
    term over ``1 - exp(-lam)``); undiscounted sums whose terms decay like a power
    ``k^-s`` with ``s > 1`` get the tail's integral once the exponent has settled
    (relative error ~1e-6, larger as s nears 1; models with heavy tails override this
    with closed forms);
    an element still not settled after a million periods, or decaying no faster than
    ``1 / k``, is ``inf`` (an undiscounted lifetime whose mean does not exist). Terms are taken in blocks so at most ~4
    million are held at once.

    >>> float(discounted_sum(lambda k: np.zeros((1, k.size)), (1,), lam=np.log(2.0))[0])
    2.0
    >>> float(discounted_sum(lambda k: np.zeros((1, k.size)), (1,), lam=0.0, horizon=5)[0])
    5.0
    """
    size = int(np.prod(shape)) if len(shape) else 1
    block = int(max(8, min(4096, _BLOCK_ELEMENTS // max(size, 1))))
    total = np.zeros(shape)
    limit = _MAX_TERMS if horizon is None else int(horizon)
    done = np.zeros(shape, dtype=bool)
    slope = np.full(shape, np.nan)
    start = 0
    while start < limit:
        k = np.arange(start, min(start + block, limit), dtype=np.float64)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            terms = np.exp(log_term(k) - lam * k)
        terms = np.where(np.isfinite(terms), terms, 0.0)
        total = total + np.where(done, 0.0, terms.sum(axis=-1))
        start += k.size
        if horizon is None and k.size > 1:
            done = done | _tail_negligible(terms, k, lam, total)
            if lam == 0 and start >= 50_000:
                # a power-law tail f(k) ~ C k^-s (s > 1) whose exponent has settled: add
                # its integral, f(K) (K + 1/2) / (s - 1), instead of summing on for ever
                s_now = _power_exponent(terms, k)
                settled = ~done & (s_now > 1.001) & (np.abs(s_now - slope) < 1e-4 * s_now)
                tail = terms[..., -1] * (k[-1] + 1.5) / (s_now - 1.0)
                total = np.where(settled, total + tail, total)
                done = done | settled
                slope = s_now
            if done.all():
                return total
    if horizon is None:
        return np.where(done, total, np.inf)
    return total


def _power_exponent(terms, k):
    """``s`` of ``f(k) ~ C k^-s`` from a block's first and last terms (1-based k)."""
    first, last = terms[..., 0], terms[..., -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((first > 0) & (last > 0),
                        np.log(first / last) / np.log((k[-1] + 1.0) / (k[0] + 1.0)), np.inf)


def _tail_negligible(terms, k, lam, total):
    """Whether the terms after this block add less than ``_TAIL_TOL`` of the sum. The
    tail is bounded by the larger of a geometric tail (ratio of the block's last two
    terms, or the discount alone) and a power-law tail ``f(K) K / (s - 1)`` with the
    exponent ``s`` read off the block's first and last terms; a tail decaying no faster
    than ``1 / k`` is never negligible (an infinite undiscounted lifetime)."""
    first, prev, last = terms[..., 0], terms[..., -2], terms[..., -1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(prev > 0, last / prev, 0.0)
        geometric = np.where(ratio < 1, last * ratio / (1 - ratio), np.inf)
        k0, k1 = k[0] + 1.0, k[-1] + 1.0
        s = np.where((first > 0) & (last > 0), np.log(first / last) / np.log(k1 / k0), np.inf)
        power = np.where(s > 1.0 + 1e-9, last * k1 / (s - 1.0), np.inf)
        bound = np.minimum(np.maximum(geometric, np.where(np.isfinite(s), power, 0.0)),
                           last / -np.expm1(-lam) if lam > 0 else np.inf)
    return (last == 0) | (bound <= _TAIL_TOL * total)


def observe_lifetimes(life, *, entry=0, tenure_max, holdout: int = 0, time_unit: str = "month",
                      extra: dict | None = None) -> pd.DataFrame:
    """Account rows as a data extract would show true lifetimes ``life`` (periods paid
    for, ``T >= 1``): observed from renewal decision ``entry`` (accounts with ``T <=
    entry`` churned before observation began and are left out: left truncation) to
    decision ``tenure_max`` (right censoring); ``holdout_renewals`` counts renewals in
    the ``holdout`` decisions after that. ``entry`` and ``tenure_max`` are ints or one
    per account; ``extra`` columns (e.g. the true churn probabilities) are kept for the
    accounts observed. The index keeps each account's position in ``life``.

    >>> observe_lifetimes(np.array([1.0, 3.0, 9.0]), entry=1, tenure_max=5)
    ... # doctest: +NORMALIZE_WHITESPACE
                tenure  churned  entry  holdout_renewals
    account_id
    1                3     True      1               0.0
    2                5    False      1               0.0
    """
    life = np.asarray(life, dtype=np.float64)
    n = life.shape[0]
    horizon = np.broadcast_to(np.asarray(tenure_max, dtype=np.float64), (n,))
    start = np.broadcast_to(np.asarray(entry, dtype=np.float64), (n,))
    if np.any(start > horizon):
        raise ValueError("observe_lifetimes: 'entry' must not exceed 'tenure_max'.")
    seen = life > start
    churned = life <= horizon
    tenure = np.where(churned, life, horizon)
    further = np.clip(life - 1.0 - horizon, 0.0, float(holdout))
    cols = {"tenure": tenure.astype(np.int64), "churned": churned,
            "entry": start.astype(np.int64)}
    cols.update({k: np.asarray(v)[:n] for k, v in (extra or {}).items()})
    cols["holdout_renewals"] = np.where(churned, 0.0, further)
    out = pd.DataFrame(cols, index=pd.RangeIndex(n, name="account_id"))[seen]
    out.attrs["time_unit"] = time_unit
    return out


def _check_some_renewal(arr: dict, owner: str) -> None:
    """Refuse, in words, accounts of which none was seen renewing although some were seen
    cancelling: every account observed cancelled at its first renewal decision observed,
    so maximum likelihood puts the churn probability at 1 and has no finite answer."""
    w, churned = arr["weight"], arr["churned"]
    renewals = float(w @ (arr["tenure"] - arr["entry"] - churned))
    cancelled = float(w @ churned)
    if renewals > 0 or cancelled == 0:
        return
    what = (f"{owner}: no account was seen renewing: all {cancelled:,.0f} accounts observed "
            "cancelled at the first renewal decision they were seen making, so maximum "
            "likelihood puts the churn probability at 1 (nobody ever renews) and has no finite "
            "answer. Check that the tenure column counts the renewal decisions made (an "
            "account that paid for 3 periods and then cancelled has tenure 3; see "
            "clvmodels.data.subscriptions), ")
    raise DataError(what + "or fit with method='map', whose prior keeps the churn "
                    "probability below 1.",
                    cli_message=what.replace("the tenure column", "the tenure column "
                                             "(--tenure-col)")
                    + "or add --method map, whose prior keeps the churn probability below 1.")


class ChurnModel(BaseModel):
    """Shared engine of the contractual churn models (module docstring). Settings as in
    :class:`~clvmodels.models.base.BaseModel`."""

    #: parameters of one account's churn distribution, in order
    row_param_names: tuple[str, ...] = ()
    #: what to try when maximum likelihood fails
    fit_tips: str = ""

    # ---------------------------------------------------------- model hooks
    def _log_survival(self, p: dict, t):
        """``log S(t)`` of a new account with row parameters ``p``."""
        raise NotImplementedError

    def _row_log_likelihood(self, p: dict, rows: dict, *, gradient=False, ops=NUMPY):
        """Per-row log-likelihood (conditioned on ``T > entry``); with ``gradient``
        also ``(len(row_param_names), n)`` derivatives w.r.t. the log row parameters."""
        raise NotImplementedError

    def _simulate_renewals(self, p: dict, tenure, rng, horizon=None):
        """Further renewals of active accounts (float array; ``inf`` allowed)."""
        raise NotImplementedError

    def _covariate_names(self) -> tuple[str, ...]:
        return ()

    def _row_params(self, params: dict, rows: dict, ops=NUMPY) -> dict:
        """Row parameters from model parameters (cohort models: the same)."""
        return {n: params[n] for n in self.row_param_names}

    def _period_scale(self, p):
        """Length of each row's renewal period in the model's periods (1: every
        account renews once a period; see SegmentedChurnModel's ``periods``)."""
        return 1.0

    # ------------------------------------------------------ derived formulas
    def _conditional_survival(self, p, tenure, k):
        """``P(T > t + k | T > t)``."""
        t = np.asarray(tenure, dtype=np.float64)
        return np.exp(self._log_survival(p, t + k) - self._log_survival(p, t))

    def _probability_renewal(self, p, tenure):
        """P(an active account with tenure ``t`` renews at its next decision)."""
        return self._conditional_survival(p, tenure, 1.0)

    def _discounted_renewals(self, p, tenure, lam, horizon=None):
        """``sum_{k=0}^{H-1} P(T > t + 1 + k | T > t) exp(-lam k)``: the payments at
        the next ``H`` renewals (all of them with ``horizon=None``), the next one
        undiscounted, in units of one period's revenue. ``lam = -log z`` per period;
        ``lam < 0`` (growth faster than discounting) over the whole life is ``inf``."""
        t = np.asarray(tenure, dtype=np.float64)
        shape = np.broadcast_shapes(t.shape, *(np.shape(v) for v in p.values()))
        if horizon is None and lam < 0:
            return np.full(shape, np.inf)
        t_b = np.broadcast_to(t, shape)[..., None]
        pb = {n: np.broadcast_to(np.asarray(v, dtype=np.float64), shape)[..., None]
              for n, v in p.items()}
        log_st = self._log_survival(pb, t_b)

        def log_term(k):
            return self._log_survival(pb, t_b + 1.0 + k) - log_st

        return discounted_sum(log_term, shape, lam=float(lam), horizon=horizon)

    def _expected_residual_lifetime(self, p, tenure):
        """Expected further renewals, undiscounted (``inf`` when the mean does not
        exist)."""
        return self._discounted_renewals(p, tenure, 0.0)

    def _expected_lifetime(self, p):
        """``E[T] = 1 + E[further renewals at tenure 0]``."""
        return 1.0 + self._expected_residual_lifetime(p, 0.0)

    # ------------------------------------------------- a boundary is an answer
    def _after_fit(self) -> None:
        """``bic_ = k log(n) - 2 LL`` with ``n`` the renewal decisions observed (NaN for
        Bayesian fits, like ``aic_``)."""
        k = len(self.param_names)
        self.bic_ = (float("nan") if not np.isfinite(self.aic_) else
                     k * float(np.log(max(self.n_decisions_, 1.0))) - 2.0 * self.log_likelihood_)

    def boundary_statements(self) -> dict:
        """The statements of fits that ended at a boundary, keyed by segment (``None``
        for a model without segments); empty when none did."""
        note = getattr(self, "boundary_", None)
        return {None: note["message"]} if note else {}

    # ---------------------------------------------------------- engine hooks
    def _fit_once(self, data, method):
        if method == "mle":
            _check_some_renewal(self.account_columns(data, type(self).__name__),
                                type(self).__name__)
        super()._fit_once(data, method)

    def account_columns(self, data: pd.DataFrame, owner: str, *,
                        need_churned: bool = True) -> dict[str, np.ndarray]:
        """The account table's columns this model reads, validated (clear errors naming
        the column and the first bad account ids): ``tenure``, ``churned``, ``entry``,
        ``weight`` and the model's covariates."""
        return account_arrays(data, owner, need_churned=need_churned,
                              extra=self._covariate_names())

    def _rows(self, data: pd.DataFrame, owner: str, *, need_churned: bool = True):
        """Validated columns compressed by (tenure, churned, entry, covariates...)."""
        arr = self.account_columns(data, owner, need_churned=need_churned)
        keys = [k for k in arr if k != "weight"]
        return compress_rows(arr, ["tenure", "churned", "entry",
                                   *(k for k in keys if k not in ("tenure", "churned",
                                                                   "entry"))]), arr["weight"]

    def _prepare(self, data):
        comp, weight = self._rows(data, type(self).__name__)
        weights = np.bincount(comp.inverse, weights=weight, minlength=comp.n_unique)
        # rows that observe no renewal decision (entry == tenure, active) carry no
        # information: S(t) / S(t) = 1
        informative = (comp.unique["churned"] > 0) | (comp.unique["tenure"] > comp.unique["entry"])
        keep = (weights > 0) & informative
        if not keep.any():
            raise FitError(
                f"{type(self).__name__}: no account was observed making a renewal decision "
                "(every account is still in the period it was first seen in). Fit when at "
                "least some accounts have renewed or cancelled since observation began."
            )
        arrays = {k: v[keep] for k, v in comp.unique.items()}
        # renewal decisions observed: the sample size of BIC for churn models
        self.n_decisions_ = float(weights[keep] @ (arrays["tenure"] - arrays["entry"]))
        return arrays, weights[keep]

    def _start_churn_rate(self, arrays, weights) -> float:
        churned = weights @ arrays["churned"]
        exposure = weights @ np.maximum(arrays["tenure"] - arrays["entry"], 1.0)
        return float(np.clip(churned / max(exposure, 1e-9), 1e-4, 0.9))

    def _loglik_and_grad(self, log_params, arrays, weights):
        params = dict(zip(self.param_names, np.exp(log_params)))
        p = self._row_params(params, arrays)
        ll, g = self._row_log_likelihood(p, arrays, gradient=True)
        return float(weights @ ll), g @ weights

    def _pymc_log_likelihood(self, params, arrays, weights):
        ops = pytensor_ops()
        p = self._row_params(params, arrays, ops=ops)
        return ops.dot(weights, self._row_log_likelihood(p, arrays, ops=ops))

    def _check_convergence(self, res, theta, ll, grad, hess) -> None:
        try:
            super()._check_convergence(res, theta, ll, grad, hess)
        except FitError as exc:
            problems = str(exc).split("\nWhat to try")[0]
            raise FitError(f"{problems}\n{self.fit_tips}") from None

    # ------------------------------------------------------------- predictions
    def point_draws(self) -> dict[str, np.ndarray]:
        """The point estimate as one 'draw': ``{name: array of shape (1,)}``."""
        return {k: np.array([v]) for k, v in self.point_params().items()}

    def account_parameters(self, accounts: pd.DataFrame, params: dict | None = None):
        """``(p, tenure, churned, compressed)`` for the unique account rows: ``p`` the
        row parameters, each shaped ``(n_draws, n_unique)`` from ``params`` (parameter
        draws, default the point estimate); ``compressed.inverse`` maps back to rows."""
        self._require_fitted()
        comp, _ = self._rows(accounts, type(self).__name__, need_churned=False)
        params = self.point_draws() if params is None else params
        col = {k: np.asarray(v, dtype=np.float64)[:, None] for k, v in params.items()}
        p = self._row_params(col, comp.unique)
        n_draws = next(iter(col.values())).shape[0]
        shape = (n_draws, comp.n_unique)
        p = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for k, v in p.items()}
        return p, comp.unique["tenure"], comp.unique["churned"] > 0, comp

    def _per_account(self, accounts, name, fn) -> pd.Series:
        p, t, churned, comp = self.account_parameters(accounts)
        values = np.where(churned, 0.0, fn(p, t)[0])
        return pd.Series(values[comp.inverse], index=accounts.index, name=name)

    def probability_renewal(self, accounts: pd.DataFrame) -> pd.Series:
        """P(renews at its next renewal) per account (0 for churned accounts), at the
        point estimate."""
        return self._per_account(accounts, "probability_renewal", self._probability_renewal)

    def expected_residual_lifetime(self, accounts: pd.DataFrame) -> pd.Series:
        """Expected further renewals per account (``inf`` when the mean does not
        exist)."""
        return self._per_account(accounts, "expected_residual_lifetime",
                                 self._expected_residual_lifetime)

    def discounted_expected_residual_lifetime(self, accounts: pd.DataFrame, *,
                                              discount_rate: float,
                                              growth_rate: float = 0.0,
                                              horizon: int | None = None) -> pd.Series:
        """DERL per account; ``discount_rate`` is an effective *annual* rate converted
        exactly to the model's period; ``growth_rate`` is per period; ``horizon``
        counts only the next ``horizon`` renewals (None: the whole remaining life)."""
        lam = self.period_log_discount(discount_rate, growth_rate,
                                       "discounted_expected_residual_lifetime")
        return self._per_account(
            accounts, "derl", lambda p, t: self._discounted_renewals(p, t, lam, horizon))

    def survival_curve(self, accounts: pd.DataFrame, periods: int) -> pd.DataFrame:
        """P(still active after each of the next ``1..periods`` renewal decisions) per
        account (rows) at the point estimate; 0 for churned accounts."""
        check_parameter("periods", "survival_curve", periods,
                        isinstance(periods, int) and periods >= 1, "an int >= 1")
        p, t, churned, comp = self.account_parameters(accounts)
        k = np.arange(1, periods + 1, dtype=np.float64)
        p0 = {n: v[0][:, None] for n, v in p.items()}
        s = self._conditional_survival(p0, t[:, None], k)
        s = np.where(churned[:, None], 0.0, s)
        return pd.DataFrame(s[comp.inverse], index=accounts.index,
                            columns=pd.Index(np.arange(1, periods + 1), name="period"))

    # cohort-level curves at the point estimate
    def _cohort_params(self, segment=None) -> dict[str, float]:
        """Row parameters of a new account (``segment``: covariate values, covariate
        models only)."""
        self._require_fitted()
        if segment is not None:
            raise TypeError(f"{type(self).__name__} has no covariates, so it takes no "
                            f"'segment'. Got {segment!r}.")
        return {n: float(v) for n, v in self._row_params(self.point_params(), {}).items()}

    def survival(self, t, segment=None):
        """``S(t)`` for a new account at the point estimate."""
        return np.exp(self._log_survival(self._cohort_params(segment),
                                         np.asarray(t, dtype=np.float64)))

    def retention_rate(self, t, segment=None):
        """``r(t) = S(t) / S(t - 1)``, ``t >= 1``, for a new cohort at the point estimate."""
        t = np.asarray(t, dtype=np.float64)
        return self._conditional_survival(self._cohort_params(segment), t - 1.0, 1.0)

    def expected_lifetime(self, segment=None) -> float:
        """Average lifespan ``E[T]`` of a new account (``inf`` when it does not exist;
        see :meth:`restricted_mean_lifetime` and :meth:`median_lifetime`)."""
        return float(np.asarray(self._expected_lifetime(self._cohort_params(segment))))

    def restricted_mean_lifetime(self, periods: int, segment=None) -> float:
        """``E[min(T, tau)] = sum_{t < tau} S(t)``: the average number of periods a new
        account pays for within its first ``tau = periods`` periods. Finite always,
        unlike ``E[T]``."""
        check_parameter("periods", "restricted_mean_lifetime", periods,
                        isinstance(periods, int) and periods >= 1, "an int >= 1")
        return float(self.survival(np.arange(periods), segment).sum())

    def median_lifetime(self, segment=None, max_periods: int = 100_000) -> float:
        """The first ``t`` with ``S(t) <= 0.5`` (``inf`` if not within ``max_periods``)."""
        t = np.arange(max_periods + 1, dtype=np.float64)
        below = np.flatnonzero(self.survival(t, segment) <= 0.5)
        return float(below[0]) if below.size else float("inf")

    def period_log_discount(self, discount_rate, growth_rate, owner) -> float:
        """``-log z`` per model period, ``z = (1 + growth_rate) / (1 + d)``, ``d`` the
        per-period equivalent of the effective annual ``discount_rate``."""
        self._require_fitted()
        check_parameter("growth_rate", owner, growth_rate,
                        isinstance(growth_rate, (int, float)) and np.isfinite(growth_rate)
                        and growth_rate > -1, "a float in (-1, inf)")
        if discount_rate != 0 and self.time_unit_ is None:
            raise IncompatibleModelError(
                f"{owner}: the model does not know its period length, so an annual "
                f"discount_rate of {discount_rate!r} cannot be converted. Fit it with "
                f"{type(self).__name__}(time_unit='month') (or 'year', 'week', 'day'), or "
                "set data.attrs['time_unit']."
            )
        delta = annual_rate_to_continuous(discount_rate, self.time_unit_ or "year", owner)
        return float(delta - np.log1p(growth_rate))
