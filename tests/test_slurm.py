"""`advise-bench slurm` against a fake `sbatch` on the PATH: argument checks, and the two command lines it
submits. The real thing (slurmctld + slurmd on localhost) is `make slurm-test` (tests/tools/slurm_test.sh)."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import advise_bench
from advise_bench.runner.slurm import option_names, without_options

PACKAGE_ROOT = Path(advise_bench.__file__).resolve().parents[1]

FAKE_SBATCH = """#!{python}
import json, os, sys
log = os.environ["FAKE_SBATCH_LOG"]
with open(log, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
call = sum(1 for _ in open(log))
if os.environ.get("FAKE_SBATCH_REFUSE") == str(call):
    sys.exit("sbatch: error: Batch job submission failed: Invalid partition name specified")
print(f"{{100 + call}};cluster")  # --parsable prints "id" or "id;cluster"
"""


@pytest.fixture
def slurm_cli(tmp_path):
    """Run `advise-bench slurm ...` in tmp_path with a fake sbatch that logs its argv and prints ids 101, 102
    (or refuses call number $FAKE_SBATCH_REFUSE)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(FAKE_SBATCH.format(python=sys.executable))
    sbatch.chmod(0o755)
    log = tmp_path / "sbatch.log"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SBATCH_LOG": str(log),
           "PYTHONPATH": str(PACKAGE_ROOT)}

    def call(*args, path=None, **extra_env):
        res = subprocess.run([sys.executable, "-m", "advise_bench.cli", "slurm", *args], cwd=tmp_path,
                             env={**env, "PATH": path or env["PATH"], **extra_env},
                             capture_output=True, text=True, timeout=120)
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return res, calls

    return call


@pytest.fixture
def skimage_preset(tmp_path):
    """A preset that needs neither the shared folder nor a download: 6 bundled photos, random weights."""
    path = tmp_path / "tiny.toml"
    path.write_text('[run]\nmodel = "mobilenet"\nweights = "random"\ndata = "skimage"\nout = "results/tiny"\n')
    return path


def _one_line_error(res, needle):
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], res.stderr


def _wrapped(argv):
    """The shell command of `--wrap=...`, split into words."""
    (wrap,) = [a for a in argv if a.startswith("--wrap=")]
    return shlex.split(wrap.removeprefix("--wrap="))


@pytest.mark.parametrize("args,extra,needle", [
    (["nosuchpreset", "--shards", "2"], {}, "unknown preset 'nosuchpreset'"),
    (["/no/such/preset.toml", "--shards", "2"], {}, "no such file"),
    (["PRESET", "--shards", "0"], {}, "--shards 0"),
    (["PRESET"], {}, "--shards N is required"),
    (["PRESET", "--shards", "7"], {}, "only 6 images"),
    (["PRESET", "--shards", "2", "--device", "tpu"], {}, "unknown device"),
    (["PRESET", "--shards", "2", "--array=0-9"], {}, "--array"),
    (["PRESET", "--shards", "2", "--weights", "/no/such.weights.h5"], {}, "no such file"),
    (["PRESET", "--shards", "2"], {"FAKE_SBATCH_REFUSE": "1"}, "sbatch refused the array job: sbatch: error"),
    (["PRESET", "--shards", "2"], {"FAKE_SBATCH_REFUSE": "2"},
     "sbatch refused the report job (array job 101 is queued; run `advise-bench report results/tiny` after it)"),
])
def test_bad_input_is_one_line_and_nothing_is_submitted(slurm_cli, skimage_preset, args, extra, needle):
    args = [str(skimage_preset) if a == "PRESET" else a for a in args]
    res, calls = slurm_cli(*args, **extra)
    _one_line_error(res, needle)
    assert len(calls) == int(extra.get("FAKE_SBATCH_REFUSE", 0))  # nothing after a refusal


