"""The fast credible-interval path of customer_lifetime_value equals the numpy path:
the compiled per-row kernel (values over draws + selection of two order statistics)
and the interpolation of the discounted purchases over T."""

import numpy as np
import pytest

import clvmodels.value.kernel as ck
from clvmodels import BetaGeoModel, GammaGammaModel
from clvmodels.data.compress import compress_rows
from clvmodels.datasets import load_cdnow_summary
from clvmodels.timeunits import annual_rate_to_continuous
from clvmodels.value.intervals import credible_bounds, weibull_positions
from clvmodels.value.purchase import _expected_clv_draws, _per_pair


def _quantiles(values, level):
    sample, tmp, out = np.empty(256), np.empty(2 * values.size), np.empty(2)
    positions = weibull_positions(values.size, level)
    ck._two_quantiles(np.ascontiguousarray(values, dtype=float), positions, sample, tmp, out)
    return out


@pytest.mark.parametrize("n", [1, 2, 5, 19, 20, 100, 257, 4000])
@pytest.mark.parametrize("kind", ["uniform", "ties", "sorted", "reversed", "constant", "heavy",
                                  "infinite"])
def test_selection_equals_numpy_weibull_quantiles(n, kind):
    rng = np.random.default_rng(n)
    v = {"uniform": lambda: rng.random(n),
         "ties": lambda: rng.integers(0, 4, n).astype(float),
         "sorted": lambda: np.sort(rng.normal(size=n)),
         "reversed": lambda: np.sort(rng.normal(size=n))[::-1].copy(),
         "constant": lambda: np.full(n, 2.5),
         "heavy": lambda: rng.standard_cauchy(n),
         # e.g. spend draws with q <= 1: NaN where numpy's interpolation meets an inf
         "infinite": lambda: np.where(rng.random(n) < 0.3, np.inf, rng.normal(size=n)) * np.where(
             rng.random(n) < 0.5, -1.0, 1.0)}[kind]()
    for level in (0.5, 0.8, 0.9, 0.99, 1 - 2 / (n + 1)):  # the last: a position at 0
        with np.errstate(invalid="ignore"):  # inf - inf in numpy's interpolation
            expected = np.quantile(v, [(1 - level) / 2, (1 + level) / 2], method="weibull")
        np.testing.assert_array_equal(_quantiles(v, level), expected)


def test_selection_falls_back_when_the_sample_misleads():
    # the regular sample (every 4000/256-th value) sees only the big values: every
    # bracket misses and the full sort must take over
    v = np.full(4000, 10.0) + np.arange(4000) * 1e-3
    v[np.arange(4000) % 16 != 0] = np.linspace(-5.0, 0.0, 3750)
    expected = np.quantile(v, [0.05, 0.95], method="weibull")
    np.testing.assert_array_equal(_quantiles(v, 0.9), expected)


def test_kernel_refuses_inconsistent_shapes(cdnow_case):
    bg_model, gg_model, rows, pairs = cdnow_case
    bg, gg = _some_draws(bg_model, gg_model, 20, 0)
    per_pair = _per_pair(bg, pairs.unique, 52.0, 0.0)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        ck.clv_credible_bounds(bg, {k: v[:10] for k, v in gg.items()}, rows, per_pair,
                               pairs.inverse, 1.0, 0.9)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        ck.clv_credible_bounds(bg, gg, rows, per_pair[:-1], pairs.inverse, 1.0, 0.9)


def test_selection_gives_nan_for_nan_input():
    v = np.random.default_rng(0).random(300)
    v[17] = np.nan
    assert np.isnan(_quantiles(v, 0.9)).all()


@pytest.fixture(scope="module")
def cdnow_case():
    summary = load_cdnow_summary()
    bg = BetaGeoModel(random_state=1).fit(summary)
    gg = GammaGammaModel(random_state=2).fit(summary)
    rows = compress_rows({c: summary[c].to_numpy(float) for c in
                          ["frequency", "recency", "T", "monetary_value"]},
                         ["frequency", "recency", "T", "monetary_value"]).unique
    pairs = compress_rows(rows, ["frequency", "T"])
    return bg, gg, rows, pairs


def _some_draws(bg_model, gg_model, n, seed):
    rng = np.random.default_rng(seed)
    return [{k: v[rng.choice(v.size, n)] for k, v in m.param_draws().items()}
            for m in (bg_model, gg_model)]


@pytest.mark.parametrize("n_draws", [7, 400])
def test_kernel_bounds_equal_the_numpy_path(cdnow_case, n_draws):
    bg_model, gg_model, rows, pairs = cdnow_case
    bg, gg = _some_draws(bg_model, gg_model, n_draws, n_draws)
    delta = annual_rate_to_continuous(0.1, "week")
    per_pair = _per_pair(bg, pairs.unique, 52.0, delta, interpolate=False)
    for level in (0.8, 0.9):
        numpy_path = credible_bounds(
            _expected_clv_draws(bg, gg, rows, per_pair.T, pairs.inverse, 0.3), level, axis=0)
        kernel = ck.clv_credible_bounds(bg, gg, rows, per_pair, pairs.inverse, 0.3, level)
        assert (rows["frequency"] == 0).any() and (rows["frequency"] > 0).any()
        np.testing.assert_allclose(kernel, numpy_path, rtol=1e-12, atol=0)


