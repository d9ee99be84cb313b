"""Slow checks of the Gamma-Gamma Bayesian fit on simulated data: recovery and
calibration (the BG/NBD ones are in test_bayes_calibration.py; see its docstring)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels import ConvergenceWarning, GammaGammaModel
from clvmodels.simulate import simulate_spend

GG_TRUTH = {"p": 6.25, "q": 3.74, "gamma": 15.44}
FAST = dict(chains=2, cores=1, draws=500, tune=500)  # cores=1: see test_bayes_calibration.py


def gg_data(n, seed):
    x = np.random.default_rng(seed).integers(1, 8, n)
    m = simulate_spend(x, *GG_TRUTH.values(), random_state=seed + 1)
    return pd.DataFrame({"frequency": x, "recency": 1.0, "T": 2.0, "monetary_value": m})


@pytest.mark.slow
def test_posterior_recovers_known_parameters():
    data = gg_data(20_000, 5)
    model = GammaGammaModel(random_state=6, **FAST).fit(data, method="mcmc")
    s = model.summary()
    z = (s.estimate - pd.Series(GG_TRUTH)) / s.se
    assert (np.abs(z) < 3).all(), s


@pytest.mark.slow
def test_credible_intervals_are_calibrated():
    """Over 20 simulated datasets of 300 customers the 90% credible interval covers
    each true parameter in 80-100% of them."""
    hits = pd.Series(0, index=list(GG_TRUTH))
    for k in range(20):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = GammaGammaModel(random_state=100 + k, **FAST).fit(gg_data(300, 1000 + 7 * k),
                                                                      method="mcmc")
        s = model.summary(level=0.9)
        assert (s.r_hat < 1.05).all(), s
        hits += ((s.lower <= pd.Series(GG_TRUTH)) & (pd.Series(GG_TRUTH) <= s.upper)).astype(int)
    assert ((hits >= 16) & (hits <= 20)).all(), hits
