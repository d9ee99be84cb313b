"""Regularity statistics in the summaries (pandas and DuckDB) and the regularity check:
its estimate on transactions with a known Erlang order, on CDNOW, and its plot."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from clvmodels import (
    DataError,
    calibration_holdout_summary,
    estimate_regularity,
    rfm_summary,
)
from clvmodels.data.regularity import log_gap_sum_array
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.evaluation.regularity import (
    RegularityEstimate,
    regularity_log_likelihood,
)


@pytest.fixture(scope="module")
def cdnow_tx():
    return load_cdnow_transactions()


def erlang_transactions(k, n, seed, *, mean_gap_days=60.0, days=730, shape_of_rates=8.0):
    """A transaction log of ``n`` customers whose gaps are Erlang-``k`` (gamma shape ``k``)
    with customer means drawn around ``mean_gap_days``, each starting on a day within
    the first 60 and observed for ``days``; a second row on some purchase days (same-day
    transactions must count once). Gaps are long against a day, so that whole-day dates
    (and merged same-day purchases) hardly bias the shape."""
    rng = np.random.default_rng(seed)
    mean = mean_gap_days * shape_of_rates / rng.gamma(shape_of_rates, 1.0, n)
    start = rng.integers(0, 60, n).astype(float)
    ids, when = [np.arange(n)], [start]
    t = start.copy()
    live = np.arange(n)
    while live.size:
        t[live] += rng.gamma(k, mean[live] / k)
        live = live[t[live] < days]
        ids.append(live)
        when.append(t[live])
    ids, when = np.concatenate(ids), np.floor(np.concatenate(when))
    extra = rng.random(ids.size) < 0.1
    amount = np.concatenate([np.ones(ids.size), np.full(int(extra.sum()), 2.0)])
    ids, when = np.concatenate([ids, ids[extra]]), np.concatenate([when, when[extra]])
    return pd.DataFrame({"customer_id": ids,
                         "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(when, "D"),
                         "amount": amount})


# ------------------------------------------------------------------ summary column
def direct_log_gap_sums(tx, unit_days, upto=None):
    days = tx.assign(d=pd.to_datetime(tx["date"]).dt.normalize())
    if upto is not None:
        days = days[days["d"] <= pd.Timestamp(upto)]
    days = days[["customer_id", "d"]].drop_duplicates().sort_values(["customer_id", "d"])
    gaps = days.groupby("customer_id")["d"].diff().dt.days.dropna()
    ids = days.loc[gaps.index, "customer_id"]
    return np.log(gaps / unit_days).groupby(ids.to_numpy()).sum()


@pytest.mark.parametrize("unit, days", [("day", 1.0), ("week", 7.0), ("month", 365.25 / 12)])
def test_log_gap_sum_is_the_sum_of_log_gaps(cdnow_tx, unit, days):
    s = rfm_summary(cdnow_tx, time_unit=unit, regularity=True)
    want = direct_log_gap_sums(cdnow_tx, days).reindex(s.index, fill_value=0.0)
    np.testing.assert_allclose(s["log_gap_sum"], want, rtol=1e-12, atol=1e-12)
    # the other columns are those of the summary without it
    pd.testing.assert_frame_equal(s.drop(columns="log_gap_sum"),
                                  rfm_summary(cdnow_tx, time_unit=unit))
    one = s["frequency"] == 1
    np.testing.assert_allclose(s.loc[one, "log_gap_sum"], np.log(s.loc[one, "recency"]),
                               rtol=1e-12)
    assert (s.loc[s["frequency"] == 0, "log_gap_sum"] == 0).all()


def test_calibration_summary_uses_calibration_gaps_only(cdnow_tx):
    cal = calibration_holdout_summary(cdnow_tx, calibration_end="1997-09-30",
                                      observation_end="1998-06-30", regularity=True)
    want = direct_log_gap_sums(cdnow_tx, 7.0, upto="1997-09-30").reindex(cal.index,
                                                                          fill_value=0.0)
    np.testing.assert_allclose(cal["log_gap_sum"], want, rtol=1e-12, atol=1e-12)
    # and the values pass the summary check (at most x log(t_x / x))
    log_gap_sum_array(cal, cal["frequency"].to_numpy(float), cal["recency"].to_numpy(),
                      "test")


def test_duckdb_summary_has_the_same_column(cdnow_tx, tmp_path):
    pytest.importorskip("duckdb")
    from clvmodels.data.duckdb_summary import rfm_summary_duckdb

    cdnow_tx.to_parquet(tmp_path / "tx.parquet")
    for unit in ("day", "week"):
        got = rfm_summary_duckdb(str(tmp_path / "tx.parquet"), time_unit=unit, regularity=True)
        want = rfm_summary(cdnow_tx, time_unit=unit, regularity=True)
        # sums of the same logs in another order: equal to the last bits or so
        np.testing.assert_allclose(got["log_gap_sum"], want["log_gap_sum"], rtol=1e-12,
                                   atol=1e-12)
        pd.testing.assert_frame_equal(got.drop(columns=["log_gap_sum", "monetary_value"]),
                                      want.drop(columns=["log_gap_sum", "monetary_value"]))


def test_inconsistent_log_gap_sum_is_refused_by_name():
    s = pd.DataFrame({"frequency": [0, 2, 3], "recency": [0.0, 2.0, 3.0],
                      "log_gap_sum": [0.0, 0.0, 1.0]}, index=["a", "b", "c"])
    # two gaps adding up to 2 have log sum at most 2 log 1 = 0; three adding to 3 at most 0
    with pytest.raises(DataError, match=r"'log_gap_sum' is larger than frequency \* log\(recency"
                                        r" / frequency\) in 1 row\(s\), first customer ids "
                                        r"\['c'\]: .*another time unit"):
        log_gap_sum_array(s, s["frequency"].to_numpy(float), s["recency"].to_numpy(), "test")
    s.loc["a", "log_gap_sum"] = 0.5
    with pytest.raises(DataError, match=r"is not 0 for customers without repeat purchases"):
        log_gap_sum_array(s, s["frequency"].to_numpy(float), s["recency"].to_numpy(), "test")
    with pytest.raises(DataError, match=r"missing column 'log_gap_sum'.*regularity=True"):
        log_gap_sum_array(s.drop(columns="log_gap_sum"), s["frequency"].to_numpy(float),
                          s["recency"].to_numpy(), "test")


# ------------------------------------------------------------------ the estimate
def test_conditional_likelihood_derivatives(rng):
    x = rng.integers(2, 30, 200).astype(float)
    gaps = [rng.gamma(2.5, 1.0, int(v)) for v in x]
    t_x = np.array([g.sum() for g in gaps])
    lgs = np.array([np.log(g).sum() for g in gaps])
    for shape in (0.5, 2.0, 7.0):
        _, d1, d2 = regularity_log_likelihood(shape, x, t_x, lgs, derivatives=2)
        f = lambda v: regularity_log_likelihood(v[0], x, t_x, lgs)
        g = lambda v: regularity_log_likelihood(v[0], x, t_x, lgs, derivatives=1)[1]
        assert d1 == pytest.approx(optimize.approx_fprime([shape], f, 1e-6)[0], rel=1e-5)
        assert d2 == pytest.approx(optimize.approx_fprime([shape], g, 1e-6)[0], rel=1e-5)
    # the unit of the gaps cancels
    assert regularity_log_likelihood(2.0, x, 7 * t_x, lgs + x * np.log(7)) == pytest.approx(
        regularity_log_likelihood(2.0, x, t_x, lgs), rel=1e-12)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_known_erlang_order_is_recovered_from_transactions(k):
    tx = erlang_transactions(k, 2000, seed=10 + k)
    est = estimate_regularity(tx)
    assert isinstance(est, RegularityEstimate) and est.erlang_k == k
    assert est.lower < k < est.upper, est
    assert est.variation == pytest.approx(1 / np.sqrt(est.shape))
    assert f"as regular as Erlang-{k}" in est.statement
    assert f"{100 / np.sqrt(est.shape):.0f}% as much as random timing" in est.statement
    assert est.p_value_random < 1e-10
    # the summary path gives the same estimate from the same purchase days
    summary = rfm_summary(tx, regularity=True)
    again = estimate_regularity(summary)
    assert again.shape == pytest.approx(est.shape, rel=1e-10)
    assert again.normalized_gaps is None and est.normalized_gaps.size == est.n_gaps


def test_few_gaps_per_customer_are_not_biased(rng):
    """Two gaps per customer, rates varying tenfold: conditioning on each customer's sum
    removes her rate, so the estimate is centred on the truth (a pooled estimate of gaps
    over the overall mean would see the rate variation as irregularity)."""
    n, shape = 4000, 4.0
    rate = rng.gamma(1.0, 1.0, n)
    g = rng.gamma(shape, 1.0, (n, 2)) / rate[:, None]
    s = pd.DataFrame({"frequency": 2, "recency": g.sum(axis=1),
                      "log_gap_sum": np.log(g).sum(axis=1)})
    est = estimate_regularity(s)
    assert abs(est.shape - shape) < 3 * est.se
    assert est.se < 0.15


def test_cdnow_is_about_as_irregular_as_random_timing(cdnow_tx):
    est = estimate_regularity(cdnow_tx)
    assert est.erlang_k == 1 and 0.85 < est.shape < 1.1
    assert est.statement.startswith("Purchases are about as regular as random (Poisson) timing")
    assert est.n_customers == int((rfm_summary(cdnow_tx)["frequency"] >= 2).sum())


def test_too_few_customers_and_bad_settings_are_named(cdnow_tx):
    with pytest.raises(DataError, match=r"only 0 customer\(s\) have 60 or more gaps.*Lower "
                                        r"min_gaps"):
        estimate_regularity(cdnow_tx, min_gaps=60)
    with pytest.raises(ValueError, match=r"The 'min_gaps' parameter of estimate_regularity "
                                         r"must be an int >= 2\. Got 1 instead\."):
        estimate_regularity(cdnow_tx, min_gaps=1)
    with pytest.raises(DataError, match=r"no 'log_gap_sum' column.*regularity=True"):
        estimate_regularity(rfm_summary(cdnow_tx))


def test_plot_shows_gaps_and_both_densities(cdnow_tx):
    import matplotlib

    matplotlib.use("Agg")
    from clvmodels.plots.regularity import plot_regularity, relative_gap_density

    est = estimate_regularity(erlang_transactions(3, 500, seed=4))
    ax = plot_regularity(est, max_ratio=3.0, bins=30)
    assert len(ax.patches) == 30 and len(ax.get_lines()) == 2
    heights = np.array([p.get_height() for p in ax.patches])
    assert heights.sum() * 0.1 == pytest.approx(1.0)  # a density over (0, 3]
    # regular gaps pile up near the customer's mean gap, unlike random timing
    mid = np.array([0.05]) + np.arange(30) * 0.1
    fitted = relative_gap_density(est.shape, est.gap_counts, mid)
    random = relative_gap_density(1.0, est.gap_counts, mid)
    assert np.abs(heights - fitted).sum() < np.abs(heights - random).sum() / 3
    with pytest.raises(ValueError, match="call estimate_regularity on the transactions"):
        plot_regularity(estimate_regularity(rfm_summary(cdnow_tx, regularity=True)))
