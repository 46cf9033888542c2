"""GPU check on a machine with JAX or PyTorch (no TensorFlow needed): the same maps and metrics on GPU and
CPU, then every method's time per image on the GPU for the paper's four architectures, beside the paper's.

1. Is a GPU visible to the backend? If not: one line, exit 2.
2. GPU against CPU (``tests/tools/backend_probe.py``, one process per device, on the same backend): the CI
   preset's model and settings (MobileNetV2, real weights, Faster-Score-CAM on 64 channels, LIME 200
   samples) on ``--compare-images`` images, every method, top-1 and top-2, with the probe's tolerances
   (CAM maps 1e-4; LIME superpixels equal and >= 99% equal map pixels; ADVISE >= 99% equal peak counts and
   the same selected group; metrics 1e-3).
3. Timing: ``advise-bench run --weights random --device gpu`` with the paper's settings (all six methods,
   full Score-CAM, LIME 1,000 samples) on ``--time-images`` images per architecture (VGG16, ResNet50,
   Xception, AlexNet: random weights, which are fine for timing), then ``report`` (Table I's GPU column).
   Prints s/image per method (``time_s``: the top-1 map, cold, as Table I) beside the paper's GPU column,
   ADVISE / Grad-CAM on both, and the KDE's share of ADVISE's time (the KDE stays NumPy on the CPU).
4. Overlap: ADVISE alone on VGG16 with ``--overlap off`` then ``on`` (the KDE of the next batch beside this
   batch's device work), the runs' wall time side by side.

The whole check keeps within ``--budget`` seconds (default 450): each step gets what is left, and a run cut
short reports the images it finished. ``--prepare DIR`` (run here, where the registry is reachable, by
``gpu_check.sh --prepare``) stages what the GPU machine lacks: wheels of keras, namex, optree, lime and this
package, and a small copy of the shared weights and images.

Exit status: 0 every comparison passes, 1 one failed, 2 no GPU visible.
Usage: bash scripts/gpu_check.sh [--compare-images 4] [--time-images 3] [--budget 450]
(On an H200 with JAX, 20 and 20 did not fit: the GPU side alone took 172 s for 20 images, mostly compiling,
and no architecture finished an image of 20 in its share; 3 and 3 on VGG16 and ResNet50 took 217 s in all.)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "tools" / "backend_probe.py"  # a test tool: run as a script, its compare() loaded
ARCHITECTURES = ("vgg16", "resnet50", "xception", "alexnet")
COMPARE = {"model": "mobilenet_v2", "scorecam_max_n": 64, "lime_samples": 200}  # configs/ci.toml's settings
WHEELS = ("keras", "namex", "optree")  # pure-Python or manylinux wheels for the GPU machine's Python
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


class Budget:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def default_backend() -> str:
    """KERAS_BACKEND, else the first of JAX, PyTorch, TensorFlow that is installed."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    return next((b for b in ("jax", "torch", "tensorflow") if importlib.util.find_spec(b)), "tensorflow")


def child_env(backend: str, device: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TQDM_DISABLE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    if device == "cpu":  # the CPU side of the comparison: the backend must not see the GPU at all
        env.update({"CUDA_VISIBLE_DEVICES": "-1", "JAX_PLATFORMS": "cpu"})
    return env


def gpu_visible(backend: str, device: str) -> tuple[bool, str]:
    code = f"from advise_bench.backend import select_device, device_name; select_device({device!r}); " \
           f"print(device_name({device!r}))"
    res = subprocess.run([sys.executable, "-c", code], env=child_env(backend, "gpu"), capture_output=True, text=True)
    last = (res.stdout or res.stderr).strip().splitlines()
    return res.returncode == 0, last[-1] if last else ""


# ------------------------------------------------------------------------------------------- 2. comparison
def compare_devices(backend: str, devices: list[str], images: int, budget: Budget, out: Path) -> bool | None:
    spec = importlib.util.spec_from_file_location("backend_probe", PROBE)
    probe_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe_module)
    probes = []
    for device in devices:
        path = out / f"probe-{device}-{len(probes)}.npz"
        cmd = [sys.executable, str(PROBE), str(path), "--device", device,
               "--model", COMPARE["model"], "--images", str(images),
               "--scorecam-max-n", str(COMPARE["scorecam_max_n"]), "--lime-samples", str(COMPARE["lime_samples"])]
        start = time.monotonic()
        try:
            res = subprocess.run(cmd, env=child_env(backend, device), capture_output=True, text=True,
                                 timeout=max(1.0, budget.left() * 0.4))
        except subprocess.TimeoutExpired:
            print(f"  {device}: not finished within the budget; comparison skipped")
            return None
        if res.returncode != 0:
            print(f"  {device}: failed: {(res.stderr.strip().splitlines() or ['?'])[-1]}")
            return False
        probes.append(dict(np.load(path)))
        print(f"  {device}: {images} images, every method, both maps: {time.monotonic() - start:.0f} s")
    ok = True
    for name, passed, measured in probe_module.compare(*probes):
        print(f"  {name:58s} {measured:>9s}  {'ok' if passed else 'FAIL'}")
        ok &= passed
    return ok


