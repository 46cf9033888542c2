"""The report on hand-written result CSVs: degenerate rows, untrained weights, paired verdicts, ranks, extras."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from advise_bench.report.build import build_report, terminal_summary
from advise_bench.report.paper import paper_table
from advise_bench.runner.results import load_rows

METHOD_FILES = {"advise": "advise", "gradcam": "gradcam", "gradcam++": "gradcampp", "scorecam": "scorecam",
                "layercam": "layercam", "lime": "lime"}
PAPER_KEYS = {"ADVISE": "advise", "Grad-CAM": "gradcam", "Grad-CAM++": "gradcam++", "Score-CAM": "scorecam",
              "Layer-CAM": "layercam", "LIME": "lime"}
METRIC_NAMES = ("AD", "SSIM", "FSIM", "MSE", "AVX")


def write_results(root, model, rows, weights="imagenet", manifest=True):
    """``rows``: dicts with image_id, method and metric values; the rest of a run's columns are filled in."""
    df = pd.DataFrame(rows)
    defaults = {"model": model, "protocol": "reference", "status": "ok", "Hit": True, "CS_pass": True,
                "penalty": "none", "time_s": 0.5, "device": "cpu:x86_64 x2"}
    for col, value in defaults.items():
        df[col] = df[col].fillna(value) if col in df else value
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    for method, g in df.groupby("method"):
        g.to_csv(folder / f"{METHOD_FILES.get(method, method)}.csv", index=False)
    if manifest:
        (folder / "run.json").write_text(json.dumps({"config": {"model": model, "weights": weights},
                                                     "weights": weights}))


def offset_rows(offsets, n_images=12, extra=()):
    """Image i's value of metric M for a method: 0.3 + 0.02 i + offsets[method][M] (default 0) + a tiny jitter."""
    rows = []
    for method in METHOD_FILES:
        for i in range(n_images):
            row = {"image_id": f"img{i:02d}", "method": method}
            for m in METRIC_NAMES + tuple(extra):
                row[m] = 0.3 + 0.02 * i + offsets.get(method, {}).get(m, 0.0) + 0.001 * ((i * 7) % 5)
            rows.append(row)
    return rows


def test_degenerate_rows_are_counted_and_kept_out_of_every_mean(tmp_path):
    rows = offset_rows({}, n_images=10)
    for method in METHOD_FILES:  # black and white inputs: every method scores a perfect AVX on them
        for image_id in ("black", "white"):
            rows.append({"image_id": image_id, "method": method, "status": "degenerate_image", "AD": 0.0,
                         "SSIM": 1.0, "FSIM": 1.0, "MSE": 0.0, "AVX": 1.0, "time_s": 100.0})
    flat_map = next(r for r in rows if r["method"] == "gradcam" and r["image_id"] == "img03")
    flat_map.update(status="degenerate_map", AVX=1.0)
    rows.append({"image_id": "broken", "method": "lime", "status": "error"})
    write_results(tmp_path, "mobilenet_v2", rows)
    merged, paths = build_report(tmp_path, n_resamples=1000)
    by_method = merged.set_index("method")
    normal = np.array([0.3 + 0.02 * i + 0.001 * ((i * 7) % 5) for i in range(10)])
    assert by_method.loc["ADVISE", "AVX"] == pytest.approx(normal.mean())
    assert by_method.loc["ADVISE", "time_cpu_s"] == pytest.approx(0.5)  # the degenerate rows' 100 s left out too
    assert by_method.loc["Grad-CAM", "AVX"] == pytest.approx(np.delete(normal, 3).mean())
    assert by_method["degenerate_images"].tolist() == [2] * 6
    assert by_method.loc["Grad-CAM", "degenerate_maps"] == 1 and by_method.loc["Grad-CAM", "n"] == 9
    assert by_method.loc["LIME", "errors"] == 1 and by_method.loc["ADVISE", "errors"] == 0
    comparisons = pd.read_csv(paths["comparisons"])
    pairs = comparisons[comparisons.metric == "AVX"].set_index("baseline")["n_pairs"]
    assert pairs["Grad-CAM"] == 9 and pairs["LIME"] == 10
    md = paths["markdown"].read_text()
    assert "| 2 / 1 |" in md and "degenerate image / map" in md
    assert "(paper" not in md and "The paper's Table I" not in paths["report"].read_text()  # not in the paper


