"""A boundary is an answer (DESIGN.md principle 8) for the BG/BB: its nested limits
(one drop-out probability, one transaction probability, or both) are the BG/BB's
formulas at the point the betas collapse to, they hold against brute force and
simulation, and a BG/BB fit to data without heterogeneity becomes them, says so in
words, and works downstream."""

import copy
import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import special

from clvmodels import (
    BetaGeoBetaBinomModel,
    GammaGammaModel,
    customer_lifetime_value,
    evaluate_holdout,
    load_model,
)
from clvmodels.models.boundary import LR_CRITICAL
from clvmodels.models.purchase.bgbb import _family_log_likelihood, bgbb_log_likelihood
from clvmodels.models.purchase.bgbb_limits import (
    BetaGeoBetaBinomHomogeneousDropoutModel as HomogeneousDropout,
)
from clvmodels.models.purchase.bgbb_limits import (
    BetaGeoBetaBinomHomogeneousModel as Homogeneous,
)
from clvmodels.models.purchase.bgbb_limits import (
    BetaGeoBetaBinomHomogeneousRateModel as HomogeneousRate,
)
from clvmodels.models.registry import registered_models
from clvmodels.value.purchase import simulate_model_futures

P, THETA = 0.6, 0.15  # the homogeneous values simulated
A, B, G, D = 1.2, 0.75, 0.66, 2.78  # the betas where there is heterogeneity
LIMITS = {
    HomogeneousDropout: {"alpha": A, "beta": B, "theta": THETA},
    HomogeneousRate: {"p": P, "gamma": G, "delta": D},
    Homogeneous: {"p": P, "theta": THETA},
}


def full_params(cls, c):
    """BG/BB parameters approaching ``cls``'s at concentration ``c``: a point ``m``
    becomes ``Beta(m c, (1 - m) c)``."""
    lim = LIMITS[cls]
    out = {"alpha": A, "beta": B, "gamma": G, "delta": D}
    if "p" in lim:
        out.update(alpha=lim["p"] * c, beta=(1 - lim["p"]) * c)
    if "theta" in lim:
        out.update(gamma=lim["theta"] * c, delta=(1 - lim["theta"]) * c)
    return out


def random_histories(rng, size=300, max_n=30):
    n = rng.integers(0, max_n + 1, size)
    t_x = np.floor(rng.uniform(0, 1, size) * (n + 1)).astype(int)
    x = np.where(t_x > 0, 1 + np.floor(rng.uniform(0, 1, size) * t_x), 0).astype(int)
    return x.astype(float), t_x.astype(float), n.astype(float)


def simulate(n_customers, p, theta, *, n_periods=(4, 13), holdout=0, seed=0):
    """Customers with transaction probabilities ``p(rng, n)`` and drop-out probabilities
    ``theta(rng, n)``, written from the story (independent of the package's
    simulator): inactive from period ``Geometric(theta)`` on, transacting with ``p`` in
    each period alive; ``n_periods`` opportunities drawn in ``[lo, hi)``; a Gamma-Gamma
    mean spend per customer with repeat transactions."""
    rng = np.random.default_rng(seed)
    pp, th = p(rng, n_customers), theta(rng, n_customers)
    n = rng.integers(*n_periods, n_customers)
    death = rng.geometric(th)  # the first period she is inactive
    x, t_x, hold = (np.zeros(n_customers, dtype=np.int64) for _ in range(3))
    for k in range(1, int(n.max()) + holdout + 1):
        buys = (k < death) & (k <= n + holdout) & (rng.random(n_customers) < pp)
        x += buys & (k <= n)
        t_x[buys & (k <= n)] = k
        hold += buys & (k > n)
    spend = rng.gamma(6.0 * np.maximum(x, 1), 1.0) / rng.gamma(4.0, 1 / 15.0, n_customers)
    out = pd.DataFrame({"frequency": x, "recency": t_x, "n_periods": n,
                        "monetary_value": np.where(x > 0, spend / np.maximum(x, 1), np.nan)})
    if holdout:
        out["holdout_frequency"] = hold
        out["holdout_length"] = holdout
    out.attrs["time_unit"] = "year"
    return out


def beta_draws(a, b):
    return lambda rng, n: rng.beta(a, b, n)


def fixed(v):
    return lambda rng, n: np.full(n, v)


