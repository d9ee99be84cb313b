"""Beta-discrete-Weibull churn model: the sBG at c = 1, likelihood and gradient, the
PyMC graph, closed forms against simulation and brute-force sums, recovery, CLV."""

import time

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from clvmodels import FitError
from clvmodels.models.churn.bdw import (
    BetaDiscreteWeibullCovariateModel,
    BetaDiscreteWeibullModel,
    _log_gamma_ratio,
    _renewals_before,
    bdw_discounted_residual_lifetime,
    bdw_expected_residual_lifetime,
    bdw_log_likelihood,
    bdw_retention_rate,
    bdw_simulate_renewals,
    bdw_survival,
    simulate_bdw,
)
from clvmodels.models.churn.sbg import (
    ShiftedBetaGeoModel,
    accounts_from_survival,
    sbg_discounted_residual_lifetime,
    sbg_log_likelihood,
    sbg_retention_rate,
    sbg_simulate_renewals,
    sbg_survival,
    simulate_sbg,
)
from clvmodels.value.contractual import contractual_lifetime_value, discounted_count

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]  # Fader & Hardie (2007)
SBG_REGULAR_LL = -1680.27
MONTHLY_10PCT = np.log(1.10) / 12  # -log z per month at a 10% annual discount rate


def random_rows(rng, n=400, t_max=60):
    """Account rows with tenure, churned and entry (left truncation) of every kind."""
    t = rng.integers(0, t_max, n).astype(float)
    churned = (rng.random(n) < 0.5) & (t > 0)
    entry = np.minimum(rng.integers(0, t + 1), np.where(churned, t - 1, t)).astype(float)
    entry[: n // 4] = 0.0
    return t, churned.astype(float), entry


def brute_sum(a, b, c, t, lam, periods):
    """sum_{k < periods} S(t + 1 + k) / S(t) e^(-lam k), term by term."""
    k = np.arange(periods, dtype=np.float64)
    log_terms = (_log_gamma_ratio(b + (t + 1.0 + k) ** c, a)
                 - _log_gamma_ratio(np.asarray(b + t**c), a) - lam * k)
    return float(np.sum(np.exp(log_terms)[::-1]))


# ------------------------------------------------------------ c = 1 is the sBG
@pytest.mark.parametrize(("a", "b"), [(0.7, 1.2), (3.8, 15.2), (0.05, 3.0)])
def test_likelihood_and_gradient_reduce_to_the_sbg(rng, a, b):
    t, churned, entry = random_rows(rng)
    ll, g = bdw_log_likelihood(a, b, 1.0, t, churned, entry, gradient=True)
    ll_sbg, g_sbg = sbg_log_likelihood(a, b, t, churned, entry, gradient=True)
    np.testing.assert_allclose(ll, ll_sbg, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g[:2], g_sbg, rtol=1e-9, atol=1e-10)
    assert g.shape == (3, t.size)


def test_curves_and_predictions_reduce_to_the_sbg():
    a, b, t = 0.8, 2.5, np.array([0.0, 1.0, 7.0, 40.0])
    np.testing.assert_allclose(bdw_survival(a, b, 1.0, t), sbg_survival(a, b, t), rtol=1e-12)
    np.testing.assert_allclose(bdw_retention_rate(a, b, 1.0, t + 1),
                               sbg_retention_rate(a, b, t + 1), rtol=1e-12)
    bdw, sbg = BetaDiscreteWeibullModel(), ShiftedBetaGeoModel()
    p = {"alpha": np.full((2, 1), a), "beta": np.full((2, 1), b)}
    pc = {**p, "c": np.ones((2, 1))}
    for lam in (MONTHLY_10PCT, 0.1):  # whole life, and the next 36 renewals
        np.testing.assert_allclose(bdw._discounted_renewals(pc, t, lam),
                                   sbg._discounted_renewals(p, t, lam), rtol=1e-9)
        np.testing.assert_allclose(bdw._discounted_renewals(pc, t, lam, 36),
                                   sbg._discounted_renewals(p, t, lam, 36), rtol=1e-10)
    np.testing.assert_allclose(bdw._probability_renewal(pc, t), sbg._probability_renewal(p, t),
                               rtol=1e-12)
    np.testing.assert_allclose(  # undiscounted: (beta + t) / (alpha - 1), inf for alpha <= 1
        bdw_expected_residual_lifetime(np.array([[0.9], [1.5], [40.0]]), b, 1.0, t),
        [np.full(4, np.inf), (b + t) / 0.5, (b + t) / 39.0], rtol=1e-10)
    np.testing.assert_allclose(
        bdw_discounted_residual_lifetime([0.067, 3.8], [0.267, 15.2], 1.0, 4.0, 0.1),
        sbg_discounted_residual_lifetime(np.array([0.067, 3.8]), np.array([0.267, 15.2]), 4, 0.1),
        rtol=1e-9)


def test_simulation_reduces_to_the_sbg():
    ages = np.random.default_rng(2).integers(1, 37, 5000)
    pd.testing.assert_frame_equal(
        simulate_bdw(5000, 0.9, 6.0, 1.0, tenure_max=ages, entry=ages // 3, holdout=6,
                     random_state=3),
        simulate_sbg(5000, 0.9, 6.0, tenure_max=ages, entry=ages // 3, holdout=6,
                     random_state=3))
    t = np.arange(2000.0) % 50
    np.testing.assert_array_equal(
        bdw_simulate_renewals(0.8, 2.5, 1.0, t, np.random.default_rng(4)),
        sbg_simulate_renewals(0.8, 2.5, t, np.random.default_rng(4)))


def test_fit_on_sbg_data_finds_c_near_one():
    ages = np.random.default_rng(7).integers(1, 37, 20_000)
    data = simulate_sbg(20_000, 0.9, 6.0, tenure_max=ages, random_state=11)
    s = BetaDiscreteWeibullModel().fit(data).summary()
    se_log_c = s.loc["c", "se"] / s.loc["c", "estimate"]
    assert abs(np.log(s.loc["c", "estimate"])) < 3 * se_log_c


def test_regular_cohort_fits_at_least_as_well_as_the_sbg():
    data = accounts_from_survival(REGULAR, time_unit="year")
    model = BetaDiscreteWeibullModel().fit(data)
    sbg = ShiftedBetaGeoModel().fit(data)
    assert sbg.log_likelihood_ == pytest.approx(SBG_REGULAR_LL, abs=0.01)
    assert model.log_likelihood_ >= sbg.log_likelihood_  # the sBG is nested (c = 1)
    assert model.log_likelihood_ == pytest.approx(-1679.60, abs=0.01)
    assert model.params_["c"] > 1  # churn hazards rise with tenure in this cohort
    assert model.aic_ == pytest.approx(6 - 2 * model.log_likelihood_)


# ------------------------------------------------------ likelihood and gradient
def test_likelihood_pieces_are_the_bdw_probabilities():
    a, b, c = 0.8, 2.5, 0.7

    def surv(t):  # E[(1 - theta)^(t^c)] under Beta(a, b), by quadrature
        from scipy import stats
        return integrate.quad(lambda th: (1 - th) ** (t**c) * stats.beta.pdf(th, a, b), 0, 1,
                              epsabs=0, epsrel=1e-12)[0]

    ll = bdw_log_likelihood(a, b, c, np.array([1, 5, 5, 6]), np.array([1, 1, 0, 1]),
                            np.array([0, 2, 3, 5]))
    expected = [1 - surv(1), (surv(4) - surv(5)) / surv(2), surv(5) / surv(3),
                (surv(5) - surv(6)) / surv(5)]
    np.testing.assert_allclose(np.exp(ll), expected, rtol=1e-9)


@pytest.mark.parametrize("truth", [(0.8, 2.5, 0.7), (1.2, 6.0, 1.4), (0.3, 500.0, 3.0)])
def test_gradient_matches_finite_differences(rng, truth):
    t, churned, entry = random_rows(rng, t_max=80)
    assert (entry > 0).sum() > 100
    model = BetaDiscreteWeibullModel()
    arrays = {"tenure": t, "churned": churned, "entry": entry}
    w = rng.integers(1, 5, t.size).astype(float)
    theta = np.log(truth)
    g = model._loglik_and_grad(theta, arrays, w)[1]
    h = 1e-6
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        num = (model._loglik_and_grad(theta + e, arrays, w)[0]
               - model._loglik_and_grad(theta - e, arrays, w)[0]) / (2 * h)
        assert g[j] == pytest.approx(num, rel=1e-6, abs=1e-6)


@pytest.fixture(scope="module")
def two_groups():
    """12,000 accounts seen through random windows: x = 0 with (alpha, beta) = (0.9, 6),
    x = 1 with (1.8, 3), c = 0.8 shared."""
    rng = np.random.default_rng(3)
    groups = []
    for x, (a, b) in enumerate([(0.9, 6.0), (1.8, 3.0)]):
        entry = rng.integers(0, 13, 6000)
        groups.append(simulate_bdw(6000, a, b, 0.8, tenure_max=entry + 12, entry=entry,
                                   random_state=rng).assign(x=float(x), revenue=30.0))
    data = pd.concat(groups, ignore_index=True)
    data.attrs["time_unit"] = "month"
    return data


def test_covariate_gradient_matches_finite_differences(two_groups):
    model = BetaDiscreteWeibullCovariateModel(covariates=["x"])
    arrays, weights = model._prepare(two_groups)
    assert model.param_names == ("alpha", "beta", "c", "alpha[x]", "beta[x]")
    theta = np.log([0.8, 5.0, 0.9, 1.5, 0.7])
    g = model._loglik_and_grad(theta, arrays, weights)[1]
    h = 1e-6
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        num = (model._loglik_and_grad(theta + e, arrays, weights)[0]
               - model._loglik_and_grad(theta - e, arrays, weights)[0]) / (2 * h)
        assert g[j] == pytest.approx(num, rel=1e-6, abs=1e-5)


@pytest.mark.parametrize("covariates", [(), ("x",)])
def test_pymc_graph_is_the_mle_likelihood(two_groups, rng, covariates):
    import pytensor
    import pytensor.tensor as pt

    model = BetaDiscreteWeibullCovariateModel(covariates=covariates)
    arrays, weights = model._prepare(two_groups)
    assert (arrays["entry"] > 0).any() and weights.size < 1000
    scalars = {n: pt.dscalar(n) for n in model.param_names}
    ll = model._pymc_log_likelihood(scalars, arrays, weights)
    f = pytensor.function(list(scalars.values()), [ll, *pytensor.grad(ll, list(scalars.values()))])
    for _ in range(3):
        p = np.exp(rng.normal(scale=0.5, size=len(scalars)))
        value, *grad = f(*p)
        ll_np, g_np = model._loglik_and_grad(np.log(p), arrays, weights)
        assert float(value) == pytest.approx(ll_np, rel=1e-8)
        np.testing.assert_allclose(np.array(grad) * p, g_np, rtol=1e-6, atol=1e-6)


def test_nobody_churned_needs_a_prior():
    data = pd.DataFrame({"tenure": [3, 5, 12, 12, 30], "churned": [False] * 5})
    with pytest.raises(FitError, match=r"(?s)did not converge.*--method map"):
        BetaDiscreteWeibullModel().fit(data)
    model = BetaDiscreteWeibullModel(time_unit="month", draws=50).fit(data, method="map")
    assert np.all(np.isfinite(model.params_))
    derl = model.discounted_expected_residual_lifetime(data, discount_rate=0.1)
    assert np.isfinite(derl).all() and (derl > 0).all()


# ------------------------------------------------ closed forms vs simulation
@pytest.mark.parametrize("truth", [(0.8, 2.5, 0.7), (1.2, 6.0, 1.4)])
def test_simulated_renewals_match_the_conditional_survival(rng, truth):
    n, t = 200_000, 6.0
    k = bdw_simulate_renewals(*truth, np.full(n, t), rng)
    for j in (1, 3, 10, 30):
        exact = bdw_survival(*truth, t + j) / bdw_survival(*truth, t)
        assert np.mean(k >= j) == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / n))
    capped = bdw_simulate_renewals(*truth, np.full(1000, t), rng, horizon=4)
    assert capped.max() == 4
    # DERL is the mean discounted count of future payments
    lam = 0.05
    value = discounted_count(k, lam)
    derl = bdw_discounted_residual_lifetime(*truth, t, np.expm1(lam))
    assert value.mean() == pytest.approx(derl, abs=4 * value.std() / np.sqrt(n))


