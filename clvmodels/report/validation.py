"""The validation section of the purchase report: the models refitted, by the job's own
method, on the data up to the calibration end, and their forecast of the holdout
period set against what customers did, in purchases, in money and in ranking."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from .. import plots
from ..evaluation.holdout import evaluate_holdout
from ..evaluation.holdout_value import evaluate_holdout_value, refit_like
from ..value.portfolio import portfolio_value
from .page import _figure, _money, _table

__all__ = ["Validation", "not_validated", "validate_on_holdout"]

_METHOD_WORDS = {"mle": "maximum likelihood", "map": "maximum a posteriori (MAP)",
                 "mcmc": "MCMC (NUTS)", "advi": "variational inference (ADVI)"}


@dataclass
class Validation:
    """What the report shows of a holdout check: the section's HTML and the line of
    the executive summary."""

    html: str
    summary: str


def _sig(v: float) -> str:
    """Money to three significant digits (a forecast, not an account)."""
    return _money(float(f"{v:.3g}"))


def not_validated(unavailable: str | None = None) -> Validation:
    """The section and summary line when there is no holdout check: how to get one, or
    (``unavailable``: the model's name) that there is none for this model yet."""
    if unavailable:
        return Validation(
            f"<h2>Does the model forecast well?</h2><p>This forecast is <b>not validated on a "
            f"holdout</b>: the holdout check is not available for {html.escape(unavailable)} "
            "yet, so nothing here shows how well the model forecast a period it did not see."
            "</p>", f"Not validated on a holdout (the check is not available for "
            f"{html.escape(unavailable)} yet).")
    text = ("This forecast is <b>not validated on a holdout</b>: nothing here shows how well "
            "the model forecast a period it did not see. To get the check, run the report "
            "again with <code>--calibration-end DATE</code> (from Python: "
            "<code>holdout=calibration_holdout_summary(...)</code>): the models are refitted on "
            "the data up to that date and their forecast of the rest is set against what "
            "customers actually bought and spent.")
    return Validation(f"<h2>Does the model forecast well?</h2><p>{text}</p>",
                      "Not validated on a holdout: rerun with --calibration-end DATE to check "
                      "the forecast against a period the model did not see.")


def validate_on_holdout(transaction_model, spend_model, holdout: pd.DataFrame, *,
                        transactions: pd.DataFrame | None, level: float, random_state: int,
                        n_samples: int) -> Validation:
    """Refit both models on the calibration part of ``holdout`` with the job's method
    and settings (:func:`~clvmodels.evaluation.holdout_value.refit_like`), then score
    their holdout forecast: purchases (:func:`~clvmodels.evaluation.evaluate_holdout`),
    money and ranking (:func:`~clvmodels.evaluation.holdout_value.evaluate_holdout_value`)
    and the holdout total with its predictive range
    (:func:`~clvmodels.value.portfolio.portfolio_value`, undiscounted revenue)."""
    unit = transaction_model.time_unit_
    check = refit_like(transaction_model, holdout)
    check_spend = refit_like(spend_model, holdout)
    counts = evaluate_holdout(check, holdout, level=level, random_state=random_state).metrics
    money = evaluate_holdout_value(check, check_spend, holdout)
    m = money.metrics
    length = m.holdout_length
    total = portfolio_value(check, check_spend, holdout, horizon=(length, unit),
                            discount_rate=0.0, margin=1.0, level=level, n_samples=n_samples,
                            random_state=random_state).iloc[0]
    lo, hi = total["predictive_total_lower"], total["predictive_total_upper"]
    inside = lo <= m.actual_spend_total <= hi
    cal_end = holdout.attrs.get("calibration_end", "the calibration end")
    methods = {_METHOD_WORDS.get(x.fit_method_, x.fit_method_) for x in (check, check_spend)}
    how = " and ".join(sorted(methods))
    pct = f"{level:.0%}"

    figs = [_figure(lambda ax: plots.plot_decile_check(money.deciles, ax=ax)),
            _figure(lambda ax: plots.plot_gains(money.per_customer["expected_spend"],
                                                money.per_customer["actual_spend"], ax=ax)),
            _figure(lambda ax: plots.plot_calibration_vs_holdout(check, holdout, ax=ax))]
    if transactions is not None:
        figs.append(_figure(lambda ax: plots.plot_tracking(
            check, transactions, holdout, start=transactions["date"].min(),
            calibration_end=holdout.attrs.get("calibration_end"),
            end=holdout.attrs.get("observation_end"), ax=ax)))
    deciles = money.deciles.rename(columns={
        "expected_spend": "forecast spend ($)", "actual_spend": "actual spend ($)",
        "share_of_actual_spend": "share of all actual spend"})
    deciles.index = pd.Index([f"{i} (highest forecast)" if i == 1 else str(i)
                              for i in deciles.index], name="group of customers")
    spend_gap = m.expected_spend_per_purchase / m.actual_spend_per_purchase - 1.0
    parts = [
        "<h2>Does the model forecast well?</h2>",
        f"<p>Checked by refitting the models on the data up to {html.escape(str(cal_end))} "
        f"(by {how}, as the job was fitted, with its settings and priors) and forecasting the "
        f"next {length:g} {unit}s, which they did not see.</p>",
        "<h3>In money</h3>",
        f"<p>The {m.customers:,.0f} customers were expected to spend <b>{_sig(m.expected_spend_total)}"
        f"</b> in those {length:g} {unit}s ({pct} predictive range {_sig(lo)} to {_sig(hi)}); "
        f"they spent <b>{_sig(m.actual_spend_total)}</b> (the forecast was "
        f"{abs(m.spend_error):.0%} {'above' if m.spend_error > 0 else 'below'} that), "
        + ("inside the range." if inside else
           "<span class='flag'>outside the range</span>: treat the totals on this page with "
           "that error in mind.")
        + " These are revenue (spend before any margin), not discounted.</p>",
        f"<p>The spend model alone: the {m.buyers:,.0f} customers who bought in the holdout were "
        f"expected to spend {_money(m.expected_spend_per_purchase)} per purchase and spent "
        f"{_money(m.actual_spend_per_purchase)} (the forecast {abs(spend_gap):.0%} "
        f"{'above' if spend_gap > 0 else 'below'}).</p>",
        "<h3>In ranking</h3>",
        f"<p>The 10% of customers with the highest forecast made <b>{m.top_decile_share:.0%}</b> "
        f"of the holdout spend ({m.top_decile_lift:.1f} times their share of customers). The "
        f"normalized Gini coefficient of the ranking is <b>{m.normalized_gini:.2f}</b> (1: "
        f"customers in exactly the order of what they spent; 0: no better than random). Groups "
        f"of customers by forecast:</p>"
        + _table(deciles, fmt={"customers": lambda v: f"{v:,.0f}", "forecast spend ($)": _money,
                               "actual spend ($)": _money,
                               "share of all actual spend": lambda v: f"{v:.1%}"}),
        "<h3>In purchases</h3>",
        f"<p>Customers made {counts.actual_total:,.0f} repeat purchases against "
        f"{counts.expected_total:,.0f} expected ({counts.aggregate_error:+.1%}); per customer "
        f"the forecast is off by {counts.mae:.2f} purchases on average. Each customer's "
        f"{pct} range of purchases held the actual number for "
        f"{counts.coverage_conventional:.1%} of customers; for whole numbers that share runs "
        f"above {pct} even when the forecast is right, so the fair measure is the randomized "
        f"PIT coverage, {counts.coverage:.1%} (right forecasts give {pct}).</p>",
        "<div class='grid'>" + "".join(figs) + "</div>",
    ]
    summary = (f"Validation: refitted on the data up to {html.escape(str(cal_end))}, the model "
               f"forecast {_sig(m.expected_spend_total)} of spend over the next {length:g} "
               f"{unit}s; customers spent {_sig(m.actual_spend_total)} (forecast "
               f"{abs(m.spend_error):.0%} {'above' if m.spend_error > 0 else 'below'}; the "
               f"actual is {'inside' if inside else 'outside'} the forecast's {pct} "
               f"predictive range {_sig(lo)} to {_sig(hi)}). The 10% it ranked highest made "
               f"{m.top_decile_share:.0%} of the spend.")
    return Validation("\n".join(parts), summary)
