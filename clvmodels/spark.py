"""Scoring on Spark (optional: ``pip install 'clvmodels[spark]'`` and a Java 17+ runtime).

The fitted job travels to the executors as data, never pickled: the bytes of its JSON +
netCDF files (:func:`clvmodels.shipping.job_to_bytes`), captured by the ``mapInPandas``
function, which loads them with clvmodels' own loader once per Python worker
(:func:`clvmodels.shipping.job_from_bytes`). The executors need clvmodels installed.

Seeding: the same chunks and random streams as the in-process engine
(:func:`clvmodels.scoring.score_chunks`). The accounts are ranked by id (ascending; Spark
orders numbers numerically and text by UTF-8 bytes, which is code-point order, as pandas
sorts them); account ``i`` of that order belongs to chunk ``k = i // chunk_customers``,
and chunk ``k`` is scored as one pandas frame, in id order, with the random stream
``SeedSequence([seed, k])``. To find the chunks, Spark sorts the ids once (a range
partitioning, materialized with ``localCheckpoint`` so its counts and positions come from
one evaluation) and collects the first id of every chunk; from then on an account's chunk
is a function of its id alone (a comparison with those ids), so recomputing a lost
partition cannot move an account to another chunk. The rows are shuffled by chunk, one
chunk per Spark partition, and every partition gathers its Arrow batches before scoring,
so a chunk is never split.

What is identical, what is not:

* identical to ``score_chunks(job, summary, seed=seed, chunk_customers=n)`` on the same
  summary values (same column dtypes after Spark's Arrow conversion: integers as int64,
  decimals as float64): every score column of every account, bit for bit (expected CLV,
  the credible and predictive interval bounds, P(alive), ...), because each chunk holds
  the same accounts in the same order and draws from the same stream — with the same
  BLAS threading: Spark's Python workers, like Dask's, run with ``OMP_NUM_THREADS=1``,
  and a multi-threaded BLAS in the in-process engine can round a few credible bounds
  differently (seen on one 100,000-customer chunk: 182 rows, at most 1.1e-13 apart;
  none with ``OMP_NUM_THREADS=1``), the same for the Dask engine;
  :func:`score_to_file_spark` writes them in id order, one Parquet row group per chunk,
  like :func:`clvmodels.scoring.score_to_file`;
* not the same: the row order of the Spark DataFrame that
  :func:`score_spark_dataframe` returns (Spark DataFrames are unordered: sort by the id
  column for id order), the id column's type (Spark's: ``long`` ids, ``string`` ids), and
  anything scored with another ``seed`` or ``chunk_customers`` (other chunks, other
  streams: the expected values agree to rounding, the interval bounds are other
  simulations). Summaries built by Spark from transactions
  (:func:`rfm_summary_spark`) equal :func:`clvmodels.rfm_summary`'s in ``frequency``,
  ``recency`` and ``T`` exactly; ``monetary_value`` and ``log_gap_sum`` add the same
  numbers in another order, so they agree to about 1e-15 relative, not bit for bit. Scores
  of transactions summarized by Spark therefore agree with the in-process engine's on
  the same transactions in P(alive), expected purchases, spend and CLV to about 1e-12,
  but not in the predictive interval bounds: the scorer simulates the futures of
  identical summary rows together, and two mean spends one rounding apart are two rows
  (or one), which changes which simulated futures a customer gets. For identical
  intervals, summarize once and score that summary.

Customer covariates (a job fitted with them, :meth:`clvmodels.scoring.Job.attach_covariates`):
either the data already hold the job's covariate columns, or ``covariates=`` gives a
pandas table with one row per customer. The table is joined on the driver: Spark
collects the ids to score (one column), :meth:`~clvmodels.scoring.Job.attach_covariates`
matches them with the table in pandas, with its errors (customers without a row, ...),
and the matched columns go back to Spark and are joined to the summaries by id, so every
chunk reaches its worker with its covariates. The driver therefore holds the ids and the
table (one row per customer). The values make the round trip through Arrow unchanged
(text, float64, int64, bool), so the scores are identical to the in-process engine's.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, IncompatibleModelError, format_examples
from .io import check_output_file, output_format, temporary_dir, write_table_chunks
from .scoring import ContractualJob, Job, _chunk_scores, load_job
from .shipping import job_from_bytes, job_to_bytes
from .timeunits import check_time_unit, unit_length_days

__all__ = [
    "rfm_summary_spark",
    "score_spark_dataframe",
    "score_to_file_spark",
    "spark_session",
]

_SUMMARY = ("frequency", "recency", "T")
_K = "_clv_chunk"  # the chunk of each row, while scoring
_KEY = "_clv_partition"  # the shuffle key that sends chunk k to partition k
_INSTALL = ("Spark scoring needs pyspark: pip install 'clvmodels[spark]' (and a Java 17 or 21 "
            "runtime, e.g. apt-get install openjdk-17-jre-headless).")


def _pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import functions
    except ImportError:
        raise ImportError(_INSTALL) from None
    return functions


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home:
        if not (Path(home) / "bin" / "java").exists():
            raise RuntimeError(f"JAVA_HOME is {home!r}, but {home}/bin/java does not exist. Point "
                               "JAVA_HOME at a Java 17 or 21 runtime (the folder holding "
                               "bin/java), or unset it to use the java on PATH.")
        return
    if shutil.which("java") is None:
        raise RuntimeError("Spark needs a Java 17 or 21 runtime, and none was found: JAVA_HOME "
                           "is not set and there is no 'java' on PATH. Install one (e.g. "
                           "apt-get install openjdk-17-jre-headless) or set JAVA_HOME to its "
                           "folder.")


@contextmanager
def spark_session(master: str = "local[2]", conf: dict | None = None):
    """The active Spark session, or a new one on ``master`` (stopped on exit).

    A new session gets quiet logging, no UI, the time zone UTC (dates are calendar days)
    and, on a local master, this Python for its workers; ``conf`` adds Spark settings.
    """
    _pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    _check_java()
    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers' Python
    settings = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                "spark.log.level": "ERROR",
                "spark.sql.session.timeZone": "UTC", "spark.sql.shuffle.partitions": "8",
                "spark.sql.execution.arrow.pyspark.enabled": "true", **(conf or {})}
    builder = SparkSession.builder.master(master).appName("clvmodels")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start
        if "JAVA_GATEWAY_EXITED" in str(exc) or "Java gateway" in str(exc):
            raise RuntimeError(f"Spark could not start its Java runtime ({exc}). Check that "
                               "JAVA_HOME (or the java on PATH) is a Java 17 or 21 runtime.") \
                from None
        raise
    try:
        yield spark
    finally:
        spark.stop()


# ------------------------------------------------------------------- summaries
def rfm_summary_spark(sdf, *, observation_end: object = None, time_unit: str = "week",
                      customer_col: str = "customer_id", date_col: str = "date",
                      amount_col: str | None = "amount", allow_refunds: bool = False,
                      regularity: bool = False):
    """The RFM summary of a Spark DataFrame of transactions, computed by Spark.

    Same convention and columns as :func:`clvmodels.rfm_summary` (Fader, Hardie & Lee
    2005): a customer's transactions on one calendar day are one purchase whose amount is
    the day's sum; ``frequency`` = purchase days after the first; ``recency`` = last minus
    first purchase day and ``T`` = ``observation_end`` minus first purchase day, both in
    days divided by the unit's length (:mod:`clvmodels.timeunits`); ``monetary_value`` =
    mean of the repeat days' sums (null, NaN in pandas, without repeat purchases);
    ``regularity`` adds ``log_gap_sum``. The id column is named ``customer_id``, as
    rfm_summary's index. Dates are the calendar day of ``date_col`` (a date, an ISO
    string, or a timestamp in the session's time zone). ``observation_end`` defaults to
    the last transaction date (one Spark action, with the checks).

    Returns a Spark DataFrame (lazy) with ``customer_id, frequency, recency, T``
    [, ``monetary_value``] [, ``log_gap_sum``].
    """
    F = _pyspark()
    from pyspark.sql import Window

    owner = "rfm_summary_spark"
    unit_days = unit_length_days(check_time_unit(time_unit, owner))
    needed = [customer_col, date_col] + ([amount_col] if amount_col else [])
    missing = [c for c in needed if c not in sdf.columns]
    if missing:
        raise DataError(f"{owner}: column(s) {missing} are not in the transactions; they have "
                        f"{sdf.columns[:20]}. Pass the right customer_col/date_col/amount_col.")
    from pyspark.sql.types import StringType

    amount = F.col(amount_col).try_cast("double") if amount_col else F.lit(0.0)
    date = F.col(date_col)
    if isinstance(sdf.schema[date_col].dataType, StringType):  # unparseable: null, counted
        date = F.try_to_timestamp(date)
    src = sdf.select(F.col(customer_col).alias("c"), F.to_date(date).alias("d"),
                     amount.alias("a"))
    end = None if observation_end is None else pd.Timestamp(observation_end).date()
    late = F.lit(False) if end is None else F.col("d") > F.lit(end)
    stats = src.agg(F.count(F.lit(1)).alias("n"),
                    F.sum(F.col("c").isNull().cast("long")).alias("null_c"),
                    F.sum(F.col("d").isNull().cast("long")).alias("bad_d"),
                    F.sum(F.col("a").isNull().cast("long")).alias("null_a"),
                    F.sum((F.col("a") < 0).cast("long")).alias("neg_a"),
                    F.sum((F.abs(F.col("a")) >= 1e15).cast("long")).alias("huge_a"),
                    F.sum(late.cast("long")).alias("late"),
                    F.max("d").alias("last")).first()
    if stats["n"] == 0:
        raise DataError(f"{owner}: there are no transactions.")
    problems = []
    if stats["null_c"]:
        problems.append(f"{stats['null_c']} row(s) have no customer id in {customer_col!r}")
    if stats["bad_d"]:
        problems.append(f"{stats['bad_d']} row(s) have a missing or unparseable date in "
                        f"{date_col!r} (give dates, timestamps or ISO strings YYYY-MM-DD)")
    if amount_col and stats["null_a"]:
        problems.append(f"{stats['null_a']} row(s) have a missing or non-numeric amount in "
                        f"{amount_col!r}")
    if amount_col and stats["huge_a"]:
        problems.append(f"{stats['huge_a']} row(s) have an absurd amount (size 1e15 or more) in "
                        f"{amount_col!r}")
    if amount_col and stats["neg_a"] and not allow_refunds:
        problems.append(f"{stats['neg_a']} row(s) have a negative amount in {amount_col!r} "
                        "(refunds; pass allow_refunds=True to net them within the day)")
    if stats["late"]:
        problems.append(f"{stats['late']} row(s) are dated after the observation end {end}; "
                        "pass a later observation_end or filter them out")
    if problems:
        raise DataError(f"{owner}: " + "; ".join(problems) + ". Fix the data and retry.")
    end = stats["last"] if end is None else end
    days = src.groupBy("c", "d").agg(F.sum("a").alias("a"))
    first = Window.partitionBy("c")
    days = days.withColumn("first", F.min("d").over(first))
    per = days.groupBy("c").agg(
        (F.count(F.lit(1)) - 1).cast("long").alias("frequency"),
        F.datediff(F.max("d"), F.min("d")).alias("recency_days"),
        F.datediff(F.lit(end), F.min("d")).alias("t_days"),
        F.sum(F.when(F.col("d") > F.col("first"), F.col("a"))).alias("repeat_total"))
    columns = [F.col("c").alias("customer_id"), F.col("frequency"),
               (F.col("recency_days").cast("double") / unit_days).alias("recency"),
               (F.col("t_days").cast("double") / unit_days).alias("T")]
    if amount_col:
        columns.append(F.when(F.col("frequency") > 0, F.col("repeat_total") / F.col("frequency"))
                       .alias("monetary_value"))
    if regularity:
        gaps = days.select("c", F.datediff(F.col("d"), F.lag("d").over(
            Window.partitionBy("c").orderBy("d"))).alias("g"))
        logs = gaps.where(F.col("g").isNotNull()).groupBy("c").agg(
            F.sum(F.log(F.col("g").cast("double"))).alias("log_days"))
        per = per.join(logs, "c", "left")
        columns.append((F.coalesce(F.col("log_days"), F.lit(0.0))
                        - F.col("frequency").cast("double") * math.log(unit_days))
                       .alias("log_gap_sum"))
    return per.select(*columns)


# --------------------------------------------------------------------- scoring
def _id_column(job, sdf, customer_col: str | None) -> str:
    cols = job.meta.get("columns", {})
    if customer_col is not None:
        candidates = [customer_col]
    elif job.kind == "contractual":
        candidates = [cols.get("account_col")]
    else:
        candidates = [cols.get("customer_col"), "customer_id"]
    for c in candidates:
        if c is not None and c in sdf.columns:
            return c
    raise DataError(f"The Spark DataFrame to score has no id column {candidates[0]!r} (the "
                    f"model's); it has {sdf.columns[:20]}. Pass customer_col=<the id column>.")


def _summary_frame(job, sdf, *, customer_col, observation_end, allow_refunds):
    """(the frame to score, its id column, its time unit or None): a non-contractual
    job's transactions become their summary (Spark), as the CLI does with pandas."""
    if job.kind == "contractual" or set(_SUMMARY) <= set(sdf.columns):
        return sdf, _id_column(job, sdf, customer_col), None
    cols = job.meta["columns"]
    if job.meta.get("summary") == "discrete":
        raise IncompatibleModelError(
            f"The job's {job.meta.get('transaction_model')} counts transaction periods; "
            "score a discrete summary (discrete_summary: frequency, recency, n_periods, "
            "monetary_value) as a Spark DataFrame: Spark does not summarize periods.")
    wanted = {k: cols.get(k) for k in ("customer_col", "date_col", "amount_col")}
    id_col = customer_col or wanted["customer_col"]
    missing = [c for c in (id_col, wanted["date_col"], wanted["amount_col"])
               if c is not None and c not in sdf.columns]
    if missing:
        raise DataError(
            f"The Spark DataFrame is neither a summary (frequency, recency, T, monetary_value) "
            f"nor transactions with the model's columns: it lacks {missing} (it has "
            f"{sdf.columns[:12]}). Rename the columns or pass customer_col.")
    unit = job.meta["time_unit"]
    summary = rfm_summary_spark(
        sdf, observation_end=observation_end or job.meta.get("observation_end"), time_unit=unit,
        customer_col=id_col, date_col=wanted["date_col"], amount_col=wanted["amount_col"],
        allow_refunds=allow_refunds)
    return summary, "customer_id", unit


