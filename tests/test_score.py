"""`advise-bench score`: maps computed elsewhere are scored exactly as a run scores its own, bad maps are rows.

The round trip's maps come from the public explainer API (not from the runner), are saved as .npy or .npz,
scored, and compared with the run's own rows of the same method.
"""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advise_bench.config import RunConfig
from advise_bench.runner.run import run
from advise_bench.runner.score import score

pytestmark = pytest.mark.slow

MODEL = "mobilenet"
FAST = {"lime_samples": 50, "scorecam_max_n": 8}
METRICS = ["AD", "SSIM", "FSIM", "MSE", "AVX"]
RAW = ["raw_AD", "raw_SSIM", "raw_FSIM", "raw_MSE"]
CS_COLUMNS = ["CS_r", "CS_pass"]


def _manifest(ilsvrc_dir, folder, n):
    rows = list(csv.DictReader(open(ilsvrc_dir / "manifest.csv")))[:n]
    path = folder / "manifest.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label"])
        for r in rows:
            w.writerow([ilsvrc_dir / r["file"], r["label"]])
    return path


def _cfg(manifest, out, **kw):
    return RunConfig(model=MODEL, data=str(manifest), out=str(out), **{**FAST, **kw})


@pytest.fixture(scope="module")
def round_trip(ilsvrc_dir, tmp_path_factory):
    """A run of Grad-CAM and LIME on 3 images; each method's maps recomputed through the explainer API and
    saved as (2, H, W) and (H, W) .npy files, Grad-CAM's also as one .npz and at the feature layer's 7 x 7."""
    from advise_bench.data import load_image
    from advise_bench.explainers import explainer_from_config
    from advise_bench.models.zoo import load_model_shared

    root = tmp_path_factory.mktemp("score")
    manifest = _manifest(ilsvrc_dir, root, 3)
    cfg = _cfg(manifest, root / "res", methods=("gradcam", "lime"))
    run(cfg, progress=False)
    loaded = load_model_shared(MODEL)
    images = {r["file"]: r for r in csv.DictReader(open(manifest))}
    both, low_res = {"gradcam": {}, "lime": {}}, {}
    for file in images:
        image_id = Path(file).stem
        image = load_image(file, loaded.input_size)
        targets = np.argsort(-loaded.predict(image[None])[0])[:2]
        for method in both:
            both[method][image_id] = explainer_from_config(method, loaded, cfg).explain_selected(
                image[None], targets[None])[0]
        gradcam = explainer_from_config("gradcam", loaded, cfg)
        low_res[image_id] = gradcam.low_res_maps(gradcam.prepare(image[None].repeat(2, 0)), targets)
    scored = {}
    for method, maps in both.items():
        for shape, pick in (("2hw", lambda m: m), ("hw", lambda m: m[0]), ("1hw", lambda m: m[:1])):
            folder = root / f"{method}-{shape}"
            folder.mkdir()
            for image_id, m in maps.items():
                np.save(folder / f"{image_id}.npy", pick(m))
            scored[f"{method}-{shape}"] = folder
    np.savez(root / "gradcam.npz", **both["gradcam"])
    scored["gradcam-npz"] = root / "gradcam.npz"
    (root / "gradcam-7x7").mkdir()
    for image_id, m in low_res.items():
        np.save(root / "gradcam-7x7" / f"{image_id}.npy", m)
    scored["gradcam-7x7"] = root / "gradcam-7x7"
    for name, maps in scored.items():
        score(_cfg(manifest, root / "res"), maps, name, progress=False)
    folder = root / "res" / MODEL
    rows = {name: pd.read_csv(folder / f"{name}.csv", dtype={"image_id": str}).set_index("image_id")
            for name in [*scored, "gradcam", "lime"]}
    return {"rows": rows, "root": root, "manifest": manifest, "low_res_shape": next(iter(low_res.values())).shape}


