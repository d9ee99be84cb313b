"""Dask engine: same numbers as the local engine, on a LocalCluster."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import rfm_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.scoring import fit_job, score_chunks, score_to_file

pytest.importorskip("dask.distributed")
from clvmodels.distributed import score_dask_dataframe, score_to_file_dask  # noqa: E402


@pytest.fixture(scope="module")
def job_and_summary(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask")
    summary = rfm_summary(load_cdnow_transactions(), observation_end="1998-06-30")
    job = fit_job(summary, d / "model", columns={"customer_col": "customer_id", "date_col": "date",
                                                 "amount_col": "amount"}, seed=1)
    return job, summary, d


def test_dask_engine_matches_local_engine_bytes(job_and_summary):
    job, summary, d = job_and_summary
    kw = dict(seed=3, chunk_customers=500, horizon="52 weeks", n_samples=50)
    score_to_file(job, summary, d / "local.parquet", **kw)
    score_to_file_dask(job, summary, d / "dask.parquet", n_workers=2, **kw)
    assert (d / "local.parquet").read_bytes() == (d / "dask.parquet").read_bytes()


def test_dask_dataframe_function_matches_local_chunks(job_and_summary):
    import dask.dataframe as dd

    job, summary, _ = job_and_summary
    ddf = dd.from_pandas(summary, chunksize=600, sort=True)
    sizes = ddf.map_partitions(len).compute().tolist()
    assert len(set(sizes[:-1])) == 1  # equal partitions, as score_chunks cuts them
    kw = dict(horizon="52 weeks", n_samples=50)
    got = score_dask_dataframe(job, ddf, seed=4, **kw).compute(scheduler="sync")
    local = pd.concat(score_chunks(job, summary, seed=4, chunk_customers=sizes[0], **kw))
    pd.testing.assert_frame_equal(got, local)
    assert np.isfinite(got.expected_clv).all()


def test_kernel_threads_leave_parallelism_to_dask_workers():
    import os

    from clvmodels.distributed import dask_client
    from clvmodels.value.kernel import _threads

    assert _threads(1_000_000) == len(os.sched_getaffinity(0))  # outside: the process's CPUs
    assert _threads(1_000) == 1  # too few rows to be worth a thread
    with dask_client(None, 1) as client:
        assert client.submit(_threads, 1_000_000).result() == 1
        # glibc keeps its adaptive mmap threshold in the workers (Dask would set
        # MALLOC_TRIM_THRESHOLD_ there), while Dask's other settings stay
        env = client.run(lambda: {k: os.environ.get(k) for k in
                                  ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")})
        assert list(env.values()) == [{"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}]
    import dask

    assert dask.config.get("distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_") == 65536


def test_dask_engine_scores_a_covariate_job_as_the_local_engine(job_and_summary):
    """The covariate columns travel with each chunk to the workers."""
    from clvmodels import attach_covariates

    _, summary, d = job_and_summary
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"customer_id": summary.index,
                          "channel": rng.choice(["store", "web", "app"], size=len(summary))})
    with_cov = attach_covariates(summary, table)
    job = fit_job(with_cov, d / "model_cov", columns={"customer_col": "customer_id",
                                                      "date_col": "date", "amount_col": "amount"},
                  seed=1, covariates=["channel"])
    kw = dict(seed=3, chunk_customers=800, horizon="52 weeks", n_samples=50)
    score_to_file(job, with_cov, d / "local_cov.parquet", **kw)
    score_to_file_dask(job, with_cov, d / "dask_cov.parquet", n_workers=1, **kw)
    assert (d / "local_cov.parquet").read_bytes() == (d / "dask_cov.parquet").read_bytes()
    with pytest.raises(ValueError, match=r"lack \['channel'\]"):
        score_to_file_dask(job, summary, d / "never.parquet", n_workers=1, **kw)
