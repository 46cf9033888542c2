"""Chance level and metric validity: the reference maps, the shuffled control and the validity verdicts."""

import numpy as np
import pandas as pd
import pytest

from advise_bench.explainers.controls import shuffle_cells, shuffled_maps
from advise_bench.explainers.reference import centre_map, keep_all_map
from advise_bench.method_kinds import method_kind, shuffled_name, shuffled_of
from advise_bench.metrics import core
from advise_bench.report.chance import (
    FAILS_BOTH,
    FAILS_CHANCE,
    FAILS_PROBE,
    PASSES,
    UNDECIDED,
    chance_comparisons,
    metric_validity,
)

# --------------------------------------------------------------------------- the maps


@pytest.mark.parametrize("size,grid", [(224, (7, 7)), (12, (3, 4)), (299, (10, 10))])
def test_the_shuffled_control_permutes_pixels_and_keeps_the_values(size, grid):
    rng = np.random.default_rng(1)
    maps = rng.random((2, size, size)).astype(np.float32)
    out = shuffle_cells(maps, grid, np.random.default_rng(7))
    assert out.shape == maps.shape and not np.array_equal(out, maps)
    for k in range(2):  # the multiset of values, so the area any threshold keeps
        np.testing.assert_array_equal(np.sort(out[k].ravel()), np.sort(maps[k].ravel()))
    # One permutation for every target: the top-1 / top-2 correlation (Class Sensitivity) is unchanged.
    assert core.class_sensitivity(out[0], out[1]) == pytest.approx(core.class_sensitivity(maps[0], maps[1]), abs=1e-9)


def test_the_shuffled_control_moves_whole_cells_of_the_layer_grid():
    """On a 4 x 4 image with a 2 x 2 grid, each 2 x 2 block lands whole somewhere (a hand-checkable case)."""
    maps = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    out = shuffle_cells(maps, (2, 2), np.random.default_rng(0))
    blocks = {tuple(maps[0, i:i + 2, j:j + 2].ravel()) for i in (0, 2) for j in (0, 2)}
    assert {tuple(out[0, i:i + 2, j:j + 2].ravel()) for i in (0, 2) for j in (0, 2)} == blocks


def test_the_shuffled_control_is_seeded_by_seed_and_image_id():
    maps = np.random.default_rng(0).random((2, 224, 224)).astype(np.float32)
    a = shuffled_maps(maps, (7, 7), 0, "img1")
    np.testing.assert_array_equal(a, shuffled_maps(maps, (7, 7), 0, "img1"))
    assert not np.array_equal(a, shuffled_maps(maps, (7, 7), 0, "img2"))
    assert not np.array_equal(a, shuffled_maps(maps, (7, 7), 1, "img1"))


def test_keep_all_passes_the_class_sensitivity_check_and_keeps_the_image():
    size = 224
    top1, top2 = keep_all_map(size, 3), keep_all_map(size, 7)
    assert top1.sum() == size * size - 1 and top1.flat[3] == 0 and top2.flat[7] == 0
    # Two maps of ones with one zero each, at different pixels: r = -1 / (N - 1) by hand.
    n = size * size
    assert core.class_sensitivity(top1, top2) == pytest.approx(-1.0 / (n - 1))
    assert core.cs_passes(core.class_sensitivity(top1, top2), False)
    image = np.random.default_rng(0).integers(1, 255, (size, size, 3)).astype(np.uint8)
    masked = core.binary_mask(image, top1)
    assert (masked != image).any(axis=-1).sum() == 1  # one pixel blacked out, the rest kept


def test_the_centre_prior_is_image_blind_and_centred():
    m = centre_map(224)
    assert m.max() == pytest.approx(1.0) and m.min() == 0.0
    np.testing.assert_allclose(m, m[::-1], atol=1e-6)
    np.testing.assert_allclose(m, m.T, atol=1e-6)
    kept = (np.floor(m + 0.5) > 0).mean()  # the reference protocol's binary mask
    assert 0.2 < kept < 0.35


