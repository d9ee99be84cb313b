"""The ``clvmodels`` command: fit, score, report, demo.

Exit codes: 0 success, 2 bad usage (argparse), 1 bad data or a failed fit, with a
one-paragraph message (``--debug`` adds the traceback).

Usage errors, and paths that cannot work (a missing input, model directory or output
folder, an existing --out), are refused before pandas, NumPy or any model code is
imported, so they answer at once (tests/test_cli_start.py). Progress goes to stderr
(:mod:`clvmodels.progress`: on a terminal, ``--quiet`` off, ``--progress`` on);
stdout carries the results only.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import signal
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .progress import Progress

if TYPE_CHECKING:  # pandas is imported where it is used: --help starts at once
    import pandas as pd

EXAMPLES_FIT = """examples:
  clvmodels fit data/orders.csv --customer-col account --date-col ordered_at \\
      --amount-col revenue --observation-end 2026-10-31 --time-unit week --out models/clv
  clvmodels fit 'lake/orders/*.parquet' --out models/clv --method map --seed 7
  clvmodels fit data/orders.csv --covariates-file data/customers.csv \\
      --covariate-cols channel,first_amount --out models/clv-cov
  clvmodels fit --kind contractual accounts.csv --account-col customerID --tenure-col tenure \\
      --churned-col Churn --period month --revenue-col MonthlyCharges --out models/churn
  clvmodels fit --kind contractual accounts.parquet --account-col customerID --churned-col Churn \\
      --period month --covariates Contract,SeniorCitizen --method map --out models/churn-cov
"""
EXAMPLES_SCORE = """examples:
  clvmodels score models/clv data/orders.csv --out scores.parquet
  clvmodels score models/clv summary.parquet --out scores.csv --horizon "24 months" \\
      --discount-rate 0.08 --margin 0.3 --level 0.8 --seed 1
  clvmodels score models/clv orders.parquet --out s.parquet --engine dask --scheduler tcp://10.0.0.5:8786
  clvmodels score models/clv summary.parquet --out s.parquet --engine spark --spark-master local[2]
  clvmodels score models/clv-cov data/orders.csv --covariates-file data/customers.csv --out s.parquet
  clvmodels score models/churn accounts.csv --out clv.parquet --revenue-col MonthlyCharges \\
      --discount-rate 0.10 --margin 0.6 --acquisition-cost-col cac --level 0.9 --seed 1
"""

#: the money settings ``score`` and ``report`` share, shown in their --help and echoed
#: with their results (build_report and build_contractual_report default to the same;
#: the value functions of the API take them as arguments, default 0 and 1.0)
DISCOUNT_RATE_DEFAULT = 0.10
MARGIN_DEFAULT = 1.0


class UsageError(Exception):
    """Bad command-line usage discovered after parsing (exit code 2)."""


#: progress of a job run without the command line's flags (e.g. ``summarize`` from Python)
_SILENT = Progress(enabled=False, terminal=False)


def _stage(args, text: str):
    """A stage of the job (:meth:`clvmodels.progress.Progress.stage`), shown as ``args``
    (``--quiet``, ``--progress``, a terminal) say."""
    return (getattr(args, "progress", None) or _SILENT).stage(text)


def _read(args, path: str, *, id_col: str | None) -> pd.DataFrame:
    """:func:`read_table` as a stage of the job."""
    with _stage(args, f"reading {path}") as stage:
        frame = read_table(path, args, id_col=id_col)
        stage.detail = f"{len(frame):,} rows"
    return frame


def _check_input(path: str, args) -> None:
    """The input exists (before any work; pandas reads it later). DuckDB finds its own
    files: left to it."""
    if getattr(args, "reader", "pandas") == "pandas":
        _input_files(path)


_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")
#: --sep names for separators that are awkward to type
_SEPARATORS = {"whitespace": r"\s+", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def read_table(path: str, args=None, *, id_col: str | None = None) -> pd.DataFrame:
    """A delimited text file (CSV by default; ``--sep``, ``--no-header``/``--names``,
    ``--encoding`` from ``args``), a Parquet file, a directory of Parquet files, or a
    glob of them. ``id_col`` is read as text, so ids such as "00004" keep their zeros
    (the Python API keeps them too)."""
    import pandas as pd

    files = _input_files(path)
    sep = getattr(args, "sep", None)
    names = getattr(args, "names", None)
    frames = []
    for f in files:
        suffix = Path(f).suffix.lower()
        if suffix in (".parquet", ".pq") and sep is None and names is None:
            frames.append(pd.read_parquet(f))
        elif suffix in _TEXT_SUFFIXES or sep is not None or names is not None:
            frames.append(_read_text(f, suffix, args, id_col))
        else:
            raise ValueError(f"Cannot read {f!r}: give a .csv, .tsv or .txt file (add --sep for "
                             "another separator) or a .parquet file.")
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _input_files(path: str) -> list[str]:
    """The files at ``path`` (a file, a folder of Parquet files or a glob), or a clear
    error when there are none."""
    p = Path(path)
    if p.is_dir():
        files = sorted(str(f) for f in p.rglob("*.parquet"))
    elif any(ch in path for ch in "*?["):
        files = sorted(glob.glob(path))
    else:
        files = [path]
    if not files or (len(files) == 1 and not Path(files[0]).exists()):
        raise FileNotFoundError(f"No input at {path!r}: give a CSV, text or Parquet file, a folder of "
                                "Parquet files, or a glob such as 'data/*.parquet'.")
    return files


def _read_text(f: str, suffix: str, args, id_col: str | None) -> pd.DataFrame:
    import pandas as pd

    sep = getattr(args, "sep", None)
    names = getattr(args, "names", None)
    encoding = getattr(args, "encoding", None) or "utf-8"
    if sep is None:
        sep = "\t" if suffix == ".tsv" else r"\s+" if suffix in (".txt", ".dat") else ","
    else:
        sep = _SEPARATORS.get(sep, sep)
    columns = [c.strip() for c in names.split(",")] if names else None
    if columns is not None and (len(set(columns)) != len(columns) or "" in columns):
        raise UsageError(f"--names {names!r}: give distinct, non-empty column names separated by "
                         "commas, one per column of the file.")
    text = {id_col: str} if id_col else None
    try:
        frame = pd.read_csv(f, sep=sep, header=None if columns else "infer", names=columns,
                            encoding=encoding, dtype=text, engine="python" if len(sep) > 1
                            else "c", skipinitialspace=sep == ",")
    except UnicodeDecodeError as exc:
        raise ValueError(f"Cannot read {f!r} as {encoding} text ({exc.reason} at byte "
                         f"{exc.start}); name its encoding with --encoding, e.g. --encoding "
                         "latin-1.") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{f!r} is empty: it has no header and no rows.") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"Cannot split {f!r} into columns with separator {sep!r} ({exc}); "
                         "set the separator with --sep (e.g. --sep ';', --sep tab, "
                         "--sep whitespace).") from None
    if columns is None and frame.shape[1] == 1 and sep == "," and ";" in str(frame.columns[0]):
        raise ValueError(f"{f!r} has one column named {frame.columns[0]!r}: it looks "
                         "semicolon-separated; add --sep ';'.")
    return frame


def summarize(path: str, reader: str, args=None, **kwargs) -> pd.DataFrame:
    """RFM summary of transactions at ``path`` with pandas (in memory) or DuckDB
    (streams files larger than memory); both give the same summary."""
    if reader == "duckdb":
        from .data.duckdb_summary import rfm_summary_duckdb

        given = [f for f in ("sep", "names", "encoding", "date_format")
                 if getattr(args, f, None) is not None]
        if given:
            raise UsageError(f"{', '.join(_flag(f) for f in given)} work with --reader pandas; "
                             "--reader duckdb reads CSV (comma-separated, with a header, UTF-8, "
                             "ISO dates) and Parquet.")
        kwargs.pop("date_format", None)
        with _stage(args, f"summarising {path} with DuckDB") as stage:
            summary = rfm_summary_duckdb(path, **kwargs)
            stage.detail = f"{len(summary):,} customers"
        return summary
    return _summarise(args, _read(args, path, id_col=kwargs.get("customer_col") or "customer_id"),
                      **kwargs)


def _summarise(args, frame: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """:func:`clvmodels.rfm_summary` of transactions read, as a stage of the job."""
    with _stage(args, "summarising transactions") as stage:
        from .data.summary import rfm_summary

        summary = rfm_summary(frame, **kwargs)
        stage.detail = f"{len(summary):,} customers"
    return summary


def _is_summary(frame: pd.DataFrame) -> bool:
    return {"frequency", "recency", "T"} <= set(frame.columns)


# options of one kind of job only: dest -> the value meaning "not given"
_NONCONTRACTUAL_ONLY = {
    "fit": {"customer_col": None, "date_col": None, "amount_col": None, "observation_end": None,
            "time_unit": None, "allow_refunds": False, "reader": "pandas",
            "calibration_end": None, "covariates_file": None, "covariate_cols": None,
            "spend_covariate_cols": None},
    "score": {"observation_end": None, "allow_refunds": False, "reader": "pandas",
              "covariates_file": None},
    "report": {"observation_end": None, "calibration_end": None, "serving_cost_rate": 0.0,
               "covariates_file": None},
}
_CONTRACTUAL_ONLY = {
    "fit": {"account_col": None, "tenure_col": None, "churned_col": None, "covariates": None,
            "revenue_col": None, "observed_periods": None, "entry_col": None,
            "segment_col": None},
    "score": {"revenue_col": None, "growth_rate": None, "acquisition_cost_col": None},
    "report": {"revenue_col": None, "cohort_col": None, "acquisition_cost_col": None},
}
_NONCONTRACTUAL_DEFAULTS = {"customer_col": "customer_id", "date_col": "date",
                            "amount_col": "amount", "time_unit": "week", "horizon": "12 months"}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _check_kind_options(args, kind: str) -> None:
    """Refuse options of the other kind of job (exit 2); fill this kind's defaults."""
    own, other = ((_CONTRACTUAL_ONLY, _NONCONTRACTUAL_ONLY) if kind == "contractual"
                  else (_NONCONTRACTUAL_ONLY, _CONTRACTUAL_ONLY))
    given = [_flag(d) for d, unset in other[args.command].items() if getattr(args, d) != unset]
    if given:
        fix = ("add --kind contractual for a per-account table, or drop "
               if args.command == "fit" and kind == "noncontractual" else "drop ")
        fix += "it" if len(given) == 1 else "them"
        hint = ", ".join(_flag(d) for d in own[args.command])
        if "--covariates" in given:  # account columns; a customer's come from a file
            hint += ("; customer covariates of transactions: --covariates-file PATH "
                     "--covariate-cols COL1,COL2")
        raise UsageError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for "
                         f"{'non' if kind == 'contractual' else ''}contractual jobs and this is "
                         f"a {kind} job: {fix} (its own options: {hint}; see "
                         f"'clvmodels {args.command} --help').")
    if kind == "noncontractual":
        for dest, value in _NONCONTRACTUAL_DEFAULTS.items():
            # score and report take the time unit of the job they load
            if dest == "time_unit" and args.command != "fit":
                continue
            if getattr(args, dest, value) is None:
                setattr(args, dest, value)


