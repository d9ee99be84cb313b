"""The fitting engine shared by every model (lifelines-style: one engine, thin models).

A model declares its parameter names, a starting point, how to turn a summary
DataFrame into arrays, and a function returning the weighted log-likelihood and its
gradient with respect to the *log* parameters. The engine owns optimisation, the
Hessian, the covariance, convergence errors, the summary table and the parameter
draws (DESIGN.md principle 2: every fit yields draws; for maximum likelihood they
come from the asymptotic normal of the log parameters).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize, stats
from threadpoolctl import threadpool_limits

from ..errors import FitError, NotFittedError, check_parameter
from ..priors import log_prior_log_scale, resolve_priors
from ..timeunits import check_time_unit

__all__ = ["BaseModel", "draws_from_normal"]

LogLikFn = Callable[[np.ndarray], tuple[float, np.ndarray]]
METHODS = ("mle", "map", "mcmc", "advi")
SAMPLERS = ("pymc", "nutpie", "numpyro", "blackjax")


def draws_from_normal(
    names: tuple[str, ...],
    mean_log: np.ndarray,
    cov_log: np.ndarray,
    n_draws: int,
    random_state: int | np.random.Generator | None,
) -> xr.Dataset:
    """Parameter draws (chain=1, draw=n_draws) from a normal on the log scale.

    >>> ds = draws_from_normal(("r", "alpha"), np.log([1.0, 2.0]), np.eye(2) * 1e-4, 50, 0)
    >>> dict(ds.sizes)
    {'chain': 1, 'draw': 50}
    """
    rng = np.random.default_rng(random_state)
    z = rng.multivariate_normal(mean_log, cov_log, size=n_draws, method="eigh")
    values = np.exp(z)
    return xr.Dataset(
        {name: (("chain", "draw"), values[None, :, i]) for i, name in enumerate(names)},
        coords={"chain": [0], "draw": np.arange(n_draws)},
    )


def _optimizer_reason(res) -> str:
    """SciPy's reason for stopping, in words (its codes such as 'ABNORMAL' mean nothing
    to a reader)."""
    msg = str(res.message)
    if "ABNORMAL" in msg:
        return ("the line search could not improve the likelihood any more (it is flat or "
                "numerically rough where the search stopped)")
    if "ITERATIONS" in msg.upper() or "MAXITER" in msg.upper():
        return f"the iteration limit was reached ({res.nit} iterations)"
    return msg


class BaseModel:
    """Shared fitting engine. Subclasses set ``param_names``, ``default_priors`` and
    implement ``_prepare``, ``_start``, ``_loglik_and_grad`` and
    ``_pymc_log_likelihood``.

    Parameters (keyword-only, stored unchanged)
    ----------
    time_unit : str, optional
        Unit of the summary ('day', 'week', 'month'); read from the summary's
        ``attrs`` when it comes from :func:`clvmodels.rfm_summary`.
    priors : dict of str to Prior, optional
        Overrides of the default priors (``method`` "map", "mcmc", "advi").
    draws : int
        Draws kept: from the normal approximation ("mle", "map"), per chain
        ("mcmc"), or from the fitted approximation ("advi").
    tune : int, optional
        NUTS warm-up iterations per chain. Default: 500 when the fit has at least
        50,000 customers and starts from the posterior mode (the mass matrix is then
        the Laplace covariance, kept fixed), else 1000 (the mass matrix starts there
        and adapts); see :func:`clvmodels.models.bayes.nuts_plan`.
    chains, cores : int
        NUTS chains, and processes to run them (default: one per chain, at most
        the machine's cores).
    sampler : {"pymc", "nutpie", "numpyro", "blackjax"}
        NUTS implementation; all but "pymc" need their optional package.
    target_accept : float
        NUTS target acceptance rate (raise towards 0.95 against divergences).
    advi_iterations : int
        Optimisation steps of ADVI.
    random_state : int, optional
        Seed of every random step of the fit.
    max_iter : int
        Iteration limit of the optimiser ("mle", "map").
    """

    param_names: tuple[str, ...] = ()
    #: one-line citation of the paper the likelihood comes from
    reference: str = ""

    #: weakly-informative default priors (see :mod:`clvmodels.priors`)
    default_priors: dict = {}

    def __init__(
        self,
        *,
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
        self.time_unit = time_unit
        self.priors = priors
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.cores = cores
        self.sampler = sampler
        self.target_accept = target_accept
        self.advi_iterations = advi_iterations
        self.random_state = random_state
        self.max_iter = max_iter

    # ------------------------------------------------------------------ hooks
    def _prepare(self, data: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Validate ``data``; return compressed arrays and weights."""
        raise NotImplementedError

    def _start(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        """Starting point on the log scale."""
        raise NotImplementedError

    def _loglik_and_grad(
        self, log_params: np.ndarray, arrays: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Weighted total log-likelihood and its gradient w.r.t. log parameters."""
        raise NotImplementedError

    # ------------------------------------------------------------------ fitting
    def _check_settings(self, method: str) -> None:
        """Check every setting; raise once with all problems found."""
        owner = type(self).__name__
        problems = []

        def need(name, ok, expected):
            if not ok:
                problems.append(f"The {name!r} parameter of {owner} must be {expected}. "
                                f"Got {getattr(self, name)!r} instead.")

        def whole(v, low):
            return isinstance(v, int) and not isinstance(v, bool) and v >= low

        need("draws", whole(self.draws, 2), "an int >= 2")
        need("tune", self.tune is None or whole(self.tune, 0), "None or an int >= 0")
        need("chains", whole(self.chains, 1), "an int >= 1")
        need("cores", self.cores is None or whole(self.cores, 1), "None or an int >= 1")
        need("sampler", self.sampler in SAMPLERS, f"one of {list(SAMPLERS)}")
        need("target_accept", isinstance(self.target_accept, float)
             and 0 < self.target_accept < 1, "a float in (0, 1)")
        need("advi_iterations", whole(self.advi_iterations, 100), "an int >= 100")
        need("max_iter", whole(self.max_iter, 10), "an int >= 10")
        if self.time_unit is not None:
            try:
                check_time_unit(self.time_unit, owner)
            except ValueError as exc:
                problems.append(str(exc))
        if method not in METHODS:
            problems.append(f"The 'method' parameter of {owner}.fit must be one of "
                            f"{list(METHODS)}. Got {method!r} instead.")
        try:
            self.priors_ = resolve_priors(owner, self.default_priors, self.priors)
        except ValueError as exc:
            problems.append(str(exc))
        if len(problems) == 1:
            raise ValueError(problems[0])
        if problems:
            listed = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
            raise ValueError(f"{owner} has {len(problems)} configuration problems:\n{listed}")

    def _resolve_time_unit(self, data: pd.DataFrame) -> str | None:
        """The data's unit (from ``rfm_summary`` attrs) and the setting must agree."""
        from_data = data.attrs.get("time_unit") if hasattr(data, "attrs") else None
        owner = type(self).__name__
        unit = check_time_unit(self.time_unit, owner) if self.time_unit is not None else None
        if from_data is not None:
            from_data = check_time_unit(from_data, owner)
            if unit is not None and unit != from_data:
                raise ValueError(
                    f"{owner} was set up with time_unit={unit!r} but the data's summary is in "
                    f"{from_data!r} (data.attrs['time_unit']). Rebuild the summary in "
                    f"{unit!r} or drop the time_unit setting."
                )
            return from_data
        return unit

    #: the nested model this one becomes when a mixing distribution collapses to a point,
    #: by mixing (see :mod:`clvmodels.models.boundary`); empty: none
    limit_models: dict[str, type] = {}

    def mixing_spread(self, params: dict) -> dict[str, float]:
        """How far each mixing distribution in ``limit_models`` is from a point (0: every
        customer the same), at parameters ``params``."""
        return {}

    def _boundary_message(self, full_name: str, lr: float, p_value: float,
                          collapsed: tuple[str, ...]) -> str:
        """The statement in words of a nested model that a ``full_name`` fit became
        because the mixings ``collapsed`` collapsed (limit models implement it)."""
        raise NotImplementedError

    def fit(self, data: pd.DataFrame, *, method: str = "mle") -> "BaseModel":
        """Fit the model to a summary DataFrame; returns ``self``.

        Parameters
        ----------
        data : DataFrame
            Per-customer summary (see the model's docstring).
        method : {"mle", "map", "mcmc", "advi"}
            ``"mle"`` maximum likelihood and ``"map"`` maximum a posteriori, each with
            draws from the normal approximation on the log scale (inverse Hessian);
            ``"mcmc"`` NUTS through PyMC (``sampler`` picks the implementation);
            ``"advi"`` mean-field variational inference through PyMC. All four use
            the same likelihood code and leave ``draws_`` (chain x draw) for the
            prediction and CLV code; the Bayesian ones also leave ``idata_``.

        A boundary is an answer (DESIGN.md principle 8; :mod:`clvmodels.models.boundary`):
        when maximum likelihood drives a mixing distribution to a point (two parameters
        growing together without bound: every customer has the same drop-out
        probability, purchase rate or churn probability), the model becomes the nested
        model in ``limit_models`` fitted to the same data, and ``boundary_`` says so in
        words with the likelihood-ratio comparison against the full model (also in
        ``summary().attrs["boundary"]``). Everything downstream works on the nested
        model. Maximum likelihood only: priors keep Bayesian fits finite.
        """
        from . import boundary as bd

        full = vars(self).pop("_full_model", type(self))
        if type(self) is not full:  # refitting a model that had become its limit
            self.__class__ = full
        for attr in ("boundary_", "_optimum"):
            vars(self).pop(attr, None)
        limits = full.limit_models if method == "mle" else {}
        try:
            self._fit_once(data, method)
        except FitError:
            if not limits or not hasattr(self, "_optimum"):
                raise
            theta, ll = self._optimum
            gone = bd.collapsed_after_failure(self, theta)
            if not gone:
                raise
            return self._become_limit(data, gone[0], ll)
        for mixing, spread in bd.near_boundary(self) if limits else []:
            limit = limits[mixing]
            nested = limit(**bd.limit_settings(self, limit)).fit(data)
            lr = 2.0 * (self.log_likelihood_ - nested.log_likelihood_)
            if lr < bd.LR_CRITICAL or spread < bd.AT_POINT:
                return self._become_limit(data, mixing, self.log_likelihood_, nested)
        self._after_fit()
        return self

    def _become_limit(self, data, mixing: str, full_ll: float, nested=None) -> "BaseModel":
        """Turn this model into its nested limit for ``mixing`` (fitted unless given)."""
        from . import boundary as bd

        full = type(self)
        if nested is None:
            limit = full.limit_models[mixing]
            nested = limit(**bd.limit_settings(self, limit)).fit(data)
        record = bd.boundary_record(full, nested, mixing, full_ll)
        self.__class__ = type(nested)
        vars(self).update({k: v for k, v in vars(nested).items() if k.endswith("_")})
        self._full_model = full
        self.boundary_ = record
        self._after_fit()
        return self

    def _after_fit(self) -> None:
        """Hook run at the end of a successful fit (e.g. churn models set ``bic_``)."""

    def _fit_once(self, data: pd.DataFrame, method: str) -> None:
        """One fit of this model as it is (no boundary handling)."""
        self._check_settings(method)
        self.time_unit_ = self._resolve_time_unit(data)
        self.observation_end_ = getattr(data, "attrs", {}).get("observation_end")
        arrays, weights = self._prepare(data)
        self.n_obs_ = float(weights.sum())
        self.n_unique_ = int(weights.shape[0])
        self.fit_method_ = method
        self.idata_ = None
        if method in ("mle", "map"):
            self._fit_optimum(arrays, weights, with_prior=method == "map")
            self.draws_ = draws_from_normal(
                self.param_names, self.log_params_, self.covariance_log_, self.draws,
                self.random_state,
            )
            return
        from .bayes import sample_posterior  # PyMC is imported only when needed

        try:  # start the sampler at the posterior mode when it exists
            self._fit_optimum(arrays, weights, with_prior=True)
            start, start_cov = dict(self.params_), self.covariance_log_
        except FitError:
            start, start_cov = None, None
        self.idata_ = sample_posterior(self, arrays, weights, method, start, start_cov)
        post = self.idata_["posterior"].to_dataset()
        self.draws_ = xr.Dataset({n: post[n].astype(np.float64) for n in self.param_names})
        logs = np.log(np.column_stack([self.draws_[n].values.reshape(-1)
                                       for n in self.param_names]))
        self.log_params_ = logs.mean(axis=0)
        self.covariance_log_ = np.atleast_2d(np.cov(logs.T))
        self.params_ = pd.Series(
            [float(self.draws_[n].mean()) for n in self.param_names],
            index=list(self.param_names), name="estimate",
        )
        self.log_likelihood_ = float(
            self._loglik_and_grad(np.log(self.params_.to_numpy()), arrays, weights)[0])
        self.aic_ = float("nan")
        self.n_iter_ = 0

    def _log_posterior_terms(self, theta, arrays, weights, with_prior):
        ll, grad = self._loglik_and_grad(theta, arrays, weights)
        if with_prior:
            lp, g = log_prior_log_scale(self.priors_, self.param_names, theta)
            return ll + lp, grad + g
        return ll, grad

    def _fit_optimum(self, arrays, weights, *, with_prior: bool) -> None:
        """Maximum likelihood (or the posterior mode, on the log scale) with the
        covariance of the log parameters from the inverse Hessian."""
        x0 = self._start(arrays, weights)
        scale = self.n_obs_

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(all="ignore"):
                ll, grad = self._log_posterior_terms(theta, arrays, weights, with_prior)
            if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
                return 1e30, np.zeros_like(theta)
            return -ll / scale, -grad / scale

        # the likelihoods reduce long vectors with dot products: multi-threaded BLAS
        # only adds synchronisation there (4-8x slower on a busy 2-core machine)
        with threadpool_limits(1, user_api="blas"):
            res = optimize.minimize(
                objective, x0, jac=True, method="L-BFGS-B",
                bounds=[(-15.0, 15.0)] * len(x0),
                options={"maxiter": self.max_iter, "gtol": 1e-9, "ftol": 1e-14},
            )
            theta = res.x
            lp, grad = self._log_posterior_terms(theta, arrays, weights, with_prior)
            hess = self._hessian(theta, arrays, weights, with_prior)
        # where the optimiser ended, kept for models that read a failed fit as a
        # boundary (DESIGN.md principle 8) before the convergence check raises
        self._optimum = (theta.copy(), float(lp))
        self._check_convergence(res, theta, lp, grad, hess)
        del self._optimum
        cov = np.linalg.inv(-hess)
        self.log_params_ = theta
        self.covariance_log_ = (cov + cov.T) / 2.0
        self.params_ = pd.Series(np.exp(theta), index=list(self.param_names), name="estimate")
        self.log_likelihood_ = float(self._loglik_and_grad(theta, arrays, weights)[0])
        self.aic_ = float("nan") if with_prior else 2.0 * len(theta) - 2.0 * self.log_likelihood_
        self.n_iter_ = int(res.nit)

    def _hessian(self, theta, arrays, weights, with_prior=False) -> np.ndarray:
        """Hessian of the log-likelihood on the log scale by central differences
        of the analytic gradient."""
        k = len(theta)
        hess = np.empty((k, k))
        for j in range(k):
            h = 1e-5 * max(1.0, abs(theta[j]))
            up, dn = theta.copy(), theta.copy()
            up[j] += h
            dn[j] -= h
            with np.errstate(all="ignore"):
                g_up = self._log_posterior_terms(up, arrays, weights, with_prior)[1]
                g_dn = self._log_posterior_terms(dn, arrays, weights, with_prior)[1]
            hess[:, j] = (g_up - g_dn) / (2 * h)
        return (hess + hess.T) / 2.0

    def _check_convergence(self, res, theta, ll, grad, hess) -> None:
        name = type(self).__name__
        tips, cli_tips = self._fit_tips()
        at_bound = np.abs(theta) >= 15.0 - 1e-6
        problems = []
        if not np.isfinite(ll):
            problems.append("the log-likelihood is not finite at the optimum")
        if np.any(at_bound):
            bad = [self.param_names[i] for i in np.flatnonzero(at_bound)]
            problems.append(
                f"parameter(s) {bad} ran to the edge of the search space (exp(+-15)); the data "
                "do not identify them"
            )
        gnorm = float(np.max(np.abs(grad))) / max(self.n_obs_, 1.0)
        if not np.isfinite(gnorm) or gnorm > 1e-4:
            problems.append(f"the gradient is not zero at the end (max |grad| per row {gnorm:.2e})")
        if not res.success and gnorm > 1e-6:
            problems.append(f"the optimiser stopped early: {_optimizer_reason(res)}")
        if not problems:
            eig = np.linalg.eigvalsh(-hess) if np.all(np.isfinite(hess)) else np.array([np.nan])
            if not np.all(np.isfinite(eig)) or eig.min() <= 0:
                problems.append(
                    "the Hessian is not negative definite, so standard errors do not exist "
                    "(the likelihood is flat in some direction)"
                )
        if problems:
            what = f"{name} did not converge: " + "; ".join(problems) + ".\n"
            raise FitError(what + tips, cli_message=what + cli_tips)

    def _fit_tips(self) -> tuple[str, str]:
        """What to try when maximum likelihood fails, in Python terms and in the
        command line's (flags that exist)."""
        common = ("What to try:\n"
                  "  1. fit on more customers: a few dozen rows rarely identify every "
                  "parameter;\n")
        python = (common
                  + "  2. check the summary: frequency counts repeat purchases only, recency <= T, "
                  "all in one time unit;\n"
                  "  3. use a coarser or finer time_unit so that T is between about 1 and 1,000;\n"
                  f"  4. allow more iterations: max_iter={2 * self.max_iter} (now {self.max_iter});\n"
                  "  5. or fit with method='map', whose priors keep every parameter finite.")
        cli = (common
               + "  2. use a coarser or finer --time-unit so that customers' ages are between "
               "about 1 and 1,000 units;\n"
               f"  3. allow more iterations: --max-iter {2 * self.max_iter} (now {self.max_iter});\n"
               "  4. or add --method map, whose priors keep every parameter finite.")
        return python, cli

    # ------------------------------------------------------------------ results
    def _require_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(self)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Parameter table: ``estimate``, ``se``, ``lower``, ``upper`` (a ``level``
        interval), plus ArviZ diagnostics for Bayesian fits.

        Maximum likelihood / MAP: intervals symmetric on the log scale (where the
        normal approximation is made) and mapped back, so they respect positivity;
        ``se`` is the delta-method standard error. MCMC / ADVI: posterior mean, sd and
        equal-tailed interval from ArviZ, with ``ess_bulk``, ``ess_tail`` and ``r_hat``.
        """
        self._require_fitted()
        check_parameter(
            "level", "summary", level, isinstance(level, float) and 0 < level < 1, "a float in (0, 1)"
        )
        if self.idata_ is not None:
            import arviz as az

            table = az.summary(self.idata_, var_names=list(self.param_names), ci_prob=level,
                               ci_kind="eti", round_to="none")
            lo, hi = [c for c in table.columns if c.startswith("eti")][:2]
            out = pd.DataFrame(
                {"estimate": table["mean"], "se": table["sd"], "lower": table[lo],
                 "upper": table[hi], "ess_bulk": table["ess_bulk"],
                 "ess_tail": table["ess_tail"], "r_hat": table["r_hat"]},
            ).astype(float)
            out.index = pd.Index(list(self.param_names), name="parameter")
        else:
            se_log = np.sqrt(np.diag(self.covariance_log_))
            zq = stats.norm.ppf(0.5 + level / 2)
            est = np.exp(self.log_params_)
            out = pd.DataFrame(
                {
                    "estimate": est,
                    "se": est * se_log,
                    "lower": np.exp(self.log_params_ - zq * se_log),
                    "upper": np.exp(self.log_params_ + zq * se_log),
                },
                index=pd.Index(self.param_names, name="parameter"),
            )
        out.attrs.update(
            log_likelihood=self.log_likelihood_, aic=self.aic_, n_obs=self.n_obs_, level=level,
            method=self.fit_method_,
        )
        if getattr(self, "boundary_", None):
            out.attrs["boundary"] = self.boundary_
        return out

    def describe_parameters(self) -> dict:
        """Each parameter's meaning in plain words, with the fitted values filled in,
        keyed as the rows of :meth:`summary` (for the report's appendix). A model
        overrides it in its own file (no other module names a model's parameters);
        this default describes nothing, and a report then shows the bare table."""
        return {}

    def save(self, path, *, overwrite: bool = False):
        """Save the fitted model as a directory: ``draws.nc`` (and ``idata.nc`` for
        Bayesian fits) plus ``model.json`` metadata. No pickle: loading runs no code
        from the file. See :func:`clvmodels.models.persistence.save_model`."""
        from .persistence import save_model

        return save_model(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path):
        """Load a model saved by :meth:`save`; refuses a file of another model type."""
        from .persistence import load_model

        return load_model(path, expected_type=cls)

    def param_draws(self) -> dict[str, np.ndarray]:
        """Flattened parameter draws (chain × draw → sample), one array per parameter."""
        self._require_fitted()
        return {n: self.draws_[n].values.reshape(-1) for n in self.param_names}

    def point_params(self) -> dict[str, float]:
        """The point estimate (MLE) as floats."""
        self._require_fitted()
        return {n: float(v) for n, v in self.params_.items()}

    def _params_for(self, data: pd.DataFrame) -> dict:
        """The point estimate as it applies to the customers of ``data``: the same for all
        of them here; per customer for a model with covariates
        (:mod:`clvmodels.models.covariates`)."""
        return self.point_params()

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner}, log_likelihood={self.log_likelihood_:.2f})"
        return f"{type(self).__name__}(not fitted)"


