"""What makes NUTS fast without changing what it samples: the BG/NBD kernel called
natively from PyTensor's compiled graph, and the start-of-iteration gradient reused."""

import warnings

import numpy as np
import pytest

from clvmodels import BetaGeoModel, GammaGammaModel
from clvmodels.datasets import load_cdnow_summary
from clvmodels.models import bayes


def _at_mode(df, cls=BetaGeoModel):
    """``cls`` (by default BG/NBD) at its posterior mode on ``df``, with the arrays its
    PyMC model is built on."""
    model = cls(random_state=1)
    model._check_settings("mcmc")
    model.time_unit_ = model._resolve_time_unit(df)
    arrays, weights = model._prepare(df)
    model.n_obs_ = float(weights.sum())
    model._fit_optimum(arrays, weights, with_prior=True)
    return model, arrays, weights


@pytest.fixture(scope="module")
def cdnow_model():
    """BG/NBD on CDNOW at its posterior mode."""
    return _at_mode(load_cdnow_summary())


@pytest.fixture(scope="module")
def nuts_step(cdnow_model):
    """One NUTS step on that model (compiled once), the warnings its compilation
    raised, and a counter of the compiled function's calls."""
    import pymc as pm

    model, arrays, weights = cdnow_model
    pm_model = bayes.build_pymc_model(model, arrays, weights)
    with pm_model, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        potential = bayes._laplace_potential(model, pm_model, model.covariance_log_)
        step = pm.NUTS(potential=potential)
    calls = [0]
    inner = step.integrator._logp_dlogp_func

    def counted(q, info):
        calls[0] += 1
        return inner(q, info)

    step.integrator._logp_dlogp_func = counted
    return pm_model, step, caught, calls


def test_compiled_graph_calls_the_kernel_without_object_mode(cdnow_model, nuts_step):
    """PyMC's log posterior and gradient (numba back-end) equal the numpy likelihood
    plus prior, and compiling it fell back to object mode nowhere."""
    model, arrays, weights = cdnow_model
    _, step, caught, _ = nuts_step
    assert not [w for w in caught if "object mode" in str(w.message)]
    theta = np.asarray(model.log_params_, dtype=float) + 0.05
    logp, grad = step._logp_dlogp_func(theta)
    expected, expected_grad = model._log_posterior_terms(theta, arrays, weights, True)
    assert float(logp) == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-8)


def _nuts_run(model, pm_model, step, calls):
    import pymc as pm

    calls[0] = 0
    with pm_model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = pm.sample(draws=40, tune=40, chains=1, cores=1, step=step, random_seed=7,
                          progressbar=False, discard_tuned_samples=False,
                          initvals={k: float(v) for k, v in model.params_.items()},
                          compute_convergence_checks=False)
    draws = np.stack([idata["posterior"][n].values for n in model.param_names])
    leapfrog = int(idata["sample_stats"]["n_steps"].sum()
                   + idata["warmup_sample_stats"]["n_steps"].sum())
    return draws, calls[0], leapfrog


def test_reusing_the_start_gradient_changes_no_draw(cdnow_model, nuts_step):
    """Same seed, same draws to the bit (``pm.sample`` resets the step's tuning);
    without the memo every iteration evaluates its start once more (evaluations =
    leapfrog steps + iterations), with it only the chain's first start is evaluated
    (leapfrog steps + 1)."""
    model = cdnow_model[0]
    pm_model, step, _, calls = nuts_step
    plain, plain_calls, steps = _nuts_run(model, pm_model, step, calls)
    memo, memo_calls, memo_steps = _nuts_run(model, pm_model,
                                             bayes._reuse_start_gradient(step), calls)
    np.testing.assert_array_equal(plain, memo)
    assert memo_steps == steps
    assert plain_calls == steps + 80
    assert memo_calls == steps + 1


@pytest.mark.parametrize("cls", [BetaGeoModel, GammaGammaModel], ids=lambda c: c.__name__)
def test_compiled_graph_is_one_cache_entry_for_every_data_set(cls):
    """The data enter PyMC's graph as shared variables (not constants baked into the
    compiled code), so PyTensor's numba cache key of the log posterior and gradient is
    the same for CDNOW and for other data: a later fit loads the compiled graph
    instead of compiling it again (about 2 s per process; on a machine's empty cache,
    20 Gamma-Gamma fits on 20 data sets took 41 s with one compilation each and 23 s
    with one in all)."""
    import pymc as pm
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    from clvmodels import simulate_bgnbd, simulate_spend

    def cache_key(df):
        with bayes.build_pymc_model(*_at_mode(df, cls)):
            step = pm.NUTS()
        fgraph = step._logp_dlogp_func._pytensor_function.maker.fgraph
        return numba_funcify_and_cache_key(fgraph)[1]

    other = simulate_bgnbd(500, 0.3, 5.0, 0.8, 2.5, T=np.linspace(10, 60, 500),
                           random_state=3)
    other["monetary_value"] = np.where(
        other["frequency"] > 0,
        simulate_spend(np.maximum(other["frequency"].to_numpy(), 1), 6.0, 4.0, 15.0,
                       random_state=4), np.nan)
    cdnow = cache_key(load_cdnow_summary())
    assert cdnow is not None
    assert cache_key(other) == cdnow


def test_nuts_plan_fixes_the_laplace_metric_only_for_large_fits():
    """From 50,000 customers (with a Laplace start) NUTS warms up for 500 iterations
    with the Laplace covariance as a fixed mass matrix; below that, or without a
    Laplace start, it adapts over 1000; an explicit ``tune`` is used as given."""
    from pymc.step_methods.hmc.quadpotential import QuadPotentialFull, QuadPotentialFullAdapt

    large = bayes.LARGE_FIT
    assert bayes.nuts_plan(BetaGeoModel(), large, True) == (500, True)
    assert bayes.nuts_plan(BetaGeoModel(), large - 1, True) == (1000, False)
    assert bayes.nuts_plan(BetaGeoModel(), 10 * large, False) == (1000, False)
    assert bayes.nuts_plan(BetaGeoModel(tune=700), 10 * large, True) == (700, True)
    assert bayes.nuts_plan(BetaGeoModel(tune=700), 10, True) == (700, False)


def test_laplace_metric_fixed_or_adapting(cdnow_model):
    from pymc.step_methods.hmc.quadpotential import QuadPotentialFull, QuadPotentialFullAdapt

    model, arrays, weights = cdnow_model
    pm_model = bayes.build_pymc_model(model, arrays, weights)
    cov = model.covariance_log_
    assert isinstance(bayes._laplace_potential(model, pm_model, cov, True), QuadPotentialFull)
    assert isinstance(bayes._laplace_potential(model, pm_model, cov), QuadPotentialFullAdapt)
    assert bayes._laplace_potential(model, pm_model, cov * np.nan) is None
