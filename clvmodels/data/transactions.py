"""Validate and normalize a transaction log (DESIGN.md: "validate → normalize").

Every problem found in the input is reported as a :class:`~clvmodels.errors.DataError`
that names the column, says how many rows are affected, shows the first few
offending values with their row positions and says how to fix it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, format_examples

__all__ = ["load_transactions"]

_NS_PER_DAY = 86_400 * 10**9
_MAX_DAY = 106_750  # datetime64[ns] holds 1677-09-22 .. 2262-04-11; whole days inside


def load_transactions(
    source: pd.DataFrame | str | os.PathLike,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    observation_end: object = None,
    allow_refunds: bool = False,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Read, validate and normalize a transaction log.

    Parameters
    ----------
    source : DataFrame, str or path
        The transactions: a DataFrame (never modified), or the path of a ``.csv``
        or ``.parquet`` / ``.pq`` file. One row per transaction.
    customer_col, date_col : str
        Names of the customer id and transaction date columns in ``source``.
    amount_col : str or None
        Name of the monetary value column; ``None`` when there are no amounts
        (the result then has no ``amount`` column).
    observation_end : date-like, optional
        Last day of the observation period (inclusive). Transactions dated after
        it are an error: filter them out before calling, or pass a later date.
    allow_refunds : bool
        Negative amounts are refunds. They are rejected unless ``allow_refunds``
        is true; with it, the summaries net them out within the same day (a
        day's purchase is the sum of that day's amounts, refunds included, and a
        day with any transaction counts as a purchase day whatever its net total).
    date_format : str, optional
        ``strftime`` format of the dates (e.g. ``"%Y%m%d"``), passed to
        :func:`pandas.to_datetime`; required when dates are stored as numbers
        such as ``19970101``. ``"ISO8601"`` and ``"mixed"`` are accepted too.

    Returns
    -------
    DataFrame
        A new frame, one row per input row in input order, with columns
        ``customer_id`` (the ids as given; read as strings from CSV so that
        leading zeros survive), ``date`` (``datetime64[ns]``, the time of day
        dropped; time-zone-aware dates keep their local calendar day) and
        ``amount`` (float64; zero amounts are allowed).

    Raises
    ------
    DataError
        A missing column, no rows, a missing customer id, a missing or
        unparseable date, a missing, non-numeric, infinite or (without
        ``allow_refunds``) negative amount, or a transaction after
        ``observation_end``.
    TypeError
        ``source`` is neither a DataFrame nor a path.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"id": ["a", "b", "a"],
    ...                     "when": ["2024-01-05 10:30", "2024-01-06", "2024-02-01"],
    ...                     "spend": ["10", "2.5", "0"]})
    >>> load_transactions(raw, customer_col="id", date_col="when", amount_col="spend")
      customer_id       date  amount
    0           a 2024-01-05    10.0
    1           b 2024-01-06     2.5
    2           a 2024-02-01     0.0
    >>> load_transactions(raw, customer_col="id", date_col="when",
    ...                   amount_col="cost")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    clvmodels.errors.DataError: Column 'cost' (amount_col) is not in the transactions. ...
    """
    valid = validate_transactions(
        source,
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        allow_refunds=allow_refunds,
        date_format=date_format,
    )
    if observation_end is not None:
        end_day = parse_day(observation_end, "observation_end", "load_transactions")
        check_not_after(valid.days, end_day, "observation_end", date_col)
    out = {"customer_id": valid.ids, "date": _days_to_datetime(valid.days)}
    if valid.amount is not None:
        out["amount"] = valid.amount
    return pd.DataFrame(out, index=pd.RangeIndex(len(valid.days)))


@dataclass(frozen=True)
class ValidTransactions:
    """Validated transaction columns, one entry per input row (internal form)."""

    ids: pd.Series  # customer ids, named 'customer_id', RangeIndex
    days: np.ndarray  # int32 day numbers (days since 1970-01-01); a new array
    amount: np.ndarray | None  # float64


