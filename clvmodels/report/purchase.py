"""The purchase-data report (any purchase model + Gamma-Gamma): :func:`build_report`."""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import plots
from ..evaluation.holdout import evaluate_holdout
from ..models import GammaGammaModel
from ..models.purchase.base import PurchaseModel
from ..value.new_customer import new_customer_value
from ..value.portfolio import portfolio_value
from ..value.purchase import customer_lifetime_value
from .page import (
    _figure,
    _kpis,
    _ltv_cac_flag,
    _money,
    _ratio,
    _table,
    _whole_dollars,
    _write_report,
    _years_to_unit,
)

__all__ = ["build_report"]


def _range(lo: float, hi: float) -> str:
    """A money range to three significant digits: its bounds are estimates."""
    def fmt(v):
        if not np.isfinite(v):
            return "n/a"
        digits = max(0, 3 - len(f"{abs(v):.0f}"))
        return f"${float(f'{v:.3g}'):,.{digits}f}"
    return f"{fmt(lo)} to {fmt(hi)}"


def build_report(
    transaction_model: PurchaseModel,
    spend_model: GammaGammaModel,
    summary: pd.DataFrame,
    out: str | os.PathLike,
    *,
    transactions: pd.DataFrame | None = None,
    holdout: pd.DataFrame | None = None,
    segments: pd.Series | None = None,
    acquisition_cost: pd.Series | float | None = None,
    serving_cost_rate: float = 0.0,
    horizons_years: tuple[float, ...] = (1.0, 3.0, 5.0),
    discount_rate: float = 0.10,
    margin: float = 0.30,
    level: float = 0.90,
    title: str = "Customer lifetime value forecast",
    random_state: int = 0,
    n_samples: int = 200,
    comparison: pd.DataFrame | None = None,
) -> Path:
    """Write the forecast report to ``out`` (atomically) and return its path.

    Parameters
    ----------
    transaction_model, spend_model : fitted PurchaseModel, GammaGammaModel
        Any purchase model (BG/NBD, MBG/NBD, Pareto/NBD) and the spend model.
    summary : DataFrame
        RFM summary of the customers to value (same time unit as the models).
    transactions : DataFrame, optional
        Normalized transactions (``customer_id``, ``date``, ``amount``) for the data
        overview, historical value and acquisition cohorts.
    holdout : DataFrame, optional
        A calibration/holdout summary for the validation section.
    segments : Series, optional
        Segment label per customer id (CLV by segment, LTV:CAC by segment).
    acquisition_cost : Series or float, optional
        Cost to acquire a customer: one number, or one per segment.
    serving_cost_rate : float
        Cost of serving customers as a share of revenue (for gross vs net).
    comparison : DataFrame, optional
        A comparison of purchase models (:func:`clvmodels.evaluation.comparison.compare_models`,
        or the table ``clvmodels fit --model auto`` keeps in the job), shown in the
        fit section with the model that was chosen.
    """
    unit = transaction_model.time_unit_
    # a discrete-time model (BG/BB) counts periods with a transaction: its summary has
    # n_periods instead of T, and the checks drawn for continuous time do not apply
    discrete = getattr(type(transaction_model), "discrete_time", False)
    horizons = {y: f"{y:g} year" + ("s" if y != 1 else "") for y in horizons_years}
    tables = {}
    for years, label in horizons.items():
        tables[years] = customer_lifetime_value(
            transaction_model, spend_model, summary, horizon=(years, "year"),
            discount_rate=discount_rate, margin=margin, level=level,
            n_samples=n_samples, random_state=random_state)
    main_years = horizons_years[0]
    clv = tables[main_years]
    parts: list[str] = [f"<h1>{html.escape(title)}</h1>",
                        f"<p class='note'>Values are profit (spend × {margin:.0%} margin) "
                        f"discounted at {discount_rate:.0%} a year, in dollars. Observation ends "
                        f"{summary.attrs.get('observation_end', 'at the last transaction')}; "
                        f"time in the models is measured in {unit}s.</p>"]

    # 1. data overview
    n = len(summary)
    repeat_share = float((summary["frequency"] > 0).mean())
    kpis = [("Customers", f"{n:,}"), ("Customers who came back", f"{repeat_share:.0%}")]
    if transactions is not None:
        kpis += [("Transactions", f"{len(transactions):,}"),
                 ("Period", f"{transactions['date'].min():%Y-%m-%d} to "
                            f"{transactions['date'].max():%Y-%m-%d}")]
    parts.append("<h2>The data</h2>" + _kpis(kpis))

    # 2. model fit
    parts.append("<h2>How well the model fits</h2>")
    label = {"BetaGeoModel": "BG/NBD", "ModifiedBetaGeoModel": "MBG/NBD",
             "ParetoNBDModel": "Pareto/NBD", "BetaGeoBetaBinomModel": "BG/BB"}.get(
        type(transaction_model).__name__, type(transaction_model).__name__)
    for name, model, what in ((f"Purchases ({label})", transaction_model, "purchase and drop-out"),
                              ("Spend (Gamma-Gamma)", spend_model, "spend per purchase")):
        s = model.summary(level=level)
        parts.append(f"<h3>{name}</h3><p class='note'>Parameters of the {what} model, with "
                     f"{level:.0%} intervals; fitted by {model.fit_method_.upper()}.</p>"
                     + _table(s[["estimate", "lower", "upper"]].rename_axis("parameter")))
        note = getattr(model, "boundary_", None)
        if note:  # a boundary is an answer: say what the data show
            parts.append(f"<p class='boundary'>{html.escape(note['message'])}</p>")
        if "r_hat" in s.columns:
            worst = float(s["r_hat"].max())
            parts.append(f"<p class='note'>Sampler check: largest R-hat {worst:.3f} "
                         f"({'fine' if worst <= 1.01 else 'too high: rerun longer'}); smallest "
                         f"effective sample size {s['ess_bulk'].min():,.0f}.</p>")
    if comparison is not None and len(comparison):
        parts.append(_comparison_section(comparison, label))
    figs = [] if discrete else [
        _figure(lambda ax: plots.plot_frequency_fit(transaction_model, summary, ax=ax))]
    if discrete:
        parts.append(f"<p class='note'>{label} counts the {unit}s in which a customer bought; "
                     "the model checks drawn here for purchase models in continuous time (the "
                     "frequency fit, the holdout forecast) are not drawn for it yet: this "
                     "forecast is not validated on a holdout.</p>")
    if holdout is not None and not discrete:
        # validate a model that has not seen the holdout: refit on the calibration part
        check = type(transaction_model)(random_state=random_state).fit(holdout)
        score = evaluate_holdout(check, holdout, level=level, random_state=random_state)
        m = score.metrics
        figs.append(_figure(lambda ax: plots.plot_calibration_vs_holdout(check, holdout, ax=ax)))
        if transactions is not None:
            figs.append(_figure(lambda ax: plots.plot_tracking(
                check, transactions, holdout, start=transactions["date"].min(),
                calibration_end=holdout.attrs.get("calibration_end"),
                end=holdout.attrs.get("observation_end"), ax=ax)))
        parts.append(
            f"<p>Checked by refitting the model on the data up to "
            f"{holdout.attrs.get('calibration_end', 'the calibration end')} and forecasting the "
            f"next {m.holdout_length:g} {unit}s, which it did not see: "
            f"customers made {m.actual_total:,.0f} repeat purchases against "
            f"{m.expected_total:,.0f} expected ({m.aggregate_error:+.1%}). Per customer the "
            f"forecast is off by {m.mae:.2f} purchases on average. The {level:.0%} ranges held "
            f"the actual number for {m.coverage:.0%} of customers (target {level:.0%}).</p>")
    parts.append("<div class='grid'>" + "".join(figs) + "</div>")

    # 3. per-account predictive CLV
    parts.append(f"<h2>What each customer is worth over the next {horizons[main_years]}</h2>")
    parts.append("<div class='grid'>"
                 + _figure(lambda ax: plots.plot_clv_distribution(
                     clv.assign(frequency=summary["frequency"]), ax=ax))
                 + _figure(lambda ax: plots.plot_top_customers(clv, n=15, ax=ax), figsize=(7, 6))
                 + "</div>")
    top = clv.sort_values("expected_clv", ascending=False).head(10)
    parts.append("<p class='note'>The narrow range is what the customer is worth on average "
                 "given what we know; the wide range is what the customer may actually bring, "
                 "since one person's future is uncertain.</p>" + _table(
        top[["expected_purchases", "expected_clv", "clv_predictive_lower",
             "clv_predictive_upper"]].rename(columns={
            "expected_purchases": "expected purchases", "expected_clv": "expected value ($)",
            "clv_predictive_lower": "could be as low as ($)",
            "clv_predictive_upper": "could be as high as ($)"}).rename_axis("customer"),
        # the simulated bounds are stable to about a dollar, not to the cent
        fmt={"expected value ($)": _money, "expected purchases": lambda v: f"{v:.1f}",
             "could be as low as ($)": _whole_dollars,
             "could be as high as ($)": _whole_dollars}))
    export = Path(out).with_suffix(".clv.csv")
    parts.append(f"<p class='note'>Every customer's numbers are in <code>{export.name}</code> "
                 "next to this file.</p>")

    # 4. horizons side by side, each total with its two intervals
    rows = {}
    for y, tab in tables.items():
        total = portfolio_value(transaction_model, spend_model, summary, horizon=(y, "year"),
                                discount_rate=discount_rate, margin=margin, level=level,
                                n_samples=n_samples, random_state=random_state).iloc[0]
        rows[horizons[y]] = {
            "total expected value ($)": total["expected_total"],
            f"{level:.0%} credible range ($)": _range(total["expected_total_lower"],
                                                     total["expected_total_upper"]),
            f"{level:.0%} predictive range ($)": _range(total["predictive_total_lower"],
                                                       total["predictive_total_upper"]),
            "average per customer ($)": tab.expected_clv.mean(),
            "expected purchases per customer": tab.expected_purchases.mean()}
    parts.append(
        "<h2>Longer horizons</h2><p class='note'>Totals over all customers. The credible range "
        "is what the expected total could be given what the data leave uncertain about the "
        "model; the predictive range is what the customer base may actually bring, "
        "customers' own ups and downs included.</p>" + _table(
            pd.DataFrame(rows).T.rename_axis("horizon"),
            fmt={"total expected value ($)": _money, "average per customer ($)": _money}))

    # 5-6. segments, cohorts, history, gross vs net
    history = None
    if transactions is not None:
        history = transactions.groupby("customer_id")["amount"].sum().reindex(summary.index)
        frame = pd.DataFrame({"value so far ($)": history * margin,
                              "expected next " + horizons[main_years] + " ($)": clv.expected_clv})
        first = transactions.groupby("customer_id")["date"].min().reindex(summary.index)
        cohort = first.dt.to_period("Q").astype(str).rename("acquisition quarter")
        by_cohort = frame.groupby(cohort).agg(["sum"]).droplevel(1, axis=1)
        by_cohort.insert(0, "customers", cohort.value_counts().sort_index())
        parts.append("<h2>By acquisition cohort</h2><p class='note'>Profit already earned next to "
                     "the profit still expected.</p>"
                     + _table(by_cohort, fmt={c: _money for c in frame.columns}))
    # the value of a newly acquired customer: what acquisition cost is held against
    new_years = max(horizons_years)
    new = new_customer_value(transaction_model, spend_model, horizon=(new_years, "year"),
                             discount_rate=discount_rate, margin=margin, level=level,
                             random_state=random_state)
    parts.append(
        f"<h2>The value of a new customer</h2><p>A customer acquired today is expected to bring "
        f"<b>{_money(new.expected_value)}</b> over {new_years:g} years from acquisition, first "
        f"purchase included ({level:.0%} credible range "
        f"{_range(new.expected_value_lower, new.expected_value_upper)}; one new customer may "
        f"bring anywhere from {_money(new.predictive_lower)} to {_money(new.predictive_upper)}). "
        f"Acquiring customers pays off below <b>{_money(new.break_even_cac)}</b> per customer "
        f"(LTV:CAC 1 : 1) and comfortably below {_money(new.break_even_cac / 3)} (3 : 1).</p>"
        "<p class='note'>This, not the remaining value of customers already acquired, is what an "
        "acquisition cost should be compared with.</p>")
    if segments is not None:
        seg = segments.reindex(summary.index).fillna("unknown").rename("segment")
        g = pd.DataFrame({"customers": 1, "expected value ($)": clv.expected_clv}).groupby(seg).sum()
        g["average per customer ($)"] = g["expected value ($)"] / g["customers"]
        if acquisition_cost is not None:
            cac = (acquisition_cost if isinstance(acquisition_cost, pd.Series)
                   else pd.Series(float(acquisition_cost), index=g.index))
            g["cost to acquire ($)"] = cac.reindex(g.index)
            g["LTV:CAC"] = new.expected_value / g["cost to acquire ($)"]
        parts.append("<h2>By segment</h2>" + (
            f"<p class='note'>Expected value over the next {horizons[main_years]} of the "
            f"customers in each segment; LTV:CAC holds the value of a new customer "
            f"({_money(new.expected_value)} over {new_years:g} years) against each segment's "
            "acquisition cost. One model is fitted to all customers, so a new customer is worth "
            "the same in every segment; fit a model per segment to compare their new "
            "customers.</p>" if "LTV:CAC" in g.columns else "") + _table(
            g, fmt={"expected value ($)": _money, "average per customer ($)": _money,
                    "cost to acquire ($)": _money, "LTV:CAC": _ratio}))
        if "LTV:CAC" in g.columns:
            parts.append(_ltv_cac_flag(g["LTV:CAC"]))
    if segments is None and acquisition_cost is not None and not isinstance(acquisition_cost,
                                                                           pd.Series):
        ratio = new.expected_value / float(acquisition_cost)
        parts.append(f"<h2>Value against acquisition cost</h2><p>A new customer is expected to "
                     f"bring {_money(new.expected_value)} over {new_years:g} years against "
                     f"{_money(float(acquisition_cost))} to acquire: LTV:CAC = {ratio:.1f} : 1"
                     + (" <span class='flag'>(below 3 : 1)</span>" if ratio < 3 else "")
                     + ".</p>")
    gross = clv.expected_clv.sum()
    net = gross - serving_cost_rate * gross / margin
    parts.append(f"<h2>Gross and net</h2><p>Expected profit over the next {horizons[main_years]}: "
                 f"{_money(gross)} gross of serving costs, {_money(net)} after serving costs of "
                 f"{serving_cost_rate:.0%} of revenue.</p>")

    # 7. the simple formula
    mean_spend = float(np.nanmean(summary["monetary_value"]))
    age = summary["n_periods" if discrete else "T"]
    per_year = float((summary["frequency"] / age.clip(lower=1e-9)).mean()
                     * _years_to_unit(1.0, unit))
    lifespan = main_years
    simple = mean_spend * per_year * lifespan * margin
    parts.append(
        "<h2>Compared with the usual rule of thumb</h2>"
        f"<p>Average purchase value × purchases per year × lifespan × margin = "
        f"{_money(mean_spend)} × {per_year:.2f} × {lifespan:g} year × {margin:.0%} = "
        f"<b>{_money(simple)}</b> per customer, against the model's <b>"
        f"{_money(float(clv.expected_clv.mean()))}</b>. The rule of thumb assumes every customer "
        "keeps buying at the average pace; the model sees that many customers have already "
        "stopped and that frequent buyers are worth more, and it discounts future money.</p>")

    export_frame = summary.join(clv)
    if history is not None:
        export_frame["value_so_far"] = history * margin
    return _write_report(out, title, parts, export_frame)


