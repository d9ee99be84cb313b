"""Shifted-beta-geometric churn model with account covariates (log link).

Each account's churn probability is ``Beta(alpha_i, beta_i)`` with

``log alpha_i = log alpha + x_i @ c_alpha``,  ``log beta_i = log beta + x_i @ c_beta``,

so ``alpha``, ``beta`` describe the reference accounts (all covariates 0) and each
coefficient shifts a parameter multiplicatively (``exp(c)`` per unit of the
covariate). The likelihood is the cohort model's
(:func:`~clvmodels.models.churn.sbg.sbg_log_likelihood`) evaluated at per-account
parameters; with no covariates the model *is* the cohort model.

Parameters on the fitting engine's positive scale are ``alpha``, ``beta`` and the
multipliers ``alpha[<covariate>] = exp(c_alpha)``, ``beta[<covariate>] =
exp(c_beta)``; a ``LogNormal(0, s)`` prior on a multiplier is a ``Normal(0, s)`` prior
on the coefficient, and the engine's normal approximation on the log scale is a
normal approximation of the coefficients. Fits run on rows compressed by
``(tenure, churned, covariates)``; encode categories as 0/1 columns first (e.g.
``pd.get_dummies(data["Contract"], drop_first=True, dtype=float)``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import FitError, check_parameter
from ...value.intervals import credible_bounds
from ..backend import NUMPY
from .sbg import ShiftedBetaGeoModel

__all__ = ["ShiftedBetaGeoCovariateModel", "CovariateChurnMixin", "covariate_link"]


def covariate_link(params, name: str, covariates, rows, ops=NUMPY):
    """Per-row ``exp(log params[name] + sum_c log params[f"{name}[{c}]"] * rows[c])``,
    written once for numpy arrays of draws and PyTensor variables.

    >>> covariate_link({"alpha": 2.0, "alpha[x]": 3.0}, "alpha", ["x"], {"x": np.array([0, 1])})
    array([2., 6.])
    """
    log_value = ops.log(params[name])
    for c in covariates:
        log_value = log_value + ops.log(params[f"{name}[{c}]"]) * np.asarray(rows[c], float)
    return ops.exp(log_value)


class CovariateChurnMixin:
    """Covariates on any churn model (:class:`~clvmodels.models.churn.base.ChurnModel`): the
    row parameters named in ``linked`` (``alpha`` and ``beta``) get a log link,
    every other model parameter (e.g. the Weibull ``c``) is shared by all accounts.
    Put it before the cohort model in the bases:
    ``class M(CovariateChurnMixin, CohortModel)``."""

    linked: tuple[str, ...] = ("alpha", "beta")
    #: a covariate model's boundary is one segment's, which has no nested model here:
    #: the fit explains it in words instead (``_check_convergence``)
    limit_models = {}

    def describe_parameters(self) -> dict:
        """The cohort model's parameters in words for accounts with every covariate at
        0 (the reference), and each coefficient as the multiplier it is."""
        base = super().describe_parameters()
        covs = self._covariate_names()
        ref = f"For accounts with {', '.join(covs)} all 0: " if covs else ""
        out = {k: (ref + v[:1].lower() + v[1:]) if ref else v for k, v in base.items()}
        v = self.point_params()
        first = v["alpha"] / (v["alpha"] + v["beta"])
        own = {}
        for c in covs:
            a, b = (v[f"{n}[{c}]"] if n in self.linked else 1.0 for n in ("alpha", "beta"))
            own[c] = a * v["alpha"] / (a * v["alpha"] + b * v["beta"])
        for name in self.linked:  # the order of the parameter table
            for c in covs:
                key = f"{name}[{c}]"
                out[key] = (f"{key} = {v[key]:.3g}: {name} is multiplied by {v[key]:.3g} for "
                            f"an account with {c} = 1 (by {v[key]:.3g}^x for a value x). With "
                            f"both multipliers, such an account churns with probability "
                            f"{own[c]:.1%} at its first renewal, against {first:.1%} for the "
                            "reference accounts.")
        return out

    def __init__(self, *, covariates=(), coefficient_prior_sd: float = 2.0, **settings):
        super().__init__(**settings)
        self.covariates = covariates
        self.coefficient_prior_sd = coefficient_prior_sd

    # names and priors follow the covariates (instance-level, read by the engine)
    def _covariate_names(self) -> tuple[str, ...]:
        covs = self.covariates
        ok = (not isinstance(covs, str) and all(isinstance(c, str) for c in covs)
              and len(set(covs)) == len(covs))
        check_parameter("covariates", type(self).__name__, covs, ok,
                        "a sequence of distinct column names")
        return tuple(covs)

    def _cohort_class(self):
        """The model without covariates (the next churn model in the bases)."""
        return next(c for c in type(self).__mro__[1:]
                    if not issubclass(c, CovariateChurnMixin) and "param_names" in vars(c))

    @property
    def param_names(self) -> tuple[str, ...]:
        covs = self._covariate_names()
        base = self._cohort_class().param_names
        return (*base, *(f"{n}[{c}]" for n in self.linked for c in covs))

    @property
    def default_priors(self) -> dict:
        from ..covariates import coefficient_priors

        return coefficient_priors(self, self._cohort_class())

    # ------------------------------------------------------------ engine hooks
    def _start(self, arrays, weights):
        k = len(self._covariate_names()) * len(self.linked)
        return np.concatenate([super()._start(arrays, weights), np.zeros(k)])

    def _row_params(self, params, rows, ops=NUMPY):
        covs = self._covariate_names()
        p = super()._row_params(params, rows, ops=ops)
        for name in self.linked:
            p[name] = covariate_link(params, name, covs, rows, ops=ops)
        return p

    def _loglik_and_grad(self, log_params, arrays, weights):
        covs = self._covariate_names()
        params = dict(zip(self.param_names, np.exp(log_params)))
        p = self._row_params(params, arrays)
        ll, g = self._row_log_likelihood(p, arrays, gradient=True)
        wg = g * weights  # (k, n): d/d log of each row parameter, weighted
        x = np.column_stack([arrays[c] for c in covs]) if covs else np.empty((ll.size, 0))
        rows = list(self.row_param_names)
        grad = [wg[rows.index(n)].sum() for n in self._cohort_class().param_names]
        for name in self.linked:
            grad.append(x.T @ wg[rows.index(name)])
        return float(weights @ ll), np.concatenate([np.atleast_1d(v) for v in grad])

    def _check_convergence(self, res, theta, ll, grad, hess) -> None:
        """At the edge of the search space, say which covariate level the data cannot
        identify, why, and what to do (DESIGN.md principle 8)."""
        names = list(self.param_names)
        edge = [names[i] for i in np.flatnonzero(np.abs(theta) >= 15.0 - 1e-6)]
        if not edge:
            return super()._check_convergence(res, theta, ll, grad, hess)
        levels = sorted({n[n.index("[") + 1:-1] for n in edge if "[" in n})
        who = (f"accounts with {', '.join(repr(c) for c in levels)} = 1" if levels
               else "the reference accounts (all covariates 0)")
        raise FitError(
            f"{type(self).__name__}: the data cannot identify {edge}: for {who} the churn "
            "probability does not seem to differ between accounts (their churn rate hardly "
            "changes with tenure), so maximum likelihood sends their alpha and beta to infinity "
            "together with no finite answer (or, if almost none of them churned, their churn "
            "probability is too close to 0 to estimate). What to do: fit one model per segment, where such "
            "a segment gets the homogeneous (geometric) model it supports "
            "(clvmodels.fit_by_segment(accounts, by=...); CLI: --segment-col COLUMN instead of "
            "--covariates), or keep the covariates and fit with method='map' (CLI: --method map), "
            "where the coefficient priors (coefficient_prior_sd) keep them finite.")

    # ---------------------------------------------------------------- results
    def coefficients(self, level: float = 0.95) -> pd.DataFrame:
        """Coefficients on the log scale: the log of each cohort parameter (reference
        accounts) and each covariate's coefficient on ``alpha`` and ``beta``, with
        ``se`` and a ``level`` interval (normal approximation for "mle"/"map";
        posterior mean, sd and equal-tailed interval for "mcmc"/"advi")."""
        self._require_fitted()
        check_parameter("level", "coefficients", level,
                        isinstance(level, float) and 0 < level < 1, "a float in (0, 1)")
        names = [f"log {n}" if "[" not in n else n.replace("[", " coefficient [")
                 for n in self.param_names]
        if self.idata_ is None:
            est = self.log_params_
            se = np.sqrt(np.diag(self.covariance_log_))
            z = stats.norm.ppf(0.5 + level / 2)
            lo, hi = est - z * se, est + z * se
        else:
            logs = np.log(np.column_stack([self.param_draws()[n] for n in self.param_names]))
            est, se = logs.mean(axis=0), logs.std(axis=0, ddof=1)
            lo, hi = credible_bounds(logs, level, axis=0)
        return pd.DataFrame({"estimate": est, "se": se, "lower": lo, "upper": hi},
                            index=pd.Index(names, name="coefficient"))

    def _cohort_params(self, segment=None) -> dict[str, float]:
        """Row parameters of new accounts with covariate values ``segment`` (a dict;
        missing covariates are 0, the reference)."""
        self._require_fitted()
        segment = dict(segment or {})
        unknown = sorted(set(segment) - set(self._covariate_names()))
        if unknown:
            raise ValueError(f"The 'segment' parameter of {type(self).__name__} names unknown "
                             f"covariates {unknown}; the covariates are "
                             f"{list(self._covariate_names())}.")
        rows = {c: np.asarray(float(segment.get(c, 0.0))) for c in self._covariate_names()}
        return {n: float(v) for n, v in self._row_params(self.point_params(), rows).items()}


class ShiftedBetaGeoCovariateModel(CovariateChurnMixin, ShiftedBetaGeoModel):
    """sBG churn model whose ``alpha`` and ``beta`` depend on account covariates
    through a log link (module docstring); fitted like the cohort model with
    ``fit(accounts, method=...)``, ``"mcmc"`` sampling all coefficients with PyMC.

    Parameters
    ----------
    covariates : sequence of str
        Numeric columns of the account summary (0/1 dummies for categories).
    coefficient_prior_sd : float
        Standard deviation of the ``Normal(0, sd)`` prior on every coefficient
        (``method`` "map", "mcmc", "advi"); 2 lets a covariate change ``alpha`` or
        ``beta`` up to about 50-fold.
    **others
        As :class:`~clvmodels.models.churn.sbg.ShiftedBetaGeoModel`.

    Examples
    --------
    Telco accounts (a snapshot: one renewal decision observed per account), contract
    type as covariate (month-to-month is the reference):

    >>> from clvmodels.datasets import load_telco
    >>> telco = load_telco()
    >>> telco = telco.join(pd.get_dummies(telco["Contract"], drop_first=True, dtype=float))
    >>> model = ShiftedBetaGeoCovariateModel(covariates=["One year", "Two year"],
    ...                                      random_state=0).fit(telco, method="map")
    >>> model.param_names
    ('alpha', 'beta', 'alpha[One year]', 'alpha[Two year]', 'beta[One year]', 'beta[Two year]')
    >>> p = model.probability_renewal(telco.iloc[:3])  # per account, its own contract
    >>> bool(p.between(0, 1).all())
    True
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
