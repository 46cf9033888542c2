"""Each method's cost on every Keras backend, side by side: one invocation, one child process per backend
(Keras picks its backend once per process), the same images and the paper's settings.

Per backend, MobileNet 0.25 (real shared weights; ``--model`` for another zoo model), every method of the
package's registry, median over the images of one call for both maps (top-1 and top-2), after an untimed
warm-up call; each ratio is the median over calls of (call / its floor timed right after it on the same image),
the floors those of ``bench_common.Floors`` (the same as ``bench_methods.py``'s):

* gradient CAMs against one compiled forward and backward pass of the whole network, batch 1;
* Score-CAM against channels x forward time at batch 32; LIME against samples x forward time at batch
  100 + quickshift; ADVISE (max-peaks: the oracle's scoring is evaluation, not method time) has none;
* the sum over the methods: a paper-setting run's method time per image.

Usage: python scripts/bench_backends.py [--backends tensorflow jax] [--images 3] [--model mobilenet]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from bench_common import FLOORS_NOTE, Floors, describe_passes, model_images_targets, paper_explainers, top2


def measure(model_name: str, n: int, rounds: int = 2) -> dict:
    """In this process's backend: seconds for both maps per method of the registry and its floor
    (``bench_common.Floors``), each call timed right before its floor on the same image."""
    from advise_bench import backend

    loaded, x, _ = model_images_targets(model_name, n)
    floors = Floors(loaded, x, top2(loaded, x))
    return {"backend": backend.name(), **floors.passes(),
            "methods": {m: floors.measure(e, rounds) for m, e in paper_explainers(loaded).items()}}


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
    methods = list(dict.fromkeys(m for r in ok for m in r["methods"]))
    for method in methods:
        cells = "".join(f" | {r['methods'][method]['both']:14.3f} {r['methods'][method]['floor']:8.3f} "
                        f"{r['methods'][method]['ratio']:5.2f}x" for r in ok)
        print(f"{method:10s}{cells}")
    print(f"{f'all {len(methods)}':10s}" + "".join(
        f" | {sum(m['both'] for m in r['methods'].values()):14.3f} {'':8s} {'':6s}" for r in ok))
    for r in ok:
        print(f"{r['backend']}: {describe_passes(r)}")
    print(FLOORS_NOTE)
    print("Targets (TensorFlow, MobileNet 0.25): all six <= 4.5 s, Score-CAM <= 1.25x, gradient CAMs <= 3x.")


if __name__ == "__main__":
    main()
