"""Similarity of two saliency maps (float, in [0, 1], same shape): how much of a map survives a change of the
model, as the sanity check measures it (:mod:`advise_bench.analysis.sanity`)."""

from __future__ import annotations

import numpy as np


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of the flattened maps (scipy's, ties averaged). A constant map correlates 0
    with anything, except with an identical map: 1."""
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if np.array_equal(a, b):
        return 1.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    r = spearmanr(a, b).statistic
    return float(r) if np.isfinite(r) else 0.0


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two 2-D maps (scikit-image's defaults: 7 x 7 uniform window, data range 1)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(np.asarray(a, np.float64), np.asarray(b, np.float64), data_range=1.0))
