"""load_transactions: normalization, file round trips and every validation error."""

import numpy as np
import pandas as pd
import pytest

from clvmodels.data import load_transactions, rfm_summary
from clvmodels.errors import DataError


@pytest.fixture
def raw():
    return pd.DataFrame(
        {
            "cust": ["007", "007", "b", "c", "b", "c"],
            "when": ["2024-01-05", "2024-01-05", "2024-01-06", "2024-02-01",
                     "2024-02-03", "2024-02-10"],
            "spend": [10.0, 5.5, 2.5, 0.0, 7.0, 1.25],
        }
    )


def load(frame, **kwargs):
    return load_transactions(frame, customer_col="cust", date_col="when",
                             amount_col="spend", **kwargs)


def test_normalized_columns_and_dtypes(raw):
    out = load(raw)
    assert list(out.columns) == ["customer_id", "date", "amount"]
    assert out["date"].dtype == "datetime64[ns]"
    assert out["amount"].dtype == np.float64
    assert out["customer_id"].tolist() == raw["cust"].tolist()
    assert out["date"].iloc[3] == pd.Timestamp("2024-02-01")
    assert isinstance(out.index, pd.RangeIndex)
    assert out["amount"].iloc[3] == 0.0  # zero amounts are fine


def test_keeps_customer_dtype_and_default_names(rng):
    frame = pd.DataFrame(
        {"customer_id": np.array([5, 3, 5], dtype=np.int32),
         "date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
         "amount": np.array([1, 2, 3], dtype=np.int64)}
    )
    out = load_transactions(frame)
    assert out["customer_id"].dtype == np.int32
    assert out["amount"].dtype == np.float64


def test_time_of_day_dropped_and_iso_mixed():
    frame = pd.DataFrame({"customer_id": [1, 1], "date": ["2024-01-05 23:59", "2024-01-06"]})
    out = load_transactions(frame, amount_col=None)
    assert list(out.columns) == ["customer_id", "date"]
    assert out["date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-06")]


def test_timezone_aware_dates_keep_local_day():
    dates = pd.to_datetime(["2024-01-05 23:30", "2024-01-06 00:10"]).tz_localize("US/Pacific")
    frame = pd.DataFrame({"customer_id": [1, 1], "date": dates})
    out = load_transactions(frame, amount_col=None)
    assert out["date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-06")]


def test_numeric_dates_with_format():
    frame = pd.DataFrame({"customer_id": [1, 2], "date": [19970101, 19971231], "amount": [1, 2]})
    out = load_transactions(frame, date_format="%Y%m%d")
    assert out["date"].tolist() == [pd.Timestamp("1997-01-01"), pd.Timestamp("1997-12-31")]
    with pytest.raises(DataError, match=r"Column 'date' holds numbers .*date_format='%Y%m%d'"):
        load_transactions(frame)


def test_caller_frame_unchanged(raw):
    before = raw.copy(deep=True)
    out = load(raw)
    out.loc[0, "customer_id"] = "changed"
    out.loc[0, "amount"] = -1.0
    rfm_summary(raw, customer_col="cust", date_col="when", amount_col="spend")
    pd.testing.assert_frame_equal(raw, before)


def test_csv_round_trip_keeps_leading_zeros(raw, tmp_path):
    path = tmp_path / "tx.csv"
    raw.to_csv(path, index=False)
    from_file = load(path)
    from_str = load(str(path))
    expected = load(raw)
    pd.testing.assert_frame_equal(from_file, expected, check_dtype=False)
    pd.testing.assert_frame_equal(from_str, expected, check_dtype=False)
    assert from_file["customer_id"].iloc[0] == "007"


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_round_trip(raw, tmp_path, rng, suffix):
    frame = raw.assign(cust=rng.integers(1, 4, len(raw)), when=pd.to_datetime(raw["when"]))
    path = tmp_path / f"tx{suffix}"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(load(path), load(frame))


def test_unsupported_source(tmp_path):
    path = tmp_path / "tx.xlsx"
    path.write_text("x")
    pattern = r"unsupported file type '\.xlsx'.*\.csv, \.parquet or \.pq"
    with pytest.raises(DataError, match=pattern):
        load_transactions(path)
    with pytest.raises(TypeError, match="must be a pandas DataFrame or the path"):
        load_transactions([("a", "2024-01-01", 1.0)])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_transactions(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"customer_col": "id"}, r"Column 'id' \(customer_col\) is not in the transactions\. "
                                 r"Available columns: \['cust', 'when', 'spend'\]"),
        ({"date_col": "day"}, r"Column 'day' \(date_col\) is not in .*\['cust', 'when', 'spend'\]"),
        ({"amount_col": "cost"}, r"Column 'cost' \(amount_col\).*or amount_col=None"),
    ],
)
def test_missing_column(raw, kwargs, pattern):
    args = {"customer_col": "cust", "date_col": "when", "amount_col": "spend", **kwargs}
    with pytest.raises(DataError, match=pattern):
        load_transactions(raw, **args)


def test_missing_column_in_index(raw):
    with pytest.raises(DataError, match=r"Column 'cust'.*It is the index: call \.reset_index\(\)"):
        load(raw.set_index("cust"))


