"""Self-contained HTML forecast reports for a marketing or finance reader: one for
purchase data (:func:`build_report`, BG/NBD + Gamma-Gamma) and one for subscriptions
(:func:`build_contractual_report`, sBG), sharing one page skeleton.

One file: images are embedded PNGs, styles are inline, nothing is fetched from a
network. Every number says its unit and horizon. A small script in the page checks
that every image loaded and records the result in ``<body data-images-ok>`` (the
tests read it through headless Chromium).
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from .clv import customer_lifetime_value
from .contractual import contractual_lifetime_value
from .data.subscriptions import account_arrays
from .errors import DataError
from .evaluation import evaluate_holdout
from .io import atomic_path
from .models import BetaGeoModel, GammaGammaModel, ShiftedBetaGeoModel
from .models.churn import ChurnModel
from .retention import lifetime_summary, retention_table
from .timeunits import convert_duration

__all__ = ["build_report", "build_contractual_report"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1050px;margin:2em auto;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
.note{color:#555;font-size:.92em}.flag{color:#b00020;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:1em}.grid img{max-width:500px;width:100%}
img{max-width:100%}.kpi{display:inline-block;margin:.3em 1.5em .3em 0}
.kpi b{display:block;font-size:1.4em}
"""

_CHECK_JS = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-ok', ok ? 'true' : 'false');
  document.body.setAttribute('data-images', String(imgs.length));
});
"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="chart" src="data:image/png;base64,{data}">'


def _figure(draw, **kwargs) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=kwargs.pop("figsize", (7, 4.2)))
    draw(ax)
    return _png(fig)


def _money(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"${v:,.0f}" if abs(v) >= 100 else f"${v:,.2f}"


def _table(frame: pd.DataFrame, fmt=None) -> str:
    fmt = fmt or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [frame.index.name or ""]
                   + list(frame.columns))
    rows = []
    for idx, row in frame.iterrows():
        cells = [f"<td>{html.escape(str(idx))}</td>"]
        for col, v in row.items():
            text = fmt[col](v) if col in fmt else (f"{v:,.4g}" if isinstance(v, float) else str(v))
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _ratio(v: float) -> str:
    return "n/a" if np.isnan(v) else "no cost" if np.isinf(v) else f"{v:.1f} : 1"


def _kpis(pairs) -> str:
    return "".join(f"<span class='kpi'>{html.escape(k)}<b>{html.escape(v)}</b></span>"
                   for k, v in pairs)


def _ltv_cac_flag(ratio: pd.Series) -> str:
    """The LTV:CAC verdict under a segment table: segments below 3 : 1 flagged."""
    low = ratio.index[ratio < 3].tolist()
    if low:
        return (f"<p class='flag'>Below 3 : 1 (acquisition may not pay back): "
                f"{html.escape(', '.join(map(str, low)))}.</p>")
    return ("<p>Every segment returns at least 3 dollars of value per dollar of acquisition "
            "cost.</p>")


def _write_report(out, title: str, parts: list[str], export_frame: pd.DataFrame) -> Path:
    """Write the page (and the per-account table beside it, ``<out>.clv.csv``) atomically."""
    body = "\n".join(parts)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>{_CSS}</style><script>{_CHECK_JS}</script>"
            f"</head><body>{body}</body></html>")
    target = Path(out)
    with atomic_path(target.with_suffix(".clv.csv")) as tmp:
        export_frame.to_csv(tmp)
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


def _years_to_unit(years: float, unit: str) -> float:
    return convert_duration(years, "year", unit)


