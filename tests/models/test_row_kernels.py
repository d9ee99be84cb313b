"""The compiled BG/NBD and MBG/NBD per-row likelihood (clvmodels.models.purchase.row_kernels)
against the numpy formulas it replaces, and its digamma against scipy's."""

import doctest

import numpy as np
import pytest
from scipy import special

from clvmodels.models.purchase import bgnbd, mbgnbd
from clvmodels.models.purchase.row_kernels import (
    _SUM_MAX,
    beta_geometric_row_log_likelihood,
    digamma,
)

FUNCTIONS = {False: bgnbd.bgnbd_log_likelihood, True: mbgnbd.mbgnbd_log_likelihood}


def _digamma(values):
    return np.array([digamma(float(v)) for v in values])


def test_digamma_matches_scipy_on_a_wide_grid():
    root = 1.4616321449683622
    x = np.concatenate([np.geomspace(1e-8, 1e8, 3001),  # tiny to huge
                        np.linspace(0.9, 2.1, 2001),  # around the root and the series' edges
                        root + np.geomspace(1e-12, 0.5, 200), root - np.geomspace(1e-12, 0.5, 200),
                        np.arange(1.0, 30.0), np.arange(1.0, 30.0) + 0.5,
                        np.linspace(9.0, 11.0, 201)])  # where the recurrence stops
    ref = special.digamma(x)
    got = _digamma(x)
    np.testing.assert_allclose(got, ref, rtol=1e-14, atol=0)
    assert digamma(root) == pytest.approx(0.0, abs=1e-16)
    assert np.isnan(digamma(0.0)) and np.isnan(digamma(-1.5)) and np.isnan(digamma(np.nan))
    assert digamma(np.inf) == np.inf


def _grid(rng, n):
    """Rows with extremes: x from 0 to 1e5 (every whole number around the finite-sum
    limit), T from 1e-2 to 1e4, t_x anywhere in [0, T] (0 and T included), parameters
    from 1e-3 to 1e3."""
    x = np.concatenate([np.arange(0.0, _SUM_MAX + 4), [50.0, 1e3, 1e4, 1e5],
                        np.floor(10 ** rng.uniform(0.0, 5.0, n)) - 1.0])
    x = rng.permutation(np.resize(x, n))
    T = 10 ** rng.uniform(-2.0, 4.0, n)
    t_x = np.where(x > 0, T * rng.random(n), 0.0)
    t_x[(x > 0) & (rng.random(n) < 0.05)] = 0.0
    last = np.flatnonzero(x > 0)[:200]
    t_x[last] = T[last]  # last purchase at T
    x[:6], t_x[:6], T[:6] = ([1e5, 1e5, 1e5, 0.0, 1.0, 16.0], [1e4, 0.0, 1e-2, 0.0, 0.0, 1e4],
                             [1e4, 1e4, 1e4, 1e4, 1e4, 1e4])
    params = [10 ** rng.uniform(-3.0, 3.0, n) for _ in range(4)]
    lo, hi = 1e-3, 1e3
    extremes = ([lo, hi, lo, hi, lo, hi], [hi, lo, lo, hi, hi, lo],  # r, alpha
                [lo, lo, hi, hi, lo, hi], [hi, hi, lo, lo, hi, lo])  # a, b
    for p, values in zip(params, extremes):
        p[:6] = values
    return params, x, t_x, T


def _scales(r, alpha, a, b, x, t_x, T, modified):
    """The sum of the absolute values of the terms that make up ``log L`` and each
    partial derivative: where they cancel, two evaluations can agree only to a few
    rounding errors of these."""
    gl, dg = special.gammaln, special.digamma
    s = r + x
    bx = b + x + (1.0 if modified else 0.0)
    bo = b + x if modified else b + np.maximum(x - 1.0, 0.0)
    la, ltx = np.log(alpha + T), np.log(alpha + t_x)
    z = np.log(a) - np.log(bo) + s * (la - ltx)
    on = np.ones_like(z, dtype=bool) if modified else x > 0
    pi = np.where(on, special.expit(z), 0.0)
    ll = (abs(gl(bx)) + abs(gl(b)) + abs(gl(a + bx)) + abs(gl(a + b)) + abs(gl(s))
          + abs(gl(r)) + abs(r * np.log(alpha)) + s * abs(la) + np.where(on, abs(z), 0.0))
    g = [r * (abs(dg(s)) + abs(dg(r)) + abs(np.log(alpha)) + abs(la) + pi * abs(la - ltx)),
         r + s * alpha / (alpha + T) + pi * s * alpha * (1 / (alpha + T) + 1 / (alpha + t_x)),
         a * (abs(dg(a + b)) + abs(dg(a + bx))) + pi,
         b * (abs(dg(bx)) + abs(dg(a + bx)) + abs(dg(b)) + abs(dg(a + b)) + pi / bo)]
    return np.broadcast_arrays(ll, *g)


