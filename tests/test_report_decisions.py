"""The numbers the purchase report leads with (clvmodels.report.decisions), the
validation in money and ranking (clvmodels.evaluation.holdout_value), and what the page
and the command line say about them."""

import re

import numpy as np
import pandas as pd
import pytest

from clvmodels import (
    BetaGeoModel,
    GammaGammaModel,
    calibration_holdout_summary,
    customer_lifetime_value,
    portfolio_value,
    rfm_summary,
)
from clvmodels.cli import main
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.evaluation.holdout_value import (
    evaluate_holdout_value,
    gains_curve,
    refit_like,
)
from clvmodels.report import build_report
from clvmodels.report.decisions import at_risk, cash_flows, draw_totals, top_share
from clvmodels.report.validation import validate_on_holdout
from clvmodels.timeunits import convert_duration

SETTINGS = dict(discount_rate=0.10, margin=0.30, level=0.90)


@pytest.fixture(scope="module")
def small():
    """The first 600 CDNOW customers (ids sorted), BG/NBD and Gamma-Gamma by MAP."""
    tx = load_cdnow_transactions()
    keep = np.sort(tx["customer_id"].unique())[:600]
    tx = tx[tx["customer_id"].isin(keep)].reset_index(drop=True)
    summary = rfm_summary(tx, observation_end="1998-06-30")
    bg = BetaGeoModel(random_state=0).fit(summary, method="map")
    gg = GammaGammaModel(random_state=0).fit(summary, method="map")
    clv = customer_lifetime_value(bg, gg, summary, horizon=(1, "year"), n_samples=20,
                                  random_state=0, **SETTINGS)
    return tx, summary, bg, gg, clv


@pytest.fixture(scope="module")
def holdout(small):
    tx = small[0]
    return calibration_holdout_summary(tx, calibration_end="1997-09-30",
                                       observation_end="1998-06-30")


# ------------------------------------------------------------ money and ranking
def test_gini_is_one_for_a_perfect_ranking_and_near_zero_for_a_random_one(rng):
    actual = rng.gamma(0.5, 40.0, size=20_000)
    x, y = gains_curve(actual, actual)
    area = np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)
    assert 2 * area - 1 > 0.5  # skewed spend: a perfect ranking is far from random
    xr, yr = gains_curve(rng.random(actual.size), actual)
    random_gini = 2 * np.sum((xr[1:] - xr[:-1]) * (yr[1:] + yr[:-1]) / 2) - 1
    assert abs(random_gini) < 0.03
    # one tie holding everyone: the curve is the diagonal whatever the actual values
    xt, yt = gains_curve(np.ones(4), [9.0, 0.0, 0.0, 1.0])
    assert xt.tolist() == [0.0, 1.0] and yt.tolist() == [0.0, 1.0]


def test_holdout_value_adds_up_and_checks_spend(small, holdout):
    _, _, bg, gg, _ = small
    check, check_spend = refit_like(bg, holdout), refit_like(gg, holdout)
    assert check.fit_method_ == "map" and check_spend.fit_method_ == "map"
    score = evaluate_holdout_value(check, check_spend, holdout)
    m, deciles, per = score.metrics, score.deciles, score.per_customer
    actual = (holdout["holdout_frequency"] * holdout["holdout_monetary_value"].fillna(0)).sum()
    assert m.actual_spend_total == pytest.approx(actual)
    assert deciles["actual_spend"].sum() == pytest.approx(actual)
    assert deciles["expected_spend"].sum() == pytest.approx(m.expected_spend_total)
    assert deciles["customers"].sum() == len(holdout) and deciles["customers"].max() \
        - deciles["customers"].min() <= 1
    # group 1 holds the highest forecasts
    assert per.loc[per.decile == 1, "expected_spend"].min() >= \
        per.loc[per.decile == 2, "expected_spend"].max()
    # the expected total is the sum over customers of purchases x spend, as CLV computes
    # it undiscounted at margin 1 over the holdout length
    length = float(holdout["holdout_length"].iloc[0])
    clv = customer_lifetime_value(check, check_spend, holdout, horizon=(length, "week"),
                                  discount_rate=0.0, margin=1.0, n_samples=20, random_state=0)
    assert m.expected_spend_total == pytest.approx(clv["expected_clv"].sum(), rel=1e-6)
    # the spend check: the buyers' holdout spend per purchase day
    buyers = holdout[holdout.holdout_frequency > 0]
    assert m.actual_spend_per_purchase == pytest.approx(
        (buyers.holdout_frequency * buyers.holdout_monetary_value).sum()
        / buyers.holdout_frequency.sum())
    assert 0 < m.normalized_gini <= 1 and m.top_decile_lift == pytest.approx(
        10 * m.top_decile_share)


