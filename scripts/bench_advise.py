"""ADVISE vs Grad-CAM per image (end to end, same layer and images), and the KDE vs an ssdensity loop.

Targets (issue: ADVISE explainer): KDE >= 50x faster than per-channel ssdensity; ADVISE <= 1.5x Grad-CAM.
Usage: python scripts/bench_advise.py [--images 20] [--models mobilenet_v2 vgg16 resnet50]
"""

from __future__ import annotations

import argparse

from bench_common import layer_features, median_seconds, model_images_targets
from bench_kde import time_kde

from advise_bench.explainers import get_explainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--models", nargs="+", default=["mobilenet_v2", "vgg16", "resnet50"])
    args = ap.parse_args()
    print(f"{'model':14s} {'weights':9s} {'C':>5s} {'Grad-CAM s':>11s} {'ADVISE s':>9s} {'ratio':>6s}"
          f" {'KDE s':>7s} {'KDE ref. s':>11s} {'ssdensity s':>12s} {'KDE speed-up':>13s}")
    for name in args.models:
        loaded, x, targets = model_images_targets(name, args.images)
        pairs = list(zip(x, targets, strict=True))
        gradcam = get_explainer("gradcam", loaded)
        advise = get_explainer("advise", loaded, selection="max-peaks")
        t_g = median_seconds(lambda p, e=gradcam: e(p[0][None], [p[1]]), pairs)
        t_a = median_seconds(lambda p, e=advise: e(p[0][None], [p[1]]), pairs)
        feats = layer_features(loaded, x)
        k = time_kde(feats, oracle_channels=200)
        print(f"{name:14s} {'random' if loaded.is_random else 'real':9s} {feats.shape[0]:5d} {t_g:11.3f} "
              f"{t_a:9.3f} {t_a / t_g:5.2f}x {k['ours_s']:7.3f} {k['reference_s']:11.3f} {k['ssdensity_loop_s']:11.2f}* "
              f"{k['speedup']:12.0f}x")
    print("median seconds per image over the images after one warm-up, batch 1, CPU; ADVISE = KDE + group maps,")
    print("no cache between calls. KDE: default (fast) arithmetic; KDE ref.: the bit-exact reference arithmetic, both")
    print("best of 3 on the first image. * ssdensity loop timed on 200 seeded random channels, scaled to all channels.")


if __name__ == "__main__":
    main()