def test_avx_zero_is_counted_by_cause_and_a_term_below_zero_gets_a_note(tmp_path):
    rows = offset_rows({}, n_images=10)
    lime = [r for r in rows if r["method"] == "lime"]
    lime[0].update(AVX=0.0, AD=1.0, SSIM=0.0, FSIM=0.0, MSE=1.0, penalty="zeroed", Hit=False, CS_pass=False)
    lime[1].update(AVX=0.0, SSIM=-0.003)  # a hit, no penalty: SSIM < 0 makes AVX 0
    write_results(tmp_path, "mobilenet_v2", rows)
    merged, paths = build_report(tmp_path, n_resamples=1000)
    by_method = merged.set_index("method")
    assert by_method.loc["LIME", ["avx_zero_penalty", "avx_zero_term"]].tolist() == [1, 1]
    assert by_method.loc["Grad-CAM", ["avx_zero_penalty", "avx_zero_term"]].tolist() == [0, 0]
    table = pd.read_csv(paths["csv"]).set_index("method")
    assert table.loc["LIME", ["avx_zero_penalty", "avx_zero_term"]].tolist() == [1, 1]
    note = "AVX is 0 without the penalty on 1 LIME image(s) (mobilenet_v2, reference)"
    assert note in paths["report"].read_text() and note in paths["markdown"].read_text()
    lime[1].update(AVX=0.5, SSIM=0.4)  # only the penalty's zero left: no note
    write_results(tmp_path, "mobilenet_v2", rows)
    _, paths = build_report(tmp_path, n_resamples=1000)
    assert "AVX is 0 without the penalty" not in paths["report"].read_text()


def test_verdicts_respect_each_metric_direction(tmp_path):
    offsets = {"advise": {"AVX": 0.1, "AD": -0.1}, "lime": {"AVX": 0.2, "AD": 0.05}}
    rows = [r for r in offset_rows(offsets) if r["method"] in ("advise", "gradcam", "lime")]
    write_results(tmp_path, "mobilenet_v2", rows)
    _, paths = build_report(tmp_path, n_resamples=2000)
    c = pd.read_csv(paths["comparisons"]).set_index(["metric", "baseline"])
    assert len(c) == 5 * 2
    assert c.loc[("AVX", "Grad-CAM"), "verdict"] == "yes" and c.loc[("AD", "Grad-CAM"), "verdict"] == "yes"
    assert c.loc[("AVX", "LIME"), "verdict"] == "no: LIME is better"
    assert c.loc[("AD", "LIME"), "verdict"] == "yes"  # lower AD is better: ADVISE's -0.1 beats LIME's +0.05
    assert c.loc[("AD", "Grad-CAM"), "mean_diff"] == pytest.approx(-0.1)
    assert tuple(c.loc[("AVX", "Grad-CAM"), ["wins", "ties", "losses"]]) == (12, 0, 0)
    assert tuple(c.loc[("SSIM", "Grad-CAM"), ["wins", "ties", "losses"]]) == (0, 12, 0)
    assert c.loc[("SSIM", "Grad-CAM"), "verdict"] == "not shown"
    # 12 same-sign differences: exact two-sided p = 2 / 2^12; Holm multiplies the smallest by the 10 tests
    assert c.loc[("AVX", "Grad-CAM"), "wilcoxon_p"] == pytest.approx(2 / 4096)
    assert c["holm_p"].min() == pytest.approx(10 * 2 / 4096)
    report = paths["report"].read_text()
    assert "| AVX ↑ | LIME | no: LIME is better | 12 |" in report and "## Ranks of the methods" in report
    ranks = pd.read_csv(paths["ranks"]).set_index(["metric", "method"])
    assert ranks.loc[("AVX", "LIME"), "mean_rank"] == 1 and ranks.loc[("AVX", "Grad-CAM"), "mean_rank"] == 3
    assert ranks.loc[("AD", "ADVISE"), "mean_rank"] == 1 and ranks.loc[("SSIM", "ADVISE"), "mean_rank"] == 2


