"""Benchmark: batch scoring at scale — CLI scoring of 10M customers, DuckDB summaries
of 100M transaction rows, Dask with 1 vs 2 workers.

Usage::

    .venv/bin/python bench/bench_scoring.py [--customers 10000000] [--rows 100000000]
                                            [--only TASK ...] [--workdir DIR] [--keep]

Data:

* summaries: ``--customers`` day-resolution customers simulated with the recipe of
  ``bench/bench_noncontractual.py`` (BG/NBD at the CDNOW parameters, alpha in days,
  T uniform on 0..729 days, recency floored to whole days, Gamma-Gamma spend), in
  chunks of 1,000,000 (chunk ``k`` seeds its generators with ``[seed, k]``), written
  chunk by chunk to one Parquet file (customer_id, frequency, recency, T,
  monetary_value); the scoring job (``clvmodels.scoring.fit_job``, maximum likelihood)
  is fitted, untimed, on a random 100,000-customer subsample;
* transactions: ``--rows`` rows written as 20 Parquet files with pyarrow, one file at
  a time (never all rows in memory): customer_id int64 uniform over 10,000,000
  customers, date uniform over the two years 2024-01-01..2025-12-30 (date32),
  amount Gamma(2, 20) (float64).

Timed tasks, each in a fresh subprocess, after ``os.getloadavg()`` is recorded:

1. ``cli``: ``clvmodels score MODEL summary.parquet --out scores.parquet --time-unit
   day`` (defaults: 12 months, 10%/year, 100 draws, 200 simulated futures, chunks of
   250,000) under ``/usr/bin/time -v``: wall time of the whole command (start-up,
   reading the Parquet, scoring, writing) and its maximum resident set size;
   ``cli_1m``: the same command on the first 1,000,000 of those customers (their own
   Parquet file), for issue 15's scaling target (10M in <= 12x the 1M time, <= 2 GB);
2. ``duckdb``: ``rfm_summary_duckdb(folder, observation_end="2025-12-31",
   time_unit="day")`` (its default memory_limit='3GB' and threads = cores): wall time
   of the call, peak = ru_maxrss of the subprocess;
3. ``local``, ``dask1``, ``dask2``: ``score_to_file`` and ``score_to_file_dask(...,
   n_workers=1 | 2)`` on the same 10M summary with chunk_customers=250,000 and the
   CLI's options; wall time of the call (for Dask including starting and stopping the
   local cluster), summary already loaded. Peak: ru_maxrss of the subprocess and of
   its largest finished descendant (a Dask nanny/worker), the largest single process.
   Target (issue 15): 2 workers >= 1.8x faster than 1.

Results go to ``bench/results/scoring.json`` / ``scoring.md`` as each task ends.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CHUNK = 1_000_000
OPTIONS = dict(horizon="12 months", discount_rate=0.10, margin=1.0, level=0.90, n_draws=100,
               n_samples=200)  # the CLI's defaults
SCORE_CHUNK = 250_000


def simulate_chunk(n: int, k: int) -> pd.DataFrame:
    """bench_noncontractual.py's recipe; chunk k seeds with [seed, k]."""
    from clvmodels import simulate_bgnbd, simulate_spend

    rng = np.random.default_rng([0, k])
    T = rng.integers(0, 730, n).astype(float)
    df = simulate_bgnbd(n, 0.2426, 4.4135 * 7, 0.7929, 2.4258, T=T, time_unit="day",
                        random_state=np.random.default_rng([1, k]))
    df["recency"] = np.floor(df["recency"])
    df["monetary_value"] = simulate_spend(df["frequency"].to_numpy(), 6.25, 3.74, 15.44,
                                          random_state=np.random.default_rng([2, k]))
    return df[["frequency", "recency", "T", "monetary_value"]].reset_index(drop=True)


