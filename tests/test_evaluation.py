"""Holdout scoring and the coverage of predictive intervals for integer counts."""

import numpy as np
import pytest

from clvmodels import BetaGeoModel, evaluate_holdout, simulate_bgnbd
from clvmodels.datasets import load_cdnow_summary
from clvmodels.evaluation.holdout import pit_coverage


def test_pit_coverage_is_exact_for_calibrated_counts(rng):
    """Outcomes drawn from the predictive distribution itself: randomized-PIT
    coverage is the nominal level, the conventional one is conservative."""
    n, s = 20_000, 4000
    lam = rng.gamma(0.5, 1.0, n)
    samples = rng.poisson(lam[:, None], (n, s))
    actual = rng.poisson(lam)
    cov = pit_coverage(samples, actual, 0.9).mean()
    assert abs(cov - 0.9) < 0.01
    lo, hi = np.quantile(samples, [0.05, 0.95], axis=1, method="inverted_cdf")
    assert ((lo <= actual) & (actual <= hi)).mean() > 0.92


def test_cdnow_holdout_scores():
    data = load_cdnow_summary()
    model = BetaGeoModel(random_state=0).fit(data)
    score = evaluate_holdout(model, data, random_state=0)
    m = score.metrics
    assert m.actual_total == 1882 and m.holdout_length == 39.0
    assert m.expected_total == pytest.approx(1653.4, abs=0.1)
    assert 0.7 < m.mae < 0.9 and 1.4 < m.rmse < 1.8
    assert 0.85 < m.coverage < 0.95
    assert len(score.per_customer) == 2357


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_predictive_interval_coverage_on_simulated_data(seed):
    """Fit on calibration data simulated from known parameters, then 90% predictive
    intervals for holdout purchases cover 88-92% (randomized PIT coverage)."""
    n = 8000
    rng = np.random.default_rng(seed)
    sim = simulate_bgnbd(n, 0.4, 5.0, 0.9, 3.0, T=rng.uniform(26, 52, n), holdout=39.0,
                         random_state=seed + 100)
    model = BetaGeoModel(random_state=seed).fit(sim)
    score = evaluate_holdout(model, sim, level=0.9, n_samples=2000, random_state=seed)
    assert 0.88 <= score.metrics.coverage <= 0.92, score.metrics
    assert score.metrics.coverage_conventional >= 0.9
    assert abs(score.metrics.aggregate_error) < 0.05
