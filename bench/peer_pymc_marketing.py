"""PyMC-Marketing 1.3 BG/NBD MCMC runner for bench/bench_bayesian.py.

Runs with the separate virtualenv (``bash bench/setup_peers.sh`` creates it)::

    bench/.peer-venv/bin/python bench/peer_pymc_marketing.py --data summary.csv

``--data`` is a CSV with columns customer_id, frequency, recency, T. The timed call is
``pymc_marketing.clv.BetaGeoModel().fit(data, method="mcmc", ...)`` (PyMC-Marketing 1.3
takes the data in ``fit``, which also builds the PyMC model): its default priors and
PyMC's default NUTS (``pm.sample``: 1,000 tuning + 1,000 draws, cores = min(4, CPUs),
``jitter+adapt_diag``). ``pm.sample``'s default number of chains is max(2, cores), i.e.
2 on a 2-core machine, so ``chains=4`` is passed to match 4 chains x 1,000 draws.
PyMC 6.3's default ``cores`` is min(4, cpu_count // 2) (it assumes half the CPUs are
hyper-threads): 1 on a 2-CPU machine, i.e. the 4 chains run one after the other;
``--cores 2`` gives it the 2 processes clvmodels uses.

Prints one JSON line: seconds (the fit call: model build, compilation and sampling),
peak_mb (ru_maxrss of this process and of its largest child, i.e. a chain process),
posterior means of r, alpha, a, b, the worst R-hat / bulk ESS and the divergences.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cores", type=int, default=None,
                        help="processes for the chains (default: PyMC's, cpu_count // 2)")
    args = parser.parse_args()

    import arviz as az
    import pandas as pd
    import pymc
    import pymc_marketing
    from pymc_marketing.clv import BetaGeoModel

    data = pd.read_csv(args.data)
    data = data[["customer_id", "frequency", "recency", "T"]]
    model = BetaGeoModel()
    self_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        extra = {} if args.cores is None else {"cores": args.cores}
        model.fit(data, method="mcmc", progressbar=False, random_seed=args.seed,
                  chains=args.chains, draws=args.draws, tune=args.tune, **extra)
        seconds = time.perf_counter() - start
    post = model.idata["posterior"]
    names = ["r", "alpha", "a", "b"]
    means = {n: float(post[n].mean()) for n in names}
    summ = az.summary(model.idata, var_names=names)
    ess_col = "ess_bulk" if "ess_bulk" in summ.columns else [c for c in summ.columns
                                                              if "ess" in c][0]
    stats = model.idata["sample_stats"]
    out = {
        "seconds": seconds,
        "peak_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                       resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024,
        "rss_before_mb": self_before,
        "params": means,
        "r_hat_max": float(summ["r_hat"].max()),
        "ess_bulk_min": float(summ[ess_col].min()),
        "divergences": int(stats["diverging"].sum()),
        "chains": int(post.sizes["chain"]), "draws": int(post.sizes["draw"]),
        "versions": {"pymc_marketing": pymc_marketing.__version__, "pymc": pymc.__version__},
        "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:200]}" for w in caught}),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