def values(cls, params, x, t_x, n):
    """Every formula of ``cls`` at ``params`` on the histories."""
    f = cls.formula
    cust = {"frequency": x, "recency": t_x, "T": n}
    return {
        "log-likelihood": _family_log_likelihood(*cls._parts(**params), x, t_x, n),
        "P(alive)": f("probability_alive")(**params, **cust),
        "conditional expectation": f("conditional_expected_purchases")(**params, **cust, t=5),
        "new-customer expectation": f("expected_purchases_new")(**params, t=np.arange(1, 11)),
        "P(X=k)": f("probability_of_purchases")(**params, k=np.arange(8), t=7),
        "discounted, 10 periods": f("discounted_purchases_if_alive")(
            **params, frequency=x, T=n, horizon=10, discount=np.log(1.1)),
        "discounted, all periods": f("discounted_purchases_if_alive")(
            **params, frequency=x, T=n, horizon=np.inf, discount=np.log(1.1)),
        "undiscounted, 10 periods": f("discounted_purchases_if_alive")(
            **params, frequency=x, T=n, horizon=10, discount=0.0),
    }


# ------------------------------------------------------------- the limits are the BG/BB's
@pytest.mark.parametrize("cls", list(LIMITS))
def test_limit_formulas_are_the_bgbb_at_the_collapsed_point(cls, rng):
    """Each formula of the limit equals the BG/BB's at ``Beta(m c, (1-m) c)`` up to an
    error of order ``1/c``: relative error (absolute for the log-likelihood) below
    1e-3 at c = 1e6 (measured: at most 7.6e-4; the leading term is quadratic in the
    counts, which reach 30 here, over c), and ten times smaller than at c = 1e5 (the
    error is the O(1/c) term, not a difference that stays)."""
    x, t_x, n = random_histories(rng)
    limit = values(cls, LIMITS[cls], x, t_x, n)
    errors = {}
    for c in (1e5, 1e6):
        full = values(BetaGeoBetaBinomModel, full_params(cls, c), x, t_x, n)
        for name, v in limit.items():
            diff = full[name] - v if name == "log-likelihood" else full[name] / v - 1.0
            errors[name, c] = float(np.max(np.abs(diff)))
    np.testing.assert_allclose(
        bgbb_log_likelihood(**full_params(cls, 1e6), frequency=x, recency=t_x, n_periods=n),
        _family_log_likelihood(*BetaGeoBetaBinomModel._parts(**full_params(cls, 1e6)), x, t_x,
                               n), rtol=1e-15)
    for name in limit:
        e5, e6 = errors[name, 1e5], errors[name, 1e6]
        assert e6 < 1e-3, (name, e6)
        assert e5 < 1e-14 or 0.08 < e6 / e5 < 0.12, (name, e5, e6)


# ------------------------------------------------------ closed forms against brute force
def first_principles_likelihood(purchase, dropout, x, t_x, n):
    """P(one binary history) from the story: alive for exactly ``j >= t_x`` periods
    (then inactive; ``j = n``: alive throughout), transacting in ``x`` of them. A
    mixing is a point ``("point", v)`` or ``("beta", a, b)``, averaged by Gauss-Jacobi
    quadrature (exact for these polynomial integrands of degree < 80)."""

    def nodes(mixing):
        if mixing[0] == "point":
            return np.array([mixing[1]]), np.array([1.0])
        z, w = special.roots_jacobi(40, mixing[2] - 1.0, mixing[1] - 1.0)
        return (1.0 + z) / 2.0, w / w.sum()

    p, wp = nodes(purchase)
    th, wt = nodes(dropout)
    return sum((wp @ (p**x * (1 - p) ** (j - x))) * (wt @ ((1 - th) ** j * (th if j < n else 1.0)))
               for j in range(t_x, n + 1))


MIXINGS = {
    HomogeneousDropout: (("beta", A, B), ("point", THETA)),
    HomogeneousRate: (("point", P), ("beta", G, D)),
    Homogeneous: (("point", P), ("point", THETA)),
}


