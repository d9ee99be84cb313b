"""DuckDB summaries equal the pandas ones (same convention, same numbers)."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import DataError, rfm_summary
from clvmodels.datasets import load_cdnow_transactions

pytest.importorskip("duckdb")
from clvmodels.data.duckdb_summary import rfm_summary_duckdb  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("duck")
    tx = load_cdnow_transactions()
    tx.to_csv(d / "cdnow.csv", index=False)
    parts = d / "parts"
    parts.mkdir()
    shuffled = tx.sample(frac=1, random_state=0)
    for i, rows in enumerate(np.array_split(np.arange(len(tx)), 3)):
        shuffled.iloc[rows].to_parquet(parts / f"part{i}.parquet")
    return d, tx


@pytest.mark.parametrize("unit", ["day", "week", "month"])
def test_same_summary_as_pandas(files, unit):
    d, tx = files
    expected = rfm_summary(tx, observation_end="1998-06-30", time_unit=unit)
    for source in (d / "cdnow.csv", d / "parts", str(d / "parts" / "*.parquet")):
        got = rfm_summary_duckdb(str(source), observation_end="1998-06-30", time_unit=unit)
        pd.testing.assert_frame_equal(got.drop(columns="monetary_value"),
                                      expected.drop(columns="monetary_value"), check_exact=True)
        # sums of the same amounts in another order: equal to the last bits or so
        np.testing.assert_allclose(got.monetary_value, expected.monetary_value, rtol=1e-13)
        assert got.attrs == expected.attrs


def test_bad_data_is_reported(files, tmp_path):
    d, tx = files
    bad = tx.copy()
    bad.loc[[3, 8], "amount"] = -1.0
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="2 row\\(s\\) have a negative amount in 'amount'"):
        rfm_summary_duckdb(str(tmp_path / "bad.parquet"))
    with pytest.raises(DataError, match="dated after the observation end 1997-09-30"):
        rfm_summary_duckdb(str(d / "cdnow.csv"), observation_end="1997-09-30")
    with pytest.raises(DataError, match=r"column\(s\) \['account'\] not in"):
        rfm_summary_duckdb(str(d / "cdnow.csv"), customer_col="account")
