"""Grids and candidate bandwidths, shared by every channel with the same grid length L, and the
numerical constants the stages share."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_SQRT_2PI = (2 * np.pi) ** 0.5
# The fast arithmetic differs from the reference arithmetic by ~1e-15 of the sum of the cost
# terms' magnitudes; comparisons (and neighbouring density values) closer than this are settled in
# the reference arithmetic.
_TIE_TOL = 1e-13


@lru_cache(maxsize=2048)
def _grid(L: int) -> tuple[np.ndarray, float]:
    """``t = linspace(0, 1, L)`` and ``dt = min(diff(t))``, computed as the reference does."""
    t = np.linspace(0.0, 1.0, L)
    return t, float(np.min(np.diff(t)))


def _logexp(x: np.ndarray) -> np.ndarray:
    return np.where(x < 1e2, np.log(1 + np.exp(np.minimum(x, 1e2))), x)


def _ilogexp(x: np.ndarray) -> np.ndarray:
    return np.where(x < 1e2, np.log(np.exp(np.minimum(x, 1e2)) - 1), x)


@lru_cache(maxsize=2048)
def _bandwidths(L: int, M: int) -> np.ndarray:
    """The M candidate bandwidths W_j = logexp(linspace(ilogexp(5 dt), ilogexp(T), M)), T = 1."""
    _, dt = _grid(L)
    return _logexp(np.linspace(_ilogexp(np.asarray(5 * dt)), _ilogexp(np.asarray(1.0)), M))


def _row_grids(L: np.ndarray, Lb: int, M: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel: grid ``t`` zero-padded to ``Lb`` (n, Lb), ``dt`` (n,) and bandwidths W (n, M)."""
    n = len(L)
    T, dt, W = np.zeros((n, Lb)), np.empty(n), np.empty((n, M))
    for Lr in np.unique(L):  # per distinct grid length, not per channel
        sel = L == Lr
        t, dt[sel] = _grid(int(Lr))
        T[sel, :Lr] = t
        W[sel] = _bandwidths(int(Lr), M)
    return T, dt, W
