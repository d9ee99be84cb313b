"""Typed priors for the Bayesian fits (``method="map"``, ``"mcmc"``, ``"advi"``).

Every model parameter is positive; PyMC samples it on the log scale, and the MAP
fit optimises on the log scale too, so each prior knows its log density as a
function of ``phi = log(theta)`` (Jacobian included) and its gradient.

Defaults are weakly informative, normal on the log scale (``LogNormal``), wide
enough to leave any realistic value to the data:

* BG/NBD ``r``, ``a``, ``b`` and Gamma-Gamma ``p``, ``q``: ``LogNormal(0, 2)`` —
  shape parameters; 95% of the prior mass lies within a factor ``e^3.9 ~ 50`` of 1,
  where published fits sit (0.2-15), while excluding the absurd (1e-4, 1e4).
* BG/NBD ``alpha``: ``LogNormal(0, 3)`` — a *time scale*, so its size depends on the
  time unit (about 4 in weeks, 30 in days, 1 in months for CDNOW-like buyers); the
  wider prior covers all units.
* Gamma-Gamma ``gamma``: ``LogNormal(0, 5)`` — a *money scale* (about 15 for dollar
  amounts); very wide because currencies differ by factors of 100 or more.

Override per parameter: ``BetaGeoModel(priors={"r": Gamma(2, 4)})``. All
configuration problems are collected and reported together.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
from scipy import special

__all__ = ["Prior", "LogNormal", "Gamma", "HalfNormal", "Exponential", "resolve_priors",
           "prior_from_dict"]


@dataclass(frozen=True)
class Prior:
    """Base class: a prior distribution on a positive parameter."""

    def problems(self) -> list[str]:
        out = []
        for f in fields(self):
            v = getattr(self, f.name)
            positive = f.name != "mu"
            ok = isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 or not positive)
            if not ok:
                need = "a positive finite float" if positive else "a finite float"
                out.append(f"{type(self).__name__}.{f.name} must be {need}; got {v!r}")
        return out

    def to_dict(self) -> dict:
        return {"dist": type(self).__name__, **asdict(self)}

    def logp_log_scale(self, phi: float) -> tuple[float, float]:
        """Log density of ``phi = log(theta)`` and its derivative."""
        raise NotImplementedError

    def pymc(self, name: str):
        """Create the PyMC random variable (inside a model context)."""
        raise NotImplementedError


@dataclass(frozen=True)
class LogNormal(Prior):
    """log(theta) ~ Normal(mu, sigma)."""

    mu: float = 0.0
    sigma: float = 2.0

    def logp_log_scale(self, phi):
        zscore = (phi - self.mu) / self.sigma
        return (-0.5 * zscore**2 - math.log(self.sigma) - 0.5 * math.log(2 * math.pi),
                -zscore / self.sigma)

    def pymc(self, name):
        import pymc as pm

        return pm.LogNormal(name, mu=self.mu, sigma=self.sigma)


@dataclass(frozen=True)
class Gamma(Prior):
    """theta ~ Gamma(alpha, rate=beta)."""

    alpha: float = 1.0
    beta: float = 1.0

    def logp_log_scale(self, phi):
        theta = math.exp(phi)
        value = (self.alpha * math.log(self.beta) - special.gammaln(self.alpha)
                 + self.alpha * phi - self.beta * theta)
        return value, self.alpha - self.beta * theta

    def pymc(self, name):
        import pymc as pm

        return pm.Gamma(name, alpha=self.alpha, beta=self.beta)


@dataclass(frozen=True)
class HalfNormal(Prior):
    """theta ~ HalfNormal(sigma)."""

    sigma: float = 1.0

    def logp_log_scale(self, phi):
        theta = math.exp(phi)
        value = (0.5 * math.log(2 / math.pi) - math.log(self.sigma)
                 - 0.5 * (theta / self.sigma) ** 2 + phi)
        return value, 1.0 - (theta / self.sigma) ** 2

    def pymc(self, name):
        import pymc as pm

        return pm.HalfNormal(name, sigma=self.sigma)


@dataclass(frozen=True)
class Exponential(Prior):
    """theta ~ Exponential(rate=lam)."""

    lam: float = 1.0

    def logp_log_scale(self, phi):
        theta = math.exp(phi)
        return math.log(self.lam) - self.lam * theta + phi, 1.0 - self.lam * theta

    def pymc(self, name):
        import pymc as pm

        return pm.Exponential(name, lam=self.lam)


_KINDS = {cls.__name__: cls for cls in (LogNormal, Gamma, HalfNormal, Exponential)}


def prior_from_dict(d: dict) -> Prior:
    """Inverse of :meth:`Prior.to_dict`.

    >>> prior_from_dict(LogNormal(0.0, 3.0).to_dict())
    LogNormal(mu=0.0, sigma=3.0)
    """
    d = dict(d)
    kind = d.pop("dist", None)
    if kind not in _KINDS:
        raise ValueError(f"Unknown prior distribution {kind!r}; use one of {sorted(_KINDS)}.")
    return _KINDS[kind](**d)


def resolve_priors(owner: str, defaults: dict[str, Prior], given: dict | None) -> dict[str, Prior]:
    """Merge user priors into the defaults; raise once with every problem found.

    >>> resolve_priors("M", {"r": LogNormal()}, {"r": Gamma(2.0, 1.0)})
    {'r': Gamma(alpha=2.0, beta=1.0)}
    >>> resolve_priors("M", {"r": LogNormal()}, {"s": 1, "r": LogNormal(0, -1)})
    Traceback (most recent call last):
    ...
    ValueError: M has 3 prior configuration problem(s):
      1. unknown parameter 's' (the parameters are ['r'])
      2. the prior for 's' must be a clvmodels.priors.Prior (e.g. LogNormal(0, 2)); got int
      3. prior for 'r': LogNormal.sigma must be a positive finite float; got -1
    """
    out = dict(defaults)
    problems: list[str] = []
    if given is not None and not isinstance(given, dict):
        raise TypeError(f"The 'priors' parameter of {owner} must be a dict of parameter name "
                        f"to Prior. Got {type(given).__name__} instead.")
    for name, prior in (given or {}).items():
        if name not in defaults:
            problems.append(f"unknown parameter {name!r} (the parameters are {list(defaults)})")
        if not isinstance(prior, Prior):
            problems.append(f"the prior for {name!r} must be a clvmodels.priors.Prior "
                            f"(e.g. LogNormal(0, 2)); got {type(prior).__name__}")
            continue
        problems.extend(f"prior for {name!r}: {p}" for p in prior.problems())
        if name in defaults:
            out[name] = prior
    if problems:
        listed = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
        raise ValueError(f"{owner} has {len(problems)} prior configuration problem(s):\n{listed}")
    return out


def log_prior_log_scale(priors: dict[str, Prior], names, phi: np.ndarray) -> tuple[float, np.ndarray]:
    """Sum of the priors' log densities at ``phi`` (log parameters) and the gradient."""
    values = [priors[n].logp_log_scale(float(v)) for n, v in zip(names, phi)]
    return float(sum(v for v, _ in values)), np.array([g for _, g in values])
