"""The ``clvmodels`` command: fit, score, report, demo.

Exit codes: 0 success, 2 bad usage (argparse), 1 bad data or a failed fit, with a
one-paragraph message (``--debug`` adds the traceback).
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
import traceback
from pathlib import Path

import pandas as pd

EXAMPLES_FIT = """examples:
  clvmodels fit data/orders.csv --customer-col account --date-col ordered_at \\
      --amount-col revenue --observation-end 2026-10-31 --time-unit week --out models/clv
  clvmodels fit 'lake/orders/*.parquet' --out models/clv --method map --seed 7
"""
EXAMPLES_SCORE = """examples:
  clvmodels score models/clv data/orders.csv --out scores.parquet
  clvmodels score models/clv summary.parquet --out scores.csv --horizon "24 months" \\
      --discount-rate 0.08 --margin 0.3 --level 0.8 --seed 1
  clvmodels score models/clv orders.parquet --out s.parquet --engine dask --scheduler tcp://10.0.0.5:8786
"""


class UsageError(Exception):
    """Bad command-line usage discovered after parsing (exit code 2)."""


def _progress(total: int, desc: str):
    """A tqdm bar on a terminal; silent when stderr is not a terminal."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, desc=desc, unit="customers", disable=not sys.stderr.isatty(),
                leave=False)


def read_table(path: str) -> pd.DataFrame:
    """A CSV or Parquet file, a directory of Parquet files, or a glob of them."""
    p = Path(path)
    if p.is_dir():
        files = sorted(str(f) for f in p.rglob("*.parquet"))
    elif any(ch in path for ch in "*?["):
        files = sorted(glob.glob(path))
    else:
        files = [path]
    if not files or (len(files) == 1 and not Path(files[0]).exists()):
        raise FileNotFoundError(f"No input at {path!r}: give a CSV or Parquet file, a folder of "
                                "Parquet files, or a glob such as 'data/*.parquet'.")
    frames = []
    for f in files:
        suffix = Path(f).suffix.lower()
        if suffix == ".csv":
            frames.append(pd.read_csv(f))
        elif suffix in (".parquet", ".pq"):
            frames.append(pd.read_parquet(f))
        else:
            raise ValueError(f"Cannot read {f!r}: only .csv, .parquet and .pq files are supported.")
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def summarize(path: str, reader: str, **kwargs) -> pd.DataFrame:
    """RFM summary of transactions at ``path`` with pandas (in memory) or DuckDB
    (streams files larger than memory); both give the same summary."""
    if reader == "duckdb":
        from .data.duckdb_summary import rfm_summary_duckdb

        return rfm_summary_duckdb(path, **kwargs)
    from .data.summary import rfm_summary

    return rfm_summary(read_table(path), **kwargs)


def _is_summary(frame: pd.DataFrame) -> bool:
    return {"frequency", "recency", "T"} <= set(frame.columns)


def _cmd_fit(args) -> str:
    from .data.summary import rfm_summary
    from .scoring import fit_job

    started = time.perf_counter()
    summary = summarize(args.transactions, args.reader, observation_end=args.observation_end,
                        time_unit=args.time_unit, customer_col=args.customer_col,
                        date_col=args.date_col, amount_col=args.amount_col,
                        allow_refunds=args.allow_refunds)
    columns = {"customer_col": args.customer_col, "date_col": args.date_col,
               "amount_col": args.amount_col}
    job = fit_job(summary, args.out, columns=columns, method=args.method, seed=args.seed,
                  overwrite=args.overwrite)
    bg, gg = job.transactions.params_, job.spend.params_
    return (f"fitted {len(summary):,} customers ({args.method}) in "
            f"{time.perf_counter() - started:.1f} s: BG/NBD "
            + ", ".join(f"{k}={v:.4g}" for k, v in bg.items()) + "; Gamma-Gamma "
            + ", ".join(f"{k}={v:.4g}" for k, v in gg.items()) + f"; saved to {args.out}")


