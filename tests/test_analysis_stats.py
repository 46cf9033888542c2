"""Statistics of `sanity` and `ablate` on constructed cases: no real model, known answers.

Oracles are independent of the code under test: scipy's Wilcoxon test, Holm's correction by hand, counts
by hand, and invariants (order of rows, chunking, resuming)."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from advise_bench.analysis import sanity as sanity_mod
from advise_bench.analysis.ablation import summarize_ablation
from advise_bench.analysis.sanity import FAIL, MIN_IMAGES, PASS, UNDECIDED, spearman, ssim, summarize, verdicts
from advise_bench.errors import UserError
from advise_bench.report import stats

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = {"n_resamples": 2000}  # the bootstrap's size does not matter to these cases; its cost does


# ---------------------------------------------------------------- sanity: constructed per-image rows
def _rows_from_maps(label, trained, maps_per_step):
    """Per-image rows as the check writes them, similarities computed from constructed maps."""
    rows = []
    for step, maps in enumerate(maps_per_step):
        for i, (a, b) in enumerate(zip(trained, maps, strict=True)):
            rows.append({"image_id": f"img{i:02d}", "series": label, "method": label, "selection": "", "step": step,
                         "randomized": "none (trained)" if step == 0 else f"step {step}", "layers": step,
                         "target": 0, "spearman": spearman(a, b), "ssim": ssim(a, b)})
    return rows


def _noise(rng, n):
    return rng.random((n, 32, 32))


def _constructed(n_images, steps=3, seed=0):
    """Two series: 'unchanged' keeps the trained maps under randomisation; 'noise' gets fresh noise
    at every randomised step (what a method that depends only on the weights does)."""
    rng = np.random.default_rng(seed)
    trained = _noise(rng, n_images)
    unchanged = _rows_from_maps("unchanged", trained, [trained] * (steps + 1))
    noise = _rows_from_maps("noise", trained, [trained] + [_noise(rng, n_images) for _ in range(steps)])
    return pd.DataFrame(unchanged + noise)


def _verdict_of(table, label):
    return table.set_index("series").loc[label]


def test_maps_unchanged_by_randomisation_fail_and_maps_turned_noise_pass():
    table = verdicts(_constructed(10), **FAST)
    unchanged, noise = _verdict_of(table, "unchanged"), _verdict_of(table, "noise")
    assert unchanged["verdict"] == FAIL and unchanged["spearman_full_cascade"] == 1.0
    assert noise["verdict"] == PASS, noise["reason"]
    assert noise["spearman_full_cascade_ci_high"] < 0.5 and abs(noise["spearman_full_cascade"]) < 0.1


@pytest.mark.parametrize("n_images", [1, 2, MIN_IMAGES - 1])
def test_a_tiny_number_of_images_is_undecided_whatever_the_maps(n_images):
    table = verdicts(_constructed(n_images), **FAST)
    assert set(table["verdict"]) == {UNDECIDED}
    assert all(f"at least {MIN_IMAGES}" in r for r in table["reason"])


def test_min_images_is_where_wilcoxon_can_first_reach_5_percent():
    # scipy's exact two-sided p for n differences all of one sign is 2 / 2^n
    assert scipy_stats.wilcoxon(np.arange(1.0, MIN_IMAGES)).pvalue > 0.05
    assert scipy_stats.wilcoxon(np.arange(1.0, MIN_IMAGES + 1)).pvalue < 0.05


def _direct_rows(label, first, last):
    """Rows with given Spearman values after step 1 and after the full cascade (step 2)."""
    rows = []
    for i, (a, b) in enumerate(zip(first, last, strict=True)):
        for step, value in ((0, 1.0), (1, a), (2, b)):
            rows.append({"image_id": f"i{i:02d}", "series": label, "method": label, "selection": "", "step": step,
                         "randomized": str(step), "layers": step, "target": 0, "spearman": value, "ssim": value})
    return pd.DataFrame(rows)


def test_recovery_after_step_1_blocks_a_pass_and_matches_scipy():
    rng = np.random.default_rng(1)
    first = rng.uniform(0.0, 0.1, 12)
    last = first + rng.uniform(0.1, 0.2, 12)  # still below 0.5, but every image more similar than after step 1
    row = _verdict_of(verdicts(_direct_rows("recovering", first, last), **FAST), "recovering")
    assert row["spearman_full_cascade_ci_high"] < 0.5
    assert row["recovery_wilcoxon_p"] == pytest.approx(scipy_stats.wilcoxon(last - first).pvalue, rel=1e-12)
    assert row["recovery_wilcoxon_p"] < 0.05 and row["recovery"] == pytest.approx(np.mean(last - first))
    assert row["verdict"] == UNDECIDED and "significantly more similar" in row["reason"]
    # The same values without the recovery (full cascade below step 1) pass.
    row = _verdict_of(verdicts(_direct_rows("falling", last, first), **FAST), "falling")
    assert row["verdict"] == PASS


def test_a_ci_containing_the_threshold_is_undecided():
    last = np.linspace(0.2, 0.8, 12)  # mean 0.5
    row = _verdict_of(verdicts(_direct_rows("borderline", last, last), **FAST), "borderline")
    assert row["spearman_full_cascade_ci_low"] < 0.5 < row["spearman_full_cascade_ci_high"]
    assert row["verdict"] == UNDECIDED and "contains" in row["reason"]


def test_summary_means_cis_and_independence_of_row_order():
    rows = _constructed(8)
    summary = summarize(rows, **FAST)
    shuffled = summarize(rows.sample(frac=1.0, random_state=3), **FAST)
    pd.testing.assert_frame_equal(summary, shuffled)  # the statistics do not depend on processing order
    for (label, step), g in rows.groupby(["series", "step"]):
        got = summary[(summary["series"] == label) & (summary["step"] == step)].iloc[0]
        assert got["n"] == 8 and got["spearman"] == pytest.approx(g["spearman"].mean())
        assert got["spearman_ci_low"] <= got["spearman"] + 1e-12 <= got["spearman_ci_high"] + 2e-12
        assert got["ssim"] == pytest.approx(g["ssim"].mean())
    assert (summary.loc[summary["series"] == "unchanged", ["spearman", "spearman_ci_low", "spearman_ci_high"]] == 1).all(
        axis=None)


def test_outputs_rebuild_from_the_per_image_csv_alone_byte_for_byte(tmp_path):
    from advise_bench.runner.store import RowWriter

    rows = _constructed(7)
    writer = RowWriter(tmp_path / sanity_mod.IMAGES_FILE)
    for rec in rows.to_dict("records") + rows.head(5).to_dict("records"):  # a resumed image repeats its rows
        writer.write(rec)
    paths = sanity_mod.write_outputs(tmp_path, **FAST)
    first = {k: p.read_bytes() for k, p in paths.items()}
    assert first["png"][:8] == PNG_SIGNATURE
    verdict_table = pd.read_csv(paths["verdicts"])
    assert dict(zip(verdict_table["series"], verdict_table["verdict"], strict=True)) == {"unchanged": FAIL,
                                                                                          "noise": PASS}
    assert (pd.read_csv(paths["csv"])["n"] == 7).all()  # the repeated rows count once
    sanity_mod.write_outputs(tmp_path, **FAST)
    assert {k: p.read_bytes() for k, p in paths.items() if k != "png"} == {k: v for k, v in first.items() if k != "png"}


# ---------------------------------------------------------------- sanity: the driver on a tiny model
def _fake_explainers():
    """Two methods with known behaviour under randomisation: one ignores the model (its map is the
    image's brightness: Adebayo's edge-detector failure), one is noise seeded by the model's weights."""
    from advise_bench.explainers.base import Explainer, Explanation, rescale01

    class ImageOnly(Explainer):
        name, display_name, family = "image-only", "Image only", "test"

        def explain_target(self, images, targets, prepared):
            maps = rescale01(np.asarray(images, np.float32).mean(axis=-1))
            return [Explanation(int(t), m[None]) for t, m in zip(targets, maps, strict=True)]

    class WeightNoise(Explainer):
        name, display_name, family = "weight-noise", "Weight noise", "test"

        def explain_target(self, images, targets, prepared):
            digest = zlib.crc32(b"".join(np.asarray(w).tobytes() for w in self.model.model.get_weights()))
            out = []
            for i, t in enumerate(targets):
                rng = np.random.default_rng([digest, int(images[i].sum()), int(t)])
                out.append(Explanation(int(t), rng.random((1, *images.shape[1:3])).astype(np.float32)))
            return out

    return {c.name: c for c in (ImageOnly, WeightNoise)}


