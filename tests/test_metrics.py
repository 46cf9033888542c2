"""Hand-computed values for every metric and every branch of both protocols' penalty rules."""

import numpy as np
import pytest

from advise_bench.errors import UserError
from advise_bench.metrics import core
from advise_bench.metrics.protocol import PROTOCOLS, get_protocol, penalise, score_explanation
from advise_bench.metrics.summary import MeanCI

REF, COR = PROTOCOLS["reference"], PROTOCOLS["corrected"]


def test_protocols_by_name_and_their_choices():
    assert get_protocol("reference") is REF and get_protocol("corrected") is COR
    assert (REF.mask, REF.average_drop, REF.penalty, REF.ssim) == ("binary", "max-class", "reference", "volume")
    assert (COR.mask, COR.average_drop, COR.penalty, COR.ssim) == ("soft", "target-class", "never-improves",
                                                                    "per-channel")
    with pytest.raises(UserError):
        get_protocol("paper")


def test_metric_metadata_gives_arrows():
    assert core.METRICS["AD"].arrow == "↓" and core.METRICS["MSE"].arrow == "↓"
    assert core.METRICS["SSIM"].arrow == "↑" and core.METRICS["AVX"].arrow == "↑"


def test_masks_by_hand():
    img = np.array([[[100, 100, 100], [200, 200, 200]]], np.uint8)
    sal = np.array([[0.49, 0.5]])
    assert core.binary_mask(img, sal).tolist() == [[[0, 0, 0], [200, 200, 200]]]  # MATLAB rounds 0.5 up
    assert core.soft_mask(img, sal).tolist() == [[[49, 49, 49], [100, 100, 100]]]


