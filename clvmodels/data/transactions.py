"""Validate and normalize a transaction log (DESIGN.md: "validate → normalize").

Every problem found in the input is reported as a :class:`~clvmodels.errors.DataError`
that names the column, says how many rows are affected, shows the first few
offending values with their row positions and says how to fix it.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, format_examples

__all__ = ["load_transactions"]

_NS_PER_DAY = 86_400 * 10**9
_MAX_DAY = 106_750  # datetime64[ns] holds 1677-09-22 .. 2262-04-11; whole days inside
#: no single purchase is this large in any currency; such amounts are parsing or unit
#: errors (an id or a timestamp read as an amount), and they overflow the spend model
ABSURD_AMOUNT = 1e15


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
        Without it, dates written day and month first (``01/02/1997``) are read
        in the one order that fits every row; when every day and month is at
        most 12 both orders fit, and a ``date_format`` (``"%d/%m/%Y"`` or
        ``"%m/%d/%Y"``) is required. Timestamps whose UTC offset changes within
        the column (daylight saving time) keep their local calendar day.

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
        unparseable date, dates whose day/month order cannot be told, a
        missing, non-numeric, infinite, absurd (1e15 or more) or (without
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
            what = (f"Column {col!r} holds numbers ({dates.dtype}), not dates, e.g. "
                    f"{format_examples(dates.iloc[:3].tolist())}.")
            raise DataError(
                f"{what} Pass date_format (e.g. date_format='%Y%m%d' for 19970101) or "
                "convert the column with pandas.to_datetime first.",
                cli_message=f"{what} Say how they are written with --date-format (e.g. "
                "--date-format %Y%m%d for 19970101).",
            )
        values = dates.to_numpy()
        integral = pd.api.types.is_integer_dtype(dates.dtype) or bool(
            np.all(np.mod(values, 1) == 0)
        )
        dates = pd.Series(values.astype(np.int64) if integral else values).astype(str)
    if dates.dtype == object and isinstance(dates.iloc[0], datetime) and dates.iloc[0].tzinfo:
        # datetime objects from several time zones: each keeps its local wall-clock time
        dates = pd.Series([v.replace(tzinfo=None) if isinstance(v, datetime) else v
                           for v in dates], index=dates.index, dtype=object)
    parsed = _day_month_dates(dates, col) if date_format is None else None
    if parsed is None:
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
        if date_format is None:
            _check_one_format(dates, bad, col, f"{_rows(n)} (row positions {pos}: {vals})")
        how = (
            f"they do not match date_format={date_format!r}"
            if date_format is not None
            else "pass date_format (e.g. '%Y-%m-%d', or 'mixed' for several formats)"
        )
        cli_how = (
            f"they do not match --date-format {date_format!r}"
            if date_format is not None
            else "say how dates are written with --date-format (e.g. --date-format %d/%m/%Y, "
            "or --date-format mixed for several formats)"
        )
        what = (f"Column {col!r} has an unparseable date in {_rows(n)} (row positions "
                f"{pos}: {vals}). Fix or drop these rows; ")
        raise DataError(what + how + ".", cli_message=what + cli_how + ".")
    return _day_numbers(parsed.to_numpy(), col)


def _swap_day_month(fmt: str) -> str:
    return "%d".join(part.replace("%d", "%m") for part in fmt.split("%m"))


def _day_month_dates(dates: pd.Series, col: str) -> pd.Series | None:
    """Dates written day and month first (01/02/1997, 01.02.1997 10:30), parsed in the
    one order that fits every row; a refusal when both orders fit and disagree (every
    day and month at most 12). None for other dates (parsed by pandas as usual)."""
    if not (dates.dtype == object or isinstance(dates.dtype, pd.StringDtype)):
        return None
    first = dates.iloc[0]
    if not isinstance(first, str):
        return None
    from pandas.tseries.api import guess_datetime_format

    fmt = guess_datetime_format(first.strip())
    if fmt is None or not fmt.startswith(("%d", "%m")) or "%d" not in fmt or "%m" not in fmt:
        return None
    month_first = fmt if fmt.startswith("%m") else _swap_day_month(fmt)
    day_first = _swap_day_month(month_first)
    text = dates.str.strip() if dates.dtype != object else dates.astype(str).str.strip()
    as_month = pd.to_datetime(text, format=month_first, errors="coerce")
    as_day = pd.to_datetime(text, format=day_first, errors="coerce")
    month_ok, day_ok = bool(as_month.notna().all()), bool(as_day.notna().all())
    if month_ok and day_ok:
        differ = (as_month != as_day).to_numpy()
        if not differ.any():  # every day equals its month: both orders agree
            return as_month
        i = int(np.flatnonzero(differ)[0])
        example = dates.iloc[i]
        what = (
            f"Column {col!r} holds dates such as {example!r} that read either day first "
            f"({as_day.iloc[i]:%Y-%m-%d}) or month first ({as_month.iloc[i]:%Y-%m-%d}): no day "
            "in the column is above 12, so the order cannot be told from the data."
        )
        raise DataError(
            f"{what} Pass date_format={day_first!r} for day first or "
            f"date_format={month_first!r} for month first.",
            cli_message=f"{what} Add --date-format '{day_first}' for day first or "
            f"--date-format '{month_first}' for month first.",
        )
    if month_ok:
        return as_month
    if day_ok:
        return as_day
    return None  # neither order fits every row: reported with the unparseable rows


def _check_one_format(dates: pd.Series, bad: np.ndarray, col: str, rows: str) -> None:
    """Refuse dates in several formats, naming the format pandas read and the rows that
    are written another way (readable on their own, so not 'unparseable')."""
    if bad.all():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            alone = pd.to_datetime(dates[bad], format="mixed", errors="coerce")
        except (ValueError, TypeError):
            return
    if not alone.notna().any():
        return
    from pandas.tseries.api import guess_datetime_format

    first = dates.iloc[int(np.flatnonzero(~bad)[0])]
    fmt = guess_datetime_format(str(first).strip())
    read_as = f" as {fmt}" if fmt else ""
    what = (
        f"Column {col!r} mixes date formats: {int((~bad).sum()):,} rows are written like "
        f"{first!r}{read_as}, but {rows} are written another way."
    )
    raise DataError(
        f"{what} Write every date the same way (ISO 'YYYY-MM-DD' is unambiguous), or pass "
        "date_format='mixed' to read each date on its own (it reads 01/02/1997 month first).",
        cli_message=f"{what} Write every date the same way (ISO 'YYYY-MM-DD' is unambiguous), "
        "or add --date-format mixed to read each date on its own (it reads 01/02/1997 month "
        "first).",
    )


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


#: a UTC offset (or Z) after a time of day, e.g. '2024-03-31T03:30:00+02:00'
_OFFSET = re.compile(
    r"^(.*\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")


def _to_datetime(dates: pd.Series, col: str, date_format: str | None) -> pd.Series:
    try:
        with warnings.catch_warnings():  # pandas' format-inference notes: the checks here
            warnings.simplefilter("ignore", UserWarning)  # and the errors below say more
            return pd.to_datetime(dates, format=date_format, errors="coerce")
    except (ValueError, TypeError) as exc:  # e.g. a malformed format, mixed time zones
        local = _local_times(dates, date_format) if "zone" in str(exc) else None
        if local is not None:
            return local
        what = f"Column {col!r} could not be parsed as dates with "
        raise DataError(
            f"{what}date_format={date_format!r}: {exc}. Pass a valid date_format such as "
            "'%Y-%m-%d', or convert the column with pandas.to_datetime first.",
            cli_message=f"{what}--date-format {date_format!r}: {exc}. Give a valid "
            "--date-format such as %Y-%m-%d.",
        ) from None


def _local_times(dates: pd.Series, date_format: str | None) -> pd.Series | None:
    """Timestamps with different UTC offsets (a daylight-saving change, or several
    zones) as their local wall-clock times: each keeps the calendar day it was
    written on. None when that does not read them either."""
    local = dates.astype(str).str.replace(_OFFSET, r"\1", regex=True)
    fmt = None if date_format is None else re.sub(r"\s*%z", "", date_format)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return pd.to_datetime(local, format=fmt, errors="coerce")
    except (ValueError, TypeError):
        return None


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
    if max(hi, -lo) >= ABSURD_AMOUNT:
        n, pos, vals = _bad_rows(np.abs(values) >= ABSURD_AMOUNT, amounts)
        raise DataError(
            f"Column {col!r} has an absurd amount (size 1e15 or more) in "
            f"{_rows(n)} (row positions {pos}: {vals}). No single purchase is that large: "
            "it is a parsing or unit error (an id, a timestamp or a sum read as an amount?), "
            "and it would overflow the spend model. Fix or drop these rows."
        )
    if lo < 0 and not allow_refunds:
        n, pos, vals = _bad_rows(values < 0, amounts)
        what = (f"Column {col!r} has a negative amount in {_rows(n)} (row positions {pos}: "
                f"{vals}). Refunds are rejected by default: drop them, net them against "
                "their purchases, or ")
        raise DataError(
            what + "pass allow_refunds=True to net them out within the same day's total.",
            cli_message=what + "add --allow-refunds to net them out within the same day's "
            "total.",
        )
    return values


def check_no_far_future(days: np.ndarray, lo: int, hi: int, col: str,
                        end_name: str = "observation_end") -> None:
    """Refuse a few rows dated far after all the others when the observation end is
    about to default to the last date (a typo such as 2099 for 1999 would make every
    customer's age T run to it).

    "Far" means that the gap before those rows is longer than a year and longer than
    the whole period of the other rows; "a few" means at most 1% of the rows (or 5).
    Passing the end date explicitly accepts them. ``lo`` and ``hi`` are
    ``days.min()`` and ``days.max()``.
    """
    mid = far_future_split(lo, hi)
    if mid is None:
        return
    # the gap g1 - g0 exceeds g0 - lo only if the rows before it end before the
    # midpoint, so the rows after the midpoint are exactly the ones after the gap
    late = days > mid
    k = int(np.count_nonzero(late))
    if not few_late_rows(k, days.size):
        return
    g0, g1 = int(days[~late].max()), int(days[late].min())
    if not far_gap(lo, g0, g1):
        return
    positions = np.flatnonzero(late)
    first = positions[:5]
    shown = _first([day_to_iso(d) for d in days[first]], k)
    rows = f"(row positions {_first(first.tolist(), k)}: {shown})"
    raise far_future_error(col, k, rows, days.size - k, g0, hi, end_name)


def far_future_split(lo: int, hi: int) -> int | None:
    """The midpoint day of :func:`check_no_far_future`, or None for a short period."""
    return None if hi - lo <= 2 * 366 else lo + (hi - lo) // 2


def few_late_rows(k: int, n: int) -> bool:
    return 0 < k <= max(5, n // 100)


def far_gap(lo: int, g0: int, g1: int) -> bool:
    """Whether the gap from day ``g0`` to ``g1`` is longer than a year and than the
    period ``lo`` .. ``g0`` before it."""
    return g1 - g0 > max(366, g0 - lo)


def far_future_error(col: str, k: int, rows: str, n_other: int, g0: int, hi: int,
                     end_name: str) -> DataError:
    """The refusal of :func:`check_no_far_future`; ``rows`` shows the first late rows."""
    years = (hi - g0) / 365.25
    what = (
        f"Column {col!r} has {_rows(k)} dated far after all the others {rows}: the other "
        f"{n_other:,} rows end on {day_to_iso(g0)}, and these would make the observation end "
        f"{day_to_iso(hi)}, {years:,.0f} years later, so every customer's age T would run to "
        "it. They look like typos: fix or drop these rows, "
    )
    flag = "--" + end_name.replace("_", "-")
    return DataError(
        what + f"or, if the data really run to {day_to_iso(hi)}, pass "
        f"{end_name}='{day_to_iso(hi)}' to say so.",
        cli_message=what + f"or, if the data really run to {day_to_iso(hi)}, add {flag} "
        f"{day_to_iso(hi)} to say so.",
    )


def check_no_far_past(days: np.ndarray, lo: int, hi: int, col: str) -> None:
    """Refuse a few rows dated far before all the others (a typo such as 1900 or 0998
    for 1998 would make their customers' first purchase, and so their age T, decades
    too early), mirroring :func:`check_no_far_future`: the gap after those rows is
    longer than a year and longer than the whole period of the other rows, and they
    are at most 1% of the rows (or 5), with at least 5 other rows. ``lo`` and ``hi``
    are ``days.min()`` and ``days.max()``.
    """
    mid = far_past_split(lo, hi)
    if mid is None:
        return
    early = days < mid
    k = int(np.count_nonzero(early))
    if not (few_late_rows(k, days.size) and days.size - k >= 5):
        return
    e1, e2 = int(days[early].max()), int(days[~early].min())
    if not far_gap_before(e1, e2, hi):
        return
    positions = np.flatnonzero(early)
    first = positions[:5]
    shown = _first([day_to_iso(d) for d in days[first]], k)
    rows = f"(row positions {_first(first.tolist(), k)}: {shown})"
    raise far_past_error(col, k, rows, days.size - k, lo, e2)


def far_past_split(lo: int, hi: int) -> int | None:
    """The midpoint day of :func:`check_no_far_past` (rows before it are the candidates),
    or None for a short period."""
    return None if hi - lo <= 2 * 366 else lo + (hi - lo + 1) // 2


def far_gap_before(e1: int, e2: int, hi: int) -> bool:
    """Whether the gap from day ``e1`` to ``e2`` is longer than a year and than the
    period ``e2`` .. ``hi`` after it."""
    return e2 - e1 > max(366, hi - e2)


def far_past_error(col: str, k: int, rows: str, n_other: int, lo: int, e2: int) -> DataError:
    """The refusal of :func:`check_no_far_past`; ``rows`` shows the first early rows."""
    years = (e2 - lo) / 365.25
    return DataError(
        f"Column {col!r} has {_rows(k)} dated far before all the others {rows}: the other "
        f"{n_other:,} rows start on {day_to_iso(e2)}, and these would date their customers' "
        f"first purchases up to {years:,.0f} years earlier, so those customers' ages T would "
        "span the whole gap. They look like typos (a wrong year): fix or drop these rows."
    )


def check_not_after(days: np.ndarray, end_day: int, name: str, col: str) -> None:
    """Raise unless every day number in ``days`` is on or before ``end_day``."""
    late = days > end_day
    if late.any():
        positions = np.flatnonzero(late)
        first = positions[:5]
        shown = _first([str(d) for d in days[first].astype("datetime64[D]")], positions.size)
        pos = _first(first.tolist(), positions.size)
        what = (f"Column {col!r} has {_rows(len(positions))} dated after {name} "
                f"{day_to_iso(end_day)} (row positions {pos}: {shown}). ")
        raise DataError(
            what + f"Filter them out first (e.g. df[df[{col!r}] <= '{day_to_iso(end_day)}']) "
            f"or pass a later {name}.",
            cli_message=what + "Drop them from the file or pass a later --"
            + name.replace("_", "-") + ".",
        )
