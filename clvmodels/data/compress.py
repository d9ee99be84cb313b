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
    # lexsort over the columns (last key is primary); NaN sorts last and ties with NaN.
    order = np.lexsort(cols[::-1])
    sorted_cols = [c[order] for c in cols]
    new_group = np.zeros(n, dtype=bool)
    new_group[0] = True
    for c in sorted_cols:
        diff = c[1:] != c[:-1]
        both_nan = np.isnan(c[1:]) & np.isnan(c[:-1])
        new_group[1:] |= diff & ~both_nan
    group_of_sorted = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group_of_sorted
    weights = np.diff(np.append(starts, n)).astype(np.float64)
    unique = {name: c[starts] for name, c in zip(columns, sorted_cols)}
    return CompressedRows(unique, weights, inverse)
