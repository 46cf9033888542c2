"""The CLI's help, version and error paths: errors are one line on stderr with exit code 2."""

import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "advise_bench.cli"]


def _cli(*args, timeout=240):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["report", "--help"], ["models", "--help"],
                                  ["ablate", "--help"], ["sanity", "--help"], ["show", "--help"],
                                  ["methods", "--help"], ["score", "--help"]])
def test_help_everywhere(args):
    res = _cli(*args)
    assert res.returncode == 0 and "Usage" in res.stdout


def test_version():
    res = _cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("advise-bench ")


def test_models_lists_all_six():
    res = _cli("models")
    assert res.returncode == 0
    for name in ("vgg16", "resnet50", "xception", "alexnet", "mobilenet_v2", "mobilenet"):
        assert f"\n{name} " in res.stdout


def test_methods_lists_the_built_in_six_with_their_options():
    res = _cli("methods")
    assert res.returncode == 0
    rows = {ln.split()[0]: ln for ln in res.stdout.splitlines()[1:]}
    assert set(rows) >= {"advise", "gradcam", "gradcam++", "scorecam", "layercam", "lime"}
    assert "built-in (advise_bench.explainers.lime)" in rows["lime"] and "--lime-samples" in rows["lime"]
    assert "--scorecam-max-n" in rows["scorecam"] and "--lime-samples" not in rows["scorecam"]


def _one_line_error(res, *needles):
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("args,needles", [
    (["run", "--model", "vgg17"], ["unknown model"]),
    (["run", "-m", "deeplift"], ["unknown method"]),
    (["run", "--protocol", "paper"], ["unknown protocol"]),
    (["run", "--data", "/no/such/folder"], ["no such file"]),
    (["run", "--shard", "3/2"], ["--shard"]),
    (["run", "--weights", "/no/such.weights.h5"], ["no such file"]),
    (["run", "--model", "mobilenet", "--weights", "random", "--layer", "nope", "--data", "skimage"], ["not found"]),
    (["report", "/no/such/results"], ["no such results folder"]),
    (["run", "--config", "/no/such.toml"], ["no such file"]),
])
def test_user_errors_are_one_line(args, needles):
    _one_line_error(_cli(*args), *needles)


def test_offline_imagenet_download_says_how_to_pass_weights(tmp_path):
    """On a machine without internet the real Keras download fails; the tool says what to do."""
    import socket

    try:
        socket.create_connection(("example.com", 443), timeout=3).close()
        pytest.skip("this machine has internet: the download would succeed")
    except OSError:
        pass
    res = _cli("run", "--model", "vgg16", "--data", "skimage", "--out", str(tmp_path), "--quiet")
    _one_line_error(res, "--weights PATH")


def test_methods_take_comma_lists_and_repetition():
    res = _cli("run", "-m", "advise,deeplift", "-m", "gradcam")
    _one_line_error(res, "unknown method(s) deeplift")


def test_command_line_options_win_over_a_preset(monkeypatch, tmp_path):
    """Options typed on the command line (long or short form) override the preset; the rest come from it."""
    from typer.testing import CliRunner

    import advise_bench.runner.run as runner
    from advise_bench.cli import app

    seen = {}

    def fake_run(cfg, progress=True):
        from advise_bench.metrics.core import STATUSES

        seen["cfg"] = cfg
        return {"images": 0, "skipped_done": 0, **dict.fromkeys(STATUSES, 0)}

    monkeypatch.setattr(runner, "run", fake_run)
    preset = tmp_path / "p.toml"
    preset.write_text('[run]\nmethods = ["lime"]\nlimit = 4\nlime_samples = 200\nscorecam_max_n = 64\n')
    res = CliRunner().invoke(app, ["run", "--config", str(preset), "-m", "gradcam,advise", "--lime-samples", "1000",
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    cfg = seen["cfg"]
    assert cfg.methods == ("gradcam", "advise") and cfg.lime_samples == 1000  # typed: the command line wins
    assert cfg.limit == 4 and cfg.scorecam_max_n == 64  # not typed: the preset's values


def test_run_says_which_settings_differ_from_the_papers():
    from advise_bench.config import RunConfig, differences_from_paper

    paper = RunConfig(model="vgg16", data="x.csv", lime_samples=1000, scorecam_max_n=None)
    assert differences_from_paper(paper, 3000) == []
    demo = RunConfig(model="mobilenet_v2", data="skimage", lime_samples=300, scorecam_max_n=64, relu=False)
    assert differences_from_paper(demo, 6) == [
        "model mobilenet_v2 (paper vgg16, resnet50, xception, alexnet)", "LIME samples 300 (paper 1000)",
        "Score-CAM channels 64 (paper all)", "ReLU in map formation off (paper on)",
        "6 embedded photos (paper 3,000 ILSVRC validation images)"]
    assert differences_from_paper(RunConfig(model="vgg16", protocol="corrected"), 100) == [
        "protocol corrected (paper reference)", "100 images (paper 3,000 ILSVRC validation images)"]


def test_the_cli_starts_without_numpy_pandas_or_keras():
    """`advise-bench --help` and every command's parsing load only the thin layer: the work is imported when a
    command runs."""
    import subprocess

    probe = ("import sys, advise_bench.cli; "
             "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
