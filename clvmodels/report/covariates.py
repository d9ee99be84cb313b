"""The covariate part of the purchase report (models fitted with covariates,
:mod:`clvmodels.models.covariates`): the value of the current customers by covariate
level, what each coefficient does in words, and the value of a new customer per level
of each categorical covariate (LTV:CAC per acquisition channel).

* *Value by level.* For a categorical covariate, :func:`~clvmodels.value.portfolio.
  portfolio_value` by that column; for a numeric one, by its quartile over the current
  customers. Each customer is valued with her own parameters, so the levels' totals add
  up to the total of all customers (their ranges do not).
* *Coefficients in words.* A side with one linked parameter (the purchase rate of
  BG/NBD, MBG/NBD and Pareto/NBD, Pareto/NBD's drop-out rate, Gamma-Gamma's spend) has
  its coefficient's multiplier ``exp(c)`` on the side's own quantity: "buys 1.29x as
  often". A side described by a beta distribution (BG/NBD's drop-out; BG/BB's two
  sides) has one coefficient per shape parameter: the first shape raises the side's
  probability, the second lowers it (module docstring of the covariates), so the words
  say which shape moves and in which direction; the combined effect is the value by
  level.
* *New customers.* A new customer's value depends on her covariates; per level of a
  categorical covariate, the other categorical covariates are held at their most
  common level among the current customers and the numeric ones at their mean (the
  same "typical" customer the executive summary values).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .. import plots
from ..errors import DataError
from ..models.covariates import SIDES
from ..value.new_customer import new_customer_value
from ..value.portfolio import portfolio_value
from ..value.rows import has_covariates
from .page import (
    _figure,
    _money,
    _money_range,
    _ratio,
    _sig_money,
    _table,
    group_totals_table,
)

__all__ = ["covariate_kinds", "typical_customer", "value_by_level", "new_customers_by_level",
           "coefficient_words", "covariate_section", "by_level_export", "with_covariates",
           "typical_words", "level_words", "reference_words"]

#: the column the levels go in for portfolio_value(by=...)
_LEVEL = "__covariate_level__"
_NOUN = {"purchase": "purchasing", "dropout": "drop-out", "spend": "spend per purchase"}


def covariate_kinds(*models) -> dict[str, str]:
    """Every covariate column of the models with covariates, in first-use order:
    ``"categorical"`` or ``"numeric"`` (as each model's encoding treats it)."""
    out: dict[str, str] = {}
    for m in models:
        if not has_covariates(m):
            continue
        enc = m.covariate_encoding_
        for c in enc.columns:
            out.setdefault(c, "categorical" if c in enc.levels else "numeric")
    return out


def _levels(models, column: str) -> list[str]:
    """The levels of a categorical covariate the models were fitted with (reference
    first), as the encodings name them."""
    for m in models:
        if has_covariates(m) and column in m.covariate_encoding_.levels:
            return list(m.covariate_encoding_.levels[column])
    return []


def typical_customer(summary: pd.DataFrame, kinds: dict[str, str]) -> dict:
    """The covariates of a "typical" customer: each categorical covariate at its most
    common level among the customers of ``summary`` (ties: the first in sort order),
    each numeric one at its mean."""
    out = {}
    for c, kind in kinds.items():
        if kind == "numeric":
            out[c] = float(pd.to_numeric(summary[c]).mean())
        else:
            counts = summary[c].astype(str).value_counts()
            out[c] = sorted(counts.index, key=lambda lv: (-counts[lv], lv))[0]
    return out


def _quartiles(values: pd.Series) -> pd.Series:
    """Each customer's quartile of a numeric covariate, labelled with its range
    (fewer groups when ties leave fewer distinct quartile edges)."""
    edges = np.unique(np.quantile(values.to_numpy(dtype=np.float64), [0, .25, .5, .75, 1]))
    if edges.size < 2:
        return pd.Series(f"all at {edges[0]:.3g}", index=values.index)
    codes = np.clip(np.searchsorted(edges, values.to_numpy(dtype=np.float64), side="right") - 1,
                    0, edges.size - 2)
    labels = [f"Q{i + 1}: {edges[i]:.3g} to {edges[i + 1]:.3g}" for i in range(edges.size - 1)]
    return pd.Series(np.asarray(labels, dtype=object)[codes], index=values.index)


def value_by_level(transaction_model, spend_model, summary, kinds, *, horizon, n_samples,
                   random_state, **settings) -> dict[str, pd.DataFrame]:
    """Per covariate column: :func:`~clvmodels.value.portfolio.portfolio_value` by its
    level (categorical) or quartile (numeric), index named after the column."""
    out = {}
    for c, kind in kinds.items():
        groups = summary[c] if kind == "categorical" else _quartiles(summary[c])
        table = portfolio_value(transaction_model, spend_model,
                                summary.assign(**{_LEVEL: groups.to_numpy()}), by=_LEVEL,
                                horizon=horizon, n_samples=n_samples, random_state=random_state,
                                **settings)
        table.index = pd.Index([str(v) for v in table.index],
                               name=c if kind == "categorical" else f"{c} (quartile)")
        out[c] = table
    return out


def new_customers_by_level(transaction_model, spend_model, summary, kinds, *, horizon,
                           random_state, **settings) -> dict[str, pd.DataFrame]:
    """Per categorical covariate: the value of a new customer at each of its levels
    (:func:`~clvmodels.value.new_customer.new_customer_value`), the other covariates
    those of :func:`typical_customer`."""
    models = (transaction_model, spend_model)
    typical = typical_customer(summary, kinds)
    out = {}
    for c, kind in kinds.items():
        if kind != "categorical":
            continue
        rows = {lv: new_customer_value(transaction_model, spend_model,
                                       covariates={**typical, c: lv}, horizon=horizon,
                                       random_state=random_state, **settings)
                for lv in sorted(_levels(models, c))}
        out[c] = pd.DataFrame(rows).T.rename_axis(c)
    return out


def _who(encoding, feature: str) -> str:
    """The customer a coefficient compares, in words."""
    if feature in encoding.scale:
        return (f"a customer one standard deviation ({encoding.scale[feature]:.3g}) higher in "
                f"{feature}")
    column, level = feature[:feature.index("[")], feature[feature.index("[") + 1:-1]
    return f"a customer with {column} = {level} (against {encoding.levels[column][0]})"


def coefficient_words(model, level: float) -> pd.DataFrame:
    """The coefficients of a model with covariates (:meth:`~clvmodels.models.covariates.
    CovariateMixin.coefficients`) in words: one row per coefficient with its side, the
    multiplier ``exp(c)`` and its ``level`` interval, and a sentence (module docstring)."""
    coef = model.coefficients(level)
    links = type(model).covariate_links
    enc = model.covariate_encoding_
    pct = f"{level:.0%}"
    words = []
    for name, row in coef.iterrows():
        param, feature = name.split(":", 1)
        side = next(s for s, ls in links.items() if param in [p for p, _ in ls])
        shapes = [p for p, _ in links[side]]
        m, lo, hi = row["multiplier"], np.exp(row["lower"]), np.exp(row["upper"])
        span = f"({pct}: {lo:.2f} to {hi:.2f})"
        who = _who(enc, feature)
        if len(shapes) == 1:
            verb = {"purchase": f"buys {m:.2f}x as often",
                    "dropout": f"drops out at {m:.2f}x the rate",
                    "spend": f"spends {m:.2f}x as much per purchase"}[side]
            text = f"{who} {verb} {span}"
        else:  # a beta distribution: the first shape raises the side, the second lowers it
            raises = shapes.index(param) == 0
            text = (f"{who} has {m:.2f}x the {param} of the beta distribution of "
                    f"{_NOUN[side]} {span}; a larger {param} alone means "
                    f"{'more' if raises else 'less'} {_NOUN[side]}")
        if lo <= 1.0 <= hi:
            text += "; the range includes 1 (no clear effect)"
        words.append(text + ".")
    return pd.DataFrame({"acts on": [SIDES[s] for s in coef["side"]],
                         "multiplier": coef["multiplier"],
                         f"{pct} range": [f"{np.exp(a):.2f} to {np.exp(b):.2f}"
                                          for a, b in zip(coef["lower"], coef["upper"])],
                         "in words": words}, index=coef.index.rename("coefficient"))


def reference_words(model) -> str:
    """Whom a covariate model's parameters describe, and what its coefficient rows are."""
    enc = model.covariate_encoding_
    who = [f"{c} = {enc.levels[c][0]}" if c in enc.levels else f"{c} at its mean "
           f"({enc.center[c]:.3g})" for c in enc.columns]
    return html.escape(
        f"The parameters (and their words) describe a customer with {', '.join(who)}; the "
        "rows parameter:covariate are coefficients on the log scale (0: no effect), in "
        "words beside them.")


def _costs(acquisition_cost, levels) -> pd.Series | None:
    """The acquisition cost per level: one number for all, or a Series indexed by the
    levels (e.g. the cost per channel); None when it has no cost for these levels."""
    if acquisition_cost is None:
        return None
    if not isinstance(acquisition_cost, pd.Series):
        return pd.Series(float(acquisition_cost), index=levels)
    cost = acquisition_cost.copy()
    cost.index = cost.index.map(str)
    return cost.reindex(levels) if set(levels) <= set(cost.index) else None


def covariate_section(transaction_model, spend_model, *, by_level, new_by_level, typical,
                      kinds, acquisition_cost, level, next_main, long_years, margin) -> str:
    """The report section "Value by covariate level" (module docstring)."""
    pct = f"{level:.0%}"
    models = [m for m in (transaction_model, spend_model) if has_covariates(m)]

    def held(column: str) -> str:
        """The typical customer's other covariates, in words."""
        return html.escape(", ".join(
            f"{c} at its mean ({v:.3g})" if kinds[c] == "numeric"
            else f"{c} = {v}, its most common level"
            for c, v in typical.items() if c != column))

    parts = [
        "<h2>Value by covariate level</h2>"
        f"<p>The models were fitted with covariates ({html.escape(', '.join(kinds))}): each "
        "customer is valued with her own purchase and spend parameters. Expected value over "
        f"the next {next_main} of the customers at each level of a categorical covariate, and "
        f"by quartile of a numeric one, with its {pct} credible range (what the expected value "
        f"could be given what the data leave uncertain about the model, the coefficients "
        f"included) and its {pct} predictive range (what those customers may actually bring). "
        "The levels' expected values add up to the total; their ranges do not.</p>"]
    for c, table in by_level.items():
        shown = group_totals_table(table, pct)
        fmt = {"expected value ($)": _sig_money, "average per customer ($)": _money,
               "customers": lambda v: f"{v:,.0f}"}
        new = new_by_level.get(c)
        if new is not None:
            new = new.reindex(shown.index)
            shown[f"new customer, {long_years:g} years ($)"] = new["expected_value"]
            shown["new customer credible range ($)"] = [_money_range(a, b) for a, b in zip(
                new["expected_value_lower"], new["expected_value_upper"])]
            fmt[f"new customer, {long_years:g} years ($)"] = _money
            cost = _costs(acquisition_cost, list(shown.index))
            if cost is not None:
                shown["cost to acquire ($)"] = cost.to_numpy()
                shown["LTV:CAC"] = new["expected_value"].to_numpy() / cost.to_numpy()
                fmt.update({"cost to acquire ($)": _money, "LTV:CAC": _ratio})
        name = html.escape(str(table.index.name))
        numeric = kinds[c] == "numeric"
        parts.append(f"<h3>By {name}</h3><div>" + _figure(
            lambda ax, t=table, numeric=numeric: plots.plot_segment_values(
                t, level=level, what=f"Expected value over the next {next_main}",
                group=f"{c} quartile" if numeric else c, sort=not numeric, ax=ax),
            figsize=(9, 2.2 + 0.45 * len(table))) + "</div>" + _table(shown, fmt=fmt))
        if new is not None:
            others = held(c)
            parts.append(
                f"<p class='note'>A new customer's value at each {html.escape(c)} is over "
                f"{long_years:g} years from acquisition, first purchase included"
                + (f", with the other covariates held at a typical customer's values "
                   f"({others}; numeric covariates at their mean over the current customers)"
                   if others else "") + ".</p>")
        if new is not None and "LTV:CAC" in shown.columns:
            low = shown.index[shown["LTV:CAC"] < 3].tolist()
            parts.append(
                (f"<p class='flag'>Below 3 : 1 (acquisition may not pay back): "
                 f"{html.escape(', '.join(map(str, low)))}.</p>" if low else
                 f"<p>Every {name} level returns at least 3 dollars of value per dollar of "
                 "acquisition cost.</p>")
                + ("<p class='note'>LTV here is revenue: multiply the ratios by your gross "
                   "margin for the profit ratio.</p>" if margin == 1.0 else ""))
    words = pd.concat([coefficient_words(m, level) for m in models])
    parts.append(
        "<h3>What each covariate does</h3><p class='note'>Each coefficient multiplies one "
        "quantity of the model for customers at a level against the reference level (or per "
        "standard deviation of a numeric covariate), all else equal; a multiplier of 1 is no "
        f"effect. The range is a {pct} interval. Effects on purchasing and drop-out combine in "
        "the value by level above.</p>"
        + _table(words[["acts on", "in words"]], words=("in words",)))
    return "\n".join(parts)


def by_level_export(by_level: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The value-by-level tables as one frame (covariate, level) for the CSV."""
    return pd.concat({c: t.rename_axis("level") for c, t in by_level.items()},
                     names=["covariate", "level"])


def with_covariates(holdout: pd.DataFrame, summary: pd.DataFrame, columns) -> pd.DataFrame:
    """``holdout`` with the covariate ``columns`` it lacks, taken from ``summary`` by
    customer id (a customer's covariates describe her, not the period)."""
    missing = [c for c in columns if c not in holdout.columns]
    if not missing:
        return holdout
    absent = holdout.index.difference(summary.index)
    if len(absent):
        raise DataError(
            f"build_report: the holdout summary has no covariate column(s) {missing} and "
            f"{len(absent):,} of its customers are not in the summary (first ids "
            f"{absent[:5].tolist()}), so their covariates are unknown. Attach them to the "
            "holdout summary (clvmodels.attach_covariates(holdout, table)).")
    return holdout.assign(**{c: summary[c].reindex(holdout.index).to_numpy() for c in missing})


def typical_words(typical: dict, kinds: dict) -> str:
    """The typical customer's covariates in words."""
    return ", ".join(f"{c} at its mean {v:.3g}" if kinds[c] == "numeric" else f"{c} = {v}"
                     for c, v in typical.items())


def level_words(new_by_level: dict, acquisition_cost=None) -> tuple[str, bool]:
    """The summary's clause of a new customer's value per level of each categorical
    covariate, with LTV:CAC per level where ``acquisition_cost`` is a Series indexed by
    that covariate's levels (e.g. the cost per channel); and whether it gave any."""
    parts, ratios = [], False
    for c, t in new_by_level.items():
        levels = [str(v) for v in t.index]
        cost = (_costs(acquisition_cost, levels)
                if isinstance(acquisition_cost, pd.Series) else None)
        if cost is None:
            parts.append(f"; by {html.escape(c)}: " + ", ".join(
                f"{html.escape(str(lv))} {_sig_money(v)}" for lv, v in t["expected_value"].items()))
            continue
        ratios = True
        items = []
        for lv, v, k in zip(levels, t["expected_value"], cost):
            flag = " <span class='flag'>(below 3 : 1)</span>" if v / k < 3 else ""
            items.append(f"{html.escape(lv)} <b>{_ratio(v / k)}</b>{flag} ({_sig_money(v)} "
                         f"against {_money(k)})")
        parts.append(f"; LTV:CAC by {html.escape(c)} (a new customer at each level against its "
                     "cost to acquire): " + ", ".join(items))
    return "".join(parts), ratios
