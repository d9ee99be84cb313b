"""Distinct purchase days: the integer-key engine behind the RFM summaries.

Customers become integer codes (direct indexing for integer ids in a compact range,
otherwise one hash, Arrow's where it is faster), days become 32-bit offsets from the
first transaction day, and each (customer, day) pair becomes one integer key
``code * span + day``. One in-place sort of those keys lists every customer's
distinct purchase days in order; the summaries are reductions over that list and
over the rows. Large per-row temporaries are kept few and narrow: on big inputs the
cost of touching fresh memory is comparable to the sort.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from clvmodels.data.transactions import (
    check_no_far_future,
    check_no_far_past,
    check_not_after,
    day_to_iso,
    validate_transactions,
)
from clvmodels.errors import DataError, DataWarning, format_examples

__all__ = ["PurchaseDays", "factorize_ids", "in_id_order", "purchase_days", "check_id_types"]

KEY32_LIMIT = 2**32  # keys below this fit in uint32 (half the memory, faster sort)


@dataclass(frozen=True)
class PurchaseDays:
    """Validated transactions as integer arrays, plus their distinct purchase days.

    Days are counted from ``start``, the first transaction day. Rows keep the input
    order; ``pair_*`` list each distinct (customer, day) once, sorted by customer
    code then day.
    """

    ids: pd.Index  # distinct customer ids; a customer's code is its position here
    start: int  # day number (days since 1970-01-01) of the first transaction
    codes: np.ndarray  # per row: customer code (intp)
    days: np.ndarray  # per row: day - start (uint32)
    amount: np.ndarray | None  # per row: float64
    pair_customer: np.ndarray  # per purchase day: customer code (uint32 or int64)
    pair_day: np.ndarray  # per purchase day: day - start (same dtype)
    pair_first: np.ndarray  # per purchase day: is it the customer's first?
    first: np.ndarray  # per customer: first purchase day - start

    @property
    def end(self) -> int:
        """Day number of the last transaction."""
        return self.start + int(self.days.max())


def factorize_ids(ids: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (intp) of the ids and the distinct ids, position = code.

    The distinct ids are in no particular order; :func:`in_id_order` orders the output.
    """
    if isinstance(ids.dtype, np.dtype) and ids.dtype.kind in "iu":
        values = ids.to_numpy()
        lo, hi = int(values.min()), int(values.max())
        if hi - lo <= 4 * values.size and -(2**62) < lo and hi < 2**62:
            # integer ids in a compact range: direct indexing instead of hashing
            offset = values.astype(np.int64)  # a copy, shifted in place
            offset -= lo
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[offset] = True
            rank = np.cumsum(present, dtype=np.intp)
            rank -= 1
            # codes = rank[offset], written over offset (mode="clip" is unbuffered and
            # each element is read before it is overwritten)
            codes = np.take(rank, offset, out=offset, mode="clip")
            return codes, pd.Index((np.flatnonzero(present) + lo).astype(values.dtype))
        # other integer ids: Arrow's hash table is faster than pandas' here
        codes, uniques = _arrow_codes(pa.array(values))
        return codes, pd.Index(uniques.to_numpy(), dtype=values.dtype)
    if isinstance(ids.dtype, pd.ArrowDtype) or getattr(ids.dtype, "storage", "") == "pyarrow":
        codes, uniques = _arrow_codes(pa.array(ids))  # Arrow-backed (e.g. strings): no copy
        try:
            return codes, pd.Index(pd.array(uniques, dtype=ids.dtype))
        except (TypeError, ValueError, pa.ArrowException):  # pandas that cannot convert:
            # take the distinct ids from the rows where each first occurs
            first_row = np.full(len(uniques), codes.size, dtype=np.intp)
            np.minimum.at(first_row, codes, np.arange(codes.size, dtype=np.intp))
            return codes, pd.Index(ids.iloc[first_row])
    try:
        codes, uniques = pd.factorize(ids)
    except TypeError as exc:
        raise DataError(
            f"Customer ids must be numbers or strings; got unhashable values ({exc}). "
            "Convert the id column to strings first."
        ) from None
    check_id_types(np.asarray(uniques), "customer ids", "the id column")
    return codes.astype(np.intp, copy=False), pd.Index(uniques)


