"""The predictive interval of customer_lifetime_value from live futures shared by customers
alike (clvmodels.value.predictive): the quantile of one customer's weighted futures, the
compiled generic pass against the numpy credible bounds, and the bounds against brute-force
simulation of each customer's own futures (the model's simulate_future, the reference)."""

import copy

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import clvmodels.value.kernel as ck
import clvmodels.value.predictive as predictive
from clvmodels import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    customer_lifetime_value,
)
from clvmodels.datasets import load_cdnow_summary, load_donations
from clvmodels.models.spend.gamma_gamma import gamma_gamma_expected_spend
from clvmodels.timeunits import annual_rate_to_continuous
from clvmodels.value.intervals import credible_bounds
from clvmodels.value.kernel import _predictive_row, predictive_bounds
from clvmodels.value.purchase import simulate_model_futures

PROBS = np.array([0.05, 0.95])


def _row(alive, xm, gamma, draw, value, margin=1.0, probs=PROBS):
    value = np.asarray(value, dtype=float)
    order = np.argsort(value, kind="stable")
    value, draw = value[order], np.asarray(draw, dtype=np.int64)[order]
    out = np.empty(2)
    _predictive_row(np.asarray(alive, float), xm, np.asarray(gamma, float), draw, value,
                    int((value <= 0).sum()), margin, probs, np.empty(value.size),
                    np.empty(value.size), out)
    return out


def _weighted_quantiles(alive, xm, gamma, draw, value, margin, probs):
    """The definition, written plainly: atoms of mass P(alive) at the scaled values of
    the futures with a purchase, the rest of the mass at 0; each atom at the middle of
    its mass, linear in between (from 0 at the top of the mass at 0)."""
    s = value.size
    pos = value > 0
    v = margin * (gamma[draw[pos]] + xm) * value[pos]
    w = alive[draw[pos]]
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    zero = s - w.sum()
    mids = zero + np.cumsum(w) - w / 2
    out = []
    for q in probs:
        t = q * s
        if t <= zero or v.size == 0:
            out.append(0.0)
        elif zero > 0:
            out.append(np.interp(t, np.r_[zero, mids], np.r_[0.0, v]))
        else:
            out.append(np.interp(t, mids, v))
    return np.array(out)


