"""BG/BB on the purchase-model interface: customer lifetime value with both intervals,
simulated futures against the closed forms, holdout scoring (simulated data and a
donations calibration/holdout split) and model comparison."""

import copy

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clvmodels import (
    BetaGeoBetaBinomModel,
    GammaGammaModel,
    customer_lifetime_value,
    discrete_summary,
    evaluate_holdout,
)
from clvmodels.datasets import load_donations
from clvmodels.evaluation.comparison import compare_models
from clvmodels.models.purchase.base import PurchaseModel
from clvmodels.models.purchase.bgbb import (
    bgbb_conditional_expected_transactions,
    bgbb_discounted_transactions,
    bgbb_probability_alive,
    simulate_bgbb,
)
from clvmodels.models.purchase.bgbb_limits import (
    BetaGeoBetaBinomHomogeneousDropoutModel,
)
from clvmodels.models.spend.gamma_gamma import gamma_gamma_expected_spend
from clvmodels.value.purchase import simulate_model_futures

REF = (1.204, 0.750, 0.657, 2.783)  # the donations fit (REFERENCES.md)
NAMES = ("alpha", "beta", "gamma", "delta")


@pytest.fixture(scope="module")
def donations():
    return load_donations()


@pytest.fixture(scope="module")
def fitted(donations):
    return BetaGeoBetaBinomModel(random_state=0).fit(donations)


@pytest.fixture(scope="module")
def donors(donations):
    """One row per donor with a simulated mean donation (Gamma-Gamma: nu ~ Gamma(4,
    rate 15), each donation ~ Gamma(6, rate nu)) for those with repeat donations."""
    rng = np.random.default_rng(0)
    out = donations.loc[donations.index.repeat(donations["weight"])].drop(columns="weight")
    out = out.reset_index(drop=True)
    x = out["frequency"].to_numpy()
    nu = rng.gamma(4.0, 1 / 15.0, x.size)
    total = rng.gamma(6.0 * np.maximum(x, 1), 1.0)  # sum of x Gamma(6, 1) amounts
    out["monetary_value"] = np.where(x > 0, total / nu / np.maximum(x, 1), np.nan)
    out.attrs = dict(donations.attrs)
    return out


@pytest.fixture(scope="module")
def gg(donors):
    """Gamma-Gamma fitted on the donors (its summary check wants a ``T`` column)."""
    return GammaGammaModel(random_state=2).fit(donors.assign(T=donors["n_periods"]))


@pytest.fixture(scope="module")
def table(donations, donors):
    """The 22 donation histories, each with the mean donation of one of its donors."""
    first = donors.groupby(["frequency", "recency"])["monetary_value"].first()
    out = donations.join(first, on=["frequency", "recency"])
    out.attrs = dict(donations.attrs)
    return out


def equal_draws(model, n=50):
    """A copy of ``model`` whose parameter draws all equal its point estimate."""
    out = copy.deepcopy(model)
    out.draws_ = xr.Dataset({k: (("chain", "draw"), np.full((1, n), v))
                             for k, v in model.point_params().items()})
    return out


def test_bgbb_is_a_purchase_model(fitted, donations):
    """The interface roles are the BG/BB's published functions: P(alive in n + 1),
    conditional expectation, and discounted transactions with d = exp(discount) - 1."""
    assert isinstance(fitted, PurchaseModel)
    f, pars = BetaGeoBetaBinomModel.formula, fitted.point_params()
    cols = {c: donations[c].to_numpy() for c in ("frequency", "recency", "n_periods")}
    cust = {"frequency": cols["frequency"], "recency": cols["recency"], "T": cols["n_periods"]}
    pa = f("probability_alive")(**pars, **cust)
    np.testing.assert_allclose(pa, bgbb_probability_alive(**pars, **cols), rtol=1e-14)
    np.testing.assert_allclose(fitted.probability_alive(donations), pa, rtol=1e-14)
    np.testing.assert_allclose(f("conditional_expected_purchases")(**pars, **cust, t=5),
                               bgbb_conditional_expected_transactions(**pars, **cols, n_future=5),
                               rtol=1e-14)
    for horizon in (3, np.inf):
        if_alive = f("discounted_purchases_if_alive")(
            **pars, frequency=cust["frequency"], T=cust["T"], horizon=horizon,
            discount=np.log(1.1))
        np.testing.assert_allclose(pa * if_alive, bgbb_discounted_transactions(
            **pars, **cols, discount_rate=0.1, horizon=horizon), rtol=1e-12)
    with pytest.raises(ValueError, match=r"The 't' parameter of bgbb_conditional_expected_"
                                         r"purchases must be a whole number of periods"):
        f("conditional_expected_purchases")(**pars, **cust, t=2.5)


