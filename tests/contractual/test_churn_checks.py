"""Model checks for contractual churn models (clvmodels.evaluation.churn_checks)."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

from clvmodels.datasets import load_telco
from clvmodels.errors import DataError, NotFittedError
from clvmodels.evaluation.churn_checks import (
    churn_by_tenure_band,
    compare_churn_models,
    describe_flags,
    jeffreys_interval,
    survival_check,
)
from clvmodels.models.churn.covariates import ShiftedBetaGeoCovariateModel
from clvmodels.models.churn.sbg import (
    ShiftedBetaGeoModel,
    accounts_from_survival,
    simulate_sbg,
)

HOLDOUT = 12


@pytest.fixture(scope="module")
def simulated():
    """sBG(1.2, 3.0) accounts, left-truncated at a random entry (0-11 decisions) and
    observed for 36 decisions, with a random 4-level 'region' unrelated to churn; the
    true-family model fitted to them and a wrong model (fitted to sBG(3, 3) data)."""
    rng = np.random.default_rng(20261124)
    n = 8000
    entry = rng.integers(0, 12, n)
    acc = simulate_sbg(n, 1.2, 3.0, entry=entry, tenure_max=entry + 36, holdout=HOLDOUT,
                       random_state=rng)
    acc["region"] = rng.choice(list("ABCD"), len(acc))
    true = ShiftedBetaGeoModel(random_state=0).fit(acc)
    other = simulate_sbg(4000, 3.0, 3.0, tenure_max=24, random_state=rng)
    wrong = ShiftedBetaGeoModel(random_state=0).fit(other)
    return acc, true, wrong


@pytest.fixture(scope="module")
def telco():
    data = load_telco()
    return data, ShiftedBetaGeoModel(random_state=0).fit(data)


def _holdout(acc):
    """The calibration's active accounts as seen over the next HOLDOUT decisions."""
    act = acc[~acc["churned"]]
    k = act["holdout_renewals"].to_numpy()
    return pd.DataFrame({"tenure": act["tenure"] + np.minimum(k + 1, HOLDOUT).astype(int),
                         "churned": k < HOLDOUT, "entry": act["tenure"]}, index=act.index)


# ------------------------------------------------------------- tenure bands
def test_decisions_follow_the_observation_window(simulated):
    acc, true, _ = simulated
    table = churn_by_tenure_band(true, acc)
    assert list(table.index.names) == ["segment", "band"]
    assert table.index.get_level_values("band").tolist() == ["1-3", "4-12", "13-36", "37-47"]
    # every observed decision is in exactly one band: sum(tenure - entry)
    assert table["decisions"].sum() == (acc["tenure"] - acc["entry"]).sum()
    assert table["churned"].sum() == acc["churned"].sum()
    # decisions in band 1-3: accounts at risk at decisions 1, 2, 3
    t, e = acc["tenure"].to_numpy(), acc["entry"].to_numpy()
    at_risk = sum(((e < j) & (j <= t)).sum() for j in (1, 2, 3))
    assert table["decisions"].iloc[0] == at_risk
    assert table.attrs["time_unit"] == "month" and table.attrs["level"] == 0.9


def test_true_model_is_rarely_flagged(simulated):
    acc, true, _ = simulated
    pooled = churn_by_tenure_band(true, acc)
    by_region = churn_by_tenure_band(true, acc, by="region")
    # with 90% intervals ~10% of bands are flagged by chance (7.8% over 20 seeds
    # tried); for this seed: none of the 4 pooled bands, 2 of the 16 region bands
    assert not pooled["flag"].any()
    assert by_region["flag"].sum() <= 3 and len(by_region) == 16
    # the model's expected churn tracks the observed one in every pooled band
    np.testing.assert_allclose(pooled["expected_churned"], pooled["churned"], rtol=0.2)
    inside = pooled["model_churn_rate"].between(pooled["model_churn_rate_lower"],
                                                pooled["model_churn_rate_upper"])
    assert inside.all()
    assert describe_flags(pooled)[0].startswith("Every segment matched")


def test_wrong_model_is_flagged_in_words(simulated):
    acc, _, wrong = simulated
    table = churn_by_tenure_band(wrong, acc, by="region")
    assert table["flag"].all()
    assert (table["model_churn_rate"] > table["observed_churn_rate_upper"]).all()
    sentences = describe_flags(table)
    assert len(sentences) == 4  # one per flagged segment
    first = sentences[0]
    assert first.startswith("A: in months 1-3 the model expects ")
    assert "of accounts to cancel each month, but " in first
    assert "(90% interval " in first and " decisions)" in first
    assert "the model does not match this segment" in first and "--segment-col" in first
    pooled = describe_flags(churn_by_tenure_band(wrong, acc))
    assert pooled[0].startswith("All accounts: ") and "refit it on them" in pooled[0]


