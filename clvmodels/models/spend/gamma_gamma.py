"""Gamma-Gamma model of spend per transaction (Fader & Hardie 2013, "The Gamma-Gamma
Model of Monetary Value"; Fader, Hardie & Lee 2005, "RFM and CLV").

Each purchase amount is ``Gamma(p, nu)`` (shape ``p``, rate ``nu``); across customers
``nu ~ Gamma(q, gamma)``. A customer's data are ``x`` repeat purchases with mean
spend ``m``. Spend is assumed independent of the purchase process.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from ...errors import DataError
from ...priors import LogNormal, log_prior_log_scale
from ..backend import NUMPY, pytensor_ops
from ..base import BaseModel
from ..covariates import with_covariates
from ..inputs import check_fit_data, summary_arrays
from ..registry import register_model

__all__ = ["GammaGammaModel", "gamma_gamma_log_likelihood", "gamma_gamma_expected_spend"]


def gamma_gamma_log_likelihood(p, q, gamma, frequency, monetary_value, *, gradient=False,
                               ops=NUMPY):
    """Per-customer log-likelihood of mean spend ``m`` over ``x > 0`` purchases,
    with all constant terms:

    ``log G(px+q) - log G(px) - log G(q) + q log(gamma) + (px-1) log(m) + px log(x)
    - (px+q) log(gamma + x m)``.

    This is the one Gamma-Gamma likelihood: the PyMC model builds it as a PyTensor
    graph (``ops=pytensor_ops()``); the maximum-likelihood fit sums it through
    sufficient statistics (``_total_log_likelihood``, held equal by a test). With
    ``gradient=True`` (numpy) also returns derivatives w.r.t. ``log p, log q,
    log gamma`` as a ``(3, n)`` array.

    >>> float(np.round(gamma_gamma_log_likelihood(6.25, 3.74, 15.44, 2, 30.0), 4))
    -3.847
    """
    x, m = np.asarray(frequency, dtype=np.float64), np.asarray(monetary_value, dtype=np.float64)
    log_x, log_m = ops.data(np.log(x)), ops.data(np.log(m))  # data: not logged at every step
    x, m = ops.data(x), ops.data(m)
    px = p * x
    log_g_xm = ops.log(gamma + x * m)
    ll = (ops.gammaln(px + q) - ops.gammaln(px) - ops.gammaln(q) + px * log_x
          + q * ops.log(gamma) + (px - 1.0) * log_m - (px + q) * log_g_xm)
    if not gradient:
        return ll
    psi_pq = special.digamma(px + q)
    g_p = px * (psi_pq - special.digamma(px) + log_x + log_m - log_g_xm)
    g_q = q * (psi_pq - special.digamma(q) + np.log(gamma) - log_g_xm)
    g_gamma = q - gamma * (px + q) / (gamma + x * m)
    return ll, np.stack([g_p, g_q, g_gamma])


def gamma_gamma_expected_spend(p, q, gamma, frequency, monetary_value):
    """E[spend per purchase | x, m] = p (gamma + x m) / (p x + q - 1) (Fader & Hardie
    2013, eq. 5); for x = 0 (or missing ``m``) the population mean p gamma / (q - 1).
    Finite only for q > 1 (the population mean spend exists only then).

    >>> float(np.round(gamma_gamma_expected_spend(6.25, 3.74, 15.44, 0, np.nan), 3))
    35.219
    """
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    xm = np.where(x > 0, x * np.nan_to_num(m), 0.0)
    return p * (gamma + xm) / (p * x + q - 1.0)


def gamma_gamma_spend_sampler(p, q, gamma, frequency, monetary_value, rng):
    """Simulated spend of customers with ``frequency`` repeat purchases of mean value
    ``monetary_value`` (one parameter draw per customer, arrays of equal length): the
    spend rate ``nu ~ Gamma(p x + q, gamma + x m)`` is drawn now, and the returned
    function gives one purchase amount ``Gamma(p, nu)`` for each customer position
    it is called with.

    >>> draw = gamma_gamma_spend_sampler(np.array([6.25]), np.array([3.74]),
    ...                                  np.array([15.44]), np.array([2.0]),
    ...                                  np.array([40.0]), np.random.default_rng(0))
    >>> amounts = draw(np.zeros(20000, dtype=int))
    >>> bool(abs(amounts.mean() - 40) < 12)
    True
    """
    x, m = frequency, monetary_value
    nu = rng.standard_gamma(p * x + q) / (gamma + x * m)
    return lambda idx: rng.standard_gamma(p[idx]) / nu[idx]


def _sufficient_statistics(x, m, w, log_scale: float = 0.0):
    """What the summed likelihood needs, computed once per fit: per distinct ``x``
    the total weight, and the weighted sums of ``x log m`` and ``log m``. ``log_scale``
    records that the amounts ``m`` were divided by ``exp(log_scale)`` (see
    :func:`_money_scale`)."""
    ux, idx = np.unique(x, return_inverse=True)
    log_m = np.log(m)
    return {
        "x": x, "m": m, "xm": x * m, "w": w, "wx": w * x,
        "ux": ux, "level_weight": np.bincount(idx, weights=w, minlength=ux.size),
        "total_weight": float(w.sum()), "s_xlogm": float((w * x) @ log_m),
        "s_logm": float(w @ log_m), "log_scale": float(log_scale),
    }


def _money_scale(m: np.ndarray) -> float:
    """A power of ten near the median amount when amounts are far from 1 (below 0.01
    or above 1,000: cents of a large currency, or amounts in millions), else 1.

    ``gamma`` is a money scale: amounts ``c`` times larger give ``gamma`` exactly ``c``
    times larger and the same ``p`` and ``q``, with the log-likelihood lower by ``n
    log c``. The optimiser searches log parameters within +-15, so the fit runs on
    amounts divided by this scale and the estimates are scaled back.

    >>> _money_scale(np.array([20.0, 35.0, 50.0])), _money_scale(np.array([3e8, 4e9]))
    (1.0, 1000000000.0)
    """
    mid = float(np.median(m))
    if 1e-2 <= mid <= 1e3:
        return 1.0
    return float(10.0 ** np.round(np.log10(mid)))


def _total_log_likelihood(params, st):
    """Weighted sum of :func:`gamma_gamma_log_likelihood` and its gradient w.r.t.
    the log parameters, regrouped so that each evaluation costs one ``log`` per
    customer: terms in ``x`` alone are summed per distinct ``x``, terms in ``m`` alone
    are fixed sums, and only ``log(gamma + x m)`` is per customer. A test holds it
    equal to the per-customer sum.
    """
    p, q, gamma = params
    u, wu, wsum = st["ux"], st["level_weight"], st["total_weight"]
    log_g = np.log(gamma + st["xm"])
    inv_g = 1.0 / (gamma + st["xm"])
    a1, a0 = st["wx"] @ log_g, st["w"] @ log_g
    b1, b0 = st["wx"] @ inv_g, st["w"] @ inv_g
    pu = p * u
    ll = (wu @ (special.gammaln(pu + q) - special.gammaln(pu) + pu * np.log(u))
          - wsum * special.gammaln(q) + q * wsum * np.log(gamma)
          + p * st["s_xlogm"] - st["s_logm"] - p * a1 - q * a0)
    psi_pq = special.digamma(pu + q)
    g_p = p * (wu @ (u * (psi_pq - special.digamma(pu) + np.log(u))) + st["s_xlogm"] - a1)
    g_q = q * (wu @ psi_pq - wsum * special.digamma(q) + wsum * np.log(gamma) - a0)
    g_gamma = gamma * (q * wsum / gamma - p * b1 - q * b0)
    return float(ll), np.array([g_p, g_q, g_gamma])


def _is_discrete(data) -> bool:
    """A discrete-time summary (``n_periods``, no ``T``, as for BG/BB): spend per
    transaction period, read the same way."""
    return hasattr(data, "columns") and "n_periods" in data.columns and "T" not in data.columns


@register_model
class GammaGammaModel(BaseModel):
    """Gamma-Gamma spend model, fitted on repeat customers by ``fit(summary,
    method=...)`` with ``"mle"`` (default), ``"map"``, ``"mcmc"`` or ``"advi"``;
    settings as in :class:`~clvmodels.models.base.BaseModel`.

    Customers with ``frequency == 0`` carry no spend information and are ignored by
    ``fit`` (their expected spend is the population mean).

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = GammaGammaModel(random_state=1).fit(load_cdnow_summary())
    >>> model.params_.round(2).tolist()
    [6.25, 3.74, 15.44]
    """

    param_names = ("p", "q", "gamma")
    default_priors = {"p": LogNormal(0.0, 2.0), "q": LogNormal(0.0, 2.0),
                      "gamma": LogNormal(0.0, 5.0)}
    reference = "Fader & Hardie (2013), The Gamma-Gamma Model of Monetary Value"
    #: covariates move the spend scale gamma (clvmodels.models.covariates)
    covariate_links = {"spend": (("gamma", 1),)}

    def describe_parameters(self) -> dict:
        """The three parameters in words, with the fitted values.

        >>> from clvmodels.datasets import load_cdnow_summary
        >>> words = GammaGammaModel(random_state=1).fit(load_cdnow_summary()).describe_parameters()
        >>> "the average customer spends p·gamma/(q-1) = $35.17 a purchase" in words["gamma"]
        True
        """
        self._require_fitted()
        v = self.point_params()
        p, q, g = v["p"], v["q"], v["gamma"]
        mean = (f"the average customer spends p·gamma/(q-1) = ${p * g / (q - 1):,.2f} a purchase."
                if q > 1 else "with q at most 1 the average over customers is unbounded (a "
                "few customers spend very much).")
        spread = (f"they vary by about {(q - 2) ** -0.5:.0%} of their mean (standard "
                  "deviation 1/√(q-2) times the mean)" if q > 2 else "with q at most 2 their spread is "
                  "unbounded (a few customers spend far more than the rest)")
        return {"p": f"A customer's spend varies from one purchase to the next around her own "
                     f"average as a gamma distribution with shape p = {p:.3g}: the standard "
                     f"deviation of her purchases is about {p ** -0.5:.0%} of her average "
                     "(1/√p).",
                "q": f"Customers' own average spends differ between customers as an inverse "
                     f"gamma distribution with shape q = {q:.3g}: {spread}; the larger q, the "
                     "more alike customers are in what they spend.",
                "gamma": f"The scale of that distribution, gamma = {g:.3g}: with p and q, "
                         + mean}

    def _prepare(self, data):
        arr = summary_arrays(data, type(self).__name__, need_monetary=True,
                             discrete=_is_discrete(data))
        keep = arr["frequency"] > 0
        if keep.sum() < 2:
            raise DataError(
                f"{type(self).__name__}: needs customers with repeat purchases (frequency > 0) "
                f"and their mean spend; the data has {int(keep.sum())}. Use a longer "
                "calibration period or more customers."
            )
        x, m = arr["frequency"][keep], arr["monetary_value"][keep]
        return _sufficient_statistics(x, m, np.ones_like(x)), np.ones_like(x)

    def _covariate_rows(self, data):
        """Repeat customers' rows (covariate fits), as :meth:`_prepare` keeps them."""
        arr = summary_arrays(data, type(self).__name__, need_monetary=True,
                             discrete=_is_discrete(data))
        keep = arr["frequency"] > 0
        GammaGammaModel._prepare(self, data)  # the same checks and messages
        x, m = arr["frequency"][keep], arr["monetary_value"][keep]
        return {"x": x, "m": m}, np.ones_like(x), keep

    def _row_loglik(self, p, rows, gradient=False, ops=None):
        return gamma_gamma_log_likelihood(p["p"], p["q"], p["gamma"], rows["x"], rows["m"],
                                          gradient=gradient, ops=ops or NUMPY)

    def _fit_once(self, data, method):
        check_fit_data(data, type(self).__name__, spend=True)  # absurd amounts, in words
        super()._fit_once(data, method)

    def _fit_optimum(self, arrays, weights, *, with_prior: bool) -> None:
        """The engine's optimum, on amounts rescaled to about 1 when they are far from it
        (:func:`_money_scale`: amounts in the millions or billions are valid, and their
        ``gamma`` would lie beyond the search range); ``gamma``, the log-likelihood and
        AIC are then scaled back exactly, and a prior applies to the real ``gamma``."""
        scale = _money_scale(arrays["m"])
        if scale == 1.0:
            return super()._fit_optimum(arrays, weights, with_prior=with_prior)
        scaled = _sufficient_statistics(arrays["x"], arrays["m"] / scale, arrays["w"],
                                        log_scale=np.log(scale))
        super()._fit_optimum(scaled, weights, with_prior=with_prior)
        self.log_params_ = self.log_params_ + self._shift(scaled)
        self.params_ = pd.Series(np.exp(self.log_params_), index=list(self.param_names),
                                 name="estimate")
        self.log_likelihood_ = float(self._loglik_and_grad(self.log_params_, arrays,
                                                           weights)[0])
        if not with_prior:
            self.aic_ = 2.0 * len(self.param_names) - 2.0 * self.log_likelihood_

    def _shift(self, arrays) -> np.ndarray:
        """Log parameters of the real amounts minus those of the rescaled ones."""
        return np.array([0.0, 0.0, arrays.get("log_scale", 0.0)])

    def _log_posterior_terms(self, theta, arrays, weights, with_prior):
        if not (with_prior and arrays.get("log_scale", 0.0)):
            return super()._log_posterior_terms(theta, arrays, weights, with_prior)
        ll, grad = self._loglik_and_grad(theta, arrays, weights)
        lp, g = log_prior_log_scale(self.priors_, self.param_names, theta + self._shift(arrays))
        return ll + lp, grad + g

    def _start(self, arrays, weights):
        m = arrays["m"]
        mean = m.mean()
        # moment-style start: shape of spend ~ mean^2 / var, q a little above 1
        p0 = max(mean**2 / max(m.var(), 1e-9), 0.5)
        q0 = 3.0
        gamma0 = mean * (q0 - 1.0) / p0
        return np.log([p0, q0, gamma0])

    def _loglik_and_grad(self, log_params, arrays, weights):
        return _total_log_likelihood(np.exp(log_params), arrays)

    def _pymc_log_likelihood(self, params, arrays, weights):
        ops = pytensor_ops()
        ll = gamma_gamma_log_likelihood(params["p"], params["q"], params["gamma"], arrays["x"],
                                        arrays["m"], ops=ops)
        return ops.dot(ops.data(arrays["w"]), ll)

    def expected_spend(self, data: pd.DataFrame) -> pd.Series:
        """Expected spend per future purchase per customer, at the point estimate."""
        self._require_fitted()
        arr = summary_arrays(data, type(self).__name__, need_monetary=True,
                             discrete=_is_discrete(data))
        e = gamma_gamma_expected_spend(**self._params_for(data), frequency=arr["frequency"],
                                       monetary_value=arr["monetary_value"])
        return pd.Series(e, index=data.index, name="expected_spend")


#: GammaGammaModel with customer covariates on the spend scale
#: (:mod:`clvmodels.models.covariates`)
GammaGammaCovariateModel = with_covariates(GammaGammaModel, "GammaGammaCovariateModel")
