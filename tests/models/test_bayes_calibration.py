"""Slow checks of the Bayesian fits on simulated data: recovery and calibration."""

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels import BetaGeoModel, ConvergenceWarning, GammaGammaModel, simulate_bgnbd
from clvmodels.simulate import simulate_spend

BG_TRUTH = {"r": 0.5, "alpha": 6.0, "a": 1.2, "b": 2.5}
GG_TRUTH = {"p": 6.25, "q": 3.74, "gamma": 15.44}
FAST = dict(chains=2, draws=500, tune=500)


def bg_data(n, seed):
    T = np.random.default_rng(seed).uniform(26, 78, n)
    return simulate_bgnbd(n, *BG_TRUTH.values(), T=T, random_state=seed + 1)


def gg_data(n, seed):
    x = np.random.default_rng(seed).integers(1, 8, n)
    m = simulate_spend(x, *GG_TRUTH.values(), random_state=seed + 1)
    return pd.DataFrame({"frequency": x, "recency": 1.0, "T": 2.0, "monetary_value": m})


@pytest.mark.slow
@pytest.mark.parametrize("cls,make,truth", [(BetaGeoModel, bg_data, BG_TRUTH),
                                            (GammaGammaModel, gg_data, GG_TRUTH)])
def test_posterior_recovers_known_parameters(cls, make, truth):
    data = make(20_000, 5)
    model = cls(random_state=6, **FAST).fit(data, method="mcmc")
    s = model.summary()
    z = (s.estimate - pd.Series(truth)) / s.se
    assert (np.abs(z) < 3).all(), s


@pytest.mark.slow
@pytest.mark.parametrize("cls,make,truth,n", [(BetaGeoModel, bg_data, BG_TRUTH, 800),
                                              (GammaGammaModel, gg_data, GG_TRUTH, 300)])
def test_credible_intervals_are_calibrated(cls, make, truth, n):
    """Over 20 simulated datasets the 90% credible interval covers each true
    parameter in 80-100% of them."""
    hits = pd.Series(0, index=list(truth))
    for k in range(20):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = cls(random_state=100 + k, **FAST).fit(make(n, 1000 + 7 * k), method="mcmc")
        s = model.summary(level=0.9)
        assert (s.r_hat < 1.05).all(), s
        hits += ((s.lower <= pd.Series(truth)) & (pd.Series(truth) <= s.upper)).astype(int)
    assert ((hits >= 16) & (hits <= 20)).all(), hits
