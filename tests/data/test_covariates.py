"""Attaching per-customer covariates to a summary and encoding them (issue 13, item 7)."""

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.covariates import CovariateEncoding, attach_covariates, covariate_columns
from clvmodels.errors import DataError


@pytest.fixture
def summary():
    idx = pd.Index([101, 102, 103, 104, 105, 106], name="customer_id")
    s = pd.DataFrame({"frequency": [2, 0, 1, 4, 0, 3], "recency": [5.0, 0, 2, 9, 0, 7],
                      "T": [10.0, 8, 6, 12, 3, 9]}, index=idx)
    s.attrs = {"time_unit": "week", "observation_end": "2024-03-01"}
    return s


@pytest.fixture
def table():
    return pd.DataFrame({
        "customer_id": [106, 105, 104, 103, 102, 101, 999],
        "channel": ["web", "store", "web", "app", "store", "web", "web"],
        "first_amount": [12.0, 40.0, 25.0, 8.0, 30.0, 15.0, 1.0],
    })


def test_attach_keeps_the_summary_and_adds_static_columns(summary, table):
    out = attach_covariates(summary, table)
    assert out.index.equals(summary.index)
    assert out[["frequency", "recency", "T"]].equals(summary)
    assert out["channel"].tolist() == ["web", "store", "app", "web", "store", "web"]
    assert out.loc[104, "first_amount"] == 25.0
    assert out.attrs == {**summary.attrs, "covariates": ["channel", "first_amount"]}
    assert covariate_columns(out) == ["channel", "first_amount"]
    assert "channel" not in summary.columns  # the input is not changed


def test_customer_id_as_index_and_a_column_subset(summary, table):
    out = attach_covariates(summary, table.set_index("customer_id"), columns="channel")
    assert list(out.columns) == ["frequency", "recency", "T", "channel"]


def test_customers_without_covariates_are_named(summary, table):
    with pytest.raises(DataError, match=r"1 of 6 customers .* no row .* \[103\]"):
        attach_covariates(summary, table[table.customer_id != 103])


def test_duplicated_customers_are_refused_unless_their_values_agree(summary, table):
    doubled = pd.concat([table, table[table.customer_id == 104]])
    with pytest.raises(DataError, match=r"1 customers have more than one row.*\[104\].*"
                                        "one_row_per_customer=False"):
        attach_covariates(summary, doubled)
    out = attach_covariates(summary, doubled, one_row_per_customer=False)
    assert out.loc[104, "channel"] == "web"
    varying = doubled.copy()
    varying.iloc[-1, varying.columns.get_loc("channel")] = "store"
    with pytest.raises(DataError, match=r"'channel' varies within 1 customers, e.g. customer "
                                        r"104 has \['web', 'store'\]"):
        attach_covariates(summary, varying, one_row_per_customer=False)


def test_missing_constant_and_infinite_values_are_named(summary, table):
    t = table.copy()
    t.loc[t.customer_id == 102, "first_amount"] = np.nan
    with pytest.raises(DataError, match=r"'first_amount' is missing for 1 customers, e.g. \[102\]"):
        attach_covariates(summary, t)
    t = table.assign(region="EU")
    with pytest.raises(DataError, match=r"'region' has the same value \('EU'\) for every"):
        attach_covariates(summary, t)
    t = table.copy()
    t.loc[t.customer_id == 105, "first_amount"] = np.inf
    with pytest.raises(DataError, match=r"'first_amount' is infinite for 1 customers, e.g. \[105\]"):
        attach_covariates(summary, t)


def test_constant_only_among_the_summary_customers_is_refused(summary, table):
    # customer 999 is not in the summary: among the six customers the column is constant
    t = table.assign(vip=np.where(table.customer_id == 999, 1.0, 0.0))
    with pytest.raises(DataError, match="'vip' has the same value"):
        attach_covariates(summary, t)


def test_collinear_columns_are_named(summary, table):
    t = table.assign(amount_in_cents=table.first_amount * 100)
    with pytest.raises(DataError, match=r"'amount_in_cents' is a perfect linear combination of "
                                        r"\['first_amount'\]"):
        attach_covariates(summary, t)
    # a 0/1 column that repeats a category's dummy
    t = table.assign(is_web=(table.channel == "web").astype(float))
    with pytest.raises(DataError, match=r"'is_web' is a perfect linear combination"):
        attach_covariates(summary, t)


