"""Customer lifetime value and holdout scoring with covariate models: every customer is
valued with her own parameters (clvmodels.value.rows)."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clvmodels import (
    BetaGeoCovariateModel,
    BetaGeoModel,
    GammaGammaCovariateModel,
    GammaGammaModel,
    ModifiedBetaGeoCovariateModel,
    ModifiedBetaGeoModel,
    ParetoNBDCovariateModel,
    ParetoNBDModel,
    customer_lifetime_value,
    new_customer_value,
    portfolio_value,
)
from clvmodels.datasets import load_cdnow_summary
from clvmodels.evaluation.holdout import evaluate_holdout

PAIRS = {"bgnbd": (BetaGeoModel, BetaGeoCovariateModel),
         "mbgnbd": (ModifiedBetaGeoModel, ModifiedBetaGeoCovariateModel),
         "pnbd": (ParetoNBDModel, ParetoNBDCovariateModel)}
POINT = ["probability_alive", "expected_purchases", "expected_spend", "expected_clv"]
CREDIBLE = ["expected_clv_lower", "expected_clv_upper"]


@pytest.fixture(scope="module")
def summary():
    s = load_cdnow_summary()
    rng = np.random.default_rng(0)
    s["channel"] = np.where(rng.random(len(s)) < 0.4, "web", "store")
    s["score"] = rng.normal(size=len(s))
    return s


@pytest.fixture(scope="module")
def spend(summary):
    return GammaGammaModel(random_state=0).fit(summary)


@pytest.mark.parametrize("name", list(PAIRS))
def test_zero_coefficients_value_every_customer_as_the_model_without_them(summary, spend, name,
                                                                         zero_coefficients):
    base_cls, cov_cls = PAIRS[name]
    base = base_cls(random_state=0).fit(summary)
    cov = zero_coefficients(
        cov_cls(covariates=["channel", "score"], random_state=0).fit(summary), base)
    a = customer_lifetime_value(base, spend, summary, discount_rate=0.1, random_state=3)
    b = customer_lifetime_value(cov, spend, summary, discount_rate=0.1, random_state=3)
    for col in POINT:
        np.testing.assert_allclose(b[col], a[col], rtol=1e-12, atol=1e-12)
    # the credible interval comes from the same draws (BG/NBD: its own fast path there)
    for col in CREDIBLE:
        np.testing.assert_allclose(b[col], a[col], rtol=1e-9, atol=1e-9)
    # predictive bounds: other Monte Carlo groups (customers are split by pattern), same law
    for col in ("clv_predictive_upper",):
        assert abs(b[col].sum() / a[col].sum() - 1) < 0.03


@pytest.mark.parametrize("name", ["mbgnbd", "pnbd"])
def test_one_pattern_is_valued_as_a_model_with_that_patterns_parameters(summary, name):
    """Customers who share one covariate pattern get exactly the CLV of a model without
    covariates whose point estimate and draws are that pattern's parameters."""
    base_cls, cov_cls = PAIRS[name]
    cov = cov_cls(covariates=["channel"], random_state=0).fit(summary)
    gg = GammaGammaCovariateModel(covariates=["channel"], random_state=0).fit(summary)
    web = summary[summary["channel"] == "web"]
    z = cov.design(web.iloc[:1])
    own = base_cls(random_state=0).fit(summary)
    own_gg = GammaGammaModel(random_state=0).fit(summary)
    for target, source in ((own, cov), (own_gg, gg)):
        point = {k: float(np.ravel(v)[0])
                 for k, v in source.row_params(source.point_params(), z).items()}
        draws = source.row_draws(source.param_draws(), z)
        target.params_ = pd.Series(point)[list(target.param_names)]
        target.log_params_ = np.log(target.params_.to_numpy())
        shape = target.draws_[target.param_names[0]].shape
        target.draws_ = xr.Dataset({n: (("chain", "draw"), np.asarray(draws[n])[:, 0]
                                        .reshape(shape)) for n in target.param_names})
    a = customer_lifetime_value(own, own_gg, web, discount_rate=0.1, random_state=5)
    b = customer_lifetime_value(cov, gg, web, discount_rate=0.1, random_state=5)
    pd.testing.assert_frame_equal(b, a, rtol=1e-10, atol=1e-10, check_exact=False)


