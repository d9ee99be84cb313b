"""The BG/NBD and MBG/NBD per-row log-likelihoods and their gradients as one compiled
kernel, for the numpy back-end of
:func:`~clvmodels.models.purchase.bgnbd.bgnbd_log_likelihood` and
:func:`~clvmodels.models.purchase.mbgnbd.mbgnbd_log_likelihood`.

A covariate model (:mod:`clvmodels.models.covariates`) gives every customer her own
``r, alpha, a, b``, so its maximum-likelihood fit evaluates the per-row likelihood and
its gradient at every distinct row at every step; in numpy that is about twenty passes
of log-gamma, digamma, log and exp over the rows, with their temporaries. Here each row
costs one pass: the same log-space formulas (the soft-plus term stays finite for ``x``
up to 1e5 and ``T`` up to 1e4), the value and the four partial derivatives together,
the rows split over threads as every kernel does (:mod:`clvmodels.parallel`). For a
whole number of purchases up to 16 (most customers) the log-gamma and digamma
differences are finite sums (:func:`_row`), so those rows need neither function. The
numpy formulas remain the reference and build the PyMC graph; tests hold the two equal
(to 1e-12 relative, or to 1e-14 of the terms' magnitude where the terms cancel: there
the kernel is the more accurate of the two).

numba has ``math.lgamma`` but no digamma: :func:`digamma` below is the recurrence
``psi(x) = psi(x + 1) - 1/x`` up to ``x >= 10`` and the asymptotic series there, with a
Taylor series about the positive root ``x0 = 1.46163...`` where the value is near 0
(coefficients ``(-1)^(k+1) zeta(k+1, x0)``), so it is accurate relative to its value
everywhere on ``x > 0``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import special

from ...parallel import run_split, threads_for

__all__ = ["beta_geometric_row_log_likelihood", "digamma"]

#: the positive root of digamma, as a double and its remainder (50-digit value)
_ROOT_HI = 1.4616321449683622
_ROOT_LO = 9.549995429965697e-17
#: Taylor coefficients of digamma about its root: psi^(k)(x0) / k! = (-1)^(k+1) zeta(k+1, x0)
_ROOT_SERIES = np.array([(-1.0) ** (k + 1) * special.zeta(k + 1.0, _ROOT_HI)
                         for k in range(1, 31)])
_ROOT_WINDOW = 0.35  # |x - x0| below it: terms fall by ~0.24 each, the 30th is 2e-19
#: B_2k / (2k) for k = 1..7 (asymptotic series of digamma; at x >= 10 the first term left
#: out, B_16 / 16 x^-16, is below 5e-17)
_B1, _B2, _B3, _B4, _B5, _B6, _B7 = (1.0 / 12.0, -1.0 / 120.0, 1.0 / 252.0, -1.0 / 240.0,
                                     1.0 / 132.0, -691.0 / 32760.0, 1.0 / 12.0)


@njit(cache=True, nogil=True, error_model="numpy")
def digamma(x):  # pragma: no cover - compiled
    """Digamma ``psi(x)`` for ``x > 0`` (NaN otherwise), relative error about 1e-15
    against :func:`scipy.special.digamma` from 1e-8 to 1e8 (tests)."""
    if not x > 0.0:
        return math.nan
    if math.isinf(x):
        return math.inf
    d = (x - _ROOT_HI) - _ROOT_LO
    if abs(d) < _ROOT_WINDOW:
        acc = 0.0
        for k in range(_ROOT_SERIES.shape[0] - 1, -1, -1):
            acc = (acc + _ROOT_SERIES[k]) * d
        return acc
    shift = 0.0
    while x < 10.0:
        shift += 1.0 / x
        x += 1.0
    u = 1.0 / (x * x)
    tail = u * (_B1 + u * (_B2 + u * (_B3 + u * (_B4 + u * (_B5 + u * (_B6 + u * _B7))))))
    return math.log(x) - 0.5 / x - tail - shift


#: up to this many purchases (whole numbers) the gamma and digamma differences are
#: finite sums (:func:`_row`)
_SUM_MAX = 16


@njit(cache=True, nogil=True, error_model="numpy")
def _row(r, alpha, a, b, x, t_x, T, modified, gradient):  # pragma: no cover - compiled
    """One row: ``log L`` and, with ``gradient``, its derivatives w.r.t. ``log r, log
    alpha, log a, log b``. BG/NBD (``modified`` False): the beta term is ``B(a, b+x)``,
    the odds ``a / (b+x-1)`` and the soft-plus only where ``x > 0``; MBG/NBD: ``B(a,
    b+x+1)``, ``a / (b+x)`` on every row (the formulas of the two numpy functions).

    With ``m = x`` (BG/NBD) or ``x + 1`` (MBG/NBD) the terms in ``x`` alone are
    ``log G(r+x) - log G(r)`` and ``log B(a, b+m) - log B(a, b)``, their derivatives
    ``psi(r+x) - psi(r)``, ``psi(a+b) - psi(a+b+m)`` and ``psi(b+m) - psi(b) - psi(a+b+m)
    + psi(a+b)``. For a whole ``x`` up to ``_SUM_MAX`` (most customers) they are the
    finite sums ``log prod (r+j)``, ``log prod (b+j)/(a+b+j)``, ``sum 1/(r+j)``, ``-sum
    1/(a+b+j)`` and ``sum a/((b+j)(a+b+j))`` (``G(y+1) = y G(y)``, ``psi(y+1) = psi(y) +
    1/y``): no log-gamma or digamma at all, and nothing cancels. Elsewhere, or where a
    product would leave the double range, log-gamma and :func:`digamma` differences."""
    s = r + x
    m = x + 1.0 if modified else x
    bx = b + m  # the "alive" beta's second argument
    if modified:
        bo = b + x  # the odds' denominator
        has_term = True
    else:
        bo = b + max(x - 1.0, 0.0)
        has_term = x > 0.0
    log_alpha = math.log(alpha)
    log_at = math.log(alpha + T)
    log_atx = log_alpha if t_x == 0.0 else math.log(alpha + t_x)
    d_log = log_at - log_atx
    ab = a + b
    lg = psi_r = psi_ab = psi_b = 0.0  # the differences named in the docstring (lg: both logs)
    summed = False
    if 0.0 <= m <= _SUM_MAX and m == math.floor(m):
        prod_r = 1.0
        prod_b = 1.0
        for j in range(int(m)):
            t2 = 1.0 / (ab + j)
            prod_b *= (b + j) * t2
            if gradient:
                psi_ab -= t2
                psi_b += a * t2 / (b + j)
            if j < x:
                prod_r *= r + j
                if gradient:
                    psi_r += 1.0 / (r + j)
        prod = prod_r * prod_b
        # all three in the normal double range (nothing rounded away): one log for both
        if prod_b > 1e-300 and prod_r < 1e300 and 1e-300 < prod < 1e300:
            lg = math.log(prod)
            summed = True
    if not summed:
        # the log G(a) of the two betas cancel; differences of like terms
        lg = ((math.lgamma(bx) - math.lgamma(b)) - (math.lgamma(a + bx) - math.lgamma(ab))
              + (math.lgamma(s) - math.lgamma(r)))
        if gradient:
            dg_ab = digamma(ab)
            dg_abx = digamma(a + bx)
            psi_r = digamma(s) - digamma(r)
            psi_ab = dg_ab - dg_abx
            psi_b = digamma(bx) - dg_abx - digamma(b) + dg_ab
    ll = lg + r * log_alpha - s * log_at
    pi = 0.0
    if has_term:
        z = math.log(a / bo) + s * d_log
        if z > 0.0:
            e = math.exp(-z)
            ll += z + math.log1p(e)
            pi = 1.0 / (1.0 + e)
        else:
            e = math.exp(z)
            ll += math.log1p(e)
            pi = e / (1.0 + e)
    if not gradient:
        return ll, 0.0, 0.0, 0.0, 0.0
    inv_at = 1.0 / (alpha + T)
    inv_atx = 1.0 / (alpha + t_x)
    g_r = r * (psi_r + log_alpha - log_at + pi * d_log)
    g_alpha = alpha * (r / alpha - s * inv_at + pi * s * (inv_at - inv_atx))
    g_a = a * psi_ab + pi
    g_b = b * (psi_b - pi / bo)
    return ll, g_r, g_alpha, g_a, g_b


@njit(cache=True, nogil=True, error_model="numpy")
def _rows(start, stop, ll, grad, r, alpha, a, b, x, t_x, T, modified,
          gradient):  # pragma: no cover - compiled
    """Rows ``start:stop``; an argument of length 1 is the same for every row."""
    for i in range(start, stop):
        out = _row(r[0 if r.shape[0] == 1 else i], alpha[0 if alpha.shape[0] == 1 else i],
                   a[0 if a.shape[0] == 1 else i], b[0 if b.shape[0] == 1 else i],
                   x[0 if x.shape[0] == 1 else i], t_x[0 if t_x.shape[0] == 1 else i],
                   T[0 if T.shape[0] == 1 else i], modified, gradient)
        ll[i] = out[0]
        if gradient:
            grad[0, i] = out[1]
            grad[1, i] = out[2]
            grad[2, i] = out[3]
            grad[3, i] = out[4]


def _flat(value, shape) -> np.ndarray:
    """``value`` as a flat float64 array of length 1 (one value for every row) or of the
    broadcast size (a contiguous array is used as it is; a partly broadcast one is
    expanded)."""
    v = np.asarray(value, dtype=np.float64)
    if v.size == 1:
        return v.reshape(1)
    if v.shape != shape:
        v = np.broadcast_to(v, shape)
    return np.ascontiguousarray(v).ravel()


def beta_geometric_row_log_likelihood(r, alpha, a, b, frequency, recency, T, *,
                                      modified=False, gradient=False):
    """Per-row BG/NBD (``modified=False``) or MBG/NBD (``modified=True``)
    log-likelihood elementwise over the broadcast of the arguments, and with
    ``gradient`` its derivatives w.r.t. ``log r, log alpha, log a, log b`` as a
    ``(4, ...)`` array: the numpy back-end of
    :func:`~clvmodels.models.purchase.bgnbd.bgnbd_log_likelihood` and
    :func:`~clvmodels.models.purchase.mbgnbd.mbgnbd_log_likelihood`, one row at a time.

    >>> ll, g = beta_geometric_row_log_likelihood(0.2426, 4.4135, 0.7929, 2.4258,
    ...                                           np.array([0, 2]), np.array([0.0, 30.43]),
    ...                                           38.86, gradient=True)
    >>> np.round(ll, 4), g.shape
    (array([-0.5538, -9.4597]), (4, 2))
    """
    args = [np.asarray(v, dtype=np.float64) for v in (r, alpha, a, b, frequency, recency, T)]
    shape = np.broadcast_shapes(*(v.shape for v in args))
    flat = [_flat(v, shape) for v in args]
    n = math.prod(shape)
    ll = np.empty(n)
    grad = np.empty((4, n) if gradient else (4, 0))
    run_split(lambda start, stop: _rows(start, stop, ll, grad, *flat, bool(modified),
                                        bool(gradient)), n, threads_for(n))
    ll = ll.reshape(shape)[()]
    if not gradient:
        return ll
    return ll, grad.reshape((4, *shape))
