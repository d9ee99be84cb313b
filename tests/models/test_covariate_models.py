"""Covariate models (:mod:`clvmodels.models.covariates`) on the five purchase and spend
models: the analytic gradient, the reduction to the model without covariates, parameter
recovery from customers simulated with per-customer parameters, likelihood-ratio tests,
save/load, and shrinkage by a prior or a ridge penalty.

Simulated customers carry two 0/1 covariates (text levels "no"/"yes", "no" the reference)
and continuous ones, ``x ~ Normal(5, 1.5)``; the link is the module's
``log theta_i = log theta + sign * z_i @ c`` with ``c`` per unit of the user's column.
Purchase models: ``b1, b2, x1`` on the purchase side, ``b1, b2, x2`` on the drop-out side
with no effect of ``x2`` (true coefficient 0). BG/BB, whose rows only compress when the
covariates take few values, uses one whole-number covariate ``x`` in 0..8 on both sides,
with no drop-out effect. Gamma-Gamma: ``b1, b2, x1`` act on the spend scale, ``x2`` does
not. Seeds are fixed per data set (below); the sizes are the smallest that give every
coefficient a standard error below 0.1 on the encoded scale.
"""

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import (
    BetaGeoBetaBinomCovariateModel,
    BetaGeoBetaBinomModel,
    BetaGeoCovariateModel,
    BetaGeoModel,
    GammaGammaCovariateModel,
    GammaGammaModel,
    ModifiedBetaGeoCovariateModel,
    ModifiedBetaGeoModel,
    ParetoNBDCovariateModel,
    ParetoNBDModel,
)
from clvmodels.datasets import load_cdnow_summary, load_donations
from clvmodels.models.purchase.bgbb import simulate_bgbb
from clvmodels.models.purchase.mbgnbd import simulate_mbgnbd
from clvmodels.models.purchase.pnbd import simulate_pnbd
from clvmodels.simulate import simulate_bgnbd, simulate_spend

X_MEAN, X_SD = 5.0, 1.5
REFERENCE = {"b1": "no", "b2": "no"}
PURCHASE = {"b1": 0.5, "b2": -0.4, "x1": 0.3}
DROPOUT = {"b1": 0.4, "b2": -0.3, "x2": 0.0}
SIDES = {"purchase": ["b1", "b2", "x1"], "dropout": ["b1", "b2", "x2"]}

# name: (covariate model, base model, simulator, shared parameters at z = 0 (x at its
# population mean), {parameter: (sign, true coefficients per unit)}, customers, seed)
CONTINUOUS = {
    "bgnbd": (BetaGeoCovariateModel, BetaGeoModel, simulate_bgnbd,
              {"r": 1.5, "alpha": 4.0, "a": 1.0, "b": 3.0},
              {"alpha": (-1, PURCHASE), "a": (1, DROPOUT),
               "b": (1, {k: -v for k, v in DROPOUT.items()})}, 20_000, 11),
    "mbgnbd": (ModifiedBetaGeoCovariateModel, ModifiedBetaGeoModel, simulate_mbgnbd,
               {"r": 1.5, "alpha": 4.0, "a": 1.0, "b": 3.0},
               {"alpha": (-1, PURCHASE), "a": (1, DROPOUT),
                "b": (1, {k: -v for k, v in DROPOUT.items()})}, 20_000, 12),
    "pnbd": (ParetoNBDCovariateModel, ParetoNBDModel, simulate_pnbd,
             {"r": 1.5, "alpha": 4.0, "s": 0.8, "beta": 20.0},
             {"alpha": (-1, PURCHASE), "beta": (-1, DROPOUT)}, 6_000, 13),
}
BGBB_TRUTH = {"alpha": (1, {"b1": 0.5, "b2": -0.4, "x": 0.15}),
              "beta": (1, {"b1": -0.4, "b2": 0.3, "x": -0.15}),
              "gamma": (1, {"b1": 0.4, "b2": -0.3, "x": 0.0}),
              "delta": (1, {"b1": -0.4, "b2": 0.3, "x": 0.0})}
