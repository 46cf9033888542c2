"""Deletion and insertion curves on a toy linear model whose exact curves are computed by hand."""

import numpy as np
import pytest

from advise_bench.errors import UserError
from advise_bench.metrics import faithfulness as F
from advise_bench.metrics.core import METRICS


class LinearToy:
    """p(target 0) = sum over pixels of w * grey / 255 (weights sum to 1), so every curve point is a hand sum."""

    def __init__(self, weights):
        self.weights = np.asarray(weights, np.float64)
        self.calls = []

    def __call__(self, images):
        images = np.asarray(images, np.float64)
        self.calls.append(len(images))
        p = (images.mean(axis=-1) * self.weights).sum(axis=(1, 2)) / 255.0
        return np.stack([p, 1.0 - p], axis=1)


GREY = np.array([[200.0, 100.0], [50.0, 255.0]])
WEIGHTS = np.array([[0.4, 0.3], [0.2, 0.1]])
# Map order: (0,0) 0.9, (1,1) 0.7, (1,0) 0.5, (0,1) 0.1. Contributions w * grey: 80, 30, 10, 25.5 (total 145.5).
SALIENCY = np.array([[0.9, 0.1], [0.5, 0.7]])


def _image(grey):
    return np.repeat(np.asarray(grey)[..., None], 3, axis=-1).astype(np.uint8)


def test_metric_declarations_and_option_names():
    assert METRICS["deletion_auc"].arrow == "↓" and METRICS["insertion_auc"].arrow == "↑"
    assert F.parse_extra_metrics("deletion,insertion") == ("deletion", "insertion")
    assert F.parse_extra_metrics(["insertion", "deletion, insertion"]) == ("insertion", "deletion")
    assert F.parse_extra_metrics(None) == ()
    with pytest.raises(UserError, match="unknown extra metric"):
        F.parse_extra_metrics("deletion,rise")


def test_chunks_and_ranks():
    assert F.chunk_bounds(10, 4).tolist() == [0, 2, 5, 7, 10]
    assert F.chunk_bounds(4, 4).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(UserError):
        F.chunk_bounds(4, 0)
    assert F.pixel_order(SALIENCY).tolist() == [0, 3, 2, 1]
    assert F.pixel_order(np.array([[0.5, 0.5], [0.5, 1.0]])).tolist() == [3, 0, 1, 2]  # ties: row-major


def test_progressive_images_equal_a_masked_select():
    """Reference: image k takes a pixel from finish exactly when its rank in map order is below bounds[k]."""
    rng = np.random.default_rng(3)
    start, finish = rng.random((5, 7, 3)), rng.random((5, 7, 3))
    saliency = rng.integers(0, 4, size=(5, 7)).astype(float)  # ties too
    order, bounds = F.pixel_order(saliency), F.chunk_bounds(35, 6)
    ranks = np.empty(35, int)
    ranks[order] = np.arange(35)
    changed = ranks.reshape(5, 7)[None, :, :, None] < bounds[:, None, None, None]
    want = np.where(changed, finish[None], start[None]).astype(np.float32)
    got = np.empty((7, 5, 7, 3), np.float32)
    F.fill_progressive(got, start, finish, order, bounds)
    assert np.array_equal(got, want)


def test_curves_by_hand_one_pixel_per_step():
    model = LinearToy(WEIGHTS)
    start = np.full((2, 2, 3), 40.0)  # insertion from a flat grey instead of the blur: contributions 0.4 w
    curves = F.faithfulness_curves(_image(GREY), SALIENCY, 0, model, n_steps=4, insertion_start=start)
    assert model.calls == [10]  # both curves in one batched call: 2 * (4 + 1) images
    assert curves["deletion"].fractions.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert curves["deletion"].probs == pytest.approx(np.array([145.5, 65.5, 40, 30, 0]) / 255, abs=1e-6)
    # inserted contributions + 40 * (weight not yet inserted)
    want_insertion = np.array([40, 80 + 24, 105.5 + 20, 115.5 + 12, 145.5]) / 255
    assert curves["insertion"].probs == pytest.approx(want_insertion, abs=1e-6)
    # trapezoids of width 1/4
    assert curves["deletion"].auc == pytest.approx(0.25 * (145.5 / 2 + 65.5 + 40 + 30 + 0) / 255, abs=1e-6)
    assert curves["insertion"].auc == pytest.approx(0.25 * (20 + 104 + 125.5 + 127.5 + 145.5 / 2) / 255, abs=1e-6)


