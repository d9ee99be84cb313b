"""Model parameters as they apply to each customer, for the value code.

A model without covariates has one set of parameters for every customer; a model with
covariates (:mod:`clvmodels.models.covariates`) has one per *covariate pattern* (a
distinct row of its encoded design). :class:`RowParams` hands the value code the
parameters of any set of patterns, at the point estimate or per parameter draw, so the
same code serves both: customers are grouped by their pattern as by any other column
of the summary, and every formula receives arrays of per-pattern parameters that
broadcast against the customer arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.compress import compress_rows

__all__ = ["RowParams", "has_covariates"]


def has_covariates(model) -> bool:
    """Whether ``model`` is fitted with covariates that move a parameter."""
    from ..models.covariates import CovariateMixin

    return (isinstance(model, CovariateMixin)
            and getattr(model, "covariate_encoding_", None) is not None
            and len(model.param_names) > len(model._base_class().param_names))


class RowParams:
    """The parameters of ``model`` per covariate pattern of the customers of ``data``.

    ``ids`` gives each customer's pattern (all 0 without covariates) and ``linked``
    whether there are covariates at all. :meth:`point` and :meth:`draws` return the
    model's own parameters (coefficients folded in) for the patterns ``ids`` given.
    """

    def __init__(self, model, data: pd.DataFrame | None, n: int):
        self.model = model
        self.linked = has_covariates(model)
        if not self.linked:
            self.ids = np.zeros(n)
            self.designs = None
            return
        z = model.design(data)
        comp = compress_rows({str(j): z[:, j] for j in range(z.shape[1])},
                             [str(j) for j in range(z.shape[1])])
        self.ids = comp.inverse.astype(np.float64)
        self.designs = (np.column_stack([comp.unique[str(j)] for j in range(z.shape[1])])
                        if z.shape[1] else np.zeros((comp.n_unique, 0)))

    def point(self, ids=None) -> dict:
        """Point-estimate parameters: floats, or arrays over ``ids`` with covariates."""
        if not self.linked:
            return self.model.point_params()
        return self.model.row_point(self._z(ids))

    def draws(self, draws: dict, ids=None) -> dict:
        """Parameter draws ``(k,)`` as ``(k, len(ids))`` arrays (``(k, 1)`` when every
        customer shares them), the model's own parameter names only."""
        if not self.linked:  # every draw the model's formulas take (Erlang-k: its order too)
            return {n: np.asarray(v, dtype=np.float64)[:, None] for n, v in draws.items()}
        return self.model.row_draws(draws, self._z(ids))

    def sampled(self, draws: dict, ids, d) -> dict:
        """The parameters of simulated futures: future ``(i, s)`` of row ``i`` (pattern
        ``ids[i]``) at draw ``d[i, s]`` (``d`` broadcasts against ``(len(ids), 1)``)."""
        rows = np.arange(len(ids))[:, None]
        return {k: (v[d, rows] if v.shape[1] > 1 else v[d, 0])
                for k, v in self.draws(draws, ids).items()}

    def _z(self, ids):
        return self.designs[np.asarray(ids, dtype=np.intp)]
