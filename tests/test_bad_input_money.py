"""Bad or unusual input, round two (issue 17): money settings out of range at every
entry point — a rate or share written as a percentage (5 for 5%, a margin of 30 or
1.5), growth at or above the discount rate, a zero rate with an infinite expected
lifetime. The command line refuses them as usage errors before any work, naming the
flag; the API with the parameter. Helpers and fixtures: ``test_bad_input``.
"""

import re

import numpy as np
import pandas as pd
import pytest
from test_bad_input import api, cdnow, cli, d  # noqa: F401

from clvmodels import (
    contractual_lifetime_value,
    customer_lifetime_value,
    new_customer_value,
    portfolio_value,
)
from clvmodels.models.churn.base import observe_lifetimes
from clvmodels.models.churn.sbg import ShiftedBetaGeoModel
from clvmodels.scoring import load_job

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@pytest.fixture(scope="module")
def subscriptions(tmp_path_factory):
    """Monthly accounts whose churn probabilities pile up near 0 (the fitted alpha is
    below 1: without discounting, the expected lifetime is infinite), fitted as a job."""
    d = tmp_path_factory.mktemp("money")
    rng = np.random.default_rng(7)
    life = rng.geometric(rng.beta(0.6, 1.5, 1500))
    accounts = observe_lifetimes(life, tenure_max=24, time_unit="month")
    table = accounts.reset_index()[["account_id", "tenure", "churned"]].assign(revenue=30.0)
    table.to_csv(d / "accounts.csv", index=False)
    assert main_ok(["fit", "--kind", "contractual", d / "accounts.csv", "--out", d / "churn",
                    "--period", "month", "--revenue-col", "revenue"])
    return d


def main_ok(argv) -> bool:
    from clvmodels.cli import main

    return main([str(a) for a in argv]) == 0


# ------------------------------------------------------------- command line
@pytest.mark.parametrize("flag, value, says", [
    ("--discount-rate", "5", r"--discount-rate must be an effective annual rate in \[0, 1\), e\.g\. "
     r"0\.10 for 10%\. Got 5\. Did you mean 0\.05 \(5%\)\?"),
    ("--discount-rate", "10", r"Got 10\. Did you mean 0\.10 \(10%\)\?"),
    ("--discount-rate", "nan", r"--discount-rate must be .* Got nan\.$"),
    ("--margin", "30", r"--margin must be the share of revenue that is profit, in \(0, 1\].* Got "
     r"30\. Did you mean 0\.30 \(30%\)\?"),
    ("--margin", "1.5", r"Got 1\.5\. Did you mean 0\.015 \(1\.5%\)\?"),
    ("--margin", "0", r"--margin must be the share .* Got 0\.$"),
])
@pytest.mark.parametrize("command", ["score", "report"])
def test_rates_and_shares_written_as_percentages_are_usage_errors(d, capsys, command, flag,
                                                                  value, says):
    out = d / ("money.parquet" if command == "score" else "money.html")
    cli(capsys, command, d / "model", d / "tx.csv", "--out", out, flag, value, code=2,
        says=[says.replace("$", r"\n")])
    assert not out.exists()


def test_money_settings_of_a_subscription_job(subscriptions, capsys):
    d = subscriptions
    score = ["score", d / "churn", d / "accounts.csv", "--out", d / "s.parquet"]
    cli(capsys, *score, "--growth-rate", "0.01", code=2,
        says=[r"--growth-rate 0.01 a month is at or above the discount rate per month \(0\.797%, "
              r"from --discount-rate 0\.1 a year\)", "unbounded amount",
              r"Add a --horizon \(e\.g\. --horizon '5 years'\)"])
    cli(capsys, *score, "--growth-rate", "2", code=2, says=[r"--growth-rate must be revenue "
        r"growth per renewal period as a share, in \(-1, 1\).* Did you mean 0\.02 \(2%\)\?"])
    cli(capsys, *score, "--margin", "60", code=2, says=[r"Did you mean 0\.60 \(60%\)\?"])
    cli(capsys, "report", d / "churn", d / "accounts.csv", "--out", d / "r.html",
        "--discount-rate", "8", code=2, says=[r"Did you mean 0\.08 \(8%\)\?"])
    assert not (d / "s.parquet").exists() and not (d / "r.html").exists()
    # growth below the discount rate, or any growth over a horizon, is a finite value
    cli(capsys, *score, "--growth-rate", "0.01", "--horizon", "3 years", code=0,
        says=["scored 1,"])
    within = pd.read_parquet(d / "s.parquet")
    cli(capsys, *score, "--growth-rate", "0.005", code=0, says=["scored 1,"])
    whole = pd.read_parquet(d / "s.parquet")
    assert np.isfinite(within.to_numpy()).all()
    # alpha < 1: the undiscounted remaining lifetime is infinite, as the schema says; values
    # are discounted
    assert np.isfinite(whole.drop(columns="expected_residual_lifetime").to_numpy()).all()
    assert (whole["expected_clv"] >= within["expected_clv"] - 1e-9).mean() > 0.99


