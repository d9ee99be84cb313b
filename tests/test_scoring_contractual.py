"""Contractual jobs: account tables, fit/save/load (covariate model included), chunked
deterministic scoring through the same seed scheme as the non-contractual path."""

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels import (
    ShiftedBetaGeoCovariateModel,
    ShiftedBetaGeoModel,
    contractual_lifetime_value,
)
from clvmodels.datasets import load_telco
from clvmodels.errors import DataError, IncompatibleModelError
from clvmodels.scoring import (
    CONTRACTUAL_SCORE_COLUMNS,
    ContractualJob,
    _load_churn_model,
    _save_churn_model,
    contractual_accounts,
    fit_contractual_job,
    load_job,
    score_chunks,
    score_to_file,
)

COLUMNS = dict(account_col="customerID", tenure_col="tenure", churned_col="Churn")
SCORE = dict(revenue_col="MonthlyCharges", discount_rate=0.10, margin=0.6, n_draws=50,
             n_samples=50)


@pytest.fixture(scope="module")
def table():
    """The Telco file as a plain table (ids a column, Churn as Yes/No text)."""
    return load_telco().reset_index().drop(columns="churned")


@pytest.fixture(scope="module")
def jobs(table, tmp_path_factory):
    d = tmp_path_factory.mktemp("contractual")
    cohort = fit_contractual_job(table, d / "cohort", period="month", revenue_col="MonthlyCharges",
                                 seed=1, **COLUMNS)
    covariate = fit_contractual_job(table, d / "covariate", period="month", method="map",
                                    covariates=["Contract", "SeniorCitizen"], seed=1, **COLUMNS)
    return d, cohort, covariate


# ------------------------------------------------------------------ job files
def test_job_directory_records_columns_period_and_model(jobs):
    d, cohort, _ = jobs
    assert sorted(p.name for p in (d / "cohort").iterdir()) == ["churn", "job.json"]
    meta = json.loads((d / "cohort" / "job.json").read_text())
    assert meta["kind"] == "contractual" and meta["time_unit"] == "month"
    assert meta["columns"] == {"account_col": "customerID", "tenure_col": "tenure",
                               "churned_col": "Churn", "revenue_col": "MonthlyCharges",
                               "entry_col": None}
    assert meta["model"] == "ShiftedBetaGeoModel" and meta["accounts"] == 7043
    assert meta["churned"] == 1869
    loaded = load_job(d / "cohort")
    assert isinstance(loaded, ContractualJob) and type(loaded.churn) is ShiftedBetaGeoModel
    pd.testing.assert_series_equal(loaded.churn.params_, cohort.churn.params_)
    assert loaded.churn.time_unit_ == "month"


def test_covariate_model_survives_save_and_load(jobs, table):
    d, _, covariate = jobs
    meta = json.loads((d / "covariate" / "job.json").read_text())
    assert meta["covariate_levels"] == {"Contract": ["Month-to-month", "One year", "Two year"]}
    assert meta["model_covariates"] == ["Contract=One year", "Contract=Two year", "SeniorCitizen"]
    fitted, loaded = covariate.churn, load_job(d / "covariate").churn
    assert type(loaded) is ShiftedBetaGeoCovariateModel
    assert loaded.param_names == fitted.param_names
    pd.testing.assert_series_equal(loaded.params_, fitted.params_)
    np.testing.assert_array_equal(loaded.covariance_log_, fitted.covariance_log_)
    for name in fitted.param_names:
        np.testing.assert_array_equal(loaded.draws_[name].values, fitted.draws_[name].values)
    pd.testing.assert_frame_equal(loaded.coefficients(), fitted.coefficients())
    accounts = covariate.accounts(table)
    pd.testing.assert_series_equal(loaded.probability_renewal(accounts),
                                   fitted.probability_renewal(accounts))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::clvmodels.errors.ConvergenceWarning")  # short chains
def test_covariate_mcmc_fit_survives_save_and_load(table, tmp_path):
    accounts, _ = contractual_accounts(table, covariates=["Contract"], time_unit="month", **COLUMNS)
    model = ShiftedBetaGeoCovariateModel(
        covariates=["Contract=One year", "Contract=Two year"], time_unit="month", chains=2,
        cores=1, draws=150, tune=150, random_state=3).fit(accounts, method="mcmc")
    _save_churn_model(model, tmp_path / "churn")
    loaded = _load_churn_model(tmp_path / "churn")
    assert loaded.fit_method_ == "mcmc" and loaded.idata_ is not None
    pd.testing.assert_frame_equal(loaded.summary(), model.summary())


