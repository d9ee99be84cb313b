"""The appendix of the purchase report: the data overview, each model's parameters in
words (with a covariate model's coefficients), the purchase models compared and the
frequency fit chart."""

from __future__ import annotations

import html

import pandas as pd

from .. import plots
from ..value.rows import has_covariates
from .covariates import coefficient_words, reference_words
from .page import _figure, _kpis, _parameter_table, _table

__all__ = ["appendix"]


def appendix(transaction_model, spend_model, summary, transactions, comparison, label, level,
             discrete, unit) -> str:
    """The data overview, the parameter tables, the model comparison and the fit chart."""
    n = len(summary)
    repeat_share = float((summary["frequency"] > 0).mean())
    kpis = [("Customers", f"{n:,}"), ("Customers who came back", f"{repeat_share:.0%}")]
    if transactions is not None:
        kpis += [("Transactions", f"{len(transactions):,}"),
                 ("Period", f"{transactions['date'].min():%Y-%m-%d} to "
                            f"{transactions['date'].max():%Y-%m-%d}")]
    parts = ["<h2>Appendix: the data and the models</h2><h3>The data</h3>" + _kpis(kpis),
             "<h3>How well the model fits</h3>"]
    spend_label = "Gamma-Gamma with covariates" if has_covariates(spend_model) else "Gamma-Gamma"
    for name, model, what in ((f"Purchases ({label})", transaction_model, "purchase and drop-out"),
                              (f"Spend ({spend_label})", spend_model, "spend per purchase")):
        s = model.summary(level=level)
        parts.append(f"<h3>{name}</h3><p class='note'>Parameters of the {what} model, with "
                     f"{level:.0%} intervals; fitted by {model.fit_method_.upper()}."
                     + (f" {reference_words(model)}" if has_covariates(model) else "") + "</p>"
                     + _parameter_table(model, s, more_words=(
                         coefficient_words(model, level)["in words"].to_dict()
                         if has_covariates(model) else None)))
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
    if discrete:
        parts.append(f"<p class='note'>{label} counts the {unit}s in which a customer bought; "
                     "the model checks drawn here for purchase models in continuous time (the "
                     "frequency fit, the holdout forecast) are not drawn for it yet.</p>")
    else:
        parts.append("<div class='grid'>" + _figure(
            lambda ax: plots.plot_frequency_fit(transaction_model, summary, ax=ax)) + "</div>")
    return "\n".join(parts)


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
