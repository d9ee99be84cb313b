"""RFM summaries, calibration/holdout and tracking: published CDNOW values, lifetimes
0.11.3 as an oracle, a pandas groupby reference, and every error."""

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes.utils import (
    calibration_and_holdout_data,
    summary_data_from_transaction_data,
)

from clvmodels.data import (
    calibration_holdout_summary,
    repeat_purchase_tracking,
    rfm_summary,
)
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import DataError

CAL_END, OBS_END = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_transactions()


@pytest.fixture(scope="module")
def cdnow_split(cdnow):
    return calibration_holdout_summary(cdnow, calibration_end=CAL_END, observation_end=OBS_END)


def synthetic(rng, n_rows=3000, n_customers=300, n_days=200, start="2024-01-01", step=1):
    """Random transactions with same-day repeats; dates ``step`` days apart."""
    ids = rng.choice(np.array([f"c{i:04d}" for i in range(n_customers)]), n_rows)
    offsets = rng.integers(0, n_days, n_rows) * step
    return pd.DataFrame(
        {"customer_id": ids,
         "date": pd.Timestamp(start) + pd.to_timedelta(offsets, unit="D"),
         "amount": np.round(rng.gamma(2.0, 20.0, n_rows), 2)}
    )


def reference_rfm(tx, end, unit_days):
    """The convention written with pandas groupby, as an independent reference."""
    daily = tx.groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    daily = daily.sort_values(["customer_id", "date"])
    g = daily.groupby("customer_id")
    first, last, n = g["date"].min(), g["date"].max(), g.size()
    repeat_total = g["amount"].sum() - g["amount"].first()
    frequency = n - 1
    return pd.DataFrame(
        {"frequency": frequency,
         "recency": (last - first).dt.days / unit_days,
         "T": (pd.Timestamp(end) - first).dt.days / unit_days,
         "monetary_value": (repeat_total / frequency).where(frequency > 0)}
    )


# ----------------------------------------------------------------- published CDNOW values


def test_cdnow_calibration_published_values(cdnow_split):
    s = cdnow_split
    assert len(s) == 2357
    assert s["frequency"].sum() == 2457
    assert (s["frequency"] == 0).sum() == 1411
    assert (s["frequency"] > 0).sum() == 946
    assert s["holdout_frequency"].sum() == 1882
    assert (s["holdout_length"] == 39.0).all()
    assert s.attrs == {"time_unit": "week", "calibration_end": CAL_END,
                       "observation_end": OBS_END, "holdout_length": 39.0}
    # customer 1: purchases on 1997-01-01, 01-18, 08-02 (calibration), 12-12 (holdout)
    one = s.loc[1]
    assert one["frequency"] == 2
    assert one["recency"] == pytest.approx(213 / 7, abs=1e-12)
    assert one["T"] == pytest.approx(272 / 7, abs=1e-12)
    assert one["monetary_value"] == pytest.approx((29.73 + 14.96) / 2, abs=1e-12)
    assert s["monetary_value"].isna().sum() == 1411


def test_cdnow_tracking_published_values(cdnow):
    track = repeat_purchase_tracking(cdnow, start="1997-01-01", time_unit="week")
    assert track.index.tolist() == list(range(1, 79))
    assert track.loc[20:25, "cumulative_repeat_purchases"].tolist() == [
        1359, 1414, 1484, 1517, 1573, 1672]
    assert track.loc[78, "cumulative_repeat_purchases"] == 4339
    # calibration (weeks 1-39) and holdout (weeks 40-78) add up to the split's totals
    assert track.loc[39, "cumulative_repeat_purchases"] == 2457
    assert track.loc[40:, "repeat_purchases"].sum() == 1882
    assert track.attrs == {"time_unit": "week", "start": "1997-01-01", "end": "1998-06-30"}


def test_cdnow_rfm_full_period(cdnow):
    s = rfm_summary(cdnow)
    assert s.attrs == {"time_unit": "week", "observation_end": OBS_END}
    assert s["frequency"].sum() == 2457 + 1882
    assert s.index.name == "customer_id" and s.index.is_monotonic_increasing
    assert s.index.dtype == np.int64
    assert s["frequency"].dtype == np.int64


