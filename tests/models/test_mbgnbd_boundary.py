"""MBG/NBD at its boundary (DESIGN.md principle 8): the nested limits when the drop-out
beta, the purchase-rate gamma or both collapse to a point. Each limit formula against
the full model approaching the limit, closed forms against brute force and simulation,
the gradient and the PyMC graph, the fit becoming the limit on homogeneous data (and
not on heterogeneous data), and everything downstream on a limit model."""

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from clvmodels import (
    GammaGammaModel,
    ModifiedBetaGeoModel,
    customer_lifetime_value,
    evaluate_holdout,
    load_model,
)
from clvmodels.models.boundary import LR_CRITICAL
from clvmodels.models.purchase import mbgnbd as full
from clvmodels.models.purchase import mbgnbd_limits as lim
from clvmodels.models.purchase.mbgnbd import simulate_mbgnbd
from clvmodels.models.purchase.mbgnbd_limits import (
    ModifiedBetaGeoHomogeneousDropoutModel as HDropout,
)
from clvmodels.models.purchase.mbgnbd_limits import (
    ModifiedBetaGeoHomogeneousModel as Homogeneous,
)
from clvmodels.models.purchase.mbgnbd_limits import (
    ModifiedBetaGeoHomogeneousRateModel as HRate,
)
from clvmodels.simulate import purchases_to_summary, simulate_spend
from clvmodels.timeunits import annual_rate_to_continuous

R, ALPHA, P = 0.5248, 6.1831, 0.3  # gamma of the rates (CDNOW's), a drop-out probability
LAM, A, B = 0.09, 0.8914, 1.6140  # a purchase rate, CDNOW's drop-out beta
LIMITS = {HDropout: {"r": R, "alpha": ALPHA, "p": P}, HRate: {"lam": LAM, "a": A, "b": B},
          Homogeneous: {"lam": LAM, "p": P}}
# customers: no repeat purchase (young and old), a few, many, a heavy buyer
X = np.array([0, 0, 1, 2, 7, 26, 60.0])
TX = np.array([0, 0, 3.0, 30.43, 20, 31, 38.0])
TT = np.array([0.5, 39, 10, 38.86, 39, 31.5, 39])
CUST = {"frequency": X, "recency": TX, "T": TT}


def full_params(cls, c):
    """MBG/NBD parameters approaching the limit ``cls`` as ``c -> inf``: a = p c,
    b = (1 - p) c for a collapsing drop-out beta; r = c, alpha = c / lam for a
    collapsing rate gamma."""
    dropout = {"a": P * c, "b": (1 - P) * c} if cls in (HDropout, Homogeneous) else {"a": A, "b": B}
    rate = {"r": c, "alpha": c / LAM} if cls in (HRate, Homogeneous) else {"r": R, "alpha": ALPHA}
    return {**rate, **dropout}


def quantities(formulas, params):
    """Every formula of a model at ``params`` on the customers above, as arrays."""
    f = formulas
    k = np.arange(12)
    with np.errstate(invalid="ignore"):  # the full model's 2F1 terms past their range
        return _quantities(f, params, k)


def _quantities(f, params, k):
    return {
        "log_likelihood": f["log_likelihood"](**params, **CUST),
        "probability_alive": f["probability_alive"](**params, **CUST),
        "conditional_expected_purchases": f["conditional_expected_purchases"](**params, **CUST,
                                                                                t=39.0),
        "expected_purchases_new": f["expected_purchases_new"](**params, t=TT),
        "probability_of_purchases": f["probability_of_purchases"](**params, k=k, t=39.0),
        "discounted_0": f["discounted_purchases_if_alive"](**params, frequency=X, T=TT,
                                                           horizon=52.0, delta=0.0),
        "discounted": f["discounted_purchases_if_alive"](**params, frequency=X, T=TT,
                                                         horizon=52.0, delta=0.02),
    }


