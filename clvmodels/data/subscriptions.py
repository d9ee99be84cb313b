"""Contractual (subscription) data: per-account summaries and their checks.

A *per-account summary* has one row per account with

* ``tenure`` — the renewal decisions the account has been observed to make, a whole
  number: a churned account with tenure ``t`` renewed ``t - 1`` times and then did
  not renew at the end of its ``t``-th period (it was a customer for ``t`` periods);
  an active account with tenure ``t`` has completed ``t`` periods and renewed after
  each (an account still in its first period has tenure 0);
* ``churned`` — bool, True when the account has cancelled;
* optionally ``weight`` — how many identical accounts the row stands for (cohort
  tables, see :func:`clvmodels.models.churn.sbg.accounts_from_survival`), and any revenue
  or covariate columns.

:func:`subscription_summary` builds it from a table of billing periods, with a
:class:`~clvmodels.errors.DataError` for every kind of bad row (column, number of
rows, first account ids, the fix).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, check_parameter, format_examples
from ..timeunits import check_time_unit

__all__ = ["account_arrays", "subscription_summary", "subscription_calibration_holdout",
           "snapshot_entry"]

_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def _bad_rows(index: pd.Index, mask: np.ndarray, what: str = "account ids") -> str:
    ids = index[mask]
    return f"{int(mask.sum())} row(s), first {what} {format_examples(ids.tolist())}"


def account_arrays(
    data: pd.DataFrame,
    owner: str,
    *,
    need_churned: bool = True,
    extra: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """Validate a per-account contractual summary and return float64 arrays
    ``tenure``, ``churned`` (0.0 / 1.0), ``weight`` and one per name in ``extra``.

    Rules: ``tenure`` whole, finite and >= 0; ``churned`` bool (or 0/1); a churned
    account has tenure >= 1 (it was a customer for at least one period); ``weight``,
    when present, finite and >= 0. Without a ``churned`` column (and
    ``need_churned=False``) every account is taken as active.

    ``entry`` (optional, default 0: observed from acquisition) is the number of renewal
    decisions an account had already survived when observation began (left
    truncation, or delayed entry): whole, ``0 <= entry <= tenure``, and ``entry <
    tenure`` for a churned account (its churn was observed). A snapshot of the accounts
    active at the start of one period, each observed for that period's decision only,
    has ``entry = tenure - 1`` (see :func:`snapshot_entry`).

    >>> import pandas as pd
    >>> account_arrays(pd.DataFrame({"tenure": [3, 0], "churned": [True, True]},
    ...                             index=["a", "b"]), "demo")
    Traceback (most recent call last):
    ...
    clvmodels.errors.DataError: demo: churned accounts must have 'tenure' >= 1 (a churned account was a customer for at least one period); 1 row(s), first account ids ['b']. Check how tenure was counted (see clvmodels.data.subscriptions).
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"{owner} expects a pandas DataFrame with columns 'tenure' and 'churned' (one "
            f"row per account). Got {type(data).__name__} instead."
        )
    needed = ["tenure"] + (["churned"] if need_churned else []) + list(extra)
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise DataError(
            f"{owner}: missing column(s) {missing}; the data has {list(data.columns)[:20]}. "
            "Build the summary with clvmodels.data.subscriptions.subscription_summary() or "
            "rename your columns (tenure = renewal decisions observed, churned = bool)."
        )
    if len(data) == 0:
        raise DataError(f"{owner}: the account summary has no rows; it needs at least one account.")
    idx = data.index
    out: dict[str, np.ndarray] = {}
    optional = [c for c in ("weight", "entry") if c in data.columns and c not in extra]
    for c in ["tenure", *extra, *optional]:
        try:
            v = pd.to_numeric(data[c], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{owner}: column {c!r} must be numeric ({exc}). Convert it with pd.to_numeric "
                "or encode categories as 0/1 columns."
            ) from None
        bad = ~np.isfinite(v)
        if bad.any():
            raise DataError(
                f"{owner}: column {c!r} has missing or infinite values in {_bad_rows(idx, bad)}. "
                "Drop or fill those accounts."
            )
        out[c] = v
    t = out["tenure"]
    bad = (t < 0) | (t != np.round(t))
    if bad.any():
        raise DataError(
            f"{owner}: 'tenure' must be a whole number of periods >= 0; {_bad_rows(idx, bad)}; "
            f"values {format_examples(t[bad].tolist())}."
        )
    if "weight" in out:
        bad = out["weight"] < 0
        if bad.any() or out["weight"].sum() <= 0:
            raise DataError(
                f"{owner}: 'weight' (accounts per row) must be >= 0 with a positive total; "
                f"{_bad_rows(idx, bad)} are negative."
            )
    else:
        out["weight"] = np.ones_like(t)
    if "entry" in out:
        e = out["entry"]
        bad = (e < 0) | (e != np.round(e)) | (e > t)
        if bad.any():
            raise DataError(
                f"{owner}: 'entry' (renewal decisions survived before observation began) must "
                f"be a whole number between 0 and 'tenure'; {_bad_rows(idx, bad)}; values "
                f"{format_examples(e[bad].tolist())}. An account entering observation after "
                "its last decision was never observed: drop it."
            )
    else:
        out["entry"] = np.zeros_like(t)
    if "churned" in data.columns:
        out["churned"] = _churned_column(data["churned"], owner)
    elif need_churned:  # pragma: no cover - caught by the missing-column check
        raise DataError(f"{owner}: missing column 'churned'.")
    else:
        out["churned"] = np.zeros_like(t)
    bad = (out["churned"] > 0) & (t < 1)
    if bad.any():
        raise DataError(
            f"{owner}: churned accounts must have 'tenure' >= 1 (a churned account was a "
            f"customer for at least one period); {_bad_rows(idx, bad)}. Check how tenure was "
            "counted (see clvmodels.data.subscriptions)."
        )
    bad = (out["churned"] > 0) & (out["entry"] >= t)
    if bad.any():
        raise DataError(
            f"{owner}: a churned account must have 'entry' < 'tenure' (its cancellation happened "
            f"after observation began, or the account would not be in the data); "
            f"{_bad_rows(idx, bad)}. For a snapshot use entry = tenure - 1."
        )
    return out