#: the models of --model as the stage lines name them
_MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pnbd": "Pareto/NBD",
                "mbgcnbd": "MBG/CNBD-k", "bgcnbd": "BG/CNBD-k", "bgbb": "BG/BB",
                "sbg": "sBG", "bdw": "BdW"}


def _fitting(args, model: str, what: str = " and Gamma-Gamma"):
    """The stage of a fit: "fitting BG/NBD and Gamma-Gamma (mle)"."""
    return _stage(args, f"fitting {_MODEL_NAMES.get(model, model)}{what} ({args.method})")


def _loading(args):
    """The stage of importing the modelling code (NumPy, pandas, SciPy, the models): a
    few seconds the first time, worth a line on a terminal."""
    return _stage(args, "loading clvmodels")


def _before_work(args, path: str) -> None:
    """The paths a fit needs, checked once its options are (exit 1, before any import of
    pandas): ``--out`` can be written, the input exists."""
    from .io import check_job_target

    check_job_target(args.out, args.overwrite)  # before the work, not after it
    _check_input(path, args)
    _check_covariates_file(args)


def _check_covariates_file(args) -> None:
    """--covariates-file exists (it is always read with pandas)."""
    path = getattr(args, "covariates_file", None)
    if path is None:
        return
    try:
        _input_files(path)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"--covariates-file: {exc}") from None


def _column_list(text: str, flag: str) -> list[str]:
    """COL1,COL2 as a list of distinct names (usage errors name the flag)."""
    names = [c.strip() for c in text.split(",")]
    names = [] if names == [""] else names
    if "" in names or len(set(names)) != len(names):
        raise UsageError(f"{flag} {text!r}: give distinct, non-empty column names separated by "
                         "commas, e.g. channel,first_amount.")
    return names


def _covariate_flags(args) -> tuple[list[str], list[str]] | None:
    """(purchase covariates, spend covariates) of fit, or None without --covariates-file;
    usage errors before any work."""
    path, text, spend = args.covariates_file, args.covariate_cols, args.spend_covariate_cols
    if path is None:
        given = [f for f, v in (("--covariate-cols", text), ("--spend-covariate-cols", spend))
                 if v is not None]
        if given:
            raise UsageError(f"{' and '.join(given)} name columns of a covariates file: add "
                             "--covariates-file PATH (CSV or Parquet, one row per customer, "
                             "her id in the --customer-col column).")
        return None
    if text is None:
        raise UsageError("--covariates-file needs --covariate-cols COL1,COL2: the columns of the "
                         "file that act on purchasing and drop-out (and on spend, unless "
                         "--spend-covariate-cols names others).")
    columns = _column_list(text, "--covariate-cols")
    if not columns:
        raise UsageError("--covariate-cols is empty: name at least one column of "
                         "--covariates-file, or drop both options.")
    return columns, (columns if spend is None else _column_list(spend, "--spend-covariate-cols"))


#: the --model values whose purchase model has a covariate version (scoring.COVARIATE_MODELS)
_COVARIATE_MODELS = ("bgnbd", "mbgnbd", "pnbd", "bgbb", "auto")


def _read_covariates(args, path: str, customer_col: str, needed: list[str]) -> pd.DataFrame:
    """The --covariates-file table, read as the transactions are (--sep, --encoding; ids
    as text from a text file), with its id column and ``needed`` columns checked."""
    reading = argparse.Namespace(**{**vars(args), "names": None})  # --names: the data's
    table = _read(reading, path, id_col=customer_col)
    if customer_col not in table.columns:
        raise ValueError(f"--covariates-file {path!r} has no customer id column "
                         f"{customer_col!r} (the --customer-col of the transactions); it has "
                         f"{list(table.columns)[:20]}. Name its id column as in the "
                         "transactions.")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        fix = ("Fix --covariate-cols / --spend-covariate-cols, or the file." if args.command
               == "fit" else f"The job was fitted with the covariate columns {needed}: give "
               "a file that has them.")
        raise ValueError(f"--covariates-file {path!r} has no column(s) {missing}; it has "
                         f"{list(table.columns)[:20]}. {fix}")
    return table


