import math

import pytest

from clvmodels.timeunits import (
    annual_rate_to_continuous,
    convert_duration,
    parse_horizon,
)


def test_horizons_need_units():
    assert parse_horizon("12 months") == (12.0, "month")
    assert parse_horizon((52, "weeks")) == (52.0, "week")
    with pytest.raises(ValueError, match="must say its unit"):
        parse_horizon(12)
    with pytest.raises(ValueError, match="must be one of"):
        parse_horizon("12 fortnights")
    with pytest.raises(ValueError, match="positive finite"):
        parse_horizon("0 weeks")


def test_conversions_are_exact():
    assert convert_duration(12, "month", "year") == pytest.approx(1.0, rel=1e-15)
    assert convert_duration(1, "year", "day") == 365.25
    for unit in ("day", "week", "month"):
        delta = annual_rate_to_continuous(0.25, unit)
        assert math.exp(-delta * convert_duration(1, "year", unit)) == pytest.approx(0.8, rel=1e-14)
    with pytest.raises(ValueError, match="'discount_rate' parameter .* Got -0.1 instead"):
        annual_rate_to_continuous(-0.1, "week")
