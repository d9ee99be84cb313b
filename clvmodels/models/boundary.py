"""A boundary is an answer (DESIGN.md principle 8), written once for every model.

A model with mixing distributions (the beta of the drop-out probability, the gamma of
the purchase rate, the beta of the churn probability, ...) names them in
``limit_models``: for each mixing, the nested model it becomes when that distribution
collapses to a point (every customer the same). ``mixing_spread(params)`` says how far
each mixing is from a point (0: collapsed). After a maximum-likelihood fit:

* a fit that failed (the optimiser ran off with two parameters growing together) with
  a collapsed mixing (spread <= 1e-3 where it stopped) becomes the nested model;
* a fit that ended near the boundary (spread < 0.05) whose heterogeneity does not
  improve the likelihood significantly (boundary likelihood-ratio test at 5%: a 50:50
  mixture of chi2(0) and chi2(1), critical value 2.7055) or that is numerically at the
  point (spread < 1e-4) becomes the nested model too.

The nested model is fitted by the same engine, so a second collapse (both mixings)
follows by itself. The model object takes the nested model's class and fitted state
and records ``boundary_``: the statement in words (by the final model), the mixings
that collapsed, and the likelihood-ratio comparison with the full model.
"""

from __future__ import annotations

import numpy as np

__all__ = ["beta_spread", "gamma_spread", "boundary_statement", "estimate_text", "NEAR_BOUNDARY",
           "LR_CRITICAL"]

#: spread below which a fit is compared with its nested limit
NEAR_BOUNDARY = 0.05
#: spread below which the mixing counts as collapsed whatever the test says
AT_POINT = 1e-4
#: spread at the end of a failed fit that reads as a collapse
FAILED_AT_POINT = 1e-3
#: 5% critical value of the boundary likelihood-ratio test (50:50 chi2(0), chi2(1))
LR_CRITICAL = 2.7055
#: settings a nested model inherits from the model that becomes it
_SETTINGS = ("time_unit", "draws", "tune", "chains", "cores", "sampler", "target_accept",
             "advi_iterations", "random_state", "max_iter")


def beta_spread(a, b) -> float:
    """``1 / (a + b + 1)``: a beta distribution's variance over its largest possible
    value ``m (1 - m)``; 0 at a point.

    >>> beta_spread(1.0, 2.0), beta_spread(1e8, 1e8) < 1e-8
    (0.25, True)
    """
    return float(1.0 / (a + b + 1.0))


def gamma_spread(shape) -> float:
    """``1 / (1 + shape)``: a gamma distribution's squared coefficient of variation
    ``1 / shape`` mapped into (0, 1); 0 at a point (shape and rate growing together).

    >>> gamma_spread(1.0)
    0.5
    """
    return float(1.0 / (1.0 + shape))


def boundary_p_value(lr: float) -> float:
    """p-value of the boundary likelihood-ratio test (50:50 chi2(0) and chi2(1)).

    >>> round(boundary_p_value(LR_CRITICAL), 3)
    0.05
    """
    from scipy import stats

    return 0.5 * float(stats.chi2.sf(lr, 1)) if lr > 0 else 0.5


def limit_settings(model, limit: type) -> dict:
    """The settings of ``model`` a nested ``limit`` model is built with (priors only
    for the parameters the limit has)."""
    settings = {k: getattr(model, k) for k in _SETTINGS if hasattr(model, k)}
    priors = getattr(model, "priors", None)
    if isinstance(priors, dict):
        settings["priors"] = {k: v for k, v in priors.items() if k in limit.param_names}
    else:
        settings["priors"] = priors
    return settings


def collapsed_after_failure(model, theta) -> list[str]:
    """Mixings of ``model`` collapsed where a failed fit stopped (log parameters
    ``theta``), most collapsed first."""
    spread = model.mixing_spread(dict(zip(model.param_names, np.exp(theta))))
    return [m for m, phi in sorted(spread.items(), key=lambda kv: kv[1])
            if phi <= FAILED_AT_POINT and m in type(model).limit_models]


def near_boundary(model) -> list[tuple[str, float]]:
    """``(mixing, spread)`` of the mixings of a fitted ``model`` near their point,
    most collapsed first."""
    spread = model.mixing_spread(model.point_params())
    return [(m, phi) for m, phi in sorted(spread.items(), key=lambda kv: kv[1])
            if phi < NEAR_BOUNDARY and m in type(model).limit_models]


def boundary_record(full: type, nested, mixing: str, full_ll: float) -> dict:
    """``boundary_`` of a model of class ``full`` that became the fitted ``nested``
    model because ``mixing`` collapsed (and whatever collapsed in the nested fit)."""
    inner = getattr(nested, "boundary_", None) or {}
    collapsed = [mixing] + [m for m in inner.get("collapsed", []) if m != mixing]
    lr = max(0.0, 2.0 * (full_ll - nested.log_likelihood_))
    p_value = boundary_p_value(lr)
    return {
        "full_model": full.__name__, "limit_model": type(nested).__name__,
        "collapsed": collapsed,
        "full_log_likelihood": float(full_ll),
        "limit_log_likelihood": float(nested.log_likelihood_),
        "lr_statistic": float(lr), "p_value": float(p_value),
        "message": nested._boundary_message(full.__name__, lr, p_value, tuple(collapsed)),
    }


def estimate_text(model, name: str, label: str | None = None, digits: int = 4) -> str:
    """``"p = 0.1380 (95% interval 0.1210-0.1560)"`` for parameter ``name`` of a fitted
    model (``label`` replaces the name)."""
    row = model.summary(0.95).loc[name]
    f = f"{{:.{digits}g}}" if row["estimate"] >= 10 ** digits else f"{{:.{digits}f}}"
    return (f"{label or name} = {f.format(row['estimate'])} (95% interval "
            f"{f.format(row['lower'])}-{f.format(row['upper'])})")


def boundary_statement(facts: list[str], full_name: str, lr: float, p_value: float,
                       uses: str) -> str:
    """One statement for ``boundary_['message']``: the ``facts`` the data show (one
    sentence each, e.g. "The drop-out probability after a purchase is the same for
    every customer: p = ..."), the likelihood-ratio comparison with the full model, and
    the model the fit ``uses``."""
    them = "them" if len(facts) > 1 else "it"
    return (" ".join(f.rstrip(".") + "." for f in facts)
            + f" Letting {them} differ between customers ({full_name}) fits no better "
            f"(likelihood-ratio statistic {lr:.2f}, p-value {p_value:.2f}). The fit uses {uses}.")
