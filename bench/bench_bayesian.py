"""Benchmark: Bayesian inference at scale (NUTS) — clvmodels against PyMC-Marketing 1.3.

Usage::

    bash bench/setup_peers.sh                      # once: bench/.peer-venv (PyMC-Marketing)
    .venv/bin/python bench/bench_bayesian.py [--only TASK ...] [--timeout 900]

Data: the CDNOW summary (``clvmodels.datasets.load_cdnow_summary``, weeks) and
customers simulated exactly as in ``bench/bench_noncontractual.py`` (BG/NBD at the
CDNOW parameters with alpha in days, T uniform on 0..729 days, recency floored to
whole days, Gamma-Gamma spend; seeds 0, 1, 2). The 100,000-customer set is the first
100,000 rows of the 1,000,000-customer one (rows are i.i.d.).

Every timed task runs in its own fresh subprocess (this script with ``--task``, or
``bench/peer_pymc_marketing.py`` under ``bench/.peer-venv/bin/python``):

* wall time: ``time.perf_counter`` around the fit / CLV call alone; for NUTS fits
  that includes building and compiling the model and all 4 chains (tuning + 1,000
  draws each) — the whole ``fit`` call; PyMC and ArviZ are imported before the clock
  in both packages' tasks (PyMC-Marketing imports them itself; clvmodels on first use),
  and PyTensor's compiled-graph cache on disk is as earlier runs left it (a user's
  first fit on a new machine also compiles: about 2 s more for clvmodels);
* peak memory: ``ru_maxrss`` of the task's subprocess, or of its largest child
  process if larger (PyMC runs chains in worker processes) — the largest single
  process, not the sum;
* ``os.getloadavg()`` just before each task starts (the machine is shared);
* timeout: ``--timeout`` seconds per task (default 900); the process group is killed.

Results are appended to ``bench/results/bayesian.json`` as each task ends and the
markdown report is written to ``bench/results/bayesian.md`` (``--report`` re-renders
it from the JSON without running anything).
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

HERE = Path(__file__).resolve().parent
PEER_PY = HERE / ".peer-venv" / "bin" / "python"
RESULTS = HERE / "results"
N_LARGE, N_SMALL, N_CLV_FIT = 1_000_000, 100_000, 20_000


def simulate(n: int) -> pd.DataFrame:
    """The simulation recipe of bench_noncontractual.py (same seeds), imported from it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_noncontractual import simulate as simulate_customers

    return simulate_customers(n)


def _peak_mb() -> float:
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def _load(data: str) -> pd.DataFrame:
    if data == "cdnow":
        from clvmodels.datasets import load_cdnow_summary

        return load_cdnow_summary()
    df = pd.read_parquet(data)
    df.attrs["time_unit"] = "day"  # attrs are not stored in Parquet
    return df