def make_summaries(path: Path, n: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for k, start in enumerate(range(0, n, CHUNK)):
        df = simulate_chunk(min(CHUNK, n - start), k)
        df.insert(0, "customer_id", np.arange(start, start + len(df), dtype=np.int64))
        table = pa.Table.from_pandas(df, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def make_transactions(folder: Path, rows: int, files: int = 20) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    per = rows // files
    start = np.datetime64("2024-01-01", "D")
    for i in range(files):
        rng = np.random.default_rng([7, i])
        m = per if i < files - 1 else rows - per * (files - 1)
        table = pa.table({
            "customer_id": rng.integers(0, 10_000_000, m, dtype=np.int64),
            "date": pa.array(start + rng.integers(0, 730, m).astype("timedelta64[D]"),
                             type=pa.date32()),
            "amount": np.round(rng.gamma(2.0, 20.0, m), 2),
        })
        pq.write_table(table, folder / f"part-{i:03d}.parquet")
        del table


def _peak_mb() -> float:
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def _read_summary(path: str) -> pd.DataFrame:
    df = pd.read_parquet(path).set_index("customer_id")
    df.attrs["time_unit"] = "day"
    return df


def child(args) -> None:
    out: dict = {}
    if args.task == "fit_job":
        from clvmodels.scoring import fit_job

        df = _read_summary(args.data)
        sub = df.sample(n=100_000, random_state=3).sort_index()
        sub.attrs = {"time_unit": "day", "observation_end": "2025-12-31"}
        start = time.perf_counter()
        job = fit_job(sub, args.model, columns={"customer_col": "customer_id",
                                                "date_col": "date", "amount_col": "amount"},
                      method="mle", seed=0, overwrite=True)
        out["seconds"] = time.perf_counter() - start
        out["params"] = {"bg": job.transactions.point_params(), "gg": job.spend.point_params()}
    elif args.task == "duckdb":
        from clvmodels.data.duckdb_summary import rfm_summary_duckdb

        out["rss_before_mb"] = _peak_mb()
        start = time.perf_counter()
        s = rfm_summary_duckdb(args.data, observation_end="2025-12-31", time_unit="day")
        out["seconds"] = time.perf_counter() - start
        out["customers"] = int(len(s))
        out["mean_frequency"] = float(s["frequency"].mean())
    elif args.task in ("local", "dask1", "dask2"):
        from clvmodels.scoring import load_job, score_to_file

        job = load_job(args.model)
        df = _read_summary(args.data)
        out["rss_before_mb"] = _peak_mb()
        start = time.perf_counter()
        if args.task == "local":
            rows = score_to_file(job, df, args.out, seed=0, chunk_customers=SCORE_CHUNK,
                                 **OPTIONS)
        else:
            from clvmodels.distributed import score_to_file_dask

            rows = score_to_file_dask(job, df, args.out, n_workers=int(args.task[-1]), seed=0,
                                      chunk_customers=SCORE_CHUNK, **OPTIONS)
        out["seconds"] = time.perf_counter() - start
        out["rows"] = int(rows)
        out["mean_clv"] = float(pd.read_parquet(args.out, columns=["expected_clv"])
                                ["expected_clv"].mean())
    out["peak_mb"] = _peak_mb()
    print(json.dumps(out))


def run(cmd: list[str], timeout: float, cwd: Path | None = None) -> dict:
    load = os.getloadavg()
    wall = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=cwd)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"timeout": True, "loadavg": load}
    elapsed = time.perf_counter() - wall
    if proc.returncode != 0:
        return {"error": (stdout + stderr).strip()[-2000:], "loadavg": load}
    return {"stdout": stdout, "stderr": stderr, "elapsed": elapsed, "loadavg": load}


def run_child(task: str, timeout: float, cwd: Path, **kw) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--task", task]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    r = run(cmd, timeout, cwd)
    if "stdout" in r:
        res = json.loads(r["stdout"].strip().splitlines()[-1])
        res["loadavg"] = r["loadavg"]
        res["stderr_tail"] = r["stderr"].strip()[-600:]
        return res
    return r


def run_cli(model: Path, data: Path, out: Path, timeout: float, cwd: Path) -> dict:
    exe = Path(sys.executable).parent / "clvmodels"
    cmd = [str(exe), "score", str(model), str(data), "--out", str(out), "--time-unit", "day"]
    timev = shutil.which("time") or "/usr/bin/time"
    r = run([timev, "-v"] + cmd, timeout, cwd)
    if "stdout" not in r:
        return r
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r["stderr"])
    said = re.search(r"scored ([\d,]+) customers in ([\d.]+) s", r["stdout"] + r["stderr"])
    return {"seconds": r["elapsed"], "peak_mb": int(m.group(1)) / 1024 if m else float("nan"),
            "cli_reported_seconds": float(said.group(2)) if said else None,
            "rows": int(said.group(1).replace(",", "")) if said else None,
            "loadavg": r["loadavg"], "command": " ".join(["clvmodels"] + cmd[1:])}


def save(meta, results) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scoring.json").write_text(json.dumps({"meta": meta, "results": results},
                                                     indent=1))
    (RESULTS / "scoring.md").write_text(report(meta, results))


