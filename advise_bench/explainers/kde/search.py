"""Golden-section search on the stiffness g, for all channels in lock-step.

Each channel keeps its own bracket; every iteration evaluates one cost per still-active channel.
The search sees the arithmetic only through the :class:`~.arithmetic.Costs` interface.
"""

from __future__ import annotations

import numpy as np

from .arithmetic import Costs, Evaluation

_PHI = (5**0.5 + 1) / 2
_GOLDEN_TOL = 1e-5
_GOLDEN_BRACKET = (1e-12, 1.0)


def golden_section(costs: Costs, max_iter: int, last_g_quirk: bool) -> tuple[np.ndarray, np.ndarray]:
    """Golden-section search on g in [1e-12, 1] for all channels at once.

    Returns, per channel, the g whose density is returned and the iteration count: the last g
    evaluated (reference quirk) or the better of the final bracket's two interior points, which is
    the lowest cost seen (a golden-section search always keeps its best point inside). Brackets
    move by the same floating-point expressions as the reference's. The search compares costs only:
    the density is computed once, at the returned g (:meth:`~.arithmetic.Costs.densities`).
    """
    C, run = costs.C, costs.run
    a = np.full(C, _GOLDEN_BRACKET[0])
    b = np.full(C, _GOLDEN_BRACKET[1])
    p1 = costs.evaluate((_PHI - 1) * a + (2 - _PHI) * b, run)  # interior points c1 < c2
    p2 = costs.evaluate((2 - _PHI) * a + (_PHI - 1) * b, run)
    glast, k = np.zeros(C), np.zeros(C, dtype=np.int64)
    active = _converging(run, a, b, p1, p2) & (k < max_iter)
    while active.any():
        lower, _ = _compare(costs, active, p1, p2)
        left = lower & active  # the minimum lies in [a, c2]
        right = ~lower & active  # in [c1, b]
        b = np.where(left, p2.g, b)
        a = np.where(right, p1.g, a)
        g_new = np.where(left, (_PHI - 1) * a + (2 - _PHI) * b, (2 - _PHI) * a + (_PHI - 1) * b)
        # the kept interior point moves: to c2 after a move left, to c1 after a move right
        p1, p2 = p2.where(right, p1), p1.where(left, p2)
        new = costs.next_point(g_new, active, np.where(left, g_new, p1.g), np.where(right, g_new, p2.g))
        p1, p2 = new.where(left, p1), new.where(right, p2)
        glast = np.where(active, g_new, glast)
        k += active
        active = _converging(run, a, b, p1, p2) & (k < max_iter)
    if last_g_quirk:
        return glast, k
    _, tie = _compare(costs, run, p1, p2)
    best1 = tie | ~(p2.cost < p1.cost)  # f1 <= f2: c1 is the best point seen
    return np.where(best1, p1.g, p2.g), k


def _compare(costs: Costs, mask: np.ndarray, p1: Evaluation, p2: Evaluation) -> tuple[np.ndarray, np.ndarray]:
    """``f1 < f2`` for the channels in ``mask``, decided as the reference decides it, and the ties
    known without comparing (which are not lower)."""
    tie = costs.ties(mask, p1, p2)
    costs.settle(mask & ~tie, p1, p2)
    return (p1.cost < p2.cost) & ~tie, tie


def _converging(run, a, b, p1: Evaluation, p2: Evaluation) -> np.ndarray:
    """Channels whose bracket is still wider than the tolerance."""
    return run & (np.abs(b - a) > _GOLDEN_TOL * (np.abs(p1.g) + np.abs(p2.g)))
