"""Shimazaki–Shinomoto variable-bandwidth KDE (``ssvkernel``), vectorised over channels.

ADVISE scores a unit (channel) by the number of peaks of ``ssvkernel`` run on its Z = H*W
activations with the grid ``tin = linspace(0, 1, Z)`` (REFERENCE-NOTES §2). This package
re-implements the authors' ``ADVISEkernel.m`` (M=10, Gauss window, no bootstrap) for a whole
(C, Z) feature map at once:

* :mod:`.histogram`: preprocessing (range filter, sample-gap rule, histogram), one set of array
  operations for all channels;
* :mod:`.bandwidths`: the fixed-bandwidth stage (local costs, optimal local bandwidths), with the
  reference's FFT sizes -- the FFT padding is part of the estimator (circular wrap-around), so it
  is reproduced, not replaced; channels of all grid lengths share each transform;
* :mod:`.cost`: the cost C(g) of the search on padded chunks of channels with similar grid lengths;
* :mod:`.search`: the golden-section search on the stiffness g, for all channels in lock-step:
  each channel keeps its own bracket, and every iteration evaluates one cost per still-active
  channel;
* :mod:`.peaks`: densities on the input grid and their peaks;
* :mod:`.estimate` runs the stages; :mod:`.options` defines the options (:class:`KDEOptions`),
  :mod:`.grid` the grids and candidate bandwidths the stages share. A module's entry points have
  plain names; its helpers keep a leading underscore, also where a sibling module or a test uses
  them.

Two arithmetics give the same results (option ``arithmetic``), as two implementations of one
cost interface (:mod:`.arithmetic`):

* ``"reference"`` repeats ssdensity's floating-point operations one by one: densities are
  bit-identical to the oracle's. Every cost evaluation costs O(L^2) exponentials per channel.
* ``"fast"`` (default) rearranges the work (see :class:`~.cost.FastChunk`): each FFT smoothing
  becomes one matrix product, Nadaraya–Watson kernel sums are cached per bandwidth assignment and
  looked up from tables. Values agree to ~1e-15, so only decisions that rounding could flip can differ,
  and each of those is made in the reference arithmetic: a golden-section comparison of two
  near-equal costs, an argmin between near-equal local costs, a near-tie between neighbouring
  density values (peak counting); two costs in the flat region below every bandwidth threshold
  are exactly equal in the reference (see :class:`~.arithmetic.FastCosts`). Tests check that both
  arithmetics visit the same g on every channel and count the same peaks.

A third, ``"compiled"`` (:mod:`.compiled`, optional numba), is the fast arithmetic with its balloon
estimate, cost and Nadaraya–Watson sums compiled: the same decisions, settled the same way.

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

from .estimate import KDEState, ssvkernel_channels, ssvkernel_states, unit_peak_counts
from .histogram import distinct_estimates
from .options import KDEOptions
from .parallel import unit_peak_counts_batch
from .peaks import peak_counts_rows

__all__ = [
    "KDEOptions",
    "KDEState",
    "distinct_estimates",
    "peak_counts_rows",
    "ssvkernel_channels",
    "ssvkernel_states",
    "unit_peak_counts",
    "unit_peak_counts_batch",
]
