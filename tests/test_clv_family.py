"""CLV and holdout scoring for every purchase model through the PurchaseModel interface
(MBG/NBD and Pareto/NBD on the generic path; BG/NBD keeps its fast path, held by
tests/test_clv.py and tests/test_clv_kernel.py)."""

import copy

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clvmodels import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    customer_lifetime_value,
    evaluate_holdout,
)
from clvmodels.datasets import load_cdnow_summary
from clvmodels.models.purchase.mbgnbd import simulate_mbgnbd
from clvmodels.models.purchase.pnbd import simulate_pnbd
from clvmodels.models.spend.gamma_gamma import gamma_gamma_expected_spend
from clvmodels.timeunits import annual_rate_to_continuous
from clvmodels.value.purchase import simulate_model_futures

FAMILY = [ModifiedBetaGeoModel, ParetoNBDModel]
#: expected holdout purchases on CDNOW (39 weeks) at the maximum-likelihood fit
CDNOW_EXPECTED_TOTAL = {ModifiedBetaGeoModel: 1576.73, ParetoNBDModel: 1665.51}


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def gg(cdnow):
    return GammaGammaModel(random_state=2).fit(cdnow)


@pytest.fixture(scope="module")
def fitted(cdnow):
    return {cls: cls(random_state=1).fit(cdnow) for cls in [BetaGeoModel, *FAMILY]}


def equal_draws(model, n=50):
    """A copy of ``model`` whose parameter draws all equal its point estimate."""
    out = copy.deepcopy(model)
    out.draws_ = xr.Dataset({k: (("chain", "draw"), np.full((1, n), v))
                             for k, v in model.point_params().items()})
    return out


@pytest.mark.parametrize("cls", FAMILY)
def test_zero_rate_point_clv_is_purchases_times_spend_times_margin(cls, fitted, gg, cdnow):
    model = fitted[cls]
    out = customer_lifetime_value(model, gg, cdnow, horizon="52 weeks", margin=0.3,
                                  n_samples=20, random_state=0)
    np.testing.assert_allclose(out.expected_clv, out.expected_purchases * out.expected_spend * 0.3,
                               rtol=1e-8)
    np.testing.assert_allclose(out.expected_purchases, model.expected_purchases(cdnow, 52.0),
                               rtol=1e-12)
    np.testing.assert_allclose(out.probability_alive, model.probability_alive(cdnow), rtol=1e-12)
    bg = customer_lifetime_value(fitted[BetaGeoModel], gg, cdnow, horizon="52 weeks",
                                 margin=0.3, n_samples=20, random_state=0)
    assert list(out.columns) == list(bg.columns) and out.index.equals(cdnow.index)
    assert out.attrs == bg.attrs


@pytest.mark.parametrize("cls", [BetaGeoModel, *FAMILY])
def test_simulated_futures_match_the_expectations(cls, fitted, gg, rng):
    """One parameter draw (no parameter uncertainty): the means of simulated counts,
    discounted counts and discounted spend equal the model's conditional expectation,
    P(alive) x discounted purchases if alive, and that times the expected spend,
    within 4 Monte Carlo standard errors."""
    model, n = fitted[cls], 200_000
    params = model.point_params()
    rows = {"frequency": np.array([0.0, 2, 10]), "recency": np.array([0.0, 30.43, 35]),
            "T": np.array([20.0, 38.86, 39]), "monetary_value": np.array([np.nan, 40.0, 25.0])}
    cust = {c: rows[c] for c in ("frequency", "recency", "T")}
    delta = annual_rate_to_continuous(0.2, "week")
    grid = {k: np.full((3, n), v) for k, v in params.items()}
    count, disc = cls.formula("simulate_future")(
        **grid, **{c: v[:, None] for c, v in cust.items()}, horizon=52.0, delta=delta, rng=rng)
    pa = cls.formula("probability_alive")(**params, **cust)
    expected = {
        "count": cls.formula("conditional_expected_purchases")(**params, **cust, t=52.0),
        "discounted": pa * cls.formula("discounted_purchases_if_alive")(
            **params, frequency=rows["frequency"], T=rows["T"], horizon=52.0, delta=delta),
    }
    assert ((disc <= count) & (disc >= count * np.exp(-delta * 52.0))).all()
    sims = simulate_model_futures(equal_draws(model), rows, 52.0, delta, n, rng,
                                  spend_model=equal_draws(gg))
    spend = gamma_gamma_expected_spend(**gg.point_params(), frequency=rows["frequency"],
                                       monetary_value=rows["monetary_value"])
    expected["value"] = expected["discounted"] * spend
    for name, s in (("count", count), ("discounted", disc), ("value", sims.value)):
        se = s.std(axis=1) / np.sqrt(n)
        assert (np.abs(s.mean(axis=1) - expected[name]) < 4 * se).all(), name
    np.testing.assert_allclose(sims.purchases.mean(axis=1), expected["count"], rtol=0.05)


