"""RFM summaries computed by DuckDB straight from Parquet/CSV files, for inputs
larger than memory (optional: ``pip install 'clvmodels[duckdb]'``).

Same convention and same output as :func:`clvmodels.data.rfm_summary` (a test
holds them equal): same-day transactions merged, ``frequency`` = repeat purchase
days, ``recency``/``T`` = day counts over the unit length, ``monetary_value`` =
mean over repeat purchase days (NaN without any). DuckDB streams the files and
spills to disk beyond ``memory_limit``. Customer covariates are joined on afterwards,
in pandas, as :func:`clvmodels.data.rfm_summary` joins them (``covariates=``): the
summary has one row per customer, so it is in memory by then.
"""

from __future__ import annotations

import glob as globmod
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, format_examples
from ..timeunits import check_time_unit, unit_length_days
from .purchase_days import check_copies_by_day
from .transactions import (
    ABSURD_AMOUNT,
    day_to_iso,
    far_future_error,
    far_future_split,
    far_gap,
    far_gap_before,
    far_past_error,
    far_past_split,
    few_late_rows,
    parse_day,
)

__all__ = ["rfm_summary_duckdb"]


def _reader(source: str) -> str:
    p = Path(source)
    files = (sorted(str(f) for f in p.rglob("*.parquet")) if p.is_dir()
             else sorted(globmod.glob(source)) if any(c in source for c in "*?[") else [source])
    if not files or not all(Path(f).is_file() for f in files):
        raise FileNotFoundError(f"No input at {source!r}: give a CSV or Parquet file, a folder of "
                                "Parquet files, or a glob such as 'data/*.parquet'.")
    suffixes = {Path(f).suffix.lower() for f in files}
    listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    if suffixes <= {".parquet", ".pq"}:
        return f"read_parquet({listed})"
    if suffixes == {".csv"}:
        return f"read_csv({listed}, header=true)"
    raise ValueError(f"Cannot read {source!r}: use .csv or .parquet files (not a mix).")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rfm_summary_duckdb(
    source: str | os.PathLike,
    *,
    observation_end: object = None,
    time_unit: str = "week",
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    allow_refunds: bool = False,
    memory_limit: str = "3GB",
    threads: int | None = None,
    regularity: bool = False,
    covariates: pd.DataFrame | None = None,
    covariate_cols=None,
) -> pd.DataFrame:
    """RFM summary of a CSV/Parquet file, folder or glob, computed by DuckDB.

    Parameters are those of :func:`clvmodels.data.rfm_summary`, plus DuckDB's
    ``memory_limit`` and ``threads``. Returns the same DataFrame (``regularity``:
    with ``log_gap_sum``, :mod:`clvmodels.data.regularity`; ``covariates``: with the
    covariate columns, joined by :func:`~clvmodels.data.covariates.attach_covariates`).
    """
    try:
        import duckdb
    except ImportError:
        raise ImportError("DuckDB summaries need duckdb: pip install 'clvmodels[duckdb]'.") from None
    owner = "rfm_summary_duckdb"
    unit = check_time_unit(time_unit, owner)
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{memory_limit}'")
    if threads:
        con.execute(f"SET threads={int(threads)}")
    src = _reader(str(source))
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
    needed = [customer_col, date_col] + ([amount_col] if amount_col else [])
    missing = [c for c in needed if c not in cols]
    if missing:
        raise DataError(f"{owner}: column(s) {missing} not in {str(source)!r}; available "
                        f"columns: {cols[:20]}. Pass the right names.")
    amount = f"CAST({_ident(amount_col)} AS DOUBLE)" if amount_col else "0.0"
    con.execute(f"""CREATE TEMP VIEW src AS SELECT {_ident(customer_col)} AS c,
        TRY_CAST({_ident(date_col)} AS DATE) AS d, {_ident(date_col)} AS raw_d, {amount} AS a
        FROM {src}""")
    n, null_c, bad_d, null_a, neg_a, huge_a, first_d, last_d = con.execute(f"""SELECT count(*),
        count(*) FILTER (WHERE c IS NULL), count(*) FILTER (WHERE d IS NULL),
        count(*) FILTER (WHERE a IS NULL), count(*) FILTER (WHERE a < 0),
        count(*) FILTER (WHERE abs(a) >= {ABSURD_AMOUNT!r}), min(d), max(d) FROM src""").fetchone()
    if n == 0:
        raise DataError(f"{owner}: {str(source)!r} has no transactions.")
    problems, cli_problems = [], []

    def problem(text: str, cli_text: str | None = None) -> None:
        problems.append(text)
        cli_problems.append(cli_text or text)

    if null_c:
        problem(f"{null_c} row(s) have no customer id in {customer_col!r}")
    if bad_d:
        problem(f"{bad_d} row(s) have a missing or unparseable date in {date_col!r} (this "
                "reader takes ISO dates, YYYY-MM-DD)",
                f"{bad_d} row(s) have a missing or unparseable date in {date_col!r} (--reader "
                "duckdb takes ISO dates, YYYY-MM-DD; --reader pandas reads others with "
                "--date-format)")
    if amount_col and null_a:
        problem(f"{null_a} row(s) have a missing amount in {amount_col!r}")
    if amount_col and huge_a:
        problem(f"{huge_a} row(s) have an absurd amount (size 1e15 or more) in {amount_col!r}: "
                "a parsing or unit error that would overflow the spend model")
    if amount_col and neg_a and not allow_refunds:
        problem(f"{neg_a} row(s) have a negative amount in {amount_col!r} (refunds; "
                "pass allow_refunds=True to net them within the day)",
                f"{neg_a} row(s) have a negative amount in {amount_col!r} (refunds; "
                "add --allow-refunds to net them within the day)")
    epoch = pd.Timestamp("1970-01-01").date()
    last_day = None if last_d is None else (last_d - epoch).days
    if observation_end is not None:
        end_day = parse_day(observation_end, "observation_end", owner)
    else:
        end_day = last_day
        if last_day is not None and not problems:
            _check_far_future(con, (first_d - epoch).days, last_day, n, date_col)
    if last_day is not None and last_day > end_day:
        late = con.execute(f"SELECT count(*) FROM src WHERE d > DATE '{day_to_iso(end_day)}'"
                           ).fetchone()[0]
        problem(f"{late} row(s) are dated after the observation end "
                f"{day_to_iso(end_day)}; pass a later observation_end or filter them out",
                f"{late} row(s) are dated after the observation end "
                f"{day_to_iso(end_day)}; add a later --observation-end or drop them")
    if problems:
        raise DataError(f"{owner}: " + "; ".join(problems) + ". Fix the data and retry.",
                        cli_message=f"{owner}: " + "; ".join(cli_problems)
                        + ". Fix the data and retry.")
    _check_far_past(con, (first_d - epoch).days, last_day, n, date_col)
    if amount_col:  # copies of transactions, as rfm_summary finds them
        _check_copies(con, n)
    end_iso = day_to_iso(end_day)
    df = con.execute(f"""
        WITH days AS (SELECT c, d, SUM(a) AS a FROM src GROUP BY c, d),
        per AS (SELECT c, MIN(d) AS first_d, MAX(d) AS last_d, COUNT(*) - 1 AS frequency
                FROM days GROUP BY c),
        rep AS (SELECT days.c, SUM(days.a) AS repeat_total FROM days JOIN per
                ON days.c = per.c AND days.d > per.first_d GROUP BY days.c)
        SELECT per.c AS customer_id, per.frequency,
               date_diff('day', per.first_d, per.last_d) AS recency_days,
               date_diff('day', per.first_d, DATE '{end_iso}') AS t_days,
               rep.repeat_total
        FROM per LEFT JOIN rep ON per.c = rep.c ORDER BY per.c""").df()
    if regularity:
        from .regularity import LOG_GAP_SUM, duckdb_log_gap_days, log_gap_sum_column

        log_gap_days = duckdb_log_gap_days(con)
    con.close()
    unit_days = unit_length_days(unit)
    frequency = df["frequency"].to_numpy(dtype=np.int64)
    columns = {
        "frequency": frequency,
        "recency": df["recency_days"].to_numpy(dtype=np.int64) / unit_days,
        "T": df["t_days"].to_numpy(dtype=np.int64) / unit_days,
    }
    if amount_col:
        total = df["repeat_total"].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["monetary_value"] = np.where(frequency > 0, total / frequency, np.nan)
    if regularity:
        columns[LOG_GAP_SUM] = log_gap_sum_column(log_gap_days, df["customer_id"], frequency,
                                                  unit_days)
    out = pd.DataFrame(columns, index=pd.Index(df["customer_id"], name="customer_id"))
    out.attrs = {"time_unit": unit, "observation_end": end_iso}
    if covariates is None and covariate_cols is None:
        return out
    from .summary import _with_covariates

    return _with_covariates(out, covariates, covariate_cols, customer_col, owner)


