"""Customer covariates in batch jobs: ``clvmodels fit --covariates-file``, ``clvmodels score
--covariates-file`` on every engine that runs without a cluster (local, the DuckDB reader,
Dask's DataFrame function on its synchronous scheduler), and the MLflow model's
``predict``; the scores are those of :func:`clvmodels.customer_lifetime_value` on the same
models and data. The Dask cluster and Spark engines are compared in test_distributed.py
and test_spark.py.

CDNOW with amounts rounded to quarters (sums of quarters are exact in any order, so
pandas and DuckDB build bit-identical summaries) and a covariates file built here: a
random acquisition channel (three levels) and the first purchase's amount.
"""

import json

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from clvmodels import (
    BetaGeoCovariateModel,
    GammaGammaCovariateModel,
    customer_lifetime_value,
    rfm_summary,
)
from clvmodels.cli import main
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import DataError, IncompatibleModelError
from clvmodels.scoring import fit_job, load_job, score_chunks

END = "1998-06-30"
COVARIATES = ["channel", "first_amount"]
FIT = ["--observation-end", END, "--seed", "1", "-q"]
SCORE = ["--horizon", "26 weeks", "--n-draws", "30", "--n-samples", "40", "--seed", "2", "-q"]
OPTIONS = dict(horizon="26 weeks", discount_rate=0.10, margin=1.0, level=0.90, n_draws=30,
               n_samples=40)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Transactions (Parquet: integer ids) and the covariates (CSV: ids read as text)."""
    d = tmp_path_factory.mktemp("cli_covariates")
    tx = load_cdnow_transactions()[["customer_id", "date", "amount"]].copy()
    tx["amount"] = np.round(tx["amount"] * 4) / 4
    tx.to_parquet(d / "cdnow.parquet", index=False)
    first = tx.sort_values(["customer_id", "date"]).groupby("customer_id")["amount"].first()
    rng = np.random.default_rng(13)
    table = pd.DataFrame({"customer_id": first.index,
                          "channel": rng.choice(["store", "web", "app"], size=len(first),
                                                p=[0.5, 0.3, 0.2]),
                          "first_amount": first.to_numpy()})
    table.to_csv(d / "customers.csv", index=False)
    table.to_parquet(d / "customers.parquet", index=False)
    return d, tx, table


@pytest.fixture(scope="module")
def job_dir(data):
    """One job fitted from the command line (BG/NBD and Gamma-Gamma with covariates), and
    its scores of the transactions with the covariates file."""
    d, _, _ = data
    assert main(["fit", str(d / "cdnow.parquet"), "--out", str(d / "model"),
                 "--covariates-file", str(d / "customers.csv"),
                 "--covariate-cols", "channel,first_amount", *FIT]) == 0
    assert main(["score", str(d / "model"), str(d / "cdnow.parquet"), "--out",
                 str(d / "local.parquet"), "--covariates-file", str(d / "customers.csv"),
                 *SCORE]) == 0
    return d / "model"


@pytest.fixture(scope="module")
def summary(data):
    """The summary the command line builds, with the covariates, from the Python API."""
    _, tx, table = data
    return rfm_summary(tx, observation_end=END, covariates=table, covariate_cols=COVARIATES)


def test_fit_records_the_covariates_and_fits_what_the_api_fits(job_dir, summary):
    meta = json.loads((job_dir / "job.json").read_text())
    assert meta["customer_covariates"] == {
        "columns": COVARIATES, "purchase": COVARIATES, "spend": COVARIATES,
        "source": str(job_dir.parent / "customers.csv")}
    assert meta["transaction_model"] == "BetaGeoCovariateModel"
    job = load_job(job_dir)
    assert job.covariate_columns == COVARIATES
    api = BetaGeoCovariateModel(covariates=COVARIATES, random_state=1).fit(summary)
    pd.testing.assert_series_equal(job.transactions.params_, api.params_, check_exact=True)
    gg = GammaGammaCovariateModel(covariates=COVARIATES, random_state=1).fit(summary)
    pd.testing.assert_series_equal(job.spend.params_, gg.params_, check_exact=True)
    # three levels: two coefficients per linked parameter, one for the amount
    assert "alpha:channel[web]" in api.params_ and "gamma:first_amount" in gg.params_


def test_scores_equal_customer_lifetime_value_on_the_same_models_and_data(job_dir, summary):
    job = load_job(job_dir)
    scores = pd.read_parquet(job_dir.parent / "local.parquet")
    # one chunk (2,357 customers < --chunk-customers): the stream of chunk 0 of seed 2
    rng = np.random.default_rng(np.random.SeedSequence([2, 0]))
    with threadpool_limits(1, user_api="blas"):  # as the scorer runs
        want = customer_lifetime_value(job.transactions, job.spend, summary,
                                       random_state=rng, **OPTIONS)
    pd.testing.assert_frame_equal(scores, want, check_exact=True)
    # the covariates matter: customers of one history are valued apart by channel
    assert scores["expected_clv"].nunique() > summary[["frequency", "recency", "T",
                                                       "monetary_value"]].drop_duplicates().shape[0]


def test_engines_and_inputs_give_identical_bytes(job_dir, data):
    """The DuckDB reader, a covariates file in Parquet, and a summary that already holds
    the covariate columns (no file needed) all write the local engine's bytes."""
    pytest.importorskip("duckdb")
    d, tx, table = data
    model = str(job_dir)
    assert main(["score", model, str(d / "cdnow.parquet"), "--out", str(d / "duckdb.parquet"),
                 "--reader", "duckdb", "--covariates-file", str(d / "customers.parquet"),
                 *SCORE]) == 0
    summary = rfm_summary(tx, observation_end=END, covariates=table)
    summary.to_parquet(d / "summary.parquet")
    assert main(["score", model, str(d / "summary.parquet"), "--out",
                 str(d / "from_summary.parquet"), *SCORE]) == 0
    local = (d / "local.parquet").read_bytes()
    assert (d / "duckdb.parquet").read_bytes() == local
    assert (d / "from_summary.parquet").read_bytes() == local