@pytest.mark.parametrize("name,method", [("gradcam-2hw", "gradcam"), ("lime-2hw", "lime"),
                                         ("gradcam-npz", "gradcam"), ("gradcam-7x7", "gradcam")])
def test_two_maps_reproduce_the_run_s_rows(round_trip, name, method):
    ours, theirs = round_trip["rows"][name], round_trip["rows"][method]
    assert list(ours.columns) == list(theirs.columns) and list(ours.index) == list(theirs.index)
    numeric = METRICS + RAW + ["CS_r", "penalty_d"]
    np.testing.assert_allclose(ours[numeric].to_numpy(float), theirs[numeric].to_numpy(float), atol=1e-6, rtol=0)
    for column in ("CS_pass", "Hit", "penalty", "blank_mask", "target", "target2", "top5", "status", "label"):
        assert ours[column].tolist() == theirs[column].tolist(), column
    assert (ours["method"] == name).all() and ours[["time_s", "time_top2_s"]].isna().all().all()
    assert theirs["time_s"].notna().all()


@pytest.mark.parametrize("method", ["gradcam", "lime"])
def test_a_1hw_map_is_scored_as_its_hw_map_and_a_single_map_leaves_cs_empty(round_trip, method):
    """A plugin's maps are (1, S, S): accepted as (S, S). Without a second map CS_r, CS_pass and target2 are empty
    in the CSV (not "nan"), as documented."""
    one, hw = round_trip["rows"][f"{method}-1hw"], round_trip["rows"][f"{method}-hw"]
    pd.testing.assert_frame_equal(one.drop(columns="method"), hw.drop(columns="method"))
    folder = round_trip["root"] / "res" / MODEL
    for name in (f"{method}-1hw", f"{method}-hw"):
        raw = list(csv.DictReader(open(folder / f"{name}.csv")))
        assert raw and all(r["CS_r"] == r["CS_pass"] == r["target2"] == "" for r in raw), raw[0]


def test_a_7x7_map_is_resized_by_the_cam_rule(round_trip):
    assert round_trip["low_res_shape"] == (2, 7, 7)  # so the previous test did resize


@pytest.mark.parametrize("name,method", [("gradcam-hw", "gradcam"), ("lime-hw", "lime")])
def test_one_map_reproduces_every_column_that_needs_no_second_map(round_trip, name, method):
    ours, theirs = round_trip["rows"][name], round_trip["rows"][method]
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_allclose(ours[RAW].to_numpy(float), theirs[RAW].to_numpy(float), atol=1e-6, rtol=0)
    assert ours["CS_r"].isna().all() and ours["CS_pass"].isna().all() and ours["target2"].isna().all()
    assert ours["target"].tolist() == theirs["target"].tolist() and ours["Hit"].tolist() == theirs["Hit"].tolist()
    # Without the CS check, a miss is scaled by d (never zeroed): the metrics equal the run's wherever the run's
    # check passed or the map hit, and are the raw values times d (reference protocol) where the run zeroed.
    same = theirs["penalty"] != "zeroed"
    assert same.any()
    np.testing.assert_allclose(ours.loc[same, METRICS].to_numpy(float), theirs.loc[same, METRICS].to_numpy(float),
                               atol=1e-6, rtol=0)
    zeroed = ours[~same]
    assert (zeroed["penalty"] == "scaled").all()
    np.testing.assert_allclose(zeroed["AD"], zeroed["raw_AD"] * zeroed["penalty_d"], atol=1e-12)


def test_the_report_reads_scored_maps_like_any_method(round_trip):
    from advise_bench.report.build import build_report

    table, paths = build_report(round_trip["root"] / "res", n_resamples=1000)
    table = table.set_index("method")
    assert table.loc["gradcam-hw", "n"] == 3 and np.isnan(table.loc["gradcam-hw", "CS_pass"])
    assert table.loc["gradcam-2hw", "AVX"] == pytest.approx(table.loc["Grad-CAM", "AVX"], abs=1e-6)
    md = paths["markdown"].read_text()
    line = next(ln for ln in md.splitlines() if "| gradcam-2hw |" in ln)
    assert "| not measured |" in line and "Time 'not measured'" in md
    note = next(ln for ln in md.splitlines() if "CS pass — for " in ln)
    assert all(name in note.split(":")[0] for name in ("gradcam-hw", "gradcam-1hw", "lime-hw", "lime-1hw")), note


