"""Preprocessing: range filter, sample-gap grid, histogram, and channels with equal estimates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import _grid
from .options import KDEOptions

_MAX_GRID = 1000


def _sample_gap_grid(x: np.ndarray, in_range: np.ndarray, Z: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid length L per channel (sample-gap rule) and the number of distinct in-range values."""
    xs = np.sort(np.where(in_range, x, np.inf), axis=1)
    with np.errstate(invalid="ignore"):
        gaps = np.diff(xs, axis=1)  # inf - inf = nan past the in-range samples
    pos = gaps > 0
    pos &= np.isfinite(gaps)
    n_distinct = np.where(in_range.any(axis=1), pos.sum(axis=1) + 1, 0)
    dt_samp = np.where(pos, gaps, np.inf).min(axis=1)
    tin_step = np.min(np.diff(np.linspace(0.0, 1.0, Z)))
    with np.errstate(divide="ignore"):
        coarse = np.minimum(np.ceil(1.0 / dt_samp), _MAX_GRID)
    # no positive gap (dt_samp = inf, < 2 distinct values): MATLAB's `[] > x` is false, keeps tin
    L = np.where(np.isfinite(dt_samp) & (dt_samp > tin_step), coarse, Z)
    return L.astype(np.int64), n_distinct


def _histograms(x, in_range, L, matlab_binning):
    """Sample counts per grid bin, padded to (C, max L). Bins are [t_k - dt/2, t_{k+1} - dt/2).

    MATLAB ``histc(x, t - dt/2)`` has no bin past the last edge, so samples above 1 - dt/2 are
    dropped; ``np.histogram`` in ssdensity adds an edge at 1 + dt/2 and keeps them.
    """
    C = x.shape[0]
    Lmax = int(L.max())
    x = np.where(in_range, x, 0.0)  # out-of-range / NaN samples are discarded below anyway
    Ls = np.unique(L)
    edges = np.full((len(Ls), Lmax + 1), np.inf)
    dts = np.empty(len(Ls))
    for r, Lr in enumerate(Ls):  # one row per distinct grid length, not per channel
        t, dts[r] = _grid(int(Lr))
        edges[r, :Lr] = t - dts[r] / 2
    row = np.searchsorted(Ls, L)
    E, dt = edges[row], dts[row]
    # nearest grid point, then fix the (rare) off-by-one from rounding against the exact edges
    k = np.clip(np.floor(x / dt[:, None] + 0.5), 0, L[:, None] - 1).astype(np.int64)
    for _ in range(2):
        lo = np.take_along_axis(E, k, axis=1)
        hi = np.take_along_axis(E, np.minimum(k + 1, Lmax), axis=1)
        k = k - ((x < lo) & (k > 0)) + ((x >= hi) & (k < L[:, None] - 1))
    keep = in_range.copy()
    if matlab_binning:
        keep &= x <= E[np.arange(C), L - 1][:, None]
    flat = (np.arange(C)[:, None] * Lmax + k)[keep]
    return np.bincount(flat, minlength=C * Lmax).reshape(C, Lmax).astype(np.float64)


def distinct_estimates(L: np.ndarray, y_hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The estimate depends only on the grid length and the histogram: for rows (L, y_hist), the
    index of the first row of each distinct pair, and for every row the index of its pair."""
    key = np.concatenate([L[:, None].astype(np.float64), y_hist], axis=1)
    _, first, same_as = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return first, same_as.reshape(-1)


@dataclass
class Binned:
    """The samples of every channel binned on its internal grid; ``ok & ~empty`` channels run the estimate."""

    L: np.ndarray  # (C,) internal grid length
    y_hist: np.ndarray  # (C, max L) counts per bin (2-point grids for failed channels)
    ok: np.ndarray  # (C,) the estimate does not fail
    empty: np.ndarray  # (C,) every sample dropped by the binning: N = 0, a 0/0 density


def bin_samples(x: np.ndarray, options: KDEOptions) -> Binned:
    """Range filter, sample-gap grid and histogram of every row of ``x`` (C, Z)."""
    in_range = (x >= 0) & (x <= 1)  # NaN is never in range
    L, n_distinct = _sample_gap_grid(x, in_range, x.shape[1])
    ok = L >= 2
    if options.degenerate == "zero":
        ok &= n_distinct >= 2
    y_hist = _histograms(x, in_range, np.where(ok, L, 2), options.matlab_binning)
    return Binned(L, y_hist, ok, ok & (y_hist.sum(axis=1) == 0))