def test_validation_refits_with_the_jobs_method_and_says_so(small, holdout):
    tx, _, bg, gg, _ = small
    v = validate_on_holdout(bg, gg, holdout, transactions=tx, level=0.9, random_state=0,
                            n_samples=50)
    text = re.sub(r"<[^>]+>", "", v.html)
    assert "by maximum a posteriori (MAP), as the job was fitted" in text
    assert "normalized Gini coefficient" in text and "randomized PIT coverage" in text
    assert "spend model alone" in text and "In money" in text and "In ranking" in text
    assert v.summary.startswith("Validation: refitted on the data up to 1997-09-30")


# ------------------------------------------------------------ decision numbers
def test_draw_totals_at_the_point_estimate_match_the_clv_table(small):
    _, summary, bg, gg, clv = small
    H = convert_duration(1, "year", "week")
    totals = draw_totals(bg, gg, summary, horizons=[H], n_draws=20,
                         discount_rate=SETTINGS["discount_rate"], margin=SETTINGS["margin"])
    assert totals.shape == (1, 1, 21)
    assert totals[0, 0, 0] == pytest.approx(clv["expected_clv"].sum(), rel=1e-9)
    alive = draw_totals(bg, gg, summary, horizons=[H], n_draws=20, if_alive=True,
                        discount_rate=SETTINGS["discount_rate"], margin=SETTINGS["margin"])
    assert alive[0, 0, 0] == pytest.approx(
        (clv["expected_clv"] / clv["probability_alive"]).sum(), rel=1e-9)


def test_top_share_and_at_risk_follow_their_definitions(small):
    _, summary, bg, gg, clv = small
    H = convert_duration(1, "year", "week")
    top = top_share(bg, gg, summary, clv["expected_clv"], horizon=H, n_draws=30, **SETTINGS)
    ranked = clv["expected_clv"].sort_values(ascending=False)
    assert top["customers"] == 120
    assert top["value"] == pytest.approx(ranked.iloc[:120].sum(), rel=1e-9)
    assert top["share"] == pytest.approx(ranked.iloc[:120].sum() / ranked.sum(), rel=1e-9)
    lo, hi = top["share_range"]
    assert 0 < lo < hi < 1

    risk, table = at_risk(bg, gg, summary, clv, horizon=H, n_draws=30, **SETTINGS)
    if_active = clv["expected_clv"] / clv["probability_alive"]
    assert risk["bar"] == pytest.approx(np.quantile(if_active, 0.8), rel=1e-6)
    meets = (clv["probability_alive"] < 0.5) & (if_active >= risk["bar"] * (1 - 1e-9))
    assert set(table.index) == set(clv.index[meets]) and risk["customers"] == len(table) > 0
    assert table["value_if_active"].is_monotonic_decreasing
    assert risk["value_if_active"] == pytest.approx(table["value_if_active"].sum(), rel=1e-6)
    assert risk["customers_gone"] == int((table["probability_alive"] < 0.1).sum())
    assert risk["expected"] < risk["value_if_active"]


