"""Bad or unusual input, round two (issue 17): data. Partial copies of a log and the
DuckDB reader's duplicates, typo dates far in the past, a summary file without its
time unit, amounts in huge or tiny currency units, degenerate data given straight to
a model, and an all-churned cohort. Helpers and fixtures: ``test_bad_input``.
"""

import re

import numpy as np
import pandas as pd
import pytest
from test_bad_input import COLUMNS, api, cdnow, cli, d, refused, small, write  # noqa: F401

from clvmodels import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    rfm_summary,
)
from clvmodels.cli import main
from clvmodels.data import calibration_holdout_summary
from clvmodels.data.discrete import discrete_summary
from clvmodels.errors import DataError
from clvmodels.models.churn.bdw import BetaDiscreteWeibullModel
from clvmodels.models.churn.sbg import ShiftedBetaGeoModel
from clvmodels.priors import LogNormal
from clvmodels.scoring import fit_job, load_job

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _month(tx, start="1997-03-01", end="1997-04-01"):
    dates = pd.to_datetime(tx["date"])
    return tx[(dates >= start) & (dates < end)]


# ================================================ 1. silent wrong answers: copies
def test_part_of_a_log_loaded_twice_is_refused_by_both_readers(d, cdnow, capsys):
    march = _month(cdnow)
    twice = pd.concat([cdnow, march], ignore_index=True)
    path = write(d, "march_twice.csv", twice)
    says = [rf"All {len(march) * 2:,} transactions dated 1997-03-01 to 1997-03-31 \(",
            r"have an exact copy \(same customer, day and amount\), while only \d+ of the other",
            "as if that part of the file had been loaded twice",
            "Drop the copies from the file"]
    cli(capsys, "fit", path, "--out", d / "m_march", code=1, says=says + [r"row positions \["],
        never=["drop_duplicates"])
    assert not (d / "m_march").exists()
    refused(rfm_summary, twice.sample(frac=1.0, random_state=2),  # any row order
            match=r"All \d+ transactions dated 1997-03-01 to 1997-03-31 .*df.drop_duplicates")
    pytest.importorskip("duckdb")  # the streaming reader finds the same run of days
    cli(capsys, "fit", path, "--out", d / "m_march", "--reader", "duckdb", code=1,
        says=says + [r"on \['1997-03-01', "])


def test_a_single_day_loaded_twice_and_a_whole_file_doubled_through_duckdb(d, cdnow, capsys):
    day = cdnow[cdnow["date"] == "1997-01-15"]
    assert len(day) >= 20
    again = pd.concat([cdnow, day], ignore_index=True).sample(frac=1.0, random_state=4)
    refused(rfm_summary, again, match=rf"All {2 * len(day)} transactions dated 1997-01-15 "
            r"\(row positions \[")
    refused(calibration_holdout_summary, again, calibration_end="1997-09-30",
            match="dated 1997-01-15")
    pytest.importorskip("duckdb")
    doubled = write(d, "doubled_duckdb.csv", pd.concat([cdnow, cdnow], ignore_index=True))
    cli(capsys, "fit", doubled, "--out", d / "m_dd", "--reader", "duckdb", code=1,
        says=[rf"Every one of the {2 * len(cdnow):,} transactions has an exact copy",
              rf"{len(cdnow.drop_duplicates()):,} distinct transactions appear 2 times each",
              "appended to itself"])


