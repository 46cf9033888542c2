"""The KDE batched across the images of a call, and split over worker processes
(advise_bench.explainers.kde.parallel): the same peak counts as one image at a time, in one process."""

from __future__ import annotations

import numpy as np
import pytest

from advise_bench.explainers.grouping import unit_scores, unit_scores_batch
from advise_bench.explainers.kde import parallel, unit_peak_counts, unit_peak_counts_batch


def _synthetic(n_images=3, C=40, Z=49, seed=0):
    """Images of mixture-like channels, with repeated channels across images and degenerate ones."""
    rng = np.random.default_rng(seed)
    X = np.empty((n_images, C, Z))
    for i in range(n_images):
        for c in range(C):
            k = (c + i) % 4
            if k == 0:
                X[i, c] = np.maximum(rng.normal(0.1, 0.3, Z), 0)  # ReLU-like: many zeros
            elif k == 1:
                X[i, c] = np.concatenate([rng.normal(0.3, 0.03, Z // 2), rng.normal(0.7, 0.03, Z - Z // 2)])
            elif k == 2:
                X[i, c] = rng.uniform(0, 1.5, Z)  # partly out of range
            else:
                X[i, c] = np.round(rng.uniform(0, 1, Z), 1)  # few distinct values
    X[:, 0] = 0.0  # dead unit in every image
    X[1, 5] = X[0, 5]  # the same channel in two images
    X[-1, 7] = 0.5  # constant
    return X


@pytest.fixture
def split_small(monkeypatch):
    """Split even small inputs over the workers."""
    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ROWS", 1)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("arithmetic", ["fast", "reference"])
def test_batched_across_images_equals_per_image(split_small, workers, arithmetic):
    X = _synthetic()
    per_image = np.stack([unit_peak_counts(x, arithmetic=arithmetic) for x in X])
    np.testing.assert_array_equal(unit_peak_counts_batch(X, workers=workers, arithmetic=arithmetic), per_image)


def test_batched_options_pass_through(split_small):
    X = _synthetic(n_images=2, C=24)
    for opts in ({"last_g_quirk": False}, {"matlab_binning": False}, {"degenerate": "matlab"}):
        per_image = np.stack([unit_peak_counts(x, **opts) for x in X])
        np.testing.assert_array_equal(unit_peak_counts_batch(X, workers=2, **opts), per_image)


def test_workers_from_environment(monkeypatch):
    monkeypatch.setenv("ADVISE_BENCH_KDE_WORKERS", "3")
    assert parallel.kde_workers() == 3
    monkeypatch.setenv("ADVISE_BENCH_KDE_WORKERS", "0")
    assert parallel.kde_workers() == 1
    monkeypatch.delenv("ADVISE_BENCH_KDE_WORKERS")
    assert 1 <= parallel.kde_workers() <= parallel._MAX_WORKERS


def test_batch_shape_checked():
    with pytest.raises(ValueError, match=r"\(N, C, Z\)"):
        unit_peak_counts_batch(np.zeros((4, 9)))


@pytest.mark.parametrize("grouping", ["kde", "random"])
def test_unit_scores_batch_equals_per_image(split_small, grouping):
    X = _synthetic(n_images=2, C=30)
    hwc = X.transpose(0, 2, 1).reshape(2, 7, 7, 30)
    batched = unit_scores_batch(hwc, grouping, seed=3)
    for b, a in zip(batched, hwc, strict=True):
        np.testing.assert_array_equal(b, unit_scores(a, grouping, 3))


def test_real_out_relu_batched_in_workers(mobilenet_v2_real, ilsvrc_images):
    """Three real MobileNetV2 ``out_relu`` maps (1,280 channels of 49 samples), batched and split over
    two workers by the default threshold: the counts of the images one by one."""
    import keras

    sub = keras.Model(mobilenet_v2_real.inputs, mobilenet_v2_real.get_layer("out_relu").output)
    x = np.stack([img for img, _ in ilsvrc_images[:3]]).astype("float32")
    a = np.asarray(sub.predict(keras.applications.mobilenet_v2.preprocess_input(x), verbose=0))
    X = a.reshape(3, -1, a.shape[-1]).transpose(0, 2, 1)
    per_image = np.stack([unit_peak_counts(x) for x in X])
    np.testing.assert_array_equal(unit_peak_counts_batch(X, workers=2), per_image)


def test_a_failing_worker_is_replaced(split_small):
    """A worker that dies is replaced on the next call; an estimate error in a worker is raised here."""
    X = _synthetic(n_images=2, C=20)
    expected = np.stack([unit_peak_counts(x) for x in X])
    np.testing.assert_array_equal(unit_peak_counts_batch(X, workers=2), expected)
    parallel._workers[0].proc.kill()
    parallel._workers[0].proc.wait()
    np.testing.assert_array_equal(unit_peak_counts_batch(X, workers=2), expected)  # fell back here
    np.testing.assert_array_equal(unit_peak_counts_batch(X, workers=2), expected)  # fresh workers
    assert all(w.proc.poll() is None for w in parallel._workers)


def test_two_threads_share_the_workers(split_small):
    """ADVISE's KDE thread and the main thread (the CAM-groups control) may estimate at once: each gets its own
    counts; the workers' channels serve one estimate at a time."""
    import threading

    inputs = [_synthetic(n_images=3, C=120, seed=s) for s in range(6)]
    expected = [np.stack([unit_peak_counts(x) for x in X]) for X in inputs]
    got = {}

    def estimate(i):
        got[i] = unit_peak_counts_batch(inputs[i], workers=2)

    threads = [threading.Thread(target=estimate, args=(i,), daemon=True) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(got) == list(range(len(inputs)))  # no thread stuck on a channel another was reading
    for i, want in enumerate(expected):
        np.testing.assert_array_equal(got[i], want)