def test_covariates_move_value_the_way_their_coefficients_say(summary):
    """A spend covariate with a positive coefficient raises expected spend by its
    multiplier for a customer without history, and the covariate models' CLV keeps its
    interval order."""
    rng = np.random.default_rng(1)
    s = summary.copy()
    # spend depends on the channel: web customers' amounts doubled
    web = s["channel"] == "web"
    s.loc[web, "monetary_value"] *= 2.0
    gg = GammaGammaCovariateModel(covariates=["channel"], random_state=0).fit(s)
    coef = gg.coefficients().loc["gamma:channel[web]"]
    assert coef["lower"] < np.log(2.0) < coef["upper"] or abs(coef["estimate"] - np.log(2)) < 0.2
    new = s[s["frequency"] == 0]
    e = gg.expected_spend(new)
    ratio = e[new["channel"] == "web"].iloc[0] / e[new["channel"] == "store"].iloc[0]
    assert ratio == pytest.approx(coef["multiplier"], rel=1e-12)
    bg = BetaGeoCovariateModel(covariates=["channel", "score"], random_state=0).fit(s)
    clv = customer_lifetime_value(bg, gg, s, discount_rate=0.1, random_state=rng)
    assert (clv["expected_clv_lower"] <= clv["expected_clv"] * (1 + 1e-9)).all()
    assert (clv["expected_clv"] <= clv["expected_clv_upper"] * (1 + 1e-9) + 1e-9).all()
    assert (clv["clv_predictive_lower"] <= clv["clv_predictive_upper"]).all()
    per_customer = bg.probability_alive(s)
    np.testing.assert_allclose(clv["probability_alive"], per_customer, rtol=1e-12)


def test_holdout_scoring_uses_each_customers_parameters(summary):
    cov = BetaGeoCovariateModel(covariates=["channel"], random_state=0).fit(summary)
    score = evaluate_holdout(cov, summary, n_samples=300, random_state=0)
    expected = cov.expected_purchases(summary, t=39.0)
    np.testing.assert_allclose(score.per_customer["expected"], expected, rtol=1e-12)
    assert 0.8 < score.metrics["coverage"] < 0.97


def test_portfolio_totals_add_up_each_customers_own_value(summary):
    cov = ParetoNBDCovariateModel(covariates=["channel", "score"], random_state=0).fit(summary)
    gg = GammaGammaCovariateModel(covariates=["channel"], random_state=0).fit(summary)
    clv = customer_lifetime_value(cov, gg, summary, discount_rate=0.1, random_state=0)
    total = portfolio_value(cov, gg, summary, by="channel", discount_rate=0.1, n_samples=100,
                            random_state=0)
    own = clv.groupby(summary["channel"])["expected_clv"].sum()
    np.testing.assert_allclose(total["expected_total"], own[total.index], rtol=1e-11)
    assert (total["expected_total_lower"] < total["expected_total"]).all()
    assert (total["expected_total"] < total["expected_total_upper"]).all()
    assert (total["predictive_total_lower"] < total["predictive_total_upper"]).all()


def test_zero_coefficient_portfolio_equals_the_model_without_covariates(summary, spend,
                                                                      zero_coefficients):
    base = BetaGeoModel(random_state=0).fit(summary)
    cov = zero_coefficients(
        BetaGeoCovariateModel(covariates=["channel", "score"], random_state=0).fit(summary), base)
    a = portfolio_value(base, spend, summary, discount_rate=0.1, n_samples=100, random_state=2)
    b = portfolio_value(cov, spend, summary, discount_rate=0.1, n_samples=100, random_state=2)
    cols = ["expected_total", "expected_total_lower", "expected_total_upper"]
    np.testing.assert_allclose(b[cols], a[cols], rtol=1e-10)
    # the same simulated futures when every customer shares one pattern's parameters
    # is not the case here (customers split by pattern): same law, other Monte Carlo noise
    width = a["predictive_total_upper"] - a["predictive_total_lower"]
    for col in ("predictive_total_lower", "predictive_total_upper"):
        assert (abs(b[col] - a[col]) < 0.25 * width).all()


def test_a_new_customers_value_follows_her_covariates(summary):
    s = summary.copy()
    s.loc[s["channel"] == "web", "monetary_value"] *= 2.0
    cov = BetaGeoCovariateModel(covariates=["channel"], random_state=0).fit(s)
    gg = GammaGammaCovariateModel(covariates=["channel"], random_state=0).fit(s)
    web = new_customer_value(cov, gg, covariates={"channel": "web"}, random_state=0)
    store = new_customer_value(cov, gg, covariates={"channel": "store"}, random_state=0)
    # her value is the model without covariates' formula at her pattern's parameters
    z = cov.design(pd.DataFrame({"channel": ["web"]}))
    own = BetaGeoModel(random_state=0).fit(s)
    own.params_ = pd.Series({k: float(np.ravel(v)[0]) for k, v in cov.row_point(z).items()})
    own_gg = GammaGammaModel(random_state=0).fit(s)
    own_gg.params_ = pd.Series({k: float(np.ravel(v)[0])
                                for k, v in gg.row_point(gg.design(
                                    pd.DataFrame({"channel": ["web"]}))).items()})
    direct = new_customer_value(own, own_gg, random_state=0)
    assert web["expected_value"] == pytest.approx(direct["expected_value"], rel=1e-12)
    assert web["expected_value"] > store["expected_value"]  # twice the spend per purchase
    assert web["expected_value_lower"] < web["expected_value"] < web["expected_value_upper"]
    with pytest.raises(ValueError, match="was fitted with covariates .*channel"):
        new_customer_value(cov, gg)
    with pytest.raises(ValueError, match="neither model was fitted with covariates"):
        new_customer_value(own, own_gg, covariates={"channel": "web"})