@pytest.mark.parametrize("cls", list(LIMITS))
def test_likelihood_from_first_principles_and_summing_to_one(cls):
    """Every binary history over 4 periods and some long ones against the story; over
    all histories of n periods the probabilities sum to 1 (each (x, t_x) stands for
    C(t_x - 1, x - 1) histories)."""
    parts = cls._parts(**LIMITS[cls])
    for history in itertools.product([0, 1], repeat=4):
        x = sum(history)
        t_x = max((i + 1 for i, h in enumerate(history) if h), default=0)
        got = math.exp(float(_family_log_likelihood(*parts, x, t_x, 4)))
        assert got == pytest.approx(first_principles_likelihood(*MIXINGS[cls], x, t_x, 4),
                                    rel=1e-12)
    for x, t_x, n in [(8, 26, 26), (13, 21, 24), (1, 1, 35), (30, 30, 30), (0, 0, 40)]:
        assert float(_family_log_likelihood(*parts, x, t_x, n)) == pytest.approx(
            math.log(first_principles_likelihood(*MIXINGS[cls], x, t_x, n)), rel=1e-12)
    for n in (0, 1, 2, 6, 11):
        total = math.exp(float(_family_log_likelihood(*parts, 0, 0, n)))
        for t_x in range(1, n + 1):
            x = np.arange(1, t_x + 1)
            ll = _family_log_likelihood(*parts, x, np.full(x.size, t_x), np.full(x.size, n))
            total += float(special.comb(t_x - 1, x - 1) @ np.exp(ll))
        assert total == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("cls", list(LIMITS))
def test_new_customer_distribution_sums_to_one_with_the_expected_mean(cls):
    params, f = LIMITS[cls], cls.formula
    for t in (1, 6, 25):
        k = np.arange(t + 1)
        pmf = f("probability_of_purchases")(**params, k=k, t=t)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-12) and (pmf >= 0).all()
        assert k @ pmf == pytest.approx(float(f("expected_purchases_new")(**params, t=t)),
                                        rel=1e-12)
    # and against a direct sum over the periods: E[p] P(alive in period k) summed
    k = np.arange(1, 41)
    mean_p = params.get("p", A / (A + B))
    alive = ((1 - params["theta"]) ** k if "theta" in params
             else np.exp(special.betaln(G, D + k) - special.betaln(G, D)))
    np.testing.assert_allclose(f("expected_purchases_new")(**params, t=k),
                               mean_p * np.cumsum(alive), rtol=1e-12)


@pytest.mark.parametrize("cls", list(LIMITS))
def test_discounted_transactions_against_sums(cls, rng):
    """At no discounting the value if alive is the conditional expectation over
    P(alive); with discounting it is the sum over future periods of the discounted
    per-period expectations E[X(n, n+k)] - E[X(n, n+k-1)] (from the undiscounted closed
    form) over P(alive), for finite horizons and (the series converged by 400 periods at
    10%) the infinite one."""
    params, f = LIMITS[cls], cls.formula
    x, t_x, n = random_histories(rng, 80, 40)
    cust = {"frequency": x, "recency": t_x, "T": n}
    pa = f("probability_alive")(**params, **cust)
    for h in (1, 5, 30):
        np.testing.assert_allclose(
            f("discounted_purchases_if_alive")(**params, frequency=x, T=n, horizon=h,
                                               discount=0.0),
            f("conditional_expected_purchases")(**params, **cust, t=h) / pa, rtol=1e-12)
    k = np.arange(1, 401)
    cum = f("conditional_expected_purchases")(**params, frequency=x[:, None],
                                              recency=t_x[:, None], T=n[:, None],
                                              t=np.append(0, k))
    per_period = np.diff(cum, axis=1) * 1.1 ** -k.astype(float)
    for h in (1, 7, 300, np.inf):
        want = per_period[:, :400 if np.isinf(h) else h].sum(axis=1) / pa
        got = f("discounted_purchases_if_alive")(**params, frequency=x, T=n, horizon=h,
                                                 discount=np.log(1.1))
        np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("cls", list(LIMITS))
