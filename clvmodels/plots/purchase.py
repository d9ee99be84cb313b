"""Checks of a purchase model against the data (Fader, Hardie & Lee 2005, Figures 2-4):
repeat-purchase frequencies, calibration vs holdout, cohort tracking, and the
P(alive) / expected-purchases heatmaps over purchase histories."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.compress import compress_rows
from ..data.summary import repeat_purchase_tracking
from ..errors import DataError, IncompatibleModelError, check_parameter
from ..models.inputs import summary_arrays
from ..models.purchase.base import expected_cumulative_purchases
from ..timeunits import (
    convert_duration,
    parse_horizon,
    unit_length_days,
)
from ._common import (
    ACTUAL_COLOR,
    MODEL_COLOR,
    RECENCY_POINTS,
    _axes,
    _check_max_frequency,
    _check_same_unit,
    _day,
    _fitted_bgnbd,
    _fitted_purchase,
    _num,
    _pooled_labels,
    _units,
)


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
    # distinct ages (and covariate patterns: each customer's own parameters)
    own = _own_params(model, summary, n)
    ages_at = compress_rows({"T": arr["T"], "ppat": own.ids}, ["T", "ppat"])
    ages, counts = ages_at.unique["T"], ages_at.weights
    params = own.point(ages_at.unique["ppat"]) if own.linked else params
    # P(X = k) for k < max_frequency at every distinct age; the formula holds
    # (max_frequency + 1) x max_frequency numbers per age, so ages go in blocks
    step = max(1, 4_000_000 // ((max_frequency + 1) * max_frequency))
    p = np.concatenate([
        model._formula("probability_of_purchases")(
            **{k: (v[None, i:i + step] if np.ndim(v) else v) for k, v in params.items()},
            k=np.arange(max_frequency)[:, None], t=ages[None, i:i + step])
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
    own = _own_params(model, cal_holdout_summary, arr["T"].size)
    arr["ppat"] = own.ids
    comp = compress_rows(arr, ["frequency", "recency", "T", "holdout_length", "ppat"])
    u = comp.unique
    if own.linked:  # each customer's own parameters
        params = own.point(u["ppat"])
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
    :func:`~clvmodels.models.purchase.bgnbd.bgnbd_expected_cumulative_purchases`), less what
    she was expected to buy before ``start``. Her first purchase is placed on the
    same clock from the summary: ``first = (reference - start) - T`` in model units,
    where ``reference`` is ``summary.attrs["calibration_end"]`` (or
    ``"observation_end"``, or the ``calibration_end`` argument when the summary has
    no such attrs), the day ``T`` was measured to.

    Parameters
    ----------
    model : PurchaseModel or dict of str to PurchaseModel
        Model fitted on the calibration period (any purchase model:
        :class:`~clvmodels.models.purchase.base.PurchaseModel`), or several by name, each
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
        expected = _cumulative_purchases(m, summary, first, np.append(0.0, period_end))
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


def _own_params(model, data: pd.DataFrame, n: int):
    """Each customer's parameters (:class:`~clvmodels.value.rows.RowParams`): one set
    for all customers, or one per covariate pattern for a model with covariates."""
    from ..value.rows import RowParams

    return RowParams(model, data, n)


def _cumulative_purchases(model, summary, first, t) -> np.ndarray:
    """The cohort's expected cumulative repeat purchases by times ``t``: the model's own
    (:meth:`~clvmodels.models.purchase.base.PurchaseModel.expected_cumulative_purchases`),
    or, with covariates, the sum over covariate patterns of each pattern's customers
    at that pattern's parameters."""
    own = _own_params(model, summary, len(first))
    if not own.linked:
        return model.expected_cumulative_purchases(first, t)
    new = model._formula("expected_purchases_new")
    total = 0.0
    for j in np.unique(own.ids):  # one pass per pattern, vectorized over its customers
        params = own.point(np.array([j]))
        total = total + expected_cumulative_purchases(
            lambda age, params=params: new(**params, t=age), first[own.ids == j], t)
    return total


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