def test_targets_score_the_map_for_another_class(round_trip, tmp_path):
    """The run's top-2 map scored as the map of the top-2 class: AD and Hit are about that class."""
    from advise_bench.data import load_image
    from advise_bench.metrics.core import binary_mask
    from advise_bench.models.zoo import load_model_shared

    run_rows = round_trip["rows"]["gradcam"]
    maps = tmp_path / "swapped"
    maps.mkdir()
    with open(tmp_path / "targets.csv", "w") as fh:
        fh.write("image_id,target,target2\n")
        for image_id, r in run_rows.iterrows():
            np.save(maps / f"{image_id}.npy", np.load(round_trip["root"] / "gradcam-2hw" / f"{image_id}.npy")[::-1])
            fh.write(f"{image_id},{r['target2']},{r['target']}\n")
    score(_cfg(round_trip["manifest"], tmp_path / "res"), maps, "swapped", tmp_path / "targets.csv", progress=False)
    ours = pd.read_csv(tmp_path / "res" / MODEL / "swapped.csv", dtype={"image_id": str}).set_index("image_id")
    assert ours["target"].tolist() == run_rows["target2"].tolist()
    assert ours["target2"].tolist() == run_rows["target"].tolist()
    # CS is symmetric in its two maps
    np.testing.assert_allclose(ours["CS_r"], run_rows["CS_r"], atol=1e-6)
    loaded = load_model_shared(MODEL)
    files = {Path(r["file"]).stem: r["file"] for r in csv.DictReader(open(round_trip["manifest"]))}
    for image_id, r in ours.iterrows():
        image = load_image(files[image_id], loaded.input_size)
        probs = loaded.predict(image[None])[0]
        masked = binary_mask(image, np.load(maps / f"{image_id}.npy")[0])
        masked_probs = loaded.predict(masked[None])[0]
        y_c = probs[r["target"]]  # the reference protocol: o is the masked image's largest probability
        assert r["raw_AD"] == pytest.approx(max(0.0, y_c - masked_probs.max()) / y_c, abs=1e-6)
        assert bool(r["Hit"]) == (r["target"] in np.argsort(-masked_probs)[:5])


