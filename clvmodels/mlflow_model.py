"""Log a fitted clvmodels job to MLflow as a pyfunc model, without pickle.

The model is logged in MLflow's "models from code" style: its code is
``clvmodels/_mlflow_pyfunc.py`` (copied into the model by MLflow) and its one artifact
is the job directory as :func:`~clvmodels.scoring.fit_job` or
:func:`~clvmodels.scoring.fit_contractual_job` wrote it (``job.json`` + netCDF). Loading
the model runs that code, which reads the job with :func:`~clvmodels.scoring.load_job`;
no Python object is pickled, and MLflow writes no ``python_model.pkl``.

``mlflow.pyfunc.load_model(uri).predict(summary)`` returns the table of
``clvmodels score``: the same columns and, for the same settings and seed, the same
numbers as :func:`~clvmodels.scoring.score_chunks`. A job fitted with customer
covariates takes them as columns of ``summary`` (logged as the parameter
``job/customer_covariates/columns``). Needs the optional dependency
``mlflow`` (``mlflow-skinny`` is enough).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import mlflow
from mlflow.models import ModelSignature
from mlflow.types.schema import ParamSchema, ParamSpec

from . import _mlflow_pyfunc
from ._mlflow_pyfunc import JOB_ARTIFACT, SETTING_TYPES, resolve_settings

__all__ = ["log_job"]

_OWNER = "log_job"
_ROLES = {"noncontractual": ("transactions", "spend"), "contractual": ("churn",)}
# columns of a job's model comparison (clvmodels.evaluation.comparison) measured on the
# calibration data, not on the holdout
_IN_SAMPLE = ("log_likelihood", "parameters", "aic", "bic")


def log_job(job_dir: str | os.PathLike, *, name: str = "clv", settings: dict | None = None,
            holdout_metrics: Mapping | None = None, input_example=None,
            registered_model_name: str | None = None, pip_requirements: list | None = None,
            extra_pip_requirements: list | None = None):
    """Log a job directory to MLflow as a pyfunc model, with its parameters.

    Parameters
    ----------
    job_dir : path
        A directory written by ``clvmodels fit`` (:func:`~clvmodels.scoring.fit_job`,
        :func:`~clvmodels.scoring.fit_contractual_job`).
    name : str
        The model's name in the run (MLflow's ``name``, formerly ``artifact_path``).
    settings : dict, optional
        Scoring settings of the logged model, as ``clvmodels score`` takes them:
        ``horizon`` (e.g. "24 months"), ``discount_rate``, ``margin``, ``level``,
        ``n_draws``, ``n_samples``, ``seed``, ``chunk_customers`` and, for a contractual
        job, ``revenue_col``, ``growth_rate``, ``acquisition_cost_col``. Unset ones take
        the defaults of ``clvmodels score``. One ``predict`` call overrides any of them
        with ``params={...}``.
    holdout_metrics : mapping, optional
        Holdout scores to log as metrics ``holdout/<name>`` (e.g.
        :func:`clvmodels.evaluate_holdout`'s ``metrics``); they add to and override those
        the job holds (a job fitted with ``model="auto"`` and a holdout summary).
    input_example : DataFrame, optional
        A few rows of what the model scores, saved with the model as JSON.
    registered_model_name : str, optional
        Also register the model under this name.
    pip_requirements, extra_pip_requirements : list of str, optional
        The model's requirements: by default ``clvmodels==<this version>``;
        ``pip_requirements`` replaces it (e.g. a wheel or a git URL where clvmodels is
        not on the package index), ``extra_pip_requirements`` adds to it.

    Returns
    -------
    mlflow.models.model.ModelInfo
        ``model_uri`` loads the model (``mlflow.pyfunc.load_model``).

    Logged with the model: run parameters ``clvmodels_version``, ``job/*`` (kind,
    models, time unit, observation end, fit method, ...; from ``job.json``) and the
    scoring settings by name (``horizon``, ``discount_rate``, ...: the model's
    ``model_config``, which ``mlflow.pyfunc.load_model(uri, model_config={...})`` can
    change setting by setting); metrics ``<model>/<parameter>`` (the fitted values, e.g.
    ``transactions/r``, ``spend/p``, ``churn/alpha``), ``<model>/log_likelihood`` and
    ``<model>/aic``, ``holdout/*`` and, for a job fitted with ``model="auto"``,
    ``comparison/<model>/*``. A run is started when none is active (and ended
    after).
    """
    from . import __version__
    from .scoring import load_job

    path = Path(job_dir)
    job = load_job(path)  # refuses what is not a readable job, before anything is logged
    resolved = resolve_settings(job.meta, settings, _OWNER)
    _check_values(resolved)
    meta = job.meta
    # the settings as MLflow logs a model_config too: str of each value, by name
    params = {"clvmodels_version": __version__, **_job_params(meta),
              **{k: str(v) for k, v in resolved.items()}}
    metrics = {**_fit_metrics(job), **_holdout_metrics(meta, holdout_metrics)}
    requirements = (list(pip_requirements) if pip_requirements is not None
                    else [f"clvmodels=={__version__}"]) + list(extra_pip_requirements or [])
    # every setting may be passed to one predict call; None (the default) keeps the
    # model's setting (as logged, or as given to load_model(model_config=...))
    signature = ModelSignature(params=ParamSchema([
        ParamSpec(k, SETTING_TYPES[k], None) for k in resolved]))
    started = mlflow.active_run() is None
    run = mlflow.start_run() if started else mlflow.active_run()
    status = "FAILED"
    try:
        with tempfile.TemporaryDirectory() as tmp:  # MLflow names the copy after the folder
            shutil.copytree(path, Path(tmp) / JOB_ARTIFACT)
            info = mlflow.pyfunc.log_model(
                name=name, python_model=_mlflow_pyfunc.__file__,
                artifacts={JOB_ARTIFACT: str(Path(tmp) / JOB_ARTIFACT)},
                model_config=resolved,
                signature=signature, input_example=_example(job, input_example),
                pip_requirements=requirements,
                registered_model_name=registered_model_name,
                metadata={"clvmodels_version": __version__, "job_kind": job.kind,
                          "time_unit": meta.get("time_unit")})
        mlflow.log_params(params, run_id=run.info.run_id)
        if metrics:
            mlflow.log_metrics(metrics, run_id=run.info.run_id, model_id=info.model_id)
        status = "FINISHED"
    finally:
        if started:
            mlflow.end_run(status)
    return info


def _check_values(settings: dict) -> None:
    """The scoring settings in their ranges, with the messages of the value functions,
    so that a bad one fails here and not when the model is served."""
    from .errors import check_parameter, percent_as_share
    from .timeunits import parse_horizon
    from .value.purchase import check_clv_options

    owner = _OWNER
    check_clv_options(owner, margin=settings["margin"], level=settings["level"],
                      n_samples=settings["n_samples"], n_draws=settings["n_draws"],
                      chunk_size=None)
    rate = settings["discount_rate"]
    if not (math.isfinite(rate) and 0 <= rate < 1):
        hint = f" Did you mean {percent_as_share(rate)} ({rate:g}%)?" if 1 <= rate <= 100 else ""
        raise ValueError(f"The 'discount_rate' parameter of {owner} must be an effective annual "
                         f"rate in [0, 1), e.g. 0.10 for 10%. Got {rate!r} instead.{hint}")
    if settings.get("growth_rate") is not None:
        check_parameter("growth_rate", owner, settings["growth_rate"],
                        math.isfinite(settings["growth_rate"]) and -1 < settings["growth_rate"] < 1,
                        "a share of revenue growth per renewal period in (-1, 1)")
    check_parameter("seed", owner, settings["seed"], settings["seed"] >= 0, "an int >= 0")
    check_parameter("chunk_customers", owner, settings["chunk_customers"],
                    settings["chunk_customers"] >= 1, "an int >= 1")
    if settings["horizon"] is not None:
        parse_horizon(settings["horizon"], owner)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _name(text) -> str:
    """One level of an MLflow parameter/metric name: a segment separator ('|', e.g.
    "Month-to-month|alpha") becomes '/', other characters MLflow refuses '_' (e.g.
    "alpha[Contract=One year]" -> "alpha_Contract_One year_")."""
    return re.sub(r"[^\w.\- /]", "_", str(text).replace("|", "/")).strip("/ ") or "_"


def _names(values: dict) -> dict:
    """``values`` with names MLflow takes ('/' separates levels) and, should two
    names have become one, a numbered suffix on the later ones."""
    out = {}
    for key, value in values.items():
        name = "/".join(_name(part) for part in key.split("/"))
        new, i = name, 1
        while new in out:
            i += 1
            new = f"{name}_{i}"
        out[new] = value
    return out


def _job_params(meta: dict) -> dict:
    """``job/<field>`` for the scalar fields of ``job.json`` and its column names."""
    out = {}
    for key, value in meta.items():
        if key == "columns" and isinstance(value, dict):
            out.update({f"job/columns/{k}": v for k, v in value.items() if v is not None})
        elif key == "boundaries" and isinstance(value, dict) and value:
            out["job/boundaries"] = json.dumps(value)[:6000]
        elif key == "customer_covariates" and isinstance(value, dict):
            # the columns predict needs beside the summary, and where they came from
            out["job/customer_covariates/columns"] = ",".join(map(str, value.get("columns") or []))
            for side in ("purchase", "spend", "source"):
                if value.get(side):
                    out[f"job/customer_covariates/{side}"] = _text(
                        value[side] if side == "source" else ",".join(map(str, value[side])))
        elif isinstance(value, (str, int, float, bool)):
            out[f"job/{key}"] = _text(value)
    return _names(out)


def _fit_metrics(job) -> dict:
    """The fitted parameter values, log-likelihood and AIC of each of the job's models."""
    out = {}
    for role in _ROLES[job.kind]:
        model = getattr(job, role)
        values = {**{str(k): v for k, v in model.params_.items()},
                  "log_likelihood": getattr(model, "log_likelihood_", None),
                  "aic": getattr(model, "aic_", None)}
        out.update({f"{role}/{_name(k)}": float(v) for k, v in values.items() if _finite(v)})
    return _names(out)


def _holdout_metrics(meta: dict, given: Mapping | None) -> dict:
    """``comparison/<model>/<column>`` for each model of the job's model comparison (a
    job fitted with ``model="auto"``) and, when that comparison was on a holdout,
    ``holdout/<score>`` of the chosen model; updated with ``given``."""
    out = {}
    comparison = meta.get("model_comparison")
    if isinstance(comparison, dict):
        for model, row in comparison.items():
            if isinstance(row, dict):
                out.update({f"comparison/{_name(model)}/{_name(k)}": float(v)
                            for k, v in row.items() if _finite(v)})
        chosen = comparison.get(meta.get("model"))
        if isinstance(chosen, dict) and "mae" in chosen:  # ranked on a holdout, not by BIC
            out.update({f"holdout/{_name(k)}": float(v) for k, v in chosen.items()
                        if k not in _IN_SAMPLE and _finite(v)})
    if given is not None:
        scores = getattr(given, "metrics", given)  # a HoldoutScore or its metrics
        if not hasattr(scores, "items"):
            raise TypeError(f"The 'holdout_metrics' parameter of {_OWNER} must be a mapping of "
                            "metric name to number (e.g. evaluate_holdout(...).metrics). Got "
                            f"{type(given).__name__} instead.")
        bad = [k for k, v in scores.items() if not _finite(v)]
        if bad:
            raise ValueError(f"The 'holdout_metrics' parameter of {_OWNER} must map names to "
                             f"finite numbers; {bad[:5]} do not. Drop them or fix the values.")
        out.update({f"holdout/{_name(k)}": float(v) for k, v in scores.items()})
    return _names(out)


def _finite(value) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _example(job, example):
    """The input example with the ids as a column (an index does not survive JSON)."""
    if example is None:
        return None
    import pandas as pd

    if not isinstance(example, pd.DataFrame):
        raise TypeError(f"The 'input_example' parameter of {_OWNER} must be a pandas DataFrame "
                        f"(a few rows of what the model scores). Got {type(example).__name__} "
                        "instead.")
    cols = job.meta.get("columns") or {}
    id_col = cols.get("account_col" if job.kind == "contractual" else "customer_col")
    if id_col is None or id_col in example.columns:
        return example
    return example.rename_axis(id_col).reset_index()