def test_simulated_lifetimes_follow_the_survival_curve():
    truth = (0.8, 2.5, 0.7)
    data = simulate_bdw(200_000, *truth, tenure_max=60, random_state=5)
    life = np.where(data["churned"], data["tenure"], np.inf)
    for t in (1, 2, 5, 20, 59):
        exact = bdw_survival(*truth, t)
        assert np.mean(life > t) == pytest.approx(exact, abs=4 * np.sqrt(exact / 200_000))


def test_renewal_counts_are_exact_at_whole_numbers():
    t = np.array([0.0, 8.0, 8.0, 30.0, 5.0])
    c = np.array([0.5, 0.5, 1.7, 1.3, 1.0])
    k = np.array([4.0, 3.0, 7.0, 11.0, 6.0])
    e = (t + k) ** c - t**c  # exposures that end exactly at renewal k
    np.testing.assert_array_equal(_renewals_before(t, e, c), k)
    np.testing.assert_array_equal(_renewals_before(t, np.nextafter(e, 0), c), k - 1)
    np.testing.assert_array_equal(_renewals_before(t, np.array([np.inf] * 5), c), np.inf)
    # a churn probability that underflows to 0 never churns; 1 churns at once
    assert np.isinf(bdw_simulate_renewals(1e-300, 1.0, 0.7, 3.0, np.random.default_rng(0)))


