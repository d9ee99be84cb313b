"""Shipping a job as the bytes of its JSON + netCDF files: round trips of both kinds of
job, nothing but job files in the archive, hostile archives refused, one load per
process, and the Dask engine scoring without pickling the job."""

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from clvmodels import scoring, shipping
from clvmodels.datasets import load_cdnow_summary, load_telco
from clvmodels.errors import IncompatibleModelError
from clvmodels.scoring import (
    ContractualJob,
    Job,
    fit_contractual_job,
    fit_job,
    load_job,
    score_chunks,
)
from clvmodels.shipping import job_from_bytes, job_to_bytes

COLUMNS = {"customer_col": "customer_id", "date_col": "date", "amount_col": "amount"}
ACCOUNTS = {"account_col": "customerID", "tenure_col": "tenure", "churned_col": "Churn"}
HDF5 = b"\x89HDF\r\n\x1a\n"  # the signature every netCDF-4 file starts with


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """A non-contractual job (BG/NBD + Gamma-Gamma on 600 CDNOW customers) and a
    contractual one with a text covariate (its own save path), each with its data."""
    d = tmp_path_factory.mktemp("ship")
    summary = load_cdnow_summary().iloc[:600]
    table = load_telco().reset_index().drop(columns=["churned"]).iloc[:800]
    job = fit_job(summary, d / "clv", columns=COLUMNS, seed=1)
    # as the snapshot was observed: each account enters at tenure - 1 (data README). MAP:
    # at maximum likelihood the one-year contracts' alpha and beta run towards the edge
    # of the search space (their churn rate hardly changes with tenure), on some
    # machines over it
    cjob = fit_contractual_job(table, d / "churn", period="month", covariates=["Contract"],
                               revenue_col="MonthlyCharges", entry_col="entry", seed=1,
                               method="map", **ACCOUNTS)
    return {"clv": (job, summary, d / "clv"), "churn": (cjob, cjob.accounts(table), d / "churn")}


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist()}


@pytest.mark.parametrize("kind", ["clv", "churn"])
def test_round_trip_scores_exactly_as_the_fitted_job(jobs, kind):
    job, data, folder = jobs[kind]
    options = ({"horizon": "26 weeks", "n_samples": 40, "n_draws": 30} if kind == "clv"
               else {"revenue_col": "MonthlyCharges", "discount_rate": 0.1, "horizon": "5 years",
                     "n_samples": 40, "n_draws": 30})
    packed = job_to_bytes(job)  # from the object: written by save_job first
    assert packed == job_to_bytes(job)  # deterministic: same files, same bytes
    again = job_from_bytes(packed)
    assert type(again) is type(job) and again is not job
    assert again.meta == job.meta
    from_dir = job_from_bytes(job_to_bytes(folder))
    kw = dict(seed=2, chunk_customers=250, **options)
    want = pd.concat(score_chunks(job, data, **kw))
    pd.testing.assert_frame_equal(pd.concat(score_chunks(again, data, **kw)), want)
    pd.testing.assert_frame_equal(pd.concat(score_chunks(from_dir, data, **kw)), want)


