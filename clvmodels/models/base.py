"""The fitting engine shared by every model (lifelines-style: one engine, thin models).

A model declares its parameter names, a starting point, how to turn a summary
DataFrame into arrays, and a function returning the weighted log-likelihood and its
gradient with respect to the *log* parameters. The engine owns optimisation, the
Hessian, the covariance, convergence errors, the summary table and the parameter
draws (DESIGN.md principle 2: every fit yields draws; for maximum likelihood they
come from the asymptotic normal of the log parameters).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize, stats

from ..errors import FitError, NotFittedError, check_parameter
from ..timeunits import check_time_unit

__all__ = ["BaseModel", "draws_from_normal"]

LogLikFn = Callable[[np.ndarray], tuple[float, np.ndarray]]


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


class BaseModel:
    """Shared fitting engine. Subclasses set ``param_names`` and implement
    ``_prepare``, ``_start`` and ``_loglik_and_grad``."""

    param_names: tuple[str, ...] = ()
    #: one-line citation of the paper the likelihood comes from
    reference: str = ""

    def __init__(
        self,
        *,
        time_unit: str | None = None,
        n_draws: int = 1000,
        random_state: int | None = None,
        max_iter: int = 1000,
    ):
        self.time_unit = time_unit
        self.n_draws = n_draws
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
    def _check_settings(self) -> None:
        owner = type(self).__name__
        check_parameter(
            "n_draws", owner, self.n_draws,
            isinstance(self.n_draws, int) and self.n_draws >= 2, "an int >= 2",
        )
        check_parameter(
            "max_iter", owner, self.max_iter,
            isinstance(self.max_iter, int) and self.max_iter >= 10, "an int >= 10",
        )
        if self.time_unit is not None:
            check_time_unit(self.time_unit, owner)

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

    def fit(self, data: pd.DataFrame) -> "BaseModel":
        """Fit by maximum likelihood; returns ``self``.

        Afterwards ``params_``, ``covariance_``, ``log_likelihood_``, ``aic_``,
        ``draws_`` and ``summary()`` are available.
        """
        self._check_settings()
        self.time_unit_ = self._resolve_time_unit(data)
        self.observation_end_ = getattr(data, "attrs", {}).get("observation_end")
        arrays, weights = self._prepare(data)
        self.n_obs_ = float(weights.sum())
        self.n_unique_ = int(weights.shape[0])
        x0 = self._start(arrays, weights)
        scale = self.n_obs_

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(all="ignore"):
                ll, grad = self._loglik_and_grad(theta, arrays, weights)
            if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
                return 1e30, np.zeros_like(theta)
            return -ll / scale, -grad / scale

        res = optimize.minimize(
            objective, x0, jac=True, method="L-BFGS-B",
            bounds=[(-15.0, 15.0)] * len(x0),
            options={"maxiter": self.max_iter, "gtol": 1e-9, "ftol": 1e-14},
        )
        theta = res.x
        ll, grad = self._loglik_and_grad(theta, arrays, weights)
        hess = self._hessian(theta, arrays, weights)
        self._check_convergence(res, theta, ll, grad, hess)
        cov = np.linalg.inv(-hess)
        cov = (cov + cov.T) / 2.0
        self.log_params_ = theta
        self.covariance_log_ = cov
        self.params_ = pd.Series(np.exp(theta), index=list(self.param_names), name="estimate")
        self.log_likelihood_ = float(ll)
        self.aic_ = 2.0 * len(theta) - 2.0 * self.log_likelihood_
        self.n_iter_ = int(res.nit)
        self.draws_ = draws_from_normal(
            self.param_names, theta, cov, self.n_draws, self.random_state
        )
        self.fit_method_ = "mle"
        return self

    def _hessian(
        self, theta: np.ndarray, arrays: dict[str, np.ndarray], weights: np.ndarray
    ) -> np.ndarray:
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
                g_up = self._loglik_and_grad(up, arrays, weights)[1]
                g_dn = self._loglik_and_grad(dn, arrays, weights)[1]
            hess[:, j] = (g_up - g_dn) / (2 * h)
        return (hess + hess.T) / 2.0

    def _check_convergence(self, res, theta, ll, grad, hess) -> None:
        name = type(self).__name__
        tips = (
            "What to try:\n"
            "  1. check the summary: frequency must count repeat purchases only, recency <= T, "
            "and all in one time unit;\n"
            "  2. use a coarser or finer time_unit so that T is between about 1 and 1,000;\n"
            "  3. fit on more customers: a few dozen rows rarely identify every parameter;\n"
            f"  4. raise max_iter (now {self.max_iter})."
        )
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
            problems.append(f"the optimiser stopped: {res.message}")
        if not problems:
            eig = np.linalg.eigvalsh(-hess) if np.all(np.isfinite(hess)) else np.array([np.nan])
            if not np.all(np.isfinite(eig)) or eig.min() <= 0:
                problems.append(
                    "the Hessian is not negative definite, so standard errors do not exist "
                    "(the likelihood is flat in some direction)"
                )
        if problems:
            raise FitError(
                f"{name} did not converge: " + "; ".join(problems) + ".\n" + tips
            )

    # ------------------------------------------------------------------ results
    def _require_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(self)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Estimates with standard errors and a ``level`` confidence interval.

        Intervals are symmetric on the log scale (where the normal approximation is
        made) and mapped back, so they respect positivity; ``se`` is the delta-method
        standard error on the natural scale.
        """
        self._require_fitted()
        check_parameter(
            "level", "summary", level, isinstance(level, float) and 0 < level < 1, "a float in (0, 1)"
        )
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
            log_likelihood=self.log_likelihood_, aic=self.aic_, n_obs=self.n_obs_, level=level
        )
        return out

    def param_draws(self) -> dict[str, np.ndarray]:
        """Flattened parameter draws (chain × draw → sample), one array per parameter."""
        self._require_fitted()
        return {n: self.draws_[n].values.reshape(-1) for n in self.param_names}

    def point_params(self) -> dict[str, float]:
        """The point estimate (MLE) as floats."""
        self._require_fitted()
        return {n: float(v) for n, v in self.params_.items()}

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner}, log_likelihood={self.log_likelihood_:.2f})"
        return f"{type(self).__name__}(not fitted)"


def _finite_positive(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0
