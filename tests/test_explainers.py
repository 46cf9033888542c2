"""Baselines against independent NumPy formulas on a tiny CNN, then real-model properties."""

import inspect

import keras
import numpy as np
import pytest
from scipy.special import softmax

from advise_bench.errors import UserError
from advise_bench.explainers import EXPLAINERS, METHOD_NAMES, get_explainer
from advise_bench.models.zoo import LoadedModel


@pytest.fixture(scope="module")
def tiny(tiny_cnn):
    model = tiny_cnn.build()
    loaded = LoadedModel("tiny", model, "feat_relu", 12, "none", "random")
    x = np.random.default_rng(0).uniform(-2, 2, (1, 12, 12, 3)).astype(np.float32)  # signs vary
    return loaded, x


def _low_res(explainer, x, targets):
    """A CAM's maps at the layer's resolution for raw images ``x``."""
    return explainer.low_res_maps(explainer.prepare(x), targets)


@pytest.mark.parametrize("target", [0, 3])
def test_gradcam_and_layercam_match_numpy(tiny, tiny_cnn, target):
    loaded, x = tiny
    r, p, w = tiny_cnn.forward(loaded.model, x.astype(np.float64))
    g = tiny_cnn.grads(r, p, w, target)
    gradcam = np.maximum((g.mean(axis=(1, 2), keepdims=True) * r).sum(-1), 0)
    layercam = np.maximum((np.maximum(g, 0) * r).sum(-1), 0)
    t = np.array([target])
    ours_g = _low_res(get_explainer("gradcam", loaded), x, t)
    ours_l = _low_res(get_explainer("layercam", loaded), x, t)
    scale = max(gradcam.max(), layercam.max())
    np.testing.assert_allclose(ours_g / scale, gradcam / scale, atol=1e-5)
    np.testing.assert_allclose(ours_l / scale, layercam / scale, atol=1e-5)


def test_layer_is_not_swapped_for_a_conv_layer(tiny):
    """tf-keras-vis would replace the ReLU layer by the Conv before it; ours must explain 'feat_relu'."""
    loaded, x = tiny
    pre = LoadedModel("tiny", loaded.model, "feat", 12, "none", "random")
    t = np.array([1])
    on_relu = _low_res(get_explainer("gradcam", loaded), x, t)
    on_conv = _low_res(get_explainer("gradcam", pre), x, t)
    assert not np.allclose(on_relu, on_conv)


def test_scorecam_weights_are_the_target_probability_not_a_double_softmax(tiny, tiny_cnn):
    from scipy.ndimage import zoom

    loaded, x = tiny
    r, p, _ = tiny_cnn.forward(loaded.model, x.astype(np.float64))
    t = 2
    acts = r[0]  # (10, 10, 6)
    up = zoom(acts, (12 / 10, 12 / 10, 1), order=1, mode="nearest")
    lo, hi = up.min(axis=(0, 1)), up.max(axis=(0, 1))
    masks = (up - lo) / (hi - lo + keras.config.epsilon())
    masked = x[0][None] * np.moveaxis(masks, -1, 0)[..., None]  # (6, 12, 12, 3)
    weights = tiny_cnn.forward(loaded.model, masked)[1][:, t]
    expected = np.maximum((acts * weights).sum(-1), 0)
    scorecam = get_explainer("scorecam", loaded)
    ours = scorecam.low_res_maps(scorecam.prepare(x), np.array([t]))[0]
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-7)
    double = np.maximum((acts * softmax(tiny_cnn.forward(loaded.model, masked)[1], axis=1)[:, t]).sum(-1), 0)
    assert not np.allclose(ours, double, rtol=1e-3)  # the test can tell a double softmax apart


def test_interface_shapes_and_errors(tiny):
    loaded, x = tiny
    for name in ("gradcam", "gradcam++", "layercam"):
        maps = get_explainer(name, loaded)(np.repeat(x, 2, axis=0), [0, 4])
        assert maps.shape == (2, 12, 12) and maps.dtype == np.float32
        assert maps.min() >= 0 and maps.max() <= 1
    with pytest.raises(UserError, match="one target"):
        get_explainer("gradcam", loaded)(x, [0, 1])
    with pytest.raises(UserError, match="unknown method"):
        get_explainer("deeplift", loaded)
    with pytest.raises(UserError, match="unknown score"):
        get_explainer("gradcam", loaded, score="logits")


