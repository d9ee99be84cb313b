"""Benchmark of the covariate models (issue 13): recovery, cost at 1,000,000 customers,
and PyMC-Marketing's covariate BG/NBD.

Usage::

    .venv/bin/python bench/bench_covariates.py [--only recovery scale peer]
        [--recovery-customers 100000] [--scale-customers 1000000]
        [--scale-models bgnbd pnbd gg] [--timeout 1800]

Every timed task runs in its own fresh subprocess (this script with ``--task``); wall
time is ``time.perf_counter`` around the ``fit`` call alone, peak memory ``ru_maxrss``
of that subprocess read right after the call (interpreter, imports and data included),
with the same high-water mark read just before the call as "rss before". The scale
fits are preceded by an untimed warm-up fit on 20,000 rows.

(a) Recovery, ``--recovery-customers`` per model, maximum likelihood. Customers get two
0/1 covariates (text levels "no"/"yes", "no" the reference; shares 0.4 and 0.3) and
continuous ones ``x1, x2 ~ Normal(5, 1.5)``; each customer's parameters follow the
model's link ``log theta_i = log theta + sign * z_i @ c`` (``clvmodels.models.covariates``)
and the simulators take them per customer. BG/NBD, MBG/NBD, Pareto/NBD: ``b1, b2, x1`` on
the purchase side, ``b1, b2, x2`` on the drop-out side with no effect of ``x2``; weeks,
ages uniform on 30..80. BG/BB: one whole-number covariate ``x`` in 0..8 with ``b1, b2``
on both sides, no drop-out effect of ``x``; 12 yearly opportunities. Gamma-Gamma:
``b1, b2, x1, x2`` on the spend scale (no effect of ``x2``), frequency ~ Poisson(3).
Truth and estimates are on the encoded scale (per standard deviation of a continuous
column, sample sd with ddof 0, as the encoding standardizes it); ``z = (estimate -
truth) / se``.

(b) Scale: ``--scale-customers`` day-resolution customers with the recipe of
``bench_noncontractual.py`` (CDNOW BG/NBD parameters in days, ages uniform on 0..729
whole days, recency floored to whole days, Gamma-Gamma spend at the CDNOW parameters)
and three covariates ``b1, b2, x1`` on every side (true effects as in (a)). Each covariate
model is timed next to the model without covariates fitted to the same data in the same
run. A continuous covariate makes every customer a distinct likelihood row, whereas the
model without covariates compresses identical ``(frequency, recency, T)`` rows.

(c) PyMC-Marketing 1.3's ``BetaGeoModel`` with ``purchase_covariate_cols`` and
``dropout_covariate_cols`` on the BG/NBD data of (a) (0/1 columns, x1 and x2 standardized
as clvmodels' encoding does), ``--peer-method map`` (default) or ``mcmc``, run by
``bench/.peer-venv/bin/python`` (``bash bench/setup_peers.sh`` creates it) when that
virtualenv exists; skipped otherwise. Its wall time covers its ``fit`` call (model build,
compilation and the optimisation or sampling).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / "bench" / ".peer-venv" / "bin" / "python"

X_MEAN, X_SD = 5.0, 1.5
REFERENCE = {"b1": "no", "b2": "no"}
PURCHASE = {"b1": 0.5, "b2": -0.4, "x1": 0.3}
DROPOUT = {"b1": 0.4, "b2": -0.3, "x2": 0.0}
NEG_DROPOUT = {k: -v for k, v in DROPOUT.items()}
SIDES = {"purchase": ["b1", "b2", "x1"], "dropout": ["b1", "b2", "x2"]}

#: model -> (class name, base class name, simulator, shared parameters at z = 0,
#: {parameter: (sign, true coefficients per unit)}, covariates setting)
RECOVERY = {
    "bgnbd": ("BetaGeoCovariateModel", "BetaGeoModel", "simulate_bgnbd",
              {"r": 1.5, "alpha": 4.0, "a": 1.0, "b": 3.0},
              {"alpha": (-1, PURCHASE), "a": (1, DROPOUT), "b": (1, NEG_DROPOUT)}, SIDES),
    "mbgnbd": ("ModifiedBetaGeoCovariateModel", "ModifiedBetaGeoModel", "simulate_mbgnbd",
               {"r": 1.5, "alpha": 4.0, "a": 1.0, "b": 3.0},
               {"alpha": (-1, PURCHASE), "a": (1, DROPOUT), "b": (1, NEG_DROPOUT)}, SIDES),
    "pnbd": ("ParetoNBDCovariateModel", "ParetoNBDModel", "simulate_pnbd",
             {"r": 1.5, "alpha": 4.0, "s": 0.8, "beta": 20.0},
             {"alpha": (-1, PURCHASE), "beta": (-1, DROPOUT)}, SIDES),
    "bgbb": ("BetaGeoBetaBinomCovariateModel", "BetaGeoBetaBinomModel", "simulate_bgbb",
             {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78},
             {"alpha": (1, {"b1": 0.5, "b2": -0.4, "x": 0.15}),
              "beta": (1, {"b1": -0.4, "b2": 0.3, "x": -0.15}),
              "gamma": (1, {"b1": 0.4, "b2": -0.3, "x": 0.0}),
              "delta": (1, {"b1": -0.4, "b2": 0.3, "x": 0.0})}, ["b1", "b2", "x"]),
    "gg": ("GammaGammaCovariateModel", "GammaGammaModel", "simulate_spend",
           {"p": 6.25, "q": 3.74, "gamma": 15.44},
           {"gamma": (1, {"b1": 0.4, "b2": -0.3, "x1": 0.3, "x2": 0.0})},
           ["b1", "b2", "x1", "x2"]),
}
LABEL = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pnbd": "Pareto/NBD", "bgbb": "BG/BB",
         "gg": "Gamma-Gamma"}
#: the scale data: CDNOW parameters in days (bench_noncontractual.py), three covariates
SCALE_BGNBD = {"r": 0.2426, "alpha": 4.4135 * 7, "a": 0.7929, "b": 2.4258}
SCALE_COVARIATES = ["b1", "b2", "x1"]


def _simulators():
    from clvmodels.models.purchase.bgbb import simulate_bgbb
    from clvmodels.models.purchase.mbgnbd import simulate_mbgnbd
    from clvmodels.models.purchase.pnbd import simulate_pnbd
    from clvmodels.simulate import simulate_bgnbd, simulate_spend

    return {"simulate_bgnbd": simulate_bgnbd, "simulate_mbgnbd": simulate_mbgnbd,
            "simulate_pnbd": simulate_pnbd, "simulate_bgbb": simulate_bgbb,
            "simulate_spend": simulate_spend}


def _eta(frame: pd.DataFrame, coefs: dict, centre: float) -> np.ndarray:
    """``z @ c`` on the user's scale, continuous columns measured from ``centre``."""
    out = np.zeros(len(frame))
    for col, c in coefs.items():
        v = frame[col].to_numpy()
        out += c * ((v == "yes").astype(float) if col.startswith("b") else v - centre)
    return out


