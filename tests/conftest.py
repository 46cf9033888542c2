"""Shared fixtures. Real-data fixtures skip (with a reason) only when the shared folder is absent;
CI sets ADVISE_BENCH_SHARED so they always run there."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.special import softmax  # noqa: E402

from advise_bench.paths import SHARED_ENV, shared_dir, shared_path  # noqa: E402


def _require(*parts: str):
    p = shared_path(*parts)
    if p is None:
        if os.environ.get("CI"):
            pytest.fail(f"shared asset {'/'.join(parts)} missing under {shared_dir()} (CI must set {SHARED_ENV})")
        pytest.skip(f"shared asset {'/'.join(parts)} not found under {shared_dir()} (set {SHARED_ENV})")
    return p


@pytest.fixture(scope="session")
def shared_models_dir():
    return _require("models")


@pytest.fixture(scope="session")
def ilsvrc_dir():
    return _require("ilsvrc3000", "manifest.csv").parent


@pytest.fixture(scope="session")
def mobilenet_v2_real(shared_models_dir):
    """Stock keras MobileNetV2 with the shared real ImageNet weights (softmax output)."""
    import keras

    return keras.applications.MobileNetV2(weights=str(shared_models_dir / "mobilenet_v2_1.0_224.weights.h5"))


@pytest.fixture(scope="session")
def mobilenet_025_loaded(shared_models_dir):
    """The zoo's MobileNet (alpha 0.25) with the shared real ImageNet weights: a fifth of MobileNetV2's
    channels at the explained layer and a fifth of its forward time, for oracles that cost per channel."""
    from advise_bench.models.zoo import load_model

    return load_model("mobilenet", str(shared_models_dir / "mobilenet_0.25_224.weights.h5"))


@pytest.fixture(scope="session")
def ilsvrc_images(ilsvrc_dir):
    """First 10 manifest rows as (uint8 224x224x3 RGB array, label), stretched like the reference."""
    import csv

    import numpy as np
    from PIL import Image

    rows = list(csv.DictReader(open(ilsvrc_dir / "manifest.csv")))[:10]
    out = []
    for r in rows:
        img = Image.open(ilsvrc_dir / r["file"]).convert("RGB").resize((224, 224), Image.BILINEAR)
        out.append((np.asarray(img, dtype=np.uint8), int(r["label"])))
    return out


# ---------------------------------------------------------------- a tiny CNN and its NumPy twin
def _tiny_cnn(seed=0):
    """input 12x12x3 -> conv (linear, 'feat') -> ReLU ('feat_relu') -> GAP -> Dense softmax(5)."""
    import keras

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


def _numpy_grads(r, p, w, t):
    """d p_t / d R_ijk for p = softmax(W^T mean_ij R + c): (1/hw) p_t (W_kt - sum_j p_j W_kj)."""
    hw = r.shape[1] * r.shape[2]
    coef = p[:, t][:, None] * (w[:, t][None, :] - p @ w.T) / hw  # (n, k) here n=1
    return np.broadcast_to(coef[:, None, None, :], r.shape)


@pytest.fixture(scope="session")
def tiny_cnn():
    """The tiny CNN (``build(seed)``) with an independent NumPy forward pass and softmax gradients."""
    return SimpleNamespace(build=_tiny_cnn, forward=_numpy_forward, grads=_numpy_grads)


@pytest.fixture(scope="module")
def tiny_case(tiny_cnn):
    """The tiny CNN (seed 3) explaining ``feat_relu``, and two positive 12x12 images: ADVISE's and the
    grouped CAMs' hand-checked case."""
    from advise_bench.models.zoo import LoadedModel

    loaded = LoadedModel("tiny", tiny_cnn.build(seed=3), "feat_relu", 12, "none", "random")
    return loaded, np.random.default_rng(5).uniform(0, 2, (2, 12, 12, 3)).astype(np.float32)