def test_options_that_do_not_apply_are_not_accepted(tiny):
    """Score-CAM weighs by probabilities (no score option); LIME forms no CAM (no relu option)."""
    loaded, _ = tiny
    assert "score" not in inspect.signature(EXPLAINERS["scorecam"]).parameters
    assert "relu" not in inspect.signature(EXPLAINERS["lime"]).parameters
    with pytest.raises(TypeError):
        get_explainer("scorecam", loaded, score="logit")
    for cls in EXPLAINERS.values():  # every option a run can set exists in the constructor
        assert set(cls.config_options.values()) <= set(inspect.signature(cls).parameters), cls.name


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
    ("advise", {"selection": "max-peaks"}), ("gradcam", {}), ("gradcam++", {}), ("layercam", {}),
    ("scorecam", {"max_n": 32}), ("lime", {"num_samples": 150, "seed": 1}),
])
def test_real_model_maps_are_valid_and_class_specific(real, name, opts):
    loaded, x, top1, top2 = real
    exp = get_explainer(name, loaded, **opts)
    both = exp(x, np.stack([top1, top2], axis=1))
    m1, m2 = both[:, 0], both[:, 1]
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


def test_advise_kde_runs_beside_the_gradients_and_gives_the_same_explanations(tiny, monkeypatch):
    """ADVISE's KDE runs on a background thread: the first target's gradients are computed while it runs (the
    overlap a GPU run needs), the second's after it; the explanations are those of a KDE in the foreground."""
    import threading
    import time

    import advise_bench.explainers.advise as advise_module

    loaded, x = tiny
    targets = np.array([[0, 3]])
    want = get_explainer("advise", loaded, selection="max-peaks").explain_candidates(x, targets)
    kde_done, seen = threading.Event(), []
    kde, gradients = advise_module.unit_scores_batch, loaded.class_gradients

    def slow_kde(*args, **kwargs):
        time.sleep(0.3)
        scores = kde(*args, **kwargs)
        kde_done.set()
        return scores

    monkeypatch.setattr(advise_module, "unit_scores_batch", slow_kde)
    monkeypatch.setattr(loaded, "class_gradients", lambda *a, **k: (seen.append(kde_done.is_set()), gradients(*a, **k))[1])
    got = get_explainer("advise", loaded, selection="max-peaks").explain_candidates(x, targets)
    assert seen == [False, True]
    for a, b in zip(got[0], want[0], strict=True):
        assert a.candidates == b.candidates and a.info["groups"] == b.info["groups"]
        np.testing.assert_array_equal(a.maps, b.maps)
        np.testing.assert_array_equal(a.arrays["unit_scores"], b.arrays["unit_scores"])
    assert got[0][0].seconds >= 0.3  # the wait for the KDE is in the first target's time


# ---------------------------------------------------------------- several targets per call
@pytest.mark.parametrize("name,opts", [
    ("gradcam", {}), ("gradcam++", {}), ("layercam", {}), ("scorecam", {}), ("scorecam", {"max_n": 3}),
    ("advise", {"selection": "max-peaks"}), ("advise", {"selection": "all"}),
    ("advise", {"selection": "max-peaks", "relevance_source": "gradients"}),
    ("lime", {"num_samples": 80, "seed": 2}), ("lime", {"num_samples": 80, "seed": 2, "continuous": True}),
])
def test_several_targets_in_one_call_equal_separate_calls(tiny, name, opts):
    loaded, x = tiny
    images = np.repeat(x, 2, axis=0) * np.array([1.0, 0.7], np.float32)[:, None, None, None]
    targets = np.array([[0, 3, 1], [4, 2, 0]])
    together = get_explainer(name, loaded, **opts)(images, targets)
    assert together.shape == (2, 3, 12, 12)
    for k in range(3):
        alone = get_explainer(name, loaded, **opts)(images, targets[:, k])
        if name == "lime":
            np.testing.assert_array_equal(together[:, k], alone)
        else:
            np.testing.assert_allclose(together[:, k], alone, atol=1e-6)
    per_image = get_explainer(name, loaded, **opts).explain_candidates(images, targets)
    assert [[e.target for e in row] for row in per_image] == targets.tolist()
    assert all(e.seconds >= 0 for row in per_image for e in row)


