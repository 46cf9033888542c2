"""Reference maps: what a map that knows nothing of the image scores (chance), and a probe built to game the
metrics. They cost no model call beyond the scoring, so a run writes them next to every method.

* ``random``: uniform noise drawn at the explained layer's resolution (h x w), independently for every target,
  then upsampled by the rule every CAM map goes through (:func:`finalize_maps`). Seeded by (seed, the image's
  pixels, target): the call shape of an explainer carries no image id, and an image's pixels identify it in
  any shard, resume or rerun (under ``ablate``'s noise the noisy pixels, so each density draws its own maps).
* ``centre``: an image-blind centred Gaussian prior, ``exp(-d^2 / (2 sigma^2))`` with d the distance to the
  image centre and sigma a quarter of the image side (56 px at 224), min-max rescaled to [0, 1]; the same map for
  every target. Under the reference protocol's binary mask it keeps the disc where the map is >= 0.5 (about 29%
  of the image).
* ``keep-all``: a probe, not an explainer. The map is 1 everywhere but one pixel, a different pixel for each
  target (pixel number ``target`` in row-major order), so the class-sensitivity check passes (r = -1/(S^2 - 1))
  and the masked image is the image. It shows what a metric gives a map that explains nothing and keeps all.
"""

from __future__ import annotations

import zlib

import numpy as np

from ..method_kinds import REFERENCE_FAMILY
from .base import Explainer, finalize_maps
from .explanation import Explanation, rescale01
from .registry import register

RANDOM_STREAM = 0xC4A5CE  # keeps the random map's draws apart from the other seeded streams
CENTRE_SIGMA = 0.25  # the centre prior's sigma, as a fraction of the image side


class ReferenceMap(Explainer):
    """A map that needs no model call: ``reference_maps(images, targets)`` -> (N, S, S) in [0, 1]."""

    family = REFERENCE_FAMILY

    def prepare(self, images):
        return images

    def explain_target(self, images, targets, prepared):
        maps = self.reference_maps(prepared, targets)
        return [Explanation(int(t), m[None]) for t, m in zip(targets, maps, strict=True)]

    def reference_maps(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def image_key(image: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(image).tobytes())


@register
class RandomMap(ReferenceMap):
    name = "random"  # Table I names: method_kinds.BUILTIN
    config_options = {"seed": "seed"}

    def __init__(self, model, seed: int = 0):
        super().__init__(model)
        self.seed = seed

    def reference_maps(self, images, targets):
        h, w = self.model.feature_grid
        low = np.stack([np.random.default_rng([self.seed, image_key(im), int(t), RANDOM_STREAM]).random((h, w))
                        for im, t in zip(images, targets, strict=True)])
        return finalize_maps(low, self.model.input_size)


def centre_map(size: int, sigma: float = CENTRE_SIGMA) -> np.ndarray:
    """The centred Gaussian prior (size, size) in [0, 1]; sigma as a fraction of the side."""
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[:size, :size]
    prior = np.exp(-((yy - c) ** 2 + (xx - c) ** 2) / (2.0 * (sigma * size) ** 2))
    return rescale01(prior[None])[0]


@register
class CentreMap(ReferenceMap):
    name = "centre"

    def reference_maps(self, images, targets):
        return np.repeat(centre_map(self.model.input_size)[None], len(targets), axis=0)


def keep_all_map(size: int, target: int) -> np.ndarray:
    """1 everywhere but pixel number ``target`` (row-major, modulo size^2), which is 0."""
    out = np.ones((size, size), np.float32)
    out.flat[int(target) % (size * size)] = 0.0
    return out


@register
class KeepAll(ReferenceMap):
    name = "keep-all"

    def reference_maps(self, images, targets):
        return np.stack([keep_all_map(self.model.input_size, t) for t in targets])
