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
selection strategy (:mod:`.selection`, default ``oracle-avx``):

* ``oracle-avx`` (reference): the group with the best AVX. It looks at the evaluation metric itself,
  so it is an evaluation-time upper bound, not a deployable explainer: it needs a scorer.
* ``max-peaks``: the group with the most peaks, i.e. the units ADVISE deems most structured. Uses no
  metric, so it is a fair, deployable rule.
* ``all``: the sum of all group maps, rescaled to [0, 1] -- Grad-CAM over the units of every group.

``grouping="random"`` is a control: the unit scores are replaced by a seeded random permutation of
themselves, which keeps the number and sizes of the groups but not which units form them.
"""

from __future__ import annotations

import functools
import importlib.util
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import UserError
from ..run_options import DEFAULT_SELECTION
from .base import Explainer, check_noise, finalize_maps, perturb_activations
from .explanation import Explanation
from .grouping import GROUPINGS, group_maps, unit_scores, unit_scores_batch
from .registry import register
from .selection import SELECTIONS, get_selection

RELEVANCE_SOURCES = ("activations", "gradients")
KDE_INPUTS = ("float32", "float64")


def float64_feature_map(model, inputs: np.ndarray) -> np.ndarray:
    """The explained layer's activations computed in float64: a float64 copy of the network up to the layer (its
    configuration with every float32 dtype made float64, the weights cast), built and traced once per model."""
    def make():
        import json

        import keras

        sub = keras.Model(model.model.inputs, model.model.get_layer(model.layer).output)
        config = json.loads(json.dumps(sub.get_config()).replace('"float32"', '"float64"'))
        try:
            net = keras.Model.from_config(config)
        except Exception as exc:  # a custom layer that cannot be rebuilt from its configuration
            raise UserError(f"--advise-kde-input float64: {model.name} cannot be rebuilt in float64 ({exc})") from None
        net.set_weights([np.asarray(w, np.float64) for w in sub.get_weights()])
        fn = backend_compile(lambda x: net(x, training=False), [((None, *sub.input_shape[1:]), "float64")], [net])
        return lambda x: fn(np.asarray(x, np.float64))

    return model.compiled(("advise", "features64"), make)(inputs)


@functools.cache
def _kde_thread() -> ThreadPoolExecutor:
    """The one thread ADVISE's KDEs run on (one at a time: the KDE's worker processes serve one estimate)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="advise-kde")


def backend_compile(fn, signature, networks):
    from ..backend import current

    return current().compile(fn, signature, networks)

__all__ = ["ADVISE", "DEFAULT_SELECTION", "GROUPINGS", "RELEVANCE_SOURCES", "SELECTIONS"]


