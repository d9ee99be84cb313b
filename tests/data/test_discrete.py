"""Discrete-time summaries (clvmodels/data/discrete.py): hand-computed tables, calendar
periods, an independent pandas reference, a round trip from simulated histories, and
every error."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import BetaGeoBetaBinomModel, DataError, discrete_summary
from clvmodels.data.discrete import discrete_summary_arrays


def table(rows):
    ids, dates = zip(*rows)
    return pd.DataFrame({"customer_id": list(ids), "date": list(dates)})


# ----------------------------------------------------------------- hand-computed tables
def test_yearly_summary_by_hand():
    tx = table([
        ("a", "2019-03-01"), ("a", "2019-07-01"),  # acquisition year 2019 (period 0)
        ("a", "2020-12-31"),                       # period 1
        ("a", "2022-01-01"), ("a", "2022-06-30"),  # period 3, once however often
        ("b", "2020-02-29"),                       # no repeat year
        ("d", "2021-05-05"), ("d", "2023-01-01"),  # periods 0 and 2
        ("c", "2023-12-31"),                       # acquired in the last year: n = 0
    ])
    s = discrete_summary(tx)
    want = pd.DataFrame({"frequency": [2, 0, 0, 1], "recency": [3, 0, 0, 2],
                         "n_periods": [4, 3, 0, 2]},
                        index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
    pd.testing.assert_frame_equal(s, want)
    assert s.attrs == {"time_unit": "year", "start": "2019-01-01",
                       "observation_end": "2023-12-31"}
    # a later (whole-year) end adds opportunities without transactions
    later = discrete_summary(tx, observation_end="2025-12-31")
    np.testing.assert_array_equal(later["n_periods"], [6, 5, 2, 4])
    np.testing.assert_array_equal(later["recency"], s["recency"])


def test_spend_of_repeat_periods_by_hand():
    """monetary_value: the amounts of each repeat period summed, then averaged over the
    repeat periods; the acquisition period's spend is left out, as in rfm_summary."""
    tx = table([("a", "2019-03-01"), ("a", "2019-07-01"),  # acquisition year: left out
                ("a", "2020-12-31"),                       # period 1: 30
                ("a", "2022-01-01"), ("a", "2022-06-30"),  # period 3: 10 + 50 = 60
                ("b", "2020-02-29")])
    tx["amount"] = [5.0, 7.0, 30.0, 10.0, 50.0, 8.0]
    s = discrete_summary(tx, amount_col="amount", observation_end="2023-12-31")
    assert s.loc["a", "monetary_value"] == pytest.approx((30.0 + 60.0) / 2)
    assert np.isnan(s.loc["b", "monetary_value"])
    assert list(s.columns) == ["frequency", "recency", "n_periods", "monetary_value"]
    # without amount_col nothing about money is read
    assert "monetary_value" not in discrete_summary(tx, observation_end="2023-12-31").columns


def test_fiscal_years_from_a_start_date():
    tx = table([("a", "2019-03-31"), ("a", "2019-04-01"), ("a", "2020-03-31"),
                ("b", "2020-04-01")])
    s = discrete_summary(tx, start="2019-04-01", observation_end="2022-03-31")
    # a: acquired in the year to 2019-03-31 (period -1), transacted in period 0 twice
    # (2019-04-01, 2020-03-31): one repeat period, the first after acquisition
    assert s.loc["a"].tolist() == [1, 1, 3]
    assert s.loc["b"].tolist() == [0, 0, 1]
    assert s.attrs["start"] == "2019-04-01"


def test_months_from_the_31st_follow_calendar_steps():
    """Periods [Jan 31, Feb 29), [Feb 29, Mar 31), [Mar 31, Apr 30), ... in 2024."""
    tx = table([("e", "2024-02-28"), ("e", "2024-02-29"), ("e", "2024-03-30"),
                ("e", "2024-03-31"), ("f", "2024-01-30")])
    s = discrete_summary(tx, period="month", start="2024-01-31", observation_end="2024-04-29")
    assert s.loc["e"].tolist() == [2, 2, 2]
    assert s.loc["f"].tolist() == [0, 0, 3]  # acquired in [Dec 31, Jan 31)
    # default end: the last day of the period holding the last transaction
    assert discrete_summary(tx, period="month", start="2024-01-31").attrs[
        "observation_end"] == "2024-04-29"


