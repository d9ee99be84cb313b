"""A boundary is an answer (DESIGN.md principle 8) for churn models: homogeneous churn
gives the geometric limit with a statement in words; segments get their own models."""

import re

import numpy as np
import pandas as pd
import pytest

from clvmodels import (
    FitError,
    ShiftedBetaGeoModel,
    contractual_lifetime_value,
    load_model,
)
from clvmodels.datasets import load_telco
from clvmodels.models.churn.base import discounted_sum, observe_lifetimes
from clvmodels.models.churn.covariates import ShiftedBetaGeoCovariateModel
from clvmodels.models.churn.sbg import GeometricChurnModel, simulate_sbg
from clvmodels.models.churn.segmented import SegmentedChurnModel
from clvmodels.scoring import fit_contractual_job, load_job


def _homogeneous(n, p, seed):
    """Every account churns with the same probability p, seen through windows."""
    rng = np.random.default_rng(seed)
    life = np.floor(np.log(rng.random(n)) / np.log1p(-p)) + 1.0
    entry = rng.integers(0, 13, n)
    return observe_lifetimes(life, entry=entry, tenure_max=entry + 12, time_unit="month")


@pytest.fixture(scope="module")
def homogeneous():
    return _homogeneous(20_000, 0.15, 5)


@pytest.fixture(scope="module")
def geometric(homogeneous):
    return ShiftedBetaGeoModel(random_state=0).fit(homogeneous)


def test_homogeneous_churn_becomes_the_geometric_limit(geometric, homogeneous):
    assert type(geometric) is GeometricChurnModel and geometric.param_names == ("p",)
    s = geometric.summary()
    assert abs(s.loc["p", "estimate"] - 0.15) < 3 * s.loc["p", "se"]
    # the MLE of the limit is the churn share of the observed renewal decisions
    decisions = (homogeneous["tenure"] - homogeneous["entry"]).sum()
    assert s.loc["p", "estimate"] == pytest.approx(homogeneous["churned"].sum() / decisions,
                                                   rel=1e-6)
    b = geometric.boundary_
    assert b["full_model"] == "ShiftedBetaGeoModel" and b["lr_statistic"] < 1.0
    assert 0.25 <= b["p_value"] <= 0.5
    assert re.search(r"same for every account: p = 0\.1[45]\d\d per month \(95% interval",
                     b["message"])
    assert s.attrs["boundary"] is b
    assert np.isfinite(geometric.bic_) and geometric.params_.max() < 1  # no 1e6-sized values


def test_geometric_predictions_are_its_closed_forms(geometric):
    p = {"p": np.array([0.15, 0.02])}
    t = np.array([3.0, 40.0])
    lam = np.log(1.1) / 12
    for horizon in (None, 36):
        generic = discounted_sum(lambda k: (1 + k[None, :]) * np.log1p(-p["p"])[:, None], (2,),
                                 lam=lam, horizon=horizon)
        np.testing.assert_allclose(geometric._discounted_renewals(p, t, lam, horizon), generic,
                                   rtol=1e-9)
    np.testing.assert_allclose(geometric._expected_residual_lifetime(p, t),
                               (1 - p["p"]) / p["p"], rtol=1e-12)
    k = geometric._simulate_renewals({"p": np.full(200_000, 0.15)}, np.zeros(200_000),
                                     np.random.default_rng(1))
    assert k.mean() == pytest.approx(0.85 / 0.15, rel=0.02)


def test_downstream_works_on_the_limit_and_it_round_trips(geometric, homogeneous, tmp_path):
    accounts = homogeneous.head(50).assign(revenue=20.0)
    clv = contractual_lifetime_value(geometric, accounts, revenue_col="revenue",
                                     discount_rate=0.1, horizon="2 years", random_state=0)
    assert np.isfinite(clv.to_numpy()).all()
    geometric.save(tmp_path / "geo")
    again = load_model(tmp_path / "geo")
    assert type(again) is GeometricChurnModel
    assert again.boundary_["message"] == geometric.boundary_["message"]
    pd.testing.assert_series_equal(again.probability_renewal(accounts),
                                   geometric.probability_renewal(accounts))


def test_heterogeneous_data_keep_the_sbg_and_refits_restore_it(homogeneous):
    hetero = simulate_sbg(20_000, 0.8, 3.0, tenure_max=24, random_state=2)
    model = ShiftedBetaGeoModel().fit(homogeneous)
    assert type(model) is GeometricChurnModel
    model.fit(hetero)  # the same object, fitted again: back to the full model
    assert type(model) is ShiftedBetaGeoModel and not hasattr(model, "boundary_")
    np.testing.assert_allclose(model.params_, [0.8, 3.0], rtol=0.15)


