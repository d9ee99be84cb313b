"""BG/NBD: published CDNOW values (REFERENCES.md), lifetimes as oracle, simulation."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from clvmodels import BetaGeoModel, simulate_bgnbd
from clvmodels.datasets import load_cdnow_summary, load_cdnow_transactions
from clvmodels.models.purchase.bgnbd import (
    bgnbd_conditional_expected_purchases,
    bgnbd_expected_cumulative_purchases,
    bgnbd_expected_purchases_new,
    bgnbd_log_likelihood,
    bgnbd_probability_alive,
    bgnbd_probability_of_purchases,
)

BTYD = (0.2425982, 4.413684, 0.7929899, 2.426167)  # BTYD's fit, REFERENCES.md


def sig4(value, reference):
    """Agreement to 4 significant digits: relative difference below 5e-4."""
    return abs(value / reference - 1.0) < 5e-4


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def fitted(cdnow):
    return BetaGeoModel(random_state=0).fit(cdnow)


def test_cdnow_mle_matches_published(fitted):
    for name, ref in zip(["r", "alpha", "a", "b"], [0.2426, 4.4135, 0.7929, 2.4258]):
        assert sig4(fitted.params_[name], ref), (name, fitted.params_[name])
    assert fitted.log_likelihood_ == pytest.approx(-9582.43, abs=0.005)
    assert fitted.aic_ == pytest.approx(2 * 4 + 2 * 9582.43, abs=0.01)


def test_summary_table(fitted):
    s = fitted.summary()
    assert list(s.columns) == ["estimate", "se", "lower", "upper"]
    assert (s["lower"] < s["estimate"]).all() and (s["estimate"] < s["upper"]).all()
    # a lives at ~0.79 with se ~0.19 on CDNOW (asymptotic, log scale)
    assert 0.1 < s.loc["a", "se"] < 0.3


def test_unconditional_expectations_match_published():
    t = np.array([0.1429, 1, 3, 31.8571, 32, 52, 78])
    expected = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.4440, 1.858]
    got = bgnbd_expected_purchases_new(*BTYD, t)
    np.testing.assert_allclose(np.round(got[:-1], 4), expected[:-1], atol=0)
    assert round(float(got[-1]), 3) == expected[-1]


def test_conditional_expectations_and_alive_match_published():
    e39 = bgnbd_conditional_expected_purchases(*BTYD, 2, 30.43, 38.86, 39)
    assert round(float(e39), 4) == 1.2259
    e52 = bgnbd_conditional_expected_purchases(*BTYD, 26, 30.857, 31, 52)
    assert round(float(e52), 4) == 25.7565
    pa = bgnbd_probability_alive(*BTYD, 26, 30.857, 31)
    assert round(float(pa), 5) == 0.96885


def test_cumulative_tracking_forecast_matches_published(cdnow):
    cal_end_weeks = (pd.Timestamp("1997-09-30") - pd.Timestamp("1997-01-01")).days / 7
    first = cal_end_weeks - cdnow["T"].to_numpy()
    got = bgnbd_expected_cumulative_purchases(*BTYD, first, np.arange(20, 26))
    np.testing.assert_allclose(np.round(got, 1), [1312.5, 1387.3, 1460.4, 1531.7, 1601.4, 1669.6])
    total78 = bgnbd_expected_cumulative_purchases(*BTYD, first, [78])[0]
    assert round(total78) == 4166


def test_likelihood_finite_at_extremes():
    x = np.array([0, 0, 1, 1e5, 1e5, 5, 5, 1])
    t_x = np.array([0, 0, 0, 1e4, 0, 1e4, 0, 1e-9])
    T = np.array([0, 1e4, 1e4, 1e4, 1e4, 1e4, 1e4, 1e-9])
    for pars in [BTYD, (50.0, 1e-3, 1e-3, 50.0), (1e-3, 1e3, 20.0, 1e-3)]:
        ll, g = bgnbd_log_likelihood(*pars, x, t_x, T, gradient=True)
        assert np.all(np.isfinite(ll)) and np.all(np.isfinite(g))
        e = bgnbd_conditional_expected_purchases(*pars, x, t_x, T, 52.0)
        assert np.all(np.isfinite(e)) and np.all(e >= 0)


def test_gradient_matches_finite_differences(cdnow, rng):
    x, t_x, T = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    for _ in range(3):
        theta = np.log(BTYD) + rng.normal(0, 0.3, 4)

        def total(th):
            return bgnbd_log_likelihood(*np.exp(th), x, t_x, T).sum()

        _, g = bgnbd_log_likelihood(*np.exp(theta), x, t_x, T, gradient=True)
        numeric = optimize.approx_fprime(theta, total, 1e-6)
        np.testing.assert_allclose(g.sum(axis=1), numeric, rtol=1e-4, atol=1e-3)


def test_regrouped_total_equals_sum_over_customers(cdnow, rng):
    """The fits' regrouped sum is the per-customer likelihood summed, value and gradient."""
    from clvmodels.models.purchase.bgnbd import (
        bgnbd_statistics,
        bgnbd_total_log_likelihood,
    )

    cols = [cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")]
    w = rng.integers(1, 5, cols[0].size).astype(float)
    stats = bgnbd_statistics(*cols, w)
    for _ in range(5):
        pars = np.exp(np.log(BTYD) + rng.normal(0, 0.5, 4))
        ll, g = bgnbd_log_likelihood(*pars, *cols, gradient=True)
        total, grad = bgnbd_total_log_likelihood(*pars, stats, gradient=True)
        assert total == pytest.approx(w @ ll, rel=1e-12)
        np.testing.assert_allclose(grad, g @ w, rtol=1e-9)


def test_predictions_match_lifetimes(rng):
    lifetimes = pytest.importorskip("lifetimes")
    bgf = lifetimes.BetaGeoFitter()
    bgf.params_ = pd.Series(dict(zip(["r", "alpha", "a", "b"], BTYD)))
    x = rng.integers(0, 60, 500).astype(float)
    T = rng.uniform(0.5, 80, 500)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 500), 0.0)
    np.testing.assert_allclose(
        bgnbd_conditional_expected_purchases(*BTYD, x, t_x, T, 52.0),
        bgf.conditional_expected_number_of_purchases_up_to_time(52.0, x, t_x, T), rtol=1e-9)
    np.testing.assert_allclose(bgnbd_probability_alive(*BTYD, x, t_x, T),
                               bgf.conditional_probability_alive(x, t_x, T), rtol=1e-10)
    np.testing.assert_allclose(bgnbd_expected_purchases_new(*BTYD, T),
                               bgf.expected_number_of_purchases_up_to_time(T), rtol=1e-10)
    k = np.arange(8)
    ours = bgnbd_probability_of_purchases(*BTYD, k, 39.0)
    theirs = [bgf.probability_of_n_purchases_up_to_time(39.0, int(i)) for i in k]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_new_customer_predictions_match_simulation():
    n, t = 200_000, 39.0
    sim = simulate_bgnbd(n, *BTYD, T=t, random_state=7)
    x = sim["frequency"].to_numpy()
    mean, se = x.mean(), x.std() / np.sqrt(n)
    assert abs(mean - bgnbd_expected_purchases_new(*BTYD, t)) < 4 * se
    k = np.arange(6)
    p = bgnbd_probability_of_purchases(*BTYD, k, t)
    freq = np.array([(x == i).mean() for i in k])
    np.testing.assert_array_less(np.abs(freq - p), 4 * np.sqrt(p * (1 - p) / n))


