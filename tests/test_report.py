"""The HTML report: self-contained, complete, and rendered by headless Chromium."""

import base64
import html
import os
import re
import shutil
import subprocess

import pandas as pd
import pytest

from clvmodels import BetaGeoModel, GammaGammaModel, rfm_summary
from clvmodels.datasets import load_cdnow_summary, load_cdnow_transactions
from clvmodels.report import build_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    tx = load_cdnow_transactions()
    summary = rfm_summary(tx, observation_end="1998-06-30")
    bg = BetaGeoModel(random_state=0).fit(summary)
    gg = GammaGammaModel(random_state=0).fit(summary)
    segments = pd.Series(["big" if v > 40 else "small" for v in summary.monetary_value.fillna(0)],
                         index=summary.index)
    path = build_report(bg, gg, summary, d / "report.html", transactions=tx,
                        holdout=load_cdnow_summary(), segments=segments,
                        acquisition_cost=pd.Series({"big": 2.0, "small": 20.0}),
                        serving_cost_rate=0.05, n_samples=50, margin=0.30)
    return path, path.read_text()


def test_report_is_self_contained(report):
    path, text = report
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    images = re.findall(r"<img[^>]*src=\"([^\"]+)\"", text)
    assert len(images) >= 5 and all(s.startswith(("data:image/svg+xml;base64,", "data:image/png;base64,"))
                                    for s in images)
    assert path.with_suffix(".clv.csv").is_file()


def test_report_answers_the_questions(report):
    _, text = report
    for part in ("The data", "How well the model fits", "What each customer is worth",
                 "Longer horizons", "1 year", "3 years", "5 years", "By acquisition cohort",
                 "By segment", "LTV:CAC", "Below 3 : 1", "Gross and net", "rule of thumb",
                 "discounted at 10% a year", "which they did not see", "The value of a new customer",
                 "first purchase included"):
        assert part in text, part
    # LTV:CAC holds a new customer's value (about $50 over 5 years at 30% margin) against
    # each segment's cost: the small segment (cost 20 per customer) is flagged, the big one
    # (cost 2) is not
    assert re.search(r"Below 3 : 1[^<]*small", text)


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("CI must install Debian's chromium (.ci/run does it)")
    pytest.skip("chromium is not installed")