# --------------------------------------------------------------- lifetimes 0.11.3 oracle


def lifetimes_frame(result):
    return result.rename_axis("customer_id").sort_index()


@pytest.mark.parametrize(("unit", "multiplier"), [("day", 1), ("week", 7)])
def test_matches_lifetimes_daily_periods_on_cdnow(cdnow, unit, multiplier):
    tx = cdnow[cdnow["date"] <= CAL_END]
    ours = rfm_summary(tx, observation_end=CAL_END, time_unit=unit)
    theirs = lifetimes_frame(summary_data_from_transaction_data(
        tx, "customer_id", "date", "amount", observation_period_end=CAL_END,
        freq="D", freq_multiplier=multiplier))
    expected = theirs.assign(frequency=theirs["frequency"].astype(np.int64))
    # lifetimes reports monetary_value 0 where there is no repeat purchase; we say NaN
    got = ours.assign(monetary_value=ours["monetary_value"].fillna(0.0))
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_matches_lifetimes_daily_periods_on_random_data(rng):
    tx = synthetic(rng)
    ours = rfm_summary(tx, time_unit="day", observation_end="2024-08-01")
    theirs = lifetimes_frame(summary_data_from_transaction_data(
        tx, "customer_id", "date", "amount", observation_period_end="2024-08-01", freq="D"))
    pd.testing.assert_index_equal(ours.index, theirs.index, exact=False)
    np.testing.assert_array_equal(ours["frequency"], theirs["frequency"])
    np.testing.assert_allclose(ours[["recency", "T"]], theirs[["recency", "T"]], rtol=1e-12)
    np.testing.assert_allclose(ours["monetary_value"].fillna(0), theirs["monetary_value"],
                               rtol=1e-12)


def test_matches_lifetimes_weekly_periods_on_mondays(rng):
    # lifetimes' freq='W' merges a customer's purchases in the same calendar week and
    # measures from the Monday starting the week; on data dated only on Mondays (and
    # ending on a Monday) that is exactly our same-day convention in weeks.
    tx = synthetic(rng, n_days=60, step=7, start="2024-01-01")  # 2024-01-01 is a Monday
    end = "2025-03-03"  # a Monday
    ours = rfm_summary(tx, observation_end=end, time_unit="week")
    theirs = lifetimes_frame(summary_data_from_transaction_data(
        tx, "customer_id", "date", "amount", observation_period_end=end, freq="W"))
    np.testing.assert_array_equal(ours["frequency"], theirs["frequency"])
    np.testing.assert_allclose(ours[["recency", "T"]], theirs[["recency", "T"]], rtol=1e-12)
    np.testing.assert_allclose(ours["monetary_value"].fillna(0), theirs["monetary_value"],
                               rtol=1e-12)


def test_matches_lifetimes_calibration_holdout(cdnow):
    # lifetimes' monetary_value_holdout is a mean over raw lines, not over purchase days,
    # so compare on data whose same-day lines are already merged.
    daily = cdnow.groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    ours = calibration_holdout_summary(daily, calibration_end=CAL_END, observation_end=OBS_END)
    theirs = lifetimes_frame(calibration_and_holdout_data(
        daily, "customer_id", "date", calibration_period_end=CAL_END,
        observation_period_end=OBS_END, freq="D", freq_multiplier=7,
        monetary_value_col="amount"))
    pairs = {"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal",
             "monetary_value": "monetary_value_cal", "holdout_frequency": "frequency_holdout",
             "holdout_monetary_value": "monetary_value_holdout",
             "holdout_length": "duration_holdout"}
    for ours_col, theirs_col in pairs.items():
        np.testing.assert_allclose(ours[ours_col].fillna(0), theirs[theirs_col], rtol=1e-12,
                                   err_msg=ours_col)
    # and on the raw file every count agrees too
    raw = calibration_holdout_summary(cdnow, calibration_end=CAL_END, observation_end=OBS_END)
    np.testing.assert_array_equal(raw["holdout_frequency"], theirs["frequency_holdout"])


# ----------------------------------------------------------------- convention details


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), unit=st.sampled_from(["day", "week", "month", "year"]),
       n_rows=st.integers(1, 60))
