"""The estimator contract, checked the same way for every model (STYLE.md)."""

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import (
    BetaGeoCNBDModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoCNBDModel,
    ModifiedBetaGeoModel,
    NotFittedError,
    ParetoNBDModel,
)
from clvmodels.datasets import load_cdnow_summary
from clvmodels.models.purchase.base import PurchaseModel

MODELS = [BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel,
          ModifiedBetaGeoCNBDModel, BetaGeoCNBDModel]
PURCHASE = [m for m in MODELS if issubclass(m, PurchaseModel)]


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.mark.parametrize("cls", MODELS)
def test_fit_returns_self_and_keeps_settings(cls, cdnow):
    model = cls(draws=50, random_state=3)
    assert model.fit(cdnow) is model
    assert model.draws == 50 and model.random_state == 3 and model.time_unit is None
    assert model.time_unit_ == "week"
    assert dict(model.draws_.sizes) == {"chain": 1, "draw": 50}
    assert set(model.draws_.data_vars) == set(cls.param_names)


@pytest.mark.parametrize("cls", MODELS)
def test_not_fitted_error_has_one_wording(cls):
    with pytest.raises(NotFittedError, match=f"This {cls.__name__} instance is not fitted yet"):
        cls().summary()


@pytest.mark.parametrize("cls", MODELS)
def test_bad_setting_uses_parameter_template(cls, cdnow):
    with pytest.raises(ValueError, match=rf"The 'draws' parameter of {cls.__name__} must be an "
                                         r"int >= 2\. Got 0 instead\."):
        cls(draws=0).fit(cdnow)


@pytest.mark.parametrize("cls", MODELS)
def test_time_unit_mismatch_is_refused(cls, cdnow):
    with pytest.raises(ValueError, match="time_unit='day' but the data's summary is in 'week'"):
        cls(time_unit="day").fit(cdnow)


@pytest.mark.parametrize("cls", MODELS)
def test_draws_follow_the_asymptotic_normal(cls, cdnow):
    model = cls(draws=4000, random_state=1).fit(cdnow)
    logs = np.log(np.column_stack([model.param_draws()[n] for n in cls.param_names]))
    np.testing.assert_allclose(logs.mean(axis=0), model.log_params_,
                               atol=4 * np.sqrt(np.diag(model.covariance_log_) / 4000).max())
    # sampling error with 4,000 draws: ~2.2% on variances, ~0.016 on correlations
    cov = model.covariance_log_
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(logs.var(axis=0, ddof=1), sd**2, rtol=0.1)
    np.testing.assert_allclose(np.corrcoef(logs.T), cov / np.outer(sd, sd), atol=0.07)


@pytest.mark.parametrize("cls", MODELS)
def test_missing_column_names_the_column(cls):
    from clvmodels import DataError

    with pytest.raises(DataError, match=r"missing column\(s\) \['recency'"):
        cls().fit(pd.DataFrame({"frequency": [1], "T": [2.0], "monetary_value": [3.0]}))


def test_compression_does_not_change_the_fit(cdnow):
    doubled = pd.concat([cdnow, cdnow])
    doubled.index = range(len(doubled))
    doubled.attrs = dict(cdnow.attrs)
    a = BetaGeoModel().fit(cdnow)
    b = BetaGeoModel().fit(doubled)
    np.testing.assert_allclose(a.params_, b.params_, rtol=1e-5)
    assert b.log_likelihood_ == pytest.approx(2 * a.log_likelihood_, rel=1e-9)
    assert b.n_unique_ == a.n_unique_


