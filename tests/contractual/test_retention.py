"""Retention summaries: life tables from data, model curves, average lifespan."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import DataError, FitError
from clvmodels.evaluation.retention import (
    expected_retention,
    fit_by_segment,
    lifetime_summary,
    retention_table,
)
from clvmodels.models.churn.sbg import (
    ShiftedBetaGeoModel,
    accounts_from_survival,
    sbg_retention_rate,
    sbg_survival,
    simulate_sbg,
)

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


def two_cohorts():
    a = accounts_from_survival(REGULAR).assign(segment="regular")
    b = accounts_from_survival(HIGH_END).assign(segment="high end")
    return pd.concat([a, b], ignore_index=True)


def test_life_table_of_a_cohort_is_its_survival_table():
    table = retention_table(accounts_from_survival(REGULAR))
    active = np.array(REGULAR, dtype=float)
    np.testing.assert_allclose(table["at_risk"], active[:-1])
    np.testing.assert_allclose(table["retention_rate"], active[1:] / active[:-1])
    np.testing.assert_allclose(table["survival"], active[1:] / 1000)


def test_segments_are_tabulated_separately():
    table = retention_table(two_cohorts(), by="segment")
    assert list(table.index.names) == ["segment", "period"]
    np.testing.assert_allclose(table.loc["high end", "survival"], np.array(HIGH_END[1:]) / 1000)
    np.testing.assert_allclose(table.loc["regular", "survival"], np.array(REGULAR[1:]) / 1000)


def test_life_table_handles_staggered_observation(rng):
    """Accounts observed for different lengths (acquired at different times): the life
    table still estimates the true survival, unlike the naive share still active."""
    ages = rng.integers(1, 25, 30_000)
    data = simulate_sbg(30_000, 1.2, 5.0, tenure_max=ages, random_state=rng)
    table = retention_table(data)
    t = np.arange(1, 13)
    np.testing.assert_allclose(table["survival"].to_numpy()[:12], sbg_survival(1.2, 5.0, t),
                               atol=0.012)


def test_expected_retention_is_the_model_curve():
    model = ShiftedBetaGeoModel(random_state=0).fit(accounts_from_survival(HIGH_END))
    out = expected_retention(model, 12, level=0.8)
    a, b = model.params_
    t = np.arange(1, 13)
    np.testing.assert_allclose(out["retention_rate"], sbg_retention_rate(a, b, t))
    np.testing.assert_allclose(out["survival"], sbg_survival(a, b, t))
    for c in ("retention_rate", "survival"):
        assert (out[f"{c}_lower"] <= out[c]).all() and (out[c] <= out[f"{c}_upper"]).all()
    # the model follows the observed years 1-7 (Fader & Hardie 2007, fig. 2)
    np.testing.assert_allclose(out["survival"].to_numpy()[:7], np.array(HIGH_END[1:]) / 1000,
                               atol=0.025)


def test_lifetime_summary_observed_and_modelled():
    data = two_cohorts()
    models = fit_by_segment(data, "segment")
    out = lifetime_summary(data, by="segment", model=models)
    for name, table in (("regular", REGULAR), ("high end", HIGH_END)):
        row = out.loc[name]
        assert row["accounts"] == 1000 and row["observed_periods"] == 7
        assert row["restricted_mean_lifetime"] == pytest.approx(sum(table[:7]) / 1000)
        assert row["model_restricted_mean_lifetime"] == pytest.approx(
            row["restricted_mean_lifetime"], rel=0.01)
        assert np.isinf(row["expected_lifetime"])  # alpha < 1 in both
    assert out.loc["regular", "median_lifetime"] == 2  # survival 0.468 after 2 years
    assert out.loc["high end", "median_lifetime"] == 7  # 491 of 1,000 left after 7 years
    assert out.loc["high end", "model_median_lifetime"] == 7  # S(7) = 0.489 in the model
    half = lifetime_summary(accounts_from_survival(HIGH_END[:6]))
    assert np.isnan(half.loc["all", "median_lifetime"])  # 551 left after 5: not reached


def test_lifetime_summary_with_one_model_and_finite_mean():
    data = simulate_sbg(5000, 3.0, 9.0, tenure_max=30, random_state=1)
    model = ShiftedBetaGeoModel().fit(data)
    out = lifetime_summary(data, model=model)
    a, b = model.params_
    assert out.loc["all", "expected_lifetime"] == pytest.approx((a + b - 1) / (a - 1))
    assert out.loc["all", "expected_lifetime"] == pytest.approx(11 / 2, rel=0.05)


def test_errors():
    data = two_cohorts()
    with pytest.raises(DataError, match=r"the 'by' column\(s\) \['plan'\] are not in"):
        retention_table(data, by="plan")
    model = ShiftedBetaGeoModel().fit(accounts_from_survival(REGULAR))
    with pytest.raises(DataError, match=r"no model for segment\(s\) \['regular'\]"):
        lifetime_summary(data, by="segment", model={"high end": model})
    stuck = pd.DataFrame({"tenure": [3, 4, 5, 1, 2], "churned": [False] * 3 + [True] * 2,
                          "plan": ["a", "a", "a", "b", "b"]})
    with pytest.raises(FitError, match=r"segment 'a' \(3 accounts\)"):
        fit_by_segment(stuck, "plan")
    with pytest.raises(ValueError, match=r"The 'periods' parameter of expected_retention"):
        expected_retention(model, 0)


def test_segment_with_only_new_accounts_has_a_row():
    from clvmodels.evaluation.retention import lifetime_summary

    acc = pd.DataFrame({"tenure": [0, 0, 3, 5], "churned": [False, False, True, False],
                        "seg": ["new", "new", "old", "old"]})
    out = lifetime_summary(acc, by="seg")
    assert list(out.index) == ["new", "old"]
    assert out.loc["new", "restricted_mean_lifetime"] == 0.0
