"""Before and after, side by side in one run: the KDE against its exponential floor, and ADVISE against Grad-CAM.

The machine's speed drifts (other jobs, frequency): each round times the code of a git revision ("before",
exported to a temporary folder) and of the working tree ("after") one right after the other, each in its own
process, and the table reports each round's ratios and their medians. Measured per tree:

* KDE / floor: one image's feature map (``unit_peak_counts``, best of --repeats), and, where the tree has it,
  the images of a call batched (``unit_peak_counts_batch``, seconds per image), over the exponential floor
  (``bench_kde.balloon_exp_floor``: the balloon's exponentials at NumPy's full speed, one core), timed in the
  same process;
* ADVISE / Grad-CAM on MobileNetV2 (real weights): median seconds per image over --images images, batch 1
  (a run's default), ``max-peaks`` selection.

Usage: python scripts/bench_kde_compare.py [--before b635d4b] [--rounds 2] [--images 6] [--kde-images 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KDE_MODELS = ("mobilenet_v2", "vgg16")


def _features(out: Path, n: int) -> None:
    """The explained layers' activations of the first n images, (n, C, Z) float32, one .npy per model."""
    import keras
    import numpy as np
    from bench_common import images, model

    for name in KDE_MODELS:
        loaded = model(name)
        sub = keras.Model(loaded.model.inputs, loaded.model.get_layer(loaded.layer).output)
        a = np.asarray(sub.predict(loaded.preprocess(images(n, loaded.input_size)), verbose=0))
        np.save(out / f"{name}.npy", a.reshape(n, -1, a.shape[-1]).transpose(0, 2, 1))


def _worker(features: Path, repeats: int, n_images: int) -> dict:
    """Timings of the advise_bench on this process's path (the tree under test)."""
    import numpy as np
    from bench_common import median_seconds, model_images_targets
    from bench_kde import balloon_exp_floor

    import advise_bench.explainers.kde as kde
    from advise_bench.explainers import get_explainer

    out: dict = {"kde": {}}
    for name in KDE_MODELS:
        X = np.load(features / f"{name}.npy").astype(np.float64)
        kde.unit_peak_counts(X[0])  # warm-up (tables, workers)
        one = min(_seconds(lambda: kde.unit_peak_counts(X[0])) for _ in range(repeats))
        row = {"one_image_s": one}
        if hasattr(kde, "unit_peak_counts_batch"):
            kde.unit_peak_counts_batch(X[:1])
            row["batched_per_image_s"] = min(_seconds(lambda: kde.unit_peak_counts_batch(X)) for _ in range(repeats)) / len(X)
        if _has_compiled(kde):  # the compiled arithmetic (numba), where the tree and the environment have it
            kde.unit_peak_counts(X[0], arithmetic="compiled")  # compiles, or loads numba's cache
            row["compiled_one_image_s"] = min(_seconds(lambda: kde.unit_peak_counts(X[0], arithmetic="compiled"))
                                              for _ in range(repeats))
            row["compiled_batched_per_image_s"] = min(
                _seconds(lambda: kde.unit_peak_counts_batch(X, arithmetic="compiled")) for _ in range(repeats)) / len(X)
        row["exp_floor_s"] = balloon_exp_floor(X[0])[1]
        out["kde"][name] = row
    loaded, x, targets = model_images_targets("mobilenet_v2", n_images)
    pairs = list(zip(x, targets, strict=True))
    methods = [("gradcam", "gradcam", {}), ("advise", "advise", {"selection": "max-peaks"})]
    if _has_compiled(kde):
        methods.append(("advise_compiled", "advise", {"selection": "max-peaks", "kde_arithmetic": "compiled"}))
    for key, method, kw in methods:
        e = get_explainer(method, loaded, **kw)
        out[f"{key}_s"] = median_seconds(lambda p, e=e: e(p[0][None], [p[1]]), pairs)
    return out