def _chunk_bounds(spark, sdf, id_col: str, chunk_customers: int) -> tuple[int, list]:
    """(accounts, the first id of chunks 1, 2, ...), refusing missing and repeated ids."""
    F = _pyspark()
    from pyspark.sql.types import NumericType, StringType

    kind = sdf.schema[id_col].dataType
    if not isinstance(kind, (NumericType, StringType)) or type(kind).__name__ in (
            "FloatType", "DoubleType", "DecimalType"):
        raise DataError(f"The id column {id_col!r} is of type {kind.simpleString()}; ids must be "
                        "whole numbers or text. Cast it (e.g. to long or string).")
    ids = sdf.select(F.col(id_col).alias("_id"))
    n, present = ids.agg(F.count(F.lit(1)), F.count("_id")).first()
    if n == 0:
        raise DataError("There are no customers to score.")
    if present < n:
        raise DataError(f"The id column {id_col!r} is missing in {n - present:,} row(s) of the "
                        "data to score. Fill or drop them.")
    parts = max(1, math.ceil(n / chunk_customers))
    ranked = (ids.repartitionByRange(parts, "_id").sortWithinPartitions("_id")
              .select("_id", F.spark_partition_id().alias("_p"),
                      F.monotonically_increasing_id().alias("_m"))
              .localCheckpoint(eager=True))  # one evaluation for the counts and the picks
    try:
        counts = {r["_p"]: (r["rows"], r["ids"]) for r in ranked.groupBy("_p").agg(
            F.count(F.lit(1)).alias("rows"), F.countDistinct("_id").alias("ids")).collect()}
        if any(rows != distinct for rows, distinct in counts.values()):
            dup = [r["_id"] for r in ids.groupBy("_id").count().where(F.col("count") > 1)
                   .orderBy("_id").limit(5).collect()]
            raise DataError(
                f"The data to score hold customer ids on more than one row, e.g. "
                f"{format_examples(dup)}: a summary has one row per customer, and each copy "
                "would be scored and counted again. Drop the duplicate rows or rebuild the "
                "summary from the transactions.")
        offsets, total = [], 0
        for p in range(max(counts) + 1):
            offsets.append(total)
            total += counts.get(p, (0, 0))[0]
        rank = (F.element_at(F.array(*[F.lit(o).cast("long") for o in offsets]), F.col("_p") + 1)
                + F.col("_m") - F.shiftleft(F.col("_p").cast("long"), 33))
        picks = (ranked.select("_id", rank.alias("_rank"))
                 .where((F.col("_rank") % chunk_customers == 0) & (F.col("_rank") > 0))
                 .orderBy("_rank").collect())
    finally:
        ranked.unpersist()
    bounds = [r["_id"] for r in picks]
    if len(bounds) != parts - 1:  # pragma: no cover - a broken invariant, not bad data
        raise RuntimeError(f"clvmodels.spark: found {len(bounds)} chunk starts for {parts} "
                           "chunks; please report this.")
    return n, bounds


