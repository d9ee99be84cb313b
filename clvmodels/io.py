"""Atomic output (DESIGN.md principle 11): every file or folder clvmodels writes goes
to a temporary sibling first and is renamed into place, so a crash or a kill at any
moment leaves either the previous output or the complete new one.

Temporary siblings are named ``.<name>.tmp-<pid>-<host>-<random>[.tmp]`` (and a folder
being replaced, for the moment of the swap, ``.<name>.old-<pid>-<host>-<random>``). A
run that is interrupted (SIGINT, SIGTERM) removes its own; one that is killed outright
(SIGKILL, a power cut) cannot, so the next run writing the same output removes those
whose process is gone (:func:`remove_stale_siblings`), and puts back a folder whose
replacement was cut off between its two renames. Outputs get the usual mode of new
files and folders (the umask decides), not the owner-only mode of temporary files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import IncompatibleModelError

if TYPE_CHECKING:  # the command line refuses bad paths before it imports pandas
    import pandas as pd

__all__ = ["atomic_path", "check_job_dir", "check_job_target", "check_output_file",
           "old_sibling", "output_format", "remove_stale_siblings", "temporary_dir",
           "uninterrupted", "write_table", "write_table_chunks"]

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def output_format(path: str | os.PathLike) -> str:
    """'parquet' or 'csv' from the file name, or a clear error.

    >>> output_format("scores.parquet")
    'parquet'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(
            f"Cannot tell the output format of {str(path)!r}: name it *.parquet, *.pq or *.csv."
        )
    return _FORMATS[suffix]


def check_output_file(path: str | os.PathLike) -> Path:
    """Refuse an output path that cannot become a file, before any work: a folder, or a
    path whose folder is missing or not writable. Returns it as a Path.

    >>> check_output_file(".")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    IsADirectoryError: Cannot write '.': it is a folder. ...
    """
    target = Path(path)
    if target.is_dir():
        example = target / f"scores{target.suffix or '.parquet'}"
        raise IsADirectoryError(
            f"Cannot write {str(target)!r}: it is a folder. Give the path of a file, e.g. "
            f"{str(example)!r}."
        )
    parent = target.parent
    if not parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write {str(target)!r}: the folder {str(parent)!r} does not exist. "
            "Create it first or choose another output path."
        )
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"Cannot write {str(target)!r}: the folder {str(parent)!r} is not "
                              "writable. Choose another output path.")
    return target


def check_job_target(out_dir: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse a job directory that cannot be written, before any fitting: a file, or an
    existing directory without ``overwrite``. (Here rather than in
    :mod:`clvmodels.scoring`, as :func:`check_job_dir`: the command line refuses a bad
    ``--out`` before it imports pandas.)"""
    target = Path(out_dir)
    remove_stale_siblings(target)  # what killed runs left, and a swap cut off midway
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"Cannot write the model to {str(target)!r}: it is a file, and a "
                              "model is a directory. Choose a new directory name for --out "
                              "(out_dir), e.g. models/clv.")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{str(target)!r} already exists; pass --overwrite (overwrite=True) "
                              "to replace it or choose another directory.")
    return target


def check_job_dir(model_dir: str | os.PathLike) -> Path:
    """The directory of a saved job (:func:`clvmodels.scoring.load_job`), or the error
    that it is none (no ``job.json``), before anything heavy is imported. A refit killed
    between its two renames is put back first."""
    path = Path(model_dir)
    if not path.exists():  # a refit killed between its two renames: put the job back
        remove_stale_siblings(path)
    if not path.is_dir() or not (path / "job.json").is_file():
        raise IncompatibleModelError(
            f"{str(path)!r} is not a clvmodels model directory (no job.json). Create one with "
            "'clvmodels fit ... --out DIR'.")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``
    (fsynced first), on any error remove it and leave ``path`` untouched. Temporary
    files left by earlier runs that were killed are removed first."""
    target = check_output_file(path)
    remove_stale_siblings(target)
    tmp = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp",
                                        dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (setting
    it to read it would give files that other threads create meanwhile mode 0666)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)  # pragma: no cover - elsewhere: briefly, the safest mask
    os.umask(mask)
    return mask


# ---------------------------------------------------------- temporary siblings
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_SIBLING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-"
                      r"[0-9a-z_]+(?:\.tmp)?$")


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.tmp-{os.getpid()}-{_HOST}-"


def temporary_dir(target: str | os.PathLike) -> Path:
    """A new empty folder beside ``target`` to build it in, with the mode a new folder
    gets (``mkdtemp`` makes it owner-only: another account could not read the
    result), after removing what killed runs left beside ``target``."""
    target = Path(target)
    remove_stale_siblings(target)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def old_sibling(target: str | os.PathLike) -> Path:
    """Where ``target`` goes for the moment it is being replaced by a new folder."""
    target = Path(target)
    return target.with_name(f".{target.name}.old-{os.getpid()}-{_HOST}-{uuid.uuid4().hex[:8]}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # pragma: no cover - cannot tell: keep them
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another account's process
        return True
    return True


def remove_stale_siblings(target: str | os.PathLike) -> list[str]:
    """Remove the temporary siblings of ``target`` left by runs on this machine whose
    process no longer exists (killed before they could clean up), and put back a
    folder whose replacement was killed between its two renames (``target`` missing,
    its ``.old`` copy present). Siblings of live processes or other machines, and
    anything that cannot be removed, are left alone. Returns the names handled."""
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    prefix = f".{target.name}."
    try:
        names = [n for n in os.listdir(parent) if n.startswith(prefix)]
    except OSError:
        return []
    done = []
    for name in sorted(names, key=lambda n: ".old-" not in n):  # restore before removing
        m = _SIBLING.match(name)
        if not m or m["name"] != target.name or m["host"] != _HOST or _alive(int(m["pid"])):
            continue
        path = parent / name
        try:
            if m["kind"] == "old" and not (target.exists() or target.is_symlink()):
                os.rename(path, target)
            elif path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        done.append(name)
    return done


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends (a few renames that must happen
    together), then act on them as usual. Outside the main thread signals cannot be
    held; the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.getsignal(s) for s in held}
    if any(h is None for h in before.values()):  # a handler not set from Python
        yield
        return
    for s in held:
        signal.signal(s, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        if pending:
            signal.raise_signal(pending[0])


def write_table_chunks(chunks: Iterable[pd.DataFrame], path: str | os.PathLike) -> int:
    """Stream DataFrame chunks (same columns) into one Parquet or CSV file,
    atomically; returns the number of rows written. Memory holds one chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fmt = output_format(path)
    rows = 0
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            writer = None
            try:
                for chunk in chunks:
                    table = pa.Table.from_pandas(chunk, preserve_index=True)
                    if writer is None:
                        # no dictionary encoding of float columns: scores are nearly all
                        # distinct, so the dictionary only overflows; building it took 10
                        # of the 14 s of writing 10M rows x 11 scores, and the file is
                        # 12% smaller without it
                        keep = [f.name for f in table.schema
                                if not pa.types.is_floating(f.type)]
                        writer = pq.ParquetWriter(tmp, table.schema, use_dictionary=keep)
                    writer.write_table(table)
                    rows += len(chunk)
            finally:
                if writer is not None:
                    writer.close()
        else:
            with open(tmp, "w", newline="") as handle:
                for i, chunk in enumerate(chunks):
                    chunk.to_csv(handle, header=i == 0)
                    rows += len(chunk)
    return rows


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> int:
    """Write one DataFrame atomically (Parquet or CSV by suffix)."""
    return write_table_chunks([frame], path)
