"""A boundary is an answer for the BG/NBD: its three nested limits (one drop-out
probability, one purchase rate, both), their formulas as the full model's limits and
against brute force, and fits of the full model on data without heterogeneity."""

import re

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from clvmodels import (
    BetaGeoModel,
    GammaGammaModel,
    customer_lifetime_value,
    evaluate_holdout,
    load_model,
)
from clvmodels.models.boundary import LR_CRITICAL, boundary_p_value
from clvmodels.models.purchase import bgnbd as full
from clvmodels.models.purchase import bgnbd_limits as lim
from clvmodels.models.purchase.bgnbd_limits import (
    BetaGeoHomogeneousDropoutModel,
    BetaGeoHomogeneousModel,
    BetaGeoHomogeneousRateModel,
    beta_exposure,
)
from clvmodels.simulate import purchases_to_summary, simulate_spend
from clvmodels.timeunits import annual_rate_to_continuous

R, ALPHA, A, B = 0.6, 5.0, 0.8, 2.4  # the mixing that stays
P, LAM = 0.25, 0.07  # the point a collapsed mixing sits at
LIMITS = {  # limit prefix: (class, its parameters, the full parameters at c)
    "point_p": (BetaGeoHomogeneousDropoutModel, (R, ALPHA, P),
                lambda c: (R, ALPHA, P * c, (1 - P) * c)),
    "point_lam": (BetaGeoHomogeneousRateModel, (LAM, A, B),
                  lambda c: (c, c / LAM, A, B)),
    "point_both": (BetaGeoHomogeneousModel, (LAM, P),
                   lambda c: (c, c / LAM, P * c, (1 - P) * c)),
}


def customers(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 30, n).astype(float)
    T = rng.uniform(1.0, 80.0, n)
    return x, np.where(x > 0, T * rng.uniform(0, 1, n), 0.0), T


X, TX, TT = customers()
K = np.arange(13.0)
AGES = np.array([1.0, 52.0, 300.0])
ROLES = {  # role: (call with the customers, whether its error is relative)
    "log_likelihood": (lambda f, pars: f(*pars, X, TX, TT), False),
    "probability_alive": (lambda f, pars: f(*pars, X, TX, TT), True),
    "conditional_expected_purchases": (lambda f, pars: f(*pars, X, TX, TT, 39.0), True),
    "expected_purchases_new": (lambda f, pars: f(*pars, AGES), True),
    "probability_of_purchases": (lambda f, pars: f(*pars, K, 52.0), True),
    "discounted_purchases_if_alive": (lambda f, pars: f(*pars, X, TT, 52.0, 0.002), True),
}
#: the smallest c of each check: where the full model's own formulas are still accurate
#: at 10 c (its 2F1 terms return NaN past a + b ~ 2e3 or r ~ 1e4, its P(X = k) loses
#: digits in G(r+k)/G(r) past r ~ 1e4)
C0 = {("point_p", "conditional_expected_purchases"): 1e2,
      ("point_p", "discounted_purchases_if_alive"): 1e2,
      ("point_lam", "conditional_expected_purchases"): 1e3,
      ("point_lam", "expected_purchases_new"): 1e2,
      ("point_lam", "probability_of_purchases"): 1e3,
      ("point_lam", "discounted_purchases_if_alive"): 1e3,
      ("point_both", "probability_of_purchases"): 1e3}


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("prefix", list(LIMITS))
def test_each_formula_is_the_full_models_limit(prefix, role):
    """The full BG/NBD at ``a = p c, b = (1-p) c`` and/or ``r = c, alpha = c/lam``
    approaches the limit formula with an O(1/c) error: at c and 10 c the error is below
    ``(1 + x + lam T)^2 / c`` (x <= 29, lam T <= 10 here: 1600 / c), it shrinks ten-fold
    from c to 10 c, and what Richardson extrapolation leaves is second order (below the
    square of the error at c)."""
    _, pars, at = LIMITS[prefix]
    call, relative = ROLES[role]
    limit = call(getattr(lim, f"{prefix}_{role}"), pars)
    c0 = C0.get((prefix, role), 1e4)
    f1, f2 = (call(getattr(full, f"bgnbd_{role}"), at(c)) for c in (c0, 10 * c0))
    scale = np.abs(limit) if relative else 1.0
    e1, e2 = (np.max(np.abs(f - limit) / scale) for f in (f1, f2))
    rest = np.max(np.abs((10 * f2 - f1) / 9 - limit) / scale)
    assert e1 <= 1600 / c0 and e2 <= 1600 / (10 * c0)
    assert 7 < e1 / e2 < 13
    assert rest <= e1**2


