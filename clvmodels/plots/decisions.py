"""Plots for decisions: how concentrated value is (a Lorenz-style concentration
curve), how well a forecast ranks customers (gains curve), forecast against actual
money by decile, expected cash flows per period with their ranges, and the expected
value of each segment with its two ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from ._common import ACTUAL_COLOR, MODEL_COLOR, _axes

__all__ = ["plot_cash_flows", "plot_concentration", "plot_decile_check", "plot_gains",
           "plot_segment_values"]


def _percent_axes(ax) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)


def _money_axis(axis) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.0f}"))


def _values(values, owner: str, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0 or not np.isfinite(arr).all():
        raise DataError(f"{owner}: {name!r} must be a non-empty array of finite numbers; it has "
                        f"{arr.size} value(s), {int((~np.isfinite(arr)).sum())} not finite.")
    return arr


def plot_concentration(values, *, top: float = 0.20, label: str = "expected value", ax=None):
    """Share of customers (highest value first) against the share of the total
    ``values`` they hold, with the share held by the ``top`` customers marked.

    Parameters
    ----------
    values : array-like
        One non-negative value per customer (e.g. ``expected_clv``).
    top : float
        Share of customers whose share of value is marked (0.20: the top 20%).
    label : str
        What the values are, for the axis and title.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_concentration([10.0, 0.0, 0.0, 0.0, 0.0])
    >>> float(ax.lines[0].get_ydata()[1])  # the top customer (20%) holds all of it
    1.0
    """
    v = np.sort(_values(values, "plot_concentration", "values"))[::-1]
    total = v.sum()
    x = np.arange(v.size + 1) / v.size
    y = np.r_[0.0, np.cumsum(v)] / (total if total > 0 else 1.0)
    ax = _axes(ax)
    ax.plot(x, y, color=MODEL_COLOR, lw=2, label=f"Customers ranked by {label}")
    ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1, label="Every customer worth the same")
    k = int(np.ceil(top * v.size))
    share = float(y[k])
    ax.plot([k / v.size, k / v.size, 0], [0, share, share], color=ACTUAL_COLOR, lw=1, ls="--")
    ax.annotate(f"top {top:.0%} of customers:\n{share:.0%} of the {label}",
                xy=(k / v.size, share), xytext=(12, -30), textcoords="offset points",
                fontsize=9, bbox={"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.9})
    _percent_axes(ax)
    ax.set_xlabel("Share of customers (highest value first)")
    ax.set_ylabel(f"Share of total {label}")
    ax.set_title(f"How concentrated the {label} is")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_gains(predicted, actual, *, what: str = "actual holdout spend", ax=None):
    """Gains curve: the share of ``actual`` held by the customers with the highest
    ``predicted`` values, against a perfect ranking (by ``actual`` itself) and a random
    one (the diagonal); the legend gives the normalized Gini coefficient
    (:func:`~clvmodels.evaluation.holdout_value.gains_curve`).

    Examples
    --------
    >>> ax = plot_gains([3.0, 2.0, 1.0], [5.0, 0.0, 1.0])
    >>> [line.get_label() for line in ax.lines][:2]
    ['The forecast (normalized Gini 0.80)', 'Perfect ranking']
    """
    from ..evaluation.holdout_value import gains_curve

    p = _values(predicted, "plot_gains", "predicted")
    a = _values(actual, "plot_gains", "actual")
    if p.size != a.size:
        raise DataError(f"plot_gains: 'predicted' has {p.size} values and 'actual' {a.size}; "
                        "give one of each per customer.")
    x, y = gains_curve(p, a)
    xp, yp = gains_curve(a, a)

    def gini(xs, ys):
        return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1])) - 1.0)

    g, gp = gini(x, y), gini(xp, yp)
    ax = _axes(ax)
    ax.plot(x, y, color=MODEL_COLOR, lw=2,
            label=f"The forecast (normalized Gini {g / gp if gp > 0 else np.nan:.2f})")
    ax.plot(xp, yp, color=ACTUAL_COLOR, lw=1.2, ls="--", label="Perfect ranking")
    ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1, label="Random order")
    _percent_axes(ax)
    ax.set_xlabel("Share of customers (highest forecast first)")
    ax.set_ylabel(f"Share of {what}")
    ax.set_title("Gains: does the forecast find the customers who spend?")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_decile_check(deciles: pd.DataFrame, *, what: str = "holdout spend", ax=None):
    """Forecast against actual money per group of the forecast (highest first): the
    ``deciles`` table of :func:`~clvmodels.evaluation.holdout_value.evaluate_holdout_value`
    (``expected_spend``, ``actual_spend``).

    Examples
    --------
    >>> table = pd.DataFrame({"expected_spend": [50.0, 10.0], "actual_spend": [45.0, 12.0]},
    ...                      index=pd.Index([1, 2], name="group"))
    >>> len(plot_decile_check(table).patches)
    4
    """
    missing = [c for c in ("expected_spend", "actual_spend") if c not in deciles.columns]
    if missing:
        raise DataError(f"plot_decile_check: missing column(s) {missing}; pass the 'deciles' "
                        "table of evaluate_holdout_value().")
    x = np.arange(len(deciles))
    ax = _axes(ax)
    ax.bar(x - 0.2, deciles["actual_spend"], width=0.4, color=ACTUAL_COLOR, label="Actual")
    ax.bar(x + 0.2, deciles["expected_spend"], width=0.4, color=MODEL_COLOR,
           label="Forecast (model fitted before the holdout)")
    ax.set_xticks(x, [str(i) for i in deciles.index])
    _money_axis(ax.yaxis)
    ax.set_xlabel(f"Group of customers by forecast (1 = the {100 // max(len(deciles), 1)}% "
                  "with the highest forecast)")
    ax.set_ylabel(f"{what[:1].upper() + what[1:]} ($)")
    ax.set_title(f"{what[:1].upper() + what[1:]}: forecast against actual, by group")
    ax.legend(fontsize="small")
    return ax


def plot_cash_flows(table: pd.DataFrame, *, ax=None):
    """Expected value per period with its range: a table with ``label``,
    ``expected``, ``lower`` and ``upper`` columns (one row per period, in order).

    Examples
    --------
    >>> t = pd.DataFrame({"label": ["Q1", "Q2"], "expected": [10.0, 8.0],
    ...                   "lower": [9.0, 7.0], "upper": [11.0, 9.5]})
    >>> len(plot_cash_flows(t).patches)
    2
    """
    missing = [c for c in ("label", "expected", "lower", "upper") if c not in table.columns]
    if missing:
        raise DataError(f"plot_cash_flows: missing column(s) {missing}; the table needs "
                        "label, expected, lower and upper.")
    x = np.arange(len(table))
    mid = table["expected"].to_numpy(dtype=np.float64)
    ax = _axes(ax)
    ax.bar(x, mid, color="#7570b3", alpha=0.85, label="Expected")
    ax.errorbar(x, mid, yerr=[mid - table["lower"].to_numpy(dtype=np.float64),
                              table["upper"].to_numpy(dtype=np.float64) - mid],
                fmt="none", ecolor="black", capsize=3, lw=1, label=table.attrs.get(
                    "range_label", "credible range"))
    step = max(1, int(np.ceil(len(table) / 12)))
    ax.set_xticks(x[::step], list(table["label"])[::step], rotation=45, ha="right",
                  fontsize="small")
    _money_axis(ax.yaxis)
    ax.set_ylabel(table.attrs.get("value_label", "Expected value ($)"))
    ax.set_title(table.attrs.get("title", "Expected value per period"))
    ax.legend(fontsize="small")
    return ax


_SEGMENT_COLUMNS = ("expected_total", "expected_total_lower", "expected_total_upper",
                    "predictive_total_lower", "predictive_total_upper")


def plot_segment_values(table: pd.DataFrame, *, level: float | None = None,
                        what: str = "Expected value", group: str = "segment",
                        sort: bool = True, ax=None):
    """Expected value of each segment (a dot) with its credible range (a thick bar)
    and its predictive range (a thin whisker with caps): the table of
    :func:`~clvmodels.value.portfolio.portfolio_value` with ``by=`` (one row per
    segment), largest expected value at the top.

    The credible range is what the segment's *expected* total could be given what the
    data leave uncertain about the model; the predictive range is what the segment's
    customers may *actually* bring. The predictive range holds the credible one up to
    simulation noise.

    Parameters
    ----------
    table : DataFrame
        Columns ``expected_total``, ``expected_total_lower``/``upper`` and
        ``predictive_total_lower``/``upper``; the index names the segments.
    level : float, optional
        Probability of both ranges, for the legend (default: ``table.attrs["level"]``).
    what : str
        What the values are, for the axis label.
    group : str
        What a row is (e.g. ``"channel"``), for the title and the axis label.
    sort : bool
        Largest expected value at the top (True) or the table's order from the top
        (False: e.g. quartiles in order).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> t = pd.DataFrame({"expected_total": [100.0, 40.0],
    ...                   "expected_total_lower": [90.0, 35.0],
    ...                   "expected_total_upper": [110.0, 45.0],
    ...                   "predictive_total_lower": [70.0, 20.0],
    ...                   "predictive_total_upper": [140.0, 70.0]}, index=["a", "b"])
    >>> ax = plot_segment_values(t, level=0.9)
    >>> [t.get_text() for t in ax.get_yticklabels()]  # largest first, at the top
    ['b', 'a']
    >>> ax.get_legend().get_texts()[1].get_text()
    '90% credible range (expected total)'
    """
    missing = [c for c in _SEGMENT_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"plot_segment_values: missing column(s) {missing}; pass the table of "
                        "portfolio_value(..., by='segment').")
    # rows are drawn bottom-up: the largest (or the table's first) on top
    t = table.sort_values("expected_total") if sort else table.iloc[::-1]
    mid = _values(t["expected_total"], "plot_segment_values", "expected_total")
    level = t.attrs.get("level", table.attrs.get("level")) if level is None else level
    pct = f"{level:.0%} " if level is not None else ""
    y = np.arange(len(t))
    ax = _axes(ax)
    ax.errorbar(mid, y, xerr=[mid - t["predictive_total_lower"].to_numpy(dtype=np.float64),
                              t["predictive_total_upper"].to_numpy(dtype=np.float64) - mid],
                fmt="none", ecolor=ACTUAL_COLOR, elinewidth=1, capsize=5, zorder=2,
                label=f"{pct}predictive range (what may actually come in)")
    ax.hlines(y, t["expected_total_lower"], t["expected_total_upper"], color=MODEL_COLOR,
              lw=7, alpha=0.55, zorder=3, label=f"{pct}credible range (expected total)")
    ax.plot(mid, y, "o", color=MODEL_COLOR, ms=6, zorder=4, label="Expected value")
    ax.set_yticks(y, [str(i) for i in t.index])
    ax.set_ylim(-0.6, len(t) - 0.4)
    _money_axis(ax.xaxis)  # dots and ranges, no bars: the axis need not start at $0
    ax.set_xlabel(f"{what} of the {group}'s customers ($)")
    ax.set_title(f"{what}, by {group}")
    ax.grid(axis="x", color="0.9", lw=0.8)
    ax.set_axisbelow(True)
    # legend below the chart (never over a segment): the dot, the credible bar, the
    # predictive whisker
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(s) for s in sorted(labels, key=lambda s: (
        not s.startswith("Expected"), "predictive" in s))]
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize="small",
              loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, frameon=False)
    return ax