def test_curves_by_hand_two_pixels_per_step_and_one_kind():
    model = LinearToy(WEIGHTS)
    curves = F.faithfulness_curves(_image(GREY), SALIENCY, 0, model, kinds=["deletion"], n_steps=2)
    assert list(curves) == ["deletion"] and model.calls == [3]
    assert curves["deletion"].probs == pytest.approx(np.array([145.5, 40, 0]) / 255, abs=1e-6)
    # the other class's probability is 1 - p
    other = F.faithfulness_curves(_image(GREY), SALIENCY, 1, model, kinds=["deletion"], n_steps=2)
    assert other["deletion"].probs == pytest.approx(1 - np.array([145.5, 40, 0]) / 255, abs=1e-6)


def test_blur_is_a_normalised_gaussian_of_sigma_5_and_radius_5():
    impulse = np.zeros((21, 21, 3), np.uint8)
    impulse[10, 10] = 255
    out = F.blurred(impulse)
    taps = np.exp(-np.arange(-5, 6) ** 2 / (2 * 5.0**2))
    w = taps / taps.sum()
    assert out[10, 10] == pytest.approx(np.full(3, 255 * w[5] ** 2), rel=1e-5)
    assert out[10, 13] == pytest.approx(np.full(3, 255 * w[5] * w[8]), rel=1e-5)
    assert np.all(out[10, 16] == 0) and np.all(out[4, 10] == 0)  # beyond radius 5
    flat = np.full((6, 6, 3), 77, np.uint8)
    assert F.blurred(flat) == pytest.approx(flat.astype(np.float32))  # edges replicated: no darkening


def test_default_insertion_starts_from_the_blur_and_ends_at_the_image():
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, size=(8, 8)).astype(float)
    weights = rng.random((8, 8))
    model = LinearToy(weights / weights.sum())
    image = _image(grey)
    curves = F.faithfulness_curves(image, rng.random((8, 8)), 0, model, n_steps=8)
    p_image = model(image[None])[0, 0]
    p_blur = model(F.blurred(image)[None])[0, 0]
    assert curves["insertion"].probs[0] == pytest.approx(p_blur) and curves["insertion"].probs[-1] == pytest.approx(
        p_image)
    assert curves["deletion"].probs[0] == pytest.approx(p_image) and curves["deletion"].probs[-1] == 0.0


def test_a_perfect_map_beats_a_random_map_on_both():
    """A bright object on a noisy dark background; the toy model looks at the object only, so the map that
    marks the object is the perfect one."""
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 80, size=(16, 16)).astype(float)
    grey[4:9, 6:11] = 230
    weights = np.zeros((16, 16))
    weights[4:9, 6:11] = 1 / 25
    model = LinearToy(weights)
    image = _image(grey)
    perfect = F.faithfulness_scores(image, weights, 0, model)
    assert set(perfect) == {"deletion_auc", "insertion_auc"}
    for _ in range(5):
        random_map = F.faithfulness_scores(image, rng.random((16, 16)), 0, model)
        assert perfect["deletion_auc"] < random_map["deletion_auc"]
        assert perfect["insertion_auc"] > random_map["insertion_auc"]


def test_map_must_match_the_image():
    with pytest.raises(ValueError, match="map shape"):
        F.faithfulness_curves(_image(GREY), np.zeros((3, 3)), 0, LinearToy(WEIGHTS))