def _attach_fit_covariates(args, summary: pd.DataFrame, table, needed: list[str],
                           stage: str = "attaching the covariates") -> pd.DataFrame:
    """The summary with the covariate columns of --covariates-file (the fitting checks:
    every customer has a row, no constant or collinear columns)."""
    if table is None:
        return summary
    from .data.covariates import attach_covariates
    from .scoring import _ids_typed_as

    col = args.customer_col or "customer_id"
    with _stage(args, stage):
        return attach_covariates(summary, _ids_typed_as(table, col, summary.index),
                                 columns=needed, customer_col=col,
                                 owner=f"--covariates-file {args.covariates_file!r}")


def _cmd_fit(args) -> str:
    _check_kind_options(args, args.kind)
    if args.max_iter < 10:
        raise UsageError(f"--max-iter must be a whole number >= 10 (default 1000). Got "
                         f"{args.max_iter}.")
    if args.kind == "contractual":
        return _fit_contractual(args)
    model = args.model or "bgnbd"
    if model not in ("bgnbd", "mbgnbd", "pnbd", "mbgcnbd", "bgcnbd", "bgbb", "auto"):
        raise UsageError(f"--model {model}: transactions take bgnbd (BG/NBD, default), mbgnbd "
                         "(MBG/NBD), pnbd (Pareto/NBD), mbgcnbd or bgcnbd (MBG/CNBD-k, "
                         "BG/CNBD-k: regular purchase timing), bgbb (BG/BB: transaction "
                         "periods, with --period) or auto (the best of bgnbd, mbgnbd and pnbd "
                         "by holdout with --calibration-end, else by BIC); churn models (sbg, "
                         "bdw) need --kind contractual.")
    flags = _covariate_flags(args)
    if flags is not None and model not in _COVARIATE_MODELS:
        raise UsageError(f"--model {model} has no covariate version: the models that take "
                         "customer covariates (--covariates-file) are bgnbd, mbgnbd, pnbd, "
                         "bgbb and auto. Choose one of them, or drop --covariates-file and "
                         "--covariate-cols.")
    if model == "bgbb":
        return _fit_discrete(args, flags)
    if args.period is not None:
        raise UsageError("--period is the length of one transaction opportunity for --model bgbb "
                         "(or of one renewal period with --kind contractual); the other purchase "
                         "models take --time-unit.")
    if args.calibration_end is not None and model != "auto":
        raise UsageError("--calibration-end on fit chooses a model by its holdout forecast; use "
                         "it with --model auto (validation of one model: 'clvmodels report "
                         "... --calibration-end').")
    _before_work(args, args.transactions)
    with _loading(args):
        from .scoring import ERLANG_MODELS, PURCHASE_MODELS, fit_job
    started = time.perf_counter()
    covariates, spend_covariates, needed, cov_table = _fit_covariates(args, flags)
    options = {"date_format": args.date_format, "observation_end": args.observation_end,
               "time_unit": args.time_unit, "customer_col": args.customer_col,
               "date_col": args.date_col, "amount_col": args.amount_col,
               "allow_refunds": args.allow_refunds,
               # the Erlang-k models choose their order on the gaps between purchases
               "regularity": model in ERLANG_MODELS}
    frame = None
    if args.reader == "pandas":  # read once: the holdout split below reads the same rows
        frame = _read(args, args.transactions, id_col=args.customer_col or "customer_id")
        summary = _summarise(args, frame, **options)
    else:
        summary = summarize(args.transactions, args.reader, args, **options)
    summary = _attach_fit_covariates(args, summary, cov_table, needed)
    holdout = None
    if args.calibration_end is not None:
        if frame is None:
            frame = _read(args, args.transactions, id_col=args.customer_col or "customer_id")
        with _stage(args, f"summarising up to --calibration-end {args.calibration_end} and "
                    "the holdout after it"):
            from .data.summary import calibration_holdout_summary

            holdout = calibration_holdout_summary(
                frame, calibration_end=args.calibration_end, date_format=args.date_format,
                observation_end=summary.attrs.get("observation_end"),
                time_unit=summary.attrs.get("time_unit"), customer_col=args.customer_col,
                date_col=args.date_col, amount_col=args.amount_col)
        holdout = _attach_fit_covariates(args, holdout, cov_table, needed,
                                         "attaching the covariates to the calibration customers")
    columns = {"customer_col": args.customer_col, "date_col": args.date_col,
               "amount_col": args.amount_col}
    compared = ", ".join(_MODEL_NAMES.get(m, m) for m in PURCHASE_MODELS)
    how = "holdout MAE" if holdout is not None else "BIC"
    with (_stage(args, f"comparing {compared} by {how}, fitting the best and Gamma-Gamma "
                 f"({args.method})") if model == "auto" else _fitting(args, model)):
        job = fit_job(summary, args.out, columns=columns, method=args.method, seed=args.seed,
                      overwrite=args.overwrite, model=model, holdout=holdout,
                      max_iter=args.max_iter, covariates=covariates,
                      spend_covariates=spend_covariates, covariate_source=args.covariates_file)
    table = ""
    if job.meta.get("model_comparison"):
        import pandas as pd

        frame = pd.DataFrame.from_dict(job.meta["model_comparison"], orient="index")
        cols = [c for c in ("log_likelihood", "bic", "expected_total", "actual_total", "mae",
                            "relative_mae", "coverage_90") if c in frame.columns]
        how = "holdout MAE" if holdout is not None else "BIC"
        table = (f"\nmodels compared ({how}; the first is used):\n"
                 + frame[cols].to_string(float_format=lambda v: f"{v:,.1f}" if abs(v) >= 100
                                         else f"{v:.4f}"))
    return (f"fitted {len(summary):,} customers ({args.method}) in "
            f"{time.perf_counter() - started:.1f} s: " + _fitted_line(job)
            + f"; saved to {args.out}" + _boundary_note(job.transactions) + table)


def _fit_covariates(args, flags):
    """(purchase covariates, spend covariates, every covariate column, the table read
    from --covariates-file), all empty or None without the file."""
    if flags is None:
        return None, None, [], None
    covariates, spend = flags
    needed = covariates + [c for c in spend if c not in covariates]
    table = _read_covariates(args, args.covariates_file, args.customer_col or "customer_id",
                             needed)
    return covariates, spend, needed, table


def _fit_discrete(args, flags=None) -> str:
    """``fit --model bgbb``: BG/BB on transaction periods of length ``--period``."""
    if args.period is None:
        raise UsageError("--model bgbb counts the periods (opportunities) with a transaction: "
                         "add --period year|month|week|day, the length of one opportunity.")
    given = [f for f in ("calibration_end", "time_unit") if getattr(args, f) not in (None, "week")]
    if args.reader != "pandas" or given:
        raise UsageError("--model bgbb reads with --reader pandas and takes --period instead of "
                         "--time-unit; --calibration-end is for --model auto (validation: "
                         "'clvmodels report ... --calibration-end').")
    _before_work(args, args.transactions)
    with _loading(args):
        from .data.discrete import discrete_summary
        from .scoring import fit_job
    started = time.perf_counter()
    covariates, spend_covariates, needed, cov_table = _fit_covariates(args, flags)
    frame = _read(args, args.transactions, id_col=args.customer_col)
    with _stage(args, f"summarising transactions by {args.period}") as stage:
        summary = discrete_summary(
            frame, period=args.period, observation_end=args.observation_end,
            customer_col=args.customer_col, date_col=args.date_col, amount_col=args.amount_col,
            date_format=args.date_format, allow_refunds=args.allow_refunds)
        stage.detail = f"{len(summary):,} customers"
    summary = _attach_fit_covariates(args, summary, cov_table, needed)
    columns = {"customer_col": args.customer_col, "date_col": args.date_col,
               "amount_col": args.amount_col}
    with _fitting(args, "bgbb"):
        job = fit_job(summary, args.out, columns=columns, method=args.method, seed=args.seed,
                      overwrite=args.overwrite, model="bgbb", max_iter=args.max_iter,
                      covariates=covariates, spend_covariates=spend_covariates,
                      covariate_source=args.covariates_file)
    return (f"fitted {len(summary):,} customers ({args.method}) in "
            f"{time.perf_counter() - started:.1f} s over {args.period}s "
            f"{summary.attrs['start']} .. {summary.attrs['observation_end']}: "
            + _fitted_line(job) + f"; saved to {args.out}" + _boundary_note(job.transactions))


