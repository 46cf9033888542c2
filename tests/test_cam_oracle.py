"""Our Grad-CAM, Grad-CAM++ and Layer-CAM against tf-keras-vis 0.8.7 (the oracle, TensorFlow backend) on
real ImageNet weights, top-1 and top-2 targets in one call; and the layer check that keeps a CAM from
silently explaining something else."""

import numpy as np
import pytest

from advise_bench.errors import UserError
from advise_bench.explainers import get_explainer
from advise_bench.explainers.base import finalize_maps
from advise_bench.models.zoo import LoadedModel

VISUALIZERS = {"gradcam": "gradcam:Gradcam", "gradcam++": "gradcam_plus_plus:GradcamPlusPlus",
               "layercam": "layercam:Layercam"}


def tf_keras_vis_maps(loaded, method, x, targets, relu=True):
    """tf-keras-vis's low-resolution CAMs for preprocessed ``x``, layer kept as named, then our finalize."""
    import importlib

    from tf_keras_vis.utils.scores import CategoricalScore

    module, cls = VISUALIZERS[method].split(":")
    vis = getattr(importlib.import_module(f"tf_keras_vis.{module}"), cls)(loaded.network("probability"), clone=False)
    cam = vis(CategoricalScore([int(t) for t in targets]), x, penultimate_layer=loaded.layer,
              seek_penultimate_conv_layer=False, expand_cam=False, normalize_cam=False,
              **({} if relu else {"activation_modifier": None}))
    return finalize_maps(np.asarray(cam, np.float32).reshape(len(x), *np.shape(cam)[-2:]), loaded.input_size)


@pytest.fixture(scope="module")
def real_models(mobilenet_v2_real, mobilenet_025_loaded, ilsvrc_images):
    v2 = LoadedModel("mobilenet_v2", mobilenet_v2_real, "out_relu", 224, "tf", "shared")
    x = np.stack([im for im, _ in ilsvrc_images[3:6]])
    return [(m, x, np.argsort(-m.predict(x), axis=1)[:, :2]) for m in (v2, mobilenet_025_loaded)]


@pytest.mark.parametrize("method", sorted(VISUALIZERS))
def test_maps_equal_tf_keras_vis_on_real_weights_top1_and_top2(real_models, method):
    for loaded, x, targets in real_models:
        ours = get_explainer(method, loaded)(x, targets)  # (N, 2, S, S): both targets in one call
        inputs = loaded.preprocess(x)
        for k in range(2):
            want = tf_keras_vis_maps(loaded, method, inputs, targets[:, k])
            assert np.ptp(want) > 0  # a real map to compare, not two blanks
            np.testing.assert_allclose(ours[:, k], want, atol=1e-5, err_msg=f"{loaded.name} target {k}")


@pytest.mark.parametrize("method", sorted(VISUALIZERS))
def test_without_relu_equals_tf_keras_vis_without_its_activation_modifier(real_models, method):
    loaded, x, targets = real_models[1]
    ours = get_explainer(method, loaded, relu=False)(x, targets[:, 1])
    np.testing.assert_allclose(ours, tf_keras_vis_maps(loaded, method, loaded.preprocess(x), targets[:, 1], False),
                               atol=1e-5)


def test_a_layer_that_a_skip_connection_bypasses_is_refused_in_one_line():
    """ResNet50's conv5_block3_2_relu sits inside a residual block: the output also depends on the block's
    input, so no head from that layer exists. The error names the layer instead of explaining another."""
    import warnings

    from advise_bench.models.zoo import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_model("resnet50", "random", layer="conv5_block3_2_relu")
    for method in ("gradcam", "gradcam++", "layercam", "advise"):  # Score-CAM needs no head: masks only
        with pytest.raises(UserError, match="conv5_block3_2_relu.*does not separate") as err:
            exp = get_explainer(method, loaded)
            exp(np.zeros((1, 224, 224, 3), np.uint8), [0])
        assert "\n" not in str(err.value)
    block_output = load_model("resnet50", "random", layer="conv5_block3_out")
    assert get_explainer("gradcam", block_output)(np.zeros((1, 224, 224, 3), np.uint8), [0]).shape == (1, 224, 224)
