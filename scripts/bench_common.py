"""Shared pieces of the benchmark scripts: real images, zoo models, layer activations, a median-time helper."""

from __future__ import annotations

import os
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*random weights.*")

import numpy as np  # noqa: E402

from advise_bench.data import load_image, resolve_source  # noqa: E402
from advise_bench.models.zoo import load_model  # noqa: E402


def images(n: int, size: int) -> np.ndarray:
    """The first n images of the shared ILSVRC subset (or the embedded photos), stretched to size."""
    _, records = resolve_source("auto")
    return np.stack([load_image(r.path, size) for r in records[:n]])


def model(name: str):
    """Real shared weights where they exist (MobileNets), seeded random weights otherwise (timing only)."""
    try:
        return load_model(name, "imagenet")
    except Exception:
        import keras

        keras.utils.set_random_seed(0)  # the same random network, hence the same activations, every run
        return load_model(name, "random")


def model_images_targets(name: str, n: int):
    """The zoo model, its first n images and their top-1 classes: what every benchmark starts from."""
    loaded = model(name)
    x = images(n, loaded.input_size)
    return loaded, x, loaded.predict(x).argmax(1)


def layer_features(loaded, x: np.ndarray) -> np.ndarray:
    """The explained layer's activations of the first image of ``x``, as the KDE takes them: (C, Z)."""
    import keras

    sub = keras.Model(loaded.model.inputs, loaded.model.get_layer(loaded.layer).output)
    a = np.asarray(sub.predict(loaded.preprocess(x[:1]), verbose=0))[0]
    return a.reshape(-1, a.shape[-1]).T


def seconds(fn) -> float:
    """Wall time of one call."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_seconds(fn, items, warmup: int = 1) -> float:
    """Median wall time of fn(item) over items, after ``warmup`` untimed calls on the first item."""
    for _ in range(warmup):
        fn(items[0])
    times = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def forward_seconds(loaded, x, batch: int) -> float:
    """Seconds per image of the compiled forward at this batch size (median of 3 after a warm-up)."""
    xb = loaded.preprocess(np.repeat(x[:1], batch, axis=0))
    return median_seconds(lambda _: loaded.forward(xb), [0, 1, 2]) / batch
