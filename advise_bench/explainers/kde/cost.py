"""The cost C(g) of the golden-section search, on padded chunks of channels, in two arithmetics.

A :class:`Chunk` holds what both arithmetics need; :class:`ReferenceChunk` and :class:`FastChunk`
implement its one method, :meth:`Chunk.cost`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property

import numpy as np

from .grid import _SQRT_2PI, _row_grids

# exp() of arguments below about -708 leaves the normal range; NumPy's exp then takes a slow path
# (~25 ns instead of ~0.6 ns). Clipping there changes nothing but results below 1e-307.
_EXP_FLOOR = -708.0
_EXP_AT_FLOOR = float(np.exp(_EXP_FLOOR))
# Elements per padded temporary (n_channels * L * L) in one cost-evaluation chunk (~12 MB):
# bounds memory; among 0.4M..4M this measured best for the fast arithmetic.
_CHUNK_ELEMS = 1_500_000
_PAD_L, _PAD_RATIO = 8, 1.5
# Assignments (source point -> bandwidth) whose kernel sums the fast arithmetic keeps per channel:
# a search visits 3-7 distinct ones on real feature maps, alternating between them.
_ASSIGNMENT_CACHE = 8


def _sum_class(n: np.ndarray) -> np.ndarray:
    """Rows whose lengths share a class are summed identically by NumPy after zero padding.

    NumPy's pairwise sum adds rows shorter than 8 sequentially, rows of 8..128 in 8 interleaved
    partial sums followed by the tail, and splits longer rows at n-dependent points. Trailing zeros
    therefore leave a sum bit-identical only within one class: n < 8, the same n // 8 up to 128,
    or the same n above. The golden-section search compares costs that can be equal up to rounding
    (flat cost regions), so the reference-arithmetic cost must be computed exactly as ssdensity does.
    """
    return np.where(n <= 128, n // 8, n)


class Chunk(ABC):
    """Channels padded to a common grid length ``Lb``: the data of their cost function.

    ``ids`` are the channels' indices in the feature map. Subclasses implement :meth:`cost`, one
    per arithmetic; ``exact`` says whether their costs are bit-identical to the reference's.
    """

    exact: bool

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

    @abstractmethod
    def cost(self, g: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cost C(g), balloon density yv (n, Lb) and cost scale (the sum of the cost terms'
        magnitudes) at g[i] for the chunk rows ``rows[i]``."""

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


class ReferenceChunk(Chunk):
    """``ssdensity``'s ``CostFunction``, operation by operation: each channel's cost is
    bit-identical to the reference's. O(L^2) exponentials per call.

    The channels of a chunk share both sum classes (grid length, non-empty bins; see
    :func:`_sum_class` and :func:`make_chunks`), so padding never changes a sum.
    """

    exact = True

    # tables are built on first use, so in the thread that evaluates the chunk (see .arithmetic)
    @cached_property
    def nd2(self):
        """The reference's ``-t_diff**2 / 2`` (n, Lb, Lb)."""
        return -((self.T[:, :, None] - self.T[:, None, :]) ** 2) / 2

    def cost(self, g, rows):
        optwv = self._stiff_bandwidths(g, rows)
        optwp = self._nadaraya_watson(optwv, optwv / g[:, None], rows)
        return self._finish(rows, self._balloon(optwp, rows), optwp)

    def _stiff_bandwidths(self, g, rows):
        """optwv: per grid point, g * W_i for the last i with optws_i / W_i >= g, else the extreme W."""
        W = self.W[rows]
        last = _last_true(self.gs_all[rows] >= g[:, None, None])
        mid = g[:, None] * np.take_along_axis(W, last, axis=1)
        optwv = np.where(g[:, None] >= self.gs_min[rows], mid, self.Wmax[rows][:, None])
        return np.where(g[:, None] > self.gs_max[rows], self.Wmin[rows][:, None], optwv)

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


