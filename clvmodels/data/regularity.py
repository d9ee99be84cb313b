"""Regularity statistics: what the Erlang-k purchase models and the regularity check need
beyond frequency, recency and T.

A customer's *gaps* are the times between her consecutive purchase days (the same
purchase days as :func:`~clvmodels.data.rfm_summary`: same-day transactions are one
purchase), in the summary's time unit. She has ``frequency`` of them and they add up to
``recency``. The models with Erlang-k inter-purchase times (Platzer & Reutterer 2016,
"Ticking Away the Moments: Timing Regularity Helps to Better Predict Customer
Activity", Marketing Science 35(5)) and the regularity check need one more number per
customer, the sum of their logarithms (BTYDplus calls it ``litt``)::

    log_gap_sum = sum over her gaps of log(gap)    (0 without repeat purchases)

It is the ``(k - 1) sum log(gap)`` term of the Erlang density in the likelihood, and
with ``frequency`` and ``recency`` it is all the regularity check
(:func:`clvmodels.evaluation.regularity.estimate_regularity`) needs. Gaps are whole
numbers of days (at least one) divided by the unit's length, so
``log_gap_sum = sum log(gap in days) - frequency * log(days per unit)``; the pandas and
DuckDB summaries compute it that way (``regularity=True``).

By the inequality of arithmetic and geometric means ``log_gap_sum <= frequency *
log(recency / frequency)``, with equality when all gaps are equal; :func:`log_gap_sum_array`
checks it, which also catches a column in another time unit than the summary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, format_examples
from .purchase_days import PurchaseDays

__all__ = [
    "LOG_GAP_SUM",
    "duckdb_log_gap_days",
    "log_gap_sum_array",
    "log_gap_sum_column",
    "log_gap_sums",
    "purchase_gaps",
]

#: the summary column holding each customer's sum of log gaps
LOG_GAP_SUM = "log_gap_sum"


def _gap_pairs(p: PurchaseDays, upto: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the purchase days that end a gap (not a customer's first, on or before
    day number ``upto`` if given) and the gaps in days."""
    later = ~p.pair_first
    if upto is not None:
        later &= p.pair_day <= upto - p.start
    ends = np.flatnonzero(later)
    # pairs are sorted by customer then day, and a kept day's predecessor is kept too
    gaps = p.pair_day[ends].astype(np.int64) - p.pair_day[ends - 1].astype(np.int64)
    return ends, gaps


def log_gap_sums(p: PurchaseDays, keep: np.ndarray, upto: int | None,
                 unit_days: float) -> np.ndarray:
    """``log_gap_sum`` of the customers ``keep`` (codes, in summary row order) from their
    purchase days on or before day number ``upto`` (all if None), gaps in units of
    ``unit_days`` days.

    >>> from clvmodels.data.purchase_days import purchase_days
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1, 2],
    ...                    "date": ["2024-01-01", "2024-01-08", "2024-01-22", "2024-01-05"]})
    >>> p = purchase_days(tx, customer_col="customer_id", date_col="date", amount_col=None,
    ...                   allow_refunds=False, date_format=None)
    >>> log_gap_sums(p, np.array([0, 1]), None, 7.0).round(4).tolist()  # log 1 + log 2
    [0.6931, 0.0]
    """
    ends, gaps = _gap_pairs(p, upto)
    customer = p.pair_customer[ends].astype(np.intp)
    n = p.ids.size
    days = np.bincount(customer, weights=np.log(gaps), minlength=n)[keep]
    count = np.bincount(customer, minlength=n)[keep]
    return days - count * np.log(unit_days)


