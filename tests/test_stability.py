"""The activation-noise option (the stability measurement, scripts/stability.py), seen by ADVISE and the CAMs."""

from __future__ import annotations

import numpy as np
import pytest

from advise_bench.errors import UserError
from advise_bench.explainers.advise import ADVISE
from advise_bench.explainers.base import perturb_activations
from advise_bench.explainers.cam import GradCAM


def test_noise_moves_only_nonzero_activations_and_is_seeded(tiny_case):
    loaded, x = tiny_case
    acts = np.asarray(loaded.feature_map(loaded.preprocess(x)))
    assert (acts == 0).any() and (acts != 0).any()
    a = perturb_activations(acts, x, 1e-5, seed=1)
    b = perturb_activations(acts[::-1], x[::-1], 1e-5, seed=1)[::-1]  # each image's noise follows its pixels
    np.testing.assert_array_equal(a, b)
    assert np.all(a[acts == 0] == 0)
    moved = np.abs(a - acts)[acts != 0]
    assert 0 < moved.max() < 1e-4 and moved.mean() > 1e-7
    assert not np.array_equal(perturb_activations(acts, x, 1e-5, seed=2), a)
    assert perturb_activations(acts, x, 0.0, seed=1) is acts
    np.testing.assert_array_equal(ADVISE(loaded, activation_noise=1e-5, seed=1).perturb(acts, x), a)


def test_noise_option_reaches_advise_and_the_cams(tiny_case):
    from advise_bench.config import RunConfig
    from advise_bench.explainers import explainer_from_config

    loaded, _ = tiny_case
    for name in ("advise", "gradcam", "gradcam++", "layercam", "scorecam"):
        assert explainer_from_config(name, loaded, RunConfig(activation_noise=1e-6)).activation_noise == 1e-6, name
    for cls in (ADVISE, GradCAM):
        with pytest.raises(UserError):
            cls(loaded, activation_noise=-1.0)


def test_cam_under_noise_sees_the_same_perturbed_activations(tiny_case):
    """Grad-CAM with noise is Grad-CAM of the perturbed activations, the ones ADVISE gets: its map moves
    continuously (a little at 1e-5), and not at all without noise."""
    loaded, x = tiny_case
    inputs = loaded.preprocess(x)
    noisy = GradCAM(loaded, activation_noise=1e-5, seed=3)
    prepared = noisy.prepare(x)
    np.testing.assert_array_equal(prepared.acts, perturb_activations(loaded.feature_map(inputs), x, 1e-5, 3))
    clean_maps, noisy_maps = GradCAM(loaded).explain(x, [0, 1]), noisy.explain(x, [0, 1])
    np.testing.assert_array_equal(GradCAM(loaded, activation_noise=0.0).explain(x, [0, 1]), clean_maps)
    diff = np.abs(noisy_maps - clean_maps)
    assert 0 < diff.max() < 1e-2


def test_float64_kde_input(tiny_case):
    """--advise-kde-input float64: the KDE scores float64 activations of a float64 copy of the network (within
    float32 rounding of the float32 ones); the maps still come from the float32 activations."""
    from advise_bench.explainers.advise import float64_feature_map

    loaded, x = tiny_case
    inputs = loaded.preprocess(x)
    a64 = float64_feature_map(loaded, inputs)
    a32 = np.asarray(loaded.feature_map(inputs))
    assert a64.dtype == np.float64 and a64.shape == a32.shape
    np.testing.assert_allclose(a64, a32, rtol=1e-5, atol=1e-5)
    r32 = ADVISE(loaded, selection="max-peaks").explain_candidates(x, [0, 1])
    r64 = ADVISE(loaded, selection="max-peaks", kde_input="float64").explain_candidates(x, [0, 1])
    for a, b in zip(r32, r64, strict=True):
        assert a[0].maps.shape[1:] == b[0].maps.shape[1:]
        assert np.mean(a[0].arrays["unit_scores"] == b[0].arrays["unit_scores"]) > 0.9
    with pytest.raises(UserError):
        ADVISE(loaded, kde_input="float16")
