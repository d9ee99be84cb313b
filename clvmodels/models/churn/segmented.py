"""One churn model per segment, behind the churn-model interface.

When segments churn in different ways — Telco's month-to-month accounts churn less as
they age, its one-year accounts at the same rate whatever their tenure, its two-year
accounts more — one covariate model cannot follow them all, and where a segment shows
no heterogeneity its covariate coefficients have no finite maximum-likelihood value.
:class:`SegmentedChurnModel` fits a separate model to each segment (each with its own
boundary handling, DESIGN.md principle 8: a homogeneous segment gets the geometric
limit) and answers every question of :class:`~clvmodels.models.churn.base.ChurnModel` by
sending each account to its segment's model, so contractual CLV, retention summaries,
model checks, scoring and the report work on it unchanged.

Parameters are named ``"<segment>|<parameter>"``; the parameter draws of the segment
models (same number each) are kept side by side, so a draw of the segmented model is
one draw of every segment's model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ...data.subscriptions import account_arrays
from ...errors import (
    DataError,
    FitError,
    NotFittedError,
    check_parameter,
    format_examples,
)
from ...timeunits import check_time_unit, unit_length_days
from .base import ChurnModel

__all__ = ["SegmentedChurnModel", "churn_model_class"]

_SEP = "|"


def churn_model_class(name):
    """The churn model class for a name: ``"sbg"`` (shifted-beta-geometric, becoming the
    geometric model at its boundary), ``"bdw"`` (beta-discrete-Weibull, duration
    dependent), or a ChurnModel subclass as it is.

    >>> churn_model_class("sbg").__name__
    'ShiftedBetaGeoModel'
    """
    from .sbg import ShiftedBetaGeoModel

    classes = {"sbg": ShiftedBetaGeoModel}
    try:
        from .bdw import BetaDiscreteWeibullModel

        classes["bdw"] = BetaDiscreteWeibullModel
    except ImportError:  # pragma: no cover - the BdW model ships with the package
        pass
    if isinstance(name, type) and issubclass(name, ChurnModel):
        return name
    if isinstance(name, str) and name in classes:
        return classes[name]
    raise ValueError(f"The 'model' parameter must be one of {sorted(classes)} or a churn model "
                     f"class. Got {name!r} instead.")


class SegmentedChurnModel(ChurnModel):
    """A churn model per segment (module docstring).

    Parameters
    ----------
    segment_col : str
        Column of the account table naming each account's segment (e.g. ``"Contract"``).
    model : {"sbg", "bdw", "auto"} or ChurnModel class
        The model fitted to every segment; ``"auto"`` fits the sBG and the
        beta-discrete-Weibull to each segment and keeps the one with the lower BIC.
    periods : dict, optional
        Renewal period of segments that do not renew once per ``time_unit`` (e.g.
        ``{"Annual plan": "year"}`` in a monthly model): their ``tenure`` (and
        ``entry``) count renewal decisions of that period, their revenue column holds
        the revenue per such period, and their value is discounted on their own
        calendar (a horizon of 3 years is 3 renewals of a yearly plan, 36 of a monthly
        one).
    **settings
        Settings of each segment's model (``time_unit``, ``draws``, ``random_state``...).

    Examples
    --------
    >>> from clvmodels.datasets import load_telco
    >>> model = SegmentedChurnModel(segment_col="Contract").fit(load_telco())
    >>> {k: type(m).__name__ for k, m in model.models_.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'Month-to-month': 'ShiftedBetaGeoModel', 'One year': 'GeometricChurnModel',
     'Two year': 'GeometricChurnModel'}
    >>> round(float(model.retention_rate(1, "One year")), 4)  # the same at every tenure
    0.8872
    """

    def describe_parameters(self) -> dict:
        """Each segment's parameters in words, keyed ``(segment, parameter)`` as the
        rows of :meth:`summary`."""
        self._require_fitted()
        return {(k, n): text for k, m in self.models_.items()
                for n, text in m.describe_parameters().items()}

    def __init__(self, *, segment_col: str, model="sbg", periods: dict | None = None,
                 time_unit: str | None = None,
                 priors: dict | None = None, draws: int = 1000, tune: int | None = None,
                 chains: int = 4, cores: int | None = None, sampler: str = "pymc",
                 target_accept: float = 0.8, advi_iterations: int = 20_000,
                 random_state: int | None = None, max_iter: int = 1000):
        super().__init__(time_unit=time_unit, priors=priors, draws=draws, tune=tune,
                         chains=chains, cores=cores, sampler=sampler,
                         target_accept=target_accept, advi_iterations=advi_iterations,
                         random_state=random_state, max_iter=max_iter)
        self.segment_col = segment_col
        self.model = model
        self.periods = periods

    def _settings(self, key=None) -> dict:
        out = {k: getattr(self, k) for k in ("time_unit", "priors", "draws", "tune", "chains",
                                              "cores", "sampler", "target_accept",
                                              "advi_iterations", "random_state", "max_iter")}
        if key is not None and key in getattr(self, "periods_", {}):
            out["time_unit"] = self.periods_[key]
        return out

    # ------------------------------------------------------------------ fitting
    def fit(self, data: pd.DataFrame, *, method: str = "mle") -> "SegmentedChurnModel":
        """Fit one model per segment of ``data[segment_col]``; returns ``self``. A segment
        that cannot be fitted raises its FitError naming the segment."""
        owner = type(self).__name__
        check_parameter("segment_col", owner, self.segment_col,
                        isinstance(self.segment_col, str), "a column name (str)")
        if self.model != "auto":
            churn_model_class(self.model)
        if not isinstance(data, pd.DataFrame) or self.segment_col not in data.columns:
            cols = list(data.columns)[:20] if isinstance(data, pd.DataFrame) else None
            raise DataError(f"{owner}: the segment column {self.segment_col!r} is not in the "
                            f"accounts; they have {cols}. Pass segment_col=<column> "
                            "(CLI: --segment-col).")
        labels = data[self.segment_col]
        bad = labels.isna().to_numpy()
        if bad.any():
            raise DataError(f"{owner}: the segment column {self.segment_col!r} is missing in "
                            f"{int(bad.sum())} row(s), first account ids "
                            f"{format_examples(data.index[bad].tolist())}. Fill or drop them.")
        self.time_unit_ = self._resolve_time_unit(data)
        self.observation_end_ = data.attrs.get("observation_end")
        periods = dict(self.periods or {})
        unknown = sorted(set(periods) - set(pd.unique(labels)), key=str)
        if unknown:
            raise DataError(f"{owner}: 'periods' names segments not in {self.segment_col!r}: "
                            f"{unknown}; the segments are {sorted(pd.unique(labels), key=str)}.")
        if periods and self.time_unit_ is None:
            raise DataError(f"{owner}: segment renewal periods need the model's own period: "
                            "pass time_unit='month' (or the unit of the other segments).")
        self.periods_ = {k: check_time_unit(v, owner, "periods") for k, v in periods.items()}
        self.models_ = {}
        self.model_choice_ = {}
        for key in sorted(pd.unique(labels), key=str):
            part = data[(labels == key).to_numpy()]
            part.attrs = dict(data.attrs)
            if key in self.periods_:
                part.attrs["time_unit"] = self.periods_[key]
            try:
                self.models_[key], self.model_choice_[key] = self._fit_segment(part, method, key)
            except FitError as exc:
                raise FitError(f"segment {key!r} ({len(part)} accounts): {exc}") from None
        self._collect(method)
        return self

    def _fit_segment(self, part, method, key):
        settings = self._settings(key)
        if self.model != "auto":
            return churn_model_class(self.model)(**settings).fit(part, method=method), \
                self.model if isinstance(self.model, str) else self.model.__name__
        fits = {}
        for name in ("sbg", "bdw"):
            try:
                fits[name] = churn_model_class(name)(**settings).fit(part, method=method)
            except FitError:
                continue
        if not fits:
            raise FitError("neither the sBG nor the beta-discrete-Weibull model could be fitted")
        bic = {k: m.bic_ for k, m in fits.items()}
        best = min(bic, key=bic.get)
        return fits[best], f"{best} (BIC {bic[best]:.1f} vs " + ", ".join(
            f"{k} {v:.1f}" for k, v in bic.items() if k != best) + ")"

    def _collect(self, method: str) -> None:
        """The segment models' fitted state, side by side."""
        models = self.models_
        sizes = {k: m.draws_.sizes["chain"] * m.draws_.sizes["draw"] for k, m in models.items()}
        if len(set(sizes.values())) > 1:
            raise FitError(f"{type(self).__name__}: the segment models have different numbers "
                           f"of parameter draws ({sizes}); fit them with the same settings.")
        names, values, logs, blocks, data = [], [], [], [], {}
        for key, m in models.items():
            for n in m.param_names:
                full = f"{key}{_SEP}{n}"
                names.append(full)
                data[full] = (("chain", "draw"), m.draws_[n].values.reshape(1, -1))
            values.extend(m.params_.to_numpy())
            logs.extend(np.asarray(m.log_params_))
            blocks.append(np.atleast_2d(m.covariance_log_))
        self._names = tuple(names)
        self.params_ = pd.Series(values, index=names, name="estimate")
        self.log_params_ = np.asarray(logs)
        cov = np.zeros((len(names), len(names)))
        i = 0
        for b in blocks:
            cov[i:i + b.shape[0], i:i + b.shape[0]] = b
            i += b.shape[0]
        self.covariance_log_ = cov
        n_draws = next(iter(sizes.values()))
        self.draws_ = xr.Dataset(data, coords={"chain": [0], "draw": np.arange(n_draws)})
        self.log_likelihood_ = float(sum(m.log_likelihood_ for m in models.values()))
        self.n_obs_ = float(sum(m.n_obs_ for m in models.values()))
        self.n_unique_ = int(sum(m.n_unique_ for m in models.values()))
        self.fit_method_ = method
        self.idata_ = None
        self.aic_ = float(sum(m.aic_ for m in models.values()))
        self.n_iter_ = 0
        self.segments_ = list(models)
        self.boundaries_ = {k: m.boundary_["message"] for k, m in models.items()
                            if getattr(m, "boundary_", None)}

    def boundary_statements(self) -> dict:
        """The boundary statements of the segments' fits, by segment."""
        self._require_fitted()
        return dict(self.boundaries_)

    @property
    def param_names(self) -> tuple[str, ...]:
        if not hasattr(self, "_names"):
            raise NotFittedError(self)
        return self._names

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Every segment's parameter table, indexed by (segment, parameter);
        ``attrs['boundaries']`` holds the statements of segments at a boundary."""
        self._require_fitted()
        parts = {k: m.summary(level) for k, m in self.models_.items()}
        out = pd.concat(parts, names=["segment", "parameter"])
        out.attrs.update(log_likelihood=self.log_likelihood_, n_obs=self.n_obs_, level=level,
                         method=self.fit_method_, boundaries=dict(self.boundaries_),
                         models={k: type(m).__name__ for k, m in self.models_.items()})
        return out

    # ---------------------------------------------------------- rows and params
    def _covariate_names(self) -> tuple[str, ...]:
        return (self.segment_col,)

    def _segment_codes(self, labels: pd.Series, owner: str) -> np.ndarray:
        self._require_fitted()
        index = {k: i for i, k in enumerate(self.segments_)}
        codes = labels.map(index)
        bad = codes.isna().to_numpy()
        if bad.any():
            raise DataError(
                f"{owner}: {int(bad.sum())} account(s) are in segments the model was not fitted "
                f"on ({format_examples(pd.unique(labels[bad]).tolist())}), first account ids "
                f"{format_examples(labels.index[bad].tolist())}; the model knows "
                f"{self.segments_}. Map them to a known segment or refit.")
        return codes.to_numpy(dtype=np.float64)

    def account_columns(self, data: pd.DataFrame, owner: str, *,
                        need_churned: bool = True) -> dict[str, np.ndarray]:
        """Validated account columns plus ``_segment``, each account's segment code."""
        arr = account_arrays(data, owner, need_churned=need_churned)
        if self.segment_col in data.columns:
            arr["_segment"] = self._segment_codes(data[self.segment_col], owner)
        elif "_segment" in data.columns:  # rows already compressed by this model
            arr["_segment"] = data["_segment"].to_numpy(dtype=np.float64)
        else:
            raise DataError(f"{owner}: the segment column {self.segment_col!r} is not in the "
                            f"accounts; they have {list(data.columns)[:20]}.")
        return arr

    def _row_params(self, params, rows, ops=None):
        p = {k: params[k] for k in self.param_names}
        p["_segment"] = np.asarray(rows["_segment"], dtype=np.float64)
        return p

    def _cohort_params(self, segment=None) -> dict:
        self._require_fitted()
        if segment not in self.models_:
            raise ValueError(f"The 'segment' parameter of {type(self).__name__} must be one of "
                             f"{self.segments_}. Got {segment!r} instead.")
        p = {k: float(v) for k, v in self.params_.items()}
        p["_segment"] = float(self.segments_.index(segment))
        return p

    # ------------------------------------------------------- dispatch to segments
    def _ratios(self) -> np.ndarray:
        """Each segment's renewal period in the model's periods."""
        base = self.time_unit_
        return np.array([1.0 if self.models_[k].time_unit_ in (None, base) else
                         unit_length_days(self.models_[k].time_unit_) / unit_length_days(base)
                         for k in self.segments_])

    def _period_scale(self, p):
        return self._ratios()[np.asarray(p["_segment"], dtype=np.intp)]

    def _dispatch(self, method: str, p: dict, *args, **kwargs):
        """``method`` of each account's segment model, elementwise over the broadcast
        of the segment codes and the array arguments; ``lam`` (per model period) and
        ``horizon`` (in model periods) are converted to each segment's renewal period."""
        arrays = [np.asarray(a, dtype=np.float64) for a in args]
        seg = np.asarray(p["_segment"], dtype=np.float64)
        shape = np.broadcast_shapes(seg.shape, *(a.shape for a in arrays),
                                    *(np.shape(v) for k, v in p.items() if k != "_segment"))
        seg_b = np.broadcast_to(seg, shape)
        out = np.full(shape, np.nan)
        for g, key in enumerate(self.segments_):
            mask = seg_b == g
            if not mask.any():
                continue
            model = self.models_[key]
            sub = {n: np.broadcast_to(np.asarray(p[f"{key}{_SEP}{n}"], dtype=np.float64),
                                      shape)[mask] for n in model.row_param_names}
            sub_args = [np.broadcast_to(a, shape)[mask] for a in arrays]
            kw = dict(kwargs)
            ratio = self._ratios()[g]
            if "lam" in kw:
                kw["lam"] = kw["lam"] * ratio
            if kw.get("horizon") is not None:
                kw["horizon"] = int(np.floor(kw["horizon"] / ratio + 1e-9))
            out[mask] = getattr(model, method)(sub, *sub_args, **kw)
        return out

    def _log_survival(self, p, t):
        return self._dispatch("_log_survival", p, t)

    def _conditional_survival(self, p, tenure, k):
        return self._dispatch("_conditional_survival", p, tenure, k)

    def _probability_renewal(self, p, tenure):
        return self._dispatch("_probability_renewal", p, tenure)

    def _discounted_renewals(self, p, tenure, lam, horizon=None):
        return self._dispatch("_discounted_renewals", p, tenure, lam=lam, horizon=horizon)

    def _expected_residual_lifetime(self, p, tenure):
        return self._dispatch("_expected_residual_lifetime", p, tenure)

    def _expected_lifetime(self, p):
        return self._dispatch("_expected_lifetime", p)

    def _simulate_renewals(self, p, tenure, rng, horizon=None):
        return self._dispatch("_simulate_renewals", p, tenure, rng=rng, horizon=horizon)

    def _row_log_likelihood(self, p, rows, *, gradient=False, ops=None):  # pragma: no cover
        raise NotImplementedError("a SegmentedChurnModel is fitted segment by segment")

    def save(self, path, *, overwrite: bool = False):
        raise TypeError("A SegmentedChurnModel is saved as part of a job "
                        "(clvmodels.scoring.fit_contractual_job, CLI 'clvmodels fit --kind "
                        "contractual --segment-col ...'), one model directory per segment.")