def test_conditional_predictions_match_simulation():
    """Sum of conditional expectations = simulated holdout total (tower property);
    P(alive) calibrated against the simulated truth."""
    n = 200_000
    sim = simulate_bgnbd(n, *BTYD, T=np.linspace(27, 39, n), holdout=39.0, random_state=8)
    args = [sim[c].to_numpy() for c in ("frequency", "recency", "T")]
    e = bgnbd_conditional_expected_purchases(*BTYD, *args, 39.0)
    h = sim["holdout_frequency"].to_numpy()
    assert abs(e.sum() - h.sum()) < 4 * h.std() * np.sqrt(n)
    pa = bgnbd_probability_alive(*BTYD, *args)
    alive = sim["true_alive"].to_numpy()
    for lo, hi in [(0.0, 0.3), (0.3, 0.6), (0.6, 0.9), (0.9, 0.9999)]:
        sel = (pa >= lo) & (pa < hi)
        se = np.sqrt(pa[sel].mean() * (1 - pa[sel].mean()) / sel.sum())
        assert abs(alive[sel].mean() - pa[sel].mean()) < 4 * se + 1e-3


@pytest.mark.slow
def test_parameter_recovery_100k():
    truth = np.array([0.5, 6.0, 1.2, 2.5])
    n = 100_000
    T = np.random.default_rng(11).uniform(52, 104, n)
    sim = simulate_bgnbd(n, *truth, T=T, random_state=12)
    model = BetaGeoModel().fit(sim)
    est = model.params_.to_numpy()
    np.testing.assert_array_less(np.abs(est / truth - 1), 0.05)
    # and the asymptotic 99.9% intervals cover the truth
    s = model.summary(level=0.999)
    assert ((s["lower"] < truth) & (truth < s["upper"])).all()


