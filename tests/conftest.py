"""Shared fixtures. Real-data fixtures skip (with a reason) only when the shared folder is absent;
CI sets ADVISE_BENCH_SHARED so they always run there."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

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