def test_a_hostile_maps_folder_gives_a_row_per_image_and_finishes(ilsvrc_dir, tmp_path):
    from typer.testing import CliRunner

    from advise_bench.cli import app

    manifest = _manifest(ilsvrc_dir, tmp_path, 8)
    ids = [Path(r["file"]).stem for r in csv.DictReader(open(manifest))]
    maps = tmp_path / "maps"
    maps.mkdir()
    ramp = np.add.outer(np.arange(7.0), np.arange(7.0))
    np.save(maps / f"{ids[0]}.npy", ramp)  # fine: a 7 x 7 map, resized
    # ids[1]: no file
    np.save(maps / f"{ids[2]}.npy", np.stack([ramp, ramp, ramp]))  # three maps
    np.save(maps / f"{ids[3]}.npy", np.where(ramp > 6, np.nan, ramp))
    np.save(maps / f"{ids[4]}.npy", np.full((224, 224), 0.7))  # constant
    (maps / f"{ids[5]}.npy").write_text("not an array\n")
    np.save(maps / f"{ids[6]}.npy", np.stack([ramp, -ramp]).astype(np.float16) * np.inf)
    # At the input size and within [0, 1]: scored as it is, so nothing reaches the reference mask's 0.5.
    np.save(maps / f"{ids[7]}.npy", np.where(np.arange(224) < 112, 0.2, 0.45)[None, :].repeat(224, 0))
    np.save(maps / "not_an_image_of_the_data.npy", ramp)
    res = CliRunner().invoke(app, ["score", str(maps), "--name", "hostile", "--model", MODEL, "--data", str(manifest),
                                   "--out", str(tmp_path / "res"), "--quiet"])
    assert res.exit_code == 0, res.output
    # Each image's row and its shuffled control's row (the same status: a bad map is bad shuffled too).
    assert "8 images: 4 rows ok, 10 error rows, 2 degenerate rows" in res.output
    shuffled = pd.read_csv(tmp_path / "res" / MODEL / "hostile-shuffled.csv", dtype={"image_id": str})
    assert len(shuffled) == 8 and (shuffled["status"] == "ok").sum() == 2
    assert "1 maps name no image of this selection" in res.output
    rows = pd.read_csv(tmp_path / "res" / MODEL / "hostile.csv", dtype={"image_id": str}).set_index("image_id")
    assert rows["status"].value_counts().to_dict() == {"error": 5, "ok": 2, "degenerate_map": 1}
    messages = rows["error"].fillna("")
    expected = {1: "no map for image", 2: "shape (3, 7, 7); expected (H, W), (1, H, W) or (2, H, W)",
                3: "NaN or Inf", 4: "constant map", 5: f"{ids[5]}.npy: not a NumPy array file", 6: "NaN or Inf"}
    for i, needle in expected.items():
        assert needle in messages[ids[i]] and "\n" not in messages[ids[i]], (i, messages[ids[i]])
    assert rows.loc[ids[0], "AVX"] >= 0 and messages[ids[0]] == "" and not rows.loc[ids[0], "blank_mask"]
    assert rows.loc[ids[7], "blank_mask"] and rows.loc[ids[7], "raw_FSIM"] == 0  # not stretched to [0, 1]


def test_bad_score_arguments_are_one_line(tmp_path):
    """Checked before the model loads: the maps, the name, the targets file."""
    import subprocess
    import sys

    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    (tmp_path / "t.csv").write_text("image,class\nx,1\n")
    cases = [([str(tmp_path / "nowhere"), "--name", "m"], "no such maps folder"),
             ([str(tmp_path), "--name", "gradcam"], "that is the name of a method"),
             ([str(tmp_path), "--name", "a/b"], "--name 'a/b'"),
             ([str(tmp_path / "x.npy"), "--name", "m"], "expected a folder of <image id>.npy files or one .npz"),
             ([str(tmp_path), "--name", "m", "--targets", str(tmp_path / "t.csv")], "expected the columns image_id,target")]
    for args, needle in cases:
        res = subprocess.run([sys.executable, "-m", "advise_bench.cli", "score", *args, "--data", "skimage"],
                             capture_output=True, text=True, timeout=240)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and needle in res.stderr, (args, res.stderr)


def test_map_files_say_in_one_line_of_their_own_what_is_wrong(tmp_path):
    """No model needed: a text file named .npy, an array of Python objects, a (1, H, W) map."""
    from advise_bench.runner.score import MapError, MapFiles, maps_to_score

    (tmp_path / "text.npy").write_text("0.1 0.2\n0.3 0.4\n")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "ok.npy", np.eye(7))
    files = MapFiles(tmp_path)
    for image_id, needle in (("text", "text.npy: not a NumPy array file"), ("objects", "holds Python objects")):
        with pytest.raises(MapError) as err:
            files.read(image_id)
        assert needle in str(err.value) and "pickle" not in str(err.value) and "\n" not in str(err.value)
    ramp = np.add.outer(np.arange(7.0), np.arange(7.0))
    np.testing.assert_array_equal(maps_to_score(ramp[None], 32), maps_to_score(ramp, 32))
    assert maps_to_score(files.read("ok")[None], 32).shape == (1, 32, 32)
    with pytest.raises(MapError, match=r"expected \(H, W\), \(1, H, W\) or \(2, H, W\)"):
        maps_to_score(np.zeros((3, 7, 7)), 32)