def _row_values(frame, base, truth, centre):
    return {p: (v * np.exp(truth[p][0] * _eta(frame, truth[p][1], centre)) if p in truth
                else v) for p, v in base.items()}


def _covariates(n: int, rng: np.random.Generator, whole_x: bool = False) -> pd.DataFrame:
    out = pd.DataFrame({"b1": np.where(rng.random(n) < 0.4, "yes", "no"),
                        "b2": np.where(rng.random(n) < 0.3, "yes", "no")})
    if whole_x:
        out["x"] = rng.integers(0, 9, n).astype(float)
    else:
        out["x1"] = rng.normal(X_MEAN, X_SD, n)
        out["x2"] = rng.normal(X_MEAN, X_SD, n)
    return out


def recovery_data(name: str, n: int, seed: int = 0) -> pd.DataFrame:
    """Simulated customers of (a) for model ``name``."""
    _, _, sim_name, base, truth, _ = RECOVERY[name]
    simulate = _simulators()[sim_name]
    rng = np.random.default_rng([seed, list(RECOVERY).index(name)])
    cov = _covariates(n, rng, whole_x=name == "bgbb")
    if name == "bgbb":
        sim = simulate(n, **_row_values(cov, base, truth, 4.0), n_periods=12, random_state=rng)
        sim = sim[["frequency", "recency", "n_periods"]]
    elif name == "gg":
        freq = rng.poisson(3.0, n)
        row = _row_values(cov, base, truth, X_MEAN)
        spend = simulate(freq, row["p"], row["q"], row["gamma"], random_state=rng)
        sim = pd.DataFrame({"frequency": freq, "recency": np.where(freq > 0, 10.0, 0.0),
                            "T": 20.0, "monetary_value": np.nan_to_num(spend)})
    else:
        sim = simulate(n, **_row_values(cov, base, truth, X_MEAN),
                       T=rng.uniform(30.0, 80.0, n), random_state=rng)
        sim = sim[["frequency", "recency", "T"]]
    out = pd.concat([sim.reset_index(drop=True), cov], axis=1)
    out.index.name = "customer_id"
    return out