def test_cohort_with_no_repeat_purchases_is_named_before_fitting():
    from clvmodels import DataError

    data = pd.DataFrame({"frequency": [0] * 50, "recency": [0.0] * 50, "T": np.linspace(1, 30, 50)})
    with pytest.raises(DataError, match="Nobody made a repeat purchase: frequency is 0 for all 50"):
        BetaGeoModel(time_unit="week").fit(data)


def test_model_predictions_use_point_estimate(fitted, cdnow):
    e = fitted.expected_purchases(cdnow, 39.0)
    assert e.index.equals(cdnow.index)
    pars = fitted.point_params()
    np.testing.assert_allclose(
        e.to_numpy(),
        bgnbd_conditional_expected_purchases(**pars, frequency=cdnow.frequency.to_numpy(),
                                             recency=cdnow.recency.to_numpy(),
                                             T=cdnow["T"].to_numpy(), t=39.0))
    assert fitted.probability_alive(cdnow).between(0, 1).all()


def test_transactions_pipeline_reaches_published_fit():
    import clvmodels

    tx = load_cdnow_transactions()
    s = clvmodels.rfm_summary(tx[tx.date <= "1997-09-30"], observation_end="1997-09-30")
    model = BetaGeoModel().fit(s)
    assert sig4(model.params_["r"], 0.2426) and model.time_unit_ == "week"


def test_concentrated_drop_out_beta_gives_finite_predictions_that_reach_the_limit():
    """For a + b in the thousands the hypergeometric closed forms overflow (NaN); the
    expectations over p ~ Beta(a, b + x) are then taken by quadrature. Both ways agree
    where both work, and the values approach the one-drop-out-probability limit."""
    import warnings

    from clvmodels.models.purchase.bgnbd import (
        _alive_expectation_integrand,
        _beta_expectation,
        bgnbd_conditional_expected_purchases,
        bgnbd_discounted_purchases_if_alive,
    )
    from clvmodels.models.purchase.bgnbd_limits import (
        point_p_conditional_expected_purchases,
        point_p_discounted_purchases_if_alive,
    )

    r, alpha, x, t_x, T, t = 0.5, 10.0, 3.0, 20.0, 30.0, 52.0
    # where the closed form works, the quadrature gives the same number
    a, b = 100.0, 400.0
    closed = bgnbd_discounted_purchases_if_alive(r, alpha, a, b, x, T, t, 0.0)
    quad = _beta_expectation(_alive_expectation_integrand, np.array([a]), np.array([b + x]),
                             np.array([r + x]), np.array([alpha + T]), np.array([t]))[0]
    assert quad == pytest.approx(float(closed), rel=1e-9)
    limit = [point_p_conditional_expected_purchases(r, alpha, 0.2, x, t_x, T, t),
             point_p_discounted_purchases_if_alive(r, alpha, 0.2, x, T, t, 0.002)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NaN warnings either
        for c in (1e4, 1e5, 1e7):
            got = [bgnbd_conditional_expected_purchases(r, alpha, 0.2 * c, 0.8 * c, x, t_x, T, t),
                   bgnbd_discounted_purchases_if_alive(r, alpha, 0.2 * c, 0.8 * c, x, T, t,
                                                       0.002)]
            for g, lim in zip(got, limit):
                assert np.isfinite(g) and abs(g / lim - 1.0) < 30.0 / c