@pytest.fixture
def tiny_check(tiny_cnn, monkeypatch):
    from advise_bench.explainers import registry
    from advise_bench.models.zoo import LoadedModel

    for name, cls in _fake_explainers().items():
        monkeypatch.setitem(registry.EXPLAINERS, name, cls)
    loaded = LoadedModel("tiny", tiny_cnn.build(0), "feat_relu", 12, "none", "test")
    images = np.random.default_rng(0).integers(0, 256, (8, 12, 12, 3)).astype(np.uint8)
    ids = [f"im{i}" for i in range(len(images))]

    def check(out=None, **kw):
        options = {"steps": 2, "seed": 0, "image_ids": ids, **kw}
        return sanity_mod.sanity(loaded, images, ["image-only", "weight-noise"], out=out, **options)

    return loaded, check


def test_driver_fails_a_model_blind_method_and_passes_a_weight_dependent_one(tiny_check, tmp_path):
    loaded, check = tiny_check
    before = [w.copy() for w in loaded.model.get_weights()]
    rows = check(tmp_path, chunk_size=3)
    assert len(rows) == 8 * 2 * 3  # images x series x steps 0..2
    table = pd.read_csv(tmp_path / sanity_mod.VERDICTS_FILE).set_index("series")
    assert table.loc["image-only", "verdict"] == FAIL
    assert table.loc["weight-noise", "verdict"] == PASS, table.loc["weight-noise", "reason"]
    trained = rows[rows["step"] == 0]
    assert (trained["spearman"] == 1.0).all()  # step 0: the trained maps computed twice agree
    for a, b in zip(before, loaded.model.get_weights(), strict=True):
        assert np.array_equal(a, b)  # the caller's model is untouched
    manifest = json.loads((tmp_path / sanity_mod.MANIFEST_FILE).read_text())
    assert [s["layers"] for s in manifest["config"]["cascade"]] == [["predictions"], ["feat"]]