LOG_LIKELIHOOD = {HDropout: lim.mbgnbd_hdropout_log_likelihood,
                  HRate: lim.mbgnbd_hrate_log_likelihood,
                  Homogeneous: lim.mbgnbd_homogeneous_log_likelihood}


def formulas_of(cls):
    return {**cls.formulas, "log_likelihood": LOG_LIKELIHOOD[cls]}


FULL_FORMULAS = {**ModifiedBetaGeoModel.formulas, "log_likelihood": full.mbgnbd_log_likelihood}
#: where the full model's own formulas still evaluate at c, 2c, 4c, 8c: its 2F1 terms
#: return NaN once a + b or r reach a few thousand (the reason the limits exist)
START_C = {(HDropout, "conditional_expected_purchases"): 125.0, (HDropout, "discounted_0"): 125.0,
           (HDropout, "discounted"): 125.0}
for _q in ("conditional_expected_purchases", "expected_purchases_new", "discounted_0",
           "discounted"):
    START_C[(HRate, _q)] = 1000.0
#: what three Richardson steps leave: O(c^-4) at the starting c, and the full model's own
#: rounding (measured residuals: at most 5e-5, 8e-7 and 9e-9)
RICHARDSON_TOL = {125.0: 1e-3, 1000.0: 1e-5, 1e4: 1e-7}


def richardson(values):
    """The limit c -> inf of values at c, 2c, 4c, ... whose error is a power series in
    1/c: each step removes the next power."""
    v = list(values)
    power = 1
    while len(v) > 1:
        v = [(2**power * v[i + 1] - v[i]) / (2**power - 1) for i in range(len(v) - 1)]
        power += 1
    return v[0]


# ------------------------------------------------------------ the limits are limits
@pytest.mark.parametrize("cls", [HDropout, HRate, Homogeneous])
def test_each_formula_is_the_limit_of_the_full_model(cls):
    """At a = p c, b = (1-p) c and/or r = c, alpha = c/lam the full model differs from
    the limit by O(1/c): the difference halves when c doubles, and removing the powers
    of 1/c (Richardson) from the full model at c..8c lands on the limit."""
    limit = quantities(formulas_of(cls), LIMITS[cls])
    for name, value in limit.items():
        c0 = START_C.get((cls, name), 1e4)
        seq = [quantities(FULL_FORMULAS, full_params(cls, c0 * 2**i))[name] for i in range(4)]
        assert all(np.all(np.isfinite(s)) for s in seq), (name, c0)
        scale = 1.0 if name == "log_likelihood" else np.abs(value)  # log-likelihood: absolute
        err = [np.abs(s - value) / scale for s in seq]
        # where the first-order error stands out (not e.g. x = 0 under a collapsed beta,
        # where B(a, b+1)/B(a, b) = 1 - p exactly); the ratio's second-order part is
        # O(x/c), at most 0.025 for the heavy buyer at c = 125
        big = err[0] > 10 * RICHARDSON_TOL[c0]
        assert big.any(), name
        np.testing.assert_allclose(err[1][big] / err[0][big], 0.5, atol=0.03, err_msg=name)
        np.testing.assert_allclose(err[2][big] / err[1][big], 0.5, atol=0.03, err_msg=name)
        extrapolated = richardson(seq)
        assert np.max(np.abs(extrapolated - value) / scale) < RICHARDSON_TOL[c0], name


def test_full_model_close_to_its_limit_at_large_c():
    """The plain comparison at c = 1e5 and 1e6 where the full formulas still evaluate:
    differences O(1/c), below 4e3/c here (the heavy buyer's, x = 60: log G(r+x) - log G(r)
    - x log r = x (x-1) / (2r) + ..., 1.8e3/c)."""
    for cls in (HDropout, HRate, Homogeneous):
        limit = quantities(formulas_of(cls), LIMITS[cls])
        for c in (1e5, 1e6):
            near = quantities(FULL_FORMULAS, full_params(cls, c))
            for name in ("log_likelihood", "probability_alive", "probability_of_purchases",
                         "expected_purchases_new"):
                if name == "expected_purchases_new" and cls is HRate:
                    continue  # the full model's 2F1 is NaN there
                scale = 1.0 if name == "log_likelihood" else np.abs(limit[name])
                assert np.max(np.abs(near[name] - limit[name]) / scale) < 4e3 / c, (cls, name, c)


