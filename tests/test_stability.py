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