def _chunk_of(col, bounds: list):
    """The chunk of an id: how many chunk starts it has reached (a balanced tree of
    comparisons, log2(chunks) deep)."""
    F = _pyspark()

    def tree(lo: int, hi: int):  # chunks lo..hi
        if lo == hi:
            return F.lit(lo)
        mid = (lo + hi + 1) // 2
        return F.when(col >= F.lit(bounds[mid - 1]), tree(mid, hi)).otherwise(tree(lo, mid - 1))

    return tree(0, len(bounds))


def _partition_keys(spark, n: int) -> list[int] | None:
    """A key per chunk that Spark's hash partitioning into ``n`` partitions sends to
    partition k (so no two chunks share a worker's partition); None if not found."""
    F = _pyspark()
    rows = (spark.range(0, 64 * n).select("id", F.expr(f"pmod(hash(id), {n})").alias("p"))
            .groupBy("p").agg(F.min("id").alias("id")).collect())
    keys = {r["p"]: r["id"] for r in rows}
    return [keys[k] for k in range(n)] if len(keys) == n else None


def _score_schema(job, sdf, id_col: str, time_unit: str, seed: int, options: dict):
    """The output columns, from scoring a few rows on the driver (which also refuses a
    wrong time unit, a missing column or a bad option before Spark runs anything)."""
    from pyspark.sql.types import (
        BooleanType,
        DoubleType,
        LongType,
        StructField,
        StructType,
    )

    probe = sdf.limit(3).toPandas()
    part = _as_part(job, probe, id_col, time_unit, options)
    scored = job.score(part, np.random.default_rng(0), options)
    types = {"f": DoubleType(), "i": LongType(), "u": LongType(), "b": BooleanType()}
    bad = [c for c in scored.columns if scored[c].dtype.kind not in types]
    if bad:  # pragma: no cover - every score column is a number
        raise TypeError(f"Spark scoring cannot hold the score columns {bad}.")
    fields = [sdf.schema[id_col], StructField(_K, LongType(), False)]
    fields += [StructField(c, types[scored[c].dtype.kind], True) for c in scored.columns]
    return StructType(fields), list(scored.columns)


