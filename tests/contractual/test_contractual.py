"""Per-account contractual CLV: expected value, both intervals, edge cases, coverage."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clvmodels import DataError
from clvmodels.evaluation.holdout import pit_coverage
from clvmodels.models.churn.sbg import (
    ShiftedBetaGeoModel,
    accounts_from_survival,
    sbg_discounted_residual_lifetime,
    simulate_sbg,
)
from clvmodels.value.contractual import (
    contractual_lifetime_value,
    discounted_count,
    simulate_discounted_renewals,
)

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


def fixed_model(alpha, beta, time_unit="month", n=4):
    """A fitted model whose draws all equal (alpha, beta): predictions without
    parameter uncertainty."""
    model = ShiftedBetaGeoModel(time_unit=time_unit).fit(accounts_from_survival(REGULAR))
    model.params_ = pd.Series([alpha, beta], index=["alpha", "beta"], name="estimate")
    model.draws_ = xr.Dataset({k: (("chain", "draw"), np.full((1, n), v))
                               for k, v in (("alpha", alpha), ("beta", beta))},
                              coords={"chain": [0], "draw": np.arange(n)})
    return model


@pytest.fixture(scope="module")
def yearly():
    return ShiftedBetaGeoModel(random_state=0).fit(
        accounts_from_survival(REGULAR, time_unit="year"))


def test_expected_clv_is_margin_revenue_derl():
    model = fixed_model(3.8, 15.2, time_unit="year")
    accounts = pd.DataFrame({"tenure": [0, 4], "revenue": [50.0, 80.0]})
    clv = contractual_lifetime_value(model, accounts, revenue_col="revenue", discount_rate=0.10,
                                     margin=0.3, random_state=1)
    derl = sbg_discounted_residual_lifetime(3.8, 15.2, np.array([0, 4]), 0.10)
    np.testing.assert_allclose(clv["expected_clv"], 0.3 * np.array([50.0, 80.0]) * derl)
    np.testing.assert_allclose(clv["discounted_expected_residual_lifetime"], [3.31, 3.84],
                               atol=0.005)  # Fader & Hardie (2010), n = 1 and 5
    # no parameter uncertainty: the credible interval collapses onto the expected value
    np.testing.assert_allclose(clv["expected_clv_lower"], clv["expected_clv"], rtol=1e-12)
    np.testing.assert_allclose(clv["expected_clv_upper"], clv["expected_clv"], rtol=1e-12)


def test_mean_simulated_value_equals_expected_value():
    """The simulated futures average to the closed-form expectation within Monte Carlo
    error (fixed parameters, so only individual and renewal uncertainty)."""
    model = fixed_model(1.4, 9.0, time_unit="month")
    accounts = pd.DataFrame({"tenure": [0, 6, 60]})
    sims = simulate_discounted_renewals(model, accounts, discount_rate=0.10, growth_rate=0.002,
                                        n_samples=100_000, random_state=5)
    lam = model.period_log_discount(0.10, 0.002, "test")
    expected = [float(np.exp(0) * sbg_discounted_residual_lifetime(1.4, 9.0, t, np.expm1(lam)))
                for t in (0, 6, 60)]
    se = sims.std(axis=1) / np.sqrt(sims.shape[1])
    assert np.all(np.abs(sims.mean(axis=1) - expected) < 4 * se)


def test_growth_multiplies_the_discount_factor():
    model = fixed_model(2.5, 7.0, time_unit="year")
    acc = pd.DataFrame({"tenure": [3], "revenue": [10.0]})
    base = contractual_lifetime_value(model, acc, revenue_col="revenue", discount_rate=0.05)
    grown = contractual_lifetime_value(model, acc, revenue_col="revenue", discount_rate=0.05,
                                       growth_rate=0.05)
    # growth equal to the discount rate: z = 1, the undiscounted (beta + t)/(alpha - 1)
    assert grown["expected_clv"].iloc[0] == pytest.approx(10.0 * 10.0 / 1.5, rel=1e-9)
    assert grown["expected_clv"].iloc[0] > base["expected_clv"].iloc[0]
    # DERL reports discounting alone
    assert grown["discounted_expected_residual_lifetime"].iloc[0] == pytest.approx(
        base["discounted_expected_residual_lifetime"].iloc[0])


def test_annual_rate_is_converted_to_months():
    monthly = fixed_model(1.2, 20.0, time_unit="month")
    acc = pd.DataFrame({"tenure": [12], "revenue": [1.0]})
    clv = contractual_lifetime_value(monthly, acc, revenue_col="revenue", discount_rate=0.10)
    d_month = 1.10 ** (1 / 12) - 1
    assert clv.attrs["discount_rate_per_period"] == pytest.approx(d_month, rel=1e-12)
    assert clv["expected_clv"].iloc[0] == pytest.approx(
        sbg_discounted_residual_lifetime(1.2, 20.0, 12, d_month), rel=1e-10)


def test_edge_accounts_are_finite_and_ordered(yearly):
    """Tenure 0, tenure 500 and a churned account; value rises with tenure (the
    accounts that stay are the loyal ones) and stays below the no-churn bound."""
    acc = pd.DataFrame({"tenure": [0, 1, 7, 500, 5], "churned": [False] * 4 + [True],
                        "revenue": [100.0] * 5}, index=list("abcde"))
    clv = contractual_lifetime_value(yearly, acc, revenue_col="revenue", discount_rate=0.10,
                                     random_state=2)
    finite = clv.drop(columns="expected_residual_lifetime")  # alpha < 1: infinite mean
    assert np.isfinite(finite.to_numpy()).all()
    v = clv["expected_clv"]
    assert v["a"] < v["b"] < v["c"] < v["d"] < 100 * 1.1 / 0.1
    assert (clv.loc["e"] == 0).all()
    lo, hi = clv["clv_predictive_lower"], clv["clv_predictive_upper"]
    assert (lo <= hi).all() and (hi <= 100 * 11 + 1e-9).all()
    # the mean need not lie inside a 90% interval: an account with tenure 500 almost
    # surely renews for ever (realized value near the no-churn bound), and the rare
    # early churn pulls the mean below the 5% quantile; so only the rest are checked
    inside = (lo <= v) & (v <= hi)
    assert inside.drop("d").all()
    assert (clv["expected_clv_lower"] <= v).all() and (v <= clv["expected_clv_upper"]).all()


def test_cohort_where_nobody_churned_gives_finite_values():
    data = pd.DataFrame({"tenure": np.arange(1, 25), "churned": False, "revenue": 30.0})
    model = ShiftedBetaGeoModel(time_unit="month", random_state=0).fit(data, method="map")
    clv = contractual_lifetime_value(model, data, revenue_col="revenue", discount_rate=0.10,
                                     random_state=0)
    assert np.isfinite(clv.drop(columns="expected_residual_lifetime").to_numpy()).all()
    assert (clv["probability_renewal"] > 0.9).all()
    assert (clv["expected_clv"] < 30.0 / (1 - 1.1 ** (-1 / 12)) + 30.0).all()


def test_acquisition_cost_columns(yearly):
    acc = pd.DataFrame({"tenure": [2, 2, 2], "revenue": [100.0, 100.0, 0.0],
                        "cac": [200.0, 0.0, 0.0]})
    clv = contractual_lifetime_value(yearly, acc, revenue_col="revenue", discount_rate=0.1,
                                     acquisition_cost_col="cac", random_state=0)
    v = clv["expected_clv"]
    assert clv["net_value"].iloc[0] == pytest.approx(v.iloc[0] - 200.0)
    assert clv["ltv_to_cac"].iloc[0] == pytest.approx(v.iloc[0] / 200.0)
    assert np.isinf(clv["ltv_to_cac"].iloc[1]) and np.isnan(clv["ltv_to_cac"].iloc[2])
    assert v.iloc[2] == 0.0


def test_discounted_count():
    np.testing.assert_allclose(discounted_count([0, 1, 2, np.inf], 0.0), [0, 1, 2, np.inf])
    z = np.exp(-0.1)
    assert discounted_count(3.0, 0.1) == pytest.approx(1 + z + z**2)


@pytest.mark.slow
def test_predictive_intervals_cover_holdout_renewals():
    """Randomized-PIT coverage of 90% predictive intervals of the renewals in a 12-period
    holdout, for 4,000 simulated accounts acquired over three years."""
    rng = np.random.default_rng(21)
    ages = rng.integers(1, 37, 4000)
    data = simulate_sbg(4000, 0.8, 4.0, tenure_max=ages, holdout=12, random_state=22)
    model = ShiftedBetaGeoModel(time_unit="month", random_state=3).fit(data)
    sims = simulate_discounted_renewals(model, data, horizon=12, n_samples=1000,
                                        random_state=4)
    active = ~data["churned"].to_numpy()
    cov = pit_coverage(sims[active], data["holdout_renewals"].to_numpy()[active], 0.9)
    assert cov.mean() == pytest.approx(0.9, abs=0.025)
    # and the expected renewals match the holdout total within 5%
    assert sims[active].mean(axis=1).sum() == pytest.approx(
        data["holdout_renewals"].sum(), rel=0.05)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"revenue_col": "mrr"}, DataError, r"the revenue_col column 'mrr' is not in the accounts"),
    ({"margin": 0.0}, ValueError, r"The 'margin' parameter of contractual_lifetime_value must "
                                  r"be a float in \(0, 1\] .*Got 0.0 instead\."),
    ({"margin": 60}, ValueError, r"Did you mean 0\.60 \(60%\)\?"),
    ({"level": 90}, ValueError, "The 'level' parameter"),
    ({"discount_rate": -0.1}, ValueError, r"The 'discount_rate' parameter .* \[0, 1\)"),
    ({"discount_rate": 5}, ValueError, r"Did you mean 0\.05 \(5%\)\?"),
    ({"growth_rate": -1.5}, ValueError, r"The 'growth_rate' parameter .* \(-1, inf\)"),
])
def test_parameter_errors(yearly, kwargs, error, message):
    acc = pd.DataFrame({"tenure": [1], "revenue": [1.0]})
    args = {"revenue_col": "revenue", "discount_rate": 0.1, **kwargs}
    with pytest.raises(error, match=message):
        contractual_lifetime_value(yearly, acc, **args)


def test_bad_revenue_and_model(yearly):
    acc = pd.DataFrame({"tenure": [1, 2], "revenue": [1.0, -5.0]}, index=["x", "y"])
    with pytest.raises(DataError, match=r"'revenue' must be finite and >= 0; 1 row\(s\).*\['y'\]"):
        contractual_lifetime_value(yearly, acc, revenue_col="revenue", discount_rate=0.1)
    from clvmodels import BetaGeoModel

    with pytest.raises(TypeError, match="must be a fitted churn model"):
        contractual_lifetime_value(BetaGeoModel(), acc, revenue_col="revenue", discount_rate=0.1)


def test_an_infinite_whole_life_value_is_refused_with_the_fix(yearly):
    accounts = pd.DataFrame({"tenure": [0, 7], "revenue": [100.0, 100.0]}, index=["a", "b"])
    # alpha < 1: without discounting some accounts practically never cancel
    with pytest.raises(ValueError, match=r"whole-life value is infinite for 2 account\(s\).*"
                                         r"finite horizon \(horizon='5 years'; CLI --horizon\)"):
        contractual_lifetime_value(yearly, accounts, revenue_col="revenue", discount_rate=0.0)
    with pytest.raises(ValueError, match="growth rate is at or above the discount rate"):
        contractual_lifetime_value(yearly, accounts, revenue_col="revenue", discount_rate=0.05,
                                   growth_rate=0.06)
    # a finite horizon is always finite
    out = contractual_lifetime_value(yearly, accounts, revenue_col="revenue", discount_rate=0.0,
                                     horizon="5 years", random_state=0)
    assert np.isfinite(out["expected_clv"]).all() and (out["expected_clv"] <= 500).all()
