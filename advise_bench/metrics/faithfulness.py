"""Deletion and insertion curves (Petsiuk et al., RISE, BMVC 2018): opt-in faithfulness metrics.

Pixels are ranked by the map, highest first (ties in row-major order). In ``n_steps`` equal chunks,
*deletion* blacks them out of the image and *insertion* copies them from the image onto a blurred copy.
The target class's softmax probability is recorded before the first chunk and after each one
(``n_steps + 1`` points per curve), and the area under the curve over the fraction of pixels changed is
the score: a faithful map makes the probability fall fast under deletion (low AUC is better) and rise
fast under insertion (high AUC is better). Both curves of one map are predicted in a single batched
call: ``2 * (n_steps + 1)`` forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ..errors import UserError
from .core import METRICS, MetricInfo

DEFAULT_N_STEPS = 32
# RISE's insertion substrate: a Gaussian of sigma 5 px on an 11 x 11 kernel (radius 5). Edges are
# replicated rather than zero-padded, so the blurred copy does not darken towards its border.
BLUR_SIGMA = 5.0
BLUR_RADIUS = 5

# --extra-metrics name -> the result column it fills (declared, with its direction, in core.METRICS).
FAITHFULNESS_METRICS: dict[str, MetricInfo] = {
    "deletion": METRICS["deletion_auc"],
    "insertion": METRICS["insertion_auc"],
}

Predict = Callable[[np.ndarray], np.ndarray]


def parse_extra_metrics(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"deletion,insertion"`` (or a list of such strings) -> ("deletion", "insertion"); unknown names fail."""
    if spec is None:
        return ()
    parts = [spec] if isinstance(spec, str) else list(spec)
    names = [n.strip() for p in parts for n in p.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAITHFULNESS_METRICS]
    if unknown:
        raise UserError(f"unknown extra metric(s) {', '.join(unknown)}; choose from {', '.join(FAITHFULNESS_METRICS)}")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Curve:
    """One deletion or insertion curve: target probability at each fraction of pixels changed."""

    fractions: np.ndarray  # (n_steps + 1,), 0 .. 1
    probs: np.ndarray  # (n_steps + 1,)

    @property
    def auc(self) -> float:
        return float(np.trapezoid(self.probs, self.fractions))


def blurred(image: np.ndarray, sigma: float = BLUR_SIGMA, radius: int = BLUR_RADIUS) -> np.ndarray:
    """Spatial Gaussian blur of an (H, W, C) image, channel by channel, as float32."""
    return gaussian_filter(np.asarray(image, np.float32), sigma=(sigma, sigma, 0), mode="nearest",
                           truncate=radius / sigma)


def chunk_bounds(n_pixels: int, n_steps: int) -> np.ndarray:
    """Pixels changed after each step: 0, ..., n_pixels in ``n_steps`` equal chunks (sizes differ by at most 1)."""
    if n_steps < 1:
        raise UserError(f"n_steps must be >= 1; got {n_steps}")
    return (np.arange(n_steps + 1) * n_pixels) // n_steps


def pixel_order(saliency: np.ndarray) -> np.ndarray:
    """Flat pixel indices in map order: most salient first, equal values in row-major order."""
    return np.argsort(-np.asarray(saliency, np.float64).ravel(), kind="stable")


def fill_progressive(out: np.ndarray, start: np.ndarray, finish: np.ndarray, order: np.ndarray,
                     bounds: np.ndarray) -> None:
    """Write into ``out`` (len(bounds), H, W, C) the image that takes pixels ``order[:bounds[k]]`` from
    ``finish`` and the rest from ``start``, for every k. Each image is the previous one plus a chunk, so
    the cost is one copy per step, not a masked select over the whole stack."""
    channels = start.shape[-1]
    flat = out.reshape(len(bounds), -1, channels)
    source = np.asarray(finish, out.dtype).reshape(-1, channels)
    flat[0] = np.asarray(start, out.dtype).reshape(-1, channels)
    for k in range(1, len(bounds)):
        flat[k] = flat[k - 1]
        chunk = order[bounds[k - 1] : bounds[k]]
        flat[k, chunk] = source[chunk]


def faithfulness_curves(
    image: np.ndarray,
    saliency: np.ndarray,
    target: int,
    predict: Predict,
    kinds: Iterable[str] = tuple(FAITHFULNESS_METRICS),
    n_steps: int = DEFAULT_N_STEPS,
    insertion_start: np.ndarray | None = None,
) -> dict[str, Curve]:
    """The requested curves (``"deletion"``, ``"insertion"``) of one (H, W, 3) image and its (H, W) map.

    ``predict(images) -> probs`` takes an (N, H, W, 3) float batch of 0..255 pixels and returns (N, classes)
    softmax probabilities; it is called once, on every curve's images together. ``insertion_start`` replaces
    the blurred copy (the tests use it).
    """
    kinds = parse_extra_metrics(list(kinds))
    image = np.asarray(image)
    if np.shape(saliency) != image.shape[:2]:
        raise ValueError(f"map shape {np.shape(saliency)} does not match image shape {image.shape[:2]}")
    bounds = chunk_bounds(image.shape[0] * image.shape[1], n_steps)
    order = pixel_order(saliency)
    start_finish = {
        "deletion": (image, np.zeros_like(image)),
        "insertion": (blurred(image) if insertion_start is None else insertion_start, image),
    }
    if not kinds:
        return {}
    steps = len(bounds)
    # One float32 stack for every requested curve, predicted in one call.
    stack = np.empty((len(kinds) * steps, *image.shape), np.float32)
    for i, kind in enumerate(kinds):
        fill_progressive(stack[i * steps : (i + 1) * steps], *start_finish[kind], order, bounds)
    probs = np.asarray(predict(stack))[:, int(target)].astype(np.float64)
    fractions = bounds / bounds[-1]
    return {k: Curve(fractions, probs[i * steps : (i + 1) * steps]) for i, k in enumerate(kinds)}


def faithfulness_scores(image: np.ndarray, saliency: np.ndarray, target: int, predict: Predict,
                        **options) -> dict[str, float]:
    """Result columns for one map, e.g. ``{"deletion_auc": 0.12, "insertion_auc": 0.61}``; ``options`` are
    :func:`faithfulness_curves`' ``kinds`` and ``n_steps``."""
    curves = faithfulness_curves(image, saliency, target, predict, **options)
    return {FAITHFULNESS_METRICS[k].name: c.auc for k, c in curves.items()}
