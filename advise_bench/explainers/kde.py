"""Shimazaki–Shinomoto variable-bandwidth KDE (``ssvkernel``), vectorised over channels.

ADVISE scores a unit (channel) by the number of peaks of ``ssvkernel`` run on its Z = H*W
activations with the grid ``tin = linspace(0, 1, Z)`` (REFERENCE-NOTES §2). This module
re-implements the authors' ``ADVISEkernel.m`` (M=10, Gauss window, no bootstrap) for a whole
(C, Z) feature map at once:

* preprocessing (range filter, sample-gap rule, histogram) is one set of array operations;
* the fixed-bandwidth stage (local costs, optimal local bandwidths) smooths with the reference's
  FFT sizes -- the FFT padding is part of the estimator (circular wrap-around), so it is
  reproduced, not replaced; channels of all grid lengths share each transform;
* the golden-section search on the stiffness g runs for all channels in lock-step: each channel
  keeps its own bracket, and every iteration evaluates one cost per still-active channel, on
  padded chunks of channels with similar grid lengths.

Two arithmetics give the same results (option ``arithmetic``):

* ``"reference"`` repeats ssdensity's floating-point operations one by one: densities are
  bit-identical to the oracle's. Every cost evaluation costs O(L^2) exponentials per channel.
* ``"fast"`` (default) rearranges the work (see :class:`_Chunk`): each FFT smoothing becomes one
  matrix product, Nadaraya–Watson kernel sums are cached per bandwidth assignment and looked up
  from tables. Values agree to ~1e-15, so only decisions that rounding could flip can differ,
  and each of those is made in the reference arithmetic: a golden-section comparison of two
  near-equal costs, an argmin between near-equal local costs, a near-tie between neighbouring
  density values (peak counting); two costs in the flat region below every bandwidth threshold
  are exactly equal in the reference (see :func:`_golden_section`). Tests check that both
  arithmetics visit the same g on every channel and count the same peaks.

Differences between the two reference implementations, and which one is followed here:

=======================  ==========================  ===============================  ===========
point                    MATLAB (reference)          ``ssdensity`` 0.1.1 (oracle)     option
=======================  ==========================  ===============================  ===========
last histogram bin       ``histc(x, t-dt/2)`` drops  counts them in the last bin      ``matlab_binning``
                         samples in (1-dt/2, 1]
golden-section cap       29 iterations               30                               ``max_golden_iter``
density returned         last g evaluated            last g evaluated                 ``last_g_quirk``
< 2 distinct samples     keeps the grid, runs        raises                           ``degenerate``
=======================  ==========================  ===============================  ===========
"""

from __future__ import annotations

import functools
import inspect
import os
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.fft import irfft, rfft, rfftfreq

__all__ = ["KDEState", "peak_counts_rows", "ssvkernel_channels", "ssvkernel_states", "unit_peak_counts"]

_SQRT_2PI = (2 * np.pi) ** 0.5
_PHI = (5**0.5 + 1) / 2
_GOLDEN_TOL = 1e-5
_GOLDEN_BRACKET = (1e-12, 1.0)
_MAX_GRID = 1000
# exp() of arguments below about -708 leaves the normal range; NumPy's exp then takes a slow path
# (~25 ns instead of ~0.6 ns). Clipping there changes nothing but results below 1e-307.
_EXP_FLOOR = -708.0
_EXP_AT_FLOOR = float(np.exp(_EXP_FLOOR))
# Elements per padded temporary (n_channels * L * L) in one cost-evaluation chunk (~12 MB):
# bounds memory; among 0.4M..4M this measured best for the fast arithmetic.
_CHUNK_ELEMS = 1_500_000
# Elements of the (rows, M, M, L) local-cost temporaries of the bandwidth stage per block (32 MB).
_BANDWIDTH_BLOCK_ELEMS = 4_000_000
# Chunks with grids of at least this many points are evaluated in parallel threads (results do
# not depend on it); measured on 2 cores: ~20% faster at L = 196, slower for small grids.
_THREADED_MIN_L, _MAX_THREADS = 128, 4
_PAD_L, _PAD_RATIO = 8, 1.5
# The fast cost differs from the reference arithmetic by ~1e-15 of the sum of the cost terms'
# magnitudes; comparisons (and neighbouring density values) closer than this are settled in the
# reference arithmetic.
_TIE_TOL = 1e-13
# Assignments (source point -> bandwidth) whose kernel sums the fast arithmetic keeps per channel:
# a search visits 3-7 distinct ones on real feature maps, alternating between them.
_ASSIGNMENT_CACHE = 8


@dataclass
class KDEState:
    """Per-channel outcome of :func:`ssvkernel_states`.

    ``y`` is the density on ``tin`` (length Z, like ``ssvkernel``'s ``y``), or an empty array when
    the estimate fails (MATLAB's ``catch`` returns ``y = []``). It is all-NaN when every in-range
    sample was dropped by the MATLAB binning (N = 0: MATLAB divides 0 by 0 and finds no peak).
    ``t_internal`` is the grid the estimate ran on (``tin`` or the sample-gap grid);
    ``g`` the stiffness whose density is returned; ``n_iter`` the golden-section iterations.
    """

    y: np.ndarray
    t: np.ndarray
    t_internal: np.ndarray
    g: float
    n_iter: int


# ----------------------------------------------------------------------------------------------
# grids and kernels shared by every channel with the same grid length L
# ----------------------------------------------------------------------------------------------


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


@lru_cache(maxsize=8192)
def _gauss_spectrum(n: int, w: float) -> np.ndarray:
    """Fourier multiplier of a Gaussian of width ``w`` bins for a length-``n`` real FFT."""
    return np.exp(-0.5 * (w * 2 * np.pi * rfftfreq(n)) ** 2)


def _fft_sizes(L, wbins) -> np.ndarray:
    """``fftkernel``'s FFT length for grid length L and bandwidth w (bins): 2^ceil(log2(L + 3w))."""
    return (2 ** np.ceil(np.log2(L + 3 * wbins))).astype(np.int64)