def test_many_scattered_copies_are_said_in_words_by_both_readers(d, cdnow, capsys):
    copies = cdnow.sample(frac=0.08, random_state=1)
    tx = pd.concat([cdnow, copies], ignore_index=True)
    path = write(d, "scattered.csv", tx)
    summary, notes = api(rfm_summary, tx)
    assert isinstance(summary, pd.DataFrame) and len(notes) == 1
    n_copied = int(tx.duplicated(keep=False).sum())
    assert re.search(rf"{n_copied} of the {len(tx):,} transactions \(\d+%\) have an exact copy.*"
                     r"row positions \[.*drop the copies \(e.g. df.drop_duplicates\(\)\); if "
                     "they are separate purchases of the same amount, nothing needs doing",
                     str(notes[0].message))
    # they count as purchases, as said: the same summary as a log with those amounts summed
    merged = tx.groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    pd.testing.assert_frame_equal(summary, rfm_summary(merged))
    _, err = cli(capsys, "fit", path, "--out", d / "m_scattered", "--observation-end",
                 "1998-06-30", code=0, says=["fitted 800 customers"])
    assert f"warning: {n_copied} of the {len(tx):,} transactions" in err
    assert "drop the copies from the file" in err and "drop_duplicates" not in err
    pytest.importorskip("duckdb")
    from clvmodels.data.duckdb_summary import rfm_summary_duckdb

    streamed, notes = api(rfm_summary_duckdb, str(path))
    assert len(notes) == 1 and f"{n_copied} of the {len(tx):,}" in str(notes[0].message)
    streamed.index = streamed.index.astype(str)  # DuckDB reads these ids as numbers
    pd.testing.assert_frame_equal(streamed.sort_index(), summary.sort_index(), rtol=1e-9)


def test_the_few_copies_of_real_logs_pass_without_a_word():
    from clvmodels.datasets import load_cdnow_transactions

    full = load_cdnow_transactions()  # 21 same-day, same-amount rows: real repeat buys
    assert full.duplicated(["customer_id", "date", "amount"]).sum() == 21
    summary, notes = api(rfm_summary, full)
    assert isinstance(summary, pd.DataFrame) and not notes
    # 29 rows copied among 2,316, spread out: below every threshold
    tx = full[full["customer_id"] <= 800]
    summary, notes = api(rfm_summary, pd.concat([tx, tx.iloc[::80]]))
    assert isinstance(summary, pd.DataFrame) and not notes


# ============================================ 1. silent wrong answers: past typos
def test_typo_dates_far_in_the_past_are_refused_with_the_rows(d, cdnow, capsys):
    tx = cdnow.copy()
    tx.loc[[7, 300], "date"] = ["1900-02-11", "1901-06-30"]
    path = write(d, "past.csv", tx)
    says = [r"Column 'date' has 2 rows dated far before all the others",
            r"the other [\d,]+ rows start on 1997-01-01", "up to 97 years earlier",
            "fix or drop these rows"]
    cli(capsys, "fit", path, "--out", d / "m_past", code=1,
        says=says + [r"row positions \[7, 300\]: \['1900-02-11', '1901-06-30'\]"])
    refused(rfm_summary, tx, observation_end="1998-06-30", match=says[0])
    refused(discrete_summary, tx, period="month", match="dated far before all the others")
    pytest.importorskip("duckdb")
    cli(capsys, "fit", path, "--out", d / "m_past", "--reader", "duckdb", code=1,
        says=says + [r"\(dated \['1900-02-11', '1901-06-30'\]\)"])


def test_a_typo_year_out_of_range_and_one_row_years_early_are_refused(d, cdnow, capsys):
    tx = cdnow.copy()
    tx.loc[11, "date"] = "0098-03-01"  # 0098 for 1998: no datetime holds it
    cli(capsys, "fit", write(d, "year98.csv", tx), "--out", d / "m_98", code=1,
        says=[r"Column 'date' has a date outside the years 1678-2261 in 1 row \(row positions "
              r"\[11\]: \['0098-03-01'\]\)", "Fix these dates or drop these rows"])
    one = small()
    one.loc[4, "date"] = "2019-01-03"  # years before a few months of data
    refused(rfm_summary, one, match=r"1 row dated far before all the others \(row positions "
            r"\[4\]: \['2019-01-03'\]\)")
    refused(calibration_holdout_summary, one, calibration_end="2024-02-15",
            match="dated far before")