def snapshot_entry(tenure, observed_periods: int = 1) -> np.ndarray:
    """``entry`` of accounts observed only for their last ``observed_periods`` renewal
    decisions: ``max(tenure - observed_periods, 0)``.

    A snapshot such as the bundled Telco file (the accounts active at the start of one
    month, and whether each cancelled in that month) observes one decision per account
    (``observed_periods=1``): every account that cancelled earlier is missing, so each
    row's likelihood is conditioned on the account having survived ``tenure - 1``
    decisions. With one decision per account, how churn varies between accounts is
    identified only through how the churn rate varies with tenure.

    >>> snapshot_entry(np.array([0, 1, 5, 72])).tolist()
    [0.0, 0.0, 4.0, 71.0]
    """
    check_parameter("observed_periods", "snapshot_entry", observed_periods,
                    isinstance(observed_periods, int) and not isinstance(observed_periods, bool)
                    and observed_periods >= 1, "an int >= 1")
    t = np.asarray(tenure, dtype=np.float64)
    return np.maximum(t - observed_periods, 0.0)


def _churned_column(col: pd.Series, owner: str) -> np.ndarray:
    """``churned`` as 0.0 / 1.0; bool or 0/1 only (strings get a fix in the message)."""
    if col.dtype == bool or str(col.dtype) == "boolean":
        if col.isna().any():
            bad = col.isna().to_numpy()
            raise DataError(f"{owner}: column 'churned' has missing values in "
                            f"{_bad_rows(col.index, bad)}. Fill them with True or False.")
        return col.to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(col):
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isin(v, (0.0, 1.0))
        if bad.any():
            raise DataError(
                f"{owner}: column 'churned' must be bool (or 0/1); {_bad_rows(col.index, bad)}; "
                f"values {format_examples(v[bad].tolist())}."
            )
        return v
    values = sorted({str(v) for v in col.dropna().unique()})[:5]
    hint = ""
    if values and all(v.strip().lower() in _BOOL_WORDS for v in values):
        hint = " For example: accounts['churned'] = accounts['Churn'].eq('Yes')."
    raise DataError(
        f"{owner}: column 'churned' must be bool (True = the account cancelled); it holds "
        f"{col.dtype} values such as {values}. Convert it first.{hint}"
    )