def _render(path, tmp_path, min_images):
    """Open the page in headless Chromium: every image loads, nothing is logged to the
    console, and a full-page screenshot has content (kept beside the report)."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
             "--enable-logging=stderr", "--v=0"]
    url = path.resolve().as_uri()
    dom = subprocess.run([_chromium(), *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    assert 'data-images-ok="true"' in dom.stdout, dom.stderr[-2000:]
    n_images = int(re.search(r'data-images="(\d+)"', dom.stdout).group(1))
    assert n_images >= min_images
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    shot = tmp_path / "report.png"
    subprocess.run([_chromium(), *flags, "--window-size=1200,3000", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 50_000
    shutil.copy(shot, path.with_name(path.stem + "-screenshot.png"))


def test_report_renders_in_headless_chromium(report, tmp_path):
    _render(report[0], tmp_path, min_images=5)


# ------------------------------------------------------------------ contractual
@pytest.fixture(scope="module")
def contractual_report(tmp_path_factory):
    from clvmodels import ShiftedBetaGeoCovariateModel
    from clvmodels.datasets import load_telco
    from clvmodels.report import build_contractual_report

    d = tmp_path_factory.mktemp("contractual_report")
    telco = load_telco()
    dummies = pd.get_dummies(telco["Contract"], drop_first=True, dtype=float)
    accounts = telco.join(dummies).assign(
        cac=telco["Contract"].map({"Month-to-month": 2000.0, "One year": 300.0, "Two year": 200.0}),
        # acquisition month: the snapshot is taken at the start of 2025
        acquired=pd.Timestamp("2025-01-01") - pd.to_timedelta(telco["tenure"] * 30.4375, unit="D"))
    model = ShiftedBetaGeoCovariateModel(covariates=list(dummies.columns), time_unit="month",
                                         random_state=0).fit(accounts, method="map")
    path = build_contractual_report(model, accounts, d / "churn.html", revenue_col="MonthlyCharges",
                                    segment_col="Contract", cohort_col="acquired",
                                    acquisition_cost_col="cac", discount_rate=0.10, margin=0.6,
                                    n_samples=50, source={"data file": "telco.csv"})
    return path, path.read_text()


def test_contractual_report_is_self_contained(contractual_report):
    path, text = contractual_report
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    images = re.findall(r"<img[^>]*src=\"([^\"]+)\"", text)
    assert len(images) >= 5 and all(s.startswith(("data:image/svg+xml;base64,", "data:image/png;base64,"))
                                    for s in images)
    export = pd.read_csv(path.with_suffix(".clv.csv"), index_col=0)
    assert len(export) == 7043 and {"expected_clv", "clv_predictive_upper"} <= set(export.columns)


def test_contractual_report_answers_the_questions(contractual_report):
    _, text = contractual_report
    for part in ("Summary", "Value, next 12 months", "Value, next 5 years",
                 "Value, whole remaining life", "The accounts", "How well the model fits",
                 "survival curve", "Model checks by segment and tenure", "How long accounts stay",
                 "What each account is worth",
                 "By segment", "By acquisition cohort", "By tenure", "Value against acquisition "
                 "cost", "LTV:CAC", "Below 3 : 1", "rule of thumb",
                 "discounted at 10% a year", "revenue × 60% margin", "Time is counted in months",
                 "The data are a snapshot", "active in a new account",
                 "DERL (months of revenue", "revenue per month ($, average)",
                 "percentage points", "2019", "24-35"):
        assert part in text, part
    # no unformatted placeholder and no infinite headline
    body = text.split("<body", 1)[1]
    assert not re.search(r"\{[a-z_]+(:[^}]*)?\}", body) and "infinite" not in body
    # the checks state in words where the model departs from a segment
    assert re.search(r"Two year: [^<]*the model does not match this segment", text)
    # month-to-month (cost 2,000 an account) is flagged; under the snapshot window one-year
    # accounts churn ~11% a month whatever their tenure, so at a cost of 300 they are
    # flagged too; two-year accounts (~3% a month) are not
    flag = re.search(r"Below 3 : 1[^<]*", text).group(0)
    assert "Month-to-month" in flag and "One year" in flag and "Two year" not in flag


def test_contractual_report_renders_in_headless_chromium(contractual_report, tmp_path):
    _render(contractual_report[0], tmp_path, min_images=5)


def test_totals_carry_both_intervals_in_the_rendered_text(report):
    """Each horizon's total is shown with a credible and a predictive range, both
    bracketing it (the report's 50 simulated futures are too few to order the bounds of
    the two ranges reliably)."""
    _, text = report
    plain = re.sub(r"<[^>]+>", "|", text[text.index("Longer horizons"):])
    money = r"\$([\d,.]+)"
    for horizon in ("1 year", "3 years", "5 years"):
        row = re.search(rf"\|{horizon}\|+{money}\|+{money} to {money}\|+{money} to {money}\|",
                        plain)
        assert row, horizon
        total, c_lo, c_hi, p_lo, p_hi = (float(v.replace(",", "")) for v in row.groups())
        assert c_lo <= total <= c_hi and p_lo <= total <= p_hi and c_lo < c_hi
    assert "{" not in re.sub(r"<style>.*?</style>|<script>.*?</script>", "", text, flags=re.S)


def test_validation_is_in_money_and_ranking(report):
    """With a holdout the summary ends with the validation in money, and the section
    shows the spend by group of the forecast, the gains chart's Gini and both
    coverages, each named for what it is."""
    _, text = report
    plain = re.sub(r"<[^>]+>", "", text)
    short = plain[plain.index("In short"):plain.index("Where the value is")]
    assert re.search(r"Validation: refitted on the data up to 1997-09-30, the model forecast "
                     r"\$[\d,]+ of spend over the next 39 weeks; customers spent \$[\d,]+", short)
    section = plain[plain.index("Does the model forecast well?"):]
    assert "by maximum likelihood, as the job was fitted" in section
    assert re.search(r"normalized Gini coefficient of the ranking is 0\.\d\d", section)
    assert "10 (highest forecast)" not in section and "1 (highest forecast)" in section
    assert re.search(r"held the actual number for 9\d\.\d% of customers", section)
    assert re.search(r"randomized PIT coverage, \d\d\.\d%", section)


def test_contractual_report_states_its_provenance(contractual_report):
    _, text = contractual_report
    prov = re.sub(r"(<[^>]+>)+", "|", text[text.index("<h2>Provenance</h2>"):])
    for item in ("|data file|telco.csv|", "|accounts|7,043", "fitted by MAP",
                 "margin 60%", "clvmodels version", "|generated|"):
        assert item in prov, item


def test_contractual_totals_carry_both_intervals_and_cash_flows(contractual_report):
    path, text = contractual_report
    plain = re.sub(r"(<[^>]+>)+", "|", text[text.index("<h2>Summary</h2>"):])
    money = r"\$([\d,.]+)"
    for horizon in ("next 1 year", "next 3 years", "next 5 years", "whole remaining life"):
        row = re.search(rf"\|{horizon}\|{money}\|{money} to {money}\|{money} to {money}\|", plain)
        assert row, horizon
        total, c_lo, c_hi, p_lo, p_hi = (float(v.replace(",", "")) for v in row.groups())
        assert c_lo <= total <= c_hi and p_lo <= total <= p_hi
    assert "Expected value by quarter" in text and "churn.cashflows.csv" in text
    flows = pd.read_csv(path.with_suffix(".cashflows.csv"), index_col=0)
    assert len(flows) == 20 and flows.index[0] == "months 1-3"


def test_segments_carry_both_intervals_and_a_chart(report):
    """Each segment's expected value is shown with a credible and a predictive range,
    both bracketing it, and the segments add up to the 1-year total; the section has
    its chart (the error bars)."""
    _, text = report
    section = text[text.index("<h2>By segment</h2>"):text.index("<h2>By acquisition cohort")]
    assert "thin whisker" in section
    # the chart has its error bars (matplotlib names the collections in the SVG)
    svg = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', section)
                           .group(1)).decode()
    assert svg.count('id="LineCollection_') >= 2  # an empty chart has none
    plain = re.sub(r"(<[^>]+>)+", "|", section)
    money = r"\$([\d,.]+)"
    totals = 0.0
    for name in ("big", "small"):
        row = re.search(rf"\|{name}\|([\d,]+)\|{money}\|{money} to {money}\|{money} to {money}\|",
                        plain)
        assert row, name
        n, total, c_lo, c_hi, p_lo, p_hi = (float(v.replace(",", "")) for v in row.groups())
        assert n > 0 and c_lo <= total <= c_hi and p_lo <= total <= p_hi and c_lo < c_hi
        assert p_hi - p_lo > c_hi - c_lo  # what may happen varies more than the expectation
        totals += total
    whole = re.sub(r"(<[^>]+>)+", "|", text[text.index("Longer horizons"):])
    one_year = float(re.search(r"\|1 year\|\$([\d,.]+)\|", whole).group(1).replace(",", ""))
    # the segment totals are printed to three significant digits
    assert totals == pytest.approx(one_year, rel=0.01)


def test_parameters_are_explained_in_words(report, contractual_report):
    """Every parameter row of the appendix tables carries its meaning in words, with
    the fitted values filled in (from the models' own describe_parameters)."""
    _, text = report
    appendix = text[text.index("Appendix: the data and the models"):]
    rows = re.findall(r"<tr><td>(\w+)</td>(?:<td>[^<]*</td>){3}<td class='words'>([^<]+)</td>",
                      appendix)
    assert [name for name, _ in rows] == ["r", "alpha", "a", "b", "p", "q", "gamma"]
    words = dict(rows)
    assert re.search(r"the average active customer buys r/alpha = 0\.0\d+ times a week", words["alpha"])
    assert re.search(r"the average customer spends p·gamma/\(q-1\) = \$\d+\.\d\d a purchase",
                     html.unescape(words["gamma"]))
    _, churn = contractual_report
    fit = churn[churn.index("How well the model fits"):]
    rows = re.findall(r"<tr><td>([^<]+)</td>(?:<td>[^<]*</td>){3}<td class='words'>([^<]+)</td>",
                      fit)
    assert [name for name, _ in rows][:2] == ["alpha", "beta"] and len(rows) == 6
    assert all(re.search(r"\d", w) for _, w in rows)


def test_cohorts_carry_both_intervals(report):
    """Each acquisition cohort's expected value is shown with a credible and a predictive
    range that bracket it."""
    _, text = report
    start = text.index("<h2>By acquisition cohort</h2>")
    section = re.sub(r"(<[^>]+>)+", "|", text[start:text.index("<h2>", start + 5)])
    money = r"\$([\d,.]+)"
    rows = re.findall(rf"\|(\d{{4}}Q\d)\|[\d,]+\|{money}\|{money}\|{money} to {money}\|"
                      rf"{money} to {money}\|", section)
    assert rows
    for _, _, total, c_lo, c_hi, p_lo, p_hi in rows:
        total, c_lo, c_hi, p_lo, p_hi = (float(v.replace(",", ""))
                                         for v in (total, c_lo, c_hi, p_lo, p_hi))
        assert c_lo <= total <= c_hi and p_lo <= total <= p_hi and p_hi - p_lo > c_hi - c_lo
