"""The subscription report (contractual churn models): :func:`build_contractual_report`."""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import plots
from ..errors import DataError
from ..evaluation.retention import lifetime_summary, retention_table
from ..models.churn.base import ChurnModel
from ..timeunits import convert_duration
from ..value.contractual import contractual_lifetime_value, horizon_periods
from .contractual_totals import contractual_cash_flows, contractual_totals
from .page import (
    _figure,
    _generated,
    _headline_money,
    _kpis,
    _ltv_cac_flag,
    _money,
    _money_range,
    _parameter_table,
    _provenance,
    _ratio,
    _sig_money,
    _table,
    _version,
    _write_report,
)

__all__ = ["build_contractual_report"]


def build_contractual_report(
    model: ChurnModel,
    accounts: pd.DataFrame,
    out: str | os.PathLike,
    *,
    revenue_col: str,
    segment_col: str | None = None,
    cohort_col: str | None = None,
    acquisition_cost_col: str | None = None,
    discount_rate: float = 0.10,
    margin: float = 1.0,
    level: float = 0.90,
    title: str = "Subscription lifetime value forecast",
    random_state: int = 0,
    n_samples: int = 200,
    source: dict | None = None,
) -> Path:
    """Write the subscription (contractual) report to ``out`` (atomically) and return
    its path; every account's numbers go to ``<out>.clv.csv`` beside it.

    Sections: the accounts; survival and retention, actual (life table) against
    projected by the model, overall and per segment; how long accounts stay; what each
    account is worth (:func:`~clvmodels.contractual_lifetime_value`, both intervals);
    value by segment, acquisition cohort and tenure; LTV:CAC of a newly acquired account
    by segment (flagged below 3 : 1); the rule of thumb ``margin × revenue ÷ churn``.

    Parameters
    ----------
    model : ChurnModel
        Fitted churn model (the covariate model too), with a known period length.
    accounts : DataFrame
        One row per account (index = account id): ``tenure``, ``churned``, the
        model's covariates and the columns named below (optional ``weight``).
    revenue_col : str
        Revenue per period at the next renewal.
    segment_col, cohort_col : str, optional
        Segment and acquisition cohort of each account (a cohort column of dates is
        grouped by quarter, or by year over spans above three years).
    acquisition_cost_col : str, optional
        Cost of acquiring each account, for LTV:CAC.
    discount_rate : float
        Effective annual discount rate.
    margin : float
        Share of revenue that is profit (1: values are revenue). The defaults of the
        money settings are those of ``clvmodels report`` and ``clvmodels score``.
    source : dict, optional
        Where the data came from (e.g. ``{"data file": "accounts.csv"}``), listed first
        under provenance.

    Examples
    --------
    >>> import tempfile
    >>> from clvmodels.models.churn.sbg import ShiftedBetaGeoModel, accounts_from_survival
    >>> cohort = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241],
    ...                                 time_unit="year").assign(revenue=100.0)
    >>> model = ShiftedBetaGeoModel().fit(cohort)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     page = build_contractual_report(model, cohort, Path(tmp) / "churn.html",
    ...                                     revenue_col="revenue", n_samples=50)
    ...     "How long accounts stay" in page.read_text()
    True
    """
    owner = "build_contractual_report"
    if not isinstance(model, ChurnModel):
        raise TypeError(f"The 'model' parameter of {owner} must be a fitted churn model. "
                        f"Got {type(model).__name__} instead.")
    for name, col in (("segment_col", segment_col), ("cohort_col", cohort_col)):
        if col is not None and col not in accounts.columns:
            raise DataError(f"{owner}: the {name} column {col!r} is not in the accounts; they "
                            f"have {list(accounts.columns)[:20]}.")
    arr = model.account_columns(accounts, owner)
    weight, tenure, active = arr["weight"], arr["tenure"], arr["churned"] == 0
    if not active.any():
        raise DataError(f"{owner}: every account has cancelled, so there is no future value to "
                        "report; pass the accounts that are still active too.")
    options = dict(revenue_col=revenue_col, discount_rate=discount_rate, margin=margin,
                   level=level, n_samples=n_samples, random_state=random_state)
    clv = contractual_lifetime_value(model, accounts, acquisition_cost_col=acquisition_cost_col,
                                     **options)
    unit = model.time_unit_
    tau = int(tenure.max())
    horizon = tau + max(5, tau // 2)
    lam = model.period_log_discount(discount_rate, 0.0, owner)
    derl_new = model.discounted_expected_residual_lifetime(
        _as_new(accounts), discount_rate=discount_rate).to_numpy()
    revenue = accounts[revenue_col].to_numpy(dtype=np.float64)
    frame = pd.DataFrame({
        "weight": weight, "active": weight * active, "revenue": weight * revenue,
        "derl": weight * active * clv["discounted_expected_residual_lifetime"].to_numpy(),
        "value": weight * clv["expected_clv"].to_numpy(),
        # a newly acquired account: first period's margin plus its renewals, discounted
        "new_value": weight * margin * revenue * (1.0 + np.exp(-lam) * derl_new),
    }, index=accounts.index)
    if acquisition_cost_col is not None:
        frame["cost"] = weight * clv["acquisition_cost"].to_numpy()
    money_note = ((f"dollars of profit (revenue × {margin:.0%} margin)" if margin != 1.0 else
                   "dollars of revenue (no margin applied; give your gross margin, e.g. "
                   "--margin 0.6, for profit)")
                  + f" from future renewals, discounted at {discount_rate:.0%} a year")
    window = _window_note(arr, unit)
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='note'>Values are {money_note}: an account is valued just before its "
             f"next renewal, which it pays undiscounted if it renews. Time is counted in "
             f"{unit}s (one {unit} = one renewal period). {window}</p>"]

    # the headline: value over finite horizons beside the whole remaining life, each
    # total with its credible and predictive range
    by_horizon, periods = {}, {}
    for years in (1, 3, 5):
        label = f"next {years} year{'s' if years > 1 else ''}"
        by_horizon[label] = contractual_lifetime_value(model, accounts, horizon=(years, "year"),
                                                       **options)
        periods[label] = horizon_periods(model, (years, "year"), owner)
    by_horizon["whole remaining life"], periods["whole remaining life"] = clv, None
    ranges = contractual_totals(model, accounts, revenue_col=revenue_col, horizons=periods,
                                discount_rate=discount_rate, margin=margin, level=level,
                                n_samples=n_samples, random_state=random_state)
    pct = f"{level:.0%}"
    n, n_active = weight.sum(), weight @ active
    expected = [float(weight @ v["expected_clv"].to_numpy()) for v in by_horizon.values()]
    totals = pd.DataFrame({
        "expected value ($)": expected,
        f"{pct} credible range ($)": [_money_range(r.expected_total_lower, r.expected_total_upper)
                                      for r in ranges.itertuples()],
        f"{pct} predictive range ($)": [_money_range(r.predictive_total_lower,
                                                     r.predictive_total_upper)
                                        for r in ranges.itertuples()],
        "per active account ($)": [v / float(n_active) for v in expected],
    }, index=pd.Index(list(by_horizon), name="horizon"))
    beyond = 1.0 - expected[2] / expected[3] if expected[3] > 0 else 0.0
    parts.append("<h2>Summary</h2>" + _kpis([
        ("Active accounts", f"{n_active:,.0f}"),
        ("Value, next 12 months", _headline_money(expected[0])),
        ("Value, next 5 years", _headline_money(expected[2])),
        ("Value, whole remaining life", _headline_money(expected[3]))])
        + f"<p>{beyond:.0%} of the whole-life value lies more than five years ahead, where the "
        "projection rests on the fewest observed accounts. The credible range is what the "
        "expected total could be given what the data leave uncertain about the model; the "
        "predictive range is what the accounts may actually bring, each account's own renewals "
        "and cancellation included. Over thousands of accounts these ups and downs largely "
        "cancel out, so the two ranges can nearly coincide: what is left is uncertainty about "
        f"the model itself (the bounds also carry the noise of {n_samples} simulated futures)."
        "</p>"
        + _table(totals, fmt={"expected value ($)": _money, "per active account ($)": _money}))

    # expected value per block of periods, with credible ranges (and a CSV)
    five = horizon_periods(model, (5, "year"), owner)
    step = max(1, int(np.floor(convert_duration(3, "month", unit) + 1e-9))) if five > 24 else 1
    flows = contractual_cash_flows(model, accounts, revenue_col=revenue_col, periods=five,
                                   step=step, discount_rate=discount_rate, margin=margin,
                                   level=level, random_state=random_state)
    parts.append(_cash_flow_section(flows, unit, step, pct, discount_rate,
                                    Path(out).with_suffix(".cashflows.csv").name))

    parts.append("<h2>The accounts</h2>" + _kpis([
        ("Accounts", f"{n:,.0f}"), ("Still active", f"{n_active:,.0f}"),
        ("Cancelled", f"{n - n_active:,.0f} ({1 - n_active / n:.0%})"),
        ("Longest tenure seen", f"{tau} {unit}s"),
        (f"Average revenue per {unit}", _money(float(weight @ revenue / n)))]))

    # the model and how well it fits
    codes, keys = _codes(accounts, segment_col)
    curves, lifetimes = _new_account_curves(model, accounts, weight, codes, len(keys), horizon)
    overall = _new_account_curves(model, accounts, weight, np.zeros_like(codes), 1, horizon)
    actual = np.r_[1.0, retention_table(accounts)["survival"].to_numpy()]
    projected = overall[0][0]
    gap = float(np.nanmax(np.abs(actual - projected[:actual.size])))
    summary = model.summary(level=0.95)
    notes = [v if k is None else f"{k}: {v}" for k, v in model.boundary_statements().items()]
    if segment_col is None:
        fit_words = (f" Over the {tau} {unit}s seen, the model's survival curve stays within "
                     f"{100 * gap:.1f} percentage points of the life table (largest gap); "
                     f"beyond {tau} {unit}s it is a projection.")
    else:  # pooled curves of different segments mix different account bases: per segment
        observed_curves = [_segment_survival(accounts, codes == g) for g in range(len(keys))]
        gaps = [float(np.nanmax(np.abs(obs - curves[g][:obs.size])))
                for g, obs in enumerate(observed_curves)]
        fit_words = (" Largest gap between the model's survival curve and the life table "
                     "within the observed time, by segment: " + ", ".join(
                         f"{k} {100 * v:.1f} percentage points" for k, v in zip(keys, gaps))
                     + f" (charts below); beyond {tau} {unit}s the curves are projections.")
    parts.append(
        "<h2>How well the model fits</h2><p>" + _model_words(model) + fit_words + "</p>"
        + "".join(f"<p>{html.escape(t)}</p>" for t in notes)
        + "<p class='note'>Parameters with 95% intervals, fitted by "
        f"{model.fit_method_.upper()}"
        + (" (a multiplier above 1 on beta, or below 1 on alpha, means less churn)"
           if model._covariate_names() and not notes else "") + ".</p>"
        + _parameter_table(model, summary))
    r_actual, r_proj = actual[1:] / actual[:-1], projected[1:] / projected[:-1]

    def retention_plot(ax):
        plots.plot_survival(r_actual, r_proj, periods=np.arange(1, horizon + 1),
                            calibration_periods=tau, label="accounts renewing (retention rate)",
                            time_unit=unit, ax=ax)
        ax.set_ylim(max(0.0, float(np.nanmin(np.r_[r_actual, r_proj])) - 0.05), 1.0)

    if segment_col is None:
        parts.append("<div class='grid'>" + _figure(lambda ax: plots.plot_survival(
            actual, projected, calibration_periods=tau, label="accounts still active",
            time_unit=unit, ax=ax))
            + _figure(retention_plot) + "</div>")
        parts.append(f"<p>The model expects {r_proj[0]:.1%} of new accounts to renew after "
                     f"their first {unit} and {r_proj[tau - 1]:.1%} of those still active "
                     f"after {tau} {unit}s.</p>")

    # model checks by segment and tenure band, in words
    parts.append(_checks_section(model, accounts, segment_col, level, unit))

    # how long accounts stay: restricted means and medians, never an infinite headline
    observed = _observed_lifespans(accounts, segment_col, keys)
    taus = observed["observed_periods"].fillna(0).to_numpy(dtype=int)
    within = np.arange(horizon + 1)[None, :] < taus[:, None]
    five = int(round(convert_duration(5, "year", unit)))
    curves5, _ = _new_account_curves(model, accounts, weight, codes, len(keys), five)
    life = pd.DataFrame({
        "accounts": np.bincount(codes, weights=weight, minlength=len(keys)),
        f"observed for ({unit}s)": taus,
        f"average {unit}s active in that time, actual": observed[
            "restricted_mean_lifetime"].to_numpy(),
        "average, model": np.where(within, curves, 0.0).sum(axis=1),
        f"median lifespan ({unit}s), actual": observed["median_lifetime"].to_numpy(),
        "median, model": _medians(curves),
        f"{unit}s active in a new account's first 5 years, model": curves5[:, :five].sum(axis=1),
    }, index=pd.Index(keys if segment_col else ["all accounts"], name=segment_col or ""))
    infinite = [str(k) for k, v in zip(life.index, lifetimes) if np.isinf(v)]
    parts.append(
        "<h2>How long accounts stay</h2><p class='note'>Averages within the observed time "
        "compare like with like (the life table, like the model, counts each account only for "
        "the renewals it was observed to make); a median 'not reached' means more than half "
        f"were still active (for the model: within {horizon} {unit}s). The last column is the "
        f"average number of {unit}s a newly acquired account pays for within 5 years.</p>"
        + _table(life, fmt={c: _count for c in life.columns[:2]}
                 | {c: _periods for c in life.columns[2:]})
        + (f"<p class='note'>For {', '.join(infinite)} the model's unrestricted average "
           "lifespan has no finite value (a share of accounts practically never cancels); "
           "the restricted averages and the discounted values stay finite.</p>"
           if infinite else ""))
    if segment_col is not None:
        shown = range(min(6, len(keys)))
        parts.append(("<p class='note'>The cohort model projects the same curve for every "
                      "segment; where a segment's actual curve departs from it, fit the "
                      "segments separately or with covariates.</p>"
                      if not model._covariate_names() else "") + "<div class='grid'>" + "".join(
            _figure(lambda ax, g=g: plots.plot_survival(
                observed_curves[g], curves[g], calibration_periods=int(
                    taus[g]), label=f"still active, {keys[g]}", time_unit=unit, ax=ax))
            for g in shown) + "</div>")

    # what each account is worth
    live = clv[active]
    parts.append(
        "<h2>What each account is worth</h2>" + _kpis([
            ("Expected value of active accounts", _money(float(frame["value"].sum()))),
            ("Average per active account", _money(float(frame["value"].sum() / n_active))),
            (f"Average DERL ({unit}s of revenue)", f"{frame['derl'].sum() / n_active:.1f}")])
        + f"<p class='note'>{money_note[0].upper() + money_note[1:]}, over each account's whole "
        f"remaining life. DERL (discounted expected residual lifetime) counts the {unit}s of "
        "revenue still to come, discounted. The narrow range is what an account is worth on "
        "average given what we know; the wide range is what it may actually bring, since one "
        "account's future is uncertain.</p>"
        "<div class='grid'>" + _figure(lambda ax: plots.plot_clv_distribution(live, ax=ax))
        + _figure(lambda ax: plots.plot_top_customers(live, n=15, ax=ax), figsize=(7, 6))
        + "</div>")
    top = accounts[["tenure", revenue_col]].join(live, how="inner").nlargest(10, "expected_clv")
    cols = {"tenure": f"tenure ({unit}s)", revenue_col: f"revenue per {unit} ($)",
            "probability_renewal": "chance of renewing next",
            "discounted_expected_residual_lifetime": f"DERL ({unit}s)",
            "expected_clv": "expected value ($)", "clv_predictive_lower": "could be as low as ($)",
            "clv_predictive_upper": "could be as high as ($)"}
    parts.append(_table(top[list(cols)].rename(columns=cols).rename_axis("account"), fmt={
        cols["probability_renewal"]: lambda v: f"{v:.2%}",
        cols["discounted_expected_residual_lifetime"]: _periods} | _money_fmt(cols.values())))
    parts.append(f"<p class='note'>Every account's numbers are in "
                 f"<code>{Path(out).with_suffix('.clv.csv').name}</code> next to this file.</p>")

    # value by segment, cohort and tenure; LTV:CAC
    if segment_col is not None:
        table = _value_table(frame, accounts[segment_col], unit)
        parts.append("<h2>By segment</h2>" + _table(table, fmt=_value_fmt(table)))
    if cohort_col is not None:
        cohort = _cohort_labels(accounts[cohort_col])
        table = _value_table(frame, cohort, unit)
        seen = _observed_lifespans(accounts.assign(_cohort=cohort), "_cohort", table.index)
        notes = [f"{html.escape(str(k))}: " + ("no renewal yet" if np.isnan(v) else f"{v:.1f}")
                 for k, v in seen["restricted_mean_lifetime"].items()]
        parts.append("<h2>By acquisition cohort</h2>" + _table(table, fmt=_value_fmt(table))
                     + f"<p class='note'>Average {unit}s active within each cohort's observed "
                     f"time: {', '.join(notes)}.</p>")
    if acquisition_cost_col is not None:
        by = accounts[segment_col] if segment_col else pd.Series("all accounts", accounts.index)
        sums = frame[["weight", "new_value", "cost"]].groupby(by.to_numpy()).sum()
        ltv = pd.DataFrame({
            "LTV of a new account ($)": sums["new_value"] / sums["weight"],
            "cost to acquire ($)": sums["cost"] / sums["weight"]}).rename_axis(segment_col or "")
        with np.errstate(divide="ignore", invalid="ignore"):
            ltv["LTV:CAC"] = ltv.iloc[:, 0] / ltv.iloc[:, 1]
        parts.append(f"<h2>Value against acquisition cost</h2><p class='note'>LTV here is what a "
                     f"newly acquired account is expected to bring: its first {unit}'s profit "
                     f"plus its expected renewals, discounted at {discount_rate:.0%} a year; "
                     "averages over the accounts of each segment.</p>"
                     + _table(ltv, fmt=_money_fmt(ltv.columns) | {"LTV:CAC": _ratio})
                     + _ltv_cac_flag(ltv["LTV:CAC"]))
    band = 12 * int(np.ceil(tau / 72)) if unit == "month" and tau >= 24 else max(
        1, int(np.ceil((tau + 1) / 6)))
    names = [f"{a}-{a + band - 1}" for a in range(0, tau + 1, band)]
    tenure_band = pd.Series(pd.Categorical.from_codes(
        (tenure[active] // band).astype(int), names), index=accounts.index[active],
        name=f"tenure ({unit}s)")
    parts.append(f"<h2>By tenure</h2><p>What active accounts are worth by how long they have "
                 f"stayed, per {unit} of revenue.</p>"
                 + _table(table := _value_table(frame[active], tenure_band, unit),
                          fmt=_value_fmt(table)))

    # the rule of thumb
    life_table = retention_table(accounts)
    churn = float(life_table["churned"].sum() / life_table["at_risk"].sum())
    d = float(np.expm1(lam))
    simple = margin * float(weight @ revenue / n) * (1 + d) / (d + churn)
    model_new = float(frame["new_value"].sum() / n)
    parts.append(
        "<h2>Compared with the usual rule of thumb</h2>"
        f"<p>Margin × revenue ÷ churn rate (with discounting: × (1 + d) ÷ (d + churn)) = "
        f"{margin:.0%} × {_money(float(weight @ revenue / n))} × (1 + {d:.2%}) ÷ ({d:.2%} + "
        f"{churn:.2%}) = <b>{_money(simple)}</b> for a new account, against the model's <b>"
        f"{_money(model_new)}</b> (both per account, discounted at {discount_rate:.0%} a year, "
        f"no cut-off). The rule of thumb assumes every account has the same {churn:.2%} chance "
        f"of cancelling each {unit}, the average over the renewal decisions observed; the "
        "model lets the chance differ between accounts and segments and change with tenure.</p>")
    prov = dict(source or {})
    prov.update({
        "accounts": f"{n:,.0f} ({n_active:,.0f} active)",
        "churn model": f"{type(model).__name__}, fitted by {model.fit_method_.upper()}",
        "time unit": f"{unit} (one renewal period)",
        "settings": (f"discount rate {discount_rate:.0%} a year; margin {margin:.0%}; "
                     f"{level:.0%} ranges; {n_samples} simulated futures; seed {random_state}"),
        "clvmodels version": _version(), "generated": _generated()})
    parts.append(_provenance(prov))
    return _write_report(out, title, parts, accounts.join(clv, suffixes=("", "_score")),
                         extras={".cashflows.csv": flows.set_index("label")})


def _cash_flow_section(flows: pd.DataFrame, unit: str, step: int, pct: str, discount_rate,
                       csv_name: str) -> str:
    """The expected value of the active accounts' renewals per block of periods."""
    block = "quarter" if step > 1 else unit  # step: the periods in 3 months
    total = pd.DataFrame({"expected": [flows.attrs["total"][0]],
                          "lower": [flows.attrs["total"][1]], "upper": [flows.attrs["total"][2]],
                          "present_value": [flows.attrs["present_total"][0]],
                          "present_value_lower": [flows.attrs["present_total"][1]],
                          "present_value_upper": [flows.attrs["present_total"][2]]},
                         index=["total, 5 years"])
    shown = pd.concat([flows.set_index("label"), total])
    table = pd.DataFrame({
        "expected ($)": shown["expected"],
        f"{pct} credible range ($)": [_money_range(a, b) for a, b in zip(shown["lower"],
                                                                         shown["upper"])],
        "present value ($)": shown["present_value"],
        "present value range ($)": [_money_range(a, b) for a, b in zip(
            shown["present_value_lower"], shown["present_value_upper"])]},
        index=shown.index).rename_axis(f"{unit}s from now")
    chart = flows.copy()
    chart.attrs.update(title=f"Expected value per {block}, next 5 years",
                       value_label="Expected value in the period ($, not discounted)",
                       range_label=f"{pct} credible range")
    return (f"<h2>Expected value by {block}</h2><p>What the active accounts are expected to "
            f"bring in each {block}{f' ({step} {unit}s)' if step > 1 else ''} of the next 5 "
            "years, counted from each account's "
            f"next renewal: as money in that block (not discounted) and as present value "
            f"(discounted at {discount_rate:.0%} a year; the blocks add up to the 5-year value "
            "above). The ranges are credible ranges of the expected amount. Accounts acquired "
            "later are not included.</p><div class='grid'>"
            + _figure(lambda ax: plots.plot_cash_flows(chart, ax=ax), figsize=(8, 4.2))
            + "</div>" + _table(table, fmt={"expected ($)": _sig_money,
                                            "present value ($)": _sig_money})
            + f"<p class='note'>The table is in <code>{html.escape(csv_name)}</code> next to "
            "this file.</p>")


def _window_note(arr: dict, unit: str) -> str:
    """How the accounts were observed, in words."""
    entry = arr["entry"]
    if not (entry > 0).any():
        return "Accounts are taken as observed from acquisition."
    one = np.all((arr["tenure"] - entry <= 1) | (entry == 0) & (arr["tenure"] <= 1))
    if one:
        return (f"The data are a snapshot: each account was observed for one renewal decision, "
                f"at its own tenure; accounts that cancelled earlier are not in the data, so the "
                f"model and the life tables condition on each account having survived to the "
                f"start of its observed {unit}.")
    return (f"Accounts were observed only from some {unit} on (left truncation); the model and "
            "the life tables condition on each account having survived until then.")


def _model_words(model) -> str:
    """What the fitted churn model assumes, in a sentence or two."""
    from ..models.churn.segmented import SegmentedChurnModel

    if isinstance(model, SegmentedChurnModel):
        kinds = ", ".join(f"{k}: {_model_name(m)}" for k, m in model.models_.items())
        return f"Each segment has its own churn model ({html.escape(kinds)})."
    return f"The {_model_name(model)}."


def _model_name(model) -> str:
    names = {"ShiftedBetaGeoModel": "shifted-beta-geometric model (each account its own chance "
                                    "of cancelling, different between accounts)",
             "ShiftedBetaGeoCovariateModel": "shifted-beta-geometric model with covariates",
             "GeometricChurnModel": "geometric model (the same chance of cancelling for every "
                                    "account)",
             "BetaDiscreteWeibullModel": "beta-discrete-Weibull model (chances that differ "
                                         "between accounts and change with tenure)",
             "BetaDiscreteWeibullCovariateModel": "beta-discrete-Weibull model with covariates"}
    return names.get(type(model).__name__, type(model).__name__)


def _checks_section(model, accounts, segment_col, level, unit) -> str:
    """Observed against modelled churn by tenure band (per segment), with the flags in
    words (:mod:`clvmodels.evaluation.churn_checks`)."""
    from ..evaluation.churn_checks import (
        churn_by_tenure_band,
        describe_flags,
        survival_check,
    )

    bands = churn_by_tenure_band(model, accounts, by=segment_col, level=level)
    survival = survival_check(model, accounts, by=segment_col, level=level)
    sentences = describe_flags(bands, survival)
    shown = pd.DataFrame({
        "decisions": bands["decisions"],
        f"churned per {unit}, actual": bands["observed_churn_rate"],
        f"{level:.0%} interval": [f"{lo:.1%}-{hi:.1%}" for lo, hi in zip(
            bands["observed_churn_rate_lower"], bands["observed_churn_rate_upper"])],
        "model": bands["model_churn_rate"],
        "matches": np.where(bands["flag"], "NO", "yes"),
    })
    shown.index = pd.Index([" · ".join(map(str, i)) if isinstance(i, tuple) else str(i)
                            for i in shown.index], name=f"segment · {unit}s of tenure")
    flagged = bool(bands["flag"].any() or survival["flag"].any())
    words = "".join(f"<p class='{'flag' if flagged else 'note'}'>{html.escape(t)}</p>"
                    for t in sentences)
    return (f"<h2>Model checks by segment and tenure</h2><p class='note'>Each row counts the "
            f"renewal decisions observed in a band of tenure and the share that ended in a "
            f"cancellation, with its {level:.0%} interval, against the model's expected share "
            f"for the same accounts and decisions. A row does not match when the model lies "
            f"outside the interval; a survival curve does not match where it is more than "
            f"{100 * survival.attrs.get('tolerance', 0.05):.0f} percentage points from the life "
            f"table and outside its {level:.0%} band.</p>" + words
            + _table(shown, fmt={"decisions": _count, f"churned per {unit}, actual": _pct,
                                 "model": _pct}))


def _pct(v: float) -> str:
    return f"{v:.1%}"


def _money_fmt(columns) -> dict:
    return {c: _money for c in columns if "($" in c}


def _value_fmt(table: pd.DataFrame) -> dict:
    return {"accounts": _count, "still active": _count, table.columns[3]: _periods,
            **_money_fmt(table.columns)}


def _count(v: float) -> str:
    return f"{v:,.0f}"


def _value_table(frame: pd.DataFrame, labels: pd.Series, unit: str) -> pd.DataFrame:
    """Accounts, active, revenue, DERL and expected value per group (weighted sums)."""
    sums = frame[["weight", "active", "revenue", "derl", "value"]].groupby(
        labels, sort=True, observed=True).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "accounts": sums["weight"], "still active": sums["active"],
            f"revenue per {unit} ($, average)": sums["revenue"] / sums["weight"],
            f"DERL ({unit}s of revenue, active average)": sums["derl"] / sums["active"],
            "expected value ($, total)": sums["value"],
            "per active account ($)": sums["value"] / sums["active"]})
    return out.rename_axis(labels.name)