def _paper_like_rows(arch):
    """Every method's value per image is the paper's, plus a jitter that averages to zero: our means are the paper's."""
    jitter = np.array([-0.01, 0.0, 0.01, 0.005, -0.005, 0.0])
    rows = []
    for _, p in paper_table()[paper_table().architecture == arch].iterrows():
        for i, j in enumerate(jitter):
            rows.append({"image_id": f"img{i}", "method": PAPER_KEYS[p["method"]],
                         **{m: p[m] + j for m in METRIC_NAMES}})
    return rows


def test_paper_values_and_kendall_tau_for_an_architecture_in_the_paper(tmp_path):
    write_results(tmp_path, "vgg16", _paper_like_rows("vgg16"))
    merged, paths = build_report(tmp_path, n_resamples=1000)
    assert merged["delta_AVX"].abs().max() < 1e-9
    md = paths["markdown"].read_text()
    assert "(paper 0.29)" in md and "LIME's AD, SSIM, FSIM, MSE and AVX repeat Grad-CAM's" in md
    tests = pd.read_csv(paths["rank_tests"]).set_index("metric")
    assert tests["kendall_tau_b"].tolist() == pytest.approx([1.0] * 5)  # the LIME = Grad-CAM tie on both sides
    assert tests["same_best_as_paper"].all() and (tests["n_methods_vs_paper"] == 6).all()
    assert "Against the paper's ordering for vgg16, Kendall τ_b is AD 1.00" in paths["report"].read_text()


def test_untrained_rows_are_timing_only_and_never_beside_the_paper(tmp_path):
    write_results(tmp_path, "vgg16", _paper_like_rows("vgg16"), weights="random")
    merged, paths = build_report(tmp_path, n_resamples=1000)
    assert merged["paper_AVX"].isna().all() and (merged["note"] == "untrained: timing only").all()
    md, tex = paths["markdown"].read_text(), paths["latex"].read_text()
    assert "(paper" not in md and "vgg16 (untrained: timing only)" in md and "untrained: timing only" in tex
    assert pd.read_csv(paths["comparisons"]).empty and pd.read_csv(paths["ranks"]).empty
    assert "Not compared (untrained weights, timing only): vgg16." in paths["report"].read_text()
    assert pd.read_csv(paths["csv"])["note"].eq("untrained: timing only").all()


def test_untrained_rows_with_reference_maps_report_and_report_again(tmp_path):
    # Untrained weights leave no block to judge: validity.csv must still read back, and a second report (which
    # reads the folder the first wrote chance.csv and validity.csv into) must not take them for rows.
    rows = _paper_like_rows("vgg16")
    rows += [{"image_id": f"img{i}", "method": ref, **{m: 0.2 + 0.01 * i for m in METRIC_NAMES}}
             for ref in ("random", "centre", "keep-all") for i in range(6)]
    write_results(tmp_path, "vgg16", rows, weights="random")
    for _ in range(2):
        merged, paths = build_report(tmp_path, n_resamples=1000)
        text = terminal_summary(merged, paths)
    assert pd.read_csv(paths["validity"]).empty and "verdict" in pd.read_csv(paths["validity"]).columns
    assert "vgg16" in text
    assert len(load_rows(tmp_path)) == len(rows)
    (tmp_path / "vgg16" / "lime.shard-2of2.csv").write_text("")  # a writer stopped before its header
    assert len(load_rows(tmp_path)) == len(rows)


def test_extra_metrics_are_picked_up_and_old_folders_still_report(tmp_path):
    offsets = {"advise": {"deletion_auc": -0.1, "insertion_auc": 0.1}}
    rows = [r for r in offset_rows(offsets, extra=("deletion_auc", "insertion_auc"))
            if r["method"] in ("advise", "gradcam")]
    write_results(tmp_path / "new", "mobilenet_v2", rows)
    _, paths = build_report(tmp_path / "new", n_resamples=1000)
    md, tex = paths["markdown"].read_text(), paths["latex"].read_text()
    assert "deletion_auc ↓" in md and "insertion_auc ↑" in md and r"deletion\_auc $\downarrow$" in tex
    c = pd.read_csv(paths["comparisons"]).set_index("metric")
    assert c.loc["deletion_auc", "verdict"] == "yes" and c.loc["insertion_auc", "verdict"] == "yes"
    # An old folder: no run.json, no extra metric columns, no Hit/CS/penalty/device columns
    write_results(tmp_path / "old", "resnet50", offset_rows({}, n_images=3), manifest=False)
    for f in (tmp_path / "old" / "resnet50").glob("*.csv"):
        pd.read_csv(f).drop(columns=["Hit", "CS_pass", "penalty", "time_s", "device"]).to_csv(f, index=False)
    merged, paths = build_report(tmp_path / "old", n_resamples=1000)
    assert "deletion_auc" not in paths["markdown"].read_text() and merged["n"].tolist() == [3] * 6
    assert "(paper 0.31)" in paths["markdown"].read_text()  # weights unknown: not marked untrained
    assert load_rows(tmp_path / "old")["weights"].eq("").all()


