"""The compiled BG/NBD repeat-purchase term: its vectorizable exp/log1p against numpy,
and the term and its gradient against numpy and finite differences on extreme rows."""

import numpy as np
import pytest
from scipy import special

from clvmodels.models.purchase.bgnbd_kernel import (
    exp_nonpositive,
    log1p_unit,
    repeat_term,
    repeat_term_data,
)


def _apply(f, values):
    return np.array([f(float(v)) for v in values])


def test_exp_matches_numpy_to_a_few_ulp():
    x = -np.concatenate([np.linspace(0, 40, 40_001), np.geomspace(40, 708, 2_000),
                         np.geomspace(1e-300, 1e-3, 500)])
    ours, ref = _apply(exp_nonpositive, x), np.exp(x)
    assert np.max(np.abs(ours / ref - 1)) < 5e-16
    assert exp_nonpositive(0.0) == 1.0
    # below -708 the result is held at exp(-708): far below anything it is added to
    assert exp_nonpositive(-1e4) == pytest.approx(np.exp(-708.0), rel=1e-15)


def test_log1p_matches_numpy_to_a_few_ulp():
    u = np.concatenate([np.linspace(0, 1, 40_001)[1:], np.geomspace(1e-300, 1e-3, 500)])
    ours, ref = _apply(log1p_unit, u), np.log1p(u)
    assert np.max(np.abs(ours / ref - 1)) < 5e-16
    assert log1p_unit(0.0) == 0.0


@pytest.mark.parametrize("pars", [(0.2426, 4.4136, 0.7929, 2.4259), (5.0, 0.01, 3.0, 0.05),
                                  (0.01, 500.0, 0.02, 40.0)])
def test_term_and_gradient_match_numpy(pars, rng):
    """Value and gradient against the formula written in numpy (logaddexp, expit) on
    rows up to x = 1e5 and T = 1e4, where z is far from 0 both ways, and the gradient
    against central differences of the kernel's own value."""
    n = 5_000
    x = np.concatenate([rng.integers(1, 30, n - 3), [1, 10_000, 100_000]]).astype(float)
    T = np.concatenate([rng.uniform(0.1, 100, n - 3), [1e4, 1e4, 1e4]])
    t_x = np.concatenate([T[:-3] * rng.uniform(0, 1, n - 3), [0.0, 1.0, 9_999.0]])
    w = rng.integers(1, 4, n).astype(float)
    data = repeat_term_data(x, t_x, T, w)
    r, alpha, a, b = pars
    dl = np.log(alpha + T) - np.log(alpha + t_x)
    z = np.log(a) - np.log(b + x - 1) + (r + x) * dl
    pi = special.expit(z)
    value, grad = repeat_term(*pars, data)
    assert value == pytest.approx(w @ np.logaddexp(0.0, z), rel=1e-12)
    expected = [w @ (pi * dl), w @ (pi * (r + x) * (1 / (alpha + T) - 1 / (alpha + t_x))),
                w @ pi / a, -w @ (pi / (b + x - 1))]
    np.testing.assert_allclose(grad, expected, rtol=1e-10)
    for i in range(4):
        h = 1e-6 * pars[i]
        up, down = list(pars), list(pars)
        up[i] += h
        down[i] -= h
        fd = (repeat_term(*up, data)[0] - repeat_term(*down, data)[0]) / (2 * h)
        assert fd == pytest.approx(grad[i], rel=1e-5, abs=1e-6 * abs(value))


def test_data_rejects_rows_without_repeats():
    with pytest.raises(ValueError, match="x > 0"):
        repeat_term_data([0.0, 1.0], [0.0, 1.0], [2.0, 2.0], [1.0, 1.0])
