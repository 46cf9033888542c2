"""Cost of the deletion + insertion curves of one map against the 2 * (n_steps + 1) forward passes they need.

The target is at most 1.2x: building the perturbed images (ranks, blur, masking) must cost little next to
the model. Real MobileNetV2 weights from the shared folder where present.
Usage: python scripts/bench_faithfulness.py [--images 4] [--n-steps 32] [--models mobilenet_v2]
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_common import median_seconds, model_images_targets

from advise_bench.metrics.faithfulness import faithfulness_scores

BUDGET = 1.2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--n-steps", type=int, default=32)
    ap.add_argument("--models", nargs="+", default=["mobilenet_v2"])
    args = ap.parse_args()
    n_images = 2 * (args.n_steps + 1)
    rng = np.random.default_rng(0)
    print(f"{'model':13s} {f'{n_images} forward passes s':>22s} {'deletion+insertion s':>21s} {'ratio':>6s}"
          f" {'no-model part s':>16s}")
    for name in args.models:
        loaded, x, targets = model_images_targets(name, args.images)
        maps = rng.random((args.images, loaded.input_size, loaded.input_size))

        def forward(i):
            return loaded.predict(np.repeat(x[i : i + 1].astype(np.float32), n_images, axis=0))

        def curves(i, predict=loaded.predict):
            return faithfulness_scores(x[i], maps[i], int(targets[i]), predict, n_steps=args.n_steps)

        def no_model(images):
            return np.zeros((len(images), 1000), np.float32)

        # Interleaved, one image at a time, so that both timings see the same load on a shared machine.
        pairs = [(median_seconds(forward, [i]), median_seconds(curves, [i])) for i in range(args.images)]
        fwd, cur = (float(np.median(v)) for v in zip(*pairs, strict=True))
        ratio = float(np.median([c / f for f, c in pairs]))
        overhead = median_seconds(lambda i: curves(i, predict=no_model), list(range(args.images)))
        verdict = "within" if ratio <= BUDGET else "OVER"
        print(f"{name:13s} {fwd:22.3f} {cur:21.3f} {ratio:6.2f} {overhead:16.3f}  ({verdict} the {BUDGET}x budget)")
    print("median wall seconds per map after one warm-up call; the model batches 32 images per forward call.")
    print("no-model part: ranking, blurring and building the perturbed images, with predict() returning zeros.")


if __name__ == "__main__":
    main()