# ------------------------------------------------- residual lifetime sums
@pytest.mark.parametrize("a", [0.05, 0.8, 2.5, 40.0])
@pytest.mark.parametrize("c", [0.3, 0.7, 1.6, 4.0])
@pytest.mark.parametrize("t", [0.0, 12.0, 500.0])
def test_whole_life_derl_matches_brute_force(a, c, t):
    for b, lam in ((0.5, MONTHLY_10PCT), (300.0, 0.1)):
        periods = int(46 / lam)  # later terms are below e^-46 of the first
        assert float(bdw_discounted_residual_lifetime(a, b, c, t, np.expm1(lam))) == \
            pytest.approx(brute_sum(a, b, c, t, lam, periods), rel=1e-9)


@pytest.mark.parametrize(("a", "b", "c", "t"), [(2.0, 0.5, 1.5, 0.0), (1.5, 3.0, 3.0, 12.0),
                                                (10.0, 2.0, 0.3, 5.0)])
def test_expected_residual_lifetime_matches_a_long_sum(a, b, c, t):
    n = 1_000_000
    head = brute_sum(a, b, c, t, 0.0, n)

    y_n = t + 1 + n

    def integrand(v):  # S(y) / S(t) dy/dv at y = y_n e^v, in logs (y overflows)
        log_y = np.log(y_n) + v
        return np.exp(_log_gamma_ratio(np.asarray(b + np.exp(c * log_y)), a)
                      - _log_gamma_ratio(np.asarray(b + t**c), a) + log_y)

    # the rest: its integral plus the Euler-Maclaurin f/2 (f' / 12 is below 1e-12)
    tail = integrate.quad(integrand, 0, 700 / max(c, 1) - np.log(y_n), epsabs=0, epsrel=1e-12,
                          limit=500)[0] + integrand(0.0) / y_n / 2
    assert float(bdw_expected_residual_lifetime(a, b, c, t)) == pytest.approx(head + tail,
                                                                              rel=1e-9)


