"""One interface for every method, batched and multi-target.

* ``explainer(images, targets) -> maps``: ``images`` are RGB pixels in 0..255, shape (N, S, S, 3) at the
  model's input size; ``targets`` are class indices, shape (N,) or (N, K). ``maps`` has shape (N, S, S) or
  (N, K, S, S), float32 in [0, 1].
* ``explainer.explain_candidates(images, targets)`` is the full output: per image, one
  :class:`Explanation` per target, each holding one or more *candidate* maps with their metadata.
  Ordinary methods return one candidate; ADVISE returns one per unit group.
* ``explainer.select(explanations, scorer)`` turns one image's explanations into one map per target:
  the map chosen for the first target and its counterparts for the others (what a run scores;
  ``explain_selected`` does it for a batch).

:class:`Explainer` is the extension point for methods outside the package too: found through the
``advise_bench.explainers`` entry-point group or given as ``-m package.module:ClassName`` (the registry below).

A method implements two hooks: :meth:`Explainer.prepare` (work shared by every target of a call: the
masked predictions of Score-CAM, LIME's perturbation sample, ADVISE's unit scores) and
:meth:`Explainer.explain_target`. The base class times both, so ``Explanation.seconds`` of the first
target is the cold cost of one explanation and later targets carry only their own extra cost.

CAM-style methods implement :meth:`CAMExplainer.channel_terms` (per-channel terms whose sum over channels
is the map before ReLU; channel groups, ``--cam-groups``, then come for free) or only
:meth:`CAMExplainer.low_res_maps` (maps at the feature-layer resolution after ReLU); the shared
:func:`finalize_maps` does what the reference does to every map: rescale to [0, 1], bicubic upsampling to
the input size, then clip.
"""

from __future__ import annotations

import functools
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import UserError
from ..method_kinds import CAM_GROUPS_SELECTION
from ..models.zoo import LoadedModel
from .explanation import Explanation, Scorer, Selection, counterparts, rescale01
from .grouping import group_maps, unit_scores_batch
from .selection import get_selection

# --------------------------------------------------------------------------- maps


_TABLE_SIZE = 1024  # TensorFlow samples the cubic kernel at 1/1024 steps