def test_zoom_matrix_is_scipy_zoom():
    from scipy.ndimage import zoom

    from advise_bench.explainers.scorecam import zoom_matrix

    a = np.random.default_rng(1).normal(size=(7, 5)).astype(np.float32)
    ours = zoom_matrix(7, 224) @ a @ zoom_matrix(5, 224).T
    np.testing.assert_allclose(ours, zoom(a, (224 / 7, 224 / 5), order=1, mode="nearest"), atol=1e-5)


def test_scorecam_constant_channels_get_weight_zero_without_nan(tiny_cnn):
    model = tiny_cnn.build(seed=4)
    kernel, bias = model.get_layer("feat").get_weights()
    kernel[..., :2], bias[0], bias[1] = 0.0, -1.0, 0.5  # channel 0 dead (0 after ReLU), channel 1 constant 0.5
    model.get_layer("feat").set_weights([kernel, bias])
    loaded = LoadedModel("tiny", model, "feat_relu", 12, "none", "random")
    x = np.random.default_rng(0).uniform(0, 1, (1, 12, 12, 3)).astype(np.float32)
    scorecam = get_explainer("scorecam", loaded)
    prepared = scorecam.prepare(x)
    acts, probs = prepared.acts, prepared.state
    flat = acts[0].reshape(-1, acts.shape[-1])
    constant = flat.max(axis=0) == flat.min(axis=0)
    assert constant[0] and constant[1] and not constant.all()
    assert set(scorecam.used_channels(acts[0])) == set(np.flatnonzero(~constant))
    assert np.all(probs[0][constant] == 0) and np.all(probs[0][~constant].sum(axis=1) > 0.99)
    maps = scorecam(x, [1])
    assert np.all(np.isfinite(maps))


@pytest.fixture(scope="module")
def tf_keras_vis_scorecam():
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.scores import CategoricalScore

    def oracle(loaded, x, target, max_n):
        """tf-keras-vis on the logits network (it applies the softmax itself), layer kept as named."""
        vis = Scorecam(loaded.network("logit"), clone=False)
        cam = vis(CategoricalScore([int(target)]), loaded.preprocess(x[None]), penultimate_layer=loaded.layer,
                  seek_penultimate_conv_layer=False, expand_cam=False, normalize_cam=False, max_N=max_n,
                  batch_size=256)
        return np.asarray(cam, np.float32)

    return oracle


@pytest.mark.slow
@pytest.mark.parametrize("max_n", [None, 48])
def test_scorecam_equals_tf_keras_vis_on_real_mobilenet(mobilenet_025_loaded, ilsvrc_images, tf_keras_vis_scorecam,
                                                        max_n):
    """Real MobileNet 0.25 (256 channels, so tf-keras-vis's full Score-CAM costs seconds per map, not a
    minute as on MobileNetV2): two images' top-1 and image 0's top-2 (which reuses the predictions)."""
    from advise_bench.explainers.base import finalize_maps

    loaded = mobilenet_025_loaded
    x = np.stack([im for im, _ in ilsvrc_images[:2]])
    targets = np.argsort(-loaded.predict(x), axis=1)[:, :2]
    ours = get_explainer("scorecam", loaded, max_n=max_n, batch_size=64)(x, targets)
    for i in range(len(x)):
        for k, t in enumerate(targets[i] if i == 0 else targets[i, :1]):
            want = finalize_maps(tf_keras_vis_scorecam(loaded, x[i], t, max_n), 224)[0]
            np.testing.assert_allclose(ours[i, k], want, atol=1e-5)