# ---------------------------------------------------------------------- children
def child(args) -> None:
    import clvmodels
    from clvmodels.models import BetaGeoModel, GammaGammaModel

    out: dict = {}
    caught: list[str] = []

    def timed(fn):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out["rss_before_mb"] = _peak_mb()
            start = time.perf_counter()
            result = fn()
            out["seconds"] = time.perf_counter() - start
        caught.extend(f"{x.category.__name__}: {str(x.message)[:300]}" for x in w)
        return result

    if args.task == "mcmc":
        df = _load(args.data)
        # imported before the clock, as bench/peer_pymc_marketing.py imports PyMC and
        # ArviZ before timing PyMC-Marketing's fit (clvmodels imports them on first use)
        import arviz  # noqa: F401
        import pymc  # noqa: F401

        m = timed(lambda: BetaGeoModel(random_state=1).fit(df, method="mcmc"))
        s = m.summary()
        out["params"] = m.point_params()
        out["r_hat_max"] = float(s["r_hat"].max())
        out["ess_bulk_min"] = float(s["ess_bulk"].min())
        out["divergences"] = int(m.idata_["sample_stats"]["diverging"].sum())
        out["chains"], out["draws"] = (int(m.draws_.sizes["chain"]), int(m.draws_.sizes["draw"]))
        out["unique_rows"] = m.n_unique_
        out["tune"] = int(m.idata_.attrs["tune"])  # resolved (default: bayes.nuts_plan)
        out["mass_matrix"] = str(m.idata_.attrs["mass_matrix"])
    elif args.task == "lifetimes_mle":  # the yardstick of issue 15: NUTS within 3x of it
        import lifetimes

        df = _load(args.data)
        f = timed(lambda: lifetimes.BetaGeoFitter().fit(df["frequency"], df["recency"],
                                                        df["T"]))
        out["params"] = {k: float(f.params_[k]) for k in ("r", "alpha", "a", "b")}
    elif args.task == "clv_prep":  # untimed: posterior fits on a 20,000-customer subsample
        df = _load(args.data)
        sub = df.sample(n=N_CLV_FIT, random_state=3).sort_index()
        sub.attrs = dict(df.attrs)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            bg = BetaGeoModel(random_state=1).fit(sub, method="mcmc")
            gg = GammaGammaModel(random_state=1).fit(sub, method="mcmc")
        caught.extend(f"{x.category.__name__}: {str(x.message)[:300]}" for x in w)
        out["seconds"] = time.perf_counter() - start
        bg.save(Path(args.models) / "bg", overwrite=True)
        gg.save(Path(args.models) / "gg", overwrite=True)
        out["params"] = {"bg": bg.point_params(), "gg": gg.point_params()}
        out["draws_total"] = int(bg.param_draws()["r"].shape[0])
    elif args.task == "clv":
        df = _load(args.data)
        bg = BetaGeoModel.load(Path(args.models) / "bg")
        gg = GammaGammaModel.load(Path(args.models) / "gg")
        n_draws = None if args.n_draws == "all" else 100
        out["posterior_draws"] = int(bg.param_draws()["r"].shape[0])
        clv = timed(lambda: clvmodels.customer_lifetime_value(
            bg, gg, df, horizon="12 months", discount_rate=0.1, n_draws=n_draws,
            random_state=0))
        out["summary"] = {c: float(clv[c].mean()) for c in
                          ["expected_clv", "expected_clv_lower", "expected_clv_upper",
                           "clv_predictive_lower", "clv_predictive_upper"]}
        out["nan"] = int(clv["expected_clv"].isna().sum())
    out["peak_mb"] = _peak_mb()
    out["warnings"] = sorted(set(caught))
    print(json.dumps(out))


# ---------------------------------------------------------------------- driver
def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(cmd: list[str], timeout: float) -> dict:
    load = os.getloadavg()
    cpu = _children_cpu()
    wall = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"timeout": True, "loadavg": load, "process_seconds": time.perf_counter() - wall}
    if proc.returncode != 0:
        return {"error": stderr.strip()[-2000:], "loadavg": load}
    res = json.loads(stdout.strip().splitlines()[-1])
    res["loadavg"] = load
    res["process_seconds"] = time.perf_counter() - wall
    # CPU time of the whole subprocess (start-up included) and of its chain processes
    res["process_cpu_seconds"] = _children_cpu() - cpu
    res["stderr_tail"] = stderr.strip()[-600:]
    return res


def save(results: dict, meta: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bayesian.json").write_text(json.dumps({"meta": meta, "results": results},
                                                      indent=1))
    (RESULTS / "bayesian.md").write_text(report(meta, results))


def fmt_time(r: dict | None, timeout: float) -> str:
    if r is None:
        return "not run"
    if r.get("timeout"):
        return f"> {timeout:.0f} s (timeout)"
    if "error" in r:
        return "error"
    return f"{r['seconds']:.2f}"


def fmt_mb(r):
    return f"{r['peak_mb']:,.0f}" if r and "peak_mb" in r else ""


def fmt_load(r):
    return " / ".join(f"{x:.2f}" for x in r["loadavg"]) if r and "loadavg" in r else ""


