"""The value of a newly acquired customer (clvmodels/value/new_customer.py)."""

import numpy as np
import pytest

import clvmodels as clv
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.value.new_customer import new_customer_value

MODELS = [clv.BetaGeoModel, clv.ModifiedBetaGeoModel, clv.ParetoNBDModel]


@pytest.fixture(scope="module")
def summary():
    return clv.rfm_summary(load_cdnow_transactions(), observation_end="1998-06-30")


@pytest.fixture(scope="module")
def gg(summary):
    return clv.GammaGammaModel(random_state=0).fit(summary)


@pytest.fixture(scope="module")
def fitted(summary):
    return {cls: cls(random_state=0).fit(summary) for cls in MODELS}


def _mean_spend(gg):
    p, q, g = (gg.point_params()[k] for k in ("p", "q", "gamma"))
    return p * g / (q - 1.0)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_undiscounted_value_is_first_plus_expected_repeat_purchases_times_spend(cls, fitted,
                                                                                 gg):
    """At a zero rate: margin x mean spend x (1 + E[X(t)] of a new customer), the model's
    own new-customer expectation (for MBG/NBD it includes leaving after the first
    purchase)."""
    model = fitted[cls]
    v = new_customer_value(model, gg, horizon="2 years", margin=0.4, random_state=0)
    t = 2 * 365.25 / 7
    e = float(np.asarray(model.expected_purchases_new_customer(t)).ravel()[0])
    assert v.expected_value == pytest.approx(0.4 * _mean_spend(gg) * (1.0 + e), rel=1e-9)
    assert v.expected_repeat_purchases == pytest.approx(e, rel=1e-12)
    without = new_customer_value(model, gg, horizon="2 years", margin=0.4,
                                 include_first_purchase=False, random_state=0)
    assert v.expected_value - without.expected_value == pytest.approx(0.4 * _mean_spend(gg),
                                                                      rel=1e-9)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_simulated_new_customers_average_to_the_expected_value(cls, fitted, gg):
    v = new_customer_value(fitted[cls], gg, horizon="3 years", discount_rate=0.10, margin=0.3,
                           n_samples=40_000, random_state=1)
    se = v.attrs["predictive_sd"] / np.sqrt(v.attrs["n_samples"])
    # the simulated mean averages over parameter draws, the point value sits at the MLE:
    # allow the credible half-width on top of 4 Monte Carlo standard errors
    slack = 4 * se + (v.expected_value_upper - v.expected_value_lower) / 2
    assert abs(v.attrs["predictive_mean"] - v.expected_value) < slack
    assert v.expected_value_lower < v.expected_value < v.expected_value_upper
    assert v.predictive_lower < v.expected_value < v.predictive_upper
    # one purchase's margin is about the least a new customer brings
    assert v.predictive_lower < 0.3 * _mean_spend(gg)
    assert v.break_even_cac == v.expected_value


def test_discounting_and_horizon_order_the_values(fitted, gg):
    bg = fitted[clv.BetaGeoModel]
    values = [new_customer_value(bg, gg, horizon=h, discount_rate=r, random_state=0)
              .expected_value for h, r in (("1 year", 0.1), ("3 years", 0.1), ("3 years", 0.0))]
    assert values[0] < values[1] < values[2]
    with pytest.raises(ValueError, match="Did you mean 0.30"):
        new_customer_value(bg, gg, margin=30)
