"""Array back-ends for writing each likelihood once (DESIGN.md principle 1).

A likelihood written against ``ops`` evaluates with numpy/scipy (``NUMPY``: maximum
likelihood, predictions) or builds a PyTensor graph (``pytensor_ops()``: the PyMC
model for MCMC/ADVI), from the same lines of code.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

import numpy as np
from scipy import special

__all__ = ["NUMPY", "pytensor_ops"]

NUMPY = SimpleNamespace(
    name="numpy",
    log=np.log,
    exp=np.exp,
    gammaln=special.gammaln,
    betaln=special.betaln,
    logaddexp=np.logaddexp,
    log1mexp=lambda x: np.log(-np.expm1(x)),  # log(1 - exp(x)), x < 0
    where=np.where,
    take=lambda v, idx: np.take(v, idx, axis=-1),
    dot=lambda w, v: v @ w,
    data=lambda v: np.asarray(v, dtype=np.float64),
)


@cache
def pytensor_ops() -> SimpleNamespace:
    """The same operations on PyTensor tensors (imported on first use)."""
    import pytensor
    import pytensor.tensor as pt

    return SimpleNamespace(
        name="pytensor",
        log=pt.log,
        exp=pt.exp,
        gammaln=pt.gammaln,
        betaln=lambda a, b: pt.gammaln(a) + pt.gammaln(b) - pt.gammaln(a + b),
        logaddexp=pt.logaddexp,
        log1mexp=pt.log1mexp,
        where=pt.switch,
        take=lambda v, idx: pt.take(v, idx, axis=-1),
        dot=lambda w, v: pt.dot(v, w),
        # data enter the graph as shared variables, not constants: the compiled graph
        # then does not depend on the data, and PyTensor's disk cache serves every later
        # fit of the same model (a new compilation per data set otherwise)
        data=lambda v: pytensor.shared(np.asarray(v, dtype=np.float64), borrow=True),
    )
