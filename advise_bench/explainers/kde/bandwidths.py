"""Fixed-bandwidth stage: the optimal local bandwidths ``optws`` (M windows x L grid points) per channel.

The reference smooths with FFTs of its own sizes -- the FFT padding is part of the estimator
(circular wrap-around), so it is reproduced, not replaced; channels of all grid lengths share each
transform (:func:`reference_local_bandwidths`). The fast arithmetic replaces each smoothing by one
matrix product and settles near-tied argmins with the FFTs (:func:`fast_local_bandwidths`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.fft import irfft, rfft, rfftfreq

from .grid import _SQRT_2PI, _TIE_TOL, _bandwidths, _grid, _row_grids

# Elements of the (rows, M, M, L) local-cost temporaries of the bandwidth stage per block (32 MB).
_BANDWIDTH_BLOCK_ELEMS = 4_000_000


def reference_local_bandwidths(h: np.ndarray, L: np.ndarray, M: int) -> np.ndarray:
    """optws (R, M, Lmax) of histograms ``h`` (R, Lmax) / dt by the reference's FFT stage.

    Every point is "unsure" and every bandwidth a candidate of :func:`_settle_bandwidth_ties`,
    which runs the FFT stage in blocks of rows, to bound memory.
    """
    optws = np.zeros((len(h), M, h.shape[1]))
    unsure, candidates = np.ones(optws.shape, dtype=bool), np.ones((len(h), M, M), dtype=bool)
    _settle_bandwidth_ties(h, L, M, optws, unsure, candidates)
    return optws


def fast_local_bandwidths(h: np.ndarray, L: np.ndarray, M: int) -> np.ndarray:
    """As :func:`reference_local_bandwidths` (the same values), by matrix products where no
    rounding can change the argmin and by the FFT stage where it could."""
    optws, unsure, candidates = _local_bandwidths_fast(h, L, M)
    _settle_bandwidth_ties(h, L, M, optws, unsure, candidates)
    return optws


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