def _as_part(job, frame: pd.DataFrame, id_col: str, time_unit: str,
             options: dict) -> pd.DataFrame:
    """One chunk's rows (any order) as the frame ``score_chunks`` hands the job: indexed
    by id, in id order, with the time unit; a contractual job's accounts checked."""
    if job.kind == "contractual":
        part = job.accounts(frame).sort_index()
        job.check(part, options)
        return part
    part = frame.set_index(id_col).sort_index()
    part.attrs = {"time_unit": time_unit}
    job.check(part, options)
    return part


def _scorer(data: bytes, id_col: str, time_unit: str, seed: int, options: dict,
            columns: list[str]):
    """The ``mapInPandas`` function: it captures the job's bytes, never the job."""

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        frames = [b for b in batches if len(b)]
        if not frames:
            return
        rows = pd.concat(frames, ignore_index=True).drop(columns=_KEY)
        job = job_from_bytes(data)
        for k, chunk in rows.groupby(_K, sort=True):
            part = _as_part(job, chunk.drop(columns=_K), id_col, time_unit, options)
            out = _chunk_scores(job, part, int(k), seed, options)[columns]
            out.index.name = id_col
            out = out.reset_index()
            out.insert(1, _K, np.int64(k))
            yield out

    return score


def _with_covariates(job, frame, id_col: str, table: pd.DataFrame):
    """``frame`` with the job's covariate columns from ``table`` (module docstring):
    matched on the driver by :meth:`~clvmodels.scoring.Job.attach_covariates`, joined by
    id in Spark (a left join: rows without an id stay, for the id checks to name them)."""
    if job.kind == "contractual":
        raise IncompatibleModelError(
            "covariates= is for non-contractual jobs fitted with customer covariates; a "
            "contractual job takes its covariates as columns of the accounts table.")
    columns = job.covariate_columns
    ids = frame.select(id_col).toPandas()[id_col].dropna()
    attached = job.attach_covariates(pd.DataFrame(index=pd.Index(ids, name=id_col)), table,
                                     owner="the covariates table")
    values = attached[columns].reset_index()
    for c in columns:  # categories as their text (what the model's encoding reads)
        if isinstance(values[c].dtype, pd.CategoricalDtype):
            values[c] = values[c].astype(str)
    spark = frame.sparkSession
    given = [c for c in columns if c in frame.columns]
    return frame.drop(*given).join(spark.createDataFrame(values), on=id_col, how="left")


