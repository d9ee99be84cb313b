"""Shipping a fitted job to workers as data (DESIGN.md principle 9: never pickle).

A job travels as the bytes of a zip archive of its directory: ``job.json`` and the
models' ``model.json``/``segments.json`` and netCDF files, exactly the files
:func:`~clvmodels.scoring.fit_job` writes. A worker unpacks them into a private
temporary folder and reads them with :func:`~clvmodels.scoring.load_job`, the same
loader and the same checks as a job on disk; nothing in the archive is code. Each
process keeps the last few jobs it loaded, keyed by the SHA-256 of the bytes, so a
worker scoring many chunks of one job reads it once.

The archive is deterministic (members sorted, fixed timestamps), so one job directory
gives the same bytes, and the same cache key, every time it is packed.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path, PurePosixPath

from .errors import IncompatibleModelError

__all__ = ["ALLOWED_SUFFIXES", "job_from_bytes", "job_to_bytes"]

#: the only kinds of file a job archive may hold (JSON metadata, netCDF draws)
ALLOWED_SUFFIXES = (".json", ".nc")
_MAGIC = b"PK\x03\x04"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the bytes do not depend on mtimes
_MAX_MEMBERS = 10_000
_MAX_UNPACKED = 4 << 30  # 4 GiB: far above any job; refuses a zip bomb
_CACHE_SIZE = 4
_cache: OrderedDict[str, object] = OrderedDict()
_lock = threading.Lock()


def job_to_bytes(job_or_dir) -> bytes:
    """A fitted job as the bytes of a zip of its JSON + netCDF files (no pickle).

    Parameters
    ----------
    job_or_dir : Job, ContractualJob, str or path
        A job directory (written by ``fit_job``/``fit_contractual_job``), or a job
        object, which is written to a temporary directory first with
        :func:`~clvmodels.scoring.save_job`.

    Examples
    --------
    >>> import tempfile
    >>> from clvmodels import rfm_summary
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> from clvmodels.scoring import fit_job
    >>> summary = rfm_summary(load_cdnow_transactions(), observation_end="1998-06-30")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     job = fit_job(summary, Path(tmp) / "job", columns={"customer_col": "customer_id",
    ...                   "date_col": "date", "amount_col": "amount"}, seed=1)
    ...     data = job_to_bytes(Path(tmp) / "job")
    >>> sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())  # doctest: +NORMALIZE_WHITESPACE
    ['job.json', 'spend/draws.nc', 'spend/model.json', 'transactions/draws.nc',
     'transactions/model.json']
    >>> again = job_from_bytes(data)
    >>> again.transactions.params_.equals(job.transactions.params_)
    True
    """
    from .scoring import ContractualJob, Job, save_job

    if isinstance(job_or_dir, (Job, ContractualJob)):
        with tempfile.TemporaryDirectory(prefix="clvmodels-ship-") as tmp:
            return _pack(save_job(job_or_dir, Path(tmp) / "job"))
    if isinstance(job_or_dir, (str, os.PathLike)):
        path = Path(job_or_dir)
        if not (path / "job.json").is_file():
            raise IncompatibleModelError(
                f"{str(path)!r} is not a clvmodels model directory (no job.json). Create one "
                "with 'clvmodels fit ... --out DIR'.")
        return _pack(path)
    raise TypeError("The 'job_or_dir' parameter of job_to_bytes must be a Job, a ContractualJob "
                    f"or a job directory. Got {type(job_or_dir).__name__} instead.")


def _pack(root: Path) -> bytes:
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise IncompatibleModelError(f"{str(root)!r}: {rel!r} is a symbolic link; a job "
                                         "directory holds plain files only. Refit the job.")
        if path.is_dir():
            continue
        if not rel.endswith(ALLOWED_SUFFIXES):
            raise IncompatibleModelError(
                f"{str(root)!r} holds {rel!r}, which is not a file clvmodels writes for a job "
                f"(only {', '.join(ALLOWED_SUFFIXES)} files); remove it or refit the job.")
        files.append((rel, path))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel, path in files:
            info = zipfile.ZipInfo(rel, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's files, refusing anything but relative ``.json``/``.nc`` paths."""
    infos = archive.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise IncompatibleModelError(f"The job archive holds {len(infos):,} members; a job has a "
                                     "handful. It is not a clvmodels job.")
    total = 0
    names = set()
    out = []
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name).parts
        if (not name or name.startswith("/") or "\\" in name or ":" in name
                or any(p in ("..", ".") for p in parts)):
            raise IncompatibleModelError(f"The job archive holds the member {name!r}, a path "
                                         "outside the job folder; refused.")
        if info.is_dir():
            continue
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise IncompatibleModelError(f"The job archive member {name!r} is a symbolic link; "
                                         "refused.")
        if not name.endswith(ALLOWED_SUFFIXES):
            raise IncompatibleModelError(
                f"The job archive holds {name!r}: a job is JSON and netCDF files only "
                f"({', '.join(ALLOWED_SUFFIXES)}); refused.")
        if name in names:
            raise IncompatibleModelError(f"The job archive holds {name!r} twice; refused.")
        names.add(name)
        total += info.file_size
        out.append(info)
    if total > _MAX_UNPACKED:
        raise IncompatibleModelError(f"The job archive unpacks to {total:,} bytes; refused.")
    if "job.json" not in names:
        raise IncompatibleModelError("The archive has no job.json at its top: it is not a "
                                     "clvmodels job (make one with job_to_bytes).")
    return out


def job_from_bytes(data: bytes):
    """The job packed by :func:`job_to_bytes`, loaded with
    :func:`~clvmodels.scoring.load_job` from a private temporary folder that is removed
    afterwards. The last few jobs loaded are kept per process (keyed by the SHA-256 of
    ``data``): do not modify the job returned."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("The 'data' parameter of job_from_bytes must be bytes (from "
                        f"job_to_bytes). Got {type(data).__name__} instead.")
    data = bytes(data)
    key = hashlib.sha256(data).hexdigest()
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    job = _load(data)
    with _lock:
        _cache[key] = job
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return job


def _load(data: bytes):
    from .scoring import load_job

    if not data.startswith(_MAGIC):
        raise IncompatibleModelError("These bytes are not a job archive from job_to_bytes (not "
                                     "a zip file).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise IncompatibleModelError(f"The job archive is damaged ({exc}).") from None
    with archive, tempfile.TemporaryDirectory(prefix="clvmodels-job-") as tmp:
        root = Path(tmp) / "job"
        root.mkdir()
        for info in _members(archive):
            target = root.joinpath(*PurePosixPath(info.filename).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "xb") as dst:
                dst.write(src.read())
        return load_job(root)