def test_expected_churn_matches_a_per_account_loop(rng):
    """Covariate model: every decision uses the account's own parameters."""
    n = 3000
    frames = []
    for premium, (a, b) in enumerate([(1.0, 2.0), (1.0, 12.0)]):
        entry = rng.integers(0, 6, n)
        part = simulate_sbg(n, a, b, entry=entry, tenure_max=entry + 12, random_state=rng)
        frames.append(part.assign(premium=float(premium), plan=["basic", "premium"][premium]))
    acc = pd.concat(frames, ignore_index=True)
    model = ShiftedBetaGeoCovariateModel(covariates=["premium"], random_state=0).fit(acc)
    table = churn_by_tenure_band(model, acc, by="plan", bands=(1, 4, 8))
    params = model.point_params()
    last = int(acc.loc[acc["tenure"] > acc["entry"], "tenure"].max())
    loop = {}
    for _, row in acc.iterrows():  # the slow way, one account and decision at a time
        alpha = params["alpha"] * params["alpha[premium]"] ** row["premium"]
        beta = params["beta"] * params["beta[premium]"] ** row["premium"]
        for j in range(int(row["entry"]) + 1, int(row["tenure"]) + 1):
            band = "1-3" if j < 4 else ("4-7" if j < 8 else f"8-{last}")
            loop[(row["plan"], band)] = loop.get((row["plan"], band), 0.0) + alpha / (
                alpha + beta + j - 1)
    expected = pd.Series(loop).sort_index()
    np.testing.assert_allclose(table["expected_churned"].sort_index().to_numpy(),
                               expected.to_numpy(), rtol=1e-10)
    # the covariate model follows both plans; the pooled sBG does not follow them all
    assert table["flag"].sum() <= 1
    pooled = ShiftedBetaGeoModel(random_state=0).fit(acc)
    assert churn_by_tenure_band(pooled, acc, by="plan", bands=(1, 4, 8))["flag"].sum() >= 3


def test_telco_two_year_contract_is_flagged(telco):
    data, model = telco
    table = churn_by_tenure_band(model, data, by="Contract")
    assert list(table.index.names) == ["Contract", "band"]
    # a snapshot: one decision per account, in the band of its tenure (tenure >= 1)
    for (contract, band), row in table.iterrows():
        lo, hi = row["first_period"], row["last_period"]
        seg = data[data["Contract"] == contract]
        assert row["decisions"] == seg["tenure"].between(lo, hi).sum()
        assert row["churned"] == (seg["churned"] & seg["tenure"].between(lo, hi)).sum()
    assert table["decisions"].sum() == (data["tenure"] >= 1).sum() == 7032
    two = table.loc["Two year"]
    # two-year churn rises with tenure (0, 0, 1.1%, 3.2%); the pooled sBG's falls
    assert two["observed_churn_rate"].is_monotonic_increasing
    assert two["model_churn_rate"].is_monotonic_decreasing
    assert two["flag"].all()
    np.testing.assert_allclose(two["decisions"], [6, 52, 186, 1441])
    np.testing.assert_allclose(two["churned"], [0, 0, 2, 46])
    sentences = describe_flags(table)
    named = [s for s in sentences if s.startswith("Two year: ")]
    assert len(named) == 1
    assert "in months 1-3 the model expects 55.0% of accounts to cancel each month, but 0.0% " \
           "did (90% interval 0.0%-26.4%, 6 decisions)" in named[0]
    assert "the model does not match this segment" in named[0]


def test_jeffreys_interval_is_the_beta_quantiles():
    lo, hi = jeffreys_interval(np.array([3.0, 0.0, 4.0, 0.0]), np.array([20.0, 6.0, 4.0, 0.0]),
                               0.9)
    from scipy import stats

    np.testing.assert_allclose([lo[0], hi[0]], stats.beta.ppf([0.05, 0.95], 3.5, 17.5))
    assert lo[1] == 0.0 and hi[1] == pytest.approx(stats.beta.ppf(0.95, 0.5, 6.5))
    assert hi[2] == 1.0 and np.isnan(lo[3]) and np.isnan(hi[3])


# ------------------------------------------------------------------ survival
def test_survival_check_greenwood_and_model():
    regular = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241], time_unit="year")
    model = ShiftedBetaGeoModel(random_state=0).fit(regular)
    check = survival_check(model, regular, level=0.9)
    first = check.iloc[0]
    s, var = 0.631, 369 / (1000 * 631)  # Greenwood on the log scale
    z = 1.6448536269514722
    assert first["actual_survival"] == pytest.approx(s)
    assert first["actual_survival_lower"] == pytest.approx(s * np.exp(-z * np.sqrt(var)))
    assert first["actual_survival_upper"] == pytest.approx(s * np.exp(z * np.sqrt(var)))
    a, b = model.params_
    t = np.arange(1, 8)
    expected = np.exp(special.betaln(a, b + t) - special.betaln(a, b))
    np.testing.assert_allclose(check["model_survival"], expected, rtol=1e-12)
    assert (check["model_survival_lower"] <= check["model_survival"]).all()
    assert not check["flag"].any()