def test_names_of_the_controls():
    assert shuffled_name("gradcam++") == "gradcam++-shuffled" and shuffled_of("gradcam++-shuffled") == "gradcam++"
    assert method_kind("keep-all") == "reference" and method_kind("lime-shuffled") == "shuffled"
    assert method_kind("lime") == "method" and shuffled_of("lime") is None


# --------------------------------------------------------------------------- the verdicts on constructed rows

N = 40


def _rows(values: dict[str, np.ndarray], metrics=("AVX",)) -> pd.DataFrame:
    frames = []
    for method, v in values.items():
        frame = pd.DataFrame({"image_id": [f"i{k:03d}" for k in range(N)], "method": method, "status": "ok",
                              "model": "m", "protocol": "reference", "weights": "imagenet"})
        for metric in metrics:
            frame[metric] = v
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _verdict(values, metric="AVX"):
    rows = _rows(values, (metric,))
    cmp = chance_comparisons(rows, n_resamples=2000)
    table = metric_validity(rows, cmp, n_resamples=2000)
    return table.set_index("metric").loc[metric], cmp


def _noise(mean, sd=0.05, seed=0):
    return np.clip(mean + np.random.default_rng(seed).normal(0, sd, N), 0, 1)


def test_a_metric_that_separates_methods_from_noise_and_the_probe_passes():
    r, cmp = _verdict({"a": _noise(0.6, seed=1), "b": _noise(0.55, seed=2), "c": _noise(0.5, seed=3),
                       "random": _noise(0.2, seed=4), "keep-all": _noise(0.1, seed=5), "centre": _noise(0.3, seed=6)})
    assert r["verdict"] == PASSES and r["beat_random"] == 3 and r["lose_to_random"] == 0
    assert r["random_rank"] == 5 and r["keep-all_rank"] == 6 and r["centre_rank"] == 4
    assert set(cmp["against"]) == {"chance"}  # no shuffled rows: no shuffled comparison


def test_a_metric_the_probe_games_fails_the_gaming_probe():
    base = {"a": _noise(0.6, seed=1), "b": _noise(0.55, seed=2), "random": _noise(0.2, seed=4)}
    r, _ = _verdict({**base, "keep-all": _noise(0.95, seed=5)})
    assert r["verdict"] == FAILS_PROBE and r["keep-all_rank"] == 1
    # Below the best mean but inside its 95% CI: still not told apart from the best method.
    best = base["a"]
    half = r["best_ci95"]
    r, _ = _verdict({**base, "keep-all": best - half / 2})
    assert r["verdict"] == FAILS_PROBE
    r, _ = _verdict({**base, "keep-all": best - 3 * half})
    assert r["verdict"] == PASSES


def test_a_metric_where_noise_scores_like_the_methods_fails_the_chance_test():
    r, _ = _verdict({"a": _noise(0.5, seed=1), "b": _noise(0.5, seed=2), "c": _noise(0.5, seed=3),
                     "random": _noise(0.5, seed=4), "keep-all": _noise(0.1, seed=5)})
    assert r["verdict"] == FAILS_CHANCE
    r, _ = _verdict({"a": _noise(0.5, seed=1), "b": _noise(0.5, seed=2), "random": _noise(0.7, seed=4),
                     "keep-all": _noise(0.9, seed=5)})
    assert r["verdict"] == FAILS_BOTH and r["lose_to_random"] == 2


def test_lower_is_better_metrics_are_tested_in_their_direction():
    # AD: lower is better. Methods low, random high, keep-all at 0 (the probe wins) -> fails the probe only.
    r, _ = _verdict({"a": _noise(0.3, seed=1), "b": _noise(0.35, seed=2), "random": _noise(0.7, seed=4),
                     "keep-all": np.zeros(N)}, metric="AD")
    assert r["verdict"] == FAILS_PROBE and r["beat_random"] == 2
    r, _ = _verdict({"a": _noise(0.3, seed=1), "b": _noise(0.35, seed=2), "random": _noise(0.7, seed=4),
                     "keep-all": _noise(0.9, seed=5)}, metric="AD")
    assert r["verdict"] == PASSES


