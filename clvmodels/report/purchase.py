"""The purchase-data report (any purchase model + Gamma-Gamma): :func:`build_report`.

The page leads with decisions: an executive summary of a few numbers, each with its
interval; where the value is (concentration); the valuable customers slipping away
(a win-back list, also written as ``<out>.winback.csv``); the expected value per
month or quarter (also ``<out>.cashflows.csv``); then totals over longer horizons,
per-customer values, the value of a new customer against acquisition cost, segments
and cohorts, the validation on a holdout (in money, ranking and purchases), the model
details and where the numbers come from.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import plots
from ..models import GammaGammaModel
from ..models.purchase.base import PurchaseModel
from ..timeunits import convert_duration
from ..value.new_customer import new_customer_value
from ..value.portfolio import portfolio_value
from ..value.purchase import customer_lifetime_value
from ..value.rows import has_covariates
from .appendix import appendix
from .covariates import (
    by_level_export,
    covariate_kinds,
    covariate_section,
    level_words,
    new_customers_by_level,
    typical_customer,
    typical_words,
    value_by_level,
    with_covariates,
)
from .decisions import at_risk, cash_flows, printed_bounds, top_share
from .page import (
    _figure,
    _generated,
    _headline_money,
    _ltv_cac_flag,
    _money,
    _money_note,
    _money_range,
    _provenance,
    _ratio,
    _sig_money,
    _table,
    _version,
    _whole_dollars,
    _write_report,
    _years_to_unit,
    group_totals_table,
)
from .validation import not_validated, validate_on_holdout

__all__ = ["build_report"]

#: the column the segments go in for portfolio_value(by=...)
_SEGMENT = "__segment__"
_MODEL_LABELS = {"BetaGeoModel": "BG/NBD", "ModifiedBetaGeoModel": "MBG/NBD",
                 "ParetoNBDModel": "Pareto/NBD", "BetaGeoBetaBinomModel": "BG/BB"}


def _model_label(model) -> str:
    """The model's name for the page: "BG/NBD", or "BG/NBD with covariates"."""
    if has_covariates(model):
        base = model._base_class().__name__
        return f"{_MODEL_LABELS.get(base, base)} with covariates"
    return _MODEL_LABELS.get(type(model).__name__, type(model).__name__)


def _range(lo: float, hi: float) -> str:
    """A money range to three significant digits: its bounds are estimates."""
    return _money_range(lo, hi)


