"""Benchmark: one Parquet of customer summaries scored by the three engines — in-process
(``score_to_file``), Dask with 2 workers (``score_to_file_dask``) and Spark ``local[2]``
(``score_to_file_spark``) — and how far their numbers are apart.

Usage::

    .venv/bin/python bench/bench_spark.py [--customers 1000000] [--workdir DIR] [--keep]
                                          [--only local dask2 spark]

Data: ``--customers`` day-resolution summaries simulated and written by
``bench/bench_scoring.py`` (:func:`make_summaries`, imported: BG/NBD at the CDNOW
parameters, T uniform on 0..729 days, Gamma-Gamma spend; columns customer_id,
frequency, recency, T, monetary_value, no time unit in the file, so ``time_unit="day"``
is passed). The job (``fit_job``, maximum likelihood, seed 0) is fitted, untimed, on a
random subsample of min(100,000, customers), as bench_scoring.py does.

Each engine runs in a fresh subprocess after ``os.getloadavg()`` is recorded, with
bench_scoring.py's options (the CLI's defaults: 12 months, 10 %/year, margin 1, 90 %
intervals, 100 draws, 200 simulated futures) and chunks of 250,000, seed 0:

* wall time: of the call alone, reading the Parquet included for every engine (the
  in-process and Dask engines read it with pandas inside the timed block; Spark reads it
  itself), Dask including starting and stopping its local cluster, Spark including
  starting and stopping its session (the JVM);
* peak memory, two measures: ``ru_maxrss`` = the largest single process among the
  task's subprocess and its waited-for descendants (``getrusage`` of the subprocess from
  the parent: the Python driver, the Spark JVM or a Dask worker — whichever was largest);
  ``tree peak`` = the largest sum of the resident set sizes of the subprocess and all its
  descendants (Dask workers, the JVM, Spark's Python workers), sampled every 0.2 s with
  psutil (RSS counts shared pages in every process, so it overstates a little);
* agreement with the in-process engine: the largest absolute difference of
  ``expected_clv`` per customer, and whether the four interval columns are identical.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_scoring import OPTIONS, SCORE_CHUNK, make_summaries

TASKS = ["local", "dask2", "spark"]
LABEL = {"local": "`score_to_file` (in-process)", "dask2": "`score_to_file_dask`, 2 workers",
         "spark": "`score_to_file_spark`, `local[2]`"}
INTERVALS = ["expected_clv_lower", "expected_clv_upper", "clv_predictive_lower",
             "clv_predictive_upper"]


def child(args) -> None:
    from clvmodels.scoring import load_job

    job = load_job(args.model)
    start = time.perf_counter()
    if args.task == "spark":
        from clvmodels.spark import score_to_file_spark

        rows = score_to_file_spark(job, args.data, args.out, master="local[2]",
                                   time_unit="day", seed=0, chunk_customers=SCORE_CHUNK,
                                   spark_conf={"spark.driver.memory": "2g"}, **OPTIONS)
    else:
        df = pd.read_parquet(args.data).set_index("customer_id")
        df.attrs["time_unit"] = "day"
        if args.task == "local":
            from clvmodels.scoring import score_to_file

            rows = score_to_file(job, df, args.out, seed=0, chunk_customers=SCORE_CHUNK,
                                 **OPTIONS)
        else:
            from clvmodels.distributed import score_to_file_dask

            rows = score_to_file_dask(job, df, args.out, n_workers=2, seed=0,
                                      chunk_customers=SCORE_CHUNK, **OPTIONS)
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": int(rows)}))


def run_task(task: str, data: Path, model: Path, out: Path, timeout: float) -> dict:
    import psutil

    load = os.getloadavg()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--task", task, "--data", str(data),
           "--model", str(model), "--out", str(out)]
    log_out, log_err = out.with_suffix(".stdout"), out.with_suffix(".stderr")
    with open(log_out, "w") as so, open(log_err, "w") as se:
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, start_new_session=True)
    root = psutil.Process(proc.pid)
    tree_peak, usage, status = 0, None, None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # wait4: this child's own rusage (its maximum and its waited-for descendants')
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        tree_peak = max(tree_peak, total)
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, 9)
        proc.wait()
        return {"timeout": True, "loadavg": load}
    stdout, stderr = log_out.read_text(), log_err.read_text()
    if proc.returncode != 0:
        return {"error": (stdout + stderr).strip()[-2000:], "loadavg": load}
    res = json.loads(stdout.strip().splitlines()[-1])
    res.update(loadavg=load, tree_peak_mb=tree_peak / 2**20, ru_maxrss_mb=usage.ru_maxrss / 1024)
    return res


def compare(outs: dict[str, Path]) -> dict:
    cols = ["expected_clv"] + INTERVALS
    ref = pd.read_parquet(outs["local"], columns=cols)
    res = {}
    for task, path in outs.items():
        if task == "local" or not path.exists():
            continue
        other = pd.read_parquet(path, columns=cols)
        same_ids = other.index.equals(ref.index)
        res[task] = {
            "same_ids_in_order": bool(same_ids),
            "max_abs_diff_expected_clv": float(np.max(np.abs(
                other["expected_clv"].to_numpy() - ref["expected_clv"].to_numpy())))
            if same_ids else None,
            "intervals_identical": bool(same_ids and all(np.array_equal(
                other[c].to_numpy(), ref[c].to_numpy(), equal_nan=True) for c in INTERVALS)),
            "intervals_differing": {c: int(np.sum(other[c].to_numpy() != ref[c].to_numpy()))
                                    for c in INTERVALS} if same_ids else None,
            "max_abs_diff_intervals": float(max(np.max(np.abs(
                other[c].to_numpy() - ref[c].to_numpy())) for c in INTERVALS))
            if same_ids else None,
            "file_bytes_identical": outs["local"].read_bytes() == path.read_bytes(),
        }
    return res


def table(meta: dict, results: dict, agree: dict) -> str:
    lines = [f"Date: {meta['date']}", f"Machine: {meta['machine']}",
             f"Data: {meta['customers']:,} customers (bench_scoring.make_summaries), chunks of "
             f"{SCORE_CHUNK:,}, seed 0, {OPTIONS}", "",
             "| engine | wall time (s) | peak ru_maxrss (MB) | tree peak RSS (MB) "
             "| load avg 1/5/15 before | max abs diff expected_clv vs in-process "
             "| intervals identical |", "|---|---:|---:|---:|---|---:|---|"]
    for task in TASKS:
        r = results.get(task)
        if r is None:
            continue
        load = " / ".join(f"{x:.2f}" for x in r["loadavg"])
        if "seconds" not in r:
            lines.append(f"| {LABEL[task]} | {'timeout' if r.get('timeout') else 'error'} | | "
                         f"| {load} | | |")
            continue
        a = agree.get(task, {})
        diff = ("(reference)" if task == "local" else
                f"{a['max_abs_diff_expected_clv']:.3g}" if a.get("max_abs_diff_expected_clv")
                is not None else "ids differ")
        same = "" if task == "local" else ("yes" if a.get("intervals_identical") else
                                           f"no: max abs diff {a['max_abs_diff_intervals']:.3g}, "
                                           f"rows differing {a['intervals_differing']}")
        lines.append(f"| {LABEL[task]} | {r['seconds']:.1f} | {r['ru_maxrss_mb']:,.0f} | "
                     f"{r['tree_peak_mb']:,.0f} | {load} | {diff} | {same} |")
    lines += ["", "peak ru_maxrss: the largest single process (the task's subprocess or a "
              "descendant it waited for); tree peak: the largest sampled sum of RSS over the "
              "subprocess and all its descendants (0.2 s sampling)."]
    for task, a in agree.items():
        lines.append(f"- {task}: output file byte-identical to the in-process one: "
                     f"{'yes' if a['file_bytes_identical'] else 'no'}")
    for task, r in results.items():
        if r.get("error"):
            lines.append(f"- {task} error: {r['error'][-800:]}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--data")
    parser.add_argument("--model")
    parser.add_argument("--out")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--only", nargs="*", choices=TASKS, default=None)
    parser.add_argument("--workdir", default=None, help="default: a new folder under /tmp")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the data")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    if args.task:
        child(args)
        return
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_spark_"))
    work.mkdir(parents=True, exist_ok=True)
    data, model = work / f"summary_{args.customers}.parquet", work / f"job_{args.customers}"
    try:
        if not data.exists():
            started = time.perf_counter()
            make_summaries(data, args.customers)
            print(f"wrote {data} in {time.perf_counter() - started:.1f} s", flush=True)
        if not model.exists():
            from clvmodels.scoring import fit_job

            df = pd.read_parquet(data).set_index("customer_id")
            sub = df.sample(n=min(100_000, len(df)), random_state=3).sort_index()
            sub.attrs = {"time_unit": "day", "observation_end": "2025-12-31"}
            fit_job(sub, model, columns={"customer_col": "customer_id", "date_col": "date",
                                         "amount_col": "amount"}, method="mle", seed=0)
            del df, sub
        results, outs = {}, {}
        for task in args.only or TASKS:
            outs[task] = work / f"scores_{task}.parquet"
            outs[task].unlink(missing_ok=True)
            r = run_task(task, data, model, outs[task], args.timeout)
            results[task] = r
            print(task, json.dumps(r), flush=True)
        agree = compare(outs) if "local" in outs and outs["local"].exists() else {}
        meta = {"date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                           f"Python {platform.python_version()}",
                "customers": args.customers}
        text = table(meta, results, agree)
        (work / "bench_spark.md").write_text(text)
        (work / "bench_spark.json").write_text(json.dumps(
            {"meta": meta, "results": results, "agreement": agree}, indent=1))
        print(text)
        print(f"results in {work}/bench_spark.md and .json")
    finally:
        if not (args.keep or args.workdir):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