def purchase_gaps(p: PurchaseDays, keep: np.ndarray, upto: int | None,
                  unit_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Every gap of the customers ``keep`` (codes, in summary row order): the summary row
    of its customer and its length in units of ``unit_days`` days (purchase days on or
    before day number ``upto``; all if None). For the regularity check's plot."""
    ends, gaps = _gap_pairs(p, upto)
    row_of = np.full(p.ids.size, -1, dtype=np.intp)
    row_of[keep] = np.arange(keep.size)
    rows = row_of[p.pair_customer[ends].astype(np.intp)]
    mine = rows >= 0
    return rows[mine], gaps[mine] / unit_days


def duckdb_log_gap_days(con, view: str = "src") -> pd.Series:
    """Per customer (``c`` of the DuckDB ``view``, with dates ``d``) the sum of the logs
    of her gaps in days, over her distinct purchase days; customers without a gap are
    absent (their sum is 0)."""
    df = con.execute(f"""
        WITH days AS (SELECT DISTINCT c, d FROM {view}),
        gaps AS (SELECT c, date_diff('day', lag(d) OVER (PARTITION BY c ORDER BY d), d) AS g
                 FROM days)
        SELECT c, SUM(ln(g)) AS s FROM gaps WHERE g IS NOT NULL GROUP BY c""").df()
    return pd.Series(df["s"].to_numpy(dtype=np.float64), index=pd.Index(df["c"]))


def log_gap_sum_column(log_gap_days: pd.Series, customers, frequency: np.ndarray,
                       unit_days: float) -> np.ndarray:
    """``log_gap_sum`` in the summary's row order (``customers``) from
    :func:`duckdb_log_gap_days`: the sum in days minus ``frequency * log(unit_days)``."""
    days = log_gap_days.reindex(pd.Index(customers)).fillna(0.0).to_numpy(dtype=np.float64)
    return days - np.asarray(frequency, dtype=np.float64) * np.log(unit_days)


def log_gap_sum_array(data: pd.DataFrame, frequency: np.ndarray, recency: np.ndarray,
                      owner: str) -> np.ndarray:
    """The ``log_gap_sum`` column of a summary as float64, checked against ``frequency``
    and ``recency`` (already validated): finite, 0 without repeat purchases, ``log(recency)``
    with one, and at most ``frequency * log(recency / frequency)`` (equal gaps) otherwise.

    >>> s = pd.DataFrame({"frequency": [2], "recency": [3.0], "log_gap_sum": [5.0]})
    >>> log_gap_sum_array(s, np.array([2.0]), np.array([3.0]), "demo")
    Traceback (most recent call last):
    ...
    clvmodels.errors.DataError: demo: 'log_gap_sum' is larger than frequency * log(recency / frequency) in 1 row(s), first customer ids [0]: no gaps adding up to recency have that sum of logs. Is the column in another time unit than recency? Rebuild the summary with rfm_summary(..., regularity=True).
    """
    if LOG_GAP_SUM not in data.columns:
        raise DataError(
            f"{owner}: missing column {LOG_GAP_SUM!r} (each customer's sum of the logs of her "
            "inter-purchase times); the data has "
            f"{list(data.columns)[:20]}. Build the summary with rfm_summary(..., "
            "regularity=True) or calibration_holdout_summary(..., regularity=True).")
    try:
        v = pd.to_numeric(data[LOG_GAP_SUM], errors="raise").to_numpy(
            dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{owner}: column {LOG_GAP_SUM!r} must be numeric ({exc}).") from None
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    rebuild = "Rebuild the summary with rfm_summary(..., regularity=True)."

    def refuse(bad, what, why=". "):
        ids = data.index[bad]
        raise DataError(f"{owner}: {LOG_GAP_SUM!r} {what} in {int(bad.sum())} row(s), first "
                        f"customer ids {format_examples(ids.tolist())}{why}{rebuild}")

    bad = ~np.isfinite(v)
    if bad.any():
        refuse(bad, "is missing or infinite")
    bad = (x == 0) & (v != 0)
    if bad.any():
        refuse(bad, "is not 0 for customers without repeat purchases (no gaps)")
    rep = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(rep, x * np.log(t_x / np.where(rep, x, 1.0)), 0.0)
    bad = rep & (v > bound + 1e-9 * (1.0 + np.abs(bound)))
    if bad.any():
        refuse(bad, "is larger than frequency * log(recency / frequency)",
               ": no gaps adding up to recency have that sum of logs. Is the column in another "
               "time unit than recency? ")
    return v
