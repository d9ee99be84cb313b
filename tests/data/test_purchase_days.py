"""The integer-key engine: every id representation and key width gives the same days."""

import numpy as np
import pandas as pd
import pytest

import clvmodels.data.purchase_days as engine
from clvmodels.data import rfm_summary
from clvmodels.data.purchase_days import factorize_ids, in_id_order, purchase_days


def days_of(tx, **kwargs):
    return purchase_days(tx, customer_col="customer_id", date_col="date", amount_col="amount",
                         allow_refunds=False, date_format=None, **kwargs)


@pytest.fixture
def tx(rng):
    n = 400
    return pd.DataFrame({
        "customer_id": rng.integers(0, 50, n),
        "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
        "amount": rng.uniform(0, 100, n).round(2),
    })


@pytest.mark.parametrize(
    "relabel",
    [
        pytest.param(lambda ids: ids + 1, id="dense-int"),
        pytest.param(lambda ids: ids * 10**10 + 7, id="sparse-int-arrow"),
        pytest.param(lambda ids: ids.astype(np.uint16), id="uint16"),
        pytest.param(lambda ids: pd.Series([f"c{i:03d}" for i in ids], dtype=object),
                     id="object-str"),
        pytest.param(lambda ids: pd.Series([f"c{i:03d}" for i in ids],
                                           dtype="string[pyarrow]"), id="arrow-str"),
        pytest.param(lambda ids: pd.Series(ids, dtype="int64[pyarrow]") * 3, id="arrow-int"),
        pytest.param(lambda ids: pd.Series(pd.Categorical(ids)), id="categorical"),
    ],
)
def test_every_id_representation_gives_the_same_summary(tx, relabel):
    expected = rfm_summary(tx, time_unit="day")
    relabelled = tx.assign(customer_id=relabel(tx["customer_id"]).to_numpy())
    got = rfm_summary(relabelled, time_unit="day")
    assert got.index.is_monotonic_increasing
    assert len(got) == len(expected)
    # sorted by id: map each relabelled id back to its original customer
    back = pd.Series(tx["customer_id"].to_numpy(), index=relabelled["customer_id"].to_numpy())
    back = back[~back.index.duplicated()]
    np.testing.assert_array_equal(got.to_numpy(), expected.loc[back[got.index]].to_numpy())


def test_factorize_codes_rebuild_ids(tx):
    for ids in [tx["customer_id"], tx["customer_id"] * 10**12, tx["customer_id"].astype(str)]:
        codes, uniques = factorize_ids(ids.reset_index(drop=True))
        assert codes.dtype == np.intp
        np.testing.assert_array_equal(uniques.to_numpy()[codes], ids.to_numpy())
        assert uniques.is_unique


def test_wide_keys_use_int64(tx, monkeypatch):
    narrow = days_of(tx)
    monkeypatch.setattr(engine, "KEY32_LIMIT", 0)
    wide = days_of(tx)
    assert narrow.pair_customer.dtype == np.uint32 and wide.pair_customer.dtype == np.int64
    np.testing.assert_array_equal(narrow.pair_customer, wide.pair_customer)
    np.testing.assert_array_equal(narrow.pair_day, wide.pair_day)
    pd.testing.assert_frame_equal(rfm_summary(tx), rfm_summary(tx.copy()))


def test_long_spans_and_many_customers_without_monkeypatching(rng):
    # ~60,000 customers over 300 years: 60,000 x ~110,000 days needs 64-bit keys
    n = 120_000
    tx = pd.DataFrame({
        "customer_id": rng.integers(0, 80_000, n),
        "date": pd.Timestamp("1700-01-01") + pd.to_timedelta(rng.integers(0, 109_000, n),
                                                             unit="D"),
    })
    p = purchase_days(tx, customer_col="customer_id", date_col="date", amount_col=None,
                      allow_refunds=False, date_format=None)
    assert p.pair_customer.dtype == np.int64
    daily = tx.drop_duplicates()
    assert p.pair_day.size == len(daily)
    s = rfm_summary(tx, time_unit="year", amount_col=None)
    np.testing.assert_array_equal(s["frequency"], daily.groupby("customer_id").size() - 1)


def test_pairs_are_sorted_and_distinct(tx):
    p = days_of(tx)
    key = p.pair_customer.astype(np.int64) * 1000 + p.pair_day
    assert (np.diff(key) > 0).all()
    assert p.pair_first.sum() == p.ids.size
    np.testing.assert_array_equal(p.first, p.pair_day[p.pair_first])
    assert p.start == tx["date"].min().toordinal() - pd.Timestamp("1970-01-01").toordinal()


def test_in_id_order():
    ids = pd.Index(["c", "a", "b"])
    assert in_id_order(np.array([0, 1, 2]), ids).tolist() == [1, 2, 0]
    assert in_id_order(np.array([1, 2]), ids).tolist() == [1, 2]


def test_arrow_ids_fallback_when_pandas_cannot_convert(monkeypatch):
    ids = pd.Series(["b", "a", "b", "c"], dtype="string[pyarrow]")

    def refuse(*args, **kwargs):
        raise TypeError("no")

    monkeypatch.setattr(engine.pd, "array", refuse)
    codes, uniques = factorize_ids(ids)
    assert uniques.tolist() == ["b", "a", "c"]
    assert uniques.dtype == ids.dtype
    np.testing.assert_array_equal(uniques.to_numpy()[codes], ids.to_numpy())


@pytest.mark.parametrize("chunks", [1, 3])
def test_chunked_arrow_ids(chunks):
    import pyarrow as pa

    parts = [["b", "a"], ["c", "a", "d"], ["d", "b"]][:chunks]
    table = pa.table({"customer_id": pa.chunked_array(parts, type=pa.large_string())})
    ids = table.to_pandas(types_mapper=pd.ArrowDtype)["customer_id"]
    flat = [x for part in parts for x in part]
    codes, uniques = factorize_ids(ids)
    assert uniques.to_numpy()[codes].tolist() == flat
    assert uniques.is_unique