def _scored(job, sdf, *, seed: int, chunk_customers: int, customer_col: str | None,
            time_unit: str | None, observation_end, allow_refunds: bool, options: dict,
            covariates: pd.DataFrame | None = None):
    """(scored Spark DataFrame with the chunk column, id column, chunks, score columns)."""
    if not isinstance(job, (Job, ContractualJob)):
        raise TypeError("The 'job' parameter must be a Job or a ContractualJob (fit_job, "
                        f"fit_contractual_job, load_job). Got {type(job).__name__} instead.")
    if not (isinstance(chunk_customers, int) and chunk_customers >= 1):
        raise ValueError("The 'chunk_customers' parameter must be an int >= 1. Got "
                         f"{chunk_customers!r} instead.")
    F = _pyspark()
    frame, id_col, unit = _summary_frame(job, sdf, customer_col=customer_col,
                                         observation_end=observation_end,
                                         allow_refunds=allow_refunds)
    if covariates is not None:
        frame = _with_covariates(job, frame, id_col, covariates)
    unit = unit or (check_time_unit(time_unit, "score_spark_dataframe") if time_unit
                    else job.meta.get("time_unit"))
    spark = frame.sparkSession
    schema, columns = _score_schema(job, frame, id_col, unit, seed, options)
    _, bounds = _chunk_bounds(spark, frame, id_col, chunk_customers)
    chunks = len(bounds) + 1
    keyed = frame.withColumn(_K, _chunk_of(F.col(id_col), bounds).cast("long"))
    keys = _partition_keys(spark, chunks) if chunks > 1 else [0]
    if keys is None:  # pragma: no cover - 64 n candidates always cover n partitions
        keyed = keyed.withColumn(_KEY, F.col(_K))
    else:
        keyed = keyed.withColumn(_KEY, F.element_at(  # long keys: hashed as _partition_keys'
            F.array(*[F.lit(v).cast("long") for v in keys]), F.col(_K).cast("int") + 1))
    scorer = _scorer(job_to_bytes(job), id_col, unit, seed, options, columns)
    scored = keyed.repartition(chunks, _KEY).mapInPandas(scorer, schema)
    return scored, id_col, chunks, columns


