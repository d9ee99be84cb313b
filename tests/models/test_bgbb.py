"""BG/BB: the donations reference fit (REFERENCES.md), lifetimes 0.11.3 as oracle,
closed forms against simulation and brute-force sums, the PyMC graph, persistence."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

from clvmodels import BetaGeoBetaBinomModel, DataError, load_model, save_model
from clvmodels.datasets import load_donations
from clvmodels.models.purchase.bgbb import (
    bgbb_conditional_expected_transactions,
    bgbb_discounted_transactions,
    bgbb_expected_transactions_new,
    bgbb_log_likelihood,
    bgbb_probability_alive,
    bgbb_probability_of_transactions,
    simulate_bgbb,
)

REF = (1.204, 0.750, 0.657, 2.783)  # REFERENCES.md, LL -33,225.6
LIFETIMES = (1.2035, 0.7497, 0.6567, 2.7834)  # lifetimes' re-derivation
NAMES = ("alpha", "beta", "gamma", "delta")


@pytest.fixture(scope="module")
def donations():
    return load_donations()


@pytest.fixture(scope="module")
def fitted(donations):
    return BetaGeoBetaBinomModel(random_state=0).fit(donations)


def random_histories(rng, size=400, max_n=30):
    n = rng.integers(0, max_n + 1, size)
    t_x = np.floor(rng.uniform(0, 1, size) * (n + 1)).astype(int)
    x = np.where(t_x > 0, 1 + np.floor(rng.uniform(0, 1, size) * t_x), 0).astype(int)
    return x.astype(float), t_x.astype(float), n.astype(float)


# --------------------------------------------------------------------- reference fit
def test_donations_loader(donations):
    assert donations.shape == (22, 4) and int(donations["weight"].sum()) == 11_104
    assert list(donations.columns) == ["frequency", "recency", "n_periods", "weight"]
    assert (donations["n_periods"] == 6).all() and donations.attrs["time_unit"] == "year"


def test_donations_mle_matches_reference(fitted):
    np.testing.assert_array_equal(fitted.params_.round(3).to_numpy(), REF)
    np.testing.assert_array_equal(fitted.params_.round(4).to_numpy(), LIFETIMES)
    assert round(fitted.log_likelihood_, 1) == -33225.6
    assert fitted.n_obs_ == 11_104 and fitted.n_unique_ == 22 and fitted.time_unit_ == "year"
    s = fitted.summary()
    assert (s["lower"] < s["estimate"]).all() and (s["estimate"] < s["upper"]).all()


def test_weights_are_customers(fitted, donations):
    """One row per donor gives the fit of the weighted table."""
    rows = donations.loc[donations.index.repeat(donations["weight"])].drop(columns="weight")
    rows.attrs = dict(donations.attrs)
    expanded = BetaGeoBetaBinomModel().fit(rows.reset_index(drop=True))
    np.testing.assert_allclose(expanded.params_, fitted.params_, rtol=1e-6)
    assert expanded.log_likelihood_ == pytest.approx(fitted.log_likelihood_, rel=1e-10)


# ------------------------------------------------------------------- lifetimes oracle
def test_likelihood_and_predictions_match_lifetimes(rng):
    lifetimes = pytest.importorskip("lifetimes")
    bb = lifetimes.BetaGeoBetaBinomFitter()
    bb.params_ = pd.Series(dict(zip(NAMES, REF)))
    x, t_x, n = random_histories(rng)
    pos = n > 0  # lifetimes divides by zero for customers without opportunities
    ours, theirs = bgbb_log_likelihood(*REF, x, t_x, n), bb._loglikelihood(REF, x, t_x, n)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12)
    # lifetimes loses up to ~1e-8 (relative) on unlikely histories; where the two
    # differ by more than 1e-11, ours is the exact value
    agree = np.isclose(ours, theirs, rtol=1e-11, atol=1e-12)
    for i in np.flatnonzero(~agree)[:10]:
        exact = first_principles_likelihood(int(x[i]), int(t_x[i]), int(n[i]))
        assert ours[i] == pytest.approx(math.log(exact), rel=1e-12)
    # the predictions divide by the likelihood: tight where the likelihoods agree
    for tight, rtol in ((pos & agree, 1e-9), (pos, 1e-5)):
        for m in (0, 1, 4):
            np.testing.assert_allclose(bgbb_probability_alive(*REF, x, t_x, n, m)[tight],
                                       bb.conditional_probability_alive(m, x, t_x, n)[tight],
                                       rtol=rtol)
        for m in (1, 5, 20):
            np.testing.assert_allclose(
                bgbb_conditional_expected_transactions(*REF, x, t_x, n, m)[tight],
                bb.conditional_expected_number_of_purchases_up_to_time(m, x, t_x, n)[tight],
                rtol=rtol)
    # who transacted in the last period was alive in it
    last = pos & (t_x == n)
    np.testing.assert_allclose(bgbb_probability_alive(*REF, x, t_x, n, 0)[last], 1.0, rtol=1e-14)


def test_new_customer_distribution_matches_lifetimes(donations, fitted):
    lifetimes = pytest.importorskip("lifetimes")
    bb = lifetimes.BetaGeoBetaBinomFitter().fit(
        donations["frequency"], donations["recency"], donations["n_periods"],
        weights=donations["weight"])
    pars = [bb.params_[k] for k in NAMES]
    theirs = bb.expected_number_of_transactions_in_first_n_periods(6)["model"].to_numpy()
    ours = bgbb_probability_of_transactions(*pars, np.arange(7), 6) * 11_104
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    np.testing.assert_allclose(fitted.params_.to_numpy(), pars, rtol=1e-4)


# ------------------------------------------------------------ likelihood and gradient
@pytest.mark.parametrize("n", [0, 1, 2, 6, 11])
def test_likelihood_sums_to_one_over_all_histories(n):
    """Each (x, t_x) stands for C(t_x - 1, x - 1) binary histories of equal probability."""
    total = math.exp(bgbb_log_likelihood(*REF, 0, 0, n))
    for t_x in range(1, n + 1):
        x = np.arange(1, t_x + 1)
        ll = bgbb_log_likelihood(*REF, x, np.full(x.size, t_x), np.full(x.size, n))
        total += float(special.comb(t_x - 1, x - 1) @ np.exp(ll))
    assert total == pytest.approx(1.0, abs=1e-12)


def test_likelihood_matches_enumeration_of_death_periods():
    """The padded, masked recursion equals the paper's sum written term by term."""
    a, b, g, d = REF
    for x, t_x, n in [(0, 0, 0), (0, 0, 9), (3, 4, 6), (6, 6, 6), (2, 7, 40), (25, 30, 200)]:
        terms = [special.betaln(a + x, b + n - x) + special.betaln(g, d + n)]
        terms += [special.betaln(a + x, b + t_x - x + i) + special.betaln(g + 1, d + t_x + i)
                  for i in range(n - t_x)]
        want = special.logsumexp(terms) - special.betaln(a, b) - special.betaln(g, d)
        assert float(bgbb_log_likelihood(*REF, x, t_x, n)) == pytest.approx(want, rel=1e-12)


