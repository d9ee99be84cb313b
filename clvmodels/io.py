"""Atomic output (DESIGN.md principle 8): every file clvmodels writes goes to a
temporary sibling first and is renamed into place, so a crash or a kill at any
moment leaves either the previous file or the complete new one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

__all__ = ["atomic_path", "write_table", "write_table_chunks", "output_format",
           "check_output_file"]

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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``
    (fsynced first), on any error remove it and leave ``path`` untouched."""
    target = check_output_file(path)
    parent = target.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
                        writer = pq.ParquetWriter(tmp, table.schema)
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