BGBB_BASE = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78}
GG_TRUTH = {"gamma": (1, {"b1": 0.4, "b2": -0.3, "x1": 0.3, "x2": 0.0})}
GG_BASE = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _binary(rng, n, share):
    return np.where(rng.random(n) < share, "yes", "no")


def _eta(frame, coefs, centre):
    """``z @ c`` on the user's scale, continuous columns measured from ``centre``."""
    out = np.zeros(len(frame))
    for col, c in coefs.items():
        v = frame[col].to_numpy()
        out += c * ((v == "yes").astype(float) if col.startswith("b") else v - centre)
    return out


def _row_values(frame, base, truth, centre):
    return {p: (v * np.exp(truth[p][0] * _eta(frame, truth[p][1], centre)) if p in truth else v)
            for p, v in base.items()}


def _continuous_data(name):
    _, _, simulate, base, truth, n, seed = CONTINUOUS[name]
    rng = np.random.default_rng(seed)
    cov = pd.DataFrame({"b1": _binary(rng, n, 0.4), "b2": _binary(rng, n, 0.3),
                        "x1": rng.normal(X_MEAN, X_SD, n), "x2": rng.normal(X_MEAN, X_SD, n)})
    sim = simulate(n, **_row_values(cov, base, truth, X_MEAN), T=rng.uniform(30.0, 80.0, n),
                   random_state=rng)
    return pd.concat([sim[["frequency", "recency", "T"]], cov.set_index(sim.index)], axis=1)


def _bgbb_data(n=50_000, seed=14):
    rng = np.random.default_rng(seed)
    cov = pd.DataFrame({"b1": _binary(rng, n, 0.4), "b2": _binary(rng, n, 0.3),
                        "x": rng.integers(0, 9, n).astype(float)})
    sim = simulate_bgbb(n, **_row_values(cov, BGBB_BASE, BGBB_TRUTH, 4.0), n_periods=12,
                        random_state=rng)
    return pd.concat([sim[["frequency", "recency", "n_periods"]], cov.set_index(sim.index)],
                     axis=1)


def _gg_data(n=2_000, seed=15):
    rng = np.random.default_rng(seed)
    cov = pd.DataFrame({"b1": _binary(rng, n, 0.4), "b2": _binary(rng, n, 0.3),
                        "x1": rng.normal(X_MEAN, X_SD, n), "x2": rng.normal(X_MEAN, X_SD, n)})
    freq = rng.poisson(3.0, n)
    gamma = _row_values(cov, GG_BASE, GG_TRUTH, X_MEAN)["gamma"]
    spend = simulate_spend(freq, GG_BASE["p"], GG_BASE["q"], gamma, random_state=rng)
    summary = pd.DataFrame({"frequency": freq, "recency": np.where(freq > 0, 10.0, 0.0),
                            "T": 20.0, "monetary_value": np.nan_to_num(spend)})
    return pd.concat([summary, cov], axis=1)


def _fit(name):
    if name in CONTINUOUS:
        data = _continuous_data(name)
        return CONTINUOUS[name][0](covariates=SIDES, reference=REFERENCE).fit(data), data
    if name == "bgbb":
        data = _bgbb_data()
        model = BetaGeoBetaBinomCovariateModel(covariates=["b1", "b2", "x"], reference=REFERENCE)
        return model.fit(data), data
    data = _gg_data()
    model = GammaGammaCovariateModel(covariates=["b1", "b2", "x1", "x2"], reference=REFERENCE)
    return model.fit(data), data


MODELS = ["bgnbd", "mbgnbd", "pnbd", "bgbb", "gg"]
TRUTH = {**{k: v[4] for k, v in CONTINUOUS.items()}, "bgbb": BGBB_TRUTH, "gg": GG_TRUTH}


