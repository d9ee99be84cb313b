"""Scale-out scoring on Dask (optional: ``pip install 'clvmodels[dask]'``).

The same chunks and seeds as the local engine (:mod:`clvmodels.scoring`), computed
in parallel on Dask workers, so both engines give identical numbers. On a real
cluster pass the scheduler address (``tcp://host:8786``); the workers need
clvmodels installed, nothing else. The fitted job travels as data, never pickled: the
bytes of its JSON + netCDF files (:func:`clvmodels.shipping.job_to_bytes`), scattered
once to every worker, which loads them with clvmodels' own loader
(:func:`clvmodels.shipping.job_from_bytes`, once per worker process). Only the
summaries, the options and references to clvmodels functions go through Dask's own
serialization.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import pandas as pd

from .io import write_table_chunks
from .scoring import Job, _chunk_scores, check_summary_matches
from .shipping import job_from_bytes, job_to_bytes

__all__ = ["score_to_file_dask", "score_dask_dataframe", "dask_client"]


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None):
    """A client of ``scheduler``, or of a temporary local cluster (one process per core)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("The Dask engine needs dask.distributed: pip install "
                          "'clvmodels[dask]' (or 'dask[distributed]').") from None
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    import dask

    workers = n_workers or max(1, min(4, os.cpu_count() or 1))
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also switches off
    # glibc's adaptive mmap threshold: every large temporary array of a chunk is then
    # mapped and faulted in afresh (3.6x the page faults; bench/README.md, issue 15).
    # Unset for the workers of this temporary cluster: 8-12% faster, the same bytes.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    with cluster, Client(cluster) as client:
        yield client


def score_to_file_dask(job: Job, summary: pd.DataFrame, out, *, scheduler: str | None = None,
                       n_workers: int | None = None, seed: int = 0,
                       chunk_customers: int = 250_000, **options) -> int:
    """Score chunks in parallel on Dask and write them, in order, atomically to ``out``.

    At most a few chunks' results are held at once: they are written as soon as they
    arrive in order, and released.
    """
    check_summary_matches(job, summary)
    if not summary.index.is_monotonic_increasing:
        summary = summary.sort_index()
    starts = range(0, len(summary), chunk_customers)
    with dask_client(scheduler, n_workers) as client:
        job_future = client.scatter(job_to_bytes(job), broadcast=True)
        futures = []
        for k, start in enumerate(starts):
            part = summary.iloc[start:start + chunk_customers]
            part.attrs = dict(summary.attrs)
            # straight to a worker, not inside the task through the scheduler: less CPU
            # on the driver and the workers (4M customers, 2 workers: 23.1-23.5 s
            # against 24.4-24.5 s)
            part = client.scatter(part, hash=False)
            futures.append(client.submit(_shipped_chunk_scores, job_future, part, k, seed,
                                         options, pure=False))

        def ordered():
            for fut in futures:
                yield fut.result()
                fut.release()

        return write_table_chunks(ordered(), out)


def _shipped_chunk_scores(data: bytes, part: pd.DataFrame, k: int, seed: int,
                          options: dict) -> pd.DataFrame:
    """Chunk ``k`` scored on a worker by the job shipped as bytes."""
    return _chunk_scores(job_from_bytes(data), part, k, seed, options)


def score_dask_dataframe(job: Job, summary, *, seed: int = 0, **options):
    """Score a Dask DataFrame of summaries partition by partition (lazy).

    Partition ``k`` uses the random stream of chunk ``k``: a summary split into
    partitions of ``chunk_customers`` customers in id order scores exactly as
    ``clvmodels.scoring.score_chunks`` does locally.
    """
    import numpy as np

    attrs = dict(getattr(summary, "attrs", {}) or {})
    attrs.setdefault("time_unit", job.meta.get("time_unit"))
    probe = summary._meta.copy()
    probe.attrs = attrs
    check_summary_matches(job, probe)
    meta = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in job.columns},
                        index=summary._meta.index[:0])
    data = job_to_bytes(job)  # the tasks carry these bytes, not the job object

    def run(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
        if len(part) == 0:
            return meta.copy()
        part = part.copy()
        part.attrs = attrs
        k = partition_info["number"] if partition_info else 0
        return _chunk_scores(job_from_bytes(data), part, k, seed, options)

    return summary.map_partitions(run, meta=meta)