def _fitted_line(job) -> str:
    model = job.transactions
    # settings the fit fixed besides the parameters (the Erlang order of (M)BG/CNBD-k)
    fixed = {k: v for k, v in model.point_params().items() if k not in model.params_}
    return (f"{type(model).__name__} " + _params_text(model, fixed) + "; Gamma-Gamma "
            + _params_text(job.spend, {}))


def _params_text(model, fixed: dict) -> str:
    """The fitted parameters; a covariate model's coefficients on the log scale (0: no
    effect), as its ``coefficients()`` table gives them, after its shared parameters."""
    text = ", ".join(f"{k}={v:.4g}" for k, v in {**fixed, **model.params_}.items()
                     if ":" not in str(k))
    if hasattr(model, "coefficients") and any(":" in str(k) for k in model.params_.index):
        text += " (coefficients, log scale: " + ", ".join(
            f"{k}={v:.3g}" for k, v in model.coefficients()["estimate"].items()) + ")"
    return text


def _boundary_note(model) -> str:
    """The statement of a fit that ended at a boundary, on its own line."""
    note = getattr(model, "boundary_", None)
    return f"\n  {note['message']}" if note else ""


def _fit_contractual(args) -> str:
    if args.period is None:
        raise UsageError("--kind contractual needs --period (the length of one renewal period, "
                         "the unit of the tenure column): day, week, month or year.")
    if args.model not in (None, "sbg", "bdw", "auto"):
        raise UsageError(f"--model {args.model} is not a churn model; a contractual job takes "
                         "sbg, bdw or auto.")
    if args.model == "auto" and args.segment_col is None:
        raise UsageError("--model auto picks a churn model per segment; add --segment-col COLUMN "
                         "(or choose --model sbg or bdw).")
    if args.observed_periods is not None and args.observed_periods < 1:
        raise UsageError(f"--observed-periods must be a whole number >= 1 (1 for a snapshot: one "
                         f"renewal decision seen per account). Got {args.observed_periods}.")
    _before_work(args, args.transactions)
    with _loading(args):
        from .scoring import fit_contractual_job
    started = time.perf_counter()
    covariates = [c.strip() for c in (args.covariates or "").split(",") if c.strip()]
    table = _read(args, args.transactions, id_col=args.account_col or "account_id")
    model = args.model or "sbg"
    what = (" with covariates " + ", ".join(covariates) if covariates else "") + (
        f" per segment of {args.segment_col}" if args.segment_col else "")
    with (_fitting(args, "the better of sBG and BdW", what) if model == "auto"
          else _fitting(args, model, " churn model" + what)):
        job = fit_contractual_job(
            table, args.out, period=args.period,
            account_col=args.account_col or "account_id", tenure_col=args.tenure_col or "tenure",
            churned_col=args.churned_col or "churned", covariates=covariates,
            revenue_col=args.revenue_col, entry_col=args.entry_col,
            observed_periods=args.observed_periods, segment_col=args.segment_col,
            model=model, method=args.method, seed=args.seed, overwrite=args.overwrite,
            max_iter=args.max_iter)
    churn = job.churn
    if hasattr(churn, "models_"):
        params = "; ".join(f"{k}: {type(m).__name__} " + ", ".join(
            f"{n}={v:.4g}" for n, v in m.params_.items()) for k, m in churn.models_.items())
    else:
        params = f"{type(churn).__name__} " + ", ".join(
            f"{k}={v:.4g}" for k, v in churn.params_.items())
    notes = "".join(f"\n  {k}: {v}" if k != "all" else f"\n  {v}"
                    for k, v in job.meta["boundaries"].items())
    return (f"fitted {job.meta['accounts']:,} accounts ({job.meta['churned']:,} cancelled; "
            f"{args.method}) in {time.perf_counter() - started:.1f} s: {params} (per "
            f"{job.meta['time_unit']}); saved to {args.out}{notes}")


def _discrete_summary_for_scoring(args, job) -> pd.DataFrame:
    """The periods summary of a BG/BB job's data, laid out on the job's periods."""
    from .data.discrete import discrete_summary

    if args.reader != "pandas":
        raise UsageError("a BG/BB job (transaction periods) reads with --reader pandas.")
    cols = job.meta["columns"]
    frame = _read(args, args.data, id_col=cols.get("customer_col"))
    if "n_periods" in frame.columns:  # already a summary of periods
        col = cols["customer_col"]
        summary = frame.set_index(col) if col in frame.columns else frame
        summary.attrs["time_unit"] = _summary_unit(args, job, frame, "periods")
        return summary
    with _stage(args, f"summarising transactions by {job.meta['time_unit']}") as stage:
        summary = discrete_summary(
            frame, period=job.meta["time_unit"], start=job.meta["period_start"],
            observation_end=args.observation_end or job.meta["observation_end"],
            date_format=args.date_format, allow_refunds=args.allow_refunds, **cols)
        stage.detail = f"{len(summary):,} customers"
    return summary