def test_matches_groupby_reference(seed, unit, n_rows):
    rng = np.random.default_rng(seed)
    tx = synthetic(rng, n_rows=n_rows, n_customers=8, n_days=40)
    days = {"day": 1, "week": 7, "month": 365.25 / 12, "year": 365.25}[unit]
    ours = rfm_summary(tx, observation_end="2024-03-01", time_unit=unit)
    ref = reference_rfm(tx, "2024-03-01", days)
    pd.testing.assert_frame_equal(ours, ref, check_exact=False, rtol=1e-12, check_names=False,
                                  check_index_type=False)


def test_observation_end_is_inclusive_and_defaults_to_last_date():
    tx = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [1.0, 2.0, 3.0],
                       "date": ["2024-01-01", "2024-01-15", "2024-01-10"]})
    default = rfm_summary(tx, time_unit="day")
    explicit = rfm_summary(tx, time_unit="day", observation_end="2024-01-15")
    pd.testing.assert_frame_equal(default, explicit)
    assert default.attrs["observation_end"] == "2024-01-15"
    assert default.loc[1].tolist() == [1, 14.0, 14.0, 2.0]
    assert default.loc[2, "T"] == 5.0


def test_same_day_merged_and_refunds_net_out():
    tx = pd.DataFrame({"customer_id": ["a"] * 4, "amount": [10.0, 20.0, -5.0, 7.0],
                       "date": ["2024-01-01", "2024-01-03", "2024-01-03", "2024-01-03"]})
    with pytest.raises(DataError, match="negative amount in 1 row"):
        rfm_summary(tx)
    s = rfm_summary(tx, allow_refunds=True, time_unit="day")
    assert s.loc["a"].tolist() == [1, 2.0, 2.0, 22.0]


def test_without_amounts_and_custom_columns(tmp_path):
    tx = pd.DataFrame({"who": [3, 1, 3], "when": ["2024-01-01", "2024-01-02", "2024-01-08"]})
    path = tmp_path / "tx.csv"
    tx.to_csv(path, index=False)
    s = rfm_summary(path, customer_col="who", date_col="when", amount_col=None)
    assert list(s.columns) == ["frequency", "recency", "T"]
    assert s.index.tolist() == ["1", "3"]  # ids are read from CSV as text
    assert s.loc["3", "recency"] == 1.0


def test_mixed_type_ids():
    tx = pd.DataFrame({"customer_id": pd.Series(["b", 2, "a", 10], dtype=object),
                       "date": ["2024-01-01"] * 4})
    s = rfm_summary(tx, amount_col=None)
    assert s.index.tolist() == [2, 10, "a", "b"]
    # ids pandas cannot order are sorted by their text
    unorderable = pd.Series([datetime.date(2020, 1, 1), "a", 3], dtype=object)
    s = rfm_summary(tx.iloc[:3].assign(customer_id=unorderable), amount_col=None)
    assert s.index.tolist() == [datetime.date(2020, 1, 1), 3, "a"]
    with pytest.raises(DataError, match="Customer ids must be numbers or strings"):
        rfm_summary(tx.iloc[:2].assign(customer_id=[{1}, {2}]), amount_col=None)


def test_summary_errors(cdnow):
    with pytest.raises(ValueError, match="'time_unit' parameter of rfm_summary must be one of"):
        rfm_summary(cdnow, time_unit="fortnight")
    with pytest.raises(DataError, match=r"Column 'date' has 1959 rows dated after "
                                        r"observation_end 1997-09-30"):
        rfm_summary(cdnow, observation_end=CAL_END)
    with pytest.raises(DataError, match="The transactions have no rows"):
        rfm_summary(cdnow.iloc[:0])


def test_calibration_excludes_later_customers_and_measures_t_to_calibration_end():
    tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"],
                       "date": ["2024-01-01", "2024-01-20", "2024-01-15", "2024-01-20",
                                "2024-01-21"],
                       "amount": [1.0, 2.0, 3.0, 4.0, 5.0]})
    s = calibration_holdout_summary(tx, calibration_end="2024-01-15", time_unit="day")
    assert s.index.tolist() == ["a", "b"]
    assert s["T"].tolist() == [14.0, 0.0]
    assert s["holdout_frequency"].tolist() == [1, 0]
    assert s["holdout_frequency"].dtype == np.int64
    np.testing.assert_array_equal(s["holdout_monetary_value"], [2.0, np.nan])
    assert s.attrs["observation_end"] == "2024-01-21"
    assert s["holdout_length"].tolist() == [6.0, 6.0]