@pytest.mark.parametrize("kind", ["clv", "churn"])
def test_archive_holds_only_job_json_and_netcdf(jobs, kind):
    folder = jobs[kind][2]
    members = _members(job_to_bytes(folder))
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted(members) == on_disk  # every file of the job, nothing else
    assert "job.json" in members
    for name, blob in members.items():
        assert Path(name).suffix in (".json", ".nc"), name
        if name.endswith(".json"):
            json.loads(blob)  # JSON text, not code
        else:
            assert blob.startswith(HDF5), name
        assert not (blob[:1] == b"\x80" and blob[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"))
        assert b"pickle" not in blob.lower()


def test_archives_with_paths_outside_the_job_or_other_files_are_refused(jobs):
    good = _members(job_to_bytes(jobs["clv"][2]))

    def pack(extra: dict[str, bytes], drop: tuple = ()) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, blob in {**{k: v for k, v in good.items() if k not in drop},
                               **extra}.items():
                archive.writestr(name, blob)
        return buffer.getvalue()

    cases = {"../escape.json": "outside the job folder", "/etc/job.json": "outside the job",
             "spend/../../up.nc": "outside the job", "model.pkl": "JSON and netCDF files only",
             "transactions/code.py": "JSON and netCDF files only"}
    for name, message in cases.items():
        with pytest.raises(IncompatibleModelError, match=message):
            job_from_bytes(pack({name: b"{}"}))
    with pytest.raises(IncompatibleModelError, match="no job.json"):
        job_from_bytes(pack({}, drop=("job.json",)))
    link = zipfile.ZipInfo("spend/link.json")
    link.external_attr = 0o120777 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("job.json", good["job.json"])
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(IncompatibleModelError, match="symbolic link"):
        job_from_bytes(buffer.getvalue())
    with pytest.raises(IncompatibleModelError, match="not a zip file"):
        job_from_bytes(b"\x80\x05" + b"x" * 50)  # e.g. a pickle
    with pytest.raises(TypeError, match="must be bytes"):
        job_from_bytes("job.json")


def test_a_folder_with_other_files_is_not_packed(jobs, tmp_path):
    import shutil

    folder = tmp_path / "job"
    shutil.copytree(jobs["clv"][2], folder)
    (folder / "spend" / "notes.pkl").write_bytes(b"\x80\x05.")
    with pytest.raises(IncompatibleModelError, match="notes.pkl.*remove it or refit"):
        job_to_bytes(folder)
    with pytest.raises(IncompatibleModelError, match="no job.json"):
        job_to_bytes(tmp_path)


def test_a_process_loads_each_job_once(jobs, monkeypatch):
    calls = []
    real = scoring.load_job

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(scoring, "load_job", counting)
    monkeypatch.setattr(shipping, "_cache", type(shipping._cache)())
    data = job_to_bytes(jobs["clv"][2])
    first = job_from_bytes(data)
    assert job_from_bytes(bytearray(data)) is first
    assert len(calls) == 1
    other = job_from_bytes(job_to_bytes(jobs["churn"][2]))
    assert isinstance(other, ContractualJob) and len(calls) == 2
    assert not Path(calls[0]).exists()  # the private folder is gone after loading


def test_dask_engine_never_pickles_the_job(jobs, monkeypatch, tmp_path):
    """Pickling a Job or a ContractualJob fails while the Dask engine runs: what reaches
    the workers is the job's bytes."""
    pytest.importorskip("dask.distributed")
    from clvmodels.distributed import score_to_file_dask

    def refuse(self, protocol):
        raise AssertionError("a job was pickled")

    job, summary, _ = jobs["clv"]
    monkeypatch.setattr(Job, "__reduce_ex__", refuse)
    monkeypatch.setattr(ContractualJob, "__reduce_ex__", refuse)
    with pytest.raises(AssertionError, match="was pickled"):
        import pickle

        pickle.dumps(job)
    kw = dict(seed=3, chunk_customers=250, horizon="26 weeks", n_samples=30, n_draws=20)
    rows = score_to_file_dask(job, summary, tmp_path / "dask.parquet", n_workers=1, **kw)
    assert rows == len(summary)
    got = pd.read_parquet(tmp_path / "dask.parquet")
    pd.testing.assert_frame_equal(got, pd.concat(score_chunks(job, summary, **kw)),
                                  check_freq=False)


def test_load_job_of_the_unpacked_folder_is_the_same_loader(jobs, tmp_path):
    """Bytes of a job loaded from disk and of the fitted job give equal jobs."""
    job, _, folder = jobs["clv"]
    loaded = load_job(folder)
    a, b = job_from_bytes(job_to_bytes(loaded)), job_from_bytes(job_to_bytes(job))
    pd.testing.assert_series_equal(a.transactions.params_, b.transactions.params_)
    pd.testing.assert_series_equal(a.spend.params_, b.spend.params_)