def scale_data(n: int, seed: int = 0) -> pd.DataFrame:
    """The data of (b): BG/NBD purchases (the bench_noncontractual recipe) and
    Gamma-Gamma spend whose alpha, a, b and gamma follow ``b1, b2, x1``."""
    sims = _simulators()
    rng = np.random.default_rng(seed)
    cov = _covariates(n, rng)[SCALE_COVARIATES]
    coefs = {"b1": 0.5, "b2": -0.4, "x1": 0.3}
    eta = _eta(cov, coefs, X_MEAN)
    T = rng.integers(0, 730, n).astype(float)
    p = dict(SCALE_BGNBD)
    p["alpha"] = p["alpha"] * np.exp(-eta)
    p["a"] = p["a"] * np.exp(0.5 * eta)
    p["b"] = p["b"] * np.exp(-0.5 * eta)
    df = sims["simulate_bgnbd"](n, **p, T=T, time_unit="day", random_state=rng)
    df["recency"] = np.floor(df["recency"])
    df["monetary_value"] = sims["simulate_spend"](df["frequency"].to_numpy(), 6.25, 3.74,
                                                  15.44 * np.exp(0.5 * eta), random_state=rng)
    out = pd.concat([df[["frequency", "recency", "T", "monetary_value"]].reset_index(drop=True),
                     cov], axis=1)
    out.index.name = "customer_id"
    out.attrs["time_unit"] = "day"
    return out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ------------------------------------------------------------------ subprocesses
def task_recovery(name: str, data_path: str) -> dict:
    import clvmodels

    cls_name, _, _, _, truth, covariates = RECOVERY[name]
    data = pd.read_parquet(data_path)
    model = getattr(clvmodels, cls_name)(covariates=covariates, reference=REFERENCE)
    before = _peak_mb()
    start = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - start
    peak = _peak_mb()
    coef = model.coefficients()
    rows = []
    for param, (_, coefs) in truth.items():
        for col, c in coefs.items():
            feature = f"{col}[yes]" if col.startswith("b") else col
            sd = 1.0 if col.startswith("b") else float(data[col].to_numpy().std())
            key = f"{param}:{feature}"
            est, se = float(coef.loc[key, "estimate"]), float(coef.loc[key, "se"])
            rows.append({"coefficient": key, "truth": c * sd, "estimate": est, "se": se,
                         "z": (est - c * sd) / se})
    return {"seconds": seconds, "rss_before_mb": before, "peak_mb": peak, "rows": rows,
            "n_unique": int(model._prepare(data)[1].size), "customers": len(data),
            "log_likelihood": float(model.log_likelihood_)}


def task_scale(name: str, covariates: bool, data_path: str) -> dict:
    import clvmodels

    cls_name, base_name = RECOVERY[name][:2]
    data = pd.read_parquet(data_path)
    data.attrs["time_unit"] = "day"  # attrs are not stored in Parquet
    if covariates:
        model = getattr(clvmodels, cls_name)(covariates=SCALE_COVARIATES, reference=REFERENCE)
    else:
        model = getattr(clvmodels, base_name)()
    # warm-up on 20,000 rows, untimed (lazy imports, first calls into scipy)
    small = data.iloc[:20_000].copy()
    small.attrs["time_unit"] = "day"
    type(model)(**({"covariates": SCALE_COVARIATES, "reference": REFERENCE}
                   if covariates else {})).fit(small)
    before = _peak_mb()
    start = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - start
    out = {"seconds": seconds, "rss_before_mb": before, "peak_mb": _peak_mb(),
           "log_likelihood": float(model.log_likelihood_),
           "params": {k: float(v) for k, v in model.params_.items()}}
    if covariates:
        out["n_unique"] = int(model._prepare(data)[1].size)
        out["coefficients"] = model.coefficients()["estimate"].round(4).to_dict()
    else:
        out["n_unique"] = int(model._prepare(data)[1].size)
    return out