# period lengths (days) accepted for each unit: calendar months are 28-31 days
_PERIOD_DAYS = {"day": (1, 1), "week": (7, 7), "month": (28, 31), "year": (365, 366)}


def _ids_of(ids: np.ndarray, mask: np.ndarray) -> str:
    """Count and first distinct account ids of the rows in ``mask``."""
    shown = pd.unique(ids[mask])
    return f"{int(mask.sum())} row(s), first account ids {format_examples(shown.tolist())}"


def _dates(col: pd.Series, name: str, ids: np.ndarray, date_format) -> np.ndarray:
    """Day numbers (int64, days since 1970-01-01) of a date column."""
    try:
        parsed = pd.to_datetime(col, errors="coerce", format=date_format)
    except (TypeError, ValueError) as exc:
        raise DataError(f"subscription_summary: column {name!r} cannot be read as dates "
                        f"({exc}). Pass date_format='%Y-%m-%d' (or the format used).") from None
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataError(
            f"subscription_summary: column {name!r} has missing or unreadable dates in "
            f"{_ids_of(ids, bad)}; values {format_examples(col[bad].tolist())}. Fix them, or "
            "pass date_format= for non-ISO dates."
        )
    return parsed.dt.floor("D").to_numpy().astype("datetime64[D]").astype(np.int64)


