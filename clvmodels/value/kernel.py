"""Credible bounds of the expected CLV over many parameter draws, as one compiled pass.

For each distinct customer row and each parameter draw the expected discounted CLV is
``margin * P(alive) * E[discounted purchases | alive] * E[spend per purchase]``
(:func:`clvmodels.value.purchase._expected_clv_draws` writes it with the numpy functions of the
models), and the credible interval takes two quantiles over the draws. With all 4,000
draws of a posterior and a few hundred thousand distinct rows this is billions of
values; written with numpy it is a dozen passes over (draws x rows) temporaries, a
gather per factor and a sort-like partition.

Here each row is done at once: its values over the draws go into a buffer of
``n_draws`` numbers and the two order statistics are selected from it. P(alive) is
computed from logarithms tabulated once per (distinct value, draw), as in the
likelihood kernel (:mod:`clvmodels.models.purchase.bgnbd_kernel`, whose vectorizable ``exp``
it uses): ``P(alive) = 1 / (1 + exp(z))``, ``z = log a - log(b+x-1) + (r+x)
(log(alpha+T) - log(alpha+t_x))`` for ``x > 0`` (FHL 2005, eq. 11), 1 for ``x = 0``;
the Gamma-Gamma spend is ``p (gamma + x m) / (p x + q - 1)`` (Fader & Hardie 2013,
eq. 5). A test holds the bounds equal to the numpy path (``_expected_clv_draws``
followed by :func:`clvmodels.value.intervals.credible_bounds`) to 1e-12 relative; the one
exception is P(alive) below 1e-300, which the kernel's ``exp`` (stopping at
``exp(-708)``) gives as about 1e-307 instead of a smaller number or 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..models.backend import NUMPY
from ..models.purchase.bgnbd import _log_odds
from ..models.purchase.bgnbd_kernel import exp_nonpositive
from ..parallel import run_split
from ..parallel import threads_for as _threads
from .intervals import weibull_positions

__all__ = ["clv_credible_bounds"]


def clv_credible_bounds(bg, gg, rows, per_pair, pair_index, margin, level):
    """Lower and upper ``level`` credible bounds (shape ``(2, n_rows)``) of the expected
    CLV of each row of ``rows`` over the draws in ``bg``/``gg`` (equal lengths).

    ``per_pair`` is ``(n_pairs, n_draws)``: discounted purchases if alive per distinct
    (frequency, T) pair (rows of it contiguous over draws); ``pair_index`` maps rows to
    pairs. Quantiles at Weibull positions, as :func:`clvmodels.value.intervals.credible_bounds`.
    """
    x = np.asarray(rows["frequency"], dtype=np.float64)
    n_draws = np.asarray(bg["r"]).size
    per_pair = np.ascontiguousarray(per_pair, dtype=np.float64)
    pair_index = np.asarray(pair_index, dtype=np.int64)
    # the compiled loop does not check bounds: check the shapes it relies on here
    if (any(np.asarray(d[k]).shape != (n_draws,) for d, keys in ((bg, "r alpha a b"),
                                                                  (gg, "p q gamma"))
            for k in keys.split())
            or per_pair.ndim != 2 or per_pair.shape[1] != n_draws
            or any(np.asarray(rows[c]).shape != x.shape
                   for c in ("recency", "T", "monetary_value"))
            or pair_index.shape != x.shape
            or (x.size and not 0 <= pair_index.min() <= pair_index.max() < per_pair.shape[0])):
        raise ValueError("clv_credible_bounds: inconsistent shapes (every draw array needs "
                         f"{n_draws} values, per_pair (pairs, {n_draws}), one pair index and "
                         "one value per column for every row)")
    ux, ix = np.unique(x, return_inverse=True)
    uT, iT = np.unique(np.asarray(rows["T"], dtype=np.float64), return_inverse=True)
    ut, it = np.unique(np.asarray(rows["recency"], dtype=np.float64), return_inverse=True)
    col = lambda v: np.asarray(v, dtype=np.float64)[None, :]  # noqa: E731 - draws across
    r, alpha, a, b = (col(bg[k]) for k in ("r", "alpha", "a", "b"))
    with np.errstate(divide="ignore"):  # t_x = 0 with alpha -> 0 is never used (x = 0)
        # the part of the P(alive) log-odds that does not depend on T and t_x
        log_odds_x = np.ascontiguousarray(_log_odds(NUMPY, r, alpha, a, b, ux[:, None], 0.0, 0.0))
        log_at = np.ascontiguousarray(np.log(alpha + uT[:, None]))
        log_atx = np.ascontiguousarray(np.log(alpha + ut[:, None]))
    m = np.asarray(rows["monetary_value"], dtype=np.float64)
    xm = np.where(x > 0, x * np.nan_to_num(m), 0.0)
    p, q, gamma = (np.ascontiguousarray(gg[k], dtype=np.float64) for k in ("p", "q", "gamma"))
    positions = weibull_positions(r.shape[1], level)
    out = np.empty((2, x.size))
    args = (np.ascontiguousarray(r[0]), x, ix.astype(np.int64), iT.astype(np.int64),
            it.astype(np.int64), pair_index, xm, log_odds_x,
            log_at, log_atx, per_pair, p, q, gamma, float(margin),
            positions, out)
    # rows are independent: split them over threads (the kernel releases the GIL);
    # each row's result does not depend on the split
    run_split(lambda start, stop: _bounds(start, stop, *args), x.size, _threads(x.size))
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _bracket(srt, s, k, n):  # pragma: no cover - compiled
    """Thresholds that hold the k-th and (k+1)-th smallest of n values with high
    probability, from a sorted regular sample ``srt`` of s of them (about 4 binomial
    standard deviations of the sample rank either side)."""
    ks = (k * s) // n
    c = int(4.0 * np.sqrt(s * (k + 1.0) / n * (1.0 - k / n))) + 2
    lo_t = srt[ks - c] if ks - c >= 0 else -np.inf
    hi_t = srt[ks + c + 1] if ks + c + 1 < s else np.inf
    return lo_t, hi_t


@njit(cache=True, nogil=True, error_model="numpy")
def _select(a, lo, hi, k):  # pragma: no cover - compiled
    """Reorder ``a[lo:hi]`` in place so that ``a[k]`` is the value a sort would put
    there, with no larger value before it and no smaller one after (quickselect,
    median-of-three pivots, Hoare partitioning)."""
    hi -= 1
    while hi > lo:
        mid = (lo + hi) // 2
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@njit(cache=True, nogil=True, error_model="numpy")
def _lerp(low, high, g):  # pragma: no cover - compiled
    diff = high - low  # numpy's quantile interpolation, same rounding
    if g >= 0.5:
        return high - diff * (1.0 - g)
    return low + diff * g


@njit(cache=True, nogil=True, error_model="numpy")
def _two_quantiles(buf, positions, sample, tmp, result):  # pragma: no cover - compiled
    """Values at the two 0-based fractional positions of the sorted ``buf``, linear
    between neighbours, into ``result``.

    Selection by sampling (Floyd & Rivest's idea): a sorted regular sample of ``buf``
    brackets each pair of wanted order statistics between two thresholds; one pass
    counts the values below each bracket and copies those inside it to ``tmp``, and
    only those few are sorted. If a bracket misses (possible, not wrong), the whole
    buffer is sorted instead. Any NaN gives NaN, as ``np.quantile``.
    """
    n = buf.size
    s = min(n, sample.size)
    for j in range(s):
        sample[j] = buf[(j * n) // s]
    srt = np.sort(sample[:s])
    ks = np.empty(2, np.int64)
    lo_t = np.empty(2)
    hi_t = np.empty(2)
    for q in range(2):
        ks[q] = min(max(int(np.floor(positions[q])), 0), n - 2)
        lo_t[q], hi_t[q] = _bracket(srt, s, ks[q], n)
    below0 = below1 = m0 = m1 = 0
    half = tmp.size // 2
    bad = False
    for d in range(n):
        v = buf[d]
        bad |= v != v
        below0 += v < lo_t[0]
        below1 += v < lo_t[1]
        tmp[m0] = v  # branch-free filter: always write, advance if inside
        m0 += (v >= lo_t[0]) & (v <= hi_t[0])
        tmp[half + m1] = v
        m1 += (v >= lo_t[1]) & (v <= hi_t[1])
    full = np.empty(0)
    for q in range(2):
        pos = positions[q]
        if bad:
            result[q] = np.nan
            continue
        if pos < 0.0 or pos >= n - 1:  # beyond the draws: the extreme one (NaN if
            v = buf.min() if pos < 0.0 else buf.max()  # infinite, as numpy's lerp)
            result[q] = _lerp(v, v, pos - np.floor(pos))
            continue
        k = ks[q]
        below, m, off = (below0, m0, 0) if q == 0 else (below1, m1, half)
        if below <= k and k + 1 - below < m:
            j = off + k - below
            _select(tmp, off, off + m, j)
            result[q] = _lerp(tmp[j], tmp[j + 1:off + m].min(), pos - k)
        else:
            if full.size == 0:
                full = np.sort(buf)
            result[q] = _lerp(full[k], full[k + 1], pos - k)


@njit(cache=True, nogil=True, error_model="numpy")
def _bounds(start, stop, r, x, ix, iT, it, ip, xm, log_odds_x, log_at, log_atx, per_pair, p,
            q, gamma, margin, positions, out):  # pragma: no cover - compiled
    n = r.size
    buf = np.empty(n)
    sample = np.empty(256)
    tmp = np.empty(2 * n)
    result = np.empty(2)
    for i in range(start, stop):
        xi = x[i]
        lx, lT, lt, pp = log_odds_x[ix[i]], log_at[iT[i]], log_atx[it[i]], per_pair[ip[i]]
        xmi = xm[i]
        if xi > 0.0:
            for d in range(n):
                z = lx[d] + (r[d] + xi) * (lT[d] - lt[d])
                e = exp_nonpositive(-abs(z))
                alive = (e if z > 0.0 else 1.0) / (1.0 + e)
                spend = p[d] * (gamma[d] + xmi) / (p[d] * xi + q[d] - 1.0)
                buf[d] = margin * alive * pp[d] * spend
        else:
            for d in range(n):
                buf[d] = margin * pp[d] * (p[d] * gamma[d] / (q[d] - 1.0))
        _two_quantiles(buf, positions, sample, tmp, result)
        out[0, i] = result[0]
        out[1, i] = result[1]
