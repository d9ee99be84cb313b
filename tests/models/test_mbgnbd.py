"""MBG/NBD: the CDNOW reference fit (REFERENCES.md), lifetimes 0.11.3 as oracle,
closed forms against simulation and brute force, the PyMC graph, persistence."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special

from clvmodels import DataError, ModifiedBetaGeoModel, load_model, save_model
from clvmodels.datasets import load_cdnow_summary
from clvmodels.models.purchase.mbgnbd import (
    mbgnbd_conditional_expected_purchases,
    mbgnbd_discounted_purchases_if_alive,
    mbgnbd_expected_cumulative_purchases,
    mbgnbd_expected_purchases_new,
    mbgnbd_log_likelihood,
    mbgnbd_probability_alive,
    mbgnbd_probability_of_purchases,
    simulate_mbgnbd,
)

REF = (0.5248, 6.1831, 0.8914, 1.6140)  # REFERENCES.md, LL -9582.14
NAMES = ("r", "alpha", "a", "b")


def sig4(value, reference):
    """Agreement to the 4 decimals published: relative difference below 5e-4."""
    return abs(value / reference - 1.0) < 5e-4


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def fitted(cdnow):
    return ModifiedBetaGeoModel(random_state=0).fit(cdnow)


def random_customers(rng, n=500):
    x = rng.integers(0, 60, n).astype(float)
    T = rng.uniform(0.5, 80, n)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, n), 0.0)
    return x, t_x, T


# --------------------------------------------------------------------- reference fit
def test_cdnow_mle_matches_reference(fitted):
    for name, ref in zip(NAMES, REF):
        assert sig4(fitted.params_[name], ref), (name, fitted.params_[name])
    assert fitted.log_likelihood_ == pytest.approx(-9582.14, abs=0.005)
    assert fitted.aic_ == pytest.approx(2 * 4 + 2 * 9582.14, abs=0.01)
    s = fitted.summary()
    assert (s["lower"] < s["estimate"]).all() and (s["estimate"] < s["upper"]).all()


def test_cdnow_mle_agrees_with_lifetimes(fitted, cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    mbg = lifetimes.ModifiedBetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    np.testing.assert_allclose(fitted.params_.to_numpy(),
                               mbg.params_[list(NAMES)].to_numpy(), rtol=1e-4)


# ------------------------------------------------------------------- lifetimes oracle
def test_predictions_match_lifetimes(rng):
    lifetimes = pytest.importorskip("lifetimes")
    mbg = lifetimes.ModifiedBetaGeoFitter()
    mbg.params_ = pd.Series(dict(zip(NAMES, REF)))
    x, t_x, T = random_customers(rng)
    np.testing.assert_allclose(
        mbgnbd_conditional_expected_purchases(*REF, x, t_x, T, 52.0),
        mbg.conditional_expected_number_of_purchases_up_to_time(52.0, x, t_x, T), rtol=1e-9)
    np.testing.assert_allclose(mbgnbd_probability_alive(*REF, x, t_x, T),
                               mbg.conditional_probability_alive(x, t_x, T), rtol=1e-10)
    np.testing.assert_allclose(mbgnbd_expected_purchases_new(*REF, T),
                               mbg.expected_number_of_purchases_up_to_time(T), rtol=1e-10)
    k = np.arange(8)
    theirs = [mbg.probability_of_n_purchases_up_to_time(39.0, int(i)) for i in k]
    np.testing.assert_allclose(mbgnbd_probability_of_purchases(*REF, k, 39.0), theirs, rtol=1e-9)
    # lifetimes' negative log-likelihood is the weighted mean over customers
    w = np.ones_like(x)
    theirs_ll = -mbg._negative_log_likelihood(np.log(REF), x, t_x, T, w, 0.0) * x.size
    assert mbgnbd_log_likelihood(*REF, x, t_x, T).sum() == pytest.approx(theirs_ll, rel=1e-10)


def test_probability_alive_is_below_one_without_repeat_purchases():
    r, alpha, a, b = REF
    T = np.array([0.0, 1.0, 39.0, 1e4])
    pa = mbgnbd_probability_alive(*REF, np.zeros(4), np.zeros(4), T)
    # alive: survived the drop-out right after the first purchase and bought nothing since
    np.testing.assert_allclose(pa, 1.0 / (1.0 + a / b * ((alpha + T) / alpha) ** r), rtol=1e-12)
    assert pa[0] == pytest.approx(b / (a + b)) and np.all(pa < 1.0)
    assert np.all(np.diff(pa) < 0)


def test_new_customer_distribution_is_consistent():
    k = np.arange(400)
    p = mbgnbd_probability_of_purchases(*REF, k, 52.0)
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert p @ k == pytest.approx(float(mbgnbd_expected_purchases_new(*REF, 52.0)), rel=1e-7)
    # a point mass a/(a+b) at zero purchases on top of the survivors' zeros
    assert p[0] > REF[2] / (REF[2] + REF[3])
    draws = np.array(REF)[:, None, None] * np.array([1.0, 1.1])[None, :, None]  # (4, 2, 1)
    e = mbgnbd_expected_purchases_new(*draws, np.array([10.0, 52.0]))
    assert e.shape == (2, 2)


# ------------------------------------------------------------ likelihood and gradient
def test_likelihood_finite_at_extremes():
    x = np.array([0, 0, 1, 1e5, 1e5, 5, 5, 1])
    t_x = np.array([0, 0, 0, 1e4, 0, 1e4, 0, 1e-9])
    T = np.array([0, 1e4, 1e4, 1e4, 1e4, 1e4, 1e4, 1e-9])
    for pars in [REF, (50.0, 1e-3, 1e-3, 50.0), (1e-3, 1e3, 20.0, 1e-3)]:
        ll, g = mbgnbd_log_likelihood(*pars, x, t_x, T, gradient=True)
        assert np.all(np.isfinite(ll)) and np.all(np.isfinite(g))
        e = mbgnbd_conditional_expected_purchases(*pars, x, t_x, T, 52.0)
        assert np.all(np.isfinite(e)) and np.all(e >= 0)


def test_likelihood_is_a_density_in_x_and_t_x():
    """Integrating L over t_x in (0, T] for x >= 1, plus L at x = 0, gives 1."""
    T, total = 10.0, 0.0
    for x in range(0, 60):
        if x == 0:
            total += np.exp(mbgnbd_log_likelihood(*REF, 0, 0.0, T))
            continue
        # L is the density of the purchase times t_1 < ... < t_x = t_x; the earlier
        # x - 1 of them range over a volume t_x^(x-1) / (x-1)!
        def density(t, x=x):
            return np.exp(mbgnbd_log_likelihood(*REF, x, t, T) + (x - 1) * np.log(t)
                          - special.gammaln(x))

        total += integrate.quad(density, 0.0, T, epsabs=1e-13)[0]
    assert total == pytest.approx(1.0, abs=1e-8)


def test_gradient_matches_finite_differences(cdnow, rng):
    x, t_x, T = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    for _ in range(3):
        theta = np.log(REF) + rng.normal(0, 0.3, 4)

        def total(th):
            return mbgnbd_log_likelihood(*np.exp(th), x, t_x, T).sum()

        _, g = mbgnbd_log_likelihood(*np.exp(theta), x, t_x, T, gradient=True)
        numeric = optimize.approx_fprime(theta, total, 1e-6)
        np.testing.assert_allclose(g.sum(axis=1), numeric, rtol=1e-4, atol=1e-3)


def test_pymc_graph_is_the_mle_likelihood(cdnow, rng):
    """The PyTensor graph PyMC samples equals the numpy sum the MLE maximizes, value
    and gradient, to 1e-8 (one compiled function, five random points)."""
    import pytensor
    import pytensor.tensor as pt

    model = ModifiedBetaGeoModel()
    model._check_settings("mcmc")
    arrays, weights = model._prepare(cdnow)
    logs = [pt.dscalar(n) for n in NAMES]
    total = model._pymc_log_likelihood({n: pt.exp(v) for n, v in zip(NAMES, logs)},
                                       arrays, weights)
    f = pytensor.function(logs, [total, *pytensor.grad(total, logs)])
    for _ in range(5):
        theta = rng.normal(0, 1, 4)
        graph, *graph_grad = f(*theta)
        numpy_total, numpy_grad = model._loglik_and_grad(theta, arrays, weights)
        assert graph == pytest.approx(numpy_total, rel=1e-8, abs=1e-8)
        np.testing.assert_allclose(graph_grad, numpy_grad, rtol=1e-8, atol=1e-8)


# ----------------------------------------------------- closed forms against simulation
def test_new_customer_predictions_match_simulation():
    n, t = 200_000, 39.0
    x = simulate_mbgnbd(n, *REF, T=t, random_state=7)["frequency"].to_numpy()
    assert abs(x.mean() - mbgnbd_expected_purchases_new(*REF, t)) < 4 * x.std() / np.sqrt(n)
    k = np.arange(6)
    p = mbgnbd_probability_of_purchases(*REF, k, t)
    freq = np.array([(x == i).mean() for i in k])
    np.testing.assert_array_less(np.abs(freq - p), 4 * np.sqrt(p * (1 - p) / n))


def test_conditional_predictions_match_simulation():
    """Sum of conditional expectations = simulated holdout total (tower property);
    P(alive) calibrated against the simulated truth, for x = 0 too."""
    n = 200_000
    sim = simulate_mbgnbd(n, *REF, T=np.linspace(27, 39, n), holdout=39.0, random_state=8)
    args = [sim[c].to_numpy() for c in ("frequency", "recency", "T")]
    e = mbgnbd_conditional_expected_purchases(*REF, *args, 39.0)
    h = sim["holdout_frequency"].to_numpy()
    assert abs(e.sum() - h.sum()) < 4 * h.std() * np.sqrt(n)
    pa = mbgnbd_probability_alive(*REF, *args)
    alive = sim["true_alive"].to_numpy()
    none = args[0] == 0
    assert abs(alive[none].mean() - pa[none].mean()) < 4 * np.sqrt(0.25 / none.sum())
    for lo, hi in [(0.0, 0.3), (0.3, 0.6), (0.6, 0.9), (0.9, 1.0)]:
        sel = (pa >= lo) & (pa < hi)
        se = np.sqrt(pa[sel].mean() * (1 - pa[sel].mean()) / sel.sum())
        assert abs(alive[sel].mean() - pa[sel].mean()) < 4 * se + 1e-3


def test_cumulative_tracking_is_the_sum_over_customers():
    first = np.array([0.0, 3.0, 3.0, 10.0])
    got = mbgnbd_expected_cumulative_purchases(*REF, first, [5.0, 40.0])
    ages = np.clip(np.array([5.0, 40.0])[:, None] - first, 0, None)
    want = np.where(ages > 0, mbgnbd_expected_purchases_new(*REF, ages), 0.0).sum(axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ------------------------------------------------------------------------ discounting
def test_discounted_at_zero_rate_is_undiscounted(rng):
    x, t_x, T = random_customers(rng, 50)
    e0 = mbgnbd_discounted_purchases_if_alive(*REF, x, T, 39.0, 0.0)
    pa = mbgnbd_probability_alive(*REF, x, t_x, T)
    np.testing.assert_allclose(
        e0 * pa, mbgnbd_conditional_expected_purchases(*REF, x, t_x, T, 39.0), rtol=1e-12)
    np.testing.assert_allclose(mbgnbd_discounted_purchases_if_alive(*REF, x, T, 39.0, 1e-12), e0,
                               rtol=1e-8)


@pytest.mark.parametrize("delta", [0.002, 0.02, 0.1])
def test_discounted_matches_brute_force(delta):
    """Against the undiscounted closed form E(u) integrated by parts:
    int_0^H exp(-delta u) dE(u) = exp(-delta H) E(H) + delta int_0^H exp(-delta u) E(u) du."""
    H = 104.0
    for x, T in [(0, 39.0), (2, 38.86), (26, 31.0), (1, 0.5)]:
        def E(u):
            return float(mbgnbd_discounted_purchases_if_alive(*REF, x, T, u, 0.0))

        brute = np.exp(-delta * H) * E(H) + delta * integrate.quad(
            lambda u: np.exp(-delta * u) * E(u), 0.0, H, epsabs=1e-12, epsrel=1e-12)[0]
        got = mbgnbd_discounted_purchases_if_alive(*REF, x, T, H, delta)
        assert got == pytest.approx(brute, rel=1e-6), (x, T)


def test_discounted_if_alive_matches_posterior_simulation(rng):
    """A live customer's future simulated from her posterior (lambda ~ Gamma(r+x,
    alpha+T), p ~ Beta(a, b+x+1)): the mean discounted count agrees."""
    r, alpha, a, b = REF
    x, T, H, delta, n = 3, 30.0, 52.0, 0.02, 200_000
    lam = rng.gamma(r + x, 1.0 / (alpha + T), n)
    p = rng.beta(a, b + x + 1, n)
    total = np.zeros(n)
    t = np.zeros(n)
    live = np.ones(n, bool)
    while live.any():
        t[live] += rng.standard_exponential(live.sum()) / lam[live]
        live &= t <= H
        total[live] += np.exp(-delta * t[live])
        live &= rng.random(n) >= p
    got = mbgnbd_discounted_purchases_if_alive(*REF, x, T, H, delta)
    assert abs(total.mean() - got) < 4 * total.std() / np.sqrt(n)


# ------------------------------------------------------------------- model interface
def test_model_predictions_use_point_estimate(fitted, cdnow):
    pars = fitted.point_params()
    cols = {c: cdnow[c].to_numpy() for c in ("frequency", "recency", "T")}
    e = fitted.expected_purchases(cdnow, 39.0)
    assert e.index.equals(cdnow.index) and e.name == "expected_purchases"
    np.testing.assert_allclose(e, mbgnbd_conditional_expected_purchases(**pars, **cols, t=39.0))
    pa = fitted.probability_alive(cdnow)
    assert pa.between(0, 1).all() and (pa[cdnow["frequency"] == 0] < 1).all()
    assert fitted.expected_purchases_new_customer(39.0) == pytest.approx(
        float(mbgnbd_expected_purchases_new(**pars, t=39.0)))
    assert fitted.probability_of_purchases(np.arange(3), 39.0).shape == (3,)
    assert fitted.expected_cumulative_purchases([0.0], [39.0]).shape == (1,)


def test_save_load_round_trip(tmp_path, fitted, cdnow):
    loaded = load_model(save_model(fitted, tmp_path / "mbg"), expected_type=ModifiedBetaGeoModel)
    assert type(loaded) is ModifiedBetaGeoModel
    pd.testing.assert_series_equal(loaded.params_, fitted.params_, check_exact=True)
    assert loaded.draws_.identical(fitted.draws_)
    pd.testing.assert_series_equal(loaded.expected_purchases(cdnow, 39.0),
                                   fitted.expected_purchases(cdnow, 39.0), check_exact=True)


def test_bad_summary_and_simulation_parameters_are_named():
    with pytest.raises(DataError, match=r"ModifiedBetaGeoModel: missing column\(s\) \['T'\]"):
        ModifiedBetaGeoModel().fit(pd.DataFrame({"frequency": [1], "recency": [1.0]}))
    with pytest.raises(ValueError, match=r"The 'b' parameter of simulate_mbgnbd must be a "
                                         r"positive float\. Got -1\.0 instead\."):
        simulate_mbgnbd(10, 0.5, 6.0, 0.9, -1.0, T=39.0)


@pytest.mark.slow
def test_parameter_recovery_100k():
    # standard errors here are 1-1.4%, so 5% is more than 3.5 of them
    truth = np.array([1.0, 4.0, 0.8, 2.0])
    n = 100_000
    T = np.random.default_rng(11).uniform(52, 104, n)
    model = ModifiedBetaGeoModel().fit(simulate_mbgnbd(n, *truth, T=T, random_state=12))
    np.testing.assert_array_less(np.abs(model.params_.to_numpy() / truth - 1), 0.05)
    s = model.summary(level=0.999)
    assert ((s["lower"] < truth) & (truth < s["upper"])).all()


@pytest.mark.parametrize("pars", [(0.5248, 6.1831, 0.8914, 1.614), (2.0, 0.5, 0.3, 5.0),
                                  (0.05, 40.0, 3.0, 0.2)])
def test_regrouped_likelihood_is_the_per_customer_sum(pars):
    """The fit's likelihood (terms per distinct x and T, the soft-plus by BG/NBD's compiled
    kernel read with x + 1 purchases) equals the per-customer formula, gradient included."""
    from clvmodels.datasets import load_cdnow_summary
    from clvmodels.models.purchase.mbgnbd import (
        mbgnbd_log_likelihood,
        mbgnbd_statistics,
        mbgnbd_total_log_likelihood,
    )

    s = load_cdnow_summary()
    x, t_x, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    w = np.random.default_rng(0).integers(1, 4, x.size).astype(float)
    ll, g = mbgnbd_log_likelihood(*pars, x, t_x, T, gradient=True)
    total, g_total = mbgnbd_total_log_likelihood(*pars, mbgnbd_statistics(x, t_x, T, w),
                                                 gradient=True)
    assert total == pytest.approx(float(w @ ll), rel=1e-12)
    np.testing.assert_allclose(g_total, g @ w, rtol=1e-10)
