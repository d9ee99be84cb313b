"""The Pareto/NBD's nested limits (clvmodels.models.purchase.pnbd_limits): each formula
is the full model's at a point approaching the limit, the closed forms agree with
brute force and simulation, gradients and the PyMC graph agree with the likelihood,
and a Pareto/NBD fit on homogeneous data becomes the right limit (DESIGN.md
principle 8), with everything downstream working on it."""

import copy
import re

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from clvmodels import (
    GammaGammaModel,
    ParetoNBDModel,
    customer_lifetime_value,
    evaluate_holdout,
    load_model,
)
from clvmodels.datasets import load_cdnow_summary
from clvmodels.models.boundary import LR_CRITICAL
from clvmodels.models.purchase import pnbd
from clvmodels.models.purchase.pnbd_limits import (
    ParetoNBDHomogeneousDropoutModel,
    ParetoNBDHomogeneousModel,
    ParetoNBDHomogeneousRateModel,
)

MU = (0.55, 10.6, 0.05)  # r, alpha, mu: one drop-out rate
LAM = (0.08, 0.6, 11.7)  # lam, s, beta: one purchase rate
BOTH = (0.08, 0.05)  # lam, mu
KINDS = ("dropout", "purchase", "both")
CLASS = {"dropout": ParetoNBDHomogeneousDropoutModel, "purchase": ParetoNBDHomogeneousRateModel,
         "both": ParetoNBDHomogeneousModel}
PARAMS = {"dropout": MU, "purchase": LAM, "both": BOTH}


def full_params(kind, c):
    """Pareto/NBD parameters approaching the limit: the collapsing gamma's shape ``c``
    and rate ``c / mean`` (mean fixed)."""
    if kind == "dropout":
        r, alpha, mu = MU
        return r, alpha, c, c / mu
    if kind == "purchase":
        lam, s, beta = LAM
        return c, c / lam, s, beta
    lam, mu = BOTH
    return c, c / lam, c, c / mu


def formula(kind, role):
    return CLASS[kind].formula(role)


def call(kind, role, args, params=None):
    """The limit's formula at its parameters (by name, as the prediction code calls it)."""
    names = CLASS[kind].param_names
    return formula(kind, role)(**dict(zip(names, PARAMS[kind] if params is None else params)),
                               **args)


def first_order_bound(kind, x, horizon):
    """A bound on the O(1/c) relative error times ``c``: expanding the collapsing
    gamma around its mean, ``(1 + u/beta')^-s = e^{-mu u} (1 + O((mu u)^2 / s))`` and
    ``G(r+x)/G(r) alpha^r (alpha+u)^-(r+x) = lam^x e^{-lam u} (1 + O(((x - lam u)^2 +
    x) / r))``; the coefficients are at most 1/2."""
    lam = {"dropout": 0.0, "purchase": LAM[0], "both": BOTH[0]}[kind]
    mu = {"dropout": MU[2], "purchase": 0.0, "both": BOTH[1]}[kind]
    purchase = (1.0 + x + lam * horizon) ** 2 if kind != "dropout" else 0.0
    dropout = (1.0 + mu * horizon) ** 2 if kind != "purchase" else 0.0
    return purchase + dropout


# customers: none, few and many purchases, last purchase early, late and at T
X = np.array([0.0, 1, 2, 5, 20, 0, 3, 50, 7])
T = np.array([39.0, 39, 38.86, 50, 80, 10, 5, 100, 20])
TX = np.array([0.0, 3, 30.43, 49, 40, 0, 4.9, 99, 20])
CUST = {"frequency": X, "recency": TX, "T": T}


