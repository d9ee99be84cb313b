"""Polynomial interpolation at Chebyshev points, shared by the value code (BG/NBD's
discounted purchases interpolated in ``T``) and the Erlang-k kernels (interpolated in
log age)."""

from __future__ import annotations

import numpy as np

__all__ = ["barycentric_matrix"]


def barycentric_matrix(nodes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``M`` with ``M @ f(nodes) = p(points)``, ``p`` the polynomial interpolant of ``f``
    at the Chebyshev extreme points ``nodes`` (barycentric form, weights ``(-1)^j``,
    halved at the ends); a point equal to a node takes that node's value exactly.

    >>> nodes = np.cos(np.pi * np.arange(5) / 4)
    >>> float(np.round(barycentric_matrix(nodes, np.array([0.3])) @ nodes ** 3, 12)[0])
    0.027
    """
    w = (-1.0) ** np.arange(nodes.size)
    w[[0, -1]] /= 2.0
    diff = points[:, None] - nodes[None, :]
    hit = diff == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        m = w / diff
        m /= m.sum(axis=1, keepdims=True)
    rows = hit.any(axis=1)
    m[rows] = hit[rows]
    return m
