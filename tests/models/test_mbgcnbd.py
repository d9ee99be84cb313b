"""(M)BG/CNBD-k: the math shared by both variants (:mod:`clvmodels.models.purchase.cnbd`,
checked for MBG and BG alike), and the MBG/CNBD-k model: k = 1 is MBG/NBD exactly (the
CDNOW reference fit), closed forms against brute-force sums and simulation, the
likelihood as a density, its gradient and PyMC graph, the choice of k, parameter
recovery, P(alive) after a long pause, numerical extremes, persistence."""

import re

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from clvmodels import (
    DataError,
    FitError,
    ModifiedBetaGeoCNBDModel,
    ModifiedBetaGeoModel,
    calibration_holdout_summary,
    load_model,
    simulate_mbgcnbd,
)
from clvmodels.datasets import load_cdnow_summary, load_cdnow_transactions
from clvmodels.models.purchase import bgnbd, mbgnbd
from clvmodels.models.purchase.cnbd import (
    cnbd_conditional_expected_purchases,
    cnbd_discounted_purchases_if_alive,
    cnbd_expected_purchases_new,
    cnbd_log_likelihood,
    cnbd_phase_probabilities,
    cnbd_probability_alive,
    cnbd_probability_of_purchases,
    cnbd_simulate_future,
    cnbd_statistics,
    cnbd_total_log_likelihood,
    lgamma_ratio,
    simulate_cnbd,
    survival_sum,
)

MBG_REF = (0.5248, 6.1831, 0.8914, 1.6140)  # REFERENCES.md, LL -9582.14
BG_REF = (0.2426, 4.4135, 0.7929, 2.4258)  # REFERENCES.md, LL -9582.43
NAMES = ("r", "alpha", "a", "b")
VARIANTS = [pytest.param(True, id="MBG"), pytest.param(False, id="BG")]
CLOSED = {True: mbgnbd, False: bgnbd}  # the k = 1 closed forms of each variant


def sig4(value, reference):
    """Agreement to the 4 decimals published: relative difference below 5e-4."""
    return abs(value / reference - 1.0) < 5e-4


def closed(dropout_at_zero, name):
    prefix = "mbgnbd_" if dropout_at_zero else "bgnbd_"
    return getattr(CLOSED[dropout_at_zero], prefix + name)


def random_customers(rng, n=300):
    x = rng.integers(0, 60, n).astype(float)
    T = rng.uniform(0.5, 80, n)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, n), 0.0)
    return x, t_x, T


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def cdnow_regular():
    """CDNOW's calibration summary with log_gap_sum."""
    return calibration_holdout_summary(load_cdnow_transactions(), calibration_end="1997-09-30",
                                       observation_end="1998-06-30", regularity=True)


@pytest.fixture(scope="module")
def regular():
    """20,000 MBG/CNBD-3 customers, one to two years old, with a year of holdout."""
    T = np.random.default_rng(5).uniform(52, 104, 20_000)
    return simulate_mbgcnbd(20_000, 3, 1.0, 4.0, 0.8, 2.0, T=T, holdout=52.0, random_state=6)


@pytest.fixture(scope="module")
def fitted_regular(regular):
    return ModifiedBetaGeoCNBDModel(random_state=0).fit(regular)


# ------------------------------------------------------------------- k = 1: MBG/NBD
def test_k1_reproduces_the_mbgnbd_reference_fit(cdnow, cdnow_regular):
    for data in (cdnow, cdnow_regular):
        model = ModifiedBetaGeoCNBDModel(k=1).fit(data)
        for name, ref in zip(NAMES, MBG_REF):
            assert sig4(model.params_[name], ref), (name, model.params_[name])
        assert model.log_likelihood_ == pytest.approx(-9582.14, abs=0.005)
        assert model.k_ == 1 and model.aic_ == pytest.approx(2 * 4 + 2 * 9582.14, abs=0.01)
    mbg = ModifiedBetaGeoModel().fit(cdnow)
    np.testing.assert_allclose(model.params_, mbg.params_, rtol=1e-6)
    np.testing.assert_allclose(model.probability_alive(cdnow), mbg.probability_alive(cdnow),
                               rtol=1e-5)


def test_cdnow_chooses_k1_from_its_gaps(cdnow_regular):
    model = ModifiedBetaGeoCNBDModel().fit(cdnow_regular)
    assert model.k_ == 1 and model.regularity_source_ == "gaps"
    lls = model.k_log_likelihoods_
    assert list(lls.index) == [1, 2, 3]  # stopped after two falls in a row
    assert lls[1] > lls[2] > lls[3] and lls[1] == pytest.approx(-9582.14, abs=0.005)
    assert model.aic_ == pytest.approx(2 * 5 - 2 * lls[1])  # k was chosen: one more parameter


@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
def test_k1_likelihood_is_the_random_timing_one(dropout_at_zero, rng):
    x, t_x, T = random_customers(rng)
    ref = MBG_REF if dropout_at_zero else BG_REF
    for pars in (ref, (2.0, 0.5, 0.3, 5.0), (0.05, 40.0, 3.0, 0.2)):
        # the closed form's numpy formulas (its compiled per-row kernel equals them to
        # 1e-14 of the terms' size: tests/models/test_row_kernels.py), summed the same way
        want = closed(dropout_at_zero, "log_likelihood")(*pars, x, t_x, T, compiled=False)
        for lgs in (None, np.zeros_like(x)):  # at k = 1 the regularity term is 0 either way
            got = cnbd_log_likelihood(*pars, x, t_x, T, erlang_k=1,
                                      dropout_at_zero=dropout_at_zero, log_gap_sum=lgs)
            np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
