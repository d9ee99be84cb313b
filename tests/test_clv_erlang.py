"""CLV and portfolio value under the Erlang-k purchase models ((M)BG/CNBD-k, k > 1): the
value functions run on them, the point CLV is P(alive) x discounted purchases if alive x
expected spend from the formulas evaluated customer by customer, the fast table of the
discounted purchases (one evaluation per draw and distinct (x, T), interpolated in T)
equals direct evaluation, and simulated futures average to the expectation."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import (
    BetaGeoCNBDModel,
    GammaGammaModel,
    ModifiedBetaGeoCNBDModel,
    customer_lifetime_value,
    portfolio_value,
    simulate_bgcnbd,
    simulate_mbgcnbd,
    simulate_spend,
)
from clvmodels.models.purchase.cnbd import (
    _if_alive_expectation,
    cnbd_discounted_purchases_if_alive,
)
from clvmodels.models.spend.gamma_gamma import gamma_gamma_expected_spend
from clvmodels.timeunits import annual_rate_to_continuous

K = 3
PARS = (1.0, 4.0, 0.8, 2.5)  # r, alpha (weeks), a, b
MODELS = [pytest.param(ModifiedBetaGeoCNBDModel, simulate_mbgcnbd, True, id="MBG"),
          pytest.param(BetaGeoCNBDModel, simulate_bgcnbd, False, id="BG")]


def _summary(simulate, seed):
    T = np.random.default_rng(seed).integers(30, 105, 800).astype(float)  # whole weeks
    df = simulate(800, K, *PARS, T=T, random_state=seed + 1)
    df["monetary_value"] = simulate_spend(df["frequency"].to_numpy(), 6.25, 3.74, 15.44,
                                          random_state=seed + 2)
    return df[["frequency", "recency", "T", "log_gap_sum", "monetary_value"]]


@pytest.fixture(scope="module")
def fitted():
    out = {}
    for i, (cls, simulate, mbg) in enumerate([p.values for p in MODELS]):
        data = _summary(simulate, 10 * i)
        model = cls(k=K, random_state=0).fit(data)
        out[mbg] = (model, GammaGammaModel(random_state=0).fit(data), data)
    return out


@pytest.mark.parametrize(("cls", "simulate", "mbg"), MODELS)
def test_point_clv_is_the_product_of_the_formulas(fitted, cls, simulate, mbg):
    model, gg, data = fitted[mbg]
    assert model.k_ == K
    clv = customer_lifetime_value(model, gg, data, horizon="52 weeks", discount_rate=0.1,
                                  margin=0.3, random_state=1)
    assert np.isfinite(clv.to_numpy()).all()
    assert (clv.expected_clv_lower <= clv.expected_clv_upper).all()
    assert (clv.clv_predictive_lower <= clv.clv_predictive_upper).all()
    # 40 customers, each through the formulas on her own (scalar calls: no table)
    delta = annual_rate_to_continuous(0.1, "week", "test")
    p = model.point_params()
    f = cls.formulas
    rows = data.iloc[np.linspace(0, len(data) - 1, 40).astype(int)]
    for cid, row in rows.iterrows():
        cust = {"frequency": row["frequency"], "recency": row["recency"], "T": row["T"]}
        alive = float(f["probability_alive"](**p, **cust))
        disc = float(cnbd_discounted_purchases_if_alive(
            *(p[n] for n in ("r", "alpha", "a", "b")), K, cust["frequency"], cust["T"], 52.0,
            delta, cust["recency"], dropout_at_zero=mbg))
        spend = float(gamma_gamma_expected_spend(**gg.point_params(),
                                                 frequency=row["frequency"],
                                                 monetary_value=row["monetary_value"]))
        assert clv.loc[cid, "expected_clv"] == pytest.approx(0.3 * alive * disc * spend,
                                                             rel=1e-9)
        assert clv.loc[cid, "probability_alive"] == pytest.approx(alive, rel=1e-12)
    total = portfolio_value(model, gg, data, horizon="52 weeks", discount_rate=0.1,
                            margin=0.3, n_samples=100, random_state=2).loc["all customers"]
    assert total.expected_total == pytest.approx(clv.expected_clv.sum(), rel=1e-9)
    assert total.expected_total_lower <= total.expected_total <= total.expected_total_upper
    assert total.predictive_total_lower < total.expected_total < total.predictive_total_upper


@pytest.mark.parametrize(("cls", "simulate", "mbg"), MODELS)
def test_table_of_draws_equals_direct_evaluation(fitted, cls, simulate, mbg):
    """Draws (20, 1) against customers (n,): the table route (distinct (x, T), T
    interpolated where an x has many) against one direct evaluation per element."""
    model, _, data = fitted[mbg]
    draws = model.param_draws()
    pick = np.arange(0, 1000, 50)
    col = [draws[n][pick][:, None] for n in ("r", "alpha", "a", "b")]
    x, t_x, T = (data[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    T = T + np.linspace(0.0, 0.9, T.size)  # many T per x: interpolated
    assert pd.Series(T).groupby(x).nunique().max() > 100
    for delta in (0.0, 0.002):
        got = cnbd_discounted_purchases_if_alive(*col, K, x, T, 52.0, delta, t_x,
                                                 dropout_at_zero=mbg)
        flat = [np.broadcast_to(v, got.shape).ravel() for v in (*col, x, t_x, T)]
        want = _if_alive_expectation(*flat[:4], K, float(mbg), *flat[4:],
                                     np.full(got.size, 52.0), delta).reshape(got.shape)
        np.testing.assert_allclose(got, want, rtol=1e-11)


@pytest.mark.parametrize(("cls", "simulate", "mbg"), MODELS)
def test_simulated_futures_average_to_the_expectation(fitted, cls, simulate, mbg, rng):
    """At the point estimate: each customer's mean simulated discounted purchases over
    n futures is P(alive) x discounted purchases if alive, within 4 standard errors."""
    model, _, data = fitted[mbg]
    p = model.point_params()
    f = cls.formulas
    delta = annual_rate_to_continuous(0.1, "week", "test")
    rows = data.iloc[:12]
    cust = {c: rows[c].to_numpy(float)[:, None] for c in ("frequency", "recency", "T")}
    n = 40_000
    params = {name: np.full((1, n), v) for name, v in p.items()}
    _, disc = f["simulate_future"](**params, **cust, horizon=52.0, delta=delta, rng=rng)
    flat = {c: v[:, 0] for c, v in cust.items()}
    want = (f["probability_alive"](**p, **flat)
            * f["discounted_purchases_if_alive"](**p, frequency=flat["frequency"], T=flat["T"],
                                                 horizon=52.0, delta=delta,
                                                 recency=flat["recency"]))
    se = disc.std(axis=1) / np.sqrt(n)
    # a customer expected to buy almost surely nothing shows no purchase in n futures
    # (estimated standard error 0): allow for a few purchases' worth, 4 / n
    assert np.all(np.abs(disc.mean(axis=1) - want) < 4 * se + 4.0 / n)
    assert abs(disc.mean(axis=1).sum() - want.sum()) < 4 * np.sqrt((se ** 2).sum())
    assert pd.Series(want).gt(0).all()


def test_discounting_by_parts_equals_purchase_by_purchase(monkeypatch, rng):
    """Broad phase rates go by parts (nested Clenshaw-Curtis over the undiscounted
    expectation); the same rows summed purchase by purchase agree to 1e-10, and the rows
    the two rules cannot settle fall back to that sum."""
    from clvmodels.models.purchase import cnbd

    n = 300
    s, B = rng.uniform(0.2, 30.0, n), np.exp(rng.uniform(np.log(5.0), np.log(500.0), n))
    H, delta = rng.uniform(10.0, 500.0, n), np.exp(rng.uniform(np.log(1e-4), np.log(0.02), n))
    a, Bp = rng.uniform(0.3, 3.0, n), rng.uniform(0.5, 30.0, n)
    broad = s * H / (B + H) <= cnbd.BROAD
    assert broad.mean() > 0.5
    for j, k in [(0, 3), (2, 3), (1, 5)]:
        fast = cnbd.discounted_floor_expectation(s, B, H, delta, j, k, a, Bp)
        with monkeypatch.context() as m:
            m.setattr(cnbd, "BROAD", -1.0)  # every row purchase by purchase
            slow = cnbd.discounted_floor_expectation(s, B, H, delta, j, k, a, Bp)
        np.testing.assert_allclose(fast, slow, rtol=1e-10)
