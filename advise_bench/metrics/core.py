"""The evaluation metrics of Table I as small pure functions over NumPy arrays (REFERENCE-NOTES §4).

Each metric declares its name, direction and range (:data:`METRICS`), so reports add ↑/↓ themselves.
Images are RGB uint8 (H, W, 3); maps are float in [0, 1] at the image size.

AVX is 0 exactly when one of its terms (SSIM, FSIM, 1 - MSE, 1 - AD) is <= 0 (:func:`avx`), for one of two
causes (:func:`avx_zero_causes`): the penalty of a miss that fails the CS check set AD = 1, SSIM = FSIM = 0,
MSE = 1 ("zeroed"), or, with no such penalty, a term itself is <= 0 -- SSIM, which lies in [-1, 1], is slightly
negative for a masked image anti-correlated with the image (seen under salt-and-pepper noise), and FSIM is 0
for a mask that keeps nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from .fsim import fsimc


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    lo: float
    hi: float
    description: str

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("AD", False, 0.0, 1.0, "Average Drop of the target's confidence on the masked image"),
        MetricInfo("SSIM", True, -1.0, 1.0, "SSIM of the masked image against the image (can be slightly negative)"),
        MetricInfo("FSIM", True, 0.0, 1.0, "FSIMc of the masked image against the image"),
        MetricInfo("MSE", False, 0.0, 1.0, "mean squared error / 255^2 of the masked image"),
        MetricInfo("AVX", True, 0.0, 1.0, "harmonic mean of SSIM, FSIM, 1-MSE and 1-AD; 0 when any is <= 0"),
        MetricInfo("Hit", True, 0.0, 1.0, "top-1 class is in the masked image's top-5"),
        MetricInfo("CS", True, 0.0, 1.0, "class-sensitivity check passes: |r(top-1 map, top-2 map)| <= 0.55"),
        # Opt-in faithfulness curves (Petsiuk et al., RISE, 2018); computed in metrics/faithfulness.py.
        MetricInfo("deletion_auc", False, 0.0, 1.0,
                   "area under the target's probability as pixels are blacked out in map order"),
        MetricInfo("insertion_auc", True, 0.0, 1.0,
                   "area under the target's probability as pixels are restored onto a blurred copy in map order"),
    )
}

# --------------------------------------------------------------------------- row status
# Every per-image result row carries one of these. Only "ok" rows enter a mean; the report counts the others.
STATUS_OK = "ok"
STATUS_ERROR = "error"
# A constant input image (every pixel equal, per channel): every method scores a meaningless perfect AVX on it.
STATUS_DEGENERATE_IMAGE = "degenerate_image"
# A constant map: the protocol cannot score it (it keeps all or nothing of the image, and its CS r is undefined).
STATUS_DEGENERATE_MAP = "degenerate_map"
STATUSES = (STATUS_OK, STATUS_ERROR, STATUS_DEGENERATE_IMAGE, STATUS_DEGENERATE_MAP)
# The row's one-line ``error`` message for the degenerate statuses (an error row says its own).
STATUS_MESSAGES = {STATUS_DEGENERATE_IMAGE: "constant input image", STATUS_DEGENERATE_MAP: "constant map"}

# --------------------------------------------------------------------------- masking


def binary_mask(image: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """Reference: ``image .* uint8(map)``. MATLAB's cast rounds half away from zero, so the mask is
    1 where map >= 0.5 and 0 elsewhere."""
    keep = np.floor(np.clip(saliency, 0, None) + 0.5).astype(np.uint8)
    return (image * keep[..., None]).astype(np.uint8)


def soft_mask(image: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """Corrected: multiply by the map itself, rounded back to uint8."""
    return np.clip(np.rint(image.astype(np.float64) * saliency[..., None]), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- image similarity

_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def ssim_volume(reference: np.ndarray, distorted: np.ndarray) -> float:
    """MATLAB ``ssim`` on an H x W x 3 array: one 3-D volume, Gaussian sigma 1.5 in all three
    dimensions, filter radius ceil(3 sigma) = 5, replicate padding, mean over the whole volume."""
    x = reference.astype(np.float64)
    y = distorted.astype(np.float64)

    def blur(v):
        return gaussian_filter(v, sigma=1.5, mode="nearest", truncate=5 / 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))
    return float(s.mean())


def ssim_channels(reference: np.ndarray, distorted: np.ndarray) -> float:
    """scikit-image SSIM per colour channel, averaged (MATLAB-compatible Gaussian settings)."""
    from skimage.metrics import structural_similarity

    return float(
        structural_similarity(
            reference, distorted, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, K1=0.01, K2=0.03,
        )
    )


def mse(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Mean over all H*W*3 uint8 values of the squared difference, divided by 255^2."""
    d = reference.astype(np.float64) - distorted.astype(np.float64)
    return float(np.mean(d * d) / 255.0**2)