# ------------------------------------------------------------------------------------------- 3. timing
def run_cli(args: list[str], backend: str, device: str, seconds: float) -> tuple[float, bool]:
    """``advise-bench ARGS`` in a child process with the check's environment, stopped after ``seconds``:
    (wall seconds, whether it was stopped). A stopped run's finished images stay in its folder."""
    start = time.monotonic()
    try:
        res = subprocess.run([sys.executable, "-m", "advise_bench.cli", *args], env=child_env(backend, device),
                             capture_output=True, text=True, timeout=seconds, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return time.monotonic() - start, True
    if res.returncode:  # the check goes on; the child's last words say why this step has no rows
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        print(f"  advise-bench {args[0]} exited {res.returncode}: " + " | ".join(tail))
    return time.monotonic() - start, False


def time_architectures(backend: str, device: str, images: int, architectures, budget: Budget, out: Path) -> None:

    for i, arch in enumerate(architectures):
        seconds = budget.left() / (len(architectures) - i) - 5
        if seconds < 30:
            print(f"  {arch}: skipped (budget spent)")
            continue
        wall, stopped = run_cli(["run", "--model", arch, "--weights", "random", "--limit", str(images),
                                 "--device", device, "--out", str(out), "--quiet"], backend, device, seconds)
        note = f" (stopped at the budget's {seconds:.0f} s; the images finished are reported)" if stopped else ""
        print(f"  {arch}: {wall:.0f} s wall{note}")
    if not list(out.glob("*/*.csv")):
        print("  no timing rows")
        return
    run_cli(["report", str(out), "--bootstrap-resamples", "1000"], backend, device, max(budget.left(), 60))
    from advise_bench.method_kinds import display_name, method_kind
    from advise_bench.report.paper import paper_table
    from advise_bench.runner.results import load_rows

    rows = load_rows(out)
    rows = rows[(rows["status"] == "ok") & (rows["method"].astype(str).map(method_kind) == "method")]  # no controls
    paper = paper_table().set_index(["architecture", "method"])
    print(f"\n  s/image on {device} (time_s: top-1 map, cold; mean over the images), the paper's GPU column beside:")
    print(f"  {'architecture':26s} {'method':11s} {'n':>3s} {'ours s':>8s} {'paper s':>8s}")
    for (model, method), g in rows.groupby(["model", "method"], sort=True):
        name = display_name(method)
        base = model.split(" (")[0]
        theirs = paper["time_gpu_s"].get((base, name), np.nan)
        print(f"  {model:26s} {name:11s} {len(g):3d} {g['time_s'].astype(float).mean():8.3f} {theirs:8.3f}")
    print(f"\n  {'architecture':26s} {'ADVISE/Grad-CAM ours':>21s} {'paper':>7s} {'KDE share of ADVISE':>20s}")
    for model, g in rows.groupby("model", sort=True):
        t = g.groupby("method")["time_s"].mean()
        base = model.split(" (")[0]
        advise = g[g["method"] == "advise"]
        share = advise["kde_s"].astype(float).mean() / advise["time_s"].astype(float).mean() \
            if "kde_s" in advise and len(advise) else np.nan
        ratio = t.get("advise", np.nan) / t.get("gradcam", np.nan)
        paper_ratio = paper["time_gpu_s"].get((base, "ADVISE"), np.nan) / paper["time_gpu_s"].get((base, "Grad-CAM"),
                                                                                                    np.nan)
        print(f"  {model:26s} {ratio:21.2f} {paper_ratio:7.2f} {share:20.0%}")
    print(f"\n  Table I with the GPU column: {out / 'table1.md'}")


# ------------------------------------------------------------------------------------------- 4. overlap
def time_overlap(backend: str, device: str, images: int, budget: Budget, out: Path, arch: str = "vgg16") -> None:
    """ADVISE alone (batches of 8, the scoring included) with ``--overlap off`` then ``on``: the whole run's wall
    seconds per image and the rows' mean ``time_s`` and ``kde_s``; the same rows either way."""
    from advise_bench.runner.results import load_rows

    walls = {}
    for mode in ("off", "on"):
        seconds = budget.left() / (2 if mode == "off" else 1) - 5
        if seconds < 30:
            print(f"  --overlap {mode}: skipped (budget spent)")
            return
        folder = out / mode
        walls[mode], stopped = run_cli(
            ["run", "--model", arch, "--weights", "random", "-m", "advise", "--no-reference-maps",
             "--no-shuffled-control", "--batch-size", "8", "--limit", str(images), "--device", device,
             "--overlap", mode, "--out", str(folder), "--quiet"], backend, device, seconds)
        if stopped:
            print(f"  --overlap {mode}: stopped at the budget's {seconds:.0f} s")
            return
        rows = load_rows(folder)
        rows = rows[rows["status"] == "ok"]
        print(f"  --overlap {mode}: {walls[mode]:.1f} s wall for {len(rows)} images (start-up included); "
              f"time_s {rows['time_s'].astype(float).mean():.3f}, kde_s {rows['kde_s'].astype(float).mean():.3f} "
              "s/image")
    print(f"  wall on / off: {walls['on'] / walls['off']:.2f}")


# ------------------------------------------------------------------------------------------- --prepare
def prepare(stage: Path) -> int:
    """Here: wheels and a small copy of the shared assets for the GPU machine (``gpu_check.sh --prepare``)."""
    from importlib import metadata

    from advise_bench.paths import shared_path

    wheels = stage / "wheels"
    shutil.rmtree(stage, ignore_errors=True)
    wheels.mkdir(parents=True)
    pins = [f"{name}=={metadata.version(name)}" for name in WHEELS]
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
                    "--implementation", "cp", *platforms, "-d", str(wheels), *pins], check=True)
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), f"lime=={metadata.version('lime')}", str(ROOT)],
                   check=True)
    manifest = shared_path("ilsvrc3000", "manifest.csv")
    if manifest is not None:
        lines = manifest.read_text().splitlines()[:25]  # the header and the first 24 images
        (stage / "shared" / "ilsvrc3000" / "images").mkdir(parents=True)
        (stage / "shared" / "ilsvrc3000" / "manifest.csv").write_text("\n".join(lines) + "\n")
        for line in lines[1:]:
            name = line.split(",")[0]
            shutil.copy(manifest.parent / name, stage / "shared" / "ilsvrc3000" / name)
    models = shared_path("models")
    if models is not None:
        shutil.copytree(models, stage / "shared" / "models", ignore=shutil.ignore_patterns("*.md"))
    size = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file()) / 2**20
    print(f"staged {len(list(wheels.glob('*.whl')))} wheels and the shared assets in {stage}: {size:.1f} MiB "
          f"(carry it to the GPU machine and run bash scripts/gpu_check.sh there)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default=None, help="jax | torch | tensorflow (default: KERAS_BACKEND, else installed)")
    ap.add_argument("--compare-images", type=int, default=4)
    ap.add_argument("--time-images", type=int, default=3)
    ap.add_argument("--architectures", default=",".join(ARCHITECTURES))
    ap.add_argument("--budget", type=float, default=450, help="seconds for the whole check")
    ap.add_argument("--devices", default="gpu,cpu", help="the pair compared; cpu,cpu is a dry run without a GPU")
    ap.add_argument("--out", type=Path, help="keep the probes and the timing results here")
    ap.add_argument("--prepare", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare:
        return prepare(args.prepare)
    budget = Budget(args.budget)
    backend = args.backend or default_backend()
    devices = args.devices.split(",")
    seen, name = gpu_visible(backend, devices[0])
    if not seen:
        print(f"gpu_check: no GPU visible to the {backend} backend ({name}); nothing to check")
        return 2
    print(f"gpu_check: {backend} backend, {devices[0]} = {name}; budget {args.budget:.0f} s")
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu_check-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"\n1. {devices[0]} against {devices[1]}: {COMPARE['model']}, CI preset settings, {args.compare_images} images")
    compared = compare_devices(backend, devices, args.compare_images, budget, out)
    print(f"\n2. timing on {devices[0]}: paper settings, random weights, {args.time_images} images per architecture")
    time_architectures(backend, devices[0], args.time_images, args.architectures.split(","), budget, out / "timing")
    print(f"\n3. ADVISE's KDE beside the device (--overlap off, then on): VGG16, {args.time_images} images")
    time_overlap(backend, devices[0], args.time_images, budget, out / "overlap")
    verdict = {True: "PASS", False: "FAIL", None: "INCOMPLETE (comparison not finished)"}[compared]
    print(f"\ngpu_check: {verdict}; {max(0.0, budget.left()):.0f} s of the budget left")
    return 0 if compared else 1


if __name__ == "__main__":
    sys.exit(main())
