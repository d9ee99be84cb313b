"""Benchmark: portfolio totals (``portfolio_value``) of 1,000,000 customers.

Usage::

    .venv/bin/python bench/bench_portfolio.py [--customers 1000000] [--model bgnbd]

Simulates ``--customers`` day-resolution customers as bench/bench_noncontractual.py
does (BG/NBD with the CDNOW parameters, alpha converted from weeks to days, ages
uniform over a two-year window, recency floored to whole days, Gamma-Gamma spend with
the CDNOW parameters), plus an acquisition-quarter column (8 cohorts), writes them once
to a temporary Parquet file and runs every timed task in its own fresh subprocess
(this script with ``--task``):

* untimed before the clock: imports, reading the Parquet file, fitting the purchase
  model and Gamma-Gamma (maximum likelihood), and a warm-up ``portfolio_value`` call
  on the first 20,000 rows;
* wall time: ``time.perf_counter`` around the ``portfolio_value`` call alone;
* peak memory: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux) of the
  subprocess at its end; the same high-water mark read just before the timed call is
  reported as "rss before call" so the increment due to the call is visible.

Tasks (12 months, 10% a year, 90% intervals, default 100 draws and 200 samples):

1. ``total``: one row for the whole base;
2. ``cohorts``: ``by="cohort"``, one row per acquisition quarter.
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
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

TASKS = ["total", "cohorts"]
MODELS = {"bgnbd": "BetaGeoModel", "mbgnbd": "ModifiedBetaGeoModel", "pnbd": "ParetoNBDModel"}


def simulate(n: int) -> pd.DataFrame:
    from clvmodels import simulate_bgnbd, simulate_spend

    rng = np.random.default_rng(0)
    T = rng.integers(0, 730, n).astype(float)  # days since first purchase (2-year window)
    df = simulate_bgnbd(n, 0.2426, 4.4135 * 7, 0.7929, 2.4258, T=T, time_unit="day",
                        random_state=1)
    df["recency"] = np.floor(df["recency"])  # dates are whole days
    df["monetary_value"] = simulate_spend(df["frequency"].to_numpy(), 6.25, 3.74, 15.44,
                                          random_state=2)
    df["cohort"] = "Q" + (8 - (df["T"] // 91.25).astype(int).clip(0, 7)).astype(str)
    df = df[["frequency", "recency", "T", "monetary_value", "cohort"]]
    df.attrs["time_unit"] = "day"
    return df


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(task: str, model_name: str, data: str) -> None:
    """One timed call in a fresh process; prints a JSON line."""
    import clvmodels

    df = pd.read_parquet(data)
    df.attrs["time_unit"] = "day"  # attrs are not stored in Parquet
    model = getattr(clvmodels, MODELS[model_name])().fit(df)
    gg = clvmodels.GammaGammaModel().fit(df)
    by = "cohort" if task == "cohorts" else None
    settings = {"horizon": "12 months", "discount_rate": 0.10, "margin": 1.0, "level": 0.90,
                "by": by, "random_state": 0}
    small = df.iloc[:20_000].copy()
    small.attrs["time_unit"] = "day"
    clvmodels.portfolio_value(model, gg, small, **settings)  # warm-up (untimed)

    out: dict = {"unique_rows": len(df.drop_duplicates(
        ["frequency", "recency", "T", "monetary_value"] + ([by] if by else [])))}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out["rss_before_mb"] = _peak_mb()
        start = time.perf_counter()
        result = clvmodels.portfolio_value(model, gg, df, **settings)
        out["seconds"] = time.perf_counter() - start
    out["peak_mb"] = _peak_mb()
    out["table"] = result.reset_index().to_dict(orient="records")
    out["attrs"] = {k: v for k, v in result.attrs.items() if isinstance(v, (int, float, str))}
    out["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    print(json.dumps(out, default=float))


def run_child(task: str, model_name: str, data: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--task", task, "--model", model_name, "--data", str(data)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{task} failed:\n{proc.stderr}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["stderr"] = proc.stderr.strip()
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--model", choices=list(MODELS), default="bgnbd")
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.task:
        child(args.task, args.model, args.data)
        return

    n = args.customers
    print(f"Date: {_dt.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"Machine: nproc={os.cpu_count()} (available {len(os.sched_getaffinity(0))}), "
          f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
          f"pandas {pd.__version__}\n", flush=True)

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "customers.parquet"
        df = simulate(n)
        df.to_parquet(data)
        n_repeat = int((df["frequency"] > 0).sum())
        print(f"{n:,} customers ({n_repeat:,} with frequency > 0), time unit day, "
              f"T uniform on 0..729 days, 8 quarterly cohorts; purchase model "
              f"{MODELS[args.model]}\n", flush=True)
        del df
        for task in TASKS:
            r = run_child(task, args.model, data)
            results[task] = r
            print(f"  {task}: {r['seconds']:.2f} s, peak {r['peak_mb']:,.0f} MB",
                  file=sys.stderr, flush=True)

    print(f"### portfolio_value timings ({n:,} customers)\n")
    print("| task | unique rows | wall time (s) | peak memory (MB) | rss before call (MB) |")
    print("|---|---:|---:|---:|---:|")
    for task, r in results.items():
        label = "whole base (by=None)" if task == "total" else "by='cohort' (8 groups)"
        print(f"| {label} | {r['unique_rows']:,} | {r['seconds']:.2f} | {r['peak_mb']:,.0f} | "
              f"{r['rss_before_mb']:,.0f} |")
    print("\nPeak memory: ru_maxrss of the task's own subprocess (includes interpreter, "
          "imports, data and the untimed model fits).\n")

    cols = ["customers", "expected_total", "expected_total_lower", "expected_total_upper",
            "predictive_total_lower", "predictive_total_upper", "expected_value_per_customer"]
    for task, r in results.items():
        print(f"### Result: {task}\n")
        first = next(iter(r["table"][0]))
        print(f"| {first} | " + " | ".join(cols) + " |")
        print("|---|" + "---:|" * len(cols))
        for row in r["table"]:
            print(f"| {row[first]} | " + " | ".join(
                f"{row[c]:,.0f}" if c != "expected_value_per_customer" else f"{row[c]:.3f}"
                for c in cols) + " |")
        print()

    notes = []
    for task, r in results.items():
        for w in r["warnings"]:
            notes.append(f"- {task} warning: {w}")
        if r["stderr"]:
            notes.append(f"- {task} stderr: {r['stderr'][:500]}")
    if notes:
        print("Warnings / stderr during the runs:\n")
        print("\n".join(notes))


if __name__ == "__main__":
    main()