def _assert_close(got, ref, scale):
    """1e-12 relative, or 1e-14 of the terms' magnitude where they cancel (both
    evaluations round terms of that size; measured: at most 1e-15 of it)."""
    got, ref, scale = np.broadcast_arrays(got, ref, scale)
    assert np.all(np.isfinite(got))
    bad = np.abs(got - ref) > 1e-12 * np.abs(ref) + 1e-14 * scale
    assert not bad.any(), (np.flatnonzero(bad)[:5], got[bad][:5], ref[bad][:5])


@pytest.fixture(scope="module")
def grid():
    return _grid(np.random.default_rng(20261202), 20_000)  # 20,000 rows: split over threads


@pytest.mark.parametrize("modified", [False, True], ids=["bgnbd", "mbgnbd"])
def test_kernel_equals_numpy_formulas_per_row_parameters(grid, modified):
    (r, alpha, a, b), x, t_x, T = grid
    f = FUNCTIONS[modified]
    ll, g = f(r, alpha, a, b, x, t_x, T, gradient=True)
    ll_ref, g_ref = f(r, alpha, a, b, x, t_x, T, gradient=True, compiled=False)
    assert ll.shape == ll_ref.shape == x.shape and g.shape == g_ref.shape == (4, x.size)
    scales = _scales(r, alpha, a, b, x, t_x, T, modified)
    _assert_close(ll, ll_ref, scales[0])
    for j in range(4):
        _assert_close(g[j], g_ref[j], scales[j + 1])
    # without the gradient: the same values
    np.testing.assert_array_equal(f(r, alpha, a, b, x, t_x, T), ll)


@pytest.mark.parametrize("modified", [False, True], ids=["bgnbd", "mbgnbd"])
def test_kernel_equals_numpy_formulas_scalars_and_arrays_mixed(grid, modified):
    (r, alpha, a, b), x, t_x, T = grid
    f = FUNCTIONS[modified]
    cases = [(0.2426, alpha, a, b, x, t_x, T),  # a covariate model: r shared
             (r, alpha, 0.79, 2.43, x, t_x, T),
             (0.2426, 4.41, 0.79, 2.43, x, t_x, T),  # a model without covariates
             (1e-3, 1e3, 1e3, 1e-3, x, t_x, T),
             (r[:50], alpha[:50], a[:50], b[:50], 3.0, 0.0, 1e4),  # one customer, many draws
             (r[:6, None], alpha[:6, None], a[:6, None], b[:6, None],  # draws x customers
              x[:40], t_x[:40], T[:40])]
    for args in cases:
        ll, g = f(*args, gradient=True)
        ll_ref, g_ref = f(*args, gradient=True, compiled=False)
        shape = np.broadcast_shapes(*(np.shape(v) for v in args))
        assert ll.shape == shape and g.shape == (4, *shape)
        scales = _scales(*(np.asarray(v, dtype=float) for v in args), modified)
        _assert_close(ll, ll_ref, scales[0])
        for j in range(4):
            _assert_close(g[j], g_ref[j], scales[j + 1])


@pytest.mark.parametrize("modified", [False, True], ids=["bgnbd", "mbgnbd"])
def test_kernel_one_customer_and_no_customers(modified):
    f = FUNCTIONS[modified]
    ll = f(0.24, 4.4, 0.79, 2.4, 2, 30.43, 38.86)
    ref = f(0.24, 4.4, 0.79, 2.4, 2, 30.43, 38.86, compiled=False)
    assert np.ndim(ll) == 0 and ll == pytest.approx(float(ref), rel=1e-12)
    ll, g = f(0.24, 4.4, 0.79, 2.4, np.array([]), np.array([]), np.array([]), gradient=True)
    assert ll.shape == (0,) and g.shape == (4, 0)


def test_kernel_finite_at_extremes():
    x = np.array([0, 0, 1, 1e5, 1e5, 5, 5, 1, 16, 17])
    t_x = np.array([0, 0, 0, 1e4, 0, 1e4, 0, 1e-9, 1e4, 1e4])
    T = np.array([0, 1e4, 1e4, 1e4, 1e4, 1e4, 1e4, 1e-9, 1e4, 1e4])
    for pars in [(1e-3, 1e-3, 1e-3, 1e-3), (1e3, 1e3, 1e3, 1e3), (1e-3, 1e3, 1e3, 1e-3),
                 (1e3, 1e-3, 1e-3, 1e3)]:
        for modified in (False, True):
            ll, g = beta_geometric_row_log_likelihood(*pars, x, t_x, T, modified=modified,
                                                      gradient=True)
            assert np.all(np.isfinite(ll)) and np.all(np.isfinite(g))


@pytest.mark.parametrize("function", [bgnbd.bgnbd_log_likelihood, mbgnbd.mbgnbd_log_likelihood],
                         ids=["bgnbd", "mbgnbd"])
def test_docstring_examples_still_pass(function):
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(function, globs={"np": np, function.__name__: function})
    assert tests and tests[0].examples
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
