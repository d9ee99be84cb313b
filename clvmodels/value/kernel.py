"""Credible bounds of the expected CLV over many parameter draws, as one compiled pass
(and, in the same pass, the predictive bounds of :mod:`clvmodels.value.predictive`).

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
from .intervals import tail_probabilities, weibull_positions

__all__ = ["clv_credible_bounds", "generic_clv_bounds", "predictive_bounds"]


def clv_credible_bounds(bg, gg, rows, per_pair, pair_index, margin, level, pool=None):
    """Lower and upper ``level`` credible bounds (shape ``(2, n_rows)``) of the expected
    CLV of each row of ``rows`` over the draws in ``bg``/``gg`` (equal lengths).

    ``per_pair`` is ``(n_pairs, n_draws)``: discounted purchases if alive per distinct
    (frequency, T) pair (rows of it contiguous over draws); ``pair_index`` maps rows to
    pairs. Quantiles at Weibull positions, as :func:`clvmodels.value.intervals.credible_bounds`.

    With ``pool`` (:func:`clvmodels.value.predictive.live_future_pool` of the same pairs,
    at the same draws) the same pass also gives the ``level`` predictive bounds from the
    P(alive) per draw it computes (:mod:`clvmodels.value.predictive`); the result is then
    ``(4, n_rows)``: credible lower and upper, predictive lower and upper.
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
            or (x.size and not 0 <= pair_index.min() <= pair_index.max() < per_pair.shape[0])
            or (pool is not None and (pool[0].shape[0] != per_pair.shape[0]
                                      or pool[0].shape != pool[1].shape
                                      or (pool[0].size and not 0 <= pool[0].min()
                                          <= pool[0].max() < n_draws)))):
        raise ValueError("clv_credible_bounds: inconsistent shapes (every draw array needs "
                         f"{n_draws} values, per_pair (pairs, {n_draws}), one pair index and "
                         "one value per column for every row, a pool of futures per pair at "
                         "those draws)")
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
    out = np.empty((2 if pool is None else 4, x.size))
    if pool is None:
        pool = (np.empty((0, 1), np.int64), np.empty((0, 1)), np.empty(0, np.int64))
    args = (np.ascontiguousarray(r[0]), x, ix.astype(np.int64), iT.astype(np.int64),
            it.astype(np.int64), pair_index, xm, log_odds_x,
            log_at, log_atx, per_pair, p, q, gamma, float(margin),
            positions, out, out.shape[0] == 4, pool[0], pool[1], pool[2],
            tail_probabilities(level))
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
            q, gamma, margin, positions, out, predictive, pool_draw, pool_value, pool_first,
            probs):  # pragma: no cover - compiled
    n = r.size
    buf = np.empty(n)
    alive = np.ones(n)
    sample = np.empty(256)
    tmp = np.empty(2 * n)
    result = np.empty(2)
    val = np.empty(pool_value.shape[1])
    wt = np.empty(pool_value.shape[1])
    for i in range(start, stop):
        xi = x[i]
        lx, lT, lt, pp = log_odds_x[ix[i]], log_at[iT[i]], log_atx[it[i]], per_pair[ip[i]]
        xmi = xm[i]
        if xi > 0.0:
            for d in range(n):
                z = lx[d] + (r[d] + xi) * (lT[d] - lt[d])
                e = exp_nonpositive(-abs(z))
                alive[d] = (e if z > 0.0 else 1.0) / (1.0 + e)
                spend = p[d] * (gamma[d] + xmi) / (p[d] * xi + q[d] - 1.0)
                buf[d] = margin * alive[d] * pp[d] * spend
        else:
            for d in range(n):
                alive[d] = 1.0
                buf[d] = margin * pp[d] * (p[d] * gamma[d] / (q[d] - 1.0))
        _two_quantiles(buf, positions, sample, tmp, result)
        out[0, i] = result[0]
        out[1, i] = result[1]
        if predictive:
            g = ip[i]
            _predictive_row(alive, xmi, gamma, pool_draw[g], pool_value[g], pool_first[g],
                            margin, probs, val, wt, result)
            out[2, i] = result[0]
            out[3, i] = result[1]