def _summary_for_scoring(args, job) -> pd.DataFrame:
    cols = job.meta["columns"]
    options = dict(observation_end=args.observation_end or job.meta["observation_end"],
                   time_unit=job.meta["time_unit"], allow_refunds=args.allow_refunds, **cols)
    if args.reader == "duckdb":
        return summarize(args.data, "duckdb", **options)
    frame = read_table(args.data)
    if _is_summary(frame):
        col = job.meta["columns"]["customer_col"]
        summary = frame.set_index(col) if col in frame.columns else frame
        if "monetary_value" not in summary.columns:
            raise ValueError("The summary to score has no 'monetary_value' column (mean spend "
                             "per repeat purchase); add it or score the transactions instead.")
        summary.attrs["time_unit"] = args.time_unit or job.meta["time_unit"]
        return summary
    missing = [c for c in cols.values() if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(
            f"The model was fitted on columns {sorted(v for v in cols.values() if v)} but "
            f"{args.data!r} lacks {missing} (it has {list(frame.columns)[:12]}). Rename the "
            "columns or refit with the right --customer-col/--date-col/--amount-col.")
    from .data.summary import rfm_summary

    return rfm_summary(frame, **options)


def _cmd_score(args) -> str:
    from .io import output_format
    from .scoring import load_job, score_to_file

    started = time.perf_counter()
    output_format(args.out)
    job = load_job(args.model)
    if args.time_unit and args.time_unit != job.meta["time_unit"]:
        raise UsageError(f"--time-unit {args.time_unit} disagrees with the model's time unit "
                         f"{job.meta['time_unit']!r}; drop the option or refit.")
    summary = _summary_for_scoring(args, job)
    options = dict(horizon=args.horizon, discount_rate=args.discount_rate, margin=args.margin,
                   level=args.level, n_draws=args.n_draws, n_samples=args.n_samples)
    bar = _progress(len(summary), "scoring")
    try:
        if args.engine == "dask":
            from .distributed import score_to_file_dask

            rows = score_to_file_dask(job, summary, args.out, scheduler=args.scheduler,
                                      seed=args.seed, chunk_customers=args.chunk_customers,
                                      **options)
        else:
            rows = score_to_file(job, summary, args.out, seed=args.seed,
                                 chunk_customers=args.chunk_customers,
                                 progress=bar.update if bar is not None else None, **options)
    finally:
        if bar is not None:
            bar.close()
    return f"scored {rows:,} customers in {time.perf_counter() - started:.1f} s -> {args.out}"


def _cmd_report(args) -> str:
    from .data.summary import calibration_holdout_summary, rfm_summary
    from .data.transactions import load_transactions
    from .report import build_report
    from .scoring import load_job

    started = time.perf_counter()
    job = load_job(args.model)
    cols = job.meta["columns"]
    frame = read_table(args.transactions)
    end = args.observation_end or job.meta["observation_end"]
    tx = load_transactions(frame, observation_end=end, **cols)
    summary = rfm_summary(tx, observation_end=end, time_unit=job.meta["time_unit"])
    holdout = None
    if args.calibration_end:
        holdout = calibration_holdout_summary(tx, calibration_end=args.calibration_end,
                                              observation_end=end, time_unit=job.meta["time_unit"])
    segments = None
    if args.segment_col:
        if args.segment_col not in frame.columns:
            raise ValueError(f"--segment-col {args.segment_col!r} is not a column of "
                             f"{args.transactions!r} (columns: {list(frame.columns)[:12]}).")
        segments = (frame.assign(_id=tx["customer_id"].to_numpy())
                    .groupby("_id")[args.segment_col].first())
    cost = None
    if args.acquisition_cost:
        try:
            cost = float(args.acquisition_cost)
        except ValueError:
            table = pd.read_csv(args.acquisition_cost)
            if list(table.columns[:2]) != ["segment", "cost"]:
                raise ValueError("--acquisition-cost must be a number or a CSV with columns "
                                 "'segment' and 'cost'.") from None
            cost = table.set_index("segment")["cost"]
    out = build_report(job.transactions, job.spend, summary, args.out, transactions=tx,
                       holdout=holdout, segments=segments, acquisition_cost=cost,
                       serving_cost_rate=args.serving_cost_rate, discount_rate=args.discount_rate,
                       margin=args.margin, random_state=args.seed)
    return f"wrote {out} for {len(summary):,} customers in {time.perf_counter() - started:.1f} s"


def _cmd_demo(args) -> str:
    from .demo import main as demo_main

    demo_main(["--out", args.out, "--seed", str(args.seed)])
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clvmodels", description="Predictive customer lifetime value from transactions.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = sub.add_parser("fit", help="fit BG/NBD + Gamma-Gamma to transactions and save them",
                         epilog=EXAMPLES_FIT, formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("transactions", help="CSV or Parquet file, folder or glob of Parquet files")
    fit.add_argument("--out", required=True, help="model directory to write")
    fit.add_argument("--customer-col", default="customer_id")
    fit.add_argument("--date-col", default="date")
    fit.add_argument("--amount-col", default="amount")
    fit.add_argument("--observation-end", default=None,
                     help="last day observed, inclusive (default: the last transaction date)")
    fit.add_argument("--time-unit", default="week", choices=["day", "week", "month"])
    fit.add_argument("--method", default="mle", choices=["mle", "map", "mcmc", "advi"])
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--allow-refunds", action="store_true",
                     help="accept negative amounts (netted within the day)")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing model directory")
    fit.add_argument("--reader", choices=["pandas", "duckdb"], default="pandas",
                     help="summarize in memory (pandas) or stream with DuckDB (inputs larger "
                     "than memory; same summaries)")
    fit.set_defaults(run=_cmd_fit)

    score = sub.add_parser("score", help="score customers with a saved model",
                           epilog=EXAMPLES_SCORE,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    score.add_argument("model", help="model directory written by 'clvmodels fit'")
    score.add_argument("data", help="transactions (as for fit) or an RFM summary "
                       "(frequency, recency, T, monetary_value)")
    score.add_argument("--out", required=True, help="output .parquet or .csv (written atomically)")
    score.add_argument("--horizon", default="12 months", help="e.g. '12 months', '52 weeks'")
    score.add_argument("--discount-rate", type=float, default=0.10,
                       help="effective annual discount rate (default 0.10)")
    score.add_argument("--margin", type=float, default=1.0, help="share of spend that is profit")
    score.add_argument("--level", type=float, default=0.90, help="interval probability")
    score.add_argument("--n-draws", type=int, default=100, help="parameter draws for intervals")
    score.add_argument("--n-samples", type=int, default=200,
                       help="simulated futures per distinct customer row")
    score.add_argument("--observation-end", default=None,
                       help="for transactions: last day observed (default: the model's)")
    score.add_argument("--time-unit", default=None, help="must match the model's if given")
    score.add_argument("--allow-refunds", action="store_true")
    score.add_argument("--seed", type=int, default=0)
    score.add_argument("--chunk-customers", type=int, default=250_000,
                       help="customers per chunk (bounds memory; part of the seed scheme)")
    score.add_argument("--reader", choices=["pandas", "duckdb"], default="pandas",
                       help="how to summarize transactions (see 'fit --help')")
    score.add_argument("--engine", choices=["local", "dask"], default="local")
    score.add_argument("--scheduler", default=None,
                       help="Dask scheduler address (default: a local cluster)")
    score.set_defaults(run=_cmd_score)

    report = sub.add_parser(
        "report", help="write a self-contained HTML forecast report",
        epilog="examples:\n  clvmodels report models/clv data/orders.csv --out report.html "
        "--calibration-end 2026-04-30 --segment-col channel --acquisition-cost costs.csv\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("model", help="model directory written by 'clvmodels fit'")
    report.add_argument("transactions", help="the transactions the model was fitted on")
    report.add_argument("--out", required=True, help="HTML file to write")
    report.add_argument("--observation-end", default=None)
    report.add_argument("--calibration-end", default=None,
                        help="validate on the period after this date (refits on the data before)")
    report.add_argument("--segment-col", default=None, help="column with each customer's segment")
    report.add_argument("--acquisition-cost", default=None,
                        help="cost per acquired customer: a number, or a CSV 'segment,cost'")
    report.add_argument("--serving-cost-rate", type=float, default=0.0,
                        help="serving costs as a share of revenue")
    report.add_argument("--discount-rate", type=float, default=0.10)
    report.add_argument("--margin", type=float, default=0.30)
    report.add_argument("--seed", type=int, default=0)
    report.set_defaults(run=_cmd_report)

    demo = sub.add_parser("demo", help="the bundled CDNOW example (what 'make demo' runs)")
    demo.add_argument("--out", default="out/cdnow_clv.parquet")
    demo.add_argument("--seed", type=int, default=2026)
    demo.set_defaults(run=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        message = args.run(args)
    except UsageError as exc:
        parser.exit(2, f"clvmodels {args.command}: error: {exc}\n")
    except (ValueError, TypeError, OSError, RuntimeError, ImportError) as exc:
        if args.debug:
            traceback.print_exc()
        kind = type(exc).__name__
        print(f"clvmodels {args.command} failed ({kind}): {exc}", file=sys.stderr)
        if not args.debug:
            print("Run again with --debug for the full traceback.", file=sys.stderr)
        return 1
    if message:
        print(message)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
