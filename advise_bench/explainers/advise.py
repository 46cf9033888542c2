"""ADVISE (REFERENCE-NOTES §2-3): score units by KDE peak counts, group them, one Grad-CAM-style map per group.

For every image:

1. ``A`` = feature map (h, w, C); ``dp_c/dA`` = gradient of the target's softmax probability.
2. Unit score s_k = number of peaks of the variable-bandwidth KDE of unit k's samples -- its
   activations (``relevance_source="activations"``, the reference code; class-independent) or its
   gradients (``"gradients"``, the paper's text).
3. For each distinct score n, G_n = {k : s_k = n}, alpha_k = mean_ij dp_c/dA^k_ij and
   M_n = rescale01(ReLU(sum_{k in G_n} alpha_k A^k)), upsampled bicubically. Groups whose map sums to 0
   after ReLU are skipped.

One map per image is then chosen by ``selection``:

* ``oracle-avx`` (reference): the group with the best AVX. It looks at the evaluation metric itself,
  so it is an upper bound, not a deployable explainer; the runner does this selection because it
  needs the metrics. Through :meth:`explain` it falls back to ``max-peaks``.
* ``max-peaks``: the group with the most peaks, i.e. the units ADVISE deems most structured. Uses no
  metric, so it is a fair, deployable rule.
* ``all``: the sum of all group maps, rescaled to [0, 1] -- equivalent in spirit to Grad-CAM over the
  units that form any group.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .base import Explainer, check_batch, finalize_maps, register, rescale01
from .kde import unit_peak_counts

RELEVANCE_SOURCES = ("activations", "gradients")
SELECTIONS = ("oracle-avx", "max-peaks", "all")


@dataclass
class AdviseGroups:
    """ADVISE output for one image and one target class."""

    peak_counts: np.ndarray  # (G,) the score shared by each group's units, ascending
    unit_counts: np.ndarray  # (G,) how many units each group has
    low_res_maps: np.ndarray  # (G, h, w) after ReLU, before rescaling
    maps: np.ndarray  # (G, S, S) in [0, 1]
    unit_scores: np.ndarray  # (C,) peak count of every unit (the feature relevance)

    @property
    def peak_range(self) -> tuple[int, int]:
        return int(self.unit_scores.min()), int(self.unit_scores.max())

    def select(self, selection: str) -> np.ndarray:
        if len(self.maps) == 0:
            return np.zeros(self.maps.shape[1:], np.float32)
        if selection == "all":
            return rescale01(self.maps.sum(axis=0)[None])[0]
        return self.maps[int(np.argmax(self.peak_counts))]


@register
class ADVISE(Explainer):
    name, display_name, family = "advise", "ADVISE", "cam"

    def __init__(
        self,
        model,
        score: str = "probability",
        relu: bool = True,
        relevance_source: str = "activations",
        selection: str = "max-peaks",
        last_g_quirk: bool = True,
        cache_size: int = 16,
        kde_arithmetic: str = "fast",
    ):
        super().__init__(model, score, relu)
        if relevance_source not in RELEVANCE_SOURCES:
            raise UserError(f"unknown relevance source {relevance_source!r}; choose {', '.join(RELEVANCE_SOURCES)}")
        if selection not in SELECTIONS:
            raise UserError(f"unknown ADVISE selection {selection!r}; choose {', '.join(SELECTIONS)}")
        self.relevance_source, self.selection, self.last_g_quirk = relevance_source, selection, last_g_quirk
        self.kde_arithmetic = kde_arithmetic  # "fast" or "reference": same scores (see explainers/kde.py)
        self._grad_fn = None
        # Activation-based scores do not depend on the class: cache them so the top-2 map reuses the KDE.
        self._score_cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    # ---------------------------------------------------------------- gradients
    def _gradients(self, inputs: np.ndarray, targets: np.ndarray):
        import keras
        import tensorflow as tf

        if self._grad_fn is None:
            from ..models.zoo import logits_model

            net = logits_model(self.model.model) if self.score == "logit" else self.model.model
            feat = keras.Model(net.input, [net.get_layer(self.model.layer).output, net.output])

            @tf.function(reduce_retracing=True)
            def grad_fn(x, t):
                with tf.GradientTape() as tape:
                    a, out = feat(x, training=False)
                    tape.watch(a)
                    s = tf.gather(out, t, axis=1, batch_dims=1)
                return a, tape.gradient(s, a)

            self._grad_fn = grad_fn
        a, g = self._grad_fn(tf.constant(inputs), tf.constant(targets, dtype=tf.int32))
        return np.asarray(a, np.float64), np.asarray(g, np.float64)

    # ---------------------------------------------------------------- scoring
    def unit_scores(self, samples_hwc: np.ndarray) -> np.ndarray:
        """Peak count of every unit; ``samples_hwc`` is one image's (h, w, C) activations or gradients."""
        key = samples_hwc.tobytes() if self.relevance_source == "activations" else None
        if key is not None and key in self._score_cache:
            self._score_cache.move_to_end(key)
            return self._score_cache[key]
        c = samples_hwc.shape[-1]
        scores = unit_peak_counts(
            samples_hwc.reshape(-1, c).T, last_g_quirk=self.last_g_quirk, arithmetic=self.kde_arithmetic
        )
        if key is not None:
            self._score_cache[key] = scores
            if len(self._score_cache) > self._cache_size:
                self._score_cache.popitem(last=False)
        return scores

    def groups(self, images, targets) -> list[AdviseGroups]:
        """Per-image group maps, unit scores and peak range (the full ADVISE output)."""
        images, targets = check_batch(images, targets, self.model.input_size)
        acts, grads = self._gradients(self.model.preprocess(images), targets)
        return [self._groups_one(a, g) for a, g in zip(acts, grads, strict=True)]

    def _groups_one(self, a: np.ndarray, g: np.ndarray) -> AdviseGroups:
        scores = self.unit_scores(a if self.relevance_source == "activations" else g)
        alpha = g.mean(axis=(0, 1))
        weighted = a * alpha  # (h, w, C)
        peaks, units, low = [], [], []
        for n in np.unique(scores):
            members = scores == n
            cam = weighted[..., members].sum(axis=-1)
            cam = np.maximum(cam, 0) if self.relu else cam
            # Reference: skip a group whose map sums to 0 after ReLU; without ReLU, skip a flat map.
            empty = (not np.any(cam > 0)) if self.relu else np.ptp(cam) == 0
            if empty:
                continue
            peaks.append(int(n))
            units.append(int(members.sum()))
            low.append(cam)
        h, w = a.shape[:2]
        low_arr = np.asarray(low, np.float32).reshape(-1, h, w)
        size = self.model.input_size
        maps = finalize_maps(low_arr, size) if len(low_arr) else np.zeros((0, size, size), np.float32)
        return AdviseGroups(np.asarray(peaks, int), np.asarray(units, int), low_arr, maps, scores)

    def _explain(self, images, targets):
        rule = "max-peaks" if self.selection == "oracle-avx" else self.selection
        return np.stack([g.select(rule) for g in self.groups(images, targets)])