@pytest.fixture(scope="module")
def fits():
    """One maximum-likelihood fit per model on its simulated customers, made on first use."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = _fit(name)
        return cache[name]

    return get


def _truth_encoded(name, model, data):
    """True coefficients on the encoded scale: per unit times the sample standard
    deviation (ddof 0) of a continuous column, as the encoding standardizes it."""
    out = {}
    for param, (_, coefs) in TRUTH[name].items():
        for col, c in coefs.items():
            feature = f"{col}[yes]" if col.startswith("b") else col
            scale = 1.0 if col.startswith("b") else float(data[col].to_numpy().std())
            out[f"{param}:{feature}"] = c * scale
    assert set(out) == set(model.coefficients().index)
    return pd.Series(out)


# ------------------------------------------------------------------------- gradient
@pytest.mark.parametrize("name", MODELS)
def test_gradient_matches_central_differences(name, fits, rng):
    model, data = fits(name)
    arrays, weights = model._prepare(data)
    theta = model.log_params_ + rng.normal(scale=0.05, size=model.log_params_.size)
    _, grad = model._loglik_and_grad(theta, arrays, weights)
    h = 1e-6
    numeric = np.array([(model._loglik_and_grad(theta + e, arrays, weights)[0]
                         - model._loglik_and_grad(theta - e, arrays, weights)[0]) / (2 * h)
                        for e in np.eye(theta.size) * h])
    # away from the optimum: the gradient is far from 0, so the check has teeth
    assert np.abs(grad).max() > 10.0
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-3 * np.abs(grad).max())


# ----------------------------------------------------------- zero coefficients
@pytest.fixture(scope="module")
def real_data():
    """CDNOW (weeks) and the donations (one row per donor) with a random text and a
    numeric covariate (seed 0); BG/BB's numeric one takes whole values so rows compress."""
    rng = np.random.default_rng(0)
    cdnow = load_cdnow_summary()
    cdnow["seg"] = np.where(rng.random(len(cdnow)) < 0.4, "web", "store")
    cdnow["num"] = rng.normal(3.0, 2.0, len(cdnow))
    don = load_donations()
    don = don.loc[don.index.repeat(don["weight"].astype(int))].reset_index(drop=True)
    don["weight"] = 1.0
    don["seg"] = np.where(rng.random(len(don)) < 0.4, "web", "store")
    don["num"] = rng.integers(0, 5, len(don)).astype(float)
    return cdnow, don


ZERO_CASES = [(BetaGeoCovariateModel, BetaGeoModel), (ModifiedBetaGeoCovariateModel,
              ModifiedBetaGeoModel), (ParetoNBDCovariateModel, ParetoNBDModel),
              (BetaGeoBetaBinomCovariateModel, BetaGeoBetaBinomModel),
              (GammaGammaCovariateModel, GammaGammaModel)]


@pytest.mark.parametrize("cov_cls, base_cls", ZERO_CASES, ids=lambda c: c.__name__)
def test_zero_coefficients_are_the_model_without_covariates(cov_cls, base_cls, real_data):
    cdnow, don = real_data
    data = don if base_cls is BetaGeoBetaBinomModel else cdnow
    model = cov_cls(covariates=["seg", "num"]).fit(data)
    base = base_cls().fit(data)
    n_coef = len(model.param_names) - len(base.param_names)
    assert n_coef > 0 and model.param_names[:len(base.param_names)] == base.param_names
    theta0 = np.concatenate([base.log_params_, np.zeros(n_coef)])
    arrays, weights = model._prepare(data)
    assert model._loglik_and_grad(theta0, arrays, weights)[0] == pytest.approx(
        base.log_likelihood_, rel=0, abs=1e-9)
    # the fitted covariate model moved away from the base MLE: the overwrite below matters
    assert model.log_likelihood_ > base.log_likelihood_
    # the covariate model at the base MLE plus zero coefficients predicts as the base
    model.log_params_ = theta0
    model.params_ = pd.Series(np.exp(theta0), index=list(model.param_names), name="estimate")
    if base_cls is GammaGammaModel:
        pairs = [(model.expected_spend(data), base.expected_spend(data))]
    else:
        t = 4 if base_cls is BetaGeoBetaBinomModel else 39.0
        pairs = [(model.probability_alive(data), base.probability_alive(data)),
                 (model.expected_purchases(data, t), base.expected_purchases(data, t))]
    for got, want in pairs:
        assert np.isfinite(want).all()
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12, atol=0)