def test_survival_check_flags(simulated, telco):
    acc, true, wrong = simulated
    assert survival_check(true, acc, by="region")["flag"].sum() <= 2  # 0 of 188 here
    assert survival_check(wrong, acc)["flag"].mean() > 0.5
    data, model = telco
    check = survival_check(model, data, by="Contract", tolerance=0.05)
    flags = check.groupby(level="Contract")["flag"].sum()
    assert flags["Two year"] >= 70 and flags["Month-to-month"] == 0  # 71 of 72 periods
    sentence = [s for s in describe_flags(churn_by_tenure_band(model, data, by="Contract"),
                                          check) if s.startswith("Two year")][0]
    assert "of new accounts to be still active, but the life table shows" in sentence


# ----------------------------------------------------------------- comparison
def test_compare_churn_models(simulated):
    acc, true, wrong = simulated
    table = compare_churn_models({"wrong": wrong, "true": true}, acc, holdout=_holdout(acc))
    assert table.index.tolist() == ["true", "wrong"]  # sorted by AIC
    assert table.loc["true", "log_likelihood"] == pytest.approx(true.log_likelihood_, rel=1e-12)
    assert table.loc["true", "aic"] == pytest.approx(true.aic_)
    state = dict(vars(true))
    compare_churn_models({"true": true}, _holdout(acc))  # scoring other data ...
    assert vars(true).keys() == state.keys()  # ... leaves the fitted model as it was
    assert all(vars(true)[k] is v for k, v in state.items())
    n = (acc["tenure"] - acc["entry"]).sum()
    assert table.attrs["n_decisions"] == n
    assert table.loc["wrong", "bic"] == pytest.approx(
        2 * np.log(n) - 2 * table.loc["wrong", "log_likelihood"])
    if hasattr(true, "bic_"):  # the engine's BIC uses the same n (decisions observed)
        assert table.loc["true", "bic"] == pytest.approx(true.bic_)
    assert table.loc["true", "delta_aic"] == 0 and table.loc["wrong", "delta_aic"] > 100
    assert table.loc["true", "holdout_log_likelihood"] > table.loc["wrong", "holdout_log_likelihood"]
    assert table.loc["true", "holdout_band_error"] < 0.1 < table.loc["wrong", "holdout_band_error"]


# -------------------------------------------------------------------- errors
def test_errors(simulated):
    acc, true, _ = simulated
    with pytest.raises(TypeError, match="The 'model' parameter of churn_by_tenure_band must be "
                       "a fitted churn model"):
        churn_by_tenure_band("sbg", acc)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        churn_by_tenure_band(ShiftedBetaGeoModel(), acc)
    with pytest.raises(ValueError, match="The 'bands' parameter of churn_by_tenure_band must "
                       r"be a tuple of strictly increasing ints >= 1.*Got \(1, 4, 4\) instead"):
        churn_by_tenure_band(true, acc, bands=(1, 4, 4))
    with pytest.raises(ValueError, match="The 'level' parameter of survival_check must be a "
                       "float in \\(0, 1\\). Got 90 instead."):
        survival_check(true, acc, level=90)
    with pytest.raises(ValueError, match="The 'tolerance' parameter of survival_check"):
        survival_check(true, acc, tolerance=-0.1)
    with pytest.raises(DataError, match=r"the 'by' column\(s\) \['plan'\] are not in the accounts"):
        churn_by_tenure_band(true, acc, by="plan")
    with pytest.raises(DataError, match="missing column"):
        churn_by_tenure_band(true, acc.drop(columns="churned"))
    with pytest.raises(DataError, match="after the last decision observed"):
        churn_by_tenure_band(true, acc, bands=(100,))
    with pytest.raises(TypeError, match="The 'band_table' parameter of describe_flags must be "
                       "a DataFrame"):
        describe_flags([])
    with pytest.raises(DataError, match="describe_flags: 'band_table' lacks column"):
        describe_flags(acc)
    with pytest.raises(TypeError, match="The 'models' parameter of compare_churn_models must "
                       "be a non-empty dict"):
        compare_churn_models({}, acc)
    with pytest.raises(TypeError, match=r"The 'models\['x'\]' parameter of compare_churn_models must be a fitted churn model"):
        compare_churn_models({"x": 1.0}, acc)


def test_missing_covariates_are_named(rng):
    acc = simulate_sbg(500, 1.0, 3.0, tenure_max=6, random_state=rng)
    acc["premium"] = rng.integers(0, 2, len(acc)).astype(float)
    model = ShiftedBetaGeoCovariateModel(covariates=["premium"], random_state=0).fit(acc)
    for check in (churn_by_tenure_band, survival_check):
        with pytest.raises(DataError, match=r"covariate column\(s\) \['premium'\] are not in"):
            check(model, acc.drop(columns="premium"))
