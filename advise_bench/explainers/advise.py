"""ADVISE (REFERENCE-NOTES §2-3): score units by KDE peak counts, group them, one Grad-CAM-style map per group.

For every image:

1. ``A`` = feature map (h, w, C); ``dp_c/dA`` = gradient of the target's softmax probability.
2. Unit score s_k = number of peaks of the variable-bandwidth KDE of unit k's samples -- its
   activations (``relevance_source="activations"``, the reference code; class-independent, so one KDE
   serves every target of a call) or its gradients (``"gradients"``, the paper's text).
3. For each distinct score n, G_n = {k : s_k = n}, alpha_k = mean_ij dp_c/dA^k_ij and
   M_n = rescale01(ReLU(sum_{k in G_n} alpha_k A^k)), upsampled bicubically. Groups whose map sums to 0
   after ReLU are skipped.

Each group map is a *candidate* (metadata: ``peaks``, ``units``). One map per image is chosen by a
selection strategy (:data:`SELECTIONS`, default :data:`DEFAULT_SELECTION`):

* ``oracle-avx`` (reference): the group with the best AVX. It looks at the evaluation metric itself,
  so it is an evaluation-time upper bound, not a deployable explainer: it needs a scorer.
* ``max-peaks``: the group with the most peaks, i.e. the units ADVISE deems most structured. Uses no
  metric, so it is a fair, deployable rule.
* ``all``: the sum of all group maps, rescaled to [0, 1] -- Grad-CAM over the units of every group.

``grouping="random"`` is a control: the unit scores are replaced by a seeded random permutation of
themselves, which keeps the number and sizes of the groups but not which units form them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from ..errors import UserError
from .base import Explainer, Explanation, Scorer, Selection, counterparts, finalize_maps, register, rescale01
from .kde import unit_peak_counts

RELEVANCE_SOURCES = ("activations", "gradients")
GROUPINGS = ("kde", "random")


# --------------------------------------------------------------------------- selection strategies


class GroupSelection(ABC):
    """How one map per image is chosen among ADVISE's group maps."""

    name: ClassVar[str]

    def __call__(self, explanations: list[Explanation], scorer: Scorer | None) -> Selection:
        first = explanations[0]
        if len(first.maps) == 0:  # every group's map was empty: nothing to choose, a blank map
            blank = np.zeros((len(explanations), *first.maps.shape[1:]), np.float32)
            return Selection(blank, {"selected_peaks": "", "selection": "none"})
        return self.choose(explanations, scorer)

    @abstractmethod
    def choose(self, explanations: list[Explanation], scorer: Scorer | None) -> Selection: ...

    def picked(self, explanations: list[Explanation], j: int, scores: dict | None = None,
               pairs: list[np.ndarray] | None = None) -> Selection:
        """Candidate j of the first target, with its counterparts (same peak count) for the others;
        ``pairs`` are the counterparts when the caller has already built them."""
        maps = (pairs or counterparts(explanations, ADVISE.candidate_key))[j]
        peaks = explanations[0].candidates[j]["peaks"]
        return Selection(maps, {"selected_peaks": peaks, "selection": self.name}, scores)


class MaxPeaks(GroupSelection):
    name = "max-peaks"

    def choose(self, explanations, scorer):
        peaks = [c["peaks"] for c in explanations[0].candidates]
        return self.picked(explanations, int(np.argmax(peaks)))


class AllGroups(GroupSelection):
    name = "all"

    def choose(self, explanations, scorer):
        maps = [rescale01(e.maps.sum(axis=0)[None])[0] if len(e.maps) else np.zeros_like(explanations[0].maps[0])
                for e in explanations]
        return Selection(np.stack(maps), {"selected_peaks": "all", "selection": self.name})


class OracleAVX(GroupSelection):
    """Scores every group with the evaluation's scorer and keeps the best AVX (an upper bound)."""

    name = "oracle-avx"

    def choose(self, explanations, scorer):
        if scorer is None:
            raise UserError("ADVISE selection 'oracle-avx' picks the group with the best AVX, so it needs the "
                            "evaluation's scorer; for maps without evaluation use 'max-peaks' or 'all'")
        pairs = counterparts(explanations, ADVISE.candidate_key)
        scores = [scorer(maps) for maps in pairs]
        best = int(np.argmax([s["AVX"] for s in scores]))
        return self.picked(explanations, best, scores[best], pairs)


SELECTIONS: dict[str, GroupSelection] = {s.name: s for s in (OracleAVX(), MaxPeaks(), AllGroups())}
DEFAULT_SELECTION = "oracle-avx"  # the reference code's rule


def get_selection(name: str) -> GroupSelection:
    try:
        return SELECTIONS[name]
    except KeyError:
        raise UserError(f"unknown ADVISE selection {name!r}; choose from {', '.join(SELECTIONS)}") from None


# --------------------------------------------------------------------------- the explainer


