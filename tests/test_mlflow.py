"""MLflow: a fitted job logged as a pyfunc model from its own files (job.json + netCDF,
"models from code"), loaded in a fresh process, scores exactly as score_chunks; nothing
MLflow writes is a pickle.

The tracking store is a local ``file:`` URI under the test's temporary directory. MLflow
3.17 refuses the file store unless ``MLFLOW_ALLOW_FILE_STORE=true`` (its default local
store is SQLite, which needs SQLAlchemy, not part of mlflow-skinny), so the tests set it.
"""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # before mlflow is imported

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (the optional [mlflow] "
                             "extra); the MLflow model of a job cannot be tested without it")

import clvmodels
from clvmodels.datasets import load_cdnow_summary, load_telco
from clvmodels.errors import DataError
from clvmodels.evaluation.holdout import evaluate_holdout
from clvmodels.mlflow_model import _holdout_metrics, log_job
from clvmodels.scoring import fit_contractual_job, fit_job, score_chunks

COLUMNS = {"customer_col": "customer_id", "date_col": "date", "amount_col": "amount"}
ACCOUNTS = {"account_col": "customerID", "tenure_col": "tenure", "churned_col": "Churn"}
# three chunks of 250 customers: each chunk's seed is part of what must match
SETTINGS = {"horizon": "26 weeks", "discount_rate": 0.08, "margin": 0.3, "level": 0.8,
            "n_draws": 30, "n_samples": 40, "seed": 7, "chunk_customers": 250}
CONTRACT_SETTINGS = {"discount_rate": 0.10, "margin": 0.6, "n_draws": 30, "n_samples": 40,
                     "seed": 5, "chunk_customers": 300}
OVERRIDE = {"horizon": "52 weeks", "seed": 3, "margin": 1.0}

# loads each model once in a new interpreter and writes its predictions as Parquet
PREDICT = """
import json, sys
import mlflow
import pandas as pd

models = {}
for case in json.loads(sys.argv[1]):
    if case["uri"] not in models:
        models[case["uri"]] = mlflow.pyfunc.load_model(case["uri"], suppress_warnings=True)
    data = pd.read_parquet(case["data"])
    models[case["uri"]].predict(data, params=case["params"]).to_parquet(case["out"])
"""

PICKLE_SUFFIXES = {".pkl", ".pickle"}


def find_pickles(root: Path) -> list[Path]:
    """Files under ``root`` named as pickles or starting with a pickle header (the
    PROTO opcode 0x80 and a protocol 2-5; protocols 0 and 1 have no header)."""
    found = []
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        with open(path, "rb") as handle:
            head = handle.read(2)
        if (PICKLE_SUFFIXES & {s.lower() for s in path.suffixes}
                or (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5)):
            found.append(path)
    return found


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A local file tracking store, also in the environment (for the subprocess); the
    environment and MLflow's tracking URI are restored afterwards."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = (root / "mlruns").as_uri()
    with pytest.MonkeyPatch.context() as mp:  # puts the variables back as they were
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)  # over any URI set in this process before
        try:
            yield root
        finally:
            mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def summary():
    """600 CDNOW customers (RFM summary in weeks), ids as the index."""
    return load_cdnow_summary().iloc[:600]


@pytest.fixture(scope="module")
def table():
    """800 Telco accounts as a plain table (ids a column, Churn as Yes/No text)."""
    return load_telco().reset_index().drop(columns="churned").iloc[:800]


