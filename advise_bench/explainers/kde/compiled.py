"""The compiled arithmetic: the fast arithmetic with its balloon estimate and cost sums compiled by numba.

:class:`CompiledCosts` is :class:`~.arithmetic.FastCosts` -- the same search, the same decisions settled in
the reference arithmetic (near-equal costs, near-equal neighbouring densities, flat regions) -- whose chunks
(:class:`CompiledChunk`) compute the balloon density and the cost of :class:`~.cost.FastChunk` in one compiled
pass per channel instead of a dozen NumPy temporaries. Its values agree with the reference's to ~1e-15 of the
cost scale, like the fast arithmetic's, so the tie tolerance (:data:`~.grid._TIE_TOL`, 1e-13) covers them.

numba's ``math.exp`` calls libm one value at a time (~8x NumPy's SIMD exp), so the balloon's exponentials
use ``_exp_floored``: Cody-Waite reduction, a degree-13 Taylor polynomial and the power of two built from the
rounding shifter's bits (2.2e-16 relative at most against NumPy's exp, measured), written so that LLVM
vectorises the kernel sums that call it (partial sums reassociated: ~1e-16 relative). The Nadaraya-Watson
sums per bandwidth assignment (cached as in :meth:`~.cost.FastChunk._fill`) are compiled too; the sources at
the extreme bandwidths and the bandwidth stage are the fast arithmetic's. numba is an optional dependency (the ``compiled`` extra); kernels are cached on disk
(``cache=True``), so only the first use on a machine compiles them.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from .arithmetic import FastCosts
from .cost import _ASSIGNMENT_CACHE, _EXP_FLOOR, FastChunk, _gauss_lags, _last_true
from .grid import _SQRT_2PI

try:
    import numba
except ImportError:  # pragma: no cover - exercised where numba is absent
    numba = None

_MISSING = ("the 'compiled' KDE arithmetic needs numba: pip install 'advise-bench[compiled]' (or numba), "
            "or choose arithmetic 'fast'")

_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_INV_LN2 = 1.4426950408889634
_SHIFT = 6755399441055744.0  # 1.5 * 2**52: x + _SHIFT rounds x to an integer held in the low mantissa bits
_SHIFT_BITS = int(np.float64(_SHIFT).view(np.int64))
# exp(r) = sum r^i / i!, i <= 13: truncation below 1e-17 on |r| <= ln(2)/2
_TAYLOR = tuple(1.0 / math.factorial(i) for i in range(13, -1, -1))  # 1/13!, ..., 1/1!, 1/0!
_INV_SQRT_2PI = 1 / _SQRT_2PI
# During the search the balloon sum skips the bins farther than this many kernel widths from t: their
# terms are below exp(-_TRUNCATE_SIGMAS^2 / 2) = 1e-24 of a bin's weight, far below the tie tolerance
# (1e-13 of the cost scale). The densities whose peaks are counted are summed over every bin.
_TRUNCATE_SIGMAS = 10.5


def _kernels():
    """The compiled balloon-and-cost kernel; numba compiles it on first use (or loads its on-disk cache)."""
    if numba is None:
        raise ImportError(_MISSING)
    return _balloon_cost


if numba is not None:
    # FMA contraction only: no reassociation, which would undo the rounding shifter
    _jit = numba.njit(cache=True, fastmath={"contract"}, nogil=True)

    @_jit
    def _exp_floored(a):
        """exp(a) for a > -708, else 0 (the reference's floored tails), vectorisable."""
        x = a if a > _EXP_FLOOR else _EXP_FLOOR
        t = x * _INV_LN2 + _SHIFT
        k = t - _SHIFT
        r = (x - k * _LN2_HI) - k * _LN2_LO
        p = _TAYLOR[0]
        for c in _TAYLOR[1:]:  # Horner, highest degree first (unrolled: the tuple is a compile-time constant)
            p = p * r + c
        two_k = np.int64((np.float64(t).view(np.int64) - _SHIFT_BITS + 1023) << 52).view(np.float64)
        return p * two_k if a > _EXP_FLOOR else 0.0

    # the kernel sum may be reassociated (vectorised partial sums: ~1e-16 relative, like NumPy's pairwise sum)
    @numba.njit(cache=True, fastmath={"contract", "reassoc"}, nogil=True)
    def _kernel_sum(nd2_row, inv, hdt_row, lo, hi):
        """sum_s hdt(s) exp(nd2(t, s) / optwp(t)^2) over the (non-empty) bins lo <= s < hi."""
        acc = 0.0
        for s in range(lo, hi):
            acc += _exp_floored(nd2_row[s] * inv) * hdt_row[s]
        return acc

    @numba.njit(cache=True, fastmath={"contract", "reassoc"}, nogil=True)
    def _mid_sums(rows, last, mid, W, lags, out):
        """Per chunk row rows[i]: sum_s G(t - s; W_last(s)) and sum_s W_last(s) G(t - s; W_last(s)) over
        the mid sources s, into out[i, t, 0] and out[i, t, 1] (FastChunk._fill's matrix product)."""
        n, Lb = last.shape
        for i in range(n):
            r = rows[i]
            den = out[i, :, 0]
            num = out[i, :, 1]
            for t in range(Lb):
                den[t] = 0.0
                num[t] = 0.0
            for s in range(Lb):
                if mid[i, s]:
                    m = last[i, s]
                    w = W[r, m]
                    kern = lags[r, m, Lb - 1 - s : 2 * Lb - 1 - s]  # G(t - s; W_m) for t = 0 .. Lb-1
                    for t in range(Lb):
                        den[t] += kern[t]
                        num[t] += w * kern[t]

    @_jit
    def _balloon_cost(rows, nd2_nz, nnz, hdt_nz, t_nz, T, optwp, h, dt, N, L, truncate, yv):
        """Per chunk row rows[i]: the balloon density at optwp[i] (normalised, into yv[i]), its cost
        and cost scale, as FastChunk._balloon followed by Chunk._finish. ``truncate``: sum only the
        bins within _TRUNCATE_SIGMAS kernel widths of t (see CompiledChunk)."""
        n, Lb = optwp.shape
        cost = np.empty(n)
        scale = np.empty(n)
        for i in range(n):
            r = rows[i]
            k = nnz[r]
            Lr = L[r]
            d = dt[r]
            lo = 0
            hi = 0
            for t in range(Lr):
                w = optwp[i, t]
                if truncate:  # the bins s with |T_t - T_s| <= reach: a window moving right with t
                    reach = _TRUNCATE_SIGMAS * w
                    while lo < k and t_nz[r, lo] < T[r, t] - reach:
                        lo += 1
                    if hi < lo:
                        hi = lo
                    while hi < k and t_nz[r, hi] <= T[r, t] + reach:
                        hi += 1
                    while hi > lo and t_nz[r, hi - 1] > T[r, t] + reach:  # optwp(t) may shrink with t
                        hi -= 1
                    while lo > 0 and t_nz[r, lo - 1] >= T[r, t] - reach:
                        lo -= 1
                else:
                    hi = k
                yv[i, t] = _kernel_sum(nd2_nz[r, t], 1.0 / (w * w), hdt_nz[r], lo, hi) * _INV_SQRT_2PI / w
            for t in range(Lr, Lb):
                yv[i, t] = 0.0
            tot = 0.0
            for t in range(Lr):
                tot += yv[i, t] * d
            norm = N[r] / tot
            cg = 0.0
            ms = 0.0
            for t in range(Lr):
                y = yv[i, t] * norm
                yv[i, t] = y
                sq = y * y
                cross = 2 * y * h[r, t]
                var = 2 * _INV_SQRT_2PI / optwp[i, t] * h[r, t]
                cg += (sq - cross + var) * d
                ms += (sq + cross + var) * d
            cost[i] = cg
            scale[i] = ms
        return cost, scale


class CompiledChunk(FastChunk):
    """:class:`~.cost.FastChunk` with the balloon estimate and the cost (``_balloon`` + ``_finish``)
    compiled into one pass per channel."""

    truncate = True  # see _TRUNCATE_SIGMAS; CompiledCosts.densities sums every bin

    def __init__(self, ids, L, y_hist, optws, M):
        super().__init__(ids, L, y_hist, optws, M)
        self.nnz = np.ascontiguousarray((self.h > 0).sum(axis=1), dtype=np.int64)
        K = self.nd2_nz.shape[2]
        order = np.argsort(self.h <= 0, axis=1, kind="stable")[:, :K]  # the non-empty bins, as in Chunk
        # grid points of the non-empty bins, increasing; +inf pads past nnz (never inside a window)
        self.t_nz = np.where(np.arange(K)[None, :] < self.nnz[:, None], np.take_along_axis(self.T, order, 1), np.inf)
        self.T = np.ascontiguousarray(self.T)
        self.hdt_2d = np.ascontiguousarray(self.hdt_nz[:, :, 0])
        self.L_int = np.ascontiguousarray(self.L, dtype=np.int64)
        self.nd2_nz = np.ascontiguousarray(self.nd2_nz)
        self.h = np.ascontiguousarray(self.h)

    @cached_property
    def mid_lags(self):
        """G(lag; W_i) per row, bandwidth and lag t - s = 1-Lb .. Lb-1 (n, M, 2Lb-1): mid_kernels' table."""
        return np.ascontiguousarray(_gauss_lags(self.lag_d2, self.W))

    def _fill(self, r, g, slot, low, valid):
        """FastChunk._fill with the kernel sums compiled (no gathered (s, t) kernel matrices)."""
        gs = self.gs_all[r]
        below = gs < g[:, None, None]
        b = ~below
        last = np.ascontiguousarray(_last_true(b), dtype=np.int64)
        mid = np.ascontiguousarray(b.any(axis=1) & ~low & valid)
        sums = np.empty((len(r), self.Lb, 2))
        _mid_sums(np.ascontiguousarray(r, dtype=np.int64), last, mid, self.W, self.mid_lags, sums)
        self.mid_sums[r, slot] = sums
        lo = np.where(below, gs, -np.inf).max(axis=(1, 2))
        hi = np.where(below, np.inf, gs).min(axis=(1, 2))
        on_threshold = hi == g
        self.cache_lo[r, slot] = np.where(on_threshold, np.inf, lo)
        self.cache_hi[r, slot] = np.where(on_threshold, -np.inf, hi)
        self.next_slot[r] = (slot + 1) % _ASSIGNMENT_CACHE

    def _finish(self, rows, yv, optwp):
        return self._compiled

    def _balloon(self, optwp, rows):
        balloon_cost = _kernels()
        optwp = np.ascontiguousarray(optwp, dtype=np.float64)
        yv = np.empty_like(optwp)
        cost, scale = balloon_cost(np.ascontiguousarray(rows, dtype=np.int64), self.nd2_nz, self.nnz, self.hdt_2d,
                                   self.t_nz, self.T, optwp, self.h, self.dt, self.N, self.L_int, self.truncate, yv)
        self._compiled = (cost, yv, scale)
        return yv


class CompiledCosts(FastCosts):
    """The fast arithmetic (every rounding-sensitive decision settled in the reference arithmetic) on
    compiled chunks: see the module's docstring."""

    chunk_type = CompiledChunk

    def __init__(self, ids, L, y_hist, optws, M):
        _kernels()  # a clear error before any work when numba is absent
        super().__init__(ids, L, y_hist, optws, M)

    def densities(self, g, sel):
        """The densities whose peaks are counted: every bin summed (no truncation)."""
        for ch in self.chunks:
            ch.truncate = False
        try:
            return super().densities(g, sel)
        finally:
            for ch in self.chunks:
                ch.truncate = True


def compile_seconds() -> float:
    """Seconds to build (or load from numba's cache) the kernels and run them once: the first-call cost."""
    import time

    t0 = time.perf_counter()
    balloon_cost = _kernels()
    one = np.ones((1, 2))
    balloon_cost(np.zeros(1, np.int64), -np.ones((1, 2, 2)), np.full(1, 2, np.int64), one, np.array([[0.0, 1.0]]),
                 np.array([[0.0, 1.0]]), one.copy(), one.copy(), np.ones(1), np.ones(1), np.full(1, 2, np.int64), True,
                 np.empty((1, 2)))
    return time.perf_counter() - t0
