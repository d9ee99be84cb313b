"""Benchmark: Pareto/NBD, MBG/NBD and BG/BB fits (clvmodels vs lifetimes 0.11.3) and CLV.

clvmodels' fits against lifetimes' fitters, and clvmodels' CLV with both intervals for
every continuous-time purchase model.

Usage::

    .venv/bin/python bench/bench_purchase_family.py [--customers 1000000]
        [--pnbd-customers N] [--timeout 3600]

Only public names of ``clvmodels`` are used (``from clvmodels import ...``), never
submodule paths.

Data (simulated once, written to temporary Parquet files, one per model; seeds 0, 1, 2
as in ``bench_noncontractual.py``):

* continuous time (``bgnbd``, ``mbgnbd``, ``pnbd``): ``--customers`` day-resolution
  customers, ages T uniform on 0..729 whole days (the recipe of
  ``bench_noncontractual.py``), recency floored to whole days (dates are days),
  simulated by ``simulate_bgnbd`` / ``simulate_mbgnbd`` / ``simulate_pnbd`` at the CDNOW
  estimates of /work/shared/REFERENCES.md with the time scales converted from weeks to
  days (x 7): BG/NBD r=0.2426, alpha=30.8945, a=0.7929, b=2.4258; MBG/NBD r=0.5248,
  alpha=43.2817, a=0.8914, b=1.6140; Pareto/NBD r=0.5533, alpha=74.046, s=0.6062,
  beta=81.683. Mean spend from ``simulate_spend`` at the CDNOW Gamma-Gamma estimates
  (p=6.25, q=3.74, gamma=15.44);
* discrete time (``bgbb``): ``--customers`` customers from ``simulate_bgbb`` at the
  donations estimates (alpha=1.204, beta=0.750, gamma=0.657, delta=2.783), 6 annual
  transaction opportunities each, plus spend as above (for a future BG/BB CLV task).

Every timed task runs in its own fresh subprocess (this script with ``--task``):

* warm-up: before the timed call each package runs the same call once, untimed, on the
  first 20,000 rows (for CLV: the fitted models on the first 20,000 rows);
* wall time: ``time.perf_counter`` around the fit / CLV call alone (imports, reading
  Parquet, and for CLV the untimed model fits come before the clock starts);
* peak memory: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the subprocess at its
  end (so it includes interpreter, imports, data and warm-up); the same high-water mark
  just before the timed call is kept as ``rss_before_mb``;
* load: ``os.getloadavg()`` before each subprocess, and at the start and end of the run.

Tasks:

1. Pareto/NBD fit: ``ParetoNBDModel().fit(df)`` vs
   ``lifetimes.ParetoNBDFitter().fit(frequency, recency, T)`` (lifetimes' defaults).
   lifetimes' fit at 1,000,000 customers was expected to approach the ~25-minute
   budget on a 2-core machine (9-11 minutes measured with the seeded start below, far
   longer with unlucky starts), so ``--pnbd-customers N`` also times both packages on
   the first N customers of the same data (ratio on equal data); clvmodels is then
   also timed on all customers, and lifetimes is tried on all customers with
   ``--full-pnbd-timeout`` (default 1,500 s; a timeout is reported as such), with a
   second ratio and verdict when both finish.
   lifetimes' Pareto/NBD fitter starts Nelder-Mead from a random point
   (``np.random.normal(1, 0.05, 4)``, numpy's global RNG, unseeded) and its run time
   varies a lot with that start (at 20,000 customers 12 s in one run, 432 s in
   another, same data); the child seeds ``np.random.seed(0)`` just before the timed
   call, so the number is one reproducible draw, not an average.
2. MBG/NBD fit: ``ModifiedBetaGeoModel().fit(df)`` vs
   ``lifetimes.ModifiedBetaGeoFitter().fit(frequency, recency, T)``.
3. BG/BB fit: ``BetaGeoBetaBinomModel().fit(df)`` on the per-customer rows vs
   ``lifetimes.BetaGeoBetaBinomFitter().fit(frequency, recency, n_periods, weights)``
   on the compressed recency/frequency matrix. lifetimes' docstring for ``weights``
   says Fader and Hardie condense the individual RFM matrix into its observed
   combinations and that ``weights`` counts the customers per pattern, and its
   donations example data come in that form; its likelihood loops over the periods
   in numpy over every row, and a per-row fit takes about 3 minutes at 1,000,000
   customers, so uncompressed input is not how it is meant to be used at this size. The timed lifetimes call
   therefore includes the compression a lifetimes user would write
   (``df.groupby(["frequency", "recency", "n_periods"]).size()``), and the ratio is
   against that. The per-row lifetimes fit is timed too, as an information row
   (``lifetimes-rows``) without ratio. clvmodels gets the per-customer rows (it
   compresses them itself, inside its timed call).
4. Fitted parameters of both packages side by side, with the largest relative
   difference; ratio lifetimes time / clvmodels time (target >= 20x).
5. 12-month CLV, point estimate plus a 90% credible and a 90% predictive interval:
   ``customer_lifetime_value(model, gg, df, horizon="12 months", discount_rate=0.10,
   margin=1.0, level=0.90, random_state=0)`` for BG/NBD, MBG/NBD and Pareto/NBD, each
   on its own simulated data with its own Gamma-Gamma fit, and for BG/BB over 2 years
   (its discrete summary counts whole yearly opportunities); ratio to BG/NBD's CLV time
   (target <= 2x) and peak memory (target <= 4,096 MB). Beside it, lifetimes' point
   CLV on the same data (``lifetimes`` package of the CLV tasks): its fitters are given
   clvmodels' fitted parameters (untimed; lifetimes' own Pareto/NBD fit takes minutes),
   and ``GammaGammaFitter.customer_lifetime_value(fitter, frequency, recency, T,
   monetary_value, time=12, freq="D", discount_rate=0.01)`` is timed (twelve 30-day
   steps at 1%/month; BG/BB: ``time=2, freq="M"``, two whole periods at 10%/period,
   lifetimes' factor for "M" being one period). Ratio lifetimes' point-only time /
   clvmodels' time with both intervals (issue 15's target: >= 1.0x).

Results: printed (markdown), and written to ``bench/results/purchase_family.json``
(after every task, so a partial run keeps what it measured; each result records the
git HEAD of the checkout it ran on) and ``bench/results/purchase_family.md`` (the
printed report). ``--only TASK[/PACKAGE] ...`` re-runs some tasks and keeps the rest
of the JSON; ``--report`` re-prints the report from the JSON.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
WARMUP_ROWS = 20_000
LIFETIMES_SEED = 0  # numpy's global RNG before each timed lifetimes fit (see child())

# ---------------------------------------------------------------------------- data
# name -> (simulator, parameters, time unit); the parameters are the simulation truth
# shown in the parameter table. Continuous models in days (CDNOW week scales x 7).
DATASETS = {
    "bgnbd": ("simulate_bgnbd", {"r": 0.2426, "alpha": 4.4135 * 7, "a": 0.7929, "b": 2.4258},
              "day"),
    "mbgnbd": ("simulate_mbgnbd", {"r": 0.5248, "alpha": 6.1831 * 7, "a": 0.8914,
                                   "b": 1.6140}, "day"),
    "pnbd": ("simulate_pnbd", {"r": 0.5533, "alpha": 10.578 * 7, "s": 0.6062,
                               "beta": 11.669 * 7}, "day"),
    "bgbb": ("simulate_bgbb", {"alpha": 1.204, "beta": 0.750, "gamma": 0.657,
                               "delta": 2.783}, "year"),
}
BGBB_PERIODS = 6
SPEND = (6.25, 3.74, 15.44)  # Gamma-Gamma p, q, gamma (CDNOW)

# ---------------------------------------------------------------------------- tasks
# Fit tasks: clvmodels class vs lifetimes fitter on the same data.
FIT_TASKS = {
    "pnbd": {"label": "Pareto/NBD fit", "data": "pnbd",
             "clvmodels": "ParetoNBDModel", "lifetimes": "ParetoNBDFitter"},
    "mbgnbd": {"label": "MBG/NBD fit", "data": "mbgnbd",
               "clvmodels": "ModifiedBetaGeoModel", "lifetimes": "ModifiedBetaGeoFitter"},
    "bgbb": {"label": "BG/BB fit", "data": "bgbb",
             "clvmodels": "BetaGeoBetaBinomModel", "lifetimes": "BetaGeoBetaBinomFitter"},
}
# CLV tasks (clvmodels only): purchase model class on its own data + Gamma-Gamma.
# The first entry is the reference of the "ratio" column.
CLV_TASKS = {
    "bgnbd-clv": {"label": "BG/NBD CLV 12 months", "data": "bgnbd", "model": "BetaGeoModel",
                  "horizon": "12 months"},
    "mbgnbd-clv": {"label": "MBG/NBD CLV 12 months", "data": "mbgnbd",
                   "model": "ModifiedBetaGeoModel", "horizon": "12 months"},
    "pnbd-clv": {"label": "Pareto/NBD CLV 12 months", "data": "pnbd",
                 "model": "ParetoNBDModel", "horizon": "12 months"},
    # BG/BB counts whole yearly opportunities: a 2-year horizon on its discrete summary
    "bgbb-clv": {"label": "BG/BB CLV 2 years", "data": "bgbb",
                 "model": "BetaGeoBetaBinomModel", "horizon": "2 years"},
}
TASKS = list(FIT_TASKS) + list(CLV_TASKS)
PACKAGES = ["clvmodels", "lifetimes", "lifetimes-rows"]


def simulate(name: str, n: int) -> pd.DataFrame:
    import clvmodels

    sim, params, unit = DATASETS[name]
    if name == "bgbb":
        df = clvmodels.simulate_bgbb(n, *params.values(), n_periods=BGBB_PERIODS,
                                     time_unit=unit, random_state=1)
        cols = ["frequency", "recency", "n_periods"]
    else:
        rng = np.random.default_rng(0)
        T = rng.integers(0, 730, n).astype(float)  # days since first purchase (2 years)
        df = getattr(clvmodels, sim)(n, *params.values(), T=T, time_unit=unit,
                                     random_state=1)
        df["recency"] = np.floor(df["recency"])  # dates are whole days
        cols = ["frequency", "recency", "T"]
    df["monetary_value"] = clvmodels.simulate_spend(df["frequency"].to_numpy(), *SPEND,
                                                    random_state=2)
    return df[cols + ["monetary_value"]]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------- child
LIFETIMES_CLV = {"BetaGeoModel": "BetaGeoFitter", "ModifiedBetaGeoModel": "ModifiedBetaGeoFitter",
                 "ParetoNBDModel": "ParetoNBDFitter",
                 "BetaGeoBetaBinomModel": "BetaGeoBetaBinomFitter"}


def _lifetimes_clv(spec, model, gg, df, small, timed, out) -> None:
    """Time lifetimes' point CLV for ``model``'s fitted parameters (set on its fitter,
    not refitted) on ``df``, after the same call on ``small`` as warm-up."""
    import lifetimes

    fitter = getattr(lifetimes, LIFETIMES_CLV[spec["model"]])()
    fitter.params_ = pd.Series(model.point_params())
    # what lifetimes' fit() sets on the BG/NBD-family and Pareto/NBD fitters; its BG/BB
    # fitter has no `predict`, so its CLV is this same loop over its own expectation
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    ggf = lifetimes.GammaGammaFitter()
    p, q, gamma = (gg.point_params()[k] for k in ("p", "q", "gamma"))
    ggf.params_ = pd.Series({"p": p, "q": q, "v": gamma})
    age = "n_periods" if spec["data"] == "bgbb" else "T"
    kw = ({"time": 2, "freq": "M", "discount_rate": 0.10} if spec["data"] == "bgbb"
          else {"time": 12, "freq": "D", "discount_rate": 0.01})

    def call(d):
        m = d["monetary_value"].where(d["frequency"] > 0, 0.0)
        return ggf.customer_lifetime_value(fitter, d["frequency"], d["recency"], d[age], m,
                                           **kw)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call(small)  # warm-up
    clv = timed(lambda: call(df))
    out["params"] = {k: float(v) for k, v in model.point_params().items()}
    out["summary"] = {"expected_clv": float(clv.mean())}
    out["nan"] = int(clv.isna().sum())


def _lifetimes_fit(package: str, spec: dict, df: pd.DataFrame):
    import lifetimes

    fitter = getattr(lifetimes, spec["lifetimes"])()
    if spec["data"] != "bgbb":
        # df["T"], not df.T: on a DataFrame .T is the transpose
        return fitter.fit(df["frequency"], df["recency"], df["T"])
    if package == "lifetimes-rows":
        return fitter.fit(df["frequency"], df["recency"], df["n_periods"])
    rfm = df.groupby(["frequency", "recency", "n_periods"]).size().rename("n").reset_index()
    return fitter.fit(rfm["frequency"], rfm["recency"], rfm["n_periods"], weights=rfm["n"])


def child(task: str, package: str, data: str, rows: int) -> None:
    """One timed call in a fresh process; prints a JSON line."""
    import clvmodels

    if package != "clvmodels":
        import lifetimes  # noqa: F401
    spec = FIT_TASKS.get(task) or CLV_TASKS[task]
    unit = DATASETS[spec["data"]][2]
    df = pd.read_parquet(data)
    if rows:
        df = df.iloc[:rows]
    df.attrs["time_unit"] = unit  # attrs are not stored in Parquet
    small = df.iloc[:WARMUP_ROWS].copy()
    small.attrs["time_unit"] = unit
    out: dict = {"rows": len(df)}
    caught: list[str] = []

    def timed(fn):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out["rss_before_mb"] = _peak_mb()
            start = time.perf_counter()
            result = fn()
            out["seconds"] = time.perf_counter() - start
        caught.extend(f"{x.category.__name__}: {x.message}" for x in w)
        return result

    if task in FIT_TASKS:
        cols = ["frequency", "recency", "n_periods" if spec["data"] == "bgbb" else "T"]
        df, small = df[cols], small[cols]
        df.attrs["time_unit"] = small.attrs["time_unit"] = unit
        if package == "clvmodels":
            cls = getattr(clvmodels, spec["clvmodels"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cls().fit(small)  # warm-up
            m = timed(lambda: cls().fit(df))
            out["params"] = {k: float(v) for k, v in m.point_params().items()}
            out["log_likelihood"] = float(m.log_likelihood_)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _lifetimes_fit(package, spec, small)  # warm-up
            # ParetoNBDFitter starts Nelder-Mead from np.random.normal(1, 0.05, 4) (numpy's
            # global, unseeded RNG) and its run time depends a lot on that start: seed it
            # so a run is reproducible (the other fitters do not draw random numbers)
            np.random.seed(LIFETIMES_SEED)
            m = timed(lambda: _lifetimes_fit(package, spec, df))
            out["params"] = {k: float(v) for k, v in m.params_.items()}
            # the minimized objective of lifetimes (its own scaling and constants)
            out["lifetimes_objective"] = float(m._negative_log_likelihood_)
    else:
        cls = getattr(clvmodels, spec["model"])
        model = cls().fit(df)
        gg = clvmodels.GammaGammaModel().fit(df)
        if package == "lifetimes":
            _lifetimes_clv(spec, model, gg, df, small, timed, out)
            out["peak_mb"] = _peak_mb()
            out["warnings"] = sorted(set(caught))
            print(json.dumps(out))
            return
        kw = {"horizon": spec["horizon"], "discount_rate": 0.10, "margin": 1.0,
              "level": 0.90, "random_state": 0}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clvmodels.customer_lifetime_value(model, gg, small, **kw)  # warm-up
        clv = timed(lambda: clvmodels.customer_lifetime_value(model, gg, df, **kw))
        out["params"] = {k: float(v) for k, v in model.point_params().items()}
        out["summary"] = {c: float(clv[c].mean()) for c in
                          ["probability_alive", "expected_clv", "expected_clv_lower",
                           "expected_clv_upper", "clv_predictive_lower",
                           "clv_predictive_upper"]}
        out["nan"] = int(clv["expected_clv"].isna().sum())
        key = ["frequency", "recency", "n_periods" if spec["data"] == "bgbb" else "T"]
        out["distinct_rows"] = len(df[key].drop_duplicates())
    out["peak_mb"] = _peak_mb()
    out["warnings"] = sorted(set(caught))
    print(json.dumps(out))


# -------------------------------------------------------------------------- parent
def run_child(task: str, package: str, data: Path, rows: int, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--task", task, "--package",
           package, "--data", str(data), "--rows", str(rows)]
    load = os.getloadavg()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"timeout": timeout, "loadavg": load}
    if proc.returncode != 0:
        why = (stdout + stderr).strip()[-2000:]
        return {"error": f"exit code {proc.returncode}" + (f": {why}" if why else ""),
                "loadavg": load}
    res = json.loads(stdout.strip().splitlines()[-1])
    res["loadavg"] = load
    res["stderr_tail"] = stderr.strip()[-600:]
    return res


def _load(x) -> str:
    return " / ".join(f"{v:.2f}" for v in x)


def _time(r: dict) -> str:
    if "seconds" in r:
        return f"{r['seconds']:.2f}"
    return f"timeout ({r['timeout']:.0f} s)" if "timeout" in r else "error"


def _peak(r: dict) -> str:
    return f"{r['peak_mb']:,.0f}" if "peak_mb" in r else "-"


def report(meta: dict, results: dict) -> str:
    L = [f"Date: {meta['date']}", f"Machine: {meta['machine']}",
         (f"Load average (1/5/15 min) at start: {_load(meta['load_start'])}; "
          f"at end: {_load(meta['load_end']) if meta.get('load_end') else 'n/a'}"), "",
         meta["data"], ""]
    codes: dict[str, list[str]] = {}
    for key, r in results.items():
        codes.setdefault(r.get("clvmodels_code", "?"), []).append(
            f"{key} ({r.get('started', '?')[11:16]})")
    if len(codes) == 1:
        L += [f"clvmodels code (git HEAD of the checkout): {next(iter(codes))}", ""]
    else:
        L += ["clvmodels code (git HEAD of the checkout) per task (start time):"]
        L += [f"- {c}: {', '.join(ks)}" for c, ks in codes.items()] + [""]
    if meta.get("rerun"):
        L += ["Re-run with --only: " + "; ".join(meta["rerun"]), ""]
    L += [(f"### Timings ({meta['customers']:,} customers unless the rows column says "
           "otherwise)"), "",
          ("| task | package | rows | wall time (s) | peak memory (MB) | rss before call (MB) "
           "| load 1/5/15 before | ratio | target | result |"),
          "|---|---|---:|---:|---:|---:|---|---:|---|---|"]
    for task, spec in FIT_TASKS.items():
        o = results.get(f"{task}/clvmodels", {})
        t = results.get(f"{task}/lifetimes", {})
        ok = "seconds" in o and "seconds" in t
        ratio = t["seconds"] / o["seconds"] if ok else None
        verdict = ("PASS" if ratio >= 20 else "FAIL") if ok else "n/a"
        rows = [("clvmodels", o), ("lifetimes", t)]
        if f"{task}/lifetimes-rows" in results:
            rows.append(("lifetimes-rows", results[f"{task}/lifetimes-rows"]))
        for extra in ("clvmodels-full", "lifetimes-full"):
            if f"{task}/{extra}" in results:
                rows.append((extra, results[f"{task}/{extra}"]))
        of, tf = results.get(f"{task}/clvmodels-full", {}), results.get(f"{task}/lifetimes-full",
                                                                        {})
        ratio_full = (tf["seconds"] / of["seconds"] if "seconds" in of and "seconds" in tf
                      else None)
        for package, r in rows:
            if not r:
                continue
            first = package == "clvmodels"
            name = {"lifetimes": "lifetimes (compressed + weights)" if task == "bgbb"
                    else "lifetimes",
                    "lifetimes-rows": "lifetimes (per-customer rows; info)",
                    "clvmodels-full": "clvmodels (all customers)",
                    "lifetimes-full": "lifetimes (all customers)"}.get(package, package)
            shown, target, result = "", "", ""
            if first:
                target, result = "≥20x", verdict
                if ok:
                    shown = f"{ratio:.1f}x (lifetimes / clvmodels)"
            elif package == "clvmodels-full" and ratio_full is not None:
                shown = f"{ratio_full:.1f}x (lifetimes / clvmodels, all customers)"
                target, result = "≥20x", "PASS" if ratio_full >= 20 else "FAIL"
            L.append(f"| {spec['label']} | {name} | {r.get('rows', 0):,} | {_time(r)} | "
                     f"{_peak(r)} | {r.get('rss_before_mb', float('nan')):,.0f} | "
                     f"{_load(r['loadavg'])} | {shown} | {target} | {result} |")
    ref = results.get(f"{next(iter(CLV_TASKS))}/clvmodels", {})
    for task, spec in CLV_TASKS.items():
        r = results.get(f"{task}/clvmodels", {})
        if not r:
            continue
        ok = "seconds" in r and "seconds" in ref
        ratio = r["seconds"] / ref["seconds"] if ok else None
        verdict = ("PASS" if ratio <= 2 and r["peak_mb"] <= 4096 else "FAIL") if ok else "n/a"
        L.append(f"| {spec['label']} (point + 90% credible + 90% predictive) | clvmodels | "
                 f"{r.get('rows', 0):,} | {_time(r)} | {_peak(r)} | "
                 f"{r.get('rss_before_mb', float('nan')):,.0f} | {_load(r['loadavg'])} | "
                 f"{f'{ratio:.2f}x (/ BG/NBD CLV)' if ok else ''} | ≤2x, ≤4,096 MB | "
                 f"{verdict} |")
        lt = results.get(f"{task}/lifetimes", {})
        if lt:
            both = "seconds" in lt and "seconds" in r
            peer = lt["seconds"] / r["seconds"] if both else None
            verdict = (("PASS" if peer >= 1.0 and r["peak_mb"] <= 2048 else "FAIL")
                       if both else "n/a")
            L.append(f"| {spec['label']} (point only) | lifetimes | {lt.get('rows', 0):,} | "
                     f"{_time(lt)} | {_peak(lt)} | "
                     f"{lt.get('rss_before_mb', float('nan')):,.0f} | "
                     f"{_load(lt['loadavg'])} | "
                     f"{f'{peer:.2f}x (lifetimes point / clvmodels both intervals)' if both else ''}"
                     f" | ≥1.0x, clvmodels ≤2,048 MB | {verdict} |")
    L += ["", ("Peak memory: ru_maxrss of the task's own subprocess (interpreter, imports, "
               "data, warm-up included); 'rss before call' is the same high-water mark just "
               "before the timed call (for CLV it includes the untimed model fits and the "
               "warm-up). Wall time: the fit / CLV call alone, one call after a warm-up on "
               f"{WARMUP_ROWS:,} rows."), ""]

    L += ["### Fitted parameters", "",
          "| model | package | rows | parameters | max relative difference |",
          "|---|---|---:|---|---:|"]
    for task, spec in FIT_TASKS.items():
        o = results.get(f"{task}/clvmodels", {}).get("params")
        for package in ["clvmodels", "lifetimes", "lifetimes-rows", "clvmodels-full",
                        "lifetimes-full"]:
            r = results.get(f"{task}/{package}", {})
            p = r.get("params")
            if p is None:
                continue
            diff = ""
            ref = (results.get(f"{task}/clvmodels-full", {}).get("params")
                   if package == "lifetimes-full" else o)
            if package not in ("clvmodels", "clvmodels-full") and ref is not None:
                diff = f"{max(abs(p[k] / ref[k] - 1) for k in ref):.1e}"
            extra = (f"; LL={r['log_likelihood']:.2f}" if "log_likelihood" in r else
                     f"; lifetimes objective={r['lifetimes_objective']:.6g}" if "lifetimes_objective" in r else "")
            L.append(f"| {spec['label'][:-4]} ({DATASETS[spec['data']][2]}) | {package} | "
                     f"{r['rows']:,} | " + ", ".join(f"{k}={v:.6g}" for k, v in p.items())
                     + f"{extra} | {diff} |")
    for name, (_, params, unit) in DATASETS.items():
        L.append(f"| {name} simulation truth ({unit}) | - | - | "
                 + ", ".join(f"{k}={v:.6g}" for k, v in params.items()) + " | |")
    L.append("")

    L += ["### Mean 12-month CLV per customer (10%/year discounting)", "",
          ("| model | distinct (frequency, recency, T) rows | mean P(alive) | mean CLV "
           "| mean lower/upper (credible) | mean lower/upper (predictive) | NaN rows |"),
          "|---|---:|---:|---:|---|---|---:|"]
    for task, spec in CLV_TASKS.items():
        r = results.get(f"{task}/clvmodels", {})
        if "summary" not in r or "probability_alive" not in r["summary"]:
            continue
        s = r["summary"]
        L.append(f"| {spec['label']} | {r['distinct_rows']:,} | {s['probability_alive']:.4f} "
                 f"| {s['expected_clv']:.3f} | {s['expected_clv_lower']:.3f} / "
                 f"{s['expected_clv_upper']:.3f} | {s['clv_predictive_lower']:.3f} / "
                 f"{s['clv_predictive_upper']:.3f} | {r['nan']} |")

    notes = []
    for key, r in results.items():
        for w in r.get("warnings", []):
            notes.append(f"- {key} warning: {w[:300]}")
        if r.get("error"):
            notes.append(f"- {key} error: {r['error'][-800:]}")
        if r.get("stderr_tail"):
            notes.append(f"- {key} stderr: {r['stderr_tail'][-300:]}")
    if notes:
        L += ["", "Warnings / errors / stderr during the runs:", ""] + notes
    return "\n".join(L) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--pnbd-customers", type=int, default=None,
                        help="customers for the Pareto/NBD fit comparison (both packages; "
                             "default: --customers)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds allowed per subprocess")
    parser.add_argument("--full-pnbd-timeout", type=float, default=1500.0,
                        help="with --pnbd-customers below --customers, also try lifetimes' "
                             "Pareto/NBD fit on all customers (information row) with this "
                             "timeout in seconds; 0 skips it")
    parser.add_argument("--only", nargs="+", metavar="TASK[/PACKAGE]",
                        help="re-run only these tasks (e.g. pnbd-clv mbgnbd/clvmodels) and "
                             "keep the other results of bench/results/<out>.json")
    parser.add_argument("--no-rows", action="store_true",
                        help="skip lifetimes' per-row BG/BB fit (information row)")
    parser.add_argument("--out", default="purchase_family",
                        help="stem of the result files in bench/results/")
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--package", choices=PACKAGES)
    parser.add_argument("--data")
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--report", action="store_true",
                        help="only re-print the report of bench/results/<out>.json")
    args = parser.parse_args()
    if args.report:
        old = json.loads((RESULTS / f"{args.out}.json").read_text())
        text = report(old["meta"], old["results"])
        (RESULTS / f"{args.out}.md").write_text(
            f"Command: `{old['meta']['command']}`\n\n" + text)
        print(text)
        return
    if args.task:
        child(args.task, args.package, args.data, args.rows)
        return

    import lifetimes

    n = args.customers
    n_pnbd = min(args.pnbd_customers or n, n)
    meta = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"nproc={os.cpu_count()} (available {len(os.sched_getaffinity(0))}), "
                   f"{platform.machine()}, Python {platform.python_version()}, numpy "
                   f"{np.__version__}, pandas {pd.__version__}, lifetimes "
                   f"{lifetimes.__version__}",
        "customers": n, "pnbd_customers": n_pnbd, "load_start": list(os.getloadavg()),
        "command": " ".join([".venv/bin/python", "bench/bench_purchase_family.py"]
                            + sys.argv[1:]),
    }
    print(f"Date: {meta['date']}\nMachine: {meta['machine']}\n"
          f"Load average (1/5/15 min) at start: {_load(meta['load_start'])}\n", flush=True)

    RESULTS.mkdir(exist_ok=True)
    json_path = RESULTS / f"{args.out}.json"
    results: dict[str, dict] = {}
    if args.only:  # keep the other results of the last run (same --customers only)
        old = json.loads(json_path.read_text())
        if old["meta"]["customers"] != n:
            raise SystemExit(f"--only: {json_path} holds a run at "
                             f"{old['meta']['customers']:,} customers, not {n:,}")
        results = old["results"]
        meta["rerun"] = old["meta"].get("rerun", []) + [
            f"{meta['date']}: {' '.join(args.only)}"]
        meta["load_start"] = old["meta"]["load_start"]
        meta["date"] = old["meta"]["date"]
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "clvmodels"],
                           capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parent, check=False)
    code = head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")

    def save():
        json_path.write_text(json.dumps({"meta": meta, "results": results}, indent=1))

    with tempfile.TemporaryDirectory() as tmp:
        files, info = {}, []
        for name in DATASETS:
            df = simulate(name, n)
            files[name] = Path(tmp) / f"{name}.parquet"
            df.to_parquet(files[name])
            info.append(f"{name} {(df['frequency'] > 0).mean():.1%} with frequency > 0, "
                        f"mean frequency {df['frequency'].mean():.3f}")
            del df
        meta["data"] = (f"{n:,} simulated customers per model (continuous models: days, T "
                        f"uniform on 0..729, recency floored to whole days; BG/BB: "
                        f"{BGBB_PERIODS} annual opportunities); " + "; ".join(info) + "."
                        + (f" Pareto/NBD fit compared on the first {n_pnbd:,} customers "
                           f"(--pnbd-customers) and, when lifetimes finishes within "
                           f"--full-pnbd-timeout, on all {n:,}." if n_pnbd < n else ""))
        print(meta["data"] + "\n", flush=True)

        jobs = []
        for task, spec in FIT_TASKS.items():
            rows = n_pnbd if task == "pnbd" else n
            jobs += [(task, "clvmodels", rows), (task, "lifetimes", rows)]
            if task == "bgbb" and not args.no_rows:
                jobs.append((task, "lifetimes-rows", rows))
            if task == "pnbd" and n_pnbd < n:
                jobs.append((task, "clvmodels-full", n))
                if args.full_pnbd_timeout > 0:
                    jobs.append((task, "lifetimes-full", n))
        jobs += [(task, pkg, n) for task in CLV_TASKS for pkg in ("clvmodels", "lifetimes")]
        for task, package, rows in jobs:
            if args.only and task not in args.only and f"{task}/{package}" not in args.only:
                continue
            spec = FIT_TASKS.get(task) or CLV_TASKS[task]
            child_pkg = package.removesuffix("-full")
            started = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
            timeout = args.full_pnbd_timeout if package == "lifetimes-full" else args.timeout
            r = run_child(task, child_pkg, files[spec["data"]], rows if rows < n else 0,
                          timeout)
            r["rows"] = rows
            r["started"] = started
            r["clvmodels_code"] = code
            results[f"{task}/{package}"] = r
            save()
            print(f"  {task}/{package}: {_time(r)} s, peak {_peak(r)} MB, load before "
                  f"{_load(r['loadavg'])}", file=sys.stderr, flush=True)

    meta["load_end"] = list(os.getloadavg())
    save()
    text = report(meta, results)
    (RESULTS / f"{args.out}.md").write_text(
        f"Command: `{meta['command']}`\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
