"""The CLI's help, version and error paths: errors are one line on stderr with exit code 2."""

import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "advise_bench.cli"]


def _cli(*args, timeout=240):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["report", "--help"], ["models", "--help"],
                                  ["ablate", "--help"], ["sanity", "--help"], ["show", "--help"]])
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