def test_expected_lifetime_is_infinite_when_c_alpha_is_at_most_one():
    t = np.array([0.0, 10.0])
    assert np.isinf(bdw_expected_residual_lifetime(0.8, 2.5, 1.25, t)).all()  # c alpha = 1
    assert np.isinf(bdw_expected_residual_lifetime(2.0, 2.5, 0.4, t)).all()  # 0.8
    # c alpha = 1.04: S(y) ~ A y^-1.04, so after a million terms half the sum is still to
    # come: add it from the expansion of the beta function (relative error ~1e-8)
    a, b, c, n = 0.8, 2.5, 1.3, 1_000_000
    p, kappa = c * a, a * b + a * (a - 1) / 2
    for tenure in t:
        log_a = -_log_gamma_ratio(np.asarray(b + tenure**c), a)
        y_n = tenure + 1 + n
        rest = np.exp(log_a) * (y_n ** (1 - p) / (p - 1) - kappa * y_n ** (1 - p - c) / (p + c - 1)
                                + y_n**-p / 2)
        assert bdw_expected_residual_lifetime(a, b, c, tenure) == pytest.approx(
            brute_sum(a, b, c, tenure, 0.0, n) + rest, rel=1e-6)
    # discounting makes every value finite; growth above the discount rate does not
    assert np.isfinite(bdw_discounted_residual_lifetime(0.8, 2.5, 1.25, t, 1e-6)).all()
    assert np.isinf(bdw_discounted_residual_lifetime(2.0, 2.5, 1.5, t, 0.01, growth=0.02)).all()
    model = BetaDiscreteWeibullModel().fit(accounts_from_survival(REGULAR))
    assert model.params_["c"] * model.params_["alpha"] < 1
    assert np.isinf(model.expected_lifetime())
    assert np.isinf(model.expected_residual_lifetime(pd.DataFrame({"tenure": [3]}))).all()
    # the finite summaries: years paid for within the first 12, and the median
    assert model.restricted_mean_lifetime(12) == pytest.approx(
        bdw_survival(*model.params_, np.arange(12)).sum(), rel=1e-12)
    assert model.median_lifetime() == 2.0  # S(1) = 0.63, S(2) = 0.47


