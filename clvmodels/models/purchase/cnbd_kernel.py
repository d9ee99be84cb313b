"""Fast tables of a live customer's expected (discounted) purchases under the
(M)BG/CNBD-k models, for value code that asks for many customers and parameter draws
at once (:func:`~clvmodels.models.purchase.cnbd.cnbd_discounted_purchases_if_alive`).

**Why it is cheaper than one evaluation per customer.** Given her phase ``j`` at ``T``,
a live customer's expectation ``V_j`` depends on her history only through ``x`` and ``T``
(the shape ``r + k x + j`` and rate ``beta + T`` of her phase rate, ``p ~ Beta(a,
b + x + s)``); ``recency`` enters only through the posterior weights of ``j``, which
cost ``k`` logarithms. So ``V_j`` is computed once per parameter draw and distinct
``(x, T)``, and customers are mixed from it. And for fixed ``x`` and draw, ``V_j`` is
an analytic function of ``B = beta + T`` off the cut ``B in [-horizon, 0]`` (the
purchase times are ``B`` times beta-prime variables: their density at ``u`` is
``B^s u^(K-1) (B + u)^(-K-s) / B(K, s)``), hence of ``y = log(beta_min + T)`` in the
strip ``|Im y| < pi`` for every draw with ``beta >= beta_min``. Where an ``x`` has more
distinct ``T`` than needed, ``V_j`` is evaluated at Chebyshev points in ``y`` (the same
for every draw) over the range ``[T_bottom, T_top]`` (powers of two around its ``T``;
0 below 1) and interpolated (barycentric form): interpolation error from the
Bernstein-ellipse bound aimed at 1e-13 relative, measured below
``INTERPOLATION_TOLERANCE`` (1e-11) against direct evaluation (tested).

**Reuse across calls.** Value code asks for a block of customers at a time with the same
parameter draws; the node values of an ``x`` depend only on the draws, ``k``, the
variant, horizon, discount rate, ``x`` and ``T_top``, so they are kept in a small
table keyed by exactly those (a pure function's memo: the answer never depends on
what was asked before) and a later block reuses them.
"""

from __future__ import annotations

import hashlib
import math
import threading

import numpy as np
from numba import njit

from ..interpolation import barycentric_matrix

__all__ = ["INTERPOLATION_TOLERANCE", "by_parts_range", "if_alive_table", "outer_layout"]

#: relative error allowed to the interpolation in ``T``
INTERPOLATION_TOLERANCE = 1e-11
#: node values kept (numbers); the memo is emptied when it would grow beyond
_MEMO_NUMBERS = 4_000_000
_memo: dict = {}
_memo_size = [0]
_memo_lock = threading.Lock()


def interpolation_nodes(y_lo: float, y_hi: float) -> np.ndarray:
    """Chebyshev extreme points on ``[y_lo, y_hi]``, enough for
    :data:`INTERPOLATION_TOLERANCE` given analyticity within ``|Im y| < pi``."""
    half = (y_hi - y_lo) / 2.0
    t = np.pi / half  # nearest singularity in units of the half-width
    rho = t + np.sqrt(1.0 + t * t)  # Bernstein ellipse through it
    # the bound's constant is not known: aim 100 times lower (measured errors then stay
    # below the tolerance; tested against direct evaluation)
    n = int(np.ceil(np.log(100.0 / INTERPOLATION_TOLERANCE) / np.log(rho))) + 4
    return (y_lo + y_hi) / 2.0 + half * np.cos(np.pi * np.arange(n) / (n - 1))


def outer_layout(params, customers):
    """If the parameter arrays and the customer arrays broadcast against each other as
    an outer product (no axis longer than 1 in both, e.g. draws ``(n_draws, 1)`` and
    customers ``(n,)``): ``(shape, p_index, c_index, P, C)`` with the flat parameter set
    and flat customer of each element of the broadcast ``shape``; else None."""
    pshape = np.broadcast_shapes(*(np.shape(v) for v in params))
    cshape = np.broadcast_shapes(*(np.shape(v) for v in customers))
    shape = np.broadcast_shapes(pshape, cshape)
    nd = len(shape)
    pp = (1,) * (nd - len(pshape)) + tuple(pshape)
    cp = (1,) * (nd - len(cshape)) + tuple(cshape)
    if any(p > 1 and c > 1 for p, c in zip(pp, cp)):
        return None
    P, C = int(np.prod(pshape)), int(np.prod(cshape))
    p_index = np.broadcast_to(np.arange(P).reshape(pp), shape)
    c_index = np.broadcast_to(np.arange(C).reshape(cp), shape)
    return shape, p_index, c_index, P, C