def score_spark_dataframe(job: Job | ContractualJob, sdf, *, seed: int = 0,
                          chunk_customers: int = 250_000, customer_col: str | None = None,
                          time_unit: str | None = None, observation_end: object = None,
                          allow_refunds: bool = False, covariates: pd.DataFrame | None = None,
                          **options):
    """Score a Spark DataFrame with ``mapInPandas``; the same numbers as the in-process
    engine for the same ``seed`` and ``chunk_customers`` (see the module docstring for
    what is identical and what is not).

    Parameters
    ----------
    job : Job or ContractualJob
        The fitted job (:func:`clvmodels.scoring.load_job`); shipped to the executors
        as the bytes of its JSON + netCDF files, never pickled.
    sdf : pyspark.sql.DataFrame
        For a non-contractual job, one row per customer with ``frequency``, ``recency``,
        ``T``, ``monetary_value`` and the id column, or the transactions (the job's
        customer, date and amount columns), which Spark summarizes first
        (:func:`rfm_summary_spark`, in the job's time unit, to ``observation_end``:
        default the job's); for a contractual job, the per-account table (the job's
        columns, :meth:`clvmodels.scoring.ContractualJob.accounts`).
    seed, chunk_customers : int
        As for :func:`clvmodels.scoring.score_chunks`: chunk ``k`` is the ``k``-th block
        of ``chunk_customers`` accounts in id order and draws from ``SeedSequence([seed,
        k])``.
    customer_col : str, optional
        The id column; default the job's (``customer_col``/``account_col``), or
        ``customer_id``.
    time_unit : str, optional
        Unit of ``recency`` and ``T`` of a summary (Spark keeps no such note); default
        the job's. A different unit is refused.
    covariates : pandas DataFrame, optional
        For a job fitted with customer covariates whose data lack them: one row per
        customer, ids in the job's customer column (module docstring).
    **options
        As for ``score_chunks`` (horizon, discount_rate, margin, level, n_draws,
        n_samples; contractual: revenue_col, growth_rate, acquisition_cost_col, ...).

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; the id column and the score columns of the in-process engine
        (:data:`clvmodels.scoring.SCORE_COLUMNS`), unordered. A few Spark actions run
        before it returns: counting and ranking the ids (duplicates and missing ids are
        refused) and scoring three rows on the driver to check the inputs.
    """
    scored, *_ = _scored(job, sdf, seed=seed, chunk_customers=chunk_customers,
                         customer_col=customer_col, time_unit=time_unit,
                         observation_end=observation_end, allow_refunds=allow_refunds,
                         options=options, covariates=covariates)
    return scored.drop(_K)