def _has_compiled(kde) -> bool:
    import importlib.util

    try:
        from advise_bench.explainers.kde.options import _ARITHMETICS
    except ImportError:
        return False
    return "compiled" in _ARITHMETICS and importlib.util.find_spec("numba") is not None


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _run_tree(tree: Path, features: Path, args) -> dict:
    from advise_bench.paths import SHARED_ENV, shared_dir

    # the exported tree has no ../shared beside it: point both trees at this checkout's shared folder. The worker
    # imports bench_common from this folder (Python puts a script's folder first on its path), the package from tree.
    env = dict(os.environ, PYTHONPATH=str(tree), TF_CPP_MIN_LOG_LEVEL="3", **{SHARED_ENV: str(shared_dir())})
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(features), "--repeats", str(args.repeats),
           "--images", str(args.images)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"worker for {tree} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="b635d4b", help="git revision timed as 'before'")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--images", type=int, default=6, help="images for ADVISE / Grad-CAM")
    ap.add_argument("--kde-images", type=int, default=4, help="images of the batched KDE call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.repeats, args.images)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-kde-") as tmp:
        tmp = Path(tmp)
        before = tmp / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before, "advise_bench"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        _features(tmp, args.kde_images)
        rounds = []
        for _ in range(args.rounds):
            rounds.append({"before": _run_tree(before, tmp, args), "after": _run_tree(REPO, tmp, args)})
    _print(rounds, args)


def _print(rounds, args) -> None:
    def med(values):
        return statistics.median(values)

    print(f"before = {args.before}, after = the working tree; {args.rounds} rounds, each: before then after")
    print(f"{'quantity':52s} {'before':>9s} {'after':>9s} {'after/before':>13s}")
    lines = [("MobileNetV2 ADVISE / Grad-CAM per image", lambda r: r["advise_s"] / r["gradcam_s"]),
             ("MobileNetV2 ADVISE s per image", lambda r: r["advise_s"]),
             ("MobileNetV2 Grad-CAM s per image", lambda r: r["gradcam_s"])]
    for name in KDE_MODELS:
        lines += [(f"{name} KDE one image / exp floor", lambda r, n=name: r["kde"][n]["one_image_s"] / r["kde"][n]["exp_floor_s"]),
                  (f"{name} KDE one image s", lambda r, n=name: r["kde"][n]["one_image_s"]),
                  (f"{name} KDE batched ({args.kde_images} images) per image / floor",
                   lambda r, n=name: r["kde"][n].get("batched_per_image_s", r["kde"][n]["one_image_s"])
                   / r["kde"][n]["exp_floor_s"])]
    for label, f in lines:
        b = med([f(r["before"]) for r in rounds])
        a = med([f(r["after"]) for r in rounds])
        paired = med([f(r["after"]) / f(r["before"]) for r in rounds])
        print(f"{label:52s} {b:9.3f} {a:9.3f} {paired:12.2f}x")
    if "advise_compiled_s" in rounds[0]["after"]:
        ratio = med([r["after"]["advise_compiled_s"] / r["after"]["gradcam_s"] for r in rounds])
        vs_fast = med([r["after"]["advise_compiled_s"] / r["after"]["advise_s"] for r in rounds])
        print(f"{'MobileNetV2 ADVISE (compiled KDE) / Grad-CAM':52s} {'':9s} {ratio:9.3f} {vs_fast:12.2f}x (vs fast)")
    for name in KDE_MODELS:  # the compiled arithmetic, after only (same process as the after row above)
        if "compiled_one_image_s" not in rounds[0]["after"]["kde"][name]:
            continue
        for key, label in (("one_image_s", "one image"), ("batched_per_image_s", f"batched ({args.kde_images} images) per image")):
            k = rounds[0]["after"]["kde"][name]
            if f"compiled_{key}" not in k:
                continue
            ratio = med([r["after"]["kde"][name][f"compiled_{key}"] / r["after"]["kde"][name]["exp_floor_s"] for r in rounds])
            vs_fast = med([r["after"]["kde"][name][f"compiled_{key}"] / r["after"]["kde"][name][key] for r in rounds])
            print(f"{name + ' KDE compiled ' + label + ' / floor':52s} {'':9s} {ratio:9.3f} {vs_fast:12.2f}x (vs fast)")
    print("medians over the rounds; after/before is the median of each round's paired ratio. 'before' has no batched")
    print("KDE: its batched row is its one-image time. Floor: the balloon's exponentials at NumPy's full speed, one core.")
    print("compiled rows: the 'after' tree's compiled arithmetic (numba), and its ratio to the after tree's fast arithmetic.")


if __name__ == "__main__":
    main()