def validate_transactions(
    source, *, customer_col, date_col, amount_col, allow_refunds, date_format
) -> ValidTransactions:
    """The checks of :func:`load_transactions`, returning plain arrays."""
    frame = _read_source(source, customer_col, date_col)
    if not isinstance(allow_refunds, (bool, np.bool_)):
        raise TypeError(
            f"The 'allow_refunds' parameter of load_transactions must be a bool. "
            f"Got {allow_refunds!r} instead."
        )
    _check_columns(frame, customer_col, date_col, amount_col)
    if len(frame) == 0:
        raise DataError(
            "The transactions have no rows. Pass a table with at least one "
            f"transaction (columns {customer_col!r}, {date_col!r}"
            + (f", {amount_col!r})." if amount_col is not None else ").")
        )
    ids = _check_ids(frame[customer_col], customer_col)
    days = _parse_days(frame[date_col], date_col, date_format)
    amount = None
    if amount_col is not None:
        amount = _check_amounts(frame[amount_col], amount_col, allow_refunds)
    return ValidTransactions(ids, days, amount)


def parse_day(value: object, name: str, owner: str) -> int:
    """Day number (days since 1970-01-01) of a date-like parameter value.

    >>> parse_day("1970-01-03 18:00", "observation_end", "rfm_summary")
    2
    """
    if isinstance(value, (int, float, np.number)):  # nanoseconds? 19980630? ambiguous
        raise DataError(
            f"The {name!r} parameter of {owner} must be a date such as '1998-06-30', not "
            f"a number. Got {value!r} instead."
        )
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"The {name!r} parameter of {owner} must be a date such as '1998-06-30'. "
            f"Got {value!r} instead ({exc})."
        ) from None
    if stamp is pd.NaT:
        raise DataError(
            f"The {name!r} parameter of {owner} must be a date such as '1998-06-30'. "
            f"Got {value!r} instead."
        )
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return int(np.datetime64(stamp.date(), "D").astype(np.int64))


def day_to_iso(day: int) -> str:
    """ISO date string of a day number.

    >>> day_to_iso(0)
    '1970-01-01'
    """
    return str(np.datetime64(int(day), "D"))


# ----------------------------------------------------------------------------- helpers


def _read_source(source: object, customer_col: str, date_col: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "The 'source' parameter of load_transactions must be a pandas DataFrame or "
            f"the path of a .csv or .parquet file. Got {type(source).__name__} instead."
        )
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise DataError(
            f"Cannot read transactions from {str(path)!r}: unsupported file type "
            f"{suffix or '(no extension)'!r}. Use a .csv, .parquet or .pq file, or read "
            "the file yourself and pass a DataFrame."
        )
    if not path.is_file():
        raise FileNotFoundError(f"Transactions file {str(path)!r} does not exist.")
    if suffix == ".csv":
        # ids are labels, not numbers: keep them as text so leading zeros survive;
        # dates are parsed (and checked) by load_transactions itself.
        return pd.read_csv(path, dtype={customer_col: str, date_col: str})
    return pd.read_parquet(path)


