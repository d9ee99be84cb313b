"""Profile of clvmodels' NUTS cost: time of one log-posterior + gradient evaluation of
the PyMC model that ``BetaGeoModel.fit(method="mcmc")`` samples, by data size, and
the leapfrog steps per NUTS iteration of a short run.

Usage::

    .venv/bin/python bench/profile_nuts.py [--sizes 100000 1000000] [--nuts-size 100000]

The NUTS fit time is roughly
``chains x (tune + draws) x steps per iteration x seconds per gradient / cores``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bayesian import simulate  # noqa: E402


def _timings(f, n: int) -> tuple[float, float]:
    """Mean and best seconds per call over ``n`` calls (the best is the least
    disturbed by other jobs on a shared machine)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return float(np.mean(times)), float(np.min(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--nuts-size", type=int, default=100_000)
    parser.add_argument("--evals", type=int, default=100)
    args = parser.parse_args()
    import pymc as pm

    from clvmodels.models import BetaGeoModel
    from clvmodels.models.bayes import build_pymc_model
    from clvmodels.models.purchase.bgnbd_kernel import repeat_term

    big = simulate(max(args.sizes + [args.nuts_size]))
    out = {}
    for n in args.sizes:
        df = big.iloc[:n]
        m = BetaGeoModel(random_state=1)
        m._check_settings("mcmc")
        m.time_unit_ = "day"
        arrays, weights = m._prepare(df)
        m.n_obs_ = float(weights.sum())
        m._fit_optimum(arrays, weights, with_prior=True)
        model = build_pymc_model(m, arrays, weights)
        t0 = time.perf_counter()
        fn = model.logp_dlogp_function(ravel_inputs=True)
        fn.set_extra_values({})
        compile_s = time.perf_counter() - t0
        x = np.log(m.params_.to_numpy())
        fn(x)
        per, best = _timings(lambda fn=fn, x=x: fn(x), args.evals)
        data = arrays["stats"]["repeat"]
        pars = m.params_.to_numpy()
        _, kernel_best = _timings(lambda p=pars, d=data: repeat_term(*p, d), args.evals)
        out[n] = {"distinct_rows": int(weights.shape[0]), "compile_s": compile_s,
                  "ms_per_logp_grad": per * 1e3, "ms_per_logp_grad_best": best * 1e3,
                  "ms_kernel_best": kernel_best * 1e3}
        print(f"{n:,} customers: {weights.shape[0]:,} distinct rows, compile {compile_s:.2f} s, "
              f"{per * 1e3:.2f} ms per logp+gradient (mean; best {best * 1e3:.2f}, of which "
              f"the kernel {kernel_best * 1e3:.2f})", flush=True)
    # leapfrog steps per iteration from a short NUTS run (1 chain, 300 tune + 300 draws)
    df = big.iloc[:args.nuts_size]
    m = BetaGeoModel(random_state=1, chains=1, cores=1, tune=300, draws=300)
    t0 = time.perf_counter()
    m.fit(df, method="mcmc")
    secs = time.perf_counter() - t0
    st = m.idata_["sample_stats"]
    steps = float(st["n_steps"].mean())
    depth = float(st["tree_depth"].mean())
    print(f"NUTS on {args.nuts_size:,} customers, 1 chain x (300 tune + 300 draws): {secs:.1f} s, "
          f"mean {steps:.2f} leapfrog steps per draw (tree depth {depth:.2f}), step size "
          f"{float(st['step_size'].mean()):.3g}")
    out["nuts"] = {"seconds": secs, "mean_n_steps": steps, "mean_tree_depth": depth}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