def _check_far_future(con, lo: int, hi: int, n: int, date_col: str) -> None:
    """:func:`~clvmodels.data.transactions.check_no_far_future` on the view ``src``."""
    mid = far_future_split(lo, hi)
    if mid is None:
        return
    k = con.execute(f"SELECT count(*) FROM src WHERE d > DATE '{day_to_iso(mid)}'").fetchone()[0]
    if not few_late_rows(k, n):
        return
    epoch = pd.Timestamp("1970-01-01").date()
    g0, g1 = ((v - epoch).days for v in con.execute(
        f"SELECT max(d) FILTER (WHERE d <= DATE '{day_to_iso(mid)}'), "
        f"min(d) FILTER (WHERE d > DATE '{day_to_iso(mid)}') FROM src").fetchone())
    if not far_gap(lo, g0, g1):
        return
    shown = [str(d) for (d,) in con.execute(
        f"SELECT d FROM src WHERE d > DATE '{day_to_iso(mid)}' ORDER BY d LIMIT 6").fetchall()]
    rows = "(dated " + format_examples(shown[:5])[:-1] + (", ...])" if k > 5 else "])")
    raise far_future_error(date_col, k, rows, n - k, g0, hi, "observation_end")


def _check_far_past(con, lo: int, hi: int, n: int, date_col: str) -> None:
    """:func:`~clvmodels.data.transactions.check_no_far_past` on the view ``src``."""
    mid = far_past_split(lo, hi)
    if mid is None:
        return
    at = f"DATE '{day_to_iso(mid)}'"
    k = con.execute(f"SELECT count(*) FROM src WHERE d < {at}").fetchone()[0]
    if not (few_late_rows(k, n) and n - k >= 5):
        return
    epoch = pd.Timestamp("1970-01-01").date()
    e1, e2 = ((v - epoch).days for v in con.execute(
        f"SELECT max(d) FILTER (WHERE d < {at}), min(d) FILTER (WHERE d >= {at}) FROM src"
    ).fetchone())
    if not far_gap_before(e1, e2, hi):
        return
    shown = [str(d) for (d,) in con.execute(
        f"SELECT d FROM src WHERE d < {at} ORDER BY d LIMIT 6").fetchall()]
    rows = "(dated " + format_examples(shown[:5])[:-1] + (", ...])" if k > 5 else "])")
    raise far_past_error(date_col, k, rows, n - k, lo, e2)


