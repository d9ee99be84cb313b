"""Per-customer RFM summaries, the calibration/holdout split and the tracking series.

The convention is the one of Fader, Hardie & Lee (2005), "Counting Your Customers
the Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2):

* all transactions of a customer on the same calendar day are one purchase, whose
  amount is the sum of that day's amounts;
* ``frequency`` is the number of distinct purchase days after the first;
* ``recency`` is last purchase day minus first purchase day, and ``T`` is
  observation end minus first purchase day, both day counts divided by the length
  of the time unit in days (:mod:`clvmodels.timeunits`);
* ``monetary_value`` is the mean of the repeat purchase days' amounts (the first
  purchase excluded) and NaN for customers without repeat purchases (lifetimes
  reports 0 there; NaN keeps "no repeat purchase" apart from "spent nothing").

The distinct purchase days come from :mod:`clvmodels.data.purchase_days` (one hash
of the customer ids and one sort of 32-bit keys); everything else is numpy reductions.
"""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pandas as pd

from clvmodels.data.purchase_days import PurchaseDays, in_id_order, purchase_days
from clvmodels.data.regularity import LOG_GAP_SUM, log_gap_sums
from clvmodels.data.transactions import day_to_iso, parse_day
from clvmodels.errors import DataError
from clvmodels.timeunits import check_time_unit, unit_length_days

__all__ = ["rfm_summary", "calibration_holdout_summary", "repeat_purchase_tracking"]

Source = pd.DataFrame | str | os.PathLike