def first_principles_likelihood(x, t_x, n, pars=REF):
    """P(one binary history with x transactions, the last in period t_x, over n periods)
    from the generative story (alive for exactly j >= t_x periods, then inactive;
    transacting with probability p in each period alive), averaged over p and theta by
    Gauss-Jacobi quadrature, exact for these polynomial integrands (degree < 80)."""
    a, b, g, d = pars

    def beta_nodes(shape1, shape2):
        z, w = special.roots_jacobi(40, shape2 - 1.0, shape1 - 1.0)
        return (1.0 + z) / 2.0, w / w.sum()

    p, wp = beta_nodes(a, b)
    th, wt = beta_nodes(g, d)
    prob = 0.0
    for j in range(t_x, n + 1):  # j = n: alive throughout
        prob += (wp @ (p**x * (1 - p) ** (j - x))) * (wt @ ((1 - th) ** j * (th if j < n else 1.0)))
    return prob


def test_likelihood_from_first_principles():
    """Every binary history over n = 4 periods, and some long ones."""
    n = 4
    for history in itertools.product([0, 1], repeat=n):
        x = sum(history)
        t_x = max((i + 1 for i, h in enumerate(history) if h), default=0)
        assert math.exp(float(bgbb_log_likelihood(*REF, x, t_x, n))) == pytest.approx(
            first_principles_likelihood(x, t_x, n), rel=1e-12)
    for x, t_x, n in [(8, 26, 26), (13, 21, 24), (1, 1, 35), (30, 30, 30)]:
        assert float(bgbb_log_likelihood(*REF, x, t_x, n)) == pytest.approx(
            math.log(first_principles_likelihood(x, t_x, n)), rel=1e-12)


