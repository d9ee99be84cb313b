"""Data as observed (DESIGN.md principle 7): left truncation (``entry``) in the churn
likelihood, the life table and the bundled Telco snapshot."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

from clvmodels import DataError, ShiftedBetaGeoModel, retention_table
from clvmodels.data.subscriptions import account_arrays, snapshot_entry
from clvmodels.datasets import load_telco
from clvmodels.models.churn.base import observe_lifetimes
from clvmodels.models.churn.sbg import sbg_log_likelihood, sbg_survival, simulate_sbg


def _windowed(n, alpha, beta, seed):
    """Accounts seen from a random decision 0..24 for 12 decisions (left truncation
    and right censoring), as a warehouse that starts on a date would show them."""
    rng = np.random.default_rng(seed)
    entry = rng.integers(0, 25, n)
    return simulate_sbg(n, alpha, beta, entry=entry, tenure_max=entry + 12, random_state=rng)


def test_likelihood_conditions_on_survival_to_entry():
    a, b = 0.9, 3.0
    t = np.array([1.0, 4.0, 9.0, 9.0, 3.0])
    c = np.array([1.0, 1.0, 0.0, 1.0, 0.0])
    e = np.array([0.0, 2.0, 5.0, 8.0, 3.0])
    s = lambda k: sbg_survival(a, b, k)  # noqa: E731
    by_hand = np.where(c == 1, np.log(s(t - 1) - s(t)), np.log(s(t))) - np.log(s(e))
    np.testing.assert_allclose(sbg_log_likelihood(a, b, t, c, e), by_hand, rtol=1e-12)
    # entry 0 is the full-history likelihood of Fader & Hardie
    np.testing.assert_allclose(sbg_log_likelihood(a, b, t, c, 0.0),
                               sbg_log_likelihood(a, b, t, c), rtol=0, atol=0)


def test_gradient_with_entry_matches_finite_differences():
    t = np.array([1.0, 4.0, 9.0, 30.0])
    c = np.array([1.0, 1.0, 0.0, 0.0])
    e = np.array([0.0, 2.0, 8.0, 12.0])
    _, g = sbg_log_likelihood(0.7, 2.5, t, c, e, gradient=True)
    h = 1e-6
    for j, (da, db) in enumerate(((h, 0.0), (0.0, h))):
        up = sbg_log_likelihood(0.7 * np.exp(da), 2.5 * np.exp(db), t, c, e)
        dn = sbg_log_likelihood(0.7 * np.exp(-da), 2.5 * np.exp(-db), t, c, e)
        np.testing.assert_allclose(g[j], (up - dn) / (2 * h), rtol=1e-6, atol=1e-9)


def test_entry_is_validated_with_the_row_and_the_fix():
    frame = pd.DataFrame({"tenure": [3, 5, 2], "churned": [False, True, True],
                          "entry": [4, 1, 2]}, index=["a", "b", "c"])
    with pytest.raises(DataError, match=r"'entry' .* must be a whole number between 0 and "
                                        r"'tenure'; 1 row\(s\), first account ids \['a'\]"):
        account_arrays(frame, "demo")
    with pytest.raises(DataError, match=r"churned account must have 'entry' < 'tenure'.*"
                                        r"\['c'\].*entry = tenure - 1"):
        account_arrays(frame.drop(index="a"), "demo")
    assert snapshot_entry(np.array([0, 1, 7])).tolist() == [0.0, 0.0, 6.0]
    with pytest.raises(ValueError, match="The 'observed_periods' parameter"):
        snapshot_entry([1, 2], observed_periods=0)


def test_observe_lifetimes_drops_accounts_lost_before_observation():
    out = observe_lifetimes(np.array([1.0, 2.0, 5.0, 40.0]), entry=[0, 2, 1, 3],
                            tenure_max=[10, 10, 4, 12], holdout=5)
    assert out.index.tolist() == [0, 2, 3]  # account 1 churned at 2 <= entry 2: unseen
    assert out["tenure"].tolist() == [1, 4, 12] and out["churned"].tolist() == [True, False,
                                                                                   False]
    assert out["holdout_renewals"].tolist() == [0.0, 0.0, 5.0]


@pytest.fixture(scope="module")
def windowed():
    return _windowed(100_000, 0.8, 3.0, 11)


@pytest.mark.slow
def test_recovery_through_observation_windows(windowed):
    """100,000 accounts (before truncation) seen through windows: within 5%."""
    model = ShiftedBetaGeoModel().fit(windowed)
    np.testing.assert_allclose(model.params_, [0.8, 3.0], rtol=0.05)
    # ignoring the window (entry dropped) is what went wrong on Telco: biased far off
    naive = ShiftedBetaGeoModel().fit(windowed.drop(columns="entry"))
    assert abs(naive.params_["beta"] / 3.0 - 1) > 0.25


def test_life_table_with_delayed_entry_follows_the_true_survival(windowed):
    table = retention_table(windowed)
    t = table.index.to_numpy(dtype=float)
    truth = sbg_survival(0.8, 3.0, t)
    # delayed entry: accounts count as at risk only from their entry on
    seen = windowed[windowed["entry"] == 0]
    assert table.loc[1, "at_risk"] == len(seen)
    # within 3 standard errors (Greenwood) at every period
    n, d, surv = (table[c].to_numpy() for c in ("at_risk", "churned", "survival"))
    se = surv * np.sqrt(np.cumsum(d / (n * (n - d))))
    assert np.all(np.abs(surv - truth) < 3 * se)
    # without the window the same accounts give a survival curve far above the truth
    naive = retention_table(windowed.drop(columns="entry"))
    assert naive.loc[20, "survival"] > truth[19] + 0.1


def test_telco_is_read_as_a_snapshot():
    telco = load_telco()
    assert (telco["entry"] == np.maximum(telco["tenure"] - 1, 0)).all()
    table = retention_table(telco)
    # the share of tenure-1 accounts that cancelled in the month (data README: 62%)
    assert 1 - table.loc[1, "retention_rate"] == pytest.approx(380 / 613)
    assert table.loc[1, "at_risk"] == (telco["tenure"] == 1).sum()
    model = ShiftedBetaGeoModel().fit(telco)
    # one decision per account: the likelihood is a Bernoulli of the retention rate r(t)
    a, b = model.params_
    t = telco["tenure"].to_numpy(float)[telco["tenure"] > 0]
    ch = telco["churned"].to_numpy()[telco["tenure"] > 0]
    r = (b + t - 1) / (a + b + t - 1)
    assert model.log_likelihood_ == pytest.approx(np.sum(np.where(ch, np.log1p(-r), np.log(r))),
                                                  rel=1e-10)
    # churn at tenure 1 is now near the observed 62%, not the ~3% of a full-history fit
    assert 1 - float(model.retention_rate(1)) == pytest.approx(0.62, abs=0.05)
    assert float(special.betaln(a, b)) < 0  # fitted at finite parameters


def test_billing_extract_started_on_a_date_gives_entry():
    from clvmodels.data.subscriptions import subscription_summary

    events = pd.DataFrame({
        "account_id": ["a", "a", "a", "b", "b", "c"],
        "period_start": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-02-15", "2024-03-15",
                         "2024-01-05"],
        "period_end": ["2024-02-01", "2024-03-01", "2024-04-01", "2024-03-15", "2024-04-15",
                       "2024-02-05"],
        "amount": 10.0})
    s = subscription_summary(events[events["account_id"] != "c"], observation_end="2024-04-20",
                             observation_start="2024-03-01")
    # a made 2 renewal decisions by March 1 (periods ending Feb 1 and Mar 1); b none
    assert s["entry"].to_dict() == {"a": 2, "b": 0}
    assert s.attrs["observation_start"] == "2024-03-01"
    account_arrays(s, "demo")  # entry < tenure for the churned ones: a valid window
    with pytest.raises(DataError, match=r"1 account\(s\) cancelled before observation_start.*"
                                        r"\['c'\]"):
        subscription_summary(events, observation_end="2024-04-20", observation_start="2024-03-01")
