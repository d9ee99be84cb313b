"""Survival of subscription accounts: the life table against the model."""

from __future__ import annotations

import numpy as np

from ..timeunits import (
    check_time_unit,
)
from ._common import (
    ACTUAL_COLOR,
    MODEL_COLOR,
    _axes,
)


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