def test_likelihood_finite_at_extremes():
    x = np.array([0, 0, 1, 500, 500, 1])
    t_x = np.array([0, 0, 1, 500, 1000, 1000])
    n = np.array([0, 1000, 1000, 1000, 1000, 1000])
    for pars in [REF, (50.0, 1e-3, 1e-3, 50.0), (1e-3, 1e3, 20.0, 1e-3)]:
        ll, g = bgbb_log_likelihood(*pars, x, t_x, n, gradient=True)
        assert np.all(np.isfinite(ll)) and np.all(ll <= 0) and np.all(np.isfinite(g))


def test_gradient_matches_finite_differences(rng):
    x, t_x, n = random_histories(rng)
    for _ in range(3):
        theta = np.log(REF) + rng.normal(0, 0.5, 4)

        def total(th):
            return bgbb_log_likelihood(*np.exp(th), x, t_x, n).sum()

        _, g = bgbb_log_likelihood(*np.exp(theta), x, t_x, n, gradient=True)
        numeric = optimize.approx_fprime(theta, total, 1e-6)
        np.testing.assert_allclose(g.sum(axis=1), numeric, rtol=1e-5, atol=1e-4)


def test_pymc_graph_is_the_mle_likelihood(rng):
    """The PyTensor graph PyMC samples equals the numpy sum the MLE maximizes, value
    and gradient, to 1e-8 (one compiled function, five random points), on histories
    of different lengths so the mask matters."""
    import pytensor
    import pytensor.tensor as pt

    x, t_x, n = random_histories(rng, 300, 12)
    data = pd.DataFrame({"frequency": x, "recency": t_x, "n_periods": n,
                         "weight": rng.integers(1, 50, x.size)})
    model = BetaGeoBetaBinomModel()
    model._check_settings("mcmc")
    arrays, weights = model._prepare(data)
    logs = [pt.dscalar(v) for v in NAMES]
    total = model._pymc_log_likelihood({v: pt.exp(t) for v, t in zip(NAMES, logs)},
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
    n_cust, n = 200_000, 6
    x = simulate_bgbb(n_cust, *REF, n_periods=n, random_state=5)["frequency"].to_numpy()
    assert abs(x.mean() - bgbb_expected_transactions_new(*REF, n)) < 4 * x.std() / np.sqrt(n_cust)
    p = bgbb_probability_of_transactions(*REF, np.arange(n + 1), n)
    freq = np.bincount(x, minlength=n + 1) / n_cust
    np.testing.assert_array_less(np.abs(freq - p), 4 * np.sqrt(p * (1 - p) / n_cust))
    k = np.arange(n + 1)
    assert p @ k == pytest.approx(float(bgbb_expected_transactions_new(*REF, n)), rel=1e-12)


def test_conditional_predictions_match_simulation():
    """Sum of conditional expectations = simulated holdout total (tower property), also
    per frequency; P(alive in n + 1) calibrated against the simulated truth."""
    n_cust = 200_000
    n_periods = np.random.default_rng(3).integers(1, 9, n_cust)
    sim = simulate_bgbb(n_cust, *REF, n_periods=n_periods, holdout=5, random_state=6)
    args = [sim[c].to_numpy() for c in ("frequency", "recency", "n_periods")]
    e = bgbb_conditional_expected_transactions(*REF, *args, 5)
    h = sim["holdout_frequency"].to_numpy()
    assert abs(e.sum() - h.sum()) < 4 * h.std() * np.sqrt(n_cust)
    for x in (0, 1, 4):
        sel = args[0] == x
        assert abs(e[sel].sum() - h[sel].sum()) < 4 * h[sel].std() * np.sqrt(sel.sum())
    pa = bgbb_probability_alive(*REF, *args)
    alive = sim["true_alive"].to_numpy()
    for lo, hi in [(0.0, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 1.0)]:
        sel = (pa >= lo) & (pa < hi)
        se = np.sqrt(pa[sel].mean() * (1 - pa[sel].mean()) / sel.sum())
        assert abs(alive[sel].mean() - pa[sel].mean()) < 4 * se + 1e-3


def test_expected_transactions_new_is_a_sum_over_periods():
    """E[X(n)] = alpha/(alpha+beta) sum_{k=1}^n P(alive in period k), at gamma = 1 too."""
    for pars in [REF, (1.2, 0.75, 1.0, 2.8), (1.2, 0.75, 3.5, 0.4)]:
        a, b, g, d = pars
        k = np.arange(1, 41)
        brute = a / (a + b) * np.cumsum(np.exp(special.betaln(g, d + k) - special.betaln(g, d)))
        np.testing.assert_allclose(bgbb_expected_transactions_new(*pars, k), brute, rtol=1e-8)


# ------------------------------------------------------------------------ discounting
def test_discounted_at_zero_rate_is_undiscounted(rng):
    x, t_x, n = random_histories(rng, 100)
    for horizon in (1, 5, 30):
        np.testing.assert_allclose(
            bgbb_discounted_transactions(*REF, x, t_x, n, 0.0, horizon),
            bgbb_conditional_expected_transactions(*REF, x, t_x, n, horizon), rtol=1e-12)
        np.testing.assert_allclose(
            bgbb_discounted_transactions(*REF, x, t_x, n, 1e-9, horizon),
            bgbb_conditional_expected_transactions(*REF, x, t_x, n, horizon), rtol=1e-6)
    # without discounting, the infinite horizon is finite only when gamma > 1
    assert np.all(np.isinf(bgbb_discounted_transactions(*REF, x, t_x, n, 0.0)))
    pars = (1.2, 0.75, 2.5, 3.0)
    far = bgbb_conditional_expected_transactions(*pars, x, t_x, n, 10**7)
    np.testing.assert_allclose(bgbb_discounted_transactions(*pars, x, t_x, n, 0.0), far, rtol=1e-3)


@pytest.mark.parametrize("rate", [0.001, 0.1, 1.0])
def test_discounted_matches_brute_force(rate, rng):
    """Against the sum over future periods of the discounted per-period expectations,
    E[Y_{n+k}] = E[X(n, n+k)] - E[X(n, n+k-1)] from the undiscounted closed form."""
    x, t_x, n = random_histories(rng, 60, 60)
    k = np.arange(1, 301)
    cumulative = bgbb_conditional_expected_transactions(*REF, x[:, None], t_x[:, None],
                                                        n[:, None], np.append(0, k))
    per_period = np.diff(cumulative, axis=1) / (1.0 + rate) ** k
    for horizon in (1, 7, 300):
        np.testing.assert_allclose(
            bgbb_discounted_transactions(*REF, x, t_x, n, rate, horizon),
            per_period[:, :horizon].sum(axis=1), rtol=1e-8)
    if rate >= 0.1:  # the series has converged by 300 periods
        np.testing.assert_allclose(bgbb_discounted_transactions(*REF, x, t_x, n, rate),
                                   per_period.sum(axis=1), rtol=1e-8)


def test_dert_of_the_paper():
    """DERT written as in FHB (2010, eq. 14) with scipy's 2F1, where it is accurate."""
    a, b, g, d = REF
    x, t_x, n, rate = 3, 5, 6, 0.1
    ll = float(bgbb_log_likelihood(*REF, x, t_x, n))
    dert = (np.exp(special.betaln(a + x + 1, b + n - x) - special.betaln(a, b)
                   + special.betaln(g, d + n + 1) - special.betaln(g, d) - ll) / (1 + rate)
            * special.hyp2f1(1, d + n + 1, g + d + n + 1, 1 / (1 + rate)))
    assert float(bgbb_discounted_transactions(*REF, x, t_x, n, rate)) == pytest.approx(dert,
                                                                                        rel=1e-9)


def test_parameter_draws_broadcast(rng):
    draws = np.array(REF)[:, None, None] * np.exp(rng.normal(0, 0.05, (4, 3, 1)))  # (4, 3, 1)
    x, t_x, n = random_histories(rng, 10)
    for out in (bgbb_probability_alive(*draws, x, t_x, n),
                bgbb_conditional_expected_transactions(*draws, x, t_x, n, 5),
                bgbb_discounted_transactions(*draws, x, t_x, n, 0.1, 10),
                bgbb_log_likelihood(*draws, x, t_x, n)):
        assert out.shape == (3, 10)
    one = bgbb_probability_alive(*draws[:, 1, 0], x, t_x, n)
    np.testing.assert_allclose(bgbb_probability_alive(*draws, x, t_x, n)[1], one, rtol=1e-13)


# ------------------------------------------------------------------- model interface
def test_model_predictions_use_point_estimate(fitted, donations):
    pars = fitted.point_params()
    cols = {c: donations[c].to_numpy() for c in ("frequency", "recency", "n_periods")}
    e = fitted.expected_purchases(donations, 5)
    assert e.index.equals(donations.index) and e.name == "expected_purchases"
    np.testing.assert_allclose(e, bgbb_conditional_expected_transactions(**pars, **cols,
                                                                         n_future=5))
    pa = fitted.probability_alive(donations)
    assert pa.between(0, 1).all()
    np.testing.assert_allclose(fitted.probability_alive(donations, n_future=0),
                               bgbb_probability_alive(**pars, **cols, n_future=0))
    d = fitted.discounted_purchases(donations, 0.1)
    assert (d > fitted.discounted_purchases(donations, 0.1, horizon=5)).all()
    assert fitted.expected_purchases_new_customer(6) == pytest.approx(
        float(bgbb_expected_transactions_new(**pars, n=6)))
    assert fitted.probability_of_purchases(np.arange(7), 6).sum() == pytest.approx(1.0)


def test_save_load_round_trip(tmp_path, fitted, donations):
    loaded = load_model(save_model(fitted, tmp_path / "bgbb"), expected_type=BetaGeoBetaBinomModel)
    assert type(loaded) is BetaGeoBetaBinomModel
    pd.testing.assert_series_equal(loaded.params_, fitted.params_, check_exact=True)
    assert loaded.draws_.identical(fitted.draws_)
    pd.testing.assert_series_equal(loaded.expected_purchases(donations, 5),
                                   fitted.expected_purchases(donations, 5), check_exact=True)


def test_bad_inputs_are_named(donations):
    bad = donations.copy()
    bad.loc[3, "frequency"] = 9
    with pytest.raises(DataError, match=r"BetaGeoBetaBinomModel: 'frequency' is greater than "
                                         r"'recency' in 1 row\(s\), first customer ids \[3\]"):
        BetaGeoBetaBinomModel().fit(bad)
    with pytest.raises(DataError, match=r"missing column\(s\) \['n_periods'\]"):
        BetaGeoBetaBinomModel().fit(donations.drop(columns="n_periods"))
    with pytest.raises(ValueError, match=r"The 'discount_rate' parameter of "
                                         r"bgbb_discounted_transactions must be a float in "
                                         r"\[0, inf\) \(per period\)\. Got -0\.1 instead\."):
        bgbb_discounted_transactions(*REF, 1, 1, 6, -0.1)
    with pytest.raises(ValueError, match=r"The 'horizon' parameter of bgbb_discounted_transactions"
                                         r" must be a whole number of periods > 0 or inf\. "
                                         r"Got 2\.5 instead\."):
        bgbb_discounted_transactions(*REF, 1, 1, 6, 0.1, 2.5)
    with pytest.raises(ValueError, match=r"The 'gamma' parameter of simulate_bgbb must be a "
                                         r"positive float\. Got 0 instead\."):
        simulate_bgbb(10, 1.0, 1.0, 0, 1.0, n_periods=6)


def test_simulation_respects_each_customers_window():
    sim = simulate_bgbb(20_000, 2.0, 1.0, 0.3, 3.0, n_periods=np.tile([0, 3, 10], 20_000 // 3 + 1)
                        [:20_000], holdout=2, random_state=1)
    assert ((sim.frequency <= sim.recency) & (sim.recency <= sim.n_periods)).all()
    assert ((sim.frequency == 0) == (sim.recency == 0)).all()
    assert (sim.loc[sim.n_periods == 0, "frequency"] == 0).all()
    assert (sim.holdout_frequency <= 2).all() and sim.attrs["time_unit"] == "year"


@pytest.mark.slow
def test_parameter_recovery_100k():
    truth = np.array(REF)
    n_cust = 100_000
    n_periods = np.random.default_rng(21).integers(4, 13, n_cust)
    sim = simulate_bgbb(n_cust, *truth, n_periods=n_periods, random_state=22)
    model = BetaGeoBetaBinomModel().fit(sim)
    np.testing.assert_array_less(np.abs(model.params_.to_numpy() / truth - 1), 0.05)
    s = model.summary(level=0.999)
    assert ((s["lower"] < truth) & (truth < s["upper"])).all()
