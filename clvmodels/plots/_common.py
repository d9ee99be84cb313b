"""Shared pieces of the plots: colours, axes, the checks of a fitted model and the
number formats."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import IncompatibleModelError, check_parameter

ACTUAL_COLOR = "#4d4d4d"
MODEL_COLOR = "#d95f02"
RECENCY_POINTS = 101  # columns of the probability-alive / expected-purchases heatmaps


# --------------------------------------------------------------------- helpers
def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(layout="constrained")[1]


def _fitted_bgnbd(model, owner: str) -> dict[str, float]:
    """The point estimate of a fitted purchase model (any model of the family: the
    plots call its formulas through ``model._formula``)."""
    _fitted_purchase(model, owner)
    return model.point_params()


def _fitted_purchase(model, owner: str) -> None:
    from ..models.purchase.base import PurchaseModel

    if not isinstance(model, PurchaseModel):
        raise TypeError(f"The 'model' parameter of {owner} must be a fitted purchase model "
                        f"(BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel). Got "
                        f"{type(model).__name__} instead.")
    model._require_fitted()


def _units(model) -> str:
    """Plural time unit of a fitted model for axis labels ('weeks'), or 'time units'."""
    unit = getattr(model, "time_unit_", None)
    return f"{unit}s" if unit else "time units"


def _check_same_unit(model, data: pd.DataFrame, owner: str) -> None:
    data_unit = data.attrs.get("time_unit") if hasattr(data, "attrs") else None
    unit = getattr(model, "time_unit_", None)
    if data_unit is not None and unit is not None and data_unit != unit:
        raise IncompatibleModelError(
            f"{owner}: the model is in {unit}s but the summary is in {data_unit}s "
            "(data.attrs['time_unit']). Rebuild the summary in the model's unit or refit.")


def _check_max_frequency(value, owner: str, allow_none: bool = False) -> None:
    ok = (allow_none and value is None) or (
        isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1)
    check_parameter("max_frequency", owner, value, ok,
                    "None or an int >= 1" if allow_none else "an int >= 1")


def _pooled_labels(max_frequency: int) -> list[str]:
    return [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]


def _day(value, name: str, owner: str) -> pd.Timestamp:
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError):
        day = pd.NaT
    if pd.isna(day):
        raise ValueError(f"The {name!r} parameter of {owner} must be a date such as "
                         f"'1997-01-01'. Got {value!r} instead.")
    return day.normalize()


def _num(v: float) -> str:
    """A duration for a label: whole numbers as such, others to 3 significant digits."""
    return f"{v:g}" if float(v).is_integer() else f"{v:.3g}"


def _money(v: float) -> str:
    return f"${v:,.0f}" if abs(v) >= 1000 else f"${v:,.2f}"


# ---------------------------------------------------------------- model checks