def _pct_range(lo: float, hi: float) -> str:
    return f"{lo:.0%} to {hi:.0%}"


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
    margin: float = 1.0,
    level: float = 0.90,
    title: str = "Customer lifetime value forecast",
    random_state: int = 0,
    n_samples: int = 200,
    comparison: pd.DataFrame | None = None,
    source: dict | None = None,
    winback_rows: int = 20,
) -> Path:
    """Write the forecast report to ``out`` (atomically) and return its path; beside it
    go ``<out>.clv.csv`` (every customer's numbers), ``<out>.winback.csv`` (the
    valuable customers slipping away) and ``<out>.cashflows.csv`` (expected value per
    month or quarter).

    Parameters
    ----------
    transaction_model, spend_model : fitted PurchaseModel, GammaGammaModel
        Any purchase model (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB) and the spend model.
    summary : DataFrame
        RFM summary of the customers to value (same time unit as the models).
    transactions : DataFrame, optional
        Normalized transactions (``customer_id``, ``date``, ``amount``) for the data
        overview, historical value, the win-back list and acquisition cohorts.
    holdout : DataFrame, optional
        A calibration/holdout summary (:func:`~clvmodels.calibration_holdout_summary`,
        with amounts) for the validation section: both models are refitted on its
        calibration part by the method they were fitted with. Without it the page says
        the forecast is not validated.
    segments : Series, optional
        Segment label per customer id (CLV by segment, LTV:CAC by segment).
    acquisition_cost : Series or float, optional
        Cost to acquire a customer: one number, or one per segment (or, for models with
        covariates, one per level of a categorical covariate, e.g. per channel).
    serving_cost_rate : float
        Cost of serving customers as a share of revenue (for gross vs net).
    horizons_years : tuple of float
        Horizons in years; the first is the main one (summary, per-customer values,
        win-back), the longest sets the new-customer value and the cash flows.
    discount_rate, margin, level : float
        Effective annual discount rate; share of spend that is profit (1: values are
        revenue); probability of every credible and predictive range. The defaults are
        those of ``clvmodels report`` and ``clvmodels score``.
    comparison : DataFrame, optional
        A comparison of purchase models (:func:`clvmodels.evaluation.comparison.compare_models`,
        or the table ``clvmodels fit --model auto`` keeps in the job), shown in the
        fit section with the model that was chosen.
    source : dict, optional
        Where the data came from (e.g. ``{"data file": "orders.csv", "rows read":
        "6,919"}``), listed first under provenance.
    winback_rows : int
        Customers shown in the win-back table (the CSV has all of them).

    Models with covariates (:mod:`clvmodels.models.covariates`) value every customer
    with her own parameters, and the page gains a section "Value by covariate level"
    (:mod:`clvmodels.report.covariates`; also ``<out>.covariates.csv``); the value of a
    new customer is that of a typical one (each categorical covariate at its most common
    level, each numeric one at its mean) and, per level of each categorical covariate,
    in that section. ``holdout`` gets the covariate columns from ``summary`` (by customer
    id) when it has none.
    """
    unit = transaction_model.time_unit_
    # a discrete-time model (BG/BB) counts periods with a transaction: its summary has
    # n_periods instead of T, and the checks drawn for continuous time do not apply
    discrete = getattr(type(transaction_model), "discrete_time", False)
    horizons = {y: f"{y:g} year" + ("s" if y != 1 else "") for y in horizons_years}
    settings = dict(discount_rate=discount_rate, margin=margin, level=level)
    tables = {}
    for years in horizons:
        tables[years] = customer_lifetime_value(
            transaction_model, spend_model, summary, horizon=(years, "year"),
            n_samples=n_samples, random_state=random_state, **settings)
    main_years, long_years = horizons_years[0], max(horizons_years)
    main = horizons[main_years]
    next_main = "year" if main_years == 1 else main  # "over the next year"
    main_units = convert_duration(main_years, "year", unit)
    if discrete:
        main_units = float(round(main_units))
    clv = tables[main_years]
    pct = f"{level:.0%}"
    label = _model_label(transaction_model)
    kinds = covariate_kinds(transaction_model, spend_model)
    typical = typical_customer(summary, kinds) if kinds else None
    n = len(summary)
    export = Path(out)
    history = None
    if transactions is not None:
        history = transactions.groupby("customer_id")["amount"].sum().reindex(summary.index)
    decided = dict(discount_rate=discount_rate, margin=margin, level=level,
                   random_state=random_state)

    # ---- the numbers the page leads with
    totals = {}
    for y in horizons:
        totals[y] = portfolio_value(transaction_model, spend_model, summary,
                                    horizon=(y, "year"), n_samples=n_samples,
                                    random_state=random_state, **settings).iloc[0]
    base = totals[main_years]
    top = top_share(transaction_model, spend_model, summary, clv["expected_clv"],
                    horizon=main_units, **decided)
    risk, risky = at_risk(transaction_model, spend_model, summary, clv, horizon=main_units,
                          **decided)
    flows = cash_flows(transaction_model, spend_model, summary, years=main_years,
                       start=summary.attrs.get("observation_end") or (
                           transactions["date"].max() if transactions is not None
                           else pd.Timestamp.today()), **decided)
    new = new_customer_value(transaction_model, spend_model, horizon=(long_years, "year"),
                             covariates=typical, random_state=random_state, **settings)
    if kinds:
        by_level = value_by_level(transaction_model, spend_model, summary, kinds,
                                  horizon=(main_years, "year"), n_samples=n_samples,
                                  random_state=random_state, **settings)
        new_by_level = new_customers_by_level(transaction_model, spend_model, summary, kinds,
                                              horizon=(long_years, "year"),
                                              random_state=random_state, **settings)
        if holdout is not None:
            holdout = with_covariates(holdout, summary, list(kinds))
    if holdout is not None and not discrete:
        validation = validate_on_holdout(transaction_model, spend_model, holdout,
                                         transactions=transactions, level=level,
                                         random_state=random_state, n_samples=n_samples)
    elif discrete:
        validation = not_validated(label)
    else:
        validation = not_validated()

    parts: list[str] = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Values are {_money_note(margin, discount_rate)}. Observation ends "
        f"{summary.attrs.get('observation_end', 'at the last transaction')}; time in the "
        f"models is measured in {unit}s. Ranges are {pct} ranges: a <i>credible</i> range is "
        "what an expected value could be given what the data leave uncertain about the model; "
        "a <i>predictive</i> range is what may actually happen, each customer's own ups and "
        "downs included.</p>"]

    # ---- executive summary
    lines = [
        f"The {n:,} current customers are expected to bring <b>"
        f"{_headline_money(base['expected_total'])}</b> over the next {next_main} ({pct} credible range "
        f"{_range(base['expected_total_lower'], base['expected_total_upper'])}; what they may "
        f"actually bring: {_range(base['predictive_total_lower'], base['predictive_total_upper'])}"
        f"), {_money(base['expected_total'] / n)} per customer.",
        f"The top {top['top']:.0%} of customers ({top['customers']:,}) hold <b>{top['share']:.0%}"
        f"</b> of that value ({_sig_money(top['value'])}; credible range of the share "
        f"{_pct_range(*top['share_range'])}): keeping them matters most.",
        f"<b>{risk['customers']:,} valuable customers at risk</b>: each would bring at least "
        f"{_money(risk['bar'])} over the next {next_main} if still active (as much as the top "
        f"{1 - risk['valuable']:.0%} of customers), but their chance of still being a customer is "
        f"below {risk['threshold']:.0%} ({risk['customers_gone']:,} of them below "
        f"{risk['gone']:.0%}: probably gone). Still active, they would bring <b>"
        f"{_sig_money(risk['value_if_active'])}</b> (credible range "
        f"{_range(*risk['value_if_active_range'])}); as things stand the model expects "
        f"{_sig_money(risk['expected'])} from them. The win-back list below names them.",
        ("A newly acquired customer" if not kinds else
         f"A newly acquired typical customer ({typical_words(typical, kinds)})")
        + f" is worth <b>{_sig_money(new.expected_value)}</b> over "
        f"{long_years:g} years, first purchase included (credible range "
        f"{_range(new.expected_value_lower, new.expected_value_upper)}): acquiring a customer "
        f"pays for itself at a cost below {_sig_money(new.break_even_cac)}"
        + _new_customer_words(new, new_by_level if kinds else None, acquisition_cost, margin)
        + ".",
        validation.summary,
    ]
    parts.append("<h2>In short</h2><ul class='summary'>"
                 + "".join(f"<li>{line}</li>" for line in lines) + "</ul>")

    # ---- where the value is
    parts.append(
        f"<h2>Where the value is</h2><p>Ranked by expected value over the next {next_main}, the top "
        f"{top['top']:.0%} of customers hold {top['share']:.0%} of it (credible range "
        f"{_pct_range(*top['share_range'])}; the same customers at each parameter draw), "
        f"{_sig_money(top['value'])} of {_sig_money(base['expected_total'])}. The curve "
        "shows the share of value held by any share of customers; the closer it hugs the top "
        "left, the more the value rests on a few customers.</p>"
        "<div class='grid'>"
        + _figure(lambda ax: plots.plot_concentration(clv["expected_clv"].to_numpy(),
                                                      top=top["top"], ax=ax))
        + "</div>")

    # ---- win-back list
    winback = _winback_table(risky, summary, transactions, history, discrete)
    shown = winback.head(winback_rows)
    parts.append(
        "<h2>Valuable customers slipping away</h2>"
        f"<p>{risk['customers']:,} customers would each bring at least {_money(risk['bar'])} "
        f"over the next {next_main} if still active (as much as the top "
        f"{1 - risk['valuable']:.0%} of all customers would) but have less than a "
        f"{risk['threshold']:.0%} chance of still being customers, judging by how long they "
        "have been silent against how often they used to buy. The most valuable if kept or "
        f"won back come first. Below a {risk['gone']:.0%} chance the model takes the customer "
        "as gone: a win-back offer rather than a retention one. The value if still active is "
        f"{'profit' if margin < 1 else 'revenue'} over the next {next_main}, discounted; the "
        "spend so far is revenue.</p>"
        + (_table(shown.rename_axis("customer"), fmt=_winback_fmt(shown)) if len(shown) else
           "<p>No customer meets both conditions.</p>")
        + f"<p class='note'>All {len(winback):,} are in <code>{export.with_suffix('.winback.csv').name}"
        "</code> next to this file.</p>")

    # ---- cash flows per period
    step = "month" if not discrete and main_years <= 2 else (
        "quarter" if not discrete else unit)
    flows_shown = flows.set_index("label").rename_axis(step)
    flows_shown = pd.concat([flows_shown, pd.DataFrame({
        "expected": [flows.attrs["total"][0]], "lower": [flows.attrs["total"][1]],
        "upper": [flows.attrs["total"][2]], "present_value": [flows.attrs["present_total"][0]],
        "present_value_lower": [flows.attrs["present_total"][1]],
        "present_value_upper": [flows.attrs["present_total"][2]]},
        index=pd.Index([f"total, {horizons[main_years]}"]))]).rename_axis(step)
    flows_table = pd.DataFrame({
        "expected ($)": flows_shown["expected"],
        f"{pct} credible range ($)": [_range(a, b) for a, b in zip(flows_shown["lower"],
                                                                  flows_shown["upper"])],
        "present value ($)": flows_shown["present_value"],
        "present value range ($)": [_range(a, b) for a, b in zip(
            flows_shown["present_value_lower"], flows_shown["present_value_upper"])]},
        index=flows_shown.index)
    chart = flows.copy()
    chart.attrs.update(title=f"Expected value per {step}, next {next_main}",
                       value_label="Expected value in the period ($, not discounted)",
                       range_label=f"{pct} credible range")
    parts.append(
        f"<h2>Expected value by {step}</h2><p>What the current customers are expected to bring "
        f"in each {step} of the next {next_main}: as money in that {step} (not "
        f"discounted) and as present value (discounted at {discount_rate:.0%} a year to the "
        f"end of observation; they add up to the total over {horizons[main_years]}, as in the "
        "table of horizons below). The ranges "
        "are credible ranges of the expected amount; the money that actually comes in varies "
        "more (see the predictive ranges of the totals). New customers acquired later are not "
        "included.</p><div class='grid'>" + _figure(
            lambda ax: plots.plot_cash_flows(chart, ax=ax), figsize=(8, 4.2)) + "</div>"
        + _table(flows_table, fmt={"expected ($)": _sig_money, "present value ($)": _sig_money})
        + f"<p class='note'>The table is in <code>{export.with_suffix('.cashflows.csv').name}"
        "</code> next to this file.</p>")

    # ---- horizons side by side, each total with its two intervals
    rows = {}
    for y, tab in tables.items():
        total = totals[y]
        rows[horizons[y]] = {
            "total expected value ($)": total["expected_total"],
            f"{pct} credible range ($)": _range(total["expected_total_lower"],
                                               total["expected_total_upper"]),
            f"{pct} predictive range ($)": _range(total["predictive_total_lower"],
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

    # ---- per-account predictive CLV: the printed customers re-simulated, so that a
    # printed bound does not move between runs at its printed precision
    shown_ids = clv.sort_values("expected_clv", ascending=False).index[:15]
    steady = printed_bounds(transaction_model, spend_model, summary, shown_ids,
                            horizon=main_units, **decided)
    clv = clv.copy()
    clv.loc[shown_ids, ["clv_predictive_lower", "clv_predictive_upper"]] = steady[
        ["clv_predictive_lower", "clv_predictive_upper"]].to_numpy()
    parts.append(f"<h2>What each customer is worth over the next {next_main}</h2>")
    parts.append("<div class='grid'>"
                 + _figure(lambda ax: plots.plot_clv_distribution(
                     clv.assign(frequency=summary["frequency"]), ax=ax))
                 + _figure(lambda ax: plots.plot_top_customers(clv, n=15, ax=ax), figsize=(7, 6))
                 + "</div>")
    best = clv.sort_values("expected_clv", ascending=False).head(10)
    top_table = best[["expected_purchases", "expected_clv"]].assign(
        low=steady["printed_lower"], high=steady["printed_upper"]).rename(columns={
            "expected_purchases": "expected purchases", "expected_clv": "expected value ($)",
            "low": "could be as low as ($)", "high": "could be as high as ($)"})
    parts.append(
        "<p class='note'>The narrow range is what the customer is worth on average given what "
        "we know; the wide range is what the customer may actually bring, since one person's "
        f"future is uncertain ({pct} predictive range).</p>"
        + _table(top_table.rename_axis("customer"),
                 fmt={"expected value ($)": _money, "expected purchases": lambda v: f"{v:.1f}",
                      "could be as low as ($)": _whole_dollars,
                      "could be as high as ($)": _whole_dollars})
        + f"<p class='note'>The ranges of these customers (and of the {len(shown_ids)} in the "
        f"chart) come from {steady.attrs['n_samples']:,} simulated futures each and are "
        f"rounded to the nearest {_whole_dollars(steady.attrs['step'])}: the largest Monte Carlo standard "
        f"error of a bound is {_money(steady.attrs['se'])}, so a run with another seed prints "
        "the same bound or, when one sits at a rounding edge, a bound one step away. A $0 "
        f"lower bound means the customer has at least about a {(1 - level) / 2:.0%} chance of "
        f"bringing nothing. The other customers' ranges (in the table of every customer) come "
        f"from {n_samples:,} futures each.</p>")
    parts.append(f"<p class='note'>Every customer's numbers are in <code>"
                 f"{export.with_suffix('.clv.csv').name}</code> next to this file.</p>")

    # ---- new customers, segments, cohorts, gross vs net
    parts.append(
        f"<h2>The value of a new customer</h2><p>A {'typical ' if kinds else ''}customer "
        "acquired today is expected to bring "
        f"<b>{_money(new.expected_value)}</b> over {long_years:g} years from acquisition, first "
        f"purchase included ({pct} credible range "
        f"{_range(new.expected_value_lower, new.expected_value_upper)}; one new customer may "
        f"bring anywhere from {_money(new.predictive_lower)} to {_money(new.predictive_upper)}). "
        f"Acquiring customers pays off below <b>{_money(new.break_even_cac)}</b> per customer "
        f"(LTV:CAC 1 : 1) and comfortably below {_money(new.break_even_cac / 3)} (3 : 1).</p>"
        "<p class='note'>This, not the remaining value of customers already acquired, is what an "
        "acquisition cost should be compared with."
        + (f" The models have covariates: this is a typical new customer "
           f"({html.escape(typical_words(typical, kinds))}); the value of a new customer at "
           "each level is under Value by covariate level." if kinds else "") + "</p>")
    if kinds:
        parts.append(covariate_section(
            transaction_model, spend_model, by_level=by_level, new_by_level=new_by_level,
            typical=typical, kinds=kinds, acquisition_cost=acquisition_cost, level=level,
            next_main=next_main, long_years=long_years, margin=margin))
    if segments is not None:
        seg = segments.reindex(summary.index).fillna("unknown")
        # one call for every segment: each total with its two intervals
        by_segment = portfolio_value(
            transaction_model, spend_model, summary.assign(**{_SEGMENT: seg.to_numpy()}),
            by=_SEGMENT, horizon=(main_years, "year"), n_samples=n_samples,
            random_state=random_state, **settings).rename_axis("segment")
        g = group_totals_table(by_segment, pct)
        if acquisition_cost is not None:
            cac = (acquisition_cost if isinstance(acquisition_cost, pd.Series)
                   else pd.Series(float(acquisition_cost), index=g.index))
            g["cost to acquire ($)"] = cac.reindex(g.index)
            g["LTV:CAC"] = new.expected_value / g["cost to acquire ($)"]
        parts.append(
            f"<h2>By segment</h2><p>Expected value over the next {next_main} of the customers "
            f"in each segment. The dot is the expected value; the thick bar its {pct} credible "
            "range (what the expected value could be given what the data leave uncertain "
            f"about the model); the thin whisker its {pct} predictive range (what the "
            "segment's customers may actually bring, their own ups and downs included). "
            "Small segments have wide predictive ranges: a few customers' choices move their "
            "total. The segments' expected values add up to the total of the next "
            f"{next_main}; their ranges do not add up to the total's range.</p><div>" + _figure(
                lambda ax: plots.plot_segment_values(by_segment, level=level, what=(
                    f"Expected value over the next {next_main}"), ax=ax),
                figsize=(9, 2.2 + 0.45 * len(by_segment))) + "</div>" + (
            f"<p class='note'>LTV:CAC holds the value of a new customer "
            f"({_money(new.expected_value)} over {long_years:g} years) against each segment's "
            "acquisition cost. One model is fitted to all customers, so a new customer is worth "
            "the same in every segment" + (
                " (a typical one: see Value by covariate level for new customers per level)"
                if kinds else "") + "; fit a model per segment to compare their new "
            "customers.</p>" if "LTV:CAC" in g.columns else "") + _table(
            g, fmt={"expected value ($)": _sig_money, "average per customer ($)": _money,
                    "customers": lambda v: f"{v:,.0f}",
                    "cost to acquire ($)": _money, "LTV:CAC": _ratio}))
        if "LTV:CAC" in g.columns:
            parts.append(_ltv_cac_flag(g["LTV:CAC"]) + (
                "<p class='note'>LTV here is revenue: multiply the ratios by your gross margin "
                "for the profit ratio.</p>" if margin == 1.0 else ""))
    if segments is None and acquisition_cost is not None and not isinstance(acquisition_cost,
                                                                           pd.Series):
        ratio = new.expected_value / float(acquisition_cost)
        parts.append(f"<h2>Value against acquisition cost</h2><p>A new customer is expected to "
                     f"bring {_money(new.expected_value)} over {long_years:g} years against "
                     f"{_money(float(acquisition_cost))} to acquire: LTV:CAC = {ratio:.1f} : 1"
                     + (" <span class='flag'>(below 3 : 1)</span>" if ratio < 3 else "")
                     + _on_revenue(margin) + ".</p>")
    if transactions is not None:
        frame = pd.DataFrame({"value so far ($)": history * margin,
                              f"expected, next {next_main} ($)": clv.expected_clv})
        first = transactions.groupby("customer_id")["date"].min().reindex(summary.index)
        cohort = first.dt.to_period("Q").astype(str).rename("acquisition quarter")
        by_cohort = frame.groupby(cohort).agg(["sum"]).droplevel(1, axis=1)
        by_cohort.insert(0, "customers", cohort.value_counts().sort_index())
        # each cohort's expected total with its two intervals, one call for all cohorts
        totals = portfolio_value(
            transaction_model, spend_model, summary.assign(**{_SEGMENT: cohort.to_numpy()}),
            by=_SEGMENT, horizon=(main_years, "year"), n_samples=n_samples,
            random_state=random_state, **settings).reindex(by_cohort.index)
        by_cohort[f"{pct} credible range ($)"] = [_range(a, b) for a, b in zip(
            totals["expected_total_lower"], totals["expected_total_upper"])]
        by_cohort[f"{pct} predictive range ($)"] = [_range(a, b) for a, b in zip(
            totals["predictive_total_lower"], totals["predictive_total_upper"])]
        parts.append("<h2>By acquisition cohort</h2><p class='note'>Value already earned next "
                     f"to the value still expected over the next {next_main}, with its {pct} "
                     "credible and predictive ranges.</p>"
                     + _table(by_cohort, fmt={c: _money for c in frame.columns}))
    if serving_cost_rate > 0:
        gross = clv.expected_clv.sum()
        net = gross - serving_cost_rate * gross / margin
        parts.append(f"<h2>Gross and net</h2><p>Expected value over the next {next_main}: "
                     f"{_money(gross)} gross of serving costs, {_money(net)} after serving "
                     f"costs of {serving_cost_rate:.0%} of revenue.</p>")

    # ---- validation
    parts.append(validation.html)

    # ---- the simple formula
    mean_spend = float(np.nanmean(summary["monetary_value"]))
    age = summary["n_periods" if discrete else "T"]
    per_year = float((summary["frequency"] / age.clip(lower=1e-9)).mean()
                     * _years_to_unit(1.0, unit))
    simple = mean_spend * per_year * main_years * margin
    parts.append(
        "<h2>Compared with the usual rule of thumb</h2>"
        f"<p>Average purchase value × purchases per year × lifespan × margin = "
        f"{_money(mean_spend)} × {per_year:.2f} × {main_years:g} year × {margin:.0%} = "
        f"<b>{_money(simple)}</b> per customer, against the model's <b>"
        f"{_money(float(clv.expected_clv.mean()))}</b>. The rule of thumb assumes every customer "
        "keeps buying at the average pace; the model sees that many customers have already "
        "stopped and that frequent buyers are worth more, and it discounts future money.</p>")

    # ---- appendix: the data and the models
    parts.append(appendix(transaction_model, spend_model, summary, transactions, comparison,
                           label, level, discrete, unit))

    # ---- provenance
    prov = dict(source or {})
    if transactions is not None:
        prov.setdefault("transactions used", f"{len(transactions):,}")
        prov["dates"] = (f"{transactions['date'].min():%Y-%m-%d} to "
                         f"{transactions['date'].max():%Y-%m-%d}")
    prov["customers"] = f"{n:,}"
    prov["observation end"] = summary.attrs.get("observation_end", "the last transaction")
    prov["calibration end (validation)"] = (holdout.attrs.get("calibration_end", "given")
                                            if holdout is not None else "none: not validated")
    prov["purchase model"] = (f"{label}, fitted by {transaction_model.fit_method_.upper()} on "
                              f"{transaction_model.n_obs_:,.0f} customers")
    prov["spend model"] = (f"Gamma-Gamma{' with covariates' if has_covariates(spend_model) else ''}"
                           f", fitted by {spend_model.fit_method_.upper()}")
    if kinds:
        prov["covariates"] = ", ".join(f"{c} ({k})" for c, k in kinds.items())
    prov["settings"] = (f"horizons {', '.join(horizons.values())}; discount rate "
                        f"{discount_rate:.0%} a year; margin {margin:.0%}; {pct} ranges; "
                        f"{n_samples} simulated futures; serving costs {serving_cost_rate:.0%} "
                        f"of revenue; seed {random_state}")
    prov["clvmodels version"] = _version()
    prov["generated"] = _generated()
    parts.append(_provenance(prov))

    export_frame = summary.join(clv)  # the printed customers' ranges as printed, unrounded
    if history is not None:
        export_frame["value_so_far"] = history * margin
    extras = {".winback.csv": winback,
              ".cashflows.csv": flows.set_index("label").rename_axis(step)}
    if kinds:
        extras[".covariates.csv"] = by_level_export(by_level)
    return _write_report(out, title, parts, export_frame, extras=extras)


def _new_customer_words(new, new_by_level, acquisition_cost, margin: float) -> str:
    """The LTV:CAC clause of the summary (:func:`_cac_words`); with covariates, the value
    of a new customer per level of each categorical covariate, and LTV:CAC per level
    when the costs are given per level (e.g. per channel)."""
    if new_by_level is None:
        return _cac_words(new, acquisition_cost, margin)
    words, per_level = level_words(new_by_level, acquisition_cost)
    if per_level:
        return words + _on_revenue(margin)
    return _cac_words(new, acquisition_cost, margin) + words


def _cac_words(new, acquisition_cost, margin: float) -> str:
    """The LTV:CAC clause of the summary: the ratio with its credible range for one
    cost, the ratios per segment for several."""
    if acquisition_cost is None:
        return " (give an acquisition cost, --acquisition-cost, for LTV:CAC)"
    if isinstance(acquisition_cost, pd.Series):
        ratios = "; ".join(f"{html.escape(str(k))} {_ratio(new.expected_value / v)}"
                           for k, v in acquisition_cost.items())
        return f"; LTV:CAC by segment: {ratios}"
    cac = float(acquisition_cost)
    ratio = new.expected_value / cac
    flag = " <span class='flag'>(below 3 : 1)</span>" if ratio < 3 else ""
    return (f"; against {_money(cac)} to acquire, <b>LTV:CAC {ratio:.1f} : 1</b>{flag} "
            f"(credible range {new.expected_value_lower / cac:.1f} to "
            f"{new.expected_value_upper / cac:.1f})" + _on_revenue(margin))


def _on_revenue(margin: float) -> str:
    """A ratio of revenue to cost overstates the return: say so when no margin is given."""
    return ("; this is revenue against cost: multiply by your gross margin for the profit "
            "ratio" if margin == 1.0 else "")


def _winback_table(risky: pd.DataFrame, summary, transactions, history, discrete) -> pd.DataFrame:
    """The at-risk customers with what a marketer needs to act on them."""
    rows = summary.loc[risky.index]
    table = pd.DataFrame(index=risky.index)
    table["purchases"] = (rows["frequency"] + 1).astype(int)
    if transactions is not None:
        last = transactions.groupby("customer_id")["date"].max().reindex(risky.index)
        table["last purchase"] = last.dt.strftime("%Y-%m-%d")
        table["spend so far ($)"] = history.reindex(risky.index)
    else:
        age = rows["n_periods" if discrete else "T"]
        table["time since last purchase"] = age - rows["recency"]
    table["chance still active"] = risky["probability_alive"]
    table["value if still active ($)"] = risky["value_if_active"]
    table["expected value as things stand ($)"] = risky["expected_clv"]
    return table.rename_axis(summary.index.name or "customer_id")


def _winback_fmt(table: pd.DataFrame) -> dict:
    fmt = {c: _money for c in table.columns if "($)" in c}
    fmt["chance still active"] = lambda v: "<0.1%" if v < 0.001 else f"{v:.1%}"
    fmt["purchases"] = lambda v: f"{v:,.0f}"
    if "time since last purchase" in table.columns:
        fmt["time since last purchase"] = lambda v: f"{v:,.1f}"
    return fmt
