"""Compression first (DESIGN.md principle 4): identical summary rows become one row
with a weight; fits and predictions run on the unique rows and map back by index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CompressedRows", "compress_rows"]


@dataclass(frozen=True)
class CompressedRows:
    """Unique rows of some summary columns.

    Attributes
    ----------
    unique : dict of str to ndarray
        One float64 array per column, ``n_unique`` long.
    weights : ndarray
        How many original rows each unique row stands for (float64).
    inverse : ndarray
        For each original row, the index of its unique row:
        ``unique[c][inverse]`` rebuilds column ``c``.
    """

    unique: dict[str, np.ndarray]
    weights: np.ndarray
    inverse: np.ndarray

    @property
    def n_unique(self) -> int:
        return int(self.weights.shape[0])

    def expand(self, values: np.ndarray, axis: int = -1) -> np.ndarray:
        """Map per-unique-row values back to the original rows along ``axis``."""
        return np.take(values, self.inverse, axis=axis)


def compress_rows(data: pd.DataFrame | dict[str, np.ndarray], columns: list[str]) -> CompressedRows:
    """Collapse identical rows of ``columns`` into unique rows with weights.

    NaN compares equal to NaN here, so customers without repeat purchases (no mean
    spend) still compress together.

    >>> import pandas as pd
    >>> c = compress_rows(pd.DataFrame({"x": [0, 1, 0], "T": [5.0, 5.0, 5.0]}), ["x", "T"])
    >>> c.n_unique, c.weights.tolist(), c.inverse.tolist()
    (2, [2.0, 1.0], [0, 1, 0])
    """
    cols = [np.asarray(data[c], dtype=np.float64) for c in columns]
    n = cols[0].shape[0] if cols else 0
    if n == 0:
        empty = {c: np.empty(0) for c in columns}
        return CompressedRows(empty, np.empty(0), np.empty(0, dtype=np.intp))
    # hash-factorize column by column, folding the codes into one group code
    # (O(n), no sort); NaN gets its own code, so missing values group together
    group = np.zeros(n, dtype=np.int64)
    bound = 1  # group codes are < bound
    for c in cols:
        codes, uniques = pd.factorize(c, use_na_sentinel=True)
        width = len(uniques) + 1
        if bound * width >= 2**62:  # re-number the groups before the key could overflow
            group, seen = pd.factorize(group)
            bound = len(seen)
        group = group * width + (codes.astype(np.int64) + 1)  # NaN (-1) -> 0
        bound *= width
    group, seen = pd.factorize(group)
    n_groups = len(seen)
    group = group.astype(np.intp)
    first = np.empty(n_groups, dtype=np.intp)
    first[group[::-1]] = np.arange(n - 1, -1, -1, dtype=np.intp)  # last write wins: first row
    weights = np.bincount(group, minlength=n_groups).astype(np.float64)
    unique = {name: c[first] for name, c in zip(columns, cols)}
    return CompressedRows(unique, weights, group)
