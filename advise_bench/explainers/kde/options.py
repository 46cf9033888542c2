"""The options of the estimate and their defaults, defined once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

_ARITHMETICS = ("fast", "reference", "compiled")
_DEGENERATE_RULES = ("zero", "matlab")


@dataclass(frozen=True)
class KDEOptions:
    """Options of :func:`~advise_bench.explainers.kde.ssvkernel_states` and the other public functions.

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
        cached kernel sums and matrix products (see :class:`~.cost.FastChunk`), agreeing to ~1e-15;
        every decision that rounding could flip -- a golden-section comparison between two
        near-equal costs, an argmin between two near-equal local costs, two near-equal neighbouring
        density values -- is recomputed in the reference arithmetic (see
        :class:`~.arithmetic.FastCosts`), so the search takes the reference's path and peak counts
        are the reference's. Densities then differ from the oracle's by ~1e-14 at most.
        ``"compiled"``: the fast arithmetic with its balloon estimate and cost compiled by numba
        (optional dependency, see :mod:`.compiled`); the same decisions, settled the same way.

    In both arithmetics a channel whose only distinct in-range values are 0 and 1 fails (the
    sample-gap grid has one point: MATLAB errors inside its try/catch, ``ssdensity`` raises). A
    channel whose in-range samples all lie in (1 - dt/2, 1] has N = 0 under MATLAB binning: NaN
    density, 0 peaks.
    """

    M: int = 10
    last_g_quirk: bool = True
    max_golden_iter: int = 29
    matlab_binning: bool = True
    degenerate: str = "zero"
    arithmetic: str = "fast"

    def __post_init__(self):
        if self.arithmetic not in _ARITHMETICS:
            raise ValueError(f"arithmetic must be 'fast', 'reference' or 'compiled', not {self.arithmetic!r}")
        if self.degenerate not in _DEGENERATE_RULES:
            raise ValueError(f"degenerate must be 'zero' or 'matlab', not {self.degenerate!r}")


def resolve_options(options: KDEOptions | None, overrides: dict) -> KDEOptions:
    """``options`` (default: :class:`KDEOptions`'s defaults) with the fields in ``overrides`` replaced."""
    base = KDEOptions() if options is None else options
    return dataclasses.replace(base, **overrides) if overrides else base