def test_duckdb_summary_takes_the_covariates_as_rfm_summary_does(data, summary):
    pytest.importorskip("duckdb")
    from clvmodels.data.duckdb_summary import rfm_summary_duckdb

    d, _, table = data
    got = rfm_summary_duckdb(d / "cdnow.parquet", observation_end=END, covariates=table,
                             covariate_cols=COVARIATES)
    pd.testing.assert_frame_equal(got, summary, check_exact=True)
    assert got.attrs["covariates"] == COVARIATES
    with pytest.raises(DataError, match="rfm_summary_duckdb: 3 of 2,357 customers"):
        rfm_summary_duckdb(d / "cdnow.parquet", observation_end=END, covariates=table.iloc[3:])


def test_dask_dataframe_scores_covariate_chunks_as_score_chunks(job_dir, summary):
    """Dask's DataFrame function (synchronous scheduler: no cluster to start) carries the
    covariate columns with each partition."""
    pytest.importorskip("dask.distributed")
    import dask.dataframe as dd

    from clvmodels.distributed import score_dask_dataframe

    job = load_job(job_dir)
    ddf = dd.from_pandas(summary, chunksize=800, sort=True)
    sizes = ddf.map_partitions(len).compute().tolist()
    got = score_dask_dataframe(job, ddf, seed=4, **OPTIONS).compute(scheduler="sync")
    want = pd.concat(score_chunks(job, summary, seed=4, chunk_customers=sizes[0], **OPTIONS))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    bare = dd.from_pandas(summary.drop(columns=COVARIATES), chunksize=800, sort=True)
    with pytest.raises(DataError, match=r"lack \['channel', 'first_amount'\].*attach_covariates"):
        score_dask_dataframe(job, bare, **OPTIONS)


def _run(capsys, argv, code):
    """Run the command line; its exit code must be ``code``; returns stderr."""
    capsys.readouterr()
    try:
        got = main([str(a) for a in argv])
    except SystemExit as exc:  # usage errors (argparse's exit)
        got = exc.code
    err = capsys.readouterr().err
    assert got == code, err
    return err