def test_cli_report_plot_and_paper(tmp_path):
    write_results(tmp_path, "vgg16", _paper_like_rows("vgg16"))
    write_results(tmp_path, "mobilenet_v2", offset_rows({"advise": {"AVX": 0.05}}, n_images=8))
    res = subprocess.run([sys.executable, "-m", "advise_bench.cli", "report", str(tmp_path), "--plot", "--paper",
                          "--bootstrap-resamples", "1000"], capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    assert f"Written in {tmp_path}: " in res.stdout
    for name in ("comparisons.csv", "ranks.csv", "rank_tests.csv", "report.md", "table1.tex"):
        assert (tmp_path / name).exists() and name in res.stdout
    # The terminal shows Table I (the summary's columns), one AVX verdict per model x baseline, the paper's rows
    # of the architecture it has, and no other statistics.
    lines = res.stdout.splitlines()
    for model in ("vgg16", "mobilenet_v2"):
        assert f"{model} · reference protocol" in lines
    assert sum(line.startswith("Grad-CAM++ ") and "±" in line for line in lines) == 2
    verdicts = [ln for ln in lines if re.match(r"(Grad-CAM|Grad-CAM\+\+|Score-CAM|Layer-CAM|LIME) +(yes|no|not shown)", ln)]
    assert len(verdicts) == 2 * 5 and all(re.search(r"\[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", ln) for ln in verdicts)
    assert "The paper has no row for mobilenet_v2 (it reports alexnet, resnet50, vgg16, xception)." in lines
    assert sum(line.startswith("vgg16 ") and " · " not in line for line in lines) == 6  # --paper: its vgg16 rows
    assert "## Does ADVISE beat each baseline?" not in res.stdout and "Notes:" not in res.stdout
    verbose = subprocess.run([sys.executable, "-m", "advise_bench.cli", "report", str(tmp_path), "--paper",
                              "--bootstrap-resamples", "1000", "--verbose"], capture_output=True, text=True, timeout=240)
    assert verbose.returncode == 0, verbose.stderr
    assert (tmp_path / "report.md").read_text() in verbose.stdout and "## The paper's Table I" in verbose.stdout
    from PIL import Image

    with Image.open(tmp_path / "report.png") as png:
        assert png.size[0] > 800 and png.size[1] > 500
    bad = subprocess.run([sys.executable, "-m", "advise_bench.cli", "report", str(tmp_path), "--bootstrap-resamples",
                          "10"], capture_output=True, text=True, timeout=240)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --bootstrap-resamples")


def _control_folder(root, model, rows, grouping="kde", selection="oracle-avx"):
    write_results(root, model, [r for r in rows if r["method"] == "advise"])
    (root / model / "run.json").write_text(json.dumps({"config": {
        "model": model, "weights": "imagenet", "advise_grouping": grouping, "advise_selection": selection}}))
    return root


def test_a_model_folder_reports_like_its_results_folder(tmp_path):
    write_results(tmp_path, "mobilenet", offset_rows({"advise": {"AVX": 0.05}}, n_images=8))
    whole, _ = build_report(tmp_path, tmp_path / "whole", n_resamples=1000)
    alone, paths = build_report(tmp_path / "mobilenet", n_resamples=1000)
    pd.testing.assert_frame_equal(whole, alone)
    assert paths["markdown"].parent == tmp_path / "mobilenet"
    again, _ = build_report(tmp_path / "mobilenet", tmp_path / "again", n_resamples=1000)  # its own table1.csv ignored
    pd.testing.assert_frame_equal(alone, again)


def test_controls_are_compared_with_the_baselines_and_with_the_main_advise(tmp_path):
    write_results(tmp_path / "main", "mobilenet_v2", offset_rows({"advise": {"AVX": 0.1}}))
    # A random grouping that scores exactly as Grad-CAM does; an 'all' selection 0.2 below Grad-CAM on AVX.
    _control_folder(tmp_path / "random", "mobilenet_v2", offset_rows({}), grouping="random")
    _control_folder(tmp_path / "all", "mobilenet_v2", offset_rows({"advise": {"AVX": -0.2}}), selection="all")
    _, paths = build_report(tmp_path / "main", controls=[tmp_path / "random", tmp_path / "all"], n_resamples=1000)
    c = pd.read_csv(paths["controls"]).set_index(["control", "subject", "metric", "baseline"])
    rnd, everything = "ADVISE (random grouping, oracle-avx)", "ADVISE (kde grouping, all)"
    assert c.loc[(rnd, "main ADVISE", "AVX", rnd), "verdict"] == "yes"
    assert c.loc[(rnd, "main ADVISE", "AVX", rnd), "mean_diff"] == pytest.approx(0.1)
    assert c.loc[(rnd, rnd, "AVX", "Grad-CAM"), "verdict"] == "not shown"  # every image a tie
    assert tuple(c.loc[(rnd, rnd, "AVX", "Grad-CAM"), ["wins", "ties", "losses"]]) == (0, 12, 0)
    assert c.loc[(everything, everything, "AVX", "Score-CAM"), "verdict"] == "no: Score-CAM is better"
    assert c.loc[(everything, everything, "AVX", "Score-CAM"), "subject_mean"] == pytest.approx(
        np.mean([0.1 + 0.02 * i + 0.001 * ((i * 7) % 5) for i in range(12)]))
    # the main ADVISE's own comparisons are untouched by the controls
    main = pd.read_csv(paths["comparisons"]).set_index(["metric", "baseline"])
    assert main.loc[("AVX", "Grad-CAM"), "mean_diff"] == pytest.approx(0.1)
    assert "## Controls: is it the KDE, or the selection?" in paths["report"].read_text()


def test_a_control_needs_its_setting_recorded(tmp_path):
    from advise_bench.errors import UserError

    write_results(tmp_path / "main", "mobilenet_v2", offset_rows({}, n_images=4))
    write_results(tmp_path / "bare", "mobilenet_v2", offset_rows({}, n_images=4), manifest=False)
    with pytest.raises(UserError, match="run.json"):
        build_report(tmp_path / "main", controls=[tmp_path / "bare"], n_resamples=1000)


def test_cli_control_errors_are_one_line(tmp_path):
    write_results(tmp_path / "main", "mobilenet_v2", offset_rows({}, n_images=4))
    write_results(tmp_path / "bare", "mobilenet_v2", offset_rows({}, n_images=4), manifest=False)
    for control, needle in ((tmp_path / "nowhere", "no such results folder"), (tmp_path / "bare", "run.json")):
        res = subprocess.run([sys.executable, "-m", "advise_bench.cli", "report", str(tmp_path / "main"),
                              "--control", str(control)], capture_output=True, text=True, timeout=240)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and needle in res.stderr, res.stderr


def test_a_cam_oracle_control_is_compared_with_its_own_method_and_with_advise(tmp_path):
    """--cam-groups like-advise folders hold several CAM methods: one control series each, compared with that
    method's plain run (how much the oracle lifts it) and with the main ADVISE; plain CAM rows are no control."""
    write_results(tmp_path / "main", "mobilenet_v2", offset_rows({"advise": {"AVX": 0.1}, "gradcam": {"AVX": -0.05}}))
    cams = [r for r in offset_rows({"gradcam": {"AVX": 0.03}, "scorecam": {"AVX": 0.15}})
            if r["method"] in ("gradcam", "scorecam")]
    write_results(tmp_path / "oracle", "mobilenet_v2", cams)
    (tmp_path / "oracle" / "mobilenet_v2" / "run.json").write_text(json.dumps({"config": {
        "model": "mobilenet_v2", "weights": "imagenet", "cam_groups": "like-advise"}}))
    _, paths = build_report(tmp_path / "main", controls=[tmp_path / "oracle"], plot=True, n_resamples=1000)
    c = pd.read_csv(paths["controls"]).set_index(["control", "subject", "metric", "baseline"])
    grad, score = "Grad-CAM (like-advise groups, oracle-avx)", "Score-CAM (like-advise groups, oracle-avx)"
    assert set(c.index.get_level_values("control")) == {grad, score}
    assert set(c.loc[grad].xs(grad, level="subject").index.get_level_values("baseline")) == {"Grad-CAM"}
    assert c.loc[(grad, grad, "AVX", "Grad-CAM"), "mean_diff"] == pytest.approx(0.08)  # the oracle's lift
    assert c.loc[(score, score, "AVX", "Score-CAM"), "verdict"] == "yes"
    assert c.loc[(grad, "main ADVISE", "AVX", grad), "mean_diff"] == pytest.approx(0.07)
    assert c.loc[(score, "main ADVISE", "AVX", score), "verdict"] == "no: Score-CAM (like-advise groups, oracle-avx) is better"
    assert (tmp_path / "main" / "report.png").exists()
    (tmp_path / "oracle" / "mobilenet_v2" / "run.json").write_text(json.dumps({"config": {"model": "mobilenet_v2"}}))
    from advise_bench.errors import UserError

    with pytest.raises(UserError, match="Grad-CAM ran without a control setting"):
        build_report(tmp_path / "main", controls=[tmp_path / "oracle"], n_resamples=1000)


def test_rows_of_another_backend_are_reported_apart(tmp_path):
    rows = offset_rows({"advise": {"AVX": 0.1}}, n_images=6)
    write_results(tmp_path, "mobilenet", rows)
    jax_rows = [{**r, "backend": "jax", "AVX": r["AVX"] + 0.5, "time_s": 0.1} for r in offset_rows({}, n_images=6)]
    folder = tmp_path / "mobilenet"
    pd.DataFrame([{"model": "mobilenet", "protocol": "reference", "status": "ok", "device": "cpu:x", **r}
                  for r in jax_rows]).to_csv(folder / "jaxrows.jax.csv", index=False)
    merged, paths = build_report(tmp_path, n_resamples=1000)
    assert set(merged["architecture"]) == {"mobilenet", "mobilenet (jax)"}
    advise = merged.set_index(["architecture", "method"])["AVX"]
    assert advise[("mobilenet (jax)", "ADVISE")] == pytest.approx(advise[("mobilenet", "Grad-CAM")] + 0.5)
    comparisons = pd.read_csv(paths["comparisons"])
    assert set(comparisons["model"]) == {"mobilenet", "mobilenet (jax)"}  # never paired across backends
    assert "mobilenet (jax): cpu:x (jax)" in paths["markdown"].read_text()


def test_per_image_is_pandas_pivot_with_the_last_value_and_its_column_sums_to_the_bit():
    """per_image (NumPy) against pandas' pivot_table(aggfunc="last"): rows out of order, an image's method repeated
    (the last value wins, a later missing one does not count), a method with no value; the same table, and the
    same column means to the last bit (pandas sums a column in the order of the table's memory layout)."""
    from advise_bench.report.compare import per_image

    rng = np.random.default_rng(1)
    images = [f"im{i:03d}" for i in range(300)]
    full = pd.DataFrame([(i, m) for i in images for m in ("lime", "advise", "gradcam++")], columns=["image_id", "method"])
    full["AVX"] = rng.random(len(full))
    repeats = full.sample(60, random_state=1).assign(AVX=lambda d: rng.random(len(d)))
    missing_later = full.sample(40, random_state=2).assign(AVX=np.nan)
    empty = pd.DataFrame({"image_id": images[:5], "method": "empty", "AVX": np.nan})
    block = pd.concat([pd.concat([repeats, full, empty]).sample(frac=1, random_state=3), missing_later],
                      ignore_index=True)  # the missing values come after every image's values
    want = block.pivot_table(index="image_id", columns="method", values="AVX", aggfunc="last",
                             dropna=False).dropna(axis=1, how="all")
    got = per_image(block, "AVX")
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_index_type=False, check_column_type=False)
    for columns in (list(got.columns), ["advise", "lime"]):
        assert got[columns].mean().to_numpy().tobytes() == want[columns].mean().to_numpy().tobytes()
    assert "empty" not in got and block.duplicated(["image_id", "method"]).any()
