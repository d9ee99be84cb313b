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

__all__ = ["credible_bounds"]


def credible_bounds(draws, level: float, axis: int = 0) -> np.ndarray:
    """Lower and upper bounds (stacked on a new first axis) of the equal-tailed
    ``level`` interval of ``draws`` along ``axis``."""
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    return np.quantile(draws, q, axis=axis, method="weibull")