def _id_text(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return str(value).strip()


def check_id_types(distinct, what: str, where: str) -> None:
    """Refuse distinct ids of mixed types that are written the same (1 and "1"):
    they would count as different customers. ``distinct`` (a numpy array) holds each
    id once; only object arrays can mix types."""
    if not isinstance(distinct, np.ndarray) or distinct.dtype != object or distinct.size < 2:
        return
    if not pd.api.types.infer_dtype(distinct, skipna=False).startswith("mixed"):
        return
    text = pd.Series([_id_text(v) for v in distinct])
    clash = text.duplicated(keep=False).to_numpy()
    if not clash.any():
        return
    groups = pd.Series(distinct[clash]).groupby(text[clash].to_numpy(), sort=False)
    pairs = [" and ".join(repr(v) for v in g) for _, g in groups]
    shown = "; ".join(pairs[:3]) + (f"; ... ({len(pairs) - 3} more)" if len(pairs) > 3 else "")
    raise DataError(
        f"The {what} mix numbers and text, and {len(pairs)} of them are written both ways "
        f"({shown}): they would count as different customers. Make every id text (e.g. "
        f"df[col] = df[col].astype(str)) or every id a number in {where}, then run again."
    )


def _arrow_codes(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Arrow's dictionary encoding: codes (intp) and the distinct values."""
    if isinstance(values, pa.ChunkedArray) and values.num_chunks == 1:
        values = values.chunk(0)
    if isinstance(values, pa.ChunkedArray):
        # Arrow hashes all chunks with one table and gives every chunk the same
        # dictionary (checked through its buffers); then the chunks' codes concatenate
        chunks = values.dictionary_encode().chunks
        dictionary = chunks[0].dictionary
        shared = [b.address for b in dictionary.buffers() if b is not None]
        if all([b.address for b in c.dictionary.buffers() if b is not None] == shared
               for c in chunks):
            codes = np.concatenate([c.indices.to_numpy() for c in chunks], dtype=np.intp)
            return codes, dictionary
        values = values.combine_chunks()
    encoded = values.dictionary_encode()
    return encoded.indices.to_numpy().astype(np.intp), encoded.dictionary


def in_id_order(keep: np.ndarray, ids: pd.Index) -> np.ndarray:
    """``keep`` (customer codes) reordered so that their ids are sorted."""
    subset = ids[keep]
    try:
        if subset.is_monotonic_increasing:  # e.g. integer ids in a compact range
            return keep
        order = subset.argsort()
    except TypeError:  # mixed types: pandas' safe ordering (numbers, then text) ...
        try:
            order = np.argsort(pd.factorize(subset, sort=True)[0])
        except TypeError:  # ... or, for types even that cannot order, their text
            order = np.argsort(np.asarray(subset.astype(str)), kind="stable")
    return keep[order]


def purchase_days(
    transactions,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    allow_refunds: bool,
    date_format: str | None,
    end_day: int | None = None,
    end_name: str = "observation_end",
) -> PurchaseDays:
    """Validate transactions and list each customer's distinct purchase days.

    The column arguments are those of :func:`~clvmodels.data.load_transactions`;
    ``end_day`` (a day number), if given, is the last day allowed, called
    ``end_name`` in the error for later transactions.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["b", "a", "b", "b"],
    ...                    "date": ["2024-01-03", "2024-01-01", "2024-01-03", "2024-01-05"]})
    >>> p = purchase_days(tx, customer_col="customer_id", date_col="date", amount_col=None,
    ...                   allow_refunds=False, date_format=None)
    >>> p.ids.tolist(), p.pair_customer.tolist(), p.pair_day.tolist(), p.first.tolist()
    (['b', 'a'], [0, 0, 1], [2, 4, 0], [2, 0])
    """
    valid = validate_transactions(
        transactions,
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        allow_refunds=allow_refunds,
        date_format=date_format,
    )
    days = valid.days
    start, last = int(days.min()), int(days.max())
    if end_day is not None:
        check_not_after(days, end_day, end_name, date_col)
    else:
        check_no_far_future(days, start, last, date_col, end_name)
    check_no_far_past(days, start, last, date_col)
    codes, ids = factorize_ids(valid.ids)
    # day offsets from the first day, in place in the validated (new) int32 day array
    days -= start
    days = days.view(np.uint32)
    span = int(days.max()) + 1
    # one integer key per (customer, day); sorting the keys lists the purchase days
    if ids.size * span <= KEY32_LIMIT:
        key = codes.astype(np.uint32)
        key *= np.uint32(span)
    else:
        key = codes.astype(np.int64)
        key *= span
    key += days
    key.sort()
    distinct = np.empty(key.size, dtype=bool)
    distinct[0] = True
    np.not_equal(key[1:], key[:-1], out=distinct[1:])
    if valid.amount is not None and key.size >= 20:
        _check_copies(key, distinct, codes, days, span, valid.amount, start)
    pair_customer = key[distinct]
    del key, distinct
    pair_day = pair_customer % span
    pair_customer //= span
    pair_first = np.empty(pair_customer.size, dtype=bool)
    pair_first[0] = True
    np.not_equal(pair_customer[1:], pair_customer[:-1], out=pair_first[1:])
    first = pair_day[pair_first]  # every code occurs, so one first day per customer
    if allow_refunds and valid.amount is not None and valid.amount.min() < 0:
        _note_refund_days(codes, days, valid.amount, ids, start)
    return PurchaseDays(ids, start, codes, days, valid.amount, pair_customer, pair_day,
                      pair_first, first)


#: rows whose exact copies are counted to decide whether all rows need counting
_COPY_SAMPLE_ROWS = 200_000


def _check_copies(key: np.ndarray, distinct: np.ndarray, codes: np.ndarray, days: np.ndarray,
                  span: int, amount: np.ndarray, start: int) -> None:
    """Exact copies of transactions (same customer, day and amount): refused when every
    row has one (a file appended to itself) or when every row of a run of days has one
    (part of a file loaded twice); a warning when many rows have one
    (:func:`check_copies_by_day`).

    ``key`` holds the sorted (customer, day) keys and ``distinct`` marks the first of
    each. Only rows sharing their (customer, day) with another row can be copies, so
    the exact count over all rows runs only when one of the findings is possible: every
    row shares, or a run of days whose rows all share holds enough rows, or a sample of
    about 200,000 rows (whole (customer, day) groups) has 4% of copies or more. Logs
    without such signs cost a few passes over the rows."""
    n = key.size
    single = distinct.copy()  # a (customer, day) with a single row
    single[:-1] &= distinct[1:]
    shared = n - int(np.count_nonzero(single))
    need = copy_rows_needed(n)
    if shared < need:  # fewer than any finding needs
        return
    if shared < n:
        rows = np.bincount(days, minlength=span)
        if shared * 2 > n:  # rows on each day that share their (customer, day)
            sharing = rows - np.bincount(key[single] % span, minlength=span)
        else:
            sharing = np.bincount(key[~single] % span, minlength=span)
        active = np.flatnonzero(rows)
        if not (_full_day_runs(rows[active], sharing[active])[2] >= need).any():
            # whole days of rows (so whole (customer, day) groups), about 200,000 rows
            step = max(1, n // _COPY_SAMPLE_ROWS)
            sample = np.flatnonzero((np.arange(span) % step == 0)[days])
            if _copy_share(codes[sample], days[sample], span, amount[sample]) < 0.04:
                return
    row_key = codes.astype(np.int64)
    row_key *= span
    row_key += days
    frame = pd.DataFrame({"k": row_key, "a": amount})
    del row_key
    copied = frame.duplicated(keep=False).to_numpy()
    unique = n - int(frame.duplicated().sum())
    del frame
    rows = np.bincount(days, minlength=span)
    copies = np.bincount(days[copied], minlength=span)
    active = np.flatnonzero(rows)

    def first_rows(lo: int, hi: int) -> str:
        inside = np.flatnonzero(copied & (days >= lo - start) & (days <= hi - start))
        return f"row positions {format_examples(inside[:5].tolist())[:-1]}" + (
            ", ...]" if inside.size > 5 else "]")

    check_copies_by_day(active + start, rows[active], copies[active], n, unique, first_rows)


def _copy_share(codes: np.ndarray, days: np.ndarray, span: int, amount: np.ndarray) -> float:
    """Share of rows with an exact copy among these rows, from one sort of a 64-bit hash
    of (customer, day, amount) (a collision, about one in 1e8 for 200,000 rows, only
    makes the exact count run)."""
    if not codes.size:
        return 0.0
    h = codes.astype(np.uint64)
    h *= np.uint64(span)
    h += days
    h *= np.uint64(0x9E3779B97F4A7C15)
    h ^= np.ascontiguousarray(amount, dtype=np.float64).view(np.uint64)
    h.sort()
    same = h[1:] == h[:-1]
    copied = np.zeros(h.size, dtype=bool)
    copied[1:] |= same
    copied[:-1] |= same
    return float(copied.mean())


def _full_day_runs(rows: np.ndarray, counted: np.ndarray):
    """Runs of consecutive days (positions in ``rows``, the transactions of each day that
    has any) on which every row is ``counted``: first and last positions, and the rows
    each run holds."""
    idx = np.flatnonzero(counted == rows)
    if not idx.size:
        return idx, idx, idx
    breaks = np.flatnonzero(np.diff(idx) != 1)
    lo = np.append(idx[0], idx[breaks + 1])
    hi = np.append(idx[breaks], idx[-1])
    cum = np.concatenate([[0], np.cumsum(rows)])
    return lo, hi, cum[hi + 1] - cum[lo]


def copy_rows_needed(n: int) -> int:
    """Rows a run of fully copied days must hold to be refused (20, or 1% of the rows)."""
    return max(20, n // 100)


def check_copies_by_day(day: np.ndarray, rows: np.ndarray, copies: np.ndarray, n: int,
                        unique: int, where) -> None:
    """The findings of :func:`_check_copies` from per-day counts (shared with the DuckDB
    reader): ``day`` the day numbers with transactions (sorted), ``rows`` their
    transactions and ``copies`` those with an exact copy, ``n`` all rows and ``unique``
    the distinct transactions; ``where(lo, hi)`` describes the first copied rows between
    two day numbers."""
    total = int(copies.sum())
    if total == 0:
        return
    if total == n:
        what = (
            f"Every one of the {n:,} transactions has an exact copy (same customer, day and "
            f"amount): {unique:,} distinct transactions appear {n / unique:.3g} times each on "
            "average, as if the file had been appended to itself. Each copy would count as "
            f"spend, multiplying every customer's spend by {n / unique:.3g}. Drop the copies ")
        raise DataError(
            what + "(e.g. df.drop_duplicates()); if they really are separate purchases, sum "
            "each customer's amounts per day first (the summary adds them up the same way).",
            cli_message=what + "from the file (keep one of each); if they really are separate "
            "purchases, sum each customer's amounts per day first.")
    run_lo, run_hi, in_run = _full_day_runs(rows, copies)
    if in_run.size:
        best = int(np.argmax(in_run))
        if in_run[best] >= copy_rows_needed(n):
            lo, hi = int(day[run_lo[best]]), int(day[run_hi[best]])
            dated = (f"dated {day_to_iso(lo)}" if lo == hi
                     else f"dated {day_to_iso(lo)} to {day_to_iso(hi)}")
            other = n - int(in_run[best])
            other_copied = total - int(in_run[best])
            what = (
                f"All {int(in_run[best]):,} transactions {dated} ({where(lo, hi)}) have an "
                f"exact copy (same customer, day and amount), while only {other_copied:,} of "
                f"the other {other:,} do: as if that part of the file had been loaded twice. "
                "Each copy would count as spend, doubling those days' spend and purchases. ")
            raise DataError(
                what + "Drop the copies (e.g. df.drop_duplicates()); if they really are "
                "separate purchases, sum each customer's amounts per day first.",
                cli_message=what + "Drop the copies from the file (keep one of each); if they "
                "really are separate purchases, sum each customer's amounts per day first.")
    if total >= max(20, n // 20):
        lo = int(day[np.flatnonzero(copies)[0]])
        what = (
            f"{total:,} of the {n:,} transactions ({total / n:.0%}) have an exact copy (same "
            f"customer, day and amount), e.g. {where(lo, int(day[-1]))}. They count as "
            "separate purchases on their day, adding to its spend. If part of the data was "
            "loaded twice, drop the copies ")
        warnings.warn(DataWarning(
            what + "(e.g. df.drop_duplicates()); if they are separate purchases of the same "
            "amount, nothing needs doing.",
            cli_message=what + "from the file; if they are separate purchases of the same "
            "amount, nothing needs doing."), stacklevel=5)


def _note_refund_days(codes: np.ndarray, days: np.ndarray, amount: np.ndarray,
                      ids: pd.Index, start: int) -> None:
    """Say in words when refunds (negative amounts, allowed) make purchase days: they
    are netted within their day, and a day whose net total is zero or negative still
    counts as a purchase day."""
    refund = amount < 0
    n_refunds = int(refund.sum())
    span = int(days.max()) + 1
    key = codes.astype(np.int64) * span + days
    touched = np.unique(key[refund])
    rows = np.isin(key, touched)
    net = pd.Series(amount[rows]).groupby(key[rows]).sum()
    empty = net[net <= 0]
    if not len(empty):  # every refund nets out against a purchase on its day
        return
    first = empty.index.to_numpy()[:5]
    shown = format_examples([f"{ids[k // span]} on {day_to_iso(start + k % span)}" for k in first])
    message = (
        f"{n_refunds:,} refund row(s) (negative amounts) were netted within their day's "
        f"total, and {len(empty):,} of those days have a net total of zero or less (refunds "
        f"without an equal purchase that day), e.g. {shown}: these still count as purchase "
        "days, with zero or negative spend. To count a refund as a return instead, net it "
        "against the purchase it refunds (or drop it) before summarizing."
    )
    warnings.warn(message, DataWarning, stacklevel=3)