def test_k1_predictions_are_the_closed_forms(dropout_at_zero, rng):
    """The general sums at k = 1 against BG/NBD's and MBG/NBD's closed forms (the model's
    formulas call those at k = 1; here the sums themselves are checked)."""
    pars = MBG_REF if dropout_at_zero else BG_REF
    x, t_x, T = random_customers(rng)
    kw = {"erlang_k": 1, "dropout_at_zero": dropout_at_zero}
    np.testing.assert_allclose(cnbd_probability_alive(*pars, frequency=x, recency=t_x, T=T, **kw),
                               closed(dropout_at_zero, "probability_alive")(*pars, x, t_x, T),
                               rtol=1e-12)
    for t in (1.0, 39.0, 520.0):
        np.testing.assert_allclose(
            cnbd_conditional_expected_purchases(*pars, frequency=x, recency=t_x, T=T, t=t, **kw),
            closed(dropout_at_zero, "conditional_expected_purchases")(*pars, x, t_x, T, t),
            rtol=1e-10)
    for delta in (0.0, 0.02):
        np.testing.assert_allclose(
            cnbd_discounted_purchases_if_alive(*pars, frequency=x, T=T, horizon=52.0,
                                               delta=delta, recency=t_x, **kw),
            closed(dropout_at_zero, "discounted_purchases_if_alive")(*pars, x, T, 52.0, delta),
            rtol=1e-9)
    t = np.array([0.5, 10.0, 52.0, 520.0])
    np.testing.assert_allclose(cnbd_expected_purchases_new(*pars, t=t, **kw),
                               closed(dropout_at_zero, "expected_purchases_new")(*pars, t),
                               rtol=1e-11)
    counts = np.arange(60)
    np.testing.assert_allclose(
        cnbd_probability_of_purchases(*pars, k=counts, t=52.0, **kw),
        closed(dropout_at_zero, "probability_of_purchases")(*pars, counts, 52.0), atol=1e-14)


# ------------------------------------------------------------ likelihood, k > 1
@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
@pytest.mark.parametrize("k", [2, 5])
def test_likelihood_is_a_density_in_x_and_t_x(dropout_at_zero, k):
    """Without log_gap_sum the likelihood is the density of (x, t_x) relative to
    k = 1's, i.e. times t_x^(x-1)/(x-1)!: integrated over t_x in (0, T] for x >= 1
    (Gauss-Legendre, 400 nodes), plus the probability of x = 0, it gives 1."""
    pars, T = (0.8, 3.0, 0.9, 2.5), 10.0
    kw = {"erlang_k": k, "dropout_at_zero": dropout_at_zero}
    nodes, weights = np.polynomial.legendre.leggauss(400)
    t = (nodes + 1) * T / 2
    x = np.arange(1, 80.0)[:, None]
    dens = np.exp(cnbd_log_likelihood(*pars, x, t[None, :], T, **kw) + (x - 1) * np.log(t)
                  - special.gammaln(x))
    total = float(np.exp(cnbd_log_likelihood(*pars, 0, 0.0, T, **kw))) + float(
        (dens @ weights).sum() * T / 2)
    assert total == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
def test_gap_term_is_the_erlang_density(dropout_at_zero, rng):
    """With log_gap_sum the likelihood is the density of the gaps themselves: against a
    direct integral over the rate and the drop-out of prod Erlang(gap) x P(no purchase
    since t_x) for one customer."""
    r, alpha, a, b, k = 1.3, 5.0, 0.9, 2.0, 3
    gaps = np.array([2.0, 4.5, 3.0])
    x, t_x, T = 3.0, gaps.sum(), 15.0
    s = 1.0 if dropout_at_zero else 0.0

    def given_rate(lam):  # purchase rate lam: phases at k lam
        mu = k * lam
        dens = np.prod(stats.gamma.pdf(gaps, k, scale=1 / mu))
        quiet = stats.poisson.cdf(k - 1, mu * (T - t_x))
        alive = special.beta(a, b + x + s) / special.beta(a, b)
        gone = special.beta(a + 1, b + x + s - 1) / special.beta(a, b)
        return dens * (alive * quiet + gone) * stats.gamma.pdf(lam, r, scale=1 / alpha)

    want = np.log(integrate.quad(given_rate, 0, np.inf, epsabs=0, epsrel=1e-12, limit=400)[0])
    got = cnbd_log_likelihood(r, alpha, a, b, x, t_x, T, erlang_k=k,
                              dropout_at_zero=dropout_at_zero, log_gap_sum=np.log(gaps).sum())
    assert float(got) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