def test_driver_rows_do_not_depend_on_chunking_and_resume_computes_nothing(tiny_check, tmp_path):
    _, check = tiny_check
    one_chunk = check(tmp_path / "a", chunk_size=8)
    chunks_of_3 = check(tmp_path / "b", chunk_size=3)
    key = ["series", "step", "image_id"]
    cols = key + ["spearman", "ssim", "target"]
    pd.testing.assert_frame_equal(one_chunk.sort_values(key)[cols].reset_index(drop=True),
                                  chunks_of_3.sort_values(key)[cols].reset_index(drop=True))
    csv = tmp_path / "b" / sanity_mod.IMAGES_FILE
    written = csv.read_bytes()
    summary = (tmp_path / "b" / sanity_mod.SUMMARY_FILE).read_bytes()
    check(tmp_path / "b", chunk_size=3)
    assert csv.read_bytes() == written  # nothing recomputed
    assert (tmp_path / "b" / sanity_mod.SUMMARY_FILE).read_bytes() == summary
    # A crash mid-cascade: the last image's rows cut short, with a torn line. The resume redoes it.
    lines = written.decode().splitlines(keepends=True)
    csv.write_text("".join(lines[:-3]) + lines[-3][:10])
    resumed = check(tmp_path / "b", chunk_size=3)
    pd.testing.assert_frame_equal(resumed.sort_values(key)[cols].reset_index(drop=True),
                                  chunks_of_3.sort_values(key)[cols].reset_index(drop=True))
    with pytest.raises(UserError, match="other settings"):
        check(tmp_path / "b", seed=1)


# ---------------------------------------------------------------- ablate: constructed folders
def _write_rows(folder, method, avx, model="m", protocol="reference"):
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"image_id": [f"{i:03d}" for i in range(len(avx))], "method": method, "model": model,
                  "protocol": protocol, "status": "ok", "AVX": avx}).to_csv(folder / f"{method}.csv", index=False)


def _holm_by_hand(p):
    """Holm's step-down, written out for a family of any size."""
    order = np.argsort(p)
    adjusted, running = np.empty(len(p)), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


