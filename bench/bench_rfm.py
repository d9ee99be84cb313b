"""Benchmark: clvmodels.data.rfm_summary against lifetimes' summary_data_from_transaction_data.

Usage::

    .venv/bin/python bench/bench_rfm.py [--rows 10000000] [--customers N] [--seed 1]
                                        [--ids sparse|dense|string]

Generates ``--rows`` synthetic transactions (by default one customer per 10 rows, with
random 12-digit integer ids; first purchases spread over two years, heterogeneous
purchase rates, day-resolution dates in chronological order, same-day repeats, amounts
in cents), writes them to a temporary Parquet file and runs each package in its own
subprocess, in the same run:

* wall time: ``time.perf_counter`` around the summary call alone (data already
  loaded), for ``--repeat`` calls (default 3); the table shows the first call (cold:
  fresh memory, first-time imports) and the best;
* peak memory: the subprocess's peak resident set size. On Linux it is ``VmHWM`` from
  ``/proc/self/status`` (the counter behind ``getrusage(RUSAGE_SELF).ru_maxrss``),
  reset through ``/proc/self/clear_refs`` once the data are loaded, so it is the peak
  *during the calls*; the table also shows its rise over the resident size before the
  calls. Elsewhere it is ``ru_maxrss`` of the whole subprocess, loading included.

Both summaries are computed in days (time_unit='day', freq='D') with the default
observation end (the last transaction date); the script checks that frequency,
recency, T and monetary value agree (lifetimes' 0 for no repeat purchase is our NaN)
and prints a markdown table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

DAYS = 730  # two years


def generate(rows: int, customers: int, seed: int, ids: str = "sparse") -> pd.DataFrame:
    """Synthetic transaction log: one first purchase per customer plus repeat purchases."""
    rng = np.random.default_rng(seed)
    customers = min(customers, rows)
    acquired = rng.integers(0, DAYS, customers)  # first purchase day
    active_days = DAYS - acquired
    rate = rng.gamma(0.6, 1.0, customers)  # heterogeneous purchase rates
    weight = rate * active_days
    repeat_owner = rng.choice(customers, size=rows - customers, p=weight / weight.sum())
    repeat_day = acquired[repeat_owner] + np.floor(
        rng.random(rows - customers) * active_days[repeat_owner]
    ).astype(np.int64)
    owner = np.concatenate([np.arange(customers), repeat_owner])
    day = np.concatenate([acquired, repeat_day])
    order = np.argsort(day, kind="stable")  # logs are chronological
    owner, day = owner[order], day[order]
    if ids == "dense":  # 1..customers, like an auto-increment key
        labels = rng.permutation(customers).astype(np.int64) + 1
    elif ids == "sparse":  # distinct random 12-digit numbers
        labels = rng.choice(10**12, customers, replace=False).astype(np.int64)
    else:  # strings
        labels = np.char.add("C", rng.choice(10**12, customers, replace=False).astype(str))
    typical = rng.lognormal(3.0, 0.6, customers)
    amount = np.round(typical[owner] * rng.lognormal(0.0, 0.4, rows), 2)
    return pd.DataFrame(
        {
            "customer_id": labels[owner],
            "date": np.datetime64("2023-01-01", "ns") + day.astype("timedelta64[D]"),
            "amount": amount,
        }
    )


def _status_mb(field: str) -> float | None:
    """A memory figure of this process from /proc/self/status (Linux), in MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # Linux: reset the peak RSS (VmHWM) to the current RSS
        return True
    except OSError:
        return False


def child(which: str, data: str, out: str, repeat: int) -> None:
    transactions = pd.read_parquet(data)
    if which == "clvmodels":
        from clvmodels.data import rfm_summary

        def run():
            return rfm_summary(transactions, time_unit="day")
    else:
        from lifetimes.utils import summary_data_from_transaction_data

        def run():
            return summary_data_from_transaction_data(
                transactions, "customer_id", "date", monetary_value_col="amount", freq="D"
            )
    gc.collect()
    before = _status_mb("VmRSS")
    reset = _reset_peak() and before is not None
    seconds = []
    for i in range(repeat):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
        if i < repeat - 1:
            del result
            gc.collect()
    # VmHWM is the counter getrusage(RUSAGE_SELF).ru_maxrss reports, but it honours the
    # reset above (ru_maxrss also keeps the high-water marks of exited threads)
    hwm = _status_mb("VmHWM") if reset else None
    peak_mb = hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.rename_axis("customer_id").sort_index().to_parquet(out)
    print(json.dumps({"first": seconds[0], "best": min(seconds), "peak_mb": peak_mb,
                      "rise_mb": peak_mb - before if hwm is not None else None}))