def test_one_rate_expectation_is_the_confluent_limit_and_stable():
    """The one-rate expectations (``beta_exposure``) equal the closed form ``(a+b-1)/(a-1)
    (1 - exp(-lam t) 1F1(b; a+b-1; lam t))`` away from its removable singularities, and
    adaptive quadrature over the beta at them (a = 1, a + b = 1) and for tiny lam t."""
    for a, b in ((0.8, 2.4), (2.5, 0.7), (30.0, 300.0)):
        for c in (0.1, 3.0, 50.0, 400.0):
            closed = (a + b - 1) / (a - 1) * (1 - np.exp(-c) * special.hyp1f1(b, a + b - 1, c))
            assert beta_exposure(a, b, c) == pytest.approx(closed, rel=1e-9)

    def by_quadrature(a, b, c, k=0.0):
        def g(y):  # (1 - exp(-(p+k) c)) / (p+k) at the y-quantile of the beta
            q = special.betaincinv(a, b, y) + k
            return c if q * c == 0 else -np.expm1(-q * c) / q
        return integrate.quad(g, 0, 1, points=[1e-9, 1e-6, 1e-3, 0.1, 0.5, 0.9, 1 - 1e-6],
                              limit=500, epsabs=0, epsrel=1e-13)[0]

    for a, b in ((1.0, 2.4), (1.0 + 1e-9, 0.5), (0.4, 0.6), (0.05, 1e4), (300.0, 1e3)):
        for c in (1e-4, 0.5, 20.0, 1e4):
            for k in (0.0, 1.0 / c):
                assert beta_exposure(a, b, c, k) == pytest.approx(by_quadrature(a, b, c, k),
                                                                  rel=1e-10)


@pytest.mark.parametrize("prefix", list(LIMITS))
def test_counts_of_a_new_customer_sum_to_one_with_the_new_customer_mean(prefix):
    _, pars, _ = LIMITS[prefix]
    pmf_fn = getattr(lim, f"{prefix}_probability_of_purchases")
    new = getattr(lim, f"{prefix}_expected_purchases_new")
    k = np.arange(3000.0)
    for t in (0.5, 52.0, 400.0):
        pmf = pmf_fn(*pars, k, t)
        assert np.all(pmf >= 0) and pmf.sum() == pytest.approx(1.0, abs=1e-12)
        assert k @ pmf == pytest.approx(float(new(*pars, t)), rel=1e-10)
    # P(X(0) = 0) = 1
    assert pmf_fn(*pars, k[:3], 0.0).tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("prefix", list(LIMITS))
def test_simulated_futures_have_the_expected_means(prefix):
    """Means of 100,000 simulated futures per customer: counts equal the conditional
    expectation (P(alive) x expected purchases if alive), discounted counts P(alive) x
    discounted purchases if alive, within 4 Monte Carlo standard errors."""
    _, pars, _ = LIMITS[prefix]
    f = {role: getattr(lim, f"{prefix}_{role}") for role in
         ("simulate_future", "probability_alive", "conditional_expected_purchases",
          "discounted_purchases_if_alive")}
    x, t_x, T = np.array([0.0, 2, 12]), np.array([0.0, 30.0, 50.0]), np.array([20.0, 38.0, 52.0])
    n, horizon, delta = 100_000, 52.0, 0.01
    draws = [np.full((1, n), v) for v in pars]
    count, disc = f["simulate_future"](*draws, x[:, None], t_x[:, None], T[:, None], horizon,
                                       delta, np.random.default_rng(1))
    assert count.shape == (3, n) and np.all(disc <= count)
    expected = f["conditional_expected_purchases"](*pars, x, t_x, T, horizon)
    discounted = (f["probability_alive"](*pars, x, t_x, T)
                  * f["discounted_purchases_if_alive"](*pars, x, T, horizon, delta))
    for sims, target in ((count, expected), (disc, discounted)):
        se = sims.std(axis=1) / np.sqrt(n)
        np.testing.assert_array_less(np.abs(sims.mean(axis=1) - target), 4 * se)