def test_calibration_columns_equal_rfm_of_calibration_data(cdnow, cdnow_split):
    cal = rfm_summary(cdnow[cdnow["date"] <= CAL_END], observation_end=CAL_END)
    pd.testing.assert_frame_equal(cdnow_split[cal.columns], cal, check_like=True)


def test_calibration_errors(cdnow):
    with pytest.raises(DataError, match=r"calibration_end 1996-12-31 is before the first "
                                        r"transaction \(on 1997-01-01\).*later calibration_end"):
        calibration_holdout_summary(cdnow, calibration_end="1996-12-31")
    with pytest.raises(DataError, match=r"calibration_end 1998-06-30 must be before the last "
                                        r"transaction date 1998-06-30"):
        calibration_holdout_summary(cdnow, calibration_end=OBS_END)
    with pytest.raises(DataError, match=r"calibration_end 1998-07-31 must be before "
                                        r"observation_end 1998-07-01.*later observation_end"):
        calibration_holdout_summary(cdnow, calibration_end="1998-07-31",
                                    observation_end="1998-07-01")
    with pytest.raises(DataError, match="'calibration_end' parameter of "
                                        "calibration_holdout_summary must be a date"):
        calibration_holdout_summary(cdnow, calibration_end=None)


def test_tracking_periods_and_partial_last_period():
    tx = pd.DataFrame({"customer_id": [1, 1, 1, 1, 2, 2],
                       "date": ["2023-12-25", "2024-01-01", "2024-01-07", "2024-01-08",
                                "2024-01-03", "2024-01-03"]})
    # start after customer 1's first purchase: 2024-01-01 is still a repeat purchase
    t = repeat_purchase_tracking(tx, start="2024-01-01", end="2024-01-09", time_unit="week")
    assert t["repeat_purchases"].tolist() == [2, 1]  # 01-01 and 01-07; then 01-08
    assert t["cumulative_repeat_purchases"].tolist() == [2, 3]
    assert t["repeat_purchases"].dtype == np.int64
    d = repeat_purchase_tracking(tx, time_unit="day")
    assert d.attrs["start"] == "2023-12-25" and len(d) == 15
    assert d["repeat_purchases"].sum() == 3  # customer 2's same-day lines are one purchase


def test_tracking_month_boundaries_are_exact():
    # a month is 30.4375 days: period 2 starts on day 30.4375, so day 30 is in period 1
    start = pd.Timestamp("2024-01-01")
    dates = [start, start + pd.Timedelta(days=30), start + pd.Timedelta(days=31),
             start + pd.Timedelta(days=60), start + pd.Timedelta(days=61)]
    tx = pd.DataFrame({"customer_id": 1, "date": dates})
    t = repeat_purchase_tracking(tx, time_unit="month")
    assert t["repeat_purchases"].tolist() == [1, 2, 1]


def test_tracking_errors(cdnow):
    with pytest.raises(DataError, match=r"tracking period is empty: end 1997-01-01 is before "
                                        r"start 1997-02-01"):
        repeat_purchase_tracking(cdnow[cdnow["date"] <= "1997-01-01"], start="1997-02-01",
                                 end="1997-01-01")
    with pytest.raises(DataError, match="dated after end 1997-12-31"):
        repeat_purchase_tracking(cdnow, end="1997-12-31")


def test_caller_frame_unchanged_by_every_summary(rng):
    tx = synthetic(rng, n_rows=500)
    tx["customer_id"] = tx["customer_id"].str[1:].astype(int)
    before = tx.copy(deep=True)
    rfm_summary(tx)
    calibration_holdout_summary(tx, calibration_end="2024-03-01")
    repeat_purchase_tracking(tx)
    pd.testing.assert_frame_equal(tx, before)
