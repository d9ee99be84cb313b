"""Checks of per-customer summary inputs shared by models, predictions and CLV."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, format_examples

__all__ = ["summary_arrays"]


def _bad_rows(index: pd.Index, mask: np.ndarray) -> str:
    ids = index[mask]
    return f"{int(mask.sum())} row(s), first customer ids {format_examples(ids.tolist())}"


def summary_arrays(
    data: pd.DataFrame,
    owner: str,
    *,
    need_monetary: bool = False,
    allow_empty: bool = False,
    discrete: bool = False,
) -> dict[str, np.ndarray]:
    """Validate an RFM summary and return float64 arrays.

    Columns ``frequency``, ``recency`` and ``T`` are required (``monetary_value`` too
    when ``need_monetary``). Rules: all finite and non-negative, ``frequency`` whole,
    ``recency <= T``, ``recency == 0`` when ``frequency == 0``; ``monetary_value``
    positive where ``frequency > 0``. With ``discrete`` the summary is a discrete-time
    one (``frequency``, ``recency``, ``n_periods``, checked by
    :func:`~clvmodels.data.discrete.discrete_summary_arrays`) and ``n_periods`` is
    returned as ``T``, as discrete-time purchase models take it.

    >>> import pandas as pd
    >>> summary_arrays(pd.DataFrame({"frequency": [1], "recency": [2.0], "T": [1.0]}), "demo")
    Traceback (most recent call last):
    ...
    clvmodels.errors.DataError: demo: 'recency' is greater than 'T' in 1 row(s), first customer ids [0]. Recency is the time from first to last purchase and cannot exceed the customer's age T; rebuild the summary with rfm_summary().
    """
    if discrete:
        from ..data.discrete import discrete_summary_arrays

        discrete_summary_arrays(data, owner)
        data = data.drop(columns="T", errors="ignore").rename(columns={"n_periods": "T"})
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"{owner} expects a pandas DataFrame with columns 'frequency', 'recency', 'T' "
            f"(as returned by rfm_summary). Got {type(data).__name__} instead."
        )
    cols = ["frequency", "recency", "T"] + (["monetary_value"] if need_monetary else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataError(
            f"{owner}: missing column(s) {missing}; the data has {list(data.columns)[:20]}. "
            "Build the summary with clvmodels.rfm_summary() or rename your columns."
        )
    if len(data) == 0 and not allow_empty:
        raise DataError(f"{owner}: the summary has no rows; it needs at least one customer.")
    out: dict[str, np.ndarray] = {}
    for c in cols:
        try:
            v = pd.to_numeric(data[c], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{owner}: column {c!r} must be numeric ({exc}). Convert it with pd.to_numeric."
            ) from None
        out[c] = v
    idx = data.index
    for c in ("frequency", "recency", "T"):
        v = out[c]
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            raise DataError(
                f"{owner}: column {c!r} has missing, infinite or negative values in "
                f"{_bad_rows(idx, bad)}; values {format_examples(v[bad].tolist())}. "
                "Drop or fix those customers."
            )
    x = out["frequency"]
    bad = x != np.round(x)
    if bad.any():
        raise DataError(
            f"{owner}: 'frequency' must be a whole number of repeat purchases; "
            f"{_bad_rows(idx, bad)}; values {format_examples(x[bad].tolist())}."
        )
    bad = out["recency"] > out["T"] * (1 + 1e-12)
    if bad.any():
        raise DataError(
            f"{owner}: 'recency' is greater than 'T' in {_bad_rows(idx, bad)}. Recency is the "
            "time from first to last purchase and cannot exceed the customer's age T; "
            "rebuild the summary with rfm_summary()."
        )
    bad = (x == 0) & (out["recency"] != 0)
    if bad.any():
        raise DataError(
            f"{owner}: customers with frequency 0 must have recency 0; {_bad_rows(idx, bad)}."
        )
    if need_monetary:
        m = out["monetary_value"]
        bad = (x > 0) & ~(np.isfinite(m) & (m > 0))
        if bad.any():
            raise DataError(
                f"{owner}: 'monetary_value' must be positive and finite for customers with "
                f"repeat purchases; {_bad_rows(idx, bad)}; values "
                f"{format_examples(m[bad].tolist())}. Gamma-Gamma models positive spend only: "
                "drop zero-value customers or net out refunds first."
            )
    return out
