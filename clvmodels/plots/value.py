"""Plots of a CLV table: the distribution of value and the top customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, check_parameter
from ._common import (
    _axes,
    _money,
)

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
    style = {"color": "#7570b3", "edgecolor": "white", "lw": 0.5}
    shown = np.maximum(values, low) if log_bins else values
    counts, edges, _ = ax.hist(shown, bins=np.geomspace(low, positive.max(), 41) if log_bins
                               else 40, **style)
    if log_bins:
        ax.set_xscale("log")
    if money:  # $1, $10, $100 rather than 10^0, 10^1, 10^2
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda v, _: f"${v:,.0f}" if v >= 1 else f"${v:.2g}"))
    _explain_spike(ax, clv_table, column, shown, counts, edges)
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
    tail = tail.strip()
    sep = ("\n" if len(head) + len(tail) > 50 else " ") if tail.startswith("(") else (
        ",\n" if len(head) + len(tail) > 50 else ", ")
    ax.set_title(head + (sep + tail if tail else ""))
    return ax


def _explain_spike(ax, table, column, shown, counts, edges) -> None:
    """Label a bar that holds a quarter or more of the customers: customers with the same
    history (most often no repeat purchase yet) get about the same value. ``shown`` are
    the plotted values (finite rows of ``column``, as binned)."""
    top = int(np.argmax(counts))
    share = counts[top] / max(shown.size, 1)
    if share < 0.25:
        return
    text = f"{int(counts[top]):,} customers ({share:.0%})\nwith about the same value"
    if "frequency" in table.columns:
        finite = np.isfinite(pd.to_numeric(table[column], errors="coerce").to_numpy(float))
        freq = pd.to_numeric(table["frequency"], errors="coerce").to_numpy(float)[finite]
        inside = (shown >= edges[top]) & (shown <= edges[top + 1])
        no_repeat = float(np.mean(freq[inside] == 0)) if inside.any() else 0.0
        if no_repeat >= 0.5:
            text += f":\n{no_repeat:.0%} of them have no repeat purchase yet"
    x = (np.sqrt(edges[top] * edges[top + 1]) if ax.get_xscale() == "log"
         else (edges[top] + edges[top + 1]) / 2)
    ax.annotate(text, xy=(x, counts[top]), xytext=(12, -4), textcoords="offset points",
                va="top", fontsize=8.5, bbox={"boxstyle": "round", "fc": "white", "ec": "none",
                                              "alpha": 0.9})


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
