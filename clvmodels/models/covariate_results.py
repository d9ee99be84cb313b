"""What a covariate fit reports (:mod:`clvmodels.models.covariates`): the coefficients
with their intervals and tests, the parameter table, each segment's parameters under
partial pooling, and likelihood-ratio tests of each covariate block against the model
without it (refitted on the same data)."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import check_parameter

__all__ = ["CovariateResults"]


class CovariateResults:
    """The result methods of :class:`~clvmodels.models.covariates.CovariateMixin`."""

    def coefficients(self, level: float = 0.95) -> pd.DataFrame:
        """Each coefficient (log-scale effect, module docstring) with ``se`` and a
        ``level`` interval, on the encoded scale (``estimate``: per standard deviation
        of a numeric covariate, for a level against the reference) and per unit of the
        user's column (``per_unit``), with ``multiplier = exp(estimate)`` of the
        side's quantity (purchase rate, drop-out or spend) and the side.

        Maximum likelihood and MAP: normal approximation; MCMC and ADVI: posterior
        mean, sd and equal-tailed interval."""
        self._require_fitted()
        check_parameter("level", "coefficients", level,
                        isinstance(level, float) and 0 < level < 1, "a float in (0, 1)")
        n_base = len(self._base_class().param_names)
        names = self._coefficient_names()
        at = slice(n_base, n_base + len(names))
        if not names:
            return pd.DataFrame(columns=["side", "estimate", "se", "lower", "upper", "z",
                                         "multiplier", "per_unit", "p_value"],
                                index=pd.Index([], name="coefficient"))
        if self.idata_ is None:
            est = self.log_params_[at]
            se = np.sqrt(np.diag(self.covariance_log_))[at]
            z = stats.norm.ppf(0.5 + level / 2)
            lo, hi = est - z * se, est + z * se
        else:
            from ..value.intervals import credible_bounds

            logs = np.log(np.column_stack([self.param_draws()[n] for n in names]))
            est, se = logs.mean(axis=0), logs.std(axis=0, ddof=1)
            lo, hi = credible_bounds(logs, level, axis=0)
        enc = self._encoding()
        feats = list(enc.features)
        per_unit = np.empty(len(names))
        side_of = {p: s for s, links in type(self).covariate_links.items() for p, _ in links}
        for i, n in enumerate(names):
            f = n.split(":", 1)[1]
            per_unit[i] = est[i] / enc.scale[f] if f in enc.scale else est[i]
        out = pd.DataFrame({
            "side": [side_of[n.split(":", 1)[0]] for n in names],
            "estimate": est, "se": se, "lower": lo, "upper": hi,
            "z": np.asarray(est) / np.asarray(se),
            "multiplier": np.exp(est), "per_unit": per_unit,
        }, index=pd.Index(names, name="coefficient"))
        # a Wald test of c = 0 from the normal approximation; a Bayesian fit has its
        # interval instead
        out["p_value"] = (2 * stats.norm.sf(np.abs(out["z"])) if self.idata_ is None
                          else np.nan)
        del feats
        return out

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """The model's parameter table for the reference customer (categorical
        covariates at their reference levels, numeric ones at their fit means), followed
        by the coefficients on the log scale (:meth:`coefficients`)."""
        table = super().summary(level)
        coef = self.coefficients(level)
        cols = ["estimate", "se", "lower", "upper"]
        if len(coef):
            table.loc[coef.index, cols] = coef[cols].to_numpy()
        table.attrs["coefficients"] = ("rows 'parameter:feature' are coefficients on the log "
                                       "scale (0: no effect), not multipliers")
        return table

    def segment_parameters(self, level: float = 0.95) -> pd.DataFrame:
        """Each segment's parameters ``theta exp(sd e_s)`` and the population's (``theta``
        and, per parameter, the between-segment ``sd`` of ``log theta``): posterior
        mean and equal-tailed ``level`` interval, for customers with every covariate at
        its reference (a partially pooled fit, ``segment=``)."""
        self._require_fitted()
        levels = self._segment_levels()
        if not levels:
            raise ValueError(f"{type(self).__name__} was not fitted with segment=...; it has "
                             "no segment parameters.")
        from ..value.intervals import credible_bounds

        draws = self.param_draws()
        seg = self.segment
        rows = []
        for p in self._pooled():
            sd = draws[f"sd:{p}|{seg}"]
            entries = [("population", p, draws[p]), ("population", f"sd of log {p}", sd)]
            entries += [(lv, p, draws[p] * draws[f"{p}|{seg}[{lv}]"] ** sd) for lv in levels]
            for who, name, values in entries:
                lo, hi = credible_bounds(values, level)
                rows.append({"segment": who, "parameter": name, "estimate": float(values.mean()),
                             "lower": float(lo), "upper": float(hi)})
        return pd.DataFrame(rows).set_index(["segment", "parameter"]).sort_index()

    def likelihood_ratio_tests(self, data: pd.DataFrame) -> pd.DataFrame:
        """Likelihood-ratio test of each side's covariates and of each covariate column
        (on every side it enters) against the model without them, refitted on ``data``
        by maximum likelihood: ``lr = 2 (ll_full - ll_reduced)``, ``df`` the coefficients
        dropped, ``p_value`` from the chi-squared distribution; the row ``all`` tests
        every covariate at once."""
        self._require_fitted()
        if self.fit_method_ != "mle":
            raise ValueError(f"{type(self).__name__}.likelihood_ratio_tests compares "
                             "maximum-likelihood fits; this model was fitted with "
                             f"method={self.fit_method_!r}. Refit with method='mle'.")
        sides = self._side_columns()
        tests = {}
        for side, cols in sides.items():
            if cols:
                tests[f"{side} side"] = {s: (() if s == side else c) for s, c in sides.items()}
        for col in self.covariate_columns():
            tests[col] = {s: tuple(c for c in cs if c != col) for s, cs in sides.items()}
        rows = []
        k_full = len(self.param_names)
        for label, reduced in tests.items():
            if not any(reduced.values()):
                ll, k = self.null_log_likelihood_, len(self._base_class().param_names)
            else:
                settings = {k: getattr(self, k) for k in
                            inspect.signature(type(self).__init__).parameters if k != "self"}
                settings.update(covariates=reduced)
                if settings.get("reference"):  # only for the columns the reduced model keeps
                    kept = {c for cs in reduced.values() for c in cs}
                    settings["reference"] = {c: v for c, v in settings["reference"].items()
                                             if c in kept} or None
                m = type(self)(**settings).fit(data, method="mle")
                ll, k = m.log_likelihood_, len(m.param_names)
            lr = 2.0 * (self.log_likelihood_ - ll)
            rows.append({"test": label, "lr": lr, "df": k_full - k,
                         "p_value": float(stats.chi2.sf(max(lr, 0.0), k_full - k))})
        lr = 2.0 * (self.log_likelihood_ - self.null_log_likelihood_)
        df = k_full - len(self._base_class().param_names)
        rows.append({"test": "all", "lr": lr, "df": df,
                     "p_value": float(stats.chi2.sf(max(lr, 0.0), df))})
        return pd.DataFrame(rows).set_index("test")