def test_simulated_futures_match_the_closed_forms(cls, rng):
    """Means of 50,000 simulated futures per customer against P(alive) x conditional
    expectation and P(alive) x discounted value if alive, within 4 standard errors;
    in the first future period she transacts with P(alive) E[p | x, n]."""
    params, f, n = LIMITS[cls], cls.formula, 50_000
    cust = {"frequency": np.array([0.0, 2, 7, 0]), "recency": np.array([0.0, 5, 8, 0]),
            "T": np.array([8.0, 8, 8, 0])}
    grid = {k: np.full((4, n), v) for k, v in params.items()}
    col = {c: v[:, None] for c, v in cust.items()}
    discount = np.log(1.2)
    count, disc = f("simulate_future")(**grid, **col, horizon=9, discount=discount, rng=rng)
    pa = f("probability_alive")(**params, **cust)
    want = {"count": f("conditional_expected_purchases")(**params, **cust, t=9),
            "discounted": pa * f("discounted_purchases_if_alive")(
                **params, frequency=cust["frequency"], T=cust["T"], horizon=9,
                discount=discount)}
    assert ((disc <= count) & (disc >= count * np.exp(-9 * discount)) & (count <= 9)).all()
    for name, s in (("count", count), ("discounted", disc)):
        se = s.std(axis=1) / np.sqrt(n)
        assert (np.abs(s.mean(axis=1) - want[name]) < 4 * se).all(), name
    first = f("simulate_future")(**grid, **col, horizon=1, discount=0.0, rng=rng)[0]
    mean_p = (params["p"] if "p" in params
              else (A + cust["frequency"]) / (A + B + cust["T"]))
    expected = pa * mean_p
    assert (np.abs(first.mean(axis=1) - expected) < 4 * np.sqrt(expected * (1 - expected) / n)).all()


# ------------------------------------------------------------------ engine hooks
def weighted_rows(rng, cls):
    x, t_x, n = random_histories(rng, 300, 12)
    data = pd.DataFrame({"frequency": x, "recency": t_x, "n_periods": n,
                         "weight": rng.integers(1, 50, x.size)})
    model = cls()
    model._check_settings("mcmc")
    return model, *model._prepare(data)


def random_log_params(rng, cls):
    """Log parameters near the test values, probabilities kept below 1."""
    theta = np.log([LIMITS[cls][k] for k in cls.param_names]) + rng.normal(0, 0.3, len(
        cls.param_names))
    probability = np.array([k in ("p", "theta") for k in cls.param_names])
    return np.where(probability, np.minimum(theta, -0.05), theta)


@pytest.mark.parametrize("cls", list(LIMITS))
def test_gradient_matches_finite_differences(cls, rng):
    """The analytic gradient (w.r.t. the log parameters) against central differences
    (step 1e-5: truncation error ~1e-10 relative), to 1e-7."""
    model, arrays, weights = weighted_rows(rng, cls)
    for _ in range(3):
        theta = random_log_params(rng, cls)
        _, grad = model._loglik_and_grad(theta, arrays, weights)
        numeric = np.empty_like(theta)
        for j, h in enumerate(np.eye(theta.size) * 1e-5):
            up = model._loglik_and_grad(theta + h, arrays, weights)[0]
            down = model._loglik_and_grad(theta - h, arrays, weights)[0]
            numeric[j] = (up - down) / 2e-5
        np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-4)


@pytest.mark.parametrize("cls", list(LIMITS))
def test_pymc_graph_is_the_mle_likelihood(cls, rng):
    """The PyTensor graph PyMC samples equals the numpy sum the MLE maximizes, value
    and gradient, to 1e-8 at random points."""
    import pytensor
    import pytensor.tensor as pt

    model, arrays, weights = weighted_rows(rng, cls)
    logs = [pt.dscalar(v) for v in cls.param_names]
    total = model._pymc_log_likelihood({v: pt.exp(t) for v, t in zip(cls.param_names, logs)},
                                       arrays, weights)
    # the Python implementations (no C compilation): the same graph, compiled in seconds
    f = pytensor.function(logs, [total, *pytensor.grad(total, logs)], mode="FAST_COMPILE")
    for _ in range(3):
        theta = random_log_params(rng, cls)
        graph, *graph_grad = f(*theta)
        numpy_total, numpy_grad = model._loglik_and_grad(theta, arrays, weights)
        assert graph == pytest.approx(numpy_total, rel=1e-8, abs=1e-8)
        np.testing.assert_allclose(graph_grad, numpy_grad, rtol=1e-8, atol=1e-8)


def test_limit_classes_are_registered_and_wired():
    names = registered_models()
    for cls in LIMITS:
        assert names[cls.__name__] is cls and not issubclass(cls, BetaGeoBetaBinomModel)
    assert BetaGeoBetaBinomModel.limit_models == {"dropout": HomogeneousDropout,
                                                  "purchase": HomogeneousRate}
    assert HomogeneousDropout.limit_models == {"purchase": Homogeneous}
    assert HomogeneousRate.limit_models == {"dropout": Homogeneous}
    assert Homogeneous.limit_models == {}


