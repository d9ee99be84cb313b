"""Contractual benchmark (issue 4): Bayesian per-account sBG with 3 covariates on
1,000,000 accounts, and PyMC-Marketing's ShiftedBetaGeoModel on the REFERENCES cohorts.

    .venv/bin/python bench/bench_contractual.py [--accounts 1000000]

PyMC-Marketing runs from bench/.peer-venv (``bash bench/setup_peers.sh``). Every timed
task runs in its own subprocess; wall time covers the fit call only (model build,
compilation, NUTS 4 chains x 1,000 draws after 1,000 tuning steps); peak memory is
ru_maxrss of the task process or its largest child (a chain process).
"""

from __future__ import annotations

import argparse
import json
import os
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
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
TRUTH = {"alpha": 0.8, "beta": 2.5, "alpha[c1]": 1.5, "alpha[c2]": 0.7, "alpha[c3]": 1.0,
         "beta[c1]": 0.8, "beta[c2]": 1.3, "beta[c3]": 2.0}


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    """Accounts acquired over 36 months with three 0/1 covariates; each covariate
    pattern (8 of them) gets its own alpha, beta through the log link."""
    from clvmodels import simulate_sbg

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(n, 3))
    parts = []
    for pattern in range(8):
        bits = [(pattern >> k) & 1 for k in range(3)]
        idx = np.flatnonzero((x == bits).all(axis=1))
        a = TRUTH["alpha"] * np.prod([TRUTH[f"alpha[c{k + 1}]"] ** b for k, b in enumerate(bits)])
        b = TRUTH["beta"] * np.prod([TRUTH[f"beta[c{k + 1}]"] ** v for k, v in enumerate(bits)])
        sim = simulate_sbg(idx.size, a, b, tenure_max=rng.integers(1, 37, idx.size),
                           random_state=seed + pattern + 1)
        part = sim[["tenure", "churned"]].copy()
        part.index = idx
        for k in range(3):
            part[f"c{k + 1}"] = float(bits[k])
        parts.append(part)
    out = pd.concat(parts).sort_index()
    out.index.name = "account_id"
    return out


def task_fit(path: str) -> dict:
    from clvmodels import ShiftedBetaGeoCovariateModel

    data = pd.read_parquet(path)
    data.attrs["time_unit"] = "month"
    start = time.perf_counter()
    model = ShiftedBetaGeoCovariateModel(covariates=["c1", "c2", "c3"], random_state=1)
    model.fit(data, method="mcmc")
    seconds = time.perf_counter() - start
    s = model.summary()
    return {"seconds": seconds, "n_unique": model.n_unique_,
            "estimates": s["estimate"].round(4).to_dict(), "r_hat_max": float(s["r_hat"].max()),
            "ess_bulk_min": float(s["ess_bulk"].min())}


def task_cohorts() -> dict:
    from clvmodels import ShiftedBetaGeoModel, accounts_from_survival

    out = {}
    start = time.perf_counter()
    for name, table in (("regular", REGULAR), ("high end", HIGH_END)):
        m = ShiftedBetaGeoModel(random_state=1).fit(accounts_from_survival(table, time_unit="year"),
                                                    method="mcmc")
        out[name] = {k: round(float(v), 4) for k, v in m.params_.items()}
    out["seconds"] = time.perf_counter() - start
    return out


PEER_SCRIPT = r'''
import json, resource, sys, time, warnings
import numpy as np, pandas as pd
from pymc_marketing.clv import ShiftedBetaGeoModel
rows = []
cid = 0
for cohort, table in json.loads(sys.argv[1]).items():
    T = len(table)  # observed for len(table) - 1 renewal decisions; active customers: recency = T
    for t in range(1, len(table)):
        lost = table[t - 1] - table[t]
        rows += [(cid + i, t, T, cohort) for i in range(lost)]
        cid += lost
    rows += [(cid + i, T, T, cohort) for i in range(table[-1])]
    cid += table[-1]
data = pd.DataFrame(rows, columns=["customer_id", "recency", "T", "cohort"])
model = ShiftedBetaGeoModel()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    model.fit(data, method="mcmc", progressbar=False, random_seed=1, chains=4, draws=1000,
              tune=1000)
    seconds = time.perf_counter() - start
post = model.idata["posterior"]
means = {v: np.asarray(post[v].mean(("chain", "draw"))).round(4).tolist()
         for v in ("alpha", "beta") if v in post}
print(json.dumps({"seconds": seconds, "posterior_means": means,
                  "peak_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                 resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024}))
'''


def run(cmd: list[str], timeout: float = 900) -> tuple[dict | None, float, str]:
    """Run a task subprocess; returns (its JSON result, peak MB, stderr tail)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return None, float("nan"), proc.stderr[-1500:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    result = json.loads(lines[-1]) if lines else None
    peak = result.pop("peak_mb", float("nan")) if result else float("nan")
    result["wall_including_startup"] = time.perf_counter() - start
    return result, peak, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--task", choices=["fit", "cohorts"])
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.task:
        result = task_fit(args.data) if args.task == "fit" else task_cohorts()
        usage = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        print(json.dumps({**result, "peak_mb": usage / 1024}))
        return

    print(f"Date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}; nproc={os.cpu_count()}; "
          f"Python {sys.version.split()[0]}; load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "accounts.parquet"
        data = simulate(args.accounts)
        data.to_parquet(path)
        patterns = data.groupby(["tenure", "churned", "c1", "c2", "c3"]).ngroups
        print(f"{args.accounts:,} accounts, {patterns:,} distinct (tenure, churned, covariates) rows")
        me = [sys.executable, __file__]
        rows = []
        load = os.getloadavg()[0]
        fit, peak, err = run(me + ["--task", "fit", "--data", str(path)])
        rows.append(("per-account sBG, 3 covariates, NUTS 4x1000", "clvmodels",
                     fit["seconds"] if fit else float("nan"), peak, load,
                     "PASS" if fit and fit["seconds"] <= 60 else "FAIL", err))
        load = os.getloadavg()[0]
        coh, peak_c, err_c = run(me + ["--task", "cohorts"])
        rows.append(("cohort sBG, REFERENCES regular + high end, NUTS 4x1000", "clvmodels",
                     coh["seconds"] if coh else float("nan"), peak_c, load, "", err_c))
        load = os.getloadavg()[0]
        peer, peak_p, err_p = (None, float("nan"), "no bench/.peer-venv: run bench/setup_peers.sh")
        if PEER.exists():
            peer, peak_p, err_p = run([str(PEER), "-c", PEER_SCRIPT,
                                       json.dumps({"regular": REGULAR, "high end": HIGH_END})])
        rows.append(("cohort sBG, REFERENCES regular + high end, NUTS 4x1000", "PyMC-Marketing 1.3",
                     peer["seconds"] if peer else float("nan"), peak_p, load, "", err_p))
    print("\n| task | package | wall time (s) | peak memory (MB) | load avg before | target |")
    print("|---|---|---:|---:|---:|---|")
    for task, pkg, sec, peak, load, verdict, _ in rows:
        print(f"| {task} | {pkg} | {sec:.1f} | {peak:,.0f} | {load:.2f} | {verdict} |")
    print("\nEstimates (truth for the covariate fit: " + json.dumps(TRUTH) + "):")
    print("clvmodels covariate fit:", json.dumps(fit))
    print("clvmodels cohorts:", json.dumps(coh))
    print("PyMC-Marketing cohorts:", json.dumps(peer))
    for _, pkg, _, _, _, _, err in rows:
        if err:
            print(f"\n{pkg} stderr tail:\n{err}")


if __name__ == "__main__":
    main()
