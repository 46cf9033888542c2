"""The batched estimate, stage by stage, and the public functions built on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arithmetic import ARITHMETICS, Costs
from .grid import _grid
from .histogram import bin_samples, distinct_estimates
from .options import KDEOptions, resolve_options
from .peaks import peak_counts_rows
from .search import golden_section


def arithmetic_class(name: str) -> type[Costs]:
    """The :class:`~.arithmetic.Costs` of an arithmetic by name; ``"compiled"`` (:mod:`.compiled`, numba) is
    imported on first use."""
    if name == "compiled":
        from .compiled import CompiledCosts

        return CompiledCosts
    return ARITHMETICS[name]


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


@dataclass
class _Run:
    """Padded result of one batched run: densities on tin plus per-channel bookkeeping."""

    Y: np.ndarray  # (C, Z) densities on tin; NaN rows for failed (``failed``) or N = 0 channels
    failed: np.ndarray  # (C,) bool: the estimate fails (MATLAB returns y = [])
    L: np.ndarray  # (C,) internal grid length
    g: np.ndarray  # (C,) g whose density is returned (NaN when not run)
    n_iter: np.ndarray  # (C,) golden-section iterations


def _ssvkernel_batch(samples, options: KDEOptions) -> _Run:
    """The estimate for every row of ``samples`` (C, Z): histogram, fixed-bandwidth stage,
    golden-section search on g, densities on tin."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"samples must be (C, Z) with Z >= 2, got shape {x.shape}")
    C, Z = x.shape
    M = options.M
    binned = bin_samples(x, options)
    L, y_hist = binned.L, binned.y_hist
    channels = np.flatnonzero(binned.ok & ~binned.empty)
    # the estimate depends only on the grid length and the histogram: run each distinct one once
    # (sparse feature maps repeat them: ~25% of MobileNetV2 out_relu channels)
    first, same_as = distinct_estimates(L[channels], y_hist[channels])
    run = channels[first]

    arithmetic = arithmetic_class(options.arithmetic)
    Lmax = int(L[run].max()) if len(run) else 2
    optws = np.zeros((C, M, Lmax))  # fixed-bandwidth stage, all channels batched
    dt = np.array([_grid(int(n))[1] for n in L[run]])
    optws[run] = arithmetic.local_bandwidths(y_hist[run, :Lmax] / dt[:, None], L[run], M)

    costs = arithmetic(run, L, y_hist, optws, M)
    g_used, n_iter = golden_section(costs, options.max_golden_iter, options.last_g_quirk)
    Y = costs.densities_on_tin(costs.densities(g_used, costs.run), g_used, np.linspace(0.0, 1.0, Z))
    g_used[~costs.run] = np.nan
    source = run[same_as]  # every channel that ran, from its distinct twin
    Y[channels], g_used[channels], n_iter[channels] = Y[source], g_used[source], n_iter[source]
    return _Run(Y, ~binned.ok, L, g_used, n_iter)


def ssvkernel_states(samples, *, options: KDEOptions | None = None, **overrides) -> list[KDEState]:
    """Run ``ssvkernel`` on every row of ``samples`` (C, Z) with ``tin = linspace(0, 1, Z)``.

    ``samples``: (C, Z) array, float32 or float64 (computed in float64). Only values in [0, 1] are
    used. ``options`` (default :class:`KDEOptions`'s defaults), with any of its fields overridden
    by keyword, e.g. ``arithmetic="reference"``. Returns one :class:`KDEState` per channel.
    """
    r = _ssvkernel_batch(samples, resolve_options(options, overrides))
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


def ssvkernel_channels(samples, *, options: KDEOptions | None = None, **overrides) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per channel ``(y, t)`` as ``ssvkernel`` returns them: the density on ``tin``, and ``tin``.

    Failed channels give two empty arrays (MATLAB's ``catch`` branch: ``y = []; t = []``).
    Options as :func:`ssvkernel_states`.
    """
    return [(s.y, s.t) for s in ssvkernel_states(samples, options=options, **overrides)]


def unit_peak_counts(samples, *, options: KDEOptions | None = None, **overrides) -> np.ndarray:
    """ADVISE unit scores (C,): peaks of each channel's density, as ``find_peaks`` with no arguments.

    A channel with fewer than 2 distinct samples in [0, 1] scores 0 (``degenerate="zero"``, the
    project's rule; ``"matlab"`` reproduces MATLAB, which finds 1 peak for e.g. a constant 0.5
    channel), as does any channel whose estimate fails or whose density is NaN (N = 0).
    Options as :func:`ssvkernel_states`.
    """
    r = _ssvkernel_batch(samples, resolve_options(options, overrides))
    return peak_counts_rows(r.Y).astype(np.int64)