def _codes(accounts: pd.DataFrame, col: str | None):
    """Group code per account and the sorted group labels (one group without ``col``)."""
    if col is None:
        return np.zeros(len(accounts), dtype=np.intp), [None]
    codes, keys = pd.factorize(accounts[col], sort=True)
    if (codes < 0).any():
        raise DataError(f"build_contractual_report: column {col!r} has missing values in "
                        f"{int((codes < 0).sum())} row(s); fill them or drop those accounts.")
    return codes, list(keys)


def _new_account_curves(model, accounts, weight, codes, n_groups, horizon):
    """Per group: the model survival ``S(t)``, ``t = 0..horizon``, of a new account,
    averaged over the group's accounts (their covariates), and the expected lifespan."""
    p, _, _, comp = model.account_parameters(_as_new(accounts))
    p = {k: v[0] for k, v in p.items()}
    w = np.bincount(codes * comp.n_unique + comp.inverse, weights=weight,
                    minlength=n_groups * comp.n_unique).reshape(n_groups, comp.n_unique)
    total = w.sum(axis=1)
    surv = np.exp(model._log_survival({k: v[:, None] for k, v in p.items()},
                                      np.arange(horizon + 1.0)))
    curves = w @ surv / total[:, None]
    life = np.asarray(model._expected_lifetime(p), dtype=np.float64)
    finite = np.isfinite(life)
    mean = w @ np.where(finite, life, 0.0) / total
    return curves, np.where((w > 0) @ ~finite, np.inf, mean)