def test_total_is_the_weighted_per_customer_sum_with_its_gradient(dropout_at_zero, cdnow_regular):
    s = cdnow_regular
    x, t_x, T, lgs = (s[c].to_numpy(float) for c in ("frequency", "recency", "T", "log_gap_sum"))
    w = np.random.default_rng(0).integers(1, 4, x.size).astype(float)
    for k, pars in [(2, MBG_REF), (5, (2.0, 0.5, 0.3, 5.0)), (12, (0.05, 40.0, 3.0, 0.2))]:
        kw = {"erlang_k": k, "dropout_at_zero": dropout_at_zero}
        for gaps in (lgs, None):
            ll, g = cnbd_log_likelihood(*pars, x, t_x, T, log_gap_sum=gaps, gradient=True, **kw)
            st = cnbd_statistics(x, t_x, T, w, None if gaps is None else gaps)
            if gaps is not None:
                st["gaps"] = float(w @ gaps)
            total, g_total = cnbd_total_log_likelihood(*pars, st, gradient=True, **kw)
            assert total == pytest.approx(float(w @ ll), rel=1e-12)
            np.testing.assert_allclose(g_total, g @ w, rtol=1e-10)


@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
def test_gradient_matches_finite_differences(dropout_at_zero, cdnow, rng):
    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    st = cnbd_statistics(x, t_x, T, np.ones(x.size))
    for k in (2, 5, 12):
        theta = np.log(MBG_REF) + rng.normal(0, 0.3, 4)
        kw = {"erlang_k": k, "dropout_at_zero": dropout_at_zero}

        def total(th, kw=kw):
            return cnbd_total_log_likelihood(*np.exp(th), st, **kw)

        _, g = cnbd_total_log_likelihood(*np.exp(theta), st, gradient=True, **kw)
        h = 1e-5
        numeric = [(total(theta + e) - total(theta - e)) / (2 * h) for e in np.eye(4) * h]
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-5)


def test_pymc_graph_is_the_mle_likelihood(regular, rng):
    """The PyTensor graph PyMC samples equals the numpy sum the MLE maximizes, value
    and gradient, to 1e-8 (k = 3, gaps included)."""
    import pytensor
    import pytensor.tensor as pt

    model = ModifiedBetaGeoCNBDModel(k=3)
    model._check_settings("mcmc")
    model.k_ = 3
    arrays, weights = model._prepare(regular.head(3000))
    logs = [pt.dscalar(n) for n in NAMES]
    total = model._pymc_log_likelihood({n: pt.exp(v) for n, v in zip(NAMES, logs)},
                                       arrays, weights)
    # the Python implementations (no C compilation): the same graph, compiled in seconds
    f = pytensor.function(logs, [total, *pytensor.grad(total, logs)], mode="FAST_COMPILE")
    for _ in range(4):
        theta = rng.normal(0, 1, 4)
        graph, *graph_grad = f(*theta)
        numpy_total, numpy_grad = model._loglik_and_grad(theta, arrays, weights)
        assert graph == pytest.approx(numpy_total, rel=1e-8, abs=1e-8)
        np.testing.assert_allclose(graph_grad, numpy_grad, rtol=1e-8, atol=1e-8)


