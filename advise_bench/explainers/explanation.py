"""What a method returns and what a run scores: an image's :class:`Explanation` per target (one or more
candidate maps with their metadata), the :class:`Selection` of one map per target, and how candidates pair
up across targets (:func:`counterparts`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# A scorer rates one candidate: scorer(maps) -> {"AVX": ..., ...}, maps (K, S, S) = its map for each target.
Scorer = Callable[[np.ndarray], dict]


@dataclass
class Explanation:
    """The explanation of one image for one target class."""

    target: int
    maps: np.ndarray  # (M, S, S) candidate maps in [0, 1]; M = 1 for ordinary methods, may be 0 for ADVISE
    candidates: list[dict] = field(default_factory=list)  # metadata per candidate, e.g. {"peaks": 3, "units": 9}
    info: dict = field(default_factory=dict)  # columns for the image's result row, e.g. the peak range
    arrays: dict = field(default_factory=dict)  # per-image arrays worth keeping, e.g. every unit's score
    seconds: float = float("nan")  # cost of this explanation (the first target of a call carries shared work)

    def __post_init__(self):
        if not self.candidates:
            self.candidates = [{} for _ in range(len(self.maps))]


@dataclass
class Selection:
    """One map per target, chosen among the candidates, and how."""

    maps: np.ndarray  # (K, S, S): the chosen map for the first target, its counterparts for the others
    info: dict = field(default_factory=dict)  # e.g. {"selection": "max-peaks", "selected_peaks": 4}
    scores: dict | None = None  # the scorer's result for ``maps`` when the selection already computed it


def rescale01(maps: np.ndarray) -> np.ndarray:
    """Min-max rescale each map (leading axis = batch) to [0, 1]; a constant map becomes all zeros."""
    maps = np.asarray(maps, dtype=np.float32)
    axes = tuple(range(1, maps.ndim))
    lo = maps.min(axis=axes, keepdims=True)
    span = maps.max(axis=axes, keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0).astype(np.float32)


def counterparts(explanations: list[Explanation], key: str | None) -> list[np.ndarray]:
    """For each candidate of the first explanation, its maps for every target, (K, S, S).

    Candidates are matched across targets by their ``key`` metadata (ADVISE: the peak count). A target
    with no candidate of that key gets a blank map; without a key, the single candidates pair up.
    """
    first = explanations[0]
    out = []
    for j, meta in enumerate(first.candidates):
        maps = [first.maps[j]]
        for other in explanations[1:]:
            if key is None:
                maps.append(other.maps[min(j, len(other.maps) - 1)])
                continue
            match = [i for i, m in enumerate(other.candidates) if m.get(key) == meta.get(key)]
            maps.append(other.maps[match[0]] if match else np.zeros_like(first.maps[j]))
        out.append(np.stack(maps))
    return out