def _as_new(accounts: pd.DataFrame) -> pd.DataFrame:
    """The accounts as if just acquired (tenure 0, active, observed from acquisition)."""
    return accounts.assign(tenure=0, churned=False, entry=0)


def _observed_lifespans(accounts: pd.DataFrame, by: str | None, keys) -> pd.DataFrame:
    """Observed lifespans per group (:func:`~clvmodels.evaluation.retention.lifetime_summary`),
    NaN for a group whose accounts have made no renewal decision yet (tenure 0 only:
    nothing observed, and lifetime_summary has no life table for them)."""
    seen = lifetime_summary(accounts[accounts["tenure"].to_numpy() >= 1], by=by)
    return seen.reindex(list(keys) if by is not None else ["all"])


def _segment_survival(accounts: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    return np.r_[1.0, retention_table(accounts[rows])["survival"].to_numpy()]


def _medians(curves: np.ndarray) -> np.ndarray:
    below = curves <= 0.5
    return np.where(below.any(axis=1), below.argmax(axis=1), np.nan)


def _periods(v: float) -> str:
    return ("not reached" if np.isnan(v) else "infinite" if np.isinf(v)
            else f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}")


def _cohort_labels(values: pd.Series) -> pd.Series:
    """Cohort labels: dates (or ISO date text, as read from a CSV) by quarter, by year
    over spans above three years; anything else as it is."""
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        dates = pd.to_datetime(values, errors="coerce", format="ISO8601")
        if dates.notna().all():
            values = dates
    if pd.api.types.is_datetime64_any_dtype(values):
        span = values.max() - values.min()
        return values.dt.to_period("Y" if span > pd.Timedelta(days=3 * 366) else "Q").astype(str)
    return values