def test_the_saved_reference_model_is_the_covariate_models_reference_accounts(jobs, table):
    """Loaded alone, churn/ is the cohort model of accounts with every covariate 0."""
    from clvmodels.models.persistence import load_model

    d, _, covariate = jobs
    base = load_model(d / "covariate" / "churn", expected_type=ShiftedBetaGeoModel)
    reference = covariate.churn._cohort_params()
    assert base.point_params() == pytest.approx(reference, rel=1e-12)


def test_unknown_job_kind_is_refused(jobs, tmp_path):
    d, _, _ = jobs
    meta = json.loads((d / "cohort" / "job.json").read_text())
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "job.json").write_text(json.dumps({**meta, "kind": "hybrid"}))
    with pytest.raises(IncompatibleModelError, match="kind 'hybrid'"):
        load_job(tmp_path / "odd")


# ------------------------------------------------------------- account tables
@pytest.mark.parametrize("values,expected", [
    (["yes", "No", " TRUE", "false", "1", "0"], [True, False, True, False, True, False]),
    ([True, False, True, True, False, False], [True, False, True, True, False, False]),
    ([1, 0, 0, 1, 1, 0], [True, False, False, True, True, False]),
    ([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], [True, False, False, True, True, False]),
])
def test_churned_accepts_yes_no_true_false_one_zero(values, expected):
    table = pd.DataFrame({"id": list("abcdef"), "t": [1, 2, 3, 4, 5, 6], "c": values})
    accounts, _ = contractual_accounts(table, account_col="id", tenure_col="t", churned_col="c",
                                       time_unit="month")
    assert accounts["churned"].tolist() == expected
    assert accounts.index.name == "id" and accounts.attrs["time_unit"] == "month"


@pytest.mark.parametrize("change,message", [
    ({"c": ["yes", "maybe", "no"]}, r"column 'c' \(churned\) must say .* first account ids "
                                    r"\['b'\], values \['maybe'\]"),
    ({"c": [1, 2, 0]}, r"column 'c' \(churned\).*values \[2\]"),
    ({"c": ["yes", None, "no"]}, r"column 'c' \(churned\).*first account ids \['b'\]"),
    ({"t": [1, 2.5, 3]}, r"column 't' \(tenure.*whole number >= 0.*\['b'\]"),
    ({"t": [1, -1, 3]}, r"column 't' \(tenure.*\['b'\]"),
    ({"t": [0, 2, 3]}, r"cancelled accounts must have 't' >= 1.*\['a'\]"),
    ({"id": ["a", "a", "c"]}, r"column 'id' must hold one row per account.*\['a'\]"),
    ({"id": ["a", None, "c"]}, r"column 'id' \(account ids\) is missing in 1 row"),
])
def test_bad_account_tables_name_the_column_and_rows(change, message):
    table = pd.DataFrame({"id": ["a", "b", "c"], "t": [1, 2, 3], "c": ["yes", "no", "no"]})
    table = table.assign(**change)
    with pytest.raises(DataError, match=message):
        contractual_accounts(table, account_col="id", tenure_col="t", churned_col="c",
                             time_unit="month")


def test_missing_columns_are_named_with_their_option(table):
    with pytest.raises(DataError, match=r"'Churned' \(churned_col, --churned-col\).*not in the "
                                        r"accounts table"):
        contractual_accounts(table, account_col="customerID", tenure_col="tenure",
                             churned_col="Churned", time_unit="month")
    with pytest.raises(DataError, match=r"'Plan' \(covariates\[0\], --covariates\)"):
        contractual_accounts(table, covariates=["Plan"], time_unit="month", **COLUMNS)


def test_text_covariates_become_dummies_and_unseen_categories_are_refused(jobs, table):
    _, _, covariate = jobs
    accounts = covariate.accounts(table)
    assert accounts["Contract=Two year"].sum() == (table["Contract"] == "Two year").sum()
    changed = table.assign(Contract=table["Contract"].replace("Two year", "Three year"))
    with pytest.raises(DataError, match=r"covariate column 'Contract' has values the model was "
                                        r"not fitted on.*\['Three year'\]"):
        covariate.accounts(changed)
    many = table.assign(Contract=table["customerID"])
    with pytest.raises(DataError, match="at most 20 categories"):
        contractual_accounts(many, covariates=["Contract"], time_unit="month", **COLUMNS)
    with pytest.raises(DataError, match="single value"):
        contractual_accounts(table.assign(Contract="x"), covariates=["Contract"],
                             time_unit="month", **COLUMNS)