def test_a_zero_rate_with_an_infinite_lifetime_is_refused_with_the_flags(subscriptions,
                                                                        capsys):
    d = subscriptions
    job = load_job(d / "churn")
    assert job.churn.params_["alpha"] < 1  # the mean lifetime does not exist
    cli(capsys, "score", d / "churn", d / "accounts.csv", "--out", d / "z.parquet",
        "--discount-rate", "0", code=1,
        says=[r"the whole-life value is infinite for [\d,]+ account\(s\): with no discounting "
              "the expected remaining lifetime itself is infinite",
              r"Add a --horizon \(e\.g\. --horizon '5 years'\), raise --discount-rate"],
        never=["horizon='5 years'"])
    cli(capsys, "score", d / "churn", d / "accounts.csv", "--out", d / "z.parquet",
        "--discount-rate", "0", "--horizon", "5 years", code=0, says=["scored 1,"])
    assert np.isfinite(pd.read_parquet(d / "z.parquet").to_numpy()).all()


# ------------------------------------------------------------------ the API
@pytest.fixture(scope="module")
def purchase(d):
    from clvmodels import rfm_summary

    summary = rfm_summary(d / "tx.csv", observation_end="1998-06-30").iloc[:60]
    return load_job(d / "model"), summary


def _purchase_calls(job, summary):
    bg, gg = job.transactions, job.spend
    return {
        "customer_lifetime_value": lambda **kw: customer_lifetime_value(bg, gg, summary, **kw),
        "portfolio_value": lambda **kw: portfolio_value(bg, gg, summary, n_samples=50, **kw),
        "new_customer_value": lambda **kw: new_customer_value(bg, gg, horizon="1 year", **kw),
    }


@pytest.mark.parametrize("setting, says", [
    ({"discount_rate": 5}, r"'discount_rate' parameter of {f} must be a float in \[0, 1\).*"
     r"Got 5 instead\. Did you mean 0\.05 \(5%\)\?"),
    ({"discount_rate": 10.0}, r"Got 10\.0 instead\. Did you mean 0\.10 \(10%\)\?"),
    ({"discount_rate": 1.5}, r"Did you mean 0\.015 \(1\.5%\)\?"),
    ({"margin": 30}, r"'margin' parameter of {f} must be a float in \(0, 1\].*Did you mean "
     r"0\.30 \(30%\)\?"),
    ({"margin": 1.5}, r"Got 1\.5 instead\. Did you mean 0\.015 \(1\.5%\)\?"),
])
def test_every_value_function_refuses_percentages(purchase, subscriptions, setting, says):
    job, summary = purchase
    calls = _purchase_calls(job, summary)
    churn = load_job(subscriptions / "churn").churn
    accounts = pd.DataFrame({"tenure": [1, 5], "revenue": [30.0, 30.0]})
    calls["contractual_lifetime_value"] = lambda **kw: contractual_lifetime_value(
        churn, accounts, revenue_col="revenue", **{"discount_rate": 0.1, **kw})
    for name, call in calls.items():
        error, _ = api(call, **setting)
        assert isinstance(error, ValueError), (name, error)
        assert re.search(says.format(f=name), str(error)), (name, error)


def test_growth_at_or_above_the_rate_and_unbounded_draws_are_refused():
    rng = np.random.default_rng(1)
    accounts = observe_lifetimes(rng.geometric(rng.beta(1.08, 1.0, 400)), tenure_max=12,
                                 time_unit="month").assign(revenue=10.0)
    model = ShiftedBetaGeoModel(random_state=0).fit(accounts)
    assert model.params_["alpha"] > 1  # finite at the estimate ...
    share = float((model.draws_["alpha"].values <= 1).mean())
    assert share > 0.1  # ... but not under many parameter draws
    kwargs = dict(revenue_col="revenue", random_state=0)
    error, _ = api(contractual_lifetime_value, model, accounts, discount_rate=0.0, **kwargs)
    assert isinstance(error, ValueError) and "infinite under" in str(error), error
    assert "credible interval has no upper bound" in str(error)
    for growth in (0.01, 0.05):  # 0.797% a month is the rate of 10% a year
        error, _ = api(contractual_lifetime_value, model, accounts, discount_rate=0.1,
                       growth_rate=growth, **kwargs)
        assert "growth rate is at or above the discount rate" in str(error), error
    fine, _ = api(contractual_lifetime_value, model, accounts, discount_rate=0.0,
                  horizon="5 years", **kwargs)
    assert np.isfinite(fine.to_numpy()).all()
