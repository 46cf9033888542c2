"""ADVISE's activation-noise option (the stability measurement, scripts/stability.py)."""

from __future__ import annotations

import numpy as np
import pytest

from advise_bench.errors import UserError
from advise_bench.explainers.advise import ADVISE


def test_noise_moves_only_nonzero_activations_and_is_seeded(tiny_case):
    loaded, x = tiny_case
    acts = np.asarray(loaded.feature_map(loaded.preprocess(x)))
    assert (acts == 0).any() and (acts != 0).any()
    exp = ADVISE(loaded, activation_noise=1e-5, seed=1)
    a, b = exp.perturb(acts, x), exp.perturb(acts[::-1], x[::-1])[::-1]  # each image's noise follows its pixels
    np.testing.assert_array_equal(a, b)
    assert np.all(a[acts == 0] == 0)
    moved = np.abs(a - acts)[acts != 0]
    assert 0 < moved.max() < 1e-4 and moved.mean() > 1e-7
    assert not np.array_equal(ADVISE(loaded, activation_noise=1e-5, seed=2).perturb(acts, x), a)
    assert ADVISE(loaded).perturb(acts, x) is acts


def test_noise_option_reaches_the_explainer(tiny_case):
    from advise_bench.config import RunConfig
    from advise_bench.explainers import explainer_from_config

    loaded, _ = tiny_case
    exp = explainer_from_config("advise", loaded, RunConfig(advise_activation_noise=1e-6))
    assert exp.activation_noise == 1e-6
    with pytest.raises(UserError):
        ADVISE(loaded, activation_noise=-1.0)


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
