"""Batch scoring: fit-and-save jobs, chunked per-customer scoring with bounded
memory, atomic outputs, and the same results on one machine or on Dask.

Scoring splits the customers, in id order, into fixed-size chunks; chunk ``k`` draws
its random numbers from ``SeedSequence([seed, k])``. The output therefore depends
only on the inputs, the seed and the chunk size — not on the engine, the number of
workers or the order in which chunks finish — and is byte-identical between runs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .clv import customer_lifetime_value
from .errors import DataError, IncompatibleModelError
from .io import _umask, write_table_chunks
from .models import BetaGeoModel, GammaGammaModel
from .models.persistence import load_model

__all__ = ["Job", "fit_job", "load_job", "score_chunks", "score_to_file", "SCORE_COLUMNS"]

JOB_FORMAT = "clvmodels-job"
JOB_VERSION = 1

#: output schema of ``score``: name -> (unit, meaning); also in the README
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


@dataclass
class Job:
    """A fitted non-contractual job: both models and how their data were read."""

    transactions: BetaGeoModel
    spend: GammaGammaModel
    meta: dict = field(default_factory=dict)


def fit_job(summary: pd.DataFrame, out_dir: str | os.PathLike, *, columns: dict,
            method: str = "mle", seed: int | None = None, overwrite: bool = False) -> Job:
    """Fit BG/NBD and Gamma-Gamma to ``summary`` and save both, with the column
    names, time unit and observation end, as one directory (written atomically)."""
    from . import __version__

    bg = BetaGeoModel(random_state=seed).fit(summary, method=method)
    gg = GammaGammaModel(random_state=seed).fit(summary, method=method)
    meta = {
        "format": JOB_FORMAT, "format_version": JOB_VERSION, "clvmodels_version": __version__,
        "kind": "noncontractual", "columns": dict(columns),
        "time_unit": summary.attrs.get("time_unit"),
        "observation_end": summary.attrs.get("observation_end"),
        "method": method, "seed": seed, "customers": int(len(summary)),
    }
    target = Path(out_dir)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{str(target)!r} already exists; pass --overwrite (overwrite=True) "
                              "to replace it or choose another directory.")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"Cannot write {str(target)!r}: the folder "
                                f"{str(target.parent)!r} does not exist.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        bg.save(tmp / "transactions")
        gg.save(tmp / "spend")
        (tmp / "job.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        if target.exists():
            if not (target / "job.json").is_file():
                raise FileExistsError(f"Refusing to replace {str(target)!r}: it is not a "
                                      "clvmodels model directory.")
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Job(bg, gg, meta)


def load_job(model_dir: str | os.PathLike) -> Job:
    """Load a directory written by :func:`fit_job`, with clear errors."""
    path = Path(model_dir)
    meta_file = path / "job.json"
    if not path.is_dir() or not meta_file.is_file():
        raise IncompatibleModelError(
            f"{str(path)!r} is not a clvmodels model directory (no job.json). Create one with "
            "'clvmodels fit ... --out DIR'.")
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as exc:
        raise IncompatibleModelError(f"{str(meta_file)!r} is unreadable ({exc}); refit the "
                                     "model.") from None
    if meta.get("format") != JOB_FORMAT:
        raise IncompatibleModelError(f"{str(meta_file)!r} is not a clvmodels job file.")
    if int(meta.get("format_version", 0)) > JOB_VERSION:
        raise IncompatibleModelError(
            f"{str(path)!r} was written by clvmodels {meta.get('clvmodels_version')} in job "
            f"format {meta.get('format_version')}; this clvmodels reads up to {JOB_VERSION}. "
            "Upgrade clvmodels.")
    bg = load_model(path / "transactions", expected_type=BetaGeoModel)
    gg = load_model(path / "spend", expected_type=GammaGammaModel)
    return Job(bg, gg, meta)


def check_summary_matches(job: Job, summary: pd.DataFrame) -> None:
    """The scoring summary must be in the job's time unit."""
    unit = summary.attrs.get("time_unit", job.meta.get("time_unit"))
    if unit != job.meta.get("time_unit"):
        raise IncompatibleModelError(
            f"The model was fitted in {job.meta.get('time_unit')!r} but the data to score are "
            f"summarized in {unit!r}. Summarize them in {job.meta.get('time_unit')!r}.")


def _chunk_scores(job: Job, part: pd.DataFrame, k: int, seed: int, options: dict) -> pd.DataFrame:
    rng = np.random.default_rng(np.random.SeedSequence([seed, k]))
    return customer_lifetime_value(job.transactions, job.spend, part, random_state=rng, **options)


def score_chunks(job: Job, summary: pd.DataFrame, *, seed: int = 0, chunk_customers: int = 250_000,
                 progress: Callable[[int], None] | None = None, **options) -> Iterator[pd.DataFrame]:
    """Yield per-customer scores chunk by chunk (customers in id order).

    ``options`` go to :func:`clvmodels.customer_lifetime_value` (horizon,
    discount_rate, margin, level, n_draws, n_samples).
    """
    check_summary_matches(job, summary)
    if not summary.index.is_monotonic_increasing:
        summary = summary.sort_index()
    for k, start in enumerate(range(0, len(summary), chunk_customers)):
        part = summary.iloc[start:start + chunk_customers]
        part.attrs = dict(summary.attrs)
        yield _chunk_scores(job, part, k, seed, options)
        if progress is not None:
            progress(len(part))


def score_to_file(job: Job, summary: pd.DataFrame, out: str | os.PathLike, **kwargs) -> int:
    """Score and write atomically (Parquet or CSV by suffix); returns rows written."""
    if len(summary) == 0:
        raise DataError("There are no customers to score.")
    return write_table_chunks(score_chunks(job, summary, **kwargs), out)
