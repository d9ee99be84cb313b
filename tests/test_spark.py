"""Spark engine on a local[2] session: the same scores as score_chunks (bit for bit, with
the documented chunk seeding) from shuffled, multi-partition input; Spark's summaries of
transactions equal rfm_summary's; the file writer matches score_to_file; the job is
never pickled. One Spark session for the module (the JVM starts slowly)."""

import os
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (the optional [spark] extra); "
                    "the Spark engine cannot be tested without it")

from clvmodels import rfm_summary
from clvmodels.datasets import load_cdnow_summary, load_cdnow_transactions, load_telco
from clvmodels.errors import DataError, IncompatibleModelError
from clvmodels.scoring import (
    ContractualJob,
    Job,
    fit_contractual_job,
    fit_job,
    score_chunks,
    score_to_file,
)
from clvmodels.spark import (
    _check_java,
    rfm_summary_spark,
    score_spark_dataframe,
    score_to_file_spark,
    spark_session,
)

COLUMNS = {"customer_col": "customer_id", "date_col": "date", "amount_col": "amount"}
KW = dict(seed=3, chunk_customers=250, horizon="26 weeks", n_draws=30, n_samples=40)


# The JVM of these short jobs: C1 compiler only and the serial collector. Optimising
# (C2) compilation of Spark's code costs more CPU than it saves in a run this short:
# about a third less CPU for the JVM here, the same results (Java arithmetic is IEEE
# whatever compiles it, and the scoring itself runs in Python workers).
TEST_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@pytest.fixture(scope="module")
def spark():
    try:
        with spark_session("local[2]", {"spark.sql.shuffle.partitions": "4",
                                        "spark.driver.memory": "1g",
                                        "spark.driver.extraJavaOptions": TEST_JVM}) as session:
            yield session
    except RuntimeError as exc:  # no Java runtime, or it did not start
        pytest.skip(f"Spark cannot start a Java runtime here: {exc}")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    d = tmp_path_factory.mktemp("spark")
    summary = load_cdnow_summary().iloc[:700][["frequency", "recency", "T", "monetary_value"]]
    job = fit_job(summary, d / "clv", columns=COLUMNS, seed=1)
    return job, summary, d


def _shuffled(spark, frame: pd.DataFrame, seed: int):
    """The rows in random order, over three Spark partitions."""
    rows = frame.reset_index().sample(frac=1.0, random_state=seed)
    return spark.createDataFrame(rows).repartition(3)


def test_scores_equal_score_chunks_bit_for_bit(spark, fitted):
    """700 customers, chunks of 250 (three, the last partial), shuffled input."""
    job, summary, _ = fitted
    got = score_spark_dataframe(job, _shuffled(spark, summary, 0), **KW).toPandas()
    got = got.set_index("customer_id").sort_index()
    want = pd.concat(score_chunks(job, summary, **KW))
    assert list(got.columns) == list(want.columns)
    assert got.index.equals(want.index)
    assert np.max(np.abs(got["expected_clv"].to_numpy() - want["expected_clv"].to_numpy())) <= 1e-12
    for col in want.columns:  # intervals too: the same chunks draw the same streams
        assert np.array_equal(got[col].to_numpy(), want[col].to_numpy(), equal_nan=True), col
    # another chunk size is another seeding: the simulated bounds move, the means do not
    other = score_spark_dataframe(job, _shuffled(spark, summary, 1), **{
        **KW, "chunk_customers": 300}).toPandas().set_index("customer_id").sort_index()
    np.testing.assert_allclose(other["probability_alive"], want["probability_alive"], rtol=1e-12)
    assert not np.array_equal(other["clv_predictive_upper"], want["clv_predictive_upper"])


def test_file_matches_score_to_file(spark, fitted):
    job, summary, d = fitted
    summary.to_parquet(d / "summary.parquet")  # keeps its time unit in the metadata
    score_to_file(job, summary, d / "local.parquet", **KW)
    rows = score_to_file_spark(job, d / "summary.parquet", d / "spark.parquet", **KW)
    assert rows == len(summary)
    local, theirs = pd.read_parquet(d / "local.parquet"), pd.read_parquet(d / "spark.parquet")
    pd.testing.assert_frame_equal(theirs, local, check_exact=True)
    assert not [p for p in d.iterdir() if p.name.startswith(".spark.parquet")]  # no leftovers
    summary.to_csv(d / "summary.csv")  # a CSV keeps no unit: it must be said
    with pytest.raises(DataError, match="does not say its time unit.*time_unit='week'"):
        score_to_file_spark(job, d / "summary.csv", d / "csv.parquet", **KW)
    score_to_file_spark(job, d / "summary.csv", d / "csv.csv", time_unit="week", **KW)
    pd.testing.assert_frame_equal(pd.read_csv(d / "csv.csv", index_col=0), local)


