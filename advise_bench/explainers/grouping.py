"""Channel groups: ADVISE's grouping of a layer's units by their KDE peak count, and one map per group.

* :func:`unit_scores`: each unit's peak count (the variable-bandwidth KDE of its samples, see
  :mod:`.kde`), or with ``grouping="random"`` a seeded permutation of those counts: the same number and
  sizes of groups, without the KDE's information about which units form them (a control).
* :func:`group_maps`: for channel terms T (h, w, C) whose sum over channels is a CAM before ReLU, one
  map per distinct label n: ReLU(sum_{k: label_k = n} T_k). A group whose map is empty (all <= 0 with
  ReLU, flat without) is skipped, as the reference code skips it.

ADVISE uses both with Grad-CAM's terms; ``--cam-groups like-advise`` gives any CAM method candidates
over random groups of ADVISE's sizes (the oracle control for every CAM).
"""

from __future__ import annotations

import numpy as np

from .kde import unit_peak_counts, unit_peak_counts_batch

GROUPINGS = ("kde", "random")


def unit_scores(samples_hwc: np.ndarray, grouping: str = "kde", seed: int = 0, last_g_quirk: bool = True,
                arithmetic: str = "fast") -> np.ndarray:
    """Peak count of every unit of one image's (h, w, C) activations or gradients (or, for the random
    grouping, a permutation of them seeded by ``seed`` alone)."""
    c = samples_hwc.shape[-1]
    samples = np.asarray(samples_hwc, np.float64).reshape(-1, c).T
    scores = unit_peak_counts(samples, last_g_quirk=last_g_quirk, arithmetic=arithmetic)
    if grouping == "random":
        scores = np.random.default_rng(seed).permutation(scores)
    return scores


def unit_scores_batch(samples_nhwc: np.ndarray, grouping: str = "kde", seed: int = 0, last_g_quirk: bool = True,
                      arithmetic: str = "fast") -> list[np.ndarray]:
    """:func:`unit_scores` of every image of ``samples_nhwc`` (N, h, w, C): one KDE for all the images
    (each distinct channel once, split over the KDE's worker processes), the same scores as image by image."""
    x = np.asarray(samples_nhwc, np.float64)
    n, c = x.shape[0], x.shape[-1]
    samples = x.reshape(n, -1, c).transpose(0, 2, 1)
    scores = unit_peak_counts_batch(samples, last_g_quirk=last_g_quirk, arithmetic=arithmetic)
    if grouping == "random":
        return [np.random.default_rng(seed).permutation(s) for s in scores]
    return list(scores)


def group_maps(terms: np.ndarray, labels: np.ndarray, relu: bool, key: str) -> tuple[list[dict], np.ndarray]:
    """Candidates ``[{key: n, "units": size}]`` and their low-resolution maps (G, h, w), in label order."""
    candidates, maps = [], []
    for n in np.unique(labels):
        members = labels == n
        cam = terms[..., members].sum(axis=-1)
        cam = np.maximum(cam, 0) if relu else cam
        if (not np.any(cam > 0)) if relu else np.ptp(cam) == 0:
            continue
        candidates.append({key: int(n), "units": int(members.sum())})
        maps.append(cam)
    h, w = terms.shape[:2]
    return candidates, np.asarray(maps, np.float32).reshape(-1, h, w)
