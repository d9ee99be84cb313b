"""Billing periods -> per-account contractual summaries, and their errors."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import DataError
from clvmodels.data.subscriptions import subscription_summary
from clvmodels.models.churn.sbg import ShiftedBetaGeoModel, simulate_sbg


def monthly_events(accounts: dict[str, tuple[str, int]], amount=10.0) -> pd.DataFrame:
    """{id: (first start, number of monthly periods)} -> one row per period."""
    rows = []
    for acc, (first, n) in accounts.items():
        starts = pd.date_range(first, periods=n + 1, freq="MS")
        rows += [{"account_id": acc, "period_start": s, "period_end": e, "amount": amount}
                 for s, e in zip(starts[:-1], starts[1:])]
    return pd.DataFrame(rows)


def test_tenure_and_churn_follow_the_renewal_decisions():
    events = monthly_events({"active": ("2024-01-01", 6), "gone": ("2024-01-01", 3),
                             "new": ("2024-06-01", 1)})
    s = subscription_summary(events, observation_end="2024-06-15")
    assert s.attrs == {"time_unit": "month", "observation_end": "2024-06-15"}
    # active in its 6th period: renewed 5 times, the 6th decision is still to come
    assert s.loc["active", ["tenure", "churned", "periods_paid"]].tolist() == [5, False, 6]
    # paid 3 periods and did not renew on 2024-04-01: churned at its 3rd decision
    assert s.loc["gone", ["tenure", "churned", "periods_paid"]].tolist() == [3, True, 3]
    assert s.loc["new", "tenure"] == 0 and not s.loc["new", "churned"]
    assert s.loc["active", "first_start"] == pd.Timestamp("2024-01-01")
    assert s.loc["gone", "last_end"] == pd.Timestamp("2024-04-01")
    assert s["total_revenue"].tolist() == [60.0, 30.0, 10.0]


def test_input_order_and_cancellation_mid_period():
    events = monthly_events({"x": ("2023-01-01", 4)}).iloc[::-1]
    events.loc[events.index[0], "period_end"] = pd.Timestamp("2023-04-10")  # cancelled
    s = subscription_summary(events, observation_end="2023-12-31")
    assert s.loc["x", ["tenure", "churned"]].tolist() == [4, True]


def test_renewal_is_expected_by_the_period_end_plus_grace():
    events = monthly_events({"late": ("2024-01-01", 2)})  # last period ends 2024-03-01
    assert subscription_summary(events, observation_end="2024-03-01")["churned"].iloc[0]
    pending = subscription_summary(events, observation_end="2024-03-01", max_gap_days=2)
    assert not pending["churned"].iloc[0] and pending["tenure"].iloc[0] == 1


def test_inclusive_end_dates_with_grace_of_one_day():
    events = monthly_events({"a": ("2024-01-01", 3)})
    events["period_end"] = events["period_end"] - pd.Timedelta(days=1)  # last day covered
    with pytest.raises(DataError, match="pass max_gap_days=1"):
        subscription_summary(events, observation_end="2024-06-30")
    s = subscription_summary(events, observation_end="2024-06-30", max_gap_days=1)
    assert s.loc["a", ["tenure", "churned"]].tolist() == [3, True]


def test_yearly_weekly_and_given_period():
    years = pd.DataFrame({"account_id": ["a", "a"], "period_start": ["2020-01-01", "2021-01-01"],
                          "period_end": ["2021-01-01", "2022-01-01"], "amount": [100, 100]})
    assert subscription_summary(years, observation_end="2021-06-01").attrs["time_unit"] == "year"
    weeks = pd.DataFrame({"account_id": ["w"] * 3,
                          "period_start": pd.date_range("2024-01-01", periods=3, freq="7D"),
                          "period_end": pd.date_range("2024-01-08", periods=3, freq="7D"),
                          "amount": 1.0})
    s = subscription_summary(weeks, observation_end="2024-01-20", period="weeks")
    assert s.attrs["time_unit"] == "week" and s.loc["w", "tenure"] == 2
    with pytest.raises(DataError, match=r"not period='month' \(28-31 days\)"):
        subscription_summary(weeks, observation_end="2024-01-20", period="month")


def test_summary_feeds_the_model(rng):
    """Simulated monthly billing -> summary -> the simulated (tenure, churned) exactly,
    and a fit that recovers the parameters."""
    sim = simulate_sbg(6000, 1.5, 8.0, tenure_max=rng.integers(1, 30, 6000), random_state=rng)
    churned = sim["churned"].to_numpy()
    n_paid = np.where(churned, sim["tenure"], sim["tenure"] + 1).astype(int)
    account = np.repeat(np.arange(n_paid.size), n_paid)
    k = np.arange(account.size) - np.repeat(np.cumsum(n_paid) - n_paid, n_paid)
    # active accounts are in their last period on 2025-06-15; churned ones ended by June 1
    month = k - np.where(churned, n_paid, n_paid - 1)[account]
    first_of = pd.period_range("1990-01", "2025-07", freq="M").to_timestamp()
    index = month + first_of.size - 2  # month 0 is June 2025
    events = pd.DataFrame({"account_id": sim.index.to_numpy()[account],
                           "period_start": first_of[index], "period_end": first_of[index + 1],
                           "amount": 20.0})
    s = subscription_summary(events, observation_end="2025-06-15")
    np.testing.assert_array_equal(s["tenure"].to_numpy(), sim["tenure"].to_numpy())
    np.testing.assert_array_equal(s["churned"].to_numpy(), churned)
    model = ShiftedBetaGeoModel().fit(s)
    assert model.time_unit_ == "month"
    np.testing.assert_allclose(model.params_.to_numpy(), [1.5, 8.0], rtol=0.25)


# ----------------------------------------------------------------------- errors
def _two_accounts():
    return monthly_events({"a1": ("2024-01-01", 3), "a2": ("2024-02-01", 2)})


@pytest.mark.parametrize(("edit", "message"), [
    (lambda e: e.drop(columns="amount"), r"column\(s\) 'amount' \(amount_col\) not in the events"),
    (lambda e: e.assign(period_end=e["period_start"]),
     r"'period_end' is on or before 'period_start' in 5 row\(s\), first account ids "
     r"\['a1', 'a2'\]\. .*Swapped columns\?"),
    (lambda e: pd.concat([e, e.iloc[[0]].assign(period_start=pd.Timestamp("2024-01-15"),
                                                period_end=pd.Timestamp("2024-02-15"))]),
     r"overlapping periods within an account in 2 row\(s\), first account ids \['a1'\]"),
    (lambda e: e.drop(index=1), r"gaps between consecutive periods .*\['a1'\] \(largest 29 days\)"),
    (lambda e: e.assign(period_end=e["period_start"] + pd.Timedelta(days=45)),
     r"overlapping periods"),
    (lambda e: e.assign(period_end=e["period_start"] + pd.Timedelta(days=45)).iloc[[0, 3]],
     r"unknown period length: 2 row\(s\), first account ids \['a1', 'a2'\] have periods of "
     r"\[45\] days.*Pass period='month'"),
    (lambda e: e.assign(amount=[10, -1, 10, np.nan, 10]),
     r"'amount' must be a number >= 0; 2 row\(s\), first account ids \['a1', 'a2'\]"),
    (lambda e: e.assign(period_start=["2024-01-01", "soon", "2024-03-01", "2024-02-01",
                                      "2024-03-01"]),
     r"'period_start' has missing or unreadable dates in 1 row\(s\).*\['soon'\]"),
    (lambda e: e.assign(account_id=["a1", None, "a1", "a2", "a2"]), "missing account ids"),
    (lambda e: e.iloc[:0], "no rows"),
])
def test_bad_events(edit, message):
    with pytest.raises(DataError, match=message):
        subscription_summary(edit(_two_accounts()), observation_end="2024-12-31")


def test_mixed_periods_and_late_rows():
    mixed = pd.concat([monthly_events({"m": ("2024-01-01", 2)}),
                       pd.DataFrame({"account_id": ["y"], "period_start": ["2023-06-01"],
                                     "period_end": ["2024-06-01"], "amount": [99.0]})])
    mixed["period_start"] = pd.to_datetime(mixed["period_start"])
    mixed["period_end"] = pd.to_datetime(mixed["period_end"])
    # the annual account's one period is open at observation end, so it counts as full
    with pytest.raises(DataError, match=r"mixed period lengths: \{'month': 2, 'year': 1\}"):
        subscription_summary(mixed, observation_end="2024-02-15")
    with pytest.raises(DataError, match=r"periods start after observation_end in 1 row\(s\)"):
        subscription_summary(monthly_events({"a": ("2024-01-01", 3)}),
                             observation_end="2024-02-15")
    with pytest.raises(ValueError, match=r"The 'period' parameter of subscription_summary"):
        subscription_summary(_two_accounts(), observation_end="2024-12-31", period="quarter")