def test_weeks_start_on_monday_unless_told():
    tx = table([("g", "2024-01-07"), ("g", "2024-01-08"), ("g", "2024-01-21")])
    monday = discrete_summary(tx, period="week")  # 2024-01-01 is a Monday
    assert monday.loc["g"].tolist() == [2, 2, 2]
    assert monday.attrs["start"] == "2024-01-01" and monday.attrs["observation_end"] == "2024-01-21"
    wednesday = discrete_summary(tx, period="week", start="2024-01-03")
    assert wednesday.loc["g"].tolist() == [1, 2, 2]
    assert wednesday.attrs["observation_end"] == "2024-01-23"


def test_days():
    tx = table([(7, "2024-05-01"), (7, "2024-05-01"), (7, "2024-05-03"), (8, "2024-05-02")])
    s = discrete_summary(tx, period="day", observation_end="2024-05-04")
    assert s.loc[7].tolist() == [1, 2, 3] and s.loc[8].tolist() == [0, 0, 2]
    assert s.index.tolist() == [7, 8] and s.dtypes.eq(np.int64).all()


# --------------------------------------------------------------- independent references
def pandas_reference(tx, freq, end):
    """The convention written with pandas Periods (calendar months or years)."""
    per = pd.to_datetime(tx["date"]).dt.to_period(freq)
    last = pd.Period(end, freq)
    d = pd.DataFrame({"customer_id": tx["customer_id"], "p": per}).drop_duplicates()
    first = d.groupby("customer_id")["p"].min()
    d = d.join(first.rename("first"), on="customer_id")
    rep = d[d["p"] > d["first"]]
    out = pd.DataFrame(index=first.index.rename("customer_id"))
    out["frequency"] = rep.groupby("customer_id").size().reindex(out.index, fill_value=0)
    latest = d.groupby("customer_id")["p"].max()
    out["recency"] = [(lt - f).n for lt, f in zip(latest, first)]
    out["n_periods"] = [(last - f).n for f in first]
    return out.astype(np.int64)


@pytest.mark.parametrize("period, freq, end", [("month", "M", "2023-06-30"),
                                               ("year", "Y", "2024-12-31")])
def test_matches_pandas_periods(rng, period, freq, end):
    n_rows = 4000
    tx = pd.DataFrame({
        "customer_id": rng.choice([f"c{i:03d}" for i in range(300)], n_rows),
        "date": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1600, n_rows),
                                                             unit="D"),
    })
    tx = tx[tx["date"] <= end]
    got = discrete_summary(tx, period=period, observation_end=end)
    pd.testing.assert_frame_equal(got, pandas_reference(tx, freq, end))


def test_round_trip_from_simulated_histories(rng):
    """Binary yearly histories written out as dated transactions (several a year)
    summarize back to their frequency, recency and opportunities."""
    n_cust, years = 2000, 8
    acquired = rng.integers(0, 4, n_cust)  # acquisition year offset from 2010
    # BG/BB histories: p ~ Beta(1.2, 0.75); inactive from a Geometric(theta) period on
    p = rng.beta(1.2, 0.75, n_cust)[:, None]
    inactive_from = rng.geometric(rng.beta(0.66, 2.8, n_cust))[:, None]
    buys = (rng.random((n_cust, years)) < p) & (np.arange(years) < inactive_from)
    rows = []
    for i in range(n_cust):
        rows.append((i, pd.Timestamp(2010 + acquired[i], 1, 1) + pd.Timedelta(days=int(
            rng.integers(0, 365)))))
        for k in range(1, years - acquired[i]):
            if buys[i, k]:
                for _ in range(rng.integers(1, 4)):
                    rows.append((i, pd.Timestamp(2010 + acquired[i] + k, 1, 1)
                                 + pd.Timedelta(days=int(rng.integers(0, 365)))))
    tx = pd.DataFrame(rows, columns=["customer_id", "date"]).sample(frac=1.0, random_state=1)
    s = discrete_summary(tx, observation_end="2017-12-31")
    n = years - 1 - acquired
    hist = [np.flatnonzero(buys[i, 1: n[i] + 1]) + 1 for i in range(n_cust)]
    np.testing.assert_array_equal(s["n_periods"], n)
    np.testing.assert_array_equal(s["frequency"], [h.size for h in hist])
    np.testing.assert_array_equal(s["recency"], [h.max() if h.size else 0 for h in hist])
    model = BetaGeoBetaBinomModel().fit(s)
    assert model.time_unit_ == "year" and model.n_obs_ == n_cust


