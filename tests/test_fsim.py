"""FSIM / FSIMc (advise_bench.metrics.fsim) against the behaviour of the authors' FeatureSIM.m."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import convolve2d
from skimage import data, transform
from skimage.filters import gaussian

from advise_bench.metrics import fsim as fsim_module
from advise_bench.metrics.fsim import downsample_factor, fsim, fsim_pair, fsimc

REPO = Path(__file__).resolve().parent.parent
PHOTOS = ("astronaut", "chelsea", "coffee")


def _photo(name: str, size: int | None = 224) -> np.ndarray:
    img = getattr(data, name)()
    if size is not None:
        img = transform.resize(img, (size, size), anti_aliasing=True, preserve_range=True)
        img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return img


@pytest.fixture(scope="module")
def photos224() -> dict[str, np.ndarray]:
    return {name: _photo(name) for name in PHOTOS}


def _noisy(x: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(x + rng.normal(0.0, sigma, x.shape), 0, 255)


def _blurred(x: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian(x.astype(np.float64), sigma=sigma, channel_axis=-1, preserve_range=True)


def _block_mask(shape: tuple[int, int], keep: float, seed: int, cell: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cells = rng.random((shape[0] // cell + 1, shape[1] // cell + 1)) < keep
    return np.kron(cells, np.ones((cell, cell), dtype=bool))[: shape[0], : shape[1]]


# --- identity: exactly 1, with no short-circuit in the code ---------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
def test_identity_224(photos224, name):
    x = photos224[name]
    assert fsim_pair(x, x) == (1.0, 1.0)
    assert fsim_pair(x.astype(np.float64), x.astype(np.float64).copy()) == (1.0, 1.0)


@pytest.mark.parametrize("name", PHOTOS)
def test_identity_original_size(name):
    # astronaut 512x512 (F=2), chelsea 300x451 (F=1, odd width), coffee 400x600 (F=2).
    x = _photo(name, None)
    assert fsim(x, x.copy()) == 1.0
    assert fsimc(x, x.copy()) == 1.0


@pytest.mark.parametrize("shape", [(224, 224, 3), (97, 131, 3), (224, 224)])
def test_identity_random_noise(shape):
    x = np.random.default_rng(7).integers(0, 256, shape).astype(np.uint8)
    assert fsim_pair(x, x.copy()) == (1.0, 1.0)


def test_identity_greyscale_fsimc_equals_fsim(photos224):
    grey = photos224["chelsea"].mean(axis=-1)
    assert fsim_pair(grey, grey) == (1.0, 1.0)
    a, c = fsim_pair(grey, _noisy(grey, 10))
    assert a == c and 0.0 < a < 1.0


# --- monotonicity --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_monotone_in_gaussian_noise(photos224, name):
    x = photos224[name]
    scores = [fsim_pair(x, _noisy(x, s, seed=3)) for s in (5, 10, 20, 40)]
    for (f0, c0), (f1, c1) in zip(scores, scores[1:], strict=False):
        assert f1 < f0 and c1 < c0, scores
    assert all(0.0 < v < 1.0 for pair in scores for v in pair)


@pytest.mark.parametrize("name", ["chelsea", "astronaut"])
def test_monotone_in_gaussian_blur(photos224, name):
    x = photos224[name]
    scores = [fsim_pair(x, _blurred(x, s)) for s in (0.5, 1, 2, 4)]
    for (f0, c0), (f1, c1) in zip(scores, scores[1:], strict=False):
        assert f1 < f0 and c1 < c0, scores


def test_chroma_term_only_lowers_fsimc(photos224):
    x = photos224["coffee"].astype(np.float64)
    swapped = x[..., ::-1]  # same luminance up to weights, very different chroma
    f, c = fsim_pair(x, swapped)
    assert c < f
    # A pure luminance-preserving chroma change leaves FSIM at 1 exactly but lowers FSIMc.
    yiq = np.einsum("ij,hwj->hwi", fsim_module._YIQ, x)
    yiq[..., 1] *= 0.5
    rgb = np.einsum("ij,hwj->hwi", np.linalg.inv(fsim_module._YIQ), yiq)
    f2, c2 = fsim_pair(x, rgb)
    assert f2 == pytest.approx(1.0, abs=1e-12) and c2 < 0.999


# --- black / blank images --------------------------------------------------------------------------


def test_black_vs_black_is_one():
    black = np.zeros((224, 224, 3), np.uint8)
    assert fsim_pair(black, black) == (1.0, 1.0)
    assert fsim_pair(black[..., 0], black[..., 0]) == (1.0, 1.0)


def test_flat_grey_vs_black_is_zero():
    black = np.zeros((224, 224, 3), np.uint8)
    grey = np.full((224, 224, 3), 128, np.uint8)
    assert fsim_pair(grey, black) == (0.0, 0.0)
    assert fsim_pair(black, grey) == (0.0, 0.0)
    assert fsim_pair(grey, grey + 1) == (0.0, 0.0)
    assert fsim_pair(grey, grey.copy()) == (1.0, 1.0)


def test_black_vs_photo_is_finite(photos224):
    # The black image has PC = 0, so PCm is the photo's PC: the score is the PC-weighted mean of
    # T1/(PC^2+T1) * T2/(G^2+T2) (* the chroma term). About 0.39 (FSIM) / 0.38 (FSIMc) for astronaut.
    black = np.zeros((224, 224, 3), np.uint8)
    for x in photos224.values():
        for pair in (fsim_pair(x, black), fsim_pair(black, x)):
            for v in pair:
                assert math.isfinite(v) and 0.0 < v < 1.0
        assert fsim_pair(x, black) == pytest.approx(fsim_pair(black, x), abs=1e-12)
    f, c = fsim_pair(photos224["astronaut"], black)
    assert 0.3 < c <= f < 0.5


def test_masked_images_in_unit_range(photos224):
    for i, x in enumerate(photos224.values()):
        for j, keep in enumerate((0.0, 0.05, 0.3, 0.7, 1.0)):
            m = _block_mask(x.shape[:2], keep, seed=10 * i + j)
            masked = x * m[..., None]
            for v in fsim_pair(x, masked):
                assert math.isfinite(v) and 0.0 <= v <= 1.0, (keep, v)
            if keep == 1.0:
                assert fsim_pair(x, masked) == (1.0, 1.0)


def test_phase_congruency_of_flat_image_is_zero():
    pc = fsim_module.phase_congruency(np.full((2, 64, 80), 37.25))
    assert pc.shape == (2, 64, 80) and not pc.any()


# --- downsampling ----------------------------------------------------------------------------------


def test_downsample_factor_matches_matlab_round():
    assert downsample_factor(224, 224) == 1
    assert downsample_factor(383, 1000) == 1  # 1.496
    assert downsample_factor(384, 384) == 2  # 1.5 rounds up
    assert downsample_factor(512, 512) == 2
    assert downsample_factor(640, 900) == 3  # MATLAB round(2.5) = 3 (Python's round gives 2)


@pytest.mark.parametrize("f", [2, 3, 4])
@pytest.mark.parametrize("shape", [(12, 17), (16, 16), (9, 10)])
def test_matlab_downsample_equals_conv2_same(f, shape):
    x = np.random.default_rng(f).normal(size=shape)
    full = convolve2d(x, np.ones((f, f)) / f**2, mode="full")
    c = f // 2  # MATLAB conv2 'same' keeps full(floor(f/2)+1 : ..., ...)
    same = full[c : c + shape[0], c : c + shape[1]]
    expected = same[::f, ::f]
    got = fsim_module._matlab_downsample(x[None], f)[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_512_input_is_downsampled_by_two(monkeypatch):
    # For F = 2 and even sizes, FeatureSIM.m's average filter + decimation is a 2x2 block mean, so the
    # 512x512 scores must equal the scores of the block-averaged 256x256 images (where F = 1).
    x = _photo("astronaut", None).astype(np.float64)
    y = _noisy(x, 15, seed=5)

    def block_mean(a):
        return a.reshape(256, 2, 256, 2, 3).mean(axis=(1, 3))

    big = fsim_pair(x, y)
    small = fsim_pair(block_mean(x), block_mean(y))
    np.testing.assert_allclose(big, small, rtol=0, atol=1e-9)
    # ... and they differ from the scores at full resolution (downsampling switched off).
    monkeypatch.setattr(fsim_module, "downsample_factor", lambda h, w: 1)
    full = fsim_pair(x, y)
    assert abs(full[0] - big[0]) > 1e-3 and abs(full[1] - big[1]) > 1e-3


def test_gradient_matches_conv2_same():
    y = np.random.default_rng(3).normal(size=(1, 11, 14)) * 50
    dx = np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]]) / 16
    gx = convolve2d(y[0], dx, mode="same")
    gy = convolve2d(y[0], dx.T, mode="same")
    got = fsim_module._gradient_magnitude(y)[0]
    np.testing.assert_allclose(got, np.hypot(gx, gy), rtol=1e-12, atol=1e-12)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        fsim_pair(np.zeros((32, 32, 3)), np.zeros((32, 32)))
    with pytest.raises(ValueError):
        fsim_pair(np.zeros((32, 32, 4)), np.zeros((32, 32, 4)))


# --- independent implementation ------------------------------------------------------------------


def test_crosscheck_against_piq():
    """Runs tests/tools/crosscheck_fsim_piq.py (in a subprocess) where torch and piq are installed."""
    for mod in ("torch", "piq"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed; see tests/tools/crosscheck_fsim_piq.py")
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "tools" / "crosscheck_fsim_piq.py"), "--tol", "1e-3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
