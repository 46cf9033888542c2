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
from typing import ClassVar

import numpy as np

from ..errors import UserError
from .explanation import Explanation, Scorer, Selection, counterparts, rescale01


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


def get_selection(name: str) -> CandidateSelection:
    try:
        return SELECTIONS[name]
    except KeyError:
        raise UserError(f"unknown selection {name!r}; choose from {', '.join(SELECTIONS)}") from None