# ------------------------------------------------------------ the limit of the full model
@pytest.mark.parametrize("kind", KINDS)
def test_each_formula_is_the_full_models_limit(kind):
    """At shape c = 1e5, 1e6, 1e7 every Pareto/NBD formula is within the first-order
    bound / c of the limit's (measured: at most half of it), and the error falls
    tenfold from c = 1e5 to 1e6 (first order, so no O(1) discrepancy hides in it)."""
    t, H, k = 52.0, 52.0, np.arange(31.0)
    cases = [  # (role, customer arguments, bound of c x relative error)
        ("log_likelihood", None, first_order_bound(kind, X, T)),
        ("probability_alive", CUST, first_order_bound(kind, X, T)),
        ("conditional_expected_purchases", {**CUST, "t": t}, first_order_bound(kind, X, T + t)),
        ("expected_purchases_new", {"t": t}, first_order_bound(kind, 0.0, t)),
        ("probability_of_purchases", {"k": k, "t": t}, first_order_bound(kind, k, t)),
        ("discounted_purchases_if_alive", {"frequency": X, "T": T, "horizon": H, "delta": 0.01},
         first_order_bound(kind, X, T + H)),
        ("discounted_purchases_if_alive", {"frequency": X, "T": T, "horizon": H, "delta": 0.0},
         first_order_bound(kind, X, T + H)),
    ]
    names = CLASS[kind].param_names
    for role, args, bound in cases:
        errors = []
        for c in (1e5, 1e6, 1e7):
            full = dict(zip(ParetoNBDModel.param_names, full_params(kind, c)))
            if role == "log_likelihood":  # log L: the difference is L's relative error
                limit_ll = CLASS[kind]._loglik(*PARAMS[kind], X, TX, T)
                err = np.abs(pnbd.pnbd_log_likelihood(*full.values(), X, TX, T) - limit_ll)
            else:
                ours = formula(kind, role)(**dict(zip(names, PARAMS[kind])), **args)
                theirs = ParetoNBDModel.formula(role)(**full, **args)
                err = np.abs(theirs / ours - 1.0)
            np.testing.assert_array_less(err, bound / c, err_msg=f"{role} at c = {c:g}")
            errors.append(err.max())
        if errors[0] > 1e-9:
            assert 8.0 < errors[0] / errors[1] < 12.5, (role, errors)


# --------------------------------------------------- closed forms against brute force
def reference_probability_of_purchases(kind, k, t):
    """P(X(t) = k) by adaptive quadrature of the death-time mixture in the original time
    variable: alive at t with k purchases, or died at tau < t after k."""
    if kind == "dropout":
        r, alpha, mu = MU

        def count(tau):  # NB_k(tau)
            return np.exp(special.gammaln(r + k) - special.gammaln(r) - special.gammaln(k + 1)
                          + r * np.log(alpha / (alpha + tau)) + special.xlogy(k, tau / (alpha + tau)))

        def death(tau):
            return mu * np.exp(-mu * tau)

        alive = np.exp(-mu * t)
    else:
        lam = LAM[0] if kind == "purchase" else BOTH[0]

        def count(tau):
            return np.exp(special.xlogy(k, lam * tau) - lam * tau - special.gammaln(k + 1))

        if kind == "purchase":
            _, s, beta = LAM

            def death(tau):
                return s / beta * (1 + tau / beta) ** -(s + 1)

            alive = (1 + t / beta) ** -s
        else:
            mu = BOTH[1]

            def death(tau):
                return mu * np.exp(-mu * tau)

            alive = np.exp(-mu * t)
    points = [t * 10.0**-j for j in range(12, 0, -1)]
    dead = integrate.quad(lambda tau: count(tau) * death(tau), 0, t, points=points, epsabs=0.0,
                          epsrel=1e-13, limit=500)[0]
    return count(t) * alive + dead


@pytest.mark.parametrize("kind", KINDS)
def test_probability_of_purchases_is_a_distribution_with_the_right_mean(kind):
    """Sums to 1 (to 1e-10), its mean is the new-customer expectation (to 1e-9), and
    each value matches the mixture by adaptive quadrature (to 1e-9)."""
    for t in (52.0, 500.0):
        k = np.arange(4000.0)
        p = call(kind, "probability_of_purchases", {"k": k, "t": t})
        assert np.all(p >= 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-10)
        mean = call(kind, "expected_purchases_new", {"t": t})
        assert (k * p).sum() == pytest.approx(float(mean), rel=1e-9)
        few = np.array([0, 1, 2, 5, 30])
        np.testing.assert_allclose(p[few], [reference_probability_of_purchases(kind, int(i), t)
                                            for i in few], rtol=1e-9)
    # at t = 0 nobody has bought yet
    np.testing.assert_array_equal(call(kind, "probability_of_purchases",
                                       {"k": np.arange(3.0), "t": 0.0}), [1.0, 0.0, 0.0])