def test_early_history_that_is_no_typo_is_accepted():
    rng = np.random.default_rng(5)
    # a shop whose first years were quiet: 3% of the rows, but not "a few rows" apart
    early = pd.DataFrame({"customer_id": rng.integers(0, 50, 40), "amount": 1.0,
                          "date": pd.Timestamp("2010-01-01")
                          + pd.to_timedelta(rng.integers(0, 300, 40), "D")})
    late = pd.DataFrame({"customer_id": rng.integers(0, 400, 1300), "amount": 1.0,
                         "date": pd.Timestamp("2015-01-01")
                         + pd.to_timedelta(rng.integers(0, 700, 1300), "D")})
    summary, notes = api(rfm_summary, pd.concat([early, late]))
    assert isinstance(summary, pd.DataFrame) and not notes
    # a gap of a year within a long steady history
    steady = pd.DataFrame({"customer_id": np.arange(300) % 30, "amount": 1.0,
                           "date": pd.Timestamp("2016-01-01")
                           + pd.to_timedelta(np.r_[np.arange(0, 100), np.arange(500, 700)] * 3,
                                             "D")})
    assert isinstance(api(rfm_summary, steady)[0], pd.DataFrame)


# ====================================== 1. silent wrong answers: a summary's unit
def _summary(cdnow, unit="week"):
    return rfm_summary(cdnow, observation_end="1998-06-30", time_unit=unit)


def test_a_summary_csv_without_its_unit_needs_the_flag(d, cdnow, capsys):
    path = d / "summary_no_unit.csv"
    _summary(cdnow).to_csv(path)
    out = d / "from_csv.parquet"
    cli(capsys, "score", d / "model", path, "--out", out, code=2,
        says=[r"is a summary that does not say its time unit \(a CSV file keeps none\)",
              "The model counts weeks", "add --time-unit week"])
    assert not out.exists()
    cli(capsys, "score", d / "model", path, "--out", out, "--time-unit", "week", code=0,
        says=["scored 800 customers"])
    cli(capsys, "score", d / "model", d / "tx.csv", "--out", d / "from_tx.parquet", code=0,
        says=["scored 800 customers"])
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(d / "from_tx.parquet"))


def test_a_summary_in_another_unit_is_refused_not_scored(d, cdnow, capsys):
    days = _summary(cdnow, "day")
    days.to_parquet(d / "summary_days.parquet")  # Parquet keeps the unit
    cli(capsys, "score", d / "model", d / "summary_days.parquet", "--out", d / "x.parquet",
        code=1, says=[r"fitted in 'week' but the data to score are summarized in 'day'"])
    days.to_csv(d / "summary_days.csv")  # the CSV does not: the flag must say it, and agree
    cli(capsys, "score", d / "model", d / "summary_days.csv", "--out", d / "x.parquet",
        "--time-unit", "day", code=2, says=["--time-unit day disagrees with the model's time "
                                            "unit 'week'"])
    assert not (d / "x.parquet").exists()
    # what the refusal prevents: day counts read as weeks value customers at a fraction
    job = load_job(d / "model")
    as_weeks = days.copy()
    as_weeks.attrs["time_unit"] = "week"
    from clvmodels import customer_lifetime_value

    wrong = customer_lifetime_value(job.transactions, job.spend, as_weeks, random_state=0)
    right = customer_lifetime_value(job.transactions, job.spend, _summary(cdnow),
                                    random_state=0)
    ratio = wrong["expected_clv"].sum() / right["expected_clv"].sum()
    assert 0.1 < ratio < 0.25, ratio  # the "0.16x"


def test_a_period_summary_csv_without_its_unit_needs_the_flag(d, cdnow, capsys):
    cli(capsys, "fit", d / "tx.csv", "--out", d / "m_bgbb", "--model", "bgbb", "--period",
        "month", "--observation-end", "1998-06-30", code=0, says=["BetaGeoBetaBinomModel"])
    periods = discrete_summary(cdnow, period="month", observation_end="1998-06-30",
                               amount_col="amount")
    periods.to_csv(d / "periods.csv")
    cli(capsys, "score", d / "m_bgbb", d / "periods.csv", "--out", d / "p.parquet", code=2,
        says=["its periods could be in days, weeks or months", "add --time-unit month"])
    cli(capsys, "score", d / "m_bgbb", d / "periods.csv", "--out", d / "p.parquet",
        "--time-unit", "month", code=0, says=["scored 800 customers"])