def test_each_method_is_compared_with_its_shuffled_self():
    values = {"a": _noise(0.6, seed=1), "a-shuffled": _noise(0.4, seed=2), "b": _noise(0.5, seed=3),
              "b-shuffled": _noise(0.5, seed=4), "random": _noise(0.2, seed=5)}
    _, cmp = _verdict(values)
    shuffled = cmp[cmp["against"] == "shuffled"].set_index("method")
    assert shuffled.loc["a", "verdict"] == "yes" and shuffled.loc["b", "verdict"] == "not shown"
    assert shuffled.loc["a", "mean_diff"] == pytest.approx((values["a"] - values["a-shuffled"]).mean())
    assert set(cmp["method"]) == {"a", "b"}  # the controls and reference maps are no subjects


def test_the_advise_comparisons_leave_the_chance_rows_out():
    from advise_bench.report.compare import compare_with_advise

    rows = _rows({"advise": _noise(0.6, seed=1), "gradcam": _noise(0.5, seed=2), "random": _noise(0.2, seed=3),
                  "gradcam-shuffled": _noise(0.3, seed=4), "keep-all": _noise(0.9, seed=5)})
    assert set(compare_with_advise(rows, n_resamples=200)["baseline"]) == {"Grad-CAM"}


def test_the_report_shows_the_chance_block_and_one_validity_line_per_metric(tmp_path):
    from advise_bench.report.build import build_report, terminal_summary

    values = {"advise": _noise(0.6, seed=1), "gradcam": _noise(0.5, seed=2), "advise-shuffled": _noise(0.4, seed=3),
              "random": _noise(0.3, seed=4), "centre": _noise(0.2, seed=5), "keep-all": _noise(0.95, seed=6)}
    rows = _rows(values, ("AD", "SSIM", "FSIM", "MSE", "AVX", "Hit", "CS_pass"))
    folder = tmp_path / "m"
    folder.mkdir()
    for method, g in rows.drop(columns="weights").groupby("method"):
        g.to_csv(folder / f"{method}.csv", index=False)
    table, paths = build_report(tmp_path, n_resamples=500)
    assert list(table["method"]) == ["ADVISE", "Grad-CAM", "Random", "Centre", "Keep-all (probe)"]
    markdown = paths["markdown"].read_text()
    assert markdown.index("Grad-CAM") < markdown.index("*chance and probes*") < markdown.index("Random")
    summary = terminal_summary(table, paths)
    names = ["AD", "SSIM", "FSIM", "MSE", "AVX", "Hit", "CS_pass"]
    lines = [line for line in summary.splitlines() if line.split(" ")[0] in names and ("fails" in line or "passes" in line)]
    assert [line.split()[0] for line in lines] == names
    # keep-all at 0.95 on every metric games the higher-is-better ones; on AD and MSE 0.95 is the worst value.
    for line in lines:
        assert (FAILS_PROBE in line) == ("↑" in line), line
    report = paths["report"].read_text()
    assert "ADVISE (shuffled)" in paths["chance"].read_text() and "Chance level and metric validity" in report


def test_below_six_images_the_chance_test_is_undecided_not_failed():
    rows = _rows({"a": _noise(0.6, seed=1), "b": _noise(0.55, seed=2), "random": _noise(0.2, seed=4),
                  "keep-all": _noise(0.95, seed=5)})
    rows = rows[rows["image_id"].isin([f"i{k:03d}" for k in range(5)])]  # 5 images: random is far below, yet
    cmp = chance_comparisons(rows, n_resamples=500)
    r = metric_validity(rows, cmp, n_resamples=500).set_index("metric").loc["AVX"]
    assert r["verdict"] == f"{UNDECIDED}; {FAILS_PROBE}" and r["chance_fails"] is None