# ------------------------------------------------------------------ the boundary
SETTINGS = {
    "dropout": (beta_draws(A, B), fixed(THETA), HomogeneousDropout, ["dropout"]),
    "purchase": (fixed(P), beta_draws(G, D), HomogeneousRate, ["purchase"]),
    "both": (fixed(P), fixed(THETA), Homogeneous, None),
}
FACT = {
    "theta": r"The drop-out probability at the start of each year is the same for every "
             r"customer: theta = 0\.1[45]\d\d \(95% interval 0\.1[45]\d\d-0\.1[45]\d\d\)\.",
    "p": r"The transaction probability in each year while alive is the same for every "
         r"customer: p = 0\.[56]\d\d\d \(95% interval 0\.[56]\d\d\d-0\.[56]\d\d\d\)\.",
}


@pytest.fixture(scope="module")
def homogeneous():
    """20,000 customers for each setting, with 4-12 opportunities."""
    return {name: simulate(20_000, p, th, holdout=3, seed=i)
            for i, (name, (p, th, _, _)) in enumerate(SETTINGS.items())}


@pytest.fixture(scope="module")
def fits(homogeneous):
    return {name: BetaGeoBetaBinomModel(random_state=0).fit(data)
            for name, data in homogeneous.items()}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_homogeneous_data_become_the_limit(setting, fits, homogeneous):
    model, data = fits[setting], homogeneous[setting]
    _, _, cls, collapsed = SETTINGS[setting]
    assert type(model) is cls and model.param_names == cls.param_names
    b = model.boundary_
    assert b["full_model"] == "BetaGeoBetaBinomModel" and b["limit_model"] == cls.__name__
    assert b["collapsed"] == collapsed or (collapsed is None
                                           and sorted(b["collapsed"]) == ["dropout", "purchase"])
    # the limit fits as well as the BG/BB: a likelihood-ratio statistic below the 5%
    # critical value, and the statement says it in words with the estimates
    assert 0.0 <= b["lr_statistic"] < LR_CRITICAL and b["p_value"] > 0.05
    assert b["limit_log_likelihood"] == model.log_likelihood_
    facts = [FACT[{"purchase": "p", "dropout": "theta"}[m]] for m in b["collapsed"]]
    them = "them" if len(facts) == 2 else "it"
    pattern = (r"^" + " ".join(facts) + rf" Letting {them} differ between customers "
               r"\(BetaGeoBetaBinomModel\) fits no better \(likelihood-ratio statistic "
               r"\d+\.\d\d, p-value 0\.\d\d\)\. The fit uses the .+ \(" + cls.__name__
               + r"\), the limit of BetaGeoBetaBinomModel as .*grow without bound together")
    assert re.search(pattern, b["message"]), b["message"]
    s = model.summary()
    assert s.attrs["boundary"] is b
    # the estimates recover the simulated values (within 3 standard errors) and none
    # is the 1e6-sized end of a run-away optimisation
    for name, truth in {"p": P, "theta": THETA, "alpha": A, "beta": B, "gamma": G,
                        "delta": D}.items():
        if name in cls.param_names:
            assert abs(s.loc[name, "estimate"] - truth) < 3 * s.loc[name, "se"], name
    assert model.params_.max() < 100 and (model.params_[[k for k in ("p", "theta")
                                                        if k in cls.param_names]] < 1).all()
    # the limit's maximum-likelihood estimate, as fitting the limit model directly
    direct = cls().fit(data)
    np.testing.assert_allclose(model.params_, direct.params_, rtol=1e-5)
    assert model.log_likelihood_ == pytest.approx(direct.log_likelihood_, rel=1e-10)


def test_heterogeneous_data_keep_the_bgbb_and_refits_restore_it(fits, homogeneous):
    hetero = simulate(20_000, beta_draws(A, B), beta_draws(G, D), seed=9)
    model = BetaGeoBetaBinomModel().fit(hetero)
    assert type(model) is BetaGeoBetaBinomModel and not hasattr(model, "boundary_")
    s = model.summary(0.999)
    assert ((s["lower"] < [A, B, G, D]) & ([A, B, G, D] < s["upper"])).all()
    again = BetaGeoBetaBinomModel().fit(homogeneous["dropout"])
    assert type(again) is HomogeneousDropout
    again.fit(hetero)  # the same object, fitted again: back to the full model
    assert type(again) is BetaGeoBetaBinomModel and not hasattr(again, "boundary_")
    np.testing.assert_allclose(again.params_, model.params_, rtol=1e-6)


