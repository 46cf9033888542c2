"""Each method's cost for both maps (top-1 and top-2 in one call) against its floor, beside the old paths.

For MobileNetV2 and MobileNet 0.25 (real shared weights), every method of the package's registry, median over
the images, batch 1 per image:

* the network passes: seconds per image of the compiled forward at batch 1, 32 (Score-CAM's batches) and 100
  (LIME's), and of a forward + backward pass;
* each method's seconds for both maps (``explain_candidates`` with two targets) against its floor, each call
  timed right before its floor on the same image (``bench_common.Floors``, the same as ``bench_backends.py``'s:
  gradient CAMs one forward + backward pass; Score-CAM channels x forward time; LIME samples x forward time +
  quickshift; ADVISE none);
* the old paths beside them: tf-keras-vis Score-CAM and ``lime_image`` (one call per map, as before);
* Score-CAM's peak resident memory (ours and tf-keras-vis), each in a fresh process.

Usage: python scripts/bench_methods.py [--images 3] [--models mobilenet_v2 mobilenet] [--no-old]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")  # lime_image wraps its sampling loop in a progress bar

from bench_common import (
    FLOORS_NOTE,
    PAPER_OPTIONS,
    Floors,
    describe_passes,
    images,
    median_seconds,
    model,
    paper_explainers,
    top2,
)

from advise_bench.explainers import get_explainer


def old_scorecam(loaded, x, targets):
    """tf-keras-vis Score-CAM, one call per map (the previous path)."""
    import keras
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.scores import CategoricalScore

    keras.utils.disable_interactive_logging()  # tf-keras-vis calls model.predict, which draws a progress bar
    vis = Scorecam(loaded.network("logit"), clone=False)
    for t in targets:
        vis(CategoricalScore([int(t)]), loaded.preprocess(x[None]), penultimate_layer=loaded.layer,
            seek_penultimate_conv_layer=False, expand_cam=False, normalize_cam=False, batch_size=32)


def old_lime(loaded, x, targets):
    """lime_image, one explain_instance per map, with the same settings (the previous path)."""
    from lime import lime_image
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    for t in targets:
        lime_image.LimeImageExplainer(random_state=0).explain_instance(
            x.astype(np.float64), lambda b: loaded.predict(b, batch_size=100), labels=(int(t),), top_labels=None,
            num_samples=1000, batch_size=100, random_seed=0,
            segmentation_fn=SegmentationAlgorithm("quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=0))


def peak_rss_child(name: str, path: str) -> None:
    """In a fresh process: one image's Score-CAM (ours or tf-keras-vis), then print the peak RSS in GB."""
    loaded = model(name)
    x = images(1, loaded.input_size)
    targets = top2(loaded, x)[0]
    if path == "ours":
        get_explainer("scorecam", loaded, **PAPER_OPTIONS["scorecam"]).explain_candidates(x, targets[None])
    else:
        old_scorecam(loaded, x[0], targets)
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak at the fork (Linux keeps it over exec).
    hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"peak_gb": hwm_kb / 2**20}))


def peak_rss(name: str, path: str) -> float:
    out = subprocess.run([sys.executable, __file__, "--peak-rss", name, path], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_gb"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=["mobilenet_v2", "mobilenet"])
    ap.add_argument("--no-old", action="store_true", help="skip the old tf-keras-vis / lime_image paths")
    ap.add_argument("--peak-rss", nargs=2, metavar=("MODEL", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peak_rss:
        return peak_rss_child(*args.peak_rss)
    for name in args.models:
        loaded = model(name)
        x = images(args.images, loaded.input_size)
        targets = top2(loaded, x)
        floors = Floors(loaded, x, targets)
        print(f"\n{name}: {describe_passes(floors.passes())}")
        print(f"{'method':10s} {'both maps s':>12s} {'floor s':>8s} {'ratio':>6s} {'old path s':>11s} {'old/new':>8s}")
        old_paths = {"scorecam": (old_scorecam, 1), "lime": (old_lime, 0)}  # (path, untimed warm-up calls)
        for method, exp in paper_explainers(loaded).items():
            r = floors.measure(exp)
            old = np.nan
            if method in old_paths and not args.no_old:
                path, warmup = old_paths[method]
                old = median_seconds(lambda i, f=path: f(loaded, x[i], targets[i]), list(range(len(x))), warmup=warmup)
            print(f"{method:10s} {r['both']:12.2f} {r['floor']:8.2f} {r['ratio']:5.2f}x {old:11.2f} "
                  f"{old / r['both']:7.1f}x")
        t0 = time.perf_counter()
        ours, theirs = peak_rss(name, "ours"), (np.nan if args.no_old else peak_rss(name, "tf-keras-vis"))
        print(f"Score-CAM peak RSS, one image, fresh process: ours {ours:.2f} GB, tf-keras-vis {theirs:.2f} GB "
              f"({time.perf_counter() - t0:.0f} s)")
    print("\nmedian wall seconds per image after a warm-up, CPU; old path: tf-keras-vis Score-CAM / lime_image, one "
          "call per map.")
    print(FLOORS_NOTE)


if __name__ == "__main__":
    main()
