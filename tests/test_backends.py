"""Every Keras backend computes the same benchmark: JAX (in CI) and PyTorch (where installed) against
TensorFlow on real MobileNet 0.25 weights and 4 ILSVRC images, all six methods, with the tolerances of
``tests/tools/backend_probe.py``; a run on JAX works with TensorFlow not installed, and a missing backend is one
line naming the extra to install."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.tools.backend_probe import compare, probe

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "tests" / "tools" / "backend_probe.py"


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


def _main_without(*libraries: str) -> str:
    """``python -c`` code running the CLI as if ``libraries`` were not installed (None in sys.modules: imports
    fail, ``importlib.util.find_spec`` finds nothing), printing at the end whether TensorFlow was imported."""
    return (f"import sys\nfor name in {list(libraries)!r}: sys.modules[name] = None\n"
            "from advise_bench.cli import main\nsys.argv = ['advise-bench'] + sys.argv[1:]\n"
            "try:\n    main()\nfinally:\n    print('TENSORFLOW IMPORTED' if sys.modules.get('tensorflow') else 'NO TF')")


def test_a_run_on_jax_works_without_tensorflow(shared_models_dir, ilsvrc_dir, tmp_path):
    """`pip install '.[jax]'` without TensorFlow, then `KERAS_BACKEND=jax advise-bench run --model mobilenet
    --limit 2`: TensorFlow cannot be imported here, and every method runs (with light settings)."""
    if not _available("jax"):
        pytest.skip("jax is not installed")
    res = subprocess.run([sys.executable, "-c", _main_without("tensorflow"), "run", "--model", "mobilenet",
                          "--limit", "2", "--scorecam-max-n", "16", "--lime-samples", "50",
                          "--out", str(tmp_path), "--quiet"],
                         env=_env("jax"), capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    # 2 images x (6 methods + 6 shuffled controls + 3 reference maps)
    assert "NO TF" in res.stdout and "30 rows ok" in res.stdout, res.stdout[-2000:]
    rows = (tmp_path / "mobilenet" / "gradcam.jax.csv").read_text()
    assert ",jax," in rows.splitlines()[1]


def test_a_missing_backend_is_one_line_naming_the_extra(tmp_path):
    """No backend at all: every command but --help says which extra to install. The requested one missing but
    another installed: which extra, or which --backend to choose."""
    for command in (["report", str(tmp_path)], ["run", "--limit", "1", "--out", str(tmp_path)], ["methods"]):
        res = subprocess.run([sys.executable, "-c", _main_without("tensorflow", "jax", "torch"), *command],
                             env=_env("tensorflow"), capture_output=True, text=True, timeout=120)
        assert res.returncode == 2, (command, res.stderr)
        assert res.stderr.strip() == ("error: no Keras backend is installed: pip install 'advise-bench[tensorflow]' "
                                      "(or [jax], [torch])"), command
    res = subprocess.run([sys.executable, "-c", _main_without("tensorflow", "jax", "torch"), "--help"],
                         env=_env("tensorflow"), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "Usage" in res.stdout
    if not _available("jax"):
        return
    res = subprocess.run([sys.executable, "-c", _main_without("tensorflow", "torch"), "run", "--limit", "1",
                          "--out", str(tmp_path)], env={k: v for k, v in _env("jax").items() if k != "KERAS_BACKEND"},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0, res.stderr
    assert "pip install 'advise-bench[tensorflow]'" in res.stderr and "--backend jax" in res.stderr


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