def test_scoring_without_the_covariates_names_the_flag(job_dir, data, capsys):
    d, _, table = data
    model, tx = job_dir, d / "cdnow.parquet"
    err = _run(capsys, ["score", model, tx, "--out", d / "x.parquet"], 1)
    assert ("lack ['channel', 'first_amount']. Add --covariates-file PATH" in err
            and "one row per customer, her id in column 'customer_id'" in err)
    table.drop(columns="first_amount").to_csv(d / "no_amount.csv", index=False)
    err = _run(capsys, ["score", model, tx, "--out", d / "x.parquet", "--covariates-file",
                        d / "no_amount.csv"], 1)
    assert "no_amount.csv' has no column(s) ['first_amount']" in err
    assert "fitted with the covariate columns ['channel', 'first_amount']" in err
    table.iloc[3:].to_csv(d / "some.csv", index=False)
    err = _run(capsys, ["score", model, tx, "--out", d / "x.parquet", "--covariates-file",
                        d / "some.csv"], 1)
    # attach_covariates' own error, about the customers without a row
    assert "3 of 2,357 customers in the summary have no row in the covariates table, " \
           "e.g. [1, 2, 3]" in err
    table.rename(columns={"customer_id": "id"}).to_csv(d / "ids.csv", index=False)
    err = _run(capsys, ["score", model, tx, "--out", d / "x.parquet", "--covariates-file",
                        d / "ids.csv"], 1)
    assert "has no customer id column 'customer_id'" in err
    err = _run(capsys, ["score", model, tx, "--out", d / "x.parquet", "--covariates-file",
                        d / "missing.csv"], 1)
    assert "--covariates-file: No input at" in err
    assert not (d / "x.parquet").exists()
    err = _run(capsys, ["report", model, tx, "--out", d / "r.html"], 2)
    assert "fitted with customer covariates" in err and "add --covariates-file PATH" in err
    assert not (d / "r.html").exists()


def test_report_values_customers_by_their_covariates(job_dir, data):
    d, _, _ = data
    out = d / "report.html"
    assert main(["report", str(job_dir), str(d / "cdnow.parquet"), "--out", str(out),
                 "--covariates-file", str(d / "customers.csv"), "--horizons", "1", "-q"]) == 0
    page = out.read_text()
    assert "<h2>Value by covariate level</h2>" in page
    assert all(level in page for level in ("store", "web", "app"))


def test_a_few_customers_of_one_level_can_be_scored(job_dir, data, summary):
    """The fitting checks (a constant column) do not apply when scoring."""
    d, tx, table = data
    web = table[table["channel"] == "web"]["customer_id"].iloc[:3].tolist()
    tx[tx["customer_id"].isin(web)].to_csv(d / "three.csv", index=False)
    assert main(["score", str(job_dir), str(d / "three.csv"), "--out", str(d / "three.parquet"),
                 "--observation-end", END, "--covariates-file", str(d / "customers.csv"),
                 *SCORE]) == 0
    got = pd.read_parquet(d / "three.parquet")
    assert sorted(got.index) == sorted(str(i) for i in web)  # text ids from a CSV
    got = got.set_axis(got.index.astype(int)).sort_index()
    job = load_job(job_dir)
    want = job.transactions.probability_alive(summary.loc[sorted(web)])
    np.testing.assert_allclose(got["probability_alive"], want, rtol=1e-12)


@pytest.mark.parametrize("argv,code,message", [
    (["--covariate-cols", "channel", "--model", "mbgcnbd"], 2,
     "--model mbgcnbd has no covariate version: the models that take customer covariates "
     r"\(--covariates-file\) are bgnbd, mbgnbd, pnbd, bgbb and auto"),
    ([], 2, "--covariates-file needs --covariate-cols COL1,COL2"),
    (["--covariate-cols", "channel,,x"], 2, "--covariate-cols 'channel,,x': give distinct"),
    (["--covariate-cols", "chanel"], 1, r"has no column\(s\) \['chanel'\].*--covariate-cols"),
    (["--covariate-cols", "constant"], 1, "covariate 'constant' has the same value"),
])
def test_fit_errors_name_the_flag(data, capsys, argv, code, message):
    import re

    d, _, table = data
    table.assign(constant=1.0).to_csv(d / "with_constant.csv", index=False)
    err = _run(capsys, ["fit", d / "cdnow.parquet", "--out", d / "bad", "--covariates-file",
                        d / "with_constant.csv", *argv, *FIT], code)
    assert re.search(message, err), err
    assert not (d / "bad").exists()