def test_same_column_twice(raw):
    with pytest.raises(DataError, match="must name different columns"):
        load_transactions(raw, customer_col="cust", date_col="when", amount_col="cust")


def test_empty_input(raw):
    with pytest.raises(DataError, match="The transactions have no rows"):
        load(raw.iloc[:0])


def test_missing_customer_id(raw):
    raw.loc[[1, 4], "cust"] = [None, "  "]
    with pytest.raises(
        DataError,
        match=r"Column 'cust' has a missing or blank customer id in 2 rows "
        r"\(row positions \[1, 4\]: \[(None|nan), '  '\]\)\. .*drop these rows or fill in",
    ):
        load(raw)


def test_unparseable_date(raw):
    raw.loc[[2, 5], "when"] = ["2024-13-01", "soon"]
    with pytest.raises(
        DataError,
        match=r"Column 'when' has an unparseable date in 2 rows \(row positions \[2, 5\]: "
        r"\['2024-13-01', 'soon'\]\)\. Fix or drop these rows; pass date_format",
    ):
        load(raw)
    pattern = r"unparseable date in 6 rows.*do not match date_format='%d/%m/%Y'"
    with pytest.raises(DataError, match=pattern):
        load(raw, date_format="%d/%m/%Y")


def test_missing_date(raw):
    as_dates = raw.assign(when=pd.to_datetime(raw["when"]))
    as_dates.loc[[2, 4], "when"] = pd.NaT
    with pytest.raises(DataError, match=r"Column 'when' has a missing date in 2 rows \(row "
                                        r"positions \[2, 4\]: \[NaT, NaT\]\)"):
        load(as_dates)
    raw.loc[3, "when"] = None
    pattern = r"Column 'when' has a missing date in 1 row \(row positions \[3\]"
    with pytest.raises(DataError, match=pattern):
        load(raw)


def test_non_numeric_amount(raw):
    raw["spend"] = ["10", "$5.50", "2.5", "0", "1,000", "inf"]
    with pytest.raises(
        DataError,
        match=r"Column 'spend' has a non-numeric or infinite amount in 3 rows \(row positions "
        r"\[1, 4, 5\]: \['\$5\.50', '1,000', 'inf'\]\)\. .*strip currency symbols",
    ):
        load(raw)


def test_missing_amount(raw):
    raw.loc[[0, 5], "spend"] = np.nan
    pattern = r"Column 'spend' has a missing amount in 2 rows \(row positions \[0, 5\]"
    with pytest.raises(DataError, match=pattern):
        load(raw)


def test_negative_amount_and_refund_opt_in(raw):
    raw.loc[1, "spend"] = -5.0
    with pytest.raises(
        DataError,
        match=r"Column 'spend' has a negative amount in 1 row \(row positions \[1\]: \[-5\.0\]\)"
        r"\. Refunds are rejected by default.*allow_refunds=True",
    ):
        load(raw)
    assert load(raw, allow_refunds=True)["amount"].iloc[1] == -5.0
    with pytest.raises(TypeError, match="'allow_refunds' parameter"):
        load(raw, allow_refunds="yes")


def test_transactions_after_observation_end(raw):
    with pytest.raises(
        DataError,
        match=r"Column 'when' has 3 rows dated after observation_end 2024-01-31 \(row positions "
        r"\[3, 4, 5\]: \['2024-02-01', '2024-02-03', '2024-02-10'\]\)\. Filter them out first",
    ):
        load(raw, observation_end="2024-01-31")
    # inclusive: a transaction on observation_end is fine
    assert len(load(raw, observation_end="2024-02-10")) == 6
    pattern = "'observation_end' parameter of load_transactions must be a date"
    with pytest.raises(DataError, match=pattern):
        load(raw, observation_end="the end")
    pattern = r"must be a date such as '1998-06-30', not a number\. Got 20240131"
    with pytest.raises(DataError, match=pattern):
        load(raw, observation_end=20240131)
    # dates, Timestamps and datetime64 all work
    for end in [pd.Timestamp("2024-02-10 18:00"), np.datetime64("2024-02-10"),
                pd.Timestamp("2024-02-10").date()]:
        assert len(load(raw, observation_end=end)) == 6


def test_many_bad_rows_are_counted_and_truncated(rng):
    n = 1000
    frame = pd.DataFrame({"customer_id": np.arange(n), "date": "2024-01-01",
                          "amount": -rng.uniform(1, 2, n)})
    shown = r"\[" + r"-1\.\d+, " * 5 + r"\.\.\.\]"
    with pytest.raises(DataError, match=r"in 1000 rows \(row positions \[0, 1, 2, 3, 4, \.\.\.\]: "
                                        + shown + r"\)"):
        load_transactions(frame)


def test_date_out_of_range():
    frame = pd.DataFrame({"customer_id": [1, 2], "date": ["2024-01-01", "3000-01-01"]})
    # pandas < 3 cannot parse the date at all; pandas 3 parses it at microsecond resolution
    with pytest.raises(DataError, match=r"Column 'date' has (a date outside the years 1678-2261|"
                                        r"an unparseable date) in 1 row \(row positions \[1\]: "
                                        r"\['3000-01-01'\]\)"):
        load_transactions(frame, amount_col=None)
