"""The regularity check as a picture: each customer's gaps relative to her own mean gap,
against what the estimated Erlang shape and random timing imply
(:func:`clvmodels.evaluation.regularity.estimate_regularity`)."""

from __future__ import annotations

import numpy as np
from scipy import special

from ..errors import check_parameter
from ._common import ACTUAL_COLOR, MODEL_COLOR, _axes

__all__ = ["plot_regularity", "relative_gap_density"]

RANDOM_COLOR = "#7570b3"


def relative_gap_density(shape: float, gap_counts, ratio) -> np.ndarray:
    """Density of a gap over its customer's mean gap when gaps are gamma with ``shape``:
    a customer with ``x`` gaps has ``x * Beta(shape, (x - 1) shape)`` (the gaps over
    their sum are Dirichlet), averaged over the gaps of all customers (``gap_counts``:
    the ``x`` of each gap's customer). Exact for any number of gaps per customer.

    >>> mid = (np.arange(30_000) + 0.5) / 1000  # midpoints of (0, 30)
    >>> [round(float(relative_gap_density(k, [2, 5, 5, 100], mid).sum() / 1000), 6)
    ...  for k in (1.0, 3.0)]  # each integrates to 1
    [1.0, 1.0]
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    xs, n = np.unique(np.asarray(gap_counts, dtype=np.int64), return_counts=True)
    out = np.zeros(ratio.shape)
    k = float(shape)
    for x, count in zip(xs.astype(np.float64), n):
        v = ratio / x
        inside = (v > 0) & (v < 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            logf = ((k - 1.0) * np.log(v) + ((x - 1.0) * k - 1.0) * np.log1p(-v)
                    - special.betaln(k, (x - 1.0) * k) - np.log(x))
        out += count * np.where(inside, np.exp(logf), 0.0)
    return out / n.sum()


def plot_regularity(estimate, *, ax=None, max_ratio: float = 4.0, bins: int = 40):
    """Histogram of every gap over its customer's mean gap (customers with
    ``estimate.min_gaps`` or more gaps), with the distribution the estimated shape
    implies and the one random (Poisson) timing implies.

    Regular customers' gaps pile up around 1 (each gap about her usual gap); under
    random timing they spread from 0 with an exponential-like tail. Gaps beyond
    ``max_ratio`` times the mean are counted in the last bar.

    Parameters
    ----------
    estimate : RegularityEstimate
        From :func:`~clvmodels.evaluation.regularity.estimate_regularity` on transactions
        (a summary does not hold the gaps themselves).
    ax : matplotlib Axes, optional
    max_ratio : float
        Right end of the plot, in mean gaps.
    bins : int
        Histogram bars.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> from clvmodels.evaluation.regularity import estimate_regularity
    >>> ax = plot_regularity(estimate_regularity(load_cdnow_transactions()))
    >>> [line.get_label()[:12] for line in ax.get_lines()]
    ['Estimated: g', 'Random timin']
    """
    from ..evaluation.regularity import RegularityEstimate

    owner = "plot_regularity"
    if not isinstance(estimate, RegularityEstimate):
        raise TypeError(f"The 'estimate' parameter of {owner} must be the result of "
                        f"estimate_regularity. Got {type(estimate).__name__} instead.")
    check_parameter("max_ratio", owner, max_ratio,
                    isinstance(max_ratio, (int, float)) and max_ratio > 1, "a number > 1")
    check_parameter("bins", owner, bins, isinstance(bins, (int, np.integer)) and bins >= 5,
                    "an int >= 5")
    if estimate.normalized_gaps is None:
        raise ValueError(f"{owner} draws the customers' gaps, which an estimate from a summary "
                         "does not hold: call estimate_regularity on the transactions "
                         "instead of the summary.")
    ax = _axes(ax)
    edges = np.linspace(0.0, float(max_ratio), int(bins) + 1)
    shown = np.minimum(estimate.normalized_gaps, edges[-1] - 1e-9 * edges[-1])
    ax.hist(shown, bins=edges, density=True, color=ACTUAL_COLOR, alpha=0.55,
            label=f"Gaps of {estimate.n_customers:,} customers")
    grid = np.linspace(0.0, float(max_ratio), 401)[1:]
    ax.plot(grid, relative_gap_density(estimate.shape, estimate.gap_counts, grid),
            color=MODEL_COLOR, lw=2,
            label=f"Estimated: gap shape {estimate.shape:.2f} (about Erlang-{estimate.erlang_k})")
    ax.plot(grid, relative_gap_density(1.0, estimate.gap_counts, grid), color=RANDOM_COLOR,
            lw=1.5, ls="--", label="Random timing (Poisson, Erlang-1)")
    ax.set_xlim(0.0, float(max_ratio))
    ax.set_xlabel("Gap between purchases / the customer's mean gap")
    ax.set_ylabel("Density")
    ax.set_title(f"Gaps vary {100 * estimate.variation:.0f}% as much as under random timing")
    ax.legend()
    return ax