def report(meta: dict, results: dict) -> str:
    timeout = meta["timeout"]
    L = [f"Date: {meta['date']}", f"Machine: {meta['machine']}", ""]
    for rerun in meta.get("reruns", []):
        L[-1:-1] = [f"Re-run on {rerun['date']} (same machine, clvmodels only): "
                    + ", ".join(rerun["tasks"])]
    L += ["### Timings", "",
          "| task | package | customers (distinct summary rows) | wall time (s) | peak memory (MB) "
          "| load avg 1/5/15 min before | ratio (PyMC-Marketing / clvmodels) | target | result |",
          "|---|---|---:|---:|---:|---|---:|---|---|"]

    def ok(r):
        return r is not None and "seconds" in r

    def row(task, label, pkg, size, target="", verdict="", ratio=""):
        r = results.get(task)
        L.append(f"| {label} | {pkg} | {size} | {fmt_time(r, timeout)} | {fmt_mb(r)} | "
                 f"{fmt_load(r)} | {ratio} | {target} | {verdict} |")

    def nuts(task):
        r = results.get(task) or {}
        return (f"NUTS BG/NBD, 4 chains x 1,000 draws (+{r.get('tune', 1000):,} tune"
                + (f"; mass matrix: {r['mass_matrix']}" if "mass_matrix" in r else "") + ")")

    def rows_of(task):
        r = results.get(task)
        return f" ({r['unique_rows']:,})" if r and "unique_rows" in r else ""

    r = results.get("mcmc_cdnow")
    row("mcmc_cdnow", nuts("mcmc_cdnow"), "clvmodels",
        f"2,357 CDNOW{rows_of('mcmc_cdnow')}", "≤ 15 s",
        ("PASS" if r["seconds"] <= 15 else "FAIL") if ok(r) else "FAIL" if r else "")
    p = results.get("peer_cdnow")
    ratio = f"{p['seconds'] / r['seconds']:.1f}x" if ok(r) and ok(p) else ""
    row("peer_cdnow", nuts("peer_cdnow"),
        "PyMC-Marketing 1.3 (PyMC default cores=1)",
        "2,357 CDNOW", ratio=ratio)
    for n, key in ((N_SMALL, "100k"), (N_LARGE, "1m")):
        o, p = results.get(f"mcmc_{key}"), results.get(f"peer_{key}")
        target = verdict = ratio = ""
        if n == N_LARGE:
            target = "≤ 120 s"
            verdict = ("PASS" if o["seconds"] <= 120 else "FAIL") if ok(o) else "FAIL" if o else ""
        if p is not None and o is not None:
            t_peer = p["seconds"] if ok(p) else (timeout if p.get("timeout") else None)
            if ok(o) and t_peer:
                pref = ">" if p.get("timeout") else ""
                ratio = f"{pref}{t_peer / o['seconds']:.1f}x"
                passed = t_peer / o["seconds"] >= 20
                target += ("; " if target else "") + "≥ 20x faster than PyMC-Marketing"
                v = "PASS" if passed else "FAIL"
                if p.get("timeout") and not passed:  # only a lower bound on the ratio
                    v = "inconclusive (PyMC-Marketing timed out)"
                verdict = f"{verdict}; {v}" if verdict else v
        row(f"mcmc_{key}", nuts(f"mcmc_{key}"), "clvmodels",
            f"{n:,}{rows_of(f'mcmc_{key}')}", target, verdict, ratio)
        lt = results.get("lifetimes_1m")
        if n == N_LARGE and lt is not None:
            times = (f"{o['seconds'] / lt['seconds']:.1f}x" if ok(o) and ok(lt) else "")
            row("lifetimes_1m", "BG/NBD maximum likelihood (the yardstick: NUTS within 3x)",
                "lifetimes 0.11.3", f"{n:,}", "NUTS ≤ 3x this",
                (("PASS" if o["seconds"] <= 3 * lt["seconds"] else "FAIL") if times else ""),
                f"NUTS takes {times}" if times else "")
        if p is not None:
            row(f"peer_{key}", nuts(f"peer_{key}"),
                "PyMC-Marketing 1.3 (PyMC default cores=1)", f"{n:,}")
        else:
            L.append(f"| NUTS BG/NBD, 4 chains x 1,000 draws (+1,000 tune) | PyMC-Marketing 1.3 "
                     f"| {n:,} | not run | | | | | |")
    p2, o = results.get("peer_100k_2cores"), results.get("mcmc_100k")
    if p2 is not None:
        ratio = (f"{p2['seconds'] / o['seconds']:.1f}x" if ok(p2) and ok(o) else "")
        row("peer_100k_2cores", nuts("peer_100k_2cores"),
            "PyMC-Marketing 1.3 (cores=2, as clvmodels)", f"{N_SMALL:,}", "≥ 50x faster than "
            "PyMC-Marketing with equal cores (issue 15)",
            ("PASS" if p2["seconds"] / o["seconds"] >= 50 else "FAIL") if ratio else "", ratio)
    for key, label in (("clv_default", "CLV 12 months, point + 90% credible (n_draws=100 of "
                        "4,000 posterior draws) + 90% predictive intervals"),
                       ("clv_all", "CLV 12 months, point + 90% credible (n_draws=None: all "
                        "4,000 posterior draws) + 90% predictive intervals")):
        r = results.get(key)
        verdict = ""
        if r is not None:
            verdict = ("PASS" if ok(r) and r["seconds"] <= 60 and r["peak_mb"] <= 4096
                       else "FAIL")
        if r is None:
            L.append(f"| {label} | clvmodels | 1,000,000 | not run | | | | ≤ 60 s and "
                     f"≤ 4,096 MB peak | |")
        else:
            row(key, label, "clvmodels", "1,000,000", "≤ 60 s and ≤ 4,096 MB peak", verdict)

    L += ["", "Peak memory: the largest single process of the task (ru_maxrss of the "
          "task's subprocess or of its largest child, e.g. a PyMC chain process). "
          "Wall time of a NUTS fit is the whole `fit` call: model build, compilation, "
          "posterior-mode start (clvmodels), 4 chains of 1,000 tuning + 1,000 draws on "
          f"{meta['cores']} cores. clvmodels runs the chains in min(chains, CPUs) = 2 "
          "processes; PyMC 6.3 (PyMC-Marketing's) defaults to cores = cpu_count // 2 = 1 "
          "here, so its default run samples the 4 chains one after the other "
          "('Sequential sampling (4 chains in 1 job)' in its log); the 'cores=2' row, when "
          "present, gives it the same 2 processes.", ""]
    for k in ("peer_1m", "clv_all"):
        if meta.get("not_run", {}).get(k):
            what = {"peer_1m": "PyMC-Marketing at 1,000,000 customers",
                    "clv_all": "CLV with n_draws=None"}[k]
            L += [f"{what}: not run — {meta['not_run'][k]}", ""]

    L += ["### Posterior means", "",
          "| data | package | r | alpha | a | b | max R-hat | min bulk ESS | divergences |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, data in (("cdnow", "CDNOW (weeks)"), ("100k", "simulated 100,000 (days)"),
                      ("1m", "simulated 1,000,000 (days)")):
        for pre, pkg in (("mcmc", "clvmodels"), ("peer", "PyMC-Marketing 1.3")):
            r = results.get(f"{pre}_{key}")
            if ok(r):
                p = r["params"]
                L.append(f"| {data} | {pkg} | {p['r']:.4f} | {p['alpha']:.4f} | {p['a']:.4f} | "
                         f"{p['b']:.4f} | {r['r_hat_max']:.3f} | {r['ess_bulk_min']:.0f} | "
                         f"{r['divergences']} |")
    L += ["", "Simulation truth (days): r=0.2426, alpha=30.8945, a=0.7929, b=2.4258. "
          "CDNOW maximum likelihood (weeks, Fader et al. 2005): r=0.2426, alpha=4.4135, "
          "a=0.7929, b=2.4258. The packages' default priors differ.", ""]
    prep = results.get("clv_prep")
    if ok(prep):
        bg, gg = prep["params"]["bg"], prep["params"]["gg"]
        L += [f"CLV models: fitted with method='mcmc' (4 chains x 1,000 draws = "
              f"{prep['draws_total']:,} draws) on a 20,000-customer random subsample, "
              f"untimed ({prep['seconds']:.1f} s); posterior means BG/NBD "
              + ", ".join(f"{k}={v:.4g}" for k, v in bg.items()) + "; Gamma-Gamma "
              + ", ".join(f"{k}={v:.4g}" for k, v in gg.items()) + ".", ""]
    for key in ("clv_default", "clv_all"):
        r = results.get(key)
        if ok(r):
            s = r["summary"]
            L.append(f"- {key}: mean CLV {s['expected_clv']:.3f}, credible "
                     f"{s['expected_clv_lower']:.3f} / {s['expected_clv_upper']:.3f}, predictive "
                     f"{s['clv_predictive_lower']:.3f} / {s['clv_predictive_upper']:.3f}, "
                     f"NaN rows {r['nan']}")
    notes = []
    for k, r in results.items():
        if r.get("error"):
            notes.append(f"- {k} error: {r['error'][-800:]}")
        for w in r.get("warnings", []):
            notes.append(f"- {k} warning: {w}")
    if notes:
        L += ["", "Warnings / errors during the runs:", ""] + notes
    return "\n".join(L) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=["mcmc", "lifetimes_mle", "clv_prep", "clv"])
    parser.add_argument("--data")
    parser.add_argument("--models")
    parser.add_argument("--n-draws", choices=["default", "all"], default="default")
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only these tasks (keep others from the JSON)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.task:
        child(args)
        return
    old = (json.loads((RESULTS / "bayesian.json").read_text())
           if (RESULTS / "bayesian.json").exists() else {"meta": {}, "results": {}})
    if args.report:
        print(report(old["meta"], old["results"]))
        return
    todo = args.only or ["mcmc_cdnow", "peer_cdnow", "mcmc_100k", "mcmc_1m", "lifetimes_1m",
                         "clv_prep",
                         "clv_default", "clv_all", "peer_100k", "peer_1m", "peer_100k_2cores"]
    now = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    if args.only and not any(t.startswith("peer") for t in todo) and old["meta"]:
        # clvmodels tasks only: keep the table's run header, record the partial re-run
        meta = dict(old["meta"])
        meta["reruns"] = meta.get("reruns", []) + [{"date": now, "tasks": todo}]
        return run_tasks(args, todo, dict(old["results"]), meta)
    if not PEER_PY.exists():
        raise SystemExit("bench/.peer-venv is missing: run 'bash bench/setup_peers.sh' first.")
    peer_versions = subprocess.run(
        [str(PEER_PY), "-c", "import pymc_marketing, pymc, numpy; print(pymc_marketing."
         "__version__, pymc.__version__, numpy.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    import pymc

    meta = {
        "date": now,
        "machine": (f"nproc={os.cpu_count()} (available {len(os.sched_getaffinity(0))}), "
                    f"{platform.machine()}, Python {platform.python_version()}, numpy "
                    f"{np.__version__}, pandas {pd.__version__}, pymc {pymc.__version__}; peer "
                    f"venv: PyMC-Marketing {peer_versions[0]}, pymc {peer_versions[1]}, numpy "
                    f"{peer_versions[2]}"),
        "cores": len(os.sched_getaffinity(0)),
        "timeout": args.timeout, "not_run": {},
    }
    results = dict(old["results"]) if args.only else {}
    if args.only:
        meta["not_run"] = old["meta"].get("not_run", {})
    run_tasks(args, todo, results, meta)


def run_tasks(args, todo: list[str], results: dict, meta: dict) -> None:
    me = [sys.executable, str(Path(__file__).resolve())]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from clvmodels.datasets import load_cdnow_summary

        load_cdnow_summary().reset_index()[["customer_id", "frequency", "recency", "T"]].to_csv(
            tmp / "cdnow.csv", index=False)
        big = simulate(N_LARGE)
        big.index.name = "customer_id"
        big.to_parquet(tmp / "sim_1m.parquet")
        big.iloc[:N_SMALL].to_parquet(tmp / "sim_100k.parquet")
        for key, n in (("100k", N_SMALL), ("1m", N_LARGE)):
            big.iloc[:n].reset_index()[["customer_id", "frequency", "recency", "T"]].to_csv(
                tmp / f"sim_{key}.csv", index=False)
        del big
        models = tmp / "models"
        models.mkdir()
        cmds = {
            "mcmc_cdnow": me + ["--task", "mcmc", "--data", "cdnow"],
            "peer_cdnow": [str(PEER_PY), str(HERE / "peer_pymc_marketing.py"),
                           "--data", str(tmp / "cdnow.csv")],
            "mcmc_100k": me + ["--task", "mcmc", "--data", str(tmp / "sim_100k.parquet")],
            "mcmc_1m": me + ["--task", "mcmc", "--data", str(tmp / "sim_1m.parquet")],
            "lifetimes_1m": me + ["--task", "lifetimes_mle", "--data",
                                  str(tmp / "sim_1m.parquet")],
            "clv_prep": me + ["--task", "clv_prep", "--data", str(tmp / "sim_1m.parquet"),
                              "--models", str(models)],
            "clv_default": me + ["--task", "clv", "--data", str(tmp / "sim_1m.parquet"),
                                 "--models", str(models), "--n-draws", "default"],
            "clv_all": me + ["--task", "clv", "--data", str(tmp / "sim_1m.parquet"),
                             "--models", str(models), "--n-draws", "all"],
            "peer_100k": [str(PEER_PY), str(HERE / "peer_pymc_marketing.py"),
                          "--data", str(tmp / "sim_100k.csv")],
            "peer_1m": [str(PEER_PY), str(HERE / "peer_pymc_marketing.py"),
                        "--data", str(tmp / "sim_1m.csv")],
            "peer_100k_2cores": [str(PEER_PY), str(HERE / "peer_pymc_marketing.py"),
                                 "--data", str(tmp / "sim_100k.csv"), "--cores", "2"],
        }
        for task in todo:
            if task == "clv_all":
                d = results.get("clv_default", {})
                if not ("seconds" in d and d["seconds"] < 60):
                    meta["not_run"][task] = "the default run did not finish under 60 s"
                    continue
            if task in ("clv_default", "clv_all") and not (models / "bg").exists():
                results["clv_prep"] = run(cmds["clv_prep"], args.timeout)
            if task == "peer_1m":
                d = results.get("peer_100k", {})
                if not ("seconds" in d and d["seconds"] < 60):
                    took = (f"{d['seconds']:.0f} s" if "seconds" in d else
                            "more than the timeout" if d.get("timeout") else "an error")
                    meta["not_run"][task] = (
                        f"at 100,000 customers it took {took} (not under ~60 s); its cost grows "
                        "linearly with customers, so 1,000,000 would take about ten times as "
                        f"long, beyond the {args.timeout:.0f} s per-task timeout.")
                    results.pop(task, None)
                    save(results, meta)
                    continue
            print(f"running {task} ...", file=sys.stderr, flush=True)
            results[task] = run(cmds[task], args.timeout)
            r = results[task]
            print(f"  {task}: " + (f"{r['seconds']:.2f} s, peak {r['peak_mb']:,.0f} MB"
                                   if "seconds" in r else "timeout" if r.get("timeout")
                                   else "ERROR " + r.get("error", "")[-1500:]),
                  file=sys.stderr, flush=True)
            save(results, meta)
    save(results, meta)
    print(report(meta, results))


if __name__ == "__main__":
    main()