def test_covariate_edge_is_explained_with_the_next_step():
    telco = load_telco()
    telco = telco.join(pd.get_dummies(telco["Contract"], drop_first=True, dtype=float))
    with pytest.raises(FitError, match=r"cannot identify \['beta\[One year\]'\].*'One year' = 1"
                                       r".*--segment-col.*--method map"):
        ShiftedBetaGeoCovariateModel(covariates=["One year", "Two year"]).fit(telco)


@pytest.fixture(scope="module")
def telco_segments():
    telco = load_telco()
    return telco, SegmentedChurnModel(segment_col="Contract", time_unit="month",
                                      random_state=0).fit(telco)


def test_segments_get_their_own_models(telco_segments):
    telco, model = telco_segments
    kinds = {k: type(m).__name__ for k, m in model.models_.items()}
    assert kinds == {"Month-to-month": "ShiftedBetaGeoModel", "One year": "GeometricChurnModel",
                     "Two year": "GeometricChurnModel"}
    assert set(model.boundaries_) == {"One year", "Two year"}
    # the one-year accounts' churn share over their observed decisions
    one = telco[(telco["Contract"] == "One year") & (telco["tenure"] > 0)]
    assert float(model.models_["One year"].params_["p"]) == pytest.approx(
        one["churned"].mean(), rel=1e-6)
    s = model.summary()
    assert s.index.names == ["segment", "parameter"] and len(s) == 4
    assert model.log_likelihood_ == pytest.approx(sum(m.log_likelihood_
                                                      for m in model.models_.values()))


def test_each_account_is_valued_by_its_segment_model(telco_segments):
    telco, model = telco_segments
    opts = dict(revenue_col="MonthlyCharges", discount_rate=0.1, horizon="3 years",
                n_draws=None, random_state=0)
    whole = contractual_lifetime_value(model, telco, **opts)
    for key, sub in model.models_.items():
        part = telco[telco["Contract"] == key]
        alone = contractual_lifetime_value(sub, part, **opts)
        for col in ("probability_renewal", "expected_residual_lifetime", "expected_clv"):
            np.testing.assert_allclose(whole.loc[part.index, col], alone[col], rtol=1e-12)
        # credible bounds use all draws of this segment's model: the same values
        np.testing.assert_allclose(whole.loc[part.index, "expected_clv_lower"],
                                   alone["expected_clv_lower"], rtol=1e-12)


def test_segmented_job_round_trip(tmp_path):
    table = load_telco().reset_index().drop(columns=["churned", "entry"])
    job = fit_contractual_job(table, tmp_path / "job", period="month", account_col="customerID",
                              churned_col="Churn", observed_periods=1, segment_col="Contract",
                              revenue_col="MonthlyCharges", seed=0)
    assert set(job.meta["boundaries"]) == {"One year", "Two year"}
    again = load_job(tmp_path / "job")
    assert type(again.churn) is SegmentedChurnModel
    accounts = again.accounts(table)
    pd.testing.assert_series_equal(again.churn.probability_renewal(accounts),
                                   job.churn.probability_renewal(job.accounts(table)))
    with pytest.raises(Exception, match="either covariates"):
        fit_contractual_job(table, tmp_path / "j2", period="month", account_col="customerID",
                            churned_col="Churn", covariates=["SeniorCitizen"],
                            segment_col="Contract")


def test_segments_renew_on_their_own_calendar():
    """A yearly plan in a monthly model: its tenure counts years, its revenue is per
    year, and its value is discounted year by year."""
    monthly = simulate_sbg(4000, 1.0, 4.0, tenure_max=24, random_state=3).assign(plan="monthly")
    yearly = simulate_sbg(4000, 1.0, 4.0, tenure_max=3, random_state=4).assign(plan="yearly")
    data = pd.concat([monthly, yearly], ignore_index=True)
    data.attrs["time_unit"] = "month"
    model = SegmentedChurnModel(segment_col="plan", time_unit="month",
                                periods={"yearly": "year"}, random_state=0).fit(data)
    assert model.models_["yearly"].time_unit_ == "year"
    same = pd.DataFrame({"tenure": [2, 2], "plan": ["monthly", "yearly"],
                         "revenue": [10.0, 120.0]}, index=["m", "y"])
    clv = contractual_lifetime_value(model, same, revenue_col="revenue", discount_rate=0.1,
                                     horizon="3 years", n_draws=None, random_state=0)
    for key, row, periods in (("monthly", "m", 36), ("yearly", "y", 3)):
        sub = model.models_[key]
        p = {n: np.array([v]) for n, v in sub.point_params().items()}
        lam = sub.period_log_discount(0.1, 0.0, "test")
        expected = same.loc[row, "revenue"] * sub._discounted_renewals(p, 2.0, lam, periods)[0]
        assert clv.loc[row, "expected_clv"] == pytest.approx(expected, rel=1e-12)
    # simulated futures respect each plan's calendar: at most 3 yearly payments
    assert clv.loc["y", "clv_predictive_upper"] <= 120.0 * (1 + 1 / 1.1 + 1 / 1.21) + 1e-9