# =========================================== 3. valid input: huge currency units
@pytest.fixture(scope="module")
def dollars(cdnow):
    summary = _summary(cdnow)
    return summary, GammaGammaModel(random_state=0).fit(summary)


@pytest.mark.parametrize("scale", [1e6, 1e9, 1e-4])
def test_amounts_in_any_currency_unit_give_the_same_spend_model(dollars, scale):
    summary, base = dollars
    big = summary.assign(monetary_value=summary["monetary_value"] * scale)
    model, _ = api(GammaGammaModel(random_state=0).fit, big)
    assert isinstance(model, GammaGammaModel), model
    p, q, gamma = model.params_
    assert p == pytest.approx(base.params_["p"], rel=1e-4)
    assert q == pytest.approx(base.params_["q"], rel=1e-4)
    assert gamma == pytest.approx(base.params_["gamma"] * scale, rel=1e-4)
    paying = int((summary["frequency"] > 0).sum())  # the density of amounts c times larger
    assert model.log_likelihood_ == pytest.approx(
        base.log_likelihood_ - paying * np.log(scale), rel=1e-9, abs=1e-6)
    np.testing.assert_allclose(model.expected_spend(big), base.expected_spend(summary) * scale,
                               rtol=1e-4)
    assert np.isfinite(model.summary()["se"]).all()
    # MAP: a prior applies to the real gamma; the prior of the dollar fit, scaled the
    # same way, gives the dollar fit's posterior mode, scaled
    at_scale = {"gamma": LogNormal(float(np.log(scale)), 5.0)}
    mapped, _ = api(GammaGammaModel(random_state=0, priors=at_scale).fit, big, method="map")
    dollar_map = GammaGammaModel(random_state=0).fit(summary, method="map")
    np.testing.assert_allclose(mapped.params_, dollar_map.params_ * [1.0, 1.0, scale],
                               rtol=1e-4)


def test_amounts_in_millions_fit_and_score_on_the_command_line(d, cdnow, capsys):
    tx = cdnow.assign(amount=cdnow["amount"] * 1e6)  # e.g. a currency with large units
    path = write(d, "millions.csv", tx)
    cli(capsys, "fit", path, "--out", d / "m_millions", "--observation-end", "1998-06-30",
        code=0, says=[r"gamma=1\.92\de\+07"])
    cli(capsys, "score", d / "m_millions", path, "--out", d / "millions.parquet", code=0,
        says=["scored 800 customers"])
    cli(capsys, "score", d / "model", d / "tx.csv", "--out", d / "units.parquet", code=0,
        says=["scored 800 customers"])
    big, small_ = pd.read_parquet(d / "millions.parquet"), pd.read_parquet(d / "units.parquet")
    assert np.isfinite(big.to_numpy()).all()
    np.testing.assert_allclose(big["expected_spend"], small_["expected_spend"] * 1e6, rtol=1e-3)
    np.testing.assert_allclose(big["expected_clv"], small_["expected_clv"] * 1e6, rtol=1e-3)


# ========================================== 4. degenerate data given to a model
def _nobody_repeats():
    return rfm_summary(pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(60)], "amount": 5.0,
        "date": pd.date_range("2024-01-01", periods=60).strftime("%Y-%m-%d")}))