@pytest.mark.parametrize("cls", PURCHASE)
def test_purchase_predictions_follow_one_interface(cls, cdnow):
    """Every purchase model answers the same questions, consistently with itself."""
    model = cls(random_state=0).fit(cdnow)
    rows = cdnow.head(50)
    alive = model.probability_alive(rows)
    assert alive.between(0, 1).all() and alive.name == "probability_alive"
    e = model.expected_purchases(rows, 39.0)
    assert (e >= 0).all() and (model.expected_purchases(rows, 78.0) >= e).all()
    # a new customer: E[X(t)] is the mean of P(X(t) = k)
    k = np.arange(0, 200)
    pmf = model.probability_of_purchases(k, 52.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-6)
    assert (k * pmf).sum() == pytest.approx(float(model.expected_purchases_new_customer(52.0)),
                                            rel=1e-5)
    # the cohort tracking forecast sums the new-customer expectation over first purchases
    cum = model.expected_cumulative_purchases([0.0, 0.0, 10.0], [52.0])
    assert cum[0] == pytest.approx(2 * float(model.expected_purchases_new_customer(52.0))
                                   + float(model.expected_purchases_new_customer(42.0)))


# ------------------------------------------------- every registered purchase model
def _purchase_models():
    from clvmodels.models.registry import registered_models

    return [c for c in registered_models().values() if issubclass(c, PurchaseModel)]


@pytest.fixture(scope="module")
def donations():
    from clvmodels.datasets import load_donations

    return load_donations()


@pytest.fixture(scope="module")
def near_homogeneous():
    """Customers who differ little (purchase rates with shape 20, drop-out probabilities
    with a + b = 100): data the nested limits are made for (on CDNOW, whose customers
    differ a lot, a one-rate or one-probability model is the wrong model)."""
    return clvmodels.simulate_bgnbd(3000, r=20.0, alpha=200.0, a=20.0, b=80.0,
                                    T=np.linspace(20.0, 60.0, 3000), random_state=7)


@pytest.mark.parametrize("cls", _purchase_models(), ids=lambda c: c.__name__)
def test_every_purchase_model_answers_the_interface_and_round_trips(
        cls, cdnow, donations, near_homogeneous, tmp_path):
    """The same checks for every purchase model a fit can return, the nested limits
    (a boundary is an answer) and the discrete-time BG/BB family included."""
    discrete = getattr(cls, "discrete_time", False)
    limit = "Homogeneous" in cls.__name__
    data, t = ((donations, 3) if discrete else (near_homogeneous, 39.0) if limit
               else (cdnow, 39.0))
    model = cls(random_state=0)
    assert model.fit(data) is model
    assert np.isfinite(model.log_likelihood_) and model.params_.max() < 1e3  # no runaway values
    rows = data.head(20)
    alive = model.probability_alive(rows)
    assert alive.between(0, 1).all()
    e = model.expected_purchases(rows, t)
    assert (e >= 0).all() and (model.expected_purchases(rows, 2 * t) >= e - 1e-12).all()
    k = np.arange(0, 300)
    pmf = model.probability_of_purchases(k, t)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-6)
    assert (k * pmf).sum() == pytest.approx(float(model.expected_purchases_new_customer(t)),
                                            rel=1e-5)
    # simulate_future given the P(alive) it would compute itself gives the same futures
    # from the same seed; given P(alive) = 0, nobody buys (the value path passes its
    # table of P(alive) per draw instead of having it computed per simulated future)
    simulate = type(model).formula("simulate_future")  # the fit may have become its limit
    cust = {c: rows[c].to_numpy(dtype=float)[:, None]
            for c in ("frequency", "recency", "n_periods" if discrete else "T")}
    if discrete:
        cust["T"] = cust.pop("n_periods")
    params = {k: np.full((1, 400), v) for k, v in model.point_params().items()}
    kw = {"horizon": t, getattr(type(model), "discount_keyword", "delta"): 0.01}
    given = alive.to_numpy()[:, None]
    own = simulate(**params, **cust, **kw, rng=np.random.default_rng(5))
    passed = simulate(**params, **cust, **kw, rng=np.random.default_rng(5),
                      alive_probability=given)
    np.testing.assert_array_equal(own[0], passed[0])
    assert own[0].shape == (20, 400) and own[0].sum() > 0
    dead = simulate(**params, **cust, **kw, rng=np.random.default_rng(5),
                    alive_probability=np.zeros((20, 1)))
    assert not dead[0].any()
    model.save(tmp_path / "m")
    back = clvmodels.load_model(tmp_path / "m")
    assert type(back) is type(model)
    pd.testing.assert_series_equal(back.expected_purchases(rows, t), e)
