"""The posterior (or Laplace) distribution of a fitted model's parameters."""

from __future__ import annotations

import numpy as np

from ..models.base import BaseModel
from ._common import (
    MODEL_COLOR,
    _units,
)


def plot_parameter_posterior(model, *, axes=None):
    """One histogram per parameter of the model's draws, with the point estimate.

    For maximum-likelihood and MAP fits the draws come from the normal approximation
    on the log scale; for MCMC and ADVI they are posterior draws (all chains pooled).

    Parameters
    ----------
    model : BetaGeoModel or GammaGammaModel
        Fitted model.
    axes : array of matplotlib Axes, optional
        At least one per parameter; a new figure (2 columns) when None.

    Returns
    -------
    ndarray of matplotlib Axes
        One per parameter, in ``model.param_names`` order.

    Examples
    --------
    >>> from clvmodels import BetaGeoModel
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> axes = plot_parameter_posterior(BetaGeoModel(draws=200).fit(load_cdnow_summary()))
    >>> [ax.get_title() for ax in axes]
    ['r', 'alpha', 'a', 'b']
    """
    owner = "plot_parameter_posterior"
    if not isinstance(model, BaseModel):
        raise TypeError(f"The 'model' parameter of {owner} must be a fitted clvmodels model. "
                        f"Got {type(model).__name__} instead.")
    draws, point = model.param_draws(), model.point_params()
    names = list(model.param_names)
    if axes is None:
        import matplotlib.pyplot as plt

        ncols = 2 if len(names) > 1 else 1
        nrows = -(-len(names) // ncols)
        fig, grid = plt.subplots(nrows, ncols, figsize=(6.4, 2.4 * nrows + 0.6),
                                 layout="constrained", squeeze=False)
        grid = grid.ravel()
        for extra in grid[len(names):]:
            extra.set_visible(False)
    else:
        grid = np.ravel(np.asarray(axes, dtype=object))
        if grid.size < len(names):
            raise ValueError(f"The 'axes' parameter of {owner} must hold at least "
                             f"{len(names)} Axes (one per parameter). Got {grid.size} instead.")
        fig = grid[0].figure
    meaning = {"r": "Shape of purchase rates", "alpha": f"Scale of purchase rates ({_units(model)})",
               "a": "Dropout, first shape", "b": "Dropout, second shape",
               "p": "Shape of purchase amounts", "q": "Shape of spend levels",
               "gamma": "Scale of spend levels ($)"}
    kind = {"mle": "maximum likelihood, normal approximation",
            "map": "MAP, normal approximation", "mcmc": "MCMC", "advi": "ADVI"}.get(
        getattr(model, "fit_method_", ""), "")
    for ax, name in zip(grid, names):
        ax.hist(draws[name], bins=30, color="#a6bddb", edgecolor="white", lw=0.4,
                label="Draws")
        ax.axvline(point[name], color=MODEL_COLOR, lw=2, label="Point estimate")
        ax.set_title(name)
        ax.set_xlabel(meaning.get(name, "Value"))
        ax.set_ylabel("Draws")
    n_draws = next(iter(draws.values())).size
    if axes is None:  # a figure of our own: one legend for all panels, under them
        fig.legend(*grid[0].get_legend_handles_labels(), loc="outside lower center", ncols=2,
                   frameon=False)
        fig.suptitle(f"Uncertainty of the {type(model).__name__} parameters\n{n_draws:,} draws"
                     + (f" ({kind})" if kind else ""))
    else:
        grid[0].legend(fontsize="small")
    return grid[: len(names)]


# ------------------------------------------------------------------- survival
