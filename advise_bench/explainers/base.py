"""One interface for every method: ``explainer(images, targets) -> maps``.

``images`` are RGB pixels in 0..255, shape (N, S, S, 3) at the model's input size; ``targets`` are
per-image class indices. ``maps`` has shape (N, S, S), float32 in [0, 1].

CAM-style methods only implement :meth:`CAMExplainer.low_res_maps` (maps at the feature-layer
resolution after ReLU); the shared :func:`finalize_maps` does what the reference does to every map:
rescale to [0, 1], bicubic upsampling to the input size, then clip (see its docstring).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ..errors import UserError
from ..models.zoo import LoadedModel

SCORES = ("probability", "logit")
EXPLAINERS: dict[str, type[Explainer]] = {}


def register(cls):
    """Class decorator: make a method reachable by name (CLI choices come from this registry)."""
    EXPLAINERS[cls.name] = cls
    return cls


def get_explainer(name: str, model: LoadedModel, **options) -> Explainer:
    try:
        cls = EXPLAINERS[name]
    except KeyError:
        raise UserError(f"unknown method {name!r}; choose from {', '.join(EXPLAINERS)}") from None
    return cls(model, **options)


def rescale01(maps: np.ndarray) -> np.ndarray:
    """Min-max rescale each map (leading axis = batch) to [0, 1]; a constant map becomes all zeros."""
    maps = np.asarray(maps, dtype=np.float32)
    axes = tuple(range(1, maps.ndim))
    lo = maps.min(axis=axes, keepdims=True)
    span = maps.max(axis=axes, keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0).astype(np.float32)


def upsample_bicubic(maps: np.ndarray, size: int) -> np.ndarray:
    """Bicubic (Keys a=-0.5, half-pixel centres, like MATLAB imresize) upsampling of (N,h,w) maps."""
    import tensorflow as tf

    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[1:] == (size, size):
        return maps
    return tf.image.resize(maps[..., None], (size, size), method="bicubic").numpy()[..., 0]


def finalize_maps(low_res: np.ndarray, size: int) -> np.ndarray:
    """rescale01 -> bicubic upsample -> clip to [0, 1].

    The reference does not clip; bicubic overshoot stays well below 1.5 and negative values saturate
    in its ``uint8(map)`` cast, so the reference's binary mask is the same with or without clipping.
    """
    maps = upsample_bicubic(rescale01(low_res), size)
    return np.clip(maps, 0.0, 1.0)


def check_batch(images, targets, size: int) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise UserError(f"images must have shape (N, {size}, {size}, 3); got {images.shape}")
    targets = np.atleast_1d(np.asarray(targets, dtype=np.int64))
    if targets.shape != (len(images),):
        raise UserError(f"need one target per image: {len(images)} images, {targets.size} targets")
    return images, targets


class Explainer(ABC):
    """Base class: subclasses set ``name``/``display_name`` and implement :meth:`_explain`."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    family: ClassVar[str]

    def __init__(self, model: LoadedModel, score: str = "probability", relu: bool = True):
        if score not in SCORES:
            raise UserError(f"unknown score {score!r}; choose one of {', '.join(SCORES)}")
        self.model = model
        self.score = score
        self.relu = relu  # False: the ablation without ReLU in map formation (negative evidence kept)

    def explain(self, images, targets: Sequence[int]) -> np.ndarray:
        images, targets = check_batch(images, targets, self.model.input_size)
        maps = self._explain(images, targets)
        if not np.all(np.isfinite(maps)):
            raise FloatingPointError(f"{self.name}: the map contains NaN or inf")
        return maps.astype(np.float32, copy=False)

    __call__ = explain

    @abstractmethod
    def _explain(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray: ...


class CAMExplainer(Explainer):
    """Class-activation-map family: a weighted sum of the feature layer's channels."""

    family = "cam"

    def _explain(self, images, targets):
        return finalize_maps(self.low_res_maps(self.model.preprocess(images), targets), self.model.input_size)

    @abstractmethod
    def low_res_maps(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """(N, h, w) maps at the feature layer's resolution, after ReLU. ``inputs`` are preprocessed."""