def report(meta: dict, results: dict) -> str:
    timeout = meta.get("timeout", 900)
    L = [f"Date: {meta.get('date')}", f"Machine: {meta.get('machine')}", ""]
    dates: dict[str, list[str]] = {}
    for task, r in results.items():
        dates.setdefault(r.get("run_date", meta.get("date")), []).append(task)
    if len(dates) > 1:  # a partial re-run (--only) keeps the other tasks' results
        L += ["Tasks by run: " + "; ".join(f"{', '.join(t)}: {d}"
                                           for d, t in sorted(dates.items())) + ".", ""]
    if meta.get("data"):
        L += [meta["data"], ""]
    L += ["| task | data | wall time (s) | peak memory (MB) | load avg 1/5/15 min before "
          "| speed-up | target | result |", "|---|---|---:|---:|---|---:|---|---|"]

    def ok(r):
        return r is not None and "seconds" in r

    def t(r):
        if r is None:
            return "not run"
        if r.get("timeout"):
            return f"> {timeout:.0f} s (timeout)"
        return f"{r['seconds']:.1f}" if "seconds" in r else "error"

    def mb(r):
        return f"{r['peak_mb']:,.0f}" if ok(r) else ""

    def ld(r):
        return " / ".join(f"{x:.2f}" for x in r["loadavg"]) if r and "loadavg" in r else ""

    n = meta.get("customers", 0)
    rows = meta.get("rows", 0)
    r1, r = results.get("cli_1m"), results.get("cli")
    if r1 is not None:
        L.append(f"| `clvmodels score` CLI, first {min(CHUNK, n):,} customers | "
                 f"{min(CHUNK, n):,} customers | {t(r1)} | {mb(r1)} | {ld(r1)} | 1.00x | | |")
    scale = r["seconds"] / r1["seconds"] if ok(r) and ok(r1) else None
    verdict = (("PASS" if r["peak_mb"] <= 2048 and (scale is None or scale <= 12) else "FAIL")
               if ok(r) else ("FAIL" if r else ""))
    L.append(f"| `clvmodels score` CLI (local engine; whole command incl. start-up, read, write)"
             f" | {n:,} customers | {t(r)} | {mb(r)} | {ld(r)} | "
             f"{f'{scale:.2f}x the 1M time' if scale else ''} | ≤ 12x the 1M time, peak ≤ 2,048 MB"
             f" | {verdict} |")
    r = results.get("duckdb")
    L.append(f"| `rfm_summary_duckdb` (20 Parquet files) | {rows:,} transaction rows | {t(r)} | "
             f"{mb(r)} | {ld(r)} | | ≤ 60 s and ≤ 4,096 MB | "
             f"{('PASS' if r['seconds'] <= 60 and r['peak_mb'] <= 4096 else 'FAIL') if ok(r) else ('FAIL' if r else '')} |")
    loc, d1, d2 = results.get("local"), results.get("dask1"), results.get("dask2")
    L.append(f"| `score_to_file` (local engine, in-process{'' if loc else '; the CLI row above uses this engine'})"
             f" | {n:,} customers | {t(loc)} | "
             f"{mb(loc)} | {ld(loc)} | | | |")
    L.append(f"| `score_to_file_dask`, 1 worker | {n:,} customers | {t(d1)} | {mb(d1)} | {ld(d1)} "
             f"| 1.00x | | |")
    sp = f"{d1['seconds'] / d2['seconds']:.2f}x" if ok(d1) and ok(d2) else ""
    verdict = ("PASS" if d1["seconds"] / d2["seconds"] >= 1.8 else "FAIL") if sp else ""
    L.append(f"| `score_to_file_dask`, 2 workers | {n:,} customers | {t(d2)} | {mb(d2)} | {ld(d2)} "
             f"| {sp} | 2 workers ≥ 1.8x faster than 1 | {verdict} |")
    L += ["", "Peak memory: the CLI's maximum resident set size from `/usr/bin/time -v`; for the "
          "other tasks ru_maxrss of the task's subprocess or of its largest finished descendant "
          "(a Dask nanny/worker), i.e. the largest single process, not the sum over Dask "
          "processes. Dask and local-engine times are of the call alone (summary already in "
          "memory) and the Dask ones include starting and stopping the local cluster; chunks "
          f"of {SCORE_CHUNK:,} customers everywhere.", ""]
    extra = []
    for k in ("cli_1m", "cli"):
        if ok(results.get(k)) and results[k].get("cli_reported_seconds"):
            extra.append(f"- {k}, the CLI's own message: scored {results[k]['rows']:,} "
                         f"customers in {results[k]['cli_reported_seconds']:.1f} s "
                         "(after imports)")
    if ok(results.get("duckdb")):
        extra.append(f"- DuckDB summary: {results['duckdb']['customers']:,} customers, mean "
                     f"frequency {results['duckdb']['mean_frequency']:.3f}")
    for k in ("local", "dask1", "dask2"):
        if ok(results.get(k)):
            extra.append(f"- {k}: {results[k]['rows']:,} rows, mean expected_clv "
                         f"{results[k]['mean_clv']:.4f}")
    if meta.get("fit_job"):
        extra.append(f"- scoring job (MLE, 100,000-customer subsample): {meta['fit_job']}")
    if meta.get("prep"):
        extra.append(f"- data preparation (untimed): {meta['prep']}")
    for k, r in results.items():
        if r and r.get("error"):
            extra.append(f"- {k} error: {r['error'][-800:]}")
    return "\n".join(L + extra) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=["fit_job", "duckdb", "local", "dask1", "dask2"])
    parser.add_argument("--data")
    parser.add_argument("--model")
    parser.add_argument("--out")
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--workdir", default=None,
                        help="where to put the generated data (default: a folder under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the generated data")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.task:
        child(args)
        return
    old = (json.loads((RESULTS / "scoring.json").read_text())
           if (RESULTS / "scoring.json").exists() else {"meta": {}, "results": {}})
    if args.report:
        print(report(old["meta"], old["results"]))
        return
    import dask
    import duckdb

    work = Path(args.workdir or "/tmp/clvmodels-bench-scoring")
    work.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": (f"nproc={os.cpu_count()} (available {len(os.sched_getaffinity(0))}), "
                    f"{platform.machine()}, Python {platform.python_version()}, numpy "
                    f"{np.__version__}, pandas {pd.__version__}, duckdb {duckdb.__version__}, "
                    f"dask {dask.__version__}"),
        "customers": args.customers, "rows": args.rows, "timeout": args.timeout,
    }
    results = dict(old["results"]) if args.only else {}
    todo = args.only or ["duckdb", "cli_1m", "cli", "dask1", "dask2", "local"]
    summary, model, trans = work / "summary.parquet", work / "model", work / "transactions"
    summary_1m = work / "summary_1m.parquet"
    prep = []
    if any(t != "duckdb" for t in todo):
        if not (args.keep and summary.exists()):
            t0 = time.perf_counter()
            make_summaries(summary, args.customers)
            prep.append(f"simulating and writing {args.customers:,} summaries took "
                        f"{time.perf_counter() - t0:.0f} s ({summary.stat().st_size / 2**20:,.0f}"
                        " MB Parquet)")
        if not (args.keep and (model / "job.json").exists()):
            r = run_child("fit_job", args.timeout, work, data=summary, model=model)
            if "params" not in r:
                raise SystemExit(f"fit_job failed: {r}")
            meta["fit_job"] = (f"{r['seconds']:.1f} s; BG/NBD "
                               + ", ".join(f"{k}={v:.4g}" for k, v in r["params"]["bg"].items())
                               + "; Gamma-Gamma "
                               + ", ".join(f"{k}={v:.4g}" for k, v in r["params"]["gg"].items()))
        else:
            meta["fit_job"] = old["meta"].get("fit_job")
        if "cli_1m" in todo and not (args.keep and summary_1m.exists()):
            import pyarrow.parquet as pq

            pq.write_table(pq.read_table(summary).slice(0, min(CHUNK, args.customers)),
                           summary_1m)
    if "duckdb" in todo and not (args.keep and trans.exists()
                                 and len(list(trans.glob("*.parquet"))) == 20):
        shutil.rmtree(trans, ignore_errors=True)
        t0 = time.perf_counter()
        make_transactions(trans, args.rows)
        size = sum(f.stat().st_size for f in trans.glob("*.parquet"))
        prep.append(f"generating and writing {args.rows:,} transaction rows (20 files) took "
                    f"{time.perf_counter() - t0:.0f} s ({size / 2**20:,.0f} MB Parquet)")
    meta["prep"] = "; ".join(prep) or old["meta"].get("prep")
    meta["data"] = (f"Summaries: {args.customers:,} simulated day-resolution customers "
                    "(bench_noncontractual.py recipe, 1M-customer chunks); job fitted by MLE on a "
                    f"100,000-customer subsample. Transactions: {args.rows:,} rows in 20 Parquet "
                    "files, customer_id uniform over 10,000,000 ids, dates uniform over 2 years, "
                    "Gamma amounts.")
    for task in todo:
        print(f"running {task} ...", file=sys.stderr, flush=True)
        out = work / f"scores_{task}.parquet"
        if task in ("cli", "cli_1m"):
            r = run_cli(model, summary_1m if task == "cli_1m" else summary, out,
                        args.timeout, work)
        elif task == "duckdb":
            r = run_child("duckdb", args.timeout, work, data=trans)
        else:
            r = run_child(task, args.timeout, work, data=summary, model=model, out=out)
        results[task] = dict(r, run_date=meta["date"])
        out.unlink(missing_ok=True)
        print(f"  {task}: " + (f"{r['seconds']:.1f} s, peak {r['peak_mb']:,.0f} MB"
                               if "seconds" in r else str(r)[-1500:]), file=sys.stderr, flush=True)
        save(meta, results)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(report(meta, results))


if __name__ == "__main__":
    main()