def _smooth_all(x: np.ndarray, sizes: np.ndarray, wbins: np.ndarray, keys: np.ndarray, pairs=None) -> np.ndarray:
    """``fftkernel(x[r, p], wbins[r, m])`` for every row r, bandwidth m and series p.

    x: (R, P, Lmax) zero beyond each row's length; sizes: (R, M) the reference's FFT length
    ``2^ceil(log2(L + 3 w))`` per row and bandwidth; keys: (R, M) equal where the Gaussian
    multiplier is equal (same L and m); pairs: optional (R, M, P) mask of the (r, m, p) to compute
    (the others stay 0). Returns (R, M, P, Lmax). Rows of any length share one transform per FFT
    length: zero padding to Lmax is the padding ``rfft(x, n)`` would add, and every 1-D transform
    is computed alone, so each result is bit-identical to the reference's.
    """
    R, P, Lmax = x.shape
    M = sizes.shape[1]
    pairs = np.ones((R, M, P), dtype=bool) if pairs is None else pairs
    out = np.zeros((R, M, P, Lmax))
    for n in np.unique(sizes[pairs.any(axis=2)]):
        rr, mm, pp = np.nonzero(pairs & (sizes == n)[:, :, None])
        series, series_of = np.unique(rr * P + pp, return_inverse=True)
        _, first, key_of = np.unique(keys[rr, mm], return_index=True, return_inverse=True)
        spectra = np.stack([_gauss_spectrum(int(n), float(wbins[rr[k], mm[k]])) for k in first])
        X = rfft(x.reshape(R * P, Lmax)[series], int(n), axis=-1)
        m = min(int(n), Lmax)
        out[rr, mm, pp, :m] = irfft(X[series_of] * spectra[key_of], int(n), axis=-1)[:, :m]
    return out


def _local_bandwidths(h: np.ndarray, L: np.ndarray, M: int, pairs=None) -> np.ndarray:
    """Optimal local fixed bandwidths ``optws`` (R, M, Lmax) for histograms ``h`` (R, Lmax) / dt.

    Row i holds, per grid point, the bandwidth W_j minimising the local cost smoothed by a Gauss
    window of width W_i (ties: the first j, like MATLAB ``min`` / NumPy ``argmin``). Rows of
    different lengths are batched together; every value equals the per-channel reference's.
    ``pairs``: optional (R, M, M) mask of the (window i, bandwidth j) to consider: the minimum is
    then taken over those j only (a window with none gives W_0).
    """
    R, Lmax = h.shape
    _, dt, W = _row_grids(L, Lmax, M)
    wbins = W / dt[:, None]
    sizes = _fft_sizes(L[:, None], wbins)
    keys = L[:, None] * M + np.arange(M)[None, :]
    used = None if pairs is None else pairs.any(axis=1)[:, :, None]  # bandwidths j needed
    yh = _smooth_all(h[:, None, :], sizes, wbins, keys, used)[:, :, 0, :]  # (R, M, Lmax)
    c = _local_costs(yh, h, W, L)
    c_local = _smooth_all(c, sizes, wbins, keys, pairs)  # (R, M windows i, M bandwidths j, Lmax)
    if pairs is not None:
        c_local[~pairs] = np.inf
    return np.take_along_axis(W[:, None, :], _argmin_small_axis(c_local, axis=2)[0], axis=2)


