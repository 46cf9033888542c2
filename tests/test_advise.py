"""ADVISE grouping and maps against an independent NumPy computation (REFERENCE-NOTES §3)."""

import numpy as np
import pytest
from test_explainers import _grads, _numpy_forward, _tiny

from advise_bench.errors import UserError
from advise_bench.explainers import get_explainer
from advise_bench.explainers.advise import ADVISE
from advise_bench.explainers.kde import unit_peak_counts
from advise_bench.models.zoo import LoadedModel


@pytest.fixture(scope="module")
def tiny():
    model = _tiny(seed=3)
    loaded = LoadedModel("tiny", model, "feat_relu", 12, "none", "random")
    x = np.random.default_rng(5).uniform(0, 2, (2, 12, 12, 3)).astype(np.float32)
    return loaded, x


def _expected_groups(loaded, x, target, source="activations"):
    r, p, w = _numpy_forward(loaded.model, x.astype(np.float64))
    g = _grads(r, p, w, target)[0]
    a = r[0]
    samples = a if source == "activations" else g
    scores = unit_peak_counts(samples.reshape(-1, a.shape[-1]).T)
    alpha = g.mean(axis=(0, 1))
    out = {}
    for n in np.unique(scores):
        cam = np.maximum((a[..., scores == n] * alpha[scores == n]).sum(-1), 0)
        if cam.sum() > 0:
            out[int(n)] = (int((scores == n).sum()), cam)
    return scores, out


@pytest.mark.parametrize("source", ["activations", "gradients"])
def test_groups_match_numpy(tiny, source):
    loaded, x = tiny
    exp = ADVISE(loaded, relevance_source=source)
    for target in (0, 4):
        res = exp.groups(x[:1], [target])[0]
        scores, expected = _expected_groups(loaded, x[:1], target, source)
        np.testing.assert_array_equal(res.unit_scores, scores)
        assert res.peak_counts.tolist() == sorted(expected)
        for n, units, low in zip(res.peak_counts, res.unit_counts, res.low_res_maps, strict=True):
            assert units == expected[n][0]
            np.testing.assert_allclose(low, expected[n][1], rtol=1e-4, atol=1e-6 * expected[n][1].max())
        assert res.peak_range == (scores.min(), scores.max())
        assert res.maps.shape == (len(expected), 12, 12) and res.maps.max() <= 1 and res.maps.min() >= 0


def test_activation_scores_do_not_depend_on_the_class(tiny):
    loaded, x = tiny
    exp = ADVISE(loaded)
    a, b = exp.groups(x[:1], [0])[0], exp.groups(x[:1], [3])[0]
    np.testing.assert_array_equal(a.unit_scores, b.unit_scores)
    grads = ADVISE(loaded, relevance_source="gradients")
    assert grads.groups(x[:1], [0])[0].unit_scores.shape == a.unit_scores.shape


def test_selection_rules(tiny):
    loaded, x = tiny
    res = ADVISE(loaded).groups(x[:1], [1])[0]
    top = ADVISE(loaded, selection="max-peaks")(x[:1], [1])[0]
    np.testing.assert_array_equal(top, res.maps[np.argmax(res.peak_counts)])
    combined = ADVISE(loaded, selection="all")(x[:1], [1])[0]
    summed = res.maps.sum(axis=0)
    np.testing.assert_allclose(combined, (summed - summed.min()) / np.ptp(summed), atol=1e-6)
    with pytest.raises(UserError):
        ADVISE(loaded, selection="best")
    with pytest.raises(UserError):
        ADVISE(loaded, relevance_source="logits")


def test_without_relu_keeps_negative_evidence(tiny):
    loaded, x = tiny
    with_relu = ADVISE(loaded).groups(x[:1], [2])[0]
    no_relu = ADVISE(loaded, relu=False).groups(x[:1], [2])[0]
    assert all(m.min() >= 0 for m in with_relu.low_res_maps)
    assert any(m.min() < 0 for m in no_relu.low_res_maps)


def test_real_mobilenet_v2_peak_range(mobilenet_v2_real, ilsvrc_images):
    loaded = LoadedModel("mobilenet_v2", mobilenet_v2_real, "out_relu", 224, "tf", "shared")
    x = np.stack([im for im, _ in ilsvrc_images[:2]])
    t = loaded.predict(x).argmax(1)
    exp = get_explainer("advise", loaded)
    for res in exp.groups(x, t):
        lo, hi = res.peak_range
        assert res.unit_scores.shape == (1280,) and 0 <= lo <= hi <= 20
        assert len(res.maps) >= 1 and res.unit_counts.sum() <= 1280


def test_kde_arithmetic_does_not_change_advise(tiny):
    """The KDE's fast and reference arithmetics give the same unit scores, hence the same maps."""
    loaded, x = tiny
    fast = ADVISE(loaded, kde_arithmetic="fast").groups(x, [1, 2])
    ref = ADVISE(loaded, kde_arithmetic="reference").groups(x, [1, 2])
    for f, r in zip(fast, ref, strict=True):
        np.testing.assert_array_equal(f.unit_scores, r.unit_scores)
        np.testing.assert_array_equal(f.maps, r.maps)
