"""GPU check: the same methods on GPU and on CPU must give the same maps and metrics; time both.

1. Maps: MobileNetV2 (shared real weights), 4 images, every method for the top-1 and top-2 class, computed
   with TensorFlow placed on the GPU and on the CPU in one process. Tolerance: max |map difference|
   <= 1e-3 for the CAM methods (float32 kernels differ between cuDNN and oneDNN); LIME's binary
   top-5 map must agree on >= 99% of pixels (a near-tie of two superpixel weights may swap one).
2. Runs: ``advise-bench run --config configs/ci.toml --limit 20`` once with ``--device gpu`` and once with
   ``--device cpu``. Per (image, method): |difference| of AD, SSIM, FSIM, MSE and AVX <= 0.02 for at least
   95% of rows (the reference's binary mask flips pixels whose map value is within float error of 0.5).
   Prints s/image per method on both devices (time_s + time_top2_s).

Exit status: 0 all checks pass, 1 a check failed, 2 no GPU visible.
Usage: python scripts/gpu_check.py [--images 20] [--out DIR] [--devices gpu,cpu]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
METRICS = ["AD", "SSIM", "FSIM", "MSE", "AVX"]
MAP_TOL, LIME_AGREE, METRIC_TOL, ROW_SHARE = 1e-3, 0.99, 0.02, 0.95


def visible_gpus() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from advise_bench._tf import import_tensorflow_quietly

    return len(import_tensorflow_quietly().config.list_physical_devices("GPU"))


def compare_maps(devices: list[str]) -> bool:
    import tensorflow as tf

    from advise_bench.data import load_image, resolve_source
    from advise_bench.explainers import METHOD_NAMES, get_explainer
    from advise_bench.models.zoo import load_model

    _, records = resolve_source("auto")
    x = np.stack([load_image(r.path, 224) for r in records[:4]])
    models = []
    for device in devices:  # one model per device: its compiled functions are traced under that device
        with tf.device(f"/{device.upper()}:0"):
            models.append(load_model("mobilenet_v2"))
    targets = np.argsort(-models[-1].predict(x), axis=1)[:, :2]
    options = {"scorecam": {"max_n": 64}, "lime": {"num_samples": 200}, "advise": {"selection": "max-peaks"}}
    ok = True
    print(f"maps, {len(x)} images x 2 targets, {devices[0]} vs {devices[1]}:")
    for method in METHOD_NAMES:
        maps = []
        for device, loaded in zip(devices, models, strict=True):
            with tf.device(f"/{device.upper()}:0"):
                maps.append(get_explainer(method, loaded, **options.get(method, {}))(x, targets))
        if method == "lime":
            agree = float(np.mean(maps[0] == maps[1]))
            passed = agree >= LIME_AGREE
            print(f"  {method:10s} pixels equal {agree:.4f} (need >= {LIME_AGREE}) {'ok' if passed else 'FAIL'}")
        else:
            diff = float(np.abs(maps[0] - maps[1]).max())
            passed = diff <= MAP_TOL
            print(f"  {method:10s} max |diff| {diff:.2e} (need <= {MAP_TOL:g}) {'ok' if passed else 'FAIL'}")
        ok &= passed
    return ok


def run_preset(device: str, images: int, out: Path) -> pd.DataFrame:
    device_flag = "cpu" if device == "cpu" else "gpu"
    cmd = [sys.executable, "-m", "advise_bench.cli", "run", "--config", str(ROOT / "configs" / "ci.toml"),
           "--limit", str(images), "--device", device_flag, "--out", str(out), "--quiet"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    frames = [pd.read_csv(p, dtype={"image_id": str}) for p in out.glob("*/*.csv")
              if not p.name.startswith(("advise_groups", "table"))]
    return pd.concat(frames)


def compare_runs(devices: list[str], images: int, out: Path) -> bool:
    rows = {d: run_preset(d, images, out / f"{d}-{i}") for i, d in enumerate(devices)}
    a, b = (rows[d].set_index(["method", "image_id"]).sort_index() for d in devices)
    ok_a, ok_b = a[a["status"] == "ok"], b[b["status"] == "ok"]
    common = ok_a.index.intersection(ok_b.index)
    close = (ok_a.loc[common, METRICS] - ok_b.loc[common, METRICS]).abs().le(METRIC_TOL).all(axis=1)
    print(f"\nruns: configs/ci.toml, {images} images, {devices[0]} vs {devices[1]}")
    table = pd.DataFrame({
        "rows": close.groupby(level="method").size(),
        f"share |dmetric| <= {METRIC_TOL}": close.groupby(level="method").mean(),
        f"{devices[0]} s/img": (ok_a["time_s"] + ok_a["time_top2_s"]).groupby(level="method").mean(),
        f"{devices[1]} s/img": (ok_b["time_s"] + ok_b["time_top2_s"]).groupby(level="method").mean(),
    })
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    errors = int((a["status"] != "ok").sum() + (b["status"] != "ok").sum())
    passed = bool((table.iloc[:, 1] >= ROW_SHARE).all()) and errors == 0 and len(common) == len(a)
    print(f"error rows: {errors}; verdict: {'ok' if passed else 'FAIL'} (need >= {ROW_SHARE:.0%} of rows per method)")
    return passed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--devices", default="gpu,cpu", help="two devices to compare (cpu,cpu: a dry run without GPU)")
    args = ap.parse_args()
    devices = args.devices.split(",")
    if "gpu" in devices and visible_gpus() == 0:
        print("gpu_check: no GPU visible to TensorFlow; nothing to check")
        return 2
    maps_ok = compare_maps(devices)
    with tempfile.TemporaryDirectory() as tmp:
        runs_ok = compare_runs(devices, args.images, args.out or Path(tmp))
    print(f"\ngpu_check: {'PASS' if maps_ok and runs_ok else 'FAIL'}")
    return 0 if maps_ok and runs_ok else 1


if __name__ == "__main__":
    sys.exit(main())