def subscription_summary(
    events: pd.DataFrame,
    *,
    observation_end,
    account_col: str = "account_id",
    start_col: str = "period_start",
    end_col: str = "period_end",
    amount_col: str = "amount",
    period: str | None = None,
    max_gap_days: int = 0,
    date_format: str | None = None,
    observation_start=None,
) -> pd.DataFrame:
    """Per-account contractual summary from billing periods.

    Parameters
    ----------
    events : DataFrame
        One row per paid period of an account: account id, period start, period end
        (the first day *not* covered, i.e. the day the next period would start; for a
        period cut short by a cancellation, the cancellation date) and the amount
        billed. Periods of an account follow each other without overlaps or gaps.
    observation_end : date-like
        Last day observed (inclusive). No period may start after it.
    account_col, start_col, end_col, amount_col : str
        Column names.
    period : {"day", "week", "month", "year"}, optional
        Billing period; inferred from the period lengths when not given (months are
        28-31 days, years 365-366).
    max_gap_days : int
        Gaps up to this many days between an account's periods count as contiguous
        (grace periods; use 1 when ``end_col`` holds the last day covered). A renewal
        is expected by ``end + max_gap_days``: an account whose last period ends at
        least ``max_gap_days`` days before ``observation_end`` without a next period
        has churned.
    date_format : str, optional
        ``strftime`` format of the dates, for non-ISO dates.
    observation_start : date-like, optional
        First day of observation when the extract holds only the accounts still active
        on that day (and those acquired later), e.g. a warehouse or CRM export started
        then: accounts that cancelled before it are missing. Each account's ``entry`` is
        then the number of renewal decisions it had made by that day (its periods
        ending on or before it), and every churn model conditions on them (left
        truncation). The events must hold each included account's billing history
        from acquisition; an account that cancelled before ``observation_start`` cannot
        be in such an extract and is refused.

    Returns
    -------
    DataFrame
        Indexed by account: ``tenure`` (renewal decisions seen: the periods paid for a
        churned account, one fewer for an active one, whose next decision is still to
        come), ``churned``, ``periods_paid``, ``revenue`` (the last period's amount, the
        price at the next renewal), ``total_revenue``, ``first_start`` (acquisition
        date, for cohorts), ``last_end`` and ``entry`` (0 without
        ``observation_start``). ``attrs`` hold ``time_unit`` and ``observation_end``
        (and ``observation_start``).

    Raises
    ------
    DataError
        A missing column; no rows; missing account ids; unreadable dates; missing,
        non-numeric or negative amounts; a period that ends on or before its start;
        overlapping periods or gaps within an account; a period starting after
        ``observation_end``; or a period length that is unknown, mixed, or does not
        match ``period``. Each message names the column, counts the rows, shows the
        first account ids and says what to do.

    Examples
    --------
    >>> events = pd.DataFrame({
    ...     "account_id": ["a", "a", "a", "b", "b"],
    ...     "period_start": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-15", "2024-02-15"],
    ...     "period_end": ["2024-02-01", "2024-03-01", "2024-04-01", "2024-02-15", "2024-03-15"],
    ...     "amount": [10.0, 10.0, 12.0, 30.0, 30.0]})
    >>> s = subscription_summary(events, observation_end="2024-03-20")
    >>> cols = ["tenure", "churned", "periods_paid", "revenue", "total_revenue"]
    >>> s[cols]  # doctest: +NORMALIZE_WHITESPACE
                tenure  churned  periods_paid  revenue  total_revenue
    account_id
    a                2    False             3     12.0           32.0
    b                2     True             2     30.0           60.0
    >>> s.attrs["time_unit"]
    'month'
    """
    owner = "subscription_summary"
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"The 'events' parameter of {owner} must be a pandas DataFrame of "
                        f"billing periods. Got {type(events).__name__} instead.")
    check_parameter("max_gap_days", owner, max_gap_days,
                    isinstance(max_gap_days, int) and max_gap_days >= 0, "an int >= 0")
    if period is not None:
        period = check_time_unit(period, owner, "period")
    cols = {"account_col": account_col, "start_col": start_col, "end_col": end_col,
            "amount_col": amount_col}
    missing = [f"{v!r} ({k})" for k, v in cols.items() if v not in events.columns]
    if missing:
        raise DataError(f"{owner}: column(s) {', '.join(missing)} not in the events; they have "
                        f"{list(events.columns)[:20]}. Pass the right names, e.g. "
                        "start_col='start_date'.")
    if len(events) == 0:
        raise DataError(f"{owner}: the events have no rows; pass at least one billing period.")
    ids = events[account_col].to_numpy()
    bad = pd.isna(events[account_col]).to_numpy()
    if bad.any():
        raise DataError(f"{owner}: column {account_col!r} has missing account ids in "
                        f"{int(bad.sum())} row(s) (row positions "
                        f"{format_examples(np.flatnonzero(bad).tolist())}). Drop or fill them.")
    start = _dates(events[start_col], start_col, ids, date_format)
    end = _dates(events[end_col], end_col, ids, date_format)
    amount = pd.to_numeric(events[amount_col], errors="coerce").to_numpy(np.float64,
                                                                         na_value=np.nan)
    bad = ~np.isfinite(amount) | (amount < 0)
    if bad.any():
        raise DataError(f"{owner}: column {amount_col!r} must be a number >= 0; {_ids_of(ids, bad)}"
                        f" are not (values {format_examples(events[amount_col][bad].tolist())})."
                        " Fill missing amounts and record refunds separately.")
    bad = end <= start
    if bad.any():
        raise DataError(
            f"{owner}: {end_col!r} is on or before {start_col!r} in {_ids_of(ids, bad)}. Each "
            f"row is one paid period: {end_col!r} must be after {start_col!r} (the first day "
            "not covered). Swapped columns?"
        )
    from .transactions import parse_day

    obs = parse_day(observation_end, "observation_end", owner)
    bad = start > obs
    if bad.any():
        raise DataError(f"{owner}: periods start after observation_end in {_ids_of(ids, bad)}. "
                        "Filter them out or pass a later observation_end.")

    codes, uniques = pd.factorize(events[account_col], sort=True)
    order = np.lexsort((start, codes))
    codes, start, end, amount = codes[order], start[order], end[order], amount[order]
    sorted_ids = ids[order]
    same = codes[1:] == codes[:-1]
    gap = start[1:] - end[:-1]
    overlap = np.append(False, same & (gap < 0))
    if overlap.any():
        raise DataError(
            f"{owner}: overlapping periods within an account in {_ids_of(sorted_ids, overlap)} "
            f"(a period starts before the previous one ends). Remove duplicate billing rows, "
            "or merge an upgrade's prorated rows into one period."
        )
    lapse = np.append(False, same & (gap > max_gap_days))
    if lapse.any():
        raise DataError(
            f"{owner}: gaps between consecutive periods of an account in "
            f"{_ids_of(sorted_ids, lapse)} (largest {int(gap[lapse[1:]].max())} days). The sBG "
            f"model has no reactivation: give an account that returns after lapsing a new id. If "
            f"{end_col!r} is the last day covered, pass max_gap_days=1."
        )
    last = np.append(~same, True)
    first = np.append(True, ~same)
    unit = _period_unit(end - start, last, end > obs, period, sorted_ids, owner)

    n_paid = np.bincount(codes, minlength=len(uniques)).astype(np.int64)
    churned = end[last] + max_gap_days <= obs
    entry = np.zeros(len(uniques), dtype=np.int64)
    if observation_start is not None:
        first_day = parse_day(observation_start, "observation_start", owner)
        if first_day > obs:
            raise DataError(f"{owner}: observation_start ({observation_start}) is after "
                            f"observation_end ({observation_end}).")
        gone = churned & (end[last] + max_gap_days <= first_day)
        if gone.any():
            raise DataError(
                f"{owner}: {int(gone.sum())} account(s) cancelled before observation_start "
                f"({observation_start}), first account ids "
                f"{format_examples(uniques[gone].tolist())}; an extract of the accounts active "
                "from that day cannot hold them. Drop them, or leave observation_start out if "
                "the data hold every account from acquisition.")
        # decisions made by the start: the account's periods that ended by then
        entry = np.bincount(codes, weights=(end <= first_day), minlength=len(uniques)
                            ).astype(np.int64)
    out = pd.DataFrame(
        {
            "tenure": np.where(churned, n_paid, n_paid - 1),
            "churned": churned,
            "periods_paid": n_paid,
            "revenue": amount[last],
            "total_revenue": np.bincount(codes, weights=amount, minlength=len(uniques)),
            "first_start": start[first].astype("datetime64[D]").astype("datetime64[ns]"),
            "last_end": end[last].astype("datetime64[D]").astype("datetime64[ns]"),
            "entry": entry,
        },
        index=pd.Index(uniques, name=account_col),
    )
    out.attrs.update(time_unit=unit, observation_end=str(np.datetime64(obs, "D")))
    if observation_start is not None:
        out.attrs["observation_start"] = str(np.datetime64(first_day, "D"))
    return out