def survival_if_alive(kind, T_):
    """Survival u time units after T of a customer alive at T, and her expected
    purchase rate (given alive: lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T))."""
    if kind == "dropout":
        return lambda u, x: (MU[0] + x) / (MU[1] + T_) * np.exp(-MU[2] * u)
    if kind == "purchase":
        return lambda u, x: LAM[0] * (1 + u / (LAM[2] + T_)) ** -LAM[1]
    return lambda u, x: BOTH[0] * np.exp(-BOTH[1] * u)


@pytest.mark.parametrize("kind", KINDS)
def test_discounted_purchases(kind):
    """Zero rate: the conditional expectation over P(alive) (to 1e-12); positive rate:
    the integral of the expected purchase rate times survival times discount by adaptive
    quadrature (to 1e-11)."""
    e0 = call(kind, "discounted_purchases_if_alive",
              {"frequency": X, "T": T, "horizon": 52.0, "delta": 0.0})
    cond = call(kind, "conditional_expected_purchases", {**CUST, "t": 52.0})
    alive = call(kind, "probability_alive", CUST)
    np.testing.assert_allclose(e0 * alive, cond, rtol=1e-12)
    for xi, Ti, H, delta in [(2.0, 38.86, 52.0, 0.01), (0.0, 10.0, 500.0, 0.002),
                             (30.0, 70.0, 5.0, 0.5), (1.0, 1e4, 1e4, 0.001)]:
        rate = survival_if_alive(kind, Ti)
        ref = integrate.quad(lambda u: rate(u, xi) * np.exp(-delta * u), 0, H, epsabs=0.0,
                             epsrel=1e-13, limit=200)[0]
        got = call(kind, "discounted_purchases_if_alive",
                   {"frequency": xi, "T": Ti, "horizon": H, "delta": delta})
        assert got == pytest.approx(ref, rel=1e-11)
    assert call(kind, "discounted_purchases_if_alive",
                {"frequency": 2.0, "T": 10.0, "horizon": 0.0, "delta": 0.1}) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_simulated_futures_match_the_expectations(kind, rng):
    """Means of 100,000 simulated futures per customer: counts equal the conditional
    expectation, discounted counts P(alive) x discounted purchases if alive (within 4
    Monte Carlo standard errors)."""
    n = 100_000
    rows = {"frequency": np.array([[0.0], [2], [10]]), "recency": np.array([[0.0], [30.43], [35]]),
            "T": np.array([[20.0], [38.86], [39]])}
    params = {k: np.full((1, n), v) for k, v in zip(CLASS[kind].param_names, PARAMS[kind])}
    simulate = formula(kind, "simulate_future")
    count, disc = simulate(**params, **rows, horizon=39.0, delta=0.02, rng=rng)
    assert count.shape == disc.shape == (3, n)
    flat = {k: v[:, 0] for k, v in rows.items()}
    expected = call(kind, "conditional_expected_purchases", {**flat, "t": 39.0})
    expected_disc = (call(kind, "probability_alive", flat)
                     * call(kind, "discounted_purchases_if_alive",
                            {"frequency": flat["frequency"], "T": flat["T"], "horizon": 39.0,
                             "delta": 0.02}))
    np.testing.assert_array_less(np.abs(count.mean(axis=1) - expected),
                                 4 * count.std(axis=1) / np.sqrt(n))
    np.testing.assert_array_less(np.abs(disc.mean(axis=1) - expected_disc),
                                 4 * disc.std(axis=1) / np.sqrt(n))
    assert np.all(disc <= count)


