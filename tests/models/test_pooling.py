"""Segments with partial pooling (clvmodels.models.covariates, ``segment=``): each
segment's parameters are drawn from a population distribution, and a small segment
borrows strength from the others."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import BetaGeoCovariateModel, GammaGammaModel, customer_lifetime_value
from clvmodels.errors import DataError
from clvmodels.simulate import simulate_bgnbd

# six segments whose purchase-rate scales alpha differ moderately (their population:
# log alpha about log 5.5 with sd 0.35), one of them with 10 customers only
TRUE_ALPHA = {"s1": 3.5, "s2": 5.0, "s3": 5.5, "s4": 6.0, "s5": 8.0, "small": 5.5}
SIZES = {"s1": 400, "s2": 400, "s3": 400, "s4": 400, "s5": 400, "small": 10}


@pytest.fixture(scope="module")
def segmented():
    rng = np.random.default_rng(3)
    parts = []
    for i, (seg, alpha) in enumerate(TRUE_ALPHA.items()):
        df = simulate_bgnbd(SIZES[seg], 0.6, alpha, 0.8, 2.5, T=40.0, random_state=10 + i)
        spend = rng.gamma(4.0, 5.0, size=len(df))
        df["monetary_value"] = np.where(df["frequency"] > 0, spend, np.nan)
        df["segment"] = seg
        parts.append(df[["frequency", "recency", "T", "monetary_value", "segment"]])
    out = pd.concat(parts, ignore_index=True)
    out.attrs["time_unit"] = "week"
    return out


@pytest.fixture(scope="module")
def pooled(segmented):
    return BetaGeoCovariateModel(segment="segment", pooled=["alpha"], draws=300, tune=300,
                                 chains=2, cores=1, target_accept=0.9,
                                 random_state=0).fit(segmented, method="mcmc")


def test_segment_parameters_find_each_segments_rate(pooled):
    table = pooled.segment_parameters(level=0.95)
    for seg in ("s1", "s2", "s3", "s4", "s5"):
        lo, hi = table.loc[(seg, "alpha"), ["lower", "upper"]]
        assert lo < TRUE_ALPHA[seg] < hi, seg
    assert table.loc[("s1", "alpha"), "estimate"] < table.loc[("s5", "alpha"), "estimate"]
    lo, hi = table.loc[("population", "sd of log alpha"), ["lower", "upper"]]
    assert lo < 0.29 < hi  # the sd of the six true log alphas
    summary = pooled.summary()
    assert (summary.loc[["r", "alpha", "a", "b", "sd:alpha|segment"], "r_hat"] < 1.05).all()


def test_a_small_segment_borrows_strength(pooled, segmented):
    """The 10-customer segment's purchase-rate interval is narrower pooled than from its
    own covariate level without pooling (maximum likelihood; measured: log-widths 1.60
    against 2.24), and its estimate is pulled from its own towards the population's."""
    table = pooled.segment_parameters(level=0.95)
    lo, hi = table.loc[("small", "alpha"), ["lower", "upper"]]
    alone = BetaGeoCovariateModel(covariates={"purchase": ["segment"]},
                                  reference={"segment": "s3"}).fit(segmented)
    coef = alone.coefficients(level=0.95).loc["alpha:segment[small]"]
    alpha_ref = alone.params_["alpha"]
    # alpha_i = alpha exp(-c): the unpooled interval of the small segment's alpha
    unpooled = (alpha_ref * np.exp(-coef["upper"]), alpha_ref * np.exp(-coef["lower"]))
    assert (np.log(hi) - np.log(lo)) < 0.9 * (np.log(unpooled[1]) - np.log(unpooled[0]))
    # shrinkage: the pooled estimate is nearer the population's than its own data alone
    population = np.log(table.loc[("population", "alpha"), "estimate"])
    alone_small = np.log(alpha_ref) - coef["estimate"]
    pooled_small = np.log(table.loc[("small", "alpha"), "estimate"])
    assert abs(pooled_small - population) < abs(alone_small - population)


def test_pooled_customers_are_valued_with_their_segments_parameters(pooled, segmented):
    gg = GammaGammaModel(random_state=0).fit(segmented)
    clv = customer_lifetime_value(pooled, gg, segmented, random_state=0)
    by = clv.groupby(segmented["segment"])["expected_purchases"].mean()
    assert by["s1"] > by["s5"]  # alpha 3.5 against 8
    alive = pooled.probability_alive(segmented)
    np.testing.assert_allclose(clv["probability_alive"], alive, rtol=1e-12)
    horizon = clv.attrs["horizon_in_model_units"]
    np.testing.assert_allclose(clv["expected_purchases"],
                               pooled.expected_purchases(segmented, t=horizon), rtol=1e-10)


def test_pooling_is_bayesian_and_segments_must_be_known(segmented, pooled):
    with pytest.raises(ValueError, match="partial pooling .* method='mcmc'"):
        BetaGeoCovariateModel(segment="segment").fit(segmented)
    other = segmented.head(3).assign(segment="new_region")
    with pytest.raises(DataError, match="segment.*new_region.*were not in the data"):
        pooled.probability_alive(other)
