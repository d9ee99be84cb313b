"""The MLflow pyfunc model of a clvmodels job, in MLflow's "models from code" style.

:func:`clvmodels.mlflow_model.log_job` logs this file as the model's code and the job
directory (``job.json`` + netCDF) as the artifact ``job``. MLflow copies the file into
the logged model and runs it when the model is loaded: :class:`ClvJobModel` then reads
the job with clvmodels' own :func:`~clvmodels.scoring.load_job` and scores with
:func:`~clvmodels.scoring.score_chunks`. Nothing is pickled.

The scoring settings are the model's ``model_config`` (one key per setting: as
logged, each replaceable when loading, ``mlflow.pyfunc.load_model(uri,
model_config={"horizon": "24 months"})``, or by MLflow's ``MLFLOW_PYFUNC_INFERENCE_CONFIG``);
``params`` of one ``predict`` call override them for that call. The rows come back in the
order of the input, each with the values :func:`~clvmodels.scoring.score_chunks` gives
that customer (chunks and their seeds follow the id order, whatever the input order).

A job fitted with customer covariates (``clvmodels fit --covariates-file``) takes them
as columns of the input frame, beside the summary columns: the names in ``job.json``
(``customer_covariates.columns``, e.g. ``channel``, ``first_amount``), one value per
customer, levels the fit saw. Without them ``predict`` refuses the frame, naming them.
"""

from __future__ import annotations

import math

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

#: name of the job directory among the model's artifacts
JOB_ARTIFACT = "job"


def _score_defaults() -> dict:
    """The defaults of ``clvmodels score``, read off its own parser (one place for them)."""
    from clvmodels.cli import build_parser

    args = build_parser().parse_args(["score", "MODEL", "DATA", "--out", "OUT.parquet"])
    keys = ("discount_rate", "margin", "level", "n_draws", "n_samples", "seed",
            "chunk_customers")
    return {k: getattr(args, k) for k in keys}


_COMMON = _score_defaults()

#: scoring settings by kind of job -> default (``None`` for ``revenue_col``: the column
#: recorded at fit; for a contractual ``horizon``: the whole remaining life)
SETTINGS = {
    "noncontractual": {"horizon": "12 months", **_COMMON},
    "contractual": {"revenue_col": None, "growth_rate": 0.0, "acquisition_cost_col": None,
                    "horizon": None, **_COMMON},
}

#: the type of each setting: "string", "double" or "long" (MLflow's names)
SETTING_TYPES = {"horizon": "string", "revenue_col": "string", "acquisition_cost_col": "string",
                 "discount_rate": "double", "margin": "double", "level": "double",
                 "growth_rate": "double", "n_draws": "long", "n_samples": "long", "seed": "long",
                 "chunk_customers": "long"}

# not scoring options of the value functions but of the chunking
_CHUNKING = ("seed", "chunk_customers")


def resolve_settings(meta: dict, given: dict | None,
                     owner: str = "the clvmodels MLflow model") -> dict:
    """Every scoring setting of a job of ``meta['kind']``: ``given`` over the defaults,
    checked for names and types (the values themselves are checked when scoring)."""
    kind = meta.get("kind", "noncontractual")
    out = dict(SETTINGS[kind])
    if kind == "contractual":
        out["revenue_col"] = (meta.get("columns") or {}).get("revenue_col")
    given = dict(given or {})
    unknown = sorted(set(given) - set(out))
    if unknown:
        other = sorted(set().union(*SETTINGS.values()) - set(out))
        hint = (f" ({', '.join(repr(u) for u in unknown if u in other)} "
                f"{'is' if len(unknown) == 1 else 'are'} for the other kind of job)"
                if set(unknown) & set(other) else "")
        raise ValueError(f"Unknown scoring setting(s) {unknown} for {owner} of a {kind} job"
                         f"{hint}; it takes {sorted(out)}. Drop or rename them.")
    for name, value in given.items():
        out[name] = _typed(name, value, owner)
    return out


def _typed(name: str, value, owner: str):
    kind = SETTING_TYPES[name]
    if value is None:
        return None
    if kind == "string":
        if not isinstance(value, str):
            raise TypeError(f"The {name!r} setting of {owner} must be a string. Got "
                            f"{type(value).__name__} {value!r} instead.")
        return value
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        raise TypeError(f"The {name!r} setting of {owner} must be a number. Got "
                        f"{type(value).__name__} {value!r} instead.")
    number = float(value)
    if kind == "long":
        if not (math.isfinite(number) and number == round(number)):
            raise ValueError(f"The {name!r} setting of {owner} must be a whole number. Got "
                             f"{value!r} instead.")
        return int(number)
    return number