def _argmin_small_axis(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """``(np.argmin(x, axis), np.min(x, axis))`` for a short axis, one slice at a time.

    NumPy reduces a short strided axis element by element; comparing whole slices is ~5x faster.
    Ties go to the first index, as ``argmin`` (and MATLAB ``min``) does; x holds no NaN.
    """
    best = np.take(x, 0, axis=axis).copy()
    arg = np.zeros(best.shape, dtype=np.int64)
    for j in range(1, x.shape[axis]):
        xj = np.take(x, j, axis=axis)
        better = xj < best
        arg[better] = j
        np.minimum(best, xj, out=best)
    return arg, best


def _local_costs(yh, h, W, L):
    """c_w = yh_w^2 - 2 yh_w h + 2 h / (sqrt(2 pi) w), zero beyond each row's length."""
    hh = h[:, None, :]
    c = yh**2 - 2 * yh * hh + 2 / _SQRT_2PI / W[:, :, None] * hh
    if L.min() < c.shape[2]:
        c[np.broadcast_to(np.arange(c.shape[2])[None, None, :] >= L[:, None, None], c.shape)] = 0.0
    return c


@lru_cache(maxsize=512)
def _smoothing_matrix(L: int, M: int) -> np.ndarray:
    """(L, M L): x @ S[:, jL:(j+1)L] is ``fftkernel(x, W_j/dt)``, circular wrap-around included."""
    _, dt = _grid(L)
    wbins = _bandwidths(L, M) / dt
    sizes = _fft_sizes(L, wbins)
    eye = np.eye(L)
    S = [irfft(rfft(eye, int(n), axis=-1) * _gauss_spectrum(int(n), float(w)), int(n), axis=-1)[:, :L]
         for n, w in zip(sizes, wbins, strict=True)]
    return np.ascontiguousarray(np.concatenate(S, axis=1))


def _local_bandwidths_fast(h: np.ndarray, L: np.ndarray, M: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`_local_bandwidths`, with each FFT smoothing replaced by its matrix (BLAS).

    Rounding differs from the FFTs by ~1e-16 of the local costs' magnitude, so an argmin whose
    best candidates are within :data:`_TIE_TOL` of that magnitude could differ from the
    reference's. Returns the optws, the (R, M, Lmax) mask of such grid points, and per window the
    (R, M, M) mask of bandwidths near the best at any of them: the only ones the reference
    arithmetic must settle (:func:`_settle_bandwidth_ties`).
    """
    R, Lmax = h.shape
    optws = np.zeros((R, M, Lmax))
    unsure = np.zeros((R, M, Lmax), dtype=bool)
    candidates = np.zeros((R, M, M), dtype=bool)
    for Lr in np.unique(L):
        rows = np.flatnonzero(L == Lr)
        n_blocks = -(-len(rows) * M * M * int(Lr) // _BANDWIDTH_BLOCK_ELEMS)  # ceil: bounds memory
        for sel in np.array_split(rows, n_blocks):
            optws[sel, :, :Lr], unsure[sel, :, :Lr], candidates[sel] = _local_bandwidths_block(h[sel, :Lr], int(Lr), M)
    return optws, unsure, candidates


def _local_bandwidths_block(h: np.ndarray, L: int, M: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_local_bandwidths_fast` for histograms ``h`` (n, L) that share the grid length L."""
    n = len(h)
    W = _bandwidths(L, M)
    S = _smoothing_matrix(L, M)
    yh = (h @ S).reshape(n, M, L)
    c = _local_costs(yh, h, np.broadcast_to(W, (n, M)), np.full(n, L))
    c_local = (c.reshape(n * M, L) @ S).reshape(n, M, M, L)  # (channel, j, i, t)
    arg, best = _argmin_small_axis(c_local, axis=1)
    scale = np.abs(c).max(axis=(1, 2))[:, None, None, None]
    near = c_local <= best[:, None] + _TIE_TOL * scale  # (channel, j, i, t), the best included
    unsure = np.count_nonzero(near, axis=1) > 1  # (channel, i, t)
    candidates = (near & unsure[:, None]).any(axis=3).transpose(0, 2, 1)  # (channel, i, j)
    return W[arg], unsure, candidates


def _settle_bandwidth_ties(h, L, M, optws, unsure, candidates):
    """Redo the unsure argmins of the fast bandwidth stage with the reference's FFTs, in place.

    At an unsure point only the near candidates can be the reference's minimum (every other
    bandwidth is worse by more than rounding), so only their smoothings are recomputed.
    """
    rows = np.flatnonzero(unsure.any(axis=(1, 2)))
    if rows.size == 0:
        return
    # bound memory: the (rows, M, M, Lmax) temporaries of the FFT stage
    per_block = max(1, _BANDWIDTH_BLOCK_ELEMS // (M * M * optws.shape[2]))
    for start in range(0, len(rows), per_block):
        ids = rows[start : start + per_block]
        settled = _local_bandwidths(h[ids], L[ids], M, candidates[ids])
        optws[ids] = np.where(unsure[ids], settled, optws[ids])


# ----------------------------------------------------------------------------------------------
# preprocessing: range filter, sample-gap grid, histogram
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# golden-section stage: cost function on padded chunks of channels
# ----------------------------------------------------------------------------------------------


def _sum_class(n: np.ndarray) -> np.ndarray:
    """Rows whose lengths share a class are summed identically by NumPy after zero padding.

    NumPy's pairwise sum adds rows shorter than 8 sequentially, rows of 8..128 in 8 interleaved
    partial sums followed by the tail, and splits longer rows at n-dependent points. Trailing zeros
    therefore leave a sum bit-identical only within one class: n < 8, the same n // 8 up to 128,
    or the same n above. The golden-section search compares costs that can be equal up to rounding
    (flat cost regions), so the reference-arithmetic cost must be computed exactly as ssdensity does.
    """
    return np.where(n <= 128, n // 8, n)


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


class _Chunk:
    """Channels padded to a common grid length ``Lb``, with the cost function in two arithmetics.

    For the reference arithmetic the channels of a chunk share both sum classes (grid length,
    non-empty bins; see :func:`_sum_class` and :func:`_make_chunks`), so padding never changes a sum.

    * :meth:`reference_cost` follows ``ssdensity``'s ``CostFunction`` operation by operation, so
      each channel's cost is bit-identical to the reference's. O(L^2) exponentials per call.
    * :meth:`fast_cost` computes the same function arranged to do far less work, and agrees with it
      to ~1e-15 of the cost scale (the sum of the cost terms' magnitudes):

      - Nadaraya–Watson: a source point s has kernel width optwv(s)/g, which is one of the fixed
        bandwidths W_i ("mid" points, optwv = g W_i) or Wmax/g, Wmin/g at the extremes. The mid
        widths do not depend on g, so their kernel sums depend only on the assignment s -> i,
        which changes rarely during the search (3-7 distinct assignments in ~27 evaluations on
        real feature maps): they are cached per channel and recomputed, by table look-up (the
        grid is uniform, so a kernel is a function of the lag |t-s|), only when it changes.
      - Balloon estimate: O(L x non-empty bins) exponentials, summed as matrix products.
    """

    def __init__(self, ids, L, y_hist, optws, M):
        self.ids, self.L, self.M = ids, L, M
        self.Lb = Lb = int(L.max())
        self.valid = np.arange(Lb)[None, :] < L[:, None]
        self.padded = not self.valid.all()  # some rows are shorter than Lb
        self.T, self.dt, self.W = _row_grids(L, Lb, M)
        dt = self.dt[:, None]
        self.h = y_hist / dt * self.valid  # counts / dt, like the reference's y_hist
        self.N = np.sum(self.h * dt, axis=1)
        self.Wmin, self.Wmax = self.W.min(axis=1), self.W.max(axis=1)
        self.gs_all = optws / self.W[:, :, None]  # (n, M, Lb); padded points never matter
        self.gs_max = self.gs_all.max(axis=1)
        self.gs_min = self.gs_all.min(axis=1)
        # the balloon estimate only visits non-empty bins, in increasing order
        nnz = (self.h > 0).sum(axis=1)
        K = max(int(nnz.max()), 1)
        order = np.argsort(self.h <= 0, axis=1, kind="stable")[:, :K]
        self.h_nz = np.where(np.arange(K)[None, :] < nnz[:, None], np.take_along_axis(self.h, order, 1), 0.0)
        t_nz = np.take_along_axis(self.T, order, 1)
        self.nd2_nz = -((self.T[:, :, None] - t_nz[:, None, :]) ** 2) / 2  # (n, Lb, K), as below

    @functools.cached_property
    def nd2(self):
        """The reference's ``-t_diff**2 / 2`` (n, Lb, Lb); only the reference arithmetic needs it."""
        return -((self.T[:, :, None] - self.T[:, None, :]) ** 2) / 2

    def _rows(self, rows):
        """``arr -> arr[rows]``, without the copy when ``rows`` are all rows (the common case)."""
        if rows.size == len(self.ids):
            return lambda arr: arr
        return lambda arr: arr[rows]

    def _finish(self, rows, yv, optwp):
        """Normalise the balloon density; return (cost, yv, cost scale) as ``CostFunction`` does."""
        take = self._rows(rows)
        valid, h, dt = take(self.valid), take(self.h), take(self.dt)[:, None]
        if self.padded:
            yv[~valid] = 0.0
        yv = yv * take(self.N)[:, None] / np.sum(yv * dt, axis=1, keepdims=True)
        sq, cross, var = yv**2, 2 * yv * h, 2 / _SQRT_2PI / optwp * h
        cg = sq - cross + var
        total = sq + cross + var
        if self.padded:
            cg[~valid] = 0.0
            total[~valid] = 0.0
        return np.sum(cg * dt, axis=1), yv, np.sum(total * dt, axis=1)

    # -- reference arithmetic ------------------------------------------------------------------

    def reference_cost(self, g: np.ndarray, rows: np.ndarray):
        """Cost C(g), balloon density yv (n, Lb) and cost scale for chunk rows ``rows``."""
        optwv = self._stiff_bandwidths(g, rows)
        optwp = self._nadaraya_watson(optwv, optwv / g[:, None], rows)
        return self._finish(rows, self._balloon(optwp, rows), optwp)

    def _stiff_bandwidths(self, g, rows):
        """optwv: per grid point, g * W_i for the last i with optws_i / W_i >= g, else the extreme W."""
        W = self.W[rows]
        last = self._last_window(g, rows)
        mid = g[:, None] * np.take_along_axis(W, last, axis=1)
        optwv = np.where(g[:, None] >= self.gs_min[rows], mid, self.Wmax[rows][:, None])
        return np.where(g[:, None] > self.gs_max[rows], self.Wmin[rows][:, None], optwv)

    def _last_window(self, g, rows):
        """Per grid point, the last i with optws_i / W_i >= g (0 when there is none)."""
        return _last_true(self.gs_all[rows] >= g[:, None, None])

    def _nadaraya_watson(self, optwv, sigma, rows):
        """optwp(t) = sum_s optwv(s) G(t-s; sigma_s) / sum_s G(t-s; sigma_s)."""
        arg = self.nd2[rows] / (sigma**2)[:, None, :]
        Z = _exp_floored(arg, floor_value=_EXP_AT_FLOOR)
        pref = np.where(self.valid[rows], 1 / _SQRT_2PI / sigma, 0.0)  # padded sources weigh nothing
        Z *= pref[:, None, :]
        num = np.sum(optwv[:, None, :] * Z, axis=2)
        return num / np.sum(Z, axis=2)

    def _balloon(self, optwp, rows):
        """yv(t) = sum_s h(s) dt G(t-s; optwp(t)) over the non-empty bins s."""
        arg = self.nd2_nz[rows] / (optwp**2)[:, :, None]
        G = _exp_floored(arg, floor_value=0.0)  # the true value is below 1e-307: tails exactly 0
        G *= (1 / _SQRT_2PI / optwp)[:, :, None]
        G *= (self.h_nz[rows] * self.dt[rows][:, None])[:, None, :]
        return np.sum(G, axis=2)

    # -- fast arithmetic -----------------------------------------------------------------------

    @functools.cached_property
    def _fast(self):
        """Tables and the kernel-sum cache of the fast arithmetic, built on first use."""
        n, Lb = len(self.ids), self.Lb
        lag = np.abs(np.arange(1 - Lb, Lb))  # |t - s| for t - s = 1-Lb .. Lb-1
        lag_d2 = (lag[None, :] * self.dt[:, None]) ** 2  # squared distance per lag (n, 2Lb-1)
        return types.SimpleNamespace(
            lag_d2=lag_d2,
            mid_kernels=_kernel_columns(_gauss_lags(lag_d2, self.W)),
            hdt_nz=self.h_nz * self.dt[:, None],
            # cache of the mid-source sums per assignment, keyed by the number of thresholds
            # optws_i(s)/W_i below g (it grows with g, so it identifies the assignment)
            keys=np.full((n, _ASSIGNMENT_CACHE), -1),
            mid_sums=np.zeros((n, _ASSIGNMENT_CACHE, Lb, 2)),  # sum_s G, sum_s W_i G
            slot=np.zeros(n, dtype=np.int64),  # next cache slot to overwrite, per channel
        )

    def fast_cost(self, g: np.ndarray, rows: np.ndarray):
        """As :meth:`reference_cost`, in the fast arithmetic (see the class docstring)."""
        fast = self._fast
        Lb = self.Lb
        take = self._rows(rows)
        valid = take(self.valid)
        below = take(self.gs_all) < g[:, None, None]  # (n, M, Lb); padded points: 0 < g always
        n_below = np.count_nonzero(below, axis=(1, 2))
        hit = fast.keys[rows] == n_below[:, None]
        found = hit.any(axis=1)
        slot = np.where(found, hit.argmax(axis=1), fast.slot[rows])
        miss = np.flatnonzero(~found)
        high = below.all(axis=1)
        low = ~high & (g[:, None] < take(self.gs_min))
        if miss.size:
            r, b = rows[miss], ~below[miss]
            last = _last_true(b)  # last i with optws_i / W_i >= g
            mid = b.any(axis=1) & ~low[miss] & valid[miss]
            cols = fast.mid_kernels[r[:, None], last, np.arange(Lb)[None, :]]  # (n', s, t)
            wts = np.stack([mid, mid * np.take_along_axis(self.W[r], last, axis=1)], axis=-1)
            fast.mid_sums[r, slot[miss]] = np.matmul(cols.transpose(0, 2, 1), wts)
            fast.keys[r, slot[miss]] = n_below[miss]
            fast.slot[r] = (slot[miss] + 1) % _ASSIGNMENT_CACHE
        sums = fast.mid_sums[rows, slot]
        den, num = sums[..., 0].copy(), g[:, None] * sums[..., 1]
        ext = (low | high) & valid  # sources whose width depends on g
        xr = np.flatnonzero(ext.any(axis=1))
        if xr.size:
            rr, e = rows[xr], ext[xr]
            width = np.stack([self.Wmax[rr], self.Wmin[rr]], axis=1)  # optwv of low, high sources
            kern = _kernel_columns(_gauss_lags(fast.lag_d2[rr], width / g[xr, None]))
            side = high[xr].astype(np.int64)
            cols = kern[np.arange(len(xr))[:, None], side, np.arange(Lb)[None, :]]  # (n'', s, t)
            wts = np.stack([e, e * np.take_along_axis(width, side, axis=1)], axis=-1)
            s = np.matmul(cols.transpose(0, 2, 1), wts)
            den[xr] += s[..., 0]
            num[xr] += s[..., 1]
        optwp = np.where(valid, num / np.where(valid, den, 1.0), 1.0) if self.padded else num / den
        arg = take(self.nd2_nz) * (1 / optwp**2)[:, :, None]  # a product: far cheaper than a quotient
        G = _exp_floored(arg, floor_value=0.0)  # as the reference: tails below 1e-307 are exactly 0
        yv = (G @ take(fast.hdt_nz)[:, :, None])[..., 0] / _SQRT_2PI / optwp
        return self._finish(rows, yv, optwp)


def _last_true(mask: np.ndarray) -> np.ndarray:
    """Index of the last True along axis 1 of ``mask`` (0 where there is none)."""
    return mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)


def _gauss_lags(lag_d2: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Gaussian kernels (n, k, lags) of widths (n, k) at squared lag distances (n, lags)."""
    w = widths[:, :, None]
    return np.exp(-lag_d2[:, None, :] / 2 / w**2) / _SQRT_2PI / w


def _exp_floored(arg: np.ndarray, floor_value: float) -> np.ndarray:
    """In place: exp(arg) where arg > -708, ``floor_value`` elsewhere.

    NumPy's exp takes a slow path (~30x) near and below its underflow threshold; exp(0) instead,
    then a product with the mask, gives the same bits at full speed.
    """
    if arg.size == 0 or arg.min() > _EXP_FLOOR:  # the common case: nothing to floor
        return np.exp(arg, out=arg)
    keep = arg > _EXP_FLOOR
    arg *= keep
    np.exp(arg, out=arg)
    arg *= keep
    if floor_value:
        arg += ~keep * floor_value
    return arg


def _kernel_columns(kernels: np.ndarray) -> np.ndarray:
    """(..., 2Lb-1) kernels over the lags t-s = 1-Lb..Lb-1 -> a (..., s, t) view of G(t - s).

    Column s of the kernel matrix is a window of the lag vector, so no (Lb, Lb) matrix is stored.
    """
    Lb = (kernels.shape[-1] + 1) // 2
    return np.lib.stride_tricks.sliding_window_view(kernels, Lb, axis=-1)[..., ::-1, :]


def _make_chunks(ids, L, y_hist, optws, M, exact_sums):
    """Chunks of channels, bounded in size (padded elements n Lb^2 <= :data:`_CHUNK_ELEMS`).

    ``exact_sums`` (needed by the reference arithmetic): channels in a chunk share both sum
    classes (grid length, non-empty bins). Otherwise channels of similar grid lengths and
    similar numbers of non-empty bins are grouped, to keep the padding small.
    """
    nnz = (y_hist > 0).sum(axis=1)
    if exact_sums:
        key_L, key_n = _sum_class(L[ids]), _sum_class(nnz[ids])
    else:  # geometric buckets: padding wastes at most ~25% plus a few points
        key_L, key_n = np.log(L[ids] + _PAD_L) // np.log(_PAD_RATIO), np.log(nnz[ids] + _PAD_L) // np.log(_PAD_RATIO)
    order = np.lexsort((L[ids], key_n, key_L))
    ids, key_L, key_n = ids[order], key_L[order], key_n[order]
    chunks, start = [], 0
    while start < len(ids):
        stop = start + 1
        Lb = L[ids[start]]
        while stop < len(ids) and key_L[stop] == key_L[start] and key_n[stop] == key_n[start]:
            Lb = max(Lb, L[ids[stop]])
            if (stop - start + 1) * Lb * Lb > _CHUNK_ELEMS:
                break
            stop += 1
        sel = ids[start:stop]
        Lb = int(L[sel].max())
        chunks.append(_Chunk(sel, L[sel], y_hist[sel, :Lb], optws[sel, :, :Lb], M))
        start = stop
    return chunks


class _Costs:
    """Cost evaluations for all channels of a feature map, spread over chunks.

    In the fast arithmetic, reference-arithmetic evaluations (rare: settling near-ties) run on
    chunks built for the channels concerned, grouped so that padding never changes a sum.
    """

    def __init__(self, ids, L, y_hist, optws, M, arithmetic):
        self.fast = arithmetic == "fast"
        self.C, self.Lmax = len(L), optws.shape[2]
        self._inputs = (L, y_hist, optws, M)
        self.chunks = _make_chunks(ids, L, y_hist, optws, M, exact_sums=not self.fast)
        self.run = np.zeros(self.C, dtype=bool)
        self.run[ids] = True
        # below g_flat every source point takes the widest bandwidth (g < optws_i/W_i for all
        # i): optwv = Wmax everywhere, so the cost does not depend on g
        self.g_flat = np.zeros(self.C)
        self.wmax_is_one = np.zeros(self.C, dtype=bool)
        for ch in self.chunks:
            self.g_flat[ch.ids] = np.where(ch.valid, ch.gs_min, np.inf).min(axis=1)
            self.wmax_is_one[ch.ids] = ch.Wmax == 1.0

    def reference_chunks(self, sel):
        """Chunks for the reference arithmetic of the channels in ``sel``."""
        if not self.fast:
            return self.chunks
        return _make_chunks(np.flatnonzero(sel), *self._inputs, exact_sums=True) if sel.any() else []

    def __call__(self, g, sel, reference=False, chunks=None):
        """Costs, balloon densities (C, Lmax) and cost scales at g[c] for the channels in ``sel``.

        ``chunks``: reference chunks already built for ``sel`` (see :meth:`reference_chunks`).
        """
        C = self.C
        f, scale, y = np.zeros(C), np.zeros(C), np.zeros((C, self.Lmax))
        if chunks is None:
            chunks = self.reference_chunks(sel) if reference else self.chunks

        def evaluate(ch):  # chunks write disjoint rows
            rows = np.flatnonzero(sel[ch.ids])
            if rows.size:
                ids = ch.ids[rows]
                cost = ch.reference_cost if reference or not self.fast else ch.fast_cost
                f[ids], y[ids, : ch.Lb], scale[ids] = cost(g[ids], rows)

        # large chunks side by side in threads (NumPy releases the GIL in its loops); small ones
        # are bound by Python overhead, where threads only contend for the GIL
        big = [ch for ch in chunks if ch.Lb >= _THREADED_MIN_L]
        for ch in chunks:
            if ch.Lb < _THREADED_MIN_L:
                evaluate(ch)
        pool = _thread_pool()
        if len(big) > 1 and pool is not None:
            list(pool.map(evaluate, big))
        else:
            for ch in big:
                evaluate(ch)
        return f, y, scale


@lru_cache(maxsize=1)
def _thread_pool() -> ThreadPoolExecutor | None:
    """One thread per available core, at most :data:`_MAX_THREADS`; None on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    n = min(_MAX_THREADS, cores)
    return ThreadPoolExecutor(n, thread_name_prefix="ssvkernel") if n > 1 else None


def _golden_section(costs: _Costs, max_iter, last_g_quirk):
    """Golden-section search on g in [1e-12, 1] for all channels at once.

    Returns, per channel, the (unnormalised) balloon density, its g and the iteration count: the
    last g evaluated (reference quirk) or the better of the final bracket's two interior points,
    which is the lowest cost seen (a golden-section search always keeps its best point inside).

    In the fast arithmetic every comparison is made as the reference makes it:

    * Below ``g_flat`` (every source point takes the widest bandwidth Wmax) the cost does not
      depend on g. Where Wmax is exactly 1 (every grid of 7 points or more) the reference then
      computes optwp = sum(1.0 * Z) / sum(Z) = 1.0 exactly, hence bit-identical costs: two such
      points tie, and a tie moves the bracket right (``f1 < f2`` is false).
    * Otherwise, whenever the two costs are within :data:`_TIE_TOL` of their scale, where rounding
      could decide, both are first recomputed in the reference arithmetic.
    """
    C, run = costs.C, costs.run
    a = np.full(C, _GOLDEN_BRACKET[0])
    b = np.full(C, _GOLDEN_BRACKET[1])
    c1 = (_PHI - 1) * a + (2 - _PHI) * b
    c2 = (2 - _PHI) * a + (_PHI - 1) * b
    f1, y1, s1 = costs(c1, run)
    f2, y2, s2 = costs(c2, run)
    exact1 = np.full(C, not costs.fast)  # the cost is in the reference arithmetic
    exact2 = exact1.copy()
    ylast, glast, k = np.zeros((C, costs.Lmax)), np.zeros(C), np.zeros(C, dtype=np.int64)

    def flat(g):
        return g < costs.g_flat

    def flat_tie(mask):
        """Both points below g_flat with Wmax = 1: the reference's costs are bit-equal."""
        return mask & flat(c1) & flat(c2) & costs.wmax_is_one if costs.fast else np.zeros(C, dtype=bool)

    def settle_ties(mask):
        """Decide the comparison f1 < f2 of the channels in ``mask`` as the reference would."""
        if not costs.fast:
            return f1 < f2
        tie = flat_tie(mask)
        for f, c, exact in ((f1, c1, exact1), (f2, c2, exact2)):
            need = mask & ~tie & ~exact & (np.abs(f1 - f2) <= _TIE_TOL * np.maximum(s1, s2))
            if need.any():
                f[need] = costs(c, need, reference=True)[0][need]
                exact[need] = True
        return (f1 < f2) & ~tie

    def converging():
        return run & (np.abs(b - a) > _GOLDEN_TOL * (np.abs(c1) + np.abs(c2))) & (k < max_iter)

    flat_seen = np.zeros(C, dtype=bool)  # the cost and density of a flat point are cached below
    f_flat, y_flat, s_flat = np.zeros(C), np.zeros((C, costs.Lmax)), np.zeros(C)
    active = converging()
    while active.any():
        lower = settle_ties(active)
        left = lower & active
        right = ~lower & active
        # move the bracket (same floating-point expressions as the reference)
        b = np.where(left, c2, b)
        a = np.where(right, c1, a)
        c2_new = np.where(left, c1, np.where(right, (2 - _PHI) * a + (_PHI - 1) * b, c2))
        c1_new = np.where(left, (_PHI - 1) * a + (2 - _PHI) * b, np.where(right, c2, c1))
        c1, c2 = c1_new, c2_new
        f2, s2, exact2 = np.where(left, f1, f2), np.where(left, s1, s2), np.where(left, exact1, exact2)
        f1, s1, exact1 = np.where(right, f2, f1), np.where(right, s2, s1), np.where(right, exact2, exact1)
        y2 = np.where(left[:, None], y1, y2)
        y1 = np.where(right[:, None], y2, y1)
        g_eval = np.where(left, c1, c2)
        # where both points are flat and Wmax != 1, the next comparison will be settled in the
        # reference arithmetic: evaluate the new point there directly
        if costs.fast:
            in_ref = active & flat(c1) & flat(c2) & ~costs.wmax_is_one
            # with Wmax = 1 every flat point has the same cost and density: evaluate one per channel
            reuse = active & flat(g_eval) & costs.wmax_is_one & flat_seen
            fn, yn, sn = costs(g_eval, active & ~in_ref & ~reuse)
            if in_ref.any():
                fr, yr, sr = costs(g_eval, in_ref, reference=True)
                fn, yn, sn = np.where(in_ref, fr, fn), np.where(in_ref[:, None], yr, yn), np.where(in_ref, sr, sn)
            fn, yn, sn = np.where(reuse, f_flat, fn), np.where(reuse[:, None], y_flat, yn), np.where(reuse, s_flat, sn)
            keep = active & flat(g_eval) & costs.wmax_is_one & ~flat_seen
            f_flat, y_flat, s_flat = np.where(keep, fn, f_flat), np.where(keep[:, None], yn, y_flat), np.where(keep, sn, s_flat)
            flat_seen |= keep
        else:
            in_ref = active
            fn, yn, sn = costs(g_eval, active)
        f1, s1, y1 = np.where(left, fn, f1), np.where(left, sn, s1), np.where(left[:, None], yn, y1)
        f2, s2, y2 = np.where(right, fn, f2), np.where(right, sn, s2), np.where(right[:, None], yn, y2)
        exact1 = np.where(left, in_ref, exact1)
        exact2 = np.where(right, in_ref, exact2)
        ylast = np.where(active[:, None], yn, ylast)
        glast = np.where(active, g_eval, glast)
        k += active
        active = converging()
    if last_g_quirk:
        return ylast, glast, k
    settle_ties(run)
    best1 = flat_tie(run) | ~(f2 < f1)  # f1 <= f2: c1 is the best point seen
    return np.where(best1[:, None], y1, y2), np.where(best1, c1, c2), k


# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """Padded result of one batched run: densities on tin plus per-channel bookkeeping."""

    Y: np.ndarray  # (C, Z) densities on tin; NaN rows for failed (``failed``) or N = 0 channels
    failed: np.ndarray  # (C,) bool: the estimate fails (MATLAB returns y = [])
    L: np.ndarray  # (C,) internal grid length
    g: np.ndarray  # (C,) g whose density is returned (NaN when not run)
    n_iter: np.ndarray  # (C,) golden-section iterations


def _densities_on_tin(chunks, dens, tin, Y):
    """Normalise each chunk's balloon densities as the reference does and interpolate them to tin."""
    for ch in chunks:
        d = dens[ch.ids, : ch.Lb]
        yopt = d / np.sum(d * ch.dt[:, None], axis=1, keepdims=True)  # padding within the sum class
        Y[ch.ids] = _interp_to_tin(yopt, ch.T, ch.L, tin)


def _near_ties(Y):
    """Rows with two neighbouring values equal to within :data:`_TIE_TOL` (exact zeros excepted)."""
    m = np.maximum(np.abs(Y[:, 1:]), np.abs(Y[:, :-1]))
    return ((np.abs(np.diff(Y, axis=1)) <= _TIE_TOL * m) & (m > 0)).any(axis=1)


def distinct_estimates(L: np.ndarray, y_hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The estimate depends only on the grid length and the histogram: for rows (L, y_hist), the
    index of the first row of each distinct pair, and for every row the index of its pair."""
    key = np.concatenate([L[:, None].astype(np.float64), y_hist], axis=1)
    _, first, same_as = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return first, same_as.reshape(-1)


def _ssvkernel_batch(
    samples,
    *,
    M: int = 10,
    last_g_quirk: bool = True,
    max_golden_iter: int = 29,
    matlab_binning: bool = True,
    degenerate: str = "zero",
    arithmetic: str = "fast",
) -> _Run:
    """The batched estimate behind the public functions; its keywords are their options (one definition)."""
    if arithmetic not in ("fast", "reference"):
        raise ValueError(f"arithmetic must be 'fast' or 'reference', not {arithmetic!r}")
    if degenerate not in ("zero", "matlab"):
        raise ValueError(f"degenerate must be 'zero' or 'matlab', not {degenerate!r}")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"samples must be (C, Z) with Z >= 2, got shape {x.shape}")
    C, Z = x.shape
    tin = np.linspace(0.0, 1.0, Z)
    in_range = (x >= 0) & (x <= 1)  # NaN is never in range
    L, n_distinct = _sample_gap_grid(x, in_range, Z)
    ok = L >= 2
    if degenerate == "zero":
        ok &= n_distinct >= 2
    y_hist = _histograms(x, in_range, np.where(ok, L, 2), matlab_binning)
    empty = ok & (y_hist.sum(axis=1) == 0)  # every sample dropped: N = 0, 0/0 density
    channels = np.flatnonzero(ok & ~empty)
    # the estimate depends only on the grid length and the histogram: run each distinct one once
    # (sparse feature maps repeat them: ~25% of MobileNetV2 out_relu channels)
    first, same_as = distinct_estimates(L[channels], y_hist[channels])
    run = channels[first]

    # fixed-bandwidth stage, all channels batched (in blocks, to bound memory)
    Lmax = int(L[run].max()) if len(run) else 2
    h = np.zeros((C, Lmax))  # histograms / dt of the channels that run
    h[run] = y_hist[run, :Lmax] / np.array([_grid(int(n))[1] for n in L[run]])[:, None]
    optws = np.zeros((C, M, Lmax))
    h_run, L_run = h[run], L[run]
    if arithmetic == "fast":
        optws_run, unsure, candidates = _local_bandwidths_fast(h_run, L_run, M)
    else:  # every point "unsure", every bandwidth a candidate: the reference's FFT stage
        optws_run = np.zeros((len(run), M, Lmax))
        unsure, candidates = np.ones(optws_run.shape, dtype=bool), np.ones((len(run), M, M), dtype=bool)
    _settle_bandwidth_ties(h_run, L_run, M, optws_run, unsure, candidates)
    optws[run] = optws_run

    costs = _Costs(run, L, y_hist, optws, M, arithmetic)
    dens, g_used, n_iter = _golden_section(costs, max_golden_iter, last_g_quirk)
    Y = np.full((C, Z), np.nan)
    _densities_on_tin(costs.chunks, dens, tin, Y)
    if costs.fast:
        # a near-tie between neighbouring density values could count a peak differently than the
        # reference's rounding would: recompute those few densities in the reference arithmetic
        recheck = np.zeros(C, dtype=bool)
        recheck[run] = _near_ties(Y[run])
        if recheck.any():
            ref_chunks = costs.reference_chunks(recheck)
            dens = costs(g_used, recheck, reference=True, chunks=ref_chunks)[1]
            _densities_on_tin(ref_chunks, dens, tin, Y)
    g_used[~np.isin(np.arange(C), run)] = np.nan
    source = run[same_as]  # every channel that ran, from its distinct twin
    Y[channels], g_used[channels], n_iter[channels] = Y[source], g_used[source], n_iter[source]
    return _Run(Y, ~ok, L, g_used, n_iter)


_OPTIONS_DOC = """
    samples : (C, Z) array, float32 or float64 (computed in float64). Only values in [0, 1] are used.
    M : number of candidate bandwidths (ADVISE uses 10; the original ``ssvkernel`` 80).
    last_g_quirk : True (reference): return the density of the *last* g the golden-section search
        evaluated, as ``ADVISEkernel.m`` and ``ssdensity`` do. False: the density at the best g
        (lowest cost seen, i.e. the better interior point of the final bracket).
    max_golden_iter : golden-section iteration cap: 29 in MATLAB (``k = 1; while ... && k < 30``),
        30 in ``ssdensity``.
    matlab_binning : True (reference): MATLAB ``histc`` binning, which drops samples in
        (1 - dt/2, 1]; False: ``ssdensity``'s binning, which keeps them in the last bin.
    degenerate : what happens to a channel with fewer than 2 distinct samples in [0, 1].
        ``"zero"`` (default, the project's rule): the estimate fails, ``y`` is empty, the score is 0.
        ``"matlab"``: like ``ADVISEkernel.m``, keep the input grid (the sample-gap rule finds no
        gap) and run the estimator. A single distinct value then gives one bump at its bin (1 peak
        when that bin is interior, 0 at an end bin, e.g. an all-zero channel); no in-range sample
        at all gives N = 0, a NaN density and 0 peaks. ``ssdensity`` raises in both cases. The two
        rules differ only for channels with exactly one distinct in-range value whose bin is
        interior, e.g. a constant 0.5 channel (MATLAB: 1 peak; here: 0).

    arithmetic : ``"fast"`` (default) or ``"reference"``; both give the reference's results.
        ``"reference"`` repeats ssdensity's floating-point operations one by one, so densities are
        bit-identical to the oracle's. ``"fast"`` computes the same quantities with table look-ups,
        cached kernel sums and matrix products (see :class:`_Chunk`), agreeing to ~1e-15; every
        decision that rounding could flip -- a golden-section comparison between two near-equal
        costs, an argmin between two near-equal local costs, two near-equal neighbouring density
        values -- is recomputed in the reference arithmetic, so the search takes the reference's
        path and peak counts are the reference's. Densities then differ from the oracle's by
        ~1e-14 at most.

    In both modes a channel whose only distinct in-range values are 0 and 1 fails (the sample-gap
    grid has one point: MATLAB errors inside its try/catch, ``ssdensity`` raises). A channel whose
    in-range samples all lie in (1 - dt/2, 1] has N = 0 under MATLAB binning: NaN density, 0 peaks.
"""


def _kde_options(fn):
    """Show the option keywords of :func:`_ssvkernel_batch` in the signature of ``fn(samples, **options)``
    (help, IDEs): the options and their defaults are defined once, there."""
    own = inspect.signature(fn)
    options = [p for p in inspect.signature(_ssvkernel_batch).parameters.values() if p.kind is p.KEYWORD_ONLY]
    fn.__signature__ = own.replace(parameters=[own.parameters["samples"], *options])
    return fn


@_kde_options
def ssvkernel_states(samples, **options) -> list[KDEState]:
    """Run ``ssvkernel`` on every row of ``samples`` (C, Z) with ``tin = linspace(0, 1, Z)``.

    Returns one :class:`KDEState` per channel. Parameters:
    """
    r = _ssvkernel_batch(samples, **options)
    Z = r.Y.shape[1]
    tin = np.linspace(0.0, 1.0, Z)
    out = []
    for c in range(len(r.Y)):  # packaging only; the estimate above is batched
        if r.failed[c]:
            out.append(KDEState(np.empty(0), np.empty(0), np.empty(0), np.nan, 0))
        else:
            t_int = _grid(int(r.L[c]))[0]
            out.append(KDEState(r.Y[c], tin, t_int, float(r.g[c]), int(r.n_iter[c])))
    return out


ssvkernel_states.__doc__ += _OPTIONS_DOC


@_kde_options
def ssvkernel_channels(samples, **options) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per channel ``(y, t)`` as ``ssvkernel`` returns them: the density on ``tin``, and ``tin``.

    Failed channels give two empty arrays (MATLAB's ``catch`` branch: ``y = []; t = []``).
    Options (keyword-only: ``M``, ``last_g_quirk``, ``max_golden_iter``, ``matlab_binning``,
    ``degenerate``, ``arithmetic``): see :func:`ssvkernel_states`.
    """
    return [(s.y, s.t) for s in ssvkernel_states(samples, **options)]


@_kde_options
def unit_peak_counts(samples, **options) -> np.ndarray:
    """ADVISE unit scores (C,): peaks of each channel's density, as ``find_peaks`` with no arguments.

    A channel with fewer than 2 distinct samples in [0, 1] scores 0 (``degenerate="zero"``, the
    project's rule; ``"matlab"`` reproduces MATLAB, which finds 1 peak for e.g. a constant 0.5
    channel), as does any channel whose estimate fails or whose density is NaN (N = 0).
    Options: see :func:`ssvkernel_states`.
    """
    return peak_counts_rows(_ssvkernel_batch(samples, **options).Y).astype(np.int64)