def test_zero_rate_point_clv_is_transactions_times_spend_times_margin(fitted, gg, table):
    out = customer_lifetime_value(fitted, gg, table, horizon="5 years", margin=0.3,
                                  n_samples=50, random_state=0)
    spend = gamma_gamma_expected_spend(**gg.point_params(), frequency=table["frequency"],
                                       monetary_value=table["monetary_value"])
    np.testing.assert_allclose(out.expected_spend, spend, rtol=1e-14)
    np.testing.assert_allclose(out.expected_clv, out.expected_purchases * spend * 0.3, rtol=1e-12)
    np.testing.assert_allclose(out.expected_purchases, fitted.expected_purchases(table, 5),
                               rtol=1e-14)
    np.testing.assert_allclose(out.probability_alive, fitted.probability_alive(table), rtol=1e-14)
    assert out.attrs["horizon_in_model_units"] == 5.0 and out.attrs["time_unit"] == "year"


def test_discounted_clv_is_the_published_dert_with_both_intervals(fitted, gg, table):
    """An annual rate of 10% on yearly periods discounts period n + k by 1.1^-k: the
    point CLV is the FHB (2010) discounted expected transactions over the horizon times
    spend; credible and predictive intervals are finite and ordered."""
    out = customer_lifetime_value(fitted, gg, table, horizon="10 years", discount_rate=0.1,
                                  margin=0.5, n_samples=400, random_state=1)
    dert = bgbb_discounted_transactions(**fitted.point_params(), frequency=table["frequency"],
                                        recency=table["recency"], n_periods=table["n_periods"],
                                        discount_rate=0.1, horizon=10)
    np.testing.assert_allclose(out.expected_clv, 0.5 * dert * out.expected_spend, rtol=1e-12)
    assert np.isfinite(out.to_numpy()).all() and (out.expected_clv > 0).all()
    assert ((out.expected_clv_lower <= out.expected_clv)
            & (out.expected_clv <= out.expected_clv_upper)).all()
    assert (out.expected_clv_lower < out.expected_clv_upper).all()
    assert (out.clv_predictive_lower <= out.clv_predictive_upper).all()
    # the best donors' realized value varies more than its expectation
    best = table["frequency"] == 6
    assert ((out.clv_predictive_upper - out.clv_predictive_lower)[best]
            > (out.expected_clv_upper - out.expected_clv_lower)[best]).all()
    # without parameter uncertainty the credible interval collapses onto the point
    fixed = customer_lifetime_value(equal_draws(fitted), equal_draws(gg), table,
                                    horizon="10 years", discount_rate=0.1, margin=0.5,
                                    n_samples=50, random_state=1)
    for c in ("expected_clv_lower", "expected_clv_upper"):
        np.testing.assert_allclose(fixed[c], fixed.expected_clv, rtol=1e-12)


def test_horizon_must_be_whole_periods(fitted, gg, table):
    with pytest.raises(ValueError, match=r"a horizon of '52 weeks' is 0\.997 years, but "
                                         r"BetaGeoBetaBinomModel counts whole years .* e\.g\. "
                                         r"'1 year'"):
        customer_lifetime_value(fitted, gg, table, horizon="52 weeks", n_samples=20)


def test_simulated_futures_match_the_expectations(fitted, gg, rng):
    """One parameter draw: the means of simulated counts, discounted counts and
    discounted spend equal the conditional expectation, P(alive) x discounted
    transactions if alive, and that times the expected spend, within 4 standard errors."""
    n = 100_000
    params = fitted.point_params()
    rows = {"frequency": np.array([0.0, 2, 6, 1]), "recency": np.array([0.0, 4, 6, 1]),
            "T": np.array([6.0, 6, 6, 0]), "monetary_value": np.array([np.nan, 40.0, 25.0, 9.0])}
    rows["frequency"][3] = 0.0  # a donor acquired in the last period: n = 0
    rows["recency"][3] = 0.0
    cust = {c: rows[c] for c in ("frequency", "recency", "T")}
    discount = np.log(1.2)
    grid = {k: np.full((4, n), v) for k, v in params.items()}
    count, disc = BetaGeoBetaBinomModel.formula("simulate_future")(
        **grid, **{c: v[:, None] for c, v in cust.items()}, horizon=8, discount=discount,
        rng=rng)
    f = BetaGeoBetaBinomModel.formula
    pa = f("probability_alive")(**params, **cust)
    expected = {
        "count": f("conditional_expected_purchases")(**params, **cust, t=8),
        "discounted": pa * f("discounted_purchases_if_alive")(
            **params, frequency=rows["frequency"], T=rows["T"], horizon=8, discount=discount),
    }
    assert ((disc <= count) & (disc >= count * np.exp(-8 * discount)) & (count <= 8)).all()
    sims = simulate_model_futures(equal_draws(fitted), rows, 8.0, discount, n, rng,
                                  spend_model=equal_draws(gg))
    spend = gamma_gamma_expected_spend(**gg.point_params(), frequency=rows["frequency"],
                                       monetary_value=rows["monetary_value"])
    expected["value"] = expected["discounted"] * spend
    for name, s in (("count", count), ("discounted", disc), ("value", sims.value),
                    ("count", sims.purchases)):
        se = s.std(axis=1) / np.sqrt(n)
        assert (np.abs(s.mean(axis=1) - expected[name]) < 4 * se).all(), name
    # alive in period n + 1 as often as P(alive) says: a live donor transacts in
    # period n + 1 with probability E[p | x, n]
    first = BetaGeoBetaBinomModel.formula("simulate_future")(
        **grid, **{c: v[:, None] for c, v in cust.items()}, horizon=1, discount=0.0, rng=rng)[0]
    want = pa * (params["alpha"] + rows["frequency"]) / (
        params["alpha"] + params["beta"] + rows["T"])
    se = np.sqrt(want * (1 - want) / n)
    assert (np.abs(first.mean(axis=1) - want) < 4 * se).all()