# ------------------------------------------------- closed forms against brute force
@pytest.mark.parametrize("cls", [HDropout, HRate, Homogeneous])
def test_new_customer_distribution_is_consistent(cls):
    f, pars = cls.formulas, LIMITS[cls]
    k = np.arange(600)
    for t in (5.0, 52.0, 300.0):
        pmf = f["probability_of_purchases"](**pars, k=k, t=t)
        assert np.all(pmf >= 0) and pmf.sum() == pytest.approx(1.0, abs=1e-10)
        assert pmf @ k == pytest.approx(float(f["expected_purchases_new"](**pars, t=t)),
                                        rel=1e-9)
    # no purchase by t: dropped out right after the first purchase, or alive and no
    # purchase, E[exp(-lambda t)]
    stay = 1 - pars["p"] if "p" in pars else pars["b"] / (pars["a"] + pars["b"])
    t = np.array([0.0, 1.0, 52.0, 1e9])
    none = (pars["alpha"] / (pars["alpha"] + t)) ** pars["r"] if "r" in pars else np.exp(
        -pars["lam"] * t)
    np.testing.assert_allclose(f["probability_of_purchases"](**pars, k=0, t=t),
                               1 - stay + stay * none, rtol=1e-12)


@pytest.mark.parametrize("cls", [HDropout, HRate, Homogeneous])
def test_likelihood_is_a_density_in_x_and_t_x(cls):
    """L summed over x and integrated over the purchase times (t_x^(x-1)/(x-1)! for the
    earlier x - 1 of them) is 1 for a customer of age T."""
    ll, pars = formulas_of(cls)["log_likelihood"], LIMITS[cls]
    T = 10.0
    total = float(np.exp(ll(**pars, frequency=0, recency=0.0, T=T)))
    for x in range(1, 80):
        def density(t, x=x):
            return np.exp(ll(**pars, frequency=x, recency=t, T=T) + (x - 1) * np.log(t)
                          - special.gammaln(x))

        total += integrate.quad(density, 0.0, T, epsabs=1e-14)[0]
    assert total == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("cls", [HDropout, HRate, Homogeneous])
def test_discounted_at_zero_rate_is_the_conditional_expectation(cls):
    f, pars = cls.formulas, LIMITS[cls]
    pa = f["probability_alive"](**pars, **CUST)
    for H in (1.0, 39.0, 520.0):
        e0 = f["discounted_purchases_if_alive"](**pars, frequency=X, T=TT, horizon=H, delta=0.0)
        np.testing.assert_allclose(e0 * pa, f["conditional_expected_purchases"](**pars, **CUST,
                                                                                 t=H),
                                   rtol=1e-12)
        np.testing.assert_allclose(f["discounted_purchases_if_alive"](
            **pars, frequency=X, T=TT, horizon=H, delta=1e-12), e0, rtol=1e-9)
    # a customer seen only at her first purchase: P(alive) = survival of that chance
    stay = 1 - pars["p"] if "p" in pars else pars["b"] / (pars["a"] + pars["b"])
    assert f["probability_alive"](**pars, frequency=0, recency=0.0, T=0.0) == pytest.approx(stay)


def _integrate(fn, lo, hi):
    """quad over geometric pieces of [lo, hi] (integrands steep at the left end)."""
    edges = np.concatenate([[lo], lo + np.geomspace(1e-12, 1.0, 20) * (hi - lo)])
    with np.errstate(divide="ignore"):
        return sum(integrate.quad(fn, a, b, epsabs=0.0, epsrel=1e-11, limit=200)[0]
                   for a, b in itertools.pairwise(edges))