@pytest.fixture
def constructed_ablation(tmp_path):
    """Two noise settings, 12 images: ADVISE's AVX is exactly 0 on 5 images with ReLU; Grad-CAM is 0.1
    better than ADVISE on every image with ReLU and 0.1 worse without; Layer-CAM is close to ADVISE."""
    rng = np.random.default_rng(0)
    root = tmp_path / "out" / "ablation"
    advise_on = np.r_[np.zeros(5), rng.uniform(0.1, 0.5, 7)]
    advise_off = rng.uniform(0.3, 0.6, 12)
    values = {
        "relu-on_d0.050": {"advise": advise_on, "gradcam": advise_on + 0.1 + rng.uniform(0, 0.02, 12),
                           "layercam": advise_on + rng.normal(0, 0.05, 12)},
        "relu-off_d0.050": {"advise": advise_off, "gradcam": advise_off - 0.1 - rng.uniform(0, 0.02, 12),
                            "layercam": advise_off + rng.normal(0, 0.05, 12)},
    }
    for setting, methods in values.items():
        for method, avx in methods.items():
            _write_rows(root / setting / "m", method, avx)
    return root, values


def test_ablation_zero_fraction_cis_and_paired_verdicts(constructed_ablation):
    root, values = constructed_ablation
    table = summarize_ablation(root, **FAST)
    on = table[(table["relu"]) & (table["method"] == "advise")].iloc[0]
    assert on["zero_fraction"] == 5 / 12 and on["n"] == 12
    assert on["AVX"] == pytest.approx(values["relu-on_d0.050"]["advise"].mean())
    assert on["AVX_ci_low"] <= on["AVX"] <= on["AVX_ci_high"]
    gradcam_on = table[(table["relu"]) & (table["method"] == "gradcam")].iloc[0]
    assert gradcam_on["zero_fraction"] == 0.0

    comparisons = pd.read_csv(root / "ablation_comparisons.csv")
    assert list(comparisons.columns[:2]) == ["relu", "density"]
    for relu, setting, expected in ((True, "relu-on_d0.050", "no: Grad-CAM is better"),
                                    (False, "relu-off_d0.050", "yes")):
        family = comparisons[comparisons["relu"] == relu].set_index("baseline")
        assert set(family.index) == {"Grad-CAM", "Layer-CAM"} and (family["metric"] == "AVX").all()
        assert family.loc["Grad-CAM", "verdict"] == expected
        p = np.array([scipy_stats.wilcoxon(values[setting]["advise"] - values[setting][b]).pvalue
                      for b in ("gradcam", "layercam")])
        assert family.loc[["Grad-CAM", "Layer-CAM"], "wilcoxon_p"].to_numpy() == pytest.approx(p, rel=1e-9)
        # Holm's family is one noise setting: two baselines x one metric, not all four rows of the file.
        assert family.loc[["Grad-CAM", "Layer-CAM"], "holm_p"].to_numpy() == pytest.approx(_holm_by_hand(p))
        d = values[setting]["advise"] - values[setting]["gradcam"]
        assert family.loc["Grad-CAM", "mean_diff"] == pytest.approx(d.mean())
    assert (root / "ablation_avx.png").read_bytes()[:8] == PNG_SIGNATURE
    assert not (root / "ablation_controls.csv").exists()


def test_ablation_zero_fraction_split_by_cause(tmp_path):
    """AVX = 0 because the penalty zeroed the map, or with no such penalty because a term is <= 0 (SSIM < 0)."""
    folder = tmp_path / "ablation" / "relu-on_d0.100" / "m"
    folder.mkdir(parents=True)
    penalty = ["zeroed", "zeroed", "none", "scaled", "none", "none", "scaled", "none"]
    avx = [0.0, 0.0, 0.0, 0.0, 0.3, 0.5, 0.2, np.nan]
    status = ["ok"] * 7 + ["error"]
    pd.DataFrame({"image_id": [f"{i}" for i in range(8)], "method": "lime", "model": "m", "protocol": "reference",
                  "status": status, "AVX": avx, "SSIM": [0, 0, -0.004, 0.0, 0.4, 0.6, 0.3, np.nan],
                  "penalty": penalty}).to_csv(folder / "lime.csv", index=False)
    row = summarize_ablation(tmp_path / "ablation", **FAST).iloc[0]
    assert row["n"] == 7 and row["zero_fraction"] == pytest.approx(4 / 7)
    assert row["zero_penalty_fraction"] == pytest.approx(2 / 7) and row["zero_term_fraction"] == pytest.approx(2 / 7)