def _summary_for_scoring(args, job) -> pd.DataFrame:
    if job.meta.get("summary") == "discrete":
        return _discrete_summary_for_scoring(args, job)
    cols = job.meta["columns"]
    options = dict(observation_end=args.observation_end or job.meta["observation_end"],
                   time_unit=job.meta["time_unit"], allow_refunds=args.allow_refunds, **cols)
    if args.reader == "duckdb":
        return summarize(args.data, "duckdb", args, **options)
    frame = _read(args, args.data, id_col=cols.get("customer_col") or "customer_id")
    if _is_summary(frame):
        col = job.meta["columns"]["customer_col"]
        summary = frame.set_index(col) if col in frame.columns else frame
        if "monetary_value" not in summary.columns:
            raise ValueError("The summary to score has no 'monetary_value' column (mean spend "
                             "per repeat purchase); add it or score the transactions instead.")
        summary.attrs["time_unit"] = _summary_unit(args, job, frame, "recency and T")
        return summary
    missing = [c for c in cols.values() if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(
            f"The model was fitted on columns {sorted(v for v in cols.values() if v)} but "
            f"{args.data!r} lacks {missing} (it has {list(frame.columns)[:12]}). Rename the "
            "columns or refit with the right --customer-col/--date-col/--amount-col.")
    return _summarise(args, frame, date_format=args.date_format, **options)


def _percent_hint(value: float, low: float, high: float = 100.0) -> str:
    if not (low <= value <= high):
        return ""
    from .errors import percent_as_share

    return f" Did you mean {percent_as_share(value)} ({value:g}%)?"


def _check_money(args) -> None:
    """The money settings of score and report in their ranges, before any work (usage
    errors, exit 2): a rate or share written as a percentage (5 for 5%) would be taken
    as 500%."""
    import math

    rules = (("discount_rate", "an effective annual rate in [0, 1), e.g. 0.10 for 10%",
              lambda v: 0.0 <= v < 1.0, 1.0),
             ("margin", "the share of revenue that is profit, in (0, 1], e.g. 0.30 for 30%",
              lambda v: 0.0 < v <= 1.0, 1.0 + 1e-12),
             ("serving_cost_rate", ("serving costs as a share of revenue, in [0, 1), e.g. "
                                    "0.05 for 5%"), lambda v: 0.0 <= v < 1.0, 1.0),
             ("growth_rate", ("revenue growth per renewal period as a share, in (-1, 1), "
                              "e.g. 0.01 for 1% a period"), lambda v: -1.0 < v < 1.0, 1.0))
    for dest, meaning, ok, low in rules:
        value = getattr(args, dest, None)
        if value is None or (math.isfinite(value) and ok(value)):
            continue
        hint = _percent_hint(value, low) if math.isfinite(value) else ""
        raise UsageError(f"{_flag(dest)} must be {meaning}. Got {value:g}.{hint}")


def _check_growth(args, job) -> None:
    """--growth-rate at or above the discount rate per renewal period values the whole
    remaining life at infinity: refused unless --horizon bounds it."""
    growth = getattr(args, "growth_rate", None)
    if not growth or args.horizon is not None:
        return
    from .timeunits import unit_length_days

    unit = job.meta["time_unit"]
    per_period = (1.0 + args.discount_rate) ** (unit_length_days(unit) / 365.25) - 1.0
    if growth >= per_period:
        raise UsageError(
            f"--growth-rate {growth:g} a {unit} is at or above the discount rate per {unit} "
            f"({per_period:.3%}, from --discount-rate {args.discount_rate:g} a year): revenue "
            "would grow as fast as it is discounted, so the whole remaining life is worth "
            f"an unbounded amount. Add a --horizon (e.g. --horizon '5 years'), raise "
            "--discount-rate or lower --growth-rate.")


def _summary_unit(args, job, frame, what: str) -> str:
    """The time unit of a summary file: the one it carries (a Parquet file written from
    a summary keeps it), else --time-unit. A CSV keeps none, and a summary read in
    another unit than it was built in is valued wrongly without a word (weeks read as
    days: about a sixth of the value), so the unit must be said."""
    saved = frame.attrs.get("time_unit")
    if saved is not None:
        return saved  # a unit other than the model's is refused when scoring
    if args.time_unit is None:
        unit = job.meta["time_unit"]
        raise UsageError(
            f"{args.data!r} is a summary that does not say its time unit (a CSV file keeps "
            f"none): its {what} could be in days, weeks or months, and read in the wrong unit "
            f"they give a wrong value without any error. The model counts {unit}s: if the "
            f"summary's {what} are in {unit}s, add --time-unit {unit}; if not, score the "
            f"transactions instead, or rebuild the summary in {unit}s (a Parquet file keeps "
            "its unit).")
    return args.time_unit


def _cmd_score(args) -> str:
    _check_money(args), _level(args), _horizon(args)  # usage errors first (exit 2)
    from .io import check_job_dir, check_output_file, output_format

    output_format(args.out)
    check_output_file(args.out)  # before the work, not after it
    check_job_dir(args.model)
    _check_input(args.data, args)
    _check_covariates_file(args)
    with _loading(args):
        from .scoring import load_job, score_to_file
    started = time.perf_counter()
    with _stage(args, f"loading the model {args.model}"):
        job = load_job(args.model)
    _check_kind_options(args, job.kind)
    _check_growth(args, job)
    if args.time_unit and args.time_unit != job.meta["time_unit"]:
        raise UsageError(f"--time-unit {args.time_unit} disagrees with the model's time unit "
                         f"{job.meta['time_unit']!r}; drop the option or refit.")
    options = dict(discount_rate=args.discount_rate, margin=args.margin, level=args.level,
                   n_draws=args.n_draws, n_samples=args.n_samples)
    if job.kind == "contractual":
        options.update(revenue_col=_revenue_col(args, job), growth_rate=args.growth_rate or 0.0,
                       acquisition_cost_col=args.acquisition_cost_col, horizon=args.horizon)
    else:
        options.update(horizon=args.horizon)
    table = _scoring_covariates(args, job)
    if args.engine == "spark":
        return _score_spark(args, job, options, started, table)
    if job.kind == "contractual":
        summary = job.accounts(_read(args, args.data,
                                     id_col=job.meta["columns"].get("account_col")))
    else:
        summary = _summary_for_scoring(args, job)
        if table is not None:
            with _stage(args, f"attaching the covariates of {args.covariates_file}"):
                summary = job.attach_covariates(
                    summary, table, owner=f"--covariates-file {args.covariates_file!r}")
    what = "accounts" if job.kind == "contractual" else "customers"
    scoring = args.progress.begin(f"scoring {len(summary):,} {what}")
    # a bar where chunks report back (the local engine); the others show the stage only
    bar = args.progress.bar(len(summary), "scoring", unit=what) if args.engine == "local" else None
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
    except BaseException:
        scoring.end(failed=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    scoring.end()
    return _scored_message(args, job, rows, started)


def _scoring_covariates(args, job):
    """The --covariates-file table for a job with covariates (None without the option;
    the job refuses data without its columns when scoring, naming the option)."""
    if getattr(args, "covariates_file", None) is None:
        return None
    needed = job.covariate_columns
    if not needed:
        raise UsageError(f"the job {args.model} was fitted without customer covariates; drop "
                         "--covariates-file.")
    return _read_covariates(args, args.covariates_file,
                            job.meta["columns"].get("customer_col") or "customer_id", needed)


def _scored_message(args, job, rows: int, started: float) -> str:
    what = "accounts" if job.kind == "contractual" else "customers"
    horizon = args.horizon or ("the whole remaining life" if job.kind == "contractual"
                               else "12 months")
    return (f"scored {rows:,} {what} in {time.perf_counter() - started:.1f} s -> {args.out}\n"
            f"  settings: horizon {horizon}, discount rate {args.discount_rate:.1%} a year, "
            f"margin {args.margin:.0%}, {args.level:.0%} intervals, seed {args.seed}\n"
            f"  total expected CLV: {_expected_total(args.out)}")


def _score_spark(args, job, options: dict, started: float, covariates=None) -> str:
    """``--engine spark``: Spark reads the file itself (summaries, transactions or
    accounts), scores it in chunks of --chunk-customers with the local engine's seeds,
    and the scores are written to --out in id order (:mod:`clvmodels.spark`)."""
    if args.reader != "pandas":
        raise UsageError("--engine spark reads the data with Spark itself; drop --reader "
                         f"{args.reader}.")
    if job.meta.get("summary") == "discrete":
        raise UsageError("--engine spark scores continuous-time jobs; a BG/BB job (transaction "
                         "periods) scores with --engine local or dask.")
    from .spark import score_to_file_spark

    what = "accounts" if job.kind == "contractual" else "customers"
    with _stage(args, f"scoring the {what} on Spark ({args.spark_master})"):
        rows = score_to_file_spark(job, args.data, args.out, master=args.spark_master,
                                   seed=args.seed, chunk_customers=args.chunk_customers,
                                   time_unit=args.time_unit,
                                   observation_end=args.observation_end,
                                   allow_refunds=args.allow_refunds, covariates=covariates,
                                   **options)
    return _scored_message(args, job, rows, started)


def _expected_total(path) -> str:
    """The sum of the written ``expected_clv`` column (read back, one column)."""
    import pandas as pd

    from .io import output_format

    if output_format(path) == "parquet":
        col = pd.read_parquet(path, columns=["expected_clv"])["expected_clv"]
    else:
        col = pd.read_csv(path, usecols=["expected_clv"])["expected_clv"]
    return f"${col.sum():,.0f}"


def _revenue_col(args, job) -> str:
    """--revenue-col, else the one recorded at fit; one of them is required."""
    col = args.revenue_col or job.meta["columns"].get("revenue_col")
    if col is None:
        raise UsageError("a contractual job needs --revenue-col (the column with each account's "
                         "revenue per period at its next renewal, e.g. MonthlyCharges); the job "
                         "was fitted without one to default to.")
    return col


def _cmd_report(args) -> str:
    _level(args), _horizons(args), _check_money(args)  # usage errors first (exit 2)
    from .io import check_job_dir, check_output_file

    check_output_file(args.out)  # before the work, not after it
    check_job_dir(args.model)
    _check_input(args.transactions, args)
    _check_covariates_file(args)
    with _loading(args):
        import pandas as pd

        from .data.summary import calibration_holdout_summary, rfm_summary
        from .data.transactions import load_transactions
        from .report import build_report
        from .scoring import load_job, zero_spend_limit
    started = time.perf_counter()
    with _stage(args, f"loading the model {args.model}"):
        job = load_job(args.model)
    _check_kind_options(args, job.kind)
    if job.kind == "contractual":
        return _report_contractual(args, job, started)
    if job.covariate_columns and args.covariates_file is None:
        raise UsageError(
            f"the job {args.model} was fitted with customer covariates "
            f"{job.covariate_columns}: add --covariates-file PATH, a file with one row per "
            "customer holding them (the one given to fit, or one like it).")
    table = _scoring_covariates(args, job)
    cols = job.meta["columns"]
    frame = _read(args, args.transactions, id_col=cols.get("customer_col") or "customer_id")
    end = args.observation_end or job.meta["observation_end"]
    if job.meta.get("summary") == "discrete" and args.calibration_end:
        raise UsageError("--calibration-end: the holdout check is not available for a BG/BB "
                         "job yet (the report says so); drop the option.")
    with _stage(args, "summarising transactions") as stage:
        tx = load_transactions(frame, observation_end=end, date_format=args.date_format, **cols)
        if job.meta.get("summary") == "discrete":
            from .data.discrete import discrete_summary

            summary = discrete_summary(tx, period=job.meta["time_unit"],
                                       start=job.meta["period_start"], observation_end=end,
                                       amount_col="amount")
        else:
            summary = rfm_summary(tx, observation_end=end, time_unit=job.meta["time_unit"])
        summary = zero_spend_limit(summary)[0]  # free items only: valued as the job scores them
        stage.detail = f"{len(summary):,} customers"
    if table is not None:
        with _stage(args, f"attaching the covariates of {args.covariates_file}"):
            summary = job.attach_covariates(
                summary, table, owner=f"--covariates-file {args.covariates_file!r}")
    holdout = None
    if args.calibration_end:
        with _stage(args, f"summarising the holdout after --calibration-end "
                    f"{args.calibration_end}"):
            holdout = calibration_holdout_summary(tx, calibration_end=args.calibration_end,
                                                  observation_end=end,
                                                  time_unit=job.meta["time_unit"])
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
    with _drawing(args):
        out = build_report(job.transactions, job.spend, summary, args.out, transactions=tx,
                           holdout=holdout, segments=segments, acquisition_cost=cost,
                           serving_cost_rate=args.serving_cost_rate,
                           discount_rate=args.discount_rate, margin=args.margin,
                           random_state=args.seed, level=_level(args),
                           horizons_years=_horizons(args),
                           comparison=_comparison(job.meta.get("model_comparison")),
                           source={"data file": args.transactions,
                                   "rows read": f"{len(frame):,}", "model directory": args.model})
    years = _horizons(args)[0]
    return (f"wrote {out} for {len(summary):,} customers in {time.perf_counter() - started:.1f} s"
            + _table_beside(out, ((".winback.csv", "win-back list"),
                                  (".cashflows.csv", "expected value per period")))
            + _report_settings(
                args, f"{years:g} year" + ("s" if years != 1 else ""), out))


def _drawing(args):
    """The stage of a report's values, charts and page (the longest part of report)."""
    return _stage(args, f"valuing the customers and drawing the report {args.out}")


def _comparison(table: dict | None):
    """The model comparison a job keeps (``fit --model auto``) as a DataFrame."""
    if not table:
        return None
    import pandas as pd

    frame = pd.DataFrame.from_dict(table, orient="index")  # job.json sorts keys: re-rank
    return frame.sort_values("mae" if "mae" in frame.columns else "bic", kind="stable")


def _report_contractual(args, job, started) -> str:
    from .report import build_contractual_report

    accounts = job.accounts(_read(args, args.transactions,
                                  id_col=job.meta["columns"].get("account_col")))
    for option in ("segment_col", "cohort_col"):
        col = getattr(args, option)
        if col is not None and col not in accounts.columns:
            raise ValueError(f"{_flag(option)} {col!r} is not a column of {args.transactions!r} "
                             f"(columns: {list(accounts.columns)[:12]}).")
    cost_col = args.acquisition_cost_col
    if args.acquisition_cost is not None:
        if cost_col is not None:
            raise UsageError("give --acquisition-cost or --acquisition-cost-col, not both.")
        cost_col = "acquisition_cost"
        accounts[cost_col] = _cost_per_account(args.acquisition_cost, accounts, args.segment_col)
    revenue_col = _revenue_col(args, job)
    with _drawing(args):
        out = build_contractual_report(
            job.churn, accounts, args.out, revenue_col=revenue_col,
            segment_col=args.segment_col, cohort_col=args.cohort_col,
            acquisition_cost_col=cost_col, discount_rate=args.discount_rate, margin=args.margin,
            level=_level(args), random_state=args.seed,
            source={"data file": args.transactions, "rows read": f"{len(accounts):,}",
                    "model directory": args.model})
    return (f"wrote {out} for {len(accounts):,} accounts in "
            f"{time.perf_counter() - started:.1f} s"
            + _table_beside(out, ((".cashflows.csv", "expected value per period"),))
            + _report_settings(args, "the whole remaining life", out))


def _report_settings(args, horizon: str, out) -> str:
    """The settings a report used and the total expected value on its page (the sum of
    the per-account table's expected_clv), as score echoes them."""
    table = Path(out).with_suffix(".clv.csv")
    total = f"\n  total expected CLV ({horizon}): {_expected_total(table)}" if table.exists() else ""
    return (f"\n  settings: discount rate {args.discount_rate:.1%} a year, margin "
            f"{args.margin:.0%}, {args.level:.0%} intervals, seed {args.seed}" + total)


def _level(args) -> float:
    if not 0.0 < args.level < 1.0:
        hint = f" Did you mean {args.level / 100:.2f}?" if 1.0 < args.level < 100.0 else ""
        raise UsageError(f"--level must be a probability in (0, 1), e.g. 0.90. Got "
                         f"{args.level}.{hint}")
    return float(args.level)


def _horizon(args) -> None:
    """--horizon of score is a duration with a unit (checked before any work; whether a
    model can take it, e.g. whole months for BG/BB, is its own check)."""
    if args.horizon is None:
        return
    from .timeunits import TIME_UNITS, parse_horizon

    try:
        parse_horizon(args.horizon, "score")
    except ValueError:
        raise UsageError(f"--horizon must be a positive duration with a unit ({', '.join(TIME_UNITS)}"
                         f", singular or plural), e.g. '12 months', '52 weeks' or '3 years'. Got "
                         f"{args.horizon!r}.") from None


def _horizons(args) -> tuple[float, ...]:
    try:
        years = tuple(float(v) for v in args.horizons.split(","))
    except ValueError:
        years = ()
    if not years or any(not (0.0 < y <= 100.0) for y in years):
        raise UsageError(f"--horizons takes years separated by commas, e.g. 1,3,5 (each in "
                         f"(0, 100]). Got {args.horizons!r}.")
    return years


def _table_beside(out, extras: tuple[tuple[str, str], ...] = ()) -> str:
    """Names the per-account table a report writes beside its page, when it did, and
    its other tables (suffix, what it holds)."""
    table = Path(out).with_suffix(".clv.csv")
    text = f", and its per-account table {table}" if table.exists() else ""
    for suffix, what in extras:
        if Path(out).with_suffix(suffix).exists():
            text += f"\n  {what}: {Path(out).with_suffix(suffix)}"
    return text


def _cost_per_account(value: str, accounts: pd.DataFrame, segment_col: str | None):
    """--acquisition-cost as one number, or a CSV 'segment,cost' mapped by --segment-col."""
    import pandas as pd
    try:
        return float(value)
    except ValueError:
        pass
    table = pd.read_csv(value)
    if list(table.columns[:2]) != ["segment", "cost"] or segment_col is None:
        raise ValueError("--acquisition-cost must be a number, or a CSV with columns 'segment' "
                         "and 'cost' together with --segment-col.")
    costs = table.set_index(table["segment"].astype(str))["cost"]
    return accounts[segment_col].astype(str).map(costs).to_numpy(dtype=float, na_value=float("nan"))


def _cmd_demo(args) -> str:
    from .demo import main as demo_main

    demo_main(["--out", args.out, "--seed", str(args.seed)])
    return ""


def _add_progress_options(command) -> None:
    """--quiet and --progress (shared by fit, score and report)."""
    group = command.add_argument_group("progress (on stderr; results go to stdout)")
    show = group.add_mutually_exclusive_group()
    show.add_argument("-q", "--quiet", action="store_true",
                      help="no progress lines or bars (for jobs); warnings and errors still "
                      "print")
    show.add_argument("--progress", dest="force_progress", action="store_true",
                      help="progress lines even when stderr is not a terminal (e.g. a job's "
                      "log; the bar becomes a line every 10 s). Default: shown on a terminal "
                      "only")


def _add_reading_options(command) -> None:
    """How to read a delimited text input (shared by fit, score and report)."""
    group = command.add_argument_group("reading text files (.csv, .tsv, .txt)")
    group.add_argument("--sep", default=None,
                       help="column separator: a character, or tab, semicolon, pipe, whitespace "
                       "(default: comma for .csv, tab for .tsv, whitespace for .txt)")
    group.add_argument("--names", default=None, metavar="COL1,COL2,...",
                       help="the file has no header row: these are its column names, in order")
    group.add_argument("--encoding", default=None, help="text encoding (default utf-8), e.g. "
                       "latin-1 or cp1252")
    group.add_argument("--date-format", default=None, metavar="FORMAT",
                       help="how dates are written when not ISO (YYYY-MM-DD), e.g. %%Y%%m%%d "
                       "for 19970101 or %%d/%%m/%%Y for day-first dates")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clvmodels", description="Predictive customer lifetime value from transactions "
        "(BG/NBD + Gamma-Gamma) or subscriptions (sBG).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = sub.add_parser("fit", help="fit BG/NBD + Gamma-Gamma to transactions (or the sBG "
                         "churn model to accounts, --kind contractual) and save the job",
                         epilog=EXAMPLES_FIT, formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("transactions", help="CSV or Parquet file, folder or glob of Parquet files: "
                     "transactions, or one row per account with --kind contractual")
    fit.add_argument("--out", required=True, help="model directory to write")
    fit.add_argument("--kind", choices=["noncontractual", "contractual"], default="noncontractual",
                     help="noncontractual (default): BG/NBD + Gamma-Gamma on transactions; "
                     "contractual: sBG churn model on a per-account table")
    fit.add_argument("--customer-col", default=None, help="default customer_id")
    fit.add_argument("--date-col", default=None, help="default date")
    fit.add_argument("--amount-col", default=None, help="default amount")
    fit.add_argument("--observation-end", default=None,
                     help="last day observed, inclusive (default: the last transaction date)")
    fit.add_argument("--calibration-end", default=None,
                     help="with --model auto: fit the candidates up to this day, compare their "
                     "forecasts of the rest and keep the best (by holdout MAE)")
    fit.add_argument("--time-unit", default=None, choices=["day", "week", "month"],
                     help="default week")
    fit.add_argument("--period", default=None, choices=["day", "week", "month", "year"],
                     help="length of one period: a transaction opportunity with --model bgbb, a "
                     "renewal period with --kind contractual (required by both)")
    contract = fit.add_argument_group("contractual (--kind contractual)")
    contract.add_argument("--account-col", default=None, help="account id column (default "
                          "account_id)")
    contract.add_argument("--tenure-col", default=None, help="renewal decisions observed per "
                          "account (default tenure)")
    contract.add_argument("--churned-col", default=None, help="whether the account cancelled: "
                          "yes/no, true/false or 1/0 (default churned)")
    contract.add_argument("--covariates", default=None, metavar="COL1,COL2",
                          help="contractual jobs: columns of the accounts table that shift "
                          "churn (covariate sBG); text columns become 0/1 columns per category. "
                          "For transactions see --covariates-file")
    contract.add_argument("--revenue-col", default=None,
                          help="revenue per period; recorded as the default for score and report")
    contract.add_argument("--segment-col", default=None,
                          help="fit one churn model per value of this column (segments that churn "
                          "in different ways, e.g. contract type); not with --covariates")
    fit.add_argument("--model", default=None,
                     help="transactions: bgnbd (BG/NBD, default), mbgnbd, pnbd (Pareto/NBD), "
                     "mbgcnbd or bgcnbd (MBG/CNBD-k, BG/CNBD-k: regular purchase timing, the "
                     "Erlang order k chosen on the gaps between purchases), "
                     "bgbb (BG/BB on transaction periods, with --period) or auto (compares "
                     "bgnbd, mbgnbd and pnbd: by holdout with --calibration-end, else BIC). "
                     "Contractual: sbg "
                     "(shifted-beta-geometric, default; geometric where churn does not differ "
                     "between accounts), bdw (beta-discrete-Weibull: churn that changes with "
                     "tenure), auto (per segment, the lower BIC; needs --segment-col)")
    customer = fit.add_argument_group(
        "customer covariates (transactions: --model bgnbd, mbgnbd, pnbd, bgbb or auto)")
    customer.add_argument("--covariates-file", default=None, metavar="PATH",
                          help="CSV or Parquet file with one row per customer (her id in the "
                          "--customer-col column, read as the transactions are): customer "
                          "covariates such as the acquisition channel; 'clvmodels score' then "
                          "needs the same file (or one like it) for the customers it scores")
    customer.add_argument("--covariate-cols", default=None, metavar="COL1,COL2",
                          help="columns of --covariates-file that shift purchasing and drop-out "
                          "(the covariate version of --model) and spend (Gamma-Gamma); text "
                          "columns are categories (the most common level is the reference), "
                          "numbers are centred and scaled")
    customer.add_argument("--spend-covariate-cols", default=None, metavar="COL1,COL2",
                          help="other columns of --covariates-file for the spend model "
                          "(default: --covariate-cols; '' for none)")
    window = contract.add_mutually_exclusive_group()
    window.add_argument("--observed-periods", type=int, default=None, metavar="K",
                        help="each account was observed for its last K renewal decisions only "
                        "(a snapshot of the accounts active at the start of one period, with "
                        "whether each cancelled in it: K=1); accounts that cancelled earlier are "
                        "missing, so the fit conditions on survival to tenure - K. Default: "
                        "observed from acquisition")
    window.add_argument("--entry-col", default=None,
                        help="column of renewal decisions each account had already survived "
                        "when observation began (left truncation)")
    fit.add_argument("--method", default="mle", choices=["mle", "map", "mcmc", "advi"],
                     help="mle: maximum likelihood (default); map: with the default priors "
                     "(keeps parameters finite on thin data); mcmc, advi: Bayesian")
    fit.add_argument("--max-iter", type=int, default=1000,
                     help="iteration limit of the mle/map optimiser (default 1000)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--allow-refunds", action="store_true",
                     help="accept negative amounts (netted within the day)")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing model directory")
    fit.add_argument("--reader", choices=["pandas", "duckdb"], default="pandas",
                     help="summarize in memory (pandas) or stream with DuckDB (inputs larger "
                     "than memory; same summaries)")
    _add_reading_options(fit)
    _add_progress_options(fit)
    fit.set_defaults(run=_cmd_fit)

    score = sub.add_parser("score", help="score customers with a saved model",
                           epilog=EXAMPLES_SCORE,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    score.add_argument("model", help="model directory written by 'clvmodels fit'")
    score.add_argument("data", help="transactions (as for fit) or an RFM summary "
                       "(frequency, recency, T, monetary_value); for a contractual job the "
                       "per-account table")
    score.add_argument("--out", required=True, help="output .parquet or .csv (written atomically)")
    score.add_argument("--horizon", default=None, help="e.g. '12 months', '52 weeks', '3 years' "
                       "(default 12 months; contractual jobs: the renewals within the horizon, "
                       "default the whole remaining life)")
    score.add_argument("--discount-rate", type=float, default=DISCOUNT_RATE_DEFAULT,
                       help="effective annual discount rate, in [0, 1) "
                       f"(default {DISCOUNT_RATE_DEFAULT:.2f}, as for report)")
    score.add_argument("--margin", type=float, default=MARGIN_DEFAULT,
                       help="share of spend that is profit, in (0, 1] (default "
                       f"{MARGIN_DEFAULT:.1f}: values are revenue; as for report)")
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
    score.add_argument("--engine", choices=["local", "dask", "spark"], default="local",
                       help="where chunks are scored: in this process, on Dask, or on Spark "
                            "(which then reads --data itself); the same seeds and numbers")
    score.add_argument("--scheduler", default=None,
                       help="Dask scheduler address (default: a local cluster)")
    score.add_argument("--spark-master", default="local[2]",
                       help="Spark master for --engine spark (default local[2]; e.g. "
                            "spark://host:7077 or yarn)")
    score.add_argument("--covariates-file", default=None, metavar="PATH",
                       help="jobs fitted with customer covariates (fit --covariates-file): CSV "
                       "or Parquet file with one row per customer to score, her id in the "
                       "job's customer column and the job's covariate columns")
    contract = score.add_argument_group("contractual jobs")
    contract.add_argument("--revenue-col", default=None, help="revenue per period at the next "
                          "renewal (default: the one given at fit)")
    contract.add_argument("--growth-rate", type=float, default=None,
                          help="revenue growth per period (default 0)")
    contract.add_argument("--acquisition-cost-col", default=None,
                          help="adds acquisition_cost, net_value and ltv_to_cac")
    _add_reading_options(score)
    _add_progress_options(score)
    score.set_defaults(run=_cmd_score)

    report = sub.add_parser(
        "report", help="write a self-contained HTML forecast report",
        epilog="examples:\n  clvmodels report models/clv data/orders.csv --out report.html "
        "--calibration-end 2026-04-30 --segment-col channel --acquisition-cost costs.csv\n"
        "  clvmodels report models/churn accounts.csv --out churn.html --segment-col Contract "
        "--acquisition-cost-col cac --margin 0.6\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("model", help="model directory written by 'clvmodels fit'")
    report.add_argument("transactions", help="the transactions the model was fitted on (the "
                        "per-account table for a contractual job)")
    report.add_argument("--out", required=True, help="HTML file to write")
    report.add_argument("--observation-end", default=None)
    report.add_argument("--calibration-end", default=None,
                        help="validate on the period after this date (refits on the data before)")
    report.add_argument("--segment-col", default=None, help="column with each customer's segment")
    report.add_argument("--covariates-file", default=None, metavar="PATH",
                        help="jobs fitted with customer covariates (fit --covariates-file): the "
                        "file with one row per customer holding them; the report then values "
                        "each customer with her own parameters and shows value by covariate level")
    report.add_argument("--acquisition-cost", default=None,
                        help="cost per acquired customer: a number, or a CSV 'segment,cost' "
                        "(with --segment-col)")
    report.add_argument("--serving-cost-rate", type=float, default=0.0,
                        help="serving costs as a share of revenue")
    report.add_argument("--discount-rate", type=float, default=DISCOUNT_RATE_DEFAULT,
                        help="effective annual discount rate, in [0, 1) "
                        f"(default {DISCOUNT_RATE_DEFAULT:.2f}, as for score)")
    report.add_argument("--margin", type=float, default=MARGIN_DEFAULT,
                        help="share of spend that is profit, in (0, 1] (default "
                        f"{MARGIN_DEFAULT:.1f}: values are revenue; as for score)")
    report.add_argument("--level", type=float, default=0.90,
                        help="probability of the credible and predictive ranges (default 0.90)")
    report.add_argument("--horizons", default="1,3,5", metavar="YEARS",
                        help="purchase jobs: the horizons in years, the first one the main one "
                        "(default 1,3,5)")
    report.add_argument("--seed", type=int, default=0)
    contract = report.add_argument_group("contractual jobs")
    contract.add_argument("--revenue-col", default=None, help="revenue per period (default: the "
                          "one given at fit)")
    contract.add_argument("--cohort-col", default=None,
                          help="acquisition cohort per account (a label or a date)")
    contract.add_argument("--acquisition-cost-col", default=None,
                          help="cost to acquire each account (instead of --acquisition-cost)")
    _add_reading_options(report)
    _add_progress_options(report)
    report.set_defaults(run=_cmd_report)

    demo = sub.add_parser("demo", help="the bundled CDNOW example (what 'make demo' runs)")
    demo.add_argument("--out", default="out/cdnow_clv.parquet")
    demo.add_argument("--seed", type=int, default=2026)
    demo.set_defaults(run=_cmd_demo)
    return parser


def _check_counts(args) -> None:
    """Whole-number options that only make sense in a range (usage errors, exit 2)."""
    for dest, low in (("seed", 0), ("chunk_customers", 1), ("n_draws", 2), ("n_samples", 20)):
        value = getattr(args, dest, None)
        if value is not None and value < low:
            raise UsageError(f"{_flag(dest)} must be a whole number >= {low}. Got {value}.")


def _warning_printer(args):
    """Show clvmodels' own warnings as one paragraph each, in command-line terms
    (others as Python shows them)."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        from .errors import ConvergenceWarning, DataWarning

        args.progress.interrupt()  # a warning starts on a line of its own
        if not issubclass(category, (DataWarning, ConvergenceWarning)) or args.debug:
            return shown(message, category, filename, lineno, file, line)
        text = getattr(message, "cli_message", None) or message
        print(f"clvmodels {args.command}: warning: {text}", file=sys.stderr)

    return show


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every temporary file is removed on the way out."""


def _terminate(signum, frame):
    raise _Terminated()


@contextlib.contextmanager
def _sigterm_unwinds():
    """While a command runs, SIGTERM unwinds like Ctrl-C (Python's default would end the
    process at once, leaving its temporary files behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before if before is not None else signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere, as every error message suggests it
    argv = [a for a in argv if a != "--debug"]
    args = parser.parse_args(argv)
    args.debug = debug
    args.progress = Progress.for_flags(quiet=getattr(args, "quiet", False),
                                       force=getattr(args, "force_progress", False))
    try:
        with warnings.catch_warnings(), _sigterm_unwinds():
            from .errors import DataWarning

            warnings.simplefilter("always", DataWarning)
            warnings.showwarning = _warning_printer(args)
            _check_counts(args)
            message = args.run(args)
    except KeyboardInterrupt as exc:
        args.progress.interrupt()
        how, code = ("terminated", 143) if isinstance(exc, _Terminated) else ("interrupted", 130)
        print(f"clvmodels {args.command}: {how}; nothing was written (an earlier output "
              "at the same path is left as it was).", file=sys.stderr)
        return code
    except UsageError as exc:
        args.progress.interrupt()
        parser.exit(2, f"clvmodels {args.command}: error: {exc}\n")
    except (ValueError, TypeError, OSError, RuntimeError, ImportError) as exc:
        args.progress.interrupt()
        if args.debug:
            traceback.print_exc()
        kind = type(exc).__name__
        text = getattr(exc, "cli_message", None) or exc  # advice in flags, not Python
        print(f"clvmodels {args.command} failed ({kind}): {text}", file=sys.stderr)
        if not args.debug:
            print("Run again with --debug for the full traceback.", file=sys.stderr)
        return 1
    if message:
        print(message)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