# -------------------------------------------------------------------- recovery
@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_coefficients_are_recovered(name, fits):
    model, data = fits(name)
    coef = model.coefficients()
    truth = _truth_encoded(name, model, data)[coef.index]
    # the sample is large enough for the check to mean something: with standard errors
    # below 0.1 an effect of 0.3 cannot pass for none
    assert (coef["se"] < 0.1).all(), coef["se"]
    z = (coef["estimate"] - truth) / coef["se"]
    assert (z.abs() < 3).all(), pd.DataFrame({"truth": truth, "estimate": coef["estimate"],
                                              "se": coef["se"], "z": z})
    nulls = truth.index[truth == 0]
    assert len(nulls) > 0 and (coef.loc[nulls, "z"].abs() < 3).all()
    # per unit of the user's column: the encoded coefficient over the column's sd
    for col in ("x1", "x2", "x"):
        rows = [i for i in coef.index if i.endswith(f":{col}")]
        sd = data[col].std(ddof=0) if rows else 1.0
        np.testing.assert_allclose(coef.loc[rows, "per_unit"], coef.loc[rows, "estimate"] / sd,
                                   rtol=1e-12)


# ---------------------------------------------------------- likelihood ratios
@pytest.mark.slow
@pytest.mark.parametrize("name", ["gg", "bgnbd"])
def test_likelihood_ratio_tests_find_the_real_effects(name, fits):
    """Seeds 15 (Gamma-Gamma) and 11 (BG/NBD): ``x2`` has no effect on any side."""
    model, data = fits(name)
    lr = model.likelihood_ratio_tests(data)
    real = ["b1", "b2", "x1", "all", *(["spend side"] if name == "gg"
                                       else ["purchase side", "dropout side"])]
    assert set(lr.index) == {*real, "x2"}
    assert (lr.loc[real, "p_value"] < 1e-3).all(), lr
    assert lr.loc["x2", "p_value"] > 1e-3, lr
    assert lr.loc["x2", "df"] == (1 if name == "gg" else 2)
    assert lr.loc["all", "df"] == len(model.coefficients())
    assert (lr["lr"] > -1e-6).all()  # nested fits: the full model is at least as likely


# ---------------------------------------------------------------- save / load
@pytest.mark.parametrize("name", MODELS)
def test_save_and_load_round_trip(name, fits, tmp_path):
    model, data = fits(name)
    model.save(tmp_path / name)
    loaded = clvmodels.load_model(tmp_path / name)
    assert type(loaded) is type(model)
    assert loaded.param_names == model.param_names
    pd.testing.assert_series_equal(loaded.params_, model.params_, check_exact=True)
    pd.testing.assert_frame_equal(loaded.coefficients(), model.coefficients(), check_exact=True)
    head = data.iloc[:500]
    if name == "gg":
        calls = [lambda m: m.expected_spend(head)]
    else:
        t = 4 if name == "bgbb" else 26.0
        calls = [lambda m: m.probability_alive(head), lambda m: m.expected_purchases(head, t)]
    for call in calls:
        pd.testing.assert_series_equal(call(loaded), call(model), check_exact=True)


# ------------------------------------------------------------------ shrinkage
@pytest.mark.parametrize("name", ["gg", "bgnbd"])
def test_prior_and_penalty_shrink_the_coefficients(name, fits):
    model, data = fits(name)
    settings = {"covariates": model.covariates, "reference": REFERENCE}
    mle = model.coefficients()["estimate"]
    shrunk = {
        "map": type(model)(coefficient_prior_sd=0.2, **settings).fit(data, method="map"),
        "l2": type(model)(l2_penalty=100.0, **settings).fit(data),
    }
    for how, fitted in shrunk.items():
        est = fitted.coefficients()["estimate"]
        # the penalized coefficients are shorter as a whole ...
        assert float(est @ est) < float(mle @ mle), how
        if name == "gg":
            # ... and, with one linked parameter and near-independent covariates, each
            # real effect moves toward 0 without changing sign
            real = [i for i in est.index if not i.endswith(":x2")]
            assert (np.abs(est[real]) < np.abs(mle[real])).all(), (how, est, mle)
            assert (np.sign(est[real]) == np.sign(mle[real])).all()


