"""BG/CNBD-k: k = 1 is BG/NBD exactly (the CDNOW reference fit), customers without
repeat purchases are alive, a long pause for her rhythm lowers P(alive) below BG/NBD's,
parameters and k are recovered from simulated regular customers. The math shared with
MBG/CNBD-k is checked for both variants in test_mbgcnbd.py."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import (
    BetaGeoCNBDModel,
    BetaGeoModel,
    FitError,
    calibration_holdout_summary,
    load_model,
    simulate_bgcnbd,
)
from clvmodels.datasets import load_cdnow_summary, load_cdnow_transactions
from clvmodels.models.purchase.bgcnbd import (
    bgcnbd_conditional_expected_purchases,
    bgcnbd_probability_alive,
    bgcnbd_simulate_future,
)
from clvmodels.models.purchase.bgnbd import bgnbd_probability_alive

REF = (0.2426, 4.4135, 0.7929, 2.4258)  # REFERENCES.md, LL -9582.43
NAMES = ("r", "alpha", "a", "b")


@pytest.fixture(scope="module")
def regular():
    """10,000 BG/CNBD-5 customers, one to two years old, with half a year of holdout."""
    T = np.random.default_rng(3).uniform(52, 104, 10_000)
    return simulate_bgcnbd(10_000, 5, 1.2, 5.0, 0.6, 2.5, T=T, holdout=26.0, random_state=4)


def test_k1_reproduces_the_bgnbd_reference_fit():
    with_gaps = calibration_holdout_summary(load_cdnow_transactions(),
                                            calibration_end="1997-09-30",
                                            observation_end="1998-06-30", regularity=True)
    for data in (load_cdnow_summary(), with_gaps):
        model = BetaGeoCNBDModel(k=1).fit(data)
        for name, ref in zip(NAMES, REF):
            assert abs(model.params_[name] / ref - 1) < 5e-4, (name, model.params_[name])
        assert model.log_likelihood_ == pytest.approx(-9582.43, abs=0.005)
    bg = BetaGeoModel().fit(data)
    np.testing.assert_allclose(model.params_, bg.params_, rtol=1e-6)
    auto = BetaGeoCNBDModel().fit(with_gaps)
    assert auto.k_ == 1 and auto.log_likelihood_ == pytest.approx(model.log_likelihood_)
    # in words: the BG/NBD's sentences, and k = 1 is its random timing, set or chosen
    words, bg_words = model.describe_parameters(), bg.describe_parameters()
    assert words["r"] == bg_words["r"] and words["a"] == bg_words["a"]
    assert words["alpha"].startswith(bg_words["alpha"] + " Purchases come at random times")
    assert "Erlang-k with k = 1 (set for the fit), as in the BG/NBD" in words["alpha"]
    assert "k = 1 (chosen by likelihood over k = 1 to 3)" in auto.describe_parameters()["alpha"]
    assert (model.parameter_count(), auto.parameter_count()) == (4, 5)


def test_customers_without_repeat_purchases_are_alive(rng):
    T = np.array([0.0, 1.0, 39.0, 1e4])
    for k in (1, 3, 12):
        np.testing.assert_array_equal(bgcnbd_probability_alive(*REF, k, np.zeros(4), 0.0, T),
                                      1.0)
    # and their simulated futures all start alive: the mean count is the expectation of
    # a live customer in her first gap, five weeks in
    draws = [np.full((1, 20_000), v) for v in REF]
    n, _ = bgcnbd_simulate_future(*draws, 3, 0.0, 0.0, 5.0, 52.0, 0.0, rng)
    want = bgcnbd_conditional_expected_purchases(*REF, 3, 0, 0.0, 5.0, 52.0)
    assert abs(n.mean() - want) < 4 * n.std() / np.sqrt(n.size)


def test_long_pause_for_her_rhythm_lowers_probability_alive():
    """Ten purchases in 30 weeks, silent for 9: less likely alive than BG/NBD says (at the
    same parameters), the more so the more regular; silent for less than a gap: not."""
    pa = [float(bgcnbd_probability_alive(*REF, k, 10, 30.0, 38.86)) for k in (1, 2, 4, 8)]
    assert pa[0] == pytest.approx(float(bgnbd_probability_alive(*REF, 10, 30.0, 38.86)))
    assert pa[0] > pa[1] > pa[2] > pa[3]
    short = [float(bgcnbd_probability_alive(*REF, k, 10, 37.0, 38.86)) for k in (1, 4)]
    assert short[1] > short[0]


def test_regular_customers_recovered_and_judged_better(regular):
    """k = 5 and the parameters recovered (within 4 standard errors), and for customers
    silent for three of their mean gaps or more, P(alive) closer to the share truly
    alive than BG/NBD's; holdout forecasts beat BG/NBD's."""
    truth = np.array([1.2, 5.0, 0.6, 2.5])
    model = BetaGeoCNBDModel().fit(regular)
    bg = BetaGeoModel().fit(regular)
    assert model.k_ == 5 and list(model.k_log_likelihoods_.index)[-1] == 7
    s = model.summary()
    assert np.all(np.abs(s["estimate"].to_numpy() - truth) < 4 * s["se"].to_numpy())
    x, t_x, T = (regular[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    pause = (x >= 3) & (T - t_x > 3 * t_x / np.maximum(x, 1))
    truth_alive = regular["true_alive"][pause].mean()
    pa, pa_bg = (m.probability_alive(regular)[pause].mean() for m in (model, bg))
    assert pa < pa_bg and abs(pa - truth_alive) < abs(pa_bg - truth_alive) / 3
    h = regular["holdout_frequency"].to_numpy()
    mae, mae_bg = (np.abs(m.expected_purchases(regular, 26.0).to_numpy() - h).mean()
                   for m in (model, bg))
    assert mae < 0.97 * mae_bg


@pytest.fixture(scope="module")
def same_dropout():
    """3,000 BG/CNBD-3 customers, two years old, with one drop-out probability p = 0.25
    (a beta with a + b = 1e6); on this draw maximum likelihood runs a and b to infinity."""
    return simulate_bgcnbd(3000, 3, 1.0, 4.0, 2.5e5, 7.5e5, T=104.0, random_state=3)


def test_homogeneous_dropout_is_a_fit_error_in_words(same_dropout):
    model = BetaGeoCNBDModel(k=3)
    with pytest.raises(FitError, match=r"^BetaGeoCNBDModel at Erlang order k = 3: the drop-out "
                                       r"probability looks the same for every customer: maximum "
                                       r"likelihood drives a and b of its beta distribution to "
                                       r"infinity together") as info:
        model.fit(same_dropout)
    text = str(info.value)
    assert "the Erlang-k models have no such limit model yet" in text
    assert "fit with method='map'" in text and "or fit BetaGeoModel (random timing)" in text
    assert "--model bgnbd" in info.value.cli_message
    assert not hasattr(model, "params_")


def test_homogeneous_dropout_fits_by_map_and_round_trips(same_dropout, tmp_path):
    model = BetaGeoCNBDModel(k=3, draws=200, random_state=0).fit(same_dropout, method="map")
    v = model.params_
    assert v["a"] / (v["a"] + v["b"]) == pytest.approx(0.25, abs=0.02)
    back = load_model(model.save(tmp_path / "m"), expected_type=BetaGeoCNBDModel)
    assert back.k_ == 3 and back.fit_method_ == "map"
    rows = same_dropout.head(20)
    pd.testing.assert_series_equal(back.expected_purchases(rows, 26.0),
                                   model.expected_purchases(rows, 26.0))
