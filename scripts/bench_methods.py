"""CPU seconds per image for every method, at batch 1 and batched, on MobileNetV2 and VGG16.

Score-CAM runs as Faster-Score-CAM (max_N=64) in the table; ``--full-scorecam`` also times full
Score-CAM on one image with tf-keras-vis' default batch of 32 masked images and with larger batches.
LIME uses 1000 samples in batches of 100 (VGG16 LIME is slow: ``--lime-vgg16`` adds it).
Usage: python scripts/bench_methods.py [--images 3] [--full-scorecam] [--lime-vgg16]
"""

from __future__ import annotations

import argparse

from bench_common import median_seconds, model_images_targets

from advise_bench.explainers import get_explainer

# ADVISE caches unit scores per feature map; off here so every timed call runs the KDE.
OPTIONS = {"scorecam": {"max_n": 64}, "lime": {"num_samples": 1000, "batch_size": 100}, "advise": {"cache_size": 0}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--models", nargs="+", default=["mobilenet_v2", "vgg16"])
    ap.add_argument("--full-scorecam", action="store_true")
    ap.add_argument("--lime-vgg16", action="store_true")
    args = ap.parse_args()
    print(f"{'model':13s} {'method':10s} {'batch 1 s/img':>14s} {f'batch {args.batch} s/img':>14s}")
    for name in args.models:
        loaded, x, t = model_images_targets(name, max(args.images, args.batch))
        fwd = median_seconds(lambda i: loaded.predict(x[i:i + 1]), list(range(args.images)))
        print(f"{name:13s} {'forward':10s} {fwd:14.3f}")
        for method in ("gradcam", "gradcam++", "layercam", "advise", "scorecam", "lime"):
            if method == "lime" and name == "vgg16" and not args.lime_vgg16:
                continue
            exp = get_explainer(method, loaded, **OPTIONS.get(method, {}))
            one = median_seconds(lambda i, e=exp: e(x[i:i + 1], t[i:i + 1]), list(range(args.images)))
            b = args.batch
            batched = median_seconds(lambda _, e=exp: e(x[:b], t[:b]), [0]) / b
            label = method + (" (64)" if method == "scorecam" else "")
            print(f"{name:13s} {label:10s} {one:14.3f} {batched:14.3f}")
        if args.full_scorecam:
            for bs in (32, 128, 256):
                exp = get_explainer("scorecam", loaded, batch_size=bs)
                s = median_seconds(lambda i, e=exp: e(x[i:i + 1], t[i:i + 1]), [0], warmup=0)
                print(f"{name:13s} {'scorecam full, batch ' + str(bs):30s} {s:8.1f} s/img")
    print("median wall seconds per image after one warm-up call, 2-core CPU unless stated otherwise.")


if __name__ == "__main__":
    main()
