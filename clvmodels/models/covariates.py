"""Customer covariates on any model of the fitting engine: log-linked row parameters.

A model with covariates gives each customer ``i`` her own value of every *linked*
parameter:

``log theta_i = log theta + sign * z_i @ c_theta``,

where ``z_i`` are her encoded covariates (:class:`~clvmodels.data.covariates.
CovariateEncoding`: 0/1 columns for the levels of a category other than its reference,
numeric columns centred and scaled), ``c_theta`` the coefficients and ``sign`` chosen
per parameter so that a positive coefficient means *more* of what the side names:

* purchase side: the gamma *rate* ``alpha`` of BG/NBD, MBG/NBD and Pareto/NBD (sign -1:
  a customer's expected purchase rate ``r / alpha_i`` is multiplied by ``exp(z @ c)``),
  the transaction beta ``(alpha, beta)`` of BG/BB, each with its own coefficients;
* drop-out side: ``a`` and ``b`` of (M)BG/NBD, each with its own coefficients (sign +1,
  as the parameters: a larger ``a`` or a smaller ``b`` means more drop-out), the gamma
  *rate* ``beta`` of Pareto/NBD (sign -1: a positive coefficient multiplies the
  expected drop-out rate ``s / beta_i`` by ``exp(z @ c)``), ``(gamma, delta)`` of BG/BB;
* spend side: Gamma-Gamma's scale ``gamma`` (sign +1: a positive coefficient multiplies
  the expected spend per purchase of a customer without history by ``exp(z @ c)``).

Every other parameter is shared. With every coefficient 0 a model *is* the model
without covariates: same likelihood, same predictions (tested).

The fitting engine sees the coefficients as positive multipliers ``exp(c)`` named
``"<parameter>:<feature>"`` (e.g. ``"alpha:channel[web]"``), so its normal
approximation on the log scale is a normal approximation of the coefficients, a
``LogNormal(0, sd)`` prior on a multiplier is a ``Normal(0, sd)`` prior on the
coefficient, and parameter draws carry the coefficients into every interval.
The likelihood is the model's own per-row likelihood with its gradient with respect to
the log row parameters (``_row_loglik``), evaluated on rows compressed by the summary
columns and the covariates together; the chain rule gives the coefficients' gradient.

**Segments with partial pooling** (``segment="region"``, Bayesian fits only): each
parameter in ``pooled`` (default: the parameters covariates act on, e.g. BG/NBD's
``alpha``, ``a`` and ``b``) gets one value per segment, drawn from a population
distribution, ``log theta_s = log theta + sd_theta * e_s`` with ``e_s ~ Normal(0, 1)``
(the non-centred form of ``log theta_s ~ Normal(log theta, sd_theta)``). A segment with
few customers has its ``e_s`` pulled towards 0 (its parameters towards the population's)
as far as its own data do not say otherwise; ``sd_theta`` is learnt from the spread
between segments (prior ``HalfNormal(segment_prior_sd)``). The engine sees ``sd_theta``
as ``"sd:<param>|<segment>"`` and ``exp(e_s)`` as ``"<param>|<segment>[<level>]"``
(``LogNormal(0, 1)`` priors: ``e_s`` standard normal), so the likelihood, the draws and
every prediction are those of the covariate models; :meth:`CovariateMixin.segment_parameters`
gives each segment's parameters and the population's.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd

from ..data.compress import compress_rows
from ..data.covariates import CovariateEncoding
from ..errors import DataError, FitError, check_parameter
from ..priors import HalfNormal, LogNormal, log_prior_log_scale
from .backend import NUMPY
from .covariate_results import CovariateResults
from .registry import register_model

__all__ = ["CovariateMixin", "with_covariates", "coefficient_priors", "SIDES"]

#: the sides a covariate can act on, in words
SIDES = {"purchase": "the purchase rate", "dropout": "drop-out", "spend": "spend per purchase"}


def coefficient_priors(model, base: type) -> dict:
    """The default priors of ``base`` plus ``LogNormal(0, model.coefficient_prior_sd)`` on
    every multiplier ``exp(c)`` of ``model`` (a ``Normal(0, sd)`` prior on each
    coefficient); shared by the purchase, spend and churn covariate models."""
    sd = model.coefficient_prior_sd
    check_parameter("coefficient_prior_sd", type(model).__name__, sd,
                    isinstance(sd, (int, float)) and np.isfinite(sd) and sd > 0,
                    "a positive float")
    out = dict(base.default_priors)
    out.update({n: LogNormal(0.0, float(sd)) for n in model.param_names[len(base.param_names):]})
    return out


class CovariateMixin(CovariateResults):
    """Covariates on a model (module docstring). Put it before the model in the bases
    (:func:`with_covariates` builds such classes); the model declares
    ``covariate_links`` (side -> ``((parameter, sign), ...)``) and implements
    ``_covariate_rows(data)`` and ``_row_loglik(params, rows, gradient, ops)``."""

    limit_models = {}  # a covariate model's boundary has no nested model: the fit says so

    # ----------------------------------------------------------------- settings
    def _init_covariates(self, covariates, reference, coefficient_prior_sd, l2_penalty,
                         segment=None, segment_prior_sd=1.0, pooled=None):
        self.segment = segment
        self.pooled = list(pooled) if isinstance(pooled, tuple) else pooled
        self.segment_prior_sd = segment_prior_sd
        # lists (not tuples), so that the setting is saved and loaded unchanged
        if isinstance(covariates, dict):
            covariates = {k: (list(v) if isinstance(v, (list, tuple)) else v)
                          for k, v in covariates.items()}
        elif isinstance(covariates, tuple):
            covariates = list(covariates)
        self.covariates = covariates
        self.reference = reference
        self.coefficient_prior_sd = coefficient_prior_sd
        self.l2_penalty = l2_penalty

    def _base_class(self) -> type:
        """The model without covariates."""
        return next(c for c in type(self).__mro__[1:]
                    if not issubclass(c, CovariateMixin) and "param_names" in vars(c))

    def _side_columns(self) -> dict[str, tuple[str, ...]]:
        """Covariate columns per side of ``covariate_links``: a list is used on every
        side, a dict names the sides."""
        owner = type(self).__name__
        links = type(self).covariate_links
        covs = self.covariates
        if isinstance(covs, dict):
            unknown = sorted(set(covs) - set(links))
            if unknown:
                raise ValueError(f"The 'covariates' parameter of {owner} names side(s) "
                                 f"{unknown}; {owner} takes covariates on {list(links)}.")
            sides = {s: covs.get(s, ()) for s in links}
        else:
            sides = {s: covs for s in links}
        for cols in sides.values():
            ok = (not isinstance(cols, str) and all(isinstance(c, str) for c in cols)
                  and len(set(cols)) == len(cols))
            check_parameter("covariates", owner, self.covariates, ok,
                            "a list of distinct column names, or a dict of side "
                            f"({', '.join(links)}) to such a list")
        return {s: tuple(c) for s, c in sides.items()}

    def covariate_columns(self) -> list[str]:
        """Every covariate column the model uses, in first-use order."""
        out: list[str] = []
        for cols in self._side_columns().values():
            out += [c for c in cols if c not in out]
        return out

    # ------------------------------------------------------------- parameters
    def _features(self) -> dict[str, list[int]]:
        """Per side, the positions of its features in the encoding's design."""
        enc = self._encoding()
        names = enc.features
        out = {}
        for side, cols in self._side_columns().items():
            out[side] = [j for j, f in enumerate(names)
                         if f in cols or (f.endswith("]") and f[:f.index("[")] in cols)]
        return out

    def _encoding(self) -> CovariateEncoding:
        enc = getattr(self, "covariate_encoding_", None)
        if enc is None:
            raise ValueError(f"{type(self).__name__}: its coefficients are named after the "
                             "covariate levels found at fit; fit the model first.")
        return enc

    def _coefficient_blocks(self) -> list[tuple[str, int, list[int]]]:
        """``(parameter, sign, feature positions)`` per linked parameter with features."""
        feats = self._features()
        return [(p, sign, feats[side]) for side, links in type(self).covariate_links.items()
                for p, sign in links if feats[side]]

    @property
    def param_names(self) -> tuple[str, ...]:
        base = self._base_class().param_names
        if getattr(self, "covariate_encoding_", None) is None:
            return base
        return (*base, *self._coefficient_names(), *self._pooling_names())

    def _coefficient_names(self) -> list[str]:
        names = self._encoding().features
        return [f"{p}:{names[j]}" for p, _, idx in self._coefficient_blocks() for j in idx]

    def _segment_levels(self) -> list[str]:
        return list(getattr(self, "segment_levels_", None) or [])

    def _pooled(self) -> list[str]:
        """The parameters with one value per segment (``pooled``; default: those the
        covariate links act on), in the model's parameter order."""
        base = self._base_class().param_names
        chosen = self.pooled
        if chosen is None:
            linked = {p for links in type(self).covariate_links.values() for p, _ in links}
            return [p for p in base if p in linked]
        ok = (not isinstance(chosen, str) and len(chosen) > 0
              and all(p in base for p in chosen) and len(set(chosen)) == len(chosen))
        check_parameter("pooled", type(self).__name__, chosen, ok,
                        f"None or a non-empty list of distinct parameters among {list(base)}")
        return [p for p in base if p in chosen]

    def _pooling_names(self) -> list[str]:
        """``sd:<param>|<segment>`` and ``<param>|<segment>[<level>]`` per pooled parameter."""
        levels = self._segment_levels()
        if not levels:
            return []
        seg = self.segment
        out = []
        for p in self._pooled():
            out += [f"sd:{p}|{seg}", *(f"{p}|{seg}[{lv}]" for lv in levels)]
        return out

    @property
    def default_priors(self) -> dict:
        out = coefficient_priors(self, self._base_class())
        sd = self.segment_prior_sd
        for n in self._pooling_names():
            out[n] = HalfNormal(float(sd)) if n.startswith("sd:") else LogNormal(0.0, 1.0)
        return out

    # ------------------------------------------------------------- row values
    def design(self, data: pd.DataFrame) -> np.ndarray:
        """The encoded covariates of ``data`` (customers x features), as at fit, followed
        by one 0/1 column per segment level with partial pooling."""
        z = self._encoding().design(data, type(self).__name__)
        levels = self._segment_levels()
        if not levels:
            return z
        owner = type(self).__name__
        if self.segment not in data.columns:
            raise DataError(f"{owner}: the segment column {self.segment!r} the model was "
                            f"fitted with is not in the data; it has {list(data.columns)[:20]}.")
        text = data[self.segment].astype(str).to_numpy()
        unknown = sorted(set(text) - set(levels))
        if unknown:
            raise DataError(
                f"{owner}: segment(s) {unknown[:5]} of {self.segment!r} were not in the data the "
                f"model was fitted on (its segments: {levels[:10]}); their parameters are "
                "unknown. Refit with their customers, or map them to a fitted segment.")
        onehot = (text[:, None] == np.asarray(levels)[None, :]).astype(np.float64)
        return np.column_stack([z, onehot])

    def row_params(self, params: dict, z: np.ndarray, ops=NUMPY) -> dict:
        """Every parameter per row of the design ``z``: the linked ones
        ``exp(log theta + sign * z @ c)``, the others as given. ``params`` holds scalars
        (shape ``(n,)`` results) or draws of shape ``(k,)`` (results ``(k, n)``)."""
        out = {n: params[n] for n in self._base_class().param_names}
        feats = self._encoding().features
        for p, sign, idx in self._coefficient_blocks():
            coef = [params[f"{p}:{feats[j]}"] for j in idx]
            if ops is NUMPY:
                c = np.log(np.stack([np.asarray(v, dtype=np.float64) for v in coef], axis=-1))
                eta = np.einsum("...f,nf->...n", c, z[:, idx]) if c.ndim > 1 else z[:, idx] @ c
                base = np.asarray(out[p], dtype=np.float64)
                out[p] = np.exp((np.log(base)[..., None] if base.ndim else np.log(base))
                                + sign * eta)
            else:  # a PyTensor graph: one term per feature (z is data)
                eta = ops.log(out[p])
                for v, j in zip(coef, idx):
                    eta = eta + sign * ops.log(v) * z[:, j]
                out[p] = ops.exp(eta)
        levels = self._segment_levels()
        if levels:  # partial pooling: log theta_s = log theta + sd * e_s
            first = z.shape[1] - len(levels)
            onehot = z[:, first:]
            seg = self.segment
            for p in self._pooled():
                sd = params[f"sd:{p}|{seg}"]
                effects = [params[f"{p}|{seg}[{lv}]"] for lv in levels]
                if ops is NUMPY:
                    e = np.log(np.stack([np.asarray(v, dtype=np.float64) for v in effects],
                                        axis=-1))
                    sd = np.asarray(sd, dtype=np.float64)
                    shift = (np.einsum("...l,nl->...n", e, onehot) * sd[..., None] if e.ndim > 1
                             else onehot @ e * sd)
                    base = np.asarray(out[p], dtype=np.float64)
                    out[p] = np.exp((np.log(base)[..., None] if base.ndim > 0
                                     and shift.ndim > base.ndim else np.log(base)) + shift)
                else:
                    eta = ops.log(out[p])
                    for v, j in zip(effects, range(len(levels))):
                        eta = eta + sd * ops.log(v) * onehot[:, j]
                    out[p] = ops.exp(eta)
        return out

    def _params_for(self, data: pd.DataFrame) -> dict:
        """Point-estimate parameters of each customer of ``data`` (arrays)."""
        return self.row_point(self.design(data))

    def row_point(self, z: np.ndarray) -> dict:
        """Point-estimate parameters per row of the design ``z``: the link at the point
        estimate; for a partially pooled fit the posterior mean of each row's
        parameters (a segment's ``theta exp(sd e_s)`` at the posterior means of ``sd``
        and ``exp(e_s)`` would be far from the mean of its draws)."""
        if not self._segment_levels():
            return self.row_params(self.point_params(), z)
        return {n: v.mean(axis=0) for n, v in self.row_draws(self.param_draws(), z).items()}

    def row_draws(self, draws: dict, z: np.ndarray) -> dict:
        """Parameter draws (``(k,)`` each) per row of ``z``: ``(k, n)`` for the linked
        parameters, ``(k, 1)`` for the shared ones (they broadcast)."""
        out = self.row_params(draws, z)
        return {n: (v if np.ndim(v) == 2 else np.asarray(v, dtype=np.float64)[:, None])
                for n, v in out.items()}

    # ------------------------------------------------------------ engine hooks
    def _fit_once(self, data, method):
        owner = type(self).__name__
        self._side_columns()
        columns = self.covariate_columns()
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise DataError(
                f"{owner}: covariate column(s) {missing} are not in the summary; it has "
                f"{list(data.columns)[:20]}. Attach them with rfm_summary(..., covariates=table, "
                "covariate_cols=[...]) or clvmodels.attach_covariates(summary, table).")
        reference = self.reference
        check_parameter("reference", owner, reference,
                        reference is None or isinstance(reference, dict),
                        "None or a dict of categorical column to its reference level")
        l2 = self.l2_penalty
        check_parameter("l2_penalty", owner, l2, isinstance(l2, (int, float)) and
                        not isinstance(l2, bool) and np.isfinite(l2) and l2 >= 0,
                        "a float >= 0")
        self.covariate_encoding_ = CovariateEncoding.from_frame(data, columns,
                                                                reference=reference, owner=owner)
        self.segment_levels_ = self._check_segment(data, method)
        self._null_start(data, method)
        super()._fit_once(data, method)

    def _check_segment(self, data, method) -> list[str] | None:
        """The segment levels of a partially pooled fit (None without ``segment``)."""
        seg = self.segment
        if seg is None:
            return None
        owner = type(self).__name__
        check_parameter("segment", owner, seg, isinstance(seg, str), "None or a column name")
        sd = self.segment_prior_sd
        check_parameter("segment_prior_sd", owner, sd, isinstance(sd, (int, float))
                        and not isinstance(sd, bool) and np.isfinite(sd) and sd > 0,
                        "a positive float")
        if method not in ("mcmc", "advi"):
            raise ValueError(
                f"{owner}: segments with partial pooling (segment={seg!r}) are a Bayesian "
                f"model; fit it with method='mcmc' (or 'advi'), not {method!r}. For one "
                "maximum-likelihood fit per segment without pooling, add the segment as a "
                "covariate instead (covariates=[..., " + repr(seg) + "]).")
        if seg not in data.columns:
            raise DataError(f"{owner}: segment column {seg!r} is not in the summary; it has "
                            f"{list(data.columns)[:20]}.")
        if seg in self.covariate_columns():
            raise ValueError(f"{owner}: {seg!r} is both a covariate and the segment; use it "
                             "as one of them.")
        col = data[seg]
        if col.isna().any():
            raise DataError(f"{owner}: segment column {seg!r} has {int(col.isna().sum())} "
                            "missing value(s); fill them (e.g. 'unknown') or drop those rows.")
        levels = sorted(pd.unique(col.astype(str)).tolist())
        if len(levels) < 2:
            raise DataError(f"{owner}: segment column {seg!r} has a single level "
                            f"{levels}; partial pooling needs at least two segments.")
        return levels

    def _null_start(self, data, method) -> None:
        """Fit the model without covariates (the start of the search, and the null of
        the likelihood-ratio test of all covariates together)."""
        base = self._base_class()
        settings = {k: getattr(self, k) for k in inspect.signature(base.__init__).parameters
                    if k != "self" and hasattr(self, k)}
        settings["priors"] = None
        self._start_base = None
        self.null_log_likelihood_ = float("nan")
        if self._segment_levels():  # a pooled fit starts at PyMC's initial point
            return
        try:
            null = base(**settings).fit(data, method="mle" if method == "mle" else "map")
        except FitError:
            return
        if type(null) is base:
            self._start_base = np.asarray(null.log_params_, dtype=np.float64)
            if method == "mle":
                self.null_log_likelihood_ = float(null.log_likelihood_)

    def _fit_optimum(self, arrays, weights, *, with_prior: bool) -> None:
        """The engine's optimum (a model's own rescaling of its arrays, as Gamma-Gamma's
        for amounts far from 1, does not apply to covariate rows). A pooled model has no
        useful posterior mode (it lies where every sd is 0): its sampler starts from
        PyMC's own initial point."""
        from .base import BaseModel

        if self._segment_levels():
            raise FitError("no posterior mode for a partially pooled model")
        BaseModel._fit_optimum(self, arrays, weights, with_prior=with_prior)

    def _prepare(self, data):
        rows, weights, keep = self._covariate_rows(data)
        z = self.design(data)
        if keep is not None:
            z = z[keep]
        cols = {**rows, **{f"__z{j}": z[:, j] for j in range(z.shape[1])}}
        comp = compress_rows(cols, list(cols))
        w = np.bincount(comp.inverse, weights=weights, minlength=comp.n_unique)
        u = comp.unique
        arrays = {k: u[k] for k in rows}
        arrays["z"] = (np.column_stack([u[f"__z{j}"] for j in range(z.shape[1])])
                       if z.shape[1] else np.empty((comp.n_unique, 0)))
        return arrays, w

    def _start(self, arrays, weights):
        n_coef = len(self.param_names) - len(self._base_class().param_names)
        base = self._start_base
        if base is None:
            base = self._base_start(arrays, weights)
        return np.concatenate([base, np.zeros(n_coef)])

    def _base_start(self, arrays, weights):
        """The model's own start, from its compressed rows."""
        return self._base_class()._start(self, arrays, weights)

    def _loglik_and_grad(self, log_params, arrays, weights):
        names = self.param_names
        params = dict(zip(names, np.exp(log_params)))
        z = arrays["z"]
        p = self.row_params(params, z)
        ll, g = self._row_loglik(p, arrays, gradient=True)
        wg = g * weights
        grad = list(wg.sum(axis=1))
        base = list(self._base_class().param_names)
        for name, sign, idx in self._coefficient_blocks():
            grad.extend(sign * (z[:, idx].T @ wg[base.index(name)]))
        levels = self._segment_levels()
        if levels:  # d/d log sd and d/d e_s of log theta_i = log theta + sd e_s(i)
            onehot = z[:, z.shape[1] - len(levels):]
            seg = self.segment
            for name in self._pooled():
                sd = params[f"sd:{name}|{seg}"]
                e = np.log([params[f"{name}|{seg}[{lv}]"] for lv in levels])
                per_level = onehot.T @ wg[base.index(name)]
                grad.append(sd * float(per_level @ e))
                grad.extend(sd * per_level)
        return float(weights @ ll), np.asarray(grad, dtype=np.float64)

    def _log_posterior_terms(self, theta, arrays, weights, with_prior):
        ll, grad = self._loglik_and_grad(theta, arrays, weights)
        n_base = len(self._base_class().param_names)
        if with_prior:
            lp, g = log_prior_log_scale(self.priors_, self.param_names, theta)
            return ll + lp, grad + g
        if self.l2_penalty:
            c = theta[n_base:]
            pen = np.zeros_like(theta)
            pen[n_base:] = -self.l2_penalty * c
            return ll - 0.5 * self.l2_penalty * float(c @ c), grad + pen
        return ll, grad

    def _pymc_log_likelihood(self, params, arrays, weights):
        from .backend import pytensor_ops

        ops = pytensor_ops()
        p = self.row_params(params, arrays["z"], ops=ops)
        return ops.dot(weights, self._row_loglik(p, arrays, gradient=False, ops=ops))

    def _check_convergence(self, res, theta, ll, grad, hess) -> None:
        """At the edge of the search space, name the covariate level the data cannot
        identify and what to do."""
        names = list(self.param_names)
        edge = [names[i] for i in np.flatnonzero(np.abs(theta) >= 15.0 - 1e-6)
                if ":" in names[i]]
        if edge:
            raise FitError(
                f"{type(self).__name__}: the coefficient(s) {edge} ran to the edge of the search "
                "space: the customers with that covariate level are too few, or all behave "
                "the same way (e.g. none of them made a repeat purchase), so maximum "
                "likelihood has no finite answer. What to do: merge that level with another, "
                "drop the covariate, or keep it with a penalty (l2_penalty=1.0) or "
                "method='map', whose coefficient priors keep it finite.",
                cli_message=f"the coefficient(s) {edge} ran to the edge of the search space "
                "(too few or too alike customers at that covariate level). Merge the level, "
                "drop the covariate, or add --method map.")
        return super()._check_convergence(res, theta, ll, grad, hess)