def scoring_frame(job, model_input):
    """The frame :func:`~clvmodels.scoring.score_chunks` takes, from what ``predict``
    was given, and whether the ids came as a column (then they go back as one).

    A non-contractual job takes the RFM summary (``frequency``, ``recency``, ``T``,
    ``monetary_value``; a BG/BB job also ``n_periods``; a job with customer covariates
    also its covariate columns), a contractual job the accounts table as
    ``clvmodels score`` reads it. The customer (account) ids are the column
    named as at fit (``job.json``: ``columns.customer_col``/``account_col``) or, when
    there is no such column, the index.
    """
    from clvmodels.errors import DataError

    if not isinstance(model_input, pd.DataFrame):
        raise TypeError("The clvmodels MLflow model scores a pandas DataFrame (one row per "
                        f"customer). Got {type(model_input).__name__} instead.")
    cols = job.meta.get("columns") or {}
    if job.kind == "contractual":
        id_col = cols["account_col"]
        as_column = id_col in model_input.columns
        table = model_input if as_column else model_input.rename_axis(id_col).reset_index()
        if len(table) == 0:
            raise DataError("There are no accounts to score.")
        return job.accounts(table), as_column
    id_col = cols.get("customer_col") or "customer_id"
    as_column = id_col in model_input.columns
    summary = model_input.set_index(id_col) if as_column else model_input
    summary.attrs = dict(model_input.attrs)
    need = ["frequency", "recency", "T", "monetary_value"]
    if job.meta.get("summary") == "discrete":
        need.append("n_periods")
    covariates = job.covariate_columns
    missing = [c for c in need + covariates if c not in summary.columns]
    if missing:
        with_covariates = (f" and the covariate columns {covariates} the job was fitted with"
                           if covariates else "")
        raise DataError(f"The data to score lack column(s) {missing}; they have "
                        f"{list(summary.columns)[:20]}. Pass the RFM summary of the customers "
                        f"(clvmodels.rfm_summary of their transactions){with_covariates}, one "
                        f"row per customer, with the ids in column {id_col!r} or as the index.")
    if len(summary) == 0:
        raise DataError("There are no customers to score.")
    return summary, as_column


def score_table(job, model_input, settings: dict):
    """The scoring table of ``model_input`` with ``settings`` (all of them, as
    :func:`resolve_settings` gives), rows in the input's order."""
    from clvmodels.scoring import score_chunks

    frame, as_column = scoring_frame(job, model_input)
    options = {k: v for k, v in settings.items() if k not in _CHUNKING}
    if job.kind == "contractual":
        if options["revenue_col"] is None:
            raise ValueError("The clvmodels MLflow model of a contractual job needs the "
                             "'revenue_col' setting (the column with each account's revenue per "
                             "period at its next renewal): the job was fitted without one. Pass "
                             "it in settings= when logging or in params= when predicting.")
        options["growth_rate"] = options["growth_rate"] or 0.0
    out = pd.concat(list(score_chunks(job, frame, seed=settings["seed"],
                                      chunk_customers=settings["chunk_customers"], **options)))
    if not frame.index.is_monotonic_increasing:  # score_chunks went in id order
        out = out.loc[frame.index]
    return out.reset_index() if as_column else out


class ClvJobModel(PythonModel):
    """A fitted clvmodels job as an MLflow pyfunc model: ``predict`` returns the
    scoring table of ``clvmodels score`` (one row per customer)."""

    def load_context(self, context):
        from clvmodels.scoring import load_job

        self.job = load_job(context.artifacts[JOB_ARTIFACT])
        self.settings = resolve_settings(self.job.meta, context.model_config)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None
                ) -> pd.DataFrame:
        overrides = {k: v for k, v in (params or {}).items() if v is not None}
        settings = resolve_settings(self.job.meta, {**self.settings, **overrides})
        return score_table(self.job, model_input, settings)


if __name__ != "clvmodels._mlflow_pyfunc":  # run by MLflow as the logged model's code
    mlflow.models.set_model(ClvJobModel())
