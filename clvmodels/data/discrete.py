"""Discrete-time summaries: did a customer transact in each fixed period or not.

The convention of Fader, Hardie & Berger (2010), "Customer-Base Analysis in a
Discrete-Time Noncontractual Setting", Marketing Science 29(6), for the BG/BB model
(:mod:`clvmodels.models.purchase.bgbb`):

* time is cut into fixed periods (years, months, weeks or days); a customer either
  transacts in a period or not, however often she does;
* the period of her first transaction is her acquisition period 0 and is not a
  transaction opportunity; the periods after it, up to the end of observation, are
  her ``n_periods`` opportunities 1..n;
* ``frequency`` x is the number of those periods with a transaction and ``recency``
  t_x the last of them (0 if none), so ``0 <= x <= t_x <= n``.

:func:`discrete_summary` builds these columns from a transaction log;
:func:`discrete_summary_arrays` checks a summary before a model uses it.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from clvmodels.data.purchase_days import in_id_order, purchase_days
from clvmodels.data.transactions import day_to_iso, parse_day
from clvmodels.errors import DataError, format_examples
from clvmodels.timeunits import check_time_unit

__all__ = ["discrete_summary", "discrete_summary_arrays"]

Source = pd.DataFrame | str | os.PathLike
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


# ----------------------------------------------------------------------------- periods
def _default_start(day: int, unit: str) -> int:
    """A calendar start of the period holding ``day``: 1 January, the 1st of the month,
    Monday, or the day itself."""
    d = np.datetime64(int(day), "D")
    if unit == "year":
        return int(d.astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64))
    if unit == "month":
        return int(d.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64))
    if unit == "week":
        return int(day) - (int(day) + _EPOCH_WEEKDAY) % 7
    return int(day)


def _month_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Months since 1970-01, day of month (0-based) and days in the month."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    first = month.astype("datetime64[D]")
    length = ((month + np.timedelta64(1, "M")).astype("datetime64[D]") - first).astype(np.int64)
    return month.astype(np.int64), (d - first).astype(np.int64), length


def period_index(days: np.ndarray, unit: str, start: int) -> np.ndarray:
    """Index of the period holding each day number (days since 1970-01-01).

    Period ``k`` covers ``[start + k units, start + (k+1) units)``; months and years
    are calendar steps from ``start`` (a start on the 31st falls on the last day of
    shorter months, as with :class:`pandas.DateOffset`), weeks and days fixed lengths.

    >>> days = np.array([parse_day(d, "d", "demo") for d in ("1995-03-14", "1996-03-15")])
    >>> period_index(days, "year", parse_day("1995-03-15", "start", "demo")).tolist()
    [-1, 1]
    """
    days = np.asarray(days, dtype=np.int64)
    if unit == "day":
        return days - start
    if unit == "week":
        return (days - start) // 7
    m_start, dom_start, _ = _month_parts(np.array([start]))
    month, dom, length = _month_parts(days)
    boundary = np.minimum(dom_start[0], length - 1)  # the period's first day in this month
    k = month - m_start[0] - (dom < boundary)
    return k // 12 if unit == "year" else k


def period_start(k: np.ndarray, unit: str, start: int) -> np.ndarray:
    """Day number of the first day of period ``k`` (see :func:`period_index`).

    >>> day_to_iso(int(period_start(np.array([1]), "month", parse_day("2024-01-31", "s", "x"))[0]))
    '2024-02-29'
    """
    k = np.asarray(k, dtype=np.int64)
    if unit == "day":
        return start + k
    if unit == "week":
        return start + 7 * k
    m_start, dom_start, _ = _month_parts(np.array([start]))
    month = m_start[0] + (12 * k if unit == "year" else k)
    first = month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    _, _, length = _month_parts(first)
    return first + np.minimum(dom_start[0], length - 1)


# ----------------------------------------------------------------------------- summary
def discrete_summary(
    transactions: Source,
    *,
    period: str = "year",
    start: object = None,
    observation_end: object = None,
    customer_col: str = "customer_id",
    date_col: str = "date",
    date_format: str | None = None,
    amount_col: str | None = None,
    allow_refunds: bool = False,
) -> pd.DataFrame:
    """Per-customer discrete-time summary: ``frequency``, ``recency``, ``n_periods``
    (and ``monetary_value`` with amounts).

    Parameters
    ----------
    transactions : DataFrame, str or path
        Raw transactions, validated by :func:`~clvmodels.data.load_transactions`
        (which documents ``customer_col``, ``date_col``, ``date_format``,
        ``amount_col`` and ``allow_refunds``). Amounts are read only when
        ``amount_col`` is given.
    period : {'year', 'month', 'week', 'day'}
        Length of one transaction opportunity.
    start : date-like, optional
        A day on which a period begins; periods are laid out from it in both
        directions (months and years as calendar steps). Default: calendar periods,
        beginning on 1 January, on the 1st of the month, or on Monday.
    observation_end : date-like, optional
        Last day observed, inclusive. It must be the last day of a period: a period
        observed only in part would count as a full opportunity. Default: the last
        day of the period holding the last transaction. Transactions after it are an
        error.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted), with int64 columns ``frequency`` (periods
        after the acquisition period with at least one transaction), ``recency`` (the
        last of them, counted from the acquisition period; 0 if none) and
        ``n_periods`` (periods from the acquisition period to the end of observation;
        0 for customers acquired in the last period); with ``amount_col``,
        ``monetary_value``: the mean spend of a repeat period (the amounts of the
        periods counted in ``frequency``, summed per period and averaged; NaN when
        ``frequency`` is 0), what a spend model such as Gamma-Gamma takes per
        transaction. ``attrs`` holds ``time_unit``
        (the period), ``start`` and ``observation_end`` ('YYYY-MM-DD').

    Raises
    ------
    DataError
        Invalid transactions (a missing column, a missing or unparseable date or
        id, a transaction after ``observation_end``), an ``observation_end`` that is
        not the last day of a period, or a ``start`` that is not a date.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b", "c"],
    ...                    "date": ["1995-05-01", "1995-09-01", "1997-02-01", "1997-12-24",
    ...                             "1995-11-11", "2000-06-30"]})
    >>> s = discrete_summary(tx, observation_end="2001-12-31")
    >>> s  # doctest: +NORMALIZE_WHITESPACE
                 frequency  recency  n_periods
    customer_id
    a                    1        2          6
    b                    0        0          6
    c                    0        0          1
    >>> s.attrs
    {'time_unit': 'year', 'start': '1995-01-01', 'observation_end': '2001-12-31'}
    """
    owner = "discrete_summary"
    unit = check_time_unit(period, owner, "period")
    end_day = None if observation_end is None else parse_day(
        observation_end, "observation_end", owner)
    start_day = None if start is None else parse_day(start, "start", owner)
    p = purchase_days(transactions, customer_col=customer_col, date_col=date_col,
                      amount_col=amount_col, allow_refunds=allow_refunds,
                      date_format=date_format, end_day=end_day, end_name="observation_end")
    if start_day is None:
        start_day = _default_start(p.start, unit)
    if end_day is None:
        last = period_index(np.array([p.end]), unit, start_day)[0]
        end_day = int(period_start(np.array([last + 1]), unit, start_day)[0]) - 1
    last = int(period_index(np.array([end_day]), unit, start_day)[0])
    last_first, next_first = (int(v) for v in period_start(np.array([last, last + 1]), unit,
                                                             start_day))
    if end_day != next_first - 1:
        raise DataError(
            f"The 'observation_end' parameter of {owner} must be the last day of a {unit}: "
            f"the summary counts whole periods, and the {unit} {day_to_iso(last_first)} .. "
            f"{day_to_iso(next_first - 1)} would be observed only up to "
            f"{day_to_iso(end_day)}. Pass observation_end='{day_to_iso(last_first - 1)}' "
            f"(after dropping later transactions) or '{day_to_iso(next_first - 1)}' if the "
            f"data cover the whole {unit}, or choose another start or period."
        )
    n = p.ids.size
    pair_period = period_index(p.pair_day.astype(np.int64) + p.start, unit, start_day)
    # pairs are sorted by customer then day, so each customer's periods are ordered
    new_period = p.pair_first.copy()
    new_period[1:] |= pair_period[1:] != pair_period[:-1]
    customer = p.pair_customer.astype(np.intp)
    acquired = np.empty(n, dtype=np.int64)
    acquired[customer[p.pair_first]] = pair_period[p.pair_first]
    repeat = new_period & ~p.pair_first
    frequency = np.bincount(customer[repeat], minlength=n).astype(np.int64)
    last_pair = np.append(np.flatnonzero(p.pair_first)[1:], customer.size) - 1
    latest = np.empty(n, dtype=np.int64)
    latest[customer[last_pair]] = pair_period[last_pair]
    keep = in_id_order(np.arange(n, dtype=np.intp), p.ids)
    columns = {"frequency": frequency[keep], "recency": (latest - acquired)[keep],
               "n_periods": (last - acquired)[keep]}
    if p.amount is not None:
        # every row outside its customer's acquisition period is spend of a repeat period
        row_period = period_index(p.days.astype(np.int64) + p.start, unit, start_day)
        repeat_row = row_period != acquired[p.codes]
        total = np.bincount(p.codes, weights=np.where(repeat_row, p.amount, 0.0), minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["monetary_value"] = np.where(frequency > 0, total / frequency, np.nan)[keep]
    out = pd.DataFrame(columns, index=p.ids[keep].rename("customer_id"))
    out.attrs = {"time_unit": unit, "start": day_to_iso(start_day),
                 "observation_end": day_to_iso(end_day)}
    return out


# ------------------------------------------------------------------------- validation
def _bad_rows(index: pd.Index, mask: np.ndarray) -> str:
    return f"{int(mask.sum())} row(s), first customer ids {format_examples(index[mask].tolist())}"


def discrete_summary_arrays(data: pd.DataFrame, owner: str) -> dict[str, np.ndarray]:
    """Validate a discrete-time summary and return float64 arrays.

    Columns ``frequency``, ``recency`` and ``n_periods`` are required, ``weight``
    (customers per row, e.g. of a compressed table) is optional and defaults to 1.
    Rules: whole non-negative numbers, ``frequency <= recency <= n_periods``,
    ``recency == 0`` when ``frequency == 0``, weights positive and finite.

    >>> import pandas as pd
    >>> discrete_summary_arrays(pd.DataFrame({"frequency": [2], "recency": [1],
    ...                                       "n_periods": [6]}), "demo")
    Traceback (most recent call last):
    ...
    clvmodels.errors.DataError: demo: 'frequency' is greater than 'recency' in 1 row(s), first customer ids [0]. A customer with x transactions in periods 1..t_x has x <= t_x; rebuild the summary with discrete_summary().
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"{owner} expects a pandas DataFrame with columns 'frequency', 'recency', "
            f"'n_periods' (as returned by discrete_summary). Got {type(data).__name__} instead."
        )
    cols = ["frequency", "recency", "n_periods"]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataError(
            f"{owner}: missing column(s) {missing}; the data has {list(data.columns)[:20]}. "
            "Build the summary with clvmodels.discrete_summary() or rename your columns."
        )
    if len(data) == 0:
        raise DataError(f"{owner}: the summary has no rows; it needs at least one customer.")
    out: dict[str, np.ndarray] = {}
    idx = data.index
    for c in cols + (["weight"] if "weight" in data.columns else []):
        try:
            v = pd.to_numeric(data[c], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{owner}: column {c!r} must be numeric ({exc}). Convert it with pd.to_numeric."
            ) from None
        out[c] = v
    for c in cols:
        v = out[c]
        bad = ~np.isfinite(v) | (v < 0) | (v != np.round(v))
        if bad.any():
            raise DataError(
                f"{owner}: column {c!r} must hold whole numbers of periods >= 0; "
                f"{_bad_rows(idx, bad)}; values {format_examples(v[bad].tolist())}. "
                "Drop or fix those customers."
            )
    x, t_x, n = out["frequency"], out["recency"], out["n_periods"]
    bad = t_x > n
    if bad.any():
        raise DataError(
            f"{owner}: 'recency' is greater than 'n_periods' in {_bad_rows(idx, bad)}. Recency "
            "is the last period with a transaction, one of the periods 1..n_periods; rebuild "
            "the summary with discrete_summary()."
        )
    bad = x > t_x
    if bad.any():
        raise DataError(
            f"{owner}: 'frequency' is greater than 'recency' in {_bad_rows(idx, bad)}. A "
            "customer with x transactions in periods 1..t_x has x <= t_x; rebuild the "
            "summary with discrete_summary()."
        )
    bad = (x == 0) & (t_x != 0)
    if bad.any():
        raise DataError(
            f"{owner}: customers with frequency 0 must have recency 0; {_bad_rows(idx, bad)}."
        )
    if "weight" in out:
        w = out["weight"]
        bad = ~(np.isfinite(w) & (w > 0))
        if bad.any():
            raise DataError(
                f"{owner}: column 'weight' (customers per row) must be positive and finite; "
                f"{_bad_rows(idx, bad)}; values {format_examples(w[bad].tolist())}. Drop "
                "rows that stand for no customer."
            )
    else:
        out["weight"] = np.ones(len(data))
    return out