@register
class ADVISE(Explainer):
    name, display_name, family = "advise", "ADVISE", "cam"
    candidate_key = "peaks"
    config_options = {"score": "score", "relu": "relu", "advise_source": "relevance_source",
                      "advise_selection": "selection", "advise_grouping": "grouping", "seed": "seed",
                      "advise_last_g_quirk": "last_g_quirk", "advise_kde_arithmetic": "kde_arithmetic"}

    def __init__(
        self,
        model,
        score: str = "probability",
        relu: bool = True,
        relevance_source: str = "activations",
        selection: str = DEFAULT_SELECTION,
        grouping: str = "kde",
        seed: int = 0,
        last_g_quirk: bool = True,
        kde_arithmetic: str = "fast",
    ):
        super().__init__(model)
        if relevance_source not in RELEVANCE_SOURCES:
            raise UserError(f"unknown relevance source {relevance_source!r}; choose {', '.join(RELEVANCE_SOURCES)}")
        if grouping not in GROUPINGS:
            raise UserError(f"unknown ADVISE grouping {grouping!r}; choose {', '.join(GROUPINGS)}")
        if kde_arithmetic not in ("fast", "reference"):
            raise UserError(f"unknown KDE arithmetic {kde_arithmetic!r}; choose fast or reference")
        self.network = model.network(score)  # checks the name
        self.score, self.relu = score, relu
        self.relevance_source, self.grouping, self.seed = relevance_source, grouping, seed
        self.selection = get_selection(selection)
        self.last_g_quirk = last_g_quirk  # density at the last bandwidth evaluated, as the MATLAB code
        self.kde_arithmetic = kde_arithmetic  # "fast" or "reference": same scores (see explainers/kde)

    # ---------------------------------------------------------------- the two hooks
    def prepare(self, images):
        """Preprocessed inputs and, for activation scores, every unit's score (one KDE per image)."""
        inputs = self.model.preprocess(images)
        if self.relevance_source != "activations":
            return inputs, None
        return inputs, [self.unit_scores(a) for a in self.model.feature_map(inputs)]

    def explain_target(self, images, targets, prepared):
        inputs, scores = prepared
        acts, grads = self.gradients(inputs, targets)
        if scores is None:
            scores = [self.unit_scores(g) for g in grads]
        return [self.groups(a, g, s, int(t)) for a, g, s, t in zip(acts, grads, scores, targets, strict=True)]

    def select(self, explanations, scorer=None):
        return self.selection(explanations, scorer)

    # ---------------------------------------------------------------- the steps
    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feature map A and d(score_target)/dA, float64, (N, h, w, C) each."""
        import keras
        import tensorflow as tf

        def make():
            net = self.network
            feat = keras.Model(net.input, [net.get_layer(self.model.layer).output, net.output])

            @tf.function(reduce_retracing=True)
            def grad_fn(x, t):
                with tf.GradientTape() as tape:
                    a, out = feat(x, training=False)
                    tape.watch(a)
                    s = tf.gather(out, t, axis=1, batch_dims=1)
                return a, tape.gradient(s, a)

            return grad_fn

        grad_fn = self.model.compiled(("advise.gradients", self.score), make)
        a, g = grad_fn(tf.constant(inputs), tf.constant(targets, dtype=tf.int32))
        return np.asarray(a, np.float64), np.asarray(g, np.float64)

    def unit_scores(self, samples_hwc: np.ndarray) -> np.ndarray:
        """Peak count of every unit; ``samples_hwc`` is one image's (h, w, C) activations or gradients."""
        c = samples_hwc.shape[-1]
        samples = np.asarray(samples_hwc, np.float64).reshape(-1, c).T
        scores = unit_peak_counts(samples, last_g_quirk=self.last_g_quirk, arithmetic=self.kde_arithmetic)
        if self.grouping == "random":
            scores = np.random.default_rng(self.seed).permutation(scores)
        return scores

    def groups(self, a: np.ndarray, g: np.ndarray, scores: np.ndarray, target: int) -> Explanation:
        """One candidate map per group of units with equal score (empty groups skipped)."""
        alpha = g.mean(axis=(0, 1))
        weighted = a * alpha  # (h, w, C)
        candidates, low = [], []
        for n in np.unique(scores):
            members = scores == n
            cam = weighted[..., members].sum(axis=-1)
            cam = np.maximum(cam, 0) if self.relu else cam
            # Reference: skip a group whose map sums to 0 after ReLU; without ReLU, skip a flat map.
            empty = (not np.any(cam > 0)) if self.relu else np.ptp(cam) == 0
            if empty:
                continue
            candidates.append({"peaks": int(n), "units": int(members.sum())})
            low.append(cam)
        h, w = a.shape[:2]
        size = self.model.input_size
        maps = finalize_maps(np.asarray(low, np.float32).reshape(-1, h, w), size) if low else \
            np.zeros((0, size, size), np.float32)
        info = {"peak_min": int(scores.min()), "peak_max": int(scores.max()), "groups": len(candidates)}
        return Explanation(target, maps, candidates, info, {"unit_scores": scores.astype(np.int16)})