def _check_copies(con, n: int) -> None:
    """Exact copies of transactions (same customer, day and amount) on the view
    ``src``, judged as :func:`~clvmodels.data.purchase_days.check_copies_by_day` judges
    them for :func:`~clvmodels.data.rfm_summary`, from per-day counts."""
    per_day = con.execute("""
        WITH g AS (SELECT c, d, a, count(*) AS k FROM src GROUP BY c, d, a)
        SELECT d, sum(k) AS n_rows, sum(CASE WHEN k > 1 THEN k ELSE 0 END) AS n_copies,
               count(*) AS n_unique
        FROM g GROUP BY d ORDER BY d""").df()
    if not len(per_day) or int(per_day["n_copies"].sum()) == 0:
        return
    epoch = np.datetime64("1970-01-01", "D")
    day = (per_day["d"].to_numpy().astype("datetime64[D]") - epoch).astype(np.int64)

    copies = per_day["n_copies"].to_numpy(np.int64)

    def dated(lo: int, hi: int) -> str:
        shown = [day_to_iso(v) for v in day[(copies > 0) & (day >= lo) & (day <= hi)][:6]]
        return "on " + format_examples(shown[:5])[:-1] + (", ...]" if len(shown) > 5 else "]")

    check_copies_by_day(day, per_day["n_rows"].to_numpy(np.int64), copies, n,
                        int(per_day["n_unique"].sum()), dated)
