"""Densities on the input grid ``tin`` and their peaks."""

from __future__ import annotations

import numpy as np

from .grid import _TIE_TOL


def densities_on_tin(chunks, dens, tin, Y, sel):
    """Normalise the balloon densities of the channels in ``sel`` (C,) as the reference does and
    interpolate them to tin, into their rows of ``Y``."""
    for ch in chunks:
        rows = np.flatnonzero(sel[ch.ids])
        if not rows.size:
            continue
        d = dens[ch.ids[rows], : ch.Lb]
        yopt = d / np.sum(d * ch.dt[rows, None], axis=1, keepdims=True)  # padding within the sum class
        Y[ch.ids[rows]] = _interp_to_tin(yopt, ch.T[rows], ch.L[rows], tin)


def near_ties(Y):
    """Rows with two neighbouring values equal to within :data:`_TIE_TOL` (exact zeros excepted)."""
    m = np.maximum(np.abs(Y[:, 1:]), np.abs(Y[:, :-1]))
    return ((np.abs(np.diff(Y, axis=1)) <= _TIE_TOL * m) & (m > 0)).any(axis=1)


def _interp_to_tin(yopt, T, L, tin):
    """Row-wise ``np.interp(tin, t_c, yopt_c)`` (= MATLAB ``interp1``) for padded rows."""
    n = yopt.shape[0]
    rows = np.arange(n)[:, None]
    step = 1.0 / np.maximum(L - 1, 1)
    j = np.clip(np.floor(tin[None, :] / step[:, None]), 0, L[:, None] - 2).astype(np.int64)
    for _ in range(2):  # fix rounding so that t[j] <= tin < t[j+1]
        j = j - ((tin[None, :] < T[rows, j]) & (j > 0)) + ((tin[None, :] >= T[rows, j + 1]) & (j < L[:, None] - 2))
    x0, x1, y0, y1 = T[rows, j], T[rows, j + 1], yopt[rows, j], yopt[rows, j + 1]
    out = (y1 - y0) / (x1 - x0) * (tin[None, :] - x0) + y0
    at_end = tin[None, :] >= T[rows, L[:, None] - 1]
    return np.where(at_end, yopt[rows, L[:, None] - 1], out)


def peak_counts_rows(y: np.ndarray) -> np.ndarray:
    """Number of peaks per row, exactly as ``len(scipy.signal.find_peaks(row)[0])``.

    A peak is a strict rise followed, after an optional flat run, by a strict fall: endpoints
    never count and a plateau counts once. Ignoring the flat steps, that is a ``+1`` sign of the
    first difference directly followed by a ``-1``; NaNs break the pattern as they break
    find_peaks' comparisons.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] < 3:
        return np.zeros(y.shape[0] if y.ndim == 2 else 0, dtype=np.int64)
    d = np.diff(y, axis=1)
    s = np.where(d > 0, 1, np.where(d < 0, -1, np.where(d == 0, 0, 2)))
    pos = np.where(s != 0, np.arange(s.shape[1])[None, :], -1)
    last_nonflat = np.maximum.accumulate(pos, axis=1)  # index of the latest non-flat step
    prev = np.concatenate([np.full((s.shape[0], 1), -1), last_nonflat[:, :-1]], axis=1)
    prev_sign = np.where(prev >= 0, np.take_along_axis(s, np.maximum(prev, 0), axis=1), 0)
    return ((s == -1) & (prev_sign == 1)).sum(axis=1)
