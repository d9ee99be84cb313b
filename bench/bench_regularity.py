"""Benchmark: the Erlang-k purchase models ((M)BG/CNBD-k) against the random-timing ones.

Usage::

    .venv/bin/python bench/bench_regularity.py [--customers 1000000]
        [--recovery-customers 100000] [--clv-customers 100000]
        [--only recovery,holdout,scale,clv] [--out FILE]

Only public names of ``clvmodels`` are used.

Tasks, each in its own fresh subprocess (this script with ``--task``), wall time by
``time.perf_counter`` around the fit alone, peak memory as the subprocess's
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at its end (interpreter, imports, data and
a 20,000-row warm-up fit included; the high-water mark before the timed call is kept
as ``rss_before_mb``):

1. ``recovery``: ``--recovery-customers`` MBG/CNBD-k customers for k = 2, 3, 5
   (``simulate_mbgcnbd``: r = 1.5, alpha = 6, a = 0.7, b = 2.5, ages uniform on 52..104
   weeks, with their ``log_gap_sum``) fitted by ``ModifiedBetaGeoCNBDModel()`` (k chosen
   by likelihood): the order found, each parameter's relative error, the fit time;
   the same data without ``log_gap_sum`` (orders compared on the summary alone).
2. ``holdout``: the same customers with a 52-week holdout; expected holdout purchases
   of MBG/CNBD-k, MBG/NBD and BG/NBD fitted on the calibration period, relative MAE
   ``sum |expected - actual| / sum actual`` and aggregate error per model.
3. ``scale``: ``--customers`` MBG/CNBD-3 customers at day resolution (ages 0..729 whole
   days, recency floored to whole days, weeks as the unit, MBG/NBD's CDNOW estimates with
   alpha in weeks as in ``bench_purchase_family.py``; without ``log_gap_sum``):
   ``BetaGeoModel().fit``, ``ModifiedBetaGeoCNBDModel(k=3).fit`` and
   ``ModifiedBetaGeoCNBDModel().fit`` (k chosen by likelihood), time and peak memory
   side by side.
4. ``clv``: ``--clv-customers`` (default 100,000) day-resolution customers as
   ``bench_purchase_family.py`` simulates them (days as the unit, ages 0..729 whole days,
   recency floored to whole days, MBG/NBD's CDNOW estimates with alpha in days, mean
   spend from ``simulate_spend`` at the CDNOW Gamma-Gamma estimates), drawn from
   MBG/CNBD-3: ``customer_lifetime_value(model, gg, df, horizon="12 months",
   discount_rate=0.10, random_state=0)`` (defaults: 100 draws, 200 samples) timed for
   ``ModifiedBetaGeoCNBDModel(k=3)`` and ``ModifiedBetaGeoModel()`` on the same data, each
   in its own subprocess after an untimed warm-up call on the first 2,000 customers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

TRUTH = (1.5, 6.0, 0.7, 2.5)
NAMES = ("r", "alpha", "a", "b")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _recovery_data(n, k, seed, holdout=0.0):
    from clvmodels import simulate_mbgcnbd

    T = np.random.default_rng(seed).uniform(52, 104, n)
    return simulate_mbgcnbd(n, k, *TRUTH, T=T, holdout=holdout, random_state=seed + 1)


def _day_data(n, k, seed):
    """Day-resolution customers: recency floored to whole days (the gaps themselves are
    not kept at day resolution, so ``log_gap_sum`` is dropped and orders are compared on
    the summary)."""
    from clvmodels import simulate_mbgcnbd

    T = np.random.default_rng(seed).integers(0, 730, n) / 7.0
    df = simulate_mbgcnbd(n, k, 0.5248, 43.2817 / 7.0, 0.8914, 1.6140, T=T, random_state=seed)
    # whole days, at least one after the first purchase (same-day purchases are one)
    days = np.floor(df["recency"] * 7.0)
    df["recency"] = np.where(df["frequency"] > 0, np.maximum(days, 1.0), 0.0) / 7.0
    df["T"] = np.maximum(df["T"], df["recency"])
    return df.drop(columns="log_gap_sum")


def task_recovery(n):
    from clvmodels import ModifiedBetaGeoCNBDModel

    out = []
    for k in (2, 3, 5):
        data = _recovery_data(n, k, seed=10 * k)
        ModifiedBetaGeoCNBDModel(k=k).fit(data.head(20_000))
        t0 = time.perf_counter()
        model = ModifiedBetaGeoCNBDModel().fit(data)
        seconds = time.perf_counter() - t0
        summary = model.summary()
        t0 = time.perf_counter()
        plain = ModifiedBetaGeoCNBDModel().fit(data.drop(columns="log_gap_sum"))
        out.append({
            "k": k, "k_found": model.k_, "fit_seconds": round(seconds, 2),
            "orders_tried": model.k_log_likelihoods_.index.tolist(),
            "estimates": {n_: round(float(v), 4) for n_, v in model.params_.items()},
            "relative_error": {n_: round(float(model.params_[n_] / t - 1), 4)
                               for n_, t in zip(NAMES, TRUTH)},
            "se_relative": {n_: round(float(summary.loc[n_, "se"] / summary.loc[n_, "estimate"]),
                                      4) for n_ in NAMES},
            "k_found_without_gaps": plain.k_,
            "fit_seconds_without_gaps": round(time.perf_counter() - t0, 2),
        })
    return out


def task_holdout(n):
    from clvmodels import BetaGeoModel, ModifiedBetaGeoCNBDModel, ModifiedBetaGeoModel

    out = []
    for k in (2, 3, 5):
        data = _recovery_data(n, k, seed=10 * k + 1, holdout=52.0)
        actual = data["holdout_frequency"].to_numpy(float)
        row = {"k": k, "actual_total": float(actual.sum())}
        for name, model in (("MBG/CNBD-k", ModifiedBetaGeoCNBDModel()),
                            ("MBG/NBD", ModifiedBetaGeoModel()), ("BG/NBD", BetaGeoModel())):
            model.fit(data)
            e = model.expected_purchases(data, 52.0).to_numpy()
            row[name] = {"relative_mae": round(float(np.abs(e - actual).sum() / actual.sum()), 4),
                         "aggregate_error": round(float(e.sum() / actual.sum() - 1), 4)}
            if name == "MBG/CNBD-k":
                row[name]["k_found"] = model.k_
        out.append(row)
    return out


def task_scale(n, which):
    from clvmodels import BetaGeoModel, ModifiedBetaGeoCNBDModel

    data = _day_data(n, 3, seed=5)
    make = {"BG/NBD": lambda: BetaGeoModel(),
            "MBG/CNBD-3 (k fixed)": lambda: ModifiedBetaGeoCNBDModel(k=3),
            "MBG/CNBD-k (k chosen)": lambda: ModifiedBetaGeoCNBDModel()}[which]
    make().fit(data.head(20_000))
    before = _rss_mb()
    t0 = time.perf_counter()
    model = make().fit(data)
    seconds = time.perf_counter() - t0
    return {"model": which, "customers": n, "fit_seconds": round(seconds, 2),
            "peak_rss_mb": round(_rss_mb(), 1), "rss_before_mb": round(before, 1),
            "k": getattr(model, "k_", 1), "log_likelihood": round(model.log_likelihood_, 2),
            "distinct_rows": model.n_unique_}


SPEND = (6.25, 3.74, 15.44)


def _clv_data(n, seed=0):
    from clvmodels import simulate_mbgcnbd, simulate_spend

    T = np.random.default_rng(seed).integers(0, 730, n).astype(float)
    df = simulate_mbgcnbd(n, 3, 0.5248, 43.2817, 0.8914, 1.6140, T=T, time_unit="day",
                          random_state=seed + 1)
    days = np.floor(df["recency"])
    df["recency"] = np.where(df["frequency"] > 0, np.maximum(days, 1.0), 0.0)
    df["T"] = np.maximum(df["T"], df["recency"])
    df["monetary_value"] = simulate_spend(df["frequency"].to_numpy(), *SPEND, random_state=2)
    return df.drop(columns="log_gap_sum")


def task_clv(n, which):
    from clvmodels import (
        GammaGammaModel,
        ModifiedBetaGeoCNBDModel,
        ModifiedBetaGeoModel,
        customer_lifetime_value,
    )

    data = _clv_data(n)
    model = {"MBG/NBD": lambda: ModifiedBetaGeoModel(),
             "MBG/CNBD-3": lambda: ModifiedBetaGeoCNBDModel(k=3)}[which]().fit(data)
    gg = GammaGammaModel().fit(data)
    kw = {"horizon": "12 months", "discount_rate": 0.10, "random_state": 0}
    customer_lifetime_value(model, gg, data.head(2000), **kw)
    before = _rss_mb()
    t0 = time.perf_counter()
    clv = customer_lifetime_value(model, gg, data, **kw)
    seconds = time.perf_counter() - t0
    return {"model": which, "customers": n, "clv_seconds": round(seconds, 2),
            "peak_rss_mb": round(_rss_mb(), 1), "rss_before_mb": round(before, 1),
            "distinct_rows": len(data[["frequency", "recency", "T"]].drop_duplicates()),
            "mean_expected_clv": round(float(clv["expected_clv"].mean()), 4),
            "nan_rows": int(clv.isna().any(axis=1).sum())}


def run_child(args_list):
    load = os.getloadavg()
    proc = subprocess.run([sys.executable, __file__, *args_list], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:], "load_before": load}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"result": result, "load_before": [round(v, 2) for v in load]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--recovery-customers", type=int, default=100_000)
    parser.add_argument("--clv-customers", type=int, default=100_000)
    parser.add_argument("--only", default="recovery,holdout,scale,clv")
    parser.add_argument("--out", default=None)
    parser.add_argument("--task", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--which", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task == "recovery":
        print(json.dumps(task_recovery(args.recovery_customers)))
        return
    if args.task == "holdout":
        print(json.dumps(task_holdout(args.recovery_customers)))
        return
    if args.task == "scale":
        print(json.dumps(task_scale(args.customers, args.which)))
        return
    if args.task == "clv":
        print(json.dumps(task_clv(args.clv_customers, args.which)))
        return
    tasks = args.only.split(",")
    report = {"load_start": [round(v, 2) for v in os.getloadavg()]}
    base = ["--customers", str(args.customers), "--recovery-customers",
            str(args.recovery_customers), "--clv-customers", str(args.clv_customers)]
    if "recovery" in tasks:
        report["recovery"] = run_child(["--task", "recovery", *base])
        print(json.dumps(report["recovery"], indent=1), flush=True)
    if "holdout" in tasks:
        report["holdout"] = run_child(["--task", "holdout", *base])
        print(json.dumps(report["holdout"], indent=1), flush=True)
    if "scale" in tasks:
        report["scale"] = [run_child(["--task", "scale", "--which", w, *base])
                           for w in ("BG/NBD", "MBG/CNBD-3 (k fixed)", "MBG/CNBD-k (k chosen)")]
        print(json.dumps(report["scale"], indent=1), flush=True)
    if "clv" in tasks:
        report["clv"] = [run_child(["--task", "clv", "--which", w, *base])
                         for w in ("MBG/NBD", "MBG/CNBD-3")]
        print(json.dumps(report["clv"], indent=1), flush=True)
    report["load_end"] = [round(v, 2) for v in os.getloadavg()]
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