def _rate_if_alive(prefix, x, T):
    """The expected purchase rate ``u`` after ``T`` of a customer alive at ``T``, as a
    function of ``u``, by brute force: the latent variable given alive integrated by
    100-point Gauss quadrature for its distribution (generalized Gauss-Laguerre for
    ``lambda ~ Gamma(r+x, alpha+T)``, Gauss-Jacobi for ``p ~ Beta(a, b+x)``)."""
    if prefix == "point_p":
        nodes, weights = special.roots_genlaguerre(100, R + x - 1.0)
        lam = nodes / (ALPHA + T)
        return lambda u: weights @ (lam * np.exp(-P * lam * u)) / weights.sum()
    if prefix == "point_lam":
        nodes, weights = special.roots_jacobi(100, B + x - 1.0, A - 1.0)
        p = (1.0 + nodes) / 2.0
        return lambda u: weights @ (LAM * np.exp(-p * LAM * u)) / weights.sum()
    return lambda u: LAM * np.exp(-P * LAM * u)


@pytest.mark.parametrize("prefix", list(LIMITS))
def test_discounted_purchases_against_a_numeric_integral(prefix):
    """Discounted purchases if alive = the integral of ``exp(-delta u)`` times the
    expected purchase rate (brute force: latent variables integrated numerically); with
    ``delta = 0`` it is the conditional expectation over P(alive) on the same horizon."""
    _, pars, _ = LIMITS[prefix]
    disc = getattr(lim, f"{prefix}_discounted_purchases_if_alive")
    cond = getattr(lim, f"{prefix}_conditional_expected_purchases")
    alive = getattr(lim, f"{prefix}_probability_alive")
    for x, t_x, T in ((0.0, 0.0, 10.0), (3.0, 20.0, 40.0), (25.0, 70.0, 75.0)):
        for horizon, delta in ((52.0, 0.002), (104.0, 0.05), (10.0, 1.0)):
            rate = _rate_if_alive(prefix, x, T)
            numeric = integrate.quad(lambda u, d=delta, f=rate: np.exp(-d * u) * f(u), 0,
                                     horizon, epsabs=0, epsrel=1e-12, limit=200)[0]
            assert float(disc(*pars, x, T, horizon, delta)) == pytest.approx(numeric, rel=1e-9)
        at_zero = float(disc(*pars, x, T, 39.0, 0.0))
        assert at_zero == pytest.approx(float(cond(*pars, x, t_x, T, 39.0)
                                              / alive(*pars, x, t_x, T)), rel=1e-12)
        # and delta -> 0 is continuous (the quadrature path meets the closed form)
        assert float(disc(*pars, x, T, 39.0, 1e-12)) == pytest.approx(at_zero, rel=1e-9)


def test_discounted_point_p_quadrature_on_a_wide_grid():
    """The one-p discounted value (32-point quadrature on its cut concave log-integrand)
    against adaptive quadrature, r+x in [0.05, 5000], alpha+T in [0.5, 500], p in [1e-4,
    0.9], delta H to 30."""
    worst = 0.0
    for s in (0.05, 5.0, 5000.0):
        for beta in (0.5, 500.0):
            for p in (1e-4, 0.2, 0.9):
                for horizon, dh in ((1.0, 0.01), (52.0, 1.0), (520.0, 30.0)):
                    d = dh / horizon

                    def rate(u, d=d, s=s, beta=beta, p=p):
                        return np.exp(-d * u) * s / beta * (1 + p * u / beta) ** (-(s + 1))
                    pts = [horizon * q for q in (1e-6, 1e-4, 1e-2, 0.1)]
                    ref = integrate.quad(rate, 0, horizon, points=pts, limit=2000, epsabs=0,
                                         epsrel=1e-13)[0]
                    got = lim.point_p_discounted_purchases_if_alive(s, beta, p, 0.0, 0.0,
                                                                    horizon, d)
                    worst = max(worst, abs(got / ref - 1))
    assert worst < 1e-11