def _write_control(folder, setting, method, avx, grouping="random"):
    _write_rows(folder / "ablation" / setting / "m", method, avx)
    doc = {"config": {"advise_grouping": grouping, "advise_selection": "oracle-avx"}}
    (folder / "ablation" / setting / "m" / "run.json").write_text(json.dumps(doc))


def test_ablation_control_series_and_comparisons(constructed_ablation, tmp_path):
    root, values = constructed_ablation
    control = tmp_path / "ctrl"
    for setting in values:  # a control identical to the main ADVISE: every difference is 0
        _write_control(control, setting, "advise", values[setting]["advise"])
    table = summarize_ablation(root, [control], **FAST)
    label = "ADVISE (random grouping, oracle-avx)"
    ctrl = table[table["method"] == label]
    assert len(ctrl) == 2 and ctrl["control"].all()
    main = table[table["method"] == "advise"]
    assert ctrl["AVX"].to_list() == main["AVX"].to_list()
    assert ctrl["zero_fraction"].to_list() == main["zero_fraction"].to_list()
    controls = pd.read_csv(root / "ablation_controls.csv")
    vs_main = controls[(controls["subject"] == "main ADVISE") & (controls["metric"] == "AVX")]
    assert len(vs_main) == 2 and (vs_main["mean_diff"] == 0).all() and (vs_main["verdict"] == "not shown").all()
    assert (vs_main["ties"] == 12).all()
    vs_baselines = controls[(controls["subject"] == label)].set_index(["relu", "baseline"])
    comparisons = pd.read_csv(root / "ablation_comparisons.csv").set_index(["relu", "baseline"])
    for col in ("mean_diff", "wilcoxon_p", "holm_p", "verdict"):  # the control scores as ADVISE does
        assert vs_baselines[col].sort_index().to_list() == comparisons[col].sort_index().to_list()
    # Summarising again without the control leaves no stale control table.
    summarize_ablation(root, **FAST)
    assert not (root / "ablation_controls.csv").exists()


def test_ablation_tables_do_not_depend_on_the_order_of_the_controls(constructed_ablation, tmp_path):
    root, values = constructed_ablation
    for name, grouping, shift in (("random", "random", 0.01), ("kde", "kde", -0.02)):
        for setting in values:
            _write_control(tmp_path / name, setting, "advise", values[setting]["advise"] + shift, grouping)
    outputs = []
    for controls in ([tmp_path / "random", tmp_path / "kde"], [tmp_path / "kde", tmp_path / "random"]):
        summarize_ablation(root, controls, **FAST)
        outputs.append([(root / f).read_bytes() for f in ("ablation_avx.csv", "ablation_controls.csv")])
    assert outputs[0] == outputs[1]
    labels = pd.read_csv(root / "ablation_controls.csv")["control"].unique().tolist()
    assert labels == sorted(labels) and len(labels) == 2


def test_ablation_control_errors(constructed_ablation, tmp_path):
    root, values = constructed_ablation
    with pytest.raises(UserError, match="no ablation folders"):
        summarize_ablation(root, [tmp_path / "missing"], **FAST)
    for name in ("c1", "c2"):  # two controls with the same setting cannot be told apart
        _write_control(tmp_path / name, "relu-on_d0.050", "advise", values["relu-on_d0.050"]["advise"])
    with pytest.raises(UserError, match="two controls"):
        summarize_ablation(root, [tmp_path / "c1", tmp_path / "c2"], **FAST)


def test_bootstrap_of_the_summary_is_the_reports(constructed_ablation):
    """The AVX CI is the report's percentile bootstrap of the image-id-ordered values."""
    root, values = constructed_ablation
    table = summarize_ablation(root, **FAST)
    on = table[(table["relu"]) & (table["method"] == "layercam")].iloc[0]
    lo, hi = stats.bootstrap_mean_ci(values["relu-on_d0.050"]["layercam"], **FAST)
    assert (on["AVX_ci_low"], on["AVX_ci_high"]) == (lo, hi)


def test_one_cascade_step_is_both_first_and_full():
    rows = _constructed(8, steps=1)
    table = verdicts(rows, **FAST).set_index("series")
    assert (table["first_step"] == 1).all() and (table["full_cascade_step"] == 1).all()
    assert (table["recovery"] == 0).all() and (table["recovery_wilcoxon_p"] == 1.0).all()
    assert table.loc["unchanged", "verdict"] == FAIL and table.loc["noise", "verdict"] == PASS
