"""compress_rows: identical summary rows become one weighted row."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.data import compress_rows, rfm_summary
from clvmodels.datasets import load_cdnow_transactions


def test_nan_rows_group_together():
    frame = pd.DataFrame({"frequency": [0, 0, 2, 0], "T": [5.0, 5.0, 5.0, 5.0],
                          "monetary_value": [np.nan, np.nan, 3.0, np.nan]})
    c = compress_rows(frame, ["frequency", "T", "monetary_value"])
    assert c.n_unique == 2
    assert sorted(c.weights.tolist()) == [1.0, 3.0]
    nan_group = c.inverse[0]
    assert c.inverse[1] == c.inverse[3] == nan_group != c.inverse[2]
    assert np.isnan(c.unique["monetary_value"][nan_group])


def test_expand_rebuilds_columns(rng):
    frame = pd.DataFrame({"x": rng.integers(0, 3, 50), "t": rng.integers(0, 2, 50) * 1.5})
    c = compress_rows(frame, ["x", "t"])
    assert c.weights.sum() == 50
    for col in ["x", "t"]:
        np.testing.assert_array_equal(c.expand(c.unique[col]), frame[col].to_numpy(float))
    # per-unique-row draws (draws x unique) map back along the last axis
    draws = np.vstack([c.unique["x"], 2 * c.unique["x"]])
    np.testing.assert_array_equal(c.expand(draws)[1], 2 * frame["x"].to_numpy(float))


def test_cdnow_summary_compresses():
    s = rfm_summary(load_cdnow_transactions(), observation_end="1998-06-30")
    c = compress_rows(s, ["frequency", "recency", "T"])
    assert c.n_unique < len(s)
    assert c.weights.sum() == len(s)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0.0, 1.5, np.nan, -2.0])),
                min_size=0, max_size=40))
def test_unique_indexed_by_inverse_is_original(rows):
    cols = {"a": np.array([r[0] for r in rows], dtype=float),
            "b": np.array([r[1] for r in rows], dtype=float)}
    c = compress_rows(cols, ["a", "b"])
    assert c.weights.sum() == len(rows)
    for name, original in cols.items():
        np.testing.assert_array_equal(c.unique[name][c.inverse], original)
    # unique rows really are unique (NaN equal to NaN)
    keys = {tuple(np.nan_to_num(np.array([c.unique["a"][i], c.unique["b"][i]]), nan=np.inf))
            for i in range(c.n_unique)}
    assert len(keys) == c.n_unique