def test_whole_life_derl_of_200_draws_by_1000_accounts_takes_seconds(rng):
    p = {"alpha": np.exp(rng.normal(np.log(0.8), 0.1, (200, 1))),
         "beta": np.exp(rng.normal(np.log(2.5), 0.1, (200, 1))),
         "c": np.exp(rng.normal(np.log(0.7), 0.05, (200, 1)))}
    t = rng.integers(0, 72, 1000).astype(float)
    start = time.process_time()
    derl = BetaDiscreteWeibullModel()._discounted_renewals(p, t, MONTHLY_10PCT)
    elapsed = time.process_time() - start
    assert derl.shape == (200, 1000) and np.isfinite(derl).all()
    assert elapsed < 10.0  # ~2 s on one core (the engine's term-by-term sum: ~60 s)
    i, j = 17, 345
    assert derl[i, j] == pytest.approx(brute_sum(p["alpha"][i, 0], p["beta"][i, 0], p["c"][i, 0],
                                                 t[j], MONTHLY_10PCT, 6000), rel=1e-9)


# ------------------------------------------------------------ parameter recovery
def observed_accounts(truth, n, design, seed):
    """``n`` accounts as an extract shows them (left-truncated accounts dropped):
    "window": first seen at a random decision 0..24, followed for 12 decisions;
    "snapshot": one decision each, at tenures spread over 1..72."""
    rng = np.random.default_rng(seed)
    pool = 12 * n
    if design == "window":
        entry = rng.integers(0, 25, pool)
        tenure_max = entry + 12
    else:
        tenure_max = rng.integers(1, 73, pool)
        entry = tenure_max - 1
    data = simulate_bdw(pool, *truth, tenure_max=tenure_max, entry=entry, random_state=rng)
    assert len(data) >= n
    out = data.iloc[:n]
    out.attrs.update(data.attrs)
    return out


def z_scores(model, truth):
    s = model.summary()
    return (np.log(s["estimate"]) - np.log(truth)) / (s["se"] / s["estimate"])


@pytest.mark.slow
@pytest.mark.parametrize("truth", [(0.8, 2.5, 0.7), (1.2, 6.0, 1.4)])
def test_recovers_parameters_from_left_truncated_windows(truth):
    data = observed_accounts(truth, 100_000, "window", seed=1)
    model = BetaDiscreteWeibullModel().fit(data)
    assert np.all(np.abs(z_scores(model, truth)) < 3)
    se = model.summary()["se"] / model.params_
    if truth[0] > 1:  # standard errors ~1-2%: each parameter within 5%
        np.testing.assert_allclose(model.params_, truth, rtol=0.05)
    else:  # alpha and beta trade off against c: se ~5% at 100,000 accounts
        assert np.all(se[["alpha", "beta"]] > 0.04)
    # what the windows show, the retention rates at tenures 1..36, is recovered closely
    t = np.arange(1, 37)
    np.testing.assert_allclose(model.retention_rate(t), bdw_retention_rate(*truth, t), atol=0.006)