def reference_log_likelihood(kind, params, x, t_x, T_):
    """Independent double-precision reference: the likelihood's integral form (module
    docstring of pnbd_limits) by adaptive quadrature in the original time variable."""
    D = T_ - t_x
    points = [D * 10.0**-j for j in range(16, 0, -1)]

    def quad(f):
        return integrate.quad(f, 0.0, D, points=points, epsabs=0.0, epsrel=1e-13,
                              limit=1000)[0] if D > 0 else 0.0

    if kind == "dropout":
        r, alpha, mu = params
        a, ap = r + x, alpha + t_x
        e1 = np.exp(-a * np.log1p(D / ap) - mu * D)
        t2 = mu * quad(lambda u: np.exp(-a * np.log1p(u / ap) - mu * u))
        const = (special.gammaln(a) - special.gammaln(r) + r * np.log(alpha) - a * np.log(ap)
                 - mu * t_x)
    elif kind == "purchase":
        lam, s, beta = params
        bp = beta + t_x
        e1 = np.exp(-lam * D - s * np.log1p(D / bp))
        t2 = s / bp * quad(lambda u: np.exp(-lam * u - (s + 1) * np.log1p(u / bp)))
        const = x * np.log(lam) - lam * t_x + s * np.log(beta) - s * np.log(bp)
    else:
        lam, mu = params
        e1 = np.exp(-(lam + mu) * D)
        t2 = mu * quad(lambda u: np.exp(-(lam + mu) * u))
        const = x * np.log(lam) - (lam + mu) * t_x
    return const + np.log(e1 + t2)


#: rows at the extremes of the Pareto/NBD's tests: x up to 1e5, T up to 1e4, the last
#: purchase just before T, at T, long before it, and a customer who never bought again
EXTREME_ROWS = [(100000.0, 9999.5, 1e4), (100000.0, 5000.0, 1e4), (0.0, 0.0, 1e4),
                (1.0, 1e-9, 1e4), (50.0, 300.0, 1e4), (100000.0, 1e4, 1e4)]
EXTREME_PARAMS = {
    "dropout": [MU, (2.0, 5.0, 1e-4), (0.01, 1000.0, 2.0), (50.0, 0.001, 0.01)],
    "purchase": [LAM, (10.0, 0.5, 5.0), (0.05, 3.0, 1e4), (1e-3, 0.01, 0.001)],
    "both": [BOTH, (10.0, 1e-4), (1e-3, 2.0), (0.5, 0.5)],
}


@pytest.mark.parametrize("kind", KINDS)
def test_likelihood_accurate_at_extremes(kind):
    """x up to 1e5, T up to 1e4, rates over 8 decades: the log-likelihood agrees with
    the adaptive-quadrature reference to 1e-10 relative, value and gradient are
    finite, and the value path equals the gradient path."""
    loglik = CLASS[kind]._loglik
    for params in EXTREME_PARAMS[kind]:
        for row in EXTREME_ROWS:
            ll, grad = loglik(*params, *row, gradient=True)
            ref = reference_log_likelihood(kind, params, *row)
            assert np.isfinite(ll) and np.all(np.isfinite(grad)), (params, row)
            assert abs(ll - ref) <= 1e-10 * abs(ref) + 1e-11, (params, row, float(ll), ref)
            assert loglik(*params, *row) == ll
            alive = formula(kind, "probability_alive")(*params, *row)
            assert 0.0 <= alive <= 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_predictions_broadcast_over_draws(kind):
    """Parameter draws shaped (3, 1) against customers (n,): each row is the formula at
    that draw (how the CLV code calls them)."""
    draws = np.array(PARAMS[kind]) * np.array([[1.0], [1.1], [0.9]])
    cols = {n: draws[:, [j]] for j, n in enumerate(CLASS[kind].param_names)}
    for role, args in [("probability_alive", CUST),
                       ("conditional_expected_purchases", {**CUST, "t": 39.0}),
                       ("discounted_purchases_if_alive",
                        {"frequency": X, "T": T, "horizon": 39.0, "delta": 0.01}),
                       ("probability_of_purchases", {"k": X, "t": 39.0})]:
        together = formula(kind, role)(**cols, **args)
        assert together.shape == (3, len(X))
        for i in range(3):
            np.testing.assert_allclose(together[i], call(kind, role, args, params=draws[i]),
                                       rtol=1e-13)
    together = CLASS[kind]._loglik(*cols.values(), X, TX, T)
    for i in range(3):
        np.testing.assert_allclose(together[i], CLASS[kind]._loglik(*draws[i], X, TX, T),
                                   rtol=1e-13)