def build_report(
    transaction_model: BetaGeoModel,
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
) -> Path:
    """Write the forecast report to ``out`` (atomically) and return its path.

    Parameters
    ----------
    transaction_model, spend_model : fitted BetaGeoModel, GammaGammaModel
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
    """
    unit = transaction_model.time_unit_
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
    for name, model, what in (("Purchases (BG/NBD)", transaction_model, "purchase and drop-out"),
                              ("Spend (Gamma-Gamma)", spend_model, "spend per purchase")):
        s = model.summary(level=level)
        parts.append(f"<h3>{name}</h3><p class='note'>Parameters of the {what} model, with "
                     f"{level:.0%} intervals; fitted by {model.fit_method_.upper()}.</p>"
                     + _table(s[["estimate", "lower", "upper"]].rename_axis("parameter")))
        if "r_hat" in s.columns:
            worst = float(s["r_hat"].max())
            parts.append(f"<p class='note'>Sampler check: largest R-hat {worst:.3f} "
                         f"({'fine' if worst <= 1.01 else 'too high: rerun longer'}); smallest "
                         f"effective sample size {s['ess_bulk'].min():,.0f}.</p>")
    figs = [_figure(lambda ax: plots.plot_frequency_fit(transaction_model, summary, ax=ax))]
    if holdout is not None:
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
                 + _figure(lambda ax: plots.plot_clv_distribution(clv, ax=ax))
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
        fmt={c: _money for c in ["expected value ($)", "could be as low as ($)",
                                 "could be as high as ($)"]}))
    export = Path(out).with_suffix(".clv.csv")
    parts.append(f"<p class='note'>Every customer's numbers are in <code>{export.name}</code> "
                 "next to this file.</p>")

    # 4. horizons side by side
    rows = {horizons[y]: {"total expected value ($)": t.expected_clv.sum(),
                          "average per customer ($)": t.expected_clv.mean(),
                          "expected purchases per customer": t.expected_purchases.mean()}
            for y, t in tables.items()}
    parts.append("<h2>Longer horizons</h2>" + _table(
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
    if segments is not None:
        seg = segments.reindex(summary.index).fillna("unknown").rename("segment")
        g = pd.DataFrame({"customers": 1, "expected value ($)": clv.expected_clv}).groupby(seg).sum()
        g["average per customer ($)"] = g["expected value ($)"] / g["customers"]
        if acquisition_cost is not None:
            cac = (acquisition_cost if isinstance(acquisition_cost, pd.Series)
                   else pd.Series(float(acquisition_cost), index=g.index))
            g["cost to acquire ($)"] = cac.reindex(g.index)
            g["LTV:CAC"] = g["average per customer ($)"] / g["cost to acquire ($)"]
        parts.append("<h2>By segment</h2>" + _table(
            g, fmt={"expected value ($)": _money, "average per customer ($)": _money,
                    "cost to acquire ($)": _money, "LTV:CAC": _ratio}))
        if "LTV:CAC" in g.columns:
            parts.append(_ltv_cac_flag(g["LTV:CAC"]))
    if segments is None and acquisition_cost is not None and not isinstance(acquisition_cost,
                                                                           pd.Series):
        ratio = float(clv.expected_clv.mean()) / float(acquisition_cost)
        parts.append(f"<h2>Value against acquisition cost</h2><p>Each customer is expected to bring "
                     f"{_money(float(clv.expected_clv.mean()))} over the next "
                     f"{horizons[main_years]} against {_money(float(acquisition_cost))} to acquire: "
                     f"LTV:CAC = {ratio:.1f} : 1"
                     + (" <span class='flag'>(below 3 : 1)</span>" if ratio < 3 else "")
                     + ".</p>")
    gross = clv.expected_clv.sum()
    net = gross - serving_cost_rate * gross / margin
    parts.append(f"<h2>Gross and net</h2><p>Expected profit over the next {horizons[main_years]}: "
                 f"{_money(gross)} gross of serving costs, {_money(net)} after serving costs of "
                 f"{serving_cost_rate:.0%} of revenue.</p>")

    # 7. the simple formula
    mean_spend = float(np.nanmean(summary["monetary_value"]))
    per_year = float((summary["frequency"] / summary["T"].clip(lower=1e-9)).mean()
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


# ------------------------------------------------------------------ contractual
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
    margin: float = 0.30,
    level: float = 0.90,
    title: str = "Subscription lifetime value forecast",
    random_state: int = 0,
    n_samples: int = 200,
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
    model : ShiftedBetaGeoModel
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
        Share of revenue that is profit.

    Examples
    --------
    >>> import tempfile
    >>> from clvmodels.models.sbg import accounts_from_survival
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
    clv = contractual_lifetime_value(
        model, accounts, revenue_col=revenue_col, discount_rate=discount_rate, margin=margin,
        acquisition_cost_col=acquisition_cost_col, level=level, n_samples=n_samples,
        random_state=random_state)
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
    money_note = (f"dollars of profit (revenue × {margin:.0%} margin) from all future renewals, "
                  f"discounted at {discount_rate:.0%} a year")
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='note'>Values are {money_note}, with no cut-off date: an account is "
             f"valued just before its next renewal, which it pays undiscounted if it renews. "
             f"Time is counted in {unit}s (one {unit} = one renewal period).</p>"]

    n, n_active = weight.sum(), weight @ active
    parts.append("<h2>The accounts</h2>" + _kpis([
        ("Accounts", f"{n:,.0f}"), ("Still active", f"{n_active:,.0f}"),
        ("Cancelled", f"{n - n_active:,.0f} ({1 - n_active / n:.0%})"),
        ("Longest tenure seen", f"{tau} {unit}s"),
        (f"Average revenue per {unit}", _money(float(weight @ revenue / n)))]))

    # survival and retention, actual vs projected
    codes, keys = _codes(accounts, segment_col)
    curves, lifetimes = _new_account_curves(model, accounts, weight, codes, len(keys), horizon)
    overall = _new_account_curves(model, accounts, weight, np.zeros_like(codes), 1, horizon)
    actual = np.r_[1.0, retention_table(accounts)["survival"].to_numpy()]
    projected = overall[0][0]
    gap = float(np.max(np.abs(actual - projected[:actual.size])))
    summary = model.summary(level=level)[["estimate", "lower", "upper"]]
    parts.append(
        "<h2>How well the model fits</h2><p>The shifted-beta-geometric model gives each account "
        "its own chance of cancelling at every renewal, different between accounts. Over the "
        f"{tau} {unit}s seen, its survival curve stays within {100 * gap:.1f} percentage points "
        f"of the share of accounts actually still active (largest gap); beyond {tau} {unit}s "
        "it is a projection.</p><p class='note'>Parameters with "
        f"{level:.0%} intervals, fitted by "
        f"{model.fit_method_.upper()}"
        + (" (a multiplier above 1 on beta, or below 1 on alpha, means less churn)"
           if model._covariate_names() else "") + ".</p>"
        + _table(summary.rename_axis("parameter")))
    r_actual, r_proj = actual[1:] / actual[:-1], projected[1:] / projected[:-1]

    def retention_plot(ax):
        plots.plot_survival(r_actual, r_proj, periods=np.arange(1, horizon + 1),
                            calibration_periods=tau, label="accounts renewing (retention rate)",
                            time_unit=unit, ax=ax)
        ax.set_ylim(max(0.0, float(np.nanmin(np.r_[r_actual, r_proj])) - 0.05), 1.0)

    parts.append("<div class='grid'>" + _figure(lambda ax: plots.plot_survival(
        actual, projected, calibration_periods=tau, label="accounts still active",
        time_unit=unit, ax=ax))
        + _figure(retention_plot) + "</div>")
    parts.append(f"<p>Retention rises with tenure: the model expects {r_proj[0]:.1%} of new "
                 f"accounts to renew after their first {unit} and {r_proj[tau - 1]:.1%} of "
                 f"those still active after {tau} {unit}s, because the accounts likely to "
                 "cancel leave early.</p>")

    # how long accounts stay
    observed = _observed_lifespans(accounts, segment_col, keys)
    taus = observed["observed_periods"].fillna(0).to_numpy(dtype=int)
    within = np.arange(horizon + 1)[None, :] < taus[:, None]
    life = pd.DataFrame({
        "accounts": np.bincount(codes, weights=weight, minlength=len(keys)),
        f"observed for ({unit}s)": taus,
        f"average {unit}s active in that time, actual": observed[
            "restricted_mean_lifetime"].to_numpy(),
        "average, model": np.where(within, curves, 0.0).sum(axis=1),
        f"median lifespan ({unit}s), actual": observed["median_lifetime"].to_numpy(),
        "median, model": _medians(curves),
        f"expected lifespan of a new account ({unit}s), model": lifetimes,
    }, index=pd.Index(keys if segment_col else ["all accounts"], name=segment_col or ""))
    parts.append(
        "<h2>How long accounts stay</h2><p class='note'>Averages within the observed time "
        "compare like with like; a median 'not reached' means more than half were still active "
        f"(for the model: within {horizon} {unit}s). An infinite expected lifespan means a share "
        "of accounts practically never cancels, so the average has no finite value; the "
        "discounted values below stay finite.</p>"
        + _table(life, fmt={c: _count for c in life.columns[:2]}
                 | {c: _periods for c in life.columns[2:]}))
    if segment_col is not None:
        shown = range(min(6, len(keys)))
        parts.append(("<p class='note'>The cohort model projects the same curve for every "
                      "segment; where a segment's actual curve departs from it, fit the "
                      "segments separately or with covariates.</p>"
                      if not model._covariate_names() else "") + "<div class='grid'>" + "".join(
            _figure(lambda ax, g=g: plots.plot_survival(
                _segment_survival(accounts, codes == g), curves[g], calibration_periods=int(
                    taus[g]), label=f"still active, {keys[g]}", time_unit=unit, ax=ax))
            for g in shown) + "</div>")

    # what each account is worth
    live = clv[active]
    parts.append(
        "<h2>What each account is worth</h2>" + _kpis([
            ("Expected value of active accounts", _money(float(frame["value"].sum()))),
            ("Average per active account", _money(float(frame["value"].sum() / n_active))),
            (f"Average DERL ({unit}s of revenue)", f"{frame['derl'].sum() / n_active:.1f}")])
        + f"<p class='note'>{money_note[0].upper() + money_note[1:]}. DERL (discounted expected "
        f"residual lifetime) counts the {unit}s of revenue still to come, discounted. The "
        "narrow range is what an account is worth on average given what we know; the wide "
        "range is what it may actually bring, since one account's future is uncertain.</p>"
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
    parts.append(f"<h2>By tenure</h2><p>Active accounts that have stayed longer are worth more "
                 f"per {unit} of revenue: they have shown a low chance of cancelling.</p>"
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
        f"of cancelling each {unit}; in fact accounts differ, the likely cancellers leave "
        "first, and retention rises with tenure, which the model takes into account.</p>")
    return _write_report(out, title, parts, accounts.join(clv, suffixes=("", "_score")))


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
    """Observed lifespans per group (:func:`~clvmodels.retention.lifetime_summary`),
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