def _header_is_data(columns) -> bool:
    """Whether column names read from a header look like a row of data (numbers or
    dates), the sign of a file without a header row."""
    def numeric(name) -> bool:
        try:
            float(str(name).replace("-", "").replace("/", ""))
        except ValueError:
            return False
        return True

    return bool(columns) and sum(numeric(c) for c in columns) >= max(1, len(columns) // 2)


def _check_columns(frame: pd.DataFrame, customer_col: str, date_col: str, amount_col) -> None:
    wanted = [("customer_col", customer_col), ("date_col", date_col)]
    if amount_col is not None:
        wanted.append(("amount_col", amount_col))
    available = list(frame.columns)
    for arg, col in wanted:
        if col not in frame.columns:
            hint = f"Pass the right name as {arg}='<column>'"
            flag = "--" + arg.replace("_", "-")
            cli_hint = f"Name the right column with {flag} COLUMN"
            if arg == "amount_col":
                hint += ", or amount_col=None if there are no amounts"
            if col == frame.index.name or col in (frame.index.names or []):
                hint = "It is the index: call .reset_index() on the frame first"
            if _header_is_data(available):
                cli_hint = ("The file seems to have no header row (its first row is data); "
                            "name its columns with --names, e.g. --names "
                            "customer_id,date,amount for three columns")
            what = f"Column {col!r} ({arg}) is not in the transactions. Available columns: {available}."
            raise DataError(f"{what} {hint}.", cli_message=f"{what} {cli_hint}.")
    names = [c for _, c in wanted]
    if len(set(names)) != len(names):
        raise DataError(
            f"customer_col, date_col and amount_col must name different columns. Got {names}."
        )


def _bad_rows(mask: np.ndarray, values: pd.Series) -> tuple[int, str, str]:
    """Count of bad rows, their first positions and first values, formatted."""
    positions = np.flatnonzero(mask)
    shown = positions[:5]
    return len(positions), _first(shown.tolist(), positions.size), _first(
        values.iloc[shown].tolist(), positions.size
    )


def _first(shown: list, total: int) -> str:
    """``format_examples`` of the first few of ``total`` values ('...' if more)."""
    text = format_examples(shown)
    return text[:-1] + ", ...]" if total > len(shown) else text


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def _check_ids(ids: pd.Series, col: str) -> pd.Series:
    if isinstance(ids.dtype, np.dtype) and ids.dtype.kind in "iub":  # cannot be missing
        return ids.reset_index(drop=True).rename("customer_id")
    missing = ids.isna().to_numpy()
    if ids.dtype == object or isinstance(ids.dtype, pd.StringDtype):
        text = ids.astype(str) if ids.dtype == object else ids
        missing = missing | text.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    if missing.any():
        n, pos, vals = _bad_rows(missing, ids)
        raise DataError(
            f"Column {col!r} has a missing or blank customer id in {_rows(n)} "
            f"(row positions {pos}: {vals}). Every transaction needs a customer: "
            "drop these rows or fill in their ids."
        )
    return ids.reset_index(drop=True).rename("customer_id")


def _missing_dates(dates: pd.Series, col: str) -> None:
    missing = dates.isna().to_numpy()
    if missing.any():
        n, pos, vals = _bad_rows(missing, dates)
        raise DataError(
            f"Column {col!r} has a missing date in {_rows(n)} (row positions {pos}: "
            f"{vals}). Drop these rows or fill in their dates."
        )


def _parse_days(dates: pd.Series, col: str, date_format: str | None) -> np.ndarray:
    """Day numbers (int32, days since 1970-01-01) of a date column, or raise."""
    if isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M":
        # NaT is the smallest int64: clean columns need no mask
        if dates.to_numpy().view(np.int64).min() == np.iinfo(np.int64).min:
            _missing_dates(dates, col)
        return _day_numbers(dates.to_numpy(), col)
    _missing_dates(dates, col)
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_localize(None)  # keep the local calendar day
    if pd.api.types.is_datetime64_dtype(dates.dtype):
        return _day_numbers(dates.to_numpy(), col)
    if pd.api.types.is_numeric_dtype(dates.dtype) or pd.api.types.is_bool_dtype(dates.dtype):
        if date_format is None:
            raise DataError(
                f"Column {col!r} holds numbers ({dates.dtype}), not dates, e.g. "
                f"{format_examples(dates.iloc[:3].tolist())}. Pass date_format (e.g. "
                "date_format='%Y%m%d' for 19970101) or convert the column with "
                "pandas.to_datetime first."
            )
        values = dates.to_numpy()
        integral = pd.api.types.is_integer_dtype(dates.dtype) or bool(
            np.all(np.mod(values, 1) == 0)
        )
        dates = pd.Series(values.astype(np.int64) if integral else values).astype(str)
    parsed = _to_datetime(dates, col, date_format)
    if date_format is None and parsed.isna().any():
        # pandas infers one format from the first value; ISO 8601 dates with and
        # without a time of day ('2024-01-05 10:30', '2024-01-06') are still unambiguous.
        iso = _to_datetime(dates, col, "ISO8601")
        if iso.notna().all():
            parsed = iso
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        n, pos, vals = _bad_rows(bad, dates)
        how = (
            f"they do not match date_format={date_format!r}"
            if date_format is not None
            else "pass date_format (e.g. '%Y-%m-%d', or 'mixed' for several formats)"
        )
        raise DataError(
            f"Column {col!r} has an unparseable date in {_rows(n)} (row positions "
            f"{pos}: {vals}). Fix or drop these rows; {how}."
        )
    return _day_numbers(parsed.to_numpy(), col)


_TICKS_PER_DAY = {"ns": _NS_PER_DAY, "us": 86_400 * 10**6, "ms": 86_400_000, "s": 86_400, "D": 1}


def _day_numbers(values: np.ndarray, col: str) -> np.ndarray:
    """Days since 1970-01-01 (int32, floored) of a NaT-free datetime64 array, checked
    to lie in the range of ``datetime64[ns]`` (years 1678-2261)."""
    unit, count = np.datetime_data(values.dtype)
    if not (count == 1 and unit in _TICKS_PER_DAY):
        values, unit = values.astype("datetime64[D]"), "D"
    ticks = values.view(np.int64)
    per_day = _TICKS_PER_DAY[unit]
    if ticks.min() // per_day < -_MAX_DAY or ticks.max() // per_day > _MAX_DAY:
        days = ticks // per_day
        bad = (days < -_MAX_DAY) | (days > _MAX_DAY)
        n, pos, vals = _bad_rows(bad, pd.Series(days.astype("datetime64[D]").astype(str)))
        raise DataError(
            f"Column {col!r} has a date outside the years 1678-2261 in {_rows(n)} (row "
            f"positions {pos}: {vals}). Fix these dates or drop these rows."
        )
    # integer floor division straight into 32 bits: little memory, little time
    days = np.empty(ticks.size, dtype=np.int32)
    np.floor_divide(ticks, per_day, out=days, casting="unsafe")
    return days


def _to_datetime(dates: pd.Series, col: str, date_format: str | None) -> pd.Series:
    try:
        return pd.to_datetime(dates, format=date_format, errors="coerce")
    except (ValueError, TypeError) as exc:  # e.g. a malformed format, mixed time zones
        raise DataError(
            f"Column {col!r} could not be parsed as dates with date_format="
            f"{date_format!r}: {exc}. Pass a valid date_format such as '%Y-%m-%d', or "
            "convert the column with pandas.to_datetime first."
        ) from None


def _days_to_datetime(days: np.ndarray) -> pd.Series:
    ns = days.astype(np.int64)
    ns *= _NS_PER_DAY
    return pd.Series(ns.view("datetime64[ns]"), name="date")


def _check_amounts(amounts: pd.Series, col: str, allow_refunds: bool) -> np.ndarray:
    numeric = pd.api.types.is_numeric_dtype(amounts.dtype) and not (
        pd.api.types.is_bool_dtype(amounts.dtype)
    )
    if numeric and isinstance(amounts.dtype, np.dtype):
        values = amounts.to_numpy(dtype=np.float64)  # no copy for float64 columns
    else:
        values = pd.to_numeric(amounts, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    lo, hi = values.min(), values.max()  # NaN propagates: clean data needs no masks
    if not (np.isfinite(lo) and np.isfinite(hi)):
        missing = amounts.isna().to_numpy()
        if missing.any():
            n, pos, vals = _bad_rows(missing, amounts)
            raise DataError(
                f"Column {col!r} has a missing amount in {_rows(n)} (row positions {pos}: "
                f"{vals}). Fill them in (0 is allowed) or drop these rows; pass "
                "amount_col=None if you do not need amounts."
            )
        n, pos, vals = _bad_rows(~np.isfinite(values), amounts)
        raise DataError(
            f"Column {col!r} has a non-numeric or infinite amount in {_rows(n)} (row "
            f"positions {pos}: {vals}). Amounts must be plain finite numbers: strip "
            "currency symbols and thousands separators, or drop these rows."
        )
    if lo < 0 and not allow_refunds:
        n, pos, vals = _bad_rows(values < 0, amounts)
        raise DataError(
            f"Column {col!r} has a negative amount in {_rows(n)} (row positions {pos}: "
            f"{vals}). Refunds are rejected by default: drop them, net them against "
            "their purchases, or pass allow_refunds=True to net them out within the "
            "same day's total."
        )
    return values


def check_not_after(days: np.ndarray, end_day: int, name: str, col: str) -> None:
    """Raise unless every day number in ``days`` is on or before ``end_day``."""
    late = days > end_day
    if late.any():
        positions = np.flatnonzero(late)
        first = positions[:5]
        shown = _first([str(d) for d in days[first].astype("datetime64[D]")], positions.size)
        pos = _first(first.tolist(), positions.size)
        raise DataError(
            f"Column {col!r} has {_rows(len(positions))} dated after {name} "
            f"{day_to_iso(end_day)} (row positions {pos}: {shown}). Filter them out "
            f"first (e.g. df[df[{col!r}] <= '{day_to_iso(end_day)}']) or pass a later "
            f"{name}."
        )