# ----------------------------------------------------------- gradient and PyMC graph
@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences(kind, rng):
    """Per row (the customers above and the extreme rows), fourth-order central
    differences of the log-likelihood in the log parameters (to 1e-6)."""
    loglik = CLASS[kind]._loglik
    rows = [*zip(X, TX, T), *EXTREME_ROWS]
    for params in [*EXTREME_PARAMS[kind],
                   *np.exp(np.log(PARAMS[kind]) + rng.normal(0, 1, (2, len(PARAMS[kind]))))]:
        theta = np.log(params)
        for row in rows:
            _, g = loglik(*params, *row, gradient=True)
            for j in range(len(theta)):
                h = np.zeros(len(theta))
                h[j] = 1e-3

                def at(step, h=h, row=row):
                    return loglik(*np.exp(theta + step * h), *row)

                numeric = (8 * (at(1) - at(-1)) - (at(2) - at(-2))) / 12e-3
                assert numeric == pytest.approx(g[j], rel=1e-6, abs=1e-6), (params, row, j)


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.mark.parametrize("kind", KINDS)
def test_pymc_graph_is_the_mle_likelihood(kind, cdnow, rng):
    """The PyTensor graph PyMC samples and the numpy sum the MLE maximizes agree to
    1e-8, value and gradient (one function builds both)."""
    import pytensor
    import pytensor.tensor as pt

    cls = CLASS[kind]
    model = cls()
    model._check_settings("mcmc")
    arrays, weights = model._prepare(cdnow.head(500))
    logs = {n: pt.dscalar(n) for n in cls.param_names}
    total = model._pymc_log_likelihood({n: pt.exp(v) for n, v in logs.items()}, arrays, weights)
    f = pytensor.function(list(logs.values()), [total, *pytensor.grad(total, list(logs.values()))])
    for theta in [np.log(PARAMS[kind]), *(np.log(PARAMS[kind]) + rng.normal(0, 1, (2, len(logs))))]:
        graph, *graph_grad = f(*theta)
        numpy_total, numpy_grad = model._loglik_and_grad(theta, arrays, weights)
        assert graph == pytest.approx(numpy_total, rel=1e-8, abs=1e-8)
        np.testing.assert_allclose(graph_grad, numpy_grad, rtol=1e-8, atol=1e-8)


# --------------------------------------------------------------- boundary behaviour
def simulate(n, lam, mu, *, seed, holdout=39.0):
    """Customers with purchase rates ``lam`` and drop-out rates ``mu`` (per customer or
    one for all) observed 26 to 104 weeks, with a holdout of 39 weeks and a spend
    column: the Pareto/NBD's individual process, drawn with numpy."""
    rng = np.random.default_rng(seed)
    T_ = rng.integers(26, 105, n).astype(float)
    lam, mu = np.broadcast_to(lam, n), np.broadcast_to(mu, n)
    death = rng.standard_exponential(n) / mu
    end = np.minimum(death, T_ + holdout)
    n_all = rng.poisson(lam * end)
    cal_end = np.minimum(death, T_)
    # given n_all purchases uniform on (0, end], those before T are binomial and the
    # last of them is cal_end times the largest of that many uniforms
    freq = rng.binomial(n_all, cal_end / end)
    recency = np.where(freq > 0, cal_end * rng.uniform(size=n) ** (1.0 / np.maximum(freq, 1)),
                       0.0)
    out = pd.DataFrame({"frequency": freq, "recency": recency, "T": T_,
                        "holdout_frequency": n_all - freq, "holdout_length": holdout,
                        "monetary_value": np.where(freq > 0, rng.gamma(6.0, 5.0, n), np.nan)})
    out.index.name = "customer_id"
    out.attrs["time_unit"] = "week"
    return out


N = 8000
TRUE = {"lam": 0.1, "mu": 0.03, "r": 0.8, "alpha": 8.0, "s": 0.8, "beta": 25.0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(40)
    lam_h = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], N)
    mu_h = rng.gamma(TRUE["s"], 1 / TRUE["beta"], N)
    return {"dropout": simulate(N, lam_h, TRUE["mu"], seed=SEEDS["dropout"]),
            "purchase": simulate(N, TRUE["lam"], mu_h, seed=SEEDS["purchase"]),
            "both": simulate(N, TRUE["lam"], TRUE["mu"], seed=SEEDS["both"]),
            "neither": simulate(N, lam_h, mu_h, seed=SEEDS["neither"])}