def generic_clv_bounds(alive, alive_index, per_pair, pair_index, gg, rows, margin, level,
                       pool, gamma_rows=None):
    """Credible and predictive ``level`` bounds (shape ``(4, n_rows)``: credible lower,
    upper, predictive lower, upper) of each row of ``rows`` for any purchase model, from
    its tables per parameter draw: ``alive`` ``(n_tables, n_draws)``, P(alive), row
    ``alive_index[i]`` for customer ``i``; ``per_pair`` ``(n_pairs, n_draws)``, the
    discounted purchases if alive, row ``pair_index[i]``; ``pool``, the live futures of
    each pair (:func:`clvmodels.value.predictive.live_future_pool`, same draws).

    Per row, as :func:`clv_credible_bounds` does for BG/NBD: the expected CLV per draw,
    ``margin x P(alive) x discounted purchases if alive x p (gamma + x m) / (p x + q - 1)``
    (the Gamma-Gamma spend, as :func:`~clvmodels.models.spend.gamma_gamma.
    gamma_gamma_expected_spend`), two order statistics selected at Weibull positions,
    then the predictive bounds from the pool (:mod:`clvmodels.value.predictive`).
    ``gamma_rows`` (a spend model with covariates): ``(table, index)``, the spend scale
    ``gamma`` per draw of each row's covariate pattern, ``table`` ``(n_patterns,
    n_draws)`` and row ``index[i]`` for customer ``i``, instead of ``gg["gamma"]``.
    """
    # read-only views, always: these tables are read-only or not depending on the path
    # that built them (cached, chunked), and numba compiles once per combination, so a
    # large call compiled again what the small warm-up call had compiled (1.8 s for
    # BG/BB's CLV at 1,000,000 customers on a new machine)
    alive = _read_only(np.ascontiguousarray(alive, dtype=np.float64))
    per_pair = _read_only(np.ascontiguousarray(per_pair, dtype=np.float64))
    alive_index = np.asarray(alive_index, dtype=np.int64)
    pair_index = np.asarray(pair_index, dtype=np.int64)
    x = np.asarray(rows["frequency"], dtype=np.float64)
    m = np.asarray(rows["monetary_value"], dtype=np.float64)
    xm = np.where(x > 0, x * np.nan_to_num(m), 0.0)
    p, q, gamma = (np.ascontiguousarray(gg[k], dtype=np.float64) for k in ("p", "q", "gamma"))
    n_draws = p.shape[0]
    if gamma_rows is None:
        gamma_table, gamma_index = gamma[None, :], np.zeros(x.shape, dtype=np.int64)
    else:
        gamma_table = np.ascontiguousarray(gamma_rows[0], dtype=np.float64)
        gamma_index = np.asarray(gamma_rows[1], dtype=np.int64)
        if (gamma_table.ndim != 2 or gamma_table.shape[1] != n_draws
                or gamma_index.shape != x.shape
                or (x.size and not 0 <= gamma_index.min() <= gamma_index.max()
                    < gamma_table.shape[0])):
            raise ValueError("generic_clv_bounds: gamma_rows must be a (patterns, draws) "
                             "table and one pattern per customer")
    draw, value, first = pool
    if (alive.ndim != 2 or per_pair.ndim != 2 or alive.shape[1] != n_draws
            or per_pair.shape[1] != n_draws or q.shape != p.shape or gamma.shape != p.shape
            or alive_index.shape != x.shape or pair_index.shape != x.shape
            or draw.shape != value.shape or draw.shape[0] != per_pair.shape[0]
            or first.shape != (draw.shape[0],)
            or (x.size and not (0 <= alive_index.min() and alive_index.max() < alive.shape[0]
                                and 0 <= pair_index.min()
                                and pair_index.max() < per_pair.shape[0]))
            or (draw.size and not 0 <= draw.min() <= draw.max() < n_draws)):
        raise ValueError("generic_clv_bounds: inconsistent shapes (P(alive) and discounted "
                         f"purchases tables (rows, {n_draws}), one table row and one pair per "
                         "customer, a pool of futures per pair at those draws)")
    out = np.empty((4, x.size))
    args = (alive, alive_index, per_pair, pair_index, x, xm, p, q, gamma_table, gamma_index,
            float(margin),
            weibull_positions(n_draws, level), tail_probabilities(level), draw, value, first,
            out)
    run_split(lambda start, stop: _generic_bounds(start, stop, *args), x.size, _threads(x.size))
    return out