def test_kernel_result_does_not_depend_on_threads(cdnow_case, monkeypatch):
    bg_model, gg_model, rows, pairs = cdnow_case
    bg, gg = _some_draws(bg_model, gg_model, 300, 3)
    per_pair = _per_pair(bg, pairs.unique, 52.0, 0.002)
    results = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(ck, "_threads", lambda n, t=threads: t)
        results.append(ck.clv_credible_bounds(bg, gg, rows, per_pair, pairs.inverse, 1.0, 0.9))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def _draws(center, n, spread, seed):
    rng = np.random.default_rng(seed)
    return {k: c * np.exp(spread * rng.normal(size=n)) for k, c in center.items()}


@pytest.mark.parametrize("case", ["days", "weeks", "tiny alpha", "long horizon"])
def test_interpolated_purchases_equal_direct_evaluation(case):
    center, T, horizon, rate = {
        "days": ({"r": 0.24, "alpha": 30.0, "a": 0.79, "b": 2.4}, np.arange(0, 730.0), 365.0, 0.1),
        "weeks": ({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}, np.arange(0, 78.0, 1 / 7), 52.0, 0.1),
        "tiny alpha": ({"r": 0.5, "alpha": 0.05, "a": 1.3, "b": 0.8}, np.linspace(0, 500, 300), 365.0, 0.3),
        "long horizon": ({"r": 0.24, "alpha": 30.0, "a": 0.79, "b": 2.4}, np.arange(0, 730.0, 3), 3650.0, 0.05),
    }[case]
    bg = _draws(center, 50, 0.05, 0)
    x = np.repeat([0.0, 1.0, 6.0, 40.0], T.size)
    pairs = {"frequency": x, "T": np.tile(T, 4)}
    delta = annual_rate_to_continuous(rate, "day") * (7.0 if case == "weeks" else 1.0)
    direct = _per_pair(bg, pairs, horizon, delta, interpolate=False)
    fast = _per_pair(bg, pairs, horizon, delta)
    np.testing.assert_allclose(fast, direct, rtol=1e-9, atol=0)
    assert not np.array_equal(fast, direct)  # interpolation was used


def test_interpolation_falls_back_where_the_quadrature_fails():
    # extreme parameters where hyp2f1 fails at T = 0 and 0.5: an interpolant through a
    # failed node would spread NaN to the whole frequency group
    bg = {"r": np.array([0.05]), "alpha": np.array([0.01]), "a": np.array([0.05]),
          "b": np.array([100.0])}
    T = np.r_[0.0, 0.5, np.arange(1.0, 200.0)]
    pairs = {"frequency": np.zeros(T.size), "T": T}
    with np.errstate(all="ignore"):
        direct = _per_pair(bg, pairs, 365.0, 0.0, interpolate=False)
        fast = _per_pair(bg, pairs, 365.0, 0.0)
    assert 0 < (~np.isfinite(direct)).sum() < 5  # the case still exercises a failure
    np.testing.assert_array_equal(fast, direct)


def test_bounds_do_not_depend_on_batch_sizes(cdnow_case, monkeypatch):
    import clvmodels.value.purchase as clv

    bg, gg, _, _ = cdnow_case
    summary = load_cdnow_summary()
    kw = dict(horizon="52 weeks", discount_rate=0.1, n_draws=None, n_samples=20,
              random_state=5)
    whole = clv.customer_lifetime_value(bg, gg, summary, **kw)
    monkeypatch.setattr(clv, "_PAIR_TABLE_NUMBERS", 50_000)  # several pair batches
    monkeypatch.setattr(clv, "_KERNEL_TABLE_NUMBERS", 1)  # rows 4,000 at a time
    monkeypatch.setattr(ck, "_threads", lambda n: 1)
    sliced = clv.customer_lifetime_value(bg, gg, summary, **kw)
    # batches split frequency groups differently, so interpolation nodes differ: last-bit
    # differences; a row given the wrong pair or draws would differ by percents
    for c in ("expected_clv_lower", "expected_clv_upper"):
        np.testing.assert_allclose(sliced[c], whole[c], rtol=1e-12, atol=0)


@pytest.mark.parametrize("discount_rate", [0.0, 0.1])
def test_mbgnbd_clv_interpolates_bgnbd_purchases_at_b_plus_one(monkeypatch, discount_rate):
    """MBG/NBD's live customer is BG/NBD's at ``b + 1``, so its CLV takes the discounted
    purchases from the same interpolation in T; bounds and values equal those of the
    direct evaluation (interpolation turned off) to 1e-9 relative."""
    import clvmodels.value.purchase as vp
    from clvmodels import ModifiedBetaGeoModel, customer_lifetime_value, simulate_mbgnbd
    from clvmodels import simulate_spend

    rng = np.random.default_rng(4)
    df = simulate_mbgnbd(3000, 0.52, 43.0, 0.89, 1.61, T=rng.integers(1, 365, 3000).astype(float),
                         time_unit="day", random_state=5)
    df["recency"] = np.floor(df["recency"])
    df["monetary_value"] = simulate_spend(df["frequency"].to_numpy(), 6.25, 3.74, 15.44,
                                          random_state=6)
    model = ModifiedBetaGeoModel().fit(df)
    gg = GammaGammaModel().fit(df)

    def clv():
        return customer_lifetime_value(model, gg, df, horizon="12 months",
                                       discount_rate=discount_rate, random_state=0)

    fast = clv()
    monkeypatch.setattr(vp, "_INTERPOLATED_IF_ALIVE", {})
    direct = clv()
    cols = ["expected_clv", "expected_clv_lower", "expected_clv_upper",
            "clv_predictive_lower", "clv_predictive_upper"]
    np.testing.assert_allclose(fast[cols].to_numpy(), direct[cols].to_numpy(), rtol=1e-9,
                               atol=1e-12)
    assert not np.array_equal(fast[cols].to_numpy(), direct[cols].to_numpy())
