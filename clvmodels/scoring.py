"""Batch scoring: fit-and-save jobs, chunked per-account scoring with bounded memory,
atomic outputs, and the same results on one machine or on Dask.

A *job* is a directory holding ``job.json`` (kind, column names, time unit, fit
settings) and the fitted models: ``transactions/`` and ``spend/`` for a
non-contractual job (BG/NBD + Gamma-Gamma, :class:`Job`), ``churn/`` for a
contractual one (sBG, :class:`ContractualJob`).

A non-contractual job may take customer covariates (:mod:`clvmodels.models.covariates`):
``job.json`` then records them under ``customer_covariates`` (the columns of each
model and where they came from), and the data to score must carry the same columns:
:meth:`Job.attach_covariates` joins them from a table with one row per customer
(``clvmodels score --covariates-file``), refusing customers without a row.

Scoring splits the accounts, in id order, into fixed-size chunks; chunk ``k`` draws
its random numbers from ``SeedSequence([seed, k])``. The output therefore depends
only on the inputs, the seed and the chunk size — not on the engine, the number of
workers or the order in which chunks finish — and is byte-identical between runs.
Both kinds of job go through the same chunking (:func:`score_chunks`); a job's
``score`` method values one chunk.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import xarray as xr

from .data.purchase_days import check_id_types
from .data.subscriptions import _BOOL_WORDS, snapshot_entry
from .errors import DataError, DataWarning, FitError, IncompatibleModelError, format_examples
from .io import (check_job_dir, check_job_target, old_sibling, temporary_dir, uninterrupted,
                 write_table_chunks)
from .models import GammaGammaModel, ShiftedBetaGeoCovariateModel, ShiftedBetaGeoModel
from .models.churn.base import ChurnModel
from .models.inputs import check_fit_data
from .models.persistence import load_model
from .models.purchase.base import PurchaseModel
from .timeunits import TIME_UNITS, check_time_unit
from .value.contractual import _account_column, contractual_lifetime_value
from .value.purchase import customer_lifetime_value

__all__ = ["Job", "ContractualJob", "fit_job", "fit_contractual_job", "load_job", "save_job",
           "contractual_accounts", "score_chunks", "score_to_file", "SCORE_COLUMNS",
           "CONTRACTUAL_SCORE_COLUMNS"]

JOB_FORMAT = "clvmodels-job"
JOB_VERSION = 1

#: output schema of ``score`` for a non-contractual job: name -> (unit, meaning); also in
#: the README
SCORE_COLUMNS = {
    "probability_alive": ("probability", "P(still a customer at the observation end)"),
    "expected_purchases": ("purchases", "expected purchases over the horizon (undiscounted)"),
    "expected_spend": ("currency per purchase", "expected amount of a future purchase"),
    "expected_clv": ("currency", "expected discounted margin over the horizon"),
    "expected_clv_lower": ("currency", "lower bound of the credible interval of expected_clv"),
    "expected_clv_upper": ("currency", "upper bound of the credible interval of expected_clv"),
    "clv_predictive_lower": ("currency", "lower bound of the predictive interval of realized CLV"),
    "clv_predictive_upper": ("currency", "upper bound of the predictive interval of realized CLV"),
}

#: output schema of ``score`` for a contractual job (the last three only with an
#: acquisition-cost column): name -> (unit, meaning); also in the README
CONTRACTUAL_SCORE_COLUMNS = {
    "probability_renewal": ("probability", "P(the account renews at its next renewal); 0 for "
                            "cancelled accounts"),
    "expected_residual_lifetime": ("periods", "expected further renewals (undiscounted); inf "
                                   "when the fitted alpha <= 1"),
    "discounted_expected_residual_lifetime": ("periods of revenue", "DERL: expected renewals "
                                              "discounted at the discount rate, next one "
                                              "undiscounted, no growth"),
    "expected_clv": ("currency", "expected margin of all future renewals, discounted (with "
                     "growth); the account is valued just before its next renewal"),
    "expected_clv_lower": ("currency", "lower bound of the credible interval of expected_clv"),
    "expected_clv_upper": ("currency", "upper bound of the credible interval of expected_clv"),
    "clv_predictive_lower": ("currency", "lower bound of the predictive interval of realized CLV"),
    "clv_predictive_upper": ("currency", "upper bound of the predictive interval of realized CLV"),
    "acquisition_cost": ("currency", "the acquisition-cost column, as given"),
    "net_value": ("currency", "expected_clv - acquisition_cost"),
    "ltv_to_cac": ("ratio", "expected_clv / acquisition_cost (inf for a zero cost)"),
}

_CHURN_DIR = "churn"
_MAX_LEVELS = 20  # categories of one covariate column


def _rng(seed: int, k: int) -> np.random.Generator:
    """The random stream of chunk ``k``."""
    return np.random.default_rng(np.random.SeedSequence([seed, k]))


@dataclass
class Job:
    """A fitted non-contractual job: both models and how their data were read."""

    transactions: PurchaseModel
    spend: GammaGammaModel
    meta: dict = field(default_factory=dict)

    kind: ClassVar[str] = "noncontractual"
    columns: ClassVar[dict] = SCORE_COLUMNS

    @property
    def covariate_columns(self) -> list[str]:
        """The covariate columns the job's models take (purchase model first), ``[]``
        without covariates; the data to score must carry them."""
        from .models.covariates import CovariateMixin

        out: list[str] = []
        for model in (self.transactions, self.spend):
            if isinstance(model, CovariateMixin):
                out += [c for c in model.covariate_columns() if c not in out]
        return out

    def attach_covariates(self, summary: pd.DataFrame, table: pd.DataFrame, *,
                          owner: str = "Job.attach_covariates") -> pd.DataFrame:
        """``summary`` with the job's covariate columns joined on from ``table`` (one row
        per customer, ids in the job's customer column), for scoring.

        :func:`~clvmodels.data.covariates.attach_covariates` with its errors (a
        customer of ``summary`` without a row, a customer on two rows, a missing
        column or value), without its fitting checks (one customer, or customers of one
        level, may be scored). Values of these columns already in ``summary`` are
        replaced by the table's. Ids that differ from the summary's only in type (text
        against whole numbers, as a CSV file and a Parquet file may give them) are
        matched.
        """
        from .data.covariates import attach_covariates

        columns = self.covariate_columns
        if not columns:
            raise IncompatibleModelError(
                f"{owner}: the job was fitted without covariates, so it takes none; score "
                "the summary as it is.", cli_message=f"{owner}: the job was fitted without "
                "covariates; drop --covariates-file.")
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"The 'table' parameter of {owner} must be a pandas DataFrame "
                            f"(one row per customer). Got {type(table).__name__} instead.")
        customer_col = self.meta.get("columns", {}).get("customer_col") or "customer_id"
        table = _ids_typed_as(table, customer_col, summary.index)
        base = summary.drop(columns=[c for c in columns if c in summary.columns])
        base.attrs = dict(summary.attrs)
        return attach_covariates(base, table, columns=columns, customer_col=customer_col,
                                 check_variation=False, owner=owner)

    def check(self, summary: pd.DataFrame, options: dict) -> None:
        """Refuse data the job cannot score, before any chunk runs."""
        check_summary_matches(self, summary)

    def score(self, part: pd.DataFrame, rng: np.random.Generator, options: dict) -> pd.DataFrame:
        """Scores of one chunk (:func:`clvmodels.customer_lifetime_value`); customers
        whose repeat purchases add up to nothing are valued as :func:`zero_spend_limit`
        says."""
        return customer_lifetime_value(self.transactions, self.spend, zero_spend_limit(part)[0],
                                       random_state=rng, **options)


@dataclass
class ContractualJob:
    """A fitted contractual job: the sBG churn model (cohort or covariate) and how its
    accounts table was read (``meta['columns']``, ``meta['covariate_levels']``)."""

    churn: ChurnModel
    meta: dict = field(default_factory=dict)

    kind: ClassVar[str] = "contractual"
    columns: ClassVar[dict] = CONTRACTUAL_SCORE_COLUMNS

    def accounts(self, table: pd.DataFrame) -> pd.DataFrame:
        """The model's per-account frame from a table shaped like the fitting table
        (:func:`contractual_accounts` with the job's columns and covariate levels)."""
        cols = self.meta["columns"]
        return contractual_accounts(
            table, account_col=cols["account_col"], tenure_col=cols["tenure_col"],
            churned_col=cols["churned_col"], covariates=self.meta.get("covariates", ()),
            levels=self.meta.get("covariate_levels", {}), time_unit=self.meta["time_unit"],
            entry_col=cols.get("entry_col"),
            observed_periods=self.meta.get("observed_periods"))[0]

    def check(self, accounts: pd.DataFrame, options: dict) -> None:
        """Validate every account and the value columns before any chunk runs."""
        check_summary_matches(self, accounts)
        owner = "clvmodels score"
        self.churn.account_columns(accounts, owner, need_churned=False)
        for name in ("revenue_col", "acquisition_cost_col"):
            col = options.get(name)
            if col is None:
                continue
            if col not in accounts.columns:
                flag = "--" + name.replace("_", "-")
                raise DataError(f"{owner}: the {name} column {col!r} ({flag}) is not in the "
                                f"accounts; they have {list(accounts.columns)[:20]}. Pass the "
                                "right column name.")
            _account_column(accounts, col, name, owner)

    def score(self, part: pd.DataFrame, rng: np.random.Generator, options: dict) -> pd.DataFrame:
        """Scores of one chunk (:func:`clvmodels.contractual_lifetime_value`)."""
        return contractual_lifetime_value(self.churn, part, random_state=rng, **options)


def _ids_typed_as(table: pd.DataFrame, customer_col: str, index: pd.Index) -> pd.DataFrame:
    """``table`` with its ids in the type of ``index`` when they differ only in type:
    whole numbers as text for text ids, text of whole numbers as int64 for integer ids
    (a CSV file read with text ids against a Parquet file with numbers)."""
    if customer_col not in table.columns or len(index) == 0:
        return table
    ids = table[customer_col]
    text_index = pd.api.types.is_object_dtype(index) or pd.api.types.is_string_dtype(index)
    if text_index and pd.api.types.is_integer_dtype(ids):
        return table.assign(**{customer_col: ids.astype(str)})
    if (pd.api.types.is_integer_dtype(index)
            and (pd.api.types.is_object_dtype(ids) or pd.api.types.is_string_dtype(ids))):
        text = ids.astype("string").str.strip()
        if text.str.fullmatch(r"[+-]?\d{1,18}").fillna(False).all():
            return table.assign(**{customer_col: text.astype("int64").to_numpy()})
    return table


# ------------------------------------------------------------------ job files
def _write_job(out_dir, overwrite: bool, meta: dict, save_models: Callable[[Path], None]) -> None:
    """Write a job directory atomically: models and ``job.json`` go to a temporary
    sibling that replaces ``out_dir`` once complete."""
    target = check_job_target(out_dir, overwrite)
    if not target.parent.is_dir():
        try:  # a new folder for the job (e.g. --out models/churn with no models/ yet)
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileNotFoundError(f"Cannot write {str(target)!r}: the folder "
                                    f"{str(target.parent)!r} cannot be created ({exc}).") from None
    tmp = temporary_dir(target)  # the usual mode of a new folder, not mkdtemp's 0700
    old = None
    try:
        save_models(tmp)
        (tmp / "job.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        with uninterrupted():  # the old job is never gone without the new one in place
            if target.exists():
                if not (target / "job.json").is_file():
                    raise FileExistsError(f"Refusing to replace {str(target)!r}: it is not a "
                                          "clvmodels model directory.")
                old = old_sibling(target)
                os.replace(target, old)
                try:
                    os.replace(tmp, target)
                except BaseException:
                    os.replace(old, target)
                    old = None
                    raise
            else:
                os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def save_job(job: Job | ContractualJob, out_dir: str | os.PathLike, *,
             overwrite: bool = False) -> Path:
    """Write a fitted job (as :func:`fit_job`, :func:`fit_contractual_job` or
    :func:`load_job` return it) to a job directory, atomically, as those write it:
    ``job.json`` and the models' JSON + netCDF files. Returns the directory."""
    if isinstance(job, Job):
        def save(tmp: Path) -> None:
            job.transactions.save(tmp / "transactions")
            job.spend.save(tmp / "spend")
    elif isinstance(job, ContractualJob):
        def save(tmp: Path) -> None:
            _save_churn_model(job.churn, tmp / _CHURN_DIR)
    else:
        raise TypeError(f"The 'job' parameter of save_job must be a Job or a ContractualJob "
                        f"(fit_job, fit_contractual_job, load_job). Got {type(job).__name__} "
                        "instead.")
    _write_job(out_dir, overwrite, job.meta, save)
    return Path(out_dir)


def _job_meta(kind: str, **fields) -> dict:
    from . import __version__

    return {"format": JOB_FORMAT, "format_version": JOB_VERSION, "clvmodels_version": __version__,
            "kind": kind, **fields}


#: continuous-time purchase models by the name the API and the CLI use (``--model``);
#: "auto" compares these
PURCHASE_MODELS = {"bgnbd": "BetaGeoModel", "mbgnbd": "ModifiedBetaGeoModel",
                   "pnbd": "ParetoNBDModel"}
#: the Erlang-k models of regular purchase timing, by their ``--model`` name: fitted from a
#: summary with ``log_gap_sum`` (``rfm_summary(..., regularity=True)``: the order k is
#: chosen on the gaps), not compared by "auto" (each fit tries several orders; see
#: bench/README.md, "Regularity models")
ERLANG_MODELS = {"mbgcnbd": "ModifiedBetaGeoCNBDModel", "bgcnbd": "BetaGeoCNBDModel"}
#: discrete-time purchase models (a summary of transaction periods, ``discrete_summary``)
DISCRETE_MODELS = {"bgbb": "BetaGeoBetaBinomModel"}
#: the purchase models with a covariate version (:mod:`clvmodels.models.covariates`)
COVARIATE_MODELS = {"bgnbd": "BetaGeoCovariateModel", "mbgnbd": "ModifiedBetaGeoCovariateModel",
                    "pnbd": "ParetoNBDCovariateModel", "bgbb": "BetaGeoBetaBinomCovariateModel"}


def purchase_model_class(name: str, *, covariates: bool = False):
    """The purchase model class for a name in :data:`PURCHASE_MODELS`,
    :data:`ERLANG_MODELS` or :data:`DISCRETE_MODELS`; with ``covariates``, its covariate
    version (:data:`COVARIATE_MODELS`).

    >>> purchase_model_class("pnbd").__name__
    'ParetoNBDModel'
    >>> purchase_model_class("bgnbd", covariates=True).__name__
    'BetaGeoCovariateModel'
    """
    import clvmodels

    names = {**PURCHASE_MODELS, **ERLANG_MODELS, **DISCRETE_MODELS}
    if name not in names:
        raise ValueError(f"The 'model' parameter must be one of {sorted(names)} or "
                         f"'auto'. Got {name!r} instead.")
    if covariates:
        if name not in COVARIATE_MODELS:
            raise IncompatibleModelError(
                f"model={name!r} ({names[name]}) has no covariate version; the purchase "
                f"models that take covariates are {', '.join(COVARIATE_MODELS)} (and 'auto', "
                "which compares the first three). Choose one of them, or fit without "
                "covariates.")
        return getattr(clvmodels, COVARIATE_MODELS[name])
    return getattr(clvmodels, names[name])


def _covariate_list(value, name: str) -> list[str]:
    """A list of distinct column names from None, a name or a sequence of names."""
    if value is None:
        return []
    value = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(c, str) and c for c in value) or len(set(value)) != len(value):
        raise ValueError(f"The '{name}' parameter of fit_job must be a list of distinct column "
                         f"names. Got {value!r} instead.")
    return value


def choose_purchase_model(summary: pd.DataFrame, *, holdout: pd.DataFrame | None = None,
                          method: str = "mle", seed: int | None = None, max_iter: int = 1000,
                          covariates=None):
    """Fit every purchase model of :data:`PURCHASE_MODELS` and pick one: by holdout MAE
    when a calibration/holdout summary is given (the models are fitted on its
    calibration part and scored on its holdout), else by BIC on ``summary``. Returns
    ``(name, table)``: the chosen name and the comparison table (one row per model;
    :func:`clvmodels.evaluation.comparison.compare_models` with a holdout).
    ``covariates`` (column names of the summaries): compare the covariate versions."""
    from .evaluation.comparison import compare_models

    data = holdout if holdout is not None else summary
    covariates = _covariate_list(covariates, "covariates")
    settings = {"covariates": covariates} if covariates else {}
    fitted = {}
    for name in PURCHASE_MODELS:
        try:
            fitted[name] = purchase_model_class(name, covariates=bool(covariates))(
                random_state=seed, max_iter=max_iter, **settings).fit(data, method=method)
        except FitError:
            continue
    if not fitted:
        raise FitError("no purchase model could be fitted to these data (tried "
                       f"{sorted(PURCHASE_MODELS)}); check the summary.")
    if holdout is not None:
        table = compare_models(fitted, holdout, levels=(0.9,), n_samples=500,
                               random_state=seed or 0)
        return str(table.index[0]), table  # sorted by holdout MAE
    rows = {n: {"log_likelihood": m.log_likelihood_, "parameters": len(m.param_names),
                "aic": m.aic_, "bic": len(m.param_names) * np.log(len(data))
                - 2 * m.log_likelihood_} for n, m in fitted.items()}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model").sort_values("bic")
    return str(table.index[0]), table


def fit_job(summary: pd.DataFrame, out_dir: str | os.PathLike, *, columns: dict,
            method: str = "mle", seed: int | None = None, overwrite: bool = False,
            model: str = "bgnbd", holdout: pd.DataFrame | None = None,
            max_iter: int = 1000, covariates=None, spend_covariates=None,
            covariate_source: str | None = None) -> Job:
    """Fit a purchase model (``model``: "bgnbd", "mbgnbd", "pnbd", "mbgcnbd", "bgcnbd"
    (Erlang-k timing; ``summary`` best with ``log_gap_sum``), or "auto": the best
    by holdout MAE when ``holdout`` — a calibration/holdout summary — is given, else by
    BIC; :func:`choose_purchase_model`; or "bgbb" on a discrete summary of transaction
    periods, :func:`~clvmodels.data.discrete.discrete_summary`) and Gamma-Gamma to
    ``summary`` and save both, with the column names, time unit and observation end
    (and the period layout of a discrete summary), as one directory (written
    atomically). ``job.meta['model_comparison']`` holds the comparison with "auto".

    Customer covariates: ``covariates`` names columns of ``summary`` (and of
    ``holdout``; attach them with ``rfm_summary(..., covariates=table,
    covariate_cols=[...])``) that act on the purchase and drop-out sides of the
    purchase model (its covariate version, :data:`COVARIATE_MODELS`; the Erlang-k models
    have none) and, unless ``spend_covariates`` says otherwise (``[]``: none), on
    Gamma-Gamma's spend side. ``job.json`` records them under ``customer_covariates``
    with ``covariate_source`` (where they came from, e.g. the file), and scoring then
    needs them (:meth:`Job.attach_covariates`)."""
    discrete = model in DISCRETE_MODELS
    check_job_target(out_dir, overwrite)
    check_fit_summary(summary)
    covariates = _covariate_list(covariates, "covariates")
    spend_covariates = (list(covariates) if spend_covariates is None
                        else _covariate_list(spend_covariates, "spend_covariates"))
    if covariates and model != "auto":
        purchase_model_class(model, covariates=True)  # refuses a model without a version
    needed = covariates + [c for c in spend_covariates if c not in covariates]
    # the holdout serves the choice of the purchase model only
    for name, frame, cols in (("summary", summary, needed), ("holdout", holdout, covariates)):
        missing = [c for c in cols if frame is not None and c not in frame.columns]
        if missing:
            raise DataError(
                f"fit_job: covariate column(s) {missing} are not in the {name}; it has "
                f"{list(frame.columns)[:20]}. Attach them with rfm_summary(..., "
                "covariates=table, covariate_cols=[...]) (calibration_holdout_summary for a "
                "holdout) or clvmodels.attach_covariates(summary, table).")
    if discrete != ("n_periods" in summary.columns):
        raise ValueError(f"model={model!r} takes " + (
            "a discrete summary of transaction periods (discrete_summary: frequency, recency, "
            "n_periods)" if discrete else "an RFM summary (rfm_summary: frequency, recency, T)")
            + f"; the summary given has columns {list(summary.columns)[:8]}.")
    comparison = None
    if model == "auto":
        model, table = choose_purchase_model(summary, holdout=holdout, method=method, seed=seed,
                                             max_iter=max_iter, covariates=covariates)
        comparison = json.loads(table.to_json(orient="index"))
    bg = purchase_model_class(model, covariates=bool(covariates))(
        random_state=seed, max_iter=max_iter,
        **({"covariates": covariates} if covariates else {})).fit(summary, method=method)
    spend_data, n_zero = zero_spend_limit(summary, for_fit=True)
    paying = int((pd.to_numeric(spend_data["frequency"], errors="coerce") > 0).sum()) \
        if "frequency" in spend_data.columns else 0
    if n_zero and paying < 2:
        raise DataError(
            f"{n_zero:,} customer(s) with repeat purchases spent nothing on them (mean spend 0 "
            f"or less), e.g. {format_examples(_zero_spend_ids(summary))}, and only {paying} "
            "spent anything: Gamma-Gamma needs at least 2 customers with positive repeat spend "
            "to learn how spend varies. Check the amount column (are these amounts?).")
    if n_zero:
        warnings.warn(
            f"{n_zero:,} customer(s) with repeat purchases spent nothing on them (mean spend "
            f"0 or less: free items, or refunds netting out), e.g. "
            f"{format_examples(_zero_spend_ids(summary))}. Gamma-Gamma models positive "
            "spend, so it is fitted without them; they are scored with its expected spend at "
            "a mean spend of 0 (p gamma / (p x + q - 1): below the population mean, and lower "
            "the more free purchases were seen), and their purchases still count.",
            DataWarning, stacklevel=2)
    if spend_covariates:
        from .models import GammaGammaCovariateModel

        gg = GammaGammaCovariateModel(covariates=spend_covariates, random_state=seed,
                                      max_iter=max_iter).fit(spend_data, method=method)
    else:
        gg = GammaGammaModel(random_state=seed, max_iter=max_iter).fit(spend_data, method=method)
    recorded = ({"columns": needed, "purchase": covariates, "spend": spend_covariates,
                 "source": covariate_source} if needed else None)
    meta = _job_meta(
        "noncontractual", columns=dict(columns), time_unit=summary.attrs.get("time_unit"),
        observation_end=summary.attrs.get("observation_end"), method=method, seed=seed,
        customers=int(len(summary)), model=model, transaction_model=type(bg).__name__,
        model_comparison=comparison, boundary=getattr(bg, "boundary_", None),
        **({"customer_covariates": recorded} if recorded else {}),
        **({"summary": "discrete", "period_start": summary.attrs.get("start")}
           if discrete else {}))

    def save(tmp: Path) -> None:
        bg.save(tmp / "transactions")
        gg.save(tmp / "spend")

    _write_job(out_dir, overwrite, meta, save)
    return Job(bg, gg, meta)


def _zero_spend_mask(summary: pd.DataFrame) -> np.ndarray:
    if "monetary_value" not in summary.columns or "frequency" not in summary.columns:
        return np.zeros(len(summary), dtype=bool)
    m = pd.to_numeric(summary["monetary_value"], errors="coerce").to_numpy(np.float64,
                                                                         na_value=np.nan)
    x = pd.to_numeric(summary["frequency"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    return (x > 0) & (m <= 0)


def _zero_spend_ids(summary: pd.DataFrame) -> list:
    return summary.index[_zero_spend_mask(summary)][:5].tolist()


def zero_spend_limit(summary: pd.DataFrame, *, for_fit: bool = False) -> tuple[pd.DataFrame, int]:
    """Customers with repeat purchases whose mean spend is 0 or less (free items, or
    refunds netting out), and the summary Gamma-Gamma can take.

    Gamma-Gamma models positive spend. For its fit (``for_fit``) such customers are
    left out, like one-time buyers (their frequency set to 0 in the copy given to it);
    for scoring their mean spend becomes the smallest positive float, which gives the
    model's expected spend at a mean spend of 0: ``p gamma / (p x + q - 1)``, below
    the population mean and shrinking with every free purchase seen. Returns the
    summary to use and how many customers were changed."""
    zero = _zero_spend_mask(summary)
    n = int(zero.sum())
    if not n:
        return summary, 0
    out = summary.copy()
    out.attrs = dict(summary.attrs)
    if for_fit:
        out.loc[zero, "frequency"] = 0
        out.loc[zero, "recency"] = 0.0
    else:
        out.loc[zero, "monetary_value"] = np.finfo(np.float64).tiny
    return out, n


def check_fit_summary(summary: pd.DataFrame) -> None:
    """Name degenerate data before fitting, in words: nobody with a repeat purchase, no
    customer observed for any time (T = 0 everywhere), absurd mean spend
    (:func:`clvmodels.models.inputs.check_fit_data`, which every purchase and spend
    model also runs when fitted)."""
    check_fit_data(summary, "")


def fit_contractual_job(
    table: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    period: str,
    account_col: str = "account_id",
    tenure_col: str = "tenure",
    churned_col: str = "churned",
    covariates: Sequence[str] = (),
    revenue_col: str | None = None,
    entry_col: str | None = None,
    observed_periods: int | None = None,
    segment_col: str | None = None,
    model: str = "sbg",
    method: str = "mle",
    seed: int | None = None,
    overwrite: bool = False,
    max_iter: int = 1000,
) -> ContractualJob:
    """Fit the sBG churn model to a per-account table and save it as a job directory
    (``churn/`` + ``job.json``, written atomically).

    Parameters
    ----------
    table : DataFrame
        One row per account (see :func:`contractual_accounts` for the columns).
    period : {"day", "week", "month", "year"}
        Length of one renewal period, the unit of ``tenure``.
    covariates : sequence of str
        Columns that shift churn (:class:`~clvmodels.ShiftedBetaGeoCovariateModel`);
        numbers as they are, text as 0/1 columns per category (the first category in
        sorted order is the reference). Empty: the cohort model.
    revenue_col : str, optional
        Recorded in ``job.json`` as the default revenue column for scoring and the
        report (checked to exist).
    entry_col, observed_periods : optional
        How the accounts were observed (see :func:`contractual_accounts`): a column of
        renewal decisions survived before observation began, or the number of last
        decisions observed per account (1 for a snapshot such as Telco). Recorded in
        ``job.json``.
    segment_col : str, optional
        Fit one churn model per segment of this column
        (:class:`~clvmodels.models.churn.segmented.SegmentedChurnModel`), for segments that
        churn in different ways; not together with ``covariates``.
    model : {"sbg", "bdw", "auto"}
        The churn model: shifted-beta-geometric (default; the geometric model where
        churn does not differ between accounts), beta-discrete-Weibull (churn that
        changes with tenure), or "auto" (per segment, the lower BIC; needs
        ``segment_col``).

    Examples
    --------
    >>> import tempfile
    >>> from clvmodels.datasets import load_telco
    >>> table = load_telco().reset_index()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     job = fit_contractual_job(table.drop(columns="entry"), Path(tmp) / "churn_job",
    ...                               period="month", account_col="customerID",
    ...                               churned_col="Churn", observed_periods=1)
    ...     again = load_job(Path(tmp) / "churn_job")
    >>> job.churn.params_.round(4).tolist(), again.meta["observed_periods"]
    ([8.5032, 5.8535], 1)
    """
    period = check_time_unit(period, "fit_contractual_job", "period")
    check_job_target(out_dir, overwrite)
    if isinstance(covariates, str):
        covariates = [covariates]
    accounts, levels = contractual_accounts(
        table, account_col=account_col, tenure_col=tenure_col, churned_col=churned_col,
        covariates=covariates, time_unit=period, entry_col=entry_col,
        observed_periods=observed_periods)
    if revenue_col is not None and revenue_col not in accounts.columns:
        raise DataError(f"fit_contractual_job: the revenue column {revenue_col!r} (--revenue-col) "
                        f"is not in the accounts table; it has {list(table.columns)[:20]}.")
    names = _model_covariates(covariates, levels)
    from .models.churn.segmented import SegmentedChurnModel, churn_model_class

    if segment_col is not None and names:
        raise DataError("fit_contractual_job: give either covariates (--covariates) or a segment "
                        "column (--segment-col), not both.")
    if model == "auto" and segment_col is None:
        raise DataError("fit_contractual_job: model='auto' (--model auto) picks a model per "
                        "segment; add segment_col (--segment-col).")
    settings = {"time_unit": period, "random_state": seed, "max_iter": max_iter}
    if segment_col is not None:
        churn = SegmentedChurnModel(segment_col=segment_col, model=model, **settings)
    elif names:
        base = churn_model_class(model)
        churn = _covariate_classes()[base.__name__](covariates=names, **settings)
    else:
        churn = churn_model_class(model)(**settings)
    churn.fit(accounts, method=method)
    meta = _job_meta(
        "contractual",
        columns={"account_col": account_col, "tenure_col": tenure_col,
                 "churned_col": churned_col, "revenue_col": revenue_col,
                 "entry_col": entry_col},
        observed_periods=observed_periods,
        covariates=list(covariates), covariate_levels=levels, model_covariates=list(names),
        model=type(churn).__name__, churn_model=model, segment_col=segment_col,
        boundaries={("all" if k is None else str(k)): v
                    for k, v in churn.boundary_statements().items()}, time_unit=period, method=method, seed=seed,
        accounts=int(len(accounts)), churned=int(accounts["churned"].sum()))
    _write_job(out_dir, overwrite, meta, lambda tmp: _save_churn_model(churn, tmp / _CHURN_DIR))
    return ContractualJob(churn, meta)


def load_job(model_dir: str | os.PathLike) -> Job | ContractualJob:
    """Load a directory written by :func:`fit_job` or :func:`fit_contractual_job`,
    with clear errors."""
    path = check_job_dir(model_dir)
    meta_file = path / "job.json"
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as exc:
        raise IncompatibleModelError(f"{str(meta_file)!r} is unreadable ({exc}); refit the "
                                     "model.") from None
    if not isinstance(meta, dict) or meta.get("format") != JOB_FORMAT:
        raise IncompatibleModelError(f"{str(meta_file)!r} is not a clvmodels job file.")
    if int(meta.get("format_version", 0)) > JOB_VERSION:
        raise IncompatibleModelError(
            f"{str(path)!r} was written by clvmodels {meta.get('clvmodels_version')} in job "
            f"format {meta.get('format_version')}; this clvmodels reads up to {JOB_VERSION}. "
            "Upgrade clvmodels.")
    kind = meta.get("kind", "noncontractual")
    _check_job_meta(meta, kind, meta_file)
    if kind == "noncontractual":
        bg = load_model(path / "transactions")
        if not isinstance(bg, PurchaseModel):
            raise IncompatibleModelError(f"{str(path)!r}: 'transactions' holds a "
                                         f"{type(bg).__name__}, not a purchase model; refit "
                                         "the job.")
        gg = load_model(path / "spend", expected_type=GammaGammaModel)
        return Job(bg, gg, meta)
    if kind == "contractual":
        return ContractualJob(_load_churn_model(path / _CHURN_DIR), meta)
    raise IncompatibleModelError(f"{str(meta_file)!r} describes a job of kind {kind!r}; this "
                                 "clvmodels knows 'noncontractual' and 'contractual'. Upgrade "
                                 "clvmodels or refit.")


_JOB_COLUMNS = {"noncontractual": ("customer_col", "date_col"),
                "contractual": ("account_col", "tenure_col", "churned_col")}


def _check_job_meta(meta: dict, kind: object, meta_file: Path) -> None:
    """The fields of ``job.json`` that scoring and the report read, checked once so that
    an edited or damaged file is named instead of failing later with a KeyError."""
    if kind not in _JOB_COLUMNS:
        return  # reported by load_job with the kinds it knows
    problems = []
    columns = meta.get("columns")
    if not isinstance(columns, dict):
        problems.append("'columns' is not a mapping of column names")
    else:
        problems += [f"columns.{k} is {columns.get(k)!r}" for k in _JOB_COLUMNS[kind]
                     if not isinstance(columns.get(k), str)]
        problems += [f"columns.{k} is {v!r}" for k, v in columns.items()
                     if v is not None and not isinstance(v, str)]
    if meta.get("time_unit") not in TIME_UNITS:
        problems.append(f"'time_unit' is {meta.get('time_unit')!r}")
    end = meta.get("observation_end")
    if kind == "noncontractual" and not (end is None or isinstance(end, str)):
        problems.append(f"'observation_end' is {end!r}")
    if problems:
        raise IncompatibleModelError(
            f"{str(meta_file)!r} is damaged or was edited: {'; '.join(problems[:4])}. Fit the "
            "job again (clvmodels fit ... --out DIR --overwrite).")


# The persistence layer saves models whose parameter names are fixed by their class.
# A covariate model's names depend on its covariates, so it is saved as its cohort
# model of the reference accounts (covariates all 0, with their draws and covariance
# block) carrying the full fitted state in one extra fitted attribute,
# ``covariate_model_`` (JSON: arrays, Series and priors, which persistence writes and
# reads), and rebuilt from it on load. A segmented model is a folder per segment plus
# ``segments.json``.
_FULL_STATE = ("params_", "log_params_", "covariance_log_", "priors_")
_SEGMENTS_FILE = "segments.json"


def _covariate_classes() -> dict[str, type]:
    """Covariate model class by the name of its cohort model."""
    from .models.churn.covariates import CovariateChurnMixin

    out = {"ShiftedBetaGeoModel": ShiftedBetaGeoCovariateModel}
    for cls in _subclasses(CovariateChurnMixin):
        if "param_names" not in vars(cls):
            out.setdefault(cls()._cohort_class().__name__, cls)
    return out


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _save_churn_model(model: ChurnModel, path: Path) -> None:
    from .models.churn.covariates import CovariateChurnMixin
    from .models.churn.segmented import SegmentedChurnModel

    if isinstance(model, SegmentedChurnModel):
        path.mkdir()
        for i, key in enumerate(model.segments_):
            _save_churn_model(model.models_[key], path / f"segment_{i}")
        (path / _SEGMENTS_FILE).write_text(json.dumps({
            "segment_col": model.segment_col,
            "segments": [k.item() if hasattr(k, "item") else k for k in model.segments_],
            "model": model.model if isinstance(model.model, str) else model.model.__name__,
            "choice": {str(k): v for k, v in model.model_choice_.items()},
            "time_unit": model.time_unit_,
            "periods": [[k.item() if hasattr(k, "item") else k, v]
                        for k, v in model.periods_.items()],
            "method": model.fit_method_}, indent=2))
        return
    if not isinstance(model, CovariateChurnMixin):
        model.save(path)
        return
    cohort = model._cohort_class()
    base = cohort(**{k: getattr(model, k) for k in _base_settings()})
    ref = [model.param_names.index(n) for n in base.param_names]
    for attr, value in vars(model).items():
        if attr.endswith("_") and not attr.startswith("_"):
            setattr(base, attr, value)
    base.params_ = model.params_.iloc[ref].copy()
    base.log_params_ = np.asarray(model.log_params_)[ref]
    base.covariance_log_ = np.asarray(model.covariance_log_)[np.ix_(ref, ref)]
    base.priors_ = {n: model.priors_[n] for n in base.param_names}
    base.draws_ = model.draws_[list(base.param_names)]
    base.covariate_model_ = {
        "covariates": list(model.covariates),
        "coefficient_prior_sd": float(model.coefficient_prior_sd),
        **{attr: getattr(model, attr) for attr in _FULL_STATE},
        "draws": {n: model.draws_[n].values for n in model.param_names},
    }
    base.save(path)


def _load_churn_model(path: Path) -> ChurnModel:
    if (path / _SEGMENTS_FILE).is_file():
        return _load_segmented(path)
    base = load_model(path)
    if not isinstance(base, ChurnModel):
        raise IncompatibleModelError(f"{path}: holds a {type(base).__name__}, not a churn model; "
                                     "the job is corrupted. Refit it.")
    state = vars(base).pop("covariate_model_", None)
    if state is None:
        return base
    cls = _covariate_classes().get(type(base).__name__)
    if cls is None:
        raise IncompatibleModelError(f"{path}: no covariate version of {type(base).__name__} "
                                     "is known to this clvmodels; refit the job.")
    model = cls(covariates=state["covariates"], coefficient_prior_sd=state["coefficient_prior_sd"],
                **{k: getattr(base, k) for k in _base_settings()})
    for attr, value in vars(base).items():
        if attr.endswith("_") and not attr.startswith("_"):
            setattr(model, attr, value)
    for attr in _FULL_STATE:
        setattr(model, attr, state[attr])
    coords = {d: base.draws_[d].values for d in ("chain", "draw")}
    missing = sorted(set(model.param_names) - set(state["draws"]))
    if missing:
        raise IncompatibleModelError(f"{path}: the saved covariate model lacks draws of "
                                     f"{missing}; the job is corrupted. Refit it.")
    model.draws_ = xr.Dataset({n: (("chain", "draw"), np.asarray(state["draws"][n], float))
                               for n in model.param_names}, coords=coords)
    bad = [n for n in model.param_names
           if not (np.isfinite(model.draws_[n].values).all()
                   and np.isfinite(float(model.params_.get(n, np.nan))))]
    if bad:
        raise IncompatibleModelError(f"{path}: the saved covariate model has non-finite "
                                     f"estimates or draws of {bad[:5]}; the job is corrupted "
                                     "or was edited. Refit it.")
    return model


def _load_segmented(path: Path) -> ChurnModel:
    from .models.churn.segmented import SegmentedChurnModel

    try:
        info = json.loads((path / _SEGMENTS_FILE).read_text())
        labels = list(info["segments"])
        models = [_load_churn_model(path / f"segment_{i}") for i in range(len(labels))]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IncompatibleModelError(f"{path}: the segmented churn model is unreadable ({exc}); "
                                     "refit the job.") from None
    first = models[0]
    out = SegmentedChurnModel(segment_col=info["segment_col"], model=info.get("model", "sbg"),
                              **{k: getattr(first, k) for k in _base_settings()})
    out.models_ = dict(zip(labels, models))
    out.model_choice_ = dict(info.get("choice", {}))
    out.time_unit_ = info.get("time_unit", first.time_unit_)
    out.periods_ = {k: v for k, v in info.get("periods", [])}
    out.periods = dict(out.periods_) or None
    out.observation_end_ = getattr(first, "observation_end_", None)
    out._collect(info.get("method", first.fit_method_))
    return out


def _base_settings() -> list[str]:
    from inspect import signature

    return [p for p in signature(ShiftedBetaGeoModel.__init__).parameters if p != "self"]


# ------------------------------------------------------------- account tables
def contractual_accounts(
    table: pd.DataFrame,
    *,
    account_col: str,
    tenure_col: str,
    churned_col: str,
    time_unit: str,
    covariates: Sequence[str] = (),
    levels: dict | None = None,
    entry_col: str | None = None,
    observed_periods: int | None = None,
) -> tuple[pd.DataFrame, dict]:
    """A per-account table (as read from a CSV or Parquet file) as the sBG model's
    account frame, with errors naming the input's columns.

    The result is indexed by ``account_col`` and holds every input column plus
    ``tenure`` (renewal decisions, see :mod:`clvmodels.data.subscriptions`),
    ``churned`` (bool; the input may say yes/no, true/false or 1/0, any case) and,
    for each text covariate, one 0/1 column ``"<column>=<category>"`` per category
    but the first (the reference). A column named ``weight`` counts the accounts a row
    stands for (see :func:`~clvmodels.data.subscriptions.account_arrays`).

    How the accounts were observed (DESIGN.md principle 7): ``entry_col`` names a
    column of renewal decisions each account had already survived when observation
    began (left truncation); ``observed_periods=k`` says every account was observed for
    its last ``k`` decisions only (a snapshot such as Telco: ``k = 1``, ``entry =
    tenure - 1``). Either sets the frame's ``entry`` column; with neither, accounts are
    taken as observed from acquisition (``entry = 0``) unless the table already has an
    ``entry`` column. ``levels`` (categories per text covariate, from
    the fitting table) is found from the data when None; the categories found are
    returned with the frame. ``attrs['time_unit']`` is set.

    >>> table = pd.DataFrame({"id": ["a", "b", "c"], "months": [3, 1, 12],
    ...                       "Churn": ["No", "yes", "NO"], "plan": ["pro", "basic", "pro"]})
    >>> accounts, levels = contractual_accounts(table, account_col="id", tenure_col="months",
    ...                                         churned_col="Churn", covariates=["plan"],
    ...                                         time_unit="month")
    >>> accounts[["tenure", "churned", "plan=pro"]]  # doctest: +NORMALIZE_WHITESPACE
        tenure  churned  plan=pro
    id
    a        3    False       1.0
    b        1     True       0.0
    c       12    False       1.0
    >>> levels
    {'plan': ['basic', 'pro']}
    """
    owner = "accounts table"
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"The 'table' parameter of contractual_accounts must be a pandas "
                        f"DataFrame (one row per account). Got {type(table).__name__} instead.")
    time_unit = check_time_unit(time_unit, "contractual_accounts")
    if isinstance(covariates, str):
        covariates = [covariates]
    wanted = {"account_col": account_col, "tenure_col": tenure_col, "churned_col": churned_col}
    wanted.update({f"covariates[{i}]": c for i, c in enumerate(covariates)})
    missing = [f"{c!r} ({k}, --{k.split('[')[0].replace('_', '-')})"
               for k, c in wanted.items() if c not in table.columns]
    if missing:
        raise DataError(f"{owner}: column {', '.join(missing)} is not in the accounts table; "
                        f"it has {list(table.columns)[:20]}. Pass the right column names.")
    if len(table) == 0:
        raise DataError(f"{owner}: the accounts table has no rows; it needs one row per account.")
    ids = table[account_col]
    bad = ids.isna().to_numpy()
    if bad.any():
        raise DataError(f"{owner}: column {account_col!r} (account ids) is missing in "
                        f"{int(bad.sum())} row(s), first row positions "
                        f"{format_examples(np.flatnonzero(bad).tolist())}. Fill or drop them.")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataError(f"{owner}: column {account_col!r} must hold one row per account; "
                        f"{int(dup.sum())} row(s) share an id, first ids "
                        f"{format_examples(pd.unique(ids[dup]).tolist())}. Summarize each "
                        "account into one row (subscription_summary does it from billing periods).")
    out = table.set_index(account_col, drop=True)
    index = out.index
    tenure = _tenure_column(out[tenure_col], tenure_col, index, owner)
    churned = _churned_column(out[churned_col], churned_col, index, owner)
    bad = churned & (tenure < 1)
    if bad.any():
        raise DataError(f"{owner}: cancelled accounts must have {tenure_col!r} >= 1 (a churned "
                        f"account was a customer for at least one period); {int(bad.sum())} "
                        f"row(s), first account ids {format_examples(index[bad].tolist())}. Check "
                        "how tenure was counted (see clvmodels.data.subscriptions).")
    new = {"tenure": tenure, "churned": churned}
    if entry_col is not None and observed_periods is not None:
        raise DataError(f"{owner}: give either the entry column ({entry_col!r}, --entry-col) or "
                        f"the observed periods ({observed_periods}, --observed-periods), not "
                        "both.")
    if observed_periods is not None:
        new["entry"] = snapshot_entry(tenure, observed_periods)
    elif entry_col is not None:
        if entry_col not in out.columns:
            raise DataError(f"{owner}: the entry column {entry_col!r} (--entry-col) is not in "
                            f"the accounts table; it has {list(table.columns)[:20]}.")
        new["entry"] = pd.to_numeric(out[entry_col], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(new["entry"])
        if bad.any():
            raise DataError(f"{owner}: the entry column {entry_col!r} must hold numbers (renewal "
                            f"decisions survived before observation began); {int(bad.sum())} "
                            f"row(s) do not, first account ids "
                            f"{format_examples(index[bad].tolist())}.")
    found = dict(levels) if levels is not None else {}
    for col in covariates:
        values = out[col]
        categorical = (col in found if levels is not None
                       else not (pd.api.types.is_numeric_dtype(values)
                                 or pd.api.types.is_bool_dtype(values)))
        if not categorical:
            continue
        text = values.astype("string")
        if levels is None:
            found[col] = _levels(text, col, owner)
        unknown = ~text.isin(found[col]).to_numpy(dtype=bool, na_value=False)
        if unknown.any():
            raise DataError(
                f"{owner}: covariate column {col!r} has values the model was not fitted on in "
                f"{int(unknown.sum())} row(s), first account ids "
                f"{format_examples(index[unknown].tolist())}; values "
                f"{format_examples(pd.unique(text[unknown].fillna('<missing>')).tolist())}. The "
                f"model knows {found[col]}: map the new values to one of them, or refit.")
        for level in found[col][1:]:
            new[f"{col}={level}"] = (text == level).to_numpy(dtype=np.float64)
    out = out.assign(**new)
    out.attrs = {"time_unit": time_unit}
    return out, found


def _model_covariates(covariates, levels) -> list[str]:
    """Model covariate names: numeric columns as they are, text columns as dummies."""
    names = []
    for col in covariates:
        names += [f"{col}={lv}" for lv in levels[col][1:]] if col in levels else [col]
    return names


def _levels(text: pd.Series, col: str, owner: str) -> list[str]:
    values = sorted(text.dropna().unique().tolist())
    if len(values) > _MAX_LEVELS:
        raise DataError(f"{owner}: covariate column {col!r} holds text with {len(values)} "
                        f"distinct values (first {format_examples(values)}); a text covariate "
                        f"may have at most {_MAX_LEVELS} categories. Use a coarser grouping, a "
                        "numeric column, or leave it out.")
    if len(values) < 2:
        raise DataError(f"{owner}: covariate column {col!r} has a single value "
                        f"{format_examples(values)}, so it cannot explain churn; leave it out.")
    return values


def _tenure_column(col: pd.Series, name: str, index: pd.Index, owner: str) -> np.ndarray:
    v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(v) | (v < 0) | (v != np.round(v))
    if bad.any():
        raise DataError(
            f"{owner}: column {name!r} (tenure: renewal decisions observed) must be a whole "
            f"number >= 0; {int(bad.sum())} row(s) are not, first account ids "
            f"{format_examples(index[bad].tolist())}, values "
            f"{format_examples(col[bad].tolist())}. Fix or drop those accounts, or pass the "
            "right --tenure-col.")
    return v.astype(np.int64)


def _churned_column(col: pd.Series, name: str, index: pd.Index, owner: str) -> np.ndarray:
    """yes/no, true/false, 1/0 (any case, bool or numbers too) as a bool array."""
    if pd.api.types.is_bool_dtype(col) and not col.isna().any():
        return col.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
        parsed = pd.Series(np.where(v == 1.0, True, np.where(v == 0.0, False, None)),
                           index=col.index)
    else:
        parsed = col.astype("string").str.strip().str.lower().map(_BOOL_WORDS)
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataError(
            f"{owner}: column {name!r} (churned) must say whether each account cancelled: "
            f"yes/no, true/false or 1/0; {int(bad.sum())} row(s) do not, first account ids "
            f"{format_examples(index[bad].tolist())}, values "
            f"{format_examples(pd.unique(col[bad].astype(object)).tolist())}. Fix those rows or "
            "pass the right --churned-col.")
    return parsed.to_numpy(dtype=bool)


# -------------------------------------------------------------------- scoring
def check_summary_matches(job: Job | ContractualJob, summary: pd.DataFrame) -> None:
    """The data to score must be in the job's time unit (and, for a job on transaction
    periods, a summary of periods)."""
    if job.meta.get("summary") == "discrete" and "n_periods" not in summary.columns:
        raise IncompatibleModelError(
            f"The job's {job.meta.get('transaction_model')} counts transaction periods; score "
            "a summary of periods (discrete_summary: frequency, recency, n_periods, "
            "monetary_value) or the transactions themselves.")
    dup = summary.index.duplicated(keep=False)
    if dup.any():
        ids = pd.unique(summary.index[dup])
        raise DataError(
            f"The data to score hold {len(ids):,} customer id(s) on more than one row "
            f"({int(dup.sum()):,} rows), e.g. {format_examples(ids.tolist())}: a summary has one "
            "row per customer, and each copy would be scored and counted again. Drop the "
            "duplicate rows or rebuild the summary from the transactions (rfm_summary).")
    check_id_types(summary.index.to_numpy(), "customer ids to score", "the summary")
    if isinstance(job, Job):
        _check_covariate_columns(job, summary)
    unit = summary.attrs.get("time_unit", job.meta.get("time_unit"))
    if unit != job.meta.get("time_unit"):
        raise IncompatibleModelError(
            f"The model was fitted in {job.meta.get('time_unit')!r} but the data to score are "
            f"summarized in {unit!r}. Summarize them in {job.meta.get('time_unit')!r}.")


def _check_covariate_columns(job: Job, summary: pd.DataFrame) -> None:
    """A job with covariates needs them on every customer to score: named when absent."""
    columns = job.covariate_columns
    missing = [c for c in columns if c not in summary.columns]
    if not missing:
        return
    customer_col = job.meta.get("columns", {}).get("customer_col") or "customer_id"
    source = (job.meta.get("customer_covariates") or {}).get("source")
    raise DataError(
        f"The job's models take customer covariates {columns}, and the data to score lack "
        f"{missing} (they have {list(summary.columns)[:12]}). Attach each customer's "
        "covariates first: job.attach_covariates(summary, table), a table with one row per "
        f"customer in column {customer_col!r}.",
        cli_message=f"the job's models take customer covariates {columns}, and the data to "
        f"score lack {missing}. Add --covariates-file PATH: a CSV or Parquet file with one "
        f"row per customer, her id in column {customer_col!r} (--customer-col at fit) and "
        f"the columns {columns}" + (f" (the job was fitted with {source!r})" if source else "")
        + ".")


def _chunk_scores(job: Job | ContractualJob, part: pd.DataFrame, k: int, seed: int,
                  options: dict) -> pd.DataFrame:
    """Chunk ``k``'s scores, on one BLAS thread: a multi-threaded BLAS sums in another
    order (last-digit differences, seen at 1e-13 in credible bounds), and Dask and Spark
    workers run single-threaded, so this is what makes every engine give the same bytes."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return job.score(part, _rng(seed, k), options)


def score_chunks(job: Job | ContractualJob, summary: pd.DataFrame, *, seed: int = 0,
                 chunk_customers: int = 250_000, progress: Callable[[int], None] | None = None,
                 **options) -> Iterator[pd.DataFrame]:
    """Yield per-account scores chunk by chunk (accounts in id order).

    ``summary`` is the RFM summary (non-contractual job) or the account frame
    (contractual job, :meth:`ContractualJob.accounts`); ``options`` go to
    :func:`clvmodels.customer_lifetime_value` (horizon, discount_rate, margin, level,
    n_draws, n_samples) or :func:`clvmodels.contractual_lifetime_value` (revenue_col,
    discount_rate, margin, growth_rate, acquisition_cost_col, level, n_draws,
    n_samples).
    """
    job.check(summary, options)
    if not summary.index.is_monotonic_increasing:
        summary = summary.sort_index()
    for k, start in enumerate(range(0, len(summary), chunk_customers)):
        part = summary.iloc[start:start + chunk_customers]
        part.attrs = dict(summary.attrs)
        yield _chunk_scores(job, part, k, seed, options)
        if progress is not None:
            progress(len(part))


def score_to_file(job: Job | ContractualJob, summary: pd.DataFrame, out: str | os.PathLike,
                  **kwargs) -> int:
    """Score and write atomically (Parquet or CSV by suffix); returns rows written."""
    if len(summary) == 0:
        raise DataError("There are no customers to score.")
    return write_table_chunks(score_chunks(job, summary, **kwargs), out)