@pytest.mark.parametrize("model", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
@pytest.mark.parametrize("method", ["mle", "map"])
def test_a_model_fitted_on_nobody_repeating_says_so(model, method):
    refused(model(random_state=0).fit, _nobody_repeats(), method=method,
            match=rf"^{model.__name__}: Nobody made a repeat purchase: frequency is 0 for all "
            "60 customers.*one id per customer")


@pytest.mark.parametrize("model", [BetaGeoModel, ParetoNBDModel])
def test_a_model_fitted_with_no_time_observed_says_so(model):
    summary = rfm_summary(pd.DataFrame({"customer_id": [f"c{i % 30}" for i in range(60)],
                                        "amount": np.arange(60.0) + 1, "date": "2024-01-01"}))
    refused(model(random_state=0).fit, summary,
            match=r"Every customer's age T is 0: all 30 first purchases are on the observation "
            r"end \(2024-01-01\).*Pass a later observation_end")


def test_a_spend_model_fitted_on_absurd_amounts_says_so(cdnow):
    summary = _summary(cdnow)
    summary.loc[summary["frequency"] > 0, "monetary_value"] *= 1e300
    refused(GammaGammaModel().fit, summary,
            match=r"^GammaGammaModel: 'monetary_value' is absurd \(size 1e15 or more\) for "
            r"\d+ customer\(s\), e\.g\. \['1', ")
    # one period summary where nobody transacted twice: BG/BB says it too
    from clvmodels import BetaGeoBetaBinomModel

    periods = discrete_summary(small().drop_duplicates("customer_id"), period="month",
                               observation_end="2024-06-30")
    refused(BetaGeoBetaBinomModel().fit, periods, match="Nobody made a repeat purchase")


# ===================================== 3. valid input: an all-churned cohort
def _accounts(tenure, churned=True, **columns):
    n = len(tenure)
    return pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "tenure": tenure,
                         "churned": np.where(churned, "Yes", "No"), "revenue": 20.0,
                         **columns})


@pytest.fixture(scope="module")
def churned(tmp_path_factory):
    d = tmp_path_factory.mktemp("all_churned")
    rng = np.random.default_rng(11)
    tenure = rng.geometric(rng.beta(2.0, 6.0, 400))
    table = _accounts(tenure, plan=np.where(rng.random(400) < 0.5, "basic", "pro"))
    table.to_csv(d / "all.csv", index=False)
    _accounts(np.ones(60, dtype=int)).to_csv(d / "first.csv", index=False)
    return d


@pytest.mark.parametrize("method", ["mle", "map"])
def test_an_all_churned_cohort_fits_and_scores_with_either_method(churned, capsys, method):
    fit = ["fit", "--kind", "contractual", churned / "all.csv", "--out",
           churned / f"m_{method}", "--period", "month", "--revenue-col", "revenue",
           "--method", method]
    cli(capsys, *fit, code=0, says=[r"fitted 400 accounts \(400 cancelled"])
    out = churned / f"s_{method}.parquet"
    cli(capsys, "score", churned / f"m_{method}", churned / "all.csv", "--out", out, code=0,
        says=["scored 400 accounts", r"total expected CLV: \$0"])
    scores = pd.read_parquet(out)
    assert (scores["expected_clv"] == 0).all() and (scores["probability_renewal"] == 0).all()
    # the same model values the accounts still active elsewhere
    job = load_job(churned / f"m_{method}")
    active = pd.DataFrame({"tenure": [1, 6], "revenue": [20.0, 20.0]})
    from clvmodels import contractual_lifetime_value

    value, _ = api(contractual_lifetime_value, job.churn, active, revenue_col="revenue",
                   discount_rate=0.1, random_state=0)
    assert (value["expected_clv"] > 20).all() and np.isfinite(value.to_numpy()).all()


def test_an_all_churned_cohort_with_covariates_segments_or_bdw_fits(churned, capsys):
    table = pd.read_csv(churned / "all.csv")
    cli(capsys, "fit", "--kind", "contractual", churned / "all.csv", "--out",
        churned / "m_cov", "--period", "month", "--covariates", "plan", code=0,
        says=["fitted 400 accounts"])
    cli(capsys, "fit", "--kind", "contractual", churned / "all.csv", "--out",
        churned / "m_seg", "--period", "month", "--segment-col", "plan", code=0,
        says=["fitted 400 accounts"])
    accounts = table.assign(churned=True).set_index("account_id")
    accounts.attrs["time_unit"] = "month"
    for method in ("mle", "map"):
        model, _ = api(BetaDiscreteWeibullModel(random_state=0, draws=50).fit, accounts,
                       method=method)
        assert not isinstance(model, Exception), model
        assert np.isfinite(model.params_).all()


