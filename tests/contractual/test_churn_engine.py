"""The churn-model engine's generic sums against the sBG's closed forms."""

import numpy as np
import pytest

from clvmodels.models.churn.base import ChurnModel
from clvmodels.models.churn.sbg import (
    ShiftedBetaGeoModel,
    sbg_discounted_residual_lifetime,
)

SBG = ShiftedBetaGeoModel()


def _generic(p, t, lam, horizon=None):
    return ChurnModel._discounted_renewals(SBG, p, t, lam, horizon)


def test_generic_discounted_sums_match_the_closed_form():
    p = {"alpha": np.array([0.7, 3.8, 1.2]), "beta": np.array([1.2, 15.2, 40.0])}
    t = np.array([0.0, 4.0, 30.0])
    for d in (0.10, 0.01):
        np.testing.assert_allclose(_generic(p, t, np.log1p(d)),
                                   sbg_discounted_residual_lifetime(p["alpha"], p["beta"], t, d),
                                   rtol=1e-10)
    # a horizon: the first H terms, checked against a direct sum
    lam, h = np.log1p(0.1) / 12, 36
    k = np.arange(h)
    direct = [np.sum(np.exp(SBG._log_survival({"alpha": a, "beta": b}, tt + 1 + k)
                            - SBG._log_survival({"alpha": a, "beta": b}, tt) - lam * k))
              for a, b, tt in zip(p["alpha"], p["beta"], t)]
    np.testing.assert_allclose(_generic(p, t, lam, h), direct, rtol=1e-12)


def test_generic_undiscounted_lifetime_is_finite_exactly_when_the_mean_exists():
    p = {"alpha": np.array([1.5, 1.1, 3.8, 1.0, 0.9]), "beta": np.array([2.0, 2.0, 15.2, 2, 2])}
    t = np.zeros(5)
    out = _generic(p, t, 0.0)
    closed = SBG._expected_residual_lifetime(p, t)  # beta / (alpha - 1), inf for alpha <= 1
    np.testing.assert_allclose(out[:3], closed[:3], rtol=2e-4)
    assert out[2] == pytest.approx(closed[2], rel=1e-10)  # fast-decaying: summed exactly
    assert np.isinf(out[3:]).all()