def test_no_sbatch_on_the_path(slurm_cli, skimage_preset, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res, calls = slurm_cli(str(skimage_preset), "--shards", "2", path=str(empty))
    _one_line_error(res, "sbatch is not on the PATH")
    assert calls == []


def test_cpu_submission_array_then_dependent_report(slurm_cli, skimage_preset, tmp_path):
    res, calls = slurm_cli(str(skimage_preset), "--shards", "3", "--partition=short", "--time", "1:00:00")
    assert res.returncode == 0, res.stderr
    array, report = calls
    assert (tmp_path / "logs").is_dir()  # Slurm cannot start a task whose log folder is missing
    assert array[:5] == ["--parsable", "--job-name=advise-bench-tiny", "--array=0-2", "--requeue",
                         "--open-mode=append"]
    assert f"--output={tmp_path}/logs/%x-%A_%a.out" in array
    assert not any(a.startswith(("--gres", "--gpus")) for a in array + report)
    for argv in (array, report):  # options the command does not know go to sbatch, for both jobs
        i = argv.index("--partition=short")
        assert argv[i + 1 : i + 3] == ["--time", "1:00:00"]
    words = _wrapped(array)
    assert words[:4] == ["cd", str(tmp_path), "&&", "exec"]
    # the installation that submitted runs the tasks
    assert words[4:words.index("run")] in ([str(Path(sys.executable).with_name("advise-bench"))],
                                           [sys.executable, "-m", "advise_bench.cli"])
    assert words[words.index("run"):] == ["run", "--config", str(skimage_preset), "--device", "cpu",
                                          "--backend", "tensorflow", "--out", "results/tiny", "--quiet"]
    assert "--dependency=afterany:101" in report  # the array's id, ";cluster" stripped
    words = _wrapped(report)
    assert words[:3] == ["cd", str(tmp_path), "&&"] and words[-2:] == ["report", "results/tiny"]
    assert "array job 101: 3 tasks" in res.stdout and "report job 102: runs when job 101 ends" in res.stdout
    assert "table: results/tiny/table1.md" in res.stdout


def test_gpu_requests_one_gpu_per_task_and_none_for_the_report(slurm_cli, skimage_preset):
    res, (array, report) = slurm_cli(str(skimage_preset), "--shards", "2", "--device", "gpu")
    assert res.returncode == 0, res.stderr
    assert "--gres=gpu:1" in array and not any("gres" in a for a in report)
    words = _wrapped(array)
    assert words[words.index("--device") + 1] == "gpu"


def test_own_gpu_request_replaces_the_default_and_stays_off_the_report(slurm_cli, skimage_preset):
    res, (array, report) = slurm_cli(str(skimage_preset), "--shards", "2", "--device", "gpu", "--gres", "gpu:a100:2")
    assert res.returncode == 0, res.stderr
    assert "--gres=gpu:1" not in array and array[array.index("--gres") + 1] == "gpu:a100:2"
    assert "--gres" not in report and "gpu:a100:2" not in report


def test_weights_and_out_reach_every_task(slurm_cli, skimage_preset, tmp_path):
    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(b"")  # only its existence is checked at submission
    res, (array, report) = slurm_cli(str(skimage_preset), "--shards", "2", "--weights", "w.weights.h5",
                                     "--out", "elsewhere", "--logs", "joblogs")
    assert res.returncode == 0, res.stderr
    words = _wrapped(array)
    assert words[words.index("--weights") + 1] == str(weights)  # made absolute
    assert words[words.index("--out") + 1] == "elsewhere" and _wrapped(report)[-1] == "elsewhere"
    assert (tmp_path / "joblogs").is_dir() and f"--output={tmp_path}/joblogs/%x-%j.out" in report


def test_the_ci_preset_by_name(slurm_cli, ilsvrc_dir):
    res, (array, _) = slurm_cli("ci", "--shards", "2")
    assert res.returncode == 0, res.stderr
    words = _wrapped(array)
    assert words[words.index("--config") + 1] == str(PACKAGE_ROOT / "configs" / "ci.toml")
    assert "weights: " + str(ilsvrc_dir.parent / "models") in res.stdout  # the shared file, no download


def test_imagenet_weights_are_fetched_once_before_submission(monkeypatch):
    """Without a shared file, the submit host loads the model once so the Keras cache holds the weights."""
    import advise_bench.models.zoo as zoo
    import advise_bench.runner.device as device
    from advise_bench.runner.run import RunConfig
    from advise_bench.runner.slurm import ensure_weights

    loads = []
    monkeypatch.setattr(zoo, "load_model", lambda name, weights: loads.append((name, weights)))
    monkeypatch.setattr(device, "select_device", lambda d: loads.append(("device", d)))
    assert "Keras cache" in ensure_weights(RunConfig(model="vgg16", weights="imagenet"))
    assert loads == [("device", "cpu"), ("vgg16", "imagenet")]
    loads.clear()
    assert ensure_weights(RunConfig(model="vgg16", weights="random")) == "random" and loads == []


def test_option_helpers():
    args = ("--gres", "gpu:1", "--mem=4G", "-G", "2", "--gpus=1", "--requeue", "--gres=gpu:2", "-G1", "-p", "x",
            "--exclusive")
    assert option_names(args) == {"--gres", "--mem", "-G", "--gpus", "--requeue", "-p", "--exclusive"}
    assert without_options(args, ("--gres", "-G", "--gpus")) == ["--mem=4G", "--requeue", "-p", "x", "--exclusive"]
    assert option_names(["-a0-3"]) == {"-a"}  # a short option with its value attached


def test_gpu_device_turns_on_memory_growth_on_every_gpu_and_off_tensor_float_32(monkeypatch):
    import advise_bench.runner.device as device

    growth, tf32 = [], []
    config = SimpleNamespace(
        list_physical_devices=lambda kind: ["GPU:0", "GPU:1"] if kind == "GPU" else [],
        experimental=SimpleNamespace(set_memory_growth=lambda gpu, on: growth.append((gpu, on)),
                                     enable_tensor_float_32_execution=tf32.append),
    )
    import advise_bench.backend.tensorflow as tf_backend

    monkeypatch.setattr(tf_backend, "import_quietly", lambda: SimpleNamespace(config=config))
    device.select_device("gpu")
    assert growth == [("GPU:0", True), ("GPU:1", True)]
    assert tf32 == [False]  # float32 stays float32 on the GPU


def test_help_lists_the_options(slurm_cli):
    res, calls = slurm_cli("--help")
    assert res.returncode == 0 and calls == []
    for option in ("--shards", "--device", "--weights", "--out", "--logs"):
        assert option in res.stdout
