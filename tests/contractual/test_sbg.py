"""Cohort sBG: published fits, likelihood, predictions conditional on tenure, DERL."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

from clvmodels import DataError, FitError, NotFittedError
from clvmodels.models.churn.sbg import (
    ShiftedBetaGeoModel,
    accounts_from_survival,
    sbg_conditional_survival,
    sbg_discounted_residual_lifetime,
    sbg_expected_lifetime,
    sbg_expected_residual_lifetime,
    sbg_log_likelihood,
    sbg_probability_renewal,
    sbg_simulate_renewals,
    sbg_survival,
    simulate_sbg,
)

# Fader & Hardie (2007), REFERENCES.md
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
PUBLISHED = {
    "regular": (REGULAR, 0.7041, 1.1820, -1680.27, 170, [223, 207, 194, 183, 173]),
    "high end": (HIGH_END, 0.6681, 3.8061, -1611.16, 378, [468, 445, 427, 409, 394]),
}


def brute_derl(alpha, beta, tenure, d, periods=20_000):
    """sum over the next ``periods`` renewals of P(still active) / (1+d)^k."""
    k = np.arange(periods)
    surv = np.exp(np.cumsum(np.log((beta + tenure + k) / (alpha + beta + tenure + k))))
    return float(np.sum(surv * np.exp(-k * np.log1p(d))))


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_reproduces_fader_hardie_2007(name):
    table, alpha, beta, ll, year12, actual = PUBLISHED[name]
    model = ShiftedBetaGeoModel().fit(accounts_from_survival(table, time_unit="year"))
    np.testing.assert_allclose(model.params_.to_numpy(), [alpha, beta], rtol=5e-4)
    assert model.log_likelihood_ == pytest.approx(ll, abs=0.01)
    assert model.time_unit_ == "year" and model.n_obs_ == 1000 and model.n_unique_ == 8
    projected = 1000 * model.survival(np.arange(8, 13))
    assert round(float(projected[-1])) == year12
    # the projection from years 1-7 stays within 5% of the actual years 8-12
    np.testing.assert_allclose(projected, actual, rtol=0.05)
    assert np.all(projected < actual)  # and, as in the paper, a little below them


def test_likelihood_pieces_are_the_sbg_probabilities():
    a, b = 0.7, 1.2
    t = np.array([1, 4, 4, 0])
    c = np.array([1, 1, 0, 0])
    ll = sbg_log_likelihood(a, b, t, c)
    p_churn = a / (a + b) * np.prod([(b + i) / (a + b + 1 + i) for i in range(3)])  # P(T = 4)
    s4 = np.prod([(b + i) / (a + b + i) for i in range(4)])  # S(4)
    np.testing.assert_allclose(np.exp(ll), [a / (a + b), p_churn, s4, 1.0], rtol=1e-12)


def test_gradient_matches_finite_differences(rng):
    t = rng.integers(0, 60, 200).astype(float)
    c = (rng.random(200) < 0.5) & (t > 0)
    w = rng.integers(1, 5, 200).astype(float)
    theta = np.log([0.8, 3.5])
    model = ShiftedBetaGeoModel()
    arrays = {"tenure": t, "churned": c.astype(float)}
    _, g = model._loglik_and_grad(theta, arrays, w)
    h = 1e-6
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        num = (model._loglik_and_grad(theta + e, arrays, w)[0]
               - model._loglik_and_grad(theta - e, arrays, w)[0]) / (2 * h)
        assert g[j] == pytest.approx(num, rel=1e-6)


def test_pymc_graph_is_the_mle_likelihood(rng):
    import pytensor
    import pytensor.tensor as pt

    model = ShiftedBetaGeoModel()
    arrays, weights = model._prepare(accounts_from_survival(REGULAR))
    a, b = pt.dscalar("a"), pt.dscalar("b")
    f = pytensor.function([a, b], model._pymc_log_likelihood({"alpha": a, "beta": b},
                                                             arrays, weights))
    for _ in range(5):
        p = np.exp(rng.normal(size=2))
        assert float(f(*p)) == pytest.approx(
            model._loglik_and_grad(np.log(p), arrays, weights)[0], rel=1e-10)


def test_weighted_rows_equal_expanded_accounts():
    cohort = accounts_from_survival(REGULAR)
    expanded = cohort.loc[cohort.index.repeat(cohort["weight"].astype(int)),
                          ["tenure", "churned"]].reset_index(drop=True)
    a = ShiftedBetaGeoModel().fit(cohort)
    b = ShiftedBetaGeoModel().fit(expanded)
    np.testing.assert_allclose(a.params_, b.params_, rtol=1e-6)
    assert b.log_likelihood_ == pytest.approx(a.log_likelihood_, rel=1e-10)
    assert b.n_unique_ == 8


@pytest.mark.slow
def test_recovers_parameters_from_20000_simulated_accounts():
    truth = (0.9, 6.0)
    ages = np.random.default_rng(7).integers(1, 37, 20_000)  # acquired over 3 years
    data = simulate_sbg(20_000, *truth, tenure_max=ages, random_state=11)
    model = ShiftedBetaGeoModel(time_unit="month").fit(data)
    np.testing.assert_allclose(model.params_.to_numpy(), truth, rtol=0.05)
    lo, hi = model.summary(0.99)[["lower", "upper"]].to_numpy().T
    assert np.all((lo < truth) & (truth < hi))


# ------------------------------------------------------------------ predictions
def test_predictions_follow_the_posterior_beta(rng):
    a, b, t = 0.8, 2.5, np.array([0.0, 3.0, 40.0])
    # P(renew) is the one-step conditional survival and E[1 - theta] under Beta(a, b + t)
    np.testing.assert_allclose(sbg_probability_renewal(a, b, t),
                               sbg_conditional_survival(a, b, t, 1), rtol=1e-12)
    np.testing.assert_allclose(sbg_conditional_survival(a, b, t, 5),
                               sbg_survival(a, b, t + 5) / sbg_survival(a, b, t), rtol=1e-12)
    theta = rng.beta(a, b + 3.0, 400_000)
    assert np.mean((1 - theta) ** 5) == pytest.approx(sbg_conditional_survival(a, b, 3.0, 5),
                                                      rel=5e-3)


def test_expected_residual_lifetime_closed_form_and_infinity():
    assert sbg_expected_residual_lifetime(3.8, 15.2, 4.0) == pytest.approx(
        brute_derl(3.8, 15.2, 4.0, 0.0, periods=2_000_000), rel=1e-3)
    assert np.isinf(sbg_expected_residual_lifetime(0.7, 1.2, 4.0))
    assert np.isinf(sbg_expected_residual_lifetime(1.0, 1.2, 0.0))
    # E[T] for a new account = 1 + expected further renewals at tenure 0 ... of S(0)=1
    assert sbg_expected_lifetime(3.8, 15.2) == pytest.approx(
        1 + sbg_expected_residual_lifetime(3.8, 15.2, 0.0))


@pytest.mark.parametrize(("alpha", "beta", "published"), [
    (3.80, 15.20, [3.31, 3.45, 3.59, 3.72, 3.84]),
    (0.067, 0.267, [7.67, 9.46, 9.85, 10.06, 10.19]),
])
def test_derl_reproduces_fader_hardie_2010(alpha, beta, published):
    n = np.arange(1, 6)  # "has made n - 1 renewals" = our tenure n - 1
    derl = sbg_discounted_residual_lifetime(alpha, beta, n - 1, 0.10)
    np.testing.assert_allclose(derl, published, atol=0.005)
    brute = [brute_derl(alpha, beta, t, 0.10) for t in n - 1]
    np.testing.assert_allclose(derl, brute, rtol=1e-10)


@pytest.mark.parametrize("alpha", [0.05, 0.7, 1.0, 2.5, 40.0])
@pytest.mark.parametrize("tenure", [0, 12, 500])
@pytest.mark.parametrize("d", [0.008, 0.01, 0.1])
def test_derl_matches_brute_force_sum(alpha, tenure, d):
    beta = 3.0
    periods = 20_000 if d >= 0.01 else 40_000  # terms beyond are < 1e-70 of the first
    assert sbg_discounted_residual_lifetime(alpha, beta, tenure, d) == pytest.approx(
        brute_derl(alpha, beta, tenure, d, periods), rel=1e-9)


def test_derl_agrees_with_hyp2f1_where_scipy_is_accurate():
    a, b, t, d = 0.7, 1.2, np.arange(6.0), 0.10
    z = 1 / (1 + d)
    closed = (b + t) / (a + b + t) * special.hyp2f1(1, b + t + 1, a + b + t + 1, z)
    np.testing.assert_allclose(sbg_discounted_residual_lifetime(a, b, t, d), closed, rtol=1e-9)


def test_derl_limits_are_finite_or_inf_never_nan():
    alpha = np.array([0.01, 0.5, 1.0, 1.5, 30.0, 3e6])[:, None, None]
    beta = np.array([0.01, 1.0, 1e3])[None, :, None]
    d = np.array([0.0, 1e-9, 1e-4, 0.008, 0.5])
    for t in (0.0, 500.0):
        v = sbg_discounted_residual_lifetime(alpha, beta, t, d)
        assert not np.isnan(v).any()
        assert np.isfinite(v[..., 1:]).all()  # any positive discount: finite
        np.testing.assert_array_equal(np.isinf(v[..., 0]), np.broadcast_to(alpha[..., 0] <= 1,
                                                                          v[..., 0].shape))
    # undiscounted with alpha > 1 is the closed form, and continuous at d -> 0
    assert sbg_discounted_residual_lifetime(2.5, 7.0, 3, 0.0) == pytest.approx(10 / 1.5)
    assert sbg_discounted_residual_lifetime(2.5, 7.0, 3, 1e-10) == pytest.approx(10 / 1.5,
                                                                                 rel=1e-7)
    # growth faster than the discount rate: the value diverges
    assert np.isinf(sbg_discounted_residual_lifetime(2.5, 7.0, 3, 0.01, growth=0.02))


def test_simulated_renewals_match_the_conditional_survival(rng):
    k = sbg_simulate_renewals(0.8, 2.5, np.full(200_000, 6.0), rng)
    for j in (1, 3, 10):
        assert np.mean(k >= j) == pytest.approx(sbg_conditional_survival(0.8, 2.5, 6.0, j),
                                                abs=4e-3)
    capped = sbg_simulate_renewals(0.8, 2.5, np.full(1000, 6.0), rng, horizon=4)
    assert capped.max() <= 4


# --------------------------------------------------------- model-level methods
@pytest.fixture(scope="module")
def regular():
    return ShiftedBetaGeoModel(random_state=0).fit(accounts_from_survival(REGULAR,
                                                                          time_unit="year"))


def test_model_predictions_per_account(regular):
    accounts = pd.DataFrame({"tenure": [0, 7, 7, 500], "churned": [False, False, True, False]},
                            index=["new", "old", "gone", "ancient"])
    a, b = regular.params_
    p = regular.probability_renewal(accounts)
    assert p.name == "probability_renewal" and list(p.index) == list(accounts.index)
    np.testing.assert_allclose(p, [b / (a + b), (b + 7) / (a + b + 7), 0.0,
                                   (b + 500) / (a + b + 500)])
    assert np.isinf(regular.expected_residual_lifetime(accounts)["old"])  # alpha < 1
    derl = regular.discounted_expected_residual_lifetime(accounts, discount_rate=0.10)
    assert derl["gone"] == 0.0 and np.isfinite(derl).all()
    assert derl["old"] == pytest.approx(brute_derl(a, b, 7, 0.10), rel=1e-9)
    curve = regular.survival_curve(accounts, 3)
    assert curve.shape == (4, 3) and (curve.loc["gone"] == 0).all()
    np.testing.assert_allclose(curve.loc["old"], sbg_conditional_survival(a, b, 7, [1, 2, 3]))
    assert np.isinf(regular.expected_lifetime())


def test_annual_discount_is_converted_to_the_period():
    monthly = ShiftedBetaGeoModel(time_unit="month").fit(accounts_from_survival(REGULAR))
    lam = monthly.period_log_discount(0.10, 0.0, "test")
    assert np.exp(12 * lam) == pytest.approx(1.10, rel=1e-12)  # 12 months = 1 year
    untimed = ShiftedBetaGeoModel().fit(accounts_from_survival(REGULAR))
    from clvmodels import IncompatibleModelError

    with pytest.raises(IncompatibleModelError, match="does not know its period length"):
        untimed.discounted_expected_residual_lifetime(pd.DataFrame({"tenure": [1]}),
                                                      discount_rate=0.1)


# ------------------------------------------------------------------- errors
def test_nobody_churned_needs_a_prior():
    data = pd.DataFrame({"tenure": [3, 5, 12, 12], "churned": [False] * 4})
    with pytest.raises(FitError, match=r"(?s)did not converge.*method='map'"):
        ShiftedBetaGeoModel().fit(data)
    model = ShiftedBetaGeoModel(time_unit="month").fit(data, method="map")
    assert np.all(np.isfinite(model.params_))
    derl = model.discounted_expected_residual_lifetime(data, discount_rate=0.1)
    assert np.isfinite(derl).all() and (derl > 0).all()


@pytest.mark.parametrize(("data", "message"), [
    (pd.DataFrame({"tenure": [1, 2]}), r"missing column\(s\) \['churned'\]"),
    (pd.DataFrame({"tenure": [1, -2], "churned": [True, False]}, index=["a", "b"]),
     r"'tenure' must be a whole number of periods >= 0; 1 row\(s\), first account ids \['b'\]"),
    (pd.DataFrame({"tenure": [1.5, 2], "churned": [True, False]}), "whole number"),
    (pd.DataFrame({"tenure": [0, 2], "churned": [True, False]}), "churned accounts must have"),
    (pd.DataFrame({"tenure": [1, 2], "churned": ["Yes", "No"]}),
     r"must be bool .*accounts\['Churn'\]\.eq\('Yes'\)"),
    (pd.DataFrame({"tenure": [1, 2], "churned": [1, 2]}), r"must be bool \(or 0/1\)"),
    (pd.DataFrame({"tenure": [1, np.nan], "churned": [1, 0]}), "missing or infinite"),
    (pd.DataFrame({"tenure": [], "churned": []}), "has no rows"),
])
def test_bad_account_data(data, message):
    with pytest.raises(DataError, match=message):
        ShiftedBetaGeoModel().fit(data)


def test_bad_survival_tables():
    with pytest.raises(DataError, match=r"cannot grow; it rises at periods \[2\]"):
        accounts_from_survival([100, 80, 90])
    with pytest.raises(DataError, match="at least two numbers"):
        accounts_from_survival([100])
    with pytest.raises(DataError, match="whole counts"):
        accounts_from_survival([100, 50.5])


def test_estimator_contract():
    model = ShiftedBetaGeoModel(draws=50, random_state=3)
    with pytest.raises(NotFittedError, match="This ShiftedBetaGeoModel instance is not fitted"):
        model.probability_renewal(pd.DataFrame({"tenure": [1]}))
    assert model.fit(accounts_from_survival(REGULAR)) is model
    assert dict(model.draws_.sizes) == {"chain": 1, "draw": 50}
    with pytest.raises(ValueError, match=r"The 'draws' parameter of ShiftedBetaGeoModel must "
                                         r"be an int >= 2\. Got 0 instead\."):
        ShiftedBetaGeoModel(draws=0).fit(accounts_from_survival(REGULAR))
    with pytest.raises(ValueError, match="time_unit='month' but the data's summary is in 'year'"):
        ShiftedBetaGeoModel(time_unit="month").fit(accounts_from_survival(REGULAR, time_unit="y"))


def test_save_and_load_round_trip(tmp_path, regular):
    path = regular.save(tmp_path / "sbg")
    loaded = ShiftedBetaGeoModel.load(path)
    assert loaded.params_.equals(regular.params_)
    assert loaded.time_unit_ == "year"
    accounts = pd.DataFrame({"tenure": [0, 3]})
    pd.testing.assert_series_equal(loaded.probability_renewal(accounts),
                                   regular.probability_renewal(accounts))


@pytest.mark.slow
def test_mcmc_uses_the_same_likelihood():
    data = accounts_from_survival(HIGH_END, time_unit="year")
    mle = ShiftedBetaGeoModel().fit(data)
    bayes = ShiftedBetaGeoModel(draws=500, tune=500, chains=2, random_state=4).fit(
        data, method="mcmc")
    s = bayes.summary()
    assert (s["r_hat"] < 1.02).all()
    # 1,000 accounts: the posterior mean sits near the MLE (within a posterior sd)
    assert np.all(np.abs(s["estimate"] - mle.params_) < s["se"])