def test_probabilities_stay_below_one(fits, homogeneous):
    """Past 1 the likelihood of p or theta is not a number (log(1 - p) terms), so the
    optimizer, which reads that as the worst value, stays inside; near 1 it is far
    below the maximum. The MAP fit with the default log-normal priors works too."""
    model, data = fits["both"], homogeneous["both"]
    arrays, weights = model._prepare(data)
    best = model._loglik_and_grad(model.log_params_, arrays, weights)[0]
    for i in range(2):
        theta = model.log_params_.copy()
        theta[i] = 1e-9  # the probability just above 1
        with np.errstate(invalid="ignore"):
            assert not np.isfinite(model._loglik_and_grad(theta, arrays, weights)[0])
        theta[i] = np.log1p(-1e-6)
        assert model._loglik_and_grad(theta, arrays, weights)[0] < best - 1000
    mapped = Homogeneous(random_state=0).fit(data, method="map")
    np.testing.assert_allclose(mapped.params_, model.params_, rtol=1e-3)
    assert (mapped.params_ < 1).all()


# ------------------------------------------------------------------ downstream
def test_downstream_works_on_a_limit_and_it_round_trips(fits, homogeneous, tmp_path):
    model, data = fits["dropout"], homogeneous["dropout"]
    gg = GammaGammaModel(random_state=0).fit(data.assign(T=data["n_periods"]))
    rows = data.head(300)
    clv = customer_lifetime_value(model, gg, rows, horizon="5 years", discount_rate=0.1,
                                  n_samples=200, random_state=0)
    assert np.isfinite(clv.to_numpy()).all()
    assert ((clv.expected_clv_lower <= clv.expected_clv)
            & (clv.expected_clv <= clv.expected_clv_upper)).all()
    assert (clv.clv_predictive_lower <= clv.clv_predictive_upper).all()
    assert (clv.clv_predictive_upper > 0).any() and (clv.expected_clv_lower
                                                     < clv.expected_clv_upper).all()
    score = evaluate_holdout(model, data, n_samples=300, random_state=0)
    assert score.metrics.holdout_length == 3.0 and abs(score.metrics.aggregate_error) < 0.05
    assert abs(score.metrics.coverage - 0.9) < 0.03
    model.save(tmp_path / "limit")
    again = load_model(tmp_path / "limit")
    assert type(again) is HomogeneousDropout
    assert again.boundary_ == model.boundary_
    pd.testing.assert_series_equal(again.probability_alive(rows), model.probability_alive(rows),
                                   check_exact=True)
    pd.testing.assert_series_equal(again.expected_purchases(rows, 4),
                                   model.expected_purchases(rows, 4), check_exact=True)
    pd.testing.assert_frame_equal(
        customer_lifetime_value(again, gg, rows, horizon="5 years", discount_rate=0.1,
                                n_samples=200, random_state=0), clv)


def test_simulated_value_of_a_limit_matches_its_expectation(fits, homogeneous, rng):
    """Futures under one parameter draw, with spend: the mean discounted value is
    P(alive) x discounted transactions if alive x expected spend (4 standard errors)."""
    model, data = fits["both"], homogeneous["both"]
    gg = GammaGammaModel(random_state=0).fit(data.assign(T=data["n_periods"]))
    fixed_model, fixed_gg = copy.deepcopy(model), copy.deepcopy(gg)
    for m in (fixed_model, fixed_gg):
        m.draws_ = xr.Dataset({k: (("chain", "draw"), np.full((1, 20), v))
                               for k, v in m.point_params().items()})
    rows = {"frequency": np.array([1.0, 5.0]), "recency": np.array([3.0, 6.0]),
            "T": np.array([9.0, 6.0]), "monetary_value": np.array([30.0, 12.0])}
    sims = simulate_model_futures(fixed_model, rows, 6.0, np.log(1.1), 50_000, rng,
                                  spend_model=fixed_gg)
    f, params = Homogeneous.formula, model.point_params()
    cust = {c: rows[c] for c in ("frequency", "recency", "T")}
    want = (f("probability_alive")(**params, **cust)
            * f("discounted_purchases_if_alive")(**params, frequency=rows["frequency"],
                                                 T=rows["T"], horizon=6, discount=np.log(1.1))
            * gg.expected_spend(pd.DataFrame(rows)).to_numpy())
    se = sims.value.std(axis=1) / np.sqrt(50_000)
    assert (np.abs(sims.value.mean(axis=1) - want) < 4 * se).all()