@pytest.mark.parametrize("delta", [0.0, 0.002, 0.02, 0.5])
def test_hdropout_discounted_matches_integration_by_parts(delta):
    """int_0^H exp(-delta u) dE(u) = exp(-delta H) E(H) + delta int_0^H exp(-delta u) E(u)
    du with the undiscounted closed form E(u), for rates and horizons from tiny to huge."""
    disc = lim.mbgnbd_hdropout_discounted_purchases_if_alive
    for r, alpha, p, x, T, H in [(R, ALPHA, P, 2, 38.86, 104.0), (0.05, 0.1, 0.9, 0, 0.5, 1000.0),
                                 (5.0, 300.0, 0.001, 1000, 39.0, 52.0),
                                 (0.5, 6.0, 0.05, 60, 39.0, 520.0)]:
        def E(u, r=r, alpha=alpha, p=p, x=x, T=T):
            return float(disc(r, alpha, p, x, T, u, 0.0))

        brute = np.exp(-delta * H) * E(H) + delta * _integrate(lambda u: np.exp(-delta * u)
                                                               * E(u), 0.0, H)
        assert float(disc(r, alpha, p, x, T, H, delta)) == pytest.approx(brute, rel=1e-9), (
            r, alpha, p, x, H)


@pytest.mark.parametrize("delta", [0.0, 0.002, 0.02, 0.5])
def test_hrate_discounted_matches_the_beta_average(delta):
    """E over p ~ Beta(a, b+x+1) of a live customer's lam (1 - exp(-(delta + p lam) H)) /
    (delta + p lam), integrated over p, for small and large a, a = 1, many purchases
    and lam H up to 5e4 (where the closed form through 1F1(a-1; ...) cancels badly)."""
    disc = lim.mbgnbd_hrate_discounted_purchases_if_alive
    for lam, a, b, x, H in [(LAM, A, B, 2, 52.0), (0.1, 0.05, 20.0, 0, 52.0),
                            (3.0, 1.0, 1.0, 5, 1000.0), (50.0, 40.0, 0.05, 200, 1000.0),
                            (0.001, 1.0, 2000.0, 0, 1.0), (0.3, 3.0, 0.5, 1000, 260.0)]:
        post = b + x + 1

        def integrand(p, q, lam=lam, a=a, post=post, H=H):  # p + q = 1, each exact
            c = delta + p * lam
            value = lam * H * (-np.expm1(-c * H) / (c * H)) if c > 0 else lam * H
            return value * np.exp((a - 1) * np.log(p) + (post - 1) * np.log(q)
                                  - special.betaln(a, post))

        brute = (_integrate(lambda p: integrand(p, 1 - p), 0.0, 0.5)
                 + _integrate(lambda q: integrand(1 - q, q), 0.0, 0.5))
        got = float(disc(lam, a, b, x, 39.0, H, delta))
        assert got == pytest.approx(brute, rel=1e-9), (lam, a, b, x, H)


def test_homogeneous_discounted_matches_the_integral():
    disc = lim.mbgnbd_homogeneous_discounted_purchases_if_alive
    for lam, p, H, delta in [(LAM, P, 52.0, 0.02), (2.0, 0.9, 1000.0, 0.5), (1e-3, 1e-3, 1.0, 0.0),
                             (0.3, 0.2, 260.0, 0.002)]:
        brute = _integrate(lambda u, lam=lam, p=p, delta=delta: lam * np.exp(
            -(delta + p * lam) * u), 0.0, H)
        assert float(disc(lam, p, 3, 39.0, H, delta)) == pytest.approx(brute, rel=1e-10)


