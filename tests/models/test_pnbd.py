"""Pareto/NBD: published CDNOW values (REFERENCES.md), high-precision and independent
numerical references at the extremes, lifetimes as oracle, simulation."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special

from clvmodels import ParetoNBDModel, load_model
from clvmodels.datasets import load_cdnow_summary
from clvmodels.models.purchase.pnbd import (
    pnbd_conditional_expected_purchases,
    pnbd_discounted_purchases_if_alive,
    pnbd_expected_cumulative_purchases,
    pnbd_expected_purchases_new,
    pnbd_log_likelihood,
    pnbd_probability_alive,
    pnbd_probability_of_purchases,
    simulate_pnbd,
)

PUBLISHED = (0.5533, 10.578, 0.6062, 11.669)  # FHL 2005 note, REFERENCES.md
TIGHT = (0.553277, 10.57768, 0.606240, 11.66873)  # independent tight fit, REFERENCES.md


def sig(value, reference, digits):
    """Agreement to ``digits`` significant digits."""
    return abs(value / reference - 1.0) < 5 * 10.0 ** -digits


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def fitted(cdnow):
    return ParetoNBDModel(random_state=0).fit(cdnow)


def columns(df):
    return [df[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")]


# ------------------------------------------------------------------ published values
def test_cdnow_mle_matches_published(fitted):
    for name, ref, digits in zip(["r", "alpha", "s", "beta"], PUBLISHED, [4, 4, 4, 3]):
        assert sig(fitted.params_[name], ref, digits), (name, fitted.params_[name])
    # converged tightly: the flat beta direction reaches the independent fit
    np.testing.assert_allclose(fitted.params_.to_numpy(), TIGHT, rtol=2e-5)
    assert fitted.log_likelihood_ == pytest.approx(-9594.976179, abs=1e-5)
    assert round(fitted.log_likelihood_, 2) == -9594.98
    assert fitted.aic_ == pytest.approx(2 * 4 + 2 * 9594.976179, abs=1e-4)
    s = fitted.summary()
    assert (s["lower"] < s["estimate"]).all() and (s["estimate"] < s["upper"]).all()


def test_alive_and_conditional_expectation_match_published():
    assert round(float(pnbd_probability_alive(*PUBLISHED, 2, 30.43, 38.86)), 4) == 0.8691
    e39 = pnbd_conditional_expected_purchases(*PUBLISHED, 2, 30.43, 38.86, 39.0)
    assert round(float(e39), 3) == 1.455


# ------------------------------------------------------------- accuracy at extremes
# log-likelihood by mpmath at 40 digits (tanh-sinh quadrature of the integral form,
# 31 geometric break points; agrees with mpmath's hyp2f1 form where that converges)
CD = PUBLISHED
EXTREMES = [
    ((*CD, 100000, 9999.5, 10000.0), "130145.95817145849261"),
    ((*CD, 100000, 5000.0, 10000.0), "199343.85161790857079"),
    ((*CD, 0, 0.0, 10000.0), "-0.67366946106782532895"),
    ((*CD, 1, 1e-9, 10000.0), "-4.2699353345645923026"),
    ((2.0, 5.0, 0.5, 5.0, 100000, 9990.0, 10000.0), "130295.50303765527286"),
    ((2.0, 5.0, 0.5, 5.0 * (1 + 1e-12), 100000, 9990.0, 10000.0), "130295.50303765527336"),
    ((2.0, 5.0, 0.5, 5.0 * (1 - 1e-9), 50, 300.0, 10000.0), "-148.53714125693989424"),
    ((0.01, 1000.0, 0.01, 0.001, 100000, 9000.0, 10000.0), "130232.99153559371561"),
    # lifetimes 0.11.3 returns nan here
    ((50.0, 0.001, 50.0, 1000.0, 100000, 9999.99, 10000.0), "129758.95504993886602"),
    ((0.05, 0.01, 3.0, 1e4, 0, 0.0, 10000.0), "-0.61010570034684053806"),
]


def quad_log_likelihood(r, alpha, s, beta, x, t_x, T):
    """Independent double-precision reference: the likelihood's integral form by
    adaptive quadrature in the original time variable."""
    a, ap, bp, D = r + x, alpha + t_x, beta + t_x, T - t_x
    e1 = np.exp(-a * np.log1p(D / ap) - s * np.log1p(D / bp))
    points = [D * 10.0**-j for j in range(16, 0, -1)]
    integral = integrate.quad(lambda u: np.exp(-a * np.log1p(u / ap) - (s + 1) * np.log1p(u / bp)),
                              0.0, D, points=points, epsabs=0.0, epsrel=1e-13, limit=1000)[0]
    return (special.gammaln(a) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            - a * np.log(ap) - s * np.log(bp) + np.log(e1 + s / bp * integral))


@pytest.mark.parametrize("row, reference", EXTREMES)
def test_likelihood_accurate_at_extremes(row, reference):
    ll, grad = pnbd_log_likelihood(*row, gradient=True)
    ref = float(reference)
    assert np.isfinite(ll) and np.all(np.isfinite(grad))
    assert abs(ll - ref) <= 1e-10 * abs(ref) + 1e-12, (float(ll), ref)  # brief: 1e-8
    assert abs(ll - quad_log_likelihood(*row)) <= 1e-10 * abs(ref) + 1e-11
    assert pnbd_log_likelihood(*row) == ll  # value path and gradient path agree
    pa = pnbd_probability_alive(*row)
    assert 0.0 <= pa <= 1.0


def test_likelihood_accurate_on_random_wide_range(rng):
    """x up to 1e5, T up to 1e4, parameters over 5 decades, alpha = beta to 1e-12."""
    n = 60
    r, s = 10 ** rng.uniform(-2, 2, (2, n))
    alpha = 10 ** rng.uniform(-3, 4, n)
    beta = np.where(rng.uniform(size=n) < 0.3, alpha * (1 + 10 ** rng.uniform(-12, -2, n)),
                    10 ** rng.uniform(-3, 4, n))
    T = 10 ** rng.uniform(-2, 4, n)
    x = np.floor(10 ** rng.uniform(0, 5, n))
    t_x = T * rng.choice([0.0, 0.5, 0.999, 1.0], n) ** 0.5
    t_x = np.where(x > 0, t_x, 0.0)
    ll = pnbd_log_likelihood(r, alpha, s, beta, x, t_x, T)
    ref = np.array([quad_log_likelihood(*row) for row in zip(r, alpha, s, beta, x, t_x, T)])
    np.testing.assert_array_less(np.abs(ll - ref), 1e-9 * np.abs(ref) + 1e-10)


# ----------------------------------------------------------------------- gradient
def test_gradient_matches_finite_differences(cdnow, rng):
    x, t_x, T = columns(cdnow)
    for _ in range(3):
        theta = np.log(PUBLISHED) + rng.normal(0, 0.5, 4)

        def total(th):
            return pnbd_log_likelihood(*np.exp(th), x, t_x, T).sum()

        _, g = pnbd_log_likelihood(*np.exp(theta), x, t_x, T, gradient=True)
        numeric = optimize.approx_fprime(theta, total, 1e-7)
        np.testing.assert_allclose(g.sum(axis=1), numeric, rtol=1e-5, atol=1e-3)
    for row, _ in EXTREMES:  # per row, fourth-order central differences on the log scale
        theta = np.log(row[:4])
        _, g = pnbd_log_likelihood(*row, gradient=True)
        for j in range(4):
            h = np.zeros(4)
            h[j] = 1e-3

            def at(step, theta=theta, h=h, row=row):
                return pnbd_log_likelihood(*np.exp(theta + step * h), *row[4:])

            numeric = (8 * (at(1) - at(-1)) - (at(2) - at(-2))) / 12e-3
            assert numeric == pytest.approx(g[j], rel=1e-6, abs=1e-6)


def test_pymc_graph_is_the_mle_likelihood(cdnow, rng):
    """The PyTensor graph PyMC samples and the numpy sum the MLE maximizes agree to
    1e-8, value and gradient (one function builds both)."""
    import pytensor
    import pytensor.tensor as pt

    model = ParetoNBDModel()
    model._check_settings("mcmc")
    arrays, weights = model._prepare(cdnow)
    logs = {n: pt.dscalar(n) for n in ParetoNBDModel.param_names}
    total = model._pymc_log_likelihood({n: pt.exp(v) for n, v in logs.items()}, arrays, weights)
    f = pytensor.function(list(logs.values()), [total, *pytensor.grad(total, list(logs.values()))])
    for theta in [np.log(TIGHT), *rng.normal(0, 1, (3, 4))]:
        graph, *graph_grad = f(*theta)
        numpy_total, numpy_grad = model._loglik_and_grad(theta, arrays, weights)
        assert graph == pytest.approx(numpy_total, rel=1e-8, abs=1e-8)
        np.testing.assert_allclose(graph_grad, numpy_grad, rtol=1e-8, atol=1e-8)


# ------------------------------------------------------------------- predictions
def test_predictions_match_lifetimes(rng):
    lifetimes = pytest.importorskip("lifetimes")
    f = lifetimes.ParetoNBDFitter()
    f.params_ = pd.Series(dict(zip(["r", "alpha", "s", "beta"], TIGHT)))
    n = 400
    x = rng.integers(0, 60, n).astype(float)
    T = rng.uniform(0.5, 80, n)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, n), 0.0)
    np.testing.assert_allclose(pnbd_log_likelihood(*TIGHT, x, t_x, T),
                               f._conditional_log_likelihood(TIGHT, x, t_x, T), rtol=1e-10)
    np.testing.assert_allclose(pnbd_probability_alive(*TIGHT, x, t_x, T),
                               f.conditional_probability_alive(x, t_x, T), rtol=1e-9)
    np.testing.assert_allclose(
        pnbd_conditional_expected_purchases(*TIGHT, x, t_x, T, 52.0),
        f.conditional_expected_number_of_purchases_up_to_time(52.0, x, t_x, T), rtol=1e-9)
    np.testing.assert_allclose(pnbd_expected_purchases_new(*TIGHT, T),
                               f.expected_number_of_purchases_up_to_time(T), rtol=1e-10)
    # a customer of age 0 is a new customer
    k = np.arange(10)
    theirs = [f.conditional_probability_of_n_purchases_up_to_time(int(i), 39.0, 0, 0, 0) for i in k]
    np.testing.assert_allclose(pnbd_probability_of_purchases(*TIGHT, k, 39.0), theirs, rtol=1e-9)


def test_probability_of_purchases_against_quadrature():
    def reference(r, alpha, s, beta, k, t):
        log_nb = special.gammaln(r + k) - special.gammaln(r) - special.gammaln(k + 1)
        def nb(tau):
            return np.exp(log_nb + r * np.log(alpha) + special.xlogy(k, tau)
                          - (r + k) * np.log(alpha + tau))

        points = [t * 10.0**-j for j in range(12, 0, -1)]
        dead = integrate.quad(lambda tau: nb(tau) * s * beta**s * (beta + tau) ** -(s + 1), 0, t,
                              points=points, epsabs=0.0, epsrel=1e-13, limit=500)[0]
        return nb(t) * (beta / (beta + t)) ** s + dead

    k = np.array([0, 1, 2, 5, 20, 100])
    for pars, t in [(TIGHT, 52.0), ((2.0, 0.5, 0.1, 100.0), 10.0), ((0.05, 100.0, 3.0, 0.01), 1e3)]:
        ours = pnbd_probability_of_purchases(*pars, k, t)
        np.testing.assert_allclose(ours, [reference(*pars, i, t) for i in k], rtol=1e-9)
        total = pnbd_probability_of_purchases(*pars, np.arange(3000), t).sum()
        assert total == pytest.approx(1.0, abs=1e-10)


def test_predictions_broadcast_over_draws():
    draws = np.array(TIGHT) * np.array([[1.0], [1.1], [0.9]])  # (3 draws, 4 parameters)
    cols = [draws[:, [j]] for j in range(4)]  # each (3, 1)
    x, t_x, T = np.array([0.0, 2, 40]), np.array([0.0, 30.43, 35.0]), np.array([38.86, 38.86, 38.0])
    for fn, args in [(pnbd_probability_alive, (x, t_x, T)),
                     (pnbd_conditional_expected_purchases, (x, t_x, T, 39.0)),
                     (pnbd_discounted_purchases_if_alive, (x, T, 39.0, 0.01)),
                     (pnbd_log_likelihood, (x, t_x, T))]:
        together = fn(*cols, *args)
        assert together.shape == (3, 3)
        for i in range(3):
            np.testing.assert_allclose(together[i], fn(*draws[i], *args), rtol=1e-13)


def test_discounted_purchases(rng):
    """Zero rate: the conditional expectation over P(alive). Positive rate: the 1-d
    integral by adaptive quadrature, and E[lambda (1 - e^-(mu+delta)H) / (mu+delta)]
    over simulated customers alive at T with x repeat purchases (no posterior
    formulas involved)."""
    x = rng.integers(0, 50, 200).astype(float)
    T = rng.uniform(1, 80, 200)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 200), 0.0)
    e0 = pnbd_discounted_purchases_if_alive(*TIGHT, x, T, 52.0, 0.0)
    cond = pnbd_conditional_expected_purchases(*TIGHT, x, t_x, T, 52.0)
    np.testing.assert_allclose(e0 * pnbd_probability_alive(*TIGHT, x, t_x, T), cond, rtol=1e-12)
    r, alpha, s, beta = TIGHT
    for xi, Ti, H, delta in [(2.0, 38.86, 52.0, 0.01), (0.0, 10.0, 500.0, 0.002),
                             (30.0, 70.0, 5.0, 0.5)]:
        def f(u, Ti=Ti, delta=delta):
            return (1 + u / (beta + Ti)) ** -s * np.exp(-delta * u)

        ref = (r + xi) / (alpha + Ti) * integrate.quad(f, 0, H, epsabs=0.0, epsrel=1e-13)[0]
        got = pnbd_discounted_purchases_if_alive(*TIGHT, xi, Ti, H, delta)
        assert got == pytest.approx(ref, rel=1e-12)
    sim = simulate_pnbd(400_000, *TIGHT, T=39.0, random_state=5)
    sel = (sim["frequency"] == 2).to_numpy() & sim["true_alive"].to_numpy()
    lam, mu = sim["true_lambda"].to_numpy()[sel], sim["true_mu"].to_numpy()[sel]
    H, delta = 52.0, 0.02
    value = lam * -np.expm1(-(mu + delta) * H) / (mu + delta)
    ours = pnbd_discounted_purchases_if_alive(*TIGHT, 2, 39.0, H, delta)
    assert abs(value.mean() - ours) < 4 * value.std() / np.sqrt(sel.sum())


def test_new_customer_predictions_match_simulation():
    n, t = 200_000, 39.0
    sim = simulate_pnbd(n, *TIGHT, T=t, random_state=7)
    x = sim["frequency"].to_numpy()
    assert abs(x.mean() - pnbd_expected_purchases_new(*TIGHT, t)) < 4 * x.std() / np.sqrt(n)
    k = np.arange(6)
    p = pnbd_probability_of_purchases(*TIGHT, k, t)
    freq = np.array([(x == i).mean() for i in k])
    np.testing.assert_array_less(np.abs(freq - p), 4 * np.sqrt(p * (1 - p) / n))
    cum = pnbd_expected_cumulative_purchases(*TIGHT, [0.0, 0.0, 10.0], [5.0, 39.0])
    np.testing.assert_allclose(cum, [2 * pnbd_expected_purchases_new(*TIGHT, 5.0),
                                     2 * pnbd_expected_purchases_new(*TIGHT, 39.0)
                                     + pnbd_expected_purchases_new(*TIGHT, 29.0)])


def test_conditional_predictions_match_simulation():
    """Sum of conditional expectations = simulated holdout total (tower property);
    P(alive) calibrated against the simulated truth."""
    n = 200_000
    sim = simulate_pnbd(n, *TIGHT, T=np.linspace(27, 39, n), holdout=39.0, random_state=8)
    args = columns(sim)
    e = pnbd_conditional_expected_purchases(*TIGHT, *args, 39.0)
    h = sim["holdout_frequency"].to_numpy()
    assert abs(e.sum() - h.sum()) < 4 * h.std() * np.sqrt(n)
    pa = pnbd_probability_alive(*TIGHT, *args)
    alive = sim["true_alive"].to_numpy()
    for lo, hi in [(0.0, 0.3), (0.3, 0.6), (0.6, 0.9), (0.9, 1.0)]:
        sel = (pa >= lo) & (pa < hi)
        se = np.sqrt(pa[sel].mean() * (1 - pa[sel].mean()) / sel.sum())
        assert abs(alive[sel].mean() - pa[sel].mean()) < 4 * se + 1e-3


@pytest.mark.slow
def test_parameter_recovery_100k():
    truth = np.array([2.0, 10.0, 1.0, 20.0])
    n = 100_000
    T = np.random.default_rng(11).integers(52, 261, n).astype(float)  # 1 to 5 years, in weeks
    sim = simulate_pnbd(n, *truth, T=T, random_state=12)
    model = ParetoNBDModel().fit(sim)
    np.testing.assert_array_less(np.abs(model.params_.to_numpy() / truth - 1), 0.05)
    s = model.summary(level=0.999)  # and the asymptotic 99.9% intervals cover the truth
    assert ((s["lower"] < truth) & (truth < s["upper"])).all()


# ----------------------------------------------------------------- model and data
def test_model_predictions_use_point_estimate(fitted, cdnow):
    e = fitted.expected_purchases(cdnow, 39.0)
    assert e.index.equals(cdnow.index)
    np.testing.assert_allclose(
        e.to_numpy(), pnbd_conditional_expected_purchases(**fitted.point_params(),
                                                          frequency=cdnow["frequency"],
                                                          recency=cdnow["recency"],
                                                          T=cdnow["T"], t=39.0))
    assert fitted.probability_alive(cdnow).between(0, 1).all()
    assert fitted.expected_purchases_new_customer(39.0) == pytest.approx(
        pnbd_expected_purchases_new(*fitted.params_, 39.0))
    assert fitted.probability_of_purchases(np.arange(200), 39.0).sum() == pytest.approx(1.0)
    assert fitted.expected_cumulative_purchases([0.0], [39.0])[0] == pytest.approx(
        fitted.expected_purchases_new_customer(39.0))


def test_save_load_round_trip(fitted, cdnow, tmp_path):
    path = fitted.save(tmp_path / "pnbd")
    loaded = ParetoNBDModel.load(path)
    assert type(load_model(path)) is ParetoNBDModel
    pd.testing.assert_series_equal(loaded.params_, fitted.params_)
    np.testing.assert_array_equal(loaded.covariance_log_, fitted.covariance_log_)
    for name in ParetoNBDModel.param_names:
        np.testing.assert_array_equal(loaded.draws_[name].values, fitted.draws_[name].values)
    pd.testing.assert_series_equal(loaded.probability_alive(cdnow), fitted.probability_alive(cdnow))
    assert loaded.time_unit_ == fitted.time_unit_ == "week"


def test_bad_input_raises():
    from clvmodels import DataError, NotFittedError

    bad = pd.DataFrame({"frequency": [1], "recency": [5.0], "T": [2.0]})
    with pytest.raises(DataError, match="'recency' is greater than 'T'"):
        ParetoNBDModel().fit(bad)
    with pytest.raises(NotFittedError, match="ParetoNBDModel"):
        ParetoNBDModel().probability_alive(bad)
    with pytest.raises(ValueError, match="The 's' parameter of simulate_pnbd must be a positive"):
        simulate_pnbd(10, 0.5, 10.0, -1.0, 10.0, T=30.0)
    with pytest.raises(ValueError, match="needs the numpy back-end"):
        from clvmodels.models.backend import pytensor_ops

        pnbd_log_likelihood(*TIGHT, [1.0], [1.0], [2.0], gradient=True, ops=pytensor_ops())


def test_compiled_probability_alive_is_the_numpy_quadrature():
    """P(alive) comes from a compiled copy of the likelihood's quadrature; both agree
    over a wide random grid and at the extremes (x up to 1e5, T up to 1e4)."""
    from clvmodels.models.backend import NUMPY
    from clvmodels.models.purchase.pnbd import _log_no_purchase
    from clvmodels.models.purchase.pnbd_kernel import pnbd_alive_kernel

    rng = np.random.default_rng(3)
    n = 20_000
    r, s = rng.uniform(0.05, 3, n), rng.uniform(0.05, 3, n)
    alpha, beta = rng.uniform(0.5, 200, n), rng.uniform(0.5, 200, n)
    x = rng.integers(0, 30, n).astype(float)
    T = rng.uniform(0, 730, n)
    t_x = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    x[:4], T[:4], t_x[:4] = [0, 1e5, 3, 0], [1e4, 1e4, 5, 0], [0, 9999.9, 5, 0]
    alpha[4], beta[4] = 10.0, 10.0  # alpha = beta
    with np.errstate(all="ignore"):
        log_e1, log_p = _log_no_purchase(NUMPY, r, alpha, s, beta, x, t_x, T)
    want = np.exp(log_e1 - log_p)
    got = pnbd_alive_kernel(r, alpha, s, beta, x, t_x, T)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_compiled_likelihood_term_and_gradient_are_the_numpy_quadrature():
    """The maximum-likelihood fit evaluates ``log P`` and its gradient by a compiled copy
    of the numpy quadrature (which also builds the PyMC graph); both agree over a wide
    random grid with the extremes, in ``log P`` and in the gradient the optimiser
    sees (w.r.t. the log parameters)."""
    from clvmodels.models.backend import NUMPY
    from clvmodels.models.purchase.pnbd import _log_no_purchase
    from clvmodels.models.purchase.pnbd_kernel import pnbd_log_no_purchase_kernel

    rng = np.random.default_rng(4)
    n = 20_000
    r, s = 10 ** rng.uniform(-3, 2, n), 10 ** rng.uniform(-3, 2, n)
    alpha, beta = 10 ** rng.uniform(-2, 4, n), 10 ** rng.uniform(-2, 4, n)
    x = np.floor(10 ** rng.uniform(0, 5, n)) * (rng.random(n) < 0.7)
    T = 10 ** rng.uniform(-1, 4, n)
    t_x = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    t_x[::9] = np.where(x[::9] > 0, T[::9], 0.0)  # bought at the end: D = 0
    alpha[4], beta[4] = 10.0, 10.0  # alpha = beta
    with np.errstate(all="ignore"):
        _, want, d_want, _ = _log_no_purchase(NUMPY, r, alpha, s, beta, x, t_x, T, gradient=True)
    got, d_got = pnbd_log_no_purchase_kernel(r, alpha, s, beta, x, t_x, T, gradient=True)
    assert np.isfinite(got).all() and np.isfinite(d_got).all()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    scale = np.stack([r, alpha, s, beta])  # d/d log theta = theta d/d theta
    np.testing.assert_allclose(scale * d_got, scale * np.stack(d_want), rtol=1e-9, atol=1e-10)
    assert pnbd_log_no_purchase_kernel(r, alpha, s, beta, x, t_x, T) == pytest.approx(got,
                                                                                       rel=1e-15)


def test_probability_alive_series_agrees_with_the_quadrature_where_it_is_used():
    """Where the two gamma scales are close (|alpha - beta| at most half the larger
    scale, as in fitted data), P(alive) comes from a power series instead of the
    quadrature; both agree over a wide grid with x up to 1e4, T up to 1e4 and t_x a
    hair before T, and the series is really taken for most of it."""
    from clvmodels.models.backend import NUMPY
    from clvmodels.models.purchase.pnbd import _log_no_purchase
    from clvmodels.models.purchase.pnbd_kernel import _log_dead_series, pnbd_alive_kernel

    rng = np.random.default_rng(8)
    n = 20_000
    x = np.floor(10 ** rng.uniform(0, 4, n)) * (rng.random(n) < 0.7)
    T = 10 ** rng.uniform(-1, 4, n)
    t_x = np.where(x > 0, T * rng.random(n), 0.0)
    t_x[::7] = np.where(x[::7] > 0, T[::7] * (1 - 1e-9), 0.0)
    r, s = 10 ** rng.uniform(-3, 2, n), 10 ** rng.uniform(-3, 2, n)
    alpha = 10 ** rng.uniform(-2, 4, n)
    beta = alpha * 10 ** rng.uniform(-0.5, 0.5, n)
    series = np.array([not np.isnan(_log_dead_series(*v))
                       for v in zip(r, alpha, s, beta, x, t_x, T)])
    assert series.mean() > 0.6
    with np.errstate(all="ignore"):
        log_e1, log_p = _log_no_purchase(NUMPY, r, alpha, s, beta, x, t_x, T)
    want = np.exp(log_e1 - log_p)
    got = pnbd_alive_kernel(r, alpha, s, beta, x, t_x, T)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