# ------------------------------------------------------------------------------ errors
def test_bad_transactions_name_the_column():
    tx = table([("a", "2020-01-01"), ("b", "2020-13-45")])
    with pytest.raises(DataError, match=r"Column 'date' has an unparseable date in 1 row"):
        discrete_summary(tx)
    with pytest.raises(DataError, match=r"Column 'customer_id' \(customer_col\) is not in the "
                                        r"transactions"):
        discrete_summary(tx.rename(columns={"customer_id": "id"}))
    with pytest.raises(DataError, match=r"Column 'day' \(date_col\) is not in the transactions"):
        discrete_summary(tx, date_col="day")
    with pytest.raises(DataError, match=r"Column 'customer_id' has a missing or blank customer id"):
        discrete_summary(table([(None, "2020-01-01"), ("a", "2020-01-01")]))


def test_transactions_after_observation_end_are_an_error():
    tx = table([("a", "2020-01-01"), ("a", "2022-03-01")])
    with pytest.raises(DataError, match=r"Column 'date' has 1 row dated after observation_end "
                                        r"2021-12-31"):
        discrete_summary(tx, observation_end="2021-12-31")


def test_observation_end_inside_a_period_is_an_error():
    tx = table([("a", "2020-01-01")])
    with pytest.raises(DataError, match=r"The 'observation_end' parameter of discrete_summary "
                                        r"must be the last day of a year: .* the year 2021-01-01 "
                                        r"\.\. 2021-12-31 would be observed only up to "
                                        r"2021-06-30\. Pass observation_end='2020-12-31'"):
        discrete_summary(tx, observation_end="2021-06-30")
    with pytest.raises(DataError, match=r"the month 2024-04-30 \.\. 2024-05-30 would be observed"):
        discrete_summary(table([("a", "2024-02-01")]), period="month", start="2024-01-31",
                         observation_end="2024-04-30")


def test_bad_settings_are_named():
    tx = table([("a", "2020-01-01")])
    with pytest.raises(ValueError, match=r"The 'period' parameter of discrete_summary must be one "
                                         r"of \['day', 'week', 'month', 'year'\]\. Got "
                                         r"'fortnight' instead\."):
        discrete_summary(tx, period="fortnight")
    with pytest.raises(DataError, match=r"The 'start' parameter of discrete_summary must be a "
                                        r"date such as '1998-06-30', not a number"):
        discrete_summary(tx, start=20200101)


# ------------------------------------------------------------------ summary validation
GOOD = {"frequency": [0, 1, 2], "recency": [0, 3, 2], "n_periods": [6, 6, 2]}


@pytest.mark.parametrize("change, message", [
    ({"recency": [0, 7, 2]}, r"'recency' is greater than 'n_periods' in 1 row\(s\), first "
                             r"customer ids \['b'\]"),
    ({"frequency": [0, 4, 2]}, r"'frequency' is greater than 'recency' in 1 row\(s\), first "
                               r"customer ids \['b'\]"),
    ({"recency": [1, 3, 2]}, r"customers with frequency 0 must have recency 0; 1 row\(s\), "
                             r"first customer ids \['a'\]"),
    ({"n_periods": [6, 6.5, 2]}, r"column 'n_periods' must hold whole numbers of periods >= 0; "
                                 r"1 row\(s\), first customer ids \['b'\]; values \[6\.5\]"),
    ({"frequency": [0, -1, 2]}, r"column 'frequency' must hold whole numbers"),
    ({"recency": [0, np.nan, 2]}, r"column 'recency' must hold whole numbers"),
    ({"weight": [1, 0, 3]}, r"column 'weight' \(customers per row\) must be positive and finite; "
                            r"1 row\(s\), first customer ids \['b'\]; values \[0\.0\]"),
    ({"frequency": ["0", "x", "2"]}, r"column 'frequency' must be numeric"),
])
def test_summary_validation_names_column_rows_and_ids(change, message):
    data = pd.DataFrame({**GOOD, **change}, index=["a", "b", "c"])
    with pytest.raises(DataError, match="demo: " + message):
        discrete_summary_arrays(data, "demo")


def test_summary_validation_accepts_and_defaults_weights():
    out = discrete_summary_arrays(pd.DataFrame(GOOD), "demo")
    np.testing.assert_array_equal(out["weight"], [1.0, 1.0, 1.0])
    with pytest.raises(DataError, match=r"demo: missing column\(s\) \['n_periods'\]; the data "
                                        r"has \['frequency', 'recency'\]"):
        discrete_summary_arrays(pd.DataFrame(GOOD).drop(columns="n_periods"), "demo")
    with pytest.raises(DataError, match="the summary has no rows"):
        discrete_summary_arrays(pd.DataFrame(GOOD).iloc[:0], "demo")
    with pytest.raises(TypeError, match=r"demo expects a pandas DataFrame .* Got dict instead"):
        discrete_summary_arrays(GOOD, "demo")