def test_unit_masses_give_numpy_hazen_quantiles(rng):
    for s in (20, 21, 200, 1001):
        value = rng.gamma(0.5, 2.0, s)
        draw = rng.integers(0, 3, s)
        got = _row(np.ones(3), 0.0, np.full(3, 2.5), draw, value, margin=0.3)
        np.testing.assert_allclose(got, np.quantile(0.3 * 2.5 * value, PROBS, method="hazen"),
                                   rtol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_weighted_quantiles_follow_their_definition(seed):
    """P(alive) below 1 and varying by draw, spend scales varying by draw, futures
    without purchases, several levels: the compiled selection equals the definition."""
    rng = np.random.default_rng(seed)
    k, s = 7, int(rng.integers(20, 400))
    alive = rng.random(k) ** rng.uniform(0.2, 3.0)
    gamma = rng.uniform(5.0, 30.0, k)
    draw = rng.integers(0, k, s)
    value = rng.gamma(0.7, 1.0, s) * (rng.random(s) < rng.uniform(0.2, 1.0))
    for level in (0.5, 0.8, 0.9, 0.99):
        probs = np.array([(1 - level) / 2, (1 + level) / 2])
        got = _row(alive, 12.0, gamma, draw, value, 0.4, probs)
        want = _weighted_quantiles(alive, 12.0, gamma, draw, value, 0.4, probs)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_customer_surely_gone_or_without_purchases_gets_zero_and_nan_spreads():
    value = np.linspace(0.0, 3.0, 50)
    draw = np.zeros(50, dtype=np.int64)
    assert _row([0.0], 10.0, [1.0], draw, value).tolist() == [0.0, 0.0]
    assert _row([1.0], 10.0, [1.0], draw, np.zeros(50)).tolist() == [0.0, 0.0]
    # mostly gone: the lower bound is 0, the upper one inside the live values
    lo, hi = _row([0.2], 0.0, [1.0], draw, value)
    assert lo == 0.0 and 0.0 < hi < 3.0
    assert np.isnan(_row([np.nan], 0.0, [1.0], draw, value)).all()


def test_predictive_bounds_refuse_inconsistent_shapes():
    pool = (np.zeros((2, 20), dtype=np.int64), np.ones((2, 20)), np.zeros(2, dtype=np.int64))
    ok = dict(alive=np.ones((1, 3)), alive_index=[0], pool=pool, pool_index=[1],
              gamma=np.ones(3), xm=[0.0], margin=1.0, probs=PROBS)
    assert predictive_bounds(**ok).shape == (2, 1)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        predictive_bounds(**{**ok, "pool_index": [2]})
    with pytest.raises(ValueError, match="inconsistent shapes"):
        predictive_bounds(**{**ok, "gamma": np.ones(2)})


# ------------------------------------------------------- against brute-force simulation
def _with_draws(model, draws: dict):
    """A copy of ``model`` whose parameter draws are ``draws`` (one chain)."""
    out = copy.deepcopy(model)
    out.draws_ = xr.Dataset({k: (("chain", "draw"), np.asarray(v)[None, :])
                             for k, v in draws.items()})
    return out


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def cdnow_gg(cdnow):
    return GammaGammaModel(random_state=2).fit(cdnow)


def _cases():
    cdnow_rows = pd.DataFrame({  # new, young, typical, probably gone, heavy and recent
        "frequency": [0.0, 0.0, 2.0, 2.0, 30.0, 6.0],
        "recency": [0.0, 0.0, 30.43, 5.0, 38.5, 20.0],
        "T": [38.0, 4.0, 38.86, 38.86, 39.0, 39.0],
        "monetary_value": [np.nan, np.nan, 40.0, 40.0, 25.0, 100.0]})
    donation_rows = pd.DataFrame({
        "frequency": [0.0, 3.0, 3.0, 6.0, 5.0], "recency": [0.0, 6.0, 3.0, 6.0, 6.0],
        "n_periods": [6.0, 6.0, 6.0, 6.0, 6.0],
        "monetary_value": [np.nan, 30.0, 30.0, 60.0, 10.0]})
    return [(BetaGeoModel, "cdnow", cdnow_rows, 52.0, "weeks"),
            (ModifiedBetaGeoModel, "cdnow", cdnow_rows, 52.0, "weeks"),
            (ParetoNBDModel, "cdnow", cdnow_rows, 52.0, "weeks"),
            (BetaGeoBetaBinomModel, "donations", donation_rows, 5.0, "years")]


@pytest.mark.slow
@pytest.mark.parametrize("cls, data, rows, horizon, unit", _cases(),
                         ids=lambda v: getattr(v, "__name__", None))
def test_bounds_match_brute_force_simulation(cls, data, rows, horizon, unit, cdnow, cdnow_gg):
    """20 parameter draws of the fit, spend at its point estimate; the bounds from
    20,000 shared live futures against 100,000 futures of each customer simulated one by
    one (the model's simulate_future): checked on the probability scale, where the
    brute-force distribution function at each bound must be its probability within
    about 4 Monte Carlo standard errors of both estimates (0.007 for 5% / 95%). A
    bound of 0 needs at least that probability of no value at all."""
    summary = cdnow if data == "cdnow" else load_donations()
    model = cls(random_state=1).fit(summary)
    all_draws = model.param_draws()
    model = _with_draws(model, {k: v[:20] for k, v in all_draws.items()})
    spend = _with_draws(cdnow_gg, {k: np.full(20, v) for k, v in cdnow_gg.point_params().items()})
    spend.time_unit_ = summary.attrs["time_unit"]  # spend per purchase has no time unit
    rows = rows.copy()
    rows.attrs = dict(summary.attrs)
    out = customer_lifetime_value(model, spend, rows, horizon=f"{horizon:g} {unit}",
                                  discount_rate=0.1, n_draws=None, n_samples=20_000,
                                  random_state=3)
    delta = annual_rate_to_continuous(0.1, rows.attrs["time_unit"])
    arrays = {"frequency": rows["frequency"].to_numpy(float),
              "recency": rows["recency"].to_numpy(float),
              "T": rows["n_periods" if data == "donations" else "T"].to_numpy(float),
              "monetary_value": rows["monetary_value"].to_numpy(float)}
    brute = simulate_model_futures(model, arrays, horizon, delta, 100_000,
                                   np.random.default_rng(4), spend_model=spend).value
    tol = 4 * np.sqrt(0.05 * 0.95 * (1 / 100_000 + 1 / 20_000)) + 1e-3
    for i in range(len(rows)):
        for bound, q in (("clv_predictive_lower", 0.05), ("clv_predictive_upper", 0.95)):
            v = out[bound].iloc[i]
            if v == 0.0:
                assert (brute[i] == 0).mean() >= q - tol, (i, bound)
            else:
                below = (brute[i] < v).mean()
                at_most = (brute[i] <= v).mean()
                assert below - tol <= q <= at_most + tol, (i, bound, v, below)
    assert (out.clv_predictive_lower > 0).any() or cls is BetaGeoBetaBinomModel


# ------------------------------------------------------------- the compiled generic pass
def test_generic_credible_bounds_equal_the_numpy_path(rng):
    k, n_alive, n_pair, n = 60, 7, 4, 300
    alive = rng.random((n_alive, k))
    per_pair = rng.gamma(2.0, 1.0, (n_pair, k))
    gg = {"p": rng.uniform(4, 8, k), "q": rng.uniform(2, 5, k), "gamma": rng.uniform(10, 20, k)}
    rows = {"frequency": rng.integers(0, 5, n).astype(float),
            "monetary_value": rng.gamma(5.0, 8.0, n)}
    rows["monetary_value"][rows["frequency"] == 0] = np.nan
    ia, ip = rng.integers(0, n_alive, n), rng.integers(0, n_pair, n)
    pool = (rng.integers(0, k, (n_pair, 40)), np.sort(rng.gamma(1.0, 1.0, (n_pair, 40)), axis=1),
            np.zeros(n_pair, dtype=np.int64))
    out = ck.generic_clv_bounds(alive, ia, per_pair, ip, gg, rows, 0.3, 0.9, pool)
    spend = gamma_gamma_expected_spend(*(gg[c][:, None] for c in ("p", "q", "gamma")),
                                       rows["frequency"], rows["monetary_value"])
    values = 0.3 * alive[ia].T * per_pair[ip].T * spend
    np.testing.assert_allclose(out[:2], credible_bounds(values, 0.9), rtol=1e-12)
    xm = np.where(rows["frequency"] > 0, rows["frequency"] * np.nan_to_num(rows["monetary_value"]),
                  0.0)
    np.testing.assert_allclose(out[2:], predictive_bounds(alive, ia, pool, ip, gg["gamma"], xm,
                                                          0.3, PROBS), rtol=1e-12)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        ck.generic_clv_bounds(alive, ia, per_pair, ip + n_pair, gg, rows, 0.3, 0.9, pool)
    # read-only tables (cached or chunked ones are) run the variant already compiled
    compiled = len(ck._generic_bounds.signatures)
    for table in (alive, per_pair):
        table.flags.writeable = False
        again = ck.generic_clv_bounds(alive, ia, per_pair, ip, gg, rows, 0.3, 0.9, pool)
        np.testing.assert_array_equal(again, out)
    assert len(ck._generic_bounds.signatures) == compiled


@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel])
def test_bounds_do_not_depend_on_threads(cls, cdnow, cdnow_gg, monkeypatch):
    model = cls(random_state=1).fit(cdnow)
    kw = dict(horizon="52 weeks", discount_rate=0.1, n_draws=30, n_samples=40, random_state=5)
    monkeypatch.setattr(ck, "_threads", lambda n: 2)  # rows split in two
    monkeypatch.setattr(predictive, "threads_for", lambda n: 2)  # futures in two threads
    whole = customer_lifetime_value(model, cdnow_gg, cdnow, **kw)
    monkeypatch.setattr(ck, "_threads", lambda n: 1)
    monkeypatch.setattr(predictive, "threads_for", lambda n: 1)
    pd.testing.assert_frame_equal(customer_lifetime_value(model, cdnow_gg, cdnow, **kw), whole)
