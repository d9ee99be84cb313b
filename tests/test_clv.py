"""Per-customer CLV: discounting convention, both intervals, units, errors."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import (
    BetaGeoModel,
    GammaGammaModel,
    IncompatibleModelError,
    customer_lifetime_value,
)
from clvmodels.datasets import load_cdnow_summary
from clvmodels.models.purchase.bgnbd import (
    bgnbd_conditional_expected_purchases,
    bgnbd_discounted_purchases_if_alive,
    bgnbd_probability_alive,
)
from clvmodels.timeunits import annual_rate_to_continuous
from clvmodels.value.purchase import simulate_futures

BTYD = (0.2425982, 4.413684, 0.7929899, 2.426167)


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def models(cdnow):
    return BetaGeoModel(random_state=1).fit(cdnow), GammaGammaModel(random_state=2).fit(cdnow)


def test_zero_rate_is_purchases_times_spend_times_margin(models, cdnow):
    bg, gg = models
    out = customer_lifetime_value(bg, gg, cdnow, horizon="52 weeks", margin=0.3, n_samples=50,
                                  random_state=0)
    np.testing.assert_allclose(out.expected_clv,
                               out.expected_purchases * out.expected_spend * 0.3, rtol=1e-12)
    np.testing.assert_allclose(out.expected_purchases, bg.expected_purchases(cdnow, 52.0), rtol=1e-12)
    np.testing.assert_allclose(out.expected_spend, gg.expected_spend(cdnow), rtol=1e-12)


@pytest.mark.parametrize("rate", [0.05, 0.10, 0.30])
def test_positive_rate_matches_brute_force_grid(rate):
    """Discounted expectation vs a fine-grid sum of exp(-delta u) dE[X(u)]."""
    x = np.array([0, 1, 2, 7, 26])
    t_x = np.array([0, 5.0, 30.43, 20.0, 30.857])
    T = np.array([10, 20, 38.86, 39, 31])
    H = 104.0
    delta = annual_rate_to_continuous(rate, "week")
    grid = np.linspace(0, H, 20_001)
    cum = bgnbd_conditional_expected_purchases(*BTYD, x[:, None], t_x[:, None], T[:, None], grid)
    mids = (grid[1:] + grid[:-1]) / 2
    brute = (np.diff(cum, axis=1) * np.exp(-delta * mids)).sum(axis=1)
    exact = bgnbd_probability_alive(*BTYD, x, t_x, T) * bgnbd_discounted_purchases_if_alive(
        *BTYD, x, T, H, delta)
    np.testing.assert_allclose(exact, brute, rtol=0.005)  # the bar
    np.testing.assert_allclose(exact, brute, rtol=1e-6)   # what the quadrature achieves
    assert np.all(exact < cum[:, -1])


def test_quadrature_reduces_to_closed_form():
    x, T = np.array([0, 3, 40, 1e4]), np.array([1.0, 20, 60, 1e3])
    closed = bgnbd_discounted_purchases_if_alive(*BTYD, x, T, 78.0, 0.0)
    quad = bgnbd_discounted_purchases_if_alive(*BTYD, x, T, 78.0, 1e-12)
    np.testing.assert_allclose(quad, closed, rtol=1e-9)


def test_simulated_mean_matches_expected_value():
    """One parameter draw (no parameter uncertainty): the mean of simulated discounted
    spend equals P(alive) x discounted purchases x expected spend within MC error."""
    bg = {k: np.array([v]) for k, v in zip(["r", "alpha", "a", "b"], BTYD)}
    gg = {"p": np.array([6.25]), "q": np.array([3.74]), "gamma": np.array([15.44])}
    rows = {"frequency": np.array([0.0, 2, 10]), "recency": np.array([0.0, 30.43, 35]),
            "T": np.array([20.0, 38.86, 39]), "monetary_value": np.array([np.nan, 40.0, 25.0])}
    delta = annual_rate_to_continuous(0.2, "week")
    sims = simulate_futures(bg, rows, 52.0, delta, 200_000, np.random.default_rng(4), gg=gg)
    from clvmodels.models.spend.gamma_gamma import gamma_gamma_expected_spend

    expected = (bgnbd_probability_alive(*BTYD, rows["frequency"], rows["recency"], rows["T"])
                * bgnbd_discounted_purchases_if_alive(*BTYD, rows["frequency"], rows["T"], 52.0, delta)
                * gamma_gamma_expected_spend(6.25, 3.74, 15.44, rows["frequency"],
                                             rows["monetary_value"]))
    mean = sims.value.mean(axis=1)
    se = sims.value.std(axis=1) / np.sqrt(200_000)
    np.testing.assert_array_less(np.abs(mean - expected), 4 * se)
    counts = bgnbd_conditional_expected_purchases(*BTYD, rows["frequency"], rows["recency"],
                                                  rows["T"], 52.0)
    se_c = sims.purchases.std(axis=1) / np.sqrt(200_000)
    np.testing.assert_array_less(np.abs(sims.purchases.mean(axis=1) - counts), 4 * se_c)


def test_intervals_are_named_ordered_and_documented(models, cdnow):
    bg, gg = models
    out = customer_lifetime_value(bg, gg, cdnow, horizon="12 months", discount_rate=0.1,
                                  margin=0.5, level=0.8, n_samples=300, random_state=0)
    assert list(out.columns) == [
        "probability_alive", "expected_purchases", "expected_spend", "expected_clv",
        "expected_clv_lower", "expected_clv_upper", "clv_predictive_lower", "clv_predictive_upper"]
    assert out.index.equals(cdnow.index)
    assert (out.expected_clv_lower <= out.expected_clv_upper).all()
    assert (out.clv_predictive_lower <= out.clv_predictive_upper).all()
    # the realized value is far more uncertain than its expectation; not for every
    # customer, though: one who is probably gone has a predictive interval of [0, 0]
    # while her expected value still has a (tiny) credible width
    wider = ((out.clv_predictive_upper - out.clv_predictive_lower)
             >= (out.expected_clv_upper - out.expected_clv_lower))
    assert wider.mean() > 0.95
    assert (out.clv_predictive_upper[~wider] < out.expected_clv[~wider] * 10).all()
    assert out.attrs["horizon"] == "12 months" and out.attrs["level"] == 0.8
    assert "credible" in out.attrs["expected_clv_interval"]
    assert "predictive" in out.attrs["clv_predictive_interval"]


def test_horizon_units_are_converted(models, cdnow):
    bg, gg = models
    kw = dict(n_samples=20, random_state=0)
    a = customer_lifetime_value(bg, gg, cdnow, horizon="1 year", **kw)
    b = customer_lifetime_value(bg, gg, cdnow, horizon=(365.25 / 7, "weeks"), **kw)
    np.testing.assert_allclose(a.expected_clv, b.expected_clv, rtol=1e-12)
    with pytest.raises(ValueError, match="must say its unit"):
        customer_lifetime_value(bg, gg, cdnow, horizon=52, **kw)


def test_same_seed_same_output(models, cdnow):
    bg, gg = models
    a = customer_lifetime_value(bg, gg, cdnow, n_samples=50, random_state=9)
    b = customer_lifetime_value(bg, gg, cdnow, n_samples=50, random_state=9)
    pd.testing.assert_frame_equal(a, b)


def test_errors_name_the_problem(models, cdnow):
    bg, gg = models
    with pytest.raises(ValueError, match=r"The 'margin' parameter of customer_lifetime_value must "
                                         r"be a float in \(0, 1\] .*Got -1 instead\.$"):
        customer_lifetime_value(bg, gg, cdnow, margin=-1)
    with pytest.raises(ValueError, match=r"Got 30 instead\. Did you mean 0\.30 \(30%\)\?"):
        customer_lifetime_value(bg, gg, cdnow, margin=30)
    with pytest.raises(ValueError, match="'discount_rate' parameter"):
        customer_lifetime_value(bg, gg, cdnow, discount_rate=-0.2)
    with pytest.raises(ValueError, match=r"in \[0, 1\) .*Got 10 instead\. Did you mean 0\.10"):
        customer_lifetime_value(bg, gg, cdnow, discount_rate=10)
    with pytest.raises(TypeError, match="'spend_model' parameter .* must be a fitted GammaGammaModel"):
        customer_lifetime_value(bg, bg, cdnow)
    days = cdnow.copy()
    days.attrs = dict(cdnow.attrs, time_unit="day")
    with pytest.raises(IncompatibleModelError, match="time units disagree"):
        customer_lifetime_value(bg, gg, days)