@pytest.mark.slow
@pytest.mark.parametrize("truth", [(0.8, 2.5, 0.7), (1.2, 6.0, 1.4)])
def test_snapshot_identifies_the_retention_curve(truth):
    data = observed_accounts(truth, 100_000, "snapshot", seed=2)
    assert (data["tenure"] - data["entry"] == 1).all()
    model = BetaDiscreteWeibullModel().fit(data)
    assert np.all(np.abs(z_scores(model, truth)) < 3)
    # one decision per account identifies r(t) at each tenure, so S(t) over 1..72; how
    # that curve splits into alpha, beta and c is known to ~4-10% (se), c best
    t = np.arange(1, 73)
    np.testing.assert_allclose(model.retention_rate(t), bdw_retention_rate(*truth, t), atol=0.01)
    np.testing.assert_allclose(model.survival(t), bdw_survival(*truth, t), rtol=0.08)
    np.testing.assert_allclose(model.params_["c"], truth[2], rtol=0.1)
    if truth[0] > 1:
        np.testing.assert_allclose(model.params_, truth, rtol=0.1)


# ------------------------------------------------------------- value, persistence
@pytest.fixture(scope="module")
def monthly(two_groups):
    return BetaDiscreteWeibullModel(random_state=0, draws=200).fit(two_groups)


def test_contractual_lifetime_value_runs_on_the_bdw(monthly):
    accounts = pd.DataFrame({"tenure": [0, 12, 12], "churned": [False, False, True],
                             "revenue": [30.0, 30.0, 30.0]}, index=["new", "old", "gone"])
    clv = contractual_lifetime_value(monthly, accounts, revenue_col="revenue",
                                     discount_rate=0.1, horizon="3 years", n_draws=100,
                                     n_samples=500, random_state=0)
    assert (clv.loc["gone"] == 0).all()
    active = clv.loc[["new", "old"]]
    assert np.isfinite(active.to_numpy()).all()
    assert (active["expected_clv_lower"] <= active["expected_clv"]).all()
    assert (active["expected_clv"] <= active["expected_clv_upper"]).all()
    assert (active["clv_predictive_upper"] <= 30 * 36).all()
    p = {k: np.array([v]) for k, v in monthly.point_params().items()}
    lam = monthly.period_log_discount(0.1, 0.0, "test")
    np.testing.assert_allclose(clv.loc[["new", "old"], "expected_clv"],
                               30 * monthly._discounted_renewals(p, np.array([0.0, 12.0]), lam,
                                                                 36), rtol=1e-12)
    whole = contractual_lifetime_value(monthly, accounts, revenue_col="revenue",
                                       discount_rate=0.1, n_draws=50, n_samples=200,
                                       random_state=0)
    assert (whole.loc[["new", "old"], "expected_clv"] > active["expected_clv"]).all()


def test_contractual_lifetime_value_runs_on_the_covariate_bdw(two_groups):
    model = BetaDiscreteWeibullCovariateModel(covariates=["x"], random_state=0,
                                              draws=200).fit(two_groups)
    s = model.summary()
    assert s.loc["alpha[x]", "lower"] > 1 and s.loc["beta[x]", "upper"] < 1  # 2x, 0.5x
    assert s.loc["c", "lower"] < 0.8 < s.loc["c", "upper"]
    accounts = pd.DataFrame({"tenure": [6, 6], "x": [0.0, 1.0], "revenue": [30.0, 30.0]})
    clv = contractual_lifetime_value(model, accounts, revenue_col="revenue", discount_rate=0.1,
                                     horizon="3 years", n_draws=100, n_samples=500,
                                     random_state=0)
    assert np.isfinite(clv.to_numpy()).all()
    assert clv["expected_clv"][0] > clv["expected_clv"][1]  # x = 1 churns more


def test_save_and_load_round_trip(tmp_path, monthly):
    path = monthly.save(tmp_path / "bdw")
    loaded = BetaDiscreteWeibullModel.load(path)
    assert type(loaded) is BetaDiscreteWeibullModel
    pd.testing.assert_series_equal(loaded.params_, monthly.params_, check_exact=True)
    assert loaded.time_unit_ == "month" and loaded.draws_.identical(monthly.draws_)
    accounts = pd.DataFrame({"tenure": [0, 3, 40]})
    pd.testing.assert_series_equal(
        loaded.discounted_expected_residual_lifetime(accounts, discount_rate=0.1),
        monthly.discounted_expected_residual_lifetime(accounts, discount_rate=0.1))
    with pytest.raises(Exception, match="ShiftedBetaGeoModel|BetaDiscreteWeibullModel"):
        ShiftedBetaGeoModel.load(path)