def test_a_cohort_that_never_renewed_is_refused_with_a_fix_that_works(churned, capsys):
    fit = ["fit", "--kind", "contractual", churned / "first.csv", "--out", churned / "m_first",
           "--period", "month", "--revenue-col", "revenue"]
    cli(capsys, *fit, code=1,
        says=["no account was seen renewing: all 60 accounts observed cancelled at the first "
              "renewal decision", "churn probability at 1", r"the tenure column \(--tenure-col\)",
              "add --method map"], never=["method='map'", "did not converge"])
    refused(ShiftedBetaGeoModel().fit, pd.DataFrame({"tenure": [1] * 60, "churned": True}),
            match=r"^ShiftedBetaGeoModel: no account was seen renewing.*method='map'")
    cli(capsys, *fit, "--method", "map", code=0, says=["fitted 60 accounts"])
    cli(capsys, "score", churned / "m_first", churned / "first.csv", "--out",
        churned / "first.parquet", code=0, says=["scored 60 accounts"])
    assert isinstance(load_job(churned / "m_first").churn, ShiftedBetaGeoModel)


def test_fit_job_refuses_degenerate_summaries_before_anything_is_written(d, cdnow):
    error, _ = api(fit_job, _nobody_repeats(), d / "m_never", columns=COLUMNS, method="map")
    assert isinstance(error, DataError) and str(error).startswith("Nobody made a repeat")
    assert not (d / "m_never").exists()


# ======================================== 1. silent wrong answers: leading zeros
def test_ids_with_leading_zeros_stay_text_everywhere(d, capsys):
    # 12 customers whose ids differ only in leading zeros ("0004" is not "4"), 2 days each
    ids = [f"{zeros}{n}" for n in (4, 7, 41, 72, 300, 9) for zeros in ("", "000")]
    tx = pd.DataFrame({"customer_id": ids * 2, "amount": np.arange(24.0) + 1,
                       "date": ["2024-01-02"] * 12 + ["2024-02-15"] * 6 + ["2024-03-01"] * 6})
    path = write(d, "zeros.csv", tx)
    cli(capsys, "fit", path, "--out", d / "m_zeros", "--method", "map", code=0,
        says=["fitted 12 customers"])
    cli(capsys, "score", d / "m_zeros", path, "--out", d / "zeros.parquet", code=0,
        says=["scored 12 customers"])
    scored = pd.read_parquet(d / "zeros.parquet").index.tolist()
    assert sorted(scored) == sorted(ids) and "0004" in scored and "4" in scored
    summary, _ = api(rfm_summary, path)  # the API reads the file the same way
    assert summary.index.tolist() == sorted(ids)
    pytest.importorskip("duckdb")
    from clvmodels.data.duckdb_summary import rfm_summary_duckdb

    assert sorted(api(rfm_summary_duckdb, str(path))[0].index) == sorted(ids)


# =============================== 2. errors from library internals: usage
@pytest.mark.parametrize("flag, value, low", [("--seed", "-1", 0), ("--n-draws", "1", 2),
                                              ("--n-samples", "5", 20)])
def test_counts_out_of_range_are_usage_errors(d, capsys, flag, value, low):
    cli(capsys, "score", d / "model", d / "tx.csv", "--out", d / "n.parquet", flag, value,
        code=2, says=[rf"{flag} must be a whole number >= {low}\. Got {value}\."])
    assert not (d / "n.parquet").exists()


def test_debug_after_the_subcommand_shows_the_traceback(d, capsys):
    (d / "empty.csv").write_text("")
    code = main(["fit", str(d / "empty.csv"), "--out", str(d / "m_empty"), "--debug"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" in err and "is empty: it has no header and no rows" in err
    assert "Run again with --debug" not in err
