"""Totals of subscription accounts with both intervals and their expected value per
block of periods (clvmodels.report.contractual_totals)."""

import numpy as np
import pandas as pd
import pytest

from clvmodels.models.churn.sbg import ShiftedBetaGeoModel, accounts_from_survival
from clvmodels.report.contractual_totals import (
    contractual_cash_flows,
    contractual_totals,
)
from clvmodels.value.contractual import contractual_lifetime_value

SETTINGS = dict(discount_rate=0.10, margin=0.5, level=0.90)


@pytest.fixture(scope="module")
def model():
    cohort = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241], time_unit="year")
    return ShiftedBetaGeoModel(random_state=0).fit(cohort)


@pytest.fixture(scope="module")
def accounts():
    """Active accounts of several tenures, each row standing for ``weight`` accounts,
    and some cancelled ones (worth nothing)."""
    return pd.DataFrame({"tenure": [0, 1, 2, 4, 7, 3], "churned": [False] * 5 + [True],
                         "weight": [300.0, 150, 90, 40, 241, 500],
                         "revenue": [50.0, 80, 100, 120, 100, 90]})


def test_expected_totals_are_the_sums_of_the_account_values(model, accounts):
    totals = contractual_totals(model, accounts, revenue_col="revenue",
                                horizons={"3 years": 3, "life": None}, n_samples=200,
                                random_state=0, **SETTINGS)
    for label, horizon in (("3 years", (3, "year")), ("life", None)):
        clv = contractual_lifetime_value(model, accounts, revenue_col="revenue", horizon=horizon,
                                         n_samples=50, random_state=0, **SETTINGS)
        row = totals.loc[label]
        assert row.expected_total == pytest.approx(accounts["weight"] @ clv["expected_clv"],
                                                   rel=1e-9)
        assert row.expected_total_lower < row.expected_total < row.expected_total_upper
        assert row.predictive_total_lower < row.expected_total < row.predictive_total_upper


def test_a_weighted_row_is_as_many_independent_accounts(model, accounts):
    """Rows of weight up to 300 give the predictive bounds of the expanded table (one row
    per account) within Monte Carlo noise: 2,000 futures put a 5% or 95% quantile within
    about 4% of the interval's width of its limit (seen over seeds), so 10% holds."""
    expanded = accounts.loc[accounts.index.repeat(accounts["weight"].astype(int))].drop(
        columns="weight").reset_index(drop=True)
    options = dict(revenue_col="revenue", horizons={"3": 3, "life": None}, n_samples=2000,
                   random_state=3, **SETTINGS)
    weighted = contractual_totals(model, accounts, **options)
    full = contractual_totals(model, expanded, **options)
    width = full.predictive_total_upper - full.predictive_total_lower
    for side in ("predictive_total_lower", "predictive_total_upper"):
        assert (np.abs(weighted[side] - full[side]) < 0.10 * width).all(), side
    assert np.allclose(weighted.expected_total, full.expected_total, rtol=1e-12)
    # sums of independent accounts: far narrower than one future times the weight
    one_future = contractual_totals(model, accounts.assign(weight=1.0), **options)
    scaled = (one_future.predictive_total_upper - one_future.predictive_total_lower)
    assert (width < scaled * accounts["weight"].max() / 3).all()


def test_cash_flows_add_up_to_the_value_over_the_horizon(model, accounts):
    flows = contractual_cash_flows(model, accounts, revenue_col="revenue", periods=5, step=2,
                                   random_state=0, **SETTINGS)
    assert flows["label"].tolist() == ["years 1-2", "years 3-4", "year 5"]
    clv = contractual_lifetime_value(model, accounts, revenue_col="revenue", horizon=(5, "year"),
                                     n_samples=50, random_state=0, **SETTINGS)
    five = float(accounts["weight"] @ clv["expected_clv"])
    assert flows["present_value"].sum() == pytest.approx(five, rel=1e-9)
    assert flows.attrs["present_total"][0] == pytest.approx(five, rel=1e-9)
    # undiscounted: the expected renewals in the block times revenue and margin
    undiscounted = contractual_lifetime_value(model, accounts, revenue_col="revenue",
                                              horizon=(2, "year"), discount_rate=0.0,
                                              margin=SETTINGS["margin"], n_samples=50,
                                              random_state=0)
    assert flows["expected"].iloc[0] == pytest.approx(
        float(accounts["weight"] @ undiscounted["expected_clv"]), rel=1e-9)
    assert (flows["expected"] > flows["present_value"]).iloc[1:].all()
    assert ((flows["lower"] <= flows["expected"]) & (flows["expected"] <= flows["upper"])).all()
