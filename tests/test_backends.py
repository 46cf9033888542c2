"""Every Keras backend computes the same benchmark: JAX (in CI) and PyTorch (where installed) against
TensorFlow on real MobileNet 0.25 weights and 4 ILSVRC images, all six methods, with the tolerances of
``scripts/backend_probe.py``; and a run on another backend never imports TensorFlow."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from backend_probe import compare, probe  # noqa: E402

PROBE = ROOT / "scripts" / "backend_probe.py"


def _env(backend: str) -> dict:
    return {**os.environ, "KERAS_BACKEND": backend,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _available(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


@pytest.fixture(scope="module")
def tensorflow_probe(shared_models_dir, ilsvrc_dir):
    return probe()


def _backend_probe(backend, tmp_path):
    if not _available(backend):
        if backend == "jax" and os.environ.get("CI"):
            pytest.fail("CI installs JAX (the dev extra): the cross-backend test must run there")
        pytest.skip(f"{backend} is not installed")
    out = tmp_path / f"{backend}.npz"
    res = subprocess.run([sys.executable, str(PROBE), str(out)], env=_env(backend), capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return dict(np.load(out))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_matches_tensorflow(backend, tensorflow_probe, tmp_path):
    got = _backend_probe(backend, tmp_path)
    assert not got["tensorflow_imported"], f"the {backend} backend imported TensorFlow"
    failed = [f"{name} ({measured})" for name, passed, measured in compare(tensorflow_probe, got) if not passed]
    assert not failed, failed


def test_the_comparison_can_fail(tensorflow_probe):
    """compare() is the oracle of the test above: it must see a changed map, unit, selection and metric."""
    assert all(passed for _, passed, _ in compare(tensorflow_probe, tensorflow_probe))
    bad = {k: v.copy() for k, v in tensorflow_probe.items()}
    bad["gradcam_maps"][0, 0, 0, 0] += 1e-3
    bad["advise_units"][0, :20] += 1  # 20 of 4 x 256 units: 98% equal
    bad["advise_selected"][0] += 1
    bad["lime_metrics"][1, 4] += 2e-3
    failed = {name for name, passed, _ in compare(tensorflow_probe, bad) if not passed}
    assert failed == {"gradcam maps max |diff| <= 0.0001", "advise selected group equal on every image",
                      "lime metrics max |diff| <= 0.001", "advise peak counts equal >= 99% of units"}


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


def test_gpu_check_without_a_gpu_says_so_in_one_line_and_exits_2():
    backend = "jax" if _available("jax") else "tensorflow"  # JAX starts faster; CI has it
    res = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--backend", backend, "--budget", "60"],
                         env={**_env(backend), "PYTHON": sys.executable}, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stdout.strip().count("\n") == 0 and f"no GPU visible to the {backend} backend" in res.stdout
