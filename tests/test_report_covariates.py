"""The purchase report with covariate models: every number on the page values each
customer with her own parameters (clvmodels.value.rows), the section "Value by covariate
level" shows portfolio_value by level, and with every coefficient 0 the report's numbers
are those of the models without covariates."""

import html
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from clvmodels import (
    BetaGeoCovariateModel,
    BetaGeoModel,
    GammaGammaCovariateModel,
    GammaGammaModel,
    calibration_holdout_summary,
    new_customer_value,
    portfolio_value,
    rfm_summary,
)
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.evaluation.holdout_value import evaluate_holdout_value
from clvmodels.plots import (
    plot_calibration_vs_holdout,
    plot_frequency_fit,
    plot_tracking,
)
from clvmodels.report import build_report
from clvmodels.report.decisions import (
    at_risk,
    cash_flows,
    draw_totals,
    printed_bounds,
    top_share,
)
from clvmodels.report.page import _money_range, _sig_money
from clvmodels.timeunits import convert_duration
from clvmodels.value.purchase import customer_lifetime_value, simulate_model_futures
from clvmodels.value.rows import RowParams

SETTINGS = dict(discount_rate=0.10, margin=0.30, level=0.90)
N_SAMPLES = 40
COST = pd.Series({"store": 40.0, "web": 15.0})


@pytest.fixture(scope="module")
def data():
    """CDNOW with a random acquisition channel (web customers' amounts doubled, so the
    spend coefficient of web is clearly positive) and a random numeric age."""
    tx = load_cdnow_transactions()
    ids = np.sort(tx["customer_id"].unique())
    rng = np.random.default_rng(0)
    covariates = pd.DataFrame({"customer_id": ids,
                               "channel": np.where(rng.random(ids.size) < 0.4, "web", "store"),
                               "age": rng.normal(40.0, 10.0, ids.size).round()})
    web = tx["customer_id"].isin(covariates.loc[covariates.channel == "web", "customer_id"])
    tx = tx.assign(amount=np.where(web, 2.0 * tx["amount"], tx["amount"]))
    summary = rfm_summary(tx, observation_end="1998-06-30", covariates=covariates)
    # the holdout without covariates: the report takes them from the summary by id
    holdout = calibration_holdout_summary(tx, calibration_end="1997-09-30",
                                          observation_end="1998-06-30")
    return tx, summary, holdout


@pytest.fixture(scope="module")
def models(data):
    summary = data[1]
    bg = BetaGeoCovariateModel(covariates=["channel"], random_state=0).fit(summary)
    gg = GammaGammaCovariateModel(covariates=["channel", "age"], random_state=0).fit(summary)
    return bg, gg


@pytest.fixture(scope="module")
def report(data, models, tmp_path_factory):
    tx, summary, holdout = data
    path = build_report(*models, summary, tmp_path_factory.mktemp("cov") / "report.html",
                        transactions=tx, holdout=holdout, acquisition_cost=COST,
                        horizons_years=(1.0, 3.0), n_samples=N_SAMPLES, random_state=0,
                        **SETTINGS)
    return path, path.read_text()