# ------------------------------------------------- simulators, one value per customer
SIMULATORS = [(simulate_bgnbd, (0.24, 4.41, 0.79, 2.43), {"T": 39.0, "holdout": 5.0}),
              (simulate_mbgnbd, (0.52, 6.18, 0.89, 1.61), {"T": 39.0}),
              (simulate_pnbd, (0.55, 10.6, 0.61, 11.7), {"T": 39.0, "holdout": 5.0}),
              (simulate_bgbb, (1.2, 0.75, 0.66, 2.78), {"n_periods": 6, "holdout": 2})]


@pytest.mark.parametrize("simulate, params, kw", SIMULATORS,
                         ids=lambda v: getattr(v, "__name__", ""))
def test_simulators_take_one_value_per_customer(simulate, params, kw):
    n = 4_000
    scalar = simulate(n, *params, **kw, random_state=3)
    # the same value for everyone as an array draws exactly what the scalar draws
    same = simulate(n, *(np.full(n, v) for v in params), **kw, random_state=3)
    pd.testing.assert_frame_equal(same, scalar, check_exact=True)
    # the second half of the customers with a 4x larger first parameter (r, or BG/BB's
    # alpha): each customer's own value is used
    first = np.where(np.arange(n) < n // 2, params[0], 4 * params[0])
    mixed = simulate(n, first, *params[1:], **kw, random_state=3)
    halves = mixed.iloc[: n // 2], mixed.iloc[n // 2:]
    if simulate is simulate_bgbb:  # mean transaction probability alpha / (alpha + beta)
        for half, a in zip(halves, (params[0], 4 * params[0])):
            assert half["true_p"].mean() == pytest.approx(a / (a + params[1]), abs=0.02)
    else:  # mean purchase rate r / alpha
        assert halves[1]["true_lambda"].mean() / halves[0]["true_lambda"].mean() == \
            pytest.approx(4.0, rel=0.15)
        assert halves[1]["frequency"].mean() > 1.5 * halves[0]["frequency"].mean()
    name = simulate.__name__
    with pytest.raises(ValueError, match=rf"The '\w+' parameter of {name} must be a positive "
                                         rf"float or an array of one positive float per "
                                         rf"customer \(length {n}\)\. Got an array of shape "
                                         r"\(3,\) instead\."):
        simulate(n, *params[:3], np.ones(3), **kw)
    bad = np.full(n, params[1])
    bad[7] = -1.0
    with pytest.raises(ValueError, match=r"Got an array with 1 non-positive or non-finite "
                                         r"value\(s\), the first at position 7 \(-1\.0\)"):
        simulate(n, params[0], bad, *params[2:], **kw)


def test_spend_simulator_takes_one_gamma_per_customer():
    x = np.arange(6_000) % 4 + 1
    pd.testing.assert_series_equal(
        pd.Series(simulate_spend(x, 6.25, 3.74, np.full(x.size, 15.44), random_state=2)),
        pd.Series(simulate_spend(x, 6.25, 3.74, 15.44, random_state=2)), check_exact=True)
    gamma = np.where(np.arange(x.size) % 2 == 0, 15.44, 2 * 15.44)
    m = simulate_spend(x, 6.25, 3.74, gamma, random_state=2)
    # the mean spend per purchase is p gamma / (q - 1): doubled for the odd customers
    assert m[1::2].mean() / m[::2].mean() == pytest.approx(2.0, rel=0.1)
    with pytest.raises(ValueError, match=r"The 'gamma' parameter of simulate_spend must be a "
                                         r"positive float or an array of one positive float "
                                         r"per customer \(length 6000\)"):
        simulate_spend(x, 6.25, 3.74, gamma[:10])