def _transactions() -> pd.DataFrame:
    """CDNOW transactions of 300 customers plus same-day repeats (two rows on one day
    are one purchase) and a timestamp inside a day."""
    tx = load_cdnow_transactions()
    tx = tx[tx["customer_id"] <= 300][["customer_id", "date", "amount"]].copy()
    extra = tx.groupby("customer_id").tail(1).head(40).copy()
    extra["amount"] = 1.25
    extra["date"] = pd.to_datetime(extra["date"]) + pd.Timedelta(hours=13)
    return pd.concat([tx, extra], ignore_index=True)


@pytest.mark.parametrize("unit", ["week", "day"])
def test_spark_summary_equals_rfm_summary(spark, unit):
    tx = _transactions()
    want = rfm_summary(tx, observation_end="1998-06-30", time_unit=unit, regularity=True)
    sdf = spark.createDataFrame(tx.assign(date=pd.to_datetime(tx["date"])))
    got = rfm_summary_spark(sdf, observation_end="1998-06-30", time_unit=unit,
                            regularity=True).toPandas().set_index("customer_id").sort_index()
    assert got.index.equals(want.index)
    for col in ("frequency", "recency", "T"):
        assert np.array_equal(got[col].to_numpy(), want[col].to_numpy()), col
    for col in ("monetary_value", "log_gap_sum"):  # the same sums in another order
        np.testing.assert_allclose(got[col], want[col], rtol=1e-13, atol=1e-13)
    assert (want["frequency"] > 0).any() and want["monetary_value"].isna().any()
    # ISO text dates and the default observation end (the last transaction)
    text = spark.createDataFrame(tx.assign(date=pd.to_datetime(tx["date"]).dt.strftime("%Y-%m-%d")))
    got = rfm_summary_spark(text, time_unit=unit).toPandas().set_index("customer_id").sort_index()
    want = rfm_summary(tx, time_unit=unit)
    np.testing.assert_array_equal(got["T"], want["T"])


def test_transactions_are_summarized_then_scored(spark, tmp_path):
    tx = _transactions()
    summary = rfm_summary(tx, observation_end="1998-06-30")
    job = fit_job(summary, tmp_path / "clv", columns=COLUMNS, seed=1)
    got = score_spark_dataframe(job, spark.createDataFrame(tx), **{**KW, "chunk_customers": 120})
    got = got.toPandas().set_index("customer_id").sort_index()
    want = pd.concat(score_chunks(job, summary, **{**KW, "chunk_customers": 120}))
    np.testing.assert_allclose(got["expected_clv"], want["expected_clv"], rtol=1e-12, atol=1e-12)
    means = ["probability_alive", "expected_purchases", "expected_spend", "expected_clv"]
    np.testing.assert_allclose(got[means], want[means], rtol=1e-12, atol=1e-12)
    # not the predictive bounds: monetary values a rounding apart can merge or split the
    # identical rows whose futures are simulated together (module docstring)
    assert np.isfinite(got["clv_predictive_upper"]).all()
    bad = tx.copy()
    bad.loc[bad.index[:3], "amount"] = -5.0
    with pytest.raises(DataError, match="3 row\\(s\\) have a negative amount in 'amount'"):
        score_spark_dataframe(job, spark.createDataFrame(bad), **KW)


def test_contractual_job_scores_as_locally(spark, tmp_path):
    table = load_telco().reset_index().drop(columns=["churned", "entry"]).iloc[:600]
    accounts = {"account_col": "customerID", "tenure_col": "tenure", "churned_col": "Churn"}
    # observed_periods=1: the snapshot shows each account for one renewal (data README)
    job = fit_contractual_job(table, tmp_path / "churn", period="month", seed=1,
                              revenue_col="MonthlyCharges", observed_periods=1, **accounts)
    kw = dict(seed=5, chunk_customers=250, revenue_col="MonthlyCharges", discount_rate=0.1,
              n_draws=30, n_samples=40)
    want = pd.concat(score_chunks(job, job.accounts(table), **kw))
    got = score_spark_dataframe(job, _shuffled(spark, table.set_index("customerID"), 2), **kw)
    got = got.toPandas().set_index("customerID").sort_index()
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_index_type=False)


def test_the_job_is_never_pickled(spark, fitted, monkeypatch):
    """Spark serializes the mapInPandas function with cloudpickle: it must hold the job's
    bytes, not the job."""
    def refuse(self, protocol):
        raise AssertionError("a job was pickled")

    monkeypatch.setattr(Job, "__reduce_ex__", refuse)
    monkeypatch.setattr(ContractualJob, "__reduce_ex__", refuse)
    job, summary, _ = fitted
    got = score_spark_dataframe(job, spark.createDataFrame(summary.reset_index()), **KW)
    assert got.count() == len(summary)


