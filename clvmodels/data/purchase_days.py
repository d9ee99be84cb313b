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
    if valid.amount is not None and key.size >= 20 and not distinct[-1]:
        # the last (customer, day) has several rows: are they all copies?
        _check_not_doubled(distinct, codes, days, valid.amount)
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


def _check_not_doubled(distinct: np.ndarray, codes: np.ndarray, days: np.ndarray,
                       amount: np.ndarray) -> None:
    """Refuse a log in which every transaction has an exact copy (same customer, day
    and amount): a file appended to itself, whose copies would double every spend.
    ``distinct`` marks the first row of each (customer, day) in key order; a
    (customer, day) with one row ends the check at once."""
    if (distinct[:-1] & distinct[1:]).any():  # some (customer, day) has a single row
        return
    rows = pd.DataFrame({"c": codes, "d": days, "a": amount})
    if not rows.duplicated(keep=False).all():
        return
    n, unique = len(rows), int((~rows.duplicated()).sum())
    raise DataError(
        f"Every one of the {n:,} transactions has an exact copy (same customer, day and "
        f"amount): {unique:,} distinct transactions appear {n / unique:.3g} times each on "
        "average, as if the file had been appended to itself. Each copy would count as spend, "
        f"multiplying every customer's spend by {n / unique:.3g}. Drop the copies (e.g. "
        "df.drop_duplicates()); if they really are separate purchases, sum each customer's "
        "amounts per day first (the summary adds them up the same way)."
    )


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
