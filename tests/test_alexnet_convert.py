"""AlexNet Keras port + torchvision state_dict converter, checked against an independent NumPy
forward pass (NCHW, PyTorch semantics) on seeded synthetic weights. No torch needed."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import keras
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from advise_bench.models.alexnet import (
    build_alexnet,
    convert_state_dict,
    load_torchvision_state_dict,
    torchvision_to_keras_weights,
)

REPO = Path(__file__).resolve().parent.parent

# torchvision alexnet state_dict layout, written out independently of the module under test
TV_SHAPES = {
    "features.0.weight": (64, 3, 11, 11),
    "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5),
    "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3),
    "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3),
    "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3),
    "features.10.bias": (256,),
    "classifier.1.weight": (4096, 9216),
    "classifier.1.bias": (4096,),
    "classifier.4.weight": (4096, 4096),
    "classifier.4.bias": (4096,),
    "classifier.6.weight": (1000, 4096),
    "classifier.6.bias": (1000,),
}


@pytest.fixture(scope="module")
def state_dict() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    sd = {}
    for k, shape in TV_SHAPES.items():
        if k.endswith("weight"):
            fan_in = int(np.prod(shape[1:]))
            sd[k] = rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(2.0 / fan_in))
        else:
            sd[k] = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
    return sd


# ---------------------------------------------------------------- independent NumPy reference (NCHW)
def np_conv2d(x, w, b, stride, pad):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    patches = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]  # N,C,Ho,Wo,k,k
    out = np.tensordot(patches, w, axes=([1, 4, 5], [1, 2, 3]))  # N,Ho,Wo,O
    return out.transpose(0, 3, 1, 2) + b[None, :, None, None]


def np_maxpool(x, k=3, s=2):
    return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s].max(axis=(4, 5))


def np_adaptive_avgpool(x, out=6):
    n, c, h, w = x.shape
    y = np.empty((n, c, out, out), dtype=x.dtype)
    for i in range(out):
        h0, h1 = math.floor(i * h / out), math.ceil((i + 1) * h / out)
        for j in range(out):
            w0, w1 = math.floor(j * w / out), math.ceil((j + 1) * w / out)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def np_alexnet(x_nchw, sd):
    p = {k: v.astype(np.float64) for k, v in sd.items()}
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    x = x_nchw.astype(np.float64)
    x = np_maxpool(relu(np_conv2d(x, p["features.0.weight"], p["features.0.bias"], 4, 2)))
    x = np_maxpool(relu(np_conv2d(x, p["features.3.weight"], p["features.3.bias"], 1, 2)))
    x = relu(np_conv2d(x, p["features.6.weight"], p["features.6.bias"], 1, 1))
    x = relu(np_conv2d(x, p["features.8.weight"], p["features.8.bias"], 1, 1))
    conv5 = np_conv2d(x, p["features.10.weight"], p["features.10.bias"], 1, 1)
    x = np_adaptive_avgpool(np_maxpool(relu(conv5)))
    x = x.reshape(x.shape[0], -1)  # channel-major flatten, like torch.flatten(x, 1)
    x = relu(x @ p["classifier.1.weight"].T + p["classifier.1.bias"])
    x = relu(x @ p["classifier.4.weight"].T + p["classifier.4.bias"])
    logits = x @ p["classifier.6.weight"].T + p["classifier.6.bias"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return conv5, logits, e / e.sum(axis=1, keepdims=True)


def rel_err(a, ref):
    return float(np.max(np.abs(np.asarray(a, np.float64) - ref)) / np.max(np.abs(ref)))


def keras_outputs(model, x_nhwc):
    sub = keras.Model(model.input, [model.get_layer(n).output for n in ("conv5", "predictions", "probs")])
    return [np.asarray(o) for o in sub.predict(x_nhwc, verbose=0)]


# ---------------------------------------------------------------- tests
def test_structure_227():
    model = build_alexnet()
    assert model.output_shape == (None, 1000)
    assert model.input_shape == (None, 227, 227, 3)
    conv5 = model.get_layer("conv5")
    assert conv5.output.shape == (None, 13, 13, 256)
    assert conv5.get_config()["activation"] == "linear"
    assert model.get_layer("conv5_relu").output.shape == (None, 13, 13, 256)
    assert model.get_layer("pool5").output.shape == (None, 6, 6, 256)
    assert model.get_layer("predictions").output.shape == (None, 1000)
    assert isinstance(model.get_layer("probs"), keras.layers.Softmax)
    for n in ("conv1", "conv2", "conv3", "conv4", "pool1", "pool2", "fc6", "fc7"):
        model.get_layer(n)


@pytest.mark.parametrize("input_size", [227, 131])
def test_matches_numpy_reference(state_dict, input_size):
    # 227: pool5 is already 6x6 (adaptive pool is an identity); 131: pool5 is 3x3 -> adaptive upsampling
    model = convert_state_dict(state_dict, input_size=input_size)
    rng = np.random.default_rng(7)
    n = 2 if input_size == 227 else 1
    x_nchw = rng.standard_normal((n, 3, input_size, input_size)).astype(np.float32)
    ref_conv5, ref_logits, ref_probs = np_alexnet(x_nchw, state_dict)
    k_conv5, k_logits, k_probs = keras_outputs(model, x_nchw.transpose(0, 2, 3, 1))
    assert k_conv5.shape == ref_conv5.transpose(0, 2, 3, 1).shape
    assert rel_err(k_conv5, ref_conv5.transpose(0, 2, 3, 1)) < 1e-4
    assert rel_err(k_logits, ref_logits) < 1e-4
    assert np.allclose(k_probs, ref_probs, rtol=1e-3, atol=1e-6)
    assert np.allclose(k_probs.sum(axis=1), 1.0, atol=1e-5)


def test_adaptive_pool_overlapping_bins():
    # 7 -> 6 bins overlap; compare the layer alone against the NumPy reference
    from advise_bench.models.alexnet import AdaptiveAveragePooling2DTorch

    x = np.random.default_rng(0).standard_normal((2, 7, 7, 5)).astype(np.float32)
    y = np.asarray(AdaptiveAveragePooling2DTorch(6)(x))
    ref = np_adaptive_avgpool(x.transpose(0, 3, 1, 2).astype(np.float64)).transpose(0, 2, 3, 1)
    assert rel_err(y, ref) < 1e-6


def test_missing_key_is_clear(state_dict):
    sd = dict(state_dict)
    del sd["features.10.bias"]
    with pytest.raises(KeyError, match=r"missing keys \['features.10.bias'\]"):
        torchvision_to_keras_weights(sd)


def test_unexpected_key_is_clear(state_dict):
    sd = dict(state_dict)
    sd["features.11.weight"] = sd.pop("features.10.weight")
    with pytest.raises(KeyError, match=r"features.10.weight.*features.11.weight"):
        torchvision_to_keras_weights(sd)


def test_wrong_shape_is_clear(state_dict):
    sd = dict(state_dict)
    sd["features.3.weight"] = np.zeros((192, 64, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"features.3.weight has shape \(192, 64, 3, 3\), expected"):
        torchvision_to_keras_weights(sd)


def test_module_prefix_is_accepted(state_dict):
    sd = {f"module.{k}": v for k, v in state_dict.items()}
    assert set(torchvision_to_keras_weights(sd)) == {
        "conv1",
        "conv2",
        "conv3",
        "conv4",
        "conv5",
        "fc6",
        "fc7",
        "predictions",
    }


def _load_cli():
    spec = importlib.util.spec_from_file_location("convert_alexnet", REPO / "scripts" / "convert_alexnet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_npz_roundtrip(state_dict, tmp_path):
    cli = _load_cli()
    npz = tmp_path / "alexnet.npz"
    np.savez(npz, **state_dict)
    out = tmp_path / "alexnet.weights.h5"
    assert cli.main([str(npz), str(out)]) == 0
    loaded = build_alexnet(weights=out)
    direct = load_torchvision_state_dict(build_alexnet(), state_dict)
    x = np.random.default_rng(3).standard_normal((1, 227, 227, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        np.asarray(loaded.predict(x, verbose=0)), np.asarray(direct.predict(x, verbose=0))
    )


def test_cli_pth_without_torch_fails_clearly(tmp_path):
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed")
    cli = _load_cli()
    pth = tmp_path / "alexnet.pth"
    pth.write_bytes(b"not really a checkpoint")
    with pytest.raises(SystemExit, match="needs PyTorch"):
        cli.main([str(pth), str(tmp_path / "out.weights.h5")])