def _read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (no copy)."""
    view = a.view()
    view.flags.writeable = False
    return view


@njit(cache=True, nogil=True, error_model="numpy")
def _generic_bounds(start, stop, alive, alive_index, per_pair, pair_index, x, xm, p, q,
                    gamma_table, gamma_index, margin, positions, probs, pool_draw, pool_value,
                    pool_first, out):  # pragma: no cover - compiled
    n = p.size
    buf = np.empty(n)
    sample = np.empty(256)
    tmp = np.empty(2 * n)
    result = np.empty(2)
    val = np.empty(pool_value.shape[1])
    wt = np.empty(pool_value.shape[1])
    for i in range(start, stop):
        pa, pp = alive[alive_index[i]], per_pair[pair_index[i]]
        gamma = gamma_table[gamma_index[i]]
        xi, xmi = x[i], xm[i]
        for d in range(n):
            buf[d] = margin * pa[d] * pp[d] * (p[d] * (gamma[d] + xmi) / (p[d] * xi + q[d] - 1.0))
        _two_quantiles(buf, positions, sample, tmp, result)
        out[0, i] = result[0]
        out[1, i] = result[1]
        g = pair_index[i]
        _predictive_row(pa, xmi, gamma, pool_draw[g], pool_value[g], pool_first[g], margin,
                        probs, val, wt, result)
        out[2, i] = result[0]
        out[3, i] = result[1]


# ------------------------------------------------ predictive bounds from shared futures
# (clvmodels.value.predictive; here, with every compiled function that calls them, so
# that numba's cache, kept per file, never pairs a kernel with an older copy of them)
def predictive_bounds(alive, alive_index, pool, pool_index, gamma, xm, margin, probs):
    """Predictive bounds (shape ``(2, n_rows)``) of each row from its group's pool.

    ``alive`` is ``(n_tables, n_draws)``: P(alive) per draw, row ``alive_index[i]`` for
    customer ``i``; ``pool`` is :func:`~clvmodels.value.predictive.live_future_pool`'s
    output, group ``pool_index[i]`` for customer ``i``; ``gamma`` the spend draws'
    ``gamma``; ``xm`` each customer's ``x m`` (0 without repeat purchases); ``probs``
    the two probabilities.
    """
    alive = np.ascontiguousarray(alive, dtype=np.float64)
    draw, value, first = pool
    alive_index = np.asarray(alive_index, dtype=np.int64)
    pool_index = np.asarray(pool_index, dtype=np.int64)
    xm = np.asarray(xm, dtype=np.float64)
    gamma = np.ascontiguousarray(gamma, dtype=np.float64)
    n = xm.shape[0]
    if (alive.ndim != 2 or alive.shape[1] != gamma.shape[0] or draw.shape != value.shape
            or alive_index.shape != (n,) or pool_index.shape != (n,)
            or (n and not (0 <= alive_index.min() and alive_index.max() < alive.shape[0]
                           and 0 <= pool_index.min() and pool_index.max() < draw.shape[0]))
            or (draw.size and not 0 <= draw.min() <= draw.max() < gamma.shape[0])):
        raise ValueError("predictive_bounds: inconsistent shapes (one P(alive) per draw, pool "
                         "draws within the draws, one table and one group per row)")
    out = np.empty((2, n))
    _rows(0, n, alive, alive_index, draw, value, first, pool_index, gamma, xm, float(margin),
          np.asarray(probs, dtype=np.float64), out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _rows(start, stop, alive, alive_index, draw, value, first, pool_index, gamma, xm, margin,
          probs, out):  # pragma: no cover - compiled
    s = draw.shape[1]
    val = np.empty(s)
    wt = np.empty(s)
    result = np.empty(2)
    for i in range(start, stop):
        g = pool_index[i]
        _predictive_row(alive[alive_index[i]], xm[i], gamma, draw[g], value[g], first[g],
                        margin, probs, val, wt, result)
        out[0, i] = result[0]
        out[1, i] = result[1]


@njit(cache=True, nogil=True, error_model="numpy")
def _predictive_row(alive, xm, gamma, draw, value, first, margin, probs, val, wt,
                    result):  # pragma: no cover - compiled
    """Quantiles at ``probs`` of one customer's estimated predictive distribution
    (module docstring) into ``result``.

    ``draw``/``value``: her group's ``S`` futures sorted by value, the first ``first``
    of them without purchases; ``alive``: her P(alive) per draw. Future ``s`` with a
    purchase is an atom of mass ``P_{d_s}`` at ``margin (gamma_{d_s} + xm) W_s``; the
    rest of the ``S`` units of mass is at 0. The atoms are sorted by insertion (the
    futures come sorted by ``W_s`` and the scale varies little between draws, so few
    moves). The estimated distribution function ``F`` is unbiased at every value; its
    quantile at ``q`` is taken with each atom at the middle of its mass on the
    probability scale (Hazen's positions), linear between neighbouring atoms (from 0 at
    the top of the mass at 0), the smallest or largest atom beyond them. With all masses
    1 (P(alive) = 1) this is ``np.quantile(values, probs, method="hazen")`` of the ``S``
    values. (Weibull positions, ``q (S + 1)`` on the scale of unit masses, are exact
    for unit masses only: with masses ``P < 1`` the extra unit moves a quantile by
    ``1 / P`` futures. Measured on 175 customer rows against 100,000 futures each,
    200 futures: Hazen +3.3% median relative bias of the upper bound, Weibull +4.8%
    mean; the old per-row simulation with numpy's linear quantile -2.5% and Weibull
    +3.1%, with about twice the relative error.) Any NaN gives NaN.
    """
    s = value.shape[0]
    n = 0
    live_mass = 0.0
    bad = False
    for j in range(first, s):
        d = draw[j]
        w = alive[d]
        v = margin * (gamma[d] + xm) * value[j]
        bad |= (w != w) | (v != v)
        k = n
        while k > 0 and val[k - 1] > v:
            val[k] = val[k - 1]
            wt[k] = wt[k - 1]
            k -= 1
        val[k] = v
        wt[k] = w
        n += 1
        live_mass += w
    zero = s - live_mass  # mass at 0 (units of one future)
    for q in range(2):
        if bad:
            result[q] = np.nan
            continue
        target = probs[q] * s
        if target <= zero or n == 0:
            result[q] = 0.0
            continue
        below = zero  # mass below the current atom
        prev_pos = zero
        prev_val = 0.0
        anchored = zero > 0.0  # interpolate from 0 only above a mass at 0
        result[q] = val[n - 1]
        for k in range(n):
            pos = below + 0.5 * wt[k]
            if pos >= target:
                if not anchored or pos <= prev_pos:
                    result[q] = val[k]
                else:
                    g = (target - prev_pos) / (pos - prev_pos)
                    result[q] = prev_val + g * (val[k] - prev_val)
                break
            below += wt[k]
            prev_pos = pos
            prev_val = val[k]
            anchored = True


@njit(cache=True, nogil=True, error_model="numpy")
def live_spend(rate, last_purchase, end, p, shape, delta, rng, out):  # pragma: no cover
    """Discounted unit-scale spend of customers alive at 0 (flat arrays of one length),
    one purchase at a time: customer ``i`` buys as a Poisson process with rate
    ``rate[i]`` until ``end[i]`` and drops out right after her ``last_purchase[i]``-th
    purchase (the process of :func:`~clvmodels.simulate.purchase_process`); purchase
    ``j`` at time ``u`` adds ``exp(-delta u) g_j`` with ``g_j ~ Gamma(p[i])``, and the
    sum is divided by ``G ~ Gamma(shape[i])`` (Gamma-Gamma at ``gamma + x m = 1``:
    ``shape = p x + q``; :mod:`clvmodels.value.predictive`). ``rng`` is a numpy
    Generator. Into ``out``; 0 without purchases."""
    for i in range(rate.size):
        lam = rate[i]
        total = 0.0
        if lam > 0.0 and last_purchase[i] > 0:
            tau = 0.0
            k = 0
            while True:
                tau += rng.standard_exponential() / lam
                if not tau <= end[i]:
                    break
                g = rng.standard_gamma(p[i])
                total += g if delta == 0.0 else np.exp(-delta * tau) * g
                k += 1
                if k >= last_purchase[i]:
                    break
        out[i] = total / rng.standard_gamma(shape[i]) if total > 0.0 else 0.0