@functools.cache
def bicubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) linear operator of TensorFlow's bicubic resize along one axis (``tf.image.resize``,
    ``antialias=False``): half-pixel centres, Keys' kernel with a = -0.5 read from its table of 1,024 steps,
    taps outside the input dropped and the others renormalised. Every backend then upsamples alike (Keras's
    own resize differs: PyTorch's bicubic uses a = -0.75)."""
    a = -0.5
    x = np.arange(_TABLE_SIZE + 1, dtype=np.float64) / _TABLE_SIZE
    near = (((a + 2) * x - (a + 3)) * x * x + 1).astype(np.float32)  # |d| in [0, 1]
    x1 = x + 1.0
    far = ((((a * x1 - 5 * a) * x1 + 8 * a) * x1) - 4 * a).astype(np.float32)  # |d| in [1, 2]
    scale = np.float32(n_in) / np.float32(n_out)
    out = np.zeros((n_out, n_in), np.float32)
    for o in range(n_out):
        loc = (np.float32(o) + np.float32(0.5)) * scale - np.float32(0.5)
        base = int(np.floor(loc))
        offset = int(np.rint((loc - np.float32(base)) * np.float32(_TABLE_SIZE)))
        taps = (base - 1, base, base + 1, base + 2)
        weights = np.array([far[offset], near[offset], near[_TABLE_SIZE - offset], far[_TABLE_SIZE - offset]],
                           np.float32)
        weights[[not 0 <= t < n_in for t in taps]] = 0
        weights /= weights.sum(dtype=np.float32)
        for t, w in zip(taps, weights, strict=True):
            out[o, min(max(t, 0), n_in - 1)] += w
    return out


def upsample_bicubic(maps: np.ndarray, size: int) -> np.ndarray:
    """Bicubic (Keys a=-0.5, half-pixel centres, like MATLAB imresize) upsampling of (N,h,w) maps."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[1:] == (size, size):
        return maps
    rows, cols = bicubic_matrix(maps.shape[1], size), bicubic_matrix(maps.shape[2], size)
    return np.einsum("ih,nhw,jw->nij", rows, maps, cols, dtype=np.float32)


def finalize_maps(low_res: np.ndarray, size: int) -> np.ndarray:
    """rescale01 -> bicubic upsample -> clip to [0, 1].

    The reference does not clip; bicubic overshoot stays well below 1.5 and negative values saturate
    in its ``uint8(map)`` cast, so the reference's binary mask is the same with or without clipping.
    """
    maps = upsample_bicubic(rescale01(low_res), size)
    return np.clip(maps, 0.0, 1.0)


def perturb_activations(acts: np.ndarray, images: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """``acts`` (N, h, w, C) with absolute Gaussian noise of s.d. ``noise`` added to their non-zero values,
    seeded by ``seed`` and each image's pixels (so shards, resumes and every method see the same noise);
    ``acts`` itself when ``noise`` is 0. The stability measurement (``--activation-noise``): ~1e-5 is
    the scale that separates two machines' float32 kernels. Exact zeros (ReLU) stay zero, as they do on
    every machine."""
    if not noise:
        return acts
    out = np.array(acts, dtype=np.float32, copy=True)
    for i, image in enumerate(np.asarray(images)):
        key = int.from_bytes(hashlib.sha256(np.ascontiguousarray(image).tobytes()).digest()[:8], "little")
        drawn = np.random.default_rng([seed, key]).normal(0.0, noise, out[i].shape)
        out[i] = np.where(out[i] != 0, out[i] + drawn, 0).astype(np.float32)
    return out


def check_noise(noise: float) -> float:
    if noise < 0:
        raise UserError(f"activation noise must be >= 0, not {noise}")
    return noise


def check_batch(images, targets, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images as (N, S, S, 3) and targets as (N, K) int64."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise UserError(f"images must have shape (N, {size}, {size}, 3); got {images.shape}")
    targets = np.asarray(targets, dtype=np.int64)
    if targets.ndim <= 1:
        targets = np.atleast_1d(targets)[:, None]
    if targets.ndim != 2 or len(targets) != len(images) or targets.shape[1] < 1:
        raise UserError(f"need one target (or one row of targets) per image: {len(images)} images, "
                        f"targets of shape {targets.shape}")
    return images, targets


# --------------------------------------------------------------------------- explainers


class Explainer(ABC):
    """The extension point: every method, built-in or your own (docs/your-own-method.md), is a subclass.

    Import
        ``from advise_bench.explainers import Explainer, CAMExplainer, Explanation, rescale01``
        (``Explanation`` is defined in ``explainers/explanation.py``, ``rescale01`` there too: min-max per map).
    Implement
        :meth:`explain_target`: ``(images, targets, prepared)`` -> one ``Explanation(target, maps)`` per image,
        ``maps`` (1, S, S) float in [0, 1] at the model's input size; ``images`` are RGB 0..255 (N, S, S, 3),
        ``targets`` (N,) class indices. Optionally :meth:`prepare`: ``images`` -> what every target of a call
        shares (default: the preprocessed images), timed into ``time_s`` with the first target.
        A CAM-style method subclasses :class:`CAMExplainer` instead and implements ``channel_terms(prepared,
        targets)``: per-channel terms (N, h, w, C) whose sum over channels is the map before ReLU
        (``prepared.acts``: the explained layer's activations; ``prepare_state`` may add class-independent
        work); then ``--cam-groups like-advise`` works for it too. Or it implements only
        ``low_res_maps(prepared, targets)``: (N, h, w) maps after ReLU. Either way ``finalize_maps`` rescales and
        upsamples them as it does Grad-CAM's.
    Declare (a plugin may leave any of these out)
        ``name``: the ``-m`` name, the rows' ``method`` and the CSV's file name (default: the entry point's
        name, or the class name in lower case); ``display_name``: Table I's (default: ``name``);
        ``config_options``: run option -> constructor keyword (e.g. ``{"seed": "seed", "score": "score"}``),
        the fields of :class:`~advise_bench.config.RunConfig` a run passes to the constructor;
        ``candidate_key`` with :meth:`select`: several candidate maps per target (ADVISE's groups).
    Get
        ``self.model``, a :class:`~advise_bench.models.zoo.LoadedModel`, the same on every Keras backend:
        ``preprocess(images)``; ``forward(inputs, score)`` (the compiled forward pass of preprocessed inputs,
        traced once for any batch size); ``predict(images)``; ``feature_map(inputs)`` (the explained layer's
        activations); ``input_gradients(inputs, targets, score)`` and ``class_gradients(acts, targets, score)``
        (each image's target score and its gradient with respect to the preprocessed input, or to the explained
        layer's activations ``acts``); ``compile(key, fn, signature, networks)`` (your own function of
        ``keras.ops`` and Keras networks, compiled by the backend once per key); ``compiled(key, make)`` (keeps
        the function ``make`` returns with the model, made once per key); ``network(score)`` (the Keras model: softmax,
        or its logits with ``score="logit"``); ``input_size``.
    The base class batches, times (``prepare`` plus the first target is ``time_s``), refuses non-finite maps
    and hands the maps to the run, which scores, writes, resumes and reports them as for a built-in method.
    Class sensitivity: the run also explains the top-2 class, and a map that ignores the class (the same map for
    both) correlates |r| = 1 > 0.55, fails the check, and is zeroed on every miss (AD 1, AVX 0).
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    family: ClassVar[str]
    # RunConfig field -> constructor keyword, for every option of this method a run can set.
    config_options: ClassVar[dict[str, str]] = {}
    candidate_key: ClassVar[str | None] = None  # metadata field that matches candidates across targets

    def __init__(self, model: LoadedModel):
        self.model = model

    # ------------------------------------------------------------ the two hooks
    def prepare(self, images: np.ndarray) -> Any:
        """Work that does not depend on the target class, shared by every target of a call."""
        return self.model.preprocess(images)

    @abstractmethod
    def explain_target(self, images: np.ndarray, targets: np.ndarray, prepared: Any) -> list[Explanation]:
        """One :class:`Explanation` per image for ``targets`` (N,), using :meth:`prepare`'s result."""

    # ------------------------------------------------------------ the public calls
    def explain_candidates(self, images, targets) -> list[list[Explanation]]:
        """Per image, one :class:`Explanation` per target (``targets`` of shape (N,) or (N, K))."""
        return self.begin_candidates(images, targets)()

    def begin_candidates(self, images, targets) -> Callable[[], list[list[Explanation]]]:
        """:meth:`explain_candidates` in two steps: :meth:`prepare` now, the targets when the returned function
        is called. A run that overlaps batches (``--overlap``) begins the next batch before it finishes this
        one, so work :meth:`prepare` leaves running in the background (ADVISE's KDE) overlaps this batch's."""
        images, targets = check_batch(images, targets, self.model.input_size)
        n = len(images)
        start = time.perf_counter()
        prepared = self.prepare(images)
        shared = (time.perf_counter() - start) / n

        def finish() -> list[list[Explanation]]:
            columns = []
            for k in range(targets.shape[1]):
                start = time.perf_counter()
                explanations = self.explain_target(images, targets[:, k], prepared)
                own = (time.perf_counter() - start) / n
                for e in explanations:
                    if not np.all(np.isfinite(e.maps)):
                        raise FloatingPointError(f"{self.name}: the map contains NaN or inf")
                    e.maps = e.maps.astype(np.float32, copy=False)
                    e.seconds = own + (shared if k == 0 else 0.0)
                columns.append(explanations)
            return [list(per_image) for per_image in zip(*columns, strict=True)]

        return finish

    def warm_up(self, images, targets) -> None:
        """An untimed call that traces the compiled functions; methods whose full call is costly override it."""
        self.explain_candidates(images, targets)

    def select(self, explanations: list[Explanation], scorer: Scorer | None = None) -> Selection:
        """One map per target. Ordinary methods have one candidate; ADVISE overrides this."""
        return Selection(counterparts(explanations, self.candidate_key)[0])

    def explain(self, images, targets) -> np.ndarray:
        """Maps (N, S, S) for targets (N,), or (N, K, S, S) for targets (N, K). Each target's map is the
        one a call for that target alone gives (no scorer: an evaluation-time selection refuses)."""
        one_target = np.ndim(targets) <= 1
        per_image = self.explain_candidates(images, targets)
        maps = np.stack([[self.select([e]).maps[0] for e in row] for row in per_image])
        return maps[:, 0] if one_target else maps

    def explain_selected(self, images, targets, scorers: list[Scorer] | None = None) -> np.ndarray:
        """What a run scores, (N, K, S, S): the map selected for the first target (a scoring selection
        may use ``scorers[i]`` for image i) and, for the other targets, its counterparts."""
        per_image = self.explain_candidates(images, targets)
        scorers = scorers or [None] * len(per_image)
        return np.stack([self.select(row, s).maps for row, s in zip(per_image, scorers, strict=True)])

    __call__ = explain


CAM_GROUPINGS = ("none", "like-advise")


@dataclass
class CAMInputs:
    """What every target of a CAM call shares: the preprocessed images, the explained layer's activations,
    the method's class-independent state (Score-CAM's masked predictions) and, with channel groups, each
    image's group label per channel."""

    inputs: np.ndarray  # (N, S, S, 3) preprocessed
    acts: np.ndarray  # (N, h, w, C)
    state: Any = None
    labels: list[np.ndarray] | None = None


class CAMExplainer(Explainer):
    """Class-activation-map family: a map is ReLU(sum_k T_k), the sum of per-channel terms T (h, w, C).

    A variant implements :meth:`channel_terms` (Grad-CAM: alpha_k A_k); one that needs class-independent
    work shared by its targets also implements :meth:`prepare_state`. With ``groups="like-advise"`` (a
    control), each image's channels are split at random into groups with the sizes of ADVISE's groups on
    that image (the KDE of the same activations, then a permutation seeded by ``seed``), one map per
    group becomes a candidate, and the ``oracle-avx`` selection keeps the best, as ADVISE's does.
    """

    family = "cam"
    config_options = {"relu": "relu", "cam_groups": "groups", "seed": "seed", "activation_noise": "activation_noise"}
    selection = get_selection(CAM_GROUPS_SELECTION)

    def __init__(self, model: LoadedModel, relu: bool = True, groups: str = "none", seed: int = 0,
                 activation_noise: float = 0.0):
        super().__init__(model)
        if groups not in CAM_GROUPINGS:
            raise UserError(f"unknown CAM grouping {groups!r}; choose {', '.join(CAM_GROUPINGS)}")
        self.relu, self.groups, self.seed = relu, groups, seed
        self.activation_noise = check_noise(activation_noise)  # the stability measurement
        # A grouped CAM has several candidates, matched across targets by their group label.
        self.candidate_key = "group" if groups == "like-advise" else None

    def prepare(self, images) -> CAMInputs:
        inputs = self.model.preprocess(images)
        acts = perturb_activations(self.model.feature_map(inputs), images, self.activation_noise, self.seed)
        labels = unit_scores_batch(acts, "random", self.seed) if self.groups == "like-advise" else None
        return CAMInputs(inputs, acts, self.prepare_state(inputs, acts), labels)

    def prepare_state(self, inputs: np.ndarray, acts: np.ndarray) -> Any:
        """Class-independent work shared by every target of a call (none by default)."""
        return None

    def channel_terms(self, prepared: CAMInputs, targets: np.ndarray) -> np.ndarray:
        """(N, h, w, C) per-channel terms whose sum over channels is the map before ReLU."""
        raise NotImplementedError(f"{type(self).__name__} implements low_res_maps only: it has no channel terms "
                                  "to group (--cam-groups needs channel_terms)")

    def low_res_maps(self, prepared: CAMInputs, targets: np.ndarray) -> np.ndarray:
        """(N, h, w) maps at the feature layer's resolution, after ReLU (unless ``relu=False``)."""
        cam = self.channel_terms(prepared, targets).sum(axis=-1, dtype=np.float32)
        return np.maximum(cam, 0) if self.relu else cam

    def explain_target(self, images, targets, prepared):
        size = self.model.input_size
        if prepared.labels is None:
            maps = finalize_maps(self.low_res_maps(prepared, targets), size)
            return [Explanation(int(t), m[None]) for t, m in zip(targets, maps, strict=True)]
        out = []
        for terms, labels, t in zip(self.channel_terms(prepared, targets), prepared.labels, targets, strict=True):
            candidates, low = group_maps(terms, labels, self.relu, self.candidate_key)
            maps = finalize_maps(low, size) if len(low) else np.zeros((0, size, size), np.float32)
            out.append(Explanation(int(t), maps, candidates, {"groups": len(candidates)}))
        return out

    def select(self, explanations, scorer=None):
        if self.candidate_key is None:
            return super().select(explanations, scorer)
        return self.selection(explanations, scorer, self.candidate_key)