def _register_encoding():
    from .persistence import register_class

    if not getattr(CovariateEncoding, "_registered", False):
        register_class(CovariateEncoding)
        CovariateEncoding._registered = True


_CLASSES: dict[type, type] = {}


def with_covariates(base: type, name: str) -> type:
    """The class ``name``: ``base`` with :class:`CovariateMixin`, whose ``__init__``
    takes the covariate settings (``covariates``, ``reference``,
    ``coefficient_prior_sd``, ``l2_penalty``) and every setting of ``base``."""
    if base in _CLASSES:
        return _CLASSES[base]
    _register_encoding()
    base_sig = inspect.signature(base.__init__)
    extra = [
        inspect.Parameter("covariates", inspect.Parameter.KEYWORD_ONLY, default=()),
        inspect.Parameter("reference", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("coefficient_prior_sd", inspect.Parameter.KEYWORD_ONLY, default=1.0),
        inspect.Parameter("l2_penalty", inspect.Parameter.KEYWORD_ONLY, default=0.0),
        inspect.Parameter("segment", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("segment_prior_sd", inspect.Parameter.KEYWORD_ONLY, default=1.0),
        inspect.Parameter("pooled", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]
    params = [*list(base_sig.parameters.values())[:1], *extra,
              *list(base_sig.parameters.values())[1:]]

    def __init__(self, *, covariates=(), reference=None, coefficient_prior_sd=1.0,
                 l2_penalty=0.0, segment=None, segment_prior_sd=1.0, pooled=None,
                 **settings):
        base.__init__(self, **settings)
        self._init_covariates(covariates, reference, coefficient_prior_sd, l2_penalty,
                              segment, segment_prior_sd, pooled)

    __init__.__signature__ = inspect.Signature(params)
    doc = (f"{base.__name__} with customer covariates (:mod:`clvmodels.models.covariates`).\n\n"
           "Parameters\n----------\n"
           "covariates : list of str, or dict of side to list of str\n"
           "    Columns of the summary (attach them with ``rfm_summary(..., covariates=)``); a\n"
           f"    list acts on every side ({', '.join(base.covariate_links)}), a dict names them.\n"
           "reference : dict, optional\n"
           "    Reference level per categorical column (default: its most common level).\n"
           "coefficient_prior_sd : float\n"
           "    ``Normal(0, sd)`` prior of every coefficient for method 'map', 'mcmc', 'advi'.\n"
           "l2_penalty : float\n"
           "    Ridge penalty ``l2_penalty / 2 * sum(c**2)`` on the coefficients of a\n"
           "    maximum-likelihood fit (0: none).\n"
           "segment : str, optional\n"
           "    Column whose levels get their own parameters with partial pooling\n"
           "    (method 'mcmc' or 'advi'; :meth:`segment_parameters`).\n"
           "segment_prior_sd : float\n"
           "    ``HalfNormal`` scale of the between-segment sd of each log parameter.\n"
           "pooled : list of str, optional\n"
           "    Parameters with one value per segment (default: those covariates act on).\n"
           f"**others\n    As :class:`{base.__module__}.{base.__name__}`.\n")
    cls = type(name, (CovariateMixin, base), {"__init__": __init__, "__doc__": doc,
                                              "__module__": base.__module__})
    register_model(cls)
    _CLASSES[base] = cls
    return cls
