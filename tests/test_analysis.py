"""Analyses: the noise/ReLU ablation, the model-randomisation sanity check, the `show` figure, commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from advise_bench.errors import UserError
from advise_bench.runner.run import RunConfig, run, salt_and_pepper

pytestmark = pytest.mark.slow

METRICS = ["AD", "SSIM", "FSIM", "MSE", "AVX"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODEL = "mobilenet"  # MobileNet 0.25: real weights, and the cheapest to load and trace


def _assert_png(path, lo=300, hi=5000):
    from PIL import Image

    assert path.is_file()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        w, h = img.size
    assert lo <= w <= hi and lo <= h <= hi, (w, h)


def _cfg(ilsvrc_dir, out, **kw):
    base = dict(model=MODEL, data=str(ilsvrc_dir / "manifest.csv"), limit=2, methods=("gradcam",),
                out=str(out))
    base.update(kw)
    return RunConfig(**base)


def _metrics(out, method="gradcam"):
    df = pd.read_csv(out / MODEL / f"{method}.csv", dtype={"image_id": str})
    return df.sort_values("image_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def loaded(mobilenet_v2_real):
    from advise_bench.models.zoo import LoadedModel

    return LoadedModel("mobilenet_v2", mobilenet_v2_real, "out_relu", 224, "tf", "shared")


# ---------------------------------------------------------------- noise
def test_salt_and_pepper_is_seeded_and_has_the_density():
    image = np.full((224, 224, 3), 128, np.uint8)
    a = salt_and_pepper(image, 0.1, seed=0, image_id="x")
    assert np.array_equal(a, salt_and_pepper(image, 0.1, seed=0, image_id="x"))
    assert not np.array_equal(a, salt_and_pepper(image, 0.1, seed=0, image_id="y"))
    assert not np.array_equal(a, salt_and_pepper(image, 0.1, seed=1, image_id="x"))
    changed = a != image
    assert set(np.unique(a[changed])) <= {0, 255}
    assert abs(changed.mean() - 0.1) < 0.01
    assert salt_and_pepper(image, 0.0, seed=0, image_id="x") is image


def test_zero_density_reproduces_the_clean_run_and_noise_is_deterministic(ilsvrc_dir, tmp_path):
    """In one environment: rows made on another machine differ in the last float digits (advise_bench.analysis.ablation)."""
    run(_cfg(ilsvrc_dir, tmp_path / "clean"), progress=False)
    run(_cfg(ilsvrc_dir, tmp_path / "zero", noise_density=0.0), progress=False)
    run(_cfg(ilsvrc_dir, tmp_path / "noisy1", noise_density=0.1), progress=False)
    run(_cfg(ilsvrc_dir, tmp_path / "noisy2", noise_density=0.1), progress=False)
    clean, zero = _metrics(tmp_path / "clean"), _metrics(tmp_path / "zero")
    noisy1, noisy2 = _metrics(tmp_path / "noisy1"), _metrics(tmp_path / "noisy2")
    assert len(clean) == 2 and (clean["status"] == "ok").all()
    cols = METRICS + ["image_id", "top5", "target"]
    pd.testing.assert_frame_equal(clean[cols], zero[cols])
    pd.testing.assert_frame_equal(noisy1[cols], noisy2[cols])  # same seed -> same noise -> same numbers
    assert not np.allclose(clean[METRICS].to_numpy(float), noisy1[METRICS].to_numpy(float))
    assert (clean["top5_probs"] != noisy1["top5_probs"]).all()  # the model saw different pixels


# ---------------------------------------------------------------- ablation
@pytest.fixture(scope="module")
def ablation(ilsvrc_dir, tmp_path_factory):
    from advise_bench.analysis.ablation import ablate

    out = tmp_path_factory.mktemp("ablation")
    cfg = _cfg(ilsvrc_dir, out, methods=("gradcam", "advise"))
    return out, ablate(cfg, densities=(0.05, 0.1), progress=False)


def test_ablation_table_and_figure(ablation):
    from advise_bench.analysis.ablation import DENSITIES

    assert len(DENSITIES) == 9 and DENSITIES[0] == 0.025 and DENSITIES[-1] == 0.225
    out, table = ablation
    root = out / "ablation"
    csv = pd.read_csv(root / "ablation_avx.csv")
    assert {"method", "relu", "density", "n", "AVX_ci_low", "AVX_ci_high", "zero_fraction", *METRICS} <= set(csv.columns)
    assert len(csv) == 2 * 2 * 2 == len(table)  # methods x ReLU modes x densities
    assert set(csv["method"]) == {"gradcam", "advise"} and set(csv["relu"]) == {True, False}
    assert set(csv["density"]) == {0.05, 0.1} and (csv["n"] == 2).all() and not csv["control"].any()
    assert csv["AVX"].between(0, 1).all()
    assert (csv["AVX_ci_low"] <= csv["AVX"] + 1e-12).all() and (csv["AVX"] <= csv["AVX_ci_high"] + 1e-12).all()
    for relu in ("on", "off"):
        for d in ("0.050", "0.100"):
            for method in ("gradcam", "advise"):
                rows = pd.read_csv(root / f"relu-{relu}_d{d}" / MODEL / f"{method}.csv")
                got = csv[(csv["relu"] == (relu == "on")) & (csv["density"] == float(d)) & (csv["method"] == method)]
                assert got["AVX"].iloc[0] == pytest.approx(rows["AVX"].mean())
                assert got["zero_fraction"].iloc[0] == (rows["AVX"] == 0).sum() / len(rows)
    comparisons = pd.read_csv(root / "ablation_comparisons.csv")
    avx = comparisons[comparisons["metric"] == "AVX"]
    assert len(avx) == 4 and set(avx["baseline"]) == {"Grad-CAM"} and (avx["n_pairs"] == 2).all()
    assert (avx["verdict"] == "not shown").all()  # 2 images can show nothing
    _assert_png(root / "ablation_avx.png")


# ---------------------------------------------------------------- sanity
def test_cascade_steps_cover_mobilenet_v2_from_the_top(loaded):
    from advise_bench.analysis.sanity import cascade_steps

    steps = cascade_steps(loaded.model, 7)
    assert len(steps) == 7 and steps[0] == ["predictions"]
    assert steps[1][0] == "Conv_1" and steps[-1][-1] == "bn_Conv1"
    flat = [n for s in steps for n in s]
    weighted = [layer.name for layer in loaded.model.layers if layer.weights]
    assert sorted(flat) == sorted(weighted) and len(flat) == len(set(flat))


def test_sanity_on_a_real_model_every_series_and_resume(mobilenet_025_loaded, ilsvrc_images, tmp_path):
    """MobileNet 0.25, 2 images one chunk each, 2 cascade steps; ADVISE under two selections."""
    from advise_bench.analysis.sanity import UNDECIDED, sanity

    loaded = mobilenet_025_loaded
    images = np.stack([img for img, _ in ilsvrc_images[:2]])
    before = [w.copy() for w in loaded.model.get_weights()[-2:]]
    config = RunConfig(scorecam_max_n=8, lime_samples=50)
    args = dict(steps=2, seed=0, out=tmp_path, image_ids=["a", "b"], advise_selections=["max-peaks", "oracle-avx"],
                chunk_size=1)
    rows = sanity(loaded, images, ["gradcam", "scorecam", "lime", "advise"], config, **args)
    series = {"gradcam", "scorecam", "lime", "advise (max-peaks)", "advise (oracle-avx)"}
    assert set(rows["series"]) == series and len(rows) == 2 * len(series) * 3  # images x series x steps 0..2
    deterministic = rows[(rows["step"] == 0) & (rows["method"] != "lime")]
    assert np.allclose(deterministic["spearman"], 1.0) and np.allclose(deterministic["ssim"], 1.0)
    gradcam = rows[rows["series"] == "gradcam"].groupby("step")["spearman"].mean()
    assert gradcam[2] < gradcam[0] - 0.3  # the maps follow the weights
    summary = pd.read_csv(tmp_path / "sanity.csv")
    assert len(summary) == len(series) * 3 and (summary["n"] == 2).all()
    verdicts = pd.read_csv(tmp_path / "sanity_verdicts.csv")
    assert set(verdicts["series"]) == series and (verdicts["verdict"] == UNDECIDED).all()  # 2 images decide nothing
    _assert_png(tmp_path / "sanity.png")
    # The caller's model is untouched, and a second call recomputes nothing and rebuilds the same summary.
    for a, b in zip(before, loaded.model.get_weights()[-2:], strict=True):
        assert np.array_equal(a, b)
    written = {name: (tmp_path / name).read_bytes() for name in ("sanity_images.csv", "sanity.csv",
                                                                "sanity_verdicts.csv")}
    sanity(loaded, images, ["gradcam", "scorecam", "lime", "advise"], config, **args)
    assert {name: (tmp_path / name).read_bytes() for name in written} == written
    # An image cut short after step 0 (a killed run) is redone from step 0: no (image, series, step) twice.
    lines = written["sanity_images.csv"].decode().splitlines(keepends=True)
    cut = [line for line in lines if not line.startswith("b,") or ",0,none (trained)," in line]
    (tmp_path / "sanity_images.csv").write_text("".join(cut))
    rows = sanity(loaded, images, ["gradcam", "scorecam", "lime", "advise"], config, **args)
    raw = pd.read_csv(tmp_path / "sanity_images.csv", dtype={"image_id": str}, keep_default_na=False)
    assert len(raw) == len(rows) == 2 * len(series) * 3 and not raw.duplicated(["image_id", "series", "step"]).any()


def test_similarity_helpers():
    from advise_bench.analysis.sanity import spearman, ssim

    a = np.random.default_rng(0).random((32, 32))
    assert spearman(a, a) == 1.0 and spearman(a, np.zeros_like(a)) == 0.0
    assert spearman(a, 1 - a) == pytest.approx(-1.0)
    assert ssim(a, a) == pytest.approx(1.0)


# ---------------------------------------------------------------- show
def test_show_writes_a_figure(loaded, ilsvrc_images, tmp_path):
    from advise_bench.analysis.figures import show

    out = show(loaded, ilsvrc_images[0][0], ["gradcam", "layercam", "advise"], tmp_path / "fig" / "show.png")
    _assert_png(out)


# ---------------------------------------------------------------- commands
@pytest.fixture(scope="module")
def cli():
    import typer
    from typer.testing import CliRunner

    from advise_bench.analysis.commands import ablate_command, sanity_command, show_command

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("ablate")(ablate_command)
    app.command("sanity")(sanity_command)
    app.command("show")(show_command)

    def invoke(*args):
        """Like advise_bench.cli.main(): a UserError becomes one line on stderr and exit code 2."""
        result = CliRunner().invoke(app, [str(a) for a in args])
        if isinstance(result.exception, UserError):
            return 2, f"error: {result.exception}"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    return invoke


def test_commands_help(cli):
    for name in ("ablate", "sanity", "show"):
        code, output = cli(name, "--help")
        assert code == 0 and "--model" in output


def test_show_command_user_errors(cli, tmp_path):
    code, msg = cli("show", tmp_path / "missing.jpg", "--out", tmp_path / "x.png")
    assert code == 2 and "missing.jpg" in msg and "\n" not in msg
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    code, msg = cli("show", bad, "--out", tmp_path / "x.png")
    assert code == 2 and "cannot decode" in msg and "\n" not in msg
    code, msg = cli("show", bad, "--methods", "nope")
    assert code == 2 and "unknown method" in msg
    # a wrong --out is reported before any image or weights are read
    code, msg = cli("show", bad, "--weights", tmp_path / "missing.weights.h5", "--out", tmp_path / "x.jpg")
    assert code == 2 and "expected a .png" in msg and "\n" not in msg
    assert not (tmp_path / "x.png").exists()


def test_ablate_and_sanity_command_user_errors(cli, tmp_path):
    code, msg = cli("ablate", "--densities", "0.1,abc", "--out", tmp_path)
    assert code == 2 and "--densities" in msg
    code, msg = cli("ablate", "--densities", "1.5", "--out", tmp_path)
    assert code == 2 and "[0, 1)" in msg
    code, msg = cli("ablate", "--summary-only", "--out", tmp_path)
    assert code == 2 and "no ablation folder" in msg and "\n" not in msg
    code, msg = cli("ablate", "--control", tmp_path / "missing", "--out", tmp_path, "--densities", "0.1")
    assert code == 2 and "--control" in msg and "\n" not in msg
    code, msg = cli("ablate", "--scorecam-max-n", "-1", "--out", tmp_path)
    assert code == 2 and "--scorecam-max-n" in msg
    code, msg = cli("sanity", "--limit", "0", "--out", tmp_path)
    assert code == 2 and "--limit" in msg
    code, msg = cli("sanity", "--advise-selection", "max-peaks,best", "--out", tmp_path)
    assert code == 2 and "best" in msg and "\n" not in msg
    code, msg = cli("sanity", "--summary-only", "--out", tmp_path)
    assert code == 2 and "sanity_images.csv" in msg and "\n" not in msg
    code, msg = cli("sanity", "--config", tmp_path / "missing.toml", "--out", tmp_path)
    assert code == 2 and "missing.toml" in msg


def test_sanity_config_applies_the_presets_method_settings():
    from advise_bench.analysis.commands import sanity_run_config
    from advise_bench.paths import REPO_ROOT

    preset = REPO_ROOT / "configs" / "mobilenet.toml"
    quick = {"model": "mobilenet_v2", "seed": 0, "scorecam_max_n": 64, "lime_samples": 300, "limit": 4, "out": "x"}
    assert sanity_run_config(quick, set(), None).scorecam_max_n == 64
    cfg = sanity_run_config(quick, set(), preset)
    assert (cfg.model, cfg.subset_seed, cfg.scorecam_max_n, cfg.lime_samples) == ("mobilenet", 0, None, 1000)
    assert cfg.data.endswith("manifest.csv") and len(cfg.methods) == 6
    assert (cfg.limit, cfg.out) == (None, "results")  # the preset's run size and folder are not the check's
    cfg = sanity_run_config(quick, {"lime_samples", "model"}, preset)  # typed on the command line: they win
    assert (cfg.model, cfg.lime_samples, cfg.scorecam_max_n) == ("mobilenet_v2", 300, None)


def test_sanity_command_subset_order_resume_and_summary_only(cli, ilsvrc_dir, tmp_path):
    from advise_bench.data import resolve_source, select_subset

    args = ("sanity", "--model", MODEL, "--data", ilsvrc_dir / "manifest.csv", "--limit", 2, "--subset-seed", 0,
            "--steps", 1, "-m", "gradcam", "--out", tmp_path, "--quiet")
    code, output = cli(*args)
    assert code == 0, output
    assert "undecided" in output
    rows = pd.read_csv(tmp_path / "sanity_images.csv", dtype={"image_id": str})
    _, records = resolve_source(str(ilsvrc_dir / "manifest.csv"))
    assert list(dict.fromkeys(rows["image_id"])) == [r.image_id for r in select_subset(records, 2, 0)]
    manifest = json.loads((tmp_path / "sanity.json").read_text())
    assert manifest["backend"] == "tensorflow" and manifest["device"].startswith("cpu:")  # which machine made it
    files = ("sanity_images.csv", "sanity.csv", "sanity_verdicts.csv")
    written = {f: (tmp_path / f).read_bytes() for f in files}
    code, output = cli(*args)  # resumes: nothing to do
    assert code == 0, output
    code, output = cli("sanity", "--summary-only", "--out", tmp_path)
    assert code == 0, output
    assert {f: (tmp_path / f).read_bytes() for f in files} == written


def test_show_command_writes_png(cli, ilsvrc_dir, tmp_path):
    import csv

    first = next(csv.DictReader(open(ilsvrc_dir / "manifest.csv")))
    out = tmp_path / "cmd.png"
    code, output = cli("show", ilsvrc_dir / first["file"], "--model", MODEL, "--methods", "gradcam", "--out", out)
    assert code == 0, output
    _assert_png(out)


def test_ablate_command_resumes_the_finished_ablation(cli, ablation, ilsvrc_dir):
    out, table = ablation
    root = out / "ablation"
    inputs = sorted(root.glob("relu-*/*/*.csv"))
    before = {p: p.read_bytes() for p in [*inputs, root / "ablation_avx.csv", root / "ablation_comparisons.csv"]}
    code, output = cli("ablate", "--model", MODEL, "--data", ilsvrc_dir / "manifest.csv", "--limit", 2,
                       "--methods", "gradcam", "--methods", "advise", "--densities", "0.05,0.1", "--out", out, "--quiet")
    assert code == 0, output
    assert {p: p.read_bytes() for p in before} == before  # no row recomputed; the same summary
    code, output = cli("ablate", "--summary-only", "--out", out)
    assert code == 0, output
    assert {p: p.read_bytes() for p in before} == before
    assert "zero_fraction" in output


def test_the_arm_without_relu_skips_methods_that_have_no_relu(monkeypatch, tmp_path):
    """LIME forms no CAM, so its maps without ReLU would repeat those with ReLU: that arm skips it."""
    import advise_bench.analysis.ablation as ablation_module
    from advise_bench.config import RunConfig

    runs = []
    monkeypatch.setattr(ablation_module, "run", lambda cfg, progress: runs.append((cfg.relu, cfg.methods)))
    monkeypatch.setattr(ablation_module, "summarize_ablation", lambda root, controls: pd.DataFrame())
    cfg = RunConfig(methods=("advise", "lime", "gradcam"), out=str(tmp_path))
    ablation_module.ablate(cfg, densities=(0.1,), progress=False)
    assert runs == [(True, ("advise", "lime", "gradcam")), (False, ("advise", "gradcam"))]
    runs.clear()
    ablation_module.ablate(RunConfig(methods=("lime",), out=str(tmp_path)), densities=(0.1,), progress=False)
    assert runs == [(True, ("lime",))]
