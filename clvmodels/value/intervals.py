"""Equal-tailed credible intervals from a finite set of posterior (or asymptotic) draws.

The bounds are sample quantiles at Weibull plotting positions (numpy's
``method="weibull"``: the k-th smallest of n draws sits at k/(n+1)). For a continuous
quantity the expected posterior probability below the lower bound is then exactly
``(1 - level)/2``, so a 90% interval holds 90% on average even from few draws. numpy's
default (linear) positions pull both bounds inwards: from 100 draws a "90%" interval
held 88.3% on average in a simulation of 20,000 sets of uniform draws (89.0% from 200,
90.0% from 4,000); with Weibull positions 90.0% at every size.

>>> import numpy as np
>>> credible_bounds(np.arange(1.0, 100.0), 0.9).round(9).tolist()
[5.0, 95.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["tail_probabilities", "credible_bounds", "weibull_positions"]


def tail_probabilities(level: float) -> np.ndarray:
    """Probabilities of the lower and upper bounds of the equal-tailed ``level``
    interval: ``[(1 - level) / 2, (1 + level) / 2]``."""
    return np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0])


def credible_bounds(draws, level: float, axis: int = 0) -> np.ndarray:
    """Lower and upper bounds (stacked on a new first axis) of the equal-tailed
    ``level`` interval of ``draws`` along ``axis``."""
    return np.quantile(draws, tail_probabilities(level), axis=axis, method="weibull")


def weibull_positions(n: int, level: float) -> np.ndarray:
    """0-based fractional positions, in ``n`` sorted draws, of the bounds that
    :func:`credible_bounds` returns (computed as numpy's quantile does, to the last
    bit), for code that selects them itself (:mod:`clvmodels.value.kernel`)."""
    qs = tail_probabilities(level)
    return n * qs + qs - 1
