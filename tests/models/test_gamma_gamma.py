"""Gamma-Gamma: published CDNOW fit, lifetimes as oracle, simulation, recovery."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from clvmodels import GammaGammaModel, simulate_spend
from clvmodels.datasets import load_cdnow_summary
from clvmodels.models.spend.gamma_gamma import (
    gamma_gamma_expected_spend,
    gamma_gamma_log_likelihood,
)

PUBLISHED = {"p": 6.2488, "q": 3.7446, "gamma": 15.4477}


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def fitted(cdnow):
    return GammaGammaModel(random_state=0).fit(cdnow)


def test_cdnow_fit_matches_published(fitted, cdnow):
    assert fitted.n_obs_ == 946
    for name, ref in PUBLISHED.items():
        # 4 significant digits = relative difference below 5e-4
        assert abs(fitted.params_[name] / ref - 1) < 5e-4, (name, fitted.params_[name])
    assert fitted.log_likelihood_ == pytest.approx(-4055.92, abs=0.005)
    # the likelihood is flat here: our optimum is at least as good as the reference point
    rep = cdnow[cdnow.frequency > 0]
    ll_ref = gamma_gamma_log_likelihood(*PUBLISHED.values(), rep.frequency.to_numpy(),
                                        rep.monetary_value.to_numpy()).sum()
    assert fitted.log_likelihood_ >= ll_ref - 1e-9


def test_matches_lifetimes(fitted, cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    rep = cdnow[cdnow.frequency > 0]
    ggf = lifetimes.GammaGammaFitter().fit(rep.frequency, rep.monetary_value)
    np.testing.assert_allclose(fitted.params_.to_numpy(), ggf.params_.to_numpy(), rtol=1e-4)
    ours = fitted.expected_spend(rep)
    ggf.params_ = pd.Series(fitted.params_.to_numpy(), index=["p", "q", "v"])
    theirs = ggf.conditional_expected_average_profit(rep.frequency, rep.monetary_value)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-12)


def test_gradient_matches_finite_differences(cdnow, rng):
    rep = cdnow[cdnow.frequency > 0]
    x, m = rep.frequency.to_numpy(), rep.monetary_value.to_numpy()
    for _ in range(3):
        theta = np.log(list(PUBLISHED.values())) + rng.normal(0, 0.3, 3)
        _, g = gamma_gamma_log_likelihood(*np.exp(theta), x, m, gradient=True)
        numeric = optimize.approx_fprime(
            theta, lambda th: gamma_gamma_log_likelihood(*np.exp(th), x, m).sum(), 1e-6)
        np.testing.assert_allclose(g.sum(axis=1), numeric, rtol=1e-4, atol=1e-3)


def test_expected_spend_matches_simulation():
    """Tower property: the average of E[next amount | x, m] over simulated customers
    equals the average simulated next amount, and x = 0 gets the population mean."""
    p, q, gamma = 6.25, 3.74, 15.44
    n = 400_000
    rng = np.random.default_rng(5)
    x = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(q, 1 / gamma, n)
    m = rng.gamma(p * x, 1 / (nu * x))
    nxt = rng.gamma(p, 1 / nu)
    e = gamma_gamma_expected_spend(p, q, gamma, x, m)
    diff = nxt - e
    assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(n)
    assert gamma_gamma_expected_spend(p, q, gamma, 0, np.nan) == pytest.approx(p * gamma / (q - 1))


@pytest.mark.slow
def test_parameter_recovery_100k():
    truth = np.array([6.25, 3.74, 15.44])
    n = 100_000
    x = np.random.default_rng(3).integers(1, 10, n)
    m = simulate_spend(x, *truth, random_state=4)
    data = pd.DataFrame({"frequency": x, "recency": 1.0, "T": 2.0, "monetary_value": m})
    model = GammaGammaModel().fit(data)
    np.testing.assert_array_less(np.abs(model.params_.to_numpy() / truth - 1), 0.05)


def test_rejects_non_positive_spend():
    from clvmodels import DataError

    data = pd.DataFrame({"frequency": [1, 2, 3], "recency": [1.0, 2, 3], "T": [4.0, 4, 4],
                         "monetary_value": [10.0, 0.0, -3.0]}, index=["a", "b", "c"])
    with pytest.raises(DataError, match=r"'monetary_value' must be positive.*2 row\(s\).*'b', 'c'"):
        GammaGammaModel().fit(data)


def test_summed_likelihood_equals_per_customer_sum(cdnow, rng):
    """The fit's regrouped sum (sufficient statistics) is the same likelihood."""
    from clvmodels.models.spend.gamma_gamma import (
        _sufficient_statistics,
        _total_log_likelihood,
    )

    rep = cdnow[cdnow.frequency > 0]
    x, m = rep.frequency.to_numpy(dtype=float), rep.monetary_value.to_numpy()
    w = rng.integers(1, 4, x.size).astype(float)
    st = _sufficient_statistics(x, m, w)
    for _ in range(5):
        params = np.exp(np.log(list(PUBLISHED.values())) + rng.normal(0, 0.5, 3))
        ll, g = gamma_gamma_log_likelihood(*params, x, m, gradient=True)
        total, grad = _total_log_likelihood(params, st)
        assert total == pytest.approx(w @ ll, rel=1e-12)
        np.testing.assert_allclose(grad, g @ w, rtol=1e-10)
