"""How many threads a compiled kernel may split its rows over (one place for the
policy every kernel follows)."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

__all__ = ["threads_for", "in_dask_worker", "run_split"]


def threads_for(n_rows: int) -> int:
    """Threads for ``n_rows`` rows: the CPUs this process may use, at most one per
    2,000 rows (below that, starting threads costs more than it saves); one inside a
    Dask worker, where Dask's ``threads_per_worker`` already decides the parallelism."""
    if in_dask_worker():
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, n_rows // 2_000))


def in_dask_worker() -> bool:
    distributed = sys.modules.get("distributed")  # never imported here for this check
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


def run_split(kernel, n_rows: int, threads: int) -> None:
    """Call ``kernel(start, stop)`` over ``threads`` contiguous slices of ``n_rows``
    rows (the kernel releases the GIL and writes its own slice of the output)."""
    import numpy as np

    cuts = np.linspace(0, n_rows, threads + 1).astype(int)
    if cuts.size == 2:
        kernel(0, n_rows)
        return
    with ThreadPoolExecutor(cuts.size - 1) as pool:
        list(pool.map(lambda c: kernel(c[0], c[1]), zip(cuts[:-1], cuts[1:])))