# ---------------------------------------------------------- predictions, k > 1
def brute_if_alive(r, alpha, a, b, k, s, x, t_x, T, t, n_terms=60_000):
    """Expected purchases in (T, T+t] of a live customer, summed term by term over the
    phases N to come (no window), from scipy's negative binomial and beta functions."""
    beta, n, d = alpha / k, r + k * x, T - t_x
    j = np.arange(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        lw = special.gammaln(n + j) - special.gammaln(n) - special.gammaln(j + 1) + np.where(
            j > 0, j * np.log(d / (beta + T)), 0.0)
    post = np.exp(lw - special.logsumexp(lw))
    B = b + x + s
    h = np.concatenate([[0.0], np.cumsum(np.exp(special.betaln(a, B + np.arange(n_terms))
                                                - special.betaln(a, B)))])
    N = np.arange(n_terms)
    theta = t / (beta + T + t)
    return sum(post[i] * np.sum(stats.nbinom.pmf(N, n + i, 1 - theta) * h[(N + i) // k])
               for i in range(k))


@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
def test_expectations_match_term_by_term_sums(dropout_at_zero):
    s = float(dropout_at_zero)
    pars = MBG_REF
    for x, t_x, T, t, k in [(0, 0.0, 30.0, 52.0, 3), (5, 20.0, 40.0, 52.0, 3),
                            (40, 35.0, 40.0, 10.0, 7), (2, 1.0, 50.0, 500.0, 12),
                            (100, 99.0, 100.0, 100.0, 2), (3, 3.0, 3.0, 0.5, 5)]:
        got = cnbd_discounted_purchases_if_alive(*pars, k, x, T, t, 0.0, t_x,
                                                 dropout_at_zero=dropout_at_zero)
        assert float(got) == pytest.approx(brute_if_alive(*pars, k, s, x, t_x, T, t), rel=1e-11)
        alive = cnbd_probability_alive(*pars, k, x, t_x, T, dropout_at_zero=dropout_at_zero)
        assert float(cnbd_conditional_expected_purchases(
            *pars, k, x, t_x, T, t, dropout_at_zero=dropout_at_zero)) == pytest.approx(
            float(alive * got), rel=1e-12)


def test_survival_sum_and_gamma_ratio_against_direct_sums():
    for a, B in [(0.7, 2.5), (1.0, 3.0), (1.0 + 1e-9, 0.2), (5.0, 1e5), (0.05, 0.01)]:
        for M in (1, 7, 300):
            # E[(1-p)^m] by its ratios (B+m)/(a+B+m), in extended precision
            ratios = (np.longdouble(B) + np.arange(M - 1)) / (a + np.longdouble(B)
                                                              + np.arange(M - 1))
            want = float(np.concatenate([[1], np.cumprod(ratios)]).sum())
            assert float(survival_sum(M, a, B)) == pytest.approx(want, rel=1e-11)
    # small arguments: the plain difference is accurate
    z, e = np.array([0.3, 25.0, 40.0]), np.array([2.5, 100.0, -15.0])
    np.testing.assert_allclose(lgamma_ratio(z, e), special.gammaln(z + e) - special.gammaln(z),
                               rtol=1e-13)
    # where it loses digits: whole steps as sums of logs, small ones by Taylor's series
    assert float(lgamma_ratio(1e6, 3.0)) == pytest.approx(np.log(1e6 * (1e6 + 1) * (1e6 + 2)),
                                                          rel=1e-14)
    assert float(lgamma_ratio(1e9, 1.0)) == pytest.approx(np.log(1e9), rel=1e-14)
    for z, e in [(1e6, 1e-7), (5.0, 1e-5)]:
        taylor = e * special.digamma(z) + e * e / 2 * special.polygamma(1, z)
        assert float(lgamma_ratio(z, e)) == pytest.approx(taylor, rel=1e-12)


@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
@pytest.mark.parametrize("k", [3, 7])
def test_new_customer_distribution_is_consistent(dropout_at_zero, k):
    kw = {"erlang_k": k, "dropout_at_zero": dropout_at_zero}
    counts = np.arange(3000)
    for t in (5.0, 52.0, 300.0):
        p = cnbd_probability_of_purchases(*MBG_REF, k=counts, t=t, **kw)
        assert np.all(p >= -1e-15) and p.sum() == pytest.approx(1.0, abs=1e-10)
        assert p @ counts == pytest.approx(float(cnbd_expected_purchases_new(*MBG_REF, t=t, **kw)),
                                           rel=1e-9)
    # a new customer's expectation is a live customer's at T = 0
    e = cnbd_discounted_purchases_if_alive(*MBG_REF, frequency=0.0, T=0.0, horizon=52.0,
                                           delta=0.0, **kw)
    stay = MBG_REF[3] / (MBG_REF[2] + MBG_REF[3]) if dropout_at_zero else 1.0
    assert float(stay * e) == pytest.approx(float(cnbd_expected_purchases_new(*MBG_REF, t=52.0,
                                                                             **kw)), rel=1e-12)


@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
def test_predictions_match_simulation(dropout_at_zero):
    """Simulated customers (k = 4): the conditional expectations add up to the simulated
    holdout (tower property), P(alive) is calibrated against who is alive, and a new
    customer's count distribution matches the simulated one."""
    n, k, pars = 100_000, 4, (1.0, 4.0, 0.8, 2.0)
    kw = {"erlang_k": k, "dropout_at_zero": dropout_at_zero}
    sim = simulate_cnbd(n, k, *pars, T=np.linspace(20, 60, n), holdout=30.0,
                        dropout_at_zero=dropout_at_zero, random_state=8)
    cust = {c: sim[c].to_numpy(float) for c in ("frequency", "recency", "T")}
    e = cnbd_conditional_expected_purchases(*pars, **cust, t=30.0, **kw)
    h = sim["holdout_frequency"].to_numpy()
    assert abs(e.sum() - h.sum()) < 4 * h.std() * np.sqrt(n)
    pa = cnbd_probability_alive(*pars, **cust, **kw)
    alive = sim["true_alive"].to_numpy()
    for lo, hi in [(0.0, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.0)]:
        sel = (pa >= lo) & (pa < hi)
        se = np.sqrt(pa[sel].mean() * (1 - pa[sel].mean()) / sel.sum())
        assert abs(alive[sel].mean() - pa[sel].mean()) < 4 * se + 1e-3, (lo, hi)
    new = simulate_cnbd(n, k, *pars, T=30.0, dropout_at_zero=dropout_at_zero, random_state=9)
    x = new["frequency"].to_numpy()
    assert abs(x.mean() - cnbd_expected_purchases_new(*pars, t=30.0, **kw)) < 4 * x.std() / n**0.5
    p = cnbd_probability_of_purchases(*pars, k=np.arange(8), t=30.0, **kw)
    freq = np.array([(x == i).mean() for i in range(8)])
    np.testing.assert_array_less(np.abs(freq - p), 4 * np.sqrt(p * (1 - p) / n) + 1e-4)


@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
def test_simulated_futures_match_the_formulas(dropout_at_zero, rng):
    """simulate_future given a history: the mean count equals the conditional expectation,
    and given alive (alive_probability = 1) the mean discounted count equals the
    discounted expectation if alive; the phase j of a live customer follows its
    posterior."""
    pars, k, n = (1.0, 4.0, 0.8, 2.0), 5, 200_000
    x, t_x, T, H, delta = 6.0, 40.0, 52.0, 52.0, 0.03
    draws = [np.full((1, n), v) for v in pars]
    kw = {"erlang_k": k, "dropout_at_zero": dropout_at_zero}
    count, _ = cnbd_simulate_future(*draws, k, x, t_x, T, H, 0.0, rng, dropout_at_zero=dropout_at_zero)
    want = cnbd_conditional_expected_purchases(*pars, k, x, t_x, T, H,
                                               dropout_at_zero=dropout_at_zero)
    assert abs(count.mean() - want) < 4 * count.std() / np.sqrt(n)
    _, disc = cnbd_simulate_future(*draws, k, x, t_x, T, H, delta, rng,
                                   alive_probability=1.0, dropout_at_zero=dropout_at_zero)
    want = cnbd_discounted_purchases_if_alive(*pars, frequency=x, T=T, horizon=H, delta=delta,
                                              recency=t_x, **kw)
    assert abs(disc.mean() - want) < 4 * disc.std() / np.sqrt(n)
    post = cnbd_phase_probabilities(*pars, k, x, t_x, T)
    assert post.shape == (k,) and post.sum() == pytest.approx(1.0)
    # a customer 12 weeks after a purchase, with gaps of about 6 weeks, is most likely
    # late in her current gap
    assert post.argmax() == k - 1


@pytest.mark.parametrize("delta", [0.005, 0.2])
def test_discounted_matches_integration_by_parts(delta):
    """Against the undiscounted expectation E(u) integrated by parts (adaptive quadrature):
    int_0^H exp(-delta u) dE(u) = exp(-delta H) E(H) + delta int_0^H exp(-delta u) E(u) du;
    a frequent regular buyer's E(u) is a staircase, which the purchase-by-purchase
    discounting does not need to resolve."""
    H, k = 104.0, 4
    for x, t_x, T in [(0, 0.0, 39.0), (26, 30.0, 31.0)]:
        def E(u, x=x, t_x=t_x, T=T):
            return float(cnbd_discounted_purchases_if_alive(*MBG_REF, k, x, T, u, 0.0, t_x,
                                                            dropout_at_zero=True))

        brute = np.exp(-delta * H) * E(H) + delta * integrate.quad(
            lambda u: np.exp(-delta * u) * E(u), 0.0, H, epsabs=1e-12, epsrel=1e-11)[0]
        got = cnbd_discounted_purchases_if_alive(*MBG_REF, k, x, T, H, delta, t_x,
                                                 dropout_at_zero=True)
        assert float(got) == pytest.approx(brute, rel=1e-10), (x, T)


# ------------------------------------------------------- regular customers, pauses
def test_long_pause_for_her_rhythm_lowers_probability_alive():
    """Same parameters: a customer with 10 purchases in 30 weeks (one every 3 weeks)
    silent for 9 weeks is less likely alive the more regular purchases are; one silent
    for less than her usual gap is not."""
    pa = [float(ModifiedBetaGeoCNBDModel.formula("probability_alive")(
        *MBG_REF, k, 10, 30.0, 38.86)) for k in (1, 2, 4, 8)]
    assert pa[0] == pytest.approx(float(mbgnbd.mbgnbd_probability_alive(*MBG_REF, 10, 30.0,
                                                                        38.86)))
    assert pa[0] > pa[1] > pa[2] > pa[3] and pa[3] < 0.05 and pa[0] > 0.5
    short = [float(ModifiedBetaGeoCNBDModel.formula("probability_alive")(
        *MBG_REF, k, 10, 37.0, 38.86)) for k in (1, 4)]
    assert short[1] > short[0]


def test_fitted_on_regular_data_it_judges_pauses_better(regular, fitted_regular):
    """Fitted to MBG/CNBD-3 data, the model picks k = 3; for customers silent for over
    three of their mean gaps it gives lower P(alive) than MBG/NBD, closer to the share
    truly alive, and its holdout forecasts beat MBG/NBD's."""
    mbg = ModifiedBetaGeoModel().fit(regular)
    assert fitted_regular.k_ == 3
    x, t_x, T = (regular[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    long_pause = (x >= 3) & (T - t_x > 3 * t_x / np.maximum(x, 1))
    assert long_pause.sum() > 300
    pa_cnbd = fitted_regular.probability_alive(regular)[long_pause].mean()
    pa_mbg = mbg.probability_alive(regular)[long_pause].mean()
    truth = regular["true_alive"][long_pause].mean()
    assert pa_cnbd < pa_mbg and abs(pa_cnbd - truth) < abs(pa_mbg - truth) / 3
    h = regular["holdout_frequency"].to_numpy()
    mae = {name: np.abs(m.expected_purchases(regular, 52.0).to_numpy() - h).mean()
           for name, m in (("cnbd", fitted_regular), ("mbg", mbg))}
    assert mae["cnbd"] < 0.97 * mae["mbg"]


def test_parameters_of_regular_data_are_recovered(fitted_regular):
    truth = np.array([1.0, 4.0, 0.8, 2.0])
    s = fitted_regular.summary()
    assert np.all(np.abs(s["estimate"].to_numpy() - truth) < 4 * s["se"].to_numpy())
    assert s.attrs["erlang_k"] == 3 and fitted_regular.regularity_source_ == "gaps"


@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 5])
def test_parameter_recovery_at_other_orders(k):
    truth = np.array([1.5, 6.0, 0.7, 2.5])
    n = 20_000
    T = np.random.default_rng(k).uniform(52, 104, n)
    data = simulate_mbgcnbd(n, k, *truth, T=T, random_state=20 + k)
    model = ModifiedBetaGeoCNBDModel().fit(data)
    assert model.k_ == k
    s = model.summary()
    assert np.all(np.abs(s["estimate"].to_numpy() - truth) < 4 * s["se"].to_numpy())
    # orders compared on the summary alone (no log_gap_sum) still find k
    assert ModifiedBetaGeoCNBDModel().fit(data.drop(columns="log_gap_sum")).k_ == k


def test_compression_keeps_the_gap_term(regular):
    one = regular.head(2000)
    doubled = pd.concat([one, one])
    doubled.index = range(len(doubled))
    doubled.attrs = dict(one.attrs)
    a = ModifiedBetaGeoCNBDModel(k=3).fit(one)
    b = ModifiedBetaGeoCNBDModel(k=3).fit(doubled)
    np.testing.assert_allclose(a.params_, b.params_, rtol=1e-5)
    assert b.log_likelihood_ == pytest.approx(2 * a.log_likelihood_, rel=1e-9)
    st = a._prepare(one)[0]["stats"]
    assert st["gaps"] == pytest.approx(one["log_gap_sum"].sum())


# ------------------------------------------------------------------ extremes
@pytest.mark.parametrize("dropout_at_zero", VARIANTS)
def test_extremes_stay_finite(dropout_at_zero):
    x = np.array([0, 0, 1, 1e5, 1e5, 5, 5, 1])
    t_x = np.array([0, 0, 0, 1e4, 1.0, 1e4, 0.5, 1e-9])
    T = np.array([0, 1e4, 1e4, 1e4, 1e4, 1e4, 1e4, 1e-9])
    lgs = np.where(x > 0, x * np.log(np.maximum(t_x, 1e-300) / np.maximum(x, 1)) - 1.0, 0.0)
    for k in (2, 12):
        kw = {"erlang_k": k, "dropout_at_zero": dropout_at_zero}
        for pars in [MBG_REF, (50.0, 1e-3, 1e-3, 50.0), (1e-3, 1e3, 20.0, 1e-3)]:
            ll, g = cnbd_log_likelihood(*pars, x, t_x, T, log_gap_sum=lgs, gradient=True, **kw)
            assert np.all(np.isfinite(ll)) and np.all(np.isfinite(g))
            pa = cnbd_probability_alive(*pars, k, x, t_x, T, dropout_at_zero=dropout_at_zero)
            assert np.all((pa >= 0) & (pa <= 1))
        # expectations at the data's extremes (the parameters above are the optimiser's)
        for pars in [MBG_REF, (2.0, 0.5, 0.3, 5.0)]:
            e = cnbd_conditional_expected_purchases(*pars, k, x, t_x, T, 52.0,
                                                    dropout_at_zero=dropout_at_zero)
            d = cnbd_discounted_purchases_if_alive(*pars, k, x, T, 104.0, 0.002, t_x,
                                                   dropout_at_zero=dropout_at_zero)
            assert np.all(np.isfinite(e) & (e >= 0)) and np.all(np.isfinite(d) & (d >= 0))
    # a customer buying ten times a week for 1e4 weeks, just seen: about 520 purchases in a
    # year, shy of it only by her chance of dropping out
    e = cnbd_conditional_expected_purchases(1.0, 0.1, 0.5, 1e4, 12, 1e5, 1e4, 1e4, 52.0,
                                            dropout_at_zero=dropout_at_zero)
    assert 500 < float(e) < 521


# ------------------------------------------------------------ model interface
def test_model_interface_at_k3_and_round_trip(fitted_regular, regular, tmp_path):
    model, rows = fitted_regular, regular.head(50)
    params = model.point_params()
    assert params["erlang_k"] == 3.0 and set(model.param_draws()) == {*NAMES, "erlang_k"}
    cols = {c: rows[c].to_numpy(float) for c in ("frequency", "recency", "T")}
    e = model.expected_purchases(rows, 26.0)
    np.testing.assert_allclose(e, cnbd_conditional_expected_purchases(
        **{n: params[n] for n in NAMES}, erlang_k=3, **cols, t=26.0, dropout_at_zero=True))
    assert model.probability_alive(rows).between(0, 1).all()
    assert (model.probability_alive(rows)[rows["frequency"] == 0] < 1).all()
    counts = np.arange(300)
    pmf = model.probability_of_purchases(counts, 52.0)
    assert pmf @ counts == pytest.approx(float(model.expected_purchases_new_customer(52.0)),
                                         rel=1e-8)
    back = load_model(model.save(tmp_path / "m"), expected_type=ModifiedBetaGeoCNBDModel)
    assert back.k_ == 3 and back.k is None and back.regularity_source_ == "gaps"
    pd.testing.assert_series_equal(back.k_log_likelihoods_, model.k_log_likelihoods_)
    pd.testing.assert_series_equal(back.expected_purchases(rows, 26.0), e)
    assert "k=3" in repr(back)


def test_parameters_in_words_say_k_and_what_it_means(fitted_regular):
    """describe_parameters: the MBG/NBD's four sentences with the fitted numbers, the
    one of alpha going on to k: how it was set, the 1/sqrt(k) variation of the gaps."""
    model = fitted_regular
    v, words = model.point_params(), model.describe_parameters()
    assert list(words) == list(model.summary().index) == list(NAMES)
    top = max(model.k_log_likelihoods_.index)
    assert f"r/alpha = {v['r'] / v['alpha']:.3g} times a week" in words["alpha"]
    assert (f"Erlang-k with k = 3 (chosen by likelihood over k = 1 to {top}), each the sum of "
            "k exponential phases, so their coefficient of variation is 1/sqrt(k) = 0.577: a "
            "customer's gaps vary about 58% as much as random timing (k = 1, the MBG/NBD) "
            "would") in words["alpha"]
    assert words["a"].startswith("Right after her first purchase and after each repeat purchase")
    assert f"a/(a+b) = {v['a'] / (v['a'] + v['b']):.1%}" in words["a"]
    # k chosen over a grid is a fitted parameter too (compare_models counts it)
    assert model.k_was_chosen() and model.parameter_count() == 5
    assert model.aic_ == pytest.approx(10.0 - 2.0 * model.log_likelihood_)


def test_map_fit_at_a_fixed_order(regular):
    model = ModifiedBetaGeoCNBDModel(k=3, draws=200).fit(regular.head(3000), method="map")
    assert model.k_ == 3 and model.fit_method_ == "map"
    assert np.all(np.isfinite(model.params_)) and model.params_["r"] == pytest.approx(1.0, rel=0.3)


def test_errors_name_the_setting_or_column(regular):
    with pytest.raises(ValueError, match=r"The 'k' parameter of ModifiedBetaGeoCNBDModel must be "
                                         r"None \(chosen by likelihood\) or an int in \[1, 50\]\. "
                                         r"Got 0 instead\."):
        ModifiedBetaGeoCNBDModel(k=0).fit(regular)
    with pytest.raises(ValueError, match=r"The 'max_k' parameter of ModifiedBetaGeoCNBDModel "
                                         r"must be an int in \[1, 50\]\. Got 2\.5 instead\."):
        ModifiedBetaGeoCNBDModel(max_k=2.5).fit(regular)
    bad = regular.head(100).copy()
    bad["log_gap_sum"] += bad["frequency"] * np.log(7.0)  # gaps in days, recency in weeks
    with pytest.raises(DataError, match=r"ModifiedBetaGeoCNBDModel: 'log_gap_sum' is larger "
                                        r"than frequency \* log\(recency / frequency\)"):
        ModifiedBetaGeoCNBDModel(k=2).fit(bad)
    instant = regular.head(100).copy()
    instant.loc[instant.index[instant["frequency"] > 0][:2], "recency"] = 0.0
    with pytest.raises(DataError, match=r"2 customer\(s\) have repeat purchases but recency 0"):
        ModifiedBetaGeoCNBDModel(k=1).fit(instant)
    with pytest.raises(TypeError, match=r"needs 'recency' as well as 'frequency' and 'T'"):
        ModifiedBetaGeoCNBDModel.formula("discounted_purchases_if_alive")(
            *MBG_REF, 3, 2, 38.0, 52.0, 0.0)
    with pytest.raises(ValueError, match=r"The 'erlang_k' parameter .* must be one whole number"):
        ModifiedBetaGeoCNBDModel.formula("probability_alive")(*MBG_REF, np.array([2.0, 3.0]),
                                                              1, 1.0, 2.0)
    with pytest.raises(ValueError, match=r"The 'k' parameter of simulate_mbgcnbd must be an int "
                                         r"in \[1, 50\]\. Got 2\.0 instead\."):
        simulate_mbgcnbd(10, 2.0, 1.0, 4.0, 0.8, 2.0, T=10.0)


# ------------------------------------------ a boundary without a nested model: said in words
@pytest.fixture(scope="module")
def same_dropout():
    """3,000 MBG/CNBD-3 customers, two years old, with one drop-out probability p = 0.25
    (a beta with a + b = 1e6); on this draw maximum likelihood runs a and b to infinity."""
    return simulate_mbgcnbd(3000, 3, 1.0, 4.0, 2.5e5, 7.5e5, T=104.0, random_state=3)


def test_homogeneous_dropout_is_a_fit_error_in_words(same_dropout):
    model = ModifiedBetaGeoCNBDModel(k=3)
    with pytest.raises(FitError, match=r"^ModifiedBetaGeoCNBDModel at Erlang order k = 3: the "
                                       r"drop-out probability looks the same for every customer: "
                                       r"maximum likelihood drives a and b of its beta "
                                       r"distribution to infinity together") as info:
        model.fit(same_dropout)
    text, cli = str(info.value), info.value.cli_message
    share = float(re.search(r"a/\(a\+b\) = ([0-9.]+)", text).group(1))
    assert share == pytest.approx(0.25, abs=0.02)
    assert float(re.search(r"spread 1/\(a\+b\+1\) = ([0-9.e+-]+)\)", text).group(1)) < 1e-4
    assert "the Erlang-k models have no such limit model yet" in text
    assert "fit with method='map': its priors keep every parameter finite and the fit stays " \
           "an Erlang-3 model" in text and "or fit ModifiedBetaGeoModel" in text
    assert "add --method map" in cli and "--model mbgnbd" in cli and "method='map'" not in cli
    assert "purchase rate looks the same" not in text  # the purchase rates do differ
    assert not hasattr(model, "params_")  # nothing half-fitted to save
    # choosing k: the first order already runs to the boundary, and says so
    with pytest.raises(FitError, match=r"^ModifiedBetaGeoCNBDModel at Erlang order k = 1: the "
                                       r"drop-out probability looks the same(.|\n)*k is still "
                                       r"chosen by likelihood, at each order's posterior mode"):
        ModifiedBetaGeoCNBDModel().fit(same_dropout)



def test_homogeneous_purchase_rate_is_a_fit_error_in_words():
    """One purchase rate for everyone (a gamma with r = 1e6): r and alpha run to infinity
    together, said for the purchase rate (not the drop-out) with the time unit."""
    data = simulate_mbgcnbd(3000, 3, 1e6, 4e6, 0.8, 2.0, T=104.0, random_state=2)
    with pytest.raises(FitError, match=r"^ModifiedBetaGeoCNBDModel at Erlang order k = 3: the "
                                       r"purchase rate looks the same for every customer: maximum "
                                       r"likelihood drives r and alpha of its gamma distribution "
                                       r"to infinity together") as info:
        ModifiedBetaGeoCNBDModel(k=3).fit(data)
    text = str(info.value)
    rate = float(re.search(r"r/alpha = ([0-9.]+) purchases per week", text).group(1))
    assert rate == pytest.approx(0.25, rel=0.02)
    assert "drop-out probability looks the same" not in text
    assert "or fit ModifiedBetaGeoModel (random timing), which then becomes its limit model " \
           "with one purchase rate." in text


def test_homogeneous_dropout_fits_by_map_and_round_trips(same_dropout, tmp_path):
    """method="map" keeps a and b finite; with k=None the orders are compared at their
    posterior modes, so the search gets past the boundary and finds k = 3."""
    model = ModifiedBetaGeoCNBDModel(draws=200, random_state=0).fit(same_dropout, method="map")
    lls = model.k_log_likelihoods_
    assert model.k_ == 3 and lls.idxmax() == 3 and list(lls.index[:3]) == [1, 2, 3]
    assert model.fit_method_ == "map" and model.log_likelihood_ == lls[3]
    v = model.params_
    assert v["a"] / (v["a"] + v["b"]) == pytest.approx(0.25, abs=0.02)
    assert v["r"] / v["alpha"] == pytest.approx(0.25, rel=0.1)
    back = load_model(model.save(tmp_path / "m"), expected_type=ModifiedBetaGeoCNBDModel)
    pd.testing.assert_series_equal(back.params_, model.params_)
    rows = same_dropout.head(20)
    pd.testing.assert_series_equal(back.probability_alive(rows), model.probability_alive(rows))


def test_order_search_raises_when_a_higher_order_fails(regular, monkeypatch):
    """k=None: a failed fit at k = 2 is an error naming k = 2 and why, not a silent
    choice of k = 1 (the only order fitted)."""
    real = ModifiedBetaGeoCNBDModel._fit_order

    def fail_at_2(self, data, method):
        if self.k_ == 2:
            raise FitError("ModifiedBetaGeoCNBDModel did not converge: a stand-in failure.",
                           cli_message="a stand-in failure in flags")
        real(self, data, method)

    monkeypatch.setattr(ModifiedBetaGeoCNBDModel, "_fit_order", fail_at_2)
    model = ModifiedBetaGeoCNBDModel(max_k=4)
    with pytest.raises(FitError, match=r"^ModifiedBetaGeoCNBDModel chooses the Erlang order k by "
                                       r"likelihood over k = 1 to 4, but the fit at k = 2 failed, "
                                       r"so no order is kept") as info:
        model.fit(regular.head(2000))
    text = str(info.value)
    assert re.search(r"Orders fitted before it: k = 1 \(log-likelihood -\d+\.\d\d\)\.", text)
    assert "a stand-in failure." in text and text.endswith("set k (e.g. k=1).")
    assert info.value.cli_message.endswith("a stand-in failure in flags")
    assert not hasattr(model, "params_") and not hasattr(model, "k_")


def test_heterogeneous_dropout_still_fits(regular, tmp_path):
    """Well inside the boundary (true a = 0.8, b = 2): the maximum-likelihood fit at k = 3
    is kept, near the truth, and saves and loads."""
    model = ModifiedBetaGeoCNBDModel(k=3, random_state=0).fit(regular.head(3000))
    v = model.params_
    assert 1.0 / (v["a"] + v["b"] + 1.0) > 0.1
    for name, true in zip(NAMES, (1.0, 4.0, 0.8, 2.0)):
        assert v[name] == pytest.approx(true, rel=0.35), name
    back = load_model(model.save(tmp_path / "m"))
    pd.testing.assert_series_equal(back.params_, model.params_)


def test_a_fit_whose_draws_load_would_refuse_is_not_saved(tmp_path):
    """Next to the drop-out boundary but not at it (spread 1/(a+b+1) between 1e-4 and
    1e-3) the fit is kept, but a few of its draws of a and b pass exp(50): save refuses
    them in words and writes nothing, instead of a save that load calls corrupted."""
    data = simulate_mbgcnbd(3000, 3, 1.0, 4.0, 2.5e5, 7.5e5, T=104.0, random_state=7)
    model = ModifiedBetaGeoCNBDModel(k=3, random_state=0).fit(data)
    v = model.params_
    assert 1e-4 < 1.0 / (v["a"] + v["b"] + 1.0) < 1e-3
    assert (np.abs(np.log(model.draws_["a"].values)) > 50).any()
    with pytest.raises(FitError, match=r"Cannot save to .*: the fitted ModifiedBetaGeoCNBDModel "
                                       r"has parameter values that load_model refuses \(\d+ of "
                                       r"the 1,000 draws of 'a'.*Nothing was written: fit again "
                                       r"with method='map'"):
        model.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []
