"""Model checks for contractual churn models, per segment.

A fitted churn model (:class:`~clvmodels.models.churn.base.ChurnModel`) is checked against
the data *as they were observed* (DESIGN.md principle 7): only the renewal decisions
an account was seen to make count. An account with ``entry`` ``e`` (decisions
survived before observation began) and ``tenure`` ``t`` made the observed decisions
``e + 1, ..., t``; decision ``j`` was a cancellation iff the account churned and
``j == t``. A snapshot such as the Telco file (``entry = tenure - 1``) contributes
one decision per account; a full history (``entry = 0``) contributes ``t``.

* :func:`churn_by_tenure_band` — per segment and tenure band, the observed churn rate
  per decision (with a Jeffreys interval) against the model's expected rate over the
  same decisions (with a credible band over the parameter draws);
* :func:`survival_check` — per segment and period, the delayed-entry life table's
  survival (Greenwood band) against the model's survival of a new account;
* :func:`describe_flags` — the flagged segments in sentences a manager can read;
* :func:`compare_churn_models` — log-likelihood, AIC and BIC of several fitted models
  on the same accounts, and their holdout scores.

The model is used only through the churn-family interface (``account_parameters``,
``_conditional_survival``, ``_log_survival``, ``_prepare``, ``_loglik_and_grad``), so
every churn model, with or without covariates, is checked the same way: each
decision's expected churn probability uses that account's own row parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..data.subscriptions import account_arrays
from ..errors import DataError, FitError, check_parameter
from ..models.churn.base import ChurnModel
from ..value.intervals import credible_bounds
from .retention import _groups, retention_table

__all__ = ["churn_by_tenure_band", "survival_check", "describe_flags", "compare_churn_models",
           "jeffreys_interval"]

#: parameter draws used for credible bands (evenly spaced over the stored draws)
MAX_DRAWS = 200
DEFAULT_BANDS = (1, 4, 13, 37)


# ------------------------------------------------------------------ validation
def _check_model(model, owner: str, name: str = "model") -> None:
    if not isinstance(model, ChurnModel):
        raise TypeError(f"The '{name}' parameter of {owner} must be a fitted churn model "
                        "(e.g. ShiftedBetaGeoModel). Got "
                        f"{type(model).__name__} instead.")
    model._require_fitted()


def _check_covariates(model, accounts, owner: str) -> None:
    """The model's covariate columns must be in the accounts."""
    covs = list(model._covariate_names())
    missing = [c for c in covs if c not in getattr(accounts, "columns", covs)]
    if missing:
        raise DataError(f"{owner}: the model's covariate column(s) {missing} are not in the "
                        f"accounts; they have {list(accounts.columns)[:20]}. Add them (the "
                        "same encoding as when the model was fitted).")


def _check_level(level, owner: str) -> None:
    check_parameter("level", owner, level,
                    isinstance(level, float) and 0.0 < level < 1.0, "a float in (0, 1)")


def _check_bands(bands, owner: str) -> tuple[int, ...]:
    ok = (isinstance(bands, (tuple, list)) and len(bands) >= 1
          and all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) for b in bands)
          and all(b >= 1 for b in bands) and all(a < b for a, b in zip(bands, bands[1:])))
    check_parameter("bands", owner, bands, ok,
                    "a tuple of strictly increasing ints >= 1 (the first period of each band)")
    return tuple(int(b) for b in bands)


def _draws(model) -> dict[str, np.ndarray]:
    """The point estimate followed by at most ``MAX_DRAWS`` parameter draws, evenly
    spaced over the stored ones (deterministic: no sampling here)."""
    draws = model.param_draws()
    n = next(iter(draws.values())).shape[0]
    keep = np.unique(np.linspace(0, n - 1, min(n, MAX_DRAWS)).round().astype(np.intp))
    point = model.point_draws()
    return {k: np.concatenate([point[k], np.asarray(draws[k], np.float64)[keep]])
            for k in model.param_names}