def subscription_calibration_holdout(events: pd.DataFrame, *, calibration_end, observation_end,
                                     **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Account summaries to fit on data up to ``calibration_end`` and check the
    renewals that followed, up to ``observation_end`` (a holdout check of a churn model,
    :func:`clvmodels.evaluation.churn_checks.compare_churn_models`).

    Returns ``(calibration, holdout)``: ``calibration`` is
    :func:`subscription_summary` of the periods started by ``calibration_end``;
    ``holdout`` holds the accounts active at ``calibration_end``, observed from there:
    ``entry`` = their tenure at ``calibration_end``, ``tenure`` and ``churned`` as at
    ``observation_end``. ``options`` go to :func:`subscription_summary`.

    >>> events = pd.DataFrame({
    ...     "account_id": ["a", "a", "a", "b", "b", "c"],
    ...     "period_start": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-15",
    ...                      "2024-02-15", "2024-01-10"],
    ...     "period_end": ["2024-02-01", "2024-03-01", "2024-04-01", "2024-02-15",
    ...                    "2024-03-15", "2024-02-10"],
    ...     "amount": 10.0})
    >>> cal, hold = subscription_calibration_holdout(events, calibration_end="2024-02-20",
    ...                                             observation_end="2024-04-20")
    >>> cal[["tenure", "churned"]].to_dict("index")
    {'a': {'tenure': 1, 'churned': False}, 'b': {'tenure': 1, 'churned': False}, 'c': {'tenure': 1, 'churned': True}}
    >>> hold[["entry", "tenure", "churned"]].to_dict("index")
    {'a': {'entry': 1, 'tenure': 3, 'churned': True}, 'b': {'entry': 1, 'tenure': 2, 'churned': True}}
    """
    owner = "subscription_calibration_holdout"
    start_col = options.get("start_col", "period_start")
    if start_col not in getattr(events, "columns", ()):
        raise DataError(f"{owner}: column {start_col!r} (start_col) is not in the events.")
    from .transactions import parse_day

    cal_day = parse_day(calibration_end, "calibration_end", owner)
    end_day = parse_day(observation_end, "observation_end", owner)
    if cal_day >= end_day:
        raise DataError(f"{owner}: calibration_end ({calibration_end}) must be before "
                        f"observation_end ({observation_end}).")
    starts = pd.to_datetime(events[start_col], errors="coerce",
                            format=options.get("date_format"))
    early = (starts.dt.floor("D").to_numpy().astype("datetime64[D]").astype(np.int64)
             <= cal_day)
    calibration = subscription_summary(events[early], observation_end=calibration_end, **options)
    whole = subscription_summary(events, observation_end=observation_end, **options)
    ids = calibration.index[~calibration["churned"].to_numpy()]
    holdout = whole.loc[ids].copy()
    holdout["entry"] = calibration.loc[ids, "tenure"].to_numpy()
    holdout.attrs = dict(whole.attrs, calibration_end=calibration.attrs["observation_end"])
    return calibration, holdout


def _period_unit(days, last, open_last, period, ids, owner) -> str:
    """The billing period: every full period's length must fit one unit (``period``
    when given). Last periods of churned accounts may be shorter (cancellations)."""
    full = ~last | open_last
    if not full.any():
        full = np.ones_like(last)
    units = list(_PERIOD_DAYS) if period is None else [period]
    fits = np.stack([(days >= lo) & (days <= hi) for lo, hi in (_PERIOD_DAYS[u] for u in units)])
    hit = fits[:, full].all(axis=1)
    if hit.any():
        unit = units[int(np.argmax(hit))]
        too_long = days > _PERIOD_DAYS[unit][1]
        if not too_long.any():
            return unit
        bad = too_long
    else:
        bad = full & ~fits.any(axis=0) if period is None else full & ~fits[0]
    lengths = sorted(set(days[full].tolist()))
    if period is None and not bad.any():  # every row fits some unit, but not one unit
        counts = {u: int(f[full].sum()) for u, f in zip(units, fits) if f[full].any()}
        raise DataError(
            f"{owner}: mixed period lengths: {counts} billing periods look like each unit. "
            "Summarize and model each billing frequency separately (e.g. split monthly and "
            "annual plans), or pass period= to check against one."
        )
    expected = (f"period={period!r} ({_PERIOD_DAYS[period][0]}-{_PERIOD_DAYS[period][1]} days)"
                if period is not None else "a day, week, month (28-31 days) or year")
    raise DataError(
        f"{owner}: unknown period length: {_ids_of(ids, bad)} have periods of "
        f"{format_examples(sorted(set(days[bad].tolist())))} days, not {expected}; lengths seen "
        f"{format_examples(lengths)}. Pass period='month' (or 'week', 'year', 'day') if that is "
        "the billing period and fix the odd rows, or split mid-period plan changes into whole "
        "periods."
    )