def test_ids_of_another_type_are_explained(summary, table):
    t = table.assign(customer_id=table.customer_id.astype(str))
    with pytest.raises(DataError, match=r"values are (str|object) and the summary's ids are int64.*dtype="):
        attach_covariates(summary, t)
    with pytest.raises(DataError, match=r"no 'account' column \(customer_col\)"):
        attach_covariates(summary, table, customer_col="account")


def test_name_clash_and_unknown_columns(summary, table):
    with pytest.raises(DataError, match=r"\['frequency'\] have the name of a summary column"):
        attach_covariates(summary, table.assign(frequency=1))
    with pytest.raises(DataError, match=r"\['segment'\] are not in the covariates table"):
        attach_covariates(summary, table, columns=["segment"])


def test_encoding_reference_levels_and_user_scale(summary, table):
    frame = attach_covariates(summary, table)
    enc = CovariateEncoding.from_frame(frame, ["channel", "first_amount"])
    # most common level is the reference unless one is given
    assert enc.levels["channel"][0] == "web"
    assert enc.features == ("channel[app]", "channel[store]", "first_amount")
    x = enc.design(frame)
    assert x[:, 2].mean() == pytest.approx(0, abs=1e-12)
    assert x[:, 2].std() == pytest.approx(1)
    # a linear predictor on the standardised scale equals the user-scale one plus the shift
    b = np.array([0.3, -0.2, 0.7])
    user, shift = enc.user_scale(b)
    raw = np.column_stack([x[:, :2], frame["first_amount"].to_numpy()])
    assert np.allclose(x @ b, raw @ user + shift)
    enc2 = CovariateEncoding.from_frame(frame, ["channel"], reference={"channel": "store"})
    assert enc2.features == ("channel[app]", "channel[web]")
    with pytest.raises(DataError, match=r"reference level 'mail' of covariate 'channel' does not "
                                        r"occur; its levels are \['app', 'store', 'web'\]"):
        CovariateEncoding.from_frame(frame, ["channel"], reference={"channel": "mail"})
    with pytest.raises(DataError, match="'first_amount' is numeric, so it has no reference"):
        CovariateEncoding.from_frame(frame, ["first_amount"], reference={"first_amount": 1})


def test_encoding_round_trips_through_json_and_refuses_new_levels(summary, table):
    frame = attach_covariates(summary, table)
    enc = CovariateEncoding.from_frame(frame, ["channel", "first_amount"])
    back = CovariateEncoding.from_dict(json.loads(json.dumps(enc.to_dict())))
    assert back == enc
    assert np.array_equal(back.design(frame), enc.design(frame))
    new = frame.iloc[:2].assign(channel=["web", "phone"])
    with pytest.raises(DataError, match=r"level\(s\) \['phone'\] the model was not fitted with"):
        enc.design(new)
    with pytest.raises(DataError, match="'first_amount' the model was fitted with is not in"):
        enc.design(frame.drop(columns="first_amount"))


def test_summaries_attach_covariates_from_a_second_table():
    from clvmodels.data import calibration_holdout_summary, rfm_summary

    tx = pd.DataFrame({"account": ["a", "a", "b", "c", "c", "c"],
                       "date": ["2024-01-01", "2024-01-20", "2024-01-05", "2024-01-02",
                                "2024-02-10", "2024-03-01"],
                       "amount": [10.0, 20, 5, 7, 8, 9]})
    cov = pd.DataFrame({"account": ["c", "b", "a"], "channel": ["web", "store", "web"]})
    s = rfm_summary(tx, customer_col="account", observation_end="2024-03-31", covariates=cov)
    assert s["channel"].to_dict() == {"a": "web", "b": "store", "c": "web"}
    assert s.attrs["covariates"] == ["channel"] and s.attrs["time_unit"] == "week"
    h = calibration_holdout_summary(tx, customer_col="account", calibration_end="2024-01-31",
                                    observation_end="2024-03-31", covariates=cov,
                                    covariate_cols=["channel"])
    assert h["channel"].tolist() == ["web", "store", "web"]
    assert h.attrs["holdout_length"] > 0 and h.attrs["covariates"] == ["channel"]
    with pytest.raises(DataError, match=r"rfm_summary: 1 of 3 customers .* \['c'\]"):
        rfm_summary(tx, customer_col="account", covariates=cov.iloc[1:])
    with pytest.raises(ValueError, match="covariate_cols needs a covariates table"):
        rfm_summary(tx, customer_col="account", covariate_cols=["channel"])