def _rfm_columns(
    p: PurchaseDays, upto: int | None, end_day: int, unit_days: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Customers with a purchase on or before day number ``upto`` (all if None), in
    id order, and their RFM columns from those purchases (``T`` measured to
    ``end_day``)."""
    n = p.ids.size
    upto_rel = None if upto is None else upto - p.start
    pairs = None if upto is None else p.pair_day <= upto_rel
    # pairs are sorted by customer then day, and ``pairs`` keeps a prefix of each
    # customer's run: a run starts at its first day and ends at its last kept day
    pair_first = p.pair_first if pairs is None else p.pair_first[pairs]
    pair_day = p.pair_day if pairs is None else p.pair_day[pairs]
    starts = np.flatnonzero(pair_first)
    ends = np.append(starts[1:], pair_day.size) - 1
    present = (p.pair_customer if pairs is None else p.pair_customer[pairs])[starts]
    n_days = np.zeros(n, dtype=np.int64)
    n_days[present] = ends - starts + 1
    last = np.zeros(n, dtype=np.int64)
    last[present] = pair_day[ends]
    keep = in_id_order(present.astype(np.intp), p.ids)
    first = p.first[keep].astype(np.int64)
    frequency = n_days[keep] - 1
    columns = {
        "frequency": frequency,
        "recency": (last[keep] - first) / unit_days,
        "T": (end_day - p.start - first) / unit_days,
    }
    if p.amount is not None:
        # every row not on its customer's first day belongs to a repeat purchase day
        first_day_row = p.days == p.first[p.codes]
        if upto is not None:
            first_day_row |= p.days > upto_rel
        weights = np.where(first_day_row, 0.0, p.amount)
        total = np.bincount(p.codes, weights=weights, minlength=n)[keep]
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["monetary_value"] = np.where(frequency > 0, total / frequency, np.nan)
    return keep, columns


def rfm_summary(
    transactions: Source,
    *,
    observation_end: object = None,
    time_unit: str = "week",
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    allow_refunds: bool = False,
    date_format: str | None = None,
    regularity: bool = False,
    covariates: pd.DataFrame | None = None,
    covariate_cols=None,
) -> pd.DataFrame:
    """Frequency, recency, age and mean spend of each customer.

    Parameters
    ----------
    transactions : DataFrame, str or path
        Raw transactions, validated by :func:`~clvmodels.data.load_transactions`
        (which documents ``customer_col``, ``date_col``, ``amount_col``,
        ``allow_refunds`` and ``date_format``).
    observation_end : date-like, optional
        Last day observed, inclusive; defaults to the last transaction date.
        Transactions after it are an error.
    time_unit : {'day', 'week', 'month', 'year'}
        Unit of ``recency`` and ``T``: day counts divided by 1, 7, 365.25/12 or
        365.25.
    regularity : bool
        Also ``log_gap_sum``, each customer's sum of the logs of her times between
        purchase days, in ``time_unit`` (:mod:`clvmodels.data.regularity`): what the
        Erlang-k models and the regularity check need.
    covariates : DataFrame, optional
        Per-customer covariates with a ``customer_col`` column, joined on by
        :func:`~clvmodels.data.covariates.attach_covariates` (which lists what it
        refuses: customers without covariates, duplicates, constant or collinear
        columns); ``covariate_cols`` picks the columns (default all).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted), with ``frequency`` (int64: distinct
        purchase days after the first), ``recency`` and ``T`` (float64, in
        ``time_unit``) and, with amounts, ``monetary_value`` (mean of the repeat
        purchase days' summed amounts; NaN when ``frequency`` is 0); with
        ``regularity``, ``log_gap_sum``.
        ``attrs`` holds ``time_unit`` and ``observation_end`` ('YYYY-MM-DD').

    Notes
    -----
    Same-day transactions are one purchase (Fader, Hardie & Lee 2005); with
    ``allow_refunds=True`` a refund nets out in its day's total.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 1, 2],
    ...     "date": ["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-22", "2024-01-15"],
    ...     "amount": [5.0, 5.0, 20.0, 30.0, 8.0],
    ... })
    >>> s = rfm_summary(tx, observation_end="2024-01-29")
    >>> s  # doctest: +NORMALIZE_WHITESPACE
                 frequency  recency    T  monetary_value
    customer_id
    1                    2      3.0  4.0            25.0
    2                    0      0.0  2.0             NaN
    >>> s.attrs
    {'time_unit': 'week', 'observation_end': '2024-01-29'}
    """
    unit = check_time_unit(time_unit, "rfm_summary")
    end_day = None if observation_end is None else parse_day(
        observation_end, "observation_end", "rfm_summary"
    )
    p = purchase_days(transactions, customer_col=customer_col, date_col=date_col,
                      amount_col=amount_col, allow_refunds=allow_refunds,
                      date_format=date_format, end_day=end_day, end_name="observation_end")
    end_day = p.end if end_day is None else end_day
    keep, columns = _rfm_columns(p, None, end_day, unit_length_days(unit))
    if regularity:
        columns[LOG_GAP_SUM] = log_gap_sums(p, keep, None, unit_length_days(unit))
    out = pd.DataFrame(columns, index=p.ids[keep].rename("customer_id"))
    out.attrs = {"time_unit": unit, "observation_end": day_to_iso(end_day)}
    return _with_covariates(out, covariates, covariate_cols, customer_col, "rfm_summary")


def _with_covariates(summary, covariates, columns, customer_col, owner):
    if covariates is None:
        if columns is not None:
            raise ValueError(f"{owner}: covariate_cols needs a covariates table "
                             "(covariates=...).")
        return summary
    from .covariates import attach_covariates

    return attach_covariates(summary, covariates, columns=columns, customer_col=customer_col,
                             owner=owner)


def calibration_holdout_summary(
    transactions: Source,
    *,
    calibration_end: object,
    observation_end: object = None,
    time_unit: str = "week",
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    allow_refunds: bool = False,
    date_format: str | None = None,
    regularity: bool = False,
    covariates: pd.DataFrame | None = None,
    covariate_cols=None,
) -> pd.DataFrame:
    """RFM summary of a calibration period plus what each customer did in the holdout.

    Parameters
    ----------
    transactions : DataFrame, str or path
        Raw transactions (see :func:`rfm_summary` for the column arguments).
    calibration_end : date-like
        Last day of the calibration period, inclusive. Only customers whose first
        purchase is on or before it are summarized; ``T`` is measured to it.
    observation_end : date-like, optional
        Last day of the holdout period, inclusive; defaults to the last
        transaction date. Transactions after it are an error.
    time_unit : {'day', 'week', 'month', 'year'}
        Unit of ``recency``, ``T`` and ``holdout_length``.
    regularity : bool
        Also ``log_gap_sum`` of the calibration period's purchase days (see
        :func:`rfm_summary`).
    covariates, covariate_cols : optional
        Per-customer covariates joined on (see :func:`rfm_summary`).

    Returns
    -------
    DataFrame
        The calibration columns of :func:`rfm_summary`, plus
        ``holdout_frequency`` (int64: distinct purchase days in
        (calibration_end, observation_end]), ``holdout_monetary_value`` (mean of
        those days' summed amounts, NaN if none; only with amounts) and
        ``holdout_length`` (observation_end - calibration_end in ``time_unit``,
        the same on every row). ``attrs`` holds ``time_unit``,
        ``calibration_end``, ``observation_end`` and ``holdout_length``.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "c"],
    ...                    "date": ["2024-01-01", "2024-01-08", "2024-01-20", "2024-01-05",
    ...                             "2024-01-20"]})
    >>> calibration_holdout_summary(tx, calibration_end="2024-01-15",
    ...                             observation_end="2024-01-29", time_unit="day",
    ...                             amount_col=None)  # doctest: +NORMALIZE_WHITESPACE
                 frequency  recency     T  holdout_frequency  holdout_length
    customer_id
    a                    1      7.0  14.0                  1            14.0
    b                    0      0.0  10.0                  0            14.0
    """
    owner = "calibration_holdout_summary"
    unit = check_time_unit(time_unit, owner)
    cal_day = parse_day(calibration_end, "calibration_end", owner)
    end_day = None if observation_end is None else parse_day(
        observation_end, "observation_end", owner
    )
    p = purchase_days(transactions, customer_col=customer_col, date_col=date_col,
                      amount_col=amount_col, allow_refunds=allow_refunds,
                      date_format=date_format, end_day=end_day, end_name="observation_end")
    end_given = end_day is not None
    end_day = p.end if end_day is None else end_day
    if cal_day >= end_day:
        which = "observation_end" if end_given else "the last transaction date"
        raise DataError(
            f"calibration_end {day_to_iso(cal_day)} must be before {which} "
            f"{day_to_iso(end_day)}, or the holdout period is empty. Pass an earlier "
            "calibration_end" + (" or a later observation_end." if end_given else ".")
        )
    first_day = p.start
    if cal_day < first_day:
        raise DataError(
            f"calibration_end {day_to_iso(cal_day)} is before the first transaction "
            f"(on {day_to_iso(first_day)}), so no customer is in the calibration period. "
            "Pass a later calibration_end."
        )
    unit_days = unit_length_days(unit)
    keep, columns = _rfm_columns(p, cal_day, cal_day, unit_days)
    if regularity:
        columns[LOG_GAP_SUM] = log_gap_sums(p, keep, cal_day, unit_days)
    n = p.ids.size
    holdout_pairs = p.pair_day > cal_day - p.start
    counts = np.bincount(p.pair_customer[holdout_pairs], minlength=n)[keep]
    columns["holdout_frequency"] = counts.astype(np.int64)
    if p.amount is not None:
        weights = np.where(p.days > cal_day - p.start, p.amount, 0.0)
        totals = np.bincount(p.codes, weights=weights, minlength=n)[keep]
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["holdout_monetary_value"] = np.where(counts > 0, totals / counts, np.nan)
    length = (end_day - cal_day) / unit_days
    columns["holdout_length"] = np.full(keep.size, length)
    out = pd.DataFrame(columns, index=p.ids[keep].rename("customer_id"))
    out.attrs = {
        "time_unit": unit,
        "calibration_end": day_to_iso(cal_day),
        "observation_end": day_to_iso(end_day),
        "holdout_length": length,
    }
    return _with_covariates(out, covariates, covariate_cols, customer_col,
                            "calibration_holdout_summary")


def repeat_purchase_tracking(
    transactions: Source,
    *,
    start: object = None,
    end: object = None,
    time_unit: str = "week",
    customer_col: str = "customer_id",
    date_col: str = "date",
    date_format: str | None = None,
) -> pd.DataFrame:
    """Repeat purchases per period and cumulatively: the "tracking" series.

    Period ``k`` (1, 2, ...) covers the days ``[start + (k-1) u, start + k u)`` for
    a unit of ``u`` days; a day belongs to period ``floor((day - start) / u) + 1``,
    computed exactly in rational arithmetic. A repeat purchase is a purchase day
    after the customer's first (same-day transactions count once), as in the
    tracking plots of Fader, Hardie & Lee (2005).

    Parameters
    ----------
    transactions : DataFrame, str or path
        Raw transactions (see :func:`~clvmodels.data.load_transactions`); amounts
        are not needed and not read.
    start : date-like, optional
        First day of period 1; defaults to the first transaction date. Purchases
        before it still decide which later purchases are repeats, but are not
        counted.
    end : date-like, optional
        Last day tracked, inclusive; defaults to the last transaction date.
        Transactions after it are an error. The last period may be partial if
        ``end`` falls inside it.
    time_unit : {'day', 'week', 'month', 'year'}
        Length of one period.

    Returns
    -------
    DataFrame
        Indexed by ``period`` (1..n), with ``repeat_purchases`` and
        ``cumulative_repeat_purchases`` (int64). ``attrs`` holds ``time_unit``,
        ``start`` and ``end``.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1, 2, 2],
    ...                    "date": ["2024-01-01", "2024-01-03", "2024-01-03",
    ...                             "2024-01-02", "2024-01-16"]})
    >>> repeat_purchase_tracking(tx, end="2024-01-20")  # doctest: +NORMALIZE_WHITESPACE
            repeat_purchases  cumulative_repeat_purchases
    period
    1                      1                            1
    2                      0                            1
    3                      1                            2
    """
    owner = "repeat_purchase_tracking"
    unit = check_time_unit(time_unit, owner)
    start_day = None if start is None else parse_day(start, "start", owner)
    end_day = None if end is None else parse_day(end, "end", owner)
    p = purchase_days(transactions, customer_col=customer_col, date_col=date_col,
                      amount_col=None, allow_refunds=False, date_format=date_format,
                      end_day=end_day, end_name="end")
    start_day = p.start if start_day is None else start_day
    end_day = p.end if end_day is None else end_day
    if end_day < start_day:
        raise DataError(
            f"The tracking period is empty: end {day_to_iso(end_day)} is before start "
            f"{day_to_iso(start_day)}. Pass an earlier start or a later end."
        )
    length = Fraction(unit_length_days(unit))  # exact: 1, 7, 487/16, 1461/4
    num, den = length.numerator, length.denominator
    n_periods = (end_day - start_day) * den // num + 1
    counted = ~p.pair_first & (p.pair_day.astype(np.int64) + p.start >= start_day)
    periods = (p.pair_day[counted].astype(np.int64) + p.start - start_day) * den // num
    per_period = np.bincount(periods, minlength=n_periods).astype(np.int64)
    out = pd.DataFrame(
        {"repeat_purchases": per_period, "cumulative_repeat_purchases": np.cumsum(per_period)},
        index=pd.RangeIndex(1, n_periods + 1, name="period"),
    )
    out.attrs = {"time_unit": unit, "start": day_to_iso(start_day), "end": day_to_iso(end_day)}
    return out