def test_cash_flows_add_up_to_the_total_over_the_horizon(small):
    _, summary, bg, gg, _ = small
    months = cash_flows(bg, gg, summary, years=1, start="1998-06-30", n_draws=30, **SETTINGS)
    assert months["label"].tolist()[:2] == ["Jul 1998", "Aug 1998"] and len(months) == 12
    assert months["period_end"].iloc[-1] == pd.Timestamp("1999-06-30")
    total = portfolio_value(bg, gg, summary, horizon=(1, "year"), n_samples=20,
                            random_state=0, **SETTINGS).iloc[0]
    assert months["present_value"].sum() == pytest.approx(total["expected_total"], rel=1e-9)
    assert months.attrs["present_total"][0] == pytest.approx(total["expected_total"], rel=1e-9)
    # money in the period is not discounted: more than its present value, by the discount
    assert (months["expected"] > months["present_value"]).all()
    assert ((months["lower"] <= months["expected"]) & (months["expected"] <= months["upper"])).all()
    quarters = cash_flows(bg, gg, summary, years=3, start="1998-06-30", n_draws=30, **SETTINGS)
    assert len(quarters) == 12 and quarters["label"].iloc[0] == "Jul-Sep 1998"
    assert quarters["label"].iloc[2] == "Jan-Mar 1999"


# ------------------------------------------------------------ the page
@pytest.fixture(scope="module")
def unvalidated_page(small, tmp_path_factory):
    tx, summary, bg, gg, _ = small
    out = tmp_path_factory.mktemp("decisions") / "page.html"
    build_report(bg, gg, summary, out, transactions=tx, acquisition_cost=10.0, n_samples=20,
                 horizons_years=(1.0, 2.0), source={"data file": "orders.csv"}, **SETTINGS)
    return out, out.read_text()


def test_page_leads_with_the_summary_and_writes_its_tables(unvalidated_page):
    out, text = unvalidated_page
    short = text[text.index("<h2>In short</h2>"):]
    items = re.findall(r"<li>(.*?)</li>", short[:short.index("</ul>")])
    assert len(items) == 5
    plain = [re.sub(r"<[^>]+>", "", i) for i in items]
    assert "over the next year" in plain[0] and "credible range" in plain[0] \
        and "what they may actually bring" in plain[0]
    assert "The top 20% of customers (120)" in plain[1]
    assert "valuable customers at risk" in plain[2]
    assert "LTV:CAC" in plain[3] and "against $10.00 to acquire" in plain[3]
    assert "Not validated on a holdout" in plain[4]
    assert text.index("In short") < text.index("Where the value is") \
        < text.index("Valuable customers slipping away") < text.index("Expected value by month")
    body = text.split("<body", 1)[1]
    assert not re.search(r"\{[a-z_]+(:[^}]*)?\}", re.sub(r"<script>.*?</script>", "", body))
    assert "not validated on a holdout" in body and "--calibration-end" in body

    winback = pd.read_csv(out.with_suffix(".winback.csv"), index_col=0)
    n = int(re.search(r"<b>([\d,]+) valuable customers at risk", text).group(1))
    assert len(winback) == n and "value if still active ($)" in winback.columns
    assert (winback["chance still active"] < 0.5).all()
    flows = pd.read_csv(out.with_suffix(".cashflows.csv"), index_col=0)
    assert len(flows) == 12 and {"expected", "lower", "upper", "present_value"} <= set(flows)
    assert "cashflows.csv" in text and "winback.csv" in text

    prov = text[text.index("<h2>Provenance</h2>"):]
    for item in ("data file", "orders.csv", "dates", "calibration end", "none: not validated",
                 "BG/NBD, fitted by MAP", "clvmodels version", "generated", "margin 30%",
                 "seed 0"):
        assert item in prov, item


# ------------------------------------------------------------ the command line
def test_score_and_report_share_money_defaults_and_totals(small, tmp_path, capsys):
    from clvmodels.cli import DISCOUNT_RATE_DEFAULT, MARGIN_DEFAULT, build_parser

    parser = build_parser()
    score = parser.parse_args(["score", "m", "d", "--out", "x.csv"])
    report = parser.parse_args(["report", "m", "d", "--out", "x.html"])
    assert (score.discount_rate, score.margin) == (report.discount_rate, report.margin) \
        == (DISCOUNT_RATE_DEFAULT, MARGIN_DEFAULT)

    tx = small[0]
    tx.to_csv(tmp_path / "orders.csv", index=False)
    assert main(["fit", str(tmp_path / "orders.csv"), "--out", str(tmp_path / "job"),
                 "--observation-end", "1998-06-30"]) == 0
    capsys.readouterr()
    assert main(["score", str(tmp_path / "job"), str(tmp_path / "orders.csv"),
                 "--out", str(tmp_path / "s.csv"), "--n-samples", "20"]) == 0
    scored = capsys.readouterr().out
    assert main(["report", str(tmp_path / "job"), str(tmp_path / "orders.csv"),
                 "--out", str(tmp_path / "r.html"), "--horizons", "1"]) == 0
    reported = capsys.readouterr().out
    total = re.search(r"total expected CLV: (\$[\d,]+)", scored).group(1)
    assert f"total expected CLV (1 year): {total}" in reported
    assert "discount rate 10.0% a year, margin 100%" in reported
    page = (tmp_path / "r.html").read_text()
    assert "no margin applied" in page and "orders.csv" in page


