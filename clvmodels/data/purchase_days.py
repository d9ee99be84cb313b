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

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from clvmodels.data.transactions import check_not_after, validate_transactions
from clvmodels.errors import DataError

__all__ = ["PurchaseDays", "factorize_ids", "in_id_order", "purchase_days"]

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
    return codes.astype(np.intp, copy=False), pd.Index(uniques)


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
    if end_day is not None:
        check_not_after(valid.days, end_day, end_name, date_col)
    codes, ids = factorize_ids(valid.ids)
    # day offsets from the first day, in place in the validated (new) int32 day array
    days = valid.days
    start = int(days.min())
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
    pair_customer = key[distinct]
    del key, distinct
    pair_day = pair_customer % span
    pair_customer //= span
    pair_first = np.empty(pair_customer.size, dtype=bool)
    pair_first[0] = True
    np.not_equal(pair_customer[1:], pair_customer[:-1], out=pair_first[1:])
    first = pair_day[pair_first]  # every code occurs, so one first day per customer
    return PurchaseDays(ids, start, codes, days, valid.amount, pair_customer, pair_day,
                      pair_first, first)
