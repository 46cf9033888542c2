"""Shimazaki–Shinomoto variable-bandwidth KDE (``ssvkernel``), vectorised over channels.

ADVISE scores a unit (channel) by the number of peaks of ``ssvkernel`` run on its Z = H*W
activations with the grid ``tin = linspace(0, 1, Z)`` (REFERENCE-NOTES §2). This module
re-implements the authors' ``ADVISEkernel.m`` (M=10, Gauss window, no bootstrap) for a whole
(C, Z) feature map at once:

* preprocessing (range filter, sample-gap rule, histogram) is one set of array operations;
* the fixed-bandwidth stage (local costs, optimal local bandwidths) runs once per distinct grid
  length L, with batched real FFTs of exactly the sizes the reference uses -- the FFT padding is
  part of the estimator (circular wrap-around), so it is reproduced, not replaced;
* the golden-section search on the stiffness g runs for all channels in lock-step: each channel
  keeps its own bracket, and every iteration evaluates one cost per still-active channel. Cost
  evaluations run on padded chunks of channels with similar L.

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
# Elements per padded temporary (n_channels * L * L) in one cost-evaluation chunk: ~3 MB, so the
# ~7 elementwise passes of a cost evaluation mostly hit cache (measured best of 131k..2M).
_CHUNK_ELEMS = 400_000


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


def _fft_size(L: int, w: float) -> int:
    """Padding used by ``fftkernel``: next power of two >= L + 3 w (w in bins)."""
    return int(2 ** np.ceil(np.log2(L + 3 * w)))


def _smooth_rows(x: np.ndarray, L: int, W: np.ndarray, dt: float) -> list[np.ndarray]:
    """``fftkernel(x, W_j/dt)`` along the last axis of ``x`` for every bandwidth W_j.

    The forward transform is shared by all bandwidths with the same padded size.
    """
    out: list[np.ndarray | None] = [None] * len(W)
    sizes = [_fft_size(L, w / dt) for w in W]
    for n in sorted(set(sizes)):
        X = rfft(x, n, axis=-1)
        for j, nj in enumerate(sizes):
            if nj == n:
                out[j] = irfft(X * _gauss_spectrum(n, W[j] / dt), n, axis=-1)[..., :L]
    return out  # type: ignore[return-value]


def _local_bandwidths(h: np.ndarray, L: int, M: int) -> np.ndarray:
    """Optimal local fixed bandwidths ``optws`` (Cg, M, L) for histograms ``h`` (Cg, L).

    Row i holds, per grid point, the bandwidth W_j minimising the local cost smoothed by a Gauss
    window of width W_i (ties: the first j, like MATLAB ``min`` / NumPy ``argmin``).
    """
    _, dt = _grid(L)
    W = _bandwidths(L, M)
    yh = np.stack(_smooth_rows(h, L, W, dt), axis=1)  # (Cg, M, L)
    hh = h[:, None, :]
    c = yh**2 - 2 * yh * hh + 2 / _SQRT_2PI / W[None, :, None] * hh
    c_local = _smooth_rows(c, L, W, dt)  # M arrays (Cg, M_j, L), one per window W_i
    return W[np.stack([np.argmin(cl, axis=1) for cl in c_local], axis=1)]


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
    (flat cost regions), so the cost must be computed exactly as the reference computes it.
    """
    return np.where(n <= 128, n // 8, n)


class _Chunk:
    """Channels padded to a common grid length and a common number of non-empty bins.

    Every array expression in :meth:`cost` follows ``ssdensity``'s ``CostFunction`` operation by
    operation, and padding never changes a sum (see :func:`_sum_class`), so each channel's cost
    is bit-identical to the reference's.
    """

    def __init__(self, ids, L, y_hist, optws, M):
        self.ids = ids
        self.L = L
        n, Lb = len(ids), int(L.max())
        self.valid = np.arange(Lb)[None, :] < L[:, None]
        T = np.zeros((n, Lb))
        self.dt = np.empty(n)
        self.W = np.empty((n, M))
        for Lr in np.unique(L):  # per distinct grid length, not per channel
            sel = L == Lr
            t, self.dt[sel] = _grid(int(Lr))
            T[sel, :Lr] = t
            self.W[sel] = _bandwidths(int(Lr), M)
        self.T = T
        dt = self.dt[:, None]
        self.h = y_hist / dt * self.valid  # counts / dt, like the reference's y_hist
        self.N = np.sum(self.h * dt, axis=1)
        self.Wmin, self.Wmax = self.W.min(axis=1), self.W.max(axis=1)
        gs_all = optws / self.W[:, :, None]  # (n, M, Lb); padded points never matter
        self.gs_all = gs_all
        self.gs_max = gs_all.max(axis=1)
        self.gs_min = gs_all.min(axis=1)
        tdiff = T[:, :, None] - T[:, None, :]
        self.nd2 = -(tdiff**2) / 2  # the reference's `-t_diff**2 / 2`, (n, Lb, Lb)
        # the balloon estimate only visits non-empty bins, in increasing order
        nnz = (self.h > 0).sum(axis=1)
        K = max(int(nnz.max()), 1)
        order = np.argsort(self.h <= 0, axis=1, kind="stable")[:, :K]
        self.h_nz = np.where(np.arange(K)[None, :] < nnz[:, None], np.take_along_axis(self.h, order, 1), 0.0)
        self.nd2_nz = np.take_along_axis(self.nd2, np.broadcast_to(order[:, None, :], (n, Lb, K)), axis=2)

    def cost(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cost C(g) and the balloon density yv (n, Lb), one g per channel (``CostFunction``)."""
        optwv = self._stiff_bandwidths(g)
        optwp = self._nadaraya_watson(optwv, optwv / g[:, None])
        yv = self._balloon(optwp)
        dt = self.dt[:, None]
        yv = yv * self.N[:, None] / np.sum(yv * dt, axis=1, keepdims=True)
        cg = yv**2 - 2 * yv * self.h + 2 / _SQRT_2PI / optwp * self.h
        cg[~self.valid] = 0.0
        return np.sum(cg * dt, axis=1), yv

    def _stiff_bandwidths(self, g):
        """optwv: per grid point, g * W_i for the last i with optws_i / W_i >= g, else the extreme W."""
        ge = self.gs_all >= g[:, None, None]
        M = ge.shape[1]
        last = M - 1 - np.argmax(ge[:, ::-1, :], axis=1)
        mid = g[:, None] * np.take_along_axis(self.W, last, axis=1)
        optwv = np.where(g[:, None] >= self.gs_min, mid, self.Wmax[:, None])
        return np.where(g[:, None] > self.gs_max, self.Wmin[:, None], optwv)

    def _nadaraya_watson(self, optwv, sigma):
        """optwp(t) = sum_s optwv(s) G(t-s; sigma_s) / sum_s G(t-s; sigma_s)."""
        arg = self.nd2 / (sigma**2)[:, None, :]
        np.maximum(arg, _EXP_FLOOR, out=arg)
        Z = np.exp(arg, out=arg)
        pref = np.where(self.valid, 1 / _SQRT_2PI / sigma, 0.0)  # padded sources weigh nothing
        Z *= pref[:, None, :]
        num = np.sum(optwv[:, None, :] * Z, axis=2)
        return num / np.sum(Z, axis=2)

    def _balloon(self, optwp):
        """yv(t) = sum_s h(s) dt G(t-s; optwp(t)) over the non-empty bins s."""
        arg = self.nd2_nz / (optwp**2)[:, :, None]
        np.maximum(arg, _EXP_FLOOR, out=arg)
        tiny = arg <= _EXP_FLOOR  # the true value is below 1e-307: keep the tails exactly 0
        G = np.exp(arg, out=arg)
        G[tiny] = 0.0
        G *= (1 / _SQRT_2PI / optwp)[:, :, None]
        G *= (self.h_nz * self.dt[:, None])[:, None, :]
        yv = np.sum(G, axis=2)
        yv[~self.valid] = 0.0
        return yv


def _make_chunks(ids, L, y_hist, optws, M):
    """Chunks of channels sharing both sum classes (grid length, non-empty bins), bounded in size."""
    nnz = (y_hist > 0).sum(axis=1)
    key_L, key_n = _sum_class(L[ids]), _sum_class(nnz[ids])
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


def _golden_section(chunks, C, max_iter, last_g_quirk):
    """Golden-section search on g in [1e-12, 1] for all channels at once.

    Returns, per channel id, the (unnormalised) balloon density and its g: the last g evaluated
    (reference quirk) or the better of the final bracket's two interior points, which is the
    lowest cost seen (a golden-section search always keeps its best point inside the bracket).
    """
    a = np.full(C, _GOLDEN_BRACKET[0])
    b = np.full(C, _GOLDEN_BRACKET[1])
    c1 = (_PHI - 1) * a + (2 - _PHI) * b
    c2 = (2 - _PHI) * a + (_PHI - 1) * b
    f1, f2, k = np.zeros(C), np.zeros(C), np.zeros(C, dtype=np.int64)
    y1 = [None] * len(chunks)
    y2 = [None] * len(chunks)
    ylast = [None] * len(chunks)
    for q, ch in enumerate(chunks):
        f1[ch.ids], y1[q] = ch.cost(c1[ch.ids])
        f2[ch.ids], y2[q] = ch.cost(c2[ch.ids])
    glast = np.zeros(C)
    active = np.zeros(C, dtype=bool)
    for ch in chunks:
        active[ch.ids] = True
    active &= (np.abs(b - a) > _GOLDEN_TOL * (np.abs(c1) + np.abs(c2))) & (k < max_iter)
    while active.any():
        left = (f1 < f2) & active
        right = ~(f1 < f2) & active
        # move the bracket (same floating-point expressions as the reference)
        b = np.where(left, c2, b)
        a = np.where(right, c1, a)
        c2_new = np.where(left, c1, np.where(right, (2 - _PHI) * a + (_PHI - 1) * b, c2))
        c1_new = np.where(left, (_PHI - 1) * a + (2 - _PHI) * b, np.where(right, c2, c1))
        c1, c2 = c1_new, c2_new
        f2 = np.where(left, f1, f2)
        f1 = np.where(right, f2, f1)
        g_eval = np.where(left, c1, c2)
        for q, ch in enumerate(chunks):
            act = active[ch.ids]
            if not act.any():
                continue
            il, ir = left[ch.ids], right[ch.ids]
            y2[q] = np.where(il[:, None], y1[q], y2[q])
            y1[q] = np.where(ir[:, None], y2[q], y1[q])
            fnew, ynew = ch.cost(g_eval[ch.ids])
            f1[ch.ids] = np.where(il, fnew, f1[ch.ids])
            f2[ch.ids] = np.where(ir, fnew, f2[ch.ids])
            y1[q] = np.where(il[:, None], ynew, y1[q])
            y2[q] = np.where(ir[:, None], ynew, y2[q])
            ylast[q] = np.where(act[:, None], ynew, ylast[q]) if ylast[q] is not None else ynew
        glast = np.where(active, g_eval, glast)
        k += active
        active &= (np.abs(b - a) > _GOLDEN_TOL * (np.abs(c1) + np.abs(c2))) & (k < max_iter)
    if last_g_quirk:
        return ylast, glast, k
    best1 = ~(f2 < f1)  # f1 <= f2: c1 is the best point seen
    ybest = [np.where(best1[ch.ids][:, None], y1[q], y2[q]) for q, ch in enumerate(chunks)]
    return ybest, np.where(best1, c1, c2), k


# ----------------------------------------------------------------------------------------------
# interpolation back to tin and peak counting
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


def _ssvkernel_batch(samples, M, last_g_quirk, max_golden_iter, matlab_binning, degenerate) -> _Run:
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
    run = np.flatnonzero(ok & ~empty)

    # fixed-bandwidth stage, once per distinct grid length (all grid quantities are shared)
    Lmax = int(L[run].max()) if len(run) else 2
    optws = np.zeros((C, M, Lmax))
    for Lr in np.unique(L[run]):
        sel = run[L[run] == Lr]
        optws[sel, :, :Lr] = _local_bandwidths(y_hist[sel, :Lr] / _grid(int(Lr))[1], int(Lr), M)

    chunks = _make_chunks(run, L, y_hist, optws, M)
    dens, g_used, n_iter = _golden_section(chunks, C, max_golden_iter, last_g_quirk)

    Y = np.full((C, Z), np.nan)
    for q, ch in enumerate(chunks):
        yopt = dens[q] / np.sum(dens[q] * ch.dt[:, None], axis=1, keepdims=True)  # = reference
        Y[ch.ids] = _interp_to_tin(yopt, ch.T, ch.L, tin)
    g_used[~np.isin(np.arange(C), run)] = np.nan
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

    In both modes a channel whose only distinct in-range values are 0 and 1 fails (the sample-gap
    grid has one point: MATLAB errors inside its try/catch, ``ssdensity`` raises). A channel whose
    in-range samples all lie in (1 - dt/2, 1] has N = 0 under MATLAB binning: NaN density, 0 peaks.
"""


def ssvkernel_states(
    samples,
    *,
    M: int = 10,
    last_g_quirk: bool = True,
    max_golden_iter: int = 29,
    matlab_binning: bool = True,
    degenerate: str = "zero",
) -> list[KDEState]:
    """Run ``ssvkernel`` on every row of ``samples`` (C, Z) with ``tin = linspace(0, 1, Z)``.

    Returns one :class:`KDEState` per channel. Parameters:
    """
    r = _ssvkernel_batch(samples, M, last_g_quirk, max_golden_iter, matlab_binning, degenerate)
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


def ssvkernel_channels(
    samples,
    *,
    M: int = 10,
    last_g_quirk: bool = True,
    max_golden_iter: int = 29,
    matlab_binning: bool = True,
    degenerate: str = "zero",
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per channel ``(y, t)`` as ``ssvkernel`` returns them: the density on ``tin``, and ``tin``.

    Failed channels give two empty arrays (MATLAB's ``catch`` branch: ``y = []; t = []``).
    Options (keyword-only: ``M``, ``last_g_quirk``, ``max_golden_iter``, ``matlab_binning``,
    ``degenerate``): see :func:`ssvkernel_states`.
    """
    states = ssvkernel_states(
        samples,
        M=M,
        last_g_quirk=last_g_quirk,
        max_golden_iter=max_golden_iter,
        matlab_binning=matlab_binning,
        degenerate=degenerate,
    )
    return [(s.y, s.t) for s in states]


def unit_peak_counts(
    samples,
    *,
    M: int = 10,
    last_g_quirk: bool = True,
    max_golden_iter: int = 29,
    matlab_binning: bool = True,
    degenerate: str = "zero",
) -> np.ndarray:
    """ADVISE unit scores (C,): peaks of each channel's density, as ``find_peaks`` with no arguments.

    A channel with fewer than 2 distinct samples in [0, 1] scores 0 (``degenerate="zero"``, the
    project's rule; ``"matlab"`` reproduces MATLAB, which finds 1 peak for e.g. a constant 0.5
    channel), as does any channel whose estimate fails or whose density is NaN (N = 0).
    Options: see :func:`ssvkernel_states`.
    """
    r = _ssvkernel_batch(samples, M, last_g_quirk, max_golden_iter, matlab_binning, degenerate)
    return peak_counts_rows(r.Y).astype(np.int64)
