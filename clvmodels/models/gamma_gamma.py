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

from ..data.compress import compress_rows
from .base import BaseModel
from .inputs import summary_arrays

__all__ = ["GammaGammaModel", "gamma_gamma_log_likelihood", "gamma_gamma_expected_spend"]


def gamma_gamma_log_likelihood(p, q, gamma, frequency, monetary_value, *, gradient=False,
                               x_levels=None):
    """Per-customer log-likelihood of mean spend ``m`` over ``x > 0`` purchases,
    with all constant terms:

    ``log G(px+q) - log G(px) - log G(q) + q log(gamma) + (px-1) log(m) + px log(x)
    - (px+q) log(gamma + x m)``.

    With ``gradient=True`` also returns derivatives w.r.t. ``log p, log q,
    log gamma`` as a ``(3, n)`` array. ``x_levels=(x_unique, index)`` evaluates the
    special functions once per distinct ``x`` (same numbers, faster).

    >>> float(np.round(gamma_gamma_log_likelihood(6.25, 3.74, 15.44, 2, 30.0), 4))
    -4.0894
    """
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    u, idx = (x, slice(None)) if x_levels is None else x_levels

    def at_x(v):
        return v if x_levels is None else v[..., idx]

    px = p * x
    log_m = np.log(m)
    log_g_xm = np.log(gamma + x * m)
    k_x = (special.gammaln(p * u + q) - special.gammaln(p * u) - special.gammaln(q)
           + p * u * np.log(u))
    ll = at_x(k_x) + q * np.log(gamma) + (px - 1.0) * log_m - (px + q) * log_g_xm
    if not gradient:
        return ll
    psi_pq = special.digamma(p * u + q)
    g_p = px * (at_x(psi_pq - special.digamma(p * u) + np.log(u)) + log_m - log_g_xm)
    g_q = q * (at_x(psi_pq) - special.digamma(q) + np.log(gamma) - log_g_xm)
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


class GammaGammaModel(BaseModel):
    """Gamma-Gamma spend model fitted by maximum likelihood on repeat customers.

    Customers with ``frequency == 0`` carry no spend information and are ignored by
    ``fit`` (their expected spend is the population mean).

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = GammaGammaModel(random_state=1).fit(load_cdnow_summary())
    >>> model.params_.round(2).tolist()
    [6.25, 3.74, 15.45]
    """

    param_names = ("p", "q", "gamma")
    reference = "Fader & Hardie (2013), The Gamma-Gamma Model of Monetary Value"

    def _prepare(self, data):
        arr = summary_arrays(data, type(self).__name__, need_monetary=True)
        keep = arr["frequency"] > 0
        if keep.sum() < 2:
            from ..errors import DataError

            raise DataError(
                f"{type(self).__name__}: needs customers with repeat purchases (frequency > 0) "
                f"and their mean spend; the data has {int(keep.sum())}. Use a longer "
                "calibration period or more customers."
            )
        comp = compress_rows(
            {"x": arr["frequency"][keep], "m": arr["monetary_value"][keep]}, ["x", "m"]
        )
        arrays = dict(comp.unique)
        arrays["ux"], arrays["idx"] = np.unique(arrays["x"], return_inverse=True)
        return arrays, comp.weights

    def _start(self, arrays, weights):
        m = arrays["m"]
        mean, var = np.average(m, weights=weights), np.average((m - np.average(m, weights=weights)) ** 2, weights=weights)
        # moment-style start: shape of spend ~ mean^2 / var, q a little above 1
        p0 = max(mean**2 / max(var, 1e-9), 0.5)
        q0 = 3.0
        gamma0 = mean * (q0 - 1.0) / p0
        return np.log([p0, q0, gamma0])

    def _loglik_and_grad(self, log_params, arrays, weights):
        p, q, gamma = np.exp(log_params)
        ll, g = gamma_gamma_log_likelihood(p, q, gamma, arrays["x"], arrays["m"], gradient=True,
                                           x_levels=(arrays["ux"], arrays["idx"]))
        return float(weights @ ll), g @ weights

    def expected_spend(self, data: pd.DataFrame) -> pd.Series:
        """Expected spend per future purchase per customer, at the point estimate."""
        self._require_fitted()
        arr = summary_arrays(data, type(self).__name__, need_monetary=True)
        e = gamma_gamma_expected_spend(**self.point_params(), frequency=arr["frequency"],
                                       monetary_value=arr["monetary_value"])
        return pd.Series(e, index=data.index, name="expected_spend")