SEEDS = {"dropout": 1, "purchase": 2, "both": 3, "neither": 4}


@pytest.fixture(scope="module")
def fits(data):
    return {kind: ParetoNBDModel(random_state=0).fit(d) for kind, d in data.items()}


NUMBER = r"\d+\.\d{4}"
FACT = {
    "dropout": rf"The drop-out rate is the same for every customer: mu = ({NUMBER}) per week "
               rf"\(95% interval ({NUMBER})-({NUMBER})\)\.",
    "purchase": rf"The purchase rate while alive is the same for every customer: lam = "
                rf"({NUMBER}) per week \(95% interval ({NUMBER})-({NUMBER})\)\.",
}
GREW = {"dropout": r"s and beta grow without bound together \(s/beta = mu\)",
        "purchase": r"r and alpha grow without bound together \(r/alpha = lam\)"}


@pytest.mark.parametrize("kind", KINDS)
def test_homogeneous_data_give_the_limit_in_words(kind, fits):
    model = fits[kind]
    cls = CLASS[kind]
    assert type(model) is cls and model.param_names == cls.param_names
    b = model.boundary_
    collapsed = ["dropout", "purchase"] if kind == "both" else [kind]
    assert b["full_model"] == "ParetoNBDModel" and b["limit_model"] == cls.__name__
    assert sorted(b["collapsed"]) == collapsed
    assert 0.0 <= b["lr_statistic"] < LR_CRITICAL and 0.05 < b["p_value"] <= 0.5
    s = model.summary()
    assert s.attrs["boundary"] is b
    facts = " ".join(FACT[m] for m in b["collapsed"])
    them = "them" if len(collapsed) > 1 else "it"
    grew = GREW[b["collapsed"][0]]
    if len(collapsed) > 1:
        grew += ", and so do " + GREW[b["collapsed"][1]].replace(" grow without bound together",
                                                                  "")
    pattern = (rf"^{facts} Letting {them} differ between customers \(ParetoNBDModel\) fits no "
               rf"better \(likelihood-ratio statistic \d+\.\d\d, p-value 0\.\d\d\)\. The fit uses "
               rf"{cls.__name__}, the Pareto/NBD [^:]+: the limit of ParetoNBDModel as {grew}\.$")
    match = re.search(pattern, b["message"])
    assert match, b["message"]
    # the numbers stated are the estimate and its interval, and they recover the truth
    stated = [float(v) for v in match.groups()]
    for i, m in enumerate(b["collapsed"]):
        name = {"dropout": "mu", "purchase": "lam"}[m]
        row = s.loc[name]
        assert stated[3 * i:3 * i + 3] == pytest.approx(
            [row["estimate"], row["lower"], row["upper"]], abs=5e-5)
        assert abs(row["estimate"] - TRUE[name]) < 3 * row["se"]
    # the heterogeneity that remains is estimated, and no parameter ran off
    for name in set(cls.param_names) - {"lam", "mu"}:
        assert abs(s.loc[name, "estimate"] / TRUE[name] - 1) < 4 * s.loc[name, "se"] / TRUE[name]
    assert s["estimate"].max() < 100 and np.all(np.isfinite(s.to_numpy()))