@pytest.mark.parametrize("cls", FAMILY)
def test_credible_interval_brackets_the_point_and_collapses_without_uncertainty(
        cls, fitted, gg, cdnow):
    kw = dict(horizon="52 weeks", discount_rate=0.1, margin=0.5, n_samples=300, random_state=3)
    out = customer_lifetime_value(fitted[cls], gg, cdnow, **kw)
    inside = ((out.expected_clv_lower <= out.expected_clv)
              & (out.expected_clv <= out.expected_clv_upper))
    assert inside.mean() > 0.95
    assert (out.expected_clv_lower < out.expected_clv_upper).all()
    assert (out.clv_predictive_lower <= out.clv_predictive_upper).all()
    wider = ((out.clv_predictive_upper - out.clv_predictive_lower)
             >= (out.expected_clv_upper - out.expected_clv_lower))
    # except for customers probably gone, whose predictive interval is [0, 0] or near it
    assert wider.mean() > 0.95
    assert (out.clv_predictive_upper[~wider] < out.expected_clv[~wider] * 10).all()
    fixed = customer_lifetime_value(equal_draws(fitted[cls]), equal_draws(gg), cdnow, **kw)
    for c in ("expected_clv_lower", "expected_clv_upper"):
        np.testing.assert_allclose(fixed[c], fixed.expected_clv, rtol=1e-12, atol=0)
    np.testing.assert_allclose(fixed.expected_clv, out.expected_clv, rtol=1e-12)


@pytest.mark.parametrize("cls", FAMILY)
def test_bounds_do_not_depend_on_block_size_and_seed_reproduces(cls, fitted, gg, cdnow,
                                                                monkeypatch):
    from clvmodels.value import purchase as clv

    kw = dict(horizon="52 weeks", discount_rate=0.1, n_draws=40, n_samples=20, random_state=5)
    whole = clv.customer_lifetime_value(fitted[cls], gg, cdnow, **kw)
    pd.testing.assert_frame_equal(whole, clv.customer_lifetime_value(fitted[cls], gg, cdnow, **kw))
    monkeypatch.setattr(clv, "_GENERIC_TABLE_NUMBERS", 40 * 97)  # 97 rows per chunk
    sliced = clv.customer_lifetime_value(fitted[cls], gg, cdnow, **kw)
    for c in ("expected_clv_lower", "expected_clv_upper"):
        np.testing.assert_allclose(sliced[c], whole[c], rtol=1e-12, atol=0)


@pytest.mark.parametrize("cls, simulate, truth", [
    (ModifiedBetaGeoModel, simulate_mbgnbd, (0.52, 6.18, 0.89, 1.61)),
    (ParetoNBDModel, simulate_pnbd, (0.55, 10.6, 0.61, 11.7)),
])
def test_predictive_coverage_on_data_simulated_from_the_model(cls, simulate, truth):
    """Fit on calibration data simulated from the model itself; the 90% predictive
    intervals of the holdout counts hold the nominal share (randomized PIT)."""
    n = 3000
    rng = np.random.default_rng(11)
    sim = simulate(n, *truth, T=rng.integers(26, 53, n).astype(float), holdout=39.0,
                   random_state=12)
    model = cls(random_state=13).fit(sim)
    score = evaluate_holdout(model, sim, level=0.9, n_samples=500, random_state=14)
    m = score.metrics
    assert abs(m.coverage - 0.9) < 0.02, m
    assert m.coverage_conventional >= 0.9
    assert abs(m.aggregate_error) < 0.1


@pytest.mark.parametrize("cls", FAMILY)
def test_evaluate_holdout_on_cdnow(cls, fitted, cdnow):
    model = fitted[cls]
    score = evaluate_holdout(model, cdnow, n_samples=300, random_state=0)
    m = score.metrics
    assert m.actual_total == 1882 and m.holdout_length == 39.0
    assert m.expected_total == pytest.approx(model.expected_purchases(cdnow, 39.0).sum(),
                                             rel=1e-12)
    assert m.expected_total == pytest.approx(CDNOW_EXPECTED_TOTAL[cls], abs=0.01)
    assert 0.85 < m.coverage < 0.95
    assert len(score.per_customer) == 2357


def test_non_purchase_models_are_refused(gg, cdnow):
    with pytest.raises(TypeError, match="'transaction_model' parameter of customer_lifetime_value "
                                        "must be a fitted purchase model"):
        customer_lifetime_value(gg, gg, cdnow)
    with pytest.raises(TypeError, match="'model' parameter of evaluate_holdout must be a fitted "
                                        "purchase model"):
        evaluate_holdout(gg, cdnow)