@pytest.mark.parametrize("prefix", list(LIMITS))
def test_gradient_matches_finite_differences(prefix, rng):
    cls, pars, _ = LIMITS[prefix]
    f = getattr(lim, f"{prefix}_log_likelihood")
    for _ in range(3):
        theta = np.log(pars) + rng.normal(0, 0.3, len(pars))
        if "p" in cls.param_names:  # a drop-out probability stays below 1
            i = cls.param_names.index("p")
            theta[i] = min(theta[i], np.log(0.9))
        _, g = f(*np.exp(theta), X, TX, TT, gradient=True)
        numeric = np.empty(len(theta))
        for j in range(len(theta)):
            h = np.zeros(len(theta))
            h[j] = 1e-5
            numeric[j] = (f(*np.exp(theta + h), X, TX, TT).sum()
                          - f(*np.exp(theta - h), X, TX, TT).sum()) / 2e-5
        np.testing.assert_allclose(g.sum(axis=1), numeric, rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize("prefix", list(LIMITS))
def test_pymc_graph_is_the_numpy_likelihood(prefix, rng, homogeneous):
    """The PyTensor graph PyMC samples equals the compressed numpy sum the MLE maximizes,
    value and gradient, at random points (the same likelihood function)."""
    import pytensor
    import pytensor.tensor as pt

    cls, pars, _ = LIMITS[prefix]
    model = cls()
    model._check_settings("mcmc")
    arrays, weights = model._prepare(homogeneous["dropout"])
    assert weights.sum() == len(homogeneous["dropout"])
    logs = {n: pt.dscalar(n) for n in cls.param_names}
    total = model._pymc_log_likelihood({n: pt.exp(v) for n, v in logs.items()}, arrays, weights)
    fn = pytensor.function(list(logs.values()), [total, *pytensor.grad(total, list(logs.values()))])
    data = homogeneous["dropout"]
    per_customer = getattr(lim, f"{prefix}_log_likelihood")
    for _ in range(4):
        theta = np.log(pars) + rng.normal(0, 0.3, len(pars))
        graph, *graph_grad = fn(*theta)
        numpy_total, numpy_grad = model._loglik_and_grad(theta, arrays, weights)
        assert graph == pytest.approx(numpy_total, rel=1e-10)
        np.testing.assert_allclose(graph_grad, numpy_grad, rtol=1e-8, atol=1e-6)
        # the compressed, weighted sum is the sum over customers
        uncompressed = per_customer(*np.exp(theta), data["frequency"].to_numpy(),
                                    data["recency"].to_numpy(), data["T"].to_numpy()).sum()
        assert numpy_total == pytest.approx(uncompressed, rel=1e-12)


# ------------------------------------------------------------------------------ fits
def simulate(n, lam, p, seed, holdout=0.0):
    """Customers observed 26-78 weeks: rates ``lam`` and drop-out probabilities ``p``
    given as a number (everyone the same) or a function ``(rng, n) -> values``."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(26.0, 78.0, n)
    lam = np.broadcast_to(lam(rng, n) if callable(lam) else lam, (n,)).astype(float)
    p = np.broadcast_to(p(rng, n) if callable(p) else p, (n,)).astype(float)
    return purchases_to_summary(lam, p, rng.geometric(p), T, holdout, "week", rng)


def gamma_rates(rng, n):  # r = 0.8, alpha = 10
    return rng.gamma(0.8, 1 / 10.0, n)


def beta_drops(rng, n):  # a = 0.8, b = 2.4
    return rng.beta(0.8, 2.4, n)


#: (rates, drop-out probabilities, seed): the apparel-panel symptom had 10,000-odd customers
DATASETS = {"dropout": (gamma_rates, P, 11), "rate": (LAM, beta_drops, 12),
            "both": (LAM, P, 13), "hetero": (gamma_rates, beta_drops, 14)}


@pytest.fixture(scope="module")
def homogeneous():
    return {k: simulate(10_000, lam, p, seed) for k, (lam, p, seed) in DATASETS.items()}


@pytest.fixture(scope="module")
def fits(homogeneous):
    return {k: BetaGeoModel(random_state=0).fit(d) for k, d in homogeneous.items()}


EXPECTED = {  # data: (limit class, mixings collapsed, simulated values of its parameters)
    "dropout": (BetaGeoHomogeneousDropoutModel, {"dropout"}, {"r": 0.8, "alpha": 10.0, "p": P}),
    "rate": (BetaGeoHomogeneousRateModel, {"purchase"}, {"lam": LAM, "a": 0.8, "b": 2.4}),
    "both": (BetaGeoHomogeneousModel, {"dropout", "purchase"}, {"lam": LAM, "p": P}),
}
NUMBER = r"(\d+\.\d{4})"
FACTS = {
    "dropout": rf"The drop-out probability after a purchase is the same for every customer: "
               rf"p = {NUMBER} \(95% interval {NUMBER}-{NUMBER}\)\.",
    "purchase": rf"The purchase rate while alive is the same for every customer: "
                rf"lam = {NUMBER} per week \(95% interval {NUMBER}-{NUMBER}\)\.",
}
GROW = {"dropout": "a and b", "purchase": "r and alpha"}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_homogeneous_data_turn_the_bgnbd_into_its_limit(kind, fits, homogeneous):
    model, data = fits[kind], homogeneous[kind]
    cls, collapsed, truth = EXPECTED[kind]
    assert type(model) is cls and model.param_names == tuple(truth)
    s = model.summary()
    for name, value in truth.items():  # recovers the simulated values
        assert abs(s.loc[name, "estimate"] - value) < 3 * s.loc[name, "se"], name
    assert model.params_.max() < 100  # no 1e6-sized parameters
    # the limit's own maximum likelihood: the same as fitting the limit directly
    direct = cls().fit(data)
    np.testing.assert_allclose(model.params_, direct.params_, rtol=1e-5)
    assert model.log_likelihood_ == pytest.approx(direct.log_likelihood_, rel=1e-10)
    b = model.boundary_
    assert s.attrs["boundary"] is b
    assert b["full_model"] == "BetaGeoModel" and b["limit_model"] == cls.__name__
    assert set(b["collapsed"]) == collapsed
    assert b["limit_log_likelihood"] == model.log_likelihood_
    lr = max(0.0, 2 * (b["full_log_likelihood"] - b["limit_log_likelihood"]))
    assert b["lr_statistic"] == pytest.approx(lr, abs=1e-9) and lr < LR_CRITICAL
    assert b["p_value"] == pytest.approx(boundary_p_value(lr)) and b["p_value"] > 0.05
    # the statement in words: one fact per collapsed mixing with the estimate and interval
    message = b["message"]
    for mixing in collapsed:
        m = re.search(FACTS[mixing], message)
        assert m, (mixing, message)
        name = "p" if mixing == "dropout" else "lam"
        assert [float(v) for v in m.groups()] == pytest.approx(
            s.loc[name, ["estimate", "lower", "upper"]].tolist(), abs=5e-5)
    them = "them" if len(collapsed) > 1 else "it"
    assert re.search(rf"Letting {them} differ between customers \(BetaGeoModel\) fits no better "
                     rf"\(likelihood-ratio statistic {b['lr_statistic']:.2f}, p-value "
                     rf"{b['p_value']:.2f}\)\. The fit uses .*\({cls.__name__}", message)
    pairs = [GROW[m] for m in b["collapsed"]]
    assert message.endswith(f"the BetaGeoModel's limit as {pairs[0]} grow without bound together."
                            if len(pairs) == 1 else
                            f"the BetaGeoModel's limit as {pairs[0]}, and {pairs[1]}, grow "
                            "without bound (each pair together).")


def test_heterogeneous_data_keep_the_bgnbd_and_refits_restore_it(fits, homogeneous):
    hetero = fits["hetero"]
    assert type(hetero) is BetaGeoModel and not hasattr(hetero, "boundary_")
    s = hetero.summary()
    for name, value in {"r": 0.8, "alpha": 10.0, "a": 0.8, "b": 2.4}.items():
        assert abs(s.loc[name, "estimate"] - value) < 3 * s.loc[name, "se"], name
    model = BetaGeoModel(random_state=0).fit(homogeneous["both"])
    assert type(model) is BetaGeoHomogeneousModel
    model.fit(homogeneous["hetero"])  # the same object, fitted again: the full model
    assert type(model) is BetaGeoModel and not hasattr(model, "boundary_")
    np.testing.assert_allclose(model.params_, hetero.params_, rtol=1e-9)


def test_a_limit_fitted_directly_collapses_further():
    """The one-p model on data with one rate too becomes the homogeneous model, and says
    that its own gamma collapsed."""
    data = simulate(5000, LAM, P, 21)
    model = BetaGeoHomogeneousDropoutModel().fit(data)
    assert type(model) is BetaGeoHomogeneousModel
    assert model.boundary_["full_model"] == "BetaGeoHomogeneousDropoutModel"
    assert model.boundary_["collapsed"] == ["purchase"]
    assert model.boundary_["message"].startswith(
        "The purchase rate while alive is the same for every customer: lam = ")
    assert model.boundary_["message"].endswith(
        "the BetaGeoHomogeneousDropoutModel's limit as r and alpha grow without bound together.")


def test_map_fit_of_a_limit_is_close_to_its_mle(homogeneous):
    """The default priors (p log-normal on the log scale, like the geometric churn
    model's) leave the estimates to the data."""
    data = homogeneous["both"]
    mle = BetaGeoHomogeneousModel().fit(data)
    map_ = BetaGeoHomogeneousModel().fit(data, method="map")
    np.testing.assert_allclose(map_.params_, mle.params_, rtol=2e-3)


# ------------------------------------------------------------------------------ downstream
@pytest.fixture(scope="module")
def holdout_fit():
    data = simulate(10_000, gamma_rates, P, 31, holdout=26.0)
    spend = simulate_spend(data["frequency"].to_numpy(), 6.0, 4.0, 15.0, random_state=3)
    data["monetary_value"] = np.nan_to_num(spend)
    model = BetaGeoModel(random_state=0).fit(data)
    gg = GammaGammaModel(random_state=0).fit(data)
    return model, gg, data


def test_downstream_works_on_the_limit_and_it_round_trips(holdout_fit, tmp_path):
    model, gg, data = holdout_fit
    assert type(model) is BetaGeoHomogeneousDropoutModel
    rows = data.head(400)
    clv = customer_lifetime_value(model, gg, rows, horizon="52 weeks", discount_rate=0.1,
                                  n_samples=100, random_state=0)
    assert np.isfinite(clv.to_numpy()).all() and len(clv) == 400
    assert (clv.expected_clv_lower <= clv.expected_clv_upper).all()
    assert (clv.clv_predictive_lower <= clv.clv_predictive_upper).all()
    assert (clv.expected_clv_upper > clv.expected_clv_lower).any()  # parameter uncertainty
    # the point value is P(alive) x discounted purchases if alive x spend
    params = model.point_params()
    disc = lim.point_p_discounted_purchases_if_alive(
        **params, frequency=rows["frequency"].to_numpy(), T=rows["T"].to_numpy(),
        horizon=52.0, delta=annual_rate_to_continuous(0.1, "week", "test"))
    np.testing.assert_allclose(clv.expected_clv,
                               clv.probability_alive * disc * clv.expected_spend, rtol=1e-6)
    score = evaluate_holdout(model, data, n_samples=200, random_state=0)
    m = score.metrics
    assert m.actual_total == data["holdout_frequency"].sum()
    # the right model: the holdout total within 4 standard deviations of its expectation
    # (the spread of the simulated total at the point estimate), and the randomized PIT
    # coverage of the 90% intervals at 90% (+-0.02, about 6 standard errors)
    futures, _ = lim.point_p_simulate_future(
        *(np.full((1, 200), params[k]) for k in ("r", "alpha", "p")),
        *(data[c].to_numpy()[:, None] for c in ("frequency", "recency", "T")), 26.0, 0.0,
        np.random.default_rng(5))
    assert abs(m.expected_total - m.actual_total) < 4 * futures.sum(axis=0).std()
    assert 0.88 < m.coverage < 0.92
    model.save(tmp_path / "limit")
    again = load_model(tmp_path / "limit")
    assert type(again) is BetaGeoHomogeneousDropoutModel
    assert again.boundary_ == model.boundary_
    pd.testing.assert_series_equal(again.probability_alive(rows), model.probability_alive(rows))
    pd.testing.assert_series_equal(again.expected_purchases(rows, 26.0),
                                   model.expected_purchases(rows, 26.0))
    pd.testing.assert_frame_equal(
        customer_lifetime_value(again, gg, rows, horizon="52 weeks", discount_rate=0.1,
                                n_samples=100, random_state=0), clv)


@pytest.mark.parametrize("kind", ["rate", "both"])
def test_the_other_limits_value_customers_and_round_trip(kind, fits, homogeneous, holdout_fit,
                                                         tmp_path):
    model, gg = fits[kind], holdout_fit[1]
    rows = homogeneous[kind].head(300).copy()
    rows["monetary_value"] = np.nan_to_num(
        simulate_spend(rows["frequency"].to_numpy(), 6.0, 4.0, 15.0, random_state=4))
    clv = customer_lifetime_value(model, gg, rows, horizon="52 weeks", discount_rate=0.1,
                                  n_samples=50, random_state=0)
    assert np.isfinite(clv.to_numpy()).all()
    assert (clv.expected_clv_lower <= clv.expected_clv_upper).all()
    assert (clv.clv_predictive_lower <= clv.clv_predictive_upper).all()
    model.save(tmp_path / kind)
    again = load_model(tmp_path / kind)
    assert type(again) is type(model) and again.boundary_ == model.boundary_
    pd.testing.assert_frame_equal(
        customer_lifetime_value(again, gg, rows, horizon="52 weeks", discount_rate=0.1,
                                n_samples=50, random_state=0), clv)