PEER_SCRIPT = r'''
import json, resource, sys, time, warnings
import numpy as np, pandas as pd
import pymc_marketing
from pymc_marketing.clv import BetaGeoModel
data = pd.read_csv(sys.argv[1])
cols = ["b1", "b2", "x1"], ["b1", "b2", "x2"]
method = sys.argv[2]
model = BetaGeoModel(model_config={"purchase_covariate_cols": cols[0],
                                   "dropout_covariate_cols": cols[1]})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    start = time.perf_counter()
    if method == "map":
        model.fit(data, method="map")
    else:
        model.fit(data, method="mcmc", progressbar=False, random_seed=1, chains=4,
                  draws=1000, tune=1000)
    seconds = time.perf_counter() - start
post = model.idata["posterior"]
out = {v: np.asarray(post[v].mean(("chain", "draw"))).round(5).tolist()
       for v in post.data_vars if post[v].ndim <= 3 and post[v].size <= 64}
print(json.dumps({"seconds": seconds, "posterior_means": out, "rss_before_mb": before,
                  "version": pymc_marketing.__version__,
                  "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:160]}"
                                      for w in caught}),
                  "peak_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                 resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024}))
'''


def run(cmd: list[str], timeout: float) -> dict:
    """Run one task subprocess; its last JSON line, or the error."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-1200:]}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    out = json.loads(lines[-1])
    out["wall_with_startup"] = time.perf_counter() - start
    return out


def child(args) -> None:
    if args.task == "recovery":
        out = task_recovery(args.model, args.data)
    else:
        out = task_scale(args.model, args.task == "scale-cov", args.data)
    print(json.dumps(out))


def _load() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.2f} / {b:.2f} / {c:.2f}"


# -------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=["recovery", "scale", "peer"],
                        default=["recovery", "scale", "peer"])
    parser.add_argument("--recovery-customers", type=int, default=100_000)
    parser.add_argument("--recovery-models", nargs="+", choices=list(RECOVERY),
                        default=list(RECOVERY))
    parser.add_argument("--scale-customers", type=int, default=1_000_000)
    parser.add_argument("--scale-models", nargs="+", choices=["bgnbd", "pnbd", "gg"],
                        default=["bgnbd", "pnbd", "gg"])
    parser.add_argument("--peer-method", choices=["map", "mcmc"], default="map")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--task", choices=["recovery", "scale-cov", "scale-base"])
    parser.add_argument("--model", choices=list(RECOVERY))
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.task:
        child(args)
        return

    print(f"Date: {_dt.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"Machine: nproc={os.cpu_count()} (available {len(os.sched_getaffinity(0))}), "
          f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
          f"pandas {pd.__version__}\n", flush=True)
    me = [sys.executable, __file__]
    with tempfile.TemporaryDirectory() as tmp:
        if "recovery" in args.only:
            n = args.recovery_customers
            print(f"## (a) Recovery, {n:,} customers per model (maximum likelihood)\n")
            print("| model | coefficient | truth | estimate | SE | z |")
            print("|---|---|---:|---:|---:|---:|")
            notes = []
            for name in args.recovery_models:
                path = Path(tmp) / f"recovery_{name}.parquet"
                recovery_data(name, n).to_parquet(path)
                load = _load()
                r = run([*me, "--task", "recovery", "--model", name, "--data", str(path)],
                        args.timeout)
                if "error" in r:
                    print(f"| {LABEL[name]} | failed: {r['error'][-300:]} | | | | |", flush=True)
                    continue
                for row in r["rows"]:
                    print(f"| {LABEL[name]} | {row['coefficient']} | {row['truth']:.4f} | "
                          f"{row['estimate']:.4f} | {row['se']:.4f} | {row['z']:+.2f} |",
                          flush=True)
                worst = max(abs(row["z"]) for row in r["rows"])
                notes.append(f"- {LABEL[name]}: fit {r['seconds']:.2f} s on {r['n_unique']:,} "
                             f"distinct rows, peak {r['peak_mb']:,.0f} MB, load before "
                             f"{load}; max |z| = {worst:.2f}; "
                             f"{sum(abs(row['z']) < 3 for row in r['rows'])}/{len(r['rows'])} "
                             "within 3 SE")
            print("\n" + "\n".join(notes) + "\n", flush=True)

        if "scale" in args.only:
            n = args.scale_customers
            path = Path(tmp) / "scale.parquet"
            t0 = time.perf_counter()
            df = scale_data(n)
            df.to_parquet(path)
            print(f"## (b) Fit cost at {n:,} customers, 3 covariates (b1, b2 0/1; x1 "
                  f"continuous) on every side\n\nData: {int((df['frequency'] > 0).sum()):,} "
                  f"customers with frequency > 0; simulated and written in "
                  f"{time.perf_counter() - t0:.1f} s (untimed).\n")
            del df
            print("| model | fit | wall time (s) | peak memory (MB) | rss before fit (MB) | "
                  "likelihood rows | load avg before | time ratio | peak ratio |")
            print("|---|---|---:|---:|---:|---:|---|---:|---:|", flush=True)
            details = []
            for name in args.scale_models:
                res = {}
                for kind in ("scale-base", "scale-cov"):
                    load = _load()
                    r = run([*me, "--task", kind, "--model", name, "--data", str(path)],
                            args.timeout)
                    r["load"] = load
                    res[kind] = r
                b = res["scale-base"]
                for kind, label in (("scale-base", "no covariates"),
                                    ("scale-cov", "3 covariates")):
                    r = res[kind]
                    if "error" in r:
                        print(f"| {LABEL[name]} | {label} | failed: {r['error'][-300:]} | | | "
                              "| | | |", flush=True)
                        continue
                    ratio = peak = ""
                    if kind == "scale-cov" and "error" not in b:
                        ratio = f"{r['seconds'] / b['seconds']:.1f}x"
                        peak = f"{r['peak_mb'] / b['peak_mb']:.2f}x"
                    rows = f"{r['n_unique']:,}" if r.get("n_unique", -1) >= 0 else ""
                    print(f"| {LABEL[name]} | {label} | {r['seconds']:.2f} | {r['peak_mb']:,.0f} "
                          f"| {r['rss_before_mb']:,.0f} | {rows} | {r['load']} | {ratio} | "
                          f"{peak} |", flush=True)
                for kind in ("scale-base", "scale-cov"):
                    r = res[kind]
                    if "error" not in r:
                        details.append(f"- {LABEL[name]} ({kind[6:]}): " + ", ".join(
                            f"{k}={v:.4g}" for k, v in r["params"].items()))
            print("\nRatios: covariate fit / fit without covariates of the same data. Peak "
                  "memory: ru_maxrss of the task's subprocess (interpreter, imports and the "
                  "data included).\n")
            print("\n".join(details) + "\n")
            print("True per-unit effects in (b): purchase rate multiplied by exp(0.5 b1 - 0.4 "
                  "b2 + 0.3 (x1 - 5)) (BG/NBD alpha sign -1); a and b by exp(+/-0.5 of the "
                  "same); spend scale gamma by exp(0.5 of the same). Pareto/NBD is fitted to "
                  "the same BG/NBD-generated purchases (a cost measurement, not a recovery "
                  "one).\n", flush=True)

        if "peer" in args.only:
            print("## (c) PyMC-Marketing covariate BG/NBD\n")
            if not PEER.exists():
                print(f"Not run: {PEER.relative_to(ROOT)} does not exist (bash "
                      "bench/setup_peers.sh creates it).\n")
            else:
                n = args.recovery_customers
                data = recovery_data("bgnbd", n)
                peer = data.reset_index()
                for col in ("b1", "b2"):
                    peer[col] = (peer[col] == "yes").astype(float)
                for col in ("x1", "x2"):  # standardized as clvmodels' encoding does
                    peer[col] = (peer[col] - peer[col].mean()) / peer[col].std(ddof=0)
                csv = Path(tmp) / "peer.csv"
                peer.to_csv(csv, index=False)
                script = Path(tmp) / "peer.py"
                script.write_text(PEER_SCRIPT)
                load = _load()
                r = run([str(PEER), str(script), str(csv), args.peer_method], args.timeout)
                if "error" in r:
                    print(f"PyMC-Marketing ({args.peer_method}) failed (load before {load}):\n\n"
                          f"```\n{r['error']}\n```\n")
                else:
                    print(f"PyMC-Marketing {r['version']}, method={args.peer_method!r}, "
                          f"{n:,} customers (the BG/NBD data of (a); x1, x2 standardized as "
                          f"clvmodels does, so coefficients are comparable to (a)): "
                          f"{r['seconds']:.2f} s, peak {r['peak_mb']:,.0f} MB, load before "
                          f"{load}.\n")
                    for k, v in r["posterior_means"].items():
                        print(f"- {k}: {v}")
                    for w in r["warnings"]:
                        print(f"- warning: {w}")
                    print()


if __name__ == "__main__":
    main()
