"""Diagnostic and reporting plots (matplotlib); every function takes ``ax=`` and
returns what it drew on.

Model checks follow Fader, Hardie & Lee (2005), "Counting Your Customers the Easy
Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2): the
distribution of repeat purchases (their Figure 2), conditional expectations in the
holdout period (Figure 4) and the cohort's weekly and cumulative repeat purchases
(Figure 3). Model quantities come from the one implementation of each formula in
:mod:`clvmodels.models.bgnbd`; the plots only aggregate them, grouping customers by
their distinct values first so the cost grows with distinct rows, not customers.

Axis labels carry the model's time unit (``model.time_unit_``) and "$" for money.
``matplotlib.pyplot`` is imported only when a function has to create a figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data.compress import compress_rows
from .data.summary import repeat_purchase_tracking
from .errors import DataError, IncompatibleModelError, check_parameter
from .models.base import BaseModel
from .models.inputs import summary_arrays
from .timeunits import check_time_unit, convert_duration, parse_horizon, unit_length_days

__all__ = [
    "plot_frequency_fit",
    "plot_calibration_vs_holdout",
    "plot_tracking",
    "plot_probability_alive_matrix",
    "plot_expected_purchases_matrix",
    "plot_clv_distribution",
    "plot_top_customers",
    "plot_parameter_posterior",
    "plot_survival",
]

ACTUAL_COLOR = "#4d4d4d"
MODEL_COLOR = "#d95f02"
RECENCY_POINTS = 101  # columns of the probability-alive / expected-purchases heatmaps


# --------------------------------------------------------------------- helpers
def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(layout="constrained")[1]


def _fitted_bgnbd(model, owner: str) -> dict[str, float]:
    """The point estimate of a fitted purchase model (any model of the family: the
    plots call its formulas through ``model._formula``)."""
    _fitted_purchase(model, owner)
    return model.point_params()


def _fitted_purchase(model, owner: str) -> None:
    from .models.purchase import PurchaseModel

    if not isinstance(model, PurchaseModel):
        raise TypeError(f"The 'model' parameter of {owner} must be a fitted purchase model "
                        f"(BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel). Got "
                        f"{type(model).__name__} instead.")
    model._require_fitted()


def _units(model) -> str:
    """Plural time unit of a fitted model for axis labels ('weeks'), or 'time units'."""
    unit = getattr(model, "time_unit_", None)
    return f"{unit}s" if unit else "time units"


def _check_same_unit(model, data: pd.DataFrame, owner: str) -> None:
    data_unit = data.attrs.get("time_unit") if hasattr(data, "attrs") else None
    unit = getattr(model, "time_unit_", None)
    if data_unit is not None and unit is not None and data_unit != unit:
        raise IncompatibleModelError(
            f"{owner}: the model is in {unit}s but the summary is in {data_unit}s "
            "(data.attrs['time_unit']). Rebuild the summary in the model's unit or refit.")


def _check_max_frequency(value, owner: str, allow_none: bool = False) -> None:
    ok = (allow_none and value is None) or (
        isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1)
    check_parameter("max_frequency", owner, value, ok,
                    "None or an int >= 1" if allow_none else "an int >= 1")


def _pooled_labels(max_frequency: int) -> list[str]:
    return [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]


def _day(value, name: str, owner: str) -> pd.Timestamp:
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError):
        day = pd.NaT
    if pd.isna(day):
        raise ValueError(f"The {name!r} parameter of {owner} must be a date such as "
                         f"'1997-01-01'. Got {value!r} instead.")
    return day.normalize()


def _num(v: float) -> str:
    """A duration for a label: whole numbers as such, others to 3 significant digits."""
    return f"{v:g}" if float(v).is_integer() else f"{v:.3g}"


def _money(v: float) -> str:
    return f"${v:,.0f}" if abs(v) >= 1000 else f"${v:,.2f}"


# ---------------------------------------------------------------- model checks
def plot_frequency_fit(model, summary: pd.DataFrame, *, max_frequency: int = 7, ax=None):
    """Customers by number of repeat purchases: actual vs expected by the model.

    The expected number with ``k`` repeat purchases is
    ``sum_i P(X(T_i) = k)``, the BG/NBD probability (FHL 2005, eq. 8) that a
    customer observed for her age ``T_i`` makes ``k`` repeat purchases, evaluated
    once per distinct ``T``. The last bar pools ``max_frequency`` and more; it is
    the complement of the others, so the expected bars add up to the number of
    customers.

    Parameters
    ----------
    model : PurchaseModel (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel)
        Fitted model.
    summary : DataFrame
        The summary it was fitted on (``frequency``, ``recency``, ``T``).
    max_frequency : int
        First pooled count (bars 0, 1, ..., ``max_frequency``\\ +).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
        Two bar containers, labelled ``"Actual"`` and ``"Expected by the model"``.

    Examples
    --------
    >>> from clvmodels import BetaGeoModel
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> summary = load_cdnow_summary()
    >>> ax = plot_frequency_fit(BetaGeoModel().fit(summary), summary)
    >>> [int(bar.get_height()) for bar in ax.containers[0]][:3]
    [1411, 439, 214]
    """
    owner = "plot_frequency_fit"
    params = _fitted_bgnbd(model, owner)
    _check_max_frequency(max_frequency, owner)
    _check_same_unit(model, summary, owner)
    arr = summary_arrays(summary, owner)
    n = arr["T"].size
    actual = np.bincount(np.minimum(arr["frequency"], max_frequency).astype(np.intp),
                         minlength=max_frequency + 1)
    ages, counts = np.unique(arr["T"], return_counts=True)
    # P(X = k) for k < max_frequency at every distinct age; the formula holds
    # (max_frequency + 1) x max_frequency numbers per age, so ages go in blocks
    step = max(1, 4_000_000 // ((max_frequency + 1) * max_frequency))
    p = np.concatenate([
        model._formula("probability_of_purchases")(**params, k=np.arange(max_frequency)[:, None],
                                       t=ages[None, i:i + step])
        for i in range(0, ages.size, step)], axis=1)
    expected = np.append(p @ counts, counts @ (1.0 - p.sum(axis=0)))

    ax = _axes(ax)
    pos = np.arange(max_frequency + 1)
    ax.bar(pos - 0.2, actual, width=0.4, color=ACTUAL_COLOR, label="Actual")
    ax.bar(pos + 0.2, expected, width=0.4, color=MODEL_COLOR, label="Expected by the model")
    ax.set_xticks(pos, _pooled_labels(max_frequency))
    end = summary.attrs.get("calibration_end") or summary.attrs.get("observation_end")
    ax.set_xlabel("Repeat purchases" + (f" up to {end}" if end else ""))
    ax.set_ylabel("Customers")
    ax.set_title(f"Customers by number of repeat purchases ({n:,} customers)")
    ax.legend()
    return ax


def plot_calibration_vs_holdout(model, cal_holdout_summary: pd.DataFrame, *,
                                max_frequency: int = 7, ax=None):
    """Mean holdout purchases by calibration purchases: actual vs expected.

    Customers are grouped by their repeat purchases in the calibration period
    (``max_frequency`` and more pooled); for each group the mean of
    ``holdout_frequency`` is set against the mean of the conditional expectation
    E[X(T, T + t) | x, t_x, T] (FHL 2005, eq. 10) with ``t = holdout_length``,
    computed once per distinct summary row.

    Parameters
    ----------
    model : PurchaseModel (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel)
        Model fitted on the calibration period.
    cal_holdout_summary : DataFrame
        From :func:`clvmodels.calibration_holdout_summary` (needs ``frequency``,
        ``recency``, ``T``, ``holdout_frequency``, ``holdout_length``).
    max_frequency : int
        First pooled calibration count.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Two lines, ``"Actual"`` and ``"Expected by the model"``.

    Examples
    --------
    >>> from clvmodels import BetaGeoModel
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> summary = load_cdnow_summary()
    >>> ax = plot_calibration_vs_holdout(BetaGeoModel().fit(summary), summary)
    >>> round(float(ax.get_lines()[0].get_ydata()[0]), 3)  # actual, customers with 0
    0.237
    """
    owner = "plot_calibration_vs_holdout"
    params = _fitted_bgnbd(model, owner)
    _check_max_frequency(max_frequency, owner)
    _check_same_unit(model, cal_holdout_summary, owner)
    arr = summary_arrays(cal_holdout_summary, owner)
    missing = [c for c in ("holdout_frequency", "holdout_length")
               if c not in cal_holdout_summary.columns]
    if missing:
        raise DataError(f"{owner}: missing column(s) {missing}. Build the summary with "
                        "clvmodels.calibration_holdout_summary().")
    for c in ("holdout_frequency", "holdout_length"):
        arr[c] = cal_holdout_summary[c].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(arr[c]) | (arr[c] < 0)
        if bad.any():
            raise DataError(f"{owner}: column {c!r} has missing or negative values in "
                            f"{int(bad.sum())} row(s). Rebuild the summary with "
                            "clvmodels.calibration_holdout_summary().")
    comp = compress_rows(arr, ["frequency", "recency", "T", "holdout_length"])
    u = comp.unique
    e = model._formula("conditional_expected_purchases")(**params, frequency=u["frequency"],
                                             recency=u["recency"], T=u["T"],
                                             t=u["holdout_length"])
    group = np.minimum(arr["frequency"], max_frequency).astype(np.intp)
    size = np.bincount(group, minlength=max_frequency + 1)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty groups give NaN (a gap)
        actual = np.bincount(group, weights=arr["holdout_frequency"],
                             minlength=max_frequency + 1) / size
        expected = np.bincount(group, weights=comp.expand(e),
                               minlength=max_frequency + 1) / size

    ax = _axes(ax)
    pos = np.arange(max_frequency + 1)
    ax.plot(pos, actual, "o-", color=ACTUAL_COLOR, label="Actual")
    ax.plot(pos, expected, "s--", color=MODEL_COLOR, label="Expected by the model")
    ax.set_xticks(pos, _pooled_labels(max_frequency))
    ax.set_ylim(bottom=0)
    units = _units(model)
    lengths = np.unique(arr["holdout_length"])
    length = f"{_num(lengths[0])} {units}" if lengths.size == 1 else units
    ax.set_xlabel("Repeat purchases in the calibration period")
    ax.set_ylabel(f"Mean repeat purchases in the holdout ({length})")
    ax.set_title("Holdout purchases of customers grouped by past purchases")
    ax.legend()
    return ax


def plot_tracking(model, transactions, summary: pd.DataFrame, *, start, calibration_end,
                  end, cumulative: bool = True, ax=None):
    """Repeat purchases of the cohort over time: actual vs the model's expectation
    (or several models' expectations, to compare them).

    The actual series is :func:`clvmodels.repeat_purchase_tracking` in the model's
    time unit, periods counted from ``start``. The expectation sums the expected
    repeat purchases of each customer since her first purchase (FHL 2005, eq. 9, via
    :func:`~clvmodels.models.bgnbd.bgnbd_expected_cumulative_purchases`), less what
    she was expected to buy before ``start``. Her first purchase is placed on the
    same clock from the summary: ``first = (reference - start) - T`` in model units,
    where ``reference`` is ``summary.attrs["calibration_end"]`` (or
    ``"observation_end"``, or the ``calibration_end`` argument when the summary has
    no such attrs), the day ``T`` was measured to.

    Parameters
    ----------
    model : PurchaseModel or dict of str to PurchaseModel
        Model fitted on the calibration period (any purchase model:
        :class:`~clvmodels.models.purchase.PurchaseModel`), or several by name, each
        drawn as its own line.
    transactions : DataFrame, str or path
        The cohort's raw transactions (see :func:`~clvmodels.data.load_transactions`).
    summary : DataFrame
        The summary the model was fitted on (one row per customer of the cohort).
    start, calibration_end, end : date-like
        First day tracked, last day of calibration (a vertical line) and last day
        tracked, inclusive.
    cumulative : bool
        Cumulative totals (True) or repeat purchases per period.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Lines ``"Actual"`` and ``"Expected by the model"`` (one per model, labelled by
        its name, when given a dict) with one point per period, at the period's end.

    Examples
    --------
    >>> from clvmodels import BetaGeoModel
    >>> from clvmodels.datasets import load_cdnow_summary, load_cdnow_transactions
    >>> summary = load_cdnow_summary()
    >>> ax = plot_tracking(BetaGeoModel().fit(summary), load_cdnow_transactions(), summary,
    ...                    start="1997-01-01", calibration_end="1997-09-30", end="1998-06-30")
    >>> int(ax.get_lines()[0].get_ydata()[-1])
    4339
    """
    owner = "plot_tracking"
    models = dict(model) if isinstance(model, dict) else {"Expected by the model": model}
    for m in models.values():
        _fitted_purchase(m, owner)
    model = next(iter(models.values()))
    units = {getattr(m, "time_unit_", None) for m in models.values()}
    if len(units) > 1:
        raise IncompatibleModelError(f"{owner}: the models have different time units {units}; "
                                     "fit them on the same summary.")
    unit = getattr(model, "time_unit_", None)
    if unit is None:
        raise IncompatibleModelError(
            f"{owner}: the model does not know its time unit, so periods cannot be formed. "
            "Fit it on a summary from rfm_summary() or set BetaGeoModel(time_unit='week').")
    _check_same_unit(model, summary, owner)
    arr = summary_arrays(summary, owner)
    start_day = _day(start, "start", owner)
    cal_day = _day(calibration_end, "calibration_end", owner)
    end_day = _day(end, "end", owner)
    if not start_day <= cal_day <= end_day:
        raise ValueError(f"{owner}: the dates must satisfy start <= calibration_end <= end. "
                         f"Got start={start_day.date()}, calibration_end={cal_day.date()}, "
                         f"end={end_day.date()}.")
    reference = _day(summary.attrs.get("calibration_end") or summary.attrs.get("observation_end")
                     or cal_day, "summary.attrs['calibration_end']", owner)

    tracking = repeat_purchase_tracking(transactions, start=start_day.date().isoformat(),
                                        end=end_day.date().isoformat(), time_unit=unit)
    u = unit_length_days(unit)
    first = (reference - start_day).days / u - arr["T"]
    period_end = np.minimum(tracking.index.to_numpy(dtype=np.float64),
                            ((end_day - start_day).days + 1) / u)
    ax = _axes(ax)
    actual = tracking["cumulative_repeat_purchases" if cumulative else "repeat_purchases"]
    ax.plot(period_end, actual.to_numpy(), "-", color=ACTUAL_COLOR, lw=2, label="Actual")
    styles = ["--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1))]
    for i, (name, m) in enumerate(models.items()):
        expected = m.expected_cumulative_purchases(first, np.append(0.0, period_end))
        expected = expected[1:] - expected[0]  # only purchases after start are tracked
        if not cumulative:
            expected = np.diff(expected, prepend=0.0)
        color = MODEL_COLOR if len(models) == 1 else f"C{i + 1}"
        ax.plot(period_end, expected, linestyle=styles[i % len(styles)], color=color, lw=2,
                label=name)
    cal_x = ((cal_day - start_day).days + 1) / u
    ax.axvline(cal_x, color="0.5", lw=1, ls=":")
    ax.text(cal_x, 0.97, "end of calibration ", transform=ax.get_xaxis_transform(),
            rotation=90, ha="right", va="top", color="0.3", fontsize="small")
    ax.set_xlim(0, period_end[-1])
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"{unit.capitalize()}s since {start_day.date()}")
    per = {"day": "Daily", "week": "Weekly", "month": "Monthly", "year": "Yearly"}[unit]
    if cumulative:
        ax.set_ylabel("Cumulative repeat purchases")
        ax.set_title("Cumulative repeat purchases of the cohort")
        ax.legend(loc="upper left")
    else:
        ax.set_ylabel(f"Repeat purchases per {unit}")
        ax.set_title(f"{per} repeat purchases of the cohort")
        ax.legend(loc="upper right")
    return ax


# ------------------------------------------------------------------- heatmaps
def _default_max_frequency(model, params: dict, T: float) -> int:
    """The 99.5th percentile of repeat purchases in ``T`` for a new customer, in
    [5, 1024] (the probabilities of 0..k cost k^2 numbers, so k stops at 1024)."""
    for kmax in (64, 256, 1024):
        cdf = np.cumsum(model._formula("probability_of_purchases")(**params, k=np.arange(kmax + 1), t=T))
        if cdf[-1] >= 0.995:
            break
    return int(np.clip(np.searchsorted(cdf, 0.995), 5, kmax))


def _history_grid(model, owner, max_frequency, max_recency, T):
    params = _fitted_bgnbd(model, owner)
    check_parameter("T", owner, T, isinstance(T, (int, float, np.number))
                    and not isinstance(T, bool) and np.isfinite(T) and T > 0,
                    "a positive number (the customer's age in the model's time unit)")
    _check_max_frequency(max_frequency, owner, allow_none=True)
    check_parameter("max_recency", owner, max_recency, max_recency is None or (
        isinstance(max_recency, (int, float, np.number)) and 0 < max_recency <= T),
        "None or a number in (0, T]")
    if max_frequency is None:
        max_frequency = _default_max_frequency(model, params, float(T))
    max_recency = float(T if max_recency is None else max_recency)
    x = np.arange(max_frequency + 1, dtype=np.float64)[:, None]
    t_x = np.linspace(0.0, max_recency, RECENCY_POINTS)[None, :]
    return params, x, t_x, float(T)


def _heatmap(ax, values, x, t_x, model, T, title, bar_label, cmap, **imshow):
    import matplotlib

    # no repeat purchase means the last purchase is the first: recency 0 only
    values = np.ma.masked_where((x == 0) & (t_x > 0), values)
    cmap = matplotlib.colormaps[cmap].with_extremes(bad="0.92")
    half = t_x[0, 1] / 2
    ax = _axes(ax)
    image = ax.imshow(values, origin="lower", aspect="auto", interpolation="nearest",
                      extent=(-half, t_x[0, -1] + half, -0.5, x[-1, 0] + 0.5), cmap=cmap,
                      **imshow)
    ax.figure.colorbar(image, ax=ax, label=bar_label)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    units = _units(model)
    ax.set_xlabel(f"{units.capitalize()} from first to last purchase")
    ax.set_ylabel("Repeat purchases")
    ax.set_title(f"{title},\nby purchase history, {_num(T)} {units} after the first purchase")
    return ax


def plot_probability_alive_matrix(model, *, max_frequency: int | None = None,
                                  max_recency: float | None = None, T: float, ax=None):
    """Heatmap of the probability that a customer is still active, by purchase history.

    P(alive | x, t_x, T) (FHL 2005, eq. 11) on a grid of repeat purchases
    ``x = 0..max_frequency`` (rows) and times of the last purchase
    ``t_x in [0, max_recency]`` (101 columns), for one customer age ``T``; memory
    is bounded by the grid, never by the number of customers. Cells that cannot
    occur (no repeat purchase but a last purchase after the first) are left grey.

    Parameters
    ----------
    model : PurchaseModel (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel)
        Fitted model.
    max_frequency : int, optional
        Highest row; default the 99.5th percentile of the repeat purchases the model
        expects from a new customer over ``T`` (at least 5, at most 1024).
    max_recency : float, optional
        Last column, in the model's time unit; default ``T``.
    T : float
        Required: the customer's age (time since first purchase) in the model's time
        unit, e.g. the length of the calibration period (39 weeks for CDNOW).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        With one image (rows = repeat purchases) and a colorbar.

    Examples
    --------
    >>> from clvmodels import BetaGeoModel
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> ax = plot_probability_alive_matrix(BetaGeoModel().fit(load_cdnow_summary()), T=39)
    >>> ax.images[0].get_array().shape
    (17, 101)
    """
    owner = "plot_probability_alive_matrix"
    params, x, t_x, T = _history_grid(model, owner, max_frequency, max_recency, T)
    values = model._formula("probability_alive")(**params, frequency=x, recency=t_x, T=T)
    return _heatmap(ax, values, x, t_x, model, T, "Probability a customer is still active",
                    "Probability still active", cmap="viridis", vmin=0.0, vmax=1.0)


def plot_expected_purchases_matrix(model, t, *, max_frequency: int | None = None,
                                   max_recency: float | None = None, T: float, ax=None):
    """Heatmap of the purchases expected over the next ``t``, by purchase history.

    E[X(T, T + t) | x, t_x, T] (FHL 2005, eq. 10) on the grid of
    :func:`plot_probability_alive_matrix`.

    Parameters
    ----------
    model : PurchaseModel (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel)
        Fitted model.
    t : float, str or (float, str)
        Forecast length: a number in the model's time unit, or a duration with its
        unit such as ``"52 weeks"`` or ``(1, "year")``.
    max_frequency, max_recency, T, ax
        As in :func:`plot_probability_alive_matrix` (``T`` is required).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from clvmodels import BetaGeoModel
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = BetaGeoModel().fit(load_cdnow_summary())
    >>> ax = plot_expected_purchases_matrix(model, "52 weeks", T=39, max_frequency=10)
    >>> ax.images[0].get_array().shape
    (11, 101)
    """
    owner = "plot_expected_purchases_matrix"
    params, x, t_x, T = _history_grid(model, owner, max_frequency, max_recency, T)
    units = _units(model)
    if isinstance(t, (str, tuple)):
        if getattr(model, "time_unit_", None) is None:
            raise IncompatibleModelError(
                f"{owner}: the model does not know its time unit, so t={t!r} cannot be "
                "converted. Pass t as a number in the model's time unit.")
        value, unit = parse_horizon(t, owner)
        length = convert_duration(value, unit, model.time_unit_)
        shown = unit if value == 1 else f"{_num(value)} {unit}s"
    else:
        check_parameter("t", owner, t, isinstance(t, (int, float, np.number))
                        and not isinstance(t, bool) and np.isfinite(t) and t > 0,
                        "a positive number or a duration such as '52 weeks'")
        length, shown = float(t), f"{_num(t)} {units}"
    values = model._formula("conditional_expected_purchases")(**params, frequency=x, recency=t_x, T=T,
                                                  t=length)
    return _heatmap(ax, values, x, t_x, model, T, f"Expected purchases in the next {shown}",
                    f"Expected purchases, next {shown}", cmap="cividis")


# ------------------------------------------------------------------------ CLV
_CLV_NAMES = {
    "expected_clv": "Expected CLV",
    "expected_clv_lower": "Expected CLV, lower end of the credible interval",
    "expected_clv_upper": "Expected CLV, upper end of the credible interval",
    "clv_predictive_lower": "CLV, lower end of the predictive interval",
    "clv_predictive_upper": "CLV, upper end of the predictive interval",
    "expected_spend": "Expected spend per purchase",
    "expected_purchases": "Expected purchases",
    "probability_alive": "Probability still active",
}


def _horizon_note(attrs: dict) -> str:
    notes = []
    if attrs.get("discount_rate"):
        notes.append(f"{attrs['discount_rate']:.0%} annual discount rate")
    if attrs.get("margin", 1.0) != 1.0:
        notes.append(f"{attrs['margin']:.0%} margin")
    return f" ({', '.join(notes)})" if notes else ""


def _clv_columns(table, columns, owner):
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"The 'clv_table' parameter of {owner} must be a DataFrame from "
                        f"customer_lifetime_value(). Got {type(table).__name__} instead.")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{owner}: missing column(s) {missing}; the table has "
                        f"{list(table.columns)[:20]}. Pass the output of "
                        "clvmodels.customer_lifetime_value().")


def plot_clv_distribution(clv_table: pd.DataFrame, *, column: str = "expected_clv", ax=None):
    """Histogram of per-customer CLV (or any column of the CLV table).

    Bins are log-spaced when the values are positive-skewed (the 99th percentile of
    the positive values is more than 10 times their median). The log axis then
    starts at the 1st percentile of the positive values: customers below it
    (including any at 0, which a log axis cannot show) are counted in the first bar,
    as the legend says, so every customer is in a bar. Dotted and dashed lines mark
    the median and mean over all customers.

    Parameters
    ----------
    clv_table : DataFrame
        From :func:`clvmodels.customer_lifetime_value`; ``attrs["horizon"]`` (if
        present) goes into the title.
    column : str
        Column to show.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> table = pd.DataFrame({"expected_clv": [0.0, 0.5, 2.0, 3.0, 40.0, 900.0]})
    >>> ax = plot_clv_distribution(table)
    >>> ax.get_xscale(), int(sum(p.get_height() for p in ax.patches))
    ('log', 6)
    """
    owner = "plot_clv_distribution"
    _clv_columns(clv_table, [column], owner)
    values = pd.to_numeric(clv_table[column], errors="coerce").to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise DataError(f"{owner}: column {column!r} has no finite values to plot.")
    money = "clv" in column or "spend" in column
    fmt = _money if money else (lambda v: f"{v:,.3g}")
    positive = values[values > 0]
    low = np.quantile(positive, 0.01) if positive.size else 0.0
    log_bins = (positive.size >= 2 and low < positive.max()
                and np.quantile(positive, 0.99) > 10 * np.median(positive))
    ax = _axes(ax)
    style = dict(color="#7570b3", edgecolor="white", lw=0.5)
    if log_bins:
        ax.hist(np.maximum(values, low), bins=np.geomspace(low, positive.max(), 41), **style)
        ax.set_xscale("log")
    else:
        ax.hist(values, bins=40, **style)
    median, mean = float(np.median(values)), float(np.mean(values))
    ax.axvline(median, color="black", ls=":", lw=1.5, label=f"Median {fmt(median)}")
    ax.axvline(mean, color="black", ls="--", lw=1.5, label=f"Mean {fmt(mean)}")
    pooled = int((values < low).sum()) if log_bins else 0
    if pooled:
        ax.plot([], [], " ", label=f"{pooled:,} customers below {fmt(low)}\nare in the first bar")
    ax.legend(loc="best")
    name = _CLV_NAMES.get(column, column.replace("_", " ").capitalize())
    unit = ("$, log scale" if log_bins else "$") if money else ("log scale" if log_bins else "")
    ax.set_xlabel(f"{name} per customer" + (f" ({unit})" if unit else ""))
    ax.set_ylabel("Customers")
    horizon = clv_table.attrs.get("horizon")
    head = f"{name} per customer"
    tail = (f"next {horizon}" if horizon and column != "expected_spend" else "")
    tail += _horizon_note(clv_table.attrs) if money else ""
    sep = ",\n" if len(head) + len(tail) > 50 else ", "
    ax.set_title(head + (sep + tail.strip() if tail else ""))
    return ax


def plot_top_customers(clv_table: pd.DataFrame, *, n: int = 20, ax=None):
    """The ``n`` customers with the highest expected CLV, each with both intervals.

    A thick bar is the *credible interval of the expected CLV*
    (``expected_clv_lower``/``upper``: parameter uncertainty only); a thin bar with
    end ticks is the *predictive interval of the realized CLV*
    (``clv_predictive_lower``/``upper``: also what the customer will actually do),
    which is much wider. The dot is the expected CLV.

    Parameters
    ----------
    clv_table : DataFrame
        From :func:`clvmodels.customer_lifetime_value`, indexed by customer.
    n : int
        Number of customers shown, highest at the top.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Collections ``"Predictive interval ..."`` and ``"Credible interval ..."`` and
        the line of points, in that order.

    Examples
    --------
    >>> table = pd.DataFrame({"expected_clv": [5.0, 9.0], "expected_clv_lower": [4.0, 8.0],
    ...                       "expected_clv_upper": [6.0, 10.0], "clv_predictive_lower": [0.0, 0.0],
    ...                       "clv_predictive_upper": [20.0, 30.0]}, index=[101, 102])
    >>> ax = plot_top_customers(table, n=2)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['102', '101']
    """
    owner = "plot_top_customers"
    cols = ["expected_clv", "expected_clv_lower", "expected_clv_upper",
            "clv_predictive_lower", "clv_predictive_upper"]
    _clv_columns(clv_table, cols, owner)
    check_parameter("n", owner, n, isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                    and n >= 1, "an int >= 1")
    top = clv_table[cols].nlargest(n, "expected_clv")
    y = np.arange(len(top))
    level = clv_table.attrs.get("level")
    pct = f"{level:.0%} " if level else ""
    ax = _axes(ax)
    ax.hlines(y, top["clv_predictive_lower"], top["clv_predictive_upper"], color="#1b9e77",
              lw=1.2, label=f"{pct}predictive interval: what the customer may actually "
                            "be worth")
    ax.plot(np.r_[top["clv_predictive_lower"], top["clv_predictive_upper"]], np.r_[y, y], "|",
            color="#1b9e77", ms=7)
    ax.hlines(y, top["expected_clv_lower"], top["expected_clv_upper"], color="#7570b3",
              lw=6, alpha=0.8, label=f"{pct}credible interval of the expected CLV "
                                     "(parameter uncertainty)")
    ax.plot(top["expected_clv"], y, "o", color="black", ms=4, label="Expected CLV")
    ax.set_yticks(y, [str(i) for i in top.index])
    if len(top) > 25:
        ax.tick_params(axis="y", labelsize="x-small")
    ax.invert_yaxis()
    ax.set_xlim(left=min(0.0, float(top["clv_predictive_lower"].min())))
    horizon = clv_table.attrs.get("horizon")
    ax.set_xlabel(f"CLV{f' over the next {horizon}' if horizon else ''} ($)"
                  + _horizon_note(clv_table.attrs))
    ax.set_ylabel("Customer ID")
    ax.set_title(f"Top {len(top)} customers by expected CLV")
    # below the axes: inside, it would cover the lowest customers' intervals
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize="small",
              frameon=False)
    return ax


# ----------------------------------------------------------------- parameters
def plot_parameter_posterior(model, *, axes=None):
    """One histogram per parameter of the model's draws, with the point estimate.

    For maximum-likelihood and MAP fits the draws come from the normal approximation
    on the log scale; for MCMC and ADVI they are posterior draws (all chains pooled).

    Parameters
    ----------
    model : BetaGeoModel or GammaGammaModel
        Fitted model.
    axes : array of matplotlib Axes, optional
        At least one per parameter; a new figure (2 columns) when None.

    Returns
    -------
    ndarray of matplotlib Axes
        One per parameter, in ``model.param_names`` order.

    Examples
    --------
    >>> from clvmodels import BetaGeoModel
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> axes = plot_parameter_posterior(BetaGeoModel(draws=200).fit(load_cdnow_summary()))
    >>> [ax.get_title() for ax in axes]
    ['r', 'alpha', 'a', 'b']
    """
    owner = "plot_parameter_posterior"
    if not isinstance(model, BaseModel):
        raise TypeError(f"The 'model' parameter of {owner} must be a fitted clvmodels model. "
                        f"Got {type(model).__name__} instead.")
    draws, point = model.param_draws(), model.point_params()
    names = list(model.param_names)
    if axes is None:
        import matplotlib.pyplot as plt

        ncols = 2 if len(names) > 1 else 1
        nrows = -(-len(names) // ncols)
        fig, grid = plt.subplots(nrows, ncols, figsize=(6.4, 2.4 * nrows + 0.6),
                                 layout="constrained", squeeze=False)
        grid = grid.ravel()
        for extra in grid[len(names):]:
            extra.set_visible(False)
    else:
        grid = np.ravel(np.asarray(axes, dtype=object))
        if grid.size < len(names):
            raise ValueError(f"The 'axes' parameter of {owner} must hold at least "
                             f"{len(names)} Axes (one per parameter). Got {grid.size} instead.")
        fig = grid[0].figure
    meaning = {"r": "Shape of purchase rates", "alpha": f"Scale of purchase rates ({_units(model)})",
               "a": "Dropout, first shape", "b": "Dropout, second shape",
               "p": "Shape of purchase amounts", "q": "Shape of spend levels",
               "gamma": "Scale of spend levels ($)"}
    kind = {"mle": "maximum likelihood, normal approximation",
            "map": "MAP, normal approximation", "mcmc": "MCMC", "advi": "ADVI"}.get(
        getattr(model, "fit_method_", ""), "")
    for ax, name in zip(grid, names):
        ax.hist(draws[name], bins=30, color="#a6bddb", edgecolor="white", lw=0.4,
                label="Draws")
        ax.axvline(point[name], color=MODEL_COLOR, lw=2, label="Point estimate")
        ax.set_title(name)
        ax.set_xlabel(meaning.get(name, "Value"))
        ax.set_ylabel("Draws")
    n_draws = next(iter(draws.values())).size
    if axes is None:  # a figure of our own: one legend for all panels, under them
        fig.legend(*grid[0].get_legend_handles_labels(), loc="outside lower center", ncols=2,
                   frameon=False)
        fig.suptitle(f"Uncertainty of the {type(model).__name__} parameters\n{n_draws:,} draws"
                     + (f" ({kind})" if kind else ""))
    else:
        grid[0].legend(fontsize="small")
    return grid[: len(names)]


# ------------------------------------------------------------------- survival
def plot_survival(actual, projected, *, periods=None, calibration_periods=None, ax=None,
                  label: str = "customers still active", time_unit: str | None = None):
    """Retention of a contractual cohort: actual counts or shares vs projected.

    Shares (every value in [0, 1]) get a percent axis; anything else is read as
    counts of customers.

    Parameters
    ----------
    actual : array-like
        Observed values for the first ``len(actual)`` periods.
    projected : array-like
        Model values, usually reaching beyond the observed periods.
    periods : array-like, optional
        x positions of the longer of the two series (the shorter uses the first
        ones); default ``0, 1, 2, ...`` (0 = acquisition).
    calibration_periods : float, optional
        x position of the end of the calibration data (a vertical line).
    ax : matplotlib Axes, optional
    label : str
        What is counted, for the y axis and title.
    time_unit : str, optional
        Length of one period ('month', ...), for the x axis label.

    Returns
    -------
    matplotlib Axes
        Lines ``"Actual"`` and ``"Projected by the model"``.

    Examples
    --------
    >>> ax = plot_survival([1.0, 0.63, 0.47], [1.0, 0.64, 0.48, 0.39, 0.33],
    ...                    calibration_periods=2, time_unit="year")
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('Years since acquisition', 'Customers still active (share)')
    """
    owner = "plot_survival"
    if time_unit is not None:
        time_unit = check_time_unit(time_unit, owner)
    series = {}
    for name, v in (("actual", actual), ("projected", projected)):
        try:
            arr = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"The {name!r} parameter of {owner} must be an array of numbers. "
                            f"Got {type(v).__name__} instead.") from None
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"The {name!r} parameter of {owner} must be a non-empty 1-D "
                             f"array of numbers. Got shape {np.shape(v)} instead.")
        series[name] = arr
    longest = max(series["actual"].size, series["projected"].size)
    x = np.arange(longest, dtype=np.float64) if periods is None else np.asarray(
        periods, dtype=np.float64)
    if x.shape != (longest,):
        raise ValueError(f"The 'periods' parameter of {owner} must have one value per period "
                         f"of the longer series ({longest}). Got shape {x.shape} instead.")
    finite = np.concatenate([a[np.isfinite(a)] for a in series.values()])
    shares = finite.size > 0 and finite.min() >= 0 and finite.max() <= 1

    ax = _axes(ax)
    ax.plot(x[: series["actual"].size], series["actual"], "o-", color=ACTUAL_COLOR, ms=4,
            label="Actual")
    ax.plot(x[: series["projected"].size], series["projected"], "--", color=MODEL_COLOR, lw=2,
            label="Projected by the model")
    if calibration_periods is not None:
        # at the bottom: retention curves are high on the left of the line
        ax.axvline(calibration_periods, color="0.5", lw=1, ls=":")
        ax.text(calibration_periods, 0.03, "end of calibration ",
                transform=ax.get_xaxis_transform(), rotation=90, ha="right", va="bottom",
                color="0.3", fontsize="small")
    ylabel = label[:1].upper() + label[1:]
    if shares:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(0, 1.02)
        ax.set_ylabel(f"{ylabel} (share)")
    else:
        ax.set_ylim(bottom=0)
        ax.set_ylabel(ylabel)
    ax.set_xlabel(f"{time_unit.capitalize()}s since acquisition" if time_unit
                  else "Periods since acquisition")
    ax.set_title(f"{ylabel}: actual vs projected")
    ax.legend()
    return ax
