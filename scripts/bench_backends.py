"""Each method's cost on every Keras backend, side by side: one invocation, one child process per backend
(Keras picks its backend once per process), the same images and the paper's settings.

Per backend, MobileNet 0.25 (real shared weights; ``--model`` for another zoo model), median over the
images of one call for both maps (top-1 and top-2), after an untimed warm-up call; each ratio is the median
over calls of (call / its floor timed right after it on the same image):

* gradient CAMs against their floor: one compiled forward and backward pass of the whole network (the
  gradient of the class score with respect to the input image), batch 1;
* Score-CAM against channels x forward time at batch 32; LIME against samples x forward time at batch
  100 + quickshift; ADVISE (max-peaks: the oracle's scoring is evaluation, not method time);
* the sum over the six methods: a paper-setting run's method time per image.

Usage: python scripts/bench_backends.py [--backends tensorflow jax] [--images 3] [--model mobilenet]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

METHODS = ("advise", "gradcam", "gradcam++", "layercam", "scorecam", "lime")
GRADIENT_CAMS = ("gradcam", "gradcam++", "layercam")
OPTIONS = {"advise": {"selection": "max-peaks"}, "lime": {"num_samples": 1000, "batch_size": 100}}


def measure(model_name: str, n: int, rounds: int = 2) -> dict:
    """In this process's backend: seconds for both maps per method and its floor, each call timed right
    before its floor on the same image (``rounds`` passes over the images), so that the ratio is the median
    of side-by-side pairs: this machine's speed drifts by 2x from minute to minute, a pair's does not."""
    from bench_common import forward_seconds, model_images_targets, seconds
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    from advise_bench import backend
    from advise_bench.explainers import get_explainer

    loaded, x, _ = model_images_targets(model_name, n)
    targets = np.argsort(-loaded.predict(x), axis=1)[:, :2]
    f1, f32, f100 = (forward_seconds(loaded, x, b) for b in (1, 32, 100))
    inputs = loaded.preprocess(x)
    batch32, batch100 = (loaded.preprocess(np.repeat(x[:1], b, axis=0)) for b in (32, 100))
    quickshift = SegmentationAlgorithm("quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=0)
    acts = loaded.feature_map(inputs)

    def fwd_bwd(i):
        return seconds(lambda: loaded.input_gradients(inputs[i:i + 1], targets[i:i + 1, 0]))

    fwd_bwd(0)  # compiled before any pair is timed
    out = {"backend": backend.name(), "forward_1": f1, "forward_32": f32, "fwd_bwd": float(np.median(
        [fwd_bwd(i) for i in range(n)])), "methods": {}}
    for method in METHODS:
        exp = get_explainer(method, loaded, **OPTIONS.get(method, {}))
        exp.warm_up(x[:1], targets[:1])
        if method in GRADIENT_CAMS:
            floor = fwd_bwd
        elif method == "scorecam":
            def floor(i, e=exp):  # the image's channels through the network at batch 32
                return seconds(lambda: loaded.forward(batch32)) * len(e.used_channels(acts[i])) / 32
        elif method == "lime":
            def floor(i):  # 1,000 samples through the network at batch 100, and the image's superpixels
                return 10 * seconds(lambda: loaded.forward(batch100)) + seconds(
                    lambda: quickshift(x[i].astype(np.float64)))
        else:
            floor = None
        both, floors = [], []
        for _ in range(rounds):
            for i in range(n):
                both.append(seconds(lambda e=exp, i=i: e.explain_candidates(x[i:i + 1], targets[i:i + 1])))
                floors.append(floor(i) if floor else float("nan"))
        ratio = float(np.median(np.divide(both, floors))) if floor else float("nan")
        out["methods"][method] = {"both": float(np.median(both)), "floor": float(np.median(floors)),
                                  "ratio": ratio}
    return out


def run_child(backend: str, model_name: str, n: int) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TQDM_DISABLE": "1"}
    res = subprocess.run([sys.executable, __file__, "--child", "--model", model_name, "--images", str(n)],
                         env=env, capture_output=True, text=True)
    if res.returncode != 0:
        return {"backend": backend, "error": (res.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--model", default="mobilenet")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.model, args.images)))
        return
    results = [run_child(b, args.model, args.images) for b in args.backends]
    print(f"\n{args.model}, {args.images} images, paper settings, both maps per call (median s/image), CPU")
    for r in results:
        if "error" in r:
            print(f"{r['backend']}: not measured ({r['error']})")
    ok = [r for r in results if "error" not in r]
    head = f"{'method':10s}" + "".join(f" | {r['backend'] + ' s':>14s} {'floor s':>8s} {'ratio':>6s}" for r in ok)
    print(head)
    for method in METHODS:
        cells = "".join(f" | {r['methods'][method]['both']:14.3f} {r['methods'][method]['floor']:8.3f} "
                        f"{r['methods'][method]['ratio']:5.2f}x" for r in ok)
        print(f"{method:10s}{cells}")
    print(f"{'all six':10s}" + "".join(f" | {sum(m['both'] for m in r['methods'].values()):14.3f} {'':8s} {'':6s}"
                                      for r in ok))
    for r in ok:
        print(f"{r['backend']}: forward {r['forward_1'] * 1e3:.1f} ms/img (batch 1), {r['forward_32'] * 1e3:.1f} "
              f"(batch 32); forward + backward {r['fwd_bwd'] * 1e3:.1f} ms/img (batch 1)")
    print("ratio: the median over calls of (call / its floor timed right after it on the same image).")
    print("floors: gradient CAMs one forward + backward pass (batch 1); Score-CAM channels x forward (batch 32); "
          "LIME 1,000 x forward (batch 100) + quickshift. Targets (TensorFlow, MobileNet 0.25): all six <= 4.5 s, "
          "Score-CAM <= 1.25x, gradient CAMs <= 3x.")


if __name__ == "__main__":
    main()
