"""Retention summaries of subscription accounts: from the data (life tables) and from
a fitted sBG model, overall or by segment / acquisition cohort.

From the data, retention in period ``t`` is estimated the life-table (discrete
Kaplan-Meier with delayed entry) way, which uses every account for exactly the
decisions it was observed to make: ``at_risk(t)`` accounts were observed at renewal
decision ``t`` (``entry < t <= tenure``: observation began before it and the account
had not left), ``churned(t)`` of them left there (churned with tenure == t),
``retention_rate(t) = 1 - churned(t) / at_risk(t)`` and ``survival(t)`` is the
running product. An account seen only from decision ``entry`` on (left truncation, a
snapshot) therefore never counts as at risk at the decisions before it, where the
accounts that churned are missing from the data. The *average customer
lifespan* observed over ``tau`` periods is the restricted mean ``E[min(T, tau)] =
sum_{t < tau} survival(t)``; the model gives the same quantity for comparison and the
unrestricted ``E[T]`` (infinite when ``alpha <= 1``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.subscriptions import account_arrays
from ..errors import DataError, check_parameter
from ..models.churn.base import ChurnModel
from ..models.churn.sbg import ShiftedBetaGeoModel
from ..value.intervals import credible_bounds

__all__ = ["retention_table", "expected_retention", "lifetime_summary", "fit_by_segment"]


def _groups(accounts: pd.DataFrame, by, owner: str):
    """(group labels per row as a list of keys, the unique keys in order)."""
    if by is None:
        return np.zeros(len(accounts), dtype=np.intp), [None]
    cols = [by] if isinstance(by, str) else list(by)
    missing = [c for c in cols if c not in accounts.columns]
    if missing:
        raise DataError(f"{owner}: the 'by' column(s) {missing} are not in the accounts; they "
                        f"have {list(accounts.columns)[:20]}.")
    codes, keys = pd.MultiIndex.from_frame(accounts[cols]).factorize(sort=True)
    if (codes < 0).any():
        raise DataError(f"{owner}: the 'by' column(s) {cols} have missing values in "
                        f"{int((codes < 0).sum())} row(s); fill them or drop those accounts.")
    keys = [k[0] if len(cols) == 1 else k for k in keys]
    return codes, keys


def _life_table(tenure, churned, weight, entry=None):
    """at_risk (``entry < t <= tenure``), churned counts for periods 1..max tenure
    (vectorized over accounts)."""
    n = int(tenure.max()) if tenure.size else 0
    ti = tenure.astype(np.intp)
    ei = np.zeros_like(ti) if entry is None else entry.astype(np.intp)
    enter = np.bincount(ei + 1, weights=weight, minlength=n + 2)[: n + 2]
    leave = np.bincount(ti + 1, weights=weight, minlength=n + 2)[: n + 2]
    at_risk = np.cumsum(enter - leave)[1: n + 1]  # enters at entry + 1, leaves after tenure
    gone = np.bincount(ti, weights=weight * churned, minlength=n + 1)[1:]
    return at_risk, gone


def retention_table(accounts: pd.DataFrame, *, by=None) -> pd.DataFrame:
    """Life table of renewals per period (and per segment or cohort with ``by``).

    Parameters
    ----------
    accounts : DataFrame
        Per-account ``tenure``, ``churned`` (optional ``weight`` and ``entry``, the
        decisions survived before observation began) and the ``by`` columns.
    by : str or list of str, optional
        Segment columns (e.g. ``"Contract"``, or an acquisition cohort such as the
        month of ``first_start`` from :func:`~clvmodels.data.subscriptions.subscription_summary`).

    Returns
    -------
    DataFrame
        One row per (segment, period ``t >= 1``): ``at_risk``, ``churned``,
        ``retention_rate`` and ``survival`` (module docstring), indexed by the ``by``
        columns and ``period``. A period at which no account was observed has
        ``at_risk`` 0 and NaN rates (the data say nothing there).

    Examples
    --------
    >>> from clvmodels.models.churn.sbg import accounts_from_survival
    >>> table = retention_table(accounts_from_survival([1000, 631, 468, 382]))
    >>> table.round(3)  # doctest: +NORMALIZE_WHITESPACE
            at_risk  churned  retention_rate  survival
    period
    1        1000.0    369.0           0.631     0.631
    2         631.0    163.0           0.742     0.468
    3         468.0     86.0           0.816     0.382
    """
    owner = "retention_table"
    arr = account_arrays(accounts, owner)
    codes, keys = _groups(accounts, by, owner)
    frames = []
    for g, key in enumerate(keys):
        rows = codes == g
        at_risk, gone = _life_table(arr["tenure"][rows], arr["churned"][rows],
                                    arr["weight"][rows], arr["entry"][rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = 1.0 - gone / at_risk
        frame = pd.DataFrame({"period": np.arange(1, at_risk.size + 1), "at_risk": at_risk,
                              "churned": gone, "retention_rate": rate,
                              "survival": np.cumprod(rate)})
        if by is not None:
            cols = [by] if isinstance(by, str) else list(by)
            for c, v in zip(cols, key if len(cols) > 1 else (key,)):
                frame.insert(0, c, v)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    index = ([by] if isinstance(by, str) else list(by or [])) + ["period"]
    return out.set_index(index)


def _segment_parameters(model, segments, draws):
    """Row parameters, each shaped (n_draws, n_segments), for segment covariate rows."""
    rows = segments.copy() if segments is not None else pd.DataFrame(index=["all"])
    rows["tenure"] = 0
    rows["churned"] = False
    rows = rows.drop(columns=["entry", "weight"], errors="ignore")
    p, _, _, comp = model.account_parameters(rows, draws)
    return {k: v[:, comp.inverse] for k, v in p.items()}, rows.index


def _survival(model, p, t):
    """Model survival ``S(t)`` with row parameters ``p`` (arrays broadcasting with t)."""
    return np.exp(model._log_survival(p, t))


def _retention(model, p, t):
    """Model retention rate ``r(t) = S(t) / S(t - 1)``."""
    return model._conditional_survival(p, t - 1.0, 1.0)


def expected_retention(model: ChurnModel, periods: int, *, segments=None,
                       level: float = 0.90) -> pd.DataFrame:
    """Model retention rate ``r(t)`` and survival ``S(t)`` of a new cohort for
    ``t = 1..periods``, at the point estimate, with credible intervals over the
    parameter draws (``_lower``, ``_upper``).

    ``segments`` (covariate model only): a DataFrame of covariate values, one row per
    segment, whose index names the segments.

    >>> from clvmodels.models.churn.sbg import accounts_from_survival
    >>> m = ShiftedBetaGeoModel(random_state=0).fit(accounts_from_survival(
    ...     [1000, 631, 468, 382, 326, 289, 262, 241]))
    >>> curve = expected_retention(m, 3)[["retention_rate", "survival"]]
    >>> curve.round(3)  # doctest: +NORMALIZE_WHITESPACE
                    retention_rate  survival
    segment period
    all     1                0.627     0.627
            2                0.756     0.474
            3                0.819     0.388
    """
    owner = "expected_retention"
    if not isinstance(model, ChurnModel):
        raise TypeError(f"The 'model' parameter of {owner} must be a fitted churn model. "
                        f"Got {type(model).__name__} instead.")
    check_parameter("periods", owner, periods, isinstance(periods, int) and periods >= 1,
                    "an int >= 1")
    check_parameter("level", owner, level, isinstance(level, float) and 0 < level < 1,
                    "a float in (0, 1)")
    t = np.arange(1, periods + 1, dtype=np.float64)
    p, names = _segment_parameters(model, segments, None)
    pd_, _ = _segment_parameters(model, segments, model.param_draws())
    out = {}
    for name, fn in (("retention_rate", _retention), ("survival", _survival)):
        point = fn(model, {k: v[0][:, None] for k, v in p.items()}, t)  # (segments, periods)
        lo, hi = credible_bounds(fn(model, {k: v[..., None] for k, v in pd_.items()}, t),
                                 level, axis=0)
        out[name], out[f"{name}_lower"], out[f"{name}_upper"] = point, lo, hi
    index = pd.MultiIndex.from_product([names, t.astype(int)], names=["segment", "period"])
    return pd.DataFrame({k: v.ravel() for k, v in out.items()}, index=index)


def fit_by_segment(accounts: pd.DataFrame, by, *, method: str = "mle",
                   model_class=ShiftedBetaGeoModel, **settings) -> dict[object, ChurnModel]:
    """One cohort churn model (``model_class``, default :class:`ShiftedBetaGeoModel`)
    per segment (``settings`` go to each model's constructor). A failing segment
    raises its FitError naming the segment.

    >>> from clvmodels.datasets import load_telco
    >>> models = fit_by_segment(load_telco(), "Contract", method="map", random_state=0)
    >>> sorted(models)
    ['Month-to-month', 'One year', 'Two year']
    """
    from ..errors import FitError

    codes, keys = _groups(accounts, by, "fit_by_segment")
    out = {}
    for g, key in enumerate(keys):
        part = accounts[codes == g]
        try:
            out[key] = model_class(**settings).fit(part, method=method)
        except FitError as exc:
            raise FitError(f"segment {key!r} ({len(part)} accounts): {exc}") from None
    return out


def lifetime_summary(accounts: pd.DataFrame, *, by=None, model=None) -> pd.DataFrame:
    """Average customer lifespan per segment, observed and modelled.

    Parameters
    ----------
    accounts : DataFrame
        Per-account ``tenure``, ``churned`` (optional ``weight``) and ``by`` columns.
    by : str or list of str, optional
        Segment columns.
    model : ShiftedBetaGeoModel or dict, optional
        A fitted model (the covariate model: each segment's covariates, which must be
        constant within the segment, pick its parameters; the cohort model: the same
        parameters for every segment), or a dict of models per segment
        (:func:`fit_by_segment`).

    Returns
    -------
    DataFrame
        Per segment: ``accounts``, ``churned``, ``observed_periods`` (``tau``, the
        longest tenure), ``restricted_mean_lifetime`` (``E[min(T, tau)]`` from the life
        table) and ``median_lifetime`` (first period with survival <= 0.5; NaN if not
        reached); with a model also ``model_restricted_mean_lifetime`` (same ``tau``),
        ``model_median_lifetime`` and ``expected_lifetime`` (``E[T]``, ``inf`` when
        ``alpha <= 1``). In the model's periods.

    Examples
    --------
    >>> from clvmodels.models.churn.sbg import accounts_from_survival
    >>> data = accounts_from_survival([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> m = ShiftedBetaGeoModel().fit(data)
    >>> cols = ["restricted_mean_lifetime", "model_restricted_mean_lifetime"]
    >>> lifetime_summary(data, model=m)[cols].round(3)  # doctest: +NORMALIZE_WHITESPACE
             restricted_mean_lifetime  model_restricted_mean_lifetime
    segment
    all                         3.358                           3.375
    """
    owner = "lifetime_summary"
    table = retention_table(accounts, by=by)
    arr = account_arrays(accounts, owner)
    codes, keys = _groups(accounts, by, owner)
    rows = []
    for g, key in enumerate(keys):
        sel = codes == g
        try:
            part = table.loc[key] if by is not None else table
        except KeyError:  # only tenure-0 accounts: no renewal decision observed yet
            part = table.iloc[0:0]
        surv = np.concatenate([[1.0], part["survival"].to_numpy()])
        tau = surv.size - 1
        below = np.flatnonzero(surv <= 0.5)
        rows.append({
            "accounts": float(arr["weight"][sel].sum()),
            "churned": float(arr["weight"][sel] @ arr["churned"][sel]),
            "observed_periods": tau,
            "restricted_mean_lifetime": float(surv[:tau].sum()),
            "median_lifetime": float(below[0]) if below.size else np.nan,
        })
    names = keys if by is not None else ["all"]
    out = pd.DataFrame(rows, index=pd.Index(names, name="segment"))
    if model is None:
        return out
    horizon = int(out["observed_periods"].max())
    tt = np.arange(0, max(horizon, 1) + 10_000, dtype=np.float64)
    surv, life = _model_curves(model, accounts, by, codes, keys, tt, owner)
    tau = out["observed_periods"].to_numpy()
    out["model_restricted_mean_lifetime"] = np.where(tt[None, :] < tau[:, None], surv, 0.0).sum(1)
    below = surv <= 0.5
    out["model_median_lifetime"] = np.where(below.any(axis=1), below.argmax(axis=1), np.nan)
    out["expected_lifetime"] = life
    return out


def _model_curves(model, accounts, by, codes, keys, tt, owner):
    """Point-estimate survival curves over ``tt`` and ``E[T]``, one row per segment."""
    if isinstance(model, dict):
        missing = [k for k in keys if k not in model]
        if missing:
            raise DataError(f"{owner}: no model for segment(s) {missing[:5]}; pass one per "
                            "segment (fit_by_segment) or a single model.")
        curves, lives = [], []
        for m in (model[k] for k in keys):
            p = m._cohort_params()
            curves.append(_survival(m, p, tt))
            lives.append(float(np.asarray(m._expected_lifetime(p))))
        return np.vstack(curves), np.array(lives)
    if not isinstance(model, ChurnModel):
        raise TypeError(f"The 'model' parameter of {owner} must be a fitted churn model "
                        f"or a dict of them. Got {type(model).__name__} instead.")
    covs = list(model._covariate_names())
    if covs:
        first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
        seg = accounts.iloc[first][covs]
        varying = [c for c in covs if accounts.groupby(codes)[c].nunique().max() > 1]
        if varying:
            raise DataError(f"{owner}: covariate(s) {varying} vary within segments; summarize "
                            "by those covariates (by=...) so each segment has one value.")
        seg.index = pd.RangeIndex(len(keys))
    else:
        seg = pd.DataFrame(index=pd.RangeIndex(len(keys)))
    p, _ = _segment_parameters(model, seg, None)
    p = {k: v[0] for k, v in p.items()}
    curves = _survival(model, {k: v[:, None] for k, v in p.items()}, tt)
    return curves, np.asarray(model._expected_lifetime(p), dtype=np.float64)
