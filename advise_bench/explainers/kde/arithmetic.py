"""The two arithmetics as implementations of one cost interface, :class:`Costs`.

The golden-section search (:mod:`.search`) and the estimate (:mod:`.estimate`) see only this
interface: the costs of every channel of a feature map at one g each, how two costs compare as the
reference would compare them, and the final densities. :class:`ReferenceCosts` repeats the
reference's floating-point operations; :class:`FastCosts` computes the same quantities faster and
settles, in the reference arithmetic, every decision that rounding could flip.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .bandwidths import fast_local_bandwidths, reference_local_bandwidths
from .cost import Chunk, FastChunk, ReferenceChunk, make_chunks
from .grid import _TIE_TOL
from .peaks import densities_on_tin, near_ties

# Chunks with grids of at least this many points are evaluated in parallel threads (results do
# not depend on it); measured on 2 cores: ~20% faster at L = 196, slower for small grids.
_THREADED_MIN_L, _MAX_THREADS = 128, 4
_max_threads = _MAX_THREADS  # 1 in the KDE's worker processes (see .parallel)


@dataclass
class Evaluation:
    """The cost at one g per channel: g, cost and cost scale (C,), and whether the cost is in the
    reference arithmetic (``exact``). Channels not evaluated hold 0. The search compares costs
    only; densities are computed once, at the g it returns (:meth:`Costs.densities`)."""

    g: np.ndarray
    cost: np.ndarray
    scale: np.ndarray
    exact: np.ndarray

    def where(self, mask: np.ndarray, other: Evaluation) -> Evaluation:
        """This evaluation for the channels in ``mask``, ``other`` for the rest."""
        return Evaluation(
            np.where(mask, self.g, other.g),
            np.where(mask, self.cost, other.cost),
            np.where(mask, self.scale, other.scale),
            np.where(mask, self.exact, other.exact),
        )


class Costs(ABC):
    """The cost function of the channels ``ids`` of a feature map, spread over chunks.

    Subclasses are the arithmetics: the chunk type that computes their costs, their fixed-bandwidth
    stage (``local_bandwidths(h, L, M)``) and how they reach the reference's decisions.
    """

    chunk_type: type[Chunk]

    def __init__(self, ids, L, y_hist, optws, M):
        self.C, self.Lmax = len(L), optws.shape[2]
        self.run = np.zeros(self.C, dtype=bool)
        self.run[ids] = True
        self._inputs = (L, y_hist, optws, M)
        self.chunks = make_chunks(self.chunk_type, ids, *self._inputs)

    def evaluate(self, g: np.ndarray, sel: np.ndarray, chunks: list[Chunk] | None = None) -> Evaluation:
        """Costs at g[c] for the channels in ``sel`` (C,) of ``chunks`` (default: this arithmetic's)."""
        chunks = self.chunks if chunks is None else chunks
        f, scale, _ = self._run_chunks(g, sel, chunks, None)
        return Evaluation(g, f, scale, np.full(self.C, all(ch.exact for ch in chunks)))

    def densities(self, g: np.ndarray, sel: np.ndarray) -> np.ndarray:
        """Unnormalised balloon densities (C, Lmax) at g[c] for the channels in ``sel``: the
        by-product of the cost at g, computed once the search has chosen g."""
        return self._run_chunks(g, sel, None, np.zeros((self.C, self.Lmax)))[2]

    def _run_chunks(self, g, sel, chunks, y):
        """Costs, scales and (when ``y`` is an array) densities at g of the channels in ``sel``."""
        chunks = self.chunks if chunks is None else chunks
        C = self.C
        f, scale = np.zeros(C), np.zeros(C)

        def evaluate_chunk(ch):  # chunks write disjoint rows
            rows = np.flatnonzero(sel[ch.ids])
            if rows.size:
                ids = ch.ids[rows]
                f[ids], yv, scale[ids] = ch.cost(g[ids], rows)
                if y is not None:
                    y[ids, : ch.Lb] = yv

        # large chunks side by side in threads (NumPy releases the GIL in its loops); small ones
        # are bound by Python overhead, where threads only contend for the GIL
        big = [ch for ch in chunks if ch.Lb >= _THREADED_MIN_L]
        for ch in chunks:
            if ch.Lb < _THREADED_MIN_L:
                evaluate_chunk(ch)
        pool = _thread_pool()
        if len(big) > 1 and pool is not None:
            list(pool.map(evaluate_chunk, big))
        else:
            for ch in big:
                evaluate_chunk(ch)
        return f, scale, y

    @abstractmethod
    def ties(self, mask: np.ndarray, p1: Evaluation, p2: Evaluation) -> np.ndarray:
        """Channels in ``mask`` whose costs at p1 and p2 are known to be equal in the reference
        arithmetic without comparing them."""

    @abstractmethod
    def settle(self, mask: np.ndarray, p1: Evaluation, p2: Evaluation) -> None:
        """Make the comparison of p1's and p2's costs the reference's for the channels in
        ``mask``, updating p1 and p2 in place where needed."""

    @abstractmethod
    def next_point(self, g: np.ndarray, sel: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> Evaluation:
        """Costs at the new point g of the channels in ``sel``, whose bracket's interior points
        are now c1 < c2 (g is one of them)."""

    def densities_on_tin(self, dens: np.ndarray, g: np.ndarray, tin: np.ndarray) -> np.ndarray:
        """The balloon densities ``dens`` (C, Lmax) at g, normalised and interpolated to ``tin``
        (C, Z); NaN rows for the channels that did not run."""
        Y = np.full((self.C, len(tin)), np.nan)
        densities_on_tin(self.chunks, dens, tin, Y, self.run)
        return Y


class ReferenceCosts(Costs):
    """The reference arithmetic: every cost is the reference's, bit for bit, so its comparisons
    are the reference's as they stand."""

    chunk_type = ReferenceChunk
    local_bandwidths = staticmethod(reference_local_bandwidths)

    def ties(self, mask, p1, p2):
        return np.zeros(self.C, dtype=bool)

    def settle(self, mask, p1, p2):
        pass

    def next_point(self, g, sel, c1, c2):
        return self.evaluate(g, sel)


class FastCosts(Costs):
    """The fast arithmetic (:class:`~.cost.FastChunk`, ~1e-15 from the reference), with every
    comparison made as the reference makes it:

    * Below ``g_flat`` (every source point takes the widest bandwidth Wmax: g < optws_i/W_i for
      all i) the cost does not depend on g. Where Wmax is exactly 1 (every grid of 7 points or
      more) the reference then computes optwp = sum(1.0 * Z) / sum(Z) = 1.0 exactly, hence
      bit-identical costs and densities: two such points tie (a tie moves the bracket right,
      ``f1 < f2`` being false), and one evaluation per channel serves them all.
    * Where both interior points are flat and Wmax != 1 the next comparison will be settled in the
      reference arithmetic: the new point is evaluated there directly.
    * Otherwise, whenever two costs are within :data:`~.grid._TIE_TOL` of their scale, where
      rounding could decide, both are first recomputed in the reference arithmetic.
    * Neighbouring density values that close could count a peak differently than the reference's
      rounding would: those densities are recomputed in the reference arithmetic.

    Reference-arithmetic evaluations run on chunks built for the channels concerned, grouped so
    that padding never changes a sum.
    """

    chunk_type = FastChunk
    local_bandwidths = staticmethod(fast_local_bandwidths)

    def __init__(self, ids, L, y_hist, optws, M):
        super().__init__(ids, L, y_hist, optws, M)
        self.g_flat = np.zeros(self.C)
        self.wmax_is_one = np.zeros(self.C, dtype=bool)
        for ch in self.chunks:
            self.g_flat[ch.ids] = np.where(ch.valid, ch.gs_min, np.inf).min(axis=1)
            self.wmax_is_one[ch.ids] = ch.Wmax == 1.0
        # the cost and scale of each channel's flat region, once evaluated (_flat_seen)
        zeros = np.zeros(self.C)
        self._flat = Evaluation(zeros, zeros, zeros, zeros.astype(bool))
        self._flat_seen = np.zeros(self.C, dtype=bool)
        self._reference_chunks: list[Chunk] | None = None

    def _reference(self, g, sel):
        """:meth:`evaluate` in the reference arithmetic for the channels in ``sel``."""
        return self.evaluate(g, sel, self._ref_chunks())

    def _ref_chunks(self) -> list[Chunk]:
        """Reference-arithmetic chunks of every channel that runs, built on first use; each
        evaluation runs only the rows it needs (a row's result does not depend on the others)."""
        if self._reference_chunks is None:
            self._reference_chunks = make_chunks(ReferenceChunk, np.flatnonzero(self.run), *self._inputs)
        return self._reference_chunks

    def ties(self, mask, p1, p2):
        return mask & (p1.g < self.g_flat) & (p2.g < self.g_flat) & self.wmax_is_one

    def settle(self, mask, p1, p2):
        for p in (p1, p2):
            need = mask & ~p.exact & (np.abs(p1.cost - p2.cost) <= _TIE_TOL * np.maximum(p1.scale, p2.scale))
            if need.any():
                p.cost[need] = self._reference(p.g, need).cost[need]
                p.exact[need] = True

    def next_point(self, g, sel, c1, c2):
        flat = sel & (g < self.g_flat)
        in_ref = sel & (c1 < self.g_flat) & (c2 < self.g_flat) & ~self.wmax_is_one
        reuse = flat & self.wmax_is_one & self._flat_seen
        new = self.evaluate(g, sel & ~in_ref & ~reuse)
        if in_ref.any():
            new = self._reference(g, in_ref).where(in_ref, new)
        new = self._flat.where(reuse, new)
        keep = flat & self.wmax_is_one & ~self._flat_seen
        self._flat = new.where(keep, self._flat)
        self._flat_seen |= keep
        new.g, new.exact = g, in_ref
        return new

    def densities_on_tin(self, dens, g, tin):
        Y = super().densities_on_tin(dens, g, tin)
        recheck = np.zeros(self.C, dtype=bool)
        recheck[self.run] = near_ties(Y[self.run])
        if recheck.any():
            chunks = self._ref_chunks()
            y = self._run_chunks(g, recheck, chunks, np.zeros((self.C, self.Lmax)))[2]
            densities_on_tin(chunks, y, tin, Y, recheck)
        return Y


# "compiled" (compiled.py, optional numba) is FastCosts compiled; estimate.arithmetic_class imports it when asked.
ARITHMETICS: dict[str, type[Costs]] = {"fast": FastCosts, "reference": ReferenceCosts}


@lru_cache(maxsize=1)
def _thread_pool() -> ThreadPoolExecutor | None:
    """One thread per available core, at most :data:`_MAX_THREADS`; None on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    n = min(_max_threads, cores)
    return ThreadPoolExecutor(n, thread_name_prefix="ssvkernel") if n > 1 else None
