import warnings

import keras
import numpy as np
import pytest

from advise_bench.errors import UserError
from advise_bench.models import zoo


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_every_architecture_builds_with_random_weights(name):
    spec = zoo.ZOO[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = zoo.load_model(name, "random")
    assert any("random weights" in str(w.message) for w in caught)
    m = loaded.model
    assert m.input_shape == (None, spec.input_size, spec.input_size, 3)
    assert m.output_shape == (None, 1000)
    assert zoo.ends_in_softmax(m)
    assert len(m.get_layer(spec.default_layer).output.shape) == 4
    keras.backend.clear_session()


def test_reference_layers_match_the_notes():
    expected = {"vgg16": "block5_conv3", "resnet50": "conv5_block3_out", "xception": "block14_sepconv2_act",
                "alexnet": "conv5", "mobilenet_v2": "out_relu", "mobilenet": "conv_pw_13_relu"}
    assert {n: s.default_layer for n, s in zoo.ZOO.items()} == expected


def test_real_mobilenet_v2_top5_on_shared_images(shared_models_dir, ilsvrc_images):
    loaded = zoo.load_model("mobilenet_v2", str(shared_models_dir / "mobilenet_v2_1.0_224.weights.h5"))
    x = np.stack([im for im, _ in ilsvrc_images])
    labels = np.array([y for _, y in ilsvrc_images])
    top5 = np.argsort(-loaded.predict(x), axis=1)[:, :5]
    hits = sum(int(y in t) for y, t in zip(labels, top5, strict=True))
    assert hits >= 7, f"only {hits}/10 in top-5"


def test_chelsea_is_a_cat(shared_models_dir):
    from skimage import data

    from advise_bench.data import load_image, skimage_samples

    loaded = zoo.load_model("mobilenet_v2", str(shared_models_dir / "mobilenet_v2_1.0_224.weights.h5"))
    chelsea = next(r for r in skimage_samples() if r.image_id == "chelsea")
    assert data.chelsea().shape[2] == 3
    top1 = int(loaded.predict(load_image(chelsea.path, 224)[None])[0].argmax())
    assert top1 in (281, 282, 285)  # tabby, tiger cat, Egyptian cat


def test_logits_model_recovers_softmax_inputs(shared_models_dir):
    from scipy.special import softmax

    loaded = zoo.load_model("mobilenet", str(shared_models_dir / "mobilenet_0.25_224.weights.h5"))
    x = loaded.preprocess(np.random.default_rng(0).integers(0, 255, (2, 224, 224, 3)))
    z = np.asarray(zoo.logits_model(loaded.model)(x))
    np.testing.assert_allclose(softmax(z, axis=1), np.asarray(loaded.model(x)), atol=1e-6)
    assert not np.allclose(z.sum(axis=1), 1.0)


def test_download_failure_says_how_to_pass_weights(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure on https://example.invalid/vgg16.h5: None -- [Errno -2] Name unknown")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.raises(UserError) as err:
        zoo.load_model("vgg16")
    msg = str(err.value)
    assert "--weights PATH" in msg and "\n" not in msg and "http" not in msg


def test_bad_inputs_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown model"):
        zoo.load_model("vgg17")
    with pytest.raises(UserError, match="no such file"):
        zoo.load_model("mobilenet", str(tmp_path / "missing.weights.h5"))
    with pytest.raises(UserError, match="expected"):
        zoo.load_model("mobilenet", "weights.bin")
    with pytest.raises(UserError, match="not found"):
        zoo.load_model("mobilenet", "random", layer="no_such_layer")
    (tmp_path / "bad.weights.h5").write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot load"):
        zoo.load_model("mobilenet", str(tmp_path / "bad.weights.h5"))


def test_any_keras_model_file(tmp_path):
    inp = keras.Input((32, 32, 3))
    h = keras.layers.Conv2D(4, 3, name="feat")(inp)
    out = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(h))  # logits: a softmax is appended
    keras.Model(inp, out).save(tmp_path / "tiny.keras")
    loaded = zoo.load_model(model_file=str(tmp_path / "tiny.keras"), layer="feat", preprocess="none")
    assert loaded.input_size == 32 and loaded.layer == "feat"
    p = loaded.predict(np.ones((2, 32, 32, 3)))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(UserError, match="--layer"):
        zoo.load_model(model_file=str(tmp_path / "tiny.keras"))


def test_runs_share_one_loaded_model_and_its_traced_functions(shared_models_dir):
    from advise_bench.explainers import get_explainer

    a = zoo.load_model_shared("mobilenet")
    assert zoo.load_model_shared("mobilenet") is a
    assert a.weights_source.endswith("mobilenet_0.25_224.weights.h5")
    assert zoo.load_model_shared("mobilenet", layer="conv_pw_12_relu") is not a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r1, r2 = zoo.load_model_shared("mobilenet", "random"), zoo.load_model_shared("mobilenet", "random")
    assert r1 is not r2 and not np.array_equal(r1.model.get_weights()[0], r2.model.get_weights()[0])
    # An explainer's traced gradient function is kept with the model, where the next explainer looks it up.
    get_explainer("advise", a).gradients(np.zeros((1, 224, 224, 3), np.float32), np.array([0]))
    made = []
    a.compiled(("class_gradients", "probability"), lambda: made.append(1))
    assert made == []