@pytest.mark.parametrize("cls", [HDropout, HRate, Homogeneous])
def test_simulated_futures_match_the_expectations(cls, rng):
    """One parameter point: the means of the simulated counts and discounted counts are
    P(alive) x the conditional expectation and P(alive) x discounted purchases if alive,
    within 4 Monte Carlo standard errors (x = 0 customers included)."""
    pars, f, n = LIMITS[cls], cls.formulas, 100_000
    cust = {"frequency": np.array([0.0, 0.0, 2, 10]), "recency": np.array([0.0, 0.0, 30.43, 35]),
            "T": np.array([0.0, 20.0, 38.86, 39])}
    delta = annual_rate_to_continuous(0.2, "week")
    grid = {k: np.full((4, n), v) for k, v in pars.items()}
    count, disc = f["simulate_future"](**grid, **{c: v[:, None] for c, v in cust.items()},
                                       horizon=52.0, delta=delta, rng=rng)
    pa = f["probability_alive"](**pars, **cust)
    expected = {"count": f["conditional_expected_purchases"](**pars, **cust, t=52.0),
                "discounted": pa * f["discounted_purchases_if_alive"](
                    **pars, frequency=cust["frequency"], T=cust["T"], horizon=52.0, delta=delta)}
    for name, s in (("count", count), ("discounted", disc)):
        se = s.std(axis=1) / np.sqrt(n)
        assert (np.abs(s.mean(axis=1) - expected[name]) < 4 * se).all(), name
    # just acquired (x = 0, T = 0): she buys within the horizon if she survived the
    # drop-out right after her first purchase and her rate brings a purchase
    stay = 1 - pars["p"] if "p" in pars else pars["b"] / (pars["a"] + pars["b"])
    none = (pars["alpha"] / (pars["alpha"] + 52.0)) ** pars["r"] if "r" in pars else np.exp(
        -pars["lam"] * 52.0)
    share = stay * (1 - none)
    assert abs((count[0] > 0).mean() - share) < 4 * np.sqrt(share * (1 - share) / n)


def test_prediction_draws_past_one_read_as_one():
    """A draw of the log-normal approximation with p > 1 (outside the parameter space)
    predicts as p = 1: nobody is alive after a purchase."""
    for cls, pars in ((HDropout, {"r": R, "alpha": ALPHA}), (Homogeneous, {"lam": LAM})):
        f = cls.formulas
        over = f["conditional_expected_purchases"](**pars, p=np.array([1.2]), **CUST, t=39.0)
        np.testing.assert_array_equal(over, f["conditional_expected_purchases"](
            **pars, p=np.array([1.0]), **CUST, t=39.0))
        assert np.all(f["probability_alive"](**pars, p=1.2, **CUST) == 0.0)