def run_child(which: str, data: Path, out: Path, repeat: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", which, "--data", str(data), "--out", str(out),
         "--repeat", str(repeat)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_agreement(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    if not ours.index.equals(theirs.index):
        raise SystemExit("customer ids differ between the two summaries")
    if not np.array_equal(ours["frequency"].to_numpy(), theirs["frequency"].to_numpy()):
        raise SystemExit("frequency differs")
    for col in ["recency", "T"]:
        if not np.allclose(ours[col], theirs[col], rtol=1e-12, atol=0):
            raise SystemExit(f"{col} differs")
    if not np.allclose(ours["monetary_value"].fillna(0.0), theirs["monetary_value"], rtol=1e-9):
        raise SystemExit("monetary_value differs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=None, help="default: rows // 10")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ids", choices=["sparse", "dense", "string"], default="sparse",
                        help="customer ids: random 12-digit integers (default), 1..N, or "
                        "strings")
    parser.add_argument("--repeat", type=int, default=3,
                        help="calls per package; the table shows the first and the best")
    parser.add_argument("--child", choices=["clvmodels", "lifetimes"])
    parser.add_argument("--data")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.out, args.repeat)
        return

    customers = args.customers or max(1, args.rows // 10)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "transactions.parquet"
        transactions = generate(args.rows, customers, args.seed, args.ids)
        transactions.to_parquet(data)
        n_customers = transactions["customer_id"].nunique()
        del transactions
        print(f"{args.rows:,} transactions, {n_customers:,} customers ({args.ids} ids), "
              f"{DAYS} days", flush=True)
        print(f"Machine: nproc={os.cpu_count()}, {platform.machine()}, Python "
              f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
              f"pyarrow {version('pyarrow')}, lifetimes {version('lifetimes')}", flush=True)
        results = {}
        for which in ["clvmodels", "lifetimes"]:
            results[which] = run_child(which, data, tmp / f"{which}.parquet", args.repeat)
            print(f"  {which}: {results[which]}", file=sys.stderr, flush=True)
        check_agreement(
            pd.read_parquet(tmp / "clvmodels.parquet"), pd.read_parquet(tmp / "lifetimes.parquet")
        )
    print("frequency, recency, T and monetary_value agree\n")
    ours = results["clvmodels"]
    call_only = all(r["rise_mb"] is not None for r in results.values())
    where = "during the calls" if call_only else "of the whole process"
    print(f"RFM summary of {args.rows:,} transaction rows ({n_customers:,} customers, "
          f"{args.ids} ids), {args.repeat} calls per package\n")
    print(f"| package | wall time, first call (s) | wall time, best of {args.repeat} (s) "
          f"| peak RSS {where} (MB) | rise over pre-call RSS (MB) "
          "| ratio to clvmodels (first / best) |")
    print("|---|---:|---:|---:|---:|---:|")
    for which, label in [("clvmodels", "clvmodels rfm_summary"),
                         ("lifetimes", "lifetimes 0.11.3 summary_data_from_transaction_data")]:
        r = results[which]
        rise = "n/a" if r["rise_mb"] is None else f"{r['rise_mb']:,.0f}"
        print(f"| {label} | {r['first']:.2f} | {r['best']:.2f} | {r['peak_mb']:,.0f} | {rise} "
              f"| {r['first'] / ours['first']:.1f}x / {r['best'] / ours['best']:.1f}x |")
    print("\nEach package ran in its own subprocess on the same data. Peak memory: "
          + ("VmHWM of the subprocess (the counter behind getrusage ru_maxrss), reset after "
             "the data were loaded." if call_only else
             "getrusage(RUSAGE_SELF).ru_maxrss of the subprocess, data loading included."))


if __name__ == "__main__":
    main()
