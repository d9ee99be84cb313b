"""sBG with covariates: reduces to the cohort model, one likelihood, recovery, Telco."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import DataError
from clvmodels.datasets import load_telco
from clvmodels.evaluation.retention import lifetime_summary
from clvmodels.models.churn.covariates import ShiftedBetaGeoCovariateModel
from clvmodels.models.churn.sbg import (
    ShiftedBetaGeoModel,
    accounts_from_survival,
    simulate_sbg,
)
from clvmodels.value.contractual import contractual_lifetime_value

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


@pytest.fixture(scope="module")
def two_groups():
    """20,000 accounts: x = 0 with (alpha, beta) = (0.9, 6), x = 1 with (1.8, 3)."""
    rng = np.random.default_rng(3)
    g0 = simulate_sbg(10_000, 0.9, 6.0, tenure_max=rng.integers(1, 37, 10_000),
                      random_state=rng).assign(x=0.0)
    g1 = simulate_sbg(10_000, 1.8, 3.0, tenure_max=rng.integers(1, 37, 10_000),
                      random_state=rng).assign(x=1.0)
    data = pd.concat([g0, g1], ignore_index=True)
    data.attrs["time_unit"] = "month"
    return data


@pytest.fixture(scope="module")
def telco():
    data = load_telco()
    return data.join(pd.get_dummies(data["Contract"], drop_first=True, dtype=float))


def test_without_covariates_it_is_the_cohort_model():
    data = accounts_from_survival(REGULAR, time_unit="year")
    cohort = ShiftedBetaGeoModel(random_state=1).fit(data)
    plain = ShiftedBetaGeoCovariateModel(random_state=1).fit(data)
    assert plain.param_names == ("alpha", "beta")
    np.testing.assert_allclose(plain.params_, cohort.params_, rtol=1e-8)
    assert plain.log_likelihood_ == pytest.approx(cohort.log_likelihood_, rel=1e-12)
    accounts = pd.DataFrame({"tenure": [0, 7, 30]})
    np.testing.assert_allclose(plain.probability_renewal(accounts),
                               cohort.probability_renewal(accounts), rtol=1e-8)


def test_gradient_matches_finite_differences(two_groups):
    model = ShiftedBetaGeoCovariateModel(covariates=["x"])
    model._check_settings("mle")
    arrays, weights = model._prepare(two_groups)
    theta = np.log([0.8, 5.0, 1.5, 0.7])
    g = model._loglik_and_grad(theta, arrays, weights)[1]
    h = 1e-6
    for j in range(4):
        e = np.zeros(4)
        e[j] = h
        num = (model._loglik_and_grad(theta + e, arrays, weights)[0]
               - model._loglik_and_grad(theta - e, arrays, weights)[0]) / (2 * h)
        assert g[j] == pytest.approx(num, rel=1e-5, abs=1e-4)


def test_pymc_graph_is_the_mle_likelihood(two_groups, rng):
    import pytensor
    import pytensor.tensor as pt

    model = ShiftedBetaGeoCovariateModel(covariates=["x"])
    model._check_settings("mcmc")
    arrays, weights = model._prepare(two_groups)
    assert weights.size < 200  # compressed by (tenure, churned, x)
    scalars = {n: pt.dscalar(n) for n in model.param_names}
    f = pytensor.function(list(scalars.values()),
                          model._pymc_log_likelihood(scalars, arrays, weights))
    for _ in range(3):
        p = np.exp(rng.normal(scale=0.5, size=4))
        assert float(f(*p)) == pytest.approx(
            model._loglik_and_grad(np.log(p), arrays, weights)[0], rel=1e-10)


@pytest.mark.slow
def test_recovers_group_parameters(two_groups):
    model = ShiftedBetaGeoCovariateModel(covariates=["x"]).fit(two_groups)
    truth = np.array([0.9, 6.0, 2.0, 0.5])  # alpha, beta, alpha[x], beta[x] multipliers
    s = model.summary()
    # with 10,000 accounts a group, standard errors are 3-7%: check against them
    assert np.all(np.abs(np.log(s["estimate"] / truth)) < 3 * s["se"] / s["estimate"])
    np.testing.assert_allclose(s["estimate"], truth, rtol=0.1)
    # per-account parameters follow the covariate
    accounts = pd.DataFrame({"tenure": [0, 0], "x": [0.0, 1.0]})
    p, *_ = model.account_parameters(accounts)
    np.testing.assert_allclose(p["alpha"][0], [0.9, 1.8], rtol=0.1)
    np.testing.assert_allclose(p["beta"][0], [6.0, 3.0], rtol=0.1)
    assert model.expected_lifetime({"x": 1}) == pytest.approx((1.8 + 3 - 1) / 0.8, rel=0.15)


def test_clv_and_lifetimes_by_covariate(telco):
    model = ShiftedBetaGeoCovariateModel(covariates=["One year", "Two year"], time_unit="month",
                                         random_state=0).fit(telco, method="map")
    same = pd.DataFrame({"tenure": [12, 12, 12], "revenue": [50.0] * 3,
                         "One year": [0.0, 1.0, 0.0], "Two year": [0.0, 0.0, 1.0]},
                        index=["month-to-month", "one year", "two year"])
    clv = contractual_lifetime_value(model, same, revenue_col="revenue", discount_rate=0.10,
                                     n_draws=100, random_state=0)
    v = clv["expected_clv"]
    assert v["month-to-month"] < v["one year"] and v["month-to-month"] < v["two year"]
    assert np.isfinite(clv.drop(columns="expected_residual_lifetime").to_numpy()).all()
    summary = lifetime_summary(telco, by="Contract", model=model)
    # Telco is a snapshot (one decision per account, entry = tenure - 1): the life table
    # with delayed entry and the model condition on the same window. Month-to-month
    # accounts: the model's restricted mean lifespan over 72 months tracks the life
    # table (1.82 vs 1.73 months); two-year accounts, whose churn rises with tenure, are
    # what the sBG cannot follow (tested in test_churn_checks.py)
    assert summary.loc["Month-to-month", "model_restricted_mean_lifetime"] == pytest.approx(
        summary.loc["Month-to-month", "restricted_mean_lifetime"], rel=0.10)
    assert summary.loc["Month-to-month", "median_lifetime"] == 1.0
    coef = model.coefficients()
    assert coef.loc["beta coefficient [One year]", "lower"] > 0  # far less churn
    assert coef.loc["beta coefficient [Two year]", "lower"] > 0


@pytest.mark.slow
def test_telco_mcmc_with_contract_covariate(telco):
    model = ShiftedBetaGeoCovariateModel(covariates=["One year", "Two year"], time_unit="month",
                                         draws=400, tune=400, chains=2, random_state=1)
    model.fit(telco, method="mcmc")
    s = model.summary()
    assert (s["r_hat"] < 1.02).all() and (s["ess_bulk"] > 150).all()
    coef = model.coefficients()
    # under the snapshot window (one decision per account) the contract effects are
    # identified by the churn rates within each tenure: clearly less churn on contracts
    assert coef.loc["beta coefficient [One year]", "lower"] > 0
    assert coef.loc["beta coefficient [Two year]", "lower"] > 0
    # month-to-month accounts: well identified, posterior agrees with the MAP fit
    map_fit = ShiftedBetaGeoCovariateModel(covariates=["One year", "Two year"]).fit(
        telco, method="map")
    assert s.loc["alpha", "estimate"] == pytest.approx(map_fit.params_["alpha"], rel=0.05)


def test_errors(telco):
    with pytest.raises(ValueError, match=r"The 'covariates' parameter of "
                                         r"ShiftedBetaGeoCovariateModel must be a sequence"):
        ShiftedBetaGeoCovariateModel(covariates="x").fit(telco)
    with pytest.raises(DataError, match=r"missing column\(s\) \['Three year'\]"):
        ShiftedBetaGeoCovariateModel(covariates=["Three year"]).fit(telco)
    with pytest.raises(DataError, match="encode categories as 0/1 columns"):
        ShiftedBetaGeoCovariateModel(covariates=["Contract"]).fit(telco)
    with pytest.raises(ValueError, match=r"The 'coefficient_prior_sd' parameter"):
        ShiftedBetaGeoCovariateModel(covariates=["Two year"], coefficient_prior_sd=0).fit(
            telco, method="map")
    model = ShiftedBetaGeoCovariateModel(covariates=["Two year"]).fit(telco, method="map")
    with pytest.raises(ValueError, match=r"unknown covariates \['One year'\]"):
        model.survival(3, {"One year": 1})
    with pytest.raises(DataError, match=r"covariate\(s\) \['Two year'\] vary within segments"):
        lifetime_summary(telco, by="gender", model=model)


def test_covariate_model_is_not_saved_yet(tmp_path, telco):
    """Persistence checks class-level parameter names; the covariate model's depend on
    its covariates, so saving is refused with a clear message instead of writing a
    file that cannot be loaded."""
    model = ShiftedBetaGeoCovariateModel(covariates=["Two year"]).fit(telco, method="map")
    with pytest.raises(TypeError, match="save_model saves .*ShiftedBetaGeoModel.* instances; got "
                                        "ShiftedBetaGeoCovariateModel"):
        model.save(tmp_path / "cov")
