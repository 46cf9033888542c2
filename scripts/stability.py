"""ADVISE's stability: how often its groups and its selected map's AVX change when the explained layer's non-zero
activations move by absolute Gaussian noise at the scale that separates two machines' float32 kernels.

Runs ADVISE on the first --limit images of the seeded subset (the preset's settings otherwise) without noise and
with each --noise level (``advise_activation_noise``), each into its own folder under --out (resumable), then
prints per level: the share of images whose group sizes change, and the AVX change of the selected map (mean
|dAVX|, largest, share above 1e-5).

Usage: python scripts/stability.py [--model mobilenet] [--limit 20] [--noise 1e-6,1e-5,1e-4] [--out results/stability]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from advise_bench.config import RunConfig  # noqa: E402
from advise_bench.paths import shared_path  # noqa: E402
from advise_bench.runner.run import run  # noqa: E402
from advise_bench.runner.verify import _group_sizes, _read  # noqa: E402


def compare(base: Path, noisy: Path) -> dict:
    """Images whose ADVISE group sizes differ between two folders, and the AVX changes of the selected maps."""
    a = _read(base, "advise").drop_duplicates("image_id", keep="last").set_index("image_id")
    b = _read(noisy, "advise").drop_duplicates("image_id", keep="last").set_index("image_id")
    ga, gb = _read(base, "advise_groups"), _read(noisy, "advise_groups")
    images = sorted(set(a.index) & set(b.index))
    changed = sum(_group_sizes(ga, i, "peaks") != _group_sizes(gb, i, "peaks") for i in images)
    d = (pd.to_numeric(b.loc[images, "AVX"]) - pd.to_numeric(a.loc[images, "AVX"])).abs().to_numpy()
    return {"images": len(images), "groups_changed": changed, "mean_abs_dAVX": float(np.nanmean(d)) if len(d) else 0.0,
            "max_abs_dAVX": float(np.nanmax(d)) if len(d) else 0.0, "dAVX_above_1e-5": int(np.sum(d > 1e-5))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenet")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--noise", default="1e-6,1e-5,1e-4")
    ap.add_argument("--out", type=Path, default=Path("results/stability"))
    ap.add_argument("--selection", default="oracle-avx")
    args = ap.parse_args()
    manifest = shared_path("ilsvrc3000", "manifest.csv")
    # ADVISE alone: no reference maps, no shuffled control (the noise is ADVISE's option; they would not change)
    base = dict(model=args.model, data=str(manifest) if manifest else "auto", limit=args.limit, subset_seed=0,
                methods=("advise",), advise_selection=args.selection, reference_maps=False, shuffled_control=False)
    folders = {}
    for level in [0.0] + [float(v) for v in args.noise.split(",") if v.strip()]:
        out = args.out / f"noise-{level:g}"
        run(RunConfig(**base, advise_activation_noise=level, out=str(out)), progress=False)
        folders[level] = out / args.model
    print(f"{args.model}, {args.limit} images, ADVISE ({args.selection}); non-zero activations + N(0, s.d.^2)")
    print(f"{'s.d.':>8s} {'images':>7s} {'groups changed':>15s} {'mean |dAVX|':>12s} {'max |dAVX|':>11s} {'dAVX>1e-5':>10s}")
    for level, folder in folders.items():
        if level == 0.0:
            continue
        r = compare(folders[0.0], folder)
        print(f"{level:8.0e} {r['images']:7d} {r['groups_changed']:6d} ({r['groups_changed'] / max(r['images'], 1):5.1%})"
              f" {r['mean_abs_dAVX']:12.4f} {r['max_abs_dAVX']:11.4f} {r['dAVX_above_1e-5']:10d}")


if __name__ == "__main__":
    main()