def test_bad_input_is_refused_with_the_fix(spark, fitted):
    job, summary, _ = fitted
    twice = pd.concat([summary.iloc[:5], summary.iloc[:300]]).reset_index()
    with pytest.raises(DataError, match="more than one row, e.g. \\[1, 2, 3, 4, 5\\]"):
        score_spark_dataframe(job, spark.createDataFrame(twice), **KW)
    with pytest.raises(IncompatibleModelError, match="fitted in 'week'.*summarized in 'day'"):
        score_spark_dataframe(job, spark.createDataFrame(summary.reset_index()),
                              time_unit="day", **KW)
    with pytest.raises(DataError, match="no id column 'customer_id'.*customer_col"):
        score_spark_dataframe(job, spark.createDataFrame(summary.reset_index(drop=True)), **KW)


def test_missing_pyspark_and_java_are_named(monkeypatch):
    from clvmodels import spark as engine

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ImportError, match=r"pip install 'clvmodels\[spark\]'"):
        engine._pyspark()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RuntimeError, match="JAVA_HOME is not set and there is no 'java'"):
        _check_java()
    monkeypatch.setenv("JAVA_HOME", os.devnull)
    with pytest.raises(RuntimeError, match="JAVA_HOME is '/dev/null'.*bin/java"):
        _check_java()


def test_command_line_engine_spark_writes_what_the_local_engine_writes(spark, fitted, capsys):
    """`clvmodels score --engine spark` (on the running session) against `--engine local`."""
    from clvmodels.cli import main

    job, summary, d = fitted
    data = d / "summary_cli.parquet"
    summary.to_parquet(data)
    flags = ["--seed", "3", "--chunk-customers", "250", "--horizon", "26 weeks",
             "--n-draws", "30", "--n-samples", "40", "-q"]
    assert main(["score", str(d / "clv"), str(data), "--out", str(d / "local.parquet"),
                 *flags]) == 0
    assert main(["score", str(d / "clv"), str(data), "--out", str(d / "spark.parquet"),
                 "--engine", "spark", *flags]) == 0
    out = capsys.readouterr().out
    assert "scored 700 customers" in out and "total expected CLV" in out
    local = pd.read_parquet(d / "local.parquet")
    on_spark = pd.read_parquet(d / "spark.parquet")
    pd.testing.assert_frame_equal(on_spark, local, check_exact=True)
    with pytest.raises(SystemExit) as exc:
        main(["score", str(d / "clv"), str(data), "--out", str(d / "x.parquet"),
              "--engine", "spark", "--reader", "duckdb"])
    assert exc.value.code == 2
    assert "--engine spark reads the data with Spark itself" in capsys.readouterr().err


def test_covariate_job_scores_as_locally(spark, fitted, capsys):
    """A job with customer covariates: the covariates table joined by the Spark engine
    gives score_chunks' scores bit for bit, from the API and from the command line (ids
    read as text from the CSV file, numbers in the summary); customers without
    covariates get attach_covariates' error. (Data that already hold the covariate
    columns take the path of any other summary.)"""
    from clvmodels import attach_covariates
    from clvmodels.cli import main

    _, summary, d = fitted
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"customer_id": summary.index,
                          "channel": rng.choice(["store", "web"], size=len(summary)),
                          "score": rng.normal(size=len(summary))})
    with_cov = attach_covariates(summary, table)
    job = fit_job(with_cov, d / "clv_cov", columns=COLUMNS, seed=1,
                  covariates=["channel", "score"])
    want = pd.concat(score_chunks(job, with_cov, **KW))
    got = score_spark_dataframe(job, _shuffled(spark, summary, 4), covariates=table, **KW)
    got = got.toPandas().set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    bare = spark.createDataFrame(summary.reset_index())
    with pytest.raises(DataError, match="3 of 700 customers in the summary have no row"):
        score_spark_dataframe(job, bare, covariates=table.iloc[3:], **KW)
    with pytest.raises(DataError, match=r"lack \['channel', 'score'\]"):
        score_spark_dataframe(job, bare, **KW)
    summary.to_parquet(d / "summary_cov.parquet")
    table.to_csv(d / "customers.csv", index=False)  # ids read as text, matched to numbers
    flags = ["--seed", "3", "--chunk-customers", "250", "--horizon", "26 weeks",
             "--n-draws", "30", "--n-samples", "40", "--discount-rate", "0", "-q",
             "--covariates-file",
             str(d / "customers.csv")]
    for engine in ("local", "spark"):
        assert main(["score", str(d / "clv_cov"), str(d / "summary_cov.parquet"), "--out",
                     str(d / f"cov_{engine}.parquet"), "--engine", engine, *flags]) == 0
    local = pd.read_parquet(d / "cov_local.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(d / "cov_spark.parquet"), local,
                                  check_exact=True)
    pd.testing.assert_frame_equal(local, want, check_exact=True)  # KW's settings
