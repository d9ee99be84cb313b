"""Slow checks of the BG/NBD Bayesian fit on simulated data: recovery and calibration.

The Gamma-Gamma checks are in test_bayes_calibration_gamma_gamma.py: a file runs on one
pytest-xdist worker (``--dist loadfile``), so the two calibrations run side by side."""

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels import BetaGeoModel, ConvergenceWarning, simulate_bgnbd

BG_TRUTH = {"r": 0.5, "alpha": 6.0, "a": 1.2, "b": 2.5}
# cores=1: the two chains one after the other in this process. The draws are the same
# as with one process per chain (PyMC seeds each chain alike either way), at about half
# the CPU time (no worker processes to start and compile the model in), and the test
# suite's two workers already keep both cores busy.
FAST = dict(chains=2, cores=1, draws=500, tune=500)


def bg_data(n, seed):
    T = np.random.default_rng(seed).uniform(26, 78, n)
    return simulate_bgnbd(n, *BG_TRUTH.values(), T=T, random_state=seed + 1)


@pytest.mark.slow
def test_posterior_recovers_known_parameters():
    data = bg_data(20_000, 5)
    model = BetaGeoModel(random_state=6, **FAST).fit(data, method="mcmc")
    s = model.summary()
    z = (s.estimate - pd.Series(BG_TRUTH)) / s.se
    assert (np.abs(z) < 3).all(), s


@pytest.mark.slow
def test_credible_intervals_are_calibrated():
    """Over 20 simulated datasets of 800 customers the 90% credible interval covers
    each true parameter in 80-100% of them."""
    hits = pd.Series(0, index=list(BG_TRUTH))
    for k in range(20):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = BetaGeoModel(random_state=100 + k, **FAST).fit(bg_data(800, 1000 + 7 * k),
                                                                   method="mcmc")
        s = model.summary(level=0.9)
        assert (s.r_hat < 1.05).all(), s
        hits += ((s.lower <= pd.Series(BG_TRUTH)) & (pd.Series(BG_TRUTH) <= s.upper)).astype(int)
    assert ((hits >= 16) & (hits <= 20)).all(), hits