def test_mse_average_drop_and_avx_by_hand():
    a = np.zeros((1, 2, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    assert core.mse(a, b) == pytest.approx(1 / 6)
    assert core.average_drop(0.8, 0.2) == pytest.approx(0.75)
    assert core.average_drop(0.5, 0.9) == 0.0  # confidence rose: no drop
    # 4 / (1/0.5 + 1/0.5 + 1/0.5 + 1/0.5) = 0.5
    assert core.avx(ad=0.5, ssim=0.5, fsim_value=0.5, mse_value=0.5) == pytest.approx(0.5)
    # 4 / (1/0.2 + 1/0.4 + 1/0.9 + 1/0.75) = 4 / 9.9444...
    assert core.avx(0.25, 0.2, 0.4, 0.1) == pytest.approx(4 / (5 + 2.5 + 1 / 0.9 + 4 / 3))
    assert core.avx(1.0, 0.5, 0.5, 0.5) == 0.0 and core.avx(0.1, 0.0, 0.5, 0.5) == 0.0


def test_ssim_can_be_negative_and_avx_is_then_0_without_a_penalty():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    inverted = 255 - image  # anti-correlated with the image everywhere
    for value in (core.ssim_volume(image, inverted), core.ssim_channels(image, inverted)):
        assert core.METRICS["SSIM"].lo <= value < 0
    assert (core.METRICS["SSIM"].lo, core.METRICS["SSIM"].hi) == (-1.0, 1.0)
    assert core.avx(ad=0.1, ssim=-0.004, fsim_value=0.6, mse_value=0.2) == 0.0


def test_avx_zero_causes_tell_the_penalty_from_a_term():
    avx = [0.0, 0.0, 0.0, 0.4, np.nan]
    penalty = ["zeroed", "none", "scaled", "zeroed", "zeroed"]
    by_penalty, by_term = core.avx_zero_causes(avx, penalty)
    assert by_penalty.tolist() == [True, False, False, False, False]
    assert by_term.tolist() == [False, True, True, False, False]


def test_class_sensitivity_by_hand():
    m1 = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert core.class_sensitivity(m1, m1) == pytest.approx(1.0)
    assert core.class_sensitivity(m1, 1 - m1) == pytest.approx(-1.0)
    m2 = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert core.class_sensitivity(m1, m2) == pytest.approx(0.0)
    assert core.cs_passes(0.55, False) and not core.cs_passes(-0.56, False)
    flat = np.zeros((2, 2))
    assert core.class_sensitivity(m1, flat) == 0.0  # NaN reported as 0 ...
    assert not core.cs_passes(0.0, core.is_constant(flat))  # ... and the check fails


def test_hit():
    p = np.array([0.3, 0.25, 0.2, 0.1, 0.08, 0.07])
    assert core.hit(4, p) and not core.hit(5, p)


VALUES = {"AD": 0.2, "SSIM": 0.5, "FSIM": 0.6, "MSE": 0.3}


@pytest.mark.parametrize("protocol", [REF, COR])
def test_penalty_hit_changes_nothing(protocol):
    assert penalise(VALUES, True, False, 0.9, 0.1, protocol) == (VALUES, "none", 1.0)


@pytest.mark.parametrize("protocol", [REF, COR])
def test_penalty_miss_and_cs_fails_zeroes(protocol):
    vals, kind, d = penalise(VALUES, False, False, 0.9, 0.1, protocol)
    assert vals == {"AD": 1.0, "SSIM": 0.0, "FSIM": 0.0, "MSE": 1.0} and kind == "zeroed"


def test_penalty_reference_scales_everything_which_improves_ad_and_mse():
    vals, kind, d = penalise(VALUES, False, True, 0.9, 0.4, REF)
    assert kind == "scaled" and d == pytest.approx(0.5)
    assert vals == pytest.approx({"AD": 0.1, "SSIM": 0.25, "FSIM": 0.3, "MSE": 0.15})
    assert vals["AD"] < VALUES["AD"] and vals["MSE"] < VALUES["MSE"]  # the documented bug


def test_penalty_corrected_never_improves():
    vals, kind, d = penalise(VALUES, False, True, 0.9, 0.4, COR)
    assert d == pytest.approx(0.5)
    assert vals == pytest.approx({"AD": 1 - 0.5 * 0.8, "SSIM": 0.25, "FSIM": 0.3, "MSE": 1 - 0.5 * 0.7})
    for k in ("AD", "MSE"):
        assert vals[k] >= VALUES[k]
    for k in ("SSIM", "FSIM"):
        assert vals[k] <= VALUES[k]


def _probs(top, n=10, p=0.6):
    v = np.full(n, (1 - p) / (n - 1))
    v[top] = p
    return v


def test_score_explanation_reference_vs_corrected_average_drop():
    from skimage import data, transform

    img = (transform.resize(data.astronaut(), (64, 64)) * 255).astype(np.uint8)
    sal = np.zeros((64, 64))
    sal[16:48, 16:48] = 1.0
    sal2 = np.zeros((64, 64))
    sal2[:16, :] = 1.0
    probs = _probs(3, p=0.8)
    masked_probs = _probs(7, p=0.5)  # another class wins, but class 3 is still in the top 5
    masked_probs[3] = 0.2
    masked_probs /= masked_probs.sum()
    for proto in (REF, COR):
        masked = core.binary_mask(img, sal) if proto.mask == "binary" else core.soft_mask(img, sal)
        res = score_explanation(img, masked, sal, sal2, probs, masked_probs, proto)
        o = masked_probs.max() if proto is REF else masked_probs[3]
        assert res["Hit"] and res["penalty"] == "none"
        assert res["AD"] == pytest.approx((0.8 - o) / 0.8)
        assert res["MSE"] == pytest.approx(core.mse(img, masked))
        assert res["AVX"] == pytest.approx(core.avx(res["AD"], res["SSIM"], res["FSIM"], res["MSE"]))
        assert 0 < res["SSIM"] < 1 and 0 < res["FSIM"] < 1


def test_score_explanation_for_a_given_target_and_without_a_top_2_map():
    """`score` scores a map for another class than the top-1, and maps without a second one (no CS check)."""
    from skimage import data, transform

    img = (transform.resize(data.astronaut(), (64, 64)) * 255).astype(np.uint8)
    sal = np.zeros((64, 64))
    sal[16:48, 16:48] = 1.0
    probs = _probs(3, p=0.8)
    probs[5] = 0.1
    # Neither class 3 nor class 5 is in the masked top 5 (classes 7, 0, 1, 2, 4): a miss either way.
    masked_probs = np.array([0.05, 0.04, 0.03, 0.001, 0.02, 0.002, 0.01, 0.8, 0.009, 0.008])
    masked = core.binary_mask(img, sal)
    for target, y_c in ((None, 0.8), (5, 0.1)):
        res = score_explanation(img, masked, sal, None, probs, masked_probs, REF, target=target)
        o = masked_probs.max()  # the reference protocol's o
        d = 1 - abs(y_c - o)
        assert np.isnan(res["CS_r"]) and res["CS_pass"] is None and not res["Hit"]
        assert res["penalty"] == "scaled" and res["penalty_d"] == pytest.approx(d)  # never zeroed: CS unknown
        assert res["raw_AD"] == pytest.approx(max(0.0, y_c - o) / y_c) and res["AD"] == pytest.approx(res["raw_AD"] * d)
    masked_probs[5] = 0.045  # class 5 is now in the masked top 5: a hit for target 5 only
    assert score_explanation(img, masked, sal, None, probs, masked_probs, REF, target=5)["Hit"]
    assert not score_explanation(img, masked, sal, None, probs, masked_probs, REF)["Hit"]


def test_ssim_identity_is_exactly_one_and_modes_differ():
    from skimage import data

    img = data.astronaut()[:128, :128]
    assert core.ssim_volume(img, img) == 1.0
    assert core.ssim_channels(img, img) == 1.0
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    v, c = core.ssim_volume(img, noisy), core.ssim_channels(img, noisy)
    assert 0 < v < 1 and 0 < c < 1 and v != c


def test_ssim_volume_matches_a_direct_formula():
    """Independent check of the volume SSIM: explicit 11x11x11 Gaussian weights with replicate padding."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (12, 13, 3)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 30, x.shape), 0, 255)
    r = np.arange(-5, 6)
    g = np.exp(-(r**2) / (2 * 1.5**2))
    g /= g.sum()
    w = g[:, None, None] * g[None, :, None] * g[None, None, :]

    def blur(v):
        p = np.pad(v, 5, mode="edge")
        out = np.empty_like(v)
        for i in range(v.shape[0]):
            for j in range(v.shape[1]):
                for k in range(v.shape[2]):
                    out[i, j, k] = (p[i:i + 11, j:j + 11, k:k + 11] * w).sum()
        return out

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    sx, sy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    expected = (((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sx + sy + c2))).mean()
    assert core.ssim_volume(x.astype(np.uint8), y.astype(np.uint8)) == pytest.approx(
        core.ssim_volume(x, y), abs=1e-2)
    assert core.ssim_volume(x, y) == pytest.approx(expected, rel=1e-10)


def test_mean_ci_accumulator():
    acc = MeanCI()
    for v in (1.0, 2.0, 3.0, float("nan")):
        acc.update(v)
    s = acc.summary()
    assert s["n"] == 3 and s["mean"] == pytest.approx(2.0)
    assert s["ci95"] == pytest.approx(4.302652729911275 * 1.0 / np.sqrt(3))  # t_{0.975,2} * sd / sqrt(n)


def test_fsim_of_a_mask_that_keeps_nothing_is_zero():
    from skimage import data

    img = data.astronaut()[:64, :64]
    assert core.fsim(img, np.zeros_like(img)) == 0.0
    assert core.fsim(np.zeros_like(img), np.zeros_like(img)) == 1.0


def test_degenerate_images_are_constant_per_channel():
    black = np.zeros((4, 5, 3), np.uint8)
    white = np.full((4, 5, 3), 255, np.uint8)
    flat_colour = np.broadcast_to(np.array([10, 200, 30], np.uint8), (4, 5, 3))  # channels differ, each flat
    assert core.is_degenerate_image(black) and core.is_degenerate_image(white)
    assert core.is_degenerate_image(flat_colour) and core.is_degenerate_image(np.full((3, 3), 7, np.uint8))
    one_pixel_off = white.copy()
    one_pixel_off[3, 4, 2] = 254
    assert not core.is_degenerate_image(one_pixel_off)
    assert not core.is_degenerate_image(np.arange(9, dtype=np.uint8).reshape(3, 3))


def test_row_status_checks_the_image_before_the_map():
    image = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    flat_map, good_map = np.full((2, 2), 0.3), np.array([[0.0, 1.0], [0.5, 0.2]])
    assert core.row_status(np.zeros((2, 2, 3), np.uint8), flat_map) == core.STATUS_DEGENERATE_IMAGE
    assert core.row_status(image, flat_map) == core.STATUS_DEGENERATE_MAP == "degenerate_map"
    assert core.row_status(image, good_map) == core.STATUS_OK
    assert core.STATUS_DEGENERATE_IMAGE == "degenerate_image"


def test_map_similarity_agrees_with_scipy_and_scikit_image():
    """The sanity check's measures are scipy's Spearman and scikit-image's SSIM (data range 1) of the maps,
    with the check's conventions for constant maps."""
    from scipy.stats import spearmanr
    from skimage.metrics import structural_similarity

    from advise_bench.metrics.similarity import spearman, ssim

    rng = np.random.default_rng(0)
    a, b = rng.random((2, 24, 24))
    tied = np.round(a * 4) / 4  # many ties: scipy averages their ranks
    for x, y in ((a, b), (a, tied), (a, 0.3 * a + 0.7 * b)):
        assert spearman(x, y) == pytest.approx(spearmanr(x.ravel(), y.ravel()).statistic, abs=1e-12)
        assert ssim(x, y) == pytest.approx(structural_similarity(x, y, data_range=1.0), abs=1e-12)
    assert spearman(a, a) == 1.0 and spearman(a, 1 - a) == pytest.approx(-1.0)
    flat = np.full_like(a, 0.5)
    assert spearman(a, flat) == 0.0 and spearman(flat, a) == 0.0 and spearman(flat, flat.copy()) == 1.0
    assert ssim(a, a) == pytest.approx(1.0)
