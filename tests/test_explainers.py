"""Baselines against independent NumPy formulas on a tiny CNN, then real-model properties."""

import keras
import numpy as np
import pytest
from scipy.special import softmax

from advise_bench.errors import UserError
from advise_bench.explainers import EXPLAINERS, METHOD_NAMES, get_explainer
from advise_bench.models.zoo import LoadedModel


def _tiny(seed=0):
    """input 12x12x3 -> conv (linear, 'feat') -> ReLU ('feat_relu') -> GAP -> Dense softmax(5)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 3))
    a = keras.layers.Conv2D(6, 3, padding="valid", name="feat")(inp)
    r = keras.layers.ReLU(name="feat_relu")(a)
    out = keras.layers.Dense(5, activation="softmax", name="predictions")(keras.layers.GlobalAveragePooling2D()(r))
    return keras.Model(inp, out)


def _numpy_forward(model, x):
    """Independent forward pass: conv by explicit patches, ReLU, GAP, dense, softmax."""
    k, b = model.get_layer("feat").get_weights()
    w, c = model.get_layer("predictions").get_weights()
    n, h, wd, _ = x.shape
    a = np.zeros((n, h - 2, wd - 2, k.shape[-1]))
    for i in range(h - 2):
        for j in range(wd - 2):
            a[:, i, j] = np.einsum("nabc,abck->nk", x[:, i:i + 3, j:j + 3], k) + b
    r = np.maximum(a, 0)
    p = softmax(r.mean(axis=(1, 2)) @ w + c, axis=1)
    return r, p, w


def _grads(r, p, w, t):
    """d p_t / d R_ijk for p = softmax(W^T mean_ij R + c): (1/hw) p_t (W_kt - sum_j p_j W_kj)."""
    hw = r.shape[1] * r.shape[2]
    coef = p[:, t][:, None] * (w[:, t][None, :] - p @ w.T) / hw  # (n, k) here n=1
    return np.broadcast_to(coef[:, None, None, :], r.shape)


@pytest.fixture(scope="module")
def tiny():
    model = _tiny()
    loaded = LoadedModel("tiny", model, "feat_relu", 12, "none", "random")
    x = np.random.default_rng(0).uniform(-2, 2, (1, 12, 12, 3)).astype(np.float32)  # signs vary
    return loaded, x


@pytest.mark.parametrize("target", [0, 3])
def test_gradcam_and_layercam_match_numpy(tiny, target):
    loaded, x = tiny
    r, p, w = _numpy_forward(loaded.model, x.astype(np.float64))
    g = _grads(r, p, w, target)
    gradcam = np.maximum((g.mean(axis=(1, 2), keepdims=True) * r).sum(-1), 0)
    layercam = np.maximum((np.maximum(g, 0) * r).sum(-1), 0)
    t = np.array([target])
    ours_g = get_explainer("gradcam", loaded).low_res_maps(x, t)
    ours_l = get_explainer("layercam", loaded).low_res_maps(x, t)
    scale = max(gradcam.max(), layercam.max())
    np.testing.assert_allclose(ours_g / scale, gradcam / scale, atol=1e-5)
    np.testing.assert_allclose(ours_l / scale, layercam / scale, atol=1e-5)


def test_layer_is_not_swapped_for_a_conv_layer(tiny):
    """tf-keras-vis would replace the ReLU layer by the Conv before it; ours must explain 'feat_relu'."""
    loaded, x = tiny
    pre = LoadedModel("tiny", loaded.model, "feat", 12, "none", "random")
    t = np.array([1])
    on_relu = get_explainer("gradcam", loaded).low_res_maps(x, t)
    on_conv = get_explainer("gradcam", pre).low_res_maps(x, t)
    assert not np.allclose(on_relu, on_conv)


def test_scorecam_weights_are_the_target_probability_not_a_double_softmax(tiny):
    from scipy.ndimage import zoom

    loaded, x = tiny
    r, p, _ = _numpy_forward(loaded.model, x.astype(np.float64))
    t = 2
    acts = r[0]  # (10, 10, 6)
    up = zoom(acts, (12 / 10, 12 / 10, 1), order=1, mode="nearest")
    lo, hi = up.min(axis=(0, 1)), up.max(axis=(0, 1))
    masks = (up - lo) / (hi - lo + keras.config.epsilon())
    masked = x[0][None] * np.moveaxis(masks, -1, 0)[..., None]  # (6, 12, 12, 3)
    weights = _numpy_forward(loaded.model, masked)[1][:, t]
    expected = np.maximum((acts * weights).sum(-1), 0)
    ours = get_explainer("scorecam", loaded).low_res_maps(x, np.array([t]))[0]
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-7)
    double = np.maximum((acts * softmax(_numpy_forward(loaded.model, masked)[1], axis=1)[:, t]).sum(-1), 0)
    assert not np.allclose(ours, double, rtol=1e-3)  # the test can tell a double softmax apart


def test_interface_shapes_and_errors(tiny):
    loaded, x = tiny
    for name in ("gradcam", "gradcam++", "layercam"):
        maps = get_explainer(name, loaded)(np.repeat(x, 2, axis=0), [0, 4])
        assert maps.shape == (2, 12, 12) and maps.dtype == np.float32
        assert maps.min() >= 0 and maps.max() <= 1
    with pytest.raises(UserError, match="one target per image"):
        get_explainer("gradcam", loaded)(x, [0, 1])
    with pytest.raises(UserError, match="unknown method"):
        get_explainer("deeplift", loaded)
    with pytest.raises(UserError, match="logit"):
        get_explainer("scorecam", loaded, score="logit")


def test_registry_has_all_six_methods():
    assert set(METHOD_NAMES) == {"advise", "gradcam", "gradcam++", "scorecam", "layercam", "lime"}
    assert {EXPLAINERS[m].display_name for m in METHOD_NAMES} == {
        "ADVISE", "Grad-CAM", "Grad-CAM++", "Score-CAM", "Layer-CAM", "LIME"}


@pytest.fixture(scope="module")
def real(mobilenet_v2_real, ilsvrc_images):
    loaded = LoadedModel("mobilenet_v2", mobilenet_v2_real, "out_relu", 224, "tf", "shared")
    x = np.stack([im for im, _ in ilsvrc_images[:3]])
    order = np.argsort(-loaded.predict(x), axis=1)
    return loaded, x, order[:, 0], order[:, 1]


@pytest.mark.parametrize("name,opts", [
    ("advise", {}), ("gradcam", {}), ("gradcam++", {}), ("layercam", {}),
    ("scorecam", {"max_n": 32}), ("lime", {"num_samples": 150, "seed": 1}),
])
def test_real_model_maps_are_valid_and_class_specific(real, name, opts):
    loaded, x, top1, top2 = real
    exp = get_explainer(name, loaded, **opts)
    m1, m2 = exp(x, top1), exp(x, top2)
    assert m1.shape == (3, 224, 224)
    for m in (m1, m2):
        assert np.all(np.isfinite(m)) and m.min() >= 0 and m.max() <= 1
    # Top-1 maps carry structure. A top-2 map may legitimately be all zero (every weighted channel
    # negative before the ReLU), which is exactly the case the CS rule treats as a failed check.
    assert all(np.ptp(mi) > 0 for mi in m1), [np.ptp(mi) for mi in m1]
    assert any(not np.allclose(a, b) for a, b in zip(m1, m2, strict=True))


def test_lime_is_deterministic_given_a_seed(real):
    loaded, x, top1, _ = real
    a = get_explainer("lime", loaded, num_samples=100, seed=3)(x[:1], top1[:1])
    b = get_explainer("lime", loaded, num_samples=100, seed=3)(x[:1], top1[:1])
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1.0}  # reference: binary top-5 superpixel map
    cont = get_explainer("lime", loaded, num_samples=100, seed=3, continuous=True)(x[:1], top1[:1])
    assert len(np.unique(cont)) > 2