def test_lime_equals_lime_image(real):
    """Same segments, same top-5 superpixels and the same weights as lime_image with the same seed."""
    from lime import lime_image
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    loaded, x, top1, top2 = real
    lime = get_explainer("lime", loaded, num_samples=120, batch_size=50, seed=7)
    sample = lime.prepare(x[:1])[0]
    ref = lime_image.LimeImageExplainer(random_state=7).explain_instance(
        x[0].astype(np.float64), lambda batch: loaded.predict(batch, batch_size=50),
        labels=(int(top1[0]), int(top2[0])), top_labels=None, hide_color=None, num_samples=120, batch_size=50,
        segmentation_fn=SegmentationAlgorithm("quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=7),
        random_seed=7)
    np.testing.assert_array_equal(sample.segments, ref.segments)
    for t in (top1[0], top2[0]):
        want, got = dict(ref.local_exp[int(t)]), lime.superpixel_weights(sample, int(t))
        assert set(want) == set(got)
        np.testing.assert_allclose([got[s] for s in want], [want[s] for s in want], rtol=0, atol=1e-8)
        top5 = sorted(want, key=lambda s: -want[s])[:5]
        np.testing.assert_array_equal(lime(x[:1], [t])[0], np.isin(ref.segments, top5).astype(np.float32))


def test_gradcam_plus_plus_equals_layercam_under_global_average_pooling(tiny):
    """With a GAP head the gradient is constant over space, so Grad-CAM++'s alphas normalise to 1/hw and
    its map is sum_k ReLU(g_k) A_k, which is Layer-CAM's (a property, not a bug: see docs/methods.md)."""
    loaded, x = tiny
    t = np.array([3])
    pp = _low_res(get_explainer("gradcam++", loaded), x, t)
    lc = _low_res(get_explainer("layercam", loaded), x, t)
    gc = _low_res(get_explainer("gradcam", loaded), x, t)
    np.testing.assert_allclose(pp / pp.max(), lc / lc.max(), atol=1e-5)
    assert not np.allclose(gc / gc.max(), lc / lc.max(), atol=1e-3)


@pytest.mark.parametrize("h,w,size", [(7, 7, 224), (14, 14, 224), (13, 13, 227), (10, 10, 299), (6, 9, 224),
                                      (1, 1, 224), (2, 3, 17)])
def test_bicubic_upsampling_equals_tensorflows(h, w, size):
    """Our backend-free upsampling is TensorFlow's bicubic resize (the oracle), so every backend upsamples
    maps alike; Keras's resize on PyTorch would use a = -0.75 instead."""
    import tensorflow as tf

    from advise_bench.explainers.base import upsample_bicubic

    maps = np.random.default_rng(h * w).uniform(-1, 2, (3, h, w)).astype(np.float32)
    want = tf.image.resize(maps[..., None], (size, size), method="bicubic").numpy()[..., 0]
    np.testing.assert_allclose(upsample_bicubic(maps, size), want, atol=2e-6)


@pytest.fixture(scope="module")
def alexnet_random():
    from advise_bench.models.zoo import load_model

    with pytest.warns(UserWarning, match="random weights"):
        return load_model("alexnet", "random")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lime", "scorecam"])
def test_compiled_explainers_trace_a_network_that_needs_static_image_sides(alexnet_random, method):
    """AlexNet's adaptive pooling needs the image sides when traced: LIME's compiled batch and Score-CAM's masked
    predictions give them. Each once failed at warm-up (LIME: `run --model alexnet` had no LIME rows; Score-CAM:
    the run stopped with a traceback)."""
    model = alexnet_random
    image = np.random.default_rng(0).integers(0, 256, (1, model.input_size, model.input_size, 3)).astype(np.uint8)
    options = {"num_samples": 8, "batch_size": 4} if method == "lime" else {}
    explainer = get_explainer(method, model, **options)
    explainer.warm_up(image, np.array([[0, 1]]))
    if method == "lime":  # a whole Score-CAM map costs 256 masked forward passes; its warm-up traces the same function
        maps = explainer(image, np.array([3]))
        assert maps.shape == (1, model.input_size, model.input_size) and np.isfinite(maps).all()
