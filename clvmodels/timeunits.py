"""Explicit time (DESIGN.md principle 5): units, horizons and discount-rate conversion.

A *day* is 1 day, a *week* 7 days, a *month* 365.25 / 12 days and a *year* 365.25
days. Summaries, models and horizons all carry one of these units; conversions between
them are exact under these definitions.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "TIME_UNITS",
    "check_time_unit",
    "unit_length_days",
    "convert_duration",
    "parse_horizon",
    "annual_rate_to_continuous",
]

_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12.0, "year": 365.25}
TIME_UNITS = tuple(_UNIT_DAYS)
_ALIASES = {
    "d": "day", "day": "day", "days": "day", "daily": "day",
    "w": "week", "wk": "week", "week": "week", "weeks": "week", "weekly": "week",
    "m": "month", "mo": "month", "month": "month", "months": "month", "monthly": "month",
    "y": "year", "yr": "year", "year": "year", "years": "year", "yearly": "year",
}


def check_time_unit(unit: object, owner: str = "clvmodels", name: str = "time_unit") -> str:
    """Return the canonical unit name ('day', 'week', 'month', 'year') or raise.

    >>> check_time_unit("Weeks")
    'week'
    """
    if isinstance(unit, str) and unit.strip().lower() in _ALIASES:
        return _ALIASES[unit.strip().lower()]
    raise ValueError(
        f"The {name!r} parameter of {owner} must be one of {list(TIME_UNITS)}. "
        f"Got {unit!r} instead."
    )


def unit_length_days(unit: str) -> float:
    """Length of one ``unit`` in days.

    >>> unit_length_days("month")
    30.4375
    """
    return _UNIT_DAYS[check_time_unit(unit)]


def convert_duration(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a duration between units.

    >>> convert_duration(1, "year", "week")  # doctest: +ELLIPSIS
    52.178...
    """
    return float(value) * unit_length_days(from_unit) / unit_length_days(to_unit)


def parse_horizon(horizon: object, owner: str = "clvmodels") -> tuple[float, str]:
    """Parse a units-explicit horizon: ``"12 months"``, ``"52 weeks"`` or ``(12, "month")``.

    A bare number is refused: the unit must be said.

    >>> parse_horizon("12 months")
    (12.0, 'month')
    >>> parse_horizon((1.5, "years"))
    (1.5, 'year')
    """
    value: object
    unit: object
    if isinstance(horizon, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]+)\s*", horizon)
        if m is None:
            raise ValueError(
                f"The 'horizon' parameter of {owner} must be a duration with a unit such "
                f"as '12 months', '52 weeks' or '365 days'. Got {horizon!r} instead."
            )
        value, unit = float(m.group(1)), m.group(2)
    elif isinstance(horizon, tuple) and len(horizon) == 2:
        value, unit = horizon
    else:
        raise ValueError(
            f"The 'horizon' parameter of {owner} must say its unit, e.g. '12 months' or "
            f"(12, 'month'). Got {horizon!r} instead."
        )
    unit = check_time_unit(unit, owner, "horizon")
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"The 'horizon' parameter of {owner} must be a positive finite duration. "
            f"Got {horizon!r} instead."
        )
    return value, unit


def annual_rate_to_continuous(annual_rate: float, unit: str, owner: str = "clvmodels") -> float:
    """Continuous discount rate per ``unit`` equivalent to an effective annual rate.

    Money received ``t`` units from now is worth ``exp(-delta * t)`` today, with
    ``delta = log(1 + annual_rate) * unit_days / 365.25``; one year from now that is
    exactly ``1 / (1 + annual_rate)``.

    >>> import math
    >>> delta = annual_rate_to_continuous(0.10, "week")
    >>> round(math.exp(-delta * 365.25 / 7), 12)
    0.909090909091
    """
    ok = (isinstance(annual_rate, (int, float)) and not isinstance(annual_rate, bool)
          and math.isfinite(annual_rate) and 0 <= annual_rate < 1)
    if not ok:
        number = isinstance(annual_rate, (int, float)) and 1 <= annual_rate <= 100
        share = f"{annual_rate / 100:{'.2f' if number and annual_rate % 1 == 0 else '.4g'}}" \
            if number else ""
        hint = f" Did you mean {share} ({annual_rate:g}%)?" if number else ""
        raise ValueError(
            f"The 'discount_rate' parameter of {owner} must be a float in [0, 1) "
            f"(effective annual rate, e.g. 0.10 for 10%). Got {annual_rate!r} instead.{hint}"
        )
    return math.log1p(float(annual_rate)) * unit_length_days(unit) / 365.25