def fsim(reference: np.ndarray, distorted: np.ndarray) -> float:
    """FSIMc (colour FeatureSIM) of the masked image against the image.

    A mask that keeps nothing (an all-black masked image of a non-black image) scores 0: MATLAB returns
    NaN there (phase congruency 0/0), and REFERENCE-NOTES §4 defines it as 0 because nothing was kept.
    The runner counts these images (``blank_mask``)."""
    if not distorted.any() and reference.any():
        return 0.0
    return float(fsimc(reference, distorted))


# --------------------------------------------------------------------------- model-based metrics


def class_sensitivity(map_top1: np.ndarray, map_top2: np.ndarray) -> float:
    """Pearson r between the top-1 and top-2 maps; NaN (a constant map) is reported as 0."""
    a = map_top1.ravel().astype(np.float64)
    b = map_top2.ravel().astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def cs_passes(r: float, constant_map: bool, threshold: float = 0.55) -> bool:
    """The CS check passes when |r| <= threshold; a NaN r (constant map) fails."""
    return (not constant_map) and abs(r) <= threshold


def is_constant(saliency: np.ndarray) -> bool:
    return bool(np.ptp(saliency) == 0)


def is_degenerate_image(image: np.ndarray) -> bool:
    """Whether every channel of an (H, W, C) or (H, W) image holds one value: black, white, any flat colour."""
    pixels = np.asarray(image).reshape(-1, image.shape[-1] if np.ndim(image) == 3 else 1)
    return bool((pixels == pixels[:1]).all())


def row_status(image: np.ndarray, saliency: np.ndarray) -> str:
    """The status of one (image, map) row before scoring: a degenerate image, a degenerate map, or ok."""
    if is_degenerate_image(image):
        return STATUS_DEGENERATE_IMAGE
    if is_constant(saliency):
        return STATUS_DEGENERATE_MAP
    return STATUS_OK


def hit(top1: int, probs_masked: np.ndarray, k: int = 5) -> bool:
    """Whether the image's top-1 class is among the top-k classes of the masked image."""
    return int(top1) in np.argsort(-probs_masked)[:k].tolist()


def average_drop(y_c: float, o: float) -> float:
    """max(0, y_c - o) / y_c; the protocol decides what o is."""
    return float(max(0.0, y_c - o) / y_c) if y_c > 0 else 0.0


def avx(ad: float, ssim: float, fsim_value: float, mse_value: float) -> float:
    """Harmonic mean of SSIM, FSIM, 1-MSE and 1-AD, per image; 0 when any term is <= 0."""
    terms = (ssim, fsim_value, 1.0 - mse_value, 1.0 - ad)
    if min(terms) <= 0 or not all(np.isfinite(terms)):
        return 0.0
    return float(4.0 / sum(1.0 / t for t in terms))


PENALTY_ZEROED = "zeroed"


def avx_zero_causes(avx_values, penalties) -> tuple[np.ndarray, np.ndarray]:
    """Where AVX is exactly 0, why: (the penalty zeroed the map, no penalty zeroed it and a term is <= 0), as two
    boolean arrays; both False where AVX is not 0 (or NaN). ``penalties``: the rows' ``penalty`` column
    (``none``, ``scaled``, ``zeroed``)."""
    zero = np.asarray(avx_values, dtype=np.float64) == 0.0
    zeroed = np.array([str(p) == PENALTY_ZEROED for p in penalties], dtype=bool).reshape(zero.shape)
    return zero & zeroed, zero & ~zeroed