@register
class ADVISE(Explainer):
    name = "advise"  # Table I name and family: method_kinds.BUILTIN
    candidate_key = "peaks"
    config_options = {"score": "score", "relu": "relu", "advise_source": "relevance_source",
                      "advise_selection": "selection", "advise_grouping": "grouping", "seed": "seed",
                      "advise_last_g_quirk": "last_g_quirk", "advise_kde_arithmetic": "kde_arithmetic",
                      "activation_noise": "activation_noise", "advise_kde_input": "kde_input"}

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
        activation_noise: float = 0.0,
        kde_input: str = "float32",
    ):
        super().__init__(model)
        if relevance_source not in RELEVANCE_SOURCES:
            raise UserError(f"unknown relevance source {relevance_source!r}; choose {', '.join(RELEVANCE_SOURCES)}")
        if grouping not in GROUPINGS:
            raise UserError(f"unknown ADVISE grouping {grouping!r}; choose {', '.join(GROUPINGS)}")
        if kde_arithmetic not in ("fast", "reference", "compiled"):
            raise UserError(f"unknown KDE arithmetic {kde_arithmetic!r}; choose fast, reference or compiled")
        if kde_arithmetic == "compiled" and importlib.util.find_spec("numba") is None:
            raise UserError("the 'compiled' KDE arithmetic needs numba: pip install 'advise-bench[compiled]'")
        model.head(score)  # checks the score name and that the layer separates the network
        self.score, self.relu = score, relu
        self.relevance_source, self.grouping, self.seed = relevance_source, grouping, seed
        self.selection = get_selection(selection)
        self.last_g_quirk = last_g_quirk  # density at the last bandwidth evaluated, as the MATLAB code
        self.kde_arithmetic = kde_arithmetic  # "fast", "reference" or "compiled": same scores (see explainers/kde)
        self.activation_noise = check_noise(activation_noise)  # the stability measurement (perturb)
        if kde_input not in KDE_INPUTS:
            raise UserError(f"unknown KDE input {kde_input!r}; choose {', '.join(KDE_INPUTS)}")
        self.kde_input = kde_input

    # ---------------------------------------------------------------- the two hooks
    def prepare(self, images):
        """The explained layer's activations and, for activation scores, a future of every unit's score (one KDE
        for all the images of the call, shared by the targets) with the KDE's seconds per image."""
        inputs = self.model.preprocess(images)
        acts = self.perturb(self.model.feature_map(inputs), images)
        if self.relevance_source != "activations":
            return acts, None
        kde_acts = acts
        if self.kde_input == "float64":  # the groups from float64 activations; the maps from the float32 ones
            kde_acts = self.perturb(float64_feature_map(self.model, inputs), images)
        # The KDE runs on the CPU in the background, beside the device's work: this call's gradients and, in a run
        # with --overlap, the end of the previous batch (its maps and scoring). The scores are the same either way.
        return acts, _kde_thread().submit(self.timed_unit_scores_batch, np.asarray(kde_acts))

    def explain_target(self, images, targets, prepared):
        acts, scored = prepared
        _, grads = self.model.class_gradients(acts, targets, self.score)
        acts, grads = np.asarray(acts, np.float64), np.asarray(grads, np.float64)
        if scored is None:
            scored = self.timed_unit_scores_batch(grads)
        else:
            scored = scored.result()  # the background KDE's scores (its errors are raised here)
        return [self.groups(a, g, s, int(t), kde_s)
                for a, g, (s, kde_s), t in zip(acts, grads, scored, targets, strict=True)]

    def select(self, explanations, scorer=None):
        return self.selection(explanations, scorer, self.candidate_key)

    # ---------------------------------------------------------------- the steps
    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feature map A and d(score_target)/dA for preprocessed inputs, float64, (N, h, w, C) each."""
        acts = self.model.feature_map(inputs)
        _, grads = self.model.class_gradients(acts, targets, self.score)
        return np.asarray(acts, np.float64), np.asarray(grads, np.float64)

    def perturb(self, acts: np.ndarray, images: np.ndarray) -> np.ndarray:
        """``acts`` with this explainer's ``activation_noise`` (:func:`~.base.perturb_activations`)."""
        return perturb_activations(acts, images, self.activation_noise, self.seed)

    def unit_scores(self, samples_hwc: np.ndarray) -> np.ndarray:
        """Peak count of every unit; ``samples_hwc`` is one image's (h, w, C) activations or gradients."""
        return unit_scores(samples_hwc, self.grouping, self.seed, self.last_g_quirk, self.kde_arithmetic)

    def timed_unit_scores(self, samples_hwc: np.ndarray) -> tuple[np.ndarray, float]:
        """:meth:`unit_scores` and its wall seconds (the KDE's share of ADVISE's time, ``kde_s`` in a row)."""
        start = time.perf_counter()
        scores = self.unit_scores(samples_hwc)
        return scores, time.perf_counter() - start

    def timed_unit_scores_batch(self, samples_nhwc: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """:meth:`unit_scores` of every image, by one KDE for all of them, each with the KDE's wall seconds
        per image (the call's seconds shared equally)."""
        start = time.perf_counter()
        scores = unit_scores_batch(samples_nhwc, self.grouping, self.seed, self.last_g_quirk, self.kde_arithmetic)
        seconds = (time.perf_counter() - start) / max(len(scores), 1)
        return [(s, seconds) for s in scores]

    def groups(self, a: np.ndarray, g: np.ndarray, scores: np.ndarray, target: int,
               kde_s: float = float("nan")) -> Explanation:
        """One candidate map per group of units with equal score (empty groups skipped)."""
        weighted = a * g.mean(axis=(0, 1))  # Grad-CAM's terms alpha_k A^k, (h, w, C)
        candidates, low = group_maps(weighted, scores, self.relu, self.candidate_key)
        size = self.model.input_size
        maps = finalize_maps(low, size) if len(low) else np.zeros((0, size, size), np.float32)
        info = {"peak_min": int(scores.min()), "peak_max": int(scores.max()), "groups": len(candidates),
                "kde_s": kde_s}
        return Explanation(target, maps, candidates, info, {"unit_scores": scores.astype(np.int16)})