def _read(spark, path: str):
    """A Spark DataFrame of a Parquet file or folder, or of CSV files (header row)."""
    p = Path(path)
    files = sorted(p.rglob("*")) if p.is_dir() else [p]
    suffixes = {f.suffix.lower() for f in files if f.is_file() and not f.name.startswith((".", "_"))}
    if not p.exists():
        raise FileNotFoundError(f"No input at {str(path)!r}: give a Parquet or CSV file or a "
                                "folder of Parquet files.")
    if suffixes <= {".parquet", ".pq"}:
        return spark.read.parquet(str(p))
    if suffixes == {".csv"}:
        return spark.read.csv(str(p), header=True, inferSchema=True)
    raise ValueError(f"Cannot read {str(path)!r} with Spark: use .parquet or .csv files.")


def _saved_time_unit(path: str) -> str | None:
    """The time unit a summary written from pandas keeps in its Parquet metadata
    (``df.attrs``), read from the first file."""
    import pyarrow.parquet as pq

    p = Path(path)
    files = sorted(f for f in p.rglob("*.parquet")) if p.is_dir() else [p]
    if not files or files[0].suffix.lower() not in (".parquet", ".pq"):
        return None
    meta = pq.read_schema(files[0]).metadata or {}
    try:
        return json.loads(meta[b"PANDAS_ATTRS"]).get("time_unit")
    except (KeyError, ValueError, AttributeError):
        return None


