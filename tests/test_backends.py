"""Every Keras backend computes the same benchmark: JAX (in CI) and PyTorch (where installed) against
TensorFlow on real MobileNet 0.25 weights and 4 ILSVRC images, all six methods; and a run on another
backend never imports TensorFlow."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from backend_probe import METHODS, probe

HERE = Path(__file__).parent
CAMS = ("gradcam", "gradcam++", "layercam", "scorecam")


def _env(backend: str) -> dict:
    return {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": os.pathsep.join(
        [str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")])}


def _available(backend: str) -> bool:
    return importlib.util.find_spec({"jax": "jax", "torch": "torch"}[backend]) is not None


@pytest.fixture(scope="module")
def tensorflow_probe(shared_models_dir, ilsvrc_dir):
    return probe()


def _backend_probe(backend, tmp_path):
    if not _available(backend):
        if backend == "jax" and os.environ.get("CI"):
            pytest.fail("CI installs JAX (the dev extra): the cross-backend test must run there")
        pytest.skip(f"{backend} is not installed")
    out = tmp_path / f"{backend}.npz"
    res = subprocess.run([sys.executable, str(HERE / "backend_probe.py"), str(out)], env=_env(backend),
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return dict(np.load(out))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_matches_tensorflow(backend, tensorflow_probe, tmp_path):
    ref, got = tensorflow_probe, _backend_probe(backend, tmp_path)
    assert not got["tensorflow_imported"], f"the {backend} backend imported TensorFlow"
    np.testing.assert_array_equal(got["targets"], ref["targets"])
    for method in CAMS:
        np.testing.assert_allclose(got[f"{method}_maps"], ref[f"{method}_maps"], atol=1e-4, err_msg=method)
    np.testing.assert_array_equal(got["lime_segments"], ref["lime_segments"])
    assert np.mean(got["lime_maps"] == ref["lime_maps"]) >= 0.99
    units_equal = np.mean(got["advise_units"] == ref["advise_units"])
    assert units_equal >= 0.99, f"peak counts equal on {units_equal:.2%} of units"
    assert got["advise_selected"].tolist() == ref["advise_selected"].tolist()
    for method in METHODS:
        if method == "advise":
            # A peak count is discrete: activations that differ by 1e-6 between backends can move one unit
            # to another group (allowed above), and that changes the group's map. Where every unit kept its
            # count the maps, hence the metrics, must agree.
            same = (got["advise_units"] == ref["advise_units"]).all(axis=1)
            assert same.sum() >= len(same) - 1
            np.testing.assert_allclose(got["advise_maps"][same], ref["advise_maps"][same], atol=1e-4)
            np.testing.assert_allclose(got["advise_metrics"][same], ref["advise_metrics"][same], atol=1e-3)
            continue
        np.testing.assert_allclose(got[f"{method}_metrics"], ref[f"{method}_metrics"], atol=1e-3, err_msg=method)


def test_a_run_on_jax_never_imports_tensorflow(shared_models_dir, ilsvrc_dir, tmp_path):
    if not _available("jax"):
        pytest.skip("jax is not installed")
    command = ("import sys; from advise_bench.cli import main; sys.argv = ['advise-bench'] + sys.argv[1:]\n"
               "try:\n    main()\nfinally:\n    print('TENSORFLOW IMPORTED' if 'tensorflow' in sys.modules else 'NO TF')")
    res = subprocess.run([sys.executable, "-c", command, "run", "--backend", "jax", "--model", "mobilenet",
                          "--limit", "1", "-m", "gradcam", "--out", str(tmp_path), "--quiet"],
                         env={k: v for k, v in _env("tensorflow").items() if k != "KERAS_BACKEND"},
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "NO TF" in res.stdout and "1 rows ok" in res.stdout
    rows = (tmp_path / "mobilenet" / "gradcam.jax.csv").read_text()
    assert ",jax," in rows.splitlines()[1]


def test_backend_choice_errors_are_one_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "advise_bench.cli", "run", "--backend", "mxnet", "--out", str(tmp_path)],
                         env=_env("tensorflow"), capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "--backend 'mxnet'" in res.stderr
    res = subprocess.run([sys.executable, "-m", "advise_bench.cli", "models"], env=_env("theano"),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.strip() == "error: KERAS_BACKEND='theano': choose one of tensorflow, jax, torch"