@pytest.mark.parametrize("kind", KINDS)
def test_the_limit_is_the_full_likelihood_at_its_edge(kind, fits, data):
    """The limit's maximum is the full model's likelihood approached along the edge
    (within the first-order bound), the LR statistic compares them, and a direct fit of
    the limit class gives the same estimate."""
    model = fits[kind]
    arrays, weights = model._prepare(data[kind])
    c = 1e7
    full = pnbd.pnbd_log_likelihood(*full_params_at(kind, model.point_params(), c),
                                    arrays["x"], arrays["t_x"], arrays["T"])
    bound = first_order_bound(kind, arrays["x"], arrays["T"]) / c
    assert abs(weights @ full - model.log_likelihood_) < weights @ bound
    b = model.boundary_
    assert b["lr_statistic"] == pytest.approx(
        max(0.0, 2 * (b["full_log_likelihood"] - model.log_likelihood_)))
    direct = CLASS[kind](random_state=0).fit(data[kind])
    np.testing.assert_allclose(direct.params_, model.params_, rtol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_default_priors_give_a_posterior_mode_near_the_mle(kind, fits, data):
    """The LogNormal priors act on the log scale of the rates and shapes; with 8,000
    customers the MAP estimate is within a tenth of a standard error of the MLE."""
    model = fits[kind]
    mode = CLASS[kind](random_state=0).fit(data[kind], method="map")
    assert type(mode) is CLASS[kind] and not hasattr(mode, "boundary_")
    se = model.summary()["se"]
    np.testing.assert_array_less(np.abs(mode.params_ - model.params_), 0.1 * se)


def full_params_at(kind, p, c):
    if kind == "dropout":
        return p["r"], p["alpha"], c, c / p["mu"]
    if kind == "purchase":
        return c, c / p["lam"], p["s"], p["beta"]
    return c, c / p["lam"], c, c / p["mu"]


def test_heterogeneous_data_keep_the_pareto_nbd(fits):
    model = fits["neither"]
    assert type(model) is ParetoNBDModel and not hasattr(model, "boundary_")
    s = model.summary(level=0.999)
    truth = [TRUE[n] for n in ParetoNBDModel.param_names]
    assert ((s["lower"] < truth) & (truth < s["upper"])).all()


def test_refit_on_heterogeneous_data_restores_the_full_model(fits, data):
    model = copy.deepcopy(fits["both"])
    assert type(model) is ParetoNBDHomogeneousModel
    model.fit(data["neither"])
    assert type(model) is ParetoNBDModel and not hasattr(model, "boundary_")


# ------------------------------------------------------------------- downstream
@pytest.fixture(scope="module")
def spend(data):
    d = data["neither"]
    return GammaGammaModel(random_state=0).fit(d[d["frequency"] > 0])


@pytest.mark.parametrize("kind", KINDS)
def test_downstream_works_on_the_limit(kind, fits, data, spend, tmp_path):
    model, d = fits[kind], data[kind]
    rows = d.head(300)
    clv = customer_lifetime_value(model, spend, rows, horizon="52 weeks", discount_rate=0.1,
                                  n_draws=50, n_samples=100, random_state=0)
    assert np.isfinite(clv.to_numpy()).all() and len(clv) == 300
    assert (clv["expected_clv_lower"] <= clv["expected_clv"] * (1 + 1e-9)).all()
    assert (clv["expected_clv"] <= clv["expected_clv_upper"] * (1 + 1e-9)).all()
    assert (clv["clv_predictive_lower"] <= clv["clv_predictive_upper"]).all()
    assert (clv["expected_clv_upper"] > clv["expected_clv_lower"]).any()
    np.testing.assert_allclose(clv["probability_alive"], model.probability_alive(rows),
                               rtol=1e-12)
    # holdout: the expected total is the simulated one (tower property), within 4 sd of
    # the total (customers independent: the sum of the simulated per-customer variances)
    some = d.iloc[:2000]
    score = evaluate_holdout(model, some, n_samples=100, random_state=0)
    m = score.metrics
    cust = {c: some[c].to_numpy(dtype=float)[:, None] for c in ("frequency", "recency", "T")}
    params = {k: np.full((1, 100), v) for k, v in model.point_params().items()}
    counts, _ = model.formula("simulate_future")(**params, **cust, horizon=39.0, delta=0.0,
                                                 rng=np.random.default_rng(1))
    sd = np.sqrt(counts.var(axis=1).sum())
    assert abs(m["expected_total"] - m["actual_total"]) < 4 * sd
    assert abs(m["coverage"] - 0.9) < 0.03
    # save / load: the same class, statement and predictions
    model.save(tmp_path / "limit")
    again = load_model(tmp_path / "limit")
    assert type(again) is type(model)
    assert again.boundary_["message"] == model.boundary_["message"]
    pd.testing.assert_series_equal(again.params_, model.params_)
    pd.testing.assert_series_equal(again.probability_alive(rows), model.probability_alive(rows))
    pd.testing.assert_series_equal(again.expected_purchases(rows, 39.0),
                                   model.expected_purchases(rows, 39.0))