def score_to_file_spark(job: Job | ContractualJob | str | os.PathLike, summary_path, out, *,
                        master: str = "local[2]", seed: int = 0, chunk_customers: int = 250_000,
                        customer_col: str | None = None, time_unit: str | None = None,
                        observation_end: object = None, allow_refunds: bool = False,
                        spark_conf: dict | None = None, covariates: pd.DataFrame | None = None,
                        **options) -> int:
    """Read summaries (or transactions, or a contractual job's accounts) from a Parquet
    or CSV file with Spark, score them (:func:`score_spark_dataframe`) and write the
    scores atomically to ``out`` (.parquet or .csv) in id order, with the columns of
    :func:`clvmodels.scoring.score_to_file`; returns the rows written.

    Spark writes the scores to a temporary folder beside ``out`` (one folder per chunk),
    which is then read chunk by chunk in id order (memory: one chunk) and removed. Runs
    on the active Spark session, else on a new one on ``master`` (stopped afterwards).
    A summary's time unit is the one its Parquet file keeps (written from pandas), else
    ``time_unit``; a CSV summary keeps none, so ``time_unit`` is then required.
    ``covariates``: as for :func:`score_spark_dataframe`.
    """
    output_format(out)
    check_output_file(out)  # before the work, not after it
    if isinstance(job, (str, os.PathLike)):
        job = load_job(job)
    saved = _saved_time_unit(str(summary_path))
    if saved is not None and time_unit is not None and check_time_unit(time_unit) != saved:
        raise IncompatibleModelError(f"{str(summary_path)!r} says its time unit is {saved!r}, "
                                     f"but time_unit={time_unit!r} (--time-unit) was given.")
    with spark_session(master, spark_conf) as spark:
        sdf = _read(spark, str(summary_path))
        is_summary = job.kind != "contractual" and set(_SUMMARY) <= set(sdf.columns)
        unit = saved or time_unit
        if is_summary and unit is None:
            raise DataError(
                f"{str(summary_path)!r} is a summary that does not say its time unit (a CSV file "
                "keeps none): its recency and T could be in days, weeks or months, and read in "
                f"the wrong unit they give a wrong value without any error. The model counts "
                f"{job.meta['time_unit']}s: if they are, pass time_unit="
                f"{job.meta['time_unit']!r} (--time-unit {job.meta['time_unit']}).")
        scored, id_col, chunks, columns = _scored(
            job, sdf, seed=seed, chunk_customers=chunk_customers, customer_col=customer_col,
            time_unit=unit, observation_end=observation_end, allow_refunds=allow_refunds,
            options=options, covariates=covariates)
        work = temporary_dir(Path(out))
        try:
            folder = work / "scores"
            scored.write.partitionBy(_K).parquet(str(folder))
            return write_table_chunks(_read_chunks(folder, chunks, id_col, columns), out)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _read_chunks(folder: Path, chunks: int, id_col: str,
                 columns: list[str]) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    for k in range(chunks):
        part = folder / f"{_K}={k}"
        files = sorted(part.glob("*.parquet"))
        if not files:  # pragma: no cover - every chunk has rows
            raise RuntimeError(f"clvmodels.spark: Spark wrote no scores for chunk {k}.")
        frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
        yield frame.set_index(id_col).sort_index()[columns]