# ------------------------------------------------------------ stable printed bounds
def _top_table(text):
    """The top customers' printed predictive bounds, and the rounding step stated."""
    section = text[text.index("What each customer is worth"):]
    table = section[section.index("<table>"):section.index("</table>")]
    rows = re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>[^<]*</td><td>\$([\d,]+)</td>"
                      r"<td>\$([\d,]+)</td></tr>", table)
    step = re.search(r"rounded to the nearest \$([\d,]+): the largest Monte Carlo standard "
                     r"error of a bound is \$([\d.,]+)", section)
    return ({i: (float(lo.replace(",", "")), float(hi.replace(",", ""))) for i, lo, hi in rows},
            float(step.group(1).replace(",", "")), float(step.group(2).replace(",", "")))


def test_printed_bounds_of_the_top_customers_do_not_move_between_seeds(small, tmp_path):
    """Two builds with different seeds print the top customers' predictive bounds at
    a precision their Monte Carlo error supports: each the same, or one rounding step
    apart at a rounding edge. (With 200 futures each, printed to the dollar as before,
    7 of these 20 bounds were the same for these two seeds, mostly the $0 ones; here
    all 20 are.)"""
    tx, summary, bg, gg, _ = small
    pages = []
    for seed in (1, 2):
        out = tmp_path / f"seed{seed}.html"
        build_report(bg, gg, summary, out, transactions=tx, n_samples=20, random_state=seed,
                     horizons_years=(1.0,), **SETTINGS)
        pages.append(_top_table(out.read_text()))
    (a, step_a, se_a), (b, step_b, se_b) = pages
    assert list(a) == list(b) and len(a) == 10
    assert step_a >= 6 * se_a and step_b >= 6 * se_b  # the stated rule
    diffs = np.array([[abs(a[i][k] - b[i][k]) for k in (0, 1)] for i in a])
    assert (diffs <= max(step_a, step_b)).all()
    assert (diffs == 0).mean() >= 0.9, diffs
    assert all(a[i][0] < a[i][1] for i in a)


# ------------------------------------------------------------ value in a window
def test_window_value_is_the_difference_of_expected_values(small):
    from clvmodels.value.window import window_value

    _, summary, bg, gg, clv_1 = small
    clv_2 = customer_lifetime_value(bg, gg, summary, horizon=(2, "year"), n_samples=20,
                                    random_state=0, **SETTINGS)
    first = window_value(bg, gg, summary, start=None, end=(1, "year"), random_state=0,
                         **SETTINGS)
    second = window_value(bg, gg, summary, start=(1, "year"), end=(2, "year"), n_draws=50,
                          random_state=0, **SETTINGS)
    np.testing.assert_allclose(first["expected_value"], clv_1["expected_clv"], rtol=1e-9)
    np.testing.assert_allclose(second["expected_value"],
                               clv_2["expected_clv"] - clv_1["expected_clv"], rtol=1e-9,
                               atol=1e-9)
    assert (second["expected_value"] > 0).all()
    assert ((second.expected_value_lower <= second.expected_value + 1e-9)
            & (second.expected_value <= second.expected_value_upper + 1e-9)).all()
    # the window's credible interval is not the difference of the horizons' intervals
    naive = clv_2["expected_clv_upper"] - clv_1["expected_clv_upper"]
    assert not np.allclose(second["expected_value_upper"], naive, rtol=1e-3)
    with pytest.raises(ValueError, match="'end' parameter of window_value"):
        window_value(bg, gg, summary, start=(2, "year"), end=(1, "year"))