# -------------------------------------------------------------------- scoring
def test_scores_have_the_documented_columns_and_match_the_library(jobs, table):
    _, cohort, _ = jobs
    accounts = cohort.accounts(table)
    chunks = list(score_chunks(cohort, accounts, seed=7, chunk_customers=10_000, **SCORE))
    assert len(chunks) == 1
    scores = chunks[0]
    assert list(scores.columns) == list(CONTRACTUAL_SCORE_COLUMNS)[:8]
    expected = contractual_lifetime_value(
        cohort.churn, accounts.sort_index(),
        random_state=np.random.default_rng(np.random.SeedSequence([7, 0])), **SCORE)
    pd.testing.assert_frame_equal(scores, expected)


def test_chunks_follow_the_seed_scheme(jobs, table):
    """Chunk k uses SeedSequence([seed, k]): the same inputs give the same scores, and
    the point values do not depend on the chunking."""
    _, _, covariate = jobs
    accounts = covariate.accounts(table).sample(frac=1.0, random_state=0)  # any row order
    run = [pd.concat(score_chunks(covariate, accounts, seed=3, chunk_customers=1000, **SCORE))
           for _ in range(2)]
    pd.testing.assert_frame_equal(run[0], run[1])
    assert run[0].index.is_monotonic_increasing and len(run[0]) == 7043
    other = pd.concat(score_chunks(covariate, accounts, seed=3, chunk_customers=3000, **SCORE))
    point = ["probability_renewal", "discounted_expected_residual_lifetime", "expected_clv"]
    pd.testing.assert_frame_equal(run[0][point], other[point])
    for k, part in enumerate(score_chunks(covariate, accounts, seed=3, chunk_customers=1000,
                                          **SCORE)):
        ordered = accounts.sort_index().iloc[1000 * k:1000 * (k + 1)]
        again = covariate.score(ordered, np.random.default_rng(np.random.SeedSequence([3, k])),
                                SCORE)
        pd.testing.assert_frame_equal(part, again)
        if k == 1:
            break


def test_acquisition_cost_adds_three_columns(jobs, table, tmp_path):
    _, cohort, _ = jobs
    accounts = cohort.accounts(table.assign(cac=200.0))
    rows = score_to_file(cohort, accounts, tmp_path / "s.parquet", acquisition_cost_col="cac",
                         **SCORE)
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert rows == 7043 and list(scores.columns) == list(CONTRACTUAL_SCORE_COLUMNS)
    np.testing.assert_allclose(scores.net_value, scores.expected_clv - 200.0)


@pytest.mark.parametrize("options,message", [
    ({"revenue_col": "Revenue"}, r"revenue_col column 'Revenue' \(--revenue-col\) is not in"),
    ({"acquisition_cost_col": "cac"}, r"acquisition_cost_col column 'cac' "
                                      r"\(--acquisition-cost-col\)"),
])
def test_scoring_checks_value_columns_first(jobs, table, tmp_path, options, message):
    _, cohort, _ = jobs
    with pytest.raises(DataError, match=message):
        score_to_file(cohort, cohort.accounts(table), tmp_path / "x.parquet",
                      **{**SCORE, **options})
    assert not list(tmp_path.iterdir())


def test_negative_revenue_and_other_units_are_refused(jobs, table, tmp_path):
    _, cohort, _ = jobs
    accounts = cohort.accounts(table)
    accounts.loc[accounts.index[:2], "MonthlyCharges"] = -1.0
    with pytest.raises(DataError, match=r"'MonthlyCharges' must be finite and >= 0; 2 row"):
        score_to_file(cohort, accounts, tmp_path / "x.parquet", **SCORE)
    weekly = cohort.accounts(table)
    weekly.attrs["time_unit"] = "week"
    with pytest.raises(IncompatibleModelError, match="fitted in 'month'"):
        list(score_chunks(cohort, weekly, **SCORE))


def test_dask_engine_gives_the_local_bytes(jobs, table):
    pytest.importorskip("dask.distributed")
    from clvmodels.distributed import score_to_file_dask

    d, _, covariate = jobs
    accounts = covariate.accounts(table)
    kw = dict(seed=2, chunk_customers=2500, **SCORE)
    score_to_file(covariate, accounts, d / "local.parquet", **kw)
    score_to_file_dask(covariate, accounts, d / "dask.parquet", n_workers=1, **kw)
    assert (d / "local.parquet").read_bytes() == (d / "dask.parquet").read_bytes()