@pytest.fixture(scope="module")
def logged(store, summary, table):
    """Both kinds of job fitted, logged, and scored by the logged models in a fresh
    process: ``predicted[name]`` is what that process returned."""
    job = fit_job(summary, store / "clv", columns=COLUMNS, seed=1)
    holdout = evaluate_holdout(job.transactions, summary, n_samples=100, random_state=0)
    info = log_job(store / "clv", settings=SETTINGS, holdout_metrics=holdout,
                   input_example=summary.head(3))
    cjob = fit_contractual_job(table, store / "churn", period="month",
                               revenue_col="MonthlyCharges", seed=1, **ACCOUNTS)
    cinfo = log_job(store / "churn", name="churn", settings=CONTRACT_SETTINGS,
                    registered_model_name="clv-churn", extra_pip_requirements=["pyarrow>=15"])
    rng = np.random.default_rng(11)
    shuffled = summary.iloc[rng.permutation(len(summary))].reset_index()  # ids as a column
    inputs = {"summary": summary, "shuffled": shuffled, "table": table}
    for key, frame in inputs.items():
        frame.to_parquet(store / f"{key}.parquet")
    cases = {"default": (info.model_uri, "summary", None),
             "override": (info.model_uri, "summary", OVERRIDE),
             "shuffled": (info.model_uri, "shuffled", None),
             "contractual": ("models:/clv-churn/1", "table", None)}
    spec = [{"uri": uri, "data": str(store / f"{data}.parquet"), "params": params,
             "out": str(store / f"out_{name}.parquet")}
            for name, (uri, data, params) in cases.items()]
    run = subprocess.run([sys.executable, "-c", PREDICT, json.dumps(spec)], check=False,
                         capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    predicted = {name: pd.read_parquet(store / f"out_{name}.parquet") for name in cases}
    return {"job": job, "info": info, "cjob": cjob, "cinfo": cinfo, "holdout": holdout,
            "shuffled": shuffled, "predicted": predicted}


def _options(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if k not in ("seed", "chunk_customers")}


def _local(job, frame, settings, **defaults):
    """In-process scores: score_chunks with the same settings and seed."""
    return pd.concat(score_chunks(job, frame, seed=settings["seed"],
                                  chunk_customers=settings["chunk_customers"],
                                  **{**defaults, **_options(settings)}))


# ------------------------------------------------------------- round trip
def test_fresh_process_predictions_equal_score_chunks(logged, summary):
    expected = _local(logged["job"], summary, SETTINGS)
    got = logged["predicted"]["default"]
    assert list(got.columns) == list(clvmodels.scoring.SCORE_COLUMNS)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.index.name == "customer_id" and len(got) == 600
    assert np.isfinite(got["expected_clv"]).all() and (got["expected_clv"] > 0).all()


def test_params_override_the_logged_settings_for_one_call(logged, summary):
    settings = {**SETTINGS, **OVERRIDE}
    got = logged["predicted"]["override"]
    pd.testing.assert_frame_equal(got, _local(logged["job"], summary, settings), check_exact=True)
    default = logged["predicted"]["default"]
    assert (got["expected_clv"] > default["expected_clv"]).all()  # a year of full spend
    # the same overrides given when loading (model_config, merged with the logged settings)
    model = mlflow.pyfunc.load_model(logged["info"].model_uri, model_config=OVERRIDE)
    pd.testing.assert_frame_equal(model.predict(summary), got, check_exact=True)


def test_rows_come_back_in_input_order_with_ids_as_a_column(logged, summary):
    shuffled = logged["shuffled"]
    expected = _local(logged["job"], summary, SETTINGS).loc[shuffled["customer_id"]]
    got = logged["predicted"]["shuffled"]
    assert got.columns[0] == "customer_id"
    assert got["customer_id"].tolist() == shuffled["customer_id"].tolist()
    pd.testing.assert_frame_equal(got, expected.reset_index(), check_exact=True)


def test_contractual_job_round_trip_through_the_model_registry(logged, table):
    cjob = logged["cjob"]
    accounts = cjob.accounts(table)  # in the table's order, which is not the id order
    expected = _local(cjob, accounts, CONTRACT_SETTINGS, revenue_col="MonthlyCharges",
                      growth_rate=0.0, acquisition_cost_col=None, horizon=None)
    assert not accounts.index.is_monotonic_increasing
    expected = expected.loc[accounts.index]
    got = logged["predicted"]["contractual"]
    assert got.columns[0] == "customerID"  # ids came as a column: they go back as one
    assert got["customerID"].tolist() == table["customerID"].tolist()
    pd.testing.assert_frame_equal(got, expected.reset_index(), check_exact=True)
    assert set(got.columns[1:]) <= set(clvmodels.scoring.CONTRACTUAL_SCORE_COLUMNS)


# ------------------------------------------------------------- no pickle
def test_nothing_mlflow_wrote_is_a_pickle(logged, store, tmp_path):
    local = Path(mlflow.artifacts.download_artifacts(logged["info"].model_uri,
                                                     dst_path=str(tmp_path / "model")))
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert {"MLmodel", "_mlflow_pyfunc.py", "requirements.txt", "artifacts/job/job.json",
            "artifacts/job/transactions/draws.nc", "artifacts/job/spend/draws.nc"} <= files
    assert not any("python_model" in f for f in files)
    flavor = mlflow.models.Model.load(str(local)).flavors["python_function"]
    assert "python_model" not in flavor  # the key of a cloudpickled PythonModel
    assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert flavor["config"] == {**SETTINGS}  # the scoring settings, as logged
    requirements = (local / "requirements.txt").read_text()
    assert f"clvmodels=={clvmodels.__version__}" in requirements
    assert "cloudpickle" not in requirements  # nothing to unpickle, so not needed
    example = json.loads((local / "input_example.json").read_text())  # JSON, ids as a column
    assert example["columns"][0] == "customer_id" and len(example["data"]) == 3
    # the whole store: both models, the registry, both runs' files
    assert find_pickles(local) == []
    assert find_pickles(store) == []
    assert len([p for p in store.rglob("draws.nc")]) >= 3  # the scan did see the models


def test_pickle_check_finds_real_pickles(tmp_path):
    for protocol in (2, 3, 4, 5):
        (tmp_path / f"model_{protocol}.bin").write_bytes(
            pickle.dumps({"r": 0.24}, protocol=protocol))
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "python_model.pkl").write_text("not even a pickle")
    (tmp_path / "draws.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(30))
    (tmp_path / "job.json").write_text('{"kind": "noncontractual"}')
    found = {p.relative_to(tmp_path).as_posix() for p in find_pickles(tmp_path)}
    assert found == {"model_2.bin", "model_3.bin", "model_4.bin", "model_5.bin",
                     "nested/python_model.pkl"}


# ------------------------------------------------------- what the run holds
def test_run_records_fitted_parameters_time_unit_settings_and_holdout(logged):
    job, info = logged["job"], logged["info"]
    run = mlflow.get_run(info.run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params["clvmodels_version"] == clvmodels.__version__
    assert params["job/time_unit"] == "week" and params["job/kind"] == "noncontractual"
    assert params["job/transaction_model"] == type(job.transactions).__name__
    assert params["job/observation_end"] == job.meta["observation_end"]
    assert params["horizon"] == "26 weeks" and params["seed"] == "7"
    for role in ("transactions", "spend"):
        model = getattr(job, role)
        for name, value in model.params_.items():
            assert metrics[f"{role}/{name}"] == float(value)
        assert metrics[f"{role}/log_likelihood"] == model.log_likelihood_
    holdout = logged["holdout"].metrics  # evaluate_holdout's, passed as its HoldoutScore
    assert metrics["holdout/mae"] == holdout["mae"] and metrics["holdout/rmse"] == holdout["rmse"]
    assert metrics["holdout/coverage"] == holdout["coverage"]
    crun = mlflow.get_run(logged["cinfo"].run_id)
    assert crun.data.params["job/time_unit"] == "month"
    assert crun.data.params["revenue_col"] == "MonthlyCharges"
    for name, value in logged["cjob"].churn.params_.items():
        assert crun.data.metrics[f"churn/{name}"] == float(value)
    requirements = mlflow.pyfunc.get_model_dependencies(logged["cinfo"].model_uri)
    assert {f"clvmodels=={clvmodels.__version__}", "pyarrow>=15"} <= set(
        Path(requirements).read_text().split())


def test_holdout_comparison_of_an_auto_job_becomes_metrics(summary):
    from clvmodels import BetaGeoModel, ModifiedBetaGeoModel
    from clvmodels.evaluation.comparison import compare_models

    data = summary.iloc[:300]
    fitted = {"bgnbd": BetaGeoModel().fit(data), "mbgnbd": ModifiedBetaGeoModel().fit(data)}
    table = compare_models(fitted, data, levels=(0.9,), n_samples=50, random_state=0)
    chosen = str(table.index[0])
    # job.json holds the comparison as fit_job(model="auto", holdout=...) writes it
    meta = {"model": chosen, "model_comparison": json.loads(table.to_json(orient="index"))}
    metrics = _holdout_metrics(meta, {"rmse": 9.0})
    assert metrics["holdout/mae"] == pytest.approx(table.loc[chosen, "mae"], rel=1e-9)
    assert metrics["holdout/rmse"] == 9.0  # the caller's value wins
    assert "holdout/bic" not in metrics  # in-sample, not a holdout score
    for model in fitted:
        assert metrics[f"comparison/{model}/mae"] == pytest.approx(table.loc[model, "mae"],
                                                                   rel=1e-9)
    assert _holdout_metrics({"model": "bgnbd", "model_comparison": None}, None) == {}


# ------------------------------------------------------------------ errors
def test_bad_settings_are_refused_before_anything_is_logged(logged, store):
    with pytest.raises(ValueError, match=r"'discount_rate'.*Did you mean 0\.10 \(10%\)"):
        log_job(store / "clv", settings={"discount_rate": 10})
    with pytest.raises(ValueError, match=r"\['revenue_col'\].*for the other kind of job"):
        log_job(store / "clv", settings={"revenue_col": "MonthlyCharges"})
    with pytest.raises(ValueError, match="'horizon' parameter of log_job must be a duration"):
        log_job(store / "clv", settings={"horizon": "soon"})
    with pytest.raises(TypeError, match="'n_samples' setting of log_job must be a number"):
        log_job(store / "clv", settings={"n_samples": "many"})
    with pytest.raises(ValueError, match="no job.json"):
        log_job(store, settings=SETTINGS)
    runs = mlflow.search_runs(search_all_experiments=True)
    assert len(runs) == 2  # the two of the fixture only


def test_predict_names_missing_columns(logged, summary):
    model = mlflow.pyfunc.load_model(logged["info"].model_uri)
    with pytest.raises(DataError, match=r"lack column\(s\) \['monetary_value'\].*rfm_summary"):
        model.predict(summary.drop(columns="monetary_value"))
    with pytest.raises(DataError, match="no customers to score"):
        model.predict(summary.iloc[:0])