class FastChunk(Chunk):
    """The reference's cost function arranged to do far less work; it agrees with
    :class:`ReferenceChunk` to ~1e-15 of the cost scale.

    - Nadaraya–Watson: a source point s has kernel width optwv(s)/g, which is one of the fixed
      bandwidths W_i ("mid" points, optwv = g W_i) or Wmax/g, Wmin/g at the extremes. The mid
      widths do not depend on g, so their kernel sums depend only on the assignment s -> i,
      which changes rarely during the search (3-7 distinct assignments in ~27 evaluations on
      real feature maps): they are cached per channel and recomputed, by table look-up (the
      grid is uniform, so a kernel is a function of the lag |t-s|), only when it changes.
    - Balloon estimate: O(L x non-empty bins) exponentials, summed as matrix products.
    """

    exact = False

    def __init__(self, ids, L, y_hist, optws, M):
        super().__init__(ids, L, y_hist, optws, M)
        n, Lb = len(ids), self.Lb
        self.hdt_nz = (self.h_nz * self.dt[:, None])[:, :, None]  # (n, K, 1), the balloon's weights
        # the most negative balloon exponent per unit of 1/optwp^2: rows whose exponents cannot reach
        # the exp floor skip the masking (see _balloon)
        self.nd2_min = self.nd2_nz.min(axis=(1, 2))
        # cache of the mid-source sums per assignment. The assignment (which thresholds
        # optws_i(s)/W_i lie below g) is the same for every g strictly between two consecutive
        # thresholds: a slot holds that open interval (lo, hi), or an empty one
        self.cache_lo = np.full((n, _ASSIGNMENT_CACHE), np.inf)
        self.cache_hi = np.full((n, _ASSIGNMENT_CACHE), -np.inf)
        self.mid_sums = np.zeros((n, _ASSIGNMENT_CACHE, Lb, 2))  # sum_s G, sum_s W_i G
        self.next_slot = np.zeros(n, dtype=np.int64)  # next cache slot to overwrite, per channel

    # tables are built on first use, so in the thread that evaluates the chunk (see .arithmetic)
    @cached_property
    def lag_d2(self):
        """Squared distance per lag t - s = 1-Lb .. Lb-1 (n, 2Lb-1)."""
        lag = np.abs(np.arange(1 - self.Lb, self.Lb))
        return (lag[None, :] * self.dt[:, None]) ** 2

    @cached_property
    def mid_kernels(self):
        """(n, M, s, t) view of G(t - s; W_i), the kernels of the mid sources."""
        return _kernel_columns(_gauss_lags(self.lag_d2, self.W))

    def cost(self, g, rows):
        Lb = self.Lb
        take = self._rows(rows)
        valid = take(self.valid)
        gc = g[:, None]
        high = gc > take(self.gs_max)  # every threshold below g: the narrowest bandwidth
        low = gc < take(self.gs_min)  # none: the widest
        hit = (self.cache_lo[rows] < gc) & (gc < self.cache_hi[rows])
        found = hit.any(axis=1)
        slot = np.where(found, hit.argmax(axis=1), self.next_slot[rows])
        miss = np.flatnonzero(~found)
        if miss.size:
            self._fill(rows[miss], g[miss], slot[miss], low[miss], valid[miss])
        sums = self.mid_sums[rows, slot]
        den, num = sums[..., 0].copy(), g[:, None] * sums[..., 1]
        ext = (low | high) & valid  # sources whose width depends on g
        xr = np.flatnonzero(ext.any(axis=1))
        if xr.size:
            rr, e = rows[xr], ext[xr]
            width = np.stack([self.Wmax[rr], self.Wmin[rr]], axis=1)  # optwv of low, high sources
            kern = _kernel_columns(_gauss_lags(self.lag_d2[rr], width / g[xr, None]))
            side = high[xr].astype(np.int64)
            cols = kern[np.arange(len(xr))[:, None], side, np.arange(Lb)[None, :]]  # (n'', s, t)
            wts = np.stack([e, e * np.take_along_axis(width, side, axis=1)], axis=-1)
            s = np.matmul(cols.transpose(0, 2, 1), wts)
            den[xr] += s[..., 0]
            num[xr] += s[..., 1]
        optwp = np.where(valid, num / np.where(valid, den, 1.0), 1.0) if self.padded else num / den
        return self._finish(rows, self._balloon(optwp, rows), optwp)

    def _fill(self, r, g, slot, low, valid):
        """Compute and cache the mid-source sums of the chunk rows ``r`` at g, in ``slot``."""
        gs = self.gs_all[r]
        below = gs < g[:, None, None]  # (n', M, Lb); padded points: 0 < g always
        b = ~below
        last = _last_true(b)  # last i with optws_i / W_i >= g
        mid = b.any(axis=1) & ~low & valid
        cols = self.mid_kernels[r[:, None], last, np.arange(self.Lb)[None, :]]  # (n', s, t)
        wts = np.stack([mid, mid * np.take_along_axis(self.W[r], last, axis=1)], axis=-1)
        self.mid_sums[r, slot] = np.matmul(cols.transpose(0, 2, 1), wts)
        lo = np.where(below, gs, -np.inf).max(axis=(1, 2))
        hi = np.where(below, np.inf, gs).min(axis=(1, 2))
        on_threshold = hi == g  # g equals a threshold: this assignment holds at g alone
        self.cache_lo[r, slot] = np.where(on_threshold, np.inf, lo)
        self.cache_hi[r, slot] = np.where(on_threshold, -np.inf, hi)
        self.next_slot[r] = (slot + 1) % _ASSIGNMENT_CACHE

    def _balloon(self, optwp, rows):
        """yv(t) = sum_s h(s) dt G(t-s; optwp(t)) over the non-empty bins s, as matrix products."""
        inv = 1 / optwp**2
        arg = self._rows(rows)(self.nd2_nz) * inv[:, :, None]  # a product: far cheaper than a quotient
        # as the reference: tails below 1e-307 are exactly 0; only rows that reach the floor are masked
        deep = np.flatnonzero(self.nd2_min[rows] * inv.max(axis=1) <= _EXP_FLOOR)
        if deep.size == len(rows):
            G = _exp_floored(arg, floor_value=0.0)
        else:
            G = np.exp(arg, out=arg)
            if deep.size:
                G[deep] = _exp_floored(self._rows(rows)(self.nd2_nz)[deep] * inv[deep, :, None], 0.0)
        return (G @ self._rows(rows)(self.hdt_nz))[..., 0] / _SQRT_2PI / optwp


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


def make_chunks(chunk_type: type[Chunk], ids, L, y_hist, optws, M) -> list[Chunk]:
    """Chunks of the channels ``ids``, bounded in size (padded elements n Lb^2 <= :data:`_CHUNK_ELEMS`).

    For an exact ``chunk_type`` (the reference arithmetic) channels in a chunk share both sum
    classes (grid length, non-empty bins). Otherwise channels of similar grid lengths and similar
    numbers of non-empty bins are grouped, to keep the padding small.
    """
    nnz = (y_hist > 0).sum(axis=1)
    if chunk_type.exact:
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
        chunks.append(chunk_type(sel, L[sel], y_hist[sel, :Lb], optws[sel, :, :Lb], M))
        start = stop
    return chunks