def test_predictive_coverage_on_data_simulated_from_the_model():
    """Fit on calibration data simulated from the BG/BB; the 90% predictive intervals
    of the next 5 periods' transactions hold the nominal share (randomized PIT)."""
    n = 3000
    periods = np.random.default_rng(11).integers(3, 9, n)
    sim = simulate_bgbb(n, *REF, n_periods=periods, holdout=5, random_state=12)
    model = BetaGeoBetaBinomModel(random_state=13).fit(sim)
    score = evaluate_holdout(model, sim, level=0.9, n_samples=500, random_state=14)
    m = score.metrics
    assert abs(m.coverage - 0.9) < 0.02, m
    assert m.coverage_conventional >= 0.9
    assert abs(m.aggregate_error) < 0.1
    assert m.holdout_length == 5 and m.customers == n
    np.testing.assert_allclose(score.per_customer["expected"],
                               model.expected_purchases(sim, 5), rtol=1e-14)


@pytest.fixture(scope="module")
def split(donations, donation_transactions):
    """Calibration 1996-1999 (4 opportunities), holdout 2000-2001 (2), both built with
    discrete_summary: the holdout count is the whole period's frequency less the
    calibration's."""
    tx = donation_transactions
    full = discrete_summary(tx, observation_end="2001-12-31")
    cal = discrete_summary(tx[tx["date"] <= "1999-12-31"], observation_end="1999-12-31")
    cal["holdout_frequency"] = full["frequency"] - cal["frequency"]
    cal["holdout_length"] = full["n_periods"] - cal["n_periods"]
    return full, cal


def test_the_split_reproduces_the_donations_summary(split, donations):
    full, cal = split
    counts = full.groupby(["frequency", "recency", "n_periods"]).size()
    want = donations.set_index(["frequency", "recency", "n_periods"])["weight"]
    pd.testing.assert_series_equal(counts, want, check_names=False)
    assert (cal["n_periods"] == 4).all() and (cal["holdout_length"] == 2).all()
    assert cal.attrs["time_unit"] == "year" and cal["holdout_frequency"].between(0, 2).all()


def test_evaluate_holdout_on_the_donations_split(split):
    _, cal = split
    model = BetaGeoBetaBinomModel(random_state=0).fit(cal)
    assert type(model) is BetaGeoBetaBinomModel
    score = evaluate_holdout(model, cal, n_samples=500, random_state=0)
    m = score.metrics
    assert m.customers == 11_104 and m.holdout_length == 2.0
    assert m.actual_total == cal["holdout_frequency"].sum()
    assert m.expected_total == pytest.approx(model.expected_purchases(cal, 2).sum(), rel=1e-12)
    assert abs(m.aggregate_error) < 0.05, m
    assert abs(m.coverage - 0.9) < 0.03, m
    table = compare_models({"BG/BB": model,
                            "BG/BB, one theta": BetaGeoBetaBinomHomogeneousDropoutModel().fit(cal)},
                           cal, levels=(0.9,), n_samples=200)
    assert table.loc["BG/BB", "log_likelihood"] == pytest.approx(model.log_likelihood_, rel=1e-12)
    assert table.loc["BG/BB", "parameters"] == 4
    assert table.loc["BG/BB, one theta", "parameters"] == 3
    assert (table["actual_total"] == m.actual_total).all()