def _key(*parts) -> str:
    h = hashlib.blake2b(digest_size=20)
    for p in parts:
        h.update(np.ascontiguousarray(p, dtype=np.float64).tobytes())
        h.update(b"|")
    return h.hexdigest()


def _remember(key, value):
    with _memo_lock:
        if _memo_size[0] + value.size > _MEMO_NUMBERS:
            _memo.clear()
            _memo_size[0] = 0
        if value.size <= _MEMO_NUMBERS:
            _memo[key] = value
            _memo_size[0] += value.size


def if_alive_table(pars, x, T, k, s, evaluate, extra=()):
    """``V[j, p, u]``: the expectation given phase ``j`` for parameter set ``p`` (flat
    arrays ``pars = (r, alpha, a, b)``, each of length ``P``) and distinct pair ``u`` of
    the flat arrays ``x``, ``T`` (module docstring). ``evaluate(j, x, T, p_index)`` gives
    ``V_j`` at flat points (``x``, ``T`` and the parameter-set index of each); ``extra``
    (numbers: horizon, discount rate, ...) enters the memo key with ``k`` and ``s``.
    Returns ``V`` and the pair index of each element of ``x``."""
    r, alpha, a, b = pars
    P = r.size
    pairs, inverse = np.unique(np.stack([x, T], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    U = pairs.shape[0]
    out = np.empty((k, P, U))
    beta_min = float(np.min(alpha)) / k
    params_key = _key(r, alpha, a, b, [k, s], list(extra))
    ux, starts = np.unique(pairs[:, 0], return_index=True)
    ends = np.r_[starts[1:], U]
    direct, groups, fresh = [], [], {}
    for xv, lo, hi in zip(ux, starts, ends):
        Ts = pairs[lo:hi, 1]  # sorted within x
        # the range: powers of two around the group's T (the same for every block of
        # customers with similar ages, so the memo serves them all; no nodes at ages none
        # of them has, where the young customers' long windows would be paid for nothing)
        top = float(2.0 ** np.ceil(np.log2(max(float(Ts[-1]), 1.0))))
        bottom = float(2.0 ** np.floor(np.log2(Ts[0]))) if Ts[0] >= 1.0 else 0.0
        if not top > bottom:  # one T (a power of two)
            direct.append(np.arange(lo, hi))
            continue
        nodes = interpolation_nodes(np.log(beta_min + bottom), np.log(beta_min + top))
        if Ts.size <= nodes.size or not np.isfinite(nodes).all():
            direct.append(np.arange(lo, hi))
            continue
        key = (params_key, float(xv), bottom, top)
        t_nodes = np.exp(nodes) - beta_min
        t_nodes[0], t_nodes[-1] = top, bottom  # exact at the ends
        groups.append((lo, hi, nodes, t_nodes, key))
        with _memo_lock:
            known = _memo.get(key)
        if known is not None:
            fresh[key] = known
    todo = [g for g in groups if g[4] not in fresh]
    # one evaluation per phase over every point needed: missing node values, direct pairs
    d = np.concatenate(direct) if direct else np.empty(0, dtype=np.intp)
    pts_x = [np.full(P * g[3].size, g[4][1]) for g in todo] + [np.tile(pairs[d, 0], P)]
    pts_T = [np.tile(g[3], P) for g in todo] + [np.tile(pairs[d, 1], P)]
    pts_p = [np.repeat(np.arange(P), g[3].size) for g in todo] + [np.repeat(np.arange(P), d.size)]
    px, pT, pp = (np.concatenate(v) for v in (pts_x, pts_T, pts_p))
    values = (np.stack([evaluate(j, px, pT, pp) for j in range(k)]) if px.size
              else np.empty((k, 0)))
    pos = 0
    failed = []
    for g in todo:
        n = P * g[3].size
        f = values[:, pos:pos + n].reshape(k, P, g[3].size)
        pos += n
        if np.isfinite(f).all():
            fresh[g[4]] = f
            _remember(g[4], f)
        else:  # a failed node would spread over the whole group: its pairs directly
            failed.append(np.arange(g[0], g[1]))
    out[:, :, d] = values[:, pos:].reshape(k, P, d.size)
    if failed:
        f_idx = np.concatenate(failed)
        px, pT = np.tile(pairs[f_idx, 0], P), np.tile(pairs[f_idx, 1], P)
        pp = np.repeat(np.arange(P), f_idx.size)
        out[:, :, f_idx] = np.stack([evaluate(j, px, pT, pp) for j in range(k)]
                                    ).reshape(k, P, f_idx.size)
    for lo, hi, nodes, _, key in groups:
        f = fresh.get(key)
        if f is None:
            continue  # evaluated directly above
        M = barycentric_matrix(nodes, np.log(beta_min + pairs[lo:hi, 1]))  # (n_T, n_nodes)
        out[:, :, lo:hi] = np.einsum("tn,jpn->jpt", M, f)
    return out, inverse


# ------------------------------------------- discounting by parts, broad rates
def _clenshaw_curtis(n: int):
    """Nodes on [0, 1] and weights of the ``n + 1``-point Clenshaw-Curtis rule (``n``
    even), nodes ``(1 - cos(pi i / n)) / 2``."""
    theta = np.pi * np.arange(n + 1) / n
    w = np.zeros(n + 1)
    v = np.ones(n - 1)
    for q in range(1, n // 2):
        v -= 2.0 * np.cos(2.0 * q * theta[1:-1]) / (4.0 * q * q - 1.0)
    v -= np.cos(n * theta[1:-1]) / (n * n - 1.0)
    w[0] = w[-1] = 1.0 / (n * n - 1.0)
    w[1:-1] = 2.0 * v / n
    return (1.0 - np.cos(theta)) / 2.0, w / 2.0


#: the nested rules, each pair (nodes, weights, weights of every other node): 17 in 33
#: points first, 33 in 65 for the rows where those differ
CC_RULES = tuple((*_clenshaw_curtis(n), _clenshaw_curtis(n // 2)[1]) for n in (32, 64))
#: rows whose phase count at the horizon has ``s theta <= BROAD`` (the negative binomial's
#: window starts at 0) go by parts
BROAD = 64.0
#: relative difference of the two rules accepted
BY_PARTS_TOLERANCE = 1e-13


@njit(cache=True, nogil=True)
def _floor_from_zero(s, theta, j, k, a, B):  # pragma: no cover - compiled
    """``E[h(floor((N + j)/k))]``, ``N ~ NB(s, theta)``, summed from ``N = 0`` (where the
    window of :func:`~clvmodels.models.purchase.cnbd.floor_expectation` starts for these
    rows) to its end (8 sd plus ``40 / -log theta``)."""
    if theta <= 0.0:
        return 0.0
    q = 1.0 - theta
    mean = s * theta / q
    hi = math.ceil(mean + 8.0 * math.sqrt(s * theta) / q + 40.0 / -math.log(theta)) + 1.0
    log_theta = math.log(theta)
    log_pmf = s * math.log1p(-theta)
    pmf = math.exp(log_pmf)
    n = 0.0
    place = float(j)
    step = 1.0
    m = 0.0
    cum = 0.0
    acc = 0.0
    for _ in range(int(hi) + 1):
        acc += pmf * cum
        if log_pmf > -700.0:  # by the ratio, once clear of underflow
            pmf *= theta * (s + n) / (n + 1.0)
        else:
            log_pmf += math.log((s + n) / (n + 1.0)) + log_theta
            pmf = math.exp(log_pmf)
        n += 1.0
        place += 1.0
        if place >= k:
            place = 0.0
            cum += step
            step *= (B + m) / (a + B + m)
            m += 1.0
    return acc


@njit(cache=True, nogil=True)
def by_parts_range(start, stop, out, ok, s, B, H, delta, a, Bp, j, k, nodes, fine,
                   coarse):  # pragma: no cover - compiled
    """Discounted expected purchases by parts, ``exp(-delta H) F(H) + delta int_0^H
    exp(-delta u) F(u) du``, ``F(u)`` the undiscounted expectation by ``u``
    (:func:`_floor_from_zero`), over ``v = log(1 + u/B)`` by the nested Clenshaw-Curtis
    rules; ``ok[i]`` is False where the two rules differ by more than
    :data:`BY_PARTS_TOLERANCE` relative (the caller then sums purchase by purchase)."""
    for i in range(start, stop):
        v_end = math.log1p(H[i] / B[i])
        fine_sum = 0.0
        coarse_sum = 0.0
        f_end = 0.0
        for q in range(nodes.size):
            v = nodes[q] * v_end
            u = B[i] * math.expm1(v)
            f = _floor_from_zero(s[i], u / (B[i] + u), j, k, a[i], Bp[i])
            if q == nodes.size - 1:
                f_end = f
            g = delta[i] * math.exp(-delta[i] * u) * f * (B[i] + u) * v_end
            fine_sum += fine[q] * g
            if q % 2 == 0:
                coarse_sum += coarse[q // 2] * g
        total = math.exp(-delta[i] * H[i]) * f_end + fine_sum
        out[i] = total
        ok[i] = abs(fine_sum - coarse_sum) <= BY_PARTS_TOLERANCE * total