def _segment_frame(by, rows: list[dict], inner: str) -> pd.DataFrame:
    """One frame from per-(segment, inner) records, indexed by the ``by`` columns (or
    ``segment`` = "all") and ``inner``."""
    cols = ["segment"] if by is None else ([by] if isinstance(by, str) else list(by))
    out = pd.DataFrame(rows)
    return out.set_index(cols + [inner])


def _key_columns(key, by) -> dict:
    if by is None:
        return {"segment": "all"}
    cols = [by] if isinstance(by, str) else list(by)
    return dict(zip(cols, key if len(cols) > 1 else (key,)))


def _pairs(comp, codes, weight, n_groups):
    """(unique row, segment) pairs: unique-row index, segment code and total weight."""
    key = comp.inverse.astype(np.int64) * n_groups + codes
    pair, first = pd.factorize(key)
    pair_w = np.bincount(pair, weights=weight, minlength=len(first))
    first = np.asarray(first, dtype=np.int64)
    return (first // n_groups).astype(np.intp), (first % n_groups).astype(np.intp), pair_w


def _to_groups(values, rows, groups, weights, n_rows, n_groups):
    """``values`` (n_draws, n_rows) summed with ``weights`` into segments: (n_draws,
    n_groups). ``rows``/``groups``/``weights`` list the (row, segment) pairs."""
    m = sparse.csr_matrix((weights, (rows, groups)), shape=(n_rows, n_groups))
    return np.asarray((m.T @ values.T).T)


# --------------------------------------------------------------- tenure bands
def _band_counts(model, accounts, codes, n_groups, bands, params, owner):
    """Observed decisions and churns, and expected churns per draw, by (segment, band).

    Returns ``(edges, decisions, churned, expected)``: ``edges`` the (first, last)
    period of each band kept; ``decisions``, ``churned`` (n_groups, n_bands);
    ``expected`` (n_draws, n_groups, n_bands).
    """
    arr = account_arrays(accounts, owner)
    p, tenure, churned, comp = model.account_parameters(accounts, params)
    entry = comp.unique["entry"]
    rows, groups, w = _pairs(comp, codes, arr["weight"], n_groups)
    observed = (tenure[rows] > entry[rows]) & (w > 0)
    if not observed.any():
        raise DataError(f"{owner}: no account was observed making a renewal decision (every "
                        "account has tenure == entry); there is nothing to check yet.")
    last = int(tenure[rows][observed].max())
    firsts = [b for b in bands if b <= last]
    if not firsts:
        raise DataError(f"{owner}: the first band starts at period {bands[0]}, after the last "
                        f"decision observed (period {last}); pass bands starting earlier.")
    edges = [(lo, hi - 1) for lo, hi in zip(firsts, firsts[1:])] + [(firsts[-1], last)]
    n_draws = next(iter(p.values())).shape[0]
    decisions = np.zeros((n_groups, len(edges)))
    gone = np.zeros((n_groups, len(edges)))
    expected = np.zeros((n_draws, n_groups, len(edges)))
    t, e, c = tenure[rows], entry[rows], churned[rows]
    for b, (lo, hi) in enumerate(edges):
        seen = np.clip(np.minimum(t, hi) - np.maximum(e + 1, lo) + 1, 0, None)
        decisions[:, b] = np.bincount(groups, weights=w * seen, minlength=n_groups)
        hit = c & (t >= lo) & (t <= hi)
        gone[:, b] = np.bincount(groups, weights=w * hit, minlength=n_groups)
    band_of = np.full(last + 1, -1, dtype=np.intp)
    for b, (lo, hi) in enumerate(edges):
        band_of[lo: hi + 1] = b
    for j in range(firsts[0], last + 1):  # one pass per distinct decision period
        at = (e < j) & (j <= t) & (w > 0)
        if not at.any():
            continue
        urows, pos = np.unique(rows[at], return_inverse=True)
        pj = {k: v[:, urows] for k, v in p.items()}
        hazard = 1.0 - model._conditional_survival(pj, float(j - 1), 1.0)
        expected[:, :, band_of[j]] += _to_groups(hazard, pos, groups[at], w[at],
                                                 urows.size, n_groups)
    return edges, decisions, gone, expected


def jeffreys_interval(churned, decisions, level: float):
    """Jeffreys interval of a binomial rate: the ``(1 -+ level) / 2`` quantiles of
    ``Beta(churned + 0.5, decisions - churned + 0.5)``, with the lower bound 0 when
    nothing churned and the upper bound 1 when everything did (Brown, Cai & DasGupta
    2001, "Interval Estimation for a Binomial Proportion", Statistical Science 16(2)).
    NaN where there are no decisions.

    >>> lo, hi = jeffreys_interval(np.array([0.0, 5.0]), np.array([6.0, 50.0]), 0.9)
    >>> np.round(lo, 4).tolist(), np.round(hi, 4).tolist()
    ([0.0, 0.0468], [0.2642, 0.1864])
    """
    c = np.asarray(churned, dtype=np.float64)
    n = np.asarray(decisions, dtype=np.float64)
    a, b = c + 0.5, np.where(n > 0, n - c + 0.5, np.nan)
    lo = stats.beta.ppf((1.0 - level) / 2.0, a, b)
    hi = stats.beta.ppf((1.0 + level) / 2.0, a, b)
    lo = np.where((c <= 0) & (n > 0), 0.0, lo)
    hi = np.where((c >= n) & (n > 0), 1.0, hi)
    return lo, hi


def churn_by_tenure_band(model: ChurnModel, accounts: pd.DataFrame, *, by=None,
                         bands=DEFAULT_BANDS, level: float = 0.90) -> pd.DataFrame:
    """Observed against expected churn per renewal decision, by segment and tenure band.

    Parameters
    ----------
    model : ChurnModel
        A fitted churn model (any fitting method; covariate models need their
        covariate columns in ``accounts``).
    accounts : DataFrame
        Per-account ``tenure``, ``churned``, optional ``entry`` (default 0) and
        ``weight``, the model's covariates and the ``by`` columns.
    by : str or list of str, optional
        Segment columns; all accounts form one segment ("all") by default.
    bands : tuple of int
        The first period of each tenure band; the last band runs to the last decision
        observed. The default gives periods 1-3, 4-12, 13-36 and 37 on. Decisions
        before the first band are left out; bands starting after the last decision
        observed are dropped.
    level : float
        Probability of the observed rate's interval and of the model's credible band.

    Returns
    -------
    DataFrame
        Indexed by the ``by`` columns (or ``segment``) and ``band`` (e.g. "4-12"), one
        row per segment and band: ``first_period``, ``last_period``, ``decisions``
        (renewal decisions observed in the band: decision ``j`` of an account with
        entry ``e`` and tenure ``t`` for ``e < j <= t``), ``churned`` (those that were
        cancellations), ``observed_churn_rate`` (churned / decisions) with the Jeffreys
        ``level`` interval (``observed_churn_rate_lower``, ``_upper``; see
        :func:`jeffreys_interval`), ``expected_churned`` (the model's expected number of
        cancellations over the same decisions: each decision ``j`` contributes
        ``1 - P(T > j | T > j - 1)`` at the account's own row parameters),
        ``model_churn_rate`` (expected_churned / decisions) at the point estimate with a
        ``level`` credible band over at most 200 parameter draws
        (``model_churn_rate_lower``, ``_upper``), and ``flag``: the model's rate lies
        outside the observed interval. A band without decisions has NaN rates and no
        flag. ``attrs`` hold ``level``, ``time_unit`` (the model's) and ``check``.

    Notes
    -----
    Rates are per renewal decision (per period: "monthly" for a monthly model). The
    flag compares the model's point estimate with the data's interval; with 90%
    intervals about one band in ten is flagged by chance even when the model is right.

    Examples
    --------
    The "regular" cohort of Fader & Hardie (2007), years 1-7, and the sBG fitted to it:

    >>> from clvmodels.models.churn.sbg import ShiftedBetaGeoModel, accounts_from_survival
    >>> regular = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241],
    ...                                  time_unit="year")
    >>> model = ShiftedBetaGeoModel(random_state=0).fit(regular)
    >>> table = churn_by_tenure_band(model, regular, bands=(1, 2, 4))
    >>> table[["decisions", "churned", "observed_churn_rate", "model_churn_rate",
    ...        "flag"]].round(3)  # doctest: +NORMALIZE_WHITESPACE
                   decisions  churned  observed_churn_rate  model_churn_rate   flag
    segment band
    all     1         1000.0    369.0                0.369             0.373  False
            2-3       1099.0    249.0                0.227             0.217  False
            4-7       1259.0    141.0                0.112             0.117  False
    """
    owner = "churn_by_tenure_band"
    _check_model(model, owner)
    bands = _check_bands(bands, owner)
    _check_level(level, owner)
    account_arrays(accounts, owner)
    _check_covariates(model, accounts, owner)
    codes, keys = _groups(accounts, by, owner)
    edges, decisions, gone, expected = _band_counts(model, accounts, codes, len(keys), bands,
                                                    _draws(model), owner)
    obs_lo, obs_hi = jeffreys_interval(gone, decisions, level)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = gone / decisions
        rate = expected / decisions  # (draws, groups, bands)
    lo, hi = credible_bounds(rate[1:], level, axis=0)
    records = []
    for g, key in enumerate(keys):
        for b, (first, last) in enumerate(edges):
            point = rate[0, g, b]
            records.append({
                **_key_columns(key, by),
                "band": f"{first}-{last}" if last > first else f"{first}",
                "first_period": first, "last_period": last,
                "decisions": decisions[g, b], "churned": gone[g, b],
                "observed_churn_rate": observed[g, b],
                "observed_churn_rate_lower": obs_lo[g, b],
                "observed_churn_rate_upper": obs_hi[g, b],
                "expected_churned": expected[0, g, b],
                "model_churn_rate": point,
                "model_churn_rate_lower": lo[g, b], "model_churn_rate_upper": hi[g, b],
                "flag": bool(decisions[g, b] > 0
                             and (point < obs_lo[g, b] or point > obs_hi[g, b])),
            })
    out = _segment_frame(by, records, "band")
    out.attrs.update(level=level, time_unit=model.time_unit_, check="tenure_band")
    return out


# -------------------------------------------------------------------- survival
def survival_check(model: ChurnModel, accounts: pd.DataFrame, *, by=None,
                   level: float = 0.90, tolerance: float = 0.05) -> pd.DataFrame:
    """The life table's survival against the model's survival of a new account, per
    segment and period.

    Parameters
    ----------
    model : ChurnModel
        A fitted churn model.
    accounts : DataFrame
        Per-account ``tenure``, ``churned``, optional ``entry`` and ``weight``, the
        model's covariates and the ``by`` columns.
    by : str or list of str, optional
        Segment columns; all accounts form one segment ("all") by default.
    level : float
        Probability of the life table's pointwise band and the model's credible band.
    tolerance : float
        Differences in survival up to this (absolute, 0.05 = 5 percentage points) are
        never flagged.

    Returns
    -------
    DataFrame
        Indexed by the ``by`` columns (or ``segment``) and ``period`` ``t = 1..`` the
        segment's longest tenure: ``at_risk`` and ``churned`` (decisions observed at
        ``t`` and cancellations among them), ``actual_survival`` (the delayed-entry
        life table of :func:`~clvmodels.evaluation.retention.retention_table`) with a pointwise
        ``level`` band (``actual_survival_lower``, ``_upper``), ``model_survival``
        (``S(t)`` of a new account, averaged over the segment's accounts, i.e. over
        their covariates, at the point estimate) with a ``level`` credible band over at
        most 200 parameter draws (``model_survival_lower``, ``_upper``), and ``flag``:
        ``|actual - model| > tolerance`` and the model outside the actual's band.
        ``attrs`` hold ``level``, ``tolerance``, ``time_unit`` and ``check``.

    Notes
    -----
    The band uses Greenwood's variance on the log scale: ``log S(t) +- z sigma(t)``
    with ``sigma(t)^2 = sum_{s <= t} d_s / (n_s (n_s - d_s))`` (``n_s`` at risk,
    ``d_s`` churned; at least half an event in a period where nobody churned, so that a
    few accounts at risk and no cancellation widen the band as weak evidence should),
    mapped back and clipped to [0, 1]. Where every account at risk churned (``sigma``
    infinite) the band is [0, 1].
    Periods with nobody at risk have NaN survival and no flag.

    Examples
    --------
    >>> from clvmodels.models.churn.sbg import ShiftedBetaGeoModel, accounts_from_survival
    >>> regular = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241],
    ...                                  time_unit="year")
    >>> model = ShiftedBetaGeoModel(random_state=0).fit(regular)
    >>> check = survival_check(model, regular)
    >>> check[["actual_survival", "model_survival", "flag"]].head(3).round(3)
    ... # doctest: +NORMALIZE_WHITESPACE
                    actual_survival  model_survival   flag
    segment period
    all     1                 0.631           0.627  False
            2                 0.468           0.474  False
            3                 0.382           0.388  False
    """
    owner = "survival_check"
    _check_model(model, owner)
    _check_level(level, owner)
    check_parameter("tolerance", owner, tolerance,
                    isinstance(tolerance, (int, float)) and not isinstance(tolerance, bool)
                    and 0.0 <= tolerance < 1.0, "a float in [0, 1)")
    arr = account_arrays(accounts, owner)
    _check_covariates(model, accounts, owner)
    codes, keys = _groups(accounts, by, owner)
    table = retention_table(accounts, by=by)
    if by is None:
        table = pd.concat({"all": table}, names=["segment"])
    # the segment's accounts as new accounts (their covariates, tenure 0): the model
    # compresses them by the columns it reads, i.e. by covariate values
    rows = accounts.assign(tenure=0, churned=False, entry=0)
    p, _, _, comp = model.account_parameters(rows, _draws(model))
    urows, groups, w = _pairs(comp, codes, arr["weight"], len(keys))
    total = np.bincount(groups, weights=w, minlength=len(keys))
    z = stats.norm.ppf(0.5 + level / 2.0)
    n_periods = table.index.get_level_values("period").max()
    n_periods = int(n_periods) if table.size else 0
    # model survival (draws, groups, periods): one pass per period
    surv = np.full((next(iter(p.values())).shape[0], len(keys), n_periods), np.nan)
    for t in range(1, n_periods + 1):
        s = np.exp(model._log_survival(p, float(t)))
        with np.errstate(invalid="ignore", divide="ignore"):
            surv[:, :, t - 1] = _to_groups(s, urows, groups, w, comp.n_unique, len(keys)) / total
    segment_of = table.index.droplevel(-1)
    frames = []
    for g, key in enumerate(keys):
        mine = segment_of.isin(["all" if by is None else key])
        if not mine.any():
            continue  # only accounts that have made no decision yet
        part = table[mine]
        n = part["at_risk"].to_numpy()
        d = part["churned"].to_numpy()
        s_act = part["survival"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            # half an event where none was seen: a period with few accounts at risk
            # and no cancellation is weak evidence, not certainty (no zero-width band)
            d_eff = np.where(d < n, np.maximum(d, 0.5), d)
            sigma = np.sqrt(np.cumsum(np.where(n > 0, d_eff / (n * (n - d_eff)), np.nan)))
            lo = np.clip(s_act * np.exp(-z * sigma), 0.0, 1.0)
            hi = np.clip(s_act * np.exp(z * sigma), 0.0, 1.0)
        lo = np.where(np.isinf(sigma), 0.0, lo)
        hi = np.where(np.isinf(sigma), 1.0, hi)
        periods = part.index.get_level_values("period").to_numpy().astype(np.intp)
        model_s = surv[0, g, periods - 1]
        m_lo, m_hi = credible_bounds(surv[1:, g, periods - 1], level, axis=0)
        outside = (model_s < lo) | (model_s > hi)
        flag = (np.abs(s_act - model_s) > tolerance) & outside & np.isfinite(s_act)
        frame = pd.DataFrame({
            "at_risk": n, "churned": d, "actual_survival": s_act,
            "actual_survival_lower": lo, "actual_survival_upper": hi,
            "model_survival": model_s, "model_survival_lower": m_lo,
            "model_survival_upper": m_hi, "flag": flag}, index=part.index)
        frames.append(frame)
    if not frames:
        raise DataError(f"{owner}: no account was observed making a renewal decision (every "
                        "account has tenure == entry); there is nothing to check yet.")
    out = pd.concat(frames)
    out.attrs.update(level=level, tolerance=float(tolerance), time_unit=model.time_unit_,
                     check="survival")
    return out


# ------------------------------------------------------------------- in words
def _pct(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    return f"{100 * x:.2f}%" if 0 < abs(x) < 0.001 else f"{100 * x:.1f}%"


_ADVERB = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}


def _unit_words(unit) -> tuple[str, str]:
    unit = unit or "period"
    return unit, f"{unit}s"


def _check_table(table, name: str, owner: str, columns, source: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"The {name!r} parameter of {owner} must be a DataFrame from {source}. "
                        f"Got {type(table).__name__} instead.")
    missing = [c for c in columns if c not in table.columns]
    if missing or table.index.nlevels < 2:
        raise DataError(f"{owner}: {name!r} lacks column(s) {missing} or its segment index; "
                        f"pass the table returned by {source} unchanged.")


def _segment_name(key, names) -> str:
    key = key if isinstance(key, tuple) else (key,)
    if list(names) == ["segment"] and key == ("all",):
        return "All accounts"
    return " / ".join(str(k) for k in key)


def describe_flags(band_table: pd.DataFrame, survival_table: pd.DataFrame | None = None
                   ) -> list[str]:
    """The flags of :func:`churn_by_tenure_band` (and :func:`survival_check`) in words.

    Parameters
    ----------
    band_table : DataFrame
        The table from :func:`churn_by_tenure_band`.
    survival_table : DataFrame, optional
        The table from :func:`survival_check`.

    Returns
    -------
    list of str
        One sentence per segment with a flag, naming the segment, each flagged tenure
        band (the model's churn rate per period against the observed one, its interval
        and the number of decisions) and, from ``survival_table``, the period where the
        model's survival is furthest from the life table's; then what to do (fit the
        segment separately or use a duration-dependent model; for "All accounts", with
        no ``by``, refit). A single sentence saying every segment matched when nothing
        is flagged. Rates are per period of the model's time unit
        (``attrs['time_unit']``, set by the checks from ``model.time_unit_``).

    Examples
    --------
    >>> table = pd.DataFrame(
    ...     {"decisions": [6.0], "churned": [0.0], "observed_churn_rate": [0.0],
    ...      "observed_churn_rate_lower": [0.0], "observed_churn_rate_upper": [0.2642],
    ...      "model_churn_rate": [0.45], "flag": [True]},
    ...     index=pd.MultiIndex.from_tuples([("Two year", "1-3")], names=["Contract", "band"]))
    >>> table.attrs.update(level=0.9, time_unit="month")
    >>> print(describe_flags(table)[0])  # doctest: +NORMALIZE_WHITESPACE
    Two year: in months 1-3 the model expects 45.0% of accounts to cancel each month,
    but 0.0% did (90% interval 0.0%-26.4%, 6 decisions); the model does not match this
    segment — fit it separately (SegmentedChurnModel; CLI: --segment-col) or with the
    duration-dependent beta-discrete-Weibull model (CLI: --model bdw, or --model auto
    per segment).
    >>> describe_flags(table.assign(flag=False))  # doctest: +NORMALIZE_WHITESPACE
    ['Every segment matched: in every tenure band the model expects a monthly churn rate
    within the 90% interval of the observed rate.']
    """
    owner = "describe_flags"
    needed = ("decisions", "churned", "observed_churn_rate", "observed_churn_rate_lower",
              "observed_churn_rate_upper", "model_churn_rate", "flag")
    _check_table(band_table, "band_table", owner, needed, "churn_by_tenure_band")
    if survival_table is not None:
        _check_table(survival_table, "survival_table", owner,
                     ("actual_survival", "actual_survival_lower", "actual_survival_upper",
                      "model_survival", "flag"), "survival_check")
    level = float(band_table.attrs.get("level", 0.90))
    one, many = _unit_words(band_table.attrs.get("time_unit"))
    names = band_table.index.names[:-1]
    parts: dict[str, list[str]] = {}
    for idx, row in band_table[band_table["flag"].astype(bool)].iterrows():
        seg = _segment_name(tuple(idx[:-1]), names)
        band = str(idx[-1])
        where = f"in {many} {band}" if "-" in band else f"in {one} {band}"
        parts.setdefault(seg, []).append(
            f"{where} the model expects {_pct(row['model_churn_rate'])} of accounts to cancel "
            f"each {one}, but {_pct(row['observed_churn_rate'])} did ({level:.0%} interval "
            f"{_pct(row['observed_churn_rate_lower'])}-{_pct(row['observed_churn_rate_upper'])}"
            f", {row['decisions']:,.0f} decisions)")
    if survival_table is not None:
        s_level = float(survival_table.attrs.get("level", level))
        s_names = survival_table.index.names[:-1]
        flagged = survival_table[survival_table["flag"].astype(bool)]
        gap = (flagged["actual_survival"] - flagged["model_survival"]).abs()
        for key, g in gap.groupby(level=list(range(len(s_names))), sort=False):
            idx = g.idxmax()
            row = survival_table.loc[idx]
            seg = _segment_name(key if isinstance(key, tuple) else (key,), s_names)
            parts.setdefault(seg, []).append(
                f"after {idx[-1]} {many if idx[-1] != 1 else one} the model expects "
                f"{_pct(row['model_survival'])} of new accounts to be still active, but the "
                f"life table shows {_pct(row['actual_survival'])} ({s_level:.0%} band "
                f"{_pct(row['actual_survival_lower'])}-{_pct(row['actual_survival_upper'])})")
    if not parts:
        text = (f"Every segment matched: in every tenure band the model expects a "
                f"{_ADVERB.get(one, f'per-{one}')} churn rate within the "
                f"{level:.0%} interval of the observed rate")
        if survival_table is not None:
            tol = float(survival_table.attrs.get("tolerance", 0.05))
            text += (f", and its survival curve stays within the life table's band or within "
                     f"{100 * tol:.0f} percentage points of it")
        return [text + "."]
    segment_advice = ("the model does not match this segment — fit it separately "
                      "(SegmentedChurnModel; CLI: --segment-col) or with the duration-dependent "
                      "beta-discrete-Weibull model (CLI: --model bdw, or --model auto per "
                      "segment).")
    all_advice = ("the model does not match these accounts — refit it on them, or try the "
                  "duration-dependent beta-discrete-Weibull model.")
    return [f"{seg}: {'; '.join(items)}; "
            f"{all_advice if seg == 'All accounts' else segment_advice}"
            for seg, items in parts.items()]


# ------------------------------------------------------------- model comparison
def _decisions(accounts, owner) -> float:
    arr = account_arrays(accounts, owner)
    return float(arr["weight"] @ (arr["tenure"] - arr["entry"]))


def _log_likelihood(model, accounts, name, what, owner) -> float:
    """The model's log-likelihood of ``accounts`` at its point estimate; the model's
    fitted state is left as it was (``_prepare`` may record data statistics)."""
    state = dict(vars(model))
    try:
        arrays, weights = model._prepare(accounts)
    except FitError as exc:
        raise DataError(f"{owner}: the {what} cannot be scored by model {name!r}: {exc}") from None
    finally:
        vars(model).clear()
        vars(model).update(state)
    log_params = np.log(model.params_.to_numpy(dtype=np.float64))
    with np.errstate(all="ignore"):
        return float(model._loglik_and_grad(log_params, arrays, weights)[0])


def compare_churn_models(models: dict, accounts: pd.DataFrame, *,
                         holdout: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fitted churn models side by side on the same accounts.

    Parameters
    ----------
    models : dict of str to ChurnModel
        Fitted models by name (covariate models need their columns in the data).
    accounts : DataFrame
        Per-account ``tenure``, ``churned``, optional ``entry`` and ``weight``: the data
        every model is scored on (usually the calibration data).
    holdout : DataFrame, optional
        The same accounts observed later: ``tenure``, ``churned`` and ``entry`` as seen
        in the holdout window (``entry`` = the decisions made before it, e.g. the
        calibration tenure of accounts still active then), plus the covariates.

    Returns
    -------
    DataFrame
        One row per model, indexed by ``model`` and sorted by AIC: ``fit_method``,
        ``log_likelihood`` (recomputed on ``accounts`` at the model's point estimate by
        its own likelihood, conditioned on each account's ``entry``), ``parameters``
        (the number of model parameters), ``aic`` (``2 k - 2 LL``), ``bic`` (``k log n
        - 2 LL`` with ``n`` the number of renewal decisions observed, ``sum weight *
        (tenure - entry)``, the number of Bernoulli trials in the likelihood),
        ``delta_aic`` (against the best model); with ``holdout`` also
        ``holdout_log_likelihood`` (the point estimate's predictive log-likelihood of
        the holdout decisions) and ``holdout_band_error`` (sum over the default tenure
        bands of ``|expected - actual|`` cancellations divided by the actual total; see
        :func:`churn_by_tenure_band`). AIC and BIC of "map", "mcmc" and "advi" fits
        count parameters as if fitted by maximum likelihood; read them as rough.

    Examples
    --------
    >>> from clvmodels.models.churn.sbg import ShiftedBetaGeoModel, accounts_from_survival
    >>> regular = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> high_end = accounts_from_survival([1000, 869, 743, 653, 593, 551, 517, 491])
    >>> fitted = ShiftedBetaGeoModel(random_state=0).fit(regular)
    >>> other = ShiftedBetaGeoModel(random_state=0).fit(high_end)
    >>> table = compare_churn_models({"fitted": fitted, "other": other}, regular)
    >>> table[["log_likelihood", "parameters", "aic"]].round(2)
    ... # doctest: +NORMALIZE_WHITESPACE
            log_likelihood  parameters      aic
    model
    fitted        -1680.27           2  3364.53
    other         -1892.37           2  3788.74
    """
    owner = "compare_churn_models"
    if not isinstance(models, dict) or not models:
        raise TypeError(f"The 'models' parameter of {owner} must be a non-empty dict of "
                        f"name -> fitted churn model. Got {type(models).__name__} instead.")
    for name, model in models.items():
        _check_model(model, owner, name=f"models[{name!r}]")
    n = _decisions(accounts, owner)
    if n <= 0:
        raise DataError(f"{owner}: the accounts show no renewal decision (every tenure equals "
                        "its entry); there is nothing to score.")
    if holdout is not None:
        _decisions(holdout, owner)
    rows = []
    for name, model in models.items():
        ll = _log_likelihood(model, accounts, name, "accounts", owner)
        k = len(model.param_names)
        row = {"model": name, "fit_method": model.fit_method_, "log_likelihood": ll,
               "parameters": k, "aic": 2.0 * k - 2.0 * ll, "bic": k * np.log(n) - 2.0 * ll}
        if holdout is not None:
            row["holdout_log_likelihood"] = _log_likelihood(model, holdout, name, "holdout",
                                                            owner)
            codes = np.zeros(len(holdout), dtype=np.intp)
            _, _, gone, expected = _band_counts(model, holdout, codes, 1, DEFAULT_BANDS,
                                                model.point_draws(), owner)
            actual = gone.sum()
            row["holdout_band_error"] = (float(np.abs(expected[0] - gone).sum() / actual)
                                         if actual > 0 else np.nan)
        rows.append(row)
    out = pd.DataFrame(rows).set_index("model").sort_values("aic", kind="stable")
    out.insert(list(out.columns).index("bic") + 1, "delta_aic", out["aic"] - out["aic"].min())
    out.attrs["n_decisions"] = n
    return out
