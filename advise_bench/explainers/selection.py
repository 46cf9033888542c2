"""How one map per image is chosen among a method's candidate maps (ADVISE's group maps, or a CAM's maps
over random channel groups with ``--cam-groups like-advise``).

A method with several candidates names the metadata field that identifies a candidate across targets
(its ``candidate_key``: ADVISE ``peaks``, a grouped CAM ``group``). A selection returns the chosen
candidate for the first target with its counterparts (same key) for the others, and records
``selected_<key>`` and ``selection`` in the result row.

* ``oracle-avx`` (the ADVISE reference code's rule): the candidate with the best AVX. It looks at the
  evaluation metric itself, so it is an evaluation-time upper bound, not a deployable explainer, and it
  needs the evaluation's scorer.
* ``max-peaks``: the candidate with the largest key (ADVISE: the group with the most KDE peaks, the units
  it deems most structured). Uses no metric, so it is a fair, deployable rule.
* ``all``: the sum of all candidate maps, rescaled to [0, 1] (ADVISE: Grad-CAM over every group's units).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..errors import UserError

if TYPE_CHECKING:
    from .base import Explanation

# A scorer rates one candidate: scorer(maps) -> {"AVX": ..., ...}, maps (K, S, S) = its map for each target.
Scorer = Callable[[np.ndarray], dict]


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


class CandidateSelection(ABC):
    """Chooses one candidate (with its counterparts) among an image's candidate maps."""

    name: ClassVar[str]

    def __call__(self, explanations: list[Explanation], scorer: Scorer | None, key: str) -> Selection:
        first = explanations[0]
        if len(first.maps) == 0:  # every candidate map was empty: nothing to choose, a blank map
            blank = np.zeros((len(explanations), *first.maps.shape[1:]), np.float32)
            return Selection(blank, {f"selected_{key}": "", "selection": "none"})
        return self.choose(explanations, scorer, key)

    @abstractmethod
    def choose(self, explanations: list[Explanation], scorer: Scorer | None, key: str) -> Selection: ...

    def picked(self, explanations: list[Explanation], j: int, key: str, scores: dict | None = None,
               pairs: list[np.ndarray] | None = None) -> Selection:
        """Candidate j of the first target with its counterparts for the others; ``pairs`` are the
        counterparts when the caller has already built them."""
        maps = (pairs or counterparts(explanations, key))[j]
        return Selection(maps, {f"selected_{key}": explanations[0].candidates[j][key], "selection": self.name},
                         scores)


class MaxKey(CandidateSelection):
    name = "max-peaks"

    def choose(self, explanations, scorer, key):
        return self.picked(explanations, int(np.argmax([c[key] for c in explanations[0].candidates])), key)


class AllCandidates(CandidateSelection):
    name = "all"

    def choose(self, explanations, scorer, key):
        maps = [rescale01(e.maps.sum(axis=0)[None])[0] if len(e.maps) else np.zeros_like(explanations[0].maps[0])
                for e in explanations]
        return Selection(np.stack(maps), {f"selected_{key}": "all", "selection": self.name})


class OracleAVX(CandidateSelection):
    """Scores every candidate with the evaluation's scorer and keeps the best AVX (an upper bound)."""

    name = "oracle-avx"

    def choose(self, explanations, scorer, key):
        if scorer is None:
            raise UserError("selection 'oracle-avx' picks the candidate map with the best AVX, so it needs the "
                            "evaluation's scorer; for maps without evaluation use 'max-peaks' or 'all'")
        pairs = counterparts(explanations, key)
        scores = [scorer(maps) for maps in pairs]
        best = int(np.argmax([s["AVX"] for s in scores]))
        return self.picked(explanations, best, key, scores[best], pairs)


SELECTIONS: dict[str, CandidateSelection] = {s.name: s for s in (OracleAVX(), MaxKey(), AllCandidates())}
DEFAULT_SELECTION = "oracle-avx"  # the ADVISE reference code's rule


def get_selection(name: str) -> CandidateSelection:
    try:
        return SELECTIONS[name]
    except KeyError:
        raise UserError(f"unknown selection {name!r}; choose from {', '.join(SELECTIONS)}") from None