def _text(page: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<img[^>]*>", "", page)))
    return re.sub(r"\s+", " ", text)


def test_the_section_shows_portfolio_value_by_level(data, models, report):
    _, summary, _ = data
    bg, gg = models
    path, page = report
    text = _text(page)
    section = text[text.index("Value by covariate level"):text.index("What each covariate does")]
    exported = pd.read_csv(path.with_suffix(".covariates.csv"), index_col=[0, 1])
    by_channel = portfolio_value(bg, gg, summary, by="channel", horizon=(1, "year"),
                                 n_samples=N_SAMPLES, random_state=0, **SETTINGS)
    got = exported.loc["channel"]
    np.testing.assert_allclose(got[by_channel.columns].to_numpy(), by_channel.to_numpy(),
                               rtol=1e-12)
    for lv, row in by_channel.iterrows():
        line = section[section.index(f" {lv} ", section.index("By channel")):]
        for words in (_sig_money(row.expected_total),
                      _money_range(row.expected_total_lower, row.expected_total_upper),
                      _money_range(row.predictive_total_lower, row.predictive_total_upper)):
            assert line[:200].count(words), (lv, words, line[:200])
    # the quartiles of the numeric covariate split the same customers and the same total
    age = exported.loc["age"]
    assert len(age) == 4 and age["customers"].sum() == len(summary)
    total = portfolio_value(bg, gg, summary, horizon=(1, "year"), n_samples=N_SAMPLES,
                            random_state=0, **SETTINGS).iloc[0]
    assert age["expected_total"].sum() == pytest.approx(total.expected_total, rel=1e-9)
    assert got["expected_total"].sum() == pytest.approx(total.expected_total, rel=1e-9)
    assert "By age (quartile)" in section and "Q1: " in section


def test_coefficients_and_new_customers_per_channel_in_words(data, models, report):
    _, summary, _ = data
    bg, gg = models
    text = _text(report[1])
    coef = gg.coefficients(0.90).loc["gamma:channel[web]"]
    assert np.exp(coef["lower"]) > 1.5  # web customers' doubled amounts
    assert (f"a customer with channel = web (against store) spends {coef['multiplier']:.2f}x "
            f"as much per purchase (90%: {np.exp(coef['lower']):.2f} to "
            f"{np.exp(coef['upper']):.2f})") in text
    purchase = bg.coefficients(0.90).loc["alpha:channel[web]"]
    assert f"buys {purchase['multiplier']:.2f}x as often" in text
    # LTV:CAC per channel: a new customer at each channel, age held at its mean
    mean_age = float(summary["age"].mean())
    assert f"age at its mean ({mean_age:.3g})" in text
    summary_line = text[text.index("LTV:CAC by channel"):]
    summary_line = summary_line[:summary_line.index("Validation:")]
    for lv, cost in COST.items():
        new = new_customer_value(bg, gg, covariates={"channel": lv, "age": mean_age},
                                 horizon=(3, "year"), random_state=0, **SETTINGS)
        ratio = new.expected_value / cost
        mine = summary_line[summary_line.index(f" {lv} "):]
        assert mine.startswith(f" {lv} {ratio:.1f} : 1 "), mine[:80]
        assert f"({_sig_money(new.expected_value)} against ${cost:.2f})" in mine[:80]
    assert "Below 3 : 1 (acquisition may not pay back): store" in text
    # the report's CLV table values each customer with her own parameters
    clv = pd.read_csv(report[0].with_suffix(".clv.csv"), index_col=0)
    np.testing.assert_allclose(clv["probability_alive"],
                               bg.probability_alive(summary).to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(clv["expected_spend"], gg.expected_spend(summary).to_numpy(),
                               rtol=1e-12)
    assert "Does the model forecast well?" in text and "not validated" not in text


@pytest.fixture(scope="module")
def zero(data, zero_coefficients):
    """Models without covariates and the same models with covariates, every coefficient 0,
    on the first 800 customers."""
    tx, summary, holdout = data
    keep = summary.index[:800]
    small = summary.loc[keep]
    cal = holdout.loc[keep].assign(channel=small["channel"], age=small["age"])
    bg, gg = BetaGeoModel(random_state=0).fit(small), GammaGammaModel(random_state=0).fit(small)
    bgc = zero_coefficients(
        BetaGeoCovariateModel(covariates=["channel", "age"], random_state=0).fit(small), bg)
    ggc = zero_coefficients(
        GammaGammaCovariateModel(covariates=["channel", "age"], random_state=0).fit(small), gg)
    return tx[tx.customer_id.isin(keep)], small, cal, (bg, gg), (bgc, ggc)


def test_zero_coefficients_give_the_decisions_of_the_models_without_them(zero):
    _, summary, _, plain, cov = zero
    H = convert_duration(1, "year", "week")
    clv = customer_lifetime_value(*plain, summary, horizon=(1, "year"), n_samples=20,
                                  random_state=0, **SETTINGS)
    opts = dict(horizon=H, random_state=0, n_draws=30, **SETTINGS)
    groups = (summary["frequency"] > 2).to_numpy().astype(np.intp)
    for if_alive in (False, True):
        a, b = (draw_totals(*m, summary, horizons=[H, 2 * H], groups=groups, n_groups=2,
                            if_alive=if_alive, n_draws=30, discount_rate=0.1, margin=0.3)
                for m in (plain, cov))
        np.testing.assert_allclose(b, a, rtol=1e-9)
    top = [top_share(*m, summary, clv["expected_clv"], **opts) for m in (plain, cov)]
    assert top[1]["share"] == pytest.approx(top[0]["share"], rel=1e-9)
    np.testing.assert_allclose(top[1]["share_range"], top[0]["share_range"], rtol=1e-9)
    risk = [at_risk(*m, summary, clv, **opts) for m in (plain, cov)]
    assert risk[1][0]["customers"] == risk[0][0]["customers"] > 0
    np.testing.assert_allclose(risk[1][1]["value_if_active"], risk[0][1]["value_if_active"],
                               rtol=1e-9)
    np.testing.assert_allclose(risk[1][0]["value_if_active_range"],
                               risk[0][0]["value_if_active_range"], rtol=1e-9)
    flows = [cash_flows(*m, summary, years=1.0, start="1998-06-30", n_draws=30, random_state=0,
                        **SETTINGS) for m in (plain, cov)]
    cols = ["expected", "lower", "upper", "present_value", "present_value_lower",
            "present_value_upper"]
    np.testing.assert_allclose(flows[1][cols].to_numpy(), flows[0][cols].to_numpy(), rtol=1e-9)
    # printed bounds: other random streams (the covariate path simulates per pattern), the
    # same law: within six standard errors of their difference
    ids = clv.sort_values("expected_clv", ascending=False).index[:4]
    a, b = (printed_bounds(*m, summary, ids, horizon=H, n_samples=20_000, random_state=1,
                           **SETTINGS) for m in (plain, cov))
    for side in ("lower", "upper"):
        gap = (b[f"clv_predictive_{side}"] - a[f"clv_predictive_{side}"]).abs()
        se = np.hypot(a[f"{side}_se"], b[f"{side}_se"])
        assert (gap <= 6 * se + 1e-9).all(), (side, gap.tolist(), se.tolist())


def test_zero_coefficients_give_the_holdout_checks_of_the_models_without_them(zero):
    tx, _, cal, plain, cov = zero
    a, b = (evaluate_holdout_value(*m, cal) for m in (plain, cov))
    pd.testing.assert_series_equal(b.metrics, a.metrics, rtol=1e-12)
    for draw in (lambda m, ax: plot_frequency_fit(m, cal, ax=ax),
                 lambda m, ax: plot_calibration_vs_holdout(m, cal, ax=ax),
                 lambda m, ax: plot_tracking(m, tx, cal, start="1997-01-01",
                                             calibration_end="1997-09-30", end="1998-06-30",
                                             ax=ax)):
        axes = [draw(m, Figure().subplots()) for m in (plain[0], cov[0])]
        if axes[0].containers:  # bars: the expected ones
            got = [[bar.get_height() for bar in ax.containers[1]] for ax in axes]
        else:  # lines: the expected one
            got = [ax.get_lines()[1].get_ydata() for ax in axes]
        np.testing.assert_allclose(got[1], got[0], rtol=1e-9)


def test_simulated_spend_uses_each_rows_own_gamma(zero):
    """A spend coefficient of log 2 on web: a web row's simulated spend is twice a store
    row's with the same history (without repeat purchases, Gamma-Gamma's spend scales
    with gamma)."""
    _, summary, _, (bg, gg), (_, ggc) = zero
    doubled = ggc.__class__(covariates=["channel", "age"], random_state=0)
    doubled.__dict__.update(ggc.__dict__)
    names = list(ggc.param_names)
    logs = np.array(ggc.log_params_, dtype=np.float64)
    logs[names.index("gamma:channel[web]")] = np.log(2.0)
    doubled.log_params_ = logs
    doubled.params_ = pd.Series(np.exp(logs), index=names)
    doubled.draws_ = ggc.draws_.assign({"gamma:channel[web]": ggc.draws_["gamma:age"] * 2.0})
    # no repeat purchase yet: her expected spend per purchase is proportional to gamma
    frame = pd.DataFrame({"frequency": [0.0, 0.0], "recency": [0.0, 0.0], "T": [38.0, 38.0],
                          "monetary_value": [np.nan, np.nan], "channel": ["web", "store"],
                          "age": [40.0, 40.0]})
    spend = RowParams(doubled, frame, 2)
    rows = {c: frame[c].to_numpy(dtype=np.float64)
            for c in ("frequency", "recency", "T", "monetary_value")}
    rows.update(ppat=np.zeros(2), spat=spend.ids)
    sims = simulate_model_futures(bg, rows, 52.0, 0.0, 200_000, np.random.default_rng(0),
                                  spend_model=doubled, spend=spend)
    mean = sims.value.mean(axis=1)
    se = sims.value.std(axis=1) / np.sqrt(sims.value.shape[1])
    ratio = mean[0] / mean[1]
    assert abs(ratio - 2.0) < 6 * ratio * np.hypot(se[0] / mean[0], se[1] / mean[1])
    # and the same rows valued by customer_lifetime_value: the expected spend doubles
    e = customer_lifetime_value(bg, doubled, frame, n_samples=20, random_state=0)
    assert e["expected_spend"].iloc[0] / e["expected_spend"].iloc[1] == pytest.approx(2.0)


def test_decisions_and_holdout_value_value_each_customer_with_her_own_parameters(
        data, models, report, zero):
    """With covariates that move value: the report's totals at the point estimate are the
    sums of the per-customer values of customer_lifetime_value."""
    _, summary, _ = data
    bg, gg = models
    clv = pd.read_csv(report[0].with_suffix(".clv.csv"), index_col=0)
    H = convert_duration(1, "year", "week")
    totals = draw_totals(bg, gg, summary, horizons=[H], n_draws=5, discount_rate=0.1,
                         margin=0.3)
    assert totals[0, 0, 0] == pytest.approx(clv["expected_clv"].sum(), rel=1e-9)
    risk, risky = at_risk(bg, gg, summary, clv, horizon=H, random_state=0, n_draws=5,
                          **SETTINGS)
    np.testing.assert_allclose(
        risky["value_if_active"],
        (clv["expected_clv"] / clv["probability_alive"]).loc[risky.index], rtol=1e-9)
    # the holdout money forecast: purchases x spend per customer, her own parameters
    _, small, cal, _, _ = zero
    bgc = BetaGeoCovariateModel(covariates=["channel"], random_state=0).fit(cal)
    ggc = GammaGammaCovariateModel(covariates=["channel", "age"], random_state=0).fit(cal)
    m = evaluate_holdout_value(bgc, ggc, cal).metrics
    length = float(cal["holdout_length"].iloc[0])
    own = customer_lifetime_value(bgc, ggc, cal, horizon=(length, "week"), discount_rate=0.0,
                                  margin=1.0, n_samples=20, random_state=0)
    assert m.expected_spend_total == pytest.approx(own["expected_clv"].sum(), rel=1e-6)
