"""Checks of per-customer summary inputs shared by models, predictions and CLV."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.transactions import ABSURD_AMOUNT
from ..errors import DataError, format_examples

__all__ = ["summary_arrays", "check_fit_data"]


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


def _column(data: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(data[name], errors="coerce").to_numpy(np.float64, na_value=np.nan)


def check_fit_data(data: pd.DataFrame, owner: str, *, spend: bool = False) -> None:
    """Name degenerate data in words before a fit, instead of letting the optimiser fail
    on it (or numpy warn): nobody observed for any time (every ``T`` or ``n_periods``
    0), nobody with a repeat purchase, and (``spend``, or whenever the column is there)
    an absurd mean spend. Advice is given in Python terms, with ``cli_message`` in the
    command line's. Malformed summaries are left to :func:`summary_arrays`.

    >>> check_fit_data(pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0],
    ...                              "T": [3.0, 5.0]}), "BetaGeoModel")
    Traceback (most recent call last):
    ...
    clvmodels.errors.DataError: BetaGeoModel: Nobody made a repeat purchase: frequency is 0 for all 2 customers, so there is nothing to learn purchase rates or drop-out from. Check that the customer id column holds one id per customer (not one per order), or use data covering a longer period.
    """
    if not isinstance(data, pd.DataFrame) or len(data) == 0:
        return
    cols = data.columns
    n = len(data)
    lead = f"{owner}: " if owner else ""
    age = "T" if "T" in cols else "n_periods" if "n_periods" in cols else None
    if age is not None and not spend and np.all(_column(data, age) == 0):
        end = data.attrs.get("observation_end")
        on = f" ({end})" if end else ""
        what = (f"{lead}Every customer's age {age} is 0: all {n:,} first purchases are on the "
                f"observation end{on}, so nobody has been observed for any time.")
        raise DataError(
            f"{what} Pass a later observation_end, or use data covering more days.",
            cli_message=f"{what} Add a later --observation-end, or use data covering more "
            "days.")
    if "frequency" in cols and not spend and np.all(_column(data, "frequency") == 0):
        raise DataError(
            f"{lead}Nobody made a repeat purchase: frequency is 0 for all {n:,} customers, so "
            "there is nothing to learn purchase rates or drop-out from. Check that the "
            "customer id column holds one id per customer (not one per order), or use data "
            "covering a longer period.")
    if "monetary_value" in cols:
        m = _column(data, "monetary_value")
        with np.errstate(invalid="ignore"):
            bad = np.abs(m) >= ABSURD_AMOUNT
        if bad.any():
            raise DataError(
                f"{lead}'monetary_value' is absurd (size 1e15 or more) for "
                f"{int(bad.sum()):,} customer(s), e.g. "
                f"{format_examples(data.index[bad][:5].tolist())} with "
                f"{format_examples(m[bad][:5].tolist())}. No purchase is that large: it is a "
                "parsing or unit error, and it would overflow the spend model. Fix the amounts "
                "or drop these customers.")