def test_covariate_flags_need_each_other_and_the_right_kind(data, capsys):
    d, _, _ = data
    tx = d / "cdnow.parquet"
    err = _run(capsys, ["fit", tx, "--out", d / "bad", "--covariate-cols", "channel"], 2)
    assert "--covariate-cols name columns of a covariates file: add --covariates-file" in err
    err = _run(capsys, ["fit", tx, "--out", d / "bad", "--covariates", "channel"], 2)
    assert "--covariates is for contractual jobs" in err
    assert "customer covariates of transactions: --covariates-file PATH" in err
    err = _run(capsys, ["fit", "--kind", "contractual", tx, "--out", d / "bad", "--period",
                        "month", "--covariates-file", d / "customers.csv"], 2)
    assert "--covariates-file is for noncontractual jobs" in err


def test_a_job_without_covariates_refuses_the_file(data, summary, capsys):
    d, _, _ = data
    plain = summary.drop(columns=COVARIATES)
    job = fit_job(plain, d / "plain", columns={"customer_col": "customer_id", "date_col": "date",
                                               "amount_col": "amount"}, seed=1)
    assert job.covariate_columns == [] and "customer_covariates" not in job.meta
    err = _run(capsys, ["score", d / "plain", d / "cdnow.parquet", "--out", d / "x.parquet",
                        "--covariates-file", d / "customers.csv"], 2)
    assert "fitted without customer covariates; drop --covariates-file" in err
    with pytest.raises(IncompatibleModelError, match="fitted without covariates"):
        job.attach_covariates(plain, summary[COVARIATES].reset_index())


def test_spend_model_takes_its_own_columns_and_auto_compares_covariate_models(data, summary):
    """The API under fit: spend covariates apart from the purchase ones; 'auto' with a
    holdout compares the covariate versions on holdout customers with covariates."""
    from clvmodels.data.summary import calibration_holdout_summary

    d, tx, table = data
    holdout = calibration_holdout_summary(tx, calibration_end="1997-09-30", observation_end=END,
                                          covariates=table, covariate_cols=["channel"])
    job = fit_job(summary, d / "auto", columns={"customer_col": "customer_id"}, seed=1,
                  model="auto", holdout=holdout, covariates=["channel"],
                  spend_covariates=["first_amount"], covariate_source="a table")
    assert set(job.meta["model_comparison"]) == {"bgnbd", "mbgnbd", "pnbd"}
    assert type(job.transactions).__name__.endswith("CovariateModel")
    assert job.transactions.covariate_columns() == ["channel"]
    assert job.spend.covariate_columns() == ["first_amount"]
    assert job.covariate_columns == ["channel", "first_amount"]
    assert job.meta["customer_covariates"]["source"] == "a table"
    with pytest.raises(DataError, match=r"covariate column\(s\) \['channel'\] are not in the "
                       "holdout"):
        fit_job(summary, d / "auto2", columns={}, model="auto", covariates=["channel"],
                holdout=holdout.drop(columns="channel"))
    with pytest.raises(IncompatibleModelError, match="bgnbd, mbgnbd, pnbd, bgbb"):
        fit_job(summary, d / "erlang", columns={}, model="bgcnbd", covariates=["channel"])


def test_mlflow_predict_takes_the_covariate_columns(job_dir, summary):
    pytest.importorskip("mlflow")
    from clvmodels._mlflow_pyfunc import ClvJobModel, resolve_settings
    from clvmodels.mlflow_model import _job_params

    job = load_job(job_dir)
    model = ClvJobModel()
    model.job = job
    model.settings = resolve_settings(job.meta, {"horizon": "26 weeks", "n_draws": 30,
                                                 "n_samples": 40, "seed": 2})
    frame = summary.reset_index().sample(frac=1.0, random_state=0)  # ids as a column
    got = model.predict(None, frame)
    want = pd.read_parquet(job_dir.parent / "local.parquet")
    assert got["customer_id"].tolist() == frame["customer_id"].tolist()  # the input's order
    pd.testing.assert_frame_equal(got.set_index("customer_id").sort_index(), want,
                                  check_exact=True)
    with pytest.raises(DataError, match=r"lack column\(s\) \['first_amount'\].*covariate "
                       r"columns \['channel', 'first_amount'\]"):
        model.predict(None, frame.drop(columns="first_amount"))
    params = _job_params(job.meta)
    assert params["job/customer_covariates/columns"] == "channel,first_amount"