# -------------------------------------------------------- gradient and PyMC graph
def _sim(n, lam, p, seed, holdout=0.0):
    """MBG/NBD customers with the given per-customer (or common) rate and drop-out
    probability, as :func:`simulate_mbgnbd` draws them (drop-out right after the
    first purchase too), observed for 26-78 weeks."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(26.0, 78.0, n)
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (n,)).copy()
    p = np.broadcast_to(np.asarray(p, dtype=float), (n,)).copy()
    last = rng.geometric(p) - 1
    return purchases_to_summary(lam, p, last, T, holdout, "week", rng)


@pytest.fixture(scope="module")
def small_data():
    rng = np.random.default_rng(3)
    return _sim(1500, rng.gamma(0.8, 1 / 4.0, 1500), rng.beta(1.0, 3.0, 1500), 4)


@pytest.mark.parametrize("cls", [HDropout, HRate, Homogeneous])
def test_gradient_matches_central_differences(cls, small_data, rng):
    model = cls()
    arrays, weights = model._prepare(small_data)
    center = np.log(list(LIMITS[cls].values()))
    for _ in range(3):
        theta = center + rng.normal(0, 0.3, len(center))
        if "p" in cls.param_names:
            theta[-1] = min(theta[-1], np.log(0.9))
        _, g = model._loglik_and_grad(theta, arrays, weights)
        h = 1e-5
        numeric = [(model._loglik_and_grad(theta + h * e, arrays, weights)[0]
                    - model._loglik_and_grad(theta - h * e, arrays, weights)[0]) / (2 * h)
                   for e in np.eye(len(theta))]
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("cls", [HDropout, HRate, Homogeneous])
def test_pymc_graph_is_the_mle_likelihood(cls, small_data, rng):
    """The PyTensor graph PyMC samples equals the numpy sum the MLE maximizes, value
    and gradient, to 1e-8."""
    import pytensor
    import pytensor.tensor as pt

    model = cls()
    model._check_settings("mcmc")
    arrays, weights = model._prepare(small_data)
    logs = [pt.dscalar(n) for n in cls.param_names]
    total = model._pymc_log_likelihood({n: pt.exp(v) for n, v in zip(cls.param_names, logs)},
                                       arrays, weights)
    f = pytensor.function(logs, [total, *pytensor.grad(total, logs)])
    for _ in range(4):
        theta = np.log(list(LIMITS[cls].values())) + rng.normal(0, 0.5, len(logs))
        if "p" in cls.param_names:
            theta[-1] = min(theta[-1], np.log(0.95))
        graph, *graph_grad = f(*theta)
        numpy_total, numpy_grad = model._loglik_and_grad(theta, arrays, weights)
        assert graph == pytest.approx(numpy_total, rel=1e-8, abs=1e-8)
        np.testing.assert_allclose(graph_grad, numpy_grad, rtol=1e-8, atol=1e-8)


def test_optimiser_meets_a_wall_at_p_one():
    """Past p = 1 (undefined) the optimiser sees a finite, falling continuation, so fits
    with a large drop-out probability converge (a non-finite value stopped them)."""
    data = _sim(2000, 0.3, 0.9, 11)
    model = Homogeneous()
    arrays, weights = model._prepare(data)
    lam = np.log(0.3)
    below, _ = model._loglik_and_grad(np.array([lam, np.log(1 - 2e-6)]), arrays, weights)
    values = [model._loglik_and_grad(np.array([lam, lp]), arrays, weights) for lp in (0.01, 0.5)]
    assert all(np.isfinite(v) and np.all(np.isfinite(g)) and g[-1] < 0 for v, g in values)
    assert values[1][0] < values[0][0] < below
    fitted = Homogeneous().fit(data)
    s = fitted.summary()
    assert abs(s.loc["p", "estimate"] - 0.9) < 4 * s.loc["p", "se"]
    fitted = HDropout().fit(_sim(2000, np.random.default_rng(1).gamma(0.8, 0.25, 2000), 0.9, 12))
    assert 0.85 < fitted.params_["p"] < 0.95


def test_map_fit_with_the_log_normal_prior_on_p():
    """The default prior on p is LogNormal(-2, 2) on the log scale, like the sBG's
    geometric limit: MAP stays next to the MLE with many customers."""
    data = _sim(3000, 0.3, 0.2, 13)
    mle, map_ = Homogeneous().fit(data), Homogeneous().fit(data, method="map")
    np.testing.assert_allclose(map_.params_, mle.params_, rtol=0.01)
    assert map_.params_["p"] < 1


# ------------------------------------------------------------------ the boundary
N = 6000


@pytest.fixture(scope="module")
def hdropout_data():
    rng = np.random.default_rng(21)
    return _sim(N, rng.gamma(0.8, 1 / 4.0, N), 0.2, 22, holdout=39.0)


@pytest.fixture(scope="module")
def hrate_data():
    rng = np.random.default_rng(23)
    return _sim(N, 0.3, rng.beta(1.0, 3.0, N), 24, holdout=39.0)


@pytest.fixture(scope="module")
def homogeneous_data():
    return _sim(N, 0.3, 0.2, 25, holdout=39.0)


@pytest.fixture(scope="module")
def fits(hdropout_data, hrate_data, homogeneous_data):
    return {name: ModifiedBetaGeoModel(random_state=0).fit(data) for name, data in
            (("dropout", hdropout_data), ("purchase", hrate_data),
             ("both", homogeneous_data))}


def _check_record(model, full_name, collapsed, unit="week"):
    b = model.boundary_
    assert b["full_model"] == full_name and b["limit_model"] == type(model).__name__
    assert b["collapsed"] == collapsed
    assert 0 <= b["lr_statistic"] < LR_CRITICAL and 0.05 < b["p_value"] <= 0.5
    assert b["lr_statistic"] == pytest.approx(
        max(0.0, 2 * (b["full_log_likelihood"] - b["limit_log_likelihood"])))
    assert b["limit_log_likelihood"] == model.log_likelihood_
    s = model.summary()
    assert s.attrs["boundary"] is b
    assert s["estimate"].max() < 100  # no parameter ran off to 1e6
    facts = {"dropout": r"The drop-out probability after a purchase is the same for every "
                        r"customer: p = (0\.\d{4}) \(95% interval (0\.\d{4})-(0\.\d{4})\)\. ",
             "purchase": rf"The purchase rate while alive is the same for every customer: "
                         rf"lam = (0\.\d{{4}}) per {unit} \(95% interval (0\.\d{{4}})-"
                         rf"(0\.\d{{4}})\)\. "}
    pattern = "^" + "".join(facts[m] for m in collapsed) + (
        rf"Letting (it|them) differ between customers \({full_name}\) fits no better "
        rf"\(likelihood-ratio statistic {b['lr_statistic']:.2f}, p-value {b['p_value']:.2f}\)\. "
        rf"The fit uses the homogeneous[- a-z/]* MBG/NBD model, the limit of {full_name} as ")
    match = re.search(pattern, b["message"])
    assert match, b["message"]
    numbers = [g for g in match.groups() if g not in ("it", "them")]
    for i, mixing in enumerate(collapsed):
        row = s.loc["p" if mixing == "dropout" else "lam"]
        np.testing.assert_allclose([float(v) for v in numbers[3 * i:3 * i + 3]],
                                   row[["estimate", "lower", "upper"]].to_numpy(dtype=float),
                                   atol=5e-5)
    return s


def test_homogeneous_dropout_becomes_its_limit(fits, hdropout_data):
    model = fits["dropout"]
    assert type(model) is HDropout and model.param_names == ("r", "alpha", "p")
    s = _check_record(model, "ModifiedBetaGeoModel", ["dropout"])
    assert model.boundary_["message"].endswith("as a and b grow without bound together.")
    for name, truth in (("p", 0.2), ("r", 0.8), ("alpha", 4.0)):
        assert abs(s.loc[name, "estimate"] - truth) < 4 * s.loc[name, "se"], name
    # the limit's estimate is its own maximum-likelihood fit on the same data
    direct = HDropout().fit(hdropout_data)
    np.testing.assert_allclose(model.params_, direct.params_, rtol=1e-6)


def test_homogeneous_rate_becomes_its_limit(fits, hrate_data):
    model = fits["purchase"]
    assert type(model) is HRate and model.param_names == ("lam", "a", "b")
    s = _check_record(model, "ModifiedBetaGeoModel", ["purchase"])
    assert model.boundary_["message"].endswith("as r and alpha grow without bound together.")
    for name, truth in (("lam", 0.3), ("a", 1.0), ("b", 3.0)):
        assert abs(s.loc[name, "estimate"] - truth) < 4 * s.loc[name, "se"], name
    np.testing.assert_allclose(model.params_, HRate().fit(hrate_data).params_, rtol=1e-6)


def test_no_heterogeneity_at_all_collapses_both(fits, homogeneous_data):
    model = fits["both"]
    assert type(model) is Homogeneous and model.param_names == ("lam", "p")
    s = _check_record(model, "ModifiedBetaGeoModel", model.boundary_["collapsed"])
    assert set(model.boundary_["collapsed"]) == {"dropout", "purchase"}
    assert re.search(r"as (a and b|r and alpha) grow without bound together, and so do "
                     r"(r and alpha|a and b)\.$", model.boundary_["message"])
    for name, truth in (("lam", 0.3), ("p", 0.2)):
        assert abs(s.loc[name, "estimate"] - truth) < 4 * s.loc[name, "se"], name
    # a limit fitted directly collapses further by itself
    nested = HDropout(time_unit="week").fit(homogeneous_data)
    assert type(nested) is Homogeneous
    _check_record(nested, "ModifiedBetaGeoHomogeneousDropoutModel", ["purchase"])
    np.testing.assert_allclose(nested.params_, model.params_, rtol=1e-6)


def test_heterogeneous_data_keep_the_full_model(hdropout_data):
    n = 6000
    T = np.random.default_rng(26).uniform(26.0, 78.0, n)
    data = simulate_mbgnbd(n, 0.8, 4.0, 1.0, 3.0, T=T, random_state=27)
    model = ModifiedBetaGeoModel(random_state=0).fit(data)
    assert type(model) is ModifiedBetaGeoModel and not hasattr(model, "boundary_")
    s = model.summary()
    assert "boundary" not in s.attrs
    for name, truth in zip(("r", "alpha", "a", "b"), (0.8, 4.0, 1.0, 3.0)):
        assert abs(s.loc[name, "estimate"] - truth) < 4 * s.loc[name, "se"], name
    # refitting the same object on homogeneous drop-out data makes it the limit, and back
    model.fit(hdropout_data)
    assert type(model) is HDropout
    model.fit(data)
    assert type(model) is ModifiedBetaGeoModel and not hasattr(model, "boundary_")


# ----------------------------------------------------------------- downstream
@pytest.mark.parametrize("key", ["dropout", "purchase", "both"])
def test_downstream_works_on_the_limit_and_it_round_trips(key, fits, hdropout_data, hrate_data,
                                                          homogeneous_data, tmp_path):
    model = fits[key]
    data = {"dropout": hdropout_data, "purchase": hrate_data, "both": homogeneous_data}[key]
    rows = data.head(300).copy()
    spend = simulate_spend(data["frequency"].to_numpy(), 6.0, 4.0, 15.0, random_state=1)
    data = data.assign(monetary_value=np.nan_to_num(spend))
    rows["monetary_value"] = data["monetary_value"].head(300)
    gg = GammaGammaModel(random_state=0).fit(data[data["frequency"] > 0])
    clv = customer_lifetime_value(model, gg, rows, horizon="52 weeks", discount_rate=0.1,
                                  n_draws=50, n_samples=100, random_state=0)
    assert np.isfinite(clv.to_numpy()).all()
    assert (clv.expected_clv_lower <= clv.expected_clv_upper).all()
    assert (clv.clv_predictive_lower <= clv.clv_predictive_upper).all()
    assert ((clv.expected_clv_lower < clv.expected_clv)
            & (clv.expected_clv < clv.expected_clv_upper)).mean() > 0.9
    np.testing.assert_allclose(clv.expected_purchases, model.expected_purchases(rows, 52.0),
                               rtol=1e-12)
    score = evaluate_holdout(model, data.head(2000), n_samples=200, random_state=0)
    m = score.metrics
    assert m.actual_total == data["holdout_frequency"].head(2000).sum()
    assert abs(m.aggregate_error) < 0.1 and 0.8 < m.coverage < 0.97
    model.save(tmp_path / "limit")
    again = load_model(tmp_path / "limit")
    assert type(again) is type(model)
    assert again.boundary_["message"] == model.boundary_["message"]
    pd.testing.assert_series_equal(again.params_, model.params_, check_exact=True)
    for method, args in (("expected_purchases", (rows, 39.0)), ("probability_alive", (rows,))):
        pd.testing.assert_series_equal(getattr(again, method)(*args),
                                       getattr(model, method)(*args), check_exact=True)
    np.testing.assert_array_equal(again.probability_of_purchases(np.arange(5), 39.0),
                                  model.probability_of_purchases(np.arange(5), 39.0))