_COMPARISON_COLUMNS = {
    "log_likelihood": ("log-likelihood (calibration)", lambda v: f"{v:,.1f}"),
    "bic": ("BIC", lambda v: f"{v:,.1f}"),
    "expected_total": ("holdout purchases, expected", lambda v: f"{v:,.0f}"),
    "actual_total": ("holdout purchases, actual", lambda v: f"{v:,.0f}"),
    "mae": ("error per customer (MAE)", lambda v: f"{v:.3f}"),
    "relative_mae": ("relative MAE", lambda v: f"{v:.3f}"),
    "coverage_90": ("90% range held (randomized PIT)", lambda v: f"{v:.1%}"),
}
_MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pnbd": "Pareto/NBD"}


def _comparison_section(comparison: pd.DataFrame, chosen: str) -> str:
    """The purchase models compared, in the order of the comparison (best first)."""
    cols = [c for c in _COMPARISON_COLUMNS if c in comparison.columns]
    table = comparison[cols].rename(index=lambda n: _MODEL_NAMES.get(n, n))
    table = table.rename(columns={c: _COMPARISON_COLUMNS[c][0] for c in cols})
    fmt = {_COMPARISON_COLUMNS[c][0]: _COMPARISON_COLUMNS[c][1] for c in cols}
    how = ("forecast the holdout period best (smallest error per customer)"
           if "mae" in comparison.columns else "has the lowest BIC")
    return (f"<h3>Which purchase model</h3><p>The {html.escape(chosen)} model was chosen "
            f"because it {how} among the models compared:</p>"
            + _table(table.rename_axis("model"), fmt=fmt))
